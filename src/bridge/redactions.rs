//! Redacting the originals of proxied messages, off the room's line. The ghost's message is
//! what people wait for and must keep the room's order; the redaction of the original only
//! has to follow it. So proxying records the ghost's message and queues the original's
//! redaction in one database transaction (`pending_redactions`), and the room goes on with
//! its next event while the engine's redaction loop (`engine::redactions`) works the queue.

use ruma::{EventId, RoomId};
use tracing::warn;

use super::{Bridge, BridgeError, BridgeResult};
use crate::db::{PendingRedaction, now_ms};

/// Redaction reason on the user's original.
const REDACT_REASON: &str = "Proxied by pluralmatrix";

impl Bridge {
    /// Wakes the redaction loop when proxying queued redactions.
    pub fn redactions_queued(&self) -> &std::sync::Arc<tokio::sync::Notify> {
        &self.redactions_queued
    }

    /// Redacts one queued original, once (recorded in `effects` like every write).
    pub async fn redact_queued(&self, row: &PendingRedaction) -> BridgeResult<()> {
        let parse = |what: &str, id: &str| BridgeError::Invalid(format!("queued redaction: bad {what} {id:?}"));
        let room = RoomId::parse(&row.room_id).map_err(|_| parse("room ID", &row.room_id))?;
        let target = EventId::parse(&row.target).map_err(|_| parse("event ID", &row.target))?;
        let cause = EventId::parse(&row.cause).map_err(|_| parse("event ID", &row.cause))?;
        self.redact_original(&room, &target, &cause).await
    }

    /// Redacts the user's original as the bot; without the power to, says so once per room.
    async fn redact_original(&self, room: &RoomId, original: &EventId, cause: &EventId) -> BridgeResult<()> {
        match self.redact_as_bot(room, original, REDACT_REASON).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_forbidden() => {
                warn!(%room, error = %e, "cannot redact the original message");
                if self.db.notice_once(room.as_str(), "cannot-redact", now_ms()).await? {
                    let text = "I can't remove the original messages in this room, so they stay visible next to the \
                                proxied ones. Give me the power to remove messages (Moderator, or \"Remove messages \
                                sent by others\") to fix this.";
                    self.notice(room, text, cause, "notice-cannot-redact").await?;
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
