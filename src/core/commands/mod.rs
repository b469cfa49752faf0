//! Room command parsing (PluralKit's command language): prefix detection, quoting, and the
//! typed [`Command`] tree. Words are looked up in one table (`table`), which `pk;help` also
//! lists; each family parses its own arguments (`system`, `member`). Pure: knows nothing
//! about the database or Matrix.

mod admin;
mod args;
mod config;
mod front;
mod group;
mod member;
mod system;
pub mod table;
#[cfg(test)]
mod tests;

pub use admin::{AdminCommand, GhostCryptoAction};
pub use args::FieldArg;
pub use config::ConfigCommand;
pub use front::{FrontCommand, FrontView, SwitchCommand, SwitchEditHow};
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
    /// `pk;help <topic>` (lower-cased).
    HelpTopic(String),
    System(SystemCommand),
    Member(MemberCommand),
    Group(GroupCommand),
    /// `pk;config [<setting> [<value>|-clear]]`.
    Config(ConfigCommand),
    /// `pk;admin …` (`admin.users` only; `Err` holds the usage for a malformed one).
    Admin(Result<AdminCommand, String>),
    /// `pk;switch …`.
    Switch(SwitchCommand),
    /// `pk;front`, `pk;fh`, `pk;fp`, `pk;system [<system>] fronter|…`, `pk;group <g> fp`.
    Front(FrontCommand),
    /// `pk;edit <text>`: the replied-to (or latest) proxied message of the sender's system.
    Edit {
        text: String,
        how: EditHow,
    },
    /// `pk;reproxy <member>`.
    Reproxy {
        member: String,
    },
    /// `pk;message [<event ID or link>] [-delete]`.
    Message {
        target: Option<String>,
        delete: bool,
    },
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
    /// A card with `-private`: the owner's full view even with `pk;config show private off`.
    PrivateView(Box<Command>),
    /// `pk;autoproxy` with no argument shows what applies in the room; `global`: the
    /// system's default rather than this room's mode.
    Autoproxy {
        arg: Option<AutoproxyArg>,
        global: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoproxyArg {
    Off,
    Latch,
    Front,
    Member(String),
    /// The room follows the system's default again.
    Default,
}

/// How `pk;edit` uses its text (PluralKit's `-append`, `-prepend`, `-regex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditHow {
    Replace,
    Append,
    Prepend,
    /// The text is `s|find|replace|flags`.
    Regex,
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

/// Removes the view flags (`-public`, `-private`) from a command line; says which view was
/// asked for (`None`: neither).
fn take_view_flags(input: &str) -> (String, Option<bool>) {
    let mut out = String::with_capacity(input.len());
    let mut public = None;
    let mut pos = 0;
    for token in args::tokenize(input) {
        let flag = token.text.to_lowercase();
        let is_public = matches!(flag.as_str(), "-public" | "-pub");
        if (is_public || matches!(flag.as_str(), "-private" | "-priv")) && input[token.start..].starts_with(&token.text)
        {
            public = Some(is_public || public == Some(true));
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
    Ok(match public {
        Some(true) if is_card => Command::PublicView(Box::new(cmd)),
        Some(false) if is_card => Command::PrivateView(Box::new(cmd)),
        _ => cmd,
    })
}

fn parse_words(input: &str) -> Result<Command, ParseError> {
    let args = Args::new(input);
    let Some(head) = args.word(0) else {
        return Ok(Command::Help);
    };
    match table::find(Scope::Root, &head) {
        Some(Verb::Help) => Ok(match args.word(1) {
            None => Command::Help,
            Some(topic) => Command::HelpTopic(topic),
        }),
        Some(Verb::System) => match system_front(&args) {
            Some(front) => Ok(Command::Front(front)),
            None => system::parse(&args).map(Command::System),
        },
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
        Some(Verb::Group)
            if args.word(2).and_then(|w| table::find(Scope::Group, &w)) == Some(Verb::GroupFrontPercent) =>
        {
            Ok(Command::Front(front::parse_group_percent(&args, args.text(1).unwrap_or_default())))
        }
        Some(Verb::Group) => group::parse(&args).map(Command::Group),
        Some(Verb::Import) => Ok(Command::Import),
        Some(Verb::Export) => Ok(Command::Export),
        Some(Verb::Config) => config::parse(&args).map(Command::Config),
        // Parse errors are answered only to admins: others get the unknown-command answer.
        Some(Verb::Admin) => Ok(Command::Admin(admin::parse(&args).map_err(|e| e.0))),
        Some(Verb::Switch) => front::parse_switch(&args).map(Command::Switch),
        Some(Verb::Front | Verb::FrontHistory | Verb::FrontPercent) => {
            front::parse_view(&args, 0, None).map(Command::Front).ok_or_else(|| usage("Usage: `pk;front`"))
        }
        Some(Verb::Edit) => parse_edit(&args),
        Some(Verb::Reproxy) => match args.rest(1) {
            Some(member) => Ok(Command::Reproxy { member }),
            None => {
                Err(usage("Usage: `pk;reproxy <member>`, as a reply to your proxied message (or for your latest)."))
            }
        },
        Some(Verb::Message) => parse_message(&args),
        Some(Verb::Link) => match args.text(1) {
            Some(target) if args.len() == 2 => Ok(Command::Link { target }),
            _ => Err(usage("Usage: `pk;link @user:server` (the account to link)")),
        },
        Some(Verb::Unlink) if args.len() <= 2 => Ok(Command::Unlink { target: args.text(1) }),
        Some(Verb::Unlink) => Err(usage("Usage: `pk;unlink [@user:server]`")),
        Some(Verb::Autoproxy) => Ok(parse_autoproxy(&args)),
        _ => Err(ParseError(unknown_command(&head))),
    }
}

/// The admin commands' usage line.
pub fn admin_usage() -> &'static str {
    admin::USAGE
}

/// The answer to a command word nobody knows (also what non-admins get for `pk;admin`).
pub fn unknown_command(word: &str) -> String {
    format!("Unknown command {}. Send `pk;help` for the list of commands.", code(word))
}

/// `pk;system fronter|fronthistory|frontpercent …` and `pk;system <system> fronter|…`.
fn system_front(args: &Args<'_>) -> Option<front::FrontCommand> {
    // `pk;system privacy fronthistory …` is a privacy setting, not a view of system "privacy".
    let names_a_system = args.word(1).is_some_and(|w| table::find(Scope::System, &w).is_none());
    front::parse_view(args, 1, None).or_else(|| names_a_system.then(|| front::parse_view(args, 2, args.text(1)))?)
}

/// `pk;member <member> group …` (and not `pk;member new G…`).
fn is_member_groups(args: &Args<'_>) -> bool {
    let names_a_member = args.word(1).is_some_and(|w| table::find(Scope::Members, &w).is_none());
    names_a_member && args.word(2).and_then(|w| table::find(Scope::Member, &w)) == Some(Verb::MemberGroups)
}

fn parse_autoproxy(args: &Args<'_>) -> Command {
    let is_global = |t: &String| matches!(t.to_lowercase().as_str(), "-global" | "-g" | "--global");
    let global = args.tokens.iter().any(|t| is_global(&t.text));
    let words: Vec<String> = args.tokens.iter().skip(1).map(|t| t.text.clone()).filter(|t| !is_global(t)).collect();
    let arg = match words.first().map(|w| w.to_lowercase()).as_deref() {
        None => None,
        Some("off" | "disable" | "stop" | "no") => Some(AutoproxyArg::Off),
        Some("latch" | "last" | "proxy" | "stick" | "sticky" | "l") => Some(AutoproxyArg::Latch),
        Some("front" | "fronter" | "switch" | "f") => Some(AutoproxyArg::Front),
        Some("default" | "inherit" | "-clear" | "clear" | "reset") => Some(AutoproxyArg::Default),
        Some(_) => Some(AutoproxyArg::Member(words.join(" "))),
    };
    Command::Autoproxy { arg, global }
}

/// `pk;edit [-append|-prepend|-regex] <text>` (flags first or last, so a `-a` inside the text stays).
/// The text is taken as typed, quotes and all.
fn parse_edit(args: &Args<'_>) -> Result<Command, ParseError> {
    let flag = |i: usize| match args.word(i).as_deref() {
        Some("-append" | "-a") => Some(EditHow::Append),
        Some("-prepend" | "-p") => Some(EditHow::Prepend),
        Some("-regex" | "-x") => Some(EditHow::Regex),
        _ => None,
    };
    let (mut lo, mut hi) = (1, args.len());
    let mut how = EditHow::Replace;
    while lo < hi
        && let Some(h) = flag(lo)
    {
        (how, lo) = (h, lo + 1);
    }
    while hi > lo
        && let Some(h) = flag(hi - 1)
    {
        (how, hi) = (h, hi - 1);
    }
    if lo >= hi {
        return Err(usage("Usage: `pk;edit <new text>`, as a reply to your proxied message (or for your latest)."));
    }
    let end = args.tokens.get(hi).map_or(args.input.len(), |t| t.start);
    let text = args.input[args.tokens[lo].start..end].trim().to_owned();
    Ok(Command::Edit { text, how })
}

/// `pk;message [<event ID or link>] [-delete]`.
fn parse_message(args: &Args<'_>) -> Result<Command, ParseError> {
    let mut delete = false;
    let mut target = None;
    for t in args.tokens.iter().skip(1) {
        match t.text.to_lowercase().as_str() {
            "-delete" | "-d" | "delete" | "-del" => delete = true,
            _ if target.is_none() => target = Some(t.text.clone()),
            _ => return Err(usage("Usage: `pk;message [<event ID or link>] [-delete]`")),
        }
    }
    Ok(Command::Message { target, delete })
}
