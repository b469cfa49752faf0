//! The two database backends, SQLite and PostgreSQL, behind sqlx's `Any` driver: which one a
//! URL names, connecting (with SQLite's pragmas), the migrations of each, write transactions
//! with the same discipline on both (one writer at a time), the process-wide lock that keeps a
//! second daemon off the database, and [`Flag`], the boolean column both can read.
//!
//! Queries are written once, in the SQL both dialects accept (`$1` parameters, `ON CONFLICT`,
//! `RETURNING`, `COALESCE`). Where they differ the query asks [`Backend`].

use std::str::FromStr;

use sqlx::{
    Any, AnyPool, Decode, Type,
    any::{AnyPoolOptions, AnyTypeInfo, AnyTypeInfoKind, AnyValueRef},
    sqlite::SqliteConnectOptions,
};

use super::{DbError, DbResult};

/// Which database a `database.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> DbResult<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(DbError::Invalid(format!("`{}` is neither a sqlite: nor a postgres:// URL", redact_url(url))))
        }
    }
}

/// A URL fit for logs and messages: the password, if any, becomes `***`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The key of PostgreSQL's advisory locks taken by pluralmatrix (an arbitrary constant,
/// "plural" in ASCII), held by the daemon for its whole run.
const DAEMON_LOCK: i64 = 0x706c_7572_616c;
/// The key every write transaction takes on PostgreSQL: one writer at a time, as SQLite's
/// `BEGIN IMMEDIATE` gives.
const WRITER_LOCK: i64 = DAEMON_LOCK + 1;

/// The pools of one database. SQLite: the main pool at `synchronous = NORMAL` and the
/// journal's at `FULL` (see [`super::Db`]); PostgreSQL: two pools of the same kind, so that the
/// intake never waits for a connection the worker holds.
pub(super) async fn connect(url: &str) -> DbResult<(Backend, AnyPool, AnyPool)> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(url)?;
    match backend {
        Backend::Sqlite => {
            // An in-memory database exists once per connection: keep exactly one, for both.
            let in_memory = url.contains(":memory:");
            if !in_memory {
                super::private_files(SqliteConnectOptions::from_str(url)?.get_filename())?;
            }
            let pool = sqlite_pool(url, if in_memory { 1 } else { 4 }, "NORMAL").await?;
            sqlx::migrate!("./migrations").run(&pool).await?;
            let journal = if in_memory { pool.clone() } else { sqlite_pool(url, 2, "FULL").await? };
            Ok((backend, pool, journal))
        }
        Backend::Postgres => {
            let pool = AnyPoolOptions::new().max_connections(8).connect(url).await?;
            sqlx::migrate!("./migrations-postgres").run(&pool).await?;
            let journal = AnyPoolOptions::new().max_connections(2).connect(url).await?;
            Ok((backend, pool, journal))
        }
    }
}

/// SQLite connections in WAL mode with foreign keys on (sqlx's default) and a 10 s busy
/// timeout; `synchronous` as asked.
async fn sqlite_pool(url: &str, max: u32, synchronous: &'static str) -> DbResult<AnyPool> {
    // `Any` opens each connection from the URL again, and each in-memory one is a new, empty
    // database: the one connection of an in-memory pool must never be closed and replaced.
    let keep = !url.contains(":memory:");
    Ok(AnyPoolOptions::new()
        .max_connections(max)
        .idle_timeout(keep.then_some(std::time::Duration::from_secs(600)))
        .max_lifetime(keep.then_some(std::time::Duration::from_secs(1800)))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                use sqlx::Executor;
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA synchronous = {synchronous}"))).await?;
                conn.execute("PRAGMA busy_timeout = 10000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// Begins a transaction that writes, holding the database's one writer slot from its start:
/// SQLite's `BEGIN IMMEDIATE` (a deferred transaction that reads and then writes fails at once
/// with "database is locked" if another connection wrote in between), PostgreSQL's
/// transaction-scoped advisory lock (so that read-then-write transactions never interleave).
pub(super) async fn begin_write(backend: Backend, pool: &AnyPool) -> DbResult<sqlx::Transaction<'static, Any>> {
    match backend {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)").bind(WRITER_LOCK).execute(&mut *tx).await?;
            Ok(tx)
        }
    }
}

