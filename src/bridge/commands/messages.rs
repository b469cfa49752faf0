//! Commands on proxied messages: `pk;edit`, `pk;reproxy`, `pk;message [-delete]`. A ghost
//! message is found by its event ID in the map of proxied messages (a reply names it), or
//! as the system's latest in the room, so this works in encrypted rooms without reading
//! the room's history. Only the owning system may change a message; anyone may ask about it.

use ruma::{EventId, OwnedEventId, RoomId, UserId};
use serde_json::Value;

use super::{
    super::{Bridge, BridgeResult, RoomEvent},
    NO_SYSTEM,
};
use crate::{
    core::{
        commands::{Command, EditHow},
        message::{Rewrite, edit_content, ghost_content},
        privacy::{MemberSubject, SystemSubject, Viewer, name_for},
        replies::{code, md},
        time::format_instant,
    },
    db::{PrivacyOf, ProxiedMessage, System, now_ms},
};

const NOT_FOUND: &str = "❌ I can't find a proxied message of your system to act on. Reply to one of its messages \
                         (or use this in a room where your system has proxied a message).";
const NOT_YOURS: &str = "❌ That message was proxied by another system; only its own system can change it.";

impl Bridge {
    /// `pk;edit`, `pk;reproxy`, `pk;message`. An empty answer: nothing to say (the command
    /// message is removed instead).
    pub(super) async fn message_command(
        &self,
        event: &RoomEvent,
        system: Option<System>,
        cmd: Command,
    ) -> BridgeResult<String> {
        if let Command::Message { target, delete } = cmd {
            return self.message_info(event, system.as_ref(), target.as_deref(), delete).await;
        }
        let Some(system) = system else { return Ok(NO_SYSTEM.to_owned()) };
        let row = self.own_target(event, &system).await?.filter(|r| r.room_id == event.room_id.as_str());
        let Some(row) = row else { return Ok(NOT_FOUND.to_owned()) };
        if row.system_id != Some(system.id) {
            return Ok(NOT_YOURS.to_owned());
        }
        match cmd {
            Command::Edit { text, how } => self.edit_message(event, &row, &text, how).await,
            Command::Reproxy { member } => self.reproxy_message(event, &system, &row, &member).await,
            _ => Ok(String::new()),
        }
    }

    /// The replied-to ghost message, or the system's latest in the room.
    async fn own_target(&self, event: &RoomEvent, system: &System) -> BridgeResult<Option<ProxiedMessage>> {
        match reply_target(&event.content) {
            Some(id) => Ok(self.db.proxied_by_ghost_event(id.as_str()).await?),
            None => Ok(self.db.latest_proxied(event.room_id.as_str(), system.id).await?),
        }
    }

    async fn edit_message(
        &self,
        event: &RoomEvent,
        row: &ProxiedMessage,
        text: &str,
        how: EditHow,
    ) -> BridgeResult<String> {
        let (Some(ghost_event), Ok(ghost)) = (row.ghost_event_id.as_deref(), UserId::parse(row.ghost_user_id.as_str()))
        else {
            return Ok(NOT_FOUND.to_owned());
        };
        let room = &event.room_id;
        let new_text = match how {
            EditHow::Replace => text.to_owned(),
            EditHow::Append | EditHow::Prepend | EditHow::Regex => {
                let Some(old) = self.current_content(room, ghost_event).await? else {
                    return Ok("❌ I can't read that message any more, so I can't change it.".to_owned());
                };
                let body = old.get("body").and_then(Value::as_str).unwrap_or_default();
                let old = crate::core::message::split_reply_fallback(body).1.to_owned();
                match how {
                    EditHow::Append => format!("{old} {text}"),
                    EditHow::Prepend => format!("{text} {old}"),
                    _ => match crate::core::edit::substitute(&old, text) {
                        Ok(new) => new,
                        Err(e) => return Ok(format!("❌ {e}")),
                    },
                }
            }
        };
        if new_text.trim().is_empty() {
            return Ok("❌ An edit can't leave the message empty; `pk;message -delete` removes it.".to_owned());
        }
        let content = edit_content(ghost_event, &new_text);
        if !crate::core::message::fits_in_an_event(&content) {
            return Ok("❌ That edit is too long for one message.".to_owned());
        }
        self.ensure_ghost_in_room(&ghost, room).await?;
        self.send_message(room, &ghost, &content, &event.event_id, "edit").await?;
        self.remove_command(event).await?;
        Ok(String::new())
    }

