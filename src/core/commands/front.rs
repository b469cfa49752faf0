//! Fronting commands: `pk;switch …` (register, move, edit, copy, delete switches) and the
//! front views (`pk;system fronter|fronthistory|frontpercent`, `pk;front`, `pk;fh`, `pk;fp`,
//! `pk;group <g> frontpercent`). Times stay text here: reading them needs the system's zone.

use super::{
    ParseError,
    args::Args,
    table::{self, Scope, Verb},
    usage, usage_of,
};

/// How `switch edit` / `switch copy` combine the named members with the current switch
/// (PluralKit's flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchEditHow {
    /// The named members replace the switch (`edit` without a flag).
    Replace,
    /// `-first`: the one named member moves to the front, the rest stay.
    First,
    /// `-remove`: the named members leave.
    Remove,
    /// `-append`: the named members join at the end (`copy` without a flag).
    Append,
    /// `-prepend`: the named members join at the front.
    Prepend,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchCommand {
    /// `pk;switch <member>…`; no members: `pk;switch out`.
    Register { members: Vec<String> },
    /// `pk;switch move <time>`.
    Move { time: String, confirmed: bool },
    /// `pk;switch edit <member>… [-first|-remove|-append|-prepend]`; no members: `edit out`.
    Edit { members: Vec<String>, how: SwitchEditHow, confirmed: bool },
    /// `pk;switch copy <member>… [flags]`: a new switch made from the current one.
    Copy { members: Vec<String>, how: SwitchEditHow },
    /// `pk;switch delete [all]`.
    Delete { all: bool, confirmed: bool },
}

/// Which front view, for which system (`None`: the sender's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontView {
    Fronter,
    /// Newest first; `page` counts from 1.
    History {
        page: usize,
    },
    /// Since `since` (default 30 days), optionally only a group's members.
    Percent {
        since: Option<String>,
        flat: bool,
        fronters_only: bool,
        group: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontCommand {
    pub system: Option<String>,
    pub view: FrontView,
}

/// The flags of a command line (lower-cased, without the dash) and the other tokens.
fn split_flags(args: &Args<'_>, from: usize) -> (Vec<String>, Vec<String>) {
    let (mut flags, mut rest) = (Vec::new(), Vec::new());
    for t in args.tokens.iter().skip(from) {
        match t.text.strip_prefix('-') {
            Some(flag) if !flag.is_empty() && !t.text.contains(char::is_whitespace) => {
                flags.push(flag.trim_start_matches('-').to_lowercase())
            }
            _ => rest.push(t.text.clone()),
        }
    }
    (flags, rest)
}

fn has(flags: &[String], names: &[&str]) -> bool {
    flags.iter().any(|f| names.contains(&f.as_str()))
}

fn is_yes(flags: &[String]) -> bool {
    has(flags, &["y", "yes", "confirm"])
}

fn edit_how(flags: &[String], default: SwitchEditHow) -> SwitchEditHow {
    if has(flags, &["first", "f"]) {
        SwitchEditHow::First
    } else if has(flags, &["remove", "r"]) {
        SwitchEditHow::Remove
    } else if has(flags, &["append", "a"]) {
        SwitchEditHow::Append
    } else if has(flags, &["prepend", "p"]) {
        SwitchEditHow::Prepend
    } else {
        default
    }
}

/// `pk;switch …` (token 0 is `switch`).
pub(super) fn parse_switch(args: &Args<'_>) -> Result<SwitchCommand, ParseError> {
    let Some(word) = args.word(1) else {
        return Err(ParseError(usage_of(Scope::Switch)));
    };
    let (flags, rest) = split_flags(args, 2);
    Ok(match table::find(Scope::Switch, &word) {
        Some(Verb::SwitchOut) => SwitchCommand::Register { members: Vec::new() },
        Some(Verb::SwitchMove) => {
            let time = (!rest.is_empty()).then(|| rest.join(" "));
            let time = time.ok_or_else(|| usage("Usage: `pk;switch move <time>`, like `2h` or `14:30`."))?;
            SwitchCommand::Move { time, confirmed: is_yes(&flags) }
        }
        Some(Verb::SwitchEdit) => {
            let out = rest.len() == 1 && rest[0].eq_ignore_ascii_case("out");
            let how = edit_how(&flags, SwitchEditHow::Replace);
            let members = if out { Vec::new() } else { rest };
            if members.is_empty() && !out {
                return Err(usage("Usage: `pk;switch edit <member>…` or `pk;switch edit out`."));
            }
            if how == SwitchEditHow::First && members.len() != 1 {
                return Err(usage("`-first` takes one member."));
            }
            SwitchCommand::Edit { members, how, confirmed: is_yes(&flags) }
        }
        Some(Verb::SwitchCopy) => {
            let how = edit_how(&flags, SwitchEditHow::Append);
            if how == SwitchEditHow::First && rest.len() != 1 {
                return Err(usage("`-first` takes one member."));
            }
            SwitchCommand::Copy { members: rest, how }
        }
        Some(Verb::SwitchDelete) => {
            let all = has(&flags, &["all", "clear", "c"])
                || rest.first().is_some_and(|w| matches!(w.to_lowercase().as_str(), "all" | "clear"));
            SwitchCommand::Delete { all, confirmed: is_yes(&flags) }
        }
        _ => {
            let (_, members) = split_flags(args, 1);
            SwitchCommand::Register { members }
        }
    })
}

/// A front view word (`fronter`, `fh`, `fp`, …) at token `at`, for `system` (None: the sender's).
pub(super) fn parse_view(args: &Args<'_>, at: usize, system: Option<String>) -> Option<FrontCommand> {
    let word = args.word(at)?;
    // `f` is the member list at the root (PluralKit's), the fronter after `system`.
    let verb = if at > 0 && word == "f" { Verb::Front } else { table::find(Scope::Root, &word)? };
    let (flags, rest) = split_flags(args, at + 1);
    // At the root (`pk;front <system>`), a word that is not a page or a time names the system.
    let (mut system, mut rest) = (system, rest);
    let view = match verb {
        Verb::Front => {
            if at == 0 && !rest.is_empty() {
                system = Some(rest.join(" "));
            }
            FrontView::Fronter
        }
        Verb::FrontHistory => {
            let page = rest.first().and_then(|p| p.parse::<usize>().ok());
            if at == 0 && page.is_none() && !rest.is_empty() {
                system = Some(rest.remove(0));
            }
            FrontView::History { page: page.unwrap_or(1).max(1) }
        }
        Verb::FrontPercent => percent(&flags, &rest, None),
        _ => return None,
    };
    Some(FrontCommand { system, view })
}

fn percent(flags: &[String], rest: &[String], group: Option<String>) -> FrontView {
    FrontView::Percent {
        since: (!rest.is_empty()).then(|| rest.join(" ")),
        flat: has(flags, &["flat"]),
        fronters_only: has(flags, &["fronters-only", "fo", "fronters", "ignore-no-fronters"]),
        group,
    }
}

/// `pk;group <group> frontpercent …` (tokens 0–2 are `group <group> fp`).
pub(super) fn parse_group_percent(args: &Args<'_>, group: String) -> FrontCommand {
    let (flags, rest) = split_flags(args, 3);
    FrontCommand { system: None, view: percent(&flags, &rest, Some(group)) }
}
