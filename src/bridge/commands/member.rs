//! `pk;member …`: creating members, their cards, proxy tags, deletion (with its
//! confirmation), and the ghost's profile after a change.

use ruma::UserId;
use tracing::warn;

use super::{
    super::{Bridge, BridgeResult, RoomEvent},
    CONFIRM_WINDOW_MS,
};
use crate::{
    core::{
        commands::{MemberCommand, ProxyAction},
        privacy::{Level, Subject, Viewer},
        replies::{self, code, md},
        tags::ProxyTag,
    },
    db::{Member, MemberFlag, PrivacyOf, System, now_ms},
};

impl Bridge {
    pub(super) async fn resolve_member(
        &self,
        system: &System,
        reference: &str,
    ) -> BridgeResult<Result<Member, String>> {
        Ok(match self.db.find_member(system.id, reference).await? {
            Some(m) => Ok(m),
            None => Err(format!(
                "❌ No member {} in your system. Members are named by name, slug or ID; see `pk;system list`.",
                code(reference)
            )),
        })
    }

    /// Another system's member, by ID, as `viewer_system`'s accounts (or nobody's) may see it.
    pub(super) async fn member_show_global(&self, reference: &str, viewer_system: Option<i64>) -> BridgeResult<String> {
        let not_found = || format!("❌ No member with ID {}.", code(reference));
        let Some(member) = self.db.member_by_short_id(reference).await? else {
            return Ok(not_found());
        };
        let Some(system) = self.db.system_by_id(member.system_id).await? else {
            return Ok(not_found());
        };
        let viewer = if viewer_system == Some(system.id) { Viewer::Owner } else { Viewer::Other };
        if !self.member_visible(&member, viewer).await? {
            return Ok(not_found());
        }
        self.member_card(&member, &system, viewer).await
    }

    /// A one-line hint showing how to refer to a member in a command.
    pub(super) fn member_ref(member: &Member) -> String {
        if member.name.contains(char::is_whitespace) || member.name.contains('"') {
            member.short_id.clone()
        } else {
            member.name.clone()
        }
    }

    pub(super) async fn member_command(
        &self,
        event: &RoomEvent,
        system: System,
        cmd: MemberCommand,
    ) -> BridgeResult<String> {
        let reference = match &cmd {
            MemberCommand::New { name } => return self.member_new(event, &system, name).await,
            MemberCommand::Show { member }
            | MemberCommand::Proxy { member, .. }
            | MemberCommand::Field { member, .. }
            | MemberCommand::KeepProxy { member, .. }
            | MemberCommand::Autoproxy { member, .. }
            | MemberCommand::Delete { member, .. }
            | MemberCommand::Privacy { member, .. } => member.clone(),
        };
        let member = match self.resolve_member(&system, &reference).await? {
            Ok(m) => m,
            Err(message) if matches!(cmd, MemberCommand::Show { .. }) => {
                // Not ours: maybe another system's member, by ID.
                return match self.db.member_by_short_id(&reference).await? {
                    Some(_) => self.member_show_global(&reference, Some(system.id)).await,
                    None => Ok(message),
                };
            }
            Err(message) => return Ok(message),
        };
        match cmd {
            MemberCommand::New { .. } => Ok(String::new()), // handled above
            MemberCommand::Show { .. } => self.member_card(&member, &system, Viewer::Owner).await,
            MemberCommand::Privacy { change, .. } => self.member_privacy(&member, change).await,
            MemberCommand::Proxy { action, .. } => self.member_proxy(&system, &member, action).await,
            MemberCommand::Field { field, value, .. } => self.member_field(&system, &member, field, value).await,
            MemberCommand::KeepProxy { on, .. } => self.member_flag(&member, MemberFlag::KeepProxy, on).await,
            MemberCommand::Autoproxy { on, .. } => self.member_flag(&member, MemberFlag::AllowAutoproxy, on).await,
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

    pub(super) async fn member_new(&self, event: &RoomEvent, system: &System, name: &str) -> BridgeResult<String> {
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
        if system.config.member_default_private {
            // `pk;config private member on`: a new member starts private (a retry sets it again).
            let all = crate::core::privacy::MemberSubject::ALL;
            self.db.set_privacy(PrivacyOf::Member(member.id), all, Level::Private).await?;
        }
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
    pub(super) async fn refresh_ghost(&self, system: &System, member_id: i64) {
        let Ok(Some(member)) = self.db.member_by_id(member_id).await else {
            return;
        };
        if let Err(e) = self.prepare_ghost(system, &member).await {
            warn!(member = %member.short_id, error = %e, "could not update the ghost's profile");
        }
    }

    pub(super) async fn member_proxy(
        &self,
        system: &System,
        member: &Member,
        action: ProxyAction,
    ) -> BridgeResult<String> {
        let current = self.db.member_tags(member.id).await?;
        let mut keep_new = None;
        let new_tags: Vec<ProxyTag> = match action {
            ProxyAction::Show => {
                let kept = self.db.kept_tags(member.id).await?;
                return Ok(format!("{}{}", replies::tags_reply(&member.name, &current), kept_note(&kept)));
            }
            ProxyAction::Keep { tag, on } => {
                if !self.db.set_tag_kept(member.id, &tag, on).await? {
                    return Ok(format!("❌ **{}** has no tag {}.", md(&member.name), code(&tag.to_string())));
                }
                let what = if on { "stays in the proxied text" } else { "is removed from the proxied text" };
                return Ok(format!("✅ The tag {} of **{}** now {what}.", code(&tag.to_string()), md(&member.name)));
            }
            ProxyAction::Clear => Vec::new(),
            ProxyAction::Set(tags) => tags,
            ProxyAction::AddKept(tag) if current.contains(&tag) => {
                self.db.set_tag_kept(member.id, &tag, true).await?;
                return Ok(format!(
                    "✅ The tag {} of **{}** now stays in the proxied text.",
                    code(&tag.to_string()),
                    md(&member.name)
                ));
            }
            ProxyAction::AddKept(tag) => {
                keep_new = Some(tag.clone());
                current.iter().cloned().chain([tag]).collect()
            }
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
        if let Some(tag) = keep_new {
            self.db.set_tag_kept(member.id, &tag, true).await?;
        }
        let kept = self.db.kept_tags(member.id).await?;
        Ok(match new_tags.first() {
            None => format!("✅ Proxy tags of **{}** cleared.", md(&member.name)),
            Some(example) => format!(
                "✅ {}{}\n\nTry it: {}",
                replies::tags_reply(&member.name, &new_tags),
                kept_note(&kept),
                code(&format!("{}hello{}", example.prefix, example.suffix))
            ),
        })
    }

    pub(super) async fn member_delete(
        &self,
        event: &RoomEvent,
        member: &Member,
        system: &System,
    ) -> BridgeResult<String> {
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

    pub(super) fn deleted_answer(member: &Member, system: &System) -> String {
        format!(
            "✅ Member **{}** deleted{}.",
            md(&member.name),
            system.name.as_deref().map(|n| format!(" from **{}**", md(n))).unwrap_or_default()
        )
    }
}

/// "(kept in the text: …)" for tags with their own keepproxy, or nothing.
fn kept_note(kept: &[ProxyTag]) -> String {
    if kept.is_empty() {
        return String::new();
    }
    let list: Vec<String> = kept.iter().map(|t| code(&t.to_string())).collect();
    format!(" (kept in the proxied text: {})", list.join(", "))
}
