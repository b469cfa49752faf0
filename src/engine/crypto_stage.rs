//! The crypto stage: transactions in arrival order; each one's crypto input is applied once
//! per identity, then its room keys send parked events back to their rooms. It also queues
//! the events of transactions journaled before events were queued at intake, sweeps parked
//! events back into their rooms now and then, and prunes old records.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tracing::{error, warn};

use super::{DEFER_FOR_MS, SeenCounts, Wakers, backoff_ms};
use crate::{
    bridge::Bridge,
    crypto::CryptoTransaction,
    db::{Db, DbResult, JournalEntry, now_ms},
};

/// The parts of a transaction this stage reads; everything else stays in the journal.
#[derive(Debug, Default, Deserialize)]
struct Transaction {
    #[serde(default)]
    events: Vec<Value>,
    #[serde(flatten)]
    crypto: CryptoTransaction,
}

enum Outcome {
    Done,
    /// Left pending; why, for the log.
    Deferred(String),
}

/// How often parked encrypted events are tried again (and given up on when too old): every
/// 30 s, or a quarter of the wait when that is shorter (at least every second).
fn sweep_every_ms(room_key_wait_ms: i64) -> i64 {
    (room_key_wait_ms / 4).clamp(1_000, 30_000)
}

/// How often key requests that are due are sent again.
const ASK_EVERY_MS: u64 = 2_000;

/// Sends again the room-key requests that are due (see `crypto::key_requests`), every 2 s,
/// in a loop of its own: its requests to the homeserver may be slow or retried while it is
/// away, and the crypto stage must not wait for them.
pub(super) async fn repeat_key_requests(bridge: Bridge, mut shutdown: watch::Receiver<bool>) {
    let Some(crypto) = bridge.crypto().cloned() else { return };
    while !*shutdown.borrow() {
        if let Err(e) = crypto.repeat_key_requests(&bridge.settings().bot).await {
            warn!(error = %e, "could not ask again for room keys");
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(ASK_EVERY_MS)) => {}
        }
    }
}

pub(super) async fn run(db: Db, bridge: Bridge, wakers: Wakers, mut shutdown: watch::Receiver<bool>) {
    let sweep_every = sweep_every_ms(bridge.settings().room_key_wait_ms);
    // The first sweep is at once: after a restart, parked events ask again for their keys
    // (an answer may have been dropped while we were down).
    let (mut last_sweep, mut last_prune) = (0i64, 0i64);
    let mut deferrals = 0i64;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = now_ms();
        if now - last_sweep >= sweep_every {
            match db.unpark(None).await {
                Ok(0) => {}
                Ok(_) => wakers.rooms.notify_one(),
                Err(e) => warn!(error = %e, "could not take up parked events"),
            }
            last_sweep = now;
        }
        if now - last_prune > 60 * 60 * 1000 {
            if let Err(e) = db.prune(now).await {
                warn!(error = %e, "pruning old records failed");
            }
            last_prune = now;
        }
        let wait = match db.journal_next().await {
            Ok(Some(entry)) => match process(&db, &bridge, &entry, &wakers.seen_counts).await {
                Ok(Outcome::Done) => {
                    deferrals = 0;
                    wakers.rooms.notify_one();
                    continue;
                }
                Ok(Outcome::Deferred(why)) => {
                    let delay = backoff_ms(deferrals);
                    deferrals += 1;
                    warn!(txn_id = entry.txn_id, retry_in_ms = delay, why, "crypto input could not be applied yet");
                    delay
                }
                Err(e) => {
                    error!(txn_id = entry.txn_id, error = %e, "applying crypto input interrupted; retrying shortly");
                    1_000
                }
            },
            Ok(None) => sweep_every,
            Err(e) => {
                error!(error = %e, "reading the journal failed");
                1_000
            }
        };
        tokio::select! {
            _ = wakers.crypto.notified() => {}
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
    }
}

/// Applies one transaction's crypto input. An identity that took its part is not fed again
/// (replayed Olm messages would wedge its sessions). Only database errors escape.
async fn process(db: &Db, bridge: &Bridge, entry: &JournalEntry, seen_counts: &SeenCounts) -> DbResult<Outcome> {
    let txn: Transaction = match serde_json::from_slice(&entry.body) {
        Ok(t) => t,
        Err(e) => {
            let msg = format!("unreadable transaction: {e}");
            warn!(txn_id = entry.txn_id, "{msg}");
            db.journal_done(entry.seq, Some(&msg), now_ms()).await?;
            return Ok(Outcome::Done);
        }
    };
    if !entry.events_queued {
        db.journal_queue_events(entry.seq, &bridge.events_to_queue(&txn.events), now_ms()).await?;
    }
    let mut failures = 0usize;
    if let Some(crypto) = bridge.crypto() {
        let received = match crypto.receive(entry.seq, &txn.crypto).await {
            Ok(r) => r,
            Err(crate::crypto::CryptoError::Db(e)) => return Err(e),
            Err(e) => return Ok(Outcome::Deferred(e.to_string())),
        };
        let may_defer = now_ms() - entry.received_at < DEFER_FOR_MS;
        if let Some((why, _)) = received.failures.iter().find(|(_, transient)| *transient && may_defer) {
            return Ok(Outcome::Deferred(why.clone()));
        }
        for (failure, _) in &received.failures {
            failures += 1;
            db.record_event_failure("(encryption)", &entry.txn_id, failure, now_ms()).await?;
        }
        // Only the bot decrypts what users send; ghosts' keys matter to nobody here.
        let bot = bridge.settings().bot.clone();
        for (user, key) in received.room_keys {
            if user == bot {
                if let Err(e) = bridge.room_key_arrived(&key.room_id, &key.session_id).await {
                    warn!(error = %e, "could not take up the events waiting for a room key");
                }
            }
        }
    }
    let summary = (failures > 0).then(|| format!("{failures} identities failed; see event_failures"));
    db.journal_done(entry.seq, summary.as_deref(), now_ms()).await?;
    seen_counts.remember(txn.crypto.key_count_fingerprints());
    Ok(Outcome::Done)
}
