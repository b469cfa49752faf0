//! Start-up against the homeserver: register the bot, give it a name, and ping (so a homeserver
//! that marked us down while we were away retries its queued transactions at once).
//!
//! Invites that arrived while the daemon was down are not looked up here: Synapse refuses
//! `/sync` for appservice users (`NotImplementedError`, 500), and it re-sends the queued
//! events, invites included, once we answer again.

use std::time::Duration;

use ruma::{
    api::client::{appservice::request_ping, profile::get_profile, profile::set_profile_field},
    profile::ProfileFieldValue,
};
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
    #[error("setting up the bot's encryption failed: {0}")]
    Crypto(crate::crypto::CryptoError),
}

impl Bridge {
    /// Runs the start-up steps, retrying while the homeserver is unreachable. Fails only on
    /// errors that waiting cannot fix.
    pub async fn startup(&self) -> Result<(), StartupError> {
        let mut delay = Duration::from_secs(2);
        loop {
            match self.startup_once().await {
                Ok(()) => break,
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
        let bot = &self.settings.bot;
        until_up("creating the bot's device", || crate::crypto::ensure_device(&self.db, &self.hs, bot)).await?;
        if let Some(crypto) = &self.crypto {
            until_up("setting up the bot's encryption", || crypto.identity(bot)).await?;
            info!("the bot's device and cross-signing identity are ready");
        }
        Ok(())
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
            let req = set_profile_field::v3::Request::new(
                bot.clone(),
                ProfileFieldValue::DisplayName(BOT_DISPLAY_NAME.into()),
            );
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
        Ok(())
    }
}

/// Runs `step` until it succeeds, waiting (2 s, doubling, at most 60 s) while the homeserver
/// is unreachable or busy; any other error ends the start-up.
async fn until_up<T, F, Fut>(what: &str, step: F) -> Result<T, StartupError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::crypto::CryptoError>>,
{
    let mut delay = Duration::from_secs(2);
    loop {
        match step().await {
            Ok(v) => return Ok(v),
            Err(crate::crypto::CryptoError::Homeserver(e)) if e.is_transient() => {
                warn!(error = %e, retry_in_s = delay.as_secs(), "{what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
            Err(e) => return Err(StartupError::Crypto(e)),
        }
    }
}
