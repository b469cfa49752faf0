//! Room command parsing (PluralKit's command language): prefix detection, quoting, and the
//! typed [`Command`] tree. Words are looked up in one table (`table`), which `pk;help` also
//! lists; each family parses its own arguments (`system`, `member`). Pure: knows nothing
//! about the database or Matrix.

mod args;
mod group;
mod member;
mod system;
pub mod table;
#[cfg(test)]
mod tests;

pub use args::FieldArg;
pub use group::GroupCommand;
pub use member::{MemberCommand, ProxyAction};
pub use system::SystemCommand;

use self::{
    args::Args,
    table::{Scope, Verb},
};
pub use super::profile::MAX_NAME_CHARS;
use super::replies::code;

/// A parsed room command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    System(SystemCommand),
    Member(MemberCommand),
    Group(GroupCommand),
    /// `pk;config` (shows the settings) and `pk;config name format [<format>|-clear]`.
    Config(Option<FieldArg>),
    /// `pk;export`: the system as a PluralKit export in the sender's direct chat.
    Export,
    /// `pk;import`: the file is the message's own attachment or the replied-to message's.
    Import,
    /// `pk;link <user>`: ask `user` to join the sender's system.
    Link {
        target: String,
    },
    /// `pk;unlink [<user>]`: remove an account from the system (the sender's own if none).
    Unlink {
        target: Option<String>,
    },
    /// A card shown to its owner the way others see it (`-public` on `pk;system`,
    /// `pk;member <m>`, `pk;group <g>`).
    PublicView(Box<Command>),
    /// `pk;autoproxy` with no argument shows the current mode.
    Autoproxy(Option<AutoproxyArg>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoproxyArg {
    Off,
    Latch,
    Front,
    Member(String),
}

/// A message that starts with the prefix but is not a valid command. The text is shown to
/// the user as the bot's reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn usage(text: &str) -> ParseError {
    ParseError(text.to_owned())
}

/// "Usage: …" with the usage lines of a scope.
fn usage_of(scope: Scope) -> String {
    let lines: Vec<String> = table::usages(scope).map(|u| code(&format!("pk;{u}"))).collect();
    format!("Usage: {}", lines.join(", "))
}

/// If `text` starts with `prefix` (case-insensitive, optionally followed by whitespace),
/// what follows it. Leading whitespace before the prefix is ignored.
pub fn strip_prefix<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let text = text.trim_start();
    let mut rest = text.char_indices();
    for p in prefix.chars() {
        let (_, c) = rest.next()?;
        if !c.to_lowercase().eq(p.to_lowercase()) {
            return None;
        }
    }
    let at = rest.next().map_or(text.len(), |(i, _)| i);
    Some(text[at..].trim_start())
}

/// Parses a message body (reply fallback already removed). `None`: not a command at all.
pub fn parse(text: &str, prefix: &str) -> Option<Result<Command, ParseError>> {
    let rest = strip_prefix(text, prefix)?;
    Some(parse_command(rest.trim_end()))
}

/// Removes the view flags (`-public`, `-private`) from a command line; says whether the public
/// view was asked for (the private one is the owner's default).
fn take_view_flags(input: &str) -> (String, bool) {
    let mut out = String::with_capacity(input.len());
    let mut public = false;
    let mut pos = 0;
    for token in args::tokenize(input) {
        let flag = token.text.to_lowercase();
        let is_public = matches!(flag.as_str(), "-public" | "-pub");
        if (is_public || matches!(flag.as_str(), "-private" | "-priv")) && input[token.start..].starts_with(&token.text)
        {
            public |= is_public;
            out.push_str(&input[pos..token.start]);
            pos = token.start + token.text.len();
        }
    }
    out.push_str(&input[pos..]);
    (out.trim().to_owned(), public)
}

fn parse_command(input: &str) -> Result<Command, ParseError> {
    let (input, public) = take_view_flags(input);
    let cmd = parse_words(&input)?;
    let is_card = matches!(
        cmd,
        Command::System(SystemCommand::Show)
            | Command::Member(MemberCommand::Show { .. })
            | Command::Group(GroupCommand::Show { .. })
    );
    Ok(if public && is_card { Command::PublicView(Box::new(cmd)) } else { cmd })
}

