//! End-to-end encryption for the bot and every ghost: each identity has its own device
//! (created with MSC4190), its own crypto store and `OlmMachine`, and its own cross-signing
//! identity, bootstrapped here in process. Requests go out masquerading as the identity's
//! device. Progress is recorded per identity, so a crash midway resumes instead of leaving a
//! half-bootstrapped identity.

mod feed;
pub mod keys;
mod machines;
mod requests;
mod rooms;
#[cfg(test)]
mod tests;

use std::{collections::HashSet, path::PathBuf, sync::Mutex};

use matrix_sdk_crypto::{DecryptionSettings, EncryptionSyncChanges, TrustRequirement};
use ruma::{
    OwnedDeviceId, OwnedUserId, UserId,
    api::client::{device::update_device, keys::upload_keys, sync::sync_events::DeviceLists},
};
use tracing::info;

pub use feed::CryptoTransaction;
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
        Ok(Self {
            db,
            hs,
            machines: Machines::new(settings.store_dir, master, settings.max_open_machines),
            share_with: settings.share_with,
            counted: Mutex::new(HashSet::new()),
        })
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
        let row = match self.db.crypto_identity(user.as_str()).await? {
            Some(row) => row,
            None => self.db.create_crypto_identity(user.as_str(), &new_device_id(), now_ms()).await?,
        };
        let device: OwnedDeviceId = row.device_id.as_str().into();
        if !row.device_created {
            let mut req = update_device::v3::Request::new(device.clone());
            req.display_name = Some(DEVICE_DISPLAY_NAME.to_owned());
            self.hs.send(req, Some(user)).await?;
            self.db.set_device_created(user.as_str()).await?;
            info!(%user, %device, "created device");
        }
        let owned: OwnedUserId = user.to_owned();
        let machine = self.machines.get(&owned, &device).await?;
        self.apply_device_changes(&machine, row.device_changes_seen).await?;
        self.read_key_counts_once(&machine).await?;
        requests::flush(&self.hs, &machine).await?;
        if !row.cross_signing_done {
            self.bootstrap_cross_signing(&machine, false).await?;
            self.db.set_cross_signing_done(user.as_str(), true).await?;
            info!(%user, %device, "cross-signing identity published");
        }
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
            let changes = EncryptionSyncChanges {
                to_device_events: Vec::new(),
                changed_devices: &lists,
                one_time_keys_counts: &Default::default(),
                unused_fallback_keys: None,
                next_batch_token: None,
            };
            machine
                .receive_sync_changes(changes, &Self::decryption_settings())
                .await
                .map_err(|e| CryptoError::Store(e.to_string()))?;
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
        let lists = DeviceLists::new();
        let changes = EncryptionSyncChanges {
            to_device_events: Vec::new(),
            changed_devices: &lists,
            one_time_keys_counts: &counts,
            unused_fallback_keys: None,
            next_batch_token: None,
        };
        machine
            .receive_sync_changes(changes, &Self::decryption_settings())
            .await
            .map_err(|e| CryptoError::Store(e.to_string()))?;
        self.counted.lock().map_err(|_| CryptoError::Poisoned)?.insert(user);
        Ok(())
    }
}
