//! Feeding a transaction's crypto parts to the machines: to-device events (MSC2409/4203) by
//! recipient device, device-list changes (MSC3202, recorded durably for machines that are not
//! open), one-time-key counts and unused fallback key types. Pseudo device IDs (Synapse lists
//! cross-signing keys as devices) are ignored; an empty count map means zero keys.

use std::collections::{BTreeMap, HashMap};

use matrix_sdk_crypto::store::types::RoomKeyInfo;
use ruma::{
    OneTimeKeyAlgorithm, OwnedUserId, UInt, UserId, api::client::sync::sync_events::DeviceLists,
    events::AnyToDeviceEvent, serde::Raw,
};
use serde::Deserialize;
use serde_json::Value;
use tracing::{debug, warn};

use super::{Crypto, CryptoError, requests};
use crate::db::now_ms;

type PerDevice<T> = BTreeMap<String, BTreeMap<String, T>>;

#[derive(Debug, Default, Deserialize)]
struct Lists {
    #[serde(default)]
    changed: Vec<String>,
    #[serde(default)]
    left: Vec<String>,
}

/// The encryption-related fields of a transaction, read leniently.
#[derive(Debug, Default, Deserialize)]
pub struct CryptoTransaction {
    #[serde(rename = "de.sorunome.msc2409.to_device", default)]
    unstable_to_device: Vec<Value>,
    #[serde(rename = "to_device", default)]
    to_device: Vec<Value>,
    #[serde(rename = "org.matrix.msc3202.device_lists", default)]
    device_lists: Lists,
    #[serde(rename = "org.matrix.msc3202.device_one_time_keys_count", default)]
    otk_counts: PerDevice<BTreeMap<String, u64>>,
    #[serde(rename = "org.matrix.msc3202.device_one_time_key_counts", default)]
    otk_counts_legacy: PerDevice<BTreeMap<String, u64>>,
    #[serde(rename = "org.matrix.msc3202.device_unused_fallback_key_types", default)]
    fallback_keys: PerDevice<Vec<String>>,
}

impl CryptoTransaction {
    /// Reads the crypto parts of a transaction body already parsed.
    pub fn deserialize_lenient(txn: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(txn)
    }

    /// Whether the transaction's events may need this input first: room keys (to-device
    /// messages) to decrypt them, device-list changes to encrypt answers to the right devices.
    pub fn gates_events(&self) -> bool {
        !self.unstable_to_device.is_empty()
            || !self.to_device.is_empty()
            || !self.device_lists.changed.is_empty()
            || !self.device_lists.left.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.unstable_to_device.is_empty()
            && self.to_device.is_empty()
            && self.device_lists.changed.is_empty()
            && self.device_lists.left.is_empty()
            && self.otk_counts.is_empty()
            && self.otk_counts_legacy.is_empty()
            && self.fallback_keys.is_empty()
    }

    /// Per (user, device): a fingerprint of its one-time-key counts and unused fallback key
    /// types, so input equal to what was applied last can be skipped.
    pub fn key_count_fingerprints(&self) -> Vec<((String, String), String)> {
        let mut out: BTreeMap<(String, String), String> = BTreeMap::new();
        for (user, devices) in self.counts() {
            for (device, counts) in devices {
                out.entry((user.clone(), device.clone())).or_default().push_str(&format!("c{counts:?}"));
            }
        }
        for (user, devices) in &self.fallback_keys {
            for (device, types) in devices {
                out.entry((user.clone(), device.clone())).or_default().push_str(&format!("f{types:?}"));
            }
        }
        out.into_iter().collect()
    }

    fn counts(&self) -> &PerDevice<BTreeMap<String, u64>> {
        if self.otk_counts.is_empty() { &self.otk_counts_legacy } else { &self.otk_counts }
    }
}

/// A count map where a missing `signed_curve25519` means zero (the homeserver leaves it out).
pub fn counts_with_zero(mut counts: BTreeMap<OneTimeKeyAlgorithm, UInt>) -> BTreeMap<OneTimeKeyAlgorithm, UInt> {
    counts.entry(OneTimeKeyAlgorithm::SignedCurve25519).or_insert(UInt::MIN);
    counts
}

/// What a transaction brought: room keys (per identity, so parked events can be retried) and
/// which identities failed to take their part.
#[derive(Debug, Default)]
pub struct Received {
    pub room_keys: Vec<(OwnedUserId, RoomKeyInfo)>,
    /// (identity and error, whether trying again later could succeed)
    pub failures: Vec<(String, bool)>,
}

/// What one identity gets from a transaction.
#[derive(Default)]
struct ForIdentity {
    to_device: Vec<Raw<AnyToDeviceEvent>>,
    counts: Option<BTreeMap<OneTimeKeyAlgorithm, UInt>>,
    fallback: Option<Vec<OneTimeKeyAlgorithm>>,
}

