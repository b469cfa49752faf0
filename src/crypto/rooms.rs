//! Encrypted rooms: what we know of each room (encryption settings, history visibility,
//! members — fetched once, then kept current from transactions), encrypting as any identity
//! (track members → query keys → claim one-time keys → share the room key → encrypt), and
//! the bot decrypting what users send.

use std::{future::Future, sync::Arc};

use matrix_sdk_crypto::{
    CollectStrategy, CryptoStoreError, EncryptionSettings, MegolmError, OlmError, OlmMachine,
    types::{events::room::encrypted::EncryptedEvent, requests::ToDeviceRequest},
};
use ruma::{
    OwnedTransactionId, OwnedUserId, RoomId, UserId,
    api::client::{membership::get_member_events, state::get_state_event_for_key},
    events::{
        AnyMessageLikeEventContent, StateEventType,
        room::{encryption::RoomEncryptionEventContent, history_visibility::HistoryVisibility},
    },
    serde::Raw,
};
use serde_json::Value;
use tracing::debug;

use super::{Crypto, CryptoError, requests};
use crate::{
    core::message::Content,
    db::{RoomInfo, now_ms},
};

// The three helpers below exist for the compiler: an iterator of borrowed user IDs awaited
// inside an async fn trips rustc's "Send is not general enough" (rust-lang/rust#102211);
// returning a named `+ Send` future from a plain fn avoids it.

fn track_users<'a>(
    machine: &'a OlmMachine,
    users: &'a [OwnedUserId],
) -> impl Future<Output = Result<(), CryptoStoreError>> + Send + 'a {
    machine.update_tracked_users(users.iter().map(|u| u.as_ref()))
}

fn missing_sessions<'a>(
    machine: &'a OlmMachine,
    users: &'a [OwnedUserId],
) -> impl Future<
    Output = Result<Option<(OwnedTransactionId, ruma::api::client::keys::claim_keys::v3::Request)>, CryptoStoreError>,
> + Send
+ 'a {
    machine.get_missing_sessions(users.iter().map(|u| u.as_ref()))
}

fn share_room_key<'a>(
    machine: &'a OlmMachine,
    room: &'a RoomId,
    users: &'a [OwnedUserId],
    settings: EncryptionSettings,
) -> impl Future<Output = Result<Vec<Arc<ToDeviceRequest>>, OlmError>> + Send + 'a {
    machine.share_room_key(room, users.iter().map(|u| u.as_ref()), settings)
}

/// Which devices receive a ghost's room keys (`encryption.share_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShareWith {
    /// Every device of every member.
    #[default]
    All,
    /// Only devices their owners cross-signed.
    CrossSigned,
}

/// The result of the bot's decryption attempt.
#[derive(Debug)]
pub enum Decrypted {
    /// The event as sent (type, content), with the envelope's IDs.
    Event(Value),
    /// The room key has not arrived (yet); `session_id` names it.
    MissingKey { session_id: Option<String> },
    /// It will never decrypt.
    Failed(String),
}

impl Crypto {
    /// What we know of `room`, fetching its state (as the bot) the first time.
    pub async fn room_info(&self, bot: &UserId, room: &RoomId) -> Result<RoomInfo, CryptoError> {
        if let Some(info) = self.db.room_info(room.as_str()).await?.filter(|i| i.members_loaded) {
            return Ok(info);
        }
        let encryption = self.state_content(bot, room, StateEventType::RoomEncryption).await?;
        let history = self
            .state_content(bot, room, StateEventType::RoomHistoryVisibility)
            .await?
            .and_then(|v| v.get("history_visibility").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| "shared".to_owned());
        self.db.upsert_room(room.as_str(), encryption.map(|e| e.to_string()).as_deref(), &history, now_ms()).await?;
        let resp = self.hs.send(get_member_events::v3::Request::new(room.to_owned()), Some(bot)).await?;
        let members: Vec<(String, String)> = resp
            .chunk
            .iter()
            .filter_map(|e| {
                let v: Value = e.deserialize_as_unchecked().ok()?;
                Some((v.get("state_key")?.as_str()?.to_owned(), v["content"].get("membership")?.as_str()?.to_owned()))
            })
            .collect();
        self.db.set_room_members(room.as_str(), &members).await?;
        self.db.room_info(room.as_str()).await?.ok_or_else(|| CryptoError::Invalid("room vanished".into()))
    }

