//! Destructive commands that wait for the user to type back an ID: deleting a member and
//! deleting a whole system. The pending action is stored per (user, room); the next message
//! of that user in that room settles it.

use ruma::UserId;
use tracing::info;

use super::{
    super::{Bridge, BridgeResult, RoomEvent},
    CONFIRM_WINDOW_MS,
};
use crate::{
    core::replies::{code, md},
    db::{SwitchChange, System, now_ms},
};

/// What a pending confirmation is for.
enum Pending {
    Member(i64),
    System(i64),
    Group(i64),
    /// A change to the switch log, and the answer once it is done.
    Switch(SwitchChange, String),
}

/// The stored form of a switch change waiting for `yes`.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingSwitch {
    change: SwitchChange,
    done: String,
}

pub(super) fn switch_action(change: &SwitchChange, done: &str) -> String {
    let pending = PendingSwitch { change: change.clone(), done: done.to_owned() };
    format!("switch:{}", serde_json::to_string(&pending).unwrap_or_default())
}

/// `yes` and its usual forms.
fn is_yes(text: &str) -> bool {
    matches!(text.trim().to_lowercase().trim_end_matches(['.', '!']), "yes" | "y" | "ok" | "okay" | "confirm")
}

impl Pending {
    fn parse(action: &str) -> Option<Self> {
        if let Some(json) = action.strip_prefix("switch:") {
            let p: PendingSwitch = serde_json::from_str(json).ok()?;
            return Some(Self::Switch(p.change, p.done));
        }
        let (kind, id) = action.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "delete-member" => Some(Self::Member(id)),
            "delete-system" => Some(Self::System(id)),
            "delete-group" => Some(Self::Group(id)),
            _ => None,
        }
    }
}

impl Bridge {
    /// `pk;system delete`: asks for the system's ID.
    pub(super) async fn ask_system_delete(&self, event: &RoomEvent, system: &System) -> BridgeResult<String> {
        let action = format!("delete-system:{}", system.id);
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        self.db.set_confirmation(user, room, &action, now_ms() + CONFIRM_WINDOW_MS).await?;
        let members = self.db.members(system.id).await?.len();
        Ok(format!(
            "⚠️ Delete your system **{}** with its {members} member(s) for good? Their accounts leave every room and \
             lose their names and avatars, and nothing of the system is kept. Send your system's ID {} within 5 \
             minutes to confirm, anything else to cancel.",
            md(system.name.as_deref().unwrap_or("unnamed")),
            code(&system.short_id)
        ))
    }

    /// If the sender has a pending confirmation in this room, settles it with `text`.
    /// Returns whether the message was the confirmation (and so is not proxied). The
    /// confirmation is removed only together with what it confirms (or cancels), and the
    /// answer is recorded like a command's, so a retry repeats nothing.
    pub(in crate::bridge) async fn confirm_if_pending(&self, event: &RoomEvent, text: &str) -> BridgeResult<bool> {
        if let Some(answer) = self.db.command_result(event.event_id.as_str()).await? {
            self.reply(event, &answer).await?;
            return Ok(true);
        }
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        let Some(action) = self.db.pending_confirmation(user, room, now_ms()).await? else {
            return Ok(false);
        };
        let system = self.db.system_for_account(user).await?;
        match (Pending::parse(&action), system) {
            (Some(Pending::Member(id)), Some(system)) => self.confirm_member_delete(event, text, system, id).await,
            (Some(Pending::System(id)), Some(system)) if system.id == id => {
                self.confirm_system_delete(event, text, system).await
            }
            (Some(Pending::Group(id)), Some(system)) => self.confirm_group_delete(event, text, system, id).await,
            (Some(Pending::Switch(change, done)), Some(system)) => {
                self.confirm_switch_change(event, text, &system, change, done).await
            }
            _ => {
                self.db.settle_confirmation(user, room, None).await?;
                Ok(false)
            }
        }
    }

