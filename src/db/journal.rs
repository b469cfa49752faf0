//! The transaction journal: raw transaction bodies stored before the homeserver gets its 200,
//! processed in arrival order, plus the set of event IDs already handled.

use super::{Db, DbResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JournalEntry {
    pub seq: i64,
    pub txn_id: String,
    pub body: Vec<u8>,
    pub received_at: i64,
}

impl Db {
    /// Stores a transaction. Returns `false` if this transaction ID was already stored (the
    /// homeserver retried), in which case nothing changes.
    pub async fn journal_insert(&self, txn_id: &str, body: &[u8], now: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "INSERT INTO journal (txn_id, body, received_at) VALUES ($1, $2, $3) ON CONFLICT (txn_id) DO NOTHING",
        )
        .bind(txn_id)
        .bind(body)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The oldest transaction not yet processed.
    pub async fn journal_next(&self) -> DbResult<Option<JournalEntry>> {
        Ok(sqlx::query_as::<_, JournalEntry>(
            "SELECT seq, txn_id, body, received_at FROM journal WHERE processed_at IS NULL ORDER BY seq LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn journal_pending_count(&self) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE processed_at IS NULL").fetch_one(self.pool()).await?)
    }

    /// Marks a transaction processed, with the error summary if any part of it failed.
    pub async fn journal_done(&self, seq: i64, error: Option<&str>, now: i64) -> DbResult<()> {
        sqlx::query("UPDATE journal SET processed_at = $1, error = $2 WHERE seq = $3")
            .bind(now)
            .bind(error)
            .bind(seq)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn event_processed(&self, event_id: &str) -> DbResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM processed_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }

    pub async fn mark_event_processed(&self, event_id: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO processed_events (event_id, processed_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn record_event_failure(&self, event_id: &str, txn_id: &str, error: &str, now: i64) -> DbResult<()> {
        sqlx::query("INSERT INTO event_failures (event_id, txn_id, error, failed_at) VALUES ($1, $2, $3, $4)")
            .bind(event_id)
            .bind(txn_id)
            .bind(error)
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::db::test_db;

    #[tokio::test]
    async fn journal_order_and_dedupe() {
        let db = test_db().await;
        assert!(db.journal_insert("1", b"{}", 1).await.unwrap());
        assert!(db.journal_insert("2", b"{\"events\":[]}", 2).await.unwrap());
        assert!(!db.journal_insert("1", b"other", 3).await.unwrap(), "a repeated txn id is not stored twice");
        let first = db.journal_next().await.unwrap().unwrap();
        assert_eq!((first.txn_id.as_str(), first.body.as_slice()), ("1", b"{}".as_slice()));
        db.journal_done(first.seq, None, 4).await.unwrap();
        let second = db.journal_next().await.unwrap().unwrap();
        assert_eq!(second.txn_id, "2");
        db.journal_done(second.seq, Some("boom"), 5).await.unwrap();
        assert!(db.journal_next().await.unwrap().is_none());
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal").fetch_one(db.pool()).await.unwrap();
        assert_eq!(stored, 2);
    }

    #[tokio::test]
    async fn events_are_remembered() {
        let db = test_db().await;
        assert!(!db.event_processed("$a").await.unwrap());
        db.mark_event_processed("$a", 1).await.unwrap();
        db.mark_event_processed("$a", 2).await.unwrap();
        assert!(db.event_processed("$a").await.unwrap());
    }
}
