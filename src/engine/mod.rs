//! The engine: what happens to a transaction after the intake journaled it. Supervised
//! loops share the work:
//!
//! - the crypto stage ([`crypto_stage`]) takes transactions in arrival order and applies
//!   their crypto input (to-device messages, device lists, key counts) once per identity;
//! - the room scheduler ([`rooms`]) runs lines: in a room, each sender's messages strictly
//!   in order, and state events in order with everything; different senders and different
//!   rooms in parallel (at most `engine.rooms_in_flight` lines at once). An event waits until
//!   the crypto input of its own and every earlier transaction that could matter to it is
//!   applied;
//! - the redaction loop ([`redactions`]) redacts the originals of proxied messages, off the
//!   rooms' lines (a room's next message does not wait for the previous one's redaction);
//! - the catch-up ([`catch_up`]) reads rooms back after a homeserver restart;
//! - a small loop asks again for room keys that are still missing (`crypto_stage`).
//!
//! Every event ends up settled: done, parked (waiting for its room key), or a dead letter
//! with its reason. Nothing is acknowledged before it is journaled; after a crash every room
//! resumes where it stopped.

mod catch_up;
mod crypto_stage;
mod redactions;
mod rooms;

pub use catch_up::TxnWatch;

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use serde_json::Value;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

use crate::{
    bridge::Bridge,
    crypto::CryptoTransaction,
    db::{CryptoInput, Db},
};

/// A transaction whose handling fails only because the homeserver is unreachable (or busy)
/// is tried again, for up to this long after it arrived; then it becomes a dead letter.
pub const DEFER_FOR_MS: i64 = 60 * 60 * 1000;

/// Settings from the config's `[engine]` section.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How many lines (a room's state events, or one sender's messages in a room) may have
    /// an event in hand at once.
    pub rooms_in_flight: usize,
}

/// Wakes the two loops when there is new work.
#[derive(Debug, Clone, Default)]
pub struct Wakers {
    pub crypto: Arc<Notify>,
    pub rooms: Arc<Notify>,
    /// Shared with the intake, which skips repeated key counts.
    pub seen_counts: Arc<SeenCounts>,
}

impl Wakers {
    /// After a transaction was stored.
    pub fn stored(&self, crypto: CryptoInput) {
        if crypto != CryptoInput::None {
            self.crypto.notify_one();
        }
        self.rooms.notify_one();
    }
}

/// The key counts last applied per (user, device), as fingerprints: Synapse repeats the
/// counts in nearly every transaction, and applying the same counts again does nothing (a
/// machine whose key upload failed keeps it queued and sends it with its next request).
#[derive(Debug, Default)]
pub struct SeenCounts(std::sync::Mutex<HashMap<(String, String), String>>);

impl SeenCounts {
    fn all_seen(&self, fingerprints: &[((String, String), String)]) -> bool {
        let Ok(seen) = self.0.lock() else { return false };
        fingerprints.iter().all(|(device, fp)| seen.get(device) == Some(fp))
    }

    fn remember(&self, fingerprints: Vec<((String, String), String)>) {
        if let Ok(mut seen) = self.0.lock() {
            seen.extend(fingerprints);
        }
    }
}

/// What a transaction's crypto input means for its events (nothing, when encryption is off,
/// or when it only repeats key counts already applied).
pub fn crypto_input(txn: &Value, encryption: bool, seen: &SeenCounts) -> CryptoInput {
    if !encryption {
        return CryptoInput::None;
    }
    let Ok(crypto) = CryptoTransaction::deserialize_lenient(txn) else {
        return CryptoInput::Gating; // unreadable here: let the crypto stage look at it
    };
    if crypto.is_empty() {
        CryptoInput::None
    } else if crypto.gates_events() {
        CryptoInput::Gating
    } else if seen.all_seen(&crypto.key_count_fingerprints()) {
        CryptoInput::None
    } else {
        CryptoInput::Background
    }
}

pub struct Engine {
    db: Db,
    bridge: Bridge,
    wakers: Wakers,
    settings: EngineSettings,
    txn_watch: Arc<TxnWatch>,
}

impl Engine {
    pub fn new(db: Db, bridge: Bridge, wakers: Wakers, settings: EngineSettings, txn_watch: Arc<TxnWatch>) -> Self {
        Self { db, bridge, wakers, settings, txn_watch }
    }

