//! `pk;group …` and `pk;member <member> group …`: creating and listing groups, their cards,
//! membership, profile fields and deletion.

use super::{
    ParseError,
    args::{Args, FieldArg, checked_name, field_arg, privacy_arg},
    table::{self, Scope, Verb},
    usage, usage_of,
};
use crate::core::{
    privacy::{GroupSubject, Level, Target},
    profile::GroupField,
    replies::code,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupCommand {
    New {
        name: String,
    },
    List,
    Show {
        group: String,
    },
    /// Members in (or out of) the group, by reference.
    Add {
        group: String,
        members: Vec<String>,
    },
    Remove {
        group: String,
        members: Vec<String>,
    },
    Members {
        group: String,
    },
    Field {
        group: String,
        field: GroupField,
        value: FieldArg,
    },
    Delete {
        group: String,
        confirmed: bool,
    },
    /// `None` shows the settings.
    Privacy {
        group: String,
        change: Option<(Target<GroupSubject>, Level)>,
    },
    /// `pk;member <member> group [add|remove <group>…]`: `None` lists the member's groups.
    OfMember {
        member: String,
        change: Option<(bool, Vec<String>)>,
    },
}

/// The references from token `from` on (each a name, ID or quoted name).
fn references(args: &Args<'_>, from: usize, what: &str) -> Result<Vec<String>, ParseError> {
    let refs: Vec<String> = args.tokens.iter().skip(from).map(|t| t.text.clone()).collect();
    if refs.is_empty() { Err(ParseError(format!("Name at least one {what}."))) } else { Ok(refs) }
}

pub(super) fn parse(args: &Args<'_>) -> Result<GroupCommand, ParseError> {
    let first = args.word(1).ok_or_else(|| ParseError(usage_of(Scope::Groups)))?;
    match table::find(Scope::Groups, &first) {
        Some(Verb::GroupNew) => {
            let name = args.rest(2).ok_or_else(|| usage("Usage: `pk;group new <name>`"))?;
            return Ok(GroupCommand::New { name: checked_name(&name, "group")? });
        }
        Some(Verb::GroupList) if args.len() == 2 => return Ok(GroupCommand::List),
        _ => {}
    }
    let group = args.text(1).unwrap_or_default();
    let Some(word) = args.word(2) else {
        return Ok(GroupCommand::Show { group });
    };
    Ok(match table::find(Scope::Group, &word) {
        Some(Verb::GroupAdd) => GroupCommand::Add { group, members: references(args, 3, "member")? },
        Some(Verb::GroupRemove) => GroupCommand::Remove { group, members: references(args, 3, "member")? },
        Some(Verb::GroupMembers) => GroupCommand::Members { group },
        Some(Verb::GroupDelete) => GroupCommand::Delete { group, confirmed: args.is_yes(3) },
        Some(Verb::GroupPrivacy) => GroupCommand::Privacy { group, change: privacy_arg(args, 3)? },
        Some(Verb::GroupField(GroupField::Name)) => match args.rest(3) {
            None => GroupCommand::Field { group, field: GroupField::Name, value: FieldArg::Show },
            Some(n) => {
                GroupCommand::Field { group, field: GroupField::Name, value: FieldArg::Set(checked_name(&n, "group")?) }
            }
        },
        Some(Verb::GroupField(field)) => {
            let value = field_arg(args, 3, field.kind(), &format!("group {}", field.label()))?;
            GroupCommand::Field { group, field, value }
        }
        _ => {
            return Err(ParseError(format!("Unknown group command {}. {}", code(&word), usage_of(Scope::Group))));
        }
    })
}

/// `pk;member <member> group …` (tokens 0–2 are `member <member> group`).
pub(super) fn parse_of_member(args: &Args<'_>, member: String) -> Result<GroupCommand, ParseError> {
    let change = match args.word(3).as_deref() {
        None => None,
        Some("add" | "a") => Some((true, references(args, 4, "group")?)),
        Some("remove" | "rem" | "r") => Some((false, references(args, 4, "group")?)),
        Some(_) => return Err(usage("Usage: `pk;member <member> group add|remove <group>…`")),
    };
    Ok(GroupCommand::OfMember { member, change })
}
