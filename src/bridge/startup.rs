//! Start-up against the homeserver: learn its versions, register the bot, ping (so a homeserver
//! that marked us down retries at once), and accept invites that arrived while we were away.

use std::time::Duration;

use ruma::{
    api::client::{
        appservice::request_ping,
        filter::FilterDefinition,
        profile::get_profile,
        profile::set_profile_field,
        sync::sync_events::{self, v3::Filter},
    },
    profile::ProfileFieldValue,
};
use serde_json::json;
use tracing::{info, warn};

use super::Bridge;
use crate::homeserver::HsError;

/// The bot's display name when it has none.
const BOT_DISPLAY_NAME: &str = "pluralmatrix";

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "the homeserver rejected our as_token ({0}); is the registration file listed in its app_service_config_files, and was it restarted since?"
    )]
    Unauthorized(HsError),
    #[error("start-up failed: {0}")]
    Other(HsError),
}

impl Bridge {
    /// Runs the start-up steps, retrying while the homeserver is unreachable. Fails only on
    /// errors that waiting cannot fix.
    pub async fn startup(&self) -> Result<(), StartupError> {
        let mut delay = Duration::from_secs(2);
        loop {
            match self.startup_once().await {
                Ok(()) => return Ok(()),
                Err(e) if e.status() == Some(401) || e.errcode() == Some("M_UNKNOWN_TOKEN") => {
                    return Err(StartupError::Unauthorized(e));
                }
                Err(e) if e.is_transient() => {
                    warn!(error = %e, retry_in_s = delay.as_secs(), "homeserver not ready; retrying start-up");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
                Err(e) => return Err(StartupError::Other(e)),
            }
        }
    }

    async fn startup_once(&self) -> Result<(), HsError> {
        let bot = &self.settings.bot;
        match self.register_user(bot.localpart()).await {
            Ok(()) => {}
            Err(super::BridgeError::Homeserver(e)) => return Err(e),
            Err(e) => return Err(HsError::Build(e.to_string())),
        }
        let profile = self.hs.send(get_profile::v3::Request::new(bot.clone()), Some(bot)).await;
        let has_name = profile.as_ref().is_ok_and(|p| p.get("displayname").is_some());
        if !has_name {
            let req = set_profile_field::v3::Request::new(bot.clone(), ProfileFieldValue::DisplayName(BOT_DISPLAY_NAME.into()));
            if let Err(e) = self.hs.send(req, Some(bot)).await {
                warn!(error = %e, "could not set the bot's display name");
            }
        }
        let mut ping = request_ping::v1::Request::new(self.settings.appservice_id.clone());
        ping.transaction_id = Some(format!("pluralmatrix-start-{}", crate::db::now_ms()).into());
        match self.hs.send(ping, None).await {
            Ok(resp) => info!(round_trip_ms = resp.duration.as_millis() as u64, "homeserver ping answered"),
            Err(e) => warn!(error = %e, "homeserver ping failed; it may not reach our url"),
        }
        self.join_pending_invites().await;
        Ok(())
    }

    /// Joins rooms the bot was invited to while the daemon was not running.
    async fn join_pending_invites(&self) {
        let filter: Option<FilterDefinition> = serde_json::from_value(json!({
            "room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": true}, "ephemeral": {"types": []}},
            "presence": {"types": []},
            "account_data": {"types": []}
        }))
        .ok();
        let mut req = sync_events::v3::Request::new();
        req.filter = filter.map(Filter::FilterDefinition);
        req.timeout = Some(Duration::ZERO);
        let bot = self.settings.bot.clone();
        let invites = match self.hs.send(req, Some(&bot)).await {
            Ok(resp) => resp.rooms.invite.into_keys().collect::<Vec<_>>(),
            Err(e) => {
                warn!(error = %e, "could not list pending invites");
                return;
            }
        };
        for room in invites {
            info!(%room, "joining a room we were invited to while away");
            if let Err(e) = self.join_as(&bot, &room).await {
                warn!(%room, error = %e, "could not join");
            }
        }
    }
}
