//! The database the daemons of the suite run on: SQLite files by default, or databases of
//! their own on the PostgreSQL server named by `PLURALMATRIX_TEST_POSTGRES` (`scripts/test.sh`
//! runs the suite once on each).

/// The PostgreSQL server the suite runs on, if it runs on one.
pub fn postgres_server() -> Option<String> {
    std::env::var("PLURALMATRIX_TEST_POSTGRES").ok().filter(|s| !s.is_empty())
}

/// A new, empty database on the test PostgreSQL server; its URL.
pub async fn new_postgres_database(server: &str) -> String {
    use sqlx::{Connection, Executor};
    sqlx::any::install_default_drivers();
    let name = format!("t_{:016x}", rand::random::<u64>());
    let mut conn = sqlx::AnyConnection::connect(server).await.expect("the test PostgreSQL server");
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
    conn.close().await.unwrap();
    // The server trusts 127.0.0.1, so any password passes: one is set so that
    // `tests/secrets.rs` can check that it never reaches the log.
    let mut url = url::Url::parse(server).unwrap();
    url.set_password(Some(&format!("pw{:016x}", rand::random::<u64>()))).unwrap();
    url.set_path(&name);
    url.to_string()
}
