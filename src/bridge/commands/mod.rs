//! Running room commands: parse (core), act on the database and ghosts, answer in the room.
//! Every outcome, including every error, gets a reply from the bot.

mod admin;
mod autoproxy;
mod config;
mod confirm;
mod export;
mod fields;
mod front;
mod groups;
mod images;
mod import;
mod links;
mod member;
mod messages;
mod privacy;
mod switches;
mod system;

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        commands::{self, Command, GroupCommand, MemberCommand, SystemCommand},
        replies,
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
            if !answer.is_empty() {
                self.reply(event, &answer).await?;
            }
            return Ok(true);
        }
        let answer = match parsed {
            Ok(cmd) => {
                let cmd = self.with_image_argument(event, cmd).await?;
                self.run_command(event, cmd).await?
            }
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
        crate::metrics::metrics().commands_run.inc();
        self.db.record_command_result(event.event_id.as_str(), &answer, now_ms()).await?;
        // An empty answer: the command did its work and removed itself (`pk;edit`, …).
        if !answer.is_empty() {
            self.reply(event, &answer).await?;
        }
        Ok(true)
    }

    async fn run_command(&self, event: &RoomEvent, cmd: Command) -> BridgeResult<String> {
        let system = self.db.system_for_account(event.sender.as_str()).await?;
        // `pk;config show private off`: the owner's own cards show what others see, unless
        // `-private` asks for everything.
        let hide = system.as_ref().is_some_and(|s| !s.config.show_private);
        let cmd = match cmd {
            Command::PrivateView(card) => *card,
            card if hide && is_own_card(&card) => Command::PublicView(Box::new(card)),
            other => other,
        };
        match cmd {
            Command::Help => Ok(replies::help("pk;")),
            Command::HelpTopic(topic) => Ok(replies::help_topic("pk;", &topic)),
            Command::System(SystemCommand::New { name }) => self.system_new(event, system, name).await,
            Command::System(SystemCommand::ShowOther(target)) => self.system_show_other(&event.sender, &target).await,
            Command::System(SystemCommand::Delete) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.ask_system_delete(event, &system).await,
            },
            Command::System(sub) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.system_command(system, sub).await,
            },
            Command::Member(MemberCommand::Show { member }) if system.is_none() => {
                // Anyone may look up a member by its ID.
                self.member_show_global(&member, None).await
            }
            Command::Member(sub) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.member_command(event, system, sub).await,
            },
            Command::Group(GroupCommand::Show { group }) => self.group_show_any(system.as_ref(), &group).await,
            Command::Group(cmd) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.group_command(event, system, cmd).await,
            },
            Command::Import => self.import(event, system.as_ref()).await,
            Command::Config(value) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.config_command(system, value).await,
            },
            Command::Export => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.export(event, &system).await,
            },
            Command::Link { target } => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.link(event, &system, &target).await,
            },
            Command::Unlink { target } => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.unlink(event, &system, target.as_deref()).await,
            },
            Command::PrivateView(card) => Box::pin(self.run_command(event, *card)).await,
            Command::PublicView(card) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.public_view(&system, *card).await,
            },
            Command::Autoproxy { arg, global } => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.autoproxy_command(event, system, arg, global).await,
            },
            Command::Switch(cmd) => match system {
                None => Ok(NO_SYSTEM.to_owned()),
                Some(system) => self.switch_command(event, system, cmd).await,
            },
            Command::Front(cmd) => self.front_command(&event.sender, system, cmd).await,
            Command::Admin(cmd) => self.admin_command(event, cmd).await,
            Command::Edit { .. } | Command::Reproxy { .. } | Command::Message { .. } => {
                self.message_command(event, system, cmd).await
            }
        }
    }
}

/// A card the sender's own system shows (its own system, or a member or group by name).
fn is_own_card(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::System(SystemCommand::Show)
            | Command::Member(MemberCommand::Show { .. })
            | Command::Group(GroupCommand::Show { .. })
    )
}
