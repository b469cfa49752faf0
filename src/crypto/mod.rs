//! End-to-end encryption for the bot and every ghost: each identity has its own device
//! (created with MSC4190), its own crypto store and `OlmMachine`, and its own cross-signing
//! identity, bootstrapped here in process. Requests go out masquerading as the identity's
//! device. Progress is recorded per identity, so a crash midway resumes instead of leaving a
//! half-bootstrapped identity.

mod feed;
mod key_requests;
pub mod keys;
mod machines;
mod recovery;
mod requests;
mod rooms;

use std::{
    collections::{BTreeMap, HashSet},
    path::PathBuf,
    sync::Mutex,
};

use matrix_sdk_crypto::{
    DecryptionSettings, EncryptionSyncChanges, OlmMachine, TrustRequirement, store::types::RoomKeyInfo,
};
use ruma::{
    OneTimeKeyAlgorithm, OwnedDeviceId, OwnedUserId, UInt, UserId,
    api::client::{device::update_device, keys::upload_keys, sync::sync_events::DeviceLists},
    events::AnyToDeviceEvent,
    serde::Raw,
};
use tracing::info;

pub use feed::{CryptoTransaction, Received};
pub use machines::IdentityGuard;
pub use rooms::{Decrypted, ShareWith};

use crate::{
    db::{Db, DbError, now_ms},
    homeserver::{Homeserver, HsError},
};
use keys::MasterKey;
use machines::Machines;

/// The display name of the devices we create.
const DEVICE_DISPLAY_NAME: &str = "pluralmatrix";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(transparent)]
    Homeserver(#[from] HsError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("crypto store: {0}")]
    Store(String),
    #[error("the homeserver refused: {0}")]
    Rejected(String),
    #[error("{0}")]
    Invalid(String),
    #[error("a lock was poisoned by an earlier panic")]
    Poisoned,
}

