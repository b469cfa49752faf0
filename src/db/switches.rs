//! Switches: who fronts from when (`pk;switch …`), read back for the front views and for
//! front autoproxy. Every change is stored with the command's answer in one transaction,
//! so a retried command repeats nothing.

use std::collections::HashMap;

use super::{Db, DbResult, systems::Tx, systems::record_answer_in};
use crate::core::fronting::Switch;

/// A stored switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSwitch {
    pub id: i64,
    pub at: i64,
    /// Member IDs, first fronter first.
    pub members: Vec<i64>,
}

impl StoredSwitch {
    pub fn switch(&self) -> Switch<i64> {
        Switch { at: self.at, members: self.members.clone() }
    }
}

/// A change to the switch log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SwitchChange {
    Add { at: i64, members: Vec<i64> },
    Move { id: i64, at: i64 },
    Edit { id: i64, members: Vec<i64> },
    Delete { id: i64 },
    DeleteAll,
}

impl Db {
    /// The newest `limit` switches after skipping `offset`, newest first.
    pub async fn latest_switches(&self, system_id: i64, offset: i64, limit: i64) -> DbResult<Vec<StoredSwitch>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, at FROM switches WHERE system_id = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(system_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        self.with_members(rows).await
    }

    /// The switches from `start` on, oldest first, with the last one before `start` (it
    /// tells who fronted at `start`).
    pub async fn switches_since(&self, system_id: i64, start: i64) -> DbResult<Vec<StoredSwitch>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT id, at FROM switches WHERE system_id = $1 AND at >= \
             COALESCE((SELECT MAX(at) FROM switches WHERE system_id = $1 AND at <= $2), $2) ORDER BY at, id",
        )
        .bind(system_id)
        .bind(start)
        .fetch_all(self.pool())
        .await?;
        self.with_members(rows).await
    }

    /// Who fronts now, first fronter first (empty: nobody, or no switch yet).
    pub async fn current_fronters(&self, system_id: i64) -> DbResult<Vec<i64>> {
        Ok(self.latest_switches(system_id, 0, 1).await?.pop().map(|s| s.members).unwrap_or_default())
    }

    pub async fn switch_count(&self, system_id: i64) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM switches WHERE system_id = $1")
            .bind(system_id)
            .fetch_one(self.pool())
            .await?)
    }

    async fn with_members(&self, rows: Vec<(i64, i64)>) -> DbResult<Vec<StoredSwitch>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.to_string()).collect();
        // The IDs are integers from the database, not user input.
        let sql = format!(
            "SELECT switch_id, member_id FROM switch_members WHERE switch_id IN ({}) ORDER BY switch_id, position",
            ids.join(",")
        );
        let pairs: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
        for (switch, member) in pairs {
            members.entry(switch).or_default().push(member);
        }
        Ok(rows
            .into_iter()
            .map(|(id, at)| StoredSwitch { id, at, members: members.remove(&id).unwrap_or_default() })
            .collect())
    }

    /// Applies `change` and records the command's answer, in one transaction (which also
    /// settles the `(user, room)` confirmation it answers, if any). A change whose command
    /// already ran (its answer is recorded) is not applied again.
    pub async fn change_switches_answered(
        &self,
        system_id: i64,
        change: &SwitchChange,
        event_id: &str,
        answer: &str,
        now: i64,
        confirmation: Option<(&str, &str)>,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        if let Some((user, room)) = confirmation {
            super::systems::settle_confirmation_in(&mut tx, user, room).await?;
        }
        let done: Option<i64> = sqlx::query_scalar("SELECT 1 FROM command_results WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            apply_in(&mut tx, system_id, change, event_id, now).await?;
            record_answer_in(&mut tx, event_id, answer, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Registers a switch caused by something other than a command (proxying with
    /// `proxy switch` on), once per `cause`.
    pub async fn add_switch_caused(&self, system_id: i64, at: i64, members: &[i64], cause: &str) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        let done: Option<i64> = sqlx::query_scalar("SELECT id FROM switches WHERE created_by_event = $1")
            .bind(cause)
            .fetch_optional(&mut *tx)
            .await?;
        if done.is_none() {
            insert_in(&mut tx, system_id, at, members, (Some(cause), None), at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds an import's switches (`(at, members, timestamp as written)`) inside the import's
    /// transaction; a switch at an instant the system already has is skipped, as PluralKit does.
    pub(super) async fn import_switches_in(
        tx: &mut Tx,
        system_id: i64,
        switches: &[(i64, Vec<i64>, String)],
        now: i64,
    ) -> DbResult<usize> {
        let mut added = 0;
        for (at, members, written) in switches {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM switches WHERE system_id = $1 AND at = $2")
                .bind(system_id)
                .bind(at)
                .fetch_optional(&mut **tx)
                .await?;
            if exists.is_none() {
                insert_in(tx, system_id, *at, members, (None, Some(written)), now).await?;
                added += 1;
            }
        }
        Ok(added)
    }

    /// Every switch for an export, oldest first: (at, member IDs, the timestamp as imported).
    pub(super) async fn switches_for_export(&self, system_id: i64) -> DbResult<Vec<(StoredSwitch, Option<String>)>> {
        let rows: Vec<(i64, i64, Option<String>)> =
            sqlx::query_as("SELECT id, at, imported_timestamp FROM switches WHERE system_id = $1 ORDER BY at, id")
                .bind(system_id)
                .fetch_all(self.pool())
                .await?;
        let written: HashMap<i64, Option<String>> = rows.iter().map(|(id, _, w)| (*id, w.clone())).collect();
        let stored = self.with_members(rows.into_iter().map(|(id, at, _)| (id, at)).collect()).await?;
        Ok(stored
            .into_iter()
            .map(|s| {
                let w = written.get(&s.id).cloned().flatten();
                (s, w)
            })
            .collect())
    }
}

async fn apply_in(tx: &mut Tx, system_id: i64, change: &SwitchChange, event_id: &str, now: i64) -> DbResult<()> {
    // Every statement names the system too: a switch ID from elsewhere changes nothing.
    match change {
        SwitchChange::Add { at, members } => insert_in(tx, system_id, *at, members, (Some(event_id), None), now).await,
        SwitchChange::Move { id, at } => {
            sqlx::query("UPDATE switches SET at = $1 WHERE id = $2 AND system_id = $3")
                .bind(at)
                .bind(id)
                .bind(system_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
        SwitchChange::Edit { id, members } => {
            let mine: Option<i64> = sqlx::query_scalar("SELECT id FROM switches WHERE id = $1 AND system_id = $2")
                .bind(id)
                .bind(system_id)
                .fetch_optional(&mut **tx)
                .await?;
            if mine.is_some() {
                sqlx::query("DELETE FROM switch_members WHERE switch_id = $1").bind(id).execute(&mut **tx).await?;
                insert_members_in(tx, *id, members).await?;
            }
            Ok(())
        }
        SwitchChange::Delete { id } => {
            sqlx::query("DELETE FROM switches WHERE id = $1 AND system_id = $2")
                .bind(id)
                .bind(system_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
        SwitchChange::DeleteAll => {
            sqlx::query("DELETE FROM switches WHERE system_id = $1").bind(system_id).execute(&mut **tx).await?;
            Ok(())
        }
    }
}

/// Inserts a switch; `origin` is the event that caused it or the timestamp an import wrote.
async fn insert_in(
    tx: &mut Tx,
    system_id: i64,
    at: i64,
    members: &[i64],
    origin: (Option<&str>, Option<&str>),
    now: i64,
) -> DbResult<()> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switches (system_id, at, created_by_event, imported_timestamp, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(system_id)
    .bind(at)
    .bind(origin.0)
    .bind(origin.1)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    insert_members_in(tx, id, members).await
}

async fn insert_members_in(tx: &mut Tx, switch_id: i64, members: &[i64]) -> DbResult<()> {
    for (i, member) in members.iter().enumerate() {
        sqlx::query("INSERT INTO switch_members (switch_id, position, member_id) VALUES ($1, $2, $3)")
            .bind(switch_id)
            .bind(i as i64)
            .bind(member)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::test_db;

    #[tokio::test]
    async fn switches_are_stored_in_order_and_a_retry_changes_nothing() {
        let db = test_db().await;
        let s = db.create_system("@a:x", "a", None, None, 1).await.unwrap();
        let a = db.create_member(s.id, "Alice", None, 1).await.unwrap();
        let b = db.create_member(s.id, "Bea", None, 1).await.unwrap();
        let add = |at: i64, members: Vec<i64>| SwitchChange::Add { at, members };
        db.change_switches_answered(s.id, &add(100, vec![b.id, a.id]), "$e1", "ok", 1, None).await.unwrap();
        db.change_switches_answered(s.id, &add(100, vec![b.id, a.id]), "$e1", "ok", 1, None).await.unwrap();
        db.change_switches_answered(s.id, &add(200, vec![]), "$e2", "ok", 2, None).await.unwrap();
        db.change_switches_answered(s.id, &add(300, vec![a.id]), "$e3", "ok", 3, None).await.unwrap();
        assert_eq!(db.switch_count(s.id).await.unwrap(), 3, "the retried command added nothing");
        assert_eq!(db.current_fronters(s.id).await.unwrap(), vec![a.id]);
        let latest = db.latest_switches(s.id, 0, 2).await.unwrap();
        assert_eq!(latest.iter().map(|s| s.at).collect::<Vec<_>>(), [300, 200]);
        assert_eq!(db.latest_switches(s.id, 2, 5).await.unwrap()[0].members, vec![b.id, a.id], "order kept");
        // Since 250: the switch before (200, a switch-out) comes first.
        let since = db.switches_since(s.id, 250).await.unwrap();
        assert_eq!(since.iter().map(|s| s.at).collect::<Vec<_>>(), [200, 300]);
        let top = latest[0].id;
        db.change_switches_answered(s.id, &SwitchChange::Move { id: top, at: 250 }, "$e4", "ok", 4, None)
            .await
            .unwrap();
        db.change_switches_answered(s.id, &SwitchChange::Edit { id: top, members: vec![b.id] }, "$e5", "ok", 5, None)
            .await
            .unwrap();
        let now = db.latest_switches(s.id, 0, 1).await.unwrap();
        assert_eq!((now[0].at, now[0].members.clone()), (250, vec![b.id]));
        // Deleting a member takes it out of its switches.
        db.delete_member(b.id).await.unwrap();
        assert_eq!(db.current_fronters(s.id).await.unwrap(), Vec::<i64>::new());
        db.change_switches_answered(s.id, &SwitchChange::Delete { id: top }, "$e6", "ok", 6, None).await.unwrap();
        assert_eq!(db.switch_count(s.id).await.unwrap(), 2);
        // Another system's switch ID changes nothing.
        let other = db.create_system("@o:x", "o", None, None, 1).await.unwrap();
        let first = db.latest_switches(s.id, 0, 1).await.unwrap()[0].id;
        db.change_switches_answered(other.id, &SwitchChange::Delete { id: first }, "$e7", "ok", 7, None).await.unwrap();
        assert_eq!(db.switch_count(s.id).await.unwrap(), 2);
        db.change_switches_answered(s.id, &SwitchChange::DeleteAll, "$e8", "ok", 8, None).await.unwrap();
        assert_eq!(db.switch_count(s.id).await.unwrap(), 0);
    }
}
