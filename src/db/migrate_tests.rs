//! `migrate-db`: SQLite file to SQLite file always; SQLite to PostgreSQL and back when
//! `PLURALMATRIX_TEST_POSTGRES` names a server.

use super::*;
use crate::{
    core::exchange::pluralkit::parse,
    db::{CryptoInput, ProxiedMessage, QueuedEvent, backend::create_test_database, now_ms},
};

fn server() -> Option<String> {
    std::env::var("PLURALMATRIX_TEST_POSTGRES").ok().filter(|s| !s.is_empty())
}

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

/// A database with something in every kind of column: the real PluralKit export (systems,
/// members, tags, groups, switches, settings), a ghost, a crypto identity with its flags, a
/// journal body that is not UTF-8, queued events and a proxied message.
async fn fill(url: &str) {
    let db = Db::connect(url).await.unwrap();
    let bytes =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pluralkit-export-v2.json"))
            .unwrap();
    let summary = db.import_export("@a:x", "a", &parse(&bytes).unwrap(), "$imp", now_ms(), (1000, 250)).await.unwrap();
    let members: Vec<i64> = db.members(summary.system_id).await.unwrap().iter().map(|m| m.id).collect();
    let member = members[0];
    db.add_switch_caused(summary.system_id, 1_000, &members[..3], "$sw1").await.unwrap();
    db.add_switch_caused(summary.system_id, 2_000, &members[2..4], "$sw2").await.unwrap();
    db.upsert_ghost("@_plural_a_b:x", member, "a", "b", 5).await.unwrap();
    db.set_ghost_registered("@_plural_a_b:x").await.unwrap();
    db.create_crypto_identity("@_plural_a_b:x", "DEV", 6).await.unwrap();
    db.set_device_created("@_plural_a_b:x").await.unwrap();
    let event = QueuedEvent { event_id: "$e".into(), room_id: "!r".into(), lane: "@a:x".into(), body: "{}".into() };
    db.journal_insert("1", &[0xff, 0x00, 0xfe], &[event], CryptoInput::Gating, 7).await.unwrap();
    let proxied = ProxiedMessage {
        original_event_id: "$o".into(),
        room_id: "!r".into(),
        ghost_event_id: Some("$g".into()),
        ghost_user_id: "@_plural_a_b:x".into(),
        member_id: Some(member),
        system_id: Some(summary.system_id),
        sender: "@a:x".into(),
    };
    db.record_proxied_and_queue_redactions(&[proxied], "$o", 8).await.unwrap();
    db.close().await;
}

/// Every row of every table, each value in one form whatever the backend (booleans as
/// integers, text as bytes), sorted.
async fn contents(url: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let db = Db::connect(url).await.unwrap();
    let mut out = BTreeMap::new();
    for table in tables(&db).await.unwrap() {
        let select: Vec<String> =
            table.columns.iter().map(|c| format!("COALESCE({n}, NULL) AS {n}", n = c.name)).collect();
        let sql = format!("SELECT {} FROM {}", select.join(", "), table.name);
        let mut rows = Vec::new();
        for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await.unwrap() {
            let mut values = Vec::new();
            for i in 0..table.columns.len() {
                values.push(match read_cell(&row, i).unwrap() {
                    Cell::Null => "null".to_owned(),
                    Cell::Int(v) => v.to_string(),
                    Cell::Bool(v) => i64::from(v).to_string(),
                    Cell::Text(v) => hex::encode(v),
                    Cell::Blob(v) => hex::encode(v),
                });
            }
            rows.push(values);
        }
        rows.sort();
        out.insert(table.name, rows);
    }
    db.close().await;
    out
}

