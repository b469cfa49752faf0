//! The redaction loop: works the queue of originals to redact (`pending_redactions`, filled
//! by proxying, see `bridge::redactions`). Up to `IN_FLIGHT` redactions at once, none twice at
//! the same time; a transient failure is tried again with backoff for up to an hour after it
//! was queued, anything else is given up (logged: the original stays visible). Whatever is
//! still queued after a crash is taken up at the next start.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, task::JoinSet};
use tracing::{error, warn};

use super::{DEFER_FOR_MS, backoff_ms};
use crate::{
    bridge::Bridge,
    db::{DbResult, PendingRedaction, now_ms},
};

/// Redactions in hand at once.
const IN_FLIGHT: usize = 16;

pub(super) async fn run(bridge: Bridge, mut shutdown: watch::Receiver<bool>) {
    let wake = bridge.redactions_queued().clone();
    let in_hand: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut tasks: JoinSet<()> = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            while tasks.join_next().await.is_some() {}
            return;
        }
        let wait = match start_due(&bridge, &in_hand, &mut tasks).await {
            // One due now is in hand (or waits for a free slot): a task's end wakes us.
            Ok(Some(due)) => match due - now_ms() {
                later if later > 0 => later.min(60_000),
                _ if tasks.is_empty() => 10,
                _ => 1_000,
            },
            Ok(None) => 60_000,
            Err(e) => {
                error!(error = %e, "reading the redaction queue failed");
                1_000
            }
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = shutdown.changed() => {}
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    error!(error = %e, "a redaction task died; it is tried again");
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
        }
    }
}

/// Starts the due redactions that are not in hand yet, while there is room; returns when the
/// next queued one is due (one in hand counts as due now, so its end wakes the loop).
async fn start_due(
    bridge: &Bridge,
    in_hand: &Arc<Mutex<HashSet<String>>>,
    tasks: &mut JoinSet<()>,
) -> DbResult<Option<i64>> {
    let free = IN_FLIGHT.saturating_sub(tasks.len());
    if free > 0 {
        for row in bridge.db().due_redactions(now_ms(), (free + IN_FLIGHT) as i64).await? {
            if tasks.len() >= IN_FLIGHT {
                break;
            }
            let Some(guard) = InHand::take(in_hand, &row.target) else { continue };
            let bridge = bridge.clone();
            tasks.spawn(async move {
                redact(&bridge, row).await;
                drop(guard);
            });
        }
    }
    bridge.db().next_redaction_due().await
}

/// Redacts one queued original and settles its row.
async fn redact(bridge: &Bridge, row: PendingRedaction) {
    let db = bridge.db();
    crate::fault::point("redaction.before");
    let result = bridge.redact_queued(&row).await;
    let now = now_ms();
    let outcome = match result {
        Ok(()) => db.redaction_settled(&row.target).await,
        Err(e) if e.is_transient() && now - row.queued_at < DEFER_FOR_MS => {
            let delay = backoff_ms(row.attempts);
            warn!(room = row.room_id, target = row.target, attempts = row.attempts + 1, retry_in_ms = delay,
                error = %e, "redacting an original failed for now");
            db.redaction_deferred(&row.target, row.attempts + 1, now + delay, &e.to_string()).await
        }
        Err(e) => {
            error!(room = row.room_id, target = row.target, error = %e,
                "giving up on redacting an original; it stays visible");
            db.redaction_settled(&row.target).await
        }
    };
    if let Err(e) = outcome {
        error!(target = row.target, error = %e, "could not update the redaction queue");
    }
}

/// A target in hand until dropped (also when its task panics).
struct InHand {
    set: Arc<Mutex<HashSet<String>>>,
    target: String,
}

impl InHand {
    fn take(set: &Arc<Mutex<HashSet<String>>>, target: &str) -> Option<InHand> {
        let fresh = set.lock().map(|mut s| s.insert(target.to_owned())).unwrap_or(false);
        fresh.then(|| InHand { set: set.clone(), target: target.to_owned() })
    }
}

impl Drop for InHand {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_in_hand_once_until_released_even_by_a_panic() {
        let set: Arc<Mutex<HashSet<String>>> = Arc::default();
        let guard = InHand::take(&set, "$a").expect("first");
        assert!(InHand::take(&set, "$a").is_none(), "not twice at once");
        assert!(InHand::take(&set, "$b").is_some(), "others are independent");
        drop(guard);
        let set2 = set.clone();
        let _ = std::thread::spawn(move || {
            let _g = InHand::take(&set2, "$a").expect("free again");
            panic!("the task died");
        })
        .join();
        assert!(InHand::take(&set, "$a").is_some(), "a panic released it");
    }
}
