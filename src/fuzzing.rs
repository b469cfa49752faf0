//! Fuzzing entry points for the parsers that take input from outside. Each takes arbitrary
//! bytes, runs the daemon's own handling of them short of I/O, and checks what must hold; a
//! panic is a finding. `fuzz/` runs them under libFuzzer (`scripts/fuzz.sh`, the long runs);
//! the test suite runs each on the seeds in `fuzz/seeds/` and a short stream of generated
//! inputs.

use serde_json::Value;

use crate::{
    bridge::{RoomEvent, queue_events},
    core::{
        commands::{self as command, Command, FieldArg, MAX_NAME_CHARS, MemberCommand, SystemCommand},
        html,
        message::{self, Content, Rewrite},
        profile::{Kind, MAX_URI_CHARS},
        replies,
        tags::{self, ProxyTag},
    },
    crypto::CryptoTransaction,
    server::transaction_events,
};

/// The command prefix the targets use.
const PREFIX: &str = "pk;";

/// Tags every message is matched against in [`transaction`].
fn sample_tags() -> Vec<(usize, ProxyTag)> {
    [("a:", ""), ("[", "]"), ("", " -b"), ("<", ">"), ("&amp;", "")]
        .iter()
        .enumerate()
        .map(|(i, (p, s))| (i, ProxyTag::new(*p, *s)))
        .collect()
}

/// A transaction body as the intake and the engine read it: the shape check, the room events
/// for the queue, the crypto fields, and each queued event read back as the bridge reads it,
/// through command parsing, tag matching and building the ghost's message.
pub fn transaction(data: &[u8]) {
    let Ok(parsed) = serde_json::from_slice::<Value>(data) else { return };
    if let Ok(crypto) = CryptoTransaction::deserialize_lenient(&parsed) {
        let fingerprints = crypto.key_count_fingerprints();
        assert!(crypto.is_empty() <= fingerprints.is_empty(), "counts seen in an empty transaction");
        assert!(!(crypto.is_empty() && crypto.gates_events()));
    }
    let Ok(events) = transaction_events(&parsed) else { return };
    let ours = |u: &ruma::UserId| u.server_name() == "x" && u.localpart().starts_with("_plural_");
    for queued in queue_events(events, ours) {
        // ok: a fuzz target (never on a daemon path); a panic here is the finding it reports.
        let raw: Value = serde_json::from_str(&queued.body).expect("a queued event reads back");
        assert_eq!(raw["event_id"].as_str(), Some(queued.event_id.as_str()));
        assert_eq!(raw["room_id"].as_str(), Some(queued.room_id.as_str()));
        if raw.get("state_key").is_some() {
            assert_eq!(queued.lane, "", "a state event holds the whole room");
        }
        let Ok(event) = serde_json::from_value::<RoomEvent>(raw) else { continue };
        if event.kind == "m.room.message" {
            room_message(&event.content);
        }
    }
}

/// What the bridge does with a message's content, short of sending.
fn room_message(content: &Content) {
    let Some(text) = message::message_text(content) else { return };
    if let Some(parsed) = command::parse(text.text, PREFIX) {
        check_command(parsed);
    }
    let tags = sample_tags();
    if let Some(found) = tags::match_tags(text.text, &tags) {
        let rewrite =
            Rewrite::StripTag { prefix: &found.matched_prefix, suffix: &found.matched_suffix, inner: &found.inner };
        let edit = text.replaces.and_then(|_| content.get("m.new_content")).and_then(Value::as_object);
        let ghost = message::ghost_content(content, edit, rewrite);
        assert!(!ghost.contains_key("m.new_content"), "edit machinery reached the ghost's message");
    }
    message::ghost_content(content, None, Rewrite::Keep);
}

/// A command line, as typed after the prefix and as a whole message.
pub fn command(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(parsed) = command::parse(&text, PREFIX) {
        check_command(parsed);
    }
    if let Some(parsed) = command::parse(&format!("{PREFIX}{text}"), PREFIX) {
        check_command(parsed);
    }
}

