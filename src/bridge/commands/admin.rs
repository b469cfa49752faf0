//! `pk;admin …`: bridge administration from a room, for `admin.users` only. Everyone else
//! gets the answer an unknown command gets. Every admin action is logged with who did it.

use tracing::info;

use super::super::{Bridge, BridgeResult, RoomEvent};
use crate::{
    core::{
        commands::{AdminCommand, GhostCryptoAction, unknown_command},
        privacy::Viewer,
        replies::{code, md},
        time::format_duration,
    },
    db::now_ms,
    metrics::{metrics, uptime_seconds},
};

const HOUR_MS: i64 = 60 * 60 * 1000;

impl Bridge {
    pub(super) async fn admin_command(
        &self,
        event: &RoomEvent,
        cmd: Result<AdminCommand, String>,
    ) -> BridgeResult<String> {
        let admin = event.sender.as_str();
        if !self.settings.access.is_admin(admin) {
            return Ok(format!("❌ {}", unknown_command("admin")));
        }
        let cmd = match cmd {
            Ok(cmd) => cmd,
            Err(usage) => return Ok(format!("❌ {usage}")),
        };
        info!(admin, command = ?cmd, "admin command");
        match cmd {
            AdminCommand::Help => Ok(crate::core::commands::admin_usage().to_owned()),
            AdminCommand::Status => self.admin_status().await,
            AdminCommand::Failures(n) => self.admin_failures(n).await,
            AdminCommand::Retry(target) => {
                let moved = self.db.retry_dead_letters(target.as_deref(), now_ms()).await?;
                info!(admin, moved, "dead letters retried");
                Ok(match (moved, target) {
                    (0, Some(id)) => format!("❌ No dead letter {} that can run again.", code(&id)),
                    (n, _) => format!("✅ {n} dead letter(s) are back in their rooms' lines."),
                })
            }
            AdminCommand::System { target, delete, confirmed } => {
                let Some(system) = self.find_system(&event.sender, &target).await? else {
                    return Ok(format!("❌ No system found for {}.", code(&target)));
                };
                if !delete {
                    let accounts = self.db.system_accounts(system.id).await?;
                    let accounts: Vec<String> = accounts.iter().map(|a| code(a)).collect();
                    let card = self.system_card(&system, Viewer::Owner).await?;
                    return Ok(format!("{card}\n**Accounts:** {}", accounts.join(", ")));
                }
                if !confirmed {
                    return Ok(format!(
                        "⚠️ This deletes the system {} for good. Send `pk;admin system {} delete -y` to do it.",
                        code(&system.short_id),
                        system.short_id
                    ));
                }
                let answer = format!("✅ System {} deleted by an admin.", code(&system.short_id));
                self.delete_system_now(&system, event, &answer).await?;
                Ok(answer)
            }
            AdminCommand::Ban { pattern, banned } => {
                if !pattern.starts_with('@') || pattern.chars().any(char::is_whitespace) {
                    return Ok("❌ Give a user ID or a pattern like `@spam*:example.org`.".to_owned());
                }
                let changed = self.db.set_ban(&pattern, banned, admin, now_ms()).await?;
                self.settings.access.set_bans(&self.db.bans().await?);
                info!(admin, pattern, banned, changed, "ban list changed");
                Ok(match (banned, changed) {
                    (true, true) => format!("✅ {} may no longer use this bridge (admins excepted).", code(&pattern)),
                    (true, false) => format!("{} was banned already.", code(&pattern)),
                    (false, true) => format!("✅ {} is no longer banned.", code(&pattern)),
                    (false, false) => format!(
                        "{} was not on the ban list (the config's `access.deny` is \
                                               changed in the file).",
                        code(&pattern)
                    ),
                })
            }
            AdminCommand::GhostCrypto { ghost, action } => self.admin_ghost_crypto(&ghost, action).await,
        }
    }

    async fn admin_status(&self) -> BridgeResult<String> {
        let now = now_ms();
        let backlog = self.db.journal_pending_count().await? + self.db.pending_events().await?;
        let oldest = self.db.oldest_pending_age(now).await?.map(format_duration).unwrap_or_else(|| "none".into());
        let (dead, failed) = self.db.failures_since(now - HOUR_MS).await?;
        let states = self.db.identity_states().await?;
        let identities: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
        Ok(format!(
            "**pluralmatrix {}**\n- **Up:** {}\n- **Backlog:** {backlog} (oldest: {oldest})\n- **Last hour:** {dead} \
             dead letter(s), {failed} event(s) that failed at least once\n- **Dead letters kept:** {}\n- **Crypto \
             stores open:** {}\n- **Identities:** {}",
            env!("CARGO_PKG_VERSION"),
            format_duration((uptime_seconds() * 1000.0) as i64),
            self.db.dead_letter_count().await?,
            metrics().crypto_machines_open.get(),
            identities.join(", ")
        ))
    }

    async fn admin_failures(&self, n: usize) -> BridgeResult<String> {
        let letters = self.db.recent_dead_letters(n as i64).await?;
        if letters.is_empty() {
            return Ok("No dead letters.".to_owned());
        }
        let now = now_ms();
        let mut out = format!(
            "**The newest {} dead letter(s)** (`pk;admin retry <event ID>|all` runs them again)\n",
            letters.len()
        );
        for d in letters {
            let reason: String = d.reason.chars().take(200).collect();
            out.push_str(&format!(
                "- {} in {} from {}, {} attempt(s), {} ago: {}\n",
                code(&d.event_id),
                code(&d.room_id),
                code(d.sender.as_deref().unwrap_or("?")),
                d.attempts,
                format_duration(now - d.dead_at),
                md(&reason)
            ));
        }
        Ok(out)
    }

    async fn admin_ghost_crypto(&self, ghost: &str, action: GhostCryptoAction) -> BridgeResult<String> {
        let Some(identity) = self.db.crypto_identity(ghost).await? else {
            return Ok(format!("❌ {} has no crypto identity here.", code(ghost)));
        };
        match action {
            GhostCryptoAction::Status => Ok(format!(
                "**{}**\n- **Device:** {} ({})\n- **Cross-signing:** {}\n- **Keys in secret storage:** {}",
                md(ghost),
                code(&identity.device_id),
                if identity.device_created { "created" } else { "not created yet" },
                if identity.cross_signing_done { "set up" } else { "not set up yet" },
                if identity.secrets_stored { "yes" } else { "no" }
            )),
            GhostCryptoAction::Reset | GhostCryptoAction::Restore => {
                let (Some(crypto), Ok(user)) = (&self.crypto, ruma::UserId::parse(ghost)) else {
                    return Ok("❌ Encryption is switched off here.".to_owned());
                };
                let reset = action == GhostCryptoAction::Reset;
                crypto.rebuild_identity(&user, reset).await?;
                let after = self.db.crypto_identity(ghost).await?.map(|r| r.device_id).unwrap_or_default();
                info!(%user, reset, device = after, "identity rebuilt by an admin");
                Ok(if reset {
                    format!(
                        "✅ {} starts over with a new device {} and new cross-signing keys; others see its identity \
                         change.",
                        code(ghost),
                        code(&after)
                    )
                } else {
                    format!(
                        "✅ {} has a new device {}, signed by its identity from secret storage (or new keys, if \
                         secret storage had none; see the log).",
                        code(ghost),
                        code(&after)
                    )
                })
            }
        }
    }
}