fn parse_words(input: &str) -> Result<Command, ParseError> {
    let args = Args::new(input);
    let Some(head) = args.word(0) else {
        return Ok(Command::Help);
    };
    match table::find(Scope::Root, &head) {
        Some(Verb::Help) => Ok(Command::Help),
        Some(Verb::System) => system::parse(&args).map(Command::System),
        Some(Verb::List) => Ok(Command::System(SystemCommand::List)),
        Some(Verb::Member)
            if args.len() == 2 && args.word(1).and_then(|w| table::find(Scope::Members, &w)) == Some(Verb::List) =>
        {
            Ok(Command::System(SystemCommand::List))
        }
        Some(Verb::Member) if is_member_groups(&args) => {
            group::parse_of_member(&args, args.text(1).unwrap_or_default()).map(Command::Group)
        }
        Some(Verb::Member) => member::parse(&args).map(Command::Member),
        Some(Verb::Group) => group::parse(&args).map(Command::Group),
        Some(Verb::Import) => Ok(Command::Import),
        Some(Verb::Export) => Ok(Command::Export),
        Some(Verb::Config) => parse_config(&args),
        Some(Verb::Link) => match args.text(1) {
            Some(target) if args.len() == 2 => Ok(Command::Link { target }),
            _ => Err(usage("Usage: `pk;link @user:server` (the account to link)")),
        },
        Some(Verb::Unlink) if args.len() <= 2 => Ok(Command::Unlink { target: args.text(1) }),
        Some(Verb::Unlink) => Err(usage("Usage: `pk;unlink [@user:server]`")),
        Some(Verb::Autoproxy) => Ok(Command::Autoproxy(parse_autoproxy(&args))),
        _ => Err(ParseError(format!("Unknown command {}. Send `pk;help` for the list of commands.", code(&head)))),
    }
}

/// `pk;config [name format [<format>|-clear]]`.
fn parse_config(args: &Args<'_>) -> Result<Command, ParseError> {
    let (first, second) = (args.word(1), args.word(2));
    let value_at = match (first.as_deref(), second.as_deref()) {
        (None, _) => return Ok(Command::Config(None)),
        (Some("name"), Some("format")) => 3,
        (Some("nameformat" | "nf"), _) => 2,
        _ => return Err(usage("The settings are: `pk;config name format [<format>|-clear]`.")),
    };
    let value = match args.rest(value_at) {
        None => FieldArg::Show,
        Some(v) if args::is_clear_flag(&v) => FieldArg::Clear,
        Some(v) => {
            let v = crate::core::profile::check(crate::core::profile::Kind::Line(100), "name format", &v)
                .map_err(ParseError)?;
            if !v.contains("{name}") {
                return Err(usage("A name format needs `{name}` somewhere, like `{name} {tag}`."));
            }
            FieldArg::Set(v)
        }
    };
    Ok(Command::Config(Some(value)))
}

/// `pk;member <member> group …` (and not `pk;member new G…`).
fn is_member_groups(args: &Args<'_>) -> bool {
    let names_a_member = args.word(1).is_some_and(|w| table::find(Scope::Members, &w).is_none());
    names_a_member && args.word(2).and_then(|w| table::find(Scope::Member, &w)) == Some(Verb::MemberGroups)
}

fn parse_autoproxy(args: &Args<'_>) -> Option<AutoproxyArg> {
    match args.word(1).as_deref() {
        None => None,
        Some("off" | "disable" | "stop" | "no") => Some(AutoproxyArg::Off),
        Some("latch" | "last" | "proxy" | "stick" | "sticky" | "l") => Some(AutoproxyArg::Latch),
        Some("front" | "fronter" | "switch" | "f") => Some(AutoproxyArg::Front),
        Some(_) => Some(AutoproxyArg::Member(args.rest(1).unwrap_or_default())),
    }
}
