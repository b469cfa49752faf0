//! The journal worker: takes stored transactions in arrival order, hands each room event to
//! the bridge once (events are deduplicated by ID), records failures, and marks the
//! transaction done. On start it resumes whatever a crash left unprocessed.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::{
    bridge::Bridge,
    crypto::CryptoTransaction,
    db::{Db, DbResult, JournalEntry, now_ms},
};

/// The parts of a transaction the worker reads; everything else stays in the journal.
#[derive(Debug, Default, Deserialize)]
struct Transaction {
    #[serde(default)]
    events: Vec<Value>,
    #[serde(flatten)]
    crypto: CryptoTransaction,
}

/// A transaction whose handling failed only because the homeserver was unreachable (or busy)
/// stays in the journal and is tried again, for up to this long after it arrived. Then its
/// failures are recorded and the worker moves on, so one poisoned transaction cannot hold up
/// the journal for ever.
const DEFER_FOR_MS: i64 = 60 * 60 * 1000;

/// What became of a transaction.
enum Outcome {
    Done,
    /// Left pending: the homeserver could not be reached. Why, for the log.
    Deferred(String),
}

/// How often parked encrypted events are retried (and given up on when too old): every 30 s,
/// or a quarter of the wait when that is shorter (at least every second).
fn sweep_every_ms(room_key_wait_ms: i64) -> i64 {
    (room_key_wait_ms / 4).clamp(1_000, 30_000)
}

pub struct Worker {
    db: Db,
    bridge: Bridge,
    wake: Arc<Notify>,
}

impl Worker {
    pub fn new(db: Db, bridge: Bridge, wake: Arc<Notify>) -> Self {
        Self { db, bridge, wake }
    }

    /// Processes the journal until `shutdown` turns true. The entry in hand is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        match self.db.journal_pending_count().await {
            Ok(0) => {}
            Ok(n) => info!(pending = n, "resuming unprocessed transactions"),
            Err(e) => warn!(error = %e, "could not count pending transactions"),
        }
        let sweep_every = sweep_every_ms(self.bridge.settings().room_key_wait_ms);
        let mut last_prune = 0i64;
        let mut last_sweep = now_ms();
        let mut defer_delay = Duration::from_secs(2);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = now_ms();
            if now - last_sweep >= sweep_every {
                if let Err(e) = self.bridge.sweep_parked().await {
                    warn!(error = %e, "retrying parked encrypted events failed");
                }
                last_sweep = now;
            }
            if now - last_prune > 60 * 60 * 1000 {
                if let Err(e) = self.db.prune(now).await {
                    warn!(error = %e, "pruning the journal failed");
                }
                last_prune = now;
            }
            match self.db.journal_next().await {
                Ok(Some(entry)) => match self.process(&entry).await {
                    Ok(Outcome::Done) => defer_delay = Duration::from_secs(2),
                    Ok(Outcome::Deferred(why)) => {
                        warn!(
                            txn_id = entry.txn_id,
                            retry_in_s = defer_delay.as_secs(),
                            why,
                            "homeserver unavailable; the transaction waits"
                        );
                        tokio::select! {
                            _ = tokio::time::sleep(defer_delay) => {}
                            _ = shutdown.changed() => {}
                        }
                        defer_delay = (defer_delay * 2).min(Duration::from_secs(60));
                    }
                    Err(e) => {
                        // The database failed under us: leave the entry pending and retry.
                        error!(txn_id = entry.txn_id, error = %e, "processing interrupted; retrying shortly");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                Ok(None) => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(Duration::from_millis(sweep_every as u64)) => {}
                    }
                }
                Err(e) => {
                    error!(error = %e, "reading the journal failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Handles one transaction. A failure that waiting can fix leaves it pending (events
    /// already handled are skipped next time); any other failure is recorded and the worker
    /// moves on. Only database errors escape.
    async fn process(&self, entry: &JournalEntry) -> DbResult<Outcome> {
        let may_defer = now_ms() - entry.received_at < DEFER_FOR_MS;
        let txn: Transaction = match serde_json::from_slice(&entry.body) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("unreadable transaction: {e}");
                warn!(txn_id = entry.txn_id, "{msg}");
                self.db.journal_done(entry.seq, Some(&msg), now_ms()).await?;
                return Ok(Outcome::Done);
            }
        };
        let mut failures = 0usize;
        // To-device messages (room keys) first, so this transaction's events can use them.
        if let Some(crypto) = self.bridge.crypto() {
            match crypto.receive(&txn.crypto).await {
                Ok(received) => {
                    if let Some((why, _)) = received.failures.iter().find(|(_, transient)| *transient && may_defer) {
                        return Ok(Outcome::Deferred(why.clone()));
                    }
                    for (failure, _) in &received.failures {
                        failures += 1;
                        self.db.record_event_failure("(encryption)", &entry.txn_id, failure, now_ms()).await?;
                    }
                    // Only the bot decrypts what users send; ghosts' keys matter to nobody here.
                    let bot = self.bridge.settings().bot.clone();
                    for (user, key) in received.room_keys {
                        if user != bot {
                            continue;
                        }
                        if let Err(e) = self.bridge.retry_parked(&key.room_id, &key.session_id).await {
                            warn!(error = %e, "retrying parked events failed");
                        }
                    }
                }
                Err(e) => {
                    // The database failed: leave the transaction pending and try again.
                    return Err(match e {
                        crate::crypto::CryptoError::Db(db) => db,
                        other => crate::db::DbError::Invalid(other.to_string()),
                    });
                }
            }
        }
        for event in &txn.events {
            let Some(event_id) = event.get("event_id").and_then(Value::as_str) else {
                continue;
            };
            if self.db.event_processed(event_id).await? {
                continue;
            }
            if let Err(e) = self.bridge.handle_event(event).await {
                if e.is_transient() && may_defer {
                    return Ok(Outcome::Deferred(e.to_string()));
                }
                failures += 1;
                let kind = event.get("type").and_then(Value::as_str).unwrap_or("?");
                warn!(txn_id = entry.txn_id, event_id, kind, error = %e, "handling an event failed");
                self.db.record_event_failure(event_id, &entry.txn_id, &e.to_string(), now_ms()).await?;
            }
            self.db.mark_event_processed(event_id, now_ms()).await?;
        }
        let summary = (failures > 0).then(|| format!("{failures} event(s) failed; see event_failures"));
        self.db.journal_done(entry.seq, summary.as_deref(), now_ms()).await?;
        Ok(Outcome::Done)
    }
}
