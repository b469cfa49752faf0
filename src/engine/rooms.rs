//! The room scheduler: lines of events. In a room, each sender's messages are a line of
//! their own (its *lane*), handled strictly in order; a state event (membership, power
//! levels, encryption) waits for every earlier event of the room and holds every later one.
//! So one sender's messages keep their order, what depends on room state sees it as it was,
//! and several people writing in one room are proxied side by side (the homeserver then
//! takes our writes together instead of one round trip after another). Up to `limit` lines
//! are in hand at once, so a room (or sender) whose homeserver calls are slow or failing holds
//! up nobody else. Each event is handled in a task of its own, so a panic is caught and
//! counted like a failure; an event that keeps failing becomes a dead letter.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use serde_json::Value;
use tokio::{
    sync::{Notify, watch},
    task::JoinSet,
};
use tracing::{Instrument, debug, error, warn};

use super::{DEFER_FOR_MS, backoff_ms};
use crate::{
    bridge::Bridge,
    db::{Db, DbResult, RoomEventRow, Settled, now_ms},
};

/// A panicking event is tried this many times before it becomes a dead letter.
const MAX_PANICS: i64 = 3;

pub(super) async fn run(db: Db, bridge: Bridge, wake: Arc<Notify>, limit: usize, mut shutdown: watch::Receiver<bool>) {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, (String, String)> = HashMap::new();
    loop {
        if *shutdown.borrow() {
            // Finish what is in hand; the rest resumes at the next start.
            while tasks.join_next().await.is_some() {}
            return;
        }
        let busy: HashSet<&(String, String)> = running.values().collect();
        let free = limit.saturating_sub(running.len());
        let mut next_wait = Duration::from_secs(1);
        if free > 0 {
            match ready_lines(&db, (limit * 2) as i64).await {
                Ok(heads) => {
                    let start: Vec<RoomEventRow> = heads
                        .into_iter()
                        .filter(|h| !busy.contains(&(h.room_id.clone(), h.lane.clone())))
                        .take(free)
                        .collect();
                    for head in start {
                        let key = (head.room_id.clone(), head.lane.clone());
                        let line =
                            Line { db: db.clone(), bridge: bridge.clone(), room: key.0.clone(), lane: key.1.clone() };
                        let handle = tasks.spawn(line.run(head));
                        running.insert(handle.id(), key);
                    }
                }
                Err(e) => {
                    error!(error = %e, "reading the room queue failed");
                }
            }
            // A line's first event due later wakes us then; one due now is in a running line
            // (or waits for crypto input), and that line's end or the crypto stage wakes us.
            if let Ok(Some(due)) = db.next_due().await {
                let in_ms = due - now_ms();
                if in_ms > 0 {
                    next_wait = Duration::from_millis(in_ms.clamp(10, 1_000) as u64);
                }
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = shutdown.changed() => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match &done { Ok((id, ())) => *id, Err(e) => e.id() };
                if let Some((room, lane)) = running.remove(&id) {
                    if let Err(e) = done {
                        error!(%room, lane, error = %e, "a line died; it starts again");
                    }
                }
            }
            _ = tokio::time::sleep(next_wait) => {}
        }
    }
}

async fn ready_lines(db: &Db, limit: i64) -> DbResult<Vec<RoomEventRow>> {
    let watermark = db.crypto_watermark().await?;
    db.ready_lines(now_ms(), watermark, limit).await
}

/// One line (a room's state events, or one sender's messages in a room): handles its
/// events in order until none is due.
struct Line {
    db: Db,
    bridge: Bridge,
    room: String,
    /// The sender, or `""` for the room's state events.
    lane: String,
}

impl Line {
    /// Handles `first` (just found ready by the scheduler), then the line's next events.
    async fn run(self, first: RoomEventRow) {
        let mut first = Some(first);
        loop {
            let head = match first.take() {
                Some(row) => Ok(Some(row)),
                None => match self.db.crypto_watermark().await {
                    Ok(watermark) => self.db.line_head(&self.room, &self.lane, now_ms(), watermark).await,
                    Err(e) => Err(e),
                },
            };
            let result = match head {
                Ok(Some(row)) => self.handle(row).await,
                Ok(None) => return,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                error!(room = self.room, lane = self.lane, error = %e, "the queue could not be updated; trying again shortly");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        }
    }

    /// Handles one event and records how that went.
    async fn handle(&self, row: RoomEventRow) -> DbResult<()> {
        let raw: Value = match serde_json::from_str(&row.body) {
            Ok(v) => v,
            Err(e) => return self.give_up(&row, None, &format!("unreadable event: {e}")).await,
        };
        debug!(room = self.room, event_id = row.event_id, "handling an event");
        let bridge = self.bridge.clone();
        let event = raw.clone();
        let arrived = row.received_at;
        // One span per event: every line logged while handling it names the event and room.
        let span = tracing::info_span!("event", event_id = %row.event_id, room = %self.room);
        let handling = crate::metrics::ARRIVED_AT.scope(arrived, async move { bridge.handle_event(&event).await });
        let outcome = tokio::spawn(handling.instrument(span)).await;
        let now = now_ms();
        let attempts = row.attempts + 1;
        match outcome {
            Ok(Ok(settled)) => {
                crate::metrics::event_settled(if settled == Settled::Done { "done" } else { "parked" });
                self.db.settle_event(row.id, settled, now).await
            }
            Ok(Err(e)) if e.is_transient() && now - row.received_at < DEFER_FOR_MS => {
                crate::metrics::event_settled("retry");
                let delay = backoff_ms(row.attempts);
                warn!(room = self.room, event_id = row.event_id, attempts, retry_in_ms = delay, error = %e,
                    "handling an event failed for now; its line waits");
                self.db.defer_event(row.id, attempts, now + delay, &e.to_string()).await
            }
            Ok(Err(e)) if e.is_transient() => {
                self.give_up(
                    &RoomEventRow { attempts, ..row },
                    Some(&raw),
                    &format!("still failing after an hour: {e}"),
                )
                .await
            }
            Ok(Err(e)) => self.give_up(&RoomEventRow { attempts, ..row }, Some(&raw), &e.to_string()).await,
            Err(join) => {
                let why = panic_message(join);
                if attempts >= MAX_PANICS {
                    let reason = format!("handling panicked {attempts} times: {why}");
                    return self.give_up(&RoomEventRow { attempts, ..row }, Some(&raw), &reason).await;
                }
                error!(room = self.room, event_id = row.event_id, attempts, why, "handling an event panicked");
                crate::metrics::event_settled("panicked");
                self.db.defer_event(row.id, attempts, now + backoff_ms(row.attempts), &format!("panicked: {why}")).await
            }
        }
    }

    /// Moves the event to the dead letters and tells its sender (once, and only if they use
    /// the bridge).
    async fn give_up(&self, row: &RoomEventRow, raw: Option<&Value>, reason: &str) -> DbResult<()> {
        let sender = raw.and_then(|r| r.get("sender")).and_then(Value::as_str);
        error!(room = self.room, event_id = row.event_id, attempts = row.attempts, reason, "giving up on an event");
        let first = self.db.dead_letter(row, sender, reason, now_ms()).await?;
        if first {
            crate::metrics::event_settled("dead");
            crate::metrics::metrics().dead_letters.inc();
        }
        if let (true, Some(raw)) = (first, raw) {
            if let Err(e) = self.bridge.tell_dead_letter(raw).await {
                debug!(event_id = row.event_id, error = %e, "could not tell the sender");
            }
        }
        Ok(())
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if !join.is_panic() {
        return join.to_string();
    }
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}