    async fn confirm_member_delete(
        &self,
        event: &RoomEvent,
        text: &str,
        system: System,
        member_id: i64,
    ) -> BridgeResult<bool> {
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        let Some(member) = self.db.member_by_id(member_id).await?.filter(|m| m.system_id == system.id) else {
            self.db.settle_confirmation(user, room, None).await?;
            return Ok(false);
        };
        if !text.trim().eq_ignore_ascii_case(&member.short_id) {
            // Cancelled; the message itself goes on (it may be proxied). Answer first: the
            // answer is sent once, and a retry still finds the confirmation to settle.
            self.reply(event, &format!("Deletion of **{}** cancelled.", md(&member.name))).await?;
            self.db.settle_confirmation(user, room, None).await?;
            return Ok(false);
        }
        for ghost in self.db.ghosts_of_member(member.id).await? {
            if let Ok(ghost) = UserId::parse(ghost.as_str()) {
                self.decommission_ghost(&ghost).await?;
            }
        }
        let answer = Self::deleted_answer(&member, &system);
        let deletion = (member.id, event.event_id.as_str(), answer.as_str(), now_ms());
        self.db.settle_confirmation(user, room, Some(deletion)).await?;
        self.reply(event, &answer).await?;
        Ok(true)
    }

    /// `yes` applies a switch move, edit or delete; anything else cancels it.
    async fn confirm_switch_change(
        &self,
        event: &RoomEvent,
        text: &str,
        system: &System,
        change: SwitchChange,
        done: String,
    ) -> BridgeResult<bool> {
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        if !is_yes(text) {
            self.reply(event, "Switch change cancelled.").await?;
            self.db.settle_confirmation(user, room, None).await?;
            return Ok(false);
        }
        let id = event.event_id.as_str();
        self.db.change_switches_answered(system.id, &change, id, &done, now_ms(), Some((user, room))).await?;
        self.reply(event, &done).await?;
        Ok(true)
    }

    async fn confirm_group_delete(&self, event: &RoomEvent, text: &str, system: System, id: i64) -> BridgeResult<bool> {
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        let group = self.db.groups(system.id).await?.into_iter().find(|g| g.id == id);
        let Some(group) = group else {
            self.db.settle_confirmation(user, room, None).await?;
            return Ok(false);
        };
        if !text.trim().eq_ignore_ascii_case(&group.short_id) {
            self.reply(event, &format!("Deletion of the group **{}** cancelled.", md(&group.name))).await?;
            self.db.settle_confirmation(user, room, None).await?;
            return Ok(false);
        }
        let answer = format!("✅ Group **{}** deleted; its members stay.", md(&group.name));
        let confirmation = Some((user, room));
        self.db.delete_group_answered(group.id, confirmation, event.event_id.as_str(), &answer, now_ms()).await?;
        self.reply(event, &answer).await?;
        Ok(true)
    }

    /// The system's ID typed back: every ghost retires (leaves its rooms, loses its profile,
    /// its device and crypto store), then the database forgets the system in one transaction.
    /// Each step can run again, so a retry after a crash finishes the job.
    async fn confirm_system_delete(&self, event: &RoomEvent, text: &str, system: System) -> BridgeResult<bool> {
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        let name = md(system.name.as_deref().unwrap_or("unnamed"));
        if !text.trim().eq_ignore_ascii_case(&system.short_id) {
            self.reply(event, &format!("Deletion of your system **{name}** cancelled.")).await?;
            self.db.settle_confirmation(user, room, None).await?;
            return Ok(false);
        }
        let answer = format!("✅ Your system **{name}** is deleted. Nothing of it is kept.");
        self.delete_system_now(&system, event, &answer).await?;
        self.reply(event, &answer).await?;
        Ok(true)
    }

    /// Every ghost of `system` retires, then the database forgets the system and records
    /// `answer` for `event` in one transaction. Each step can run again.
    pub(super) async fn delete_system_now(&self, system: &System, event: &RoomEvent, answer: &str) -> BridgeResult<()> {
        let ghosts = self.db.system_ghosts(system.id).await?;
        for ghost in &ghosts {
            if let Ok(ghost) = UserId::parse(ghost.as_str()) {
                self.retire_ghost(&ghost).await?;
            }
        }
        self.db.delete_system_answered(system.id, event.event_id.as_str(), answer, now_ms()).await?;
        info!(system = %system.short_id, ghosts = ghosts.len(), by = %event.sender, "system deleted");
        Ok(())
    }
}
