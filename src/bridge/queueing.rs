//! Which events of a transaction go into the room queue, and in which lane (see
//! `engine::rooms`). Our own writes come back to us from the homeserver: messages and
//! redactions of the bot and the ghosts need no handling and are left out (each would cost a
//! queue row and a turn in its line); their state events (joins) are kept, since membership
//! matters to encryption and to the room's order.

use ruma::UserId;
use serde_json::Value;

use super::Bridge;
use crate::db::QueuedEvent;

impl Bridge {
    /// The room events of a transaction body that need handling, ready for the queue.
    pub fn events_to_queue(&self, events: &[Value]) -> Vec<QueuedEvent> {
        queue_events(events, |user| self.is_ours(user))
    }
}

/// The events that need handling, ready for the queue: not our own writes (`is_ours` tells
/// the bot and the ghosts), and only room events (events without an event or room ID are
/// left out).
pub fn queue_events(events: &[Value], is_ours: impl Fn(&UserId) -> bool) -> Vec<QueuedEvent> {
    events
        .iter()
        .filter(|e| !is_our_write(e, &is_ours))
        .filter_map(|e| {
            let event_id = e.get("event_id")?.as_str()?;
            let room_id = e.get("room_id")?.as_str()?;
            Some(QueuedEvent {
                event_id: event_id.to_owned(),
                room_id: room_id.to_owned(),
                lane: lane(e),
                body: e.to_string(),
            })
        })
        .collect()
}

/// A message, redaction or other non-state event sent by the bot or a ghost.
fn is_our_write(event: &Value, is_ours: impl Fn(&UserId) -> bool) -> bool {
    let sender = event.get("sender").and_then(Value::as_str).and_then(|s| UserId::parse(s).ok());
    event.get("state_key").is_none() && sender.is_some_and(|s| is_ours(&s))
}

/// An event's lane in its room: its sender for messages and other non-state events, `""`
/// (the whole room) for state events and anything without a sender.
fn lane(event: &Value) -> String {
    match (event.get("state_key"), event.get("sender").and_then(Value::as_str)) {
        (None, Some(sender)) => sender.to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::bridge::tests::test_bridge;

    #[tokio::test]
    async fn only_room_events_are_queued() {
        let bridge = test_bridge().await;
        let events = vec![
            json!({"event_id": "$a", "room_id": "!r", "type": "m.room.message", "sender": "@u:x"}),
            json!({"type": "m.presence", "sender": "@u:x"}),
            json!({"event_id": "$b", "type": "m.room.message"}),
        ];
        let q = bridge.events_to_queue(&events);
        assert_eq!(q.len(), 1);
        assert_eq!((q[0].event_id.as_str(), q[0].room_id.as_str()), ("$a", "!r"));
        assert_eq!(serde_json::from_str::<Value>(&q[0].body).unwrap(), events[0]);
    }

    #[tokio::test]
    async fn messages_go_in_their_senders_lane_and_state_events_hold_the_room() {
        let bridge = test_bridge().await;
        let message = json!({"event_id": "$m", "room_id": "!r", "type": "m.room.message", "sender": "@u:x"});
        let join = json!({"event_id": "$j", "room_id": "!r", "type": "m.room.member", "sender": "@u:x",
            "state_key": "@u:x"});
        let empty_key = json!({"event_id": "$n", "room_id": "!r", "type": "m.room.name", "sender": "@u:x",
            "state_key": ""});
        let lanes: Vec<String> =
            bridge.events_to_queue(&[message, join, empty_key]).into_iter().map(|q| q.lane).collect();
        assert_eq!(lanes, ["@u:x", "", ""]);
    }

    #[tokio::test]
    async fn our_own_messages_are_not_queued_but_our_joins_are() {
        let bridge = test_bridge().await;
        let (bot, ghost) = ("@plural_bot:x", "@_plural_s_m:x");
        let events = [
            json!({"event_id": "$1", "room_id": "!r", "type": "m.room.message", "sender": ghost}),
            json!({"event_id": "$2", "room_id": "!r", "type": "m.room.redaction", "sender": bot, "redacts": "$0"}),
            json!({"event_id": "$3", "room_id": "!r", "type": "m.room.encrypted", "sender": ghost}),
            json!({"event_id": "$4", "room_id": "!r", "type": "m.room.member", "sender": ghost, "state_key": ghost}),
            json!({"event_id": "$5", "room_id": "!r", "type": "m.room.message", "sender": "@_plural_s_m:elsewhere"}),
        ];
        let ids: Vec<String> = bridge.events_to_queue(&events).into_iter().map(|q| q.event_id).collect();
        assert_eq!(ids, ["$4", "$5"], "a look-alike from another server is not ours");
    }
}
