//! Proxied messages (original event → ghost event), the originals waiting to be redacted,
//! and one-off room notices.

use super::{Db, DbResult};

/// An original to redact (see `pending_redactions`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingRedaction {
    pub target: String,
    pub room_id: String,
    pub cause: String,
    pub attempts: i64,
    pub queued_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProxiedMessage {
    pub original_event_id: String,
    pub room_id: String,
    pub ghost_event_id: Option<String>,
    pub ghost_user_id: String,
    pub member_id: Option<i64>,
    pub system_id: Option<i64>,
    pub sender: String,
}

impl Db {
    /// Records the proxied messages `rows` (one per original) and queues their originals for
    /// redaction, in one database transaction.
    pub async fn record_proxied_and_queue_redactions(
        &self,
        rows: &[ProxiedMessage],
        cause: &str,
        now: i64,
    ) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        // The member's message count goes up once per proxied message, not per retry.
        let first_time = match rows.first() {
            Some(m) => sqlx::query_scalar::<_, i64>("SELECT 1 FROM proxied_messages WHERE original_event_id = $1")
                .bind(&m.original_event_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_none(),
            None => false,
        };
        if let (true, Some(member)) = (first_time, rows.first().and_then(|m| m.member_id)) {
            sqlx::query("UPDATE members SET message_count = message_count + 1 WHERE id = $1")
                .bind(member)
                .execute(&mut *tx)
                .await?;
        }
        for m in rows {
            sqlx::query(
                "INSERT INTO proxied_messages (original_event_id, room_id, ghost_event_id, ghost_user_id, member_id, system_id, sender, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (original_event_id) DO UPDATE SET ghost_event_id = excluded.ghost_event_id",
            )
            .bind(&m.original_event_id)
            .bind(&m.room_id)
            .bind(&m.ghost_event_id)
            .bind(&m.ghost_user_id)
            .bind(m.member_id)
            .bind(m.system_id)
            .bind(&m.sender)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO pending_redactions (target, room_id, cause, queued_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (target) DO NOTHING",
            )
            .bind(&m.original_event_id)
            .bind(&m.room_id)
            .bind(cause)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queued redactions due at `now`, oldest first, at most `limit`.
    pub async fn due_redactions(&self, now: i64, limit: i64) -> DbResult<Vec<PendingRedaction>> {
        Ok(sqlx::query_as(
            "SELECT target, room_id, cause, attempts, queued_at FROM pending_redactions \
             WHERE not_before <= $1 ORDER BY queued_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// When the next queued redaction is due, if any is queued.
    pub async fn next_redaction_due(&self) -> DbResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MIN(not_before) FROM pending_redactions").fetch_one(self.pool()).await?)
    }

    /// The redaction of `target` is done (or given up): off the queue.
    pub async fn redaction_settled(&self, target: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM pending_redactions WHERE target = $1").bind(target).execute(self.pool()).await?;
        Ok(())
    }

    /// The redaction of `target` failed for now: tried again at `not_before`.
    pub async fn redaction_deferred(&self, target: &str, attempts: i64, not_before: i64, error: &str) -> DbResult<()> {
        sqlx::query("UPDATE pending_redactions SET attempts = $2, not_before = $3, last_error = $4 WHERE target = $1")
            .bind(target)
            .bind(attempts)
            .bind(not_before)
            .bind(error)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn proxied_by_original(&self, original_event_id: &str) -> DbResult<Option<ProxiedMessage>> {
        Ok(sqlx::query_as::<_, ProxiedMessage>(
            "SELECT original_event_id, room_id, ghost_event_id, ghost_user_id, member_id, system_id, sender \
             FROM proxied_messages WHERE original_event_id = $1",
        )
        .bind(original_event_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The proxied message whose ghost copy is `ghost_event_id`.
    pub async fn proxied_by_ghost_event(&self, ghost_event_id: &str) -> DbResult<Option<ProxiedMessage>> {
        Ok(sqlx::query_as::<_, ProxiedMessage>(
            "SELECT original_event_id, room_id, ghost_event_id, ghost_user_id, member_id, system_id, sender \
             FROM proxied_messages WHERE ghost_event_id = $1 ORDER BY created_at LIMIT 1",
        )
        .bind(ghost_event_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The system's latest proxied message in the room.
    pub async fn latest_proxied(&self, room_id: &str, system_id: i64) -> DbResult<Option<ProxiedMessage>> {
        Ok(sqlx::query_as::<_, ProxiedMessage>(
            "SELECT original_event_id, room_id, ghost_event_id, ghost_user_id, member_id, system_id, sender \
             FROM proxied_messages WHERE room_id = $1 AND system_id = $2 AND ghost_event_id IS NOT NULL \
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(room_id)
        .bind(system_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// When the ghost message was sent (ms).
    pub async fn proxied_at(&self, ghost_event_id: &str) -> DbResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MIN(created_at) FROM proxied_messages WHERE ghost_event_id = $1")
            .bind(ghost_event_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// A ghost message was sent again by another member (`pk;reproxy`): the map points at
    /// the new copy.
    pub async fn reproxied(&self, old_ghost: &str, new_ghost: &str, ghost_user: &str, member_id: i64) -> DbResult<()> {
        sqlx::query(
            "UPDATE proxied_messages SET ghost_event_id = $2, ghost_user_id = $3, member_id = $4 WHERE ghost_event_id = $1",
        )
        .bind(old_ghost)
        .bind(new_ghost)
        .bind(ghost_user)
        .bind(member_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The ghost message was deleted: `pk;edit` and reactions no longer find it.
    pub async fn forget_ghost_message(&self, ghost_event_id: &str) -> DbResult<()> {
        sqlx::query("UPDATE proxied_messages SET ghost_event_id = NULL WHERE ghost_event_id = $1")
            .bind(ghost_event_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Queues `target` (a command message, say) for redaction by the bot.
    pub async fn queue_redaction(&self, target: &str, room_id: &str, cause: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO pending_redactions (target, room_id, cause, queued_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (target) DO NOTHING",
        )
        .bind(target)
        .bind(room_id)
        .bind(cause)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a one-off notice for a room. Returns `true` the first time only.
    pub async fn notice_once(&self, room_id: &str, kind: &str, now: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "INSERT INTO room_notices (room_id, kind, sent_at) VALUES ($1, $2, $3) ON CONFLICT (room_id, kind) DO NOTHING",
        )
        .bind(room_id)
        .bind(kind)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::ProxiedMessage;
    use crate::db::test_db;

    #[tokio::test]
    async fn queued_redactions_wait_their_turn_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let db = crate::db::Db::connect(&url).await.unwrap();
        let row = |orig: &str| ProxiedMessage {
            original_event_id: orig.into(),
            room_id: "!r:x".into(),
            ghost_event_id: Some("$ghost".into()),
            ghost_user_id: "@_plural_a_b:x".into(),
            member_id: None,
            system_id: None,
            sender: "@a:x".into(),
        };
        // An edit proxies two originals at once; a retry queues nothing twice.
        db.record_proxied_and_queue_redactions(&[row("$orig"), row("$edit")], "$edit", 10).await.unwrap();
        db.record_proxied_and_queue_redactions(&[row("$orig"), row("$edit")], "$edit", 11).await.unwrap();
        assert_eq!(db.proxied_by_original("$orig").await.unwrap(), Some(row("$orig")));
        assert_eq!(db.oldest_pending_age(100).await.unwrap(), Some(90), "a waiting redaction is work not done");
        let due = db.due_redactions(20, 10).await.unwrap();
        assert_eq!(due.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["$orig", "$edit"]);
        assert!(due.iter().all(|r| r.cause == "$edit" && r.attempts == 0 && r.queued_at == 10));
        db.redaction_deferred("$orig", 1, 500, "homeserver away").await.unwrap();
        db.redaction_settled("$edit").await.unwrap();
        assert!(db.due_redactions(499, 10).await.unwrap().is_empty(), "deferred until 500");
        assert_eq!(db.next_redaction_due().await.unwrap(), Some(500));
        db.pool().close().await;
        // After a crash and restart, what was queued is still there.
        let db = crate::db::Db::connect(&url).await.unwrap();
        let due = db.due_redactions(500, 10).await.unwrap();
        assert_eq!((due.len(), due[0].target.as_str(), due[0].attempts), (1, "$orig", 1));
        db.redaction_settled("$orig").await.unwrap();
        assert_eq!(db.next_redaction_due().await.unwrap(), None);
    }

    #[tokio::test]
    async fn notices_once() {
        let db = test_db().await;
        assert!(db.notice_once("!r:x", "no-redact", 1).await.unwrap());
        assert!(!db.notice_once("!r:x", "no-redact", 2).await.unwrap());
        assert!(db.notice_once("!r:other", "no-redact", 3).await.unwrap(), "per room");
    }
}
