//! Importing a PluralKit export into the database, all or nothing in one transaction:
//! the system (created for the owner if it has none), then members matched by ID, then by
//! exact name (updated, or created keeping their ID where it is free), then groups the same
//! way with their member lists. What the bridge does not interpret is kept in `import_extra`.

use std::collections::HashMap;

use serde_json::Value;

use super::{
    Db, DbError, DbResult,
    inserts::{free_short_id_in, insert_member_in, insert_system_in},
    systems::Tx,
};
use crate::core::{
    exchange::pluralkit::{Export, ExportGroup, ExportMember},
    privacy::{GroupSubject, Level, MemberSubject, Subject, SystemSubject},
};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub system_id: i64,
    pub system_created: bool,
    pub members_created: usize,
    pub members_updated: usize,
    pub groups_created: usize,
    pub groups_updated: usize,
    pub switches_added: usize,
}

/// A PluralKit ID worth keeping: 5 or 6 lower-case letters.
fn keepable_id(id: Option<&str>) -> Option<String> {
    let id = id?.trim().to_lowercase();
    ((5..=6).contains(&id.len()) && id.chars().all(|c| c.is_ascii_lowercase())).then_some(id)
}

/// The `created` text as it came (microseconds and all), kept for export.
fn keep_created(extra: &mut serde_json::Map<String, Value>, created: Option<&str>) {
    if let Some(c) = created {
        extra.insert("created".to_owned(), Value::from(c));
    }
}

fn with_created(extra: &serde_json::Map<String, Value>, created: Option<&str>) -> serde_json::Map<String, Value> {
    let mut extra = extra.clone();
    keep_created(&mut extra, created);
    extra
}

fn ms(created: Option<&str>, fallback: i64) -> i64 {
    created.and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()).map_or(fallback, |t| t.timestamp_millis())
}

/// `UPDATE table SET <privacy columns> WHERE id` from an export's privacy block (absent keys
/// are left as they are).
async fn set_privacy_in<S: Subject>(
    tx: &mut Tx,
    table: &str,
    id: i64,
    block: Option<&serde_json::Map<String, Value>>,
) -> DbResult<()> {
    for subject in S::ALL {
        let Some(level) = block.and_then(|b| b.get(subject.key())).and_then(Value::as_str).and_then(Level::parse)
        else {
            continue;
        };
        let sql = format!("UPDATE {table} SET {} = $1 WHERE id = $2", subject.key());
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(level.as_str()).bind(id).execute(&mut **tx).await?;
    }
    Ok(())
}

impl Db {
    /// Imports `export` for `owner`; fails (and changes nothing) if the system would end
    /// with more than `max_members` members or `max_groups` groups.
    pub async fn import_export(
        &self,
        owner: &str,
        slug_source: &str,
        export: &Export,
        cause: &str,
        now: i64,
        limits: (usize, usize),
    ) -> DbResult<ImportSummary> {
        let mut tx = self.write_tx().await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT system_id FROM accounts WHERE user_id = $1")
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
        let mut summary = ImportSummary::default();
        let system_id = match existing {
            Some(id) => id,
            None => {
                summary.system_created = true;
                let id =
                    insert_system_in(&mut tx, owner, slug_source, export.name.as_deref(), Some(cause), now).await?;
                // A new system keeps the file's ID where no other system has it.
                if let Some(pk) = keepable_id(export.id.as_deref()) {
                    sqlx::query("UPDATE systems SET short_id = $1 WHERE id = $2 AND NOT EXISTS (SELECT 1 FROM systems WHERE short_id = $1)")
                        .bind(pk)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                id
            }
        };
        summary.system_id = system_id;
        let mut extra = export.extra.clone();
        keep_created(&mut extra, export.created.as_deref());
        sqlx::query(
            "UPDATE systems SET name = $1, description = $2, tag = $3, pronouns = $4, avatar_url = $5, banner_url = $6, \
             color = $7, import_extra = $8, created_at = $9, name_format = $10 WHERE id = $11",
        )
        .bind(&export.name)
        .bind(&export.description)
        .bind(&export.tag)
        .bind(&export.pronouns)
        .bind(&export.avatar_url)
        .bind(&export.banner)
        .bind(&export.color)
        .bind(Value::Object(extra).to_string())
        .bind(ms(export.created.as_deref(), now))
        .bind(export.extra.get("config").and_then(|c| c.get("name_format")).and_then(Value::as_str))
        .bind(system_id)
        .execute(&mut *tx)
        .await?;
        set_privacy_in::<SystemSubject>(&mut tx, "systems", system_id, export.privacy.as_ref()).await?;
        if let Some(config) = export.extra.get("config").and_then(Value::as_object) {
            for setting in crate::core::settings::from_pluralkit(config) {
                super::settings::set_setting_with(&mut *tx, system_id, &setting).await?;
            }
        }

        let mut ids: HashMap<String, i64> = HashMap::new();
        // Members written in this import are never matched again (two members of the file
        // may share a name).
        let mut touched: Vec<i64> = Vec::new();
        for m in &export.members {
            let (id, created) = import_member(&mut tx, system_id, m, &touched, now).await?;
            touched.push(id);
            if created {
                summary.members_created += 1
            } else {
                summary.members_updated += 1
            }
            if let Some(pk_id) = &m.id {
                ids.insert(pk_id.clone(), id);
            }
        }
        let mut touched_groups: Vec<i64> = Vec::new();
        for g in &export.groups {
            let (group, created) = import_group(&mut tx, system_id, g, &ids, &touched_groups, now).await?;
            touched_groups.push(group);
            if created { summary.groups_created += 1 } else { summary.groups_updated += 1 }
        }
        // Switches name members by the file's IDs; members not in the file are left out.
        let switches: Vec<(i64, Vec<i64>, String)> = export
            .switches
            .iter()
            .filter_map(|s| {
                let at = chrono::DateTime::parse_from_rfc3339(&s.timestamp).ok()?.timestamp_millis();
                Some((at, s.members.iter().filter_map(|m| ids.get(m).copied()).collect(), s.timestamp.clone()))
            })
            .collect();
        summary.switches_added = Db::import_switches_in(&mut tx, system_id, &switches, now).await?;
        let count = |table: &'static str| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE system_id = $1");
            async move { sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)) }
        };
        let members: i64 = count("members").await.bind(system_id).fetch_one(&mut *tx).await?;
        let groups: i64 = count("groups").await.bind(system_id).fetch_one(&mut *tx).await?;
        if members as usize > limits.0 || groups as usize > limits.1 {
            return Err(DbError::Invalid(format!(
                "the import would leave the system with {members} members and {groups} groups; this bridge allows {} and {}",
                limits.0, limits.1
            )));
        }
        tx.commit().await?;
        Ok(summary)
    }
}

