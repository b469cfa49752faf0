//! Running room commands: parse (core), act on the database and ghosts, answer in the room.
//! Every outcome, including every error, gets a reply from the bot.

use ruma::UserId;
use tracing::warn;

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        autoproxy::Mode,
        command::{self, AutoproxyArg, Command, MemberCommand, ProxyAction, SystemCommand},
        replies::{self, MemberCard, MemberLine, SystemCard, code, md},
        tags::ProxyTag,
    },
    db::{Member, System, now_ms},
};

/// How long a pending delete waits for its confirmation.
const CONFIRM_WINDOW_MS: i64 = 5 * 60 * 1000;

const NO_SYSTEM: &str = "You don't have a system yet. Create one with `pk;system new`.";

impl Bridge {
    /// If `text` is a command, runs it and answers. Returns whether it was a command.
    ///
    /// A command runs once per event: its answer is recorded before it is sent, and a retry
    /// (after a crash, or when the answer could not be sent) sends the recorded answer again
    /// instead of running the command again. Commands that create something find what they
    /// made by the event's ID, so even a crash before the answer is recorded repeats nothing.
    pub(super) async fn run_command_if_any(&self, event: &RoomEvent, text: &str) -> BridgeResult<bool> {
        let Some(parsed) = command::parse(text, &self.settings.command_prefix) else {
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

    async fn system_new(
        &self,
        event: &RoomEvent,
        existing: Option<System>,
        name: Option<String>,
    ) -> BridgeResult<String> {
        let sender = &event.sender;
        let cause = event.event_id.as_str();
        if let Some(refusal) = self.system_creation_refused(sender) {
            return Ok(refusal);
        }
        if let Some(s) = existing.filter(|s| s.created_by_event.as_deref() != Some(cause)) {
            return Ok(format!(
                "You already have a system, **{}** (ID {}). See it with `pk;system`.",
                md(s.name.as_deref().unwrap_or("unnamed")),
                code(&s.short_id)
            ));
        }
        let s =
            self.db.create_system(sender.as_str(), sender.localpart(), name.as_deref(), Some(cause), now_ms()).await?;
        Ok(format!(
            "✅ System created: **{}** (ID {}, slug {}).\n\nNext: add a member with `pk;member new <name>`, then give \
             it a proxy tag with `pk;member <name> proxy a:text`.\n\nNote: proxied messages are sent by accounts on \
             this homeserver, so its administrators can read what you send through them, also in encrypted rooms.",
            md(s.name.as_deref().unwrap_or("unnamed")),
            code(&s.short_id),
            code(&s.slug)
        ))
    }

    async fn system_card(&self, system: &System) -> BridgeResult<String> {
        let members = self.db.members(system.id).await?;
        let accounts = self.db.system_accounts(system.id).await?;
        let autoproxy = self.autoproxy_description(system).await?;
        Ok(replies::system_card(&SystemCard {
            name: system.name.as_deref(),
            short_id: &system.short_id,
            slug: &system.slug,
            tag: system.tag.as_deref(),
            member_count: members.len(),
            autoproxy: &autoproxy,
            accounts: &accounts,
        }))
    }

    async fn system_show_other(&self, sender: &UserId, target: &str) -> BridgeResult<String> {
        let found = if target.starts_with('@') {
            // `@bob` means bob on the sender's server.
            let full =
                if target.contains(':') { target.to_owned() } else { format!("{target}:{}", sender.server_name()) };
            self.db.system_for_account(&full).await?
        } else {
            self.db.system_by_reference(target).await?
        };
        match found {
            Some(system) => self.system_card(&system).await,
            None => Ok(format!("❌ No system found for {}.", code(target))),
        }
    }

    async fn system_command(&self, system: System, cmd: SystemCommand) -> BridgeResult<String> {
        match cmd {
            SystemCommand::Show => self.system_card(&system).await,
            SystemCommand::Rename { name } => {
                self.db.set_system_name(system.id, Some(&name)).await?;
                Ok(format!("✅ System renamed to **{}**.", md(&name)))
            }
            SystemCommand::Tag(None) => Ok(match &system.tag {
                Some(tag) => format!("Your system tag is {}.", code(tag)),
                None => "Your system has no tag. Set one with `pk;system tag <tag>`.".to_owned(),
            }),
            SystemCommand::Tag(Some(tag)) => {
                self.db.set_system_tag(system.id, tag.as_deref()).await?;
                let updated = self.db.system_by_id(system.id).await?.unwrap_or(system);
                self.resync_system_ghosts(&updated).await;
                Ok(match tag {
                    Some(t) => format!(
                        "✅ System tag set to {}. Member names now show as {}.",
                        code(&t),
                        code(&format!("<name> {t}"))
                    ),
                    None => "✅ System tag cleared.".to_owned(),
                })
            }
            SystemCommand::List => {
                let members = self.db.members(system.id).await?;
                let mut tags = Vec::with_capacity(members.len());
                for m in &members {
                    tags.push(self.db.member_tags(m.id).await?);
                }
                let lines: Vec<MemberLine<'_>> = members
                    .iter()
                    .zip(&tags)
                    .map(|(m, t)| MemberLine { name: &m.name, short_id: &m.short_id, tags: t })
                    .collect();
                Ok(replies::member_list(system.name.as_deref(), &lines))
            }
            SystemCommand::New { .. } | SystemCommand::ShowOther(_) => Ok(String::new()), // handled above
        }
    }

    /// Updates every ghost of the system (after a tag change). Failures are logged: the next
    /// proxied message retries them.
    async fn resync_system_ghosts(&self, system: &System) {
        let Ok(members) = self.db.members(system.id).await else {
            return;
        };
        for m in members {
            if let Err(e) = self.prepare_ghost(system, &m).await {
                warn!(member = %m.short_id, error = %e, "could not update the ghost's profile");
            }
        }
    }

    async fn resolve_member(&self, system: &System, reference: &str) -> BridgeResult<Result<Member, String>> {
        Ok(match self.db.find_member(system.id, reference).await? {
            Some(m) => Ok(m),
            None => Err(format!(
                "❌ No member {} in your system. Members are named by name, slug or ID; see `pk;system list`.",
                code(reference)
            )),
        })
    }

    async fn member_card(&self, member: &Member, system: &System) -> BridgeResult<String> {
        let tags = self.db.member_tags(member.id).await?;
        let ghost = self.ghost_id(system, member)?;
        Ok(replies::member_card(&MemberCard {
            name: &member.name,
            display_name: member.display_name.as_deref(),
            short_id: &member.short_id,
            slug: &member.slug,
            ghost: ghost.as_str(),
            tags: &tags,
            avatar: member.avatar_url.as_deref(),
            system_name: system.name.as_deref(),
        }))
    }

    async fn member_show_global(&self, reference: &str) -> BridgeResult<String> {
        let Some(member) = self.db.member_by_short_id(reference).await? else {
            return Ok(format!("❌ No member with ID {}.", code(reference)));
        };
        let Some(system) = self.db.system_by_id(member.system_id).await? else {
            return Ok(format!("❌ No member with ID {}.", code(reference)));
        };
        self.member_card(&member, &system).await
    }

    /// A one-line hint showing how to refer to a member in a command.
    fn member_ref(member: &Member) -> String {
        if member.name.contains(char::is_whitespace) || member.name.contains('"') {
            member.short_id.clone()
        } else {
            member.name.clone()
        }
    }

    async fn member_command(&self, event: &RoomEvent, system: System, cmd: MemberCommand) -> BridgeResult<String> {
        let reference = match &cmd {
            MemberCommand::New { name } => return self.member_new(event, &system, name).await,
            MemberCommand::Show { member }
            | MemberCommand::Proxy { member, .. }
            | MemberCommand::Rename { member, .. }
            | MemberCommand::DisplayName { member, .. }
            | MemberCommand::Avatar { member, .. }
            | MemberCommand::Delete { member, .. } => member.clone(),
        };
        let member = match self.resolve_member(&system, &reference).await? {
            Ok(m) => m,
            Err(message) if matches!(cmd, MemberCommand::Show { .. }) => {
                // Not ours: maybe another system's member, by ID.
                return match self.db.member_by_short_id(&reference).await? {
                    Some(_) => self.member_show_global(&reference).await,
                    None => Ok(message),
                };
            }
            Err(message) => return Ok(message),
        };
        match cmd {
            MemberCommand::New { .. } => Ok(String::new()), // handled above
            MemberCommand::Show { .. } => self.member_card(&member, &system).await,
            MemberCommand::Proxy { action, .. } => self.member_proxy(&system, &member, action).await,
            MemberCommand::Rename { name, .. } => {
                self.db.rename_member(member.id, &name).await?;
                self.refresh_ghost(&system, member.id).await;
                Ok(format!("✅ **{}** is now called **{}**.", md(&member.name), md(&name)))
            }
            MemberCommand::DisplayName { name: None, .. } => Ok(match &member.display_name {
                Some(dn) => format!("**{}** is shown as **{}**.", md(&member.name), md(dn)),
                None => format!("**{}** has no display name; the name is shown.", md(&member.name)),
            }),
            MemberCommand::DisplayName { name: Some(name), .. } => {
                self.db.set_member_display_name(member.id, name.as_deref()).await?;
                self.refresh_ghost(&system, member.id).await;
                Ok(match name {
                    Some(n) => format!("✅ **{}** is now shown as **{}**.", md(&member.name), md(&n)),
                    None => format!("✅ Display name of **{}** cleared.", md(&member.name)),
                })
            }
            MemberCommand::Avatar { url: None, .. } => Ok(match &member.avatar_url {
                Some(u) => format!("Avatar of **{}**: {}", md(&member.name), code(u)),
                None => format!("**{}** has no avatar.", md(&member.name)),
            }),
            MemberCommand::Avatar { url: Some(url), .. } => {
                self.db.set_member_avatar(member.id, url.as_deref()).await?;
                self.refresh_ghost(&system, member.id).await;
                Ok(match url {
                    Some(_) => format!("✅ Avatar of **{}** updated.", md(&member.name)),
                    None => format!("✅ Avatar of **{}** cleared.", md(&member.name)),
                })
            }
            MemberCommand::Delete { confirmed: true, .. } => self.member_delete(event, &member, &system).await,
            MemberCommand::Delete { confirmed: false, .. } => {
                let action = format!("delete-member:{}", member.id);
                self.db
                    .set_confirmation(
                        event.sender.as_str(),
                        event.room_id.as_str(),
                        &action,
                        now_ms() + CONFIRM_WINDOW_MS,
                    )
                    .await?;
                Ok(format!(
                    "⚠️ Delete **{}** for good? Send the member's ID {} within 5 minutes to confirm, anything else to cancel.",
                    md(&member.name),
                    code(&member.short_id)
                ))
            }
        }
    }

    async fn member_new(&self, event: &RoomEvent, system: &System, name: &str) -> BridgeResult<String> {
        let cause = event.event_id.as_str();
        if let Some(refusal) = self.member_limit_reached(system, cause).await? {
            return Ok(refusal);
        }
        let duplicate = self
            .db
            .members(system.id)
            .await?
            .into_iter()
            .any(|m| m.name.eq_ignore_ascii_case(name) && m.created_by_event.as_deref() != Some(cause));
        let member = self.db.create_member(system.id, name, Some(cause), now_ms()).await?;
        let ghost_note = match self.prepare_ghost(system, &member).await {
            Ok(ghost) => format!("Their messages come from {}.", code(ghost.as_str())),
            Err(e) => {
                warn!(member = %member.short_id, error = %e, "could not set up the ghost yet");
                "Their Matrix account will be set up with their first message.".to_owned()
            }
        };
        let mut out = format!(
            "✅ Member created: **{}** (ID {}). {ghost_note}\n\nGive them a proxy tag: {}",
            md(&member.name),
            code(&member.short_id),
            code(&format!(
                "pk;member {} proxy {}:text",
                Self::member_ref(&member),
                member.slug.chars().next().unwrap_or('a')
            ))
        );
        if duplicate {
            out.push_str("\n\nNote: you already had a member with this name; use the ID to tell them apart.");
        }
        Ok(out)
    }

    /// Re-reads a member and updates its ghost's profile (best effort).
    async fn refresh_ghost(&self, system: &System, member_id: i64) {
        let Ok(Some(member)) = self.db.member_by_id(member_id).await else {
            return;
        };
        if let Err(e) = self.prepare_ghost(system, &member).await {
            warn!(member = %member.short_id, error = %e, "could not update the ghost's profile");
        }
    }

    async fn member_proxy(&self, system: &System, member: &Member, action: ProxyAction) -> BridgeResult<String> {
        let current = self.db.member_tags(member.id).await?;
        let new_tags: Vec<ProxyTag> = match action {
            ProxyAction::Show => return Ok(replies::tags_reply(&member.name, &current)),
            ProxyAction::Clear => Vec::new(),
            ProxyAction::Set(tags) => tags,
            ProxyAction::Add(tag) => {
                if current.contains(&tag) {
                    return Ok(format!("**{}** already has the tag {}.", md(&member.name), code(&tag.to_string())));
                }
                current.iter().cloned().chain([tag]).collect()
            }
            ProxyAction::Remove(tag) => {
                if !current.contains(&tag) {
                    return Ok(format!("❌ **{}** has no tag {}.", md(&member.name), code(&tag.to_string())));
                }
                current.iter().filter(|t| **t != tag).cloned().collect()
            }
        };
        // A tag may belong to one member only, or nobody could tell who is speaking.
        for (other_id, tag) in self.db.system_tags(system.id).await? {
            if other_id != member.id && new_tags.contains(&tag) {
                let other = self.db.member_by_id(other_id).await?.map(|m| m.name).unwrap_or_default();
                return Ok(format!("❌ The tag {} already belongs to **{}**.", code(&tag.to_string()), md(&other)));
            }
        }
        self.db.set_member_tags(member.id, &new_tags).await?;
        Ok(match new_tags.first() {
            None => format!("✅ Proxy tags of **{}** cleared.", md(&member.name)),
            Some(example) => format!(
                "✅ {}\n\nTry it: {}",
                replies::tags_reply(&member.name, &new_tags),
                code(&format!("{}hello{}", example.prefix, example.suffix))
            ),
        })
    }

    async fn member_delete(&self, event: &RoomEvent, member: &Member, system: &System) -> BridgeResult<String> {
        for ghost in self.db.ghosts_of_member(member.id).await? {
            if let Ok(ghost) = UserId::parse(ghost.as_str()) {
                self.decommission_ghost(&ghost).await?;
            }
        }
        let answer = Self::deleted_answer(member, system);
        // The deletion and its answer in one database transaction: a retry finds the answer.
        self.db.delete_member_answered(member.id, event.event_id.as_str(), &answer, now_ms()).await?;
        Ok(answer)
    }

    fn deleted_answer(member: &Member, system: &System) -> String {
        format!(
            "✅ Member **{}** deleted{}.",
            md(&member.name),
            system.name.as_deref().map(|n| format!(" from **{}**", md(n))).unwrap_or_default()
        )
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

    async fn autoproxy_description(&self, system: &System) -> BridgeResult<String> {
        let state = system.autoproxy_state();
        Ok(match state.mode {
            Mode::Off => "off".to_owned(),
            Mode::Latch => match state.latch {
                Some((id, _)) => {
                    let name = self.db.member_by_id(id).await?.map(|m| m.name).unwrap_or_default();
                    format!("latch (currently **{}**)", md(&name))
                }
                None => "latch (nobody latched yet)".to_owned(),
            },
            Mode::Front => "front".to_owned(),
            Mode::Member => {
                let name = match state.member {
                    Some(id) => self.db.member_by_id(id).await?.map(|m| m.name).unwrap_or_default(),
                    None => String::new(),
                };
                format!("always **{}**", md(&name))
            }
        })
    }

    async fn autoproxy_command(&self, system: System, arg: Option<AutoproxyArg>) -> BridgeResult<String> {
        match arg {
            None => Ok(format!("Autoproxy is {}.", self.autoproxy_description(&system).await?)),
            Some(AutoproxyArg::Off) => {
                self.db.set_autoproxy(system.id, Mode::Off, None).await?;
                Ok("✅ Autoproxy disabled. Only tagged messages are proxied.".to_owned())
            }
            Some(AutoproxyArg::Latch) => {
                self.db.set_autoproxy(system.id, Mode::Latch, None).await?;
                Ok("✅ Autoproxy latch mode enabled: after a tagged message, your untagged messages go out as that \
                    member. Start a message with `\\` to send it as yourself, or `\\\\` to also let go of the latch."
                    .to_owned())
            }
            Some(AutoproxyArg::Front) => {
                self.db.set_autoproxy(system.id, Mode::Front, None).await?;
                Ok("✅ Autoproxy front mode enabled. Note: switches are not tracked yet, so until they are, nobody \
                    is fronting and untagged messages are not proxied."
                    .to_owned())
            }
            Some(AutoproxyArg::Member(reference)) => match self.resolve_member(&system, &reference).await? {
                Err(message) => Ok(message),
                Ok(member) => {
                    self.db.set_autoproxy(system.id, Mode::Member, Some(member.id)).await?;
                    Ok(format!(
                        "✅ Autoproxy enabled for **{}**: your untagged messages go out as them.",
                        md(&member.name)
                    ))
                }
            },
        }
    }
}
