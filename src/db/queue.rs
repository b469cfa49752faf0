//! The room-event queue (one ordered line per room), dead letters, and the records that make
//! every effect happen once: writes to the homeserver by cause, and command answers.

use super::{Db, DbResult};

/// A queued room event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoomEventRow {
    pub id: i64,
    pub event_id: String,
    pub room_id: String,
    pub lane: String,
    pub journal_seq: i64,
    pub body: String,
    pub received_at: i64,
    pub attempts: i64,
    pub not_before: i64,
}

/// How an event's handling ended, for the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Done,
    /// Waits for its room key; taken up again when a key arrives or by the sweep.
    Parked,
}

const ROW: &str = "e.id, e.event_id, e.room_id, e.lane, e.journal_seq, e.body, e.received_at, e.attempts, e.not_before";

/// `e` is the first pending event of its line: no earlier pending event of its room is in
/// its lane or is a state event (lane `''`), and if `e` is a state event, none at all.
const FIRST_OF_LINE: &str = "NOT EXISTS (SELECT 1 FROM room_events p WHERE p.state = 'pending' \
     AND p.room_id = e.room_id AND p.id < e.id AND (e.lane = '' OR p.lane = '' OR p.lane = e.lane))";

impl Db {
    /// The first events of the lines (room, lane) that may be handled now: due, and not
    /// waiting for crypto input of transaction `watermark` or later. Oldest first, at most
    /// `limit`.
    pub async fn ready_lines(&self, now: i64, watermark: i64, limit: i64) -> DbResult<Vec<RoomEventRow>> {
        let sql = format!(
            "SELECT {ROW} FROM room_events e WHERE e.state = 'pending' \
             AND e.not_before <= $1 AND e.journal_seq < $2 AND {FIRST_OF_LINE} ORDER BY e.id LIMIT $3"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(watermark)
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// When the next deferred first-of-line event becomes due, if any.
    pub async fn next_due(&self) -> DbResult<Option<i64>> {
        let sql = format!("SELECT MIN(e.not_before) FROM room_events e WHERE e.state = 'pending' AND {FIRST_OF_LINE}");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(self.pool()).await?)
    }

    /// The first event of the line (`room_id`, `lane`), if it may be handled now.
    pub async fn line_head(
        &self,
        room_id: &str,
        lane: &str,
        now: i64,
        watermark: i64,
    ) -> DbResult<Option<RoomEventRow>> {
        let sql = format!(
            "SELECT {ROW} FROM room_events e WHERE e.state = 'pending' AND e.room_id = $1 AND e.lane = $2 \
             AND {FIRST_OF_LINE} ORDER BY e.id LIMIT 1"
        );
        let head: Option<RoomEventRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(room_id).bind(lane).fetch_optional(self.pool()).await?;
        Ok(head.filter(|h| h.not_before <= now && h.journal_seq < watermark))
    }

    pub async fn pending_events(&self) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM room_events WHERE state = 'pending'")
            .fetch_one(self.pool())
            .await?)
    }

    /// Settles an event (a parked event that is done also leaves the parking lot).
    pub async fn settle_event(&self, id: i64, how: Settled, now: i64) -> DbResult<()> {
        let state = match how {
            Settled::Done => "done",
            Settled::Parked => "parked",
        };
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE room_events SET state = $1, settled_at = $2 WHERE id = $3")
            .bind(state)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if how == Settled::Done {
            sqlx::query("DELETE FROM parked_events WHERE event_id = (SELECT event_id FROM room_events WHERE id = $1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Leaves an event pending, to be tried again from `not_before` on.
    pub async fn defer_event(&self, id: i64, attempts: i64, not_before: i64, error: &str) -> DbResult<()> {
        sqlx::query("UPDATE room_events SET attempts = $1, not_before = $2, last_error = $3 WHERE id = $4")
            .bind(attempts)
            .bind(not_before)
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Gives up on an event: it moves to the dead letters with `reason`. Returns `false` if
    /// it was there already.
    pub async fn dead_letter(
        &self,
        row: &RoomEventRow,
        sender: Option<&str>,
        reason: &str,
        now: i64,
    ) -> DbResult<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "INSERT INTO dead_letters (event_id, room_id, sender, reason, attempts, body, dead_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&row.event_id)
        .bind(&row.room_id)
        .bind(sender)
        .bind(reason)
        .bind(row.attempts)
        .bind(&row.body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE room_events SET state = 'dead', settled_at = $1, last_error = $2 WHERE id = $3")
            .bind(now)
            .bind(reason)
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM parked_events WHERE event_id = $1").bind(&row.event_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn dead_letter_count(&self) -> DbResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters").fetch_one(self.pool()).await?)
    }

    /// Puts parked events back in their rooms' lines: those of one session (its key came), or
    /// all of them (the periodic sweep). Returns how many.
    pub async fn unpark(&self, session: Option<(&str, &str)>) -> DbResult<u64> {
        let done =
            match session {
                Some((room, session)) => sqlx::query(
                    "UPDATE room_events SET state = 'pending', not_before = 0 WHERE state = 'parked' AND event_id IN \
                 (SELECT event_id FROM parked_events WHERE room_id = $1 AND session_id = $2)",
                )
                .bind(room)
                .bind(session)
                .execute(self.pool())
                .await?,
                None => {
                    sqlx::query("UPDATE room_events SET state = 'pending', not_before = 0 WHERE state = 'parked'")
                        .execute(self.pool())
                        .await?
                }
            };
        Ok(done.rows_affected())
    }

    /// Rooms with events received since `since`.
    pub async fn rooms_active_since(&self, since: i64) -> DbResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT room_id FROM room_events WHERE received_at >= $1 AND room_id != ''")
            .bind(since)
            .fetch_all(self.pool())
            .await?)
    }

    /// The earliest `origin_server_ts` of the room's pushed events received since `since`.
    pub async fn earliest_known_ts(&self, room_id: &str, since: i64) -> DbResult<Option<i64>> {
        let ts = match self.backend() {
            super::Backend::Sqlite => "json_extract(body, '$.origin_server_ts')",
            super::Backend::Postgres => "CAST(CAST(body AS JSONB) ->> 'origin_server_ts' AS BIGINT)",
        };
        let sql =
            format!("SELECT MIN({ts}) FROM room_events WHERE room_id = $1 AND received_at >= $2 AND journal_seq > 0");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(room_id).bind(since).fetch_one(self.pool()).await?)
    }

    /// Whether the event is queued or was handled.
    pub async fn event_known(&self, event_id: &str) -> DbResult<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM room_events WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(found.is_some())
    }

    /// Queues events read back from a room (not pushed), oldest first; returns how many were
    /// new. They wait for no crypto input.
    pub async fn queue_caught_up(&self, events: &[super::QueuedEvent], now: i64) -> DbResult<u64> {
        let mut tx = self.write_tx().await?;
        let mut new = 0;
        for e in events {
            let done = sqlx::query(
                "INSERT INTO room_events (event_id, room_id, lane, journal_seq, body, received_at) \
                 VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&e.event_id)
            .bind(&e.room_id)
            .bind(&e.lane)
            .bind(&e.body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            new += done.rows_affected();
        }
        tx.commit().await?;
        Ok(new)
    }

    /// The result of a write already made for (`cause`, `purpose`).
    pub async fn effect(&self, cause: &str, purpose: &str) -> DbResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT result FROM effects WHERE cause = $1 AND purpose = $2")
            .bind(cause)
            .bind(purpose)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn record_effect(&self, cause: &str, purpose: &str, result: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO effects (cause, purpose, result, done_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cause, purpose) DO NOTHING",
        )
        .bind(cause)
        .bind(purpose)
        .bind(result)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The answer already given to the command in `event_id`.
    pub async fn command_result(&self, event_id: &str) -> DbResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT reply FROM command_results WHERE event_id = $1")
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn record_command_result(&self, event_id: &str, reply: &str, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO command_results (event_id, reply, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(reply)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Settled;
    use crate::db::{CryptoInput, QueuedEvent, test_db};

    /// A state event (the whole room is its line).
    fn ev(id: &str, room: &str) -> QueuedEvent {
        msg(id, room, "")
    }

    fn msg(id: &str, room: &str, sender: &str) -> QueuedEvent {
        QueuedEvent { event_id: id.into(), room_id: room.into(), lane: sender.into(), body: "{}".into() }
    }

    fn line(room: &str, lane: &str) -> (String, String) {
        (room.to_owned(), lane.to_owned())
    }

    async fn ready(db: &crate::db::Db, now: i64, watermark: i64) -> Vec<(String, String)> {
        db.ready_lines(now, watermark, 10).await.unwrap().into_iter().map(|r| (r.room_id, r.lane)).collect()
    }

    /// Regression: the query used SQLite's `json_extract`, and its caller turns an error into
    /// "nothing known", so on PostgreSQL catch-up silently read too far back.
    #[tokio::test]
    async fn the_earliest_known_timestamp_is_read_from_the_event_bodies() {
        let db = test_db().await;
        let at = |id: &str, ts: i64| QueuedEvent {
            event_id: id.into(),
            room_id: "!r".into(),
            lane: "@u".into(),
            body: format!(r#"{{"event_id":"{id}","origin_server_ts":{ts}}}"#),
        };
        db.journal_insert("1", b"x", &[at("$b", 2000), at("$a", 1500), at("$c", 3000)], CryptoInput::None, 50)
            .await
            .unwrap();
        assert_eq!(db.earliest_known_ts("!r", 0).await.unwrap(), Some(1500));
        assert_eq!(db.earliest_known_ts("!r", 51).await.unwrap(), None, "received before `since`");
        assert_eq!(db.earliest_known_ts("!other", 0).await.unwrap(), None);
    }

    #[tokio::test]
    async fn rooms_are_lines_and_a_deferred_head_holds_only_its_room() {
        let db = test_db().await;
        let events = [ev("$a1", "!a"), ev("$b1", "!b"), ev("$a2", "!a")];
        db.journal_insert("1", b"x", &events, CryptoInput::None, 1).await.unwrap();
        assert_eq!(ready(&db, 10, i64::MAX).await, vec![line("!a", ""), line("!b", "")]);
        let head = db.line_head("!a", "", 10, i64::MAX).await.unwrap().unwrap();
        assert_eq!(head.event_id, "$a1");
        db.defer_event(head.id, 1, 100, "homeserver down").await.unwrap();
        assert_eq!(ready(&db, 10, i64::MAX).await, vec![line("!b", "")]);
        assert!(db.line_head("!a", "", 10, i64::MAX).await.unwrap().is_none(), "the room keeps its order");
        assert_eq!(db.next_due().await.unwrap(), Some(0), "!b is due now");
        let b = db.line_head("!b", "", 10, i64::MAX).await.unwrap().unwrap();
        db.settle_event(b.id, Settled::Done, 11).await.unwrap();
        assert_eq!(db.next_due().await.unwrap(), Some(100));
        assert_eq!(db.line_head("!a", "", 100, i64::MAX).await.unwrap().unwrap().event_id, "$a1");
        // Crypto input of transaction 1 not applied: its events wait.
        assert!(ready(&db, 100, 1).await.is_empty());
    }

    #[tokio::test]
    async fn senders_are_lanes_and_state_events_hold_the_whole_room() {
        let db = test_db().await;
        let events = [
            msg("$u1", "!r", "@u"),
            msg("$v1", "!r", "@v"),
            msg("$u2", "!r", "@u"),
            ev("$join", "!r"),
            msg("$v2", "!r", "@v"),
        ];
        db.journal_insert("1", b"x", &events, CryptoInput::None, 1).await.unwrap();
        // Two senders at once; the second message of @u waits for its first.
        assert_eq!(ready(&db, 10, i64::MAX).await, vec![line("!r", "@u"), line("!r", "@v")]);
        let u1 = db.line_head("!r", "@u", 10, i64::MAX).await.unwrap().unwrap();
        assert_eq!(u1.event_id, "$u1");
        let v1 = db.line_head("!r", "@v", 10, i64::MAX).await.unwrap().unwrap();
        db.defer_event(v1.id, 1, 100, "slow").await.unwrap();
        db.settle_event(u1.id, Settled::Done, 11).await.unwrap();
        // @u goes on although @v waits; the state event waits for both.
        assert_eq!(ready(&db, 10, i64::MAX).await, vec![line("!r", "@u")]);
        let u2 = db.line_head("!r", "@u", 10, i64::MAX).await.unwrap().unwrap();
        assert_eq!(u2.event_id, "$u2");
        db.settle_event(u2.id, Settled::Done, 12).await.unwrap();
        assert!(ready(&db, 10, i64::MAX).await.is_empty(), "the state event waits for $v1");
        assert!(db.line_head("!r", "", 10, i64::MAX).await.unwrap().is_none());
        assert_eq!(db.next_due().await.unwrap(), Some(100));
        let v1 = db.line_head("!r", "@v", 100, i64::MAX).await.unwrap().unwrap();
        db.settle_event(v1.id, Settled::Done, 101).await.unwrap();
        // Now the state event, and only it: $v2 comes after it.
        assert_eq!(ready(&db, 101, i64::MAX).await, vec![line("!r", "")]);
        assert!(db.line_head("!r", "@v", 101, i64::MAX).await.unwrap().is_none());
        let join = db.line_head("!r", "", 101, i64::MAX).await.unwrap().unwrap();
        assert_eq!(join.event_id, "$join");
        db.settle_event(join.id, Settled::Done, 102).await.unwrap();
        assert_eq!(db.line_head("!r", "@v", 102, i64::MAX).await.unwrap().unwrap().event_id, "$v2");
    }

    #[tokio::test]
    async fn parked_events_come_back_and_dead_letters_are_final() {
        let db = test_db().await;
        db.journal_insert("1", b"x", &[ev("$p", "!a"), ev("$q", "!a")], CryptoInput::None, 1).await.unwrap();
        let p = db.line_head("!a", "", 1, i64::MAX).await.unwrap().unwrap();
        db.settle_event(p.id, Settled::Parked, 2).await.unwrap();
        assert_eq!(
            db.line_head("!a", "", 2, i64::MAX).await.unwrap().unwrap().event_id,
            "$q",
            "parked ones step aside"
        );
        assert_eq!(db.unpark(None).await.unwrap(), 1);
        let q_head = db.line_head("!a", "", 2, i64::MAX).await.unwrap().unwrap();
        assert_eq!(q_head.event_id, "$p", "back in its place");
        assert!(db.dead_letter(&q_head, Some("@u:x"), "boom", 3).await.unwrap());
        assert!(!db.dead_letter(&q_head, Some("@u:x"), "boom", 3).await.unwrap());
        assert_eq!(db.dead_letter_count().await.unwrap(), 1);
        assert_eq!(db.line_head("!a", "", 3, i64::MAX).await.unwrap().unwrap().event_id, "$q");
    }

    #[tokio::test]
    async fn effects_and_command_results_are_kept() {
        let db = test_db().await;
        assert!(db.effect("$e", "proxy").await.unwrap().is_none());
        db.record_effect("$e", "proxy", "$ghost", 1).await.unwrap();
        db.record_effect("$e", "proxy", "$other", 2).await.unwrap();
        assert_eq!(db.effect("$e", "proxy").await.unwrap().as_deref(), Some("$ghost"), "the first record stays");
        assert!(db.effect("$e", "reply").await.unwrap().is_none());
        db.record_command_result("$c", "✅ done", 1).await.unwrap();
        assert_eq!(db.command_result("$c").await.unwrap().as_deref(), Some("✅ done"));
    }

    /// Regression: a parked event was unparked before it was handled, so a transient failure
    /// lost it. Now it leaves the parking lot only when it is done.
    #[tokio::test]
    async fn a_parked_event_stays_parked_until_it_is_done() {
        let db = test_db().await;
        db.journal_insert("1", b"x", &[ev("$p", "!a")], CryptoInput::None, 1).await.unwrap();
        let parked = crate::db::ParkedEvent {
            event_id: "$p".into(),
            room_id: "!a".into(),
            session_id: Some("S".into()),
            event: "{}".into(),
            parked_at: 1,
        };
        db.park_event(&parked).await.unwrap();
        let row = db.line_head("!a", "", 1, i64::MAX).await.unwrap().unwrap();
        db.settle_event(row.id, Settled::Parked, 2).await.unwrap();
        assert_eq!(db.unpark(Some(("!a", "S"))).await.unwrap(), 1, "its key came");
        let row = db.line_head("!a", "", 2, i64::MAX).await.unwrap().unwrap();
        db.defer_event(row.id, 1, 3, "homeserver down").await.unwrap();
        assert!(db.parked_event("$p").await.unwrap().is_some(), "a failure keeps it");
        let row = db.line_head("!a", "", 3, i64::MAX).await.unwrap().unwrap();
        db.settle_event(row.id, Settled::Done, 4).await.unwrap();
        assert!(db.parked_event("$p").await.unwrap().is_none(), "done: gone");
    }
}