async fn round_trip(from: &str, to: &str) {
    fill(from).await;
    let report = migrate_db(from, to).await.unwrap();
    assert!(report.rows() > 100, "{report:?}");
    let (before, after) = (contents(from).await, contents(to).await);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (table, rows) in &before {
        assert_eq!(rows, &after[table], "table {table}");
    }
    assert!(before["members"].len() > 5 && !before["switches"].is_empty() && !before["journal"].is_empty());
    // The copy goes on where the original left off: new rows get new IDs.
    let dest = Db::connect(to).await.unwrap();
    let old = dest.members(1).await.unwrap().iter().map(|m| m.id).max().unwrap_or(0);
    let system = dest.create_system("@new:x", "new", None, None, 9).await.unwrap();
    let member = dest.create_member(system.id, "Fresh", None, 9).await.unwrap();
    assert!(member.id > old, "{} after {old}", member.id);
    let event = QueuedEvent { event_id: "$n".into(), room_id: "!r".into(), lane: "".into(), body: "{}".into() };
    assert!(dest.journal_insert("2", b"new", &[event], CryptoInput::None, 10).await.unwrap());
    dest.close().await;
}

#[tokio::test]
async fn sqlite_to_sqlite_copies_every_row() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&sqlite_url(&dir, "a.db"), &sqlite_url(&dir, "b.db")).await;
}

#[tokio::test]
async fn sqlite_to_postgres_and_back_copies_every_row() {
    let Some(server) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let pg = create_test_database(&server).await.unwrap();
    round_trip(&sqlite_url(&dir, "a.db"), &pg).await;
    let pg_source = create_test_database(&server).await.unwrap();
    round_trip(&pg_source, &sqlite_url(&dir, "c.db")).await;
}

#[tokio::test]
async fn a_destination_with_data_or_a_database_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (sqlite_url(&dir, "a.db"), sqlite_url(&dir, "b.db"));
    fill(&a).await;
    fill(&b).await;
    let err = migrate_db(&a, &b).await.unwrap_err().to_string();
    assert!(err.contains("already holds data"), "{err}");
    let c = sqlite_url(&dir, "c.db");
    let held = lock_database(&a).await.unwrap();
    let err = migrate_db(&a, &c).await.unwrap_err().to_string();
    assert!(err.contains("stop the daemon"), "{err}");
    drop(held);
    assert_eq!(migrate_db(&a, &a).await.unwrap_err().to_string(), "database: --from and --to name the same database");
    // A mistyped source is not created empty and "copied".
    let missing = sqlite_url(&dir, "typo.db");
    let err = migrate_db(&missing, &c).await.unwrap_err().to_string();
    assert!(err.contains("there is no database at") && !dir.path().join("typo.db").exists(), "{err}");
    let empty = sqlite_url(&dir, "empty.db");
    Db::connect(&empty).await.unwrap().close().await;
    let err = migrate_db(&empty, &c).await.unwrap_err().to_string();
    assert!(err.contains("holds nothing to copy"), "{err}");
    if let Some(server) = server() {
        let pg = create_test_database(&server).await.unwrap();
        let held = lock_database(&pg).await.unwrap();
        let err = migrate_db(&a, &pg).await.unwrap_err().to_string();
        assert!(err.contains("stop the daemon"), "{err}");
        drop(held);
    }
}

#[test]
fn parents_come_first_and_a_cycle_is_refused() {
    let t = |name: &str, parents: &[&str]| Table {
        name: name.into(),
        columns: vec![],
        parents: parents.iter().map(|p| p.to_string()).collect(),
    };
    let order = ordered(vec![t("c", &["b", "c"]), t("b", &["a"]), t("a", &[])]).unwrap();
    assert_eq!(order.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert!(ordered(vec![t("x", &["y"]), t("y", &["x"])]).is_err());
}

#[test]
fn values_convert_to_the_destination_columns() {
    assert!(matches!(convert(Cell::Int(1), Kind::Bool), Ok(Cell::Bool(true))));
    assert!(matches!(convert(Cell::Int(0), Kind::Bool), Ok(Cell::Bool(false))));
    assert!(matches!(convert(Cell::Bool(true), Kind::Int), Ok(Cell::Int(1))));
    assert!(matches!(convert(Cell::Text("é".into()), Kind::Blob), Ok(Cell::Blob(b)) if b == "é".as_bytes()));
    assert!(convert(Cell::Blob(vec![0xff]), Kind::Text).is_err());
    assert!(convert(Cell::Text("x".into()), Kind::Int).is_err());
    assert!(matches!(convert(Cell::Null, Kind::Text), Ok(Cell::Null)));
}