impl Crypto {
    /// Applies the crypto parts of journal entry `seq`, each identity's part once: an
    /// identity that took its part is skipped when the entry is applied again (a replayed
    /// Olm message would wedge its session). Fails only if the database does; an identity
    /// that cannot take its part is listed in `failures` and the others go on.
    pub async fn receive(&self, seq: i64, txn: &CryptoTransaction) -> Result<Received, CryptoError> {
        if txn.is_empty() {
            return Ok(Received::default());
        }
        let changed: Vec<String> = txn.device_lists.changed.iter().chain(&txn.device_lists.left).cloned().collect();
        if !changed.is_empty() && !self.db.crypto_applied(seq, DEVICE_LISTS).await? {
            self.db.add_device_list_changes(&changed, now_ms()).await?;
            self.db.mark_crypto_applied(seq, DEVICE_LISTS).await?;
        }
        let ours: HashMap<(String, String), bool> =
            self.db.crypto_devices().await?.into_iter().map(|(u, d, created)| ((u, d), created)).collect();
        let per = route(txn, &ours);

        let mut received = Received::default();
        for (user, input) in per {
            let Ok(user) = UserId::parse(user.as_str()) else { continue };
            if self.db.crypto_applied(seq, user.as_str()).await? {
                continue;
            }
            // One identity's trouble must not cost the others their keys.
            match self.receive_for(seq, &user, input).await {
                Ok(keys) => received.room_keys.extend(keys.into_iter().map(|k| (user.clone(), k))),
                Err(e) => {
                    warn!(%user, error = %e, "could not apply encryption data");
                    received.failures.push((format!("{user}: {e}"), e.is_transient()));
                }
            }
        }
        Ok(received)
    }

    /// Feeds one identity its part, without asking the homeserver anything first (its
    /// machine is opened from its store); what the machine wants to send afterwards (new
    /// one-time keys, answers) is sent best-effort: it stays queued in the machine otherwise.
    async fn receive_for(&self, seq: i64, user: &UserId, input: ForIdentity) -> Result<Vec<RoomKeyInfo>, CryptoError> {
        let machine = self.open_local(user).await?;
        let counts = input.counts.unwrap_or_default();
        // Room keys we asked other users' devices for: taken before the machine (which would
        // drop them) advances its Olm sessions past them.
        let forwarded = self.take_forwarded_keys(&machine, &input.to_device).await?;
        let mut room_keys =
            super::receive_changes(&machine, input.to_device, &DeviceLists::new(), &counts, input.fallback.as_deref())
                .await?;
        room_keys.extend(forwarded);
        self.db.mark_crypto_applied(seq, user.as_str()).await?;
        if let Err(e) = requests::flush(&self.hs, &machine).await {
            warn!(%user, error = %e, "could not send what the encryption machine asked for; it stays queued");
        }
        Ok(room_keys)
    }
}

/// The pseudo-identity under which a journal entry's device-list changes are recorded once.
const DEVICE_LISTS: &str = "(device lists)";

/// Splits a transaction's crypto parts by recipient identity, keeping only our devices whose
/// encryption is set up (the value in `ours`).
fn route(txn: &CryptoTransaction, ours: &HashMap<(String, String), bool>) -> HashMap<String, ForIdentity> {
    let mut per: HashMap<String, ForIdentity> = HashMap::new();
    let is_ours = |user: &str, device: &str| ours.get(&(user.to_owned(), device.to_owned())) == Some(&true);

    for event in txn.unstable_to_device.iter().chain(&txn.to_device) {
        let user = event.get("to_user_id").and_then(Value::as_str).unwrap_or_default();
        let device = event.get("to_device_id").and_then(Value::as_str).unwrap_or_default();
        if !is_ours(user, device) {
            debug!(user, device, "to-device event for a device we do not manage");
            continue;
        }
        match Raw::new(event) {
            Ok(raw) => per.entry(user.to_owned()).or_default().to_device.push(raw.cast_unchecked()),
            Err(e) => warn!(error = %e, "unreadable to-device event"),
        }
    }
    for (user, devices) in txn.counts() {
        for (_, counts) in devices.iter().filter(|(d, _)| is_ours(user, d)) {
            let map = counts
                .iter()
                .filter_map(|(alg, n)| Some((OneTimeKeyAlgorithm::from(alg.as_str()), UInt::new(*n)?)))
                .collect();
            per.entry(user.clone()).or_default().counts = Some(counts_with_zero(map));
        }
    }
    for (user, devices) in &txn.fallback_keys {
        for (_, types) in devices.iter().filter(|(d, _)| is_ours(user, d)) {
            let types = types.iter().map(|t| OneTimeKeyAlgorithm::from(t.as_str())).collect();
            per.entry(user.clone()).or_default().fallback = Some(types);
        }
    }
    per
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_key_names_and_leniently() {
        let txn: CryptoTransaction = serde_json::from_value(json!({
            "events": [],
            "de.sorunome.msc2409.to_device": [{"type": "m.room.encrypted", "to_user_id": "@g:x", "to_device_id": "D"}],
            "org.matrix.msc3202.device_lists": {"changed": ["@a:x"]},
            "org.matrix.msc3202.device_one_time_key_counts": {"@g:x": {"D": {"signed_curve25519": 3}, "PSEUDO": {}}},
            "org.matrix.msc3202.device_unused_fallback_key_types": {"@g:x": {"D": []}}
        }))
        .unwrap();
        assert!(!txn.is_empty());
        assert_eq!(txn.unstable_to_device.len(), 1);
        assert_eq!(txn.device_lists.changed, vec!["@a:x".to_owned()]);
        assert_eq!(txn.counts()["@g:x"]["D"]["signed_curve25519"], 3);
        let empty: CryptoTransaction = serde_json::from_value(json!({"events": []})).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn missing_count_means_zero() {
        let counts = counts_with_zero(BTreeMap::new());
        assert_eq!(counts[&OneTimeKeyAlgorithm::SignedCurve25519], UInt::MIN);
        let mut some = BTreeMap::new();
        some.insert(OneTimeKeyAlgorithm::SignedCurve25519, UInt::from(7u32));
        assert_eq!(counts_with_zero(some)[&OneTimeKeyAlgorithm::SignedCurve25519], UInt::from(7u32));
    }
}
