//! `pk;import`: a PluralKit export attached to the command (as its caption) or to the message
//! it replies to is downloaded (decrypted in encrypted rooms), checked, and imported in one
//! database transaction; the system is created for the sender if it has none (when
//! `access.allow` lets them). Nothing needs confirming: a valid file is imported.

use serde_json::Value;
use tracing::info;

use super::super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        exchange::{self, Format, pluralkit},
        replies::md,
    },
    db::{DbError, System, now_ms},
};

impl Bridge {
    pub(super) async fn import(&self, event: &RoomEvent, system: Option<&System>) -> BridgeResult<String> {
        if system.is_none() {
            if let Some(refusal) = self.system_creation_refused(&event.sender) {
                return Ok(refusal);
            }
        }
        let has_file = event.content.contains_key("url") || event.content.contains_key("file");
        let source = if has_file {
            event.content.clone()
        } else {
            let replied =
                event.content.get("m.relates_to").and_then(|r| r.get("m.in_reply_to")).and_then(|r| r.get("event_id"));
            let Some(id) = replied.and_then(Value::as_str).and_then(|id| ruma::EventId::parse(id).ok()) else {
                return Ok("❌ Send `pk;import` as a reply to the message with your export file (or as the file's \
                           caption)."
                    .to_owned());
            };
            match self.fetch_event(&event.room_id, &id).await? {
                Some(original) => original.content,
                None => return Ok("❌ I can't read the message you replied to.".to_owned()),
            }
        };
        let bytes = match self.download_attachment(&source).await? {
            Ok(bytes) => bytes,
            Err(why) => return Ok(format!("❌ {why}")),
        };
        let (export, format) = match exchange::parse_any(&bytes) {
            Ok(read) => read,
            Err(e) => return Ok(format!("❌ {e}")),
        };
        let limits = (self.settings.max_members, self.settings.max_groups);
        if let Err(e) = pluralkit::validate(&export, limits.0, limits.1) {
            return Ok(format!("❌ Nothing was imported. {e}"));
        }
        let (owner, cause) = (event.sender.as_str(), event.event_id.as_str());
        let summary =
            match self.db.import_export(owner, event.sender.localpart(), &export, cause, now_ms(), limits).await {
                Ok(summary) => summary,
                Err(DbError::Invalid(why)) => return Ok(format!("❌ Nothing was imported: {why}.")),
                Err(e) => return Err(e.into()),
            };
        info!(
            system = summary.system_id,
            created = summary.members_created,
            updated = summary.members_updated,
            "imported"
        );
        if self.settings.avatar_fetch.is_some() {
            // Avatars come afterwards, off the room's line: a slow image server holds up nobody.
            let (bridge, system_id) = (self.clone(), summary.system_id);
            tokio::spawn(async move { bridge.rehost_avatars(system_id).await });
        }
        let name = export.name.as_deref().unwrap_or(match format {
            Format::PluralKit => "your system",
            Format::Tupperbox => "your tuppers",
        });
        Ok(format!(
            "✅ Imported **{}**{}: {} member(s) created, {} updated; {} group(s) created, {} updated; {} switch(es) added. See `pk;system list`.",
            md(name),
            if summary.system_created { " (a new system)" } else { "" },
            summary.members_created,
            summary.members_updated,
            summary.groups_created,
            summary.groups_updated,
            summary.switches_added
        ))
    }
}
