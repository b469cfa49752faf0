//! The PostgreSQL schema (`migrations-postgres/`) against the SQLite one (`migrations/`, at
//! their latest version): the same tables and columns, the same nullability, matching types.
//! Applied to a real, throwaway PostgreSQL server (`scripts/postgres.sh`) with `psql`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

type Columns = BTreeMap<(String, String), (String, bool)>;

struct Server(PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/postgres.sh")).arg("stop").arg(&self.0).status();
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn psql(url: &str, args: &[&str]) -> String {
    let out = Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-q", "-At"]).args(args).output().unwrap();
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// (table, column) → (type, nullable) as PostgreSQL has them.
fn postgres_columns(url: &str) -> Columns {
    let rows = psql(
        url,
        &[
            "-F",
            "|",
            "-c",
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
                           WHERE table_schema = 'public'",
        ],
    );
    rows.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            ((f[0].to_owned(), f[1].to_owned()), (f[2].to_owned(), f[3] == "YES"))
        })
        .collect()
}

/// The same from SQLite after every migration, in PostgreSQL's words.
async fn sqlite_columns() -> Columns {
    let db = pluralmatrix::db::Db::connect("sqlite::memory:").await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let mut out = Columns::new();
    for table in tables {
        let sql = format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}')");
        let cols: Vec<(String, String, i64, i64)> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await.unwrap();
        for (name, kind, not_null, pk) in cols {
            let kind = match kind.to_uppercase().as_str() {
                "INTEGER" | "BIGINT" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                "BOOLEAN" => "boolean",
                other => panic!("{table}.{name}: a type the PostgreSQL schema has no word for: {other}"),
            };
            // SQLite does not mark primary-key columns NOT NULL; PostgreSQL does.
            out.insert((table.clone(), name), (kind.to_owned(), not_null == 0 && pk == 0));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_schema_matches_the_sqlite_one() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("postgres-schema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(root().join("scripts/postgres.sh")).arg("start").arg(&dir).output().unwrap();
    assert!(out.status.success(), "postgres.sh: {}", String::from_utf8_lossy(&out.stderr));
    let _server = Server(dir.clone());
    let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root().join("migrations-postgres")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        psql(&url, &["-f", file.to_str().unwrap()]);
    }
    let postgres = postgres_columns(&url);
    let sqlite = sqlite_columns().await;
    let only = |a: &Columns, b: &Columns| -> Vec<String> {
        a.iter().filter(|(k, v)| b.get(*k) != Some(*v)).map(|((t, c), v)| format!("{t}.{c} {v:?}")).collect()
    };
    assert!(sqlite.len() > 200, "{} columns read from SQLite", sqlite.len());
    assert_eq!(only(&sqlite, &postgres), Vec::<String>::new(), "in SQLite, not (so) in PostgreSQL");
    assert_eq!(only(&postgres, &sqlite), Vec::<String>::new(), "in PostgreSQL, not (so) in SQLite");
}
