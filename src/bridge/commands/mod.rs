//! Running room commands: parse (core), act on the database and ghosts, answer in the room.
//! Every outcome, including every error, gets a reply from the bot.

mod autoproxy;
mod fields;
mod member;
mod system;

use ruma::UserId;

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        commands::{self, Command, MemberCommand, SystemCommand},
        replies::{self, md},
    },
    db::now_ms,
};

/// How long a pending delete waits for its confirmation.
pub(super) const CONFIRM_WINDOW_MS: i64 = 5 * 60 * 1000;

const NO_SYSTEM: &str = "You don't have a system yet. Create one with `pk;system new`.";

impl Bridge {
    /// If `text` is a command, runs it and answers. Returns whether it was a command.
    ///
    /// A command runs once per event: its answer is recorded before it is sent, and a retry
    /// (after a crash, or when the answer could not be sent) sends the recorded answer again
    /// instead of running the command again. Commands that create something find what they
    /// made by the event's ID, so even a crash before the answer is recorded repeats nothing.
    pub(super) async fn run_command_if_any(&self, event: &RoomEvent, text: &str) -> BridgeResult<bool> {
        let Some(parsed) = commands::parse(text, &self.settings.command_prefix) else {
            return Ok(false);
        };
        if let Some(answer) = self.db.command_result(event.event_id.as_str()).await? {
            self.reply(event, &answer).await?;
            return Ok(true);
        }
        let answer = match parsed {
            Ok(cmd) => self.run_command(event, cmd).await?,
            Err(e) => format!("❌ {}", e.0),
        };
        // Texts are written with `pk;`; show the configured prefix instead. (A name that itself
        // contains `pk;` would be shown with the other prefix too; harmless.)
        let answer = if self.settings.command_prefix == "pk;" {
            answer
        } else {
            answer.replace("pk;", &self.settings.command_prefix)
        };
        crate::fault::point("command.before-record");
        self.db.record_command_result(event.event_id.as_str(), &answer, now_ms()).await?;
        self.reply(event, &answer).await?;
        Ok(true)
    }

    async fn run_command(&self, event: &RoomEvent, cmd: Command) -> BridgeResult<String> {
        let system = self.db.system_for_account(event.sender.as_str()).await?;
        match cmd {
            Command::Help => Ok(replies::help("pk;")),
            Command::System(SystemCommand::New { name }) => self.system_new(event, system, name).await,
            Command::System(SystemCommand::ShowOther(target)) => self.system_show_other(&event.sender, &target).await,
            Command::System(sub) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.system_command(system, sub).await,
            },
            Command::Member(MemberCommand::Show { member }) if system.is_none() => {
                // Anyone may look up a member by its ID.
                self.member_show_global(&member).await
            }
            Command::Member(sub) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.member_command(event, system, sub).await,
            },
            Command::Autoproxy(arg) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.autoproxy_command(system, arg).await,
            },
        }
    }

    /// If the sender has a pending confirmation in this room, settles it with `text`.
    /// Returns whether the message was the confirmation (and so is not proxied). The
    /// confirmation is removed only together with what it confirms (or cancels), and the
    /// answer is recorded like a command's, so a retry repeats nothing.
    pub(super) async fn confirm_if_pending(&self, event: &RoomEvent, text: &str) -> BridgeResult<bool> {
        if let Some(answer) = self.db.command_result(event.event_id.as_str()).await? {
            self.reply(event, &answer).await?;
            return Ok(true);
        }
        let (user, room) = (event.sender.as_str(), event.room_id.as_str());
        let Some(action) = self.db.pending_confirmation(user, room, now_ms()).await? else {
            return Ok(false);
        };
        let target = action.strip_prefix("delete-member:").and_then(|id| id.parse::<i64>().ok());
        let system = self.db.system_for_account(user).await?;
        let member = match (target, &system) {
            (Some(id), Some(system)) => self.db.member_by_id(id).await?.filter(|m| m.system_id == system.id),
            _ => None,
        };
        let (Some(system), Some(member)) = (system, member) else {
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
}
