//! `pk;export`: the system as PluralKit's `system.json` (v2), sent as a file in the bot's
//! direct-message room with the sender (created, encrypted where encryption is on, the
//! sender invited, if there is none yet), with a short notice where it was asked.

use ruma::{
    OwnedRoomId, RoomId, UserId,
    api::client::{
        room::create_room::{self, v3::RoomPreset},
        state::get_state_event_for_key,
    },
    events::{InitialStateEvent, StateEventType, room::encryption::RoomEncryptionEventContent},
};
use tracing::info;

use super::super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::exchange::pluralkit,
    db::{System, now_ms},
};

impl Bridge {
    pub(super) async fn export(&self, event: &RoomEvent, system: &System) -> BridgeResult<String> {
        let json = pluralkit::write(&self.db.export_system(system).await?);
        let dm = self.dm_room(&event.sender).await?;
        let content = self.file_content(&dm, "system.json", "application/json", json).await?;
        self.send_message(&dm, &self.settings.bot, &content, &event.event_id, "export-file").await?;
        info!(system = %system.short_id, "exported");
        Ok(if *dm == *event.room_id {
            "📤 Here is your export, `system.json` (PluralKit's format).".to_owned()
        } else {
            "📤 I sent your export, `system.json` (PluralKit's format), to our direct chat.".to_owned()
        })
    }

    /// Whether `user` is still joined to (or invited into) `room`; if they left, a new direct
    /// chat is made.
    async fn still_there(&self, room: &RoomId, user: &UserId) -> BridgeResult<bool> {
        let req =
            get_state_event_for_key::v3::Request::new(room.to_owned(), StateEventType::RoomMember, user.to_string());
        match self.hs.send(req, Some(&self.settings.bot)).await {
            Ok(resp) => {
                let state: serde_json::Value = serde_json::from_str(resp.event_or_content.get()).unwrap_or_default();
                Ok(matches!(state.get("membership").and_then(serde_json::Value::as_str), Some("join" | "invite")))
            }
            Err(e) if e.is_transient() => Err(e.into()),
            Err(_) => Ok(false),
        }
    }

    /// The bot's direct-message room with `user`, created (encrypted if encryption is on) and
    /// the user invited the first time.
    pub(in crate::bridge) async fn dm_room(&self, user: &UserId) -> BridgeResult<OwnedRoomId> {
        if let Some(room) = self.db.dm_room(user.as_str()).await? {
            if let Ok(room) = RoomId::parse(room.as_str()) {
                if self.still_there(&room, user).await? {
                    return Ok(room);
                }
            }
        }
        let mut req = create_room::v3::Request::new();
        req.is_direct = true;
        req.invite = vec![user.to_owned()];
        req.preset = Some(RoomPreset::TrustedPrivateChat);
        req.name = Some("pluralmatrix".to_owned());
        if self.crypto.is_some() {
            let encryption = RoomEncryptionEventContent::with_recommended_defaults();
            req.initial_state = vec![InitialStateEvent::with_empty_state_key(encryption).to_raw_any()];
        }
        let room = self.hs.send(req, Some(&self.settings.bot)).await?.room_id;
        self.db.set_dm_room(user.as_str(), room.as_str(), now_ms()).await?;
        info!(%user, %room, "created a direct chat");
        Ok(room)
    }
}
