//! Identities that survive the loss of their store. Each identity's private cross-signing
//! keys are kept in its own server-side secret storage (4S: `m.secret_storage.default_key`,
//! `m.secret_storage.key.<id>`, and `m.cross_signing.master|self_signing|user_signing` in its
//! account data, encrypted with `m.secret_storage.v1.aes-hmac-sha2`). The storage key comes
//! from a passphrase derived from the bridge's master key, so the master key alone recovers
//! every identity. All cryptography is matrix-sdk-crypto's (`SecretStorageKey`, the cross-
//! signing export and import); this module moves the pieces.

use matrix_sdk_crypto::{
    CrossSigningKeyExport, OlmMachine,
    secret_storage::{AesHmacSha2EncryptedData, SecretStorageKey},
};
use ruma::{
    OwnedUserId, UserId,
    api::client::config::{get_global_account_data, set_global_account_data},
    events::{
        AnyGlobalAccountDataEventContent, EventContentFromType, GlobalAccountDataEventType,
        secret::request::SecretName, secret_storage::key::SecretStorageKeyEventContent,
    },
    serde::Raw,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use tracing::{info, warn};

use super::{Crypto, CryptoError, IdentityGuard, keys::MasterKey, new_device_id, requests, retire_device};
use crate::homeserver::Homeserver;

/// The three secrets, by their account-data names.
fn secret_names() -> [SecretName; 3] {
    [SecretName::CrossSigningMasterKey, SecretName::CrossSigningSelfSigningKey, SecretName::CrossSigningUserSigningKey]
}

const DEFAULT_KEY: &str = "m.secret_storage.default_key";

/// The storage key from its passphrase (PBKDF2, deliberately slow: off the async threads).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, CryptoError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| CryptoError::Invalid(format!("key derivation: {e}")))
}

/// Puts the identity's private cross-signing keys in its secret storage. `false`: the
/// machine holds none (nothing to keep yet).
pub async fn store_secrets(hs: &Homeserver, master: &MasterKey, machine: &OlmMachine) -> Result<bool, CryptoError> {
    let user = machine.user_id().to_owned();
    let export = machine.export_cross_signing_keys().await.map_err(|e| CryptoError::Store(e.to_string()))?;
    let Some(export) = export else { return Ok(false) };
    let passphrase = master.recovery_passphrase(user.as_str());
    let key = blocking(move || SecretStorageKey::new_from_passphrase(&passphrase)).await?;
    let key_type = format!("m.secret_storage.key.{}", key.key_id());
    put(hs, &user, &key_type, serde_json::to_value(key.event_content()).map_err(invalid)?).await?;
    let values = [&export.master_key, &export.self_signing_key, &export.user_signing_key];
    for (name, value) in secret_names().into_iter().zip(values) {
        let Some(value) = value.clone().map(Zeroizing::new) else { continue };
        let encrypted = key.encrypt(value.as_bytes().to_vec(), &name);
        let content = json!({ "encrypted": { key.key_id(): encrypted } });
        put(hs, &user, name.as_str(), content).await?;
    }
    // The default key last: a half-written storage is never the one in use.
    put(hs, &user, DEFAULT_KEY, json!({ "key": key.key_id() })).await?;
    Ok(true)
}

/// The identity's private cross-signing keys from its secret storage; `None` when it has
/// none (or they cannot be opened with this bridge's master key).
pub async fn fetch_secrets(
    hs: &Homeserver,
    master: &MasterKey,
    user: &UserId,
) -> Result<Option<CrossSigningKeyExport>, CryptoError> {
    let user = user.to_owned();
    let Some(default) = get(hs, &user, DEFAULT_KEY).await? else { return Ok(None) };
    let Some(key_id) = default.get("key").and_then(Value::as_str).map(str::to_owned) else { return Ok(None) };
    let Some(info) = get(hs, &user, &format!("m.secret_storage.key.{key_id}")).await? else { return Ok(None) };
    let key_type = format!("m.secret_storage.key.{key_id}");
    let raw = serde_json::value::to_raw_value(&info).map_err(invalid)?;
    let info = SecretStorageKeyEventContent::from_parts(&key_type, &raw).map_err(invalid)?;
    let passphrase = master.recovery_passphrase(user.as_str());
    let key = blocking(move || SecretStorageKey::from_account_data(&passphrase, info)).await?;
    let Ok(key) = key else { return Ok(None) };
    let mut values = Vec::with_capacity(3);
    for name in secret_names() {
        let data = get(hs, &user, name.as_str()).await?.and_then(|v| v.get("encrypted")?.get(&key_id).cloned());
        let value = match data.map(serde_json::from_value::<AesHmacSha2EncryptedData>) {
            Some(Ok(data)) => {
                let plain = Zeroizing::new(key.decrypt(&data, &name).map_err(|_| invalid("secret MAC mismatch"))?);
                Some(String::from_utf8(plain.to_vec()).map_err(invalid)?)
            }
            _ => None,
        };
        values.push(value);
    }
    let mut values = values.into_iter();
    let (master_key, self_signing_key, user_signing_key) =
        (values.next().flatten(), values.next().flatten(), values.next().flatten());
    if master_key.is_none() || self_signing_key.is_none() {
        return Ok(None);
    }
    Ok(Some(CrossSigningKeyExport { master_key, self_signing_key, user_signing_key }))
}

