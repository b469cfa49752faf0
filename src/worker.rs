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
                Ok(Some(entry)) => {
                    if let Err(e) = self.process(&entry).await {
                        // The database failed under us: leave the entry pending and retry.
                        error!(txn_id = entry.txn_id, error = %e, "processing interrupted; retrying shortly");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
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

    /// Handles one transaction. Only database errors escape (then the entry stays pending);
    /// an event's own failure is recorded and the worker moves on.
    async fn process(&self, entry: &JournalEntry) -> DbResult<()> {
        let txn: Transaction = match serde_json::from_slice(&entry.body) {
            Ok(t) => t,
            Err(e) => {
                let msg = format!("unreadable transaction: {e}");
                warn!(txn_id = entry.txn_id, "{msg}");
                return self.db.journal_done(entry.seq, Some(&msg), now_ms()).await;
            }
        };
        let mut failures = 0usize;
        // To-device messages (room keys) first, so this transaction's events can use them.
        if let Some(crypto) = self.bridge.crypto() {
            match crypto.receive(&txn.crypto).await {
                Ok(received) => {
                    for failure in &received.failures {
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
                failures += 1;
                let kind = event.get("type").and_then(Value::as_str).unwrap_or("?");
                warn!(txn_id = entry.txn_id, event_id, kind, error = %e, "handling an event failed");
                self.db.record_event_failure(event_id, &entry.txn_id, &e.to_string(), now_ms()).await?;
            }
            self.db.mark_event_processed(event_id, now_ms()).await?;
        }
        let summary = (failures > 0).then(|| format!("{failures} event(s) failed; see event_failures"));
        self.db.journal_done(entry.seq, summary.as_deref(), now_ms()).await
    }
}
