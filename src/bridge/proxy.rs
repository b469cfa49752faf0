//! Proxying: a user's message (or an edit of it) that matches a member's tag, or falls under
//! autoproxy, is re-sent by the member's ghost and the original is redacted.
//!
//! Order matters for "nothing lost": the ghost's message is sent first, recorded, and only
//! then is the original queued for redaction (`redactions`, off the room's line). Each step
//! is recorded as done when it is (see `outbox`), so a retry after a crash or a failure
//! finishes only what is missing and never sends the ghost's message twice.

use ruma::{EventId, OwnedEventId};
use serde_json::Value;
use tracing::info;

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        autoproxy::{self, Decision, LatchUpdate, Mode, Via},
        message::{Content, Rewrite, fits_in_an_event, ghost_content, message_text},
        settings::ProxySwitch,
        tags::{Matching, ProxyTag},
    },
    db::{Member, ProxiedMessage, System, now_ms},
};

impl Bridge {
    pub(super) async fn on_message(&self, event: &RoomEvent) -> BridgeResult<()> {
        let Some(text) = message_text(&event.content) else {
            return Ok(());
        };
        crate::fault::panic_point("message.poison", || text.text.contains("poison-pill"));
        let is_command = crate::core::commands::parse(text.text, &self.settings.command_prefix).is_some();
        if self.denied(event, is_command).await? {
            return Ok(());
        }
        if let Some(original) = text.replaces {
            return self.on_edit(event, original).await;
        }
        if self.run_command_if_any(event, text.text).await? {
            return Ok(());
        }
        if self.confirm_if_pending(event, text.text).await? {
            return Ok(());
        }
        if self.answer_link_if_asked(event, text.text).await? {
            return Ok(());
        }
        let Some(system) = self.db.system_for_account(event.sender.as_str()).await? else {
            return Ok(());
        };
        let kept_tags = self.db.system_tags_kept(system.id).await?;
        let tags: Vec<(i64, ProxyTag)> = kept_tags.iter().map(|(member, tag, _)| (*member, tag.clone())).collect();
        let msg = autoproxy::Message { text: text.text, has_attachment: text.has_attachment, is_edit: false };
        let room = event.room_id.as_str();
        let state = self.db.room_autoproxy(system.id, room).await?.state(&system);
        // Front mode: the first current fronter, read now (a switch takes effect at once).
        let fronters = if state.mode == Mode::Front { self.db.current_fronters(system.id).await? } else { Vec::new() };
        let now = now_ms();
        let timeout = system.config.latch_timeout(self.settings.latch_timeout_ms);
        let how = Matching { case_insensitive: !system.config.case_sensitive_tags };
        let (decision, latch) = autoproxy::decide(msg, &tags, &state, fronters.first().copied(), now, timeout, how);
        self.apply_latch(&system, room, latch).await?;
        let Decision::Proxy { member, via } = decision else {
            return Ok(());
        };
        let Some(chosen) = self.db.member_by_id(member).await? else {
            return Ok(());
        };
        // A member whose autoproxy flag is off is never picked by latch or front mode.
        let by_mode = matches!(state.mode, Mode::Latch | Mode::Front);
        if matches!(via, Via::Autoproxy) && by_mode && !chosen.allow_autoproxy {
            return Ok(());
        }
        let rewrite = match &via {
            Via::Tag { tag, .. }
                if chosen.keep_proxy || kept_tags.iter().any(|(m, t, keep)| *keep && *m == chosen.id && t == *tag) =>
            {
                Rewrite::Keep
            }
            Via::Tag { inner, prefix, suffix, .. } => Rewrite::StripTag { prefix, suffix, inner },
            Via::Autoproxy => Rewrite::Keep,
        };
        let content = ghost_content(&event.content, None, rewrite);
        if !self.proxy(event, &system, &chosen, content, &[&event.event_id]).await? {
            return Ok(());
        }
        self.log_proxy_switch(event, &system, &chosen, &fronters, state.mode == Mode::Front).await
    }

    /// `pk;config proxy switch new|add`: proxying as a member who is not fronting registers a
    /// switch to them (or adds them). Once per message: the switch is keyed by its event.
    async fn log_proxy_switch(
        &self,
        event: &RoomEvent,
        system: &System,
        member: &Member,
        fronters: &[i64],
        fronters_loaded: bool,
    ) -> BridgeResult<()> {
        let action = system.config.proxy_switch();
        if action == ProxySwitch::Off {
            return Ok(());
        }
        let current = if fronters_loaded { fronters.to_vec() } else { self.db.current_fronters(system.id).await? };
        if current.contains(&member.id) {
            return Ok(());
        }
        let members = match action {
            ProxySwitch::Add => current.into_iter().chain([member.id]).collect(),
            _ => vec![member.id],
        };
        let cause = format!("{}:switch", event.event_id);
        self.db.add_switch_caused(system.id, now_ms(), &members, &cause).await?;
        Ok(())
    }

