//! Proxied messages (original event → ghost event) and one-off room notices.

use super::{Db, DbResult};

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
    /// Records that `original` is being proxied (before the ghost's send, so a crash
    /// mid-way is visible), or updates the record.
    pub async fn record_proxied(&self, m: &ProxiedMessage, now: i64) -> DbResult<()> {
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
    async fn proxied_messages_roundtrip() {
        let db = test_db().await;
        let mut m = ProxiedMessage {
            original_event_id: "$orig".into(),
            room_id: "!r:x".into(),
            ghost_event_id: None,
            ghost_user_id: "@_plural_a_b:x".into(),
            member_id: None,
            system_id: None,
            sender: "@a:x".into(),
        };
        db.record_proxied(&m, 1).await.unwrap();
        m.ghost_event_id = Some("$ghost".into());
        db.record_proxied(&m, 2).await.unwrap();
        assert_eq!(db.proxied_by_original("$orig").await.unwrap(), Some(m));
        assert!(db.proxied_by_original("$nope").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn notices_once() {
        let db = test_db().await;
        assert!(db.notice_once("!r:x", "no-redact", 1).await.unwrap());
        assert!(!db.notice_once("!r:x", "no-redact", 2).await.unwrap());
        assert!(db.notice_once("!r:other", "no-redact", 3).await.unwrap(), "per room");
    }
}
