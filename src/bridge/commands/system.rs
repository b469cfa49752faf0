//! `pk;system …`: creating a system, its card, another system's card, the member list.

use ruma::UserId;
use tracing::warn;

use super::super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        commands::SystemCommand,
        privacy::Viewer,
        replies::{self, MemberLine, code, md},
    },
    db::{System, now_ms},
};

impl Bridge {
    pub(super) async fn system_new(
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

    pub(super) async fn system_show_other(&self, sender: &UserId, target: &str) -> BridgeResult<String> {
        match self.find_system(sender, target).await? {
            Some(found) => {
                let own = self.db.system_for_account(sender.as_str()).await?.is_some_and(|s| s.id == found.id);
                self.system_card(&found, if own { Viewer::Owner } else { Viewer::Other }).await
            }
            None => Ok(format!("❌ No system found for {}.", code(target))),
        }
    }

    pub(super) async fn system_command(&self, system: System, cmd: SystemCommand) -> BridgeResult<String> {
        match cmd {
            SystemCommand::Show => self.system_card(&system, Viewer::Owner).await,
            SystemCommand::Privacy(change) => self.system_privacy(&system, change).await,
            SystemCommand::Field { field, value } => self.system_field(system, field, value).await,
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
            SystemCommand::New { .. } | SystemCommand::ShowOther(_) | SystemCommand::Delete => Ok(String::new()), // handled above
        }
    }

    /// Updates every ghost of the system (after a tag change). Failures are logged: the next
    /// proxied message retries them.
    pub(super) async fn resync_system_ghosts(&self, system: &System) {
        let Ok(members) = self.db.members(system.id).await else {
            return;
        };
        for m in members {
            if let Err(e) = self.prepare_ghost(system, &m).await {
                warn!(member = %m.short_id, error = %e, "could not update the ghost's profile");
            }
        }
    }
}
