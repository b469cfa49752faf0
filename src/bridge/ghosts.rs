//! Ghost accounts on the homeserver: registration (`inhibit_login`), profile (display name
//! `<name> <system tag>`, avatar), joining rooms on first use, and leaving when the member goes.

use ruma::{
    OwnedMxcUri, OwnedUserId, RoomId, UserId,
    api::client::{
        account::register::{self, LoginType},
        membership::{
            invite_user::{self, v3::InviteUserId},
            join_room_by_id, leave_room,
        },
        profile::set_profile_field,
    },
    profile::ProfileFieldValue,
};
use tracing::{debug, info, warn};

use super::{Bridge, BridgeError, BridgeResult};
use crate::{
    core::ids::ghost_localpart,
    db::{Member, System, now_ms},
};

/// The display name a member's ghost carries: the system's name format (default
/// `{name} {tag}`) with the display name (or name) and the system tag.
pub fn ghost_display_name(member: &Member, system: &System) -> String {
    let name = member.display_name.as_deref().unwrap_or(&member.name);
    let tag = system.tag.as_deref().filter(|t| !t.is_empty());
    crate::core::profile::format_name(system.name_format.as_deref(), name, tag)
}

impl Bridge {
    pub(super) fn ghost_id(&self, system: &System, member: &Member) -> BridgeResult<OwnedUserId> {
        let localpart = ghost_localpart(&self.settings.ghost_prefix, &system.slug, &member.slug);
        UserId::parse(format!("@{localpart}:{}", self.settings.domain))
            .map_err(|e| BridgeError::Invalid(format!("ghost ID for {localpart}: {e}")))
    }

    /// Registers the ghost's account unless the database says it is done.
    pub(super) async fn ensure_ghost_registered(&self, ghost: &UserId) -> BridgeResult<()> {
        if self.db.ghost(ghost.as_str()).await?.is_some_and(|g| g.registered) {
            return Ok(());
        }
        self.register_user(ghost.localpart()).await?;
        self.db.set_ghost_registered(ghost.as_str()).await?;
        Ok(())
    }

