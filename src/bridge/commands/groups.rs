//! `pk;group …` and `pk;member <member> group …`: groups of a system, their cards and fields,
//! membership, and deletion (typed-back ID or `-y`). The group limit is `access.max_groups`.

use super::{
    super::{Bridge, BridgeResult, RoomEvent},
    CONFIRM_WINDOW_MS,
};
use crate::{
    core::{
        commands::{FieldArg, GroupCommand},
        privacy::{GroupSubject, Viewer},
        profile::{GroupField, Kind},
        replies::{code, md},
    },
    db::{Group, Member, PrivacyOf, System, now_ms},
};

impl Bridge {
    pub(super) async fn group_command(
        &self,
        event: &RoomEvent,
        system: System,
        cmd: GroupCommand,
    ) -> BridgeResult<String> {
        let reference = match cmd {
            GroupCommand::New { name } => return self.group_new(event, &system, &name).await,
            GroupCommand::List => return self.group_list(&system).await,
            GroupCommand::OfMember { member, change } => return self.member_groups(&system, &member, change).await,
            GroupCommand::Show { ref group }
            | GroupCommand::Add { ref group, .. }
            | GroupCommand::Remove { ref group, .. }
            | GroupCommand::Members { ref group }
            | GroupCommand::Field { ref group, .. }
            | GroupCommand::Delete { ref group, .. }
            | GroupCommand::Privacy { ref group, .. } => group.clone(),
        };
        let Some(group) = self.db.find_group(system.id, &reference).await? else {
            return Ok(format!("❌ No group {} in your system; see `pk;group list`.", code(&reference)));
        };
        match cmd {
            GroupCommand::Show { .. } => self.group_card(&group, Viewer::Owner).await,
            GroupCommand::Privacy { change, .. } => self.group_privacy(&group, change).await,
            GroupCommand::Add { members, .. } => self.group_change(&system, &group, &members, true).await,
            GroupCommand::Remove { members, .. } => self.group_change(&system, &group, &members, false).await,
            GroupCommand::Members { .. } => self.group_members(&group).await,
            GroupCommand::Field { field, value, .. } => self.group_field(&group, field, value).await,
            GroupCommand::Delete { confirmed: true, .. } => {
                let answer = format!("✅ Group **{}** deleted; its members stay.", md(&group.name));
                self.db.delete_group_answered(group.id, None, event.event_id.as_str(), &answer, now_ms()).await?;
                Ok(answer)
            }
            GroupCommand::Delete { confirmed: false, .. } => {
                let action = format!("delete-group:{}", group.id);
                let (user, room) = (event.sender.as_str(), event.room_id.as_str());
                self.db.set_confirmation(user, room, &action, now_ms() + CONFIRM_WINDOW_MS).await?;
                Ok(format!(
                    "⚠️ Delete the group **{}**? Its members stay. Send the group's ID {} within 5 minutes to confirm, \
                     anything else to cancel.",
                    md(&group.name),
                    code(&group.short_id)
                ))
            }
            GroupCommand::New { .. } | GroupCommand::List | GroupCommand::OfMember { .. } => Ok(String::new()),
        }
    }

    async fn group_new(&self, event: &RoomEvent, system: &System, name: &str) -> BridgeResult<String> {
        let cause = event.event_id.as_str();
        let groups = self.db.groups(system.id).await?;
        let limit = self.settings.max_groups;
        let retry = groups.iter().any(|g| g.created_by_event.as_deref() == Some(cause));
        if !retry && groups.len() >= limit {
            return Ok(format!(
                "❌ Your system has reached this bridge's limit of {limit} groups, so I can't add another. Delete one \
                 first (`pk;group <group> delete`)."
            ));
        }
        let duplicate = groups.iter().any(|g| g.name.eq_ignore_ascii_case(name));
        let group = self.db.create_group(system.id, name, Some(cause), now_ms()).await?;
        if system.config.group_default_private {
            let all = <crate::core::privacy::GroupSubject as crate::core::privacy::Subject>::ALL;
            self.db
                .set_privacy(crate::db::PrivacyOf::Group(group.id), all, crate::core::privacy::Level::Private)
                .await?;
        }
        let mut out = format!(
            "✅ Group created: **{}** (ID {}). Add members with {}.",
            md(&group.name),
            code(&group.short_id),
            code(&format!("pk;group {} add <member>…", group.short_id))
        );
        if duplicate && !retry {
            out.push_str("\n\nNote: you already had a group with this name; use the ID to tell them apart.");
        }
        Ok(out)
    }

    async fn group_list(&self, system: &System) -> BridgeResult<String> {
        let groups = self.db.groups(system.id).await?;
        if groups.is_empty() {
            return Ok("Your system has no groups yet. Create one with `pk;group new <name>`.".to_owned());
        }
        let mut out =
            format!("**Groups of {}** ({})\n", md(system.name.as_deref().unwrap_or("your system")), groups.len());
        for g in &groups {
            let count = self.db.group_member_ids(g.id).await?.len();
            out.push_str(&format!("- **{}** {} · {count} member(s)\n", md(&g.name), code(&g.short_id)));
        }
        Ok(out)
    }