fn invalid(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Invalid(format!("secret storage: {e}"))
}

async fn put(hs: &Homeserver, user: &OwnedUserId, event_type: &str, content: Value) -> Result<(), CryptoError> {
    let raw: Raw<AnyGlobalAccountDataEventContent> = Raw::new(&content).map_err(invalid)?.cast_unchecked();
    let req = set_global_account_data::v3::Request::new_raw(user.clone(), event_type.into(), raw);
    hs.send(req, Some(user)).await?;
    Ok(())
}

/// An account-data event's content; `None` when there is none (404).
async fn get(hs: &Homeserver, user: &OwnedUserId, event_type: &str) -> Result<Option<Value>, CryptoError> {
    let kind: GlobalAccountDataEventType = event_type.into();
    let req = get_global_account_data::v3::Request::new(user.clone(), kind);
    match hs.send(req, Some(user)).await {
        Ok(resp) => Ok(Some(resp.account_data.deserialize_as_unchecked::<Value>().map_err(invalid)?)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Crypto {
    /// The identity's store is lost: its old device goes, a new one is recorded. Returns the
    /// private cross-signing keys from secret storage, or `None` (the identity starts over
    /// with new keys, and others see it change).
    pub(super) async fn replace_lost_store(
        &self,
        user: &UserId,
        row: &crate::db::CryptoIdentity,
    ) -> Result<Option<CrossSigningKeyExport>, CryptoError> {
        let export =
            if row.secrets_stored { fetch_secrets(&self.hs, self.machines.master(), user).await? } else { None };
        retire_device(&self.db, &self.hs, user).await?;
        self.db.replace_device(user.as_str(), &new_device_id(), export.is_some()).await?;
        match &export {
            Some(_) => {
                info!(%user, old_device = %row.device_id, "store lost; restoring the identity from secret storage")
            }
            None => {
                warn!(%user, old_device = %row.device_id, "store lost and no secret storage; the identity starts over")
            }
        }
        Ok(export)
    }

    /// Takes the identity's private cross-signing keys back and signs the new device with
    /// them: others see the same identity with a new, verified device.
    pub(super) async fn sign_with_restored_keys(
        &self,
        machine: &IdentityGuard,
        export: CrossSigningKeyExport,
    ) -> Result<(), CryptoError> {
        let (user, device) = (machine.user_id().to_owned(), machine.device_id().to_owned());
        machine.import_cross_signing_keys(export).await.map_err(|e| CryptoError::Store(e.to_string()))?;
        let own = machine
            .get_device(&user, &device, None)
            .await
            .map_err(|e| CryptoError::Store(e.to_string()))?
            .ok_or_else(|| CryptoError::Invalid(format!("{user}'s new device is unknown to its machine")))?;
        let signature = own.verify().await.map_err(|e| CryptoError::Store(e.to_string()))?;
        requests::upload_signatures_checked(&self.hs, &user, &device, signature).await?;
        info!(%user, %device, "identity restored: the new device is signed by the same cross-signing keys");
        Ok(())
    }

    /// `pk;admin ghost … crypto restore`: drops the identity's store and rebuilds it from
    /// secret storage (or, with `reset`, starts the identity over with new keys).
    pub async fn rebuild_identity(&self, user: &UserId, reset: bool) -> Result<(), CryptoError> {
        self.machines.forget(&user.to_owned()).await?;
        if reset {
            retire_device(&self.db, &self.hs, user).await?;
            self.db.replace_device(user.as_str(), &new_device_id(), false).await?;
        }
        self.identity(user).await?;
        Ok(())
    }
}
