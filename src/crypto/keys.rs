//! The master key file (`<store_dir>/pickle.key`: 32 random bytes, mode 0600) and the
//! per-identity store keys derived from it with HKDF-SHA256, so every crypto store has its
//! own key and none is ever derived twice for different identities.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

pub const MASTER_KEY_FILE: &str = "pickle.key";
const INFO_PREFIX: &[u8] = b"pluralmatrix crypto store v1\0";
const RECOVERY_INFO_PREFIX: &[u8] = b"pluralmatrix secret storage v1\0";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0} is readable by other users (mode {1:o}); run `chmod 600 {0}`")]
    TooOpen(PathBuf, u32),
    #[error("{0} must hold exactly 32 bytes (found {1}); restore it from your backup")]
    WrongLength(PathBuf, usize),
}

/// The master secret all store keys come from.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Reads `<store_dir>/pickle.key`, creating it (and the folder, mode 0700) on first run.
    /// Refuses a key file that group or others can read. The folder is kept at 0700, which
    /// makes everything below it (the identities' stores) private too: a folder others could
    /// enter is tightened, with a warning.
    pub fn load_or_create(store_dir: &Path) -> Result<Self, KeyError> {
        fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
            move |source| KeyError::Io { path: path.to_path_buf(), source }
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(store_dir).map_err(io(store_dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store_dir).map_err(io(store_dir))?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(dir = %store_dir.display(), mode = format!("{mode:o}"), "the crypto store folder was open to others; now 0700");
                std::fs::set_permissions(store_dir, std::fs::Permissions::from_mode(0o700)).map_err(io(store_dir))?;
            }
        }
        let path = store_dir.join(MASTER_KEY_FILE);
        if !path.exists() {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::fill(&mut key[..]);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&path).map_err(io(&path))?;
            file.write_all(&key[..]).and_then(|()| file.sync_all()).map_err(io(&path))?;
            return Ok(Self(key));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).map_err(io(&path))?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::TooOpen(path, mode));
            }
        }
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(io(&path))?);
        let key: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| KeyError::WrongLength(path.clone(), bytes.len()))?;
        Ok(Self(Zeroizing::new(key)))
    }

    /// The 32-byte key of one identity's store.
    pub fn store_key(&self, user_id: &str) -> Zeroizing<[u8; 32]> {
        self.derive(INFO_PREFIX, user_id)
    }

    /// The passphrase of one identity's secret storage key (hex of 32 derived bytes): the
    /// identity's cross-signing keys can be recovered with the master key alone.
    pub fn recovery_passphrase(&self, user_id: &str) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(&self.derive(RECOVERY_INFO_PREFIX, user_id)[..]))
    }

    fn derive(&self, prefix: &[u8], user_id: &str) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, &self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        let info = [prefix, user_id.as_bytes()].concat();
        hk.expand(&info, &mut out[..]).expect("32-byte HKDF output"); // ok: far below HKDF's 8160-byte limit

        out
    }

    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("crypto");
        let a = MasterKey::load_or_create(&store).unwrap();
        let b = MasterKey::load_or_create(&store).unwrap();
        assert_eq!(a.store_key("@x:y")[..], b.store_key("@x:y")[..]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.join(MASTER_KEY_FILE)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(dir_mode(&store), 0o700);
            // A folder others may enter (an operator's chmod, an old version) is tightened.
            std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
            MasterKey::load_or_create(&store).unwrap();
            assert_eq!(dir_mode(&store), 0o700);
        }
        assert_eq!(std::fs::read(store.join(MASTER_KEY_FILE)).unwrap().len(), 32);
    }

    #[test]
    fn keys_differ_per_identity_and_master() {
        let m = MasterKey::from_bytes([7; 32]);
        assert_ne!(m.store_key("@a:x")[..], m.store_key("@b:x")[..]);
        assert_ne!(m.store_key("@a:x")[..], MasterKey::from_bytes([8; 32]).store_key("@a:x")[..]);
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::TooOpen(_, 0o644)), "{err}");
    }

    #[test]
    fn truncated_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        MasterKey::load_or_create(dir.path()).unwrap();
        std::fs::write(dir.path().join(MASTER_KEY_FILE), b"short").unwrap();
        assert!(matches!(MasterKey::load_or_create(dir.path()), Err(KeyError::WrongLength(_, 5))));
    }
}
