//! Room command parsing (PluralKit's command language): prefix detection, quoting, and the
//! typed [`Command`] tree. Pure: knows nothing about the database or Matrix.

use super::{
    replies::code,
    tags::{PLACEHOLDER, ProxyTag, TagError},
};

/// Longest member or system name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// A parsed room command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    System(SystemCommand),
    Member(MemberCommand),
    /// `pk;autoproxy` with no argument shows the current mode.
    Autoproxy(Option<AutoproxyArg>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemCommand {
    /// `pk;system` — the sender's own card.
    Show,
    /// `pk;system <target>` — another system's card (slug, ID or a linked account's user ID).
    ShowOther(String),
    New {
        name: Option<String>,
    },
    Rename {
        name: String,
    },
    /// `None` shows the tag; `Some(None)` clears it.
    Tag(Option<Option<String>>),
    List,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberCommand {
    New {
        name: String,
    },
    Show {
        member: String,
    },
    Proxy {
        member: String,
        action: ProxyAction,
    },
    Rename {
        member: String,
        name: String,
    },
    /// `None` shows it; `Some(None)` clears it.
    DisplayName {
        member: String,
        name: Option<Option<String>>,
    },
    /// `None` shows it; `Some(None)` clears it.
    Avatar {
        member: String,
        url: Option<Option<String>>,
    },
    Delete {
        member: String,
        confirmed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyAction {
    Show,
    /// Replace all tags with these.
    Set(Vec<ProxyTag>),
    Add(ProxyTag),
    Remove(ProxyTag),
    Clear,
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

/// One whitespace-separated argument, unquoted, with where it started in the input.
#[derive(Debug, Clone)]
struct Token {
    text: String,
    start: usize,
}

const QUOTES: [(char, char); 4] = [('"', '"'), ('“', '”'), ('„', '“'), ('«', '»')];

fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        if let Some(&(_, close)) = QUOTES.iter().find(|(open, _)| *open == c) {
            chars.next();
            let mut closed = false;
            for (_, ch) in chars.by_ref() {
                if ch == close || (close == '"' && ch == '”') {
                    closed = true;
                    break;
                }
                text.push(ch);
            }
            if !closed {
                // An unbalanced quote is taken literally.
                text.insert(0, c);
            }
        } else {
            while let Some(&(_, ch)) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                text.push(ch);
                chars.next();
            }
        }
        tokens.push(Token { text, start });
    }
    tokens
}

/// The rest of the input from token `i` on, as one argument: raw text, or the unquoted
/// token when it is the only (quoted) one.
fn remainder(input: &str, tokens: &[Token], i: usize) -> Option<String> {
    let first = tokens.get(i)?;
    if tokens.len() == i + 1 {
        return Some(first.text.clone());
    }
    Some(input[first.start..].trim().to_owned())
}

fn word(tokens: &[Token], i: usize) -> Option<String> {
    tokens.get(i).map(|t| t.text.to_lowercase())
}

fn is_clear_flag(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "-clear" | "--clear" | "-c" | "clear" | "-remove" | "-r")
}

fn is_yes_flag(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "-y" | "-yes" | "--yes" | "-confirm" | "--confirm")
}

fn checked_name(name: String, what: &str) -> Result<String, ParseError> {
    let name = name.trim().to_owned();
    if name.is_empty() {
        return Err(ParseError(format!("The {what} needs a name.")));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ParseError(format!("That {what} name is too long (at most {MAX_NAME_CHARS} characters).")));
    }
    if name.chars().any(char::is_control) {
        return Err(ParseError(format!("A {what} name can't contain control characters (like line breaks).")));
    }
    Ok(name)
}

fn parse_command(input: &str) -> Result<Command, ParseError> {
    let tokens = tokenize(input);
    let Some(head) = word(&tokens, 0) else {
        return Ok(Command::Help);
    };
    match head.as_str() {
        "help" | "h" | "commands" => Ok(Command::Help),
        "system" | "s" => parse_system(input, &tokens),
        "list" | "l" | "members" => Ok(Command::System(SystemCommand::List)),
        "member" | "m" => parse_member(input, &tokens),
        "autoproxy" | "ap" | "auto" => parse_autoproxy(input, &tokens),
        other => Err(ParseError(format!("Unknown command {}. Send `pk;help` for the list of commands.", code(other)))),
    }
}

