//! Privacy commands (`pk;system|member|group … privacy`) and what other users are shown: the
//! cards here apply the levels for the viewer (the system's own accounts see everything).

use super::super::{Bridge, BridgeResult};
use crate::{
    core::{
        commands::{Command, GroupCommand, MemberCommand},
        privacy::{GroupSubject, Level, MemberSubject, Subject, SystemSubject, Target, Viewer, name_for, shown},
        replies::{self, MemberCard, Profile, SystemCard, code, md},
    },
    db::{Group, Member, Privacy, PrivacyOf, System},
};

/// The settings as a list, or the change made.
fn privacy_reply<S: Subject>(whose: &str, privacy: &Privacy<S>, change: Option<(Target<S>, Level)>) -> String {
    match change {
        None => {
            let mut out = format!("**Privacy of {whose}**\n");
            for (subject, level) in privacy.iter() {
                out.push_str(&format!("- {}: **{}**\n", subject.words()[0], level.as_str()));
            }
            out.push_str(
                "\nChange one with `… privacy <subject> public|private`, or all with `… privacy all private`.",
            );
            out
        }
        Some((Target::All, level)) => format!("✅ Everything of {whose} is now **{}**.", level.as_str()),
        Some((Target::One(s), level)) => format!("✅ The {} of {whose} is now **{}**.", s.words()[0], level.as_str()),
    }
}

impl Bridge {
    async fn privacy_command<S: Subject>(
        &self,
        of: PrivacyOf,
        whose: &str,
        change: Option<(Target<S>, Level)>,
    ) -> BridgeResult<String> {
        if let Some((target, level)) = change {
            self.db.set_privacy(of, &target.subjects(), level).await?;
        }
        let privacy = self.db.privacy::<S>(of).await?;
        Ok(privacy_reply(whose, &privacy, change))
    }

    pub(super) async fn system_privacy(
        &self,
        system: &System,
        change: Option<(Target<SystemSubject>, Level)>,
    ) -> BridgeResult<String> {
        self.privacy_command(PrivacyOf::System(system.id), "your system", change).await
    }

    pub(super) async fn member_privacy(
        &self,
        member: &Member,
        change: Option<(Target<MemberSubject>, Level)>,
    ) -> BridgeResult<String> {
        let whose = format!("**{}**", md(&member.name));
        self.privacy_command(PrivacyOf::Member(member.id), &whose, change).await
    }

    pub(super) async fn group_privacy(
        &self,
        group: &Group,
        change: Option<(Target<GroupSubject>, Level)>,
    ) -> BridgeResult<String> {
        let whose = format!("the group **{}**", md(&group.name));
        self.privacy_command(PrivacyOf::Group(group.id), &whose, change).await
    }

    /// `-public`: one of the owner's cards as anybody else sees it.
    pub(super) async fn public_view(&self, system: &System, card: Command) -> BridgeResult<String> {
        const HIDDEN: &str = "Others don't see this at all (its visibility is private).";
        match card {
            Command::Member(MemberCommand::Show { member }) => match self.db.find_member(system.id, &member).await? {
                Some(m) if self.member_visible(&m, Viewer::Other).await? => {
                    self.member_card(&m, system, Viewer::Other).await
                }
                Some(_) => Ok(HIDDEN.to_owned()),
                None => Ok(format!("❌ No member {} in your system.", code(&member))),
            },
            Command::Group(GroupCommand::Show { group }) => match self.db.find_group(system.id, &group).await? {
                Some(g) => {
                    let p = self.db.privacy::<GroupSubject>(PrivacyOf::Group(g.id)).await?;
                    if p.get(GroupSubject::Visibility).shows_to(Viewer::Other) {
                        self.group_card(&g, Viewer::Other).await
                    } else {
                        Ok(HIDDEN.to_owned())
                    }
                }
                None => Ok(format!("❌ No group {} in your system.", code(&group))),
            },
            _ => self.system_card(system, Viewer::Other).await,
        }
    }