    async fn apply_latch(&self, system: &System, room: &str, update: LatchUpdate<i64>) -> BridgeResult<()> {
        match update {
            LatchUpdate::Keep => Ok(()),
            LatchUpdate::Set(member, at) => Ok(self.db.set_room_latch(system.id, room, Some((member, at))).await?),
            LatchUpdate::Clear => Ok(self.db.set_room_latch(system.id, room, None).await?),
        }
    }

    /// An edit of the user's own unproxied message that now matches a tag becomes a new
    /// ghost message; the original and the edit are both redacted.
    async fn on_edit(&self, edit: &RoomEvent, original_id: &str) -> BridgeResult<()> {
        let Ok(original_id) = EventId::parse(original_id) else {
            return Ok(());
        };
        // An edit of a message already proxied is ignored, unless it is this very edit whose
        // proxying was interrupted (then it has a record of its own and is finished here).
        if self.db.proxied_by_original(original_id.as_str()).await?.is_some()
            && self.db.proxied_by_original(edit.event_id.as_str()).await?.is_none()
        {
            return Ok(());
        }
        let Some(system) = self.db.system_for_account(edit.sender.as_str()).await? else {
            return Ok(());
        };
        let Some(new_content) = edit.content.get("m.new_content").and_then(Value::as_object) else {
            return Ok(());
        };
        let Some(text) = message_text(&edit.content) else {
            return Ok(());
        };
        let tags = self.db.system_tags(system.id).await?;
        let msg = autoproxy::Message { text: text.text, has_attachment: text.has_attachment, is_edit: true };
        let now = now_ms();
        let room = edit.room_id.as_str();
        let state = self.db.room_autoproxy(system.id, room).await?.state(&system);
        let timeout = system.config.latch_timeout(self.settings.latch_timeout_ms);
        let how = Matching { case_insensitive: !system.config.case_sensitive_tags };
        let (decision, latch) = autoproxy::decide(msg, &tags, &state, None, now, timeout, how);
        let Decision::Proxy { member, via: Via::Tag { inner, prefix, suffix, .. } } = decision else {
            return Ok(());
        };
        // The original keeps what clients leave out of edits: media, reply relation.
        let Some(original) = self.fetch_event(&edit.room_id, &original_id).await? else { return Ok(()) };
        let redacted = original.unsigned.contains_key("redacted_because") || original.content.is_empty();
        if original.sender != edit.sender || original.kind != "m.room.message" || redacted {
            return Ok(());
        }
        self.apply_latch(&system, room, latch).await?;
        let Some(member) = self.db.member_by_id(member).await? else {
            return Ok(());
        };
        let rewrite = Rewrite::StripTag { prefix: &prefix, suffix: &suffix, inner: &inner };
        let content = ghost_content(&original.content, Some(new_content), rewrite);
        self.proxy(edit, &system, &member, content, &[&original.event_id, &edit.event_id]).await?;
        Ok(())
    }

    /// Sends `content` as the member's ghost in the event's room, then redacts `originals`.
    /// `false`: the message was too large and stays as it is.
    async fn proxy(
        &self,
        event: &RoomEvent,
        system: &System,
        member: &Member,
        content: Content,
        originals: &[&OwnedEventId],
    ) -> BridgeResult<bool> {
        if !fits_in_an_event(&content) {
            info!(event_id = %event.event_id, "a message too large to proxy was left as it is");
            let text = "⚠️ That message is too large for me to send as a member, so I left it as it is.";
            self.reply(event, text).await?;
            return Ok(false);
        }
        let ghost = self.prepare_ghost(system, &member).await?;
        let room = &event.room_id;
        let record = |ghost_event_id: Option<String>| ProxiedMessage {
            original_event_id: String::new(),
            room_id: room.to_string(),
            ghost_event_id,
            ghost_user_id: ghost.to_string(),
            member_id: Some(member.id),
            system_id: Some(system.id),
            sender: event.sender.to_string(),
        };
        let now = now_ms();
        self.ensure_ghost_in_room(&ghost, room).await?;
        let sent = match self.send_message(room, &ghost, &content, &event.event_id, super::outbox::PROXY_PURPOSE).await
        {
            Err(e) if e.is_forbidden() => {
                // Our joined-room cache was stale (kicked, left): join again and retry once.
                self.db.set_ghost_in_room(ghost.as_str(), room.as_str(), false).await?;
                self.ensure_ghost_in_room(&ghost, room).await?;
                self.send_message(room, &ghost, &content, &event.event_id, super::outbox::PROXY_PURPOSE).await?
            }
            other => other?,
        };
        let rows: Vec<ProxiedMessage> = originals
            .iter()
            .map(|original| ProxiedMessage {
                original_event_id: original.to_string(),
                ..record(Some(sent.to_string()))
            })
            .collect();
        self.db.record_proxied_and_queue_redactions(&rows, event.event_id.as_str(), now).await?;
        self.redactions_queued.notify_one();
        info!(%room, ghost = %ghost, "proxied a message");
        crate::fault::point("proxy.after-send");
        Ok(true)
    }
}

impl super::BridgeError {
    pub(super) fn is_forbidden(&self) -> bool {
        matches!(self, super::BridgeError::Homeserver(e) if e.is_forbidden())
    }
}