    async fn state_content(
        &self,
        bot: &UserId,
        room: &RoomId,
        kind: StateEventType,
    ) -> Result<Option<Value>, CryptoError> {
        let req = get_state_event_for_key::v3::Request::new(room.to_owned(), kind, String::new());
        match self.hs.send(req, Some(bot)).await {
            Ok(resp) => Ok(serde_json::from_str::<Value>(resp.event_or_content.get()).ok()),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps room knowledge current from a state event in a transaction (rooms we have not
    /// looked at yet are fetched whole when first needed).
    pub async fn on_state_event(
        &self,
        room: &RoomId,
        kind: &str,
        state_key: &str,
        content: &Content,
    ) -> Result<(), CryptoError> {
        let Some(info) = self.db.room_info(room.as_str()).await? else { return Ok(()) };
        let now = now_ms();
        match kind {
            "m.room.encryption" if info.encryption.is_none() => {
                self.db.set_room_encryption(room.as_str(), &Value::Object(content.clone()).to_string(), now).await?;
            }
            "m.room.history_visibility" => {
                if let Some(h) = content.get("history_visibility").and_then(Value::as_str) {
                    self.db.set_room_history_visibility(room.as_str(), h, now).await?;
                }
            }
            "m.room.member" if info.members_loaded => {
                if let Some(m) = content.get("membership").and_then(Value::as_str) {
                    self.db.set_room_member(room.as_str(), state_key, m).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether `room` is encrypted (fetching its state the first time).
    pub async fn is_encrypted(&self, bot: &UserId, room: &RoomId) -> Result<bool, CryptoError> {
        Ok(self.room_info(bot, room).await?.encryption.is_some())
    }

    /// Encrypts `content` (an `m.room.message`) as `sender` for everyone in `room` who should
    /// read it. Returns the `m.room.encrypted` content, with `m.relates_to` in the clear.
    pub async fn encrypt(
        &self,
        bot: &UserId,
        sender: &UserId,
        room: &RoomId,
        content: &Content,
    ) -> Result<Content, CryptoError> {
        let info = self.room_info(bot, room).await?;
        let Some(encryption) = info.encryption.as_deref() else {
            return Err(CryptoError::Invalid(format!("{room} is not encrypted")));
        };
        let settings_content: RoomEncryptionEventContent =
            serde_json::from_str(encryption).map_err(|e| CryptoError::Invalid(format!("m.room.encryption: {e}")))?;
        let history = HistoryVisibility::from(info.history_visibility.as_str());
        let include_invited = !matches!(history, HistoryVisibility::Joined);
        let members: Vec<OwnedUserId> = self
            .db
            .room_members(room.as_str(), include_invited)
            .await?
            .iter()
            .filter_map(|u| UserId::parse(u.as_str()).ok())
            .collect();
        let machine = self.identity(sender).await?;
        track_users(&machine, &members).await.map_err(|e| CryptoError::Store(e.to_string()))?;
        requests::flush(&self.hs, &machine).await?;
        if let Some((txn_id, claim)) =
            missing_sessions(&machine, &members).await.map_err(|e| CryptoError::Store(e.to_string()))?
        {
            let resp = self.hs.send_as(claim, Some(sender), Some(machine.device_id())).await?;
            machine.mark_request_as_sent(&txn_id, &resp).await.map_err(|e| CryptoError::Store(e.to_string()))?;
        }
        let strategy = match self.share_with {
            ShareWith::All => CollectStrategy::AllDevices,
            ShareWith::CrossSigned => CollectStrategy::IdentityBasedStrategy,
        };
        let settings = EncryptionSettings::new(settings_content, history, strategy);
        let shares =
            share_room_key(&machine, room, &members, settings).await.map_err(|e| CryptoError::Store(e.to_string()))?;
        for share in shares {
            let req = ruma::api::client::to_device::send_event_to_device::v3::Request::new_raw(
                share.event_type.clone(),
                share.txn_id.clone(),
                share.messages.clone(),
            );
            let resp = self.hs.send_as(req, Some(sender), Some(machine.device_id())).await?;
            machine.mark_request_as_sent(&share.txn_id, &resp).await.map_err(|e| CryptoError::Store(e.to_string()))?;
        }
        debug!(%room, %sender, members = members.len(), "room key shared");
        let raw: Raw<AnyMessageLikeEventContent> =
            Raw::new(content).map_err(|e| CryptoError::Invalid(e.to_string()))?.cast_unchecked();
        let encrypted = machine
            .encrypt_room_event_raw(room, "m.room.message", &raw)
            .await
            .map_err(|e| CryptoError::Store(e.to_string()))?;
        encrypted.content.deserialize_as_unchecked::<Content>().map_err(|e| CryptoError::Invalid(e.to_string()))
    }

    /// The bot decrypts an `m.room.encrypted` event.
    pub async fn decrypt(&self, bot: &UserId, event: &Value, room: &RoomId) -> Result<Decrypted, CryptoError> {
        let machine = self.identity(bot).await?;
        let raw: Raw<EncryptedEvent> =
            Raw::new(event).map_err(|e| CryptoError::Invalid(e.to_string()))?.cast_unchecked();
        match machine.decrypt_room_event(&raw, room, &Self::decryption_settings()).await {
            Ok(decrypted) => {
                let mut value: Value =
                    decrypted.event.deserialize_as_unchecked().map_err(|e| CryptoError::Invalid(e.to_string()))?;
                // Relations travel in the clear; make sure the handler sees them.
                if let (Some(rel), Some(content)) =
                    (event["content"].get("m.relates_to"), value.get_mut("content").and_then(Value::as_object_mut))
                {
                    content.entry("m.relates_to").or_insert_with(|| rel.clone());
                }
                Ok(Decrypted::Event(value))
            }
            Err(MegolmError::MissingRoomKey(_)) => Ok(Decrypted::MissingKey {
                session_id: event["content"].get("session_id").and_then(Value::as_str).map(str::to_owned),
            }),
            Err(MegolmError::Store(e)) => Err(CryptoError::Store(e.to_string())),
            Err(e) => Ok(Decrypted::Failed(e.to_string())),
        }
    }
}
