//! Copying an installation from one database to another (`pluralmatrix migrate-db --from
//! sqlite://… --to postgres://…`, or back). Both are brought to the latest schema first; the
//! destination must be empty. Every table is copied row by row in one transaction on the
//! destination, parents before children (by their foreign keys), with each value converted to
//! the destination column's type; identity sequences are moved past the copied IDs; then the
//! row counts are compared. The tables and columns are read from the databases themselves,
//! so a column added by a later migration is copied without a change here.

use std::{
    collections::{BTreeMap, BTreeSet},
    str::FromStr,
};

use futures_util::TryStreamExt;
use sqlx::{
    AnyPool, Row, ValueRef,
    any::{AnyRow, AnyTypeInfoKind},
};

use super::{Backend, Db, DbError, DbResult, Tx, lock_database, redact_url};

/// The type of a column, as far as copying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
    Blob,
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
    identity: bool,
}

#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<Column>,
    parents: BTreeSet<String>,
}

/// One value read from the source.
#[derive(Debug)]
enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
    Blob(Vec<u8>),
}

/// What was copied: each table with its row count.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

impl CopyReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Copies everything from `from` to `to`. Neither may be in use by a daemon (both are locked
/// for the copy), and `to` must hold no rows.
pub async fn migrate_db(from: &str, to: &str) -> DbResult<CopyReport> {
    if from == to {
        return Err(DbError::Invalid("--from and --to name the same database".into()));
    }
    if Backend::of(from)? == Backend::Sqlite {
        let path = sqlx::sqlite::SqliteConnectOptions::from_str(from)?.get_filename().to_owned();
        if !path.exists() {
            return Err(DbError::Invalid(format!("there is no database at {} to copy", path.display())));
        }
    }
    let in_use = |url: &str, e: DbError| {
        DbError::Invalid(format!("{}: {e} (stop the daemon before migrating)", redact_url(url)))
    };
    let _from_lock = lock_database(from).await.map_err(|e| in_use(from, e))?;
    let _to_lock = lock_database(to).await.map_err(|e| in_use(to, e))?;
    let source = Db::connect(from).await?;
    let dest = Db::connect(to).await?;
    let tables = ordered(tables(&dest).await?)?;
    check_copyable(&source, &dest, &tables, from).await?;
    let mut tx = dest.write_tx().await?;
    if dest.backend() == Backend::Sqlite {
        // Rows arrive parents first, but a table may point at itself.
        sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
    }
    let mut report = CopyReport::default();
    for table in &tables {
        let n = copy_table(&source, &mut tx, table).await?;
        report.tables.push((table.name.clone(), n));
    }
    if dest.backend() == Backend::Postgres {
        move_sequences(&mut tx, &tables).await?;
    }
    tx.commit().await?;
    for (name, copied) in &report.tables {
        let there = count(dest.pool(), name).await?;
        if *copied != there || count(source.pool(), name).await? != there {
            return Err(DbError::Invalid(format!("table {name}: {copied} rows copied but {there} arrived")));
        }
    }
    source.close().await;
    dest.close().await;
    Ok(report)
}

/// The destination must be empty and the source must not be.
async fn check_copyable(source: &Db, dest: &Db, tables: &[Table], from: &str) -> DbResult<()> {
    let mut total = 0;
    for table in tables {
        if count(dest.pool(), &table.name).await? > 0 {
            return Err(DbError::Invalid(format!(
                "the destination already holds data (table {}); migrate-db copies into an empty database only",
                table.name
            )));
        }
        total += count(source.pool(), &table.name).await?;
    }
    if total == 0 {
        return Err(DbError::Invalid(format!("{} holds nothing to copy", redact_url(from))));
    }
    Ok(())
}

/// PostgreSQL: each identity column's sequence goes on after the highest ID copied.
async fn move_sequences(tx: &mut Tx, tables: &[Table]) -> DbResult<()> {
    for table in tables {
        for column in table.columns.iter().filter(|c| c.identity) {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE(MAX({c}), 0) + 1, false) FROM {t}",
                t = table.name,
                c = column.name
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
        }
    }
    Ok(())
}

async fn count(pool: &AnyPool, table: &str) -> DbResult<u64> {
    let n: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(pool).await?;
    Ok(n.max(0) as u64)
}

/// Copies one table's rows; returns how many.
async fn copy_table(source: &Db, tx: &mut Tx, table: &Table) -> DbResult<u64> {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    // SQLite hands a BOOLEAN column itself to `Any` as an error: read every column as an
    // expression (its value, by its stored type).
    let select: Vec<String> = names.iter().map(|n| format!("COALESCE({n}, NULL) AS {n}")).collect();
    let read = format!("SELECT {} FROM {}", select.join(", "), table.name);
    let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
    let write = format!("INSERT INTO {} ({}) VALUES ({})", table.name, names.join(", "), params.join(", "));
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(read)).fetch(source.pool());
    let mut n = 0;
    while let Some(row) = rows.try_next().await? {
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(write.clone()));
        for (i, column) in table.columns.iter().enumerate() {
            let cell = convert(read_cell(&row, i)?, column.kind)
                .map_err(|e| DbError::Invalid(format!("{}.{}: {e}", table.name, column.name)))?;
            insert = match (cell, column.kind) {
                (Cell::Null, Kind::Int) => insert.bind(None::<i64>),
                (Cell::Null, Kind::Bool) => insert.bind(None::<bool>),
                (Cell::Null, Kind::Text) => insert.bind(None::<String>),
                (Cell::Null, Kind::Blob) => insert.bind(None::<Vec<u8>>),
                (Cell::Int(v), _) => insert.bind(v),
                (Cell::Bool(v), _) => insert.bind(v),
                (Cell::Text(v), _) => insert.bind(v),
                (Cell::Blob(v), _) => insert.bind(v),
            };
        }
        insert.execute(&mut **tx).await?;
        n += 1;
    }
    Ok(n)
}

