//! Deleting a whole system: everything of it goes in one database transaction, with the
//! confirmation that asked for it and the answer to the user. What stays is what must: the
//! retired ghosts' user IDs (with their slugs), so their accounts are never handed to anyone
//! else, without the names and avatars they showed.

use super::{Db, DbResult, systems::record_answer_in};

impl Db {
    /// The user IDs of every ghost the system ever had (current and retired members).
    pub async fn system_ghosts(&self, system_id: i64) -> DbResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT g.user_id FROM ghosts g JOIN systems s ON s.slug = g.system_slug WHERE s.id = $1 \
             ORDER BY g.user_id",
        )
        .bind(system_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes the system, its accounts, members (with their tags), its message records, its
    /// ghosts' crypto identities and shown profiles, and every pending confirmation of its
    /// accounts; records `answer` for `event_id`. One transaction.
    pub async fn delete_system_answered(&self, system_id: i64, event_id: &str, answer: &str, now: i64) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        let ghosts = "SELECT g.user_id FROM ghosts g JOIN systems s ON s.slug = g.system_slug WHERE s.id = $1";
        for sql in [
            format!("DELETE FROM crypto_identities WHERE user_id IN ({ghosts})"),
            format!("DELETE FROM ghost_rooms WHERE user_id IN ({ghosts})"),
            format!(
                "UPDATE ghosts SET display_name = NULL, avatar_url = NULL, member_id = NULL WHERE user_id IN ({ghosts})"
            ),
            "DELETE FROM proxied_messages WHERE system_id = $1".to_owned(),
            "DELETE FROM pending_confirmations WHERE user_id IN (SELECT user_id FROM accounts WHERE system_id = $1)"
                .to_owned(),
            "DELETE FROM systems WHERE id = $1".to_owned(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(system_id).execute(&mut *tx).await?;
        }
        record_answer_in(&mut tx, event_id, answer, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
