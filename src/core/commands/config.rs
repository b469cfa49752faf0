//! `pk;config [<setting> [<value>|-clear]]`: the setting's words (PluralKit's, with their
//! short forms) and its value, read by `core::settings`.

use super::{ParseError, args::Args, args::is_clear_flag};
use crate::core::settings::{self, Key, Setting};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigCommand {
    /// `pk;config`: every setting with its value and default.
    All,
    Show(Key),
    Set(Setting),
}

/// The words that name each setting; two-word names may also be written as one word.
const WORDS: &[(&[&str], Key)] = &[
    (&["timezone"], Key::Timezone),
    (&["zone"], Key::Timezone),
    (&["tz"], Key::Timezone),
    (&["autoproxy", "timeout"], Key::LatchTimeout),
    (&["ap", "timeout"], Key::LatchTimeout),
    (&["autoproxy", "tm"], Key::LatchTimeout),
    (&["ap", "tm"], Key::LatchTimeout),
    (&["latch", "timeout"], Key::LatchTimeout),
    (&["ping"], Key::Ping),
    (&["pings"], Key::Ping),
    (&["proxy", "case"], Key::ProxyCase),
    (&["proxy", "switch"], Key::ProxySwitch),
    (&["ps"], Key::ProxySwitch),
    (&["private", "member"], Key::MemberPrivate),
    (&["mp"], Key::MemberPrivate),
    (&["private", "group"], Key::GroupPrivate),
    (&["gp"], Key::GroupPrivate),
    (&["show", "private"], Key::ShowPrivate),
    (&["sp"], Key::ShowPrivate),
    (&["name", "format"], Key::NameFormat),
    (&["nameformat"], Key::NameFormat),
    (&["nf"], Key::NameFormat),
];

/// `pk;config …` (token 0 is `config`).
pub(super) fn parse(args: &Args<'_>) -> Result<ConfigCommand, ParseError> {
    if args.len() == 1 {
        return Ok(ConfigCommand::All);
    }
    let found =
        WORDS.iter().find(|(words, _)| words.iter().enumerate().all(|(i, w)| args.word(1 + i).as_deref() == Some(*w)));
    let Some((words, key)) = found else {
        let names: Vec<String> = settings::KEYS.iter().map(|(_, name, _)| format!("`{name}`")).collect();
        return Err(ParseError(format!("Unknown setting. The settings are {}.", names.join(", "))));
    };
    let Some(value) = args.rest(1 + words.len()) else {
        return Ok(ConfigCommand::Show(*key));
    };
    let clear = is_clear_flag(&value) || value.eq_ignore_ascii_case("reset") || value.eq_ignore_ascii_case("default");
    settings::parse_value(*key, &value, clear).map(ConfigCommand::Set).map_err(ParseError)
}
