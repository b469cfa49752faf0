//! The daemon's own database (sqlx's `Any` driver: SQLite in WAL mode, or PostgreSQL; see
//! `backend`). Migrations are embedded and run on connect. Each submodule owns the queries of
//! one concern.

mod admin;
mod backend;
mod crypto;
mod deletion;
mod dm;
mod export;
mod ghosts;
mod groups;
mod import;
mod inserts;
mod journal;
mod links;
mod messages;
mod migrate;
mod privacy;
mod profiles;
mod queue;
mod settings;
mod switches;
mod systems;

use sqlx::AnyPool;

pub use backend::{Backend, DatabaseLock, Flag, lock_database, redact_url};

pub use admin::DeadLetter;
pub use crypto::{CryptoIdentity, KeyRequest, ParkedEvent, RoomInfo};
pub use ghosts::Ghost;
pub use groups::Group;
pub use import::ImportSummary;
pub use journal::{CryptoInput, JournalEntry, QueuedEvent, body_hash};
pub use links::PendingLink;
pub use messages::{PendingRedaction, ProxiedMessage};
pub use migrate::{CopyReport, migrate_db};
pub use privacy::{Privacy, PrivacyOf};
pub use profiles::MemberFlag;
pub use queue::{RoomEventRow, Settled};
pub use settings::{RoomAutoproxy, SystemConfig};
pub use switches::{StoredSwitch, SwitchChange};
pub use systems::{Member, System};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database: {0}")]
    Io(#[from] std::io::Error),
    #[error("database: {0}")]
    Invalid(String),
}

pub type DbResult<T> = Result<T, DbError>;

impl DbError {
    /// Whether trying again later could succeed: the database was busy or locked, a
    /// connection could not be had, or the disk hiccuped. A constraint violation or a bad
    /// row is permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Sqlx(e) => match e {
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
                sqlx::Error::Database(db) => backend::is_transient_database_error(db.as_ref()),
                _ => false,
            },
            DbError::Io(_) => true,
            DbError::Migrate(_) | DbError::Invalid(_) => false,
        }
    }
}

/// Makes the database private to the daemon's user before SQLite opens it: a missing folder
/// is created with mode 0700, a missing file with 0600 (SQLite gives its `-wal` and `-shm`
/// files the database file's mode), and an existing file or companion that group or others may
/// read is tightened to 0600, with a warning (earlier versions left them at the umask's 0644).
fn private_files(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if !path.exists() {
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            let Ok(meta) = std::fs::metadata(&file) else { continue };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(file = %file.display(), mode = format!("{mode:o}"), "the database was readable by others; now 0600");
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Clone, Debug)]
pub struct Db {
    backend: Backend,
    /// Everything but the journal. SQLite: `synchronous = NORMAL` (WAL), which survives a
    /// crash of the daemon at any point; only a power cut can take the newest commits, and the
    /// next FULL commit of the journal makes every earlier commit durable too (one WAL).
    pool: AnyPool,
    /// The intake's writes. SQLite: `synchronous = FULL`, so a transaction acknowledged to the
    /// homeserver survives a power cut (PostgreSQL's commits are durable by default).
    journal: AnyPool,
    /// Device IDs of identities whose device is created: they never change (see
    /// [`Db::created_device`]), and every send reads one.
    devices: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<String, String>>>,
}

