//! Linked accounts: the `pk;link` question waiting for the other account's answer, linking,
//! and unlinking (never the last account).

use super::{Db, DbResult, systems::record_answer_in};

/// A link waiting for its answer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingLink {
    pub command_event: String,
    pub system_id: i64,
    pub target: String,
}

impl Db {
    pub async fn add_pending_link(
        &self,
        command_event: &str,
        system_id: i64,
        target: &str,
        room_id: &str,
        expires_at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO pending_links (command_event, system_id, target, room_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (command_event) DO NOTHING",
        )
        .bind(command_event)
        .bind(system_id)
        .bind(target)
        .bind(room_id)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The link the bot's question `question_event` asks about, for `target`, if still open.
    pub async fn pending_link(&self, question_event: &str, target: &str, now: i64) -> DbResult<Option<PendingLink>> {
        Ok(sqlx::query_as(
            "SELECT p.command_event, p.system_id, p.target FROM pending_links p \
             JOIN effects e ON e.cause = p.command_event AND e.purpose = 'reply' \
             WHERE e.result = $1 AND p.target = $2 AND p.expires_at >= $3",
        )
        .bind(question_event)
        .bind(target)
        .bind(now)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Links `link.target` to the system, closes the question and records `answer` for
    /// `event_id`, in one transaction. False if the target meanwhile has a system.
    pub async fn accept_link(&self, link: &PendingLink, event_id: &str, answer: &str, now: i64) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let linked = sqlx::query(
            "INSERT INTO accounts (user_id, system_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(&link.target)
        .bind(link.system_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query("DELETE FROM pending_links WHERE command_event = $1")
            .bind(&link.command_event)
            .execute(&mut *tx)
            .await?;
        record_answer_in(&mut tx, event_id, answer, now).await?;
        tx.commit().await?;
        Ok(linked)
    }

    /// Removes `user` from the system's accounts unless it is the last one. Returns whether
    /// it was removed.
    pub async fn unlink_account(&self, system_id: i64, user: &str) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE system_id = $1")
            .bind(system_id)
            .fetch_one(&mut *tx)
            .await?;
        if count <= 1 {
            return Ok(false);
        }
        let removed = sqlx::query("DELETE FROM accounts WHERE system_id = $1 AND user_id = $2")
            .bind(system_id)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{now_ms, test_db};

    #[tokio::test]
    async fn questions_expire_and_answer_once() {
        let db = test_db().await;
        let s = db.create_system("@a:x", "a", None, None, now_ms()).await.unwrap();
        db.add_pending_link("$cmd", s.id, "@b:x", "!r:x", 1_000).await.unwrap();
        db.record_effect("$cmd", "reply", "$question", 0).await.unwrap();
        assert!(db.pending_link("$question", "@c:x", 500).await.unwrap().is_none(), "only the asked account");
        assert!(db.pending_link("$other", "@b:x", 500).await.unwrap().is_none(), "only a reply to the question");
        assert!(db.pending_link("$question", "@b:x", 1_001).await.unwrap().is_none(), "expired");
        let link = db.pending_link("$question", "@b:x", 500).await.unwrap().expect("open");
        assert!(db.accept_link(&link, "$yes", "linked", 600).await.unwrap());
        assert_eq!(db.system_for_account("@b:x").await.unwrap().map(|s| s.id), Some(s.id));
        assert!(db.pending_link("$question", "@b:x", 500).await.unwrap().is_none(), "closed");
        assert!(db.unlink_account(s.id, "@b:x").await.unwrap());
        assert!(!db.unlink_account(s.id, "@a:x").await.unwrap(), "never the last");
    }
}