/// One member: matched by ID, then by exact name, in the system; returns (ID, created).
async fn import_member(
    tx: &mut Tx,
    system_id: i64,
    m: &ExportMember,
    touched: &[i64],
    now: i64,
) -> DbResult<(i64, bool)> {
    let by_id: Option<i64> = match keepable_id(m.id.as_deref()) {
        Some(pk) => {
            sqlx::query_scalar("SELECT id FROM members WHERE system_id = $1 AND short_id = $2")
                .bind(system_id)
                .bind(pk)
                .fetch_optional(&mut **tx)
                .await?
        }
        None => None,
    };
    let by_id = by_id.filter(|id| !touched.contains(id));
    let found = match by_id {
        Some(id) => Some(id),
        None => first_untouched(tx, "members", system_id, &m.name, touched).await?,
    };
    let created = found.is_none();
    let id = match found {
        Some(id) => id,
        None => {
            let preferred = keepable_id(m.id.as_deref());
            insert_member_in(tx, system_id, &m.name, preferred.as_deref(), None, ms(m.created.as_deref(), now)).await?
        }
    };
    sqlx::query(
        "UPDATE members SET name = $1, display_name = $2, color = $3, birthday = $4, pronouns = $5, avatar_url = $6, \
         banner_url = $7, description = $8, keep_proxy = $9, allow_autoproxy = $10, message_count = $11, \
         created_at = $12, import_extra = $13 WHERE id = $14",
    )
    .bind(&m.name)
    .bind(&m.display_name)
    .bind(&m.color)
    .bind(&m.birthday)
    .bind(&m.pronouns)
    .bind(&m.avatar_url)
    .bind(&m.banner)
    .bind(&m.description)
    .bind(m.keep_proxy.unwrap_or(false))
    .bind(m.autoproxy_enabled.unwrap_or(true))
    .bind(m.message_count.unwrap_or(0))
    .bind(ms(m.created.as_deref(), now))
    .bind(Value::Object(with_created(&m.extra, m.created.as_deref())).to_string())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM proxy_tags WHERE member_id = $1").bind(id).execute(&mut **tx).await?;
    for (i, tag) in m.proxy_tags.iter().enumerate() {
        sqlx::query("INSERT INTO proxy_tags (member_id, position, prefix, suffix) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(i as i64)
            .bind(tag.prefix.as_deref().unwrap_or(""))
            .bind(tag.suffix.as_deref().unwrap_or(""))
            .execute(&mut **tx)
            .await?;
    }
    set_privacy_in::<MemberSubject>(tx, "members", id, m.privacy.as_ref()).await?;
    Ok((id, created))
}

/// One group: matched by ID, then by exact name; its member list replaced by the file's.
async fn import_group(
    tx: &mut Tx,
    system_id: i64,
    g: &ExportGroup,
    members: &HashMap<String, i64>,
    touched: &[i64],
    now: i64,
) -> DbResult<(i64, bool)> {
    let pk = keepable_id(g.id.as_deref());
    let mut found: Option<i64> = None;
    if let Some(pk) = &pk {
        found = sqlx::query_scalar("SELECT id FROM groups WHERE system_id = $1 AND short_id = $2")
            .bind(system_id)
            .bind(pk)
            .fetch_optional(&mut **tx)
            .await?;
    }
    found = found.filter(|id| !touched.contains(id));
    if found.is_none() {
        found = first_untouched(tx, "groups", system_id, &g.name, touched).await?;
    }
    let created = found.is_none();
    let id = match found {
        Some(id) => id,
        None => {
            let short = free_short_id_in(tx, "groups", pk.as_deref()).await?;
            sqlx::query_scalar(
                "INSERT INTO groups (system_id, short_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(system_id)
            .bind(short)
            .bind(&g.name)
            .bind(ms(g.created.as_deref(), now))
            .fetch_one(&mut **tx)
            .await?
        }
    };
    sqlx::query(
        "UPDATE groups SET name = $1, display_name = $2, description = $3, icon_url = $4, banner_url = $5, color = $6, \
         created_at = $7, import_extra = $8 WHERE id = $9",
    )
    .bind(&g.name)
    .bind(&g.display_name)
    .bind(&g.description)
    .bind(&g.icon)
    .bind(&g.banner)
    .bind(&g.color)
    .bind(ms(g.created.as_deref(), now))
    .bind(Value::Object(with_created(&g.extra, g.created.as_deref())).to_string())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM group_members WHERE group_id = $1").bind(id).execute(&mut **tx).await?;
    for (position, member) in g.members.iter().filter_map(|pk| members.get(pk)).enumerate() {
        sqlx::query(
            "INSERT INTO group_members (group_id, member_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(member)
        .bind(position as i64)
        .execute(&mut **tx)
        .await?;
    }
    set_privacy_in::<GroupSubject>(tx, "groups", id, g.privacy.as_ref()).await?;
    Ok((id, created))
}

/// The oldest row of `table` in the system with exactly this name that this import has not
/// written yet.
async fn first_untouched(
    tx: &mut Tx,
    table: &str,
    system_id: i64,
    name: &str,
    touched: &[i64],
) -> DbResult<Option<i64>> {
    let sql = format!("SELECT id FROM {table} WHERE system_id = $1 AND name = $2 ORDER BY id");
    let ids: Vec<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(system_id).bind(name).fetch_all(&mut **tx).await?;
    Ok(ids.into_iter().find(|id| !touched.contains(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        core::exchange::pluralkit::parse,
        db::{now_ms, test_db},
    };

    fn shared() -> Export {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pluralkit-export-v2.json");
        parse(&std::fs::read(path).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn the_real_export_imports_and_again_updates() {
        let db = test_db().await;
        let export = shared();
        let first = db.import_export("@a:x", "a", &export, "$imp1", now_ms(), (1000, 250)).await.unwrap();
        assert!(first.system_created);
        assert_eq!((first.members_created, first.groups_created), (59, 11));
        let members = db.members(first.system_id).await.unwrap();
        assert_eq!(members.len(), 59);
        let riven = members.iter().find(|m| m.short_id == "udhgx").expect("IDs are kept");
        assert_eq!(riven.pronouns.as_deref(), Some("She/Her & It/Its"));
        assert_eq!(riven.message_count, 16034);
        assert_eq!(db.member_tags(riven.id).await.unwrap()[0].prefix, "Ri:");
        let groups = db.groups(first.system_id).await.unwrap();
        assert_eq!(groups.len(), 11);
        assert_eq!(db.group_member_ids(groups[0].id).await.unwrap().len(), export.groups[0].members.len());
        // Again: everything matched, nothing new.
        let again = db.import_export("@a:x", "a", &export, "$imp2", now_ms(), (1000, 250)).await.unwrap();
        assert_eq!((again.members_created, again.members_updated, again.groups_created), (0, 59, 0));
        assert_eq!(db.members(first.system_id).await.unwrap().len(), 59);
    }

    #[tokio::test]
    async fn over_the_limit_changes_nothing() {
        let db = test_db().await;
        let err = db.import_export("@a:x", "a", &shared(), "$imp", now_ms(), (10, 250)).await.unwrap_err();
        assert!(err.to_string().contains("59 members"), "{err}");
        assert!(db.system_for_account("@a:x").await.unwrap().is_none(), "all or nothing");
    }
}
