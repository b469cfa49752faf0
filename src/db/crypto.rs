//! Encryption state: crypto identities (device IDs, bootstrap progress), pending device-list
//! changes, rooms (encryption settings, history visibility, members), parked events.

use sqlx::Row;

use super::{Db, DbResult};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CryptoIdentity {
    pub user_id: String,
    pub device_id: String,
    #[sqlx(try_from = "super::Flag")]
    pub device_created: bool,
    #[sqlx(try_from = "super::Flag")]
    pub cross_signing_done: bool,
    pub device_changes_seen: i64,
    /// The private cross-signing keys are in the identity's secret storage.
    #[sqlx(try_from = "super::Flag")]
    pub secrets_stored: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomInfo {
    pub room_id: String,
    pub encryption: Option<String>,
    pub history_visibility: String,
    #[sqlx(try_from = "super::Flag")]
    pub members_loaded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ParkedEvent {
    pub event_id: String,
    pub room_id: String,
    pub session_id: Option<String>,
    pub event: String,
    pub parked_at: i64,
}

/// A room key the bot asked for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRequest {
    pub session_id: String,
    pub room_id: String,
    pub sender: String,
    pub sender_device: String,
    pub sender_key: String,
    pub request_id: String,
    pub sent_at: i64,
    pub attempts: i64,
}

const KEY_REQUEST_COLS: &str = "session_id, room_id, sender, sender_device, sender_key, request_id, sent_at, attempts";

impl Db {
    /// How many crypto identities are in each set-up state (`device-pending`,
    /// `cross-signing-pending`, `ready`), for the metrics.
    pub async fn identity_states(&self) -> DbResult<Vec<(String, i64)>> {
        let rows: Vec<(super::Flag, super::Flag, i64)> = sqlx::query_as(
            "SELECT device_created IS TRUE, cross_signing_done IS TRUE, COUNT(*) FROM crypto_identities \
             GROUP BY device_created, cross_signing_done",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out =
            vec![("device-pending".to_owned(), 0), ("cross-signing-pending".to_owned(), 0), ("ready".to_owned(), 0)];
        for (device, signed, n) in rows {
            let at = match (device.0, signed.0) {
                (false, _) => 0,
                (true, false) => 1,
                (true, true) => 2,
            };
            out[at].1 += n;
        }
        Ok(out)
    }

    pub async fn key_request(&self, session_id: &str) -> DbResult<Option<KeyRequest>> {
        let sql = format!("SELECT {KEY_REQUEST_COLS} FROM key_requests WHERE session_id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(session_id).fetch_optional(self.pool()).await?)
    }

    /// Open requests for sessions of the device with this curve25519 key.
    pub async fn key_requests_by_sender_key(&self, sender_key: &str) -> DbResult<Vec<KeyRequest>> {
        let sql = format!("SELECT {KEY_REQUEST_COLS} FROM key_requests WHERE sender_key = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(sender_key).fetch_all(self.pool()).await?)
    }

    /// Requests asked fewer than `max_attempts` times whose events still wait.
    pub async fn open_key_requests(&self, max_attempts: i64) -> DbResult<Vec<KeyRequest>> {
        let sql = format!(
            "SELECT {KEY_REQUEST_COLS} FROM key_requests k WHERE attempts < $1 \
             AND EXISTS (SELECT 1 FROM parked_events p WHERE p.session_id = k.session_id)"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(max_attempts).fetch_all(self.pool()).await?)
    }

    pub async fn record_key_request(&self, r: &KeyRequest) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO key_requests (session_id, room_id, sender, sender_device, sender_key, request_id, sent_at, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (session_id) DO UPDATE SET sent_at = excluded.sent_at, attempts = excluded.attempts, \
             request_id = excluded.request_id",
        )
        .bind(&r.session_id)
        .bind(&r.room_id)
        .bind(&r.sender)
        .bind(&r.sender_device)
        .bind(&r.sender_key)
        .bind(&r.request_id)
        .bind(r.sent_at)
        .bind(r.attempts)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn forget_key_request(&self, session_id: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM key_requests WHERE session_id = $1").bind(session_id).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn crypto_identity(&self, user_id: &str) -> DbResult<Option<CryptoIdentity>> {
        Ok(sqlx::query_as::<_, CryptoIdentity>(
            "SELECT user_id, device_id, device_created IS TRUE AS device_created, cross_signing_done IS TRUE AS cross_signing_done, \
             device_changes_seen, secrets_stored IS TRUE AS secrets_stored \
             FROM crypto_identities WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a new identity with its device ID (kept if one exists) and returns the stored row.
    /// A new identity has seen every device-list change so far: its machine starts fresh.
    pub async fn create_crypto_identity(&self, user_id: &str, device_id: &str, now: i64) -> DbResult<CryptoIdentity> {
        sqlx::query(
            "INSERT INTO crypto_identities (user_id, device_id, device_changes_seen, created_at) \
             VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) FROM device_list_changes), $3) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(device_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        self.crypto_identity(user_id).await?.ok_or_else(|| super::DbError::Invalid("identity vanished".into()))
    }

    /// The identity's device ID once its device is created on the homeserver. Remembered in
    /// memory from then on: a created device keeps its ID for good (nothing resets
    /// `device_created` or changes `device_id`; whatever starts to must forget it here).
    pub async fn created_device(&self, user_id: &str) -> DbResult<Option<String>> {
        if let Some(device) = self.devices.read().ok().and_then(|d| d.get(user_id).cloned()) {
            return Ok(Some(device));
        }
        let row = self.crypto_identity(user_id).await?.filter(|r| r.device_created);
        if let (Some(row), Ok(mut devices)) = (&row, self.devices.write()) {
            devices.insert(user_id.to_owned(), row.device_id.clone());
        }
        Ok(row.map(|r| r.device_id))
    }

    pub async fn set_device_created(&self, user_id: &str) -> DbResult<()> {
        sqlx::query("UPDATE crypto_identities SET device_created = TRUE WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_secrets_stored(&self, user_id: &str, stored: bool) -> DbResult<()> {
        sqlx::query("UPDATE crypto_identities SET secrets_stored = $1 WHERE user_id = $2")
            .bind(stored)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The identity gets a new device (its store was lost): not created yet, not signed yet,
    /// and it has seen every device-list change so far (its new machine starts fresh).
    pub async fn replace_device(&self, user_id: &str, device_id: &str, secrets_stored: bool) -> DbResult<()> {
        sqlx::query(
            "UPDATE crypto_identities SET device_id = $1, device_created = FALSE, cross_signing_done = FALSE, \
             secrets_stored = $2, device_changes_seen = (SELECT COALESCE(MAX(seq), 0) FROM device_list_changes) \
             WHERE user_id = $3",
        )
        .bind(device_id)
        .bind(secrets_stored)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        if let Ok(mut devices) = self.devices.write() {
            devices.remove(user_id);
        }
        Ok(())
    }

    pub async fn set_cross_signing_done(&self, user_id: &str, done: bool) -> DbResult<()> {
        sqlx::query("UPDATE crypto_identities SET cross_signing_done = $1 WHERE user_id = $2")
            .bind(done)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every identity's (user, device, whether its encryption is set up): which to-device
    /// recipients are ours. A device that only exists (ghosts get one for durable transaction
    /// IDs) has no keys, so nothing is for it yet.
    pub async fn crypto_devices(&self) -> DbResult<Vec<(String, String, bool)>> {
        let rows =
            sqlx::query("SELECT user_id, device_id, device_created AND cross_signing_done FROM crypto_identities")
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get::<super::Flag, _>(2)?.0))).collect()
    }

    pub async fn add_device_list_changes(&self, users: &[String], now: i64) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        for user in users {
            sqlx::query("INSERT INTO device_list_changes (user_id, changed_at) VALUES ($1, $2)")
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Users whose devices changed after `seen`, and the newest sequence number.
    pub async fn device_list_changes_since(&self, seen: i64) -> DbResult<(Vec<String>, i64)> {
        let rows = sqlx::query("SELECT seq, user_id FROM device_list_changes WHERE seq > $1 ORDER BY seq")
            .bind(seen)
            .fetch_all(self.pool())
            .await?;
        let mut users = Vec::with_capacity(rows.len());
        let mut last = seen;
        for r in &rows {
            last = last.max(r.try_get::<i64, _>(0)?);
            let user: String = r.try_get(1)?;
            if !users.contains(&user) {
                users.push(user);
            }
        }
        Ok((users, last))
    }

    pub async fn set_device_changes_seen(&self, user_id: &str, seq: i64) -> DbResult<()> {
        sqlx::query("UPDATE crypto_identities SET device_changes_seen = $1 WHERE user_id = $2")
            .bind(seq)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn room_info(&self, room_id: &str) -> DbResult<Option<RoomInfo>> {
        Ok(sqlx::query_as::<_, RoomInfo>(
            "SELECT room_id, encryption, history_visibility, members_loaded IS TRUE AS members_loaded FROM rooms WHERE room_id = $1",
        )
        .bind(room_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Records a room's encryption and history visibility (from its state).
    pub async fn upsert_room(&self, room_id: &str, encryption: Option<&str>, history: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO rooms (room_id, encryption, history_visibility, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (room_id) DO UPDATE SET encryption = excluded.encryption, \
             history_visibility = excluded.history_visibility, updated_at = excluded.updated_at",
        )
        .bind(room_id)
        .bind(encryption)
        .bind(history)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Updates one field from a state event, if the room is known.
    pub async fn set_room_encryption(&self, room_id: &str, encryption: &str, now: i64) -> DbResult<()> {
        sqlx::query("UPDATE rooms SET encryption = $1, updated_at = $2 WHERE room_id = $3")
            .bind(encryption)
            .bind(now)
            .bind(room_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_room_history_visibility(&self, room_id: &str, history: &str, now: i64) -> DbResult<()> {
        sqlx::query("UPDATE rooms SET history_visibility = $1, updated_at = $2 WHERE room_id = $3")
            .bind(history)
            .bind(now)
            .bind(room_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces the member list of a room (from a full /members answer).
    pub async fn set_room_members(&self, room_id: &str, members: &[(String, String)]) -> DbResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM room_members WHERE room_id = $1").bind(room_id).execute(&mut *tx).await?;
        for (user, membership) in members {
            sqlx::query("INSERT INTO room_members (room_id, user_id, membership) VALUES ($1, $2, $3)")
                .bind(room_id)
                .bind(user)
                .bind(membership)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE rooms SET members_loaded = TRUE WHERE room_id = $1")
            .bind(room_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies one membership event to a room whose members we track.
    pub async fn set_room_member(&self, room_id: &str, user_id: &str, membership: &str) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO room_members (room_id, user_id, membership) VALUES ($1, $2, $3) \
             ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership",
        )
        .bind(room_id)
        .bind(user_id)
        .bind(membership)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Members with one of `memberships` (e.g. join, invite).
    pub async fn room_members(&self, room_id: &str, include_invited: bool) -> DbResult<Vec<String>> {
        let q = if include_invited {
            "SELECT user_id FROM room_members WHERE room_id = $1 AND membership IN ('join', 'invite') ORDER BY user_id"
        } else {
            "SELECT user_id FROM room_members WHERE room_id = $1 AND membership = 'join' ORDER BY user_id"
        };
        Ok(sqlx::query_scalar(q).bind(room_id).fetch_all(self.pool()).await?)
    }

    pub async fn park_event(&self, e: &ParkedEvent) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO parked_events (event_id, room_id, session_id, event, parked_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&e.event_id)
        .bind(&e.room_id)
        .bind(&e.session_id)
        .bind(&e.event)
        .bind(e.parked_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn parked_event(&self, event_id: &str) -> DbResult<Option<ParkedEvent>> {
        Ok(sqlx::query_as::<_, ParkedEvent>(
            "SELECT event_id, room_id, session_id, event, parked_at FROM parked_events WHERE event_id = $1",
        )
        .bind(event_id)
        .fetch_optional(self.pool())
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::ParkedEvent;
    use crate::db::test_db;

    #[tokio::test]
    async fn a_device_counts_once_it_is_created() {
        let db = test_db().await;
        assert_eq!(db.created_device("@g:x").await.unwrap(), None, "no identity");
        db.create_crypto_identity("@g:x", "PMDEV", 1).await.unwrap();
        assert_eq!(db.created_device("@g:x").await.unwrap(), None, "not created on the homeserver yet");
        db.set_device_created("@g:x").await.unwrap();
        assert_eq!(db.created_device("@g:x").await.unwrap().as_deref(), Some("PMDEV"));
        db.create_crypto_identity("@g:x", "OTHER", 2).await.unwrap();
        assert_eq!(db.created_device("@g:x").await.unwrap().as_deref(), Some("PMDEV"), "the ID is kept");
    }

    #[tokio::test]
    async fn identities_and_device_changes() {
        let db = test_db().await;
        db.add_device_list_changes(&["@old:x".into()], 1).await.unwrap();
        let id = db.create_crypto_identity("@g:x", "DEV1", 1).await.unwrap();
        assert_eq!((id.device_id.as_str(), id.device_changes_seen), ("DEV1", 1), "starts after existing changes");
        let again = db.create_crypto_identity("@g:x", "DEV2", 2).await.unwrap();
        assert_eq!(again.device_id, "DEV1", "the device ID is stable");
        db.add_device_list_changes(&["@a:x".into(), "@b:x".into(), "@a:x".into()], 3).await.unwrap();
        let (users, last) = db.device_list_changes_since(id.device_changes_seen).await.unwrap();
        assert_eq!(users, vec!["@a:x".to_owned(), "@b:x".to_owned()]);
        db.set_device_changes_seen("@g:x", last).await.unwrap();
        assert!(db.device_list_changes_since(last).await.unwrap().0.is_empty());
        db.set_device_created("@g:x").await.unwrap();
        db.set_cross_signing_done("@g:x", true).await.unwrap();
        let id = db.crypto_identity("@g:x").await.unwrap().unwrap();
        assert!(id.device_created && id.cross_signing_done);
    }

    #[tokio::test]
    async fn rooms_members_and_parking() {
        let db = test_db().await;
        db.upsert_room("!r:x", Some("{\"algorithm\":\"m.megolm.v1.aes-sha2\"}"), "shared", 1).await.unwrap();
        db.set_room_members("!r:x", &[("@a:x".into(), "join".into()), ("@b:x".into(), "invite".into())]).await.unwrap();
        db.set_room_member("!r:x", "@c:x", "join").await.unwrap();
        db.set_room_member("!r:x", "@a:x", "leave").await.unwrap();
        assert_eq!(db.room_members("!r:x", false).await.unwrap(), vec!["@c:x".to_owned()]);
        assert_eq!(db.room_members("!r:x", true).await.unwrap(), vec!["@b:x".to_owned(), "@c:x".to_owned()]);
        assert!(db.room_info("!r:x").await.unwrap().unwrap().members_loaded);

        let p = ParkedEvent {
            event_id: "$e".into(),
            room_id: "!r:x".into(),
            session_id: Some("S".into()),
            event: "{}".into(),
            parked_at: 5,
        };
        db.park_event(&p).await.unwrap();
        db.park_event(&ParkedEvent { parked_at: 9, ..p.clone() }).await.unwrap();
        assert_eq!(db.parked_event("$e").await.unwrap(), Some(p), "parking again keeps the first time");
        assert!(db.parked_event("$other").await.unwrap().is_none());
    }
}