    /// Runs both loops until `shutdown` turns true; an event in hand is finished first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        match (self.db.journal_pending_count().await, self.db.pending_events().await) {
            (Ok(0), Ok(0)) => {}
            (Ok(txns), Ok(events)) => info!(txns, events, "resuming unfinished work"),
            (Err(e), _) | (_, Err(e)) => warn!(error = %e, "could not count unfinished work"),
        }
        let crypto = {
            let (db, bridge, wakers, stop) =
                (self.db.clone(), self.bridge.clone(), self.wakers.clone(), shutdown.clone());
            supervise("crypto stage", shutdown.clone(), move || {
                crypto_stage::run(db.clone(), bridge.clone(), wakers.clone(), stop.clone())
            })
        };
        let rooms = {
            let (db, bridge, wakers, stop) =
                (self.db.clone(), self.bridge.clone(), self.wakers.clone(), shutdown.clone());
            let limit = self.settings.rooms_in_flight.max(1);
            supervise("room scheduler", shutdown.clone(), move || {
                rooms::run(db.clone(), bridge.clone(), wakers.rooms.clone(), limit, stop.clone())
            })
        };
        let catch_up = {
            let (db, bridge, wake, watch_, stop) = (
                self.db.clone(),
                self.bridge.clone(),
                self.wakers.rooms.clone(),
                self.txn_watch.clone(),
                shutdown.clone(),
            );
            supervise("catch-up", shutdown.clone(), move || {
                catch_up::run(db.clone(), bridge.clone(), wake.clone(), watch_.clone(), stop.clone())
            })
        };
        let redactions = {
            let (bridge, stop) = (self.bridge.clone(), shutdown.clone());
            supervise("redactions", shutdown.clone(), move || redactions::run(bridge.clone(), stop.clone()))
        };
        let key_requests = {
            let (bridge, stop) = (self.bridge.clone(), shutdown.clone());
            supervise("key requests", shutdown.clone(), move || {
                crypto_stage::repeat_key_requests(bridge.clone(), stop.clone())
            })
        };
        tokio::join!(crypto, rooms, catch_up, redactions, key_requests);
    }
}

/// Runs `task` in its own tokio task and starts it again if it dies (a panic), a second
/// later, until `shutdown`.
async fn supervise<F, Fut>(name: &'static str, shutdown: watch::Receiver<bool>, task: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(task()).await {
            Ok(()) => return,
            Err(e) => {
                error!(loop_name = name, error = %e, "the loop died; starting it again");
                if *shutdown.borrow() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Exponential backoff with ±25 % jitter: 2 s, 4 s, … capped at 60 s.
fn backoff_ms(attempt: i64) -> i64 {
    let base = 2_000i64.saturating_mul(1 << attempt.clamp(0, 5)).min(60_000);
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    (base as f64 * jitter) as i64
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn crypto_input_kinds() {
        let plain = json!({"events": []});
        let counts = json!({"events": [], "org.matrix.msc3202.device_one_time_keys_count": {"@g:x": {"D": {}}}});
        let keys = json!({"events": [], "de.sorunome.msc2409.to_device": [{"type": "m.room.encrypted"}]});
        let lists = json!({"events": [], "org.matrix.msc3202.device_lists": {"changed": ["@u:x"]}});
        let seen = SeenCounts::default();
        assert_eq!(crypto_input(&plain, true, &seen), CryptoInput::None);
        assert_eq!(crypto_input(&counts, true, &seen), CryptoInput::Background);
        assert_eq!(crypto_input(&keys, true, &seen), CryptoInput::Gating);
        assert_eq!(crypto_input(&lists, true, &seen), CryptoInput::Gating);
        assert_eq!(crypto_input(&keys, false, &seen), CryptoInput::None, "encryption off: nothing to apply");
    }

    #[test]
    fn repeated_key_counts_are_skipped() {
        let seen = SeenCounts::default();
        let full = json!({"events": [], "org.matrix.msc3202.device_one_time_keys_count":
            {"@g:x": {"D": {"signed_curve25519": 50}}}});
        let fps = CryptoTransaction::deserialize_lenient(&full).unwrap().key_count_fingerprints();
        assert_eq!(crypto_input(&full, true, &seen), CryptoInput::Background);
        seen.remember(fps);
        assert_eq!(crypto_input(&full, true, &seen), CryptoInput::None, "the same counts again");
        let changed = json!({"events": [], "org.matrix.msc3202.device_one_time_keys_count":
            {"@g:x": {"D": {"signed_curve25519": 51}}}});
        assert_eq!(crypto_input(&changed, true, &seen), CryptoInput::Background);
        let none = json!({"events": [], "org.matrix.msc3202.device_one_time_keys_count": {"@g:x": {"D": {}}}});
        assert_eq!(crypto_input(&none, true, &seen), CryptoInput::Background, "zero keys: changed");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 0..12 {
            let d = backoff_ms(n);
            assert!((1_500..=75_000).contains(&d), "{n}: {d}");
        }
        assert!(backoff_ms(0) < 2_600 && backoff_ms(10) >= 45_000);
    }
}
