//! Reading a room back after the homeserver restarted (see `engine::catch_up`).

use super::{Bridge, BridgeResult};

impl Bridge {
    /// Reads a room's latest events back (as the bot) and queues those we do not know that were
    /// sent at or after `not_before` (ms). Returns how many were queued.
    pub async fn catch_up_room(&self, room: &str, not_before: i64) -> BridgeResult<u64> {
        let Ok(room_id) = ruma::RoomId::parse(room) else { return Ok(0) };
        let mut req = ruma::api::client::message::get_message_events::v3::Request::backward(room_id.clone());
        req.limit = ruma::UInt::from(50u32);
        let page = self.hs.send(req, Some(&self.settings.bot)).await?;
        let mut unknown = Vec::new();
        for raw in page.chunk {
            let Ok(mut event) = raw.deserialize_as_unchecked::<serde_json::Value>() else { continue };
            let Some(id) = event.get("event_id").and_then(serde_json::Value::as_str).map(str::to_owned) else {
                continue;
            };
            let ts = event.get("origin_server_ts").and_then(serde_json::Value::as_i64).unwrap_or(0);
            if ts < not_before {
                break; // newest first: the rest is older still
            }
            if self.db.event_known(&id).await? {
                continue; // a gap may lie behind events we have: keep looking
            }
            if let Some(map) = event.as_object_mut() {
                map.entry("room_id").or_insert_with(|| serde_json::Value::String(room.to_owned()));
            }
            unknown.push(event);
        }
        unknown.reverse();
        let queued = self.events_to_queue(&unknown);
        Ok(self.db.queue_caught_up(&queued, crate::db::now_ms()).await?)
    }
}