    /// Registers an appservice user; "already taken" counts as done.
    pub(super) async fn register_user(&self, localpart: &str) -> BridgeResult<()> {
        let mut req = register::v3::Request::new();
        req.username = Some(localpart.to_owned());
        req.inhibit_login = true;
        req.login_type = Some(LoginType::ApplicationService);
        match self.hs.send(req, None).await {
            Ok(_) => {
                info!(localpart, "registered account");
                Ok(())
            }
            Err(e) if e.errcode() == Some("M_USER_IN_USE") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes sure the member's ghost exists, is registered and shows the right profile.
    /// Returns its user ID.
    ///
    /// On the hot path (every proxied message) this is one read when nothing changed.
    pub(super) async fn prepare_ghost(&self, system: &System, member: &Member) -> BridgeResult<OwnedUserId> {
        let ghost = self.ghost_id(system, member)?;
        let stored = self.db.ghost(ghost.as_str()).await?;
        let want_name = ghost_display_name(member, system);
        let ready = stored.as_ref().is_some_and(|g| {
            g.member_id == Some(member.id)
                && g.registered
                && g.display_name.as_deref() == Some(want_name.as_str())
                && g.avatar_url == member.account_avatar()
        });
        if ready && self.has_device(&ghost).await? {
            return Ok(ghost);
        }
        if stored.as_ref().is_none_or(|g| g.member_id != Some(member.id)) {
            self.db.upsert_ghost(ghost.as_str(), member.id, &system.slug, &member.slug, now_ms()).await?;
        }
        self.ensure_ghost_registered(&ghost).await?;
        crate::crypto::ensure_device(&self.db, &self.hs, &ghost).await?;
        self.sync_ghost_profile(&ghost, system, member).await?;
        Ok(ghost)
    }

    async fn has_device(&self, user: &UserId) -> BridgeResult<bool> {
        Ok(self.db.created_device(user.as_str()).await?.is_some())
    }

    /// Sets the ghost's display name and avatar where they differ from what we last set.
    pub(super) async fn sync_ghost_profile(
        &self,
        ghost: &UserId,
        system: &System,
        member: &Member,
    ) -> BridgeResult<()> {
        let stored = self.db.ghost(ghost.as_str()).await?;
        let want_name = ghost_display_name(member, system);
        // Only a Matrix URI can be an avatar (an imported `https://` one shows once re-hosted).
        let want_avatar = member.account_avatar();
        let (have_name, have_avatar) = stored.map(|g| (g.display_name, g.avatar_url)).unwrap_or_default();
        if have_name.as_deref() != Some(want_name.as_str()) {
            let req = set_profile_field::v3::Request::new(
                ghost.to_owned(),
                ProfileFieldValue::DisplayName(want_name.clone()),
            );
            self.hs.send(req, Some(ghost)).await?;
        }
        if have_avatar != want_avatar {
            // An empty URL clears the avatar.
            let uri = OwnedMxcUri::from(want_avatar.clone().unwrap_or_default());
            let req = set_profile_field::v3::Request::new(ghost.to_owned(), ProfileFieldValue::AvatarUrl(uri));
            self.hs.send(req, Some(ghost)).await?;
        }
        if have_name.as_deref() != Some(want_name.as_str()) || have_avatar != want_avatar {
            self.db.set_ghost_profile(ghost.as_str(), Some(&want_name), want_avatar.as_deref()).await?;
        }
        Ok(())
    }

    /// Joins the ghost to `room` unless the database says it is there. If the join is
    /// refused, the bot invites the ghost and it tries once more.
    pub(super) async fn ensure_ghost_in_room(&self, ghost: &UserId, room: &RoomId) -> BridgeResult<()> {
        if self.db.ghost_in_room(ghost.as_str(), room.as_str()).await? {
            return Ok(());
        }
        // The bot invites first: most rooms are invite-only, and a join tried first would fail
        // there, costing a request (with 8 cold ghosts at once, a quarter of the time to their
        // first messages). In a public room the invite does no harm, and if the bot may not
        // invite, the join still tells whether the ghost can get in.
        let invite = invite_user::v3::Request::new(room.to_owned(), InviteUserId::new(ghost.to_owned()).into());
        match self.hs.send(invite, Some(&self.settings.bot)).await {
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => debug!(%room, %ghost, error = %e, "the bot did not invite the ghost; it tries to join anyway"),
            Ok(_) => {}
        }
        self.hs.send(join_room_by_id::v3::Request::new(room.to_owned()), Some(ghost)).await?;
        self.db.set_ghost_in_room(ghost.as_str(), room.as_str(), true).await?;
        Ok(())
    }

    /// For the homeserver's user query: is `user` ours and backed by a member (or the bot)?
    /// A ghost is registered before the answer is yes, as the spec asks.
    pub async fn ensure_known_user(&self, user: &UserId) -> BridgeResult<bool> {
        if *user == self.settings.bot {
            return Ok(true);
        }
        let Some((system_slug, member_slug)) = self.ghost_slugs(user) else {
            return Ok(false);
        };
        let Some(member) = self.db.member_by_slugs(system_slug, member_slug).await? else {
            return Ok(false);
        };
        let Some(system) = self.db.system_by_id(member.system_id).await? else {
            return Ok(false);
        };
        self.prepare_ghost(&system, &member).await?;
        Ok(true)
    }

    /// A ghost whose system is deleted: it leaves its rooms, its display name and avatar are
    /// cleared, and its device and crypto store are removed. Each step may run again.
    pub(super) async fn retire_ghost(&self, ghost: &UserId) -> BridgeResult<()> {
        self.decommission_ghost(ghost).await?;
        let registered = self.db.ghost(ghost.as_str()).await?.is_some_and(|g| g.registered);
        if registered {
            // Empty values clear the profile fields.
            let name = ProfileFieldValue::DisplayName(String::new());
            self.hs.send(set_profile_field::v3::Request::new(ghost.to_owned(), name), Some(ghost)).await?;
            let avatar = ProfileFieldValue::AvatarUrl(OwnedMxcUri::from(String::new()));
            self.hs.send(set_profile_field::v3::Request::new(ghost.to_owned(), avatar), Some(ghost)).await?;
        }
        crate::crypto::retire_device(&self.db, &self.hs, ghost).await?;
        if let Some(crypto) = &self.crypto {
            crypto.forget_store(ghost).await?;
        }
        Ok(())
    }

    /// The ghost leaves every room we know it joined (when its member is deleted).
    pub(super) async fn decommission_ghost(&self, ghost: &UserId) -> BridgeResult<()> {
        for room in self.db.ghost_rooms(ghost.as_str()).await? {
            let Ok(room_id) = RoomId::parse(room.as_str()) else {
                continue;
            };
            if let Err(e) = self.hs.send(leave_room::v3::Request::new(room_id.clone()), Some(ghost)).await {
                warn!(%room_id, %ghost, error = %e, "ghost could not leave");
            }
            self.db.set_ghost_in_room(ghost.as_str(), room_id.as_str(), false).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(display: Option<&str>) -> Member {
        Member {
            id: 1,
            system_id: 1,
            short_id: "abcde".into(),
            slug: "alice".into(),
            name: "Alice".into(),
            display_name: display.map(str::to_owned),
            ..Default::default()
        }
    }

    fn system(tag: Option<&str>) -> System {
        System {
            id: 1,
            short_id: "sysid".into(),
            slug: "s".into(),
            name: None,
            tag: tag.map(str::to_owned),
            autoproxy_mode: "off".into(),
            autoproxy_member_id: None,
            latch_member_id: None,
            ..Default::default()
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(ghost_display_name(&member(None), &system(None)), "Alice");
        assert_eq!(ghost_display_name(&member(None), &system(Some("| Us"))), "Alice | Us");
        assert_eq!(ghost_display_name(&member(Some("Ali")), &system(Some("🌸"))), "Ali 🌸");
        assert_eq!(ghost_display_name(&member(None), &system(Some(""))), "Alice");
    }
}
