//! `pk;system …`: the system card, creation, the member list, and the profile fields.

use super::{
    ParseError,
    args::{Args, FieldArg, checked_name, field_arg, privacy_arg},
    table::{self, Scope, Verb},
};
use crate::core::{
    privacy::{Level, SystemSubject, Target},
    profile::SystemField,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemCommand {
    /// `pk;system` — the sender's own card.
    Show,
    /// `pk;system <target>` — another system's card (slug, ID or a linked account's user ID).
    ShowOther(String),
    New {
        name: Option<String>,
    },
    /// Show, set or clear a profile field (`rename`, `description`, `tag`, …).
    Field {
        field: SystemField,
        value: FieldArg,
    },
    List,
    /// Asks for the system's ID, then deletes everything.
    Delete,
    /// `None` shows the settings.
    Privacy(Option<(Target<SystemSubject>, Level)>),
}

pub(super) fn parse(args: &Args<'_>) -> Result<SystemCommand, ParseError> {
    let Some(word) = args.word(1) else {
        return Ok(SystemCommand::Show);
    };
    Ok(match table::find(Scope::System, &word) {
        Some(Verb::SystemNew) => {
            SystemCommand::New { name: args.rest(2).map(|n| checked_name(&n, "system")).transpose()? }
        }
        Some(Verb::SystemList) => SystemCommand::List,
        Some(Verb::SystemDelete) => SystemCommand::Delete,
        Some(Verb::SystemPrivacy) => SystemCommand::Privacy(privacy_arg(args, 2)?),
        Some(Verb::SystemField(SystemField::Name)) => match args.rest(2) {
            None => SystemCommand::Field { field: SystemField::Name, value: FieldArg::Show },
            Some(n) if super::args::is_clear_flag(&n) => {
                SystemCommand::Field { field: SystemField::Name, value: FieldArg::Clear }
            }
            Some(n) => {
                SystemCommand::Field { field: SystemField::Name, value: FieldArg::Set(checked_name(&n, "system")?) }
            }
        },
        Some(Verb::SystemField(field)) => SystemCommand::Field {
            field,
            value: field_arg(args, 2, field.kind(), &format!("system {}", field.label()))?,
        },
        _ => SystemCommand::ShowOther(args.text(1).unwrap_or_default()),
    })
}