    /// `pk;group <group>`: one of the sender's own groups, or anybody's group by its ID as
    /// its privacy lets the sender see it.
    pub(super) async fn group_show_any(&self, system: Option<&System>, reference: &str) -> BridgeResult<String> {
        if let Some(system) = system {
            if let Some(group) = self.db.find_group(system.id, reference).await? {
                return self.group_card(&group, Viewer::Owner).await;
            }
        }
        let not_found = || format!("❌ No group {} found.", code(reference));
        let Some(group) = self.db.group_by_short_id(reference).await? else { return Ok(not_found()) };
        let p = self.db.privacy::<GroupSubject>(PrivacyOf::Group(group.id)).await?;
        if !p.get(GroupSubject::Visibility).shows_to(Viewer::Other) {
            return Ok(not_found());
        }
        self.group_card(&group, Viewer::Other).await
    }

    pub(super) async fn members_of(&self, group: &Group) -> BridgeResult<Vec<Member>> {
        let mut members = Vec::new();
        for id in self.db.group_member_ids(group.id).await? {
            if let Some(m) = self.db.member_by_id(id).await? {
                members.push(m);
            }
        }
        Ok(members)
    }

    async fn group_members(&self, group: &Group) -> BridgeResult<String> {
        let members = self.members_of(group).await?;
        if members.is_empty() {
            return Ok(format!("**{}** has no members yet.", md(&group.name)));
        }
        let mut out = format!("**Members of {}** ({})\n", md(&group.name), members.len());
        for m in &members {
            out.push_str(&format!("- **{}** {}\n", md(&m.name), code(&m.short_id)));
        }
        Ok(out)
    }

    /// Resolves every reference with `find`; the first one not found is the error to show.
    async fn resolve_all<T, F, Fut>(&self, refs: &[String], what: &str, find: F) -> BridgeResult<Result<Vec<T>, String>>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = BridgeResult<Option<T>>>,
    {
        let mut found = Vec::with_capacity(refs.len());
        for r in refs {
            match find(r.clone()).await? {
                Some(x) => found.push(x),
                None => return Ok(Err(format!("❌ No {what} {} in your system. Nothing was changed.", code(r)))),
            }
        }
        Ok(Ok(found))
    }

    async fn group_change(&self, system: &System, group: &Group, refs: &[String], add: bool) -> BridgeResult<String> {
        let members = match self
            .resolve_all(refs, "member", |r| async move { Ok(self.db.find_member(system.id, &r).await?) })
            .await?
        {
            Ok(m) => m,
            Err(message) => return Ok(message),
        };
        let pairs: Vec<(i64, i64)> = members.iter().map(|m| (group.id, m.id)).collect();
        let changed = self.db.set_group_membership(&pairs, add).await?;
        let unchanged = pairs.len() as u64 - changed.min(pairs.len() as u64);
        let (verb, to) = if add { ("added to", "already in it") } else { ("removed from", "not in it") };
        let mut out = format!("✅ {changed} member(s) {verb} **{}**.", md(&group.name));
        if unchanged > 0 {
            out.push_str(&format!(" {unchanged} {to}."));
        }
        Ok(out)
    }

    async fn member_groups(
        &self,
        system: &System,
        member_ref: &str,
        change: Option<(bool, Vec<String>)>,
    ) -> BridgeResult<String> {
        let member = match self.resolve_member(system, member_ref).await? {
            Ok(m) => m,
            Err(message) => return Ok(message),
        };
        let Some((add, refs)) = change else {
            let groups = self.db.member_groups(member.id).await?;
            if groups.is_empty() {
                return Ok(format!("**{}** is in no group.", md(&member.name)));
            }
            let list: Vec<String> =
                groups.iter().map(|g| format!("**{}** {}", md(&g.name), code(&g.short_id))).collect();
            return Ok(format!("**{}** is in: {}", md(&member.name), list.join(", ")));
        };
        let groups = match self
            .resolve_all(&refs, "group", |r| async move { Ok(self.db.find_group(system.id, &r).await?) })
            .await?
        {
            Ok(g) => g,
            Err(message) => return Ok(message),
        };
        let pairs: Vec<(i64, i64)> = groups.iter().map(|g| (g.id, member.id)).collect();
        let changed = self.db.set_group_membership(&pairs, add).await?;
        let verb = if add { "added to" } else { "removed from" };
        Ok(format!("✅ **{}** {verb} {changed} group(s).", md(&member.name)))
    }

    async fn group_field(&self, group: &Group, field: GroupField, value: FieldArg) -> BridgeResult<String> {
        let (label, name) = (field.label(), md(&group.name));
        Ok(match value {
            FieldArg::Show => match group.field(field) {
                Some(v) => format!("The {label} of **{name}**: {}", super::fields::shown(field.kind(), &v)),
                None => format!("**{name}** has no {label}."),
            },
            FieldArg::Clear if field == GroupField::Name => "❌ A group always has a name.".to_owned(),
            FieldArg::Clear => {
                self.db.set_group_field(group.id, field, None).await?;
                format!("✅ The {label} of **{name}** is cleared.")
            }
            FieldArg::Set(v) => {
                self.db.set_group_field(group.id, field, Some(&v)).await?;
                match field.kind() {
                    _ if field == GroupField::Name => format!("✅ Group **{name}** is now called **{}**.", md(&v)),
                    Kind::Text(_) => format!("✅ The {label} of **{name}** is set."),
                    kind => format!("✅ The {label} of **{name}** is now {}", super::fields::shown(kind, &v)),
                }
            }
        })
    }
}