fn parse_system(input: &str, tokens: &[Token]) -> Result<Command, ParseError> {
    let cmd = match word(tokens, 1).as_deref() {
        None => SystemCommand::Show,
        Some("new" | "create" | "register" | "n") => {
            SystemCommand::New { name: remainder(input, tokens, 2).map(|n| checked_name(n, "system")).transpose()? }
        }
        Some("rename" | "name") => SystemCommand::Rename {
            name: checked_name(
                remainder(input, tokens, 2).ok_or_else(|| usage("Usage: `pk;system rename <new name>`"))?,
                "system",
            )?,
        },
        Some("tag") => SystemCommand::Tag(match remainder(input, tokens, 2) {
            None => None,
            Some(t) if is_clear_flag(&t) => Some(None),
            Some(t) if t.chars().count() > 79 => {
                return Err(usage("That system tag is too long (at most 79 characters)."));
            }
            Some(t) if t.chars().any(char::is_control) => {
                return Err(usage("A system tag can't contain control characters (like line breaks)."));
            }
            Some(t) => Some(Some(t)),
        }),
        Some("list" | "l" | "members") => SystemCommand::List,
        Some(_) => SystemCommand::ShowOther(tokens[1].text.clone()),
    };
    Ok(Command::System(cmd))
}

fn parse_member(input: &str, tokens: &[Token]) -> Result<Command, ParseError> {
    const USAGE: &str = "Usage: `pk;member new <name>`, `pk;member <member>`, or `pk;member <member> proxy|rename|displayname|avatar|delete …`";
    let first = word(tokens, 1).ok_or_else(|| usage(USAGE))?;
    if matches!(first.as_str(), "new" | "n" | "add" | "create" | "register") {
        let name = remainder(input, tokens, 2).ok_or_else(|| usage("Usage: `pk;member new <name>`"))?;
        return Ok(Command::Member(MemberCommand::New { name: checked_name(name, "member")? }));
    }
    if matches!(first.as_str(), "list" | "l") && tokens.len() == 2 {
        return Ok(Command::System(SystemCommand::List));
    }
    let member = tokens[1].text.clone();
    let cmd = match word(tokens, 2).as_deref() {
        None => MemberCommand::Show { member },
        Some("proxy" | "p" | "tags" | "proxytags") => {
            MemberCommand::Proxy { member, action: parse_proxy_action(input, tokens)? }
        }
        Some("rename" | "name") => {
            let name =
                remainder(input, tokens, 3).ok_or_else(|| usage("Usage: `pk;member <member> rename <new name>`"))?;
            MemberCommand::Rename { member, name: checked_name(name, "member")? }
        }
        Some("displayname" | "dn" | "dname" | "nick" | "nickname" | "display") => MemberCommand::DisplayName {
            member,
            name: match remainder(input, tokens, 3) {
                None => None,
                Some(n) if is_clear_flag(&n) => Some(None),
                Some(n) => Some(Some(checked_name(n, "display")?)),
            },
        },
        Some("avatar" | "icon" | "pfp" | "av") => MemberCommand::Avatar {
            member,
            url: match remainder(input, tokens, 3) {
                None => None,
                Some(u) if is_clear_flag(&u) => Some(None),
                Some(u) if u.starts_with("mxc://") && !u.contains(char::is_whitespace) => Some(Some(u)),
                Some(_) => {
                    return Err(usage(
                        "The avatar must be an `mxc://` URL (upload the image to Matrix first), or `-clear`.",
                    ));
                }
            },
        },
        Some("delete" | "remove" | "rm" | "del" | "erase") => {
            MemberCommand::Delete { member, confirmed: tokens.get(3).is_some_and(|t| is_yes_flag(&t.text)) }
        }
        Some(other) => {
            return Err(ParseError(format!("Unknown member command {}. {USAGE}", code(other))));
        }
    };
    Ok(Command::Member(cmd))
}

fn parse_tag(template: &str) -> Result<ProxyTag, ParseError> {
    ProxyTag::parse(template).map_err(|e: TagError| ParseError(format!("{}: {e}.", code(template))))
}

