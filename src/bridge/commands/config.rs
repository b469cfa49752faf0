//! `pk;config`: the system's settings. So far the name format of its member accounts
//! (PluralKit's `name_format`); changing it renames every ghost at once.

use super::super::{Bridge, BridgeResult};
use crate::{
    core::{
        commands::FieldArg,
        profile::{DEFAULT_NAME_FORMAT, format_name},
        replies::code,
    },
    db::System,
};

impl Bridge {
    pub(super) async fn config_command(&self, system: System, value: Option<FieldArg>) -> BridgeResult<String> {
        let current = system.name_format.clone();
        let shown = |f: Option<&str>| match f {
            Some(f) => code(f),
            None => format!("{} (the default)", code(DEFAULT_NAME_FORMAT)),
        };
        let example = |f: Option<&str>| code(&format_name(f, "Alice", system.tag.as_deref().or(Some("| Tag"))));
        match value {
            None | Some(FieldArg::Show) => Ok(format!(
                "**Settings**\n- **Name format:** {} — e.g. {}",
                shown(current.as_deref()),
                example(current.as_deref())
            )),
            Some(change) => {
                let new = match change {
                    FieldArg::Set(f) => Some(f),
                    _ => None,
                };
                self.db.set_name_format(system.id, new.as_deref()).await?;
                if let Some(updated) = self.db.system_by_id(system.id).await? {
                    self.resync_system_ghosts(&updated).await;
                }
                Ok(format!(
                    "✅ Name format set to {}: members show as {}.",
                    shown(new.as_deref()),
                    example(new.as_deref())
                ))
            }
        }
    }
}
