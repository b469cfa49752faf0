//! Groups of a system and who is in them.

use super::{
    Db, DbResult,
    inserts::free_short_id_in,
    systems::{Tx, record_answer_in},
};
use crate::core::profile::GroupField;

#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Group {
    pub id: i64,
    pub system_id: i64,
    pub short_id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    pub banner_url: Option<String>,
    pub color: Option<String>,
    /// The event whose `group new` created it.
    pub created_by_event: Option<String>,
}

const GROUP_COLS: &str =
    "id, system_id, short_id, name, display_name, description, icon_url, banner_url, color, created_by_event";

/// The column of a group field (names come from this match only).
fn column(field: GroupField) -> &'static str {
    match field {
        GroupField::Name => "name",
        GroupField::DisplayName => "display_name",
        GroupField::Description => "description",
        GroupField::Color => "color",
        GroupField::Icon => "icon_url",
        GroupField::Banner => "banner_url",
    }
}

impl Group {
    /// A profile field as stored.
    pub fn field(&self, field: GroupField) -> Option<&str> {
        match field {
            GroupField::Name => Some(&self.name),
            GroupField::DisplayName => self.display_name.as_deref(),
            GroupField::Description => self.description.as_deref(),
            GroupField::Color => self.color.as_deref(),
            GroupField::Icon => self.icon_url.as_deref(),
            GroupField::Banner => self.banner_url.as_deref(),
        }
    }
}

impl Db {
    /// Creates a group; with `cause`, a second call for the same event returns the first's.
    pub async fn create_group(&self, system_id: i64, name: &str, cause: Option<&str>, now: i64) -> DbResult<Group> {
        if let Some(made) = self.made_by::<Group>("groups", GROUP_COLS, cause).await? {
            return Ok(made);
        }
        let mut tx = self.write_tx().await?;
        let short = free_short_id_in(&mut tx, "groups", None).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO groups (system_id, short_id, name, created_at, created_by_event) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(system_id)
        .bind(&short)
        .bind(name)
        .bind(now)
        .bind(cause)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let created_by_event = cause.map(str::to_owned);
        Ok(Group { id, system_id, short_id: short, name: name.to_owned(), created_by_event, ..Group::default() })
    }

    pub async fn groups(&self, system_id: i64) -> DbResult<Vec<Group>> {
        let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE system_id = $1 ORDER BY id");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(system_id).fetch_all(self.pool()).await?)
    }

    /// Any system's group by its ID.
    pub async fn group_by_short_id(&self, short_id: &str) -> DbResult<Option<Group>> {
        let sql = format!("SELECT {GROUP_COLS} FROM groups WHERE short_id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(short_id.trim().to_lowercase())
            .fetch_optional(self.pool())
            .await?)
    }

    /// A group of the system by ID or name (case-insensitive).
    pub async fn find_group(&self, system_id: i64, reference: &str) -> DbResult<Option<Group>> {
        let r = reference.trim().to_lowercase();
        let groups = self.groups(system_id).await?;
        Ok(groups
            .iter()
            .find(|g| g.short_id == r)
            .or_else(|| groups.iter().find(|g| g.name.to_lowercase() == r))
            .cloned())
    }

    pub async fn set_group_field(&self, group_id: i64, field: GroupField, value: Option<&str>) -> DbResult<()> {
        let sql = format!("UPDATE groups SET {} = $1 WHERE id = $2", column(field));
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).bind(group_id).execute(self.pool()).await?;
        Ok(())
    }

    /// Member IDs of a group, in the order they were added (or imported).
    pub async fn group_member_ids(&self, group_id: i64) -> DbResult<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT member_id FROM group_members WHERE group_id = $1 ORDER BY position, member_id")
            .bind(group_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// The groups a member is in.
    pub async fn member_groups(&self, member_id: i64) -> DbResult<Vec<Group>> {
        let sql = format!(
            "SELECT {GROUP_COLS} FROM groups WHERE id IN (SELECT group_id FROM group_members WHERE member_id = $1) \
             ORDER BY id"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(member_id).fetch_all(self.pool()).await?)
    }

    /// Adds (or removes) each (group, member) pair; returns how many changed. One transaction.
    pub async fn set_group_membership(&self, pairs: &[(i64, i64)], member_of: bool) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let sql = if member_of {
            "INSERT INTO group_members (group_id, member_id, position) VALUES ($1, $2, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM group_members WHERE group_id = $1)) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM group_members WHERE group_id = $1 AND member_id = $2"
        };
        let mut changed = 0;
        for (group, member) in pairs {
            changed += sqlx::query(sql).bind(group).bind(member).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Deletes a group (its members stay) and records the answer, together; with
    /// `confirmation` = (user, room), the pending confirmation that asked for it goes too.
    pub async fn delete_group_answered(
        &self,
        group_id: i64,
        confirmation: Option<(&str, &str)>,
        event_id: &str,
        answer: &str,
        now: i64,
    ) -> DbResult<()> {
        let mut tx: Tx = self.write_tx().await?;
        if let Some((user, room)) = confirmation {
            super::systems::settle_confirmation_in(&mut tx, user, room).await?;
        }
        sqlx::query("DELETE FROM groups WHERE id = $1").bind(group_id).execute(&mut *tx).await?;
        record_answer_in(&mut tx, event_id, answer, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{now_ms, test_db};

    #[tokio::test]
    async fn groups_membership_and_deletion() {
        let db = test_db().await;
        let s = db.create_system("@a:x", "a", None, None, now_ms()).await.unwrap();
        let ann = db.create_member(s.id, "Ann", None, now_ms()).await.unwrap();
        let bea = db.create_member(s.id, "Bea", None, now_ms()).await.unwrap();
        let g = db.create_group(s.id, "Front Desk", Some("$e"), now_ms()).await.unwrap();
        assert_eq!(db.create_group(s.id, "Front Desk", Some("$e"), now_ms()).await.unwrap().id, g.id, "once per event");
        assert_eq!(db.find_group(s.id, "front desk").await.unwrap().map(|g| g.id), Some(g.id));
        assert_eq!(db.find_group(s.id, &g.short_id.to_uppercase()).await.unwrap().map(|g| g.id), Some(g.id));
        assert_eq!(db.set_group_membership(&[(g.id, ann.id), (g.id, bea.id)], true).await.unwrap(), 2);
        assert_eq!(db.set_group_membership(&[(g.id, ann.id)], true).await.unwrap(), 0, "already in");
        assert_eq!(db.group_member_ids(g.id).await.unwrap(), vec![ann.id, bea.id]);
        assert_eq!(db.member_groups(bea.id).await.unwrap().len(), 1);
        db.set_group_field(g.id, GroupField::Color, Some("ff0000")).await.unwrap();
        let stored = db.find_group(s.id, &g.short_id).await.unwrap().unwrap();
        assert_eq!(stored.field(GroupField::Color), Some("ff0000"));
        db.delete_member(bea.id).await.unwrap();
        assert_eq!(db.group_member_ids(g.id).await.unwrap(), vec![ann.id], "a deleted member leaves its groups");
        db.delete_group_answered(g.id, None, "$d", "gone", now_ms()).await.unwrap();
        assert!(db.groups(s.id).await.unwrap().is_empty());
        assert!(db.member_by_id(ann.id).await.unwrap().is_some(), "members stay");
    }
}