    async fn reproxy_message(
        &self,
        event: &RoomEvent,
        system: &System,
        row: &ProxiedMessage,
        reference: &str,
    ) -> BridgeResult<String> {
        let member = match self.resolve_member(system, reference).await? {
            Ok(m) => m,
            Err(e) => return Ok(e),
        };
        let Some(old_event) = row.ghost_event_id.as_deref() else { return Ok(NOT_FOUND.to_owned()) };
        let room = &event.room_id;
        // A retry after the new copy went out finds the map already pointing at it.
        let done = self.db.effect(event.event_id.as_str(), "reproxy").await?;
        if row.member_id == Some(member.id) && done.is_none() {
            return Ok(format!("❌ That message is already **{}**'s.", md(&member.name)));
        }
        let Some(content) = self.current_content(room, old_event).await? else {
            return Ok("❌ I can't read that message any more, so I can't send it again.".to_owned());
        };
        let ghost = self.prepare_ghost(system, &member).await?;
        self.ensure_ghost_in_room(&ghost, room).await?;
        let sent = self.send_message(room, &ghost, &content, &event.event_id, "reproxy").await?;
        if sent.as_str() != old_event {
            self.db.reproxied(old_event, sent.as_str(), ghost.as_str(), member.id).await?;
        }
        if let (Ok(old_ghost), Ok(old_id)) = (UserId::parse(row.ghost_user_id.as_str()), EventId::parse(old_event)) {
            self.redact_as(room, &old_id, "Reproxied", &old_ghost).await?;
        }
        // A latch on the old member now holds the new one (PluralKit's reproxy fixes latches).
        let state = self.db.room_autoproxy(system.id, room.as_str()).await?;
        if row.member_id.is_some() && state.latch_member_id == row.member_id {
            self.db.set_room_latch(system.id, room.as_str(), Some((member.id, now_ms()))).await?;
        }
        self.remove_command(event).await?;
        Ok(String::new())
    }

    /// The ghost message's content as it reads now (its latest edit applied).
    pub(in crate::bridge) async fn current_content(
        &self,
        room: &RoomId,
        ghost_event: &str,
    ) -> BridgeResult<Option<crate::core::message::Content>> {
        let Ok(id) = EventId::parse(ghost_event) else { return Ok(None) };
        let Some(original) = self.fetch_event(room, &id).await? else { return Ok(None) };
        if original.unsigned.contains_key("redacted_because") || original.content.is_empty() {
            return Ok(None);
        }
        let latest_edit = original
            .unsigned
            .get("m.relations")
            .and_then(|r| r.get("m.replace"))
            .and_then(|r| r.get("event_id"))
            .and_then(Value::as_str)
            .and_then(|e| EventId::parse(e).ok());
        let edit = match latest_edit {
            Some(e) => self.fetch_event(room, &e).await?,
            None => None,
        };
        let new_content = edit.as_ref().and_then(|e| e.content.get("m.new_content")).and_then(Value::as_object);
        Ok(Some(ghost_content(&original.content, new_content, Rewrite::Keep)))
    }

    /// Queues the command message for redaction (the bot removes it, as PluralKit does).
    async fn remove_command(&self, event: &RoomEvent) -> BridgeResult<()> {
        let (id, room) = (event.event_id.as_str(), event.room_id.as_str());
        self.db.queue_redaction(id, room, id, now_ms()).await?;
        self.redactions_queued.notify_one();
        Ok(())
    }

