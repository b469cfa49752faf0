//! Room membership: the bot accepts invites; an invited ghost of a live member joins; the
//! joined-room cache follows kicks and leaves.

use ruma::{UserId, api::client::membership::join_room_by_id};
use serde_json::Value;
use tracing::{info, warn};

use super::{Bridge, BridgeResult, RoomEvent};

impl Bridge {
    pub(super) async fn on_membership(&self, event: &RoomEvent) -> BridgeResult<()> {
        let Some(target) = event.state_key.as_deref().and_then(|s| UserId::parse(s).ok()) else {
            return Ok(());
        };
        if !self.is_ours(&target) {
            return Ok(());
        }
        let membership = event.content.get("membership").and_then(Value::as_str).unwrap_or_default();
        match membership {
            "invite" if target == self.settings.bot => {
                if !self.bot_invite_accepted(&event.sender) {
                    let reason = "This bridge only joins rooms when users it serves invite it.";
                    return self.refuse_invite(&target, &event.room_id, reason).await;
                }
                info!(room = %event.room_id, inviter = %event.sender, "invited; joining");
                self.join_as(&target, &event.room_id).await
            }
            "invite" => {
                // Only ghosts of members that exist accept invites, and only from their system.
                let Some((system, member)) = self.ghost_slugs(&target) else {
                    return Ok(());
                };
                let Some(member) = self.db.member_by_slugs(system, member).await? else {
                    return Ok(());
                };
                if !self.ghost_invite_accepted(member.system_id, &event.sender).await? {
                    let reason = "This member only joins rooms its own system invites it to.";
                    self.ensure_ghost_registered(&target).await?;
                    return self.refuse_invite(&target, &event.room_id, reason).await;
                }
                self.ensure_ghost_registered(&target).await?;
                self.join_as(&target, &event.room_id).await
            }
            "join" if target != self.settings.bot => {
                self.db.set_ghost_in_room(target.as_str(), event.room_id.as_str(), true).await?;
                Ok(())
            }
            "leave" | "ban" if target != self.settings.bot => {
                self.db.set_ghost_in_room(target.as_str(), event.room_id.as_str(), false).await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Joins `room` as `user` (the bot or a ghost). A refusal is logged, not retried.
    pub(super) async fn join_as(&self, user: &UserId, room: &ruma::RoomId) -> BridgeResult<()> {
        match self.hs.send(join_room_by_id::v3::Request::new(room.to_owned()), Some(user)).await {
            Ok(_) => {
                if *user != self.settings.bot {
                    self.db.set_ghost_in_room(user.as_str(), room.as_str(), true).await?;
                }
                Ok(())
            }
            Err(e) if !e.is_transient() => {
                warn!(%room, %user, error = %e, "could not join");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
