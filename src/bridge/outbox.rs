//! Writes into rooms: messages (as the bot or a ghost; encrypted in encrypted rooms) and
//! redactions, each with a transaction ID derived from the event that caused it, so a retry
//! never duplicates.

use ruma::{
    EventId, OwnedDeviceId, OwnedEventId, OwnedTransactionId, RoomId, UserId,
    api::client::{message::send_message_event, redact::redact_event},
    events::{AnyMessageLikeEventContent, MessageLikeEventType},
    serde::Raw,
};
use serde_json::json;

use super::{Bridge, BridgeError, BridgeResult, RoomEvent};
use crate::{
    core::{ids::txn_id, message::Content},
    db::now_ms,
};

/// The purpose of a ghost's proxied message (counted in the metrics when it goes out).
pub(super) const PROXY_PURPOSE: &str = "proxy";

impl Bridge {
    /// Sends an `m.room.message` as `sender`, once: `purpose` + `cause` make the transaction
    /// ID and key the record of the send, so a retry returns the event sent before.
    pub(super) async fn send_message(
        &self,
        room: &RoomId,
        sender: &UserId,
        content: &Content,
        cause: &EventId,
        purpose: &str,
    ) -> BridgeResult<OwnedEventId> {
        if let Some(done) = self.db.effect(cause.as_str(), purpose).await? {
            if let Ok(id) = EventId::parse(done.as_str()) {
                return Ok(id);
            }
        }
        let txn = OwnedTransactionId::from(txn_id(cause.as_str(), purpose));
        let (sent, encrypted) = self.send_message_now(room, sender, content, txn).await?;
        self.db.record_effect(cause.as_str(), purpose, sent.as_str(), now_ms()).await?;
        if purpose == PROXY_PURPOSE {
            crate::metrics::proxied(encrypted, now_ms());
        }
        Ok(sent)
    }

    async fn send_message_now(
        &self,
        room: &RoomId,
        sender: &UserId,
        content: &Content,
        txn: OwnedTransactionId,
    ) -> BridgeResult<(OwnedEventId, bool)> {
        let bot = &self.settings.bot;
        let (event_type, body) = match &self.crypto {
            Some(crypto) if crypto.is_encrypted(bot, room).await? => {
                (MessageLikeEventType::RoomEncrypted, crypto.encrypt(bot, sender, room, content).await?)
            }
            _ => (MessageLikeEventType::RoomMessage, content.clone()),
        };
        let encrypted = event_type == MessageLikeEventType::RoomEncrypted;
        let raw: Raw<AnyMessageLikeEventContent> =
            Raw::new(&body).map_err(|e| BridgeError::Invalid(format!("message content: {e}")))?.cast_unchecked();
        // The same ID on a retry, even though the ciphertext differs: the homeserver keeps
        // the first and answers with its event ID.
        let req = send_message_event::v3::Request::new_raw(room.to_owned(), txn, event_type, raw);
        let device = self.device_of(sender).await?;
        tracing::debug!(%room, %sender, "sending a message");
        Ok((self.hs.send_as(req, Some(sender), device.as_deref()).await?.event_id, encrypted))
    }

    /// The device `user` writes from, if it has one: with it, the homeserver keeps our
    /// transaction IDs durably (24 h, across its restarts) instead of in memory only.
    async fn device_of(&self, user: &UserId) -> BridgeResult<Option<OwnedDeviceId>> {
        Ok(self.db.created_device(user.as_str()).await?.map(OwnedDeviceId::from))
    }

    /// Redacts `target` as the bot, once (recorded like a send).
    pub(super) async fn redact_as_bot(&self, room: &RoomId, target: &EventId, reason: &str) -> BridgeResult<()> {
        self.redact_as(room, target, reason, &self.settings.bot.clone()).await
    }

    /// Redacts `target` as `user` (a ghost redacting its own message needs no power), once.
    pub(super) async fn redact_as(
        &self,
        room: &RoomId,
        target: &EventId,
        reason: &str,
        user: &UserId,
    ) -> BridgeResult<()> {
        if self.db.effect(target.as_str(), "redact").await?.is_some() {
            return Ok(());
        }
        let txn = OwnedTransactionId::from(txn_id(target.as_str(), "redact"));
        let mut req = redact_event::v3::Request::new(room.to_owned(), target.to_owned(), txn);
        req.reason = Some(reason.to_owned());
        let device = self.device_of(user).await?;
        let resp = self.hs.send_as(req, Some(user), device.as_deref()).await?;
        self.db.record_effect(target.as_str(), "redact", resp.event_id.as_str(), now_ms()).await?;
        Ok(())
    }

    /// The bot answers `to` with a notice (Markdown → plain + HTML), as a reply, pinging nobody.
    pub(super) async fn reply(&self, to: &RoomEvent, markdown: &str) -> BridgeResult<()> {
        let content = notice(markdown, Some(&to.event_id));
        self.send_message(&to.room_id, &self.settings.bot, &content, &to.event_id, "reply").await?;
        Ok(())
    }

    /// The bot posts a notice that answers no message in particular; `cause` keys the
    /// transaction ID.
    pub(super) async fn notice(
        &self,
        room: &RoomId,
        markdown: &str,
        cause: &EventId,
        purpose: &str,
    ) -> BridgeResult<()> {
        let content = notice(markdown, None);
        self.send_message(room, &self.settings.bot, &content, cause, purpose).await?;
        Ok(())
    }
}

/// Notice content from Markdown, optionally as a reply: the Markdown as the plain body, and
/// HTML rendered by `core::replies::render` (which lets no raw HTML through).
pub(super) fn notice(markdown: &str, reply_to: Option<&EventId>) -> Content {
    let mut map = Content::new();
    map.insert("msgtype".to_owned(), json!("m.notice"));
    map.insert("body".to_owned(), json!(markdown));
    map.insert("format".to_owned(), json!("org.matrix.custom.html"));
    map.insert("formatted_body".to_owned(), json!(crate::core::replies::render(markdown)));
    map.insert("m.mentions".to_owned(), json!({}));
    if let Some(id) = reply_to {
        map.insert("m.relates_to".to_owned(), json!({"m.in_reply_to": {"event_id": id}}));
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_replies_without_pings() {
        let id = EventId::parse("$abc:x").unwrap();
        let c = notice("**hi** there", Some(&id));
        assert_eq!(c["msgtype"], "m.notice");
        assert_eq!(c["body"], "**hi** there");
        assert_eq!(c["format"], "org.matrix.custom.html");
        assert!(c["formatted_body"].as_str().unwrap().contains("<strong>hi</strong>"));
        assert_eq!(c["m.mentions"], json!({}));
        assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], "$abc:x");
        assert!(notice("x", None).get("m.relates_to").is_none());
        let sneaky = notice("name: <a href=\"https://evil\">click</a>", None);
        assert!(!sneaky["formatted_body"].as_str().unwrap().contains("<a "), "{sneaky:?}");
    }
}
