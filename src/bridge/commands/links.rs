//! Linked accounts: `pk;link` asks the other account in the room, mentioning it; only that
//! account's `yes`, as a reply to the question within the time limit, links it. `pk;unlink`
//! removes an account (never the last). Any linked account proxies and runs commands for the
//! system, since every lookup goes by account.

use ruma::{OwnedUserId, UserId};
use serde_json::{Value, json};
use tracing::info;

use super::{
    super::{Bridge, BridgeResult, RoomEvent, outbox::notice},
    CONFIRM_WINDOW_MS,
};
use crate::{
    core::replies::{code, md},
    db::{System, now_ms},
};

/// A user ID from an argument: `@bob:server`, or `@bob` on the sender's server.
pub(super) fn user_arg(arg: &str, sender: &UserId) -> Option<OwnedUserId> {
    let full = if arg.contains(':') { arg.to_owned() } else { format!("{arg}:{}", sender.server_name()) };
    UserId::parse(full).ok()
}

/// Whether a message says yes.
fn is_yes(text: &str) -> bool {
    matches!(text.trim().trim_end_matches(['.', '!']).to_lowercase().as_str(), "yes" | "y" | "yes please" | "accept")
}

impl Bridge {
    pub(super) async fn link(&self, event: &RoomEvent, system: &System, target: &str) -> BridgeResult<String> {
        let Some(target) = user_arg(target, &event.sender) else {
            return Ok(format!("❌ {} is not a Matrix user ID like `@bob:example.org`.", code(target)));
        };
        if target == event.sender {
            return Ok("❌ That is your own account.".to_owned());
        }
        if self.is_ours(&target) {
            return Ok("❌ The bot and member accounts can't be linked.".to_owned());
        }
        if let Some(theirs) = self.db.system_for_account(target.as_str()).await? {
            return Ok(if theirs.id == system.id {
                format!("{} is already linked to your system.", code(target.as_str()))
            } else {
                format!("❌ {} already has a system of its own; it has to delete it first.", code(target.as_str()))
            });
        }
        let cause = event.event_id.as_str();
        let expires = now_ms() + CONFIRM_WINDOW_MS;
        self.db.add_pending_link(cause, system.id, target.as_str(), event.room_id.as_str(), expires).await?;
        let question = format!(
            "{}, {} wants to link your account to their system **{}**: you could then proxy and run commands for it. \
             Reply `yes` to this message within 5 minutes to accept; anything else does nothing.",
            code(target.as_str()),
            code(event.sender.as_str()),
            md(system.name.as_deref().unwrap_or("unnamed"))
        );
        // Sent here, with a mention of the other account; the command's recorded answer is
        // the same text, and the generic reply finds this send already done (same purpose).
        let mut content = notice(&question, Some(&event.event_id));
        content.insert("m.mentions".to_owned(), json!({"user_ids": [target.as_str()]}));
        self.send_message(&event.room_id, &self.settings.bot, &content, &event.event_id, "reply").await?;
        Ok(question)
    }

    /// A `yes` from the asked account, as a reply to the bot's question: links it. Returns
    /// whether the message was such an answer (it is then neither a command nor proxied).
    pub(in crate::bridge) async fn answer_link_if_asked(&self, event: &RoomEvent, text: &str) -> BridgeResult<bool> {
        let replied_to =
            event.content.get("m.relates_to").and_then(|r| r.get("m.in_reply_to")).and_then(|r| r.get("event_id"));
        let Some(question) = replied_to.and_then(Value::as_str) else { return Ok(false) };
        if !is_yes(text) {
            return Ok(false);
        }
        if let Some(answer) = self.db.command_result(event.event_id.as_str()).await? {
            self.reply(event, &answer).await?;
            return Ok(true);
        }
        let Some(link) = self.db.pending_link(question, event.sender.as_str(), now_ms()).await? else {
            return Ok(false);
        };
        let name = match self.db.system_by_id(link.system_id).await? {
            Some(s) => md(s.name.as_deref().unwrap_or("unnamed")),
            None => return Ok(false),
        };
        let answer = format!("✅ Your account is now linked to the system **{name}**.");
        let linked = self.db.accept_link(&link, event.event_id.as_str(), &answer, now_ms()).await?;
        info!(system = link.system_id, account = %event.sender, linked, "link answered");
        self.reply(event, &answer).await?;
        Ok(true)
    }

    pub(super) async fn unlink(
        &self,
        event: &RoomEvent,
        system: &System,
        target: Option<&str>,
    ) -> BridgeResult<String> {
        let target = match target {
            None => event.sender.clone(),
            Some(arg) => match user_arg(arg, &event.sender) {
                Some(t) => t,
                None => return Ok(format!("❌ {} is not a Matrix user ID.", code(arg))),
            },
        };
        let accounts = self.db.system_accounts(system.id).await?;
        if !accounts.iter().any(|a| a == target.as_str()) {
            return Ok(format!("❌ {} is not linked to your system.", code(target.as_str())));
        }
        if !self.db.unlink_account(system.id, target.as_str()).await? {
            return Ok("❌ That is your system's last account; a system always keeps one.".to_owned());
        }
        Ok(format!("✅ {} is no longer linked to your system.", code(target.as_str())))
    }
}
