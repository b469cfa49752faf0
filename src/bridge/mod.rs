//! The bridge: what the daemon does with each room event taken from the journal. It routes
//! events to membership handling, commands and proxying, and owns loop prevention (the bot
//! and ghosts never trigger anything).

mod access;
mod avatars;
mod catch_up;
mod commands;
mod encrypted;
mod ghosts;
mod media;
mod membership;
mod outbox;
mod proxy;
mod queueing;
mod reactions;
mod redactions;
mod startup;

use std::sync::Arc;

use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, UserId};
use serde::Deserialize;
use serde_json::Value;
use tracing::debug;

use crate::{
    core::{ids::parse_ghost_localpart, message::Content},
    crypto::{Crypto, CryptoError},
    db::{Db, DbError, Settled},
    homeserver::{Homeserver, HsError},
};

pub use access::SharedAccess;
pub use avatars::AvatarFetch;
pub use queueing::queue_events;
pub use startup::StartupError;

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Homeserver(#[from] HsError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Invalid(String),
}

pub type BridgeResult<T> = Result<T, BridgeError>;

impl BridgeError {
    /// Whether handling the event again later could succeed: the homeserver was unreachable
    /// or overloaded, or our database hiccuped.
    pub fn is_transient(&self) -> bool {
        match self {
            BridgeError::Db(e) => e.is_transient(),
            BridgeError::Homeserver(e) => e.is_transient(),
            BridgeError::Crypto(e) => e.is_transient(),
            BridgeError::Invalid(_) => false,
        }
    }
}

/// Settings the bridge needs, taken from the config.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    pub appservice_id: String,
    pub bot: OwnedUserId,
    pub domain: String,
    pub ghost_prefix: String,
    pub command_prefix: String,
    /// 0 = a latch never expires.
    pub latch_timeout_ms: i64,
    /// How long an encrypted event may wait for its room key.
    pub room_key_wait_ms: i64,
    /// Who may use the bridge (`[access]`).
    pub access: SharedAccess,
    /// Members per system.
    pub max_members: usize,
    /// Groups per system (`access.max_groups`).
    pub max_groups: usize,
    /// Fetching imported avatars (`[import]`); `None` when it is off.
    pub avatar_fetch: Option<AvatarFetch>,
}

/// A room event as delivered in a transaction (the fields the bridge reads).
#[derive(Debug, Clone, Deserialize)]
pub struct RoomEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub room_id: OwnedRoomId,
    pub sender: OwnedUserId,
    pub event_id: OwnedEventId,
    #[serde(default)]
    pub content: Content,
    #[serde(default)]
    pub state_key: Option<String>,
    #[serde(default)]
    pub unsigned: Content,
}

#[derive(Debug, Clone)]
pub struct Bridge {
    db: Db,
    hs: Homeserver,
    settings: BridgeSettings,
    /// `None` when encryption is switched off.
    crypto: Option<Arc<Crypto>>,
    /// Notified when proxying queued redactions of originals.
    redactions_queued: Arc<tokio::sync::Notify>,
}

impl Bridge {
    pub fn new(db: Db, hs: Homeserver, settings: BridgeSettings, crypto: Option<Arc<Crypto>>) -> Self {
        Self { db, hs, settings, crypto, redactions_queued: Arc::default() }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn crypto(&self) -> Option<&Arc<Crypto>> {
        self.crypto.as_ref()
    }

    pub fn homeserver(&self) -> &Homeserver {
        &self.hs
    }

    pub fn settings(&self) -> &BridgeSettings {
        &self.settings
    }

    /// Whether `user` is one of ours (the bot or anything in the ghost namespace).
    pub fn is_ours(&self, user: &UserId) -> bool {
        user == self.settings.bot
            || (user.server_name().as_str() == self.settings.domain
                && user.localpart().starts_with(&self.settings.ghost_prefix))
    }

    /// `(system slug, member slug)` if `user` is a well-formed ghost ID of this bridge.
    pub fn ghost_slugs<'u>(&self, user: &'u UserId) -> Option<(&'u str, &'u str)> {
        if user.server_name().as_str() != self.settings.domain {
            return None;
        }
        parse_ghost_localpart(&self.settings.ghost_prefix, user.localpart())
    }

    /// Tells the sender of an event we gave up on that it was not acted on: once (the
    /// notice is keyed by the event), and only for messages of people who use the bridge.
    pub async fn tell_dead_letter(&self, raw: &Value) -> BridgeResult<()> {
        let Ok(event) = serde_json::from_value::<RoomEvent>(raw.clone()) else { return Ok(()) };
        let message = matches!(event.kind.as_str(), "m.room.message" | "m.room.encrypted");
        if !message || self.is_ours(&event.sender) {
            return Ok(());
        }
        if self.db.system_for_account(event.sender.as_str()).await?.is_none() {
            return Ok(());
        }
        let text = "⚠️ Something went wrong while I handled this message, so I could not act on it. If it was a \
                    command or meant for a member, please send it again.";
        self.notice(&event.room_id, text, &event.event_id, "notice-dead-letter").await
    }

    /// Handles one room event. Errors are the caller's to record; they never reach the
    /// homeserver's transaction response.
    pub async fn handle_event(&self, raw: &Value) -> BridgeResult<Settled> {
        let event: RoomEvent = match serde_json::from_value(raw.clone()) {
            Ok(e) => e,
            Err(e) => {
                debug!(error = %e, "skipping an event without the usual room-event fields");
                return Ok(Settled::Done);
            }
        };
        if let (Some(crypto), Some(state_key)) = (&self.crypto, &event.state_key) {
            crypto.on_state_event(&event.room_id, &event.kind, state_key, &event.content).await?;
        }
        match event.kind.as_str() {
            "m.room.member" => self.on_membership(&event).await?,
            "m.room.message" if !self.is_ours(&event.sender) => self.on_message(&event).await?,
            "m.reaction" => self.on_reaction(&event).await?,
            "m.room.encrypted" if !self.is_ours(&event.sender) => return self.on_encrypted(raw, &event).await,
            _ => {}
        }
        Ok(Settled::Done)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A bridge for pure tests: an in-memory database, a homeserver nobody answers at, no
    /// encryption; the bot is `@plural_bot:x`, ghosts `@_plural_…:x`.
    pub(crate) async fn test_bridge() -> Bridge {
        let settings = BridgeSettings {
            appservice_id: "test".into(),
            bot: OwnedUserId::try_from("@plural_bot:x").expect("user ID"),
            domain: "x".into(),
            ghost_prefix: "_plural_".into(),
            command_prefix: "pk;".into(),
            latch_timeout_ms: 0,
            room_key_wait_ms: 0,
            access: SharedAccess::new(crate::core::access::AccessPolicy::new(
                &[],
                &[],
                &[],
                crate::core::access::BotInvites::Anyone,
                "x",
            )),
            max_members: 1000,
            max_groups: 250,
            avatar_fetch: None,
        };
        let hs = Homeserver::new("http://127.0.0.1:9", "token").expect("homeserver client");
        Bridge::new(crate::db::test_db().await, hs, settings, None)
    }
}
