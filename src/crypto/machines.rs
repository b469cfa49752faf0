//! Open crypto machines: one `OlmMachine` per identity on its own `SqliteCryptoStore`
//! (keyed with the identity's derived key), opened lazily, kept in a bounded LRU and dropped
//! (closing the store) when evicted. One async lock per identity: whoever holds an
//! [`IdentityGuard`] is the only user of that store.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use matrix_sdk_crypto::OlmMachine;
use matrix_sdk_sqlite::SqliteCryptoStore;
use ruma::{OwnedDeviceId, OwnedUserId};
use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;

use super::{CryptoError, keys::MasterKey};

/// Exclusive use of one identity's machine. Dropping it releases the identity.
pub struct IdentityGuard {
    // Field order matters: the machine handle goes before the lock is released.
    machine: Arc<OlmMachine>,
    _lock: OwnedMutexGuard<()>,
}

impl std::ops::Deref for IdentityGuard {
    type Target = OlmMachine;
    fn deref(&self) -> &OlmMachine {
        &self.machine
    }
}

struct Slot {
    machine: Arc<OlmMachine>,
    last_used: u64,
}

#[derive(Default)]
struct Open {
    slots: HashMap<OwnedUserId, Slot>,
    tick: u64,
}

pub struct Machines {
    store_dir: PathBuf,
    master: MasterKey,
    capacity: usize,
    open: Mutex<Open>,
    locks: Mutex<HashMap<OwnedUserId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Machines {
    pub fn new(store_dir: PathBuf, master: MasterKey, capacity: usize) -> Self {
        Self {
            store_dir,
            master,
            capacity: capacity.max(1),
            open: Mutex::new(Open::default()),
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The folder of an identity's store: a hash of the user ID, so no two IDs can collide
    /// (the old daemon's character replacement made `a-b_c` and `a_b-c` share one).
    pub fn store_path(&self, user: &OwnedUserId) -> PathBuf {
        let digest = hex::encode(Sha256::digest(user.as_bytes()));
        self.store_dir.join(&digest[..32])
    }

    /// Whether the identity's store is on disk (it may have been lost, or never made).
    pub fn store_exists(&self, user: &OwnedUserId) -> bool {
        self.store_path(user).exists()
    }

    /// The bridge's master key (secret storage keys are derived from it).
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    pub fn open_count(&self) -> usize {
        self.open.lock().map(|o| o.slots.len()).unwrap_or(0)
    }

    /// Locks the identity and returns its machine, opening the store if needed.
    pub async fn get(&self, user: &OwnedUserId, device: &OwnedDeviceId) -> Result<IdentityGuard, CryptoError> {
        let lock = {
            let mut locks = self.locks.lock().map_err(|_| CryptoError::Poisoned)?;
            locks.entry(user.clone()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        if let Some(machine) = self.touch(user)? {
            return Ok(IdentityGuard { machine, _lock: guard });
        }
        let path = self.store_path(user);
        std::fs::create_dir_all(&path).map_err(|e| CryptoError::Store(format!("{}: {e}", path.display())))?;
        let key = self.master.store_key(user.as_str());
        let store = SqliteCryptoStore::open_with_key(&path, Some(&key))
            .await
            .map_err(|e| CryptoError::Store(format!("{}: {e}", path.display())))?;
        let machine = OlmMachine::with_store(user, device, store, None)
            .await
            .map_err(|e| CryptoError::Store(format!("{user}: {e}")))?;
        let machine = Arc::new(machine);
        self.insert(user.clone(), machine.clone())?;
        Ok(IdentityGuard { machine, _lock: guard })
    }

    /// Closes the identity's machine (once nobody holds it) and removes its store folder.
    pub async fn forget(&self, user: &OwnedUserId) -> Result<(), CryptoError> {
        let lock = {
            let mut locks = self.locks.lock().map_err(|_| CryptoError::Poisoned)?;
            locks.entry(user.clone()).or_default().clone()
        };
        let _guard = lock.lock_owned().await;
        {
            let mut open = self.open.lock().map_err(|_| CryptoError::Poisoned)?;
            open.slots.remove(user);
            crate::metrics::metrics().crypto_machines_open.set(open.slots.len() as i64);
        }
        let path = self.store_path(user);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CryptoError::Store(format!("{}: {e}", path.display()))),
        }
    }

    fn touch(&self, user: &OwnedUserId) -> Result<Option<Arc<OlmMachine>>, CryptoError> {
        let mut open = self.open.lock().map_err(|_| CryptoError::Poisoned)?;
        open.tick += 1;
        let tick = open.tick;
        Ok(open.slots.get_mut(user).map(|slot| {
            slot.last_used = tick;
            slot.machine.clone()
        }))
    }

    fn insert(&self, user: OwnedUserId, machine: Arc<OlmMachine>) -> Result<(), CryptoError> {
        let mut open = self.open.lock().map_err(|_| CryptoError::Poisoned)?;
        open.tick += 1;
        let tick = open.tick;
        open.slots.insert(user, Slot { machine, last_used: tick });
        while open.slots.len() > self.capacity {
            let Some(oldest) = open.slots.iter().min_by_key(|(_, s)| s.last_used).map(|(u, _)| u.clone()) else {
                break;
            };
            // A task still holding this machine keeps it (and the identity lock) until done;
            // the store closes when the last handle goes.
            open.slots.remove(&oldest);
        }
        crate::metrics::metrics().crypto_machines_open.set(open.slots.len() as i64);
        Ok(())
    }

    #[cfg(test)]
    pub fn master_key_for_tests(&self, user: &str) -> [u8; 32] {
        *self.master.store_key(user)
    }
}
