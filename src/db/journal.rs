//! The transaction journal: raw transaction bodies stored before the homeserver gets its 200,
//! deduplicated by transaction ID *and* body (Synapse starts its IDs again at 1 after a
//! restart), with their room events queued per room in the same database transaction.

use sha2::{Digest, Sha256};

use super::{Db, DbResult};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JournalEntry {
    pub seq: i64,
    pub txn_id: String,
    pub body: Vec<u8>,
    pub received_at: i64,
    #[sqlx(try_from = "super::Flag")]
    pub events_queued: bool,
}

/// A room event as queued at intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub event_id: String,
    pub room_id: String,
    /// Its lane in the room: the sender for messages, `""` (the whole room) for state events.
    pub lane: String,
    pub body: String,
}

/// What the intake knows of a transaction's crypto input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoInput {
    /// Nothing to apply: the transaction is settled at intake.
    None,
    /// To apply, but this transaction's events need not wait for it (key counts only).
    Background,
    /// To apply before this transaction's events (to-device messages, device-list changes).
    Gating,
}

/// A hex SHA-256 of a transaction body.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

impl Db {
    /// Stores a transaction and queues its room events (events already seen are skipped).
    /// Returns `false` if this very transaction (same ID, same body) was already stored: the
    /// homeserver retried it, and nothing changes.
    pub async fn journal_insert(
        &self,
        txn_id: &str,
        body: &[u8],
        events: &[QueuedEvent],
        crypto: CryptoInput,
        now: i64,
    ) -> DbResult<bool> {
        let mut tx = self.journal_write_tx().await?;
        let processed_at = (crypto == CryptoInput::None).then_some(now);
        let seq: Option<i64> = sqlx::query_scalar(
            "INSERT INTO journal (txn_id, body_hash, body, received_at, processed_at, gates, events_queued) \
             VALUES ($1, $2, $3, $4, $5, $6, TRUE) ON CONFLICT (txn_id, body_hash) DO NOTHING RETURNING seq",
        )
        .bind(txn_id)
        .bind(body_hash(body))
        .bind(body)
        .bind(now)
        .bind(processed_at)
        .bind(crypto == CryptoInput::Gating)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(seq) = seq else {
            return Ok(false);
        };
        queue_events(&mut tx, seq, events, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Queues the events of a transaction stored before events were queued at intake.
    pub async fn journal_queue_events(&self, seq: i64, events: &[QueuedEvent], now: i64) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        queue_events(&mut tx, seq, events, now).await?;
        sqlx::query("UPDATE journal SET events_queued = TRUE WHERE seq = $1").bind(seq).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The oldest transaction whose crypto input is not applied yet.
    pub async fn journal_next(&self) -> DbResult<Option<JournalEntry>> {
        Ok(sqlx::query_as::<_, JournalEntry>(
            "SELECT seq, txn_id, body, received_at, events_queued IS TRUE AS events_queued FROM journal WHERE processed_at IS NULL \
             ORDER BY seq LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// The ID of the newest transaction stored.
    pub async fn last_txn_id(&self) -> DbResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT txn_id FROM journal ORDER BY seq DESC LIMIT 1")
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn journal_pending_count(&self) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE processed_at IS NULL").fetch_one(self.pool()).await?)
    }

    /// Room events of transactions from this sequence number on wait: their transaction's
    /// crypto input (or an earlier one's) is not applied yet. `i64::MAX` if none waits.
    pub async fn crypto_watermark(&self) -> DbResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM journal WHERE processed_at IS NULL AND gates")
            .fetch_one(self.pool())
            .await?;
        Ok(seq.unwrap_or(i64::MAX))
    }

    /// Marks a transaction's crypto input applied, with the error summary if any part failed.
    pub async fn journal_done(&self, seq: i64, error: Option<&str>, now: i64) -> DbResult<()> {
        sqlx::query("UPDATE journal SET processed_at = $1, error = $2 WHERE seq = $3")
            .bind(now)
            .bind(error)
            .bind(seq)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether `user` has taken its part of transaction `seq`'s crypto input.
    pub async fn crypto_applied(&self, seq: i64, user: &str) -> DbResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM crypto_applied WHERE journal_seq = $1 AND user_id = $2")
                .bind(seq)
                .bind(user)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    pub async fn mark_crypto_applied(&self, seq: i64, user: &str) -> DbResult<()> {
        sqlx::query("INSERT INTO crypto_applied (journal_seq, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(seq)
            .bind(user)
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

    /// Age in milliseconds of the oldest work not done: a room event waiting to be handled
    /// (parked ones wait for their key, not for us), a transaction's crypto input, or the
    /// redaction of a proxied original.
    pub async fn oldest_pending_age(&self, now: i64) -> DbResult<Option<i64>> {
        let events: Option<i64> =
            sqlx::query_scalar("SELECT MIN(received_at) FROM room_events WHERE state = 'pending'")
                .fetch_one(self.pool())
                .await?;
        let journal: Option<i64> =
            sqlx::query_scalar("SELECT MIN(received_at) FROM journal WHERE processed_at IS NULL")
                .fetch_one(self.pool())
                .await?;
        let redactions: Option<i64> =
            sqlx::query_scalar("SELECT MIN(queued_at) FROM pending_redactions").fetch_one(self.pool()).await?;
        Ok(events.into_iter().chain(journal).chain(redactions).min().map(|oldest| now - oldest))
    }
}

async fn queue_events(tx: &mut super::Tx, seq: i64, events: &[QueuedEvent], now: i64) -> DbResult<()> {
    for e in events {
        sqlx::query(
            "INSERT INTO room_events (event_id, room_id, lane, journal_seq, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&e.event_id)
        .bind(&e.room_id)
        .bind(&e.lane)
        .bind(seq)
        .bind(&e.body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{CryptoInput, QueuedEvent};
    use crate::db::test_db;

    fn ev(id: &str, room: &str) -> QueuedEvent {
        QueuedEvent {
            event_id: id.into(),
            room_id: room.into(),
            lane: String::new(),
            body: format!("{{\"event_id\":\"{id}\"}}"),
        }
    }

    #[tokio::test]
    async fn a_repeated_transaction_is_stored_once() {
        let db = test_db().await;
        assert!(db.journal_insert("1", b"{}", &[], CryptoInput::Gating, 1).await.unwrap());
        assert!(!db.journal_insert("1", b"{}", &[], CryptoInput::Gating, 2).await.unwrap(), "same ID, same body");
        let first = db.journal_next().await.unwrap().unwrap();
        assert_eq!((first.txn_id.as_str(), first.body.as_slice()), ("1", b"{}".as_slice()));
        db.journal_done(first.seq, None, 4).await.unwrap();
        assert!(db.journal_next().await.unwrap().is_none());
    }

    /// Regression: Synapse starts its transaction IDs at 1 again after a restart; a new
    /// transaction with an ID seen before was acknowledged and thrown away.
    #[tokio::test]
    async fn the_same_id_with_another_body_is_a_new_transaction() {
        let db = test_db().await;
        assert!(db.journal_insert("1", b"{\"events\":[1]}", &[ev("$a", "!r")], CryptoInput::None, 1).await.unwrap());
        assert!(db.journal_insert("1", b"{\"events\":[2]}", &[ev("$b", "!r")], CryptoInput::None, 2).await.unwrap());
        let queued: Vec<String> =
            sqlx::query_scalar("SELECT event_id FROM room_events ORDER BY id").fetch_all(db.pool()).await.unwrap();
        assert_eq!(queued, vec!["$a".to_owned(), "$b".to_owned()]);
    }

    #[tokio::test]
    async fn events_are_queued_once_and_crypto_gates_them() {
        let db = test_db().await;
        assert_eq!(db.crypto_watermark().await.unwrap(), i64::MAX);
        db.journal_insert("1", b"a", &[ev("$a", "!r"), ev("$b", "!s")], CryptoInput::None, 1).await.unwrap();
        db.journal_insert("2", b"b", &[ev("$b", "!s"), ev("$c", "!r")], CryptoInput::Gating, 2).await.unwrap();
        db.journal_insert("3", b"c", &[], CryptoInput::Background, 3).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM room_events").fetch_one(db.pool()).await.unwrap();
        assert_eq!(n, 3, "an event delivered twice is queued once");
        let gating = db.journal_next().await.unwrap().unwrap();
        assert_eq!(gating.txn_id, "2");
        assert_eq!(db.crypto_watermark().await.unwrap(), gating.seq);
        db.journal_done(gating.seq, None, 4).await.unwrap();
        assert_eq!(db.crypto_watermark().await.unwrap(), i64::MAX, "background input gates nothing");
        assert_eq!(db.journal_next().await.unwrap().unwrap().txn_id, "3");
    }

    #[tokio::test]
    async fn crypto_input_is_consumed_once_per_identity() {
        let db = test_db().await;
        assert!(!db.crypto_applied(1, "@g:x").await.unwrap());
        db.mark_crypto_applied(1, "@g:x").await.unwrap();
        db.mark_crypto_applied(1, "@g:x").await.unwrap();
        assert!(db.crypto_applied(1, "@g:x").await.unwrap());
        assert!(!db.crypto_applied(1, "@h:x").await.unwrap());
        assert!(!db.crypto_applied(2, "@g:x").await.unwrap());
    }
}