/// What every parse result must satisfy: stored text within its field's limit and without
/// control characters (line breaks only where a field may span lines), and an error's reply
/// that carries no markup the bot did not write.
fn check_command(parsed: Result<Command, command::ParseError>) {
    match parsed {
        Ok(cmd) => {
            for (kind, value) in stored_text(&cmd) {
                let (max, multiline) = match kind {
                    Kind::Line(max) => (max, false),
                    Kind::Text(max) => (max, true),
                    _ => (MAX_URI_CHARS, false),
                };
                assert!(value.chars().count() <= max, "over the limit: {value:?}");
                let bad = |c: char| c.is_control() && !(multiline && c == '\n');
                assert!(!value.chars().any(bad), "a control character in {value:?}");
            }
        }
        Err(e) => assert_only_bot_markup(&replies::render(&e.0), &["p", "code", "strong", "em"]),
    }
}

/// The text a command would store, with the kind of field it goes to.
fn stored_text(cmd: &Command) -> Vec<(Kind, &str)> {
    match cmd {
        Command::System(SystemCommand::New { name: Some(n) }) => vec![(Kind::Line(MAX_NAME_CHARS), n)],
        Command::Member(MemberCommand::New { name }) => vec![(Kind::Line(MAX_NAME_CHARS), name)],
        Command::System(SystemCommand::Field { field, value: FieldArg::Set(v) }) => vec![(field.kind(), v)],
        Command::Member(MemberCommand::Field { field, value: FieldArg::Set(v), .. }) => vec![(field.kind(), v)],
        _ => vec![],
    }
}

/// Panics unless every tag in `html` is one of `allowed` (opening or closing) and has no
/// attributes.
fn assert_only_bot_markup(html: &str, allowed: &[&str]) {
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = rest[start + 1..end].trim_start_matches('/');
        assert!(allowed.contains(&tag), "markup {tag:?} in {html:?}");
        rest = &rest[end..];
    }
}

/// Tag templates and a message: the first line holds templates separated by tabs, the rest
/// is the message. Checks the match against what a tag is.
pub fn tags(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (templates, message) = text.split_once('\n').unwrap_or((&text, ""));
    let tags: Vec<(usize, ProxyTag)> =
        templates.split('\t').filter_map(|t| ProxyTag::parse(t).ok()).enumerate().collect();
    let Some(found) = tags::match_tags(message, &tags) else {
        assert!(tags.iter().all(|(_, t)| t.strip(message).is_none()), "a tag that fits was missed");
        return;
    };
    let (prefix, suffix) = (&found.matched_prefix, &found.matched_suffix);
    assert!(message.starts_with(prefix.as_str()) && message.ends_with(suffix.as_str()));
    let inner = &message[prefix.len()..message.len() - suffix.len()];
    assert_eq!(found.inner, inner.trim());
    let more_specific =
        tags.iter().any(|(_, t)| t.specificity() > found.tag.specificity() && t.strip(message).is_some());
    assert!(!more_specific, "a more specific tag also fits");
    // The same tag on the message as HTML.
    if let Some(stripped) = html::strip_tag(&html::escape(message), prefix, suffix) {
        assert!(stripped.len() <= html::escape(message).len());
    }
}

/// HTML stripping and the bot's escaping: the first line is `prefix<TAB>suffix`, the rest an
/// HTML body. Stripping only removes; user text through `md`/`code` renders with no markup of
/// its own.
pub fn html(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (tag, body) = text.split_once('\n').unwrap_or(("a:", &text));
    let (prefix, suffix) = tag.split_once('\t').unwrap_or((tag, ""));
    let (_fallback, rest) = message::split_html_reply_fallback(body);
    if let Some(stripped) = html::strip_tag(rest, prefix, suffix) {
        assert!(is_subsequence(&stripped, rest), "stripping added to the HTML");
    }
    assert_only_bot_markup(&replies::render(&replies::md(body)), &["p"]);
    assert_only_bot_markup(&replies::render(&replies::code(body)), &["p", "code"]);
    if !body.trim().is_empty() {
        // (`****` alone would be a rule: names are never empty.)
        assert_only_bot_markup(&replies::render(&format!("**{}**", replies::md(body))), &["p", "strong"]);
    }
}

fn is_subsequence(small: &str, big: &str) -> bool {
    let mut big = big.chars();
    small.chars().all(|c| big.any(|b| b == c))
}

#[cfg(test)]
mod tests;
