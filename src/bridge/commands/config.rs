//! `pk;config`: the system's settings (PluralKit's system config). Bare `pk;config` lists
//! every one with its value and default; changing the name format renames every ghost.

use super::super::{Bridge, BridgeResult};
use crate::{
    core::{
        commands::ConfigCommand,
        profile::{DEFAULT_NAME_FORMAT, format_name},
        replies::code,
        settings::{KEYS, Key, Setting, on_off, timeout_text},
        time::{Tz, format_instant},
    },
    db::{System, now_ms},
};

impl Bridge {
    pub(super) async fn config_command(&self, system: System, cmd: ConfigCommand) -> BridgeResult<String> {
        match cmd {
            ConfigCommand::All => {
                let mut out =
                    String::from("**Settings** (`pk;config <setting> <value>` changes one, `-clear` resets it)\n");
                for (key, name, what) in KEYS {
                    let (value, default) = self.setting_text(&system, *key);
                    let changed = if value == default { String::new() } else { format!(" (default: {default})") };
                    out.push_str(&format!("- **{name}:** {value}{changed} — {what}\n"));
                }
                Ok(out)
            }
            ConfigCommand::Show(key) => {
                let name = KEYS.iter().find(|(k, _, _)| *k == key).map_or("", |(_, n, _)| *n);
                let (value, default) = self.setting_text(&system, key);
                let mut out = format!("**{name}:** {value} (default: {default})");
                if key == Key::Timezone {
                    out.push_str(&format!(". It is now {} there", format_instant(now_ms(), system.config.zone())));
                }
                if key == Key::NameFormat {
                    out.push_str(&format!(
                        ". Members show as {}",
                        self.name_example(&system, system.name_format.as_deref())
                    ));
                }
                Ok(format!("{out}."))
            }
            ConfigCommand::Set(setting) => {
                self.db.set_setting(system.id, &setting).await?;
                let Some(updated) = self.db.system_by_id(system.id).await? else {
                    return Ok(String::new());
                };
                let key = setting.key();
                let name = KEYS.iter().find(|(k, _, _)| *k == key).map_or("", |(_, n, _)| *n);
                let (value, _) = self.setting_text(&updated, key);
                let mut out = format!("✅ **{name}** is now {value}");
                match setting {
                    Setting::NameFormat(format) => {
                        self.resync_system_ghosts(&updated).await;
                        out.push_str(&format!(": members show as {}", self.name_example(&updated, format.as_deref())));
                    }
                    Setting::Timezone(_) => {
                        out.push_str(&format!(
                            " (it is now {} there)",
                            format_instant(now_ms(), updated.config.zone())
                        ));
                    }
                    _ => {}
                }
                Ok(format!("{out}."))
            }
        }
    }

    fn name_example(&self, system: &System, format: Option<&str>) -> String {
        code(&format_name(format, "Alice", system.tag.as_deref().or(Some("| Tag"))))
    }

    /// A setting's value and its default, as shown.
    fn setting_text(&self, system: &System, key: Key) -> (String, String) {
        let c = &system.config;
        let default_timeout = self.settings.latch_timeout_ms;
        match key {
            Key::Timezone => (code(c.zone().name()), code(Tz::UTC.name())),
            Key::LatchTimeout => (timeout_text(c.latch_timeout(default_timeout)), timeout_text(default_timeout)),
            Key::Ping => (on_off(c.pings_enabled).to_owned(), "on".to_owned()),
            Key::ProxyCase => (
                if c.case_sensitive_tags { "on (exact case)" } else { "off (any letter case)" }.to_owned(),
                "on".to_owned(),
            ),
            Key::ProxySwitch => (c.proxy_switch().as_str().to_owned(), "off".to_owned()),
            Key::MemberPrivate => (on_off(c.member_default_private).to_owned(), "off".to_owned()),
            Key::GroupPrivate => (on_off(c.group_default_private).to_owned(), "off".to_owned()),
            Key::ShowPrivate => (on_off(c.show_private).to_owned(), "on".to_owned()),
            Key::NameFormat => {
                (code(system.name_format.as_deref().unwrap_or(DEFAULT_NAME_FORMAT)), code(DEFAULT_NAME_FORMAT))
            }
        }
    }
}