fn parse_proxy_action(input: &str, tokens: &[Token]) -> Result<ProxyAction, ParseError> {
    let Some(sub) = word(tokens, 3) else {
        return Ok(ProxyAction::Show);
    };
    let one_tag = |from: usize| -> Result<ProxyTag, ParseError> {
        let template = remainder(input, tokens, from).ok_or_else(|| usage("Give the proxy tag too, like `a:text`."))?;
        parse_tag(&template)
    };
    if tokens.len() == 4 && is_clear_flag(&sub) {
        return Ok(ProxyAction::Clear);
    }
    match sub.as_str() {
        "add" | "append" => return one_tag(4).map(ProxyAction::Add),
        "remove" | "rm" | "delete" => return one_tag(4).map(ProxyAction::Remove),
        _ => {}
    }
    // Several tags: every argument contains the placeholder (`a:text [text]`). Otherwise the
    // whole rest is one tag, so `text -a` keeps its space.
    let rest = &tokens[3..];
    if rest.len() > 1 && rest.iter().all(|t| t.text.to_ascii_lowercase().contains(PLACEHOLDER)) {
        let mut tags: Vec<ProxyTag> = Vec::with_capacity(rest.len());
        for t in rest {
            let tag = parse_tag(&t.text)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        return Ok(ProxyAction::Set(tags));
    }
    one_tag(3).map(|t| ProxyAction::Set(vec![t]))
}

fn parse_autoproxy(input: &str, tokens: &[Token]) -> Result<Command, ParseError> {
    let arg = match word(tokens, 1).as_deref() {
        None => None,
        Some("off" | "disable" | "stop" | "no") => Some(AutoproxyArg::Off),
        Some("latch" | "last" | "proxy" | "stick" | "sticky" | "l") => Some(AutoproxyArg::Latch),
        Some("front" | "fronter" | "switch" | "f") => Some(AutoproxyArg::Front),
        Some(_) => Some(AutoproxyArg::Member(remainder(input, tokens, 1).unwrap_or_default())),
    };
    Ok(Command::Autoproxy(arg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(text: &str) -> Result<Command, ParseError> {
        parse(text, "pk;").expect("is a command")
    }

    fn ok(text: &str) -> Command {
        p(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn prefix_detection() {
        assert!(parse("hello", "pk;").is_none());
        assert!(parse("pk", "pk;").is_none());
        assert!(parse("a pk;help", "pk;").is_none());
        assert_eq!(ok("pk;help"), Command::Help);
        assert_eq!(ok("PK;HELP"), Command::Help);
        assert_eq!(ok("Pk; help"), Command::Help);
        assert_eq!(ok("  pk;   help  "), Command::Help);
        assert_eq!(ok("pk;"), Command::Help);
        assert_eq!(parse("PLURAL!help", "plural!").unwrap().unwrap(), Command::Help);
        assert_eq!(parse("ÄB help", "äb").unwrap().unwrap(), Command::Help);
    }

    #[test]
    fn system_commands() {
        assert_eq!(ok("pk;system"), Command::System(SystemCommand::Show));
        assert_eq!(ok("pk;s"), Command::System(SystemCommand::Show));
        assert_eq!(ok("pk;system new"), Command::System(SystemCommand::New { name: None }));
        assert_eq!(
            ok("pk;system new The Collective"),
            Command::System(SystemCommand::New { name: Some("The Collective".into()) })
        );
        assert_eq!(
            ok("pk;system new \"Quoted Name\""),
            Command::System(SystemCommand::New { name: Some("Quoted Name".into()) })
        );
        assert_eq!(ok("pk;system tag | ABC"), Command::System(SystemCommand::Tag(Some(Some("| ABC".into())))));
        assert_eq!(ok("pk;system tag -clear"), Command::System(SystemCommand::Tag(Some(None))));
        assert_eq!(ok("pk;system tag"), Command::System(SystemCommand::Tag(None)));
        assert_eq!(ok("pk;system rename Us"), Command::System(SystemCommand::Rename { name: "Us".into() }));
        assert!(p("pk;system rename").is_err());
        assert_eq!(ok("pk;list"), Command::System(SystemCommand::List));
        assert_eq!(ok("pk;system @bob:x"), Command::System(SystemCommand::ShowOther("@bob:x".into())));
    }

    #[test]
    fn member_commands() {
        assert_eq!(ok("pk;member new Alice"), Command::Member(MemberCommand::New { name: "Alice".into() }));
        assert_eq!(ok("pk;member new Alice Bee"), Command::Member(MemberCommand::New { name: "Alice Bee".into() }));
        assert_eq!(ok("pk;m new \"Alice Bee\""), Command::Member(MemberCommand::New { name: "Alice Bee".into() }));
        assert_eq!(ok("pk;m new “Alice Bee”"), Command::Member(MemberCommand::New { name: "Alice Bee".into() }));
        assert!(p("pk;member new").is_err());
        assert!(p("pk;member new ''").is_ok(), "single quotes are ordinary characters");
        assert!(p(&format!("pk;member new {}", "x".repeat(101))).is_err());
        assert_eq!(ok("pk;member alice"), Command::Member(MemberCommand::Show { member: "alice".into() }));
        assert_eq!(
            ok("pk;member \"Alice Bee\" rename Alicia B"),
            Command::Member(MemberCommand::Rename { member: "Alice Bee".into(), name: "Alicia B".into() })
        );
        assert_eq!(
            ok("pk;member alice delete"),
            Command::Member(MemberCommand::Delete { member: "alice".into(), confirmed: false })
        );
        assert_eq!(
            ok("pk;member alice delete -y"),
            Command::Member(MemberCommand::Delete { member: "alice".into(), confirmed: true })
        );
        assert_eq!(
            ok("pk;member alice avatar mxc://x/y"),
            Command::Member(MemberCommand::Avatar { member: "alice".into(), url: Some(Some("mxc://x/y".into())) })
        );
        assert!(p("pk;member alice avatar https://x/y.png").is_err());
        assert_eq!(
            ok("pk;m alice dn -clear"),
            Command::Member(MemberCommand::DisplayName { member: "alice".into(), name: Some(None) })
        );
        assert!(p("pk;member").is_err());
        assert!(p("pk;member alice frobnicate").is_err());
    }

    fn proxy(text: &str) -> ProxyAction {
        match ok(text) {
            Command::Member(MemberCommand::Proxy { action, .. }) => action,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn proxy_arguments() {
        assert_eq!(proxy("pk;member a proxy a:text"), ProxyAction::Set(vec![ProxyTag::new("a:", "")]));
        assert_eq!(proxy("pk;member a proxy text -a"), ProxyAction::Set(vec![ProxyTag::new("", " -a")]));
        assert_eq!(proxy("pk;member a proxy [text]"), ProxyAction::Set(vec![ProxyTag::new("[", "]")]));
        assert_eq!(
            proxy("pk;member a proxy a:text [text]"),
            ProxyAction::Set(vec![ProxyTag::new("a:", ""), ProxyTag::new("[", "]")])
        );
        assert_eq!(
            proxy("pk;member a proxy \"a: text\" b:text"),
            ProxyAction::Set(vec![ProxyTag::new("a: ", ""), ProxyTag::new("b:", "")])
        );
        assert_eq!(proxy("pk;member a proxy \"a: text\""), ProxyAction::Set(vec![ProxyTag::new("a: ", "")]));
        assert_eq!(proxy("pk;member a proxy"), ProxyAction::Show);
        assert_eq!(proxy("pk;member a proxy -clear"), ProxyAction::Clear);
        assert_eq!(proxy("pk;member a proxy add {text}"), ProxyAction::Add(ProxyTag::new("{", "}")));
        assert_eq!(proxy("pk;member a proxy remove {text}"), ProxyAction::Remove(ProxyTag::new("{", "}")));
        assert!(p("pk;member a proxy nothing").is_err());
        assert!(p("pk;member a proxy text").is_err());
    }

    #[test]
    fn autoproxy_arguments() {
        assert_eq!(ok("pk;autoproxy"), Command::Autoproxy(None));
        assert_eq!(ok("pk;ap off"), Command::Autoproxy(Some(AutoproxyArg::Off)));
        assert_eq!(ok("pk;autoproxy LATCH"), Command::Autoproxy(Some(AutoproxyArg::Latch)));
        assert_eq!(ok("pk;autoproxy front"), Command::Autoproxy(Some(AutoproxyArg::Front)));
        assert_eq!(ok("pk;autoproxy Alice"), Command::Autoproxy(Some(AutoproxyArg::Member("Alice".into()))));
        assert_eq!(
            ok("pk;autoproxy \"Alice Bee\""),
            Command::Autoproxy(Some(AutoproxyArg::Member("Alice Bee".into())))
        );
    }

    #[test]
    fn unknown_commands_are_errors() {
        let err = p("pk;frobnicate now").unwrap_err();
        assert!(err.0.contains("frobnicate"), "{err}");
    }

    proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,60}") {
            let _ = parse(&s, "pk;");
            let _ = parse(&format!("pk;{s}"), "pk;");
            let _ = parse(&format!("pk;member {s}"), "pk;");
            let _ = parse(&format!("pk;m x proxy {s}"), "pk;");
        }

        #[test]
        fn new_member_name_roundtrips(name in "[A-Za-z][A-Za-z0-9 ]{0,30}[A-Za-z0-9]") {
            let got = parse(&format!("pk;member new {name}"), "pk;").unwrap().unwrap();
            prop_assert_eq!(got, Command::Member(MemberCommand::New { name: name.clone() }));
            let quoted = parse(&format!("pk;member new \"{name}\""), "pk;").unwrap().unwrap();
            prop_assert_eq!(quoted, Command::Member(MemberCommand::New { name }));
        }
    }
}
