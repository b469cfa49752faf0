//! What `pk;admin` reads and changes: recent failures and dead letters, re-running dead
//! letters, and the run-time ban list.

use super::{Db, DbResult};

/// A dead letter, as `pk;admin failures` lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeadLetter {
    pub event_id: String,
    pub room_id: String,
    pub sender: Option<String>,
    pub reason: String,
    pub attempts: i64,
    pub dead_at: i64,
}

impl Db {
    /// The newest `limit` dead letters.
    pub async fn recent_dead_letters(&self, limit: i64) -> DbResult<Vec<DeadLetter>> {
        Ok(sqlx::query_as(
            "SELECT event_id, room_id, sender, reason, attempts, dead_at FROM dead_letters \
             ORDER BY dead_at DESC, event_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Dead letters and failed handling attempts since `since` (ms).
    pub async fn failures_since(&self, since: i64) -> DbResult<(i64, i64)> {
        let dead: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters WHERE dead_at >= $1")
            .bind(since)
            .fetch_one(self.pool())
            .await?;
        let failed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM room_events WHERE last_error IS NOT NULL AND received_at >= $1")
                .bind(since)
                .fetch_one(self.pool())
                .await?;
        Ok((dead, failed))
    }

    /// Puts dead letters back in their rooms' lines (one by event ID, or all), with a fresh
    /// retry budget. Those whose queued event was already pruned stay. Returns how many went.
    pub async fn retry_dead_letters(&self, event_id: Option<&str>, now: i64) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let ids: Vec<String> = match event_id {
            Some(id) => {
                sqlx::query_scalar("SELECT event_id FROM dead_letters WHERE event_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => sqlx::query_scalar("SELECT event_id FROM dead_letters").fetch_all(&mut *tx).await?,
        };
        let mut moved = 0;
        for id in ids {
            let back = sqlx::query(
                "UPDATE room_events SET state = 'pending', attempts = 0, not_before = 0, settled_at = NULL, \
                 received_at = $2 WHERE event_id = $1 AND state = 'dead'",
            )
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if back.rows_affected() == 1 {
                sqlx::query("DELETE FROM dead_letters WHERE event_id = $1").bind(&id).execute(&mut *tx).await?;
                moved += 1;
            }
        }
        tx.commit().await?;
        Ok(moved)
    }

    /// The run-time ban list (patterns like the config's `access.deny`).
    pub async fn bans(&self) -> DbResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT pattern FROM admin_bans ORDER BY added_at, pattern")
            .fetch_all(self.pool())
            .await?)
    }

    /// Adds (`true`) or removes a ban. Returns whether anything changed.
    pub async fn set_ban(&self, pattern: &str, banned: bool, by: &str, now: i64) -> DbResult<bool> {
        let done = if banned {
            sqlx::query("INSERT INTO admin_bans (pattern, added_by, added_at) VALUES ($1, $2, $3) ON CONFLICT (pattern) DO NOTHING")
                .bind(pattern)
                .bind(by)
                .bind(now)
                .execute(self.pool())
                .await?
        } else {
            sqlx::query("DELETE FROM admin_bans WHERE pattern = $1").bind(pattern).execute(self.pool()).await?
        };
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::db::test_db;

    #[tokio::test]
    async fn bans_are_kept() {
        let db = test_db().await;
        assert!(db.set_ban("@spam*:x", true, "@admin:x", 1).await.unwrap());
        assert!(!db.set_ban("@spam*:x", true, "@admin:x", 2).await.unwrap(), "once");
        assert_eq!(db.bans().await.unwrap(), vec!["@spam*:x".to_owned()]);
        assert!(db.set_ban("@spam*:x", false, "@admin:x", 3).await.unwrap());
        assert!(db.bans().await.unwrap().is_empty());
        assert_eq!(db.retry_dead_letters(None, 5).await.unwrap(), 0);
        assert_eq!(db.failures_since(0).await.unwrap(), (0, 0));
    }
}