    /// `pk;message [<event>] [-delete]`: the info card, or the owner deletes the message.
    async fn message_info(
        &self,
        event: &RoomEvent,
        own: Option<&System>,
        target: Option<&str>,
        delete: bool,
    ) -> BridgeResult<String> {
        let id = match target {
            Some(t) => event_id_of(t),
            None => reply_target(&event.content),
        };
        let Some(id) = id else {
            return Ok("❌ Reply to a proxied message with `pk;message`, or give its event ID or link.".to_owned());
        };
        let Some(row) = self.db.proxied_by_ghost_event(id.as_str()).await? else {
            return Ok("❌ That is not a message I proxied.".to_owned());
        };
        let mine = own.is_some_and(|s| row.system_id == Some(s.id));
        if delete {
            if !mine {
                return Ok(NOT_YOURS.to_owned());
            }
            let room = RoomId::parse(row.room_id.as_str()).ok();
            if let (Some(room), Ok(ghost)) = (room, UserId::parse(row.ghost_user_id.as_str())) {
                self.redact_as(&room, &id, "Deleted by its system", &ghost).await?;
            }
            self.db.forget_ghost_message(id.as_str()).await?;
            self.remove_command(event).await?;
            return Ok(String::new());
        }
        self.info_card(&row, &id, if mine { Viewer::Owner } else { Viewer::Other }).await
    }

    /// Who sent a proxied message: member, system, account, time (privacy applied).
    pub(in crate::bridge) async fn info_card(
        &self,
        row: &ProxiedMessage,
        id: &EventId,
        viewer: Viewer,
    ) -> BridgeResult<String> {
        let system = match row.system_id {
            Some(s) => self.db.system_by_id(s).await?,
            None => None,
        };
        let member = match row.member_id {
            Some(m) => self.db.member_by_id(m).await?,
            None => None,
        };
        let mut out = String::from("**Proxied message**\n");
        match &member {
            Some(m) => {
                let p = self.db.privacy::<MemberSubject>(PrivacyOf::Member(m.id)).await?;
                let name = name_for(&m.name, m.display_name.as_deref(), p.get(MemberSubject::Name), viewer);
                out.push_str(&format!("- **Member:** {} ({})\n", md(name), code(&m.short_id)));
            }
            None => out.push_str("- **Member:** *(deleted)*\n"),
        }
        match &system {
            Some(s) => {
                let p = self.db.privacy::<SystemSubject>(PrivacyOf::System(s.id)).await?;
                let name = crate::core::privacy::shown(s.name.as_deref(), p.get(SystemSubject::Name), viewer);
                out.push_str(&format!("- **System:** {} ({})\n", md(name.unwrap_or("unnamed")), code(&s.short_id)));
            }
            None => out.push_str("- **System:** *(deleted)*\n"),
        }
        out.push_str(&format!("- **Sent by:** {}\n", code(&row.sender)));
        if let Some(at) = self.db.proxied_at(id.as_str()).await? {
            let zone = system.as_ref().map(|s| s.config.zone()).unwrap_or(chrono_tz::Tz::UTC);
            out.push_str(&format!("- **Sent:** {}\n", format_instant(at, zone)));
        }
        out.push_str(&format!("- **Message:** {}\n", code(id.as_str())));
        Ok(out)
    }
}

/// The event a message replies to.
pub(in crate::bridge) fn reply_target(content: &crate::core::message::Content) -> Option<OwnedEventId> {
    let id = content.get("m.relates_to")?.get("m.in_reply_to")?.get("event_id")?.as_str()?;
    EventId::parse(id).ok()
}

/// An event ID given as itself or inside a matrix.to link (`…/#/!room:server/$event?via=…`).
fn event_id_of(text: &str) -> Option<OwnedEventId> {
    let text = text.trim().trim_matches(['<', '>']);
    let candidate = match text.rfind('$') {
        Some(i) => &text[i..],
        None => return None,
    };
    let candidate = candidate.split(['?', '/']).next().unwrap_or(candidate);
    let decoded = candidate.replace("%3A", ":").replace("%3a", ":");
    EventId::parse(decoded.as_str()).ok()
}

#[cfg(test)]
mod tests {
    use super::event_id_of;

    #[test]
    fn event_ids_and_links() {
        let want = Some(ruma::owned_event_id!("$abc:example.org"));
        assert_eq!(event_id_of("$abc:example.org"), want);
        assert_eq!(event_id_of("https://matrix.to/#/!room:example.org/$abc:example.org?via=example.org"), want);
        assert_eq!(event_id_of("<https://matrix.to/#/%21room%3Aexample.org/%24abc%3Aexample.org>"), None);
        assert_eq!(event_id_of("hello"), None);
    }
}