impl Db {
    /// Opens (creating if needed) the database at `url` (`sqlite:` or `postgres://`) and brings
    /// its schema up to date.
    pub async fn connect(url: &str) -> DbResult<Self> {
        let (backend, pool, journal) = backend::connect(url).await?;
        Ok(Self { backend, pool, journal, devices: Default::default() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes both pools (the journal's may be the same one).
    pub async fn close(&self) {
        self.pool.close().await;
        self.journal.close().await;
    }

    /// A transaction that writes, holding the one writer slot from its start (see
    /// [`backend`]'s `begin_write`).
    pub async fn write_tx(&self) -> DbResult<Tx> {
        backend::begin_write(self.backend, &self.pool).await
    }

    /// Like [`Db::write_tx`], on the journal's pool.
    pub async fn journal_write_tx(&self) -> DbResult<Tx> {
        backend::begin_write(self.backend, &self.journal).await
    }

    /// Deletes what is no longer needed: processed journal bodies, old event IDs and records.
    pub async fn prune(&self, now: i64) -> DbResult<()> {
        const DAY: i64 = 24 * 60 * 60 * 1000;
        sqlx::query("DELETE FROM journal WHERE processed_at IS NOT NULL AND processed_at < $1")
            .bind(now - 7 * DAY)
            .execute(&self.pool)
            .await?;
        // Settled events are remembered for 30 days (the homeserver may deliver one again).
        for q in [
            "DELETE FROM room_events WHERE state IN ('done', 'dead') AND settled_at < $1",
            "DELETE FROM effects WHERE done_at < $1",
            "DELETE FROM command_results WHERE created_at < $1",
        ] {
            sqlx::query(q).bind(now - 30 * DAY).execute(&self.pool).await?;
        }
        sqlx::query("DELETE FROM crypto_applied WHERE journal_seq < (SELECT COALESCE(MIN(seq), 0) FROM journal)")
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM pending_confirmations WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        // Device-list changes every identity has seen are no longer needed.
        sqlx::query(
            "DELETE FROM device_list_changes WHERE seq <= (SELECT COALESCE(MIN(device_changes_seen), 0) FROM crypto_identities)",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A fresh, empty database for one test: in memory on SQLite, or, when
/// `PLURALMATRIX_TEST_POSTGRES` holds a server's URL (`scripts/test.sh --postgres` sets it), a
/// new database of its own on that PostgreSQL server.
#[cfg(test)]
pub(crate) async fn test_db() -> Db {
    match std::env::var("PLURALMATRIX_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            let url = backend::create_test_database(&server).await.expect("a PostgreSQL test database");
            Db::connect(&url).await.expect("the PostgreSQL test database")
        }
        _ => Db::connect("sqlite::memory:").await.expect("in-memory database"),
    }
}

#[cfg(test)]
mod tests {
    use super::test_db;

    /// Regression: the database and its WAL were created with the umask's mode (0644 here).
    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_is_private_to_its_user() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("data");
        let file = folder.join("p.db");
        let db = super::Db::connect(&format!("sqlite://{}", file.display())).await.unwrap();
        db.record_effect("$e", "proxy", "$g", 1).await.unwrap();
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&folder.join("p.db-wal")), 0o600, "SQLite gives the WAL the file's mode");
        db.pool().close().await;
        // One left open by an earlier version is tightened.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = super::Db::connect(&format!("sqlite://{}", file.display())).await.unwrap();
        assert_eq!(mode(&file), 0o600);
        db.pool().close().await;
    }

    /// Regression: every database error counted as "try again later", a constraint
    /// violation included, so such an event was retried for an hour.
    #[tokio::test]
    async fn a_constraint_violation_is_permanent() {
        let db = test_db().await;
        let insert = "INSERT INTO accounts (user_id, system_id, created_at) VALUES ('@u:x', 999, 0)";
        let err = sqlx::query(insert).execute(db.pool()).await.map_err(super::DbError::from).unwrap_err();
        assert!(!err.is_transient(), "{err}");
        assert!(super::DbError::Sqlx(sqlx::Error::PoolTimedOut).is_transient());
    }

    /// A PostgreSQL lock that could not be had in time passes if tried again (PostgreSQL only:
    /// an in-memory SQLite database has a single connection).
    #[tokio::test]
    async fn a_lock_timeout_is_transient() {
        let db = test_db().await;
        if db.backend() == super::Backend::Sqlite {
            // An in-memory SQLite database has one connection: the second would wait for it.
            return;
        }
        let mut holder = db.write_tx().await.unwrap();
        sqlx::query("INSERT INTO command_results (event_id, reply, created_at) VALUES ('$a', 'x', 0)")
            .execute(&mut *holder)
            .await
            .unwrap();
        let mut waiter = db.pool().acquire().await.unwrap();
        sqlx::query("SET lock_timeout = '50ms'").execute(&mut *waiter).await.unwrap();
        let mut tx = sqlx::Connection::begin(&mut *waiter).await.unwrap();
        let err = sqlx::query("LOCK TABLE command_results IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .map_err(super::DbError::from)
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
        let insert = "INSERT INTO command_results (event_id, reply, created_at) VALUES ('$a', 'y', 0)";
        holder.commit().await.unwrap();
        let err = sqlx::query(insert).execute(db.pool()).await.map_err(super::DbError::from).unwrap_err();
        assert!(!err.is_transient(), "a duplicate key is permanent: {err}");
    }
}
