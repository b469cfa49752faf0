//! Reactions on a ghost's message (PluralKit's): ❌ by an account of the owning system
//! removes the message; ❓/❔ sends the reactor the message's info in a direct chat; 🔔 (🛎
//! ❗ 🏓) pings the account that sent it, unless its system turned pings off. The bot then
//! removes the reaction. Every step is keyed by the reaction's event, so a retry repeats
//! nothing. Reactions from our own accounts are ignored.

use ruma::{EventId, UserId};
use serde_json::{Value, json};
use tracing::debug;

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{message::Content, privacy::Viewer, replies::md},
    db::ProxiedMessage,
};

/// What a reaction asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionAction {
    Delete,
    Info,
    Ping,
}

/// The action of a reaction key; variation selectors do not matter.
pub fn reaction_action(key: &str) -> Option<ReactionAction> {
    let key: String = key.chars().filter(|c| !matches!(c, '\u{FE0F}' | '\u{FE0E}')).collect();
    match key.as_str() {
        "❌" => Some(ReactionAction::Delete),
        "❓" | "❔" => Some(ReactionAction::Info),
        "🔔" | "🛎" | "❗" | "🏓" => Some(ReactionAction::Ping),
        _ => None,
    }
}

impl Bridge {
    pub(super) async fn on_reaction(&self, event: &RoomEvent) -> BridgeResult<()> {
        if self.is_ours(&event.sender) {
            return Ok(());
        }
        let Some(rel) = event.content.get("m.relates_to") else { return Ok(()) };
        let (Some(target), Some(key)) =
            (rel.get("event_id").and_then(Value::as_str), rel.get("key").and_then(Value::as_str))
        else {
            return Ok(());
        };
        let Some(action) = reaction_action(key) else { return Ok(()) };
        let Some(row) = self.db.proxied_by_ghost_event(target).await? else { return Ok(()) };
        // Relations never cross rooms; a reaction that claims to is not about our message.
        if row.room_id != event.room_id.as_str() {
            return Ok(());
        }
        let Ok(target) = EventId::parse(target) else { return Ok(()) };
        let reactor = self.db.system_for_account(event.sender.as_str()).await?;
        let own = reactor.as_ref().is_some_and(|s| row.system_id == Some(s.id));
        match action {
            ReactionAction::Delete if own => {
                if let Ok(ghost) = UserId::parse(row.ghost_user_id.as_str()) {
                    self.redact_as(&event.room_id, &target, "Deleted by its system", &ghost).await?;
                }
            }
            ReactionAction::Delete => return Ok(()),
            ReactionAction::Info => {
                let card = self.info_card(&row, &target, if own { Viewer::Owner } else { Viewer::Other }).await?;
                let dm = self.dm_room(&event.sender).await?;
                let content = super::outbox::notice(&card, None);
                self.send_message(&dm, &self.settings.bot, &content, &event.event_id, "reaction-info").await?;
            }
            ReactionAction::Ping => {
                if !self.ping(event, &row, &target).await? {
                    return Ok(());
                }
            }
        }
        self.remove_reaction(event).await?;
        // Last, so that a retry still finds the message and removes the reaction.
        if action == ReactionAction::Delete {
            self.db.forget_ghost_message(target.as_str()).await?;
        }
        Ok(())
    }

    /// Posts the ping; `false` when the system turned pings off.
    async fn ping(&self, event: &RoomEvent, row: &ProxiedMessage, target: &EventId) -> BridgeResult<bool> {
        let system = match row.system_id {
            Some(id) => self.db.system_by_id(id).await?,
            None => None,
        };
        if !system.as_ref().is_some_and(|s| s.config.pings_enabled) {
            return Ok(false);
        }
        let member = match row.member_id {
            Some(id) => self.db.member_by_id(id).await?.map(|m| m.name),
            None => None,
        };
        let content = ping_content(&row.sender, member.as_deref(), event.sender.as_str(), target);
        self.send_message(&event.room_id, &self.settings.bot, &content, &event.event_id, "reaction-ping").await?;
        Ok(true)
    }

    /// The bot removes the reaction (without the power to, it stays; that is all).
    async fn remove_reaction(&self, event: &RoomEvent) -> BridgeResult<()> {
        match self.redact_as_bot(&event.room_id, &event.event_id, "Handled by pluralmatrix").await {
            Err(e) if e.is_forbidden() => {
                debug!(room = %event.room_id, "cannot remove a reaction here");
                Ok(())
            }
            other => other,
        }
    }
}

/// The ping: a reply to the ghost's message that mentions the account that sent it.
fn ping_content(account: &str, member: Option<&str>, reactor: &str, target: &EventId) -> Content {
    let who = member.map(|m| format!("**{}** ", md(m))).unwrap_or_default();
    let link = format!("[{}](https://matrix.to/#/{account})", md(account));
    let text = format!("🔔 Psst, {who}({link}), you have been pinged by {}.", md(reactor));
    let mut content = super::outbox::notice(&text, Some(target));
    content.insert("msgtype".to_owned(), json!("m.text"));
    content.insert("m.mentions".to_owned(), json!({ "user_ids": [account] }));
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_keys() {
        assert_eq!(reaction_action("❌"), Some(ReactionAction::Delete));
        assert_eq!(reaction_action("❓"), Some(ReactionAction::Info));
        assert_eq!(reaction_action("❔"), Some(ReactionAction::Info));
        assert_eq!(reaction_action("🔔"), Some(ReactionAction::Ping));
        assert_eq!(reaction_action("🛎️"), Some(ReactionAction::Ping), "with U+FE0F");
        assert_eq!(reaction_action("❗"), Some(ReactionAction::Ping));
        assert_eq!(reaction_action("🏓"), Some(ReactionAction::Ping));
        assert_eq!(reaction_action("👍"), None);
        assert_eq!(reaction_action("❌❌"), None);
    }

    #[test]
    fn pings_mention_the_sender() {
        let target = ruma::owned_event_id!("$g:x");
        let c = ping_content("@owner:x", Some("Al*ce"), "@friend:x", &target);
        assert_eq!(c["m.mentions"], json!({"user_ids": ["@owner:x"]}));
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$g:x");
        let body = c["body"].as_str().unwrap();
        assert!(body.contains("@owner:x") && body.contains("Al\\*ce"), "{body}");
    }
}