impl CryptoError {
    /// Whether trying again later could succeed (the homeserver was unreachable or busy).
    pub fn is_transient(&self) -> bool {
        match self {
            CryptoError::Homeserver(e) => e.is_transient(),
            CryptoError::Db(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Settings from the config's `[encryption]` section.
#[derive(Debug, Clone)]
pub struct CryptoSettings {
    pub store_dir: PathBuf,
    pub max_open_machines: usize,
    pub share_with: ShareWith,
}

pub struct Crypto {
    db: Db,
    hs: Homeserver,
    machines: Machines,
    share_with: ShareWith,
    /// Identities whose one-time-key counts were read since this process started.
    counted: Mutex<HashSet<OwnedUserId>>,
    /// When this process started (ms): an answer to a key request asked before then may have
    /// been dropped while we were down, so it is asked again at once.
    started_at: i64,
    /// Held while a lost store is replaced, so two tasks never replace it twice.
    replacing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto").finish_non_exhaustive()
    }
}

/// A new device ID: `PM` and ten random capital letters.
fn new_device_id() -> String {
    let letters: String = (0..10).map(|_| char::from(b'A' + rand::random_range(0..26u8))).collect();
    format!("PM{letters}")
}

impl Crypto {
    /// Reads (or creates) the master key and prepares the machine cache.
    pub fn new(db: Db, hs: Homeserver, settings: CryptoSettings) -> Result<Self, CryptoError> {
        let master = MasterKey::load_or_create(&settings.store_dir)?;
        Ok(Self::with_master_key(db, hs, settings, master))
    }

    /// Like [`Crypto::new`] with a master key already loaded (the daemon checks it before
    /// anything else, so a bad key file fails the start at once).
    pub fn with_master_key(db: Db, hs: Homeserver, settings: CryptoSettings, master: MasterKey) -> Self {
        Self {
            db,
            hs,
            machines: Machines::new(settings.store_dir, master, settings.max_open_machines),
            share_with: settings.share_with,
            counted: Mutex::new(HashSet::new()),
            started_at: crate::db::now_ms(),
            replacing: tokio::sync::Mutex::new(()),
        }
    }

    /// Closes `user`'s machine and removes its store for good (a retired ghost).
    pub async fn forget_store(&self, user: &UserId) -> Result<(), CryptoError> {
        self.machines.forget(&user.to_owned()).await
    }

    pub fn open_machines(&self) -> usize {
        self.machines.open_count()
    }

    pub(crate) fn decryption_settings() -> DecryptionSettings {
        DecryptionSettings { sender_device_trust_requirement: TrustRequirement::Untrusted }
    }

    /// The identity's machine, ready for use: device created, keys uploaded, cross-signing
    /// bootstrapped, pending device-list changes applied. Idempotent and resumable.
    pub async fn identity(&self, user: &UserId) -> Result<IdentityGuard, CryptoError> {
        let owned: OwnedUserId = user.to_owned();
        let mut restored = None;
        if !self.machines.store_exists(&owned) {
            let _replacing = self.replacing.lock().await;
            // A set-up identity whose store is gone: a new device, under the same identity
            // where its keys are in secret storage.
            let row = self.db.crypto_identity(user.as_str()).await?;
            if let Some(row) = row.filter(|r| r.device_created && r.cross_signing_done) {
                restored = self.replace_lost_store(user, &row).await?;
            }
        }
        ensure_device(&self.db, &self.hs, user).await?;
        let row = self
            .db
            .crypto_identity(user.as_str())
            .await?
            .ok_or_else(|| CryptoError::Invalid(format!("{user} has no identity row")))?;
        let device: OwnedDeviceId = row.device_id.as_str().into();
        let machine = self.machines.get(&owned, &device).await?;
        // Set-up left to do: read again under the identity's lock (another task may have done it).
        let row = if row.cross_signing_done && row.secrets_stored {
            row
        } else {
            self.db.crypto_identity(user.as_str()).await?.unwrap_or(row)
        };
        self.apply_device_changes(&machine, row.device_changes_seen).await?;
        self.read_key_counts_once(&machine).await?;
        requests::flush(&self.hs, &machine).await?;
        if !row.cross_signing_done {
            // Keys in secret storage (a lost store, also one whose restore was interrupted)
            // sign the new device; otherwise the identity gets its first keys.
            let export = match restored {
                Some(export) => Some(export),
                None if row.secrets_stored => recovery::fetch_secrets(&self.hs, self.machines.master(), user).await?,
                None => None,
            };
            match export {
                Some(export) => self.sign_with_restored_keys(&machine, export).await?,
                None => {
                    self.bootstrap_cross_signing(&machine, false).await?;
                    info!(%user, %device, "cross-signing identity published");
                }
            }
            self.db.set_cross_signing_done(user.as_str(), true).await?;
        }
        if !row.secrets_stored {
            // Keeping the keys must not stop the identity from working: tried again next time.
            match recovery::store_secrets(&self.hs, self.machines.master(), &machine).await {
                Ok(true) => {
                    self.db.set_secrets_stored(user.as_str(), true).await?;
                    info!(%user, "cross-signing keys kept in secret storage");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(%user, error = %e, "could not keep the cross-signing keys in secret storage"),
            }
        }
        Ok(machine)
    }

    /// The identity's machine from its store, without asking the homeserver anything (for
    /// feeding it a transaction's input while the homeserver may be away). Its device must
    /// exist already: nothing is addressed to a device that does not.
    pub async fn open_local(&self, user: &UserId) -> Result<IdentityGuard, CryptoError> {
        let row = self
            .db
            .crypto_identity(user.as_str())
            .await?
            .filter(|row| row.device_created)
            .ok_or_else(|| CryptoError::Invalid(format!("{user} has no device yet")))?;
        if row.cross_signing_done && !self.machines.store_exists(&user.to_owned()) {
            // What was sent to the lost device is lost with it; the identity is rebuilt (from
            // secret storage) at its next use, which may ask the homeserver.
            return Err(CryptoError::Invalid(format!("{user}'s store is lost; it is rebuilt at its next use")));
        }
        let device: OwnedDeviceId = row.device_id.as_str().into();
        let machine = self.machines.get(&user.to_owned(), &device).await?;
        self.apply_device_changes(&machine, row.device_changes_seen).await?;
        Ok(machine)
    }

    /// Creates (or, with `reset`, replaces with fresh keys) the identity's cross-signing keys
    /// and publishes them: device keys, then the signing keys, then the device's signature.
    pub async fn bootstrap_cross_signing(&self, machine: &IdentityGuard, reset: bool) -> Result<(), CryptoError> {
        let (user, device) = (machine.user_id(), machine.device_id());
        let reqs = machine.bootstrap_cross_signing(reset).await.map_err(|e| CryptoError::Store(e.to_string()))?;
        if let Some(upload) = &reqs.upload_keys_req {
            requests::send_one(&self.hs, machine, upload).await?;
        }
        requests::upload_signing_keys(&self.hs, user, device, &reqs.upload_signing_keys_req).await?;
        requests::upload_signatures_checked(&self.hs, user, device, reqs.upload_signatures_req).await?;
        Ok(())
    }

    /// Replaces an identity's cross-signing keys with fresh ones (old keys are never reused:
    /// Synapse fails on a re-uploaded old master key).
    pub async fn reset_cross_signing(&self, user: &UserId) -> Result<(), CryptoError> {
        let machine = self.identity(user).await?;
        self.db.set_cross_signing_done(user.as_str(), false).await?;
        self.bootstrap_cross_signing(&machine, true).await?;
        self.db.set_cross_signing_done(user.as_str(), true).await?;
        Ok(())
    }

    /// Tells the machine about device-list changes recorded since it last looked.
    async fn apply_device_changes(&self, machine: &IdentityGuard, seen: i64) -> Result<(), CryptoError> {
        let (users, last) = self.db.device_list_changes_since(seen).await?;
        if last == seen {
            return Ok(());
        }
        let mut lists = DeviceLists::new();
        lists.changed = users.iter().filter_map(|u| UserId::parse(u.as_str()).ok()).collect();
        if !lists.changed.is_empty() {
            receive_changes(machine, Vec::new(), &lists, &BTreeMap::new(), None).await?;
        }
        self.db.set_device_changes_seen(machine.user_id().as_str(), last).await?;
        Ok(())
    }

    /// Once per process and identity, asks the homeserver how many one-time keys it holds
    /// (an empty `keys/upload`), so depleted keys are topped up even if no transaction says so.
    async fn read_key_counts_once(&self, machine: &IdentityGuard) -> Result<(), CryptoError> {
        let user = machine.user_id().to_owned();
        if self.counted.lock().map_err(|_| CryptoError::Poisoned)?.contains(&user) {
            return Ok(());
        }
        let resp = self.hs.send_as(upload_keys::v3::Request::new(), Some(&user), Some(machine.device_id())).await?;
        let counts = feed::counts_with_zero(resp.one_time_key_counts);
        receive_changes(machine, Vec::new(), &DeviceLists::new(), &counts, None).await?;
        self.counted.lock().map_err(|_| CryptoError::Poisoned)?.insert(user);
        Ok(())
    }
}

/// Makes sure `user` (the bot or a registered ghost) has its own device on the homeserver
/// (MSC4190 `PUT /devices`), recorded in the database; returns its ID. Requests made with it
/// get the homeserver's durable transaction-ID dedupe, and encryption builds on it later.
pub async fn ensure_device(db: &Db, hs: &Homeserver, user: &UserId) -> Result<OwnedDeviceId, CryptoError> {
    let row = match db.crypto_identity(user.as_str()).await? {
        Some(row) => row,
        None => db.create_crypto_identity(user.as_str(), &new_device_id(), now_ms()).await?,
    };
    let device: OwnedDeviceId = row.device_id.as_str().into();
    if !row.device_created {
        let mut req = update_device::v3::Request::new(device.clone());
        req.display_name = Some(DEVICE_DISPLAY_NAME.to_owned());
        hs.send(req, Some(user)).await?;
        db.set_device_created(user.as_str()).await?;
        info!(%user, %device, "created device");
    }
    Ok(device)
}

/// Deletes `user`'s device on the homeserver if we created one (appservices need no
/// user-interactive auth for it; deleting twice is fine). The identity's database row goes
/// with the caller's deletion.
pub async fn retire_device(db: &Db, hs: &Homeserver, user: &UserId) -> Result<(), CryptoError> {
    if let Some(device) = db.created_device(user.as_str()).await? {
        let req = ruma::api::client::device::delete_device::v3::Request::new(device.as_str().into());
        hs.send(req, Some(user)).await?;
        info!(%user, %device, "deleted device");
    }
    Ok(())
}

/// Hands a machine what a `/sync` would have brought: to-device events, device-list changes,
/// one-time-key counts (an empty map means "no news"), unused fallback key types. Returns the
/// room keys that arrived.
async fn receive_changes(
    machine: &OlmMachine,
    to_device_events: Vec<Raw<AnyToDeviceEvent>>,
    changed_devices: &DeviceLists,
    one_time_keys_counts: &BTreeMap<OneTimeKeyAlgorithm, UInt>,
    unused_fallback_keys: Option<&[OneTimeKeyAlgorithm]>,
) -> Result<Vec<RoomKeyInfo>, CryptoError> {
    let changes = EncryptionSyncChanges {
        to_device_events,
        changed_devices,
        one_time_keys_counts,
        unused_fallback_keys,
        next_batch_token: None,
    };
    let (_, room_keys) = machine
        .receive_sync_changes(changes, &Crypto::decryption_settings())
        .await
        .map_err(|e| CryptoError::Store(e.to_string()))?;
    Ok(room_keys)
}

/// Crypto identity set-up against a small stand-in homeserver on 127.0.0.1: the paths Synapse
/// 1.163 never takes (user-interactive auth for cross-signing keys, signature failures) and
/// store protection. The real-server paths are covered by `tests/encryption.rs`.
#[cfg(test)]
mod tests;