    /// The system's card as `viewer` may see it; linked accounts and autoproxy only to the
    /// system's own accounts.
    pub(super) async fn system_card(&self, system: &System, viewer: Viewer) -> BridgeResult<String> {
        let p = self.db.privacy::<SystemSubject>(PrivacyOf::System(system.id)).await?;
        let level = |s| p.get(s);
        let owner = viewer == Viewer::Owner;
        let accounts = if owner { self.db.system_accounts(system.id).await? } else { Vec::new() };
        let autoproxy = if owner { Some(self.autoproxy_description(system).await?) } else { None };
        let visible = self.db.member_count(system.id, owner).await?;
        Ok(replies::system_card(&SystemCard {
            name: shown(system.name.as_deref(), level(SystemSubject::Name), viewer),
            short_id: &system.short_id,
            slug: &system.slug,
            tag: system.tag.as_deref(),
            member_count: shown(Some(visible), level(SystemSubject::MemberList), viewer),
            autoproxy: autoproxy.as_deref(),
            accounts: &accounts,
            profile: Profile {
                pronouns: shown(system.pronouns.as_deref(), level(SystemSubject::Pronouns), viewer),
                birthday: None,
                color: system.color.as_deref(),
                avatar: shown(system.avatar_url.as_deref(), level(SystemSubject::Avatar), viewer),
                banner: shown(system.banner_url.as_deref(), level(SystemSubject::Banner), viewer),
                description: shown(system.description.as_deref(), level(SystemSubject::Description), viewer),
            },
        }))
    }

    /// The member's card as `viewer` may see it. A private member is not shown to others at
    /// all (the caller says "not found").
    pub(super) async fn member_card(&self, member: &Member, system: &System, viewer: Viewer) -> BridgeResult<String> {
        let p = self.db.privacy::<MemberSubject>(PrivacyOf::Member(member.id)).await?;
        let level = |s| p.get(s);
        let sp = self.db.privacy::<SystemSubject>(PrivacyOf::System(system.id)).await?;
        let tags = self.db.member_tags(member.id).await?;
        let ghost = self.ghost_id(system, member)?;
        let name = name_for(&member.name, member.display_name.as_deref(), level(MemberSubject::Name), viewer);
        Ok(replies::member_card(&MemberCard {
            name,
            display_name: member.display_name.as_deref(),
            short_id: &member.short_id,
            slug: &member.slug,
            ghost: ghost.as_str(),
            tags: shown(Some(tags.as_slice()), level(MemberSubject::Proxy), viewer),
            system_name: shown(system.name.as_deref(), sp.get(SystemSubject::Name), viewer),
            metadata: shown(Some((member.created_at, member.message_count)), level(MemberSubject::Metadata), viewer),
            profile: Profile {
                pronouns: shown(member.pronouns.as_deref(), level(MemberSubject::Pronouns), viewer),
                birthday: shown(member.birthday.as_deref(), level(MemberSubject::Birthday), viewer),
                color: member.color.as_deref(),
                avatar: shown(member.avatar_url.as_deref(), level(MemberSubject::Avatar), viewer),
                banner: shown(member.banner_url.as_deref(), level(MemberSubject::Banner), viewer),
                description: shown(member.description.as_deref(), level(MemberSubject::Description), viewer),
            },
        }))
    }

    /// Whether `viewer` may see the member at all.
    pub(super) async fn member_visible(&self, member: &Member, viewer: Viewer) -> BridgeResult<bool> {
        let p = self.db.privacy::<MemberSubject>(PrivacyOf::Member(member.id)).await?;
        Ok(p.get(MemberSubject::Visibility).shows_to(viewer))
    }

    /// The group's card as `viewer` may see it (members listed only where the list is public,
    /// and then only visible members).
    pub(super) async fn group_card(&self, group: &Group, viewer: Viewer) -> BridgeResult<String> {
        let p = self.db.privacy::<GroupSubject>(PrivacyOf::Group(group.id)).await?;
        let level = |s| p.get(s);
        let mut names = Vec::new();
        for m in self.members_of(group).await? {
            let mp = self.db.privacy::<MemberSubject>(PrivacyOf::Member(m.id)).await?;
            if mp.get(MemberSubject::Visibility).shows_to(viewer) {
                names
                    .push(name_for(&m.name, m.display_name.as_deref(), mp.get(MemberSubject::Name), viewer).to_owned());
            }
        }
        let list = level(GroupSubject::List).shows_to(viewer);
        let names: Vec<&str> = if list { names.iter().map(String::as_str).collect() } else { Vec::new() };
        let name = name_for(&group.name, group.display_name.as_deref(), level(GroupSubject::Name), viewer);
        let mut card = replies::group_card(
            name,
            group.display_name.as_deref(),
            &group.short_id,
            list.then_some(names.as_slice()),
            &Profile {
                color: group.color.as_deref(),
                avatar: shown(group.icon_url.as_deref(), level(GroupSubject::Icon), viewer),
                banner: shown(group.banner_url.as_deref(), level(GroupSubject::Banner), viewer),
                description: shown(group.description.as_deref(), level(GroupSubject::Description), viewer),
                ..Profile::default()
            },
        );
        if viewer == Viewer::Owner && p.iter().any(|(_, l)| l == Level::Private) {
            card.push_str(&format!("\n_Some of this is private; others see less ({})._\n", code("pk;group … privacy")));
        }
        Ok(card)
    }
}