/// What keeps a second daemon off the database until this process ends.
#[derive(Debug)]
pub enum DatabaseLock {
    /// An in-memory database: nothing to share.
    None,
    /// SQLite: an exclusive `flock` on `<database>.lock`.
    File(std::fs::File),
    /// PostgreSQL: a session advisory lock, held by this connection.
    Postgres(sqlx::AnyConnection),
}

/// Takes the database for this process: a second daemon on the same database would handle
/// every event twice (and send everything twice), so it must not start.
pub async fn lock_database(url: &str) -> DbResult<DatabaseLock> {
    let refuse = |what: String| {
        DbError::Invalid(format!(
            "another pluralmatrix is running on this database ({what}); two at once would handle and send \
             everything twice, so this one does not start"
        ))
    };
    match Backend::of(url)? {
        Backend::Sqlite if url.contains(":memory:") => Ok(DatabaseLock::None),
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)?;
            let path = std::path::PathBuf::from(format!("{}.lock", options.get_filename().display()));
            super::private_files(options.get_filename())?;
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
            match file.try_lock() {
                Ok(()) => Ok(DatabaseLock::File(file)),
                Err(std::fs::TryLockError::WouldBlock) => Err(refuse(options.get_filename().display().to_string())),
                Err(std::fs::TryLockError::Error(e)) => Err(DbError::Io(e)),
            }
        }
        Backend::Postgres => match take_postgres_lock(url).await? {
            Some(conn) => Ok(DatabaseLock::Postgres(conn)),
            None => Err(refuse(redact_url(url))),
        },
    }
}

/// A connection holding the daemon's advisory lock, or `None` if another session holds it.
async fn take_postgres_lock(url: &str) -> DbResult<Option<sqlx::AnyConnection>> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let got: Flag =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(DAEMON_LOCK).fetch_one(&mut conn).await?;
    Ok(got.0.then_some(conn))
}

impl DatabaseLock {
    /// Holds the lock until the process ends; returns only if it is lost for good.
    ///
    /// A PostgreSQL session lock goes with its connection: if the server restarts or drops the
    /// connection, another daemon could take it. So the connection is checked every
    /// `interval`; a lost one is replaced and the lock taken again (retrying while the server
    /// is away). If another session took it meanwhile, this returns the error that says so,
    /// and the daemon stops. A file lock cannot be lost: that one never returns.
    pub async fn keep(self, url: String, interval: std::time::Duration) -> DbError {
        let DatabaseLock::Postgres(mut conn) = self else {
            let _held = self;
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep(interval).await;
            if sqlx::query("SELECT 1").execute(&mut conn).await.is_ok() {
                continue;
            }
            tracing::warn!("the connection holding the database lock is gone; taking the lock again");
            conn = loop {
                match take_postgres_lock(&url).await {
                    Ok(Some(conn)) => break conn,
                    Ok(None) => {
                        return DbError::Invalid(format!(
                            "lost the lock on the database {} to another pluralmatrix while the connection was \
                             down; stopping so that the two do not both send",
                            redact_url(&url)
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the database lock cannot be taken again yet; retrying");
                        tokio::time::sleep(interval).await;
                    }
                }
            };
            tracing::info!("the database lock is held again");
        }
    }
}

/// A boolean column as both backends give it through `Any`: PostgreSQL as a boolean, SQLite as
/// an integer. SQLite refuses a `BOOLEAN` column itself through `Any` ("does not support the
/// SQLite type Bool"), so queries read such a column as an expression: `col IS TRUE AS col`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(f: Flag) -> bool {
        f.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use sqlx::ValueRef;
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as Decode<Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
        }
    }
}

