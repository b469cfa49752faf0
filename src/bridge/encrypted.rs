//! Encrypted rooms on the receiving side: the bot decrypts what users send, then commands and
//! proxying run exactly as in plain rooms. An event whose room key has not arrived is parked
//! in the database and handled when the key comes; after `room_key_wait` the sender is told.

use ruma::{EventId, RoomId};
use serde_json::Value;
use tracing::{info, warn};

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    crypto::Decrypted,
    db::{ParkedEvent, Settled, now_ms},
};

impl Bridge {
    /// Decrypts and handles an encrypted event. Without its room key the event is parked
    /// (the queue takes it up again when a key arrives, and on every sweep) until
    /// `room_key_wait` has passed; then the sender is told.
    pub(super) async fn on_encrypted(&self, raw: &Value, event: &RoomEvent) -> BridgeResult<Settled> {
        let Some(crypto) = &self.crypto else { return Ok(Settled::Done) };
        match crypto.decrypt(&self.settings.bot, raw, &event.room_id).await? {
            Decrypted::Event(decrypted) => {
                self.on_decrypted(event, decrypted).await?;
                Ok(Settled::Done)
            }
            Decrypted::MissingKey { session_id } => {
                let now = now_ms();
                let parked_at = match self.db.parked_event(event.event_id.as_str()).await? {
                    Some(p) => p.parked_at,
                    None => {
                        info!(room = %event.room_id, event_id = %event.event_id, "room key not here yet; parking the event");
                        let parked = ParkedEvent {
                            event_id: event.event_id.to_string(),
                            room_id: event.room_id.to_string(),
                            session_id,
                            event: raw.to_string(),
                            parked_at: now,
                        };
                        self.db.park_event(&parked).await?;
                        now
                    }
                };
                if now - parked_at < self.settings.room_key_wait_ms {
                    // Ask the sender's device at once (a session lasts about 100 messages, and
                    // it re-shares only its current one), and again while we wait.
                    if let Some(content) = raw.get("content") {
                        if let Err(e) =
                            crypto.request_room_key(&self.settings.bot, &event.room_id, &event.sender, content).await
                        {
                            warn!(event_id = %event.event_id, error = %e, "could not ask for the room key");
                        }
                    }
                    return Ok(Settled::Parked);
                }
                warn!(event_id = %event.event_id, "gave up waiting for a room key");
                self.tell_undecryptable(event).await?;
                Ok(Settled::Done)
            }
            Decrypted::Failed(reason) => {
                warn!(room = %event.room_id, event_id = %event.event_id, reason, "cannot decrypt");
                self.tell_undecryptable(event).await?;
                Ok(Settled::Done)
            }
        }
    }

    /// Handles a decrypted event as if it had been sent in the clear.
    async fn on_decrypted(&self, envelope: &RoomEvent, decrypted: Value) -> BridgeResult<()> {
        let kind = decrypted.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
        if kind != "m.room.message" && kind != "m.reaction" {
            return Ok(());
        }
        let mut content = decrypted.get("content").and_then(Value::as_object).cloned().unwrap_or_default();
        // Relations travel in the clear part of an encrypted event.
        if let (None, Some(rel)) = (content.get("m.relates_to"), envelope.content.get("m.relates_to")) {
            content.insert("m.relates_to".to_owned(), rel.clone());
        }
        let inner = RoomEvent { kind: kind.clone(), content, state_key: None, ..envelope.clone() };
        if kind == "m.reaction" { self.on_reaction(&inner).await } else { self.on_message(&inner).await }
    }

    /// The room key of `session_id` arrived: its parked events go back in their room's line.
    pub async fn room_key_arrived(&self, room_id: &RoomId, session_id: &str) -> BridgeResult<u64> {
        Ok(self.db.unpark(Some((room_id.as_str(), session_id))).await?)
    }

    /// Tells a sender who uses the bridge that one of their messages could not be read.
    async fn tell_undecryptable(&self, event: &RoomEvent) -> BridgeResult<()> {
        if self.db.system_for_account(event.sender.as_str()).await?.is_none() {
            return Ok(()); // not one of ours: their messages are none of our business
        }
        let text = "⚠️ I could not decrypt this message (its room key never reached me), so I could not act on it. \
                    If it was a command or meant for a member, please send it again.";
        self.notice(&event.room_id, text, &event.event_id, "notice-undecryptable").await
    }

    /// Fetches an event (as the bot), decrypting it if needed: for edits of earlier messages.
    pub(super) async fn fetch_event(&self, room: &RoomId, id: &EventId) -> BridgeResult<Option<RoomEvent>> {
        let req = ruma::api::client::room::get_room_event::v3::Request::new(room.to_owned(), id.to_owned());
        let raw: Value = match self.hs.send(req, Some(&self.settings.bot)).await {
            Ok(resp) => resp.event.deserialize_as_unchecked().unwrap_or_default(),
            Err(e) if !e.is_transient() => {
                warn!(%room, error = %e, "cannot fetch the event");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let Ok(mut event) = serde_json::from_value::<RoomEvent>(raw.clone()) else { return Ok(None) };
        if event.kind == "m.room.encrypted" {
            let Some(crypto) = &self.crypto else { return Ok(None) };
            match crypto.decrypt(&self.settings.bot, &raw, room).await? {
                Decrypted::Event(d) => {
                    event.kind = d.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
                    event.content = d.get("content").and_then(Value::as_object).cloned().unwrap_or_default();
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(event))
    }
}
