//! Catching up after a homeserver restart. Synapse keeps the events it has yet to push to
//! an appservice in memory; events persisted just before it stops are never pushed (seen in
//! the soak: two messages sent a moment before a Synapse restart never reached us). A restart
//! is noticed three ways: the homeserver's transaction IDs go back (Synapse on SQLite may start
//! them at 1 again), a request or the probe every 2 s could not reach it and later could, and
//! our own start. Then each room active in the last minutes is read back (as the bot) and every
//! recent event we do not know is queued like a pushed one (known ones are skipped by ID, so
//! nothing is handled twice).

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::{
    bridge::Bridge,
    db::{Db, now_ms},
};

/// Rooms with events in this window are read back.
const ACTIVE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Only events this recent are taken (older ones were never ours to handle).
const RECENT_MS: i64 = 10 * 60 * 1000;

/// Watches the homeserver's transaction IDs for a restart (an ID lower than the last).
#[derive(Debug, Default)]
pub struct TxnWatch {
    last: AtomicI64,
    pub restarted: Arc<Notify>,
}

impl TxnWatch {
    /// Notes a newly stored transaction ID; wakes the catch-up when the counter went back.
    pub fn observe(&self, txn_id: &str) {
        let Ok(n) = txn_id.parse::<i64>() else { return };
        let before = self.last.swap(n, Ordering::AcqRel);
        if before > 0 && n < before {
            info!(txn_id, before, "the homeserver's transaction IDs started again: it restarted; catching up");
            self.restarted.notify_one();
        }
    }
}

/// How often the homeserver is probed.
const PROBE_EVERY: Duration = Duration::from_secs(2);

pub(super) async fn run(
    db: Db,
    bridge: Bridge,
    rooms_wake: Arc<Notify>,
    watch_: Arc<TxnWatch>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut due = true; // our own start
    loop {
        if due && bridge.homeserver().probe().await {
            bridge.homeserver().take_unreachable();
            // Let the homeserver settle and push what it still has first.
            tokio::time::sleep(Duration::from_secs(2)).await;
            catch_up(&db, &bridge, &rooms_wake).await;
            due = false;
        }
        tokio::select! {
            _ = watch_.restarted.notified() => due = true,
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(PROBE_EVERY) => {
                // A failed probe leaves the mark set until a later one gets through.
                if bridge.homeserver().probe().await {
                    due |= bridge.homeserver().take_unreachable();
                }
            }
        }
    }
}

async fn catch_up(db: &Db, bridge: &Bridge, rooms_wake: &Notify) {
    {
        let now = now_ms();
        let rooms = match db.rooms_active_since(now - ACTIVE_WINDOW_MS).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "catch-up: could not list active rooms");
                return;
            }
        };
        let mut queued = 0u64;
        for room in rooms {
            // Nothing from before the first event we know of the room in that window (the bot
            // may see history from before it joined; that was never ours to handle).
            let first_known = db.earliest_known_ts(&room, now - ACTIVE_WINDOW_MS).await.ok().flatten().unwrap_or(now);
            match bridge.catch_up_room(&room, first_known.max(now - RECENT_MS)).await {
                Ok(n) => queued += n,
                Err(e) => warn!(%room, error = %e, "catch-up: could not read the room back"),
            }
        }
        if queued > 0 {
            info!(queued, "catch-up found events the homeserver never pushed");
            rooms_wake.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TxnWatch;

    #[test]
    fn a_lower_transaction_id_means_a_restart() {
        let w = TxnWatch::default();
        w.observe("5");
        w.observe("6");
        w.observe("not-a-number");
        assert_eq!(w.last.load(std::sync::atomic::Ordering::Acquire), 6);
        w.observe("1");
        assert_eq!(w.last.load(std::sync::atomic::Ordering::Acquire), 1);
    }
}