fn read_cell(row: &AnyRow, i: usize) -> DbResult<Cell> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    Ok(match raw.type_info().kind() {
        AnyTypeInfoKind::Bool => Cell::Bool(row.try_get(i)?),
        k if k.is_integer() => Cell::Int(row.try_get(i)?),
        AnyTypeInfoKind::Text => Cell::Text(row.try_get(i)?),
        AnyTypeInfoKind::Blob => Cell::Blob(row.try_get(i)?),
        other => {
            return Err(DbError::Invalid(format!("column {i}: a value of type {other:?}, which no column here has")));
        }
    })
}

/// `cell` as a value of a `kind` column: SQLite keeps booleans as integers, and may keep text
/// in a BLOB column.
fn convert(cell: Cell, kind: Kind) -> Result<Cell, String> {
    Ok(match (cell, kind) {
        (Cell::Null, _) => Cell::Null,
        (Cell::Int(v), Kind::Int) => Cell::Int(v),
        (Cell::Int(v), Kind::Bool) => Cell::Bool(v != 0),
        (Cell::Bool(v), Kind::Bool) => Cell::Bool(v),
        (Cell::Bool(v), Kind::Int) => Cell::Int(i64::from(v)),
        (Cell::Text(v), Kind::Text) => Cell::Text(v),
        (Cell::Text(v), Kind::Blob) => Cell::Blob(v.into_bytes()),
        (Cell::Blob(v), Kind::Blob) => Cell::Blob(v),
        (Cell::Blob(v), Kind::Text) => Cell::Text(String::from_utf8(v).map_err(|_| "bytes that are not UTF-8 text")?),
        (cell, kind) => return Err(format!("{cell:?} does not fit a {kind:?} column")),
    })
}

/// The tables of `db` (without sqlx's bookkeeping), with their columns and the tables their
/// foreign keys point at.
async fn tables(db: &Db) -> DbResult<Vec<Table>> {
    let pool = db.pool();
    let mut out = Vec::new();
    match db.backend() {
        Backend::Sqlite => {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name NOT LIKE '_sqlx_%' ORDER BY name",
            )
            .fetch_all(pool)
            .await?;
            for name in names {
                let info = format!("SELECT name, type, pk FROM pragma_table_info('{name}') ORDER BY cid");
                let mut columns = Vec::new();
                for row in sqlx::query(sqlx::AssertSqlSafe(info)).fetch_all(pool).await? {
                    let declared: String = row.try_get(1)?;
                    columns.push(Column { name: row.try_get(0)?, kind: sqlite_kind(&declared)?, identity: false });
                }
                let fks = format!("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('{name}')");
                let parents = sqlx::query_scalar(sqlx::AssertSqlSafe(fks)).fetch_all(pool).await?.into_iter().collect();
                out.push(Table { name, columns, parents });
            }
        }
        Backend::Postgres => {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() \
                 AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_sqlx\\_%' ORDER BY 1",
            )
            .fetch_all(pool)
            .await?;
            for name in names {
                let rows = sqlx::query(
                    "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(is_identity AS TEXT) \
                     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
                     ORDER BY ordinal_position",
                )
                .bind(&name)
                .fetch_all(pool)
                .await?;
                let mut columns = Vec::new();
                for row in rows {
                    let data_type: String = row.try_get(1)?;
                    let identity: String = row.try_get(2)?;
                    columns.push(Column {
                        name: row.try_get(0)?,
                        kind: postgres_kind(&data_type)?,
                        identity: identity == "YES",
                    });
                }
                let parents = sqlx::query_scalar(
                    "SELECT DISTINCT CAST(CAST(confrelid AS REGCLASS) AS TEXT) FROM pg_constraint \
                     WHERE contype = 'f' AND conrelid = CAST($1 AS REGCLASS)",
                )
                .bind(&name)
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect();
                out.push(Table { name, columns, parents });
            }
        }
    }
    Ok(out)
}

fn sqlite_kind(declared: &str) -> DbResult<Kind> {
    let t = declared.to_ascii_uppercase();
    Ok(if t.contains("BOOL") {
        Kind::Bool
    } else if t.contains("INT") {
        Kind::Int
    } else if t.contains("TEXT") || t.contains("CHAR") {
        Kind::Text
    } else if t.contains("BLOB") {
        Kind::Blob
    } else {
        return Err(DbError::Invalid(format!("a column of type `{declared}`, which migrate-db does not know")));
    })
}

fn postgres_kind(data_type: &str) -> DbResult<Kind> {
    Ok(match data_type {
        "bigint" | "integer" | "smallint" => Kind::Int,
        "boolean" => Kind::Bool,
        "text" | "character varying" => Kind::Text,
        "bytea" => Kind::Blob,
        other => return Err(DbError::Invalid(format!("a column of type `{other}`, which migrate-db does not know"))),
    })
}

/// `tables` with every table after the tables it points at (a table pointing at itself is
/// fine; a cycle between tables is an error).
fn ordered(tables: Vec<Table>) -> DbResult<Vec<Table>> {
    let mut left: BTreeMap<String, Table> = tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut out: Vec<Table> = Vec::new();
    while !left.is_empty() {
        let ready: Vec<String> = left
            .values()
            .filter(|t| t.parents.iter().all(|p| *p == t.name || !left.contains_key(p)))
            .map(|t| t.name.clone())
            .collect();
        if ready.is_empty() {
            let names: Vec<&String> = left.keys().collect();
            return Err(DbError::Invalid(format!("foreign keys form a cycle among {names:?}")));
        }
        for name in ready {
            out.extend(left.remove(&name));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
