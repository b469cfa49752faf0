//! `pk;member …`: creating members, their cards, proxy tags, profile fields, the keepproxy and
//! autoproxy flags, and deletion.

use super::{
    ParseError,
    args::{Args, FieldArg, checked_name, field_arg, is_clear_flag, privacy_arg, toggle},
    table::{self, Scope, Verb},
    usage, usage_of,
};
use crate::core::{
    privacy::{Level, MemberSubject, Target},
    profile::MemberField,
    replies::code,
    tags::{PLACEHOLDER, ProxyTag, TagError},
};

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
    /// Show, set or clear a profile field (`rename`, `displayname`, `birthday`, …).
    Field {
        member: String,
        field: MemberField,
        value: FieldArg,
    },
    /// `None` shows the setting.
    KeepProxy {
        member: String,
        on: Option<bool>,
    },
    /// Whether latch and front autoproxy may pick the member; `None` shows it.
    Autoproxy {
        member: String,
        on: Option<bool>,
    },
    Delete {
        member: String,
        confirmed: bool,
    },
    /// `None` shows the settings.
    Privacy {
        member: String,
        change: Option<(Target<MemberSubject>, Level)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyAction {
    Show,
    /// Replace all tags with these.
    Set(Vec<ProxyTag>),
    Add(ProxyTag),
    /// `proxy add <tag> -keep`: a tag that stays in the proxied text (beyond PluralKit,
    /// where keepproxy is per member only).
    AddKept(ProxyTag),
    /// `proxy keep <tag> [on|off]`.
    Keep {
        tag: ProxyTag,
        on: bool,
    },
    Remove(ProxyTag),
    Clear,
}

pub(super) fn parse(args: &Args<'_>) -> Result<MemberCommand, ParseError> {
    let first = args
        .word(1)
        .ok_or_else(|| ParseError(format!("{} or {}", usage_of(Scope::Members), code("pk;member <member>"))))?;
    match table::find(Scope::Members, &first) {
        Some(Verb::MemberNew) => {
            let name = args.rest(2).ok_or_else(|| usage("Usage: `pk;member new <name>`"))?;
            return Ok(MemberCommand::New { name: checked_name(&name, "member")? });
        }
        _ => {}
    }
    let member = args.text(1).unwrap_or_default();
    let Some(word) = args.word(2) else {
        return Ok(MemberCommand::Show { member });
    };
    Ok(match table::find(Scope::Member, &word) {
        Some(Verb::MemberProxy) => MemberCommand::Proxy { member, action: parse_proxy_action(args)? },
        Some(Verb::MemberField(MemberField::Name)) => match args.rest(3) {
            None => MemberCommand::Field { member, field: MemberField::Name, value: FieldArg::Show },
            Some(n) => MemberCommand::Field {
                member,
                field: MemberField::Name,
                value: FieldArg::Set(checked_name(&n, "member")?),
            },
        },
        Some(Verb::MemberField(field)) => {
            let value = field_arg(args, 3, field.kind(), field.label())?;
            MemberCommand::Field { member, field, value }
        }
        Some(Verb::MemberKeepProxy) => MemberCommand::KeepProxy { member, on: toggle(args, 3, "keepproxy")? },
        Some(Verb::MemberAutoproxy) => MemberCommand::Autoproxy { member, on: toggle(args, 3, "autoproxy")? },
        Some(Verb::MemberDelete) => MemberCommand::Delete { member, confirmed: args.is_yes(3) },
        Some(Verb::MemberPrivacy) => MemberCommand::Privacy { member, change: privacy_arg(args, 3)? },
        _ => {
            return Err(ParseError(format!("Unknown member command {}. {}", code(&word), usage_of(Scope::Member))));
        }
    })
}

fn parse_tag(template: &str) -> Result<ProxyTag, ParseError> {
    ProxyTag::parse(template).map_err(|e: TagError| ParseError(format!("{}: {e}.", code(template))))
}

/// `<tag> -keep` from token `from` on: the tag, if the last token is the flag.
fn kept_tag(args: &Args<'_>, from: usize) -> Result<Option<ProxyTag>, ParseError> {
    let flag = args.word(args.len().saturating_sub(1));
    if args.len() <= from + 1 || !matches!(flag.as_deref(), Some("-keep" | "-kp" | "-keepproxy")) {
        return Ok(None);
    }
    tag_between(args, from, args.len() - 1).map(Some)
}

/// The tag written in tokens `from..end` (quoted, or as typed with its spaces).
fn tag_between(args: &Args<'_>, from: usize, end: usize) -> Result<ProxyTag, ParseError> {
    let template = match end.saturating_sub(from) {
        0 => return Err(usage("Give the proxy tag too, like `a:text`.")),
        1 => args.tokens[from].text.clone(),
        _ => {
            let stop = args.tokens.get(end).map_or(args.input.len(), |t| t.start);
            args.input[args.tokens[from].start..stop].trim().to_owned()
        }
    };
    parse_tag(&template)
}

fn parse_proxy_action(args: &Args<'_>) -> Result<ProxyAction, ParseError> {
    let Some(sub) = args.word(3) else {
        return Ok(ProxyAction::Show);
    };
    let one_tag = |from: usize| -> Result<ProxyTag, ParseError> {
        let template = args.rest(from).ok_or_else(|| usage("Give the proxy tag too, like `a:text`."))?;
        parse_tag(&template)
    };
    if args.len() == 4 && is_clear_flag(&sub) {
        return Ok(ProxyAction::Clear);
    }
    match sub.as_str() {
        "add" | "append" => {
            return Ok(match kept_tag(args, 4)? {
                Some(tag) => ProxyAction::AddKept(tag),
                None => ProxyAction::Add(one_tag(4)?),
            });
        }
        "remove" | "rm" | "delete" => return one_tag(4).map(ProxyAction::Remove),
        "keep" | "kp" => {
            let last = args.word(args.len() - 1);
            let (on, end) = match last.as_deref() {
                Some("on" | "yes" | "true") if args.len() > 5 => (true, args.len() - 1),
                Some("off" | "no" | "false") if args.len() > 5 => (false, args.len() - 1),
                _ => (true, args.len()),
            };
            let tag = tag_between(args, 4, end)?;
            return Ok(ProxyAction::Keep { tag, on });
        }
        _ => {}
    }
    // Several tags: every argument contains the placeholder (`a:text [text]`). Otherwise the
    // whole rest is one tag, so `text -a` keeps its space.
    let rest = &args.tokens[3..];
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
