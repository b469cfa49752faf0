//! Access control at the bridge's door (`[access]`, rules in `core::access`): who may create
//! a system, who may not use the bridge at all, how many members a system may have, who may
//! invite the bot, and which invites a ghost accepts (only from its own system's accounts).

use ruma::{RoomId, UserId, api::client::membership::leave_room};
use tracing::{info, warn};

use std::sync::{Arc, RwLock, RwLockReadGuard};

use super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        access::{AccessPolicy, Pattern},
        replies::code,
    },
    db::{System, now_ms},
};

/// The access policy, shared by every part of the daemon: the config's (replaced as a whole
/// when the operator reloads it, SIGHUP) and the bans admins add at run time (`pk;admin ban`,
/// also stored in the database).
#[derive(Debug, Clone)]
pub struct SharedAccess {
    policy: Arc<RwLock<AccessPolicy>>,
    bans: Arc<RwLock<Vec<Pattern>>>,
}

impl SharedAccess {
    pub fn new(policy: AccessPolicy) -> Self {
        Self { policy: Arc::new(RwLock::new(policy)), bans: Arc::default() }
    }

    /// The config's policy now (replacing it is one assignment, so even a poisoned lock
    /// holds a whole policy).
    pub fn get(&self) -> RwLockReadGuard<'_, AccessPolicy> {
        self.policy.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn replace(&self, policy: AccessPolicy) {
        *self.policy.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = policy;
    }

    /// Puts the run-time ban list in place.
    pub fn set_bans(&self, patterns: &[String]) {
        let bans = patterns.iter().map(|p| Pattern::new(p)).collect();
        *self.bans.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = bans;
    }

    /// Whether `user_id` may not use the bridge: denied by the config or banned (admins never).
    pub fn is_denied(&self, user_id: &str) -> bool {
        let policy = self.get();
        if policy.is_denied(user_id) {
            return true;
        }
        let bans = self.bans.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        !policy.is_admin(user_id) && bans.iter().any(|b| b.matches(user_id))
    }

    pub fn is_admin(&self, user_id: &str) -> bool {
        self.get().is_admin(user_id)
    }
}

impl Bridge {
    /// Why `sender` may not create a system, if they may not (the reply to give).
    pub(super) fn system_creation_refused(&self, sender: &UserId) -> Option<String> {
        if self.settings.access.get().may_create_system(sender.as_str()) {
            return None;
        }
        Some(format!(
            "❌ Sorry, this bridge does not let {} create a system. It is for the users its operator allows; \
             ask them if you think you should be one of them.",
            code(sender.as_str())
        ))
    }

    /// The reply refusing a new member when `system` is at the member limit (a retry of the
    /// command that made the last member is not refused).
    pub(super) async fn member_limit_reached(&self, system: &System, cause: &str) -> BridgeResult<Option<String>> {
        let limit = self.settings.max_members;
        let members = self.db.members(system.id).await?;
        if members.iter().any(|m| m.created_by_event.as_deref() == Some(cause)) || members.len() < limit {
            return Ok(None);
        }
        Ok(Some(format!(
            "❌ Your system has reached this bridge's limit of {limit} members, so I can't add another. Delete one \
             first (`pk;member <member> delete`)."
        )))
    }

    /// Whether `event`'s sender is denied the bridge. The first time per room and sender they
    /// try a command, the bot says so; proxying is simply not done.
    pub(super) async fn denied(&self, event: &RoomEvent, is_command: bool) -> BridgeResult<bool> {
        if !self.settings.access.is_denied(event.sender.as_str()) {
            return Ok(false);
        }
        let kind = format!("denied {}", event.sender);
        if is_command && self.db.notice_once(event.room_id.as_str(), &kind, now_ms()).await? {
            let text = format!(
                "❌ {} may not use this bridge, so I ignore their commands and messages.",
                code(event.sender.as_str())
            );
            self.notice(&event.room_id, &text, &event.event_id, "notice-denied").await?;
        }
        Ok(true)
    }

    /// Whether the bot accepts an invite from `inviter`.
    pub(super) fn bot_invite_accepted(&self, inviter: &UserId) -> bool {
        self.settings.access.get().may_invite_bot(inviter.as_str())
    }

    /// Whether a ghost of system `system_id` accepts an invite from `inviter`: only from its
    /// own system's accounts (or the bot, which invites it where its system wrote).
    pub(super) async fn ghost_invite_accepted(&self, system_id: i64, inviter: &UserId) -> BridgeResult<bool> {
        if *inviter == self.settings.bot {
            return Ok(true);
        }
        Ok(self.db.system_for_account(inviter.as_str()).await?.is_some_and(|s| s.id == system_id))
    }

    /// Turns an invite down: `user` (the bot or a ghost) leaves the room with `reason`.
    pub(super) async fn refuse_invite(&self, user: &UserId, room: &RoomId, reason: &str) -> BridgeResult<()> {
        info!(%room, %user, reason, "refusing an invite");
        let mut req = leave_room::v3::Request::new(room.to_owned());
        req.reason = Some(reason.to_owned());
        match self.hs.send(req, Some(user)).await {
            Ok(_) => Ok(()),
            Err(e) if !e.is_transient() => {
                warn!(%room, %user, error = %e, "could not refuse the invite");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