/// Whether a database error may pass if tried again: SQLite busy or locked; PostgreSQL's
/// serialization failures and deadlocks (class 40), connection trouble (08), lack of
/// resources (53), an administrator's shutdown (57P01–57P03) and lock timeouts (55P03).
pub(super) fn is_transient_database_error(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else { return false };
    if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        return ["40", "08", "53"].iter().any(|class| code.starts_with(class))
            || ["57P01", "57P02", "57P03", "55P03"].contains(&code.as_ref());
    }
    // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
    let code = code.parse::<i64>().unwrap_or(0);
    matches!(code & 0xff, 5 | 6)
}

/// Creates a database with a new random name on the PostgreSQL server of `server_url` and
/// returns its URL: each test gets its own.
#[cfg(test)]
pub(crate) async fn create_test_database(server_url: &str) -> DbResult<String> {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let mut url = url::Url::parse(server_url).map_err(|e| DbError::Invalid(format!("database URL: {e}")))?;
    let name = format!("t_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::AnyConnection::connect(server_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await?;
    conn.close().await?;
    url.set_path(&name);
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Connection;

    use super::*;

    fn server() -> Option<String> {
        std::env::var("PLURALMATRIX_TEST_POSTGRES").ok().filter(|s| !s.is_empty())
    }

    /// Ends the session that holds the lock, as a server restart or a network cut would.
    async fn cut(lock: &mut DatabaseLock, admin: &mut sqlx::AnyConnection) {
        let DatabaseLock::Postgres(conn) = lock else { panic!("not a PostgreSQL lock") };
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *conn).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&mut *admin).await.unwrap();
    }

    /// Regression: the PostgreSQL lock went with its connection, so after a server restart a
    /// second daemon could start beside the first.
    #[tokio::test]
    async fn a_lost_postgres_lock_is_taken_again_or_the_daemon_stops() {
        let Some(server) = server() else { return };
        let url = create_test_database(&server).await.unwrap();
        let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
        let interval = Duration::from_millis(50);

        // Nobody else wants it: the lock is taken again, and a second daemon is still refused.
        let mut first = lock_database(&url).await.unwrap();
        cut(&mut first, &mut admin).await;
        let keeper = tokio::spawn(first.keep(url.clone(), interval));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!keeper.is_finished());
        let err = lock_database(&url).await.unwrap_err().to_string();
        assert!(err.contains("another pluralmatrix is running"), "{err}");
        keeper.abort();
        let _ = keeper.await;

        // Another took it while the connection was down: the first one gives up, saying why.
        tokio::time::sleep(interval * 4).await;
        let mut first = lock_database(&url).await.unwrap();
        cut(&mut first, &mut admin).await;
        let second = lock_database(&url).await.unwrap();
        let err = tokio::time::timeout(Duration::from_secs(10), first.keep(url.clone(), interval)).await.unwrap();
        assert!(err.to_string().contains("lost the lock on the database"), "{err}");
        drop(second);
    }

    /// Writers take turns on PostgreSQL as on SQLite: members created at once with the same
    /// name (each transaction reads the slugs taken, then inserts) all get slugs of their own.
    /// Without the writer lock, PostgreSQL lets two read the same slugs, and one insert fails.
    #[tokio::test]
    async fn concurrent_read_then_write_transactions_take_turns() {
        let db = crate::db::test_db().await;
        let system = db.create_system("@a:x", "a", None, None, 1).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.create_member(system.id, "Same", None, 2).await })
            })
            .collect();
        let mut slugs = Vec::new();
        for task in tasks {
            slugs.push(task.await.unwrap().unwrap().slug);
        }
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), 8, "{slugs:?}");
    }

    #[test]
    fn urls_name_their_backend_and_passwords_stay_hidden() {
        assert_eq!(Backend::of("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgresql://h/d").unwrap(), Backend::Postgres);
        let err = Backend::of("mysql://u:hunter2@h/d").unwrap_err().to_string();
        assert!(err.contains("mysql://u:***@h/d") && !err.contains("hunter2"), "{err}");
        assert_eq!(redact_url("postgres://u:hunter2@h:5432/d"), "postgres://u:***@h:5432/d");
    }
}
