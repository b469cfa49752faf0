//! Encrypted rooms on the receiving side: the bot decrypts what users send, then commands and
//! proxying run exactly as in plain rooms. An event whose room key has not arrived is parked
//! in the database and retried when the key comes; after `room_key_wait` the sender is told.

use ruma::{EventId, RoomId};
use serde_json::Value;
use tracing::{info, warn};

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    crypto::Decrypted,
    db::{ParkedEvent, now_ms},
};

impl Bridge {
    pub(super) async fn on_encrypted(&self, raw: &Value, event: &RoomEvent) -> BridgeResult<()> {
        let Some(crypto) = &self.crypto else { return Ok(()) };
        match crypto.decrypt(&self.settings.bot, raw, &event.room_id).await? {
            Decrypted::Event(decrypted) => self.on_decrypted(event, decrypted).await,
            Decrypted::MissingKey { session_id } => {
                info!(room = %event.room_id, event_id = %event.event_id, "room key not here yet; parking the event");
                let parked = ParkedEvent {
                    event_id: event.event_id.to_string(),
                    room_id: event.room_id.to_string(),
                    session_id,
                    event: raw.to_string(),
                    parked_at: now_ms(),
                };
                Ok(self.db.park_event(&parked).await?)
            }
            Decrypted::Failed(reason) => {
                warn!(room = %event.room_id, event_id = %event.event_id, reason, "cannot decrypt");
                self.tell_undecryptable(event).await
            }
        }
    }

    /// Handles a decrypted event as if it had been sent in the clear.
    async fn on_decrypted(&self, envelope: &RoomEvent, decrypted: Value) -> BridgeResult<()> {
        if decrypted.get("type").and_then(Value::as_str) != Some("m.room.message") {
            return Ok(());
        }
        let content = decrypted.get("content").and_then(Value::as_object).cloned().unwrap_or_default();
        let inner = RoomEvent { kind: "m.room.message".to_owned(), content, state_key: None, ..envelope.clone() };
        self.on_message(&inner).await
    }

    /// The room key of `session_id` arrived: handle the events that waited for it.
    pub async fn retry_parked(&self, room_id: &RoomId, session_id: &str) -> BridgeResult<()> {
        for parked in self.db.parked_for_session(room_id.as_str(), session_id).await? {
            self.retry_one(&parked).await?;
        }
        Ok(())
    }

    /// Retries every parked event, and gives up (telling the sender) on those that waited
    /// longer than the configured time.
    pub async fn sweep_parked(&self) -> BridgeResult<()> {
        let now = now_ms();
        for parked in self.db.parked_events().await? {
            if self.retry_one(&parked).await? {
                continue;
            }
            if now - parked.parked_at > self.settings.room_key_wait_ms {
                self.db.unpark_event(&parked.event_id).await?;
                let Ok(raw) = serde_json::from_str::<Value>(&parked.event) else { continue };
                if let Ok(event) = serde_json::from_value::<RoomEvent>(raw) {
                    warn!(event_id = parked.event_id, "gave up waiting for a room key");
                    self.tell_undecryptable(&event).await?;
                }
            }
        }
        Ok(())
    }

    /// Tries one parked event; `true` if it is settled (decrypted and handled, or hopeless).
    async fn retry_one(&self, parked: &ParkedEvent) -> BridgeResult<bool> {
        let Some(crypto) = &self.crypto else { return Ok(true) };
        let Ok(raw) = serde_json::from_str::<Value>(&parked.event) else {
            self.db.unpark_event(&parked.event_id).await?;
            return Ok(true);
        };
        let Ok(event) = serde_json::from_value::<RoomEvent>(raw.clone()) else {
            self.db.unpark_event(&parked.event_id).await?;
            return Ok(true);
        };
        match crypto.decrypt(&self.settings.bot, &raw, &event.room_id).await? {
            Decrypted::Event(decrypted) => {
                self.db.unpark_event(&parked.event_id).await?;
                info!(event_id = parked.event_id, "room key arrived; handling the parked event");
                self.on_decrypted(&event, decrypted).await?;
                Ok(true)
            }
            Decrypted::MissingKey { .. } => Ok(false),
            Decrypted::Failed(reason) => {
                warn!(event_id = parked.event_id, reason, "parked event cannot be decrypted");
                self.db.unpark_event(&parked.event_id).await?;
                self.tell_undecryptable(&event).await?;
                Ok(true)
            }
        }
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
