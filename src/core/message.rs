//! Building the ghost's message from the original: reply fallbacks, tag removal in `body`
//! and `formatted_body`, and what is carried over (msgtype, media, mentions, replies, threads).
//! Works on raw JSON content so that fields this code does not know are kept, not lost.

use serde_json::{Map, Value};

use super::html;

pub type Content = Map<String, Value>;

pub const HTML_FORMAT: &str = "org.matrix.custom.html";

/// Splits a plain-text reply fallback (`> <@user> quoted…` lines and a blank line) off the
/// front of `body`: `(fallback, rest)`. The fallback is empty when there is none.
pub fn split_reply_fallback(body: &str) -> (&str, &str) {
    let mut pos = 0;
    let mut saw_quote = false;
    for line in body.split_inclusive('\n') {
        if line.starts_with('>') && line.ends_with('\n') {
            saw_quote = true;
            pos += line.len();
        } else if saw_quote && line == "\n" {
            return body.split_at(pos + 1);
        } else {
            break;
        }
    }
    ("", body)
}

/// Splits a leading `<mx-reply>…</mx-reply>` off an HTML body: `(fallback, rest)`.
pub fn split_html_reply_fallback(html: &str) -> (&str, &str) {
    const OPEN: &str = "<mx-reply>";
    const CLOSE: &str = "</mx-reply>";
    if html.starts_with(OPEN) {
        if let Some(end) = html.find(CLOSE) {
            return html.split_at(end + CLOSE.len());
        }
    }
    ("", html)
}

/// Largest content the ghost sends, in bytes of JSON. Matrix caps a whole event at 65,536
/// bytes (with its envelope, signatures and, in encrypted rooms, base64), so a message near
/// the cap could never be sent: it is refused up front instead.
pub const MAX_CONTENT_BYTES: usize = 46 * 1024;

/// Whether `content` is small enough to send as an event (see [`MAX_CONTENT_BYTES`]).
pub fn fits_in_an_event(content: &Content) -> bool {
    serde_json::to_vec(content).is_ok_and(|json| json.len() <= MAX_CONTENT_BYTES)
}

/// msgtypes whose payload is a file; their caption may be empty.
fn is_attachment(content: &Content) -> bool {
    matches!(content.get("msgtype").and_then(Value::as_str), Some("m.image" | "m.file" | "m.audio" | "m.video"))
        || content.contains_key("url")
        || content.contains_key("file")
}

/// What a message says, as the proxy and command logic need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText<'a> {
    /// The body (for an edit: the new body) without its reply fallback.
    pub text: &'a str,
    pub has_attachment: bool,
    /// For an edit (`m.replace`), the event it replaces.
    pub replaces: Option<&'a str>,
}

/// Reads a `m.room.message` content. `None` if it has no string body.
pub fn message_text(content: &Content) -> Option<MessageText<'_>> {
    let replaces = content
        .get("m.relates_to")
        .filter(|r| r.get("rel_type").and_then(Value::as_str) == Some("m.replace"))
        .and_then(|r| r.get("event_id"))
        .and_then(Value::as_str);
    let source = match (replaces, content.get("m.new_content").and_then(Value::as_object)) {
        (Some(_), Some(new)) => new,
        _ => content,
    };
    let body = source.get("body")?.as_str()?;
    Some(MessageText { text: split_reply_fallback(body).1, has_attachment: is_attachment(source), replaces })
}

/// How the text changes on the way to the ghost.
#[derive(Debug, Clone, Copy)]
pub enum Rewrite<'a> {
    /// Remove this tag; `inner` is the body without it (trimmed, no reply fallback).
    StripTag { prefix: &'a str, suffix: &'a str, inner: &'a str },
    /// Autoproxy: the text goes out unchanged.
    Keep,
}

/// Keys never copied to the ghost's message: edit machinery, and text representations
/// that would still contain the tag.
fn is_dropped_key(key: &str) -> bool {
    key == "m.new_content" || key.starts_with("org.matrix.msc1767.") || key == "m.text"
}

/// The content of an edit (`m.replace`) of `target` to `text` (Markdown, rendered with raw
/// HTML shown as text), with the `* ` fallback body clients that know no edits show.
pub fn edit_content(target: &str, text: &str) -> Content {
    let html = super::replies::render(text);
    let new = serde_json::json!({
        "msgtype": "m.text",
        "body": text,
        "format": HTML_FORMAT,
        "formatted_body": html.trim_end(),
        "m.mentions": {},
    });
    let mut out = Content::new();
    out.insert("msgtype".to_owned(), Value::from("m.text"));
    out.insert("body".to_owned(), Value::from(format!("* {text}")));
    out.insert("m.new_content".to_owned(), new);
    out.insert("m.mentions".to_owned(), serde_json::json!({}));
    out.insert("m.relates_to".to_owned(), serde_json::json!({"rel_type": "m.replace", "event_id": target}));
    out
}

/// Builds the ghost's content. `original` is the message as first sent (for an edit: the
/// original event's content, which keeps media and the reply relation); `edit` is the
/// edit's `m.new_content` when an edit triggered the proxy.
pub fn ghost_content(original: &Content, edit: Option<&Content>, rewrite: Rewrite<'_>) -> Content {
    let mut out: Content =
        original.iter().filter(|(k, _)| !is_dropped_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(new) = edit {
        for key in ["body", "format", "formatted_body", "msgtype"] {
            match new.get(key) {
                Some(v) => out.insert(key.to_owned(), v.clone()),
                None if key == "msgtype" => None,
                None => out.remove(key),
            };
        }
        if let Some(mentions) = new.get("m.mentions") {
            out.insert("m.mentions".to_owned(), mentions.clone());
        }
    }
    // Relations: an edit relation is machinery; replies and threads are kept.
    if let Some(Value::Object(rel)) = out.get_mut("m.relates_to") {
        if rel.get("rel_type").and_then(Value::as_str) == Some("m.replace") {
            rel.remove("rel_type");
            rel.remove("event_id");
        }
        if rel.is_empty() {
            out.remove("m.relates_to");
        }
    }
    if let Rewrite::StripTag { prefix, suffix, inner } = rewrite {
        let body = out.get("body").and_then(Value::as_str).unwrap_or_default();
        let (fallback, _) = split_reply_fallback(body);
        let new_body = if inner.is_empty() && is_attachment(&out) {
            out.get("filename").and_then(Value::as_str).unwrap_or_default().to_owned()
        } else {
            format!("{fallback}{inner}")
        };
        let formatted =
            match (out.get("format").and_then(Value::as_str), out.get("formatted_body").and_then(Value::as_str)) {
                (Some(HTML_FORMAT), Some(h)) => {
                    let (html_fallback, rest) = split_html_reply_fallback(h);
                    html::strip_tag(rest, prefix, suffix).map(|s| format!("{html_fallback}{}", s.trim()))
                }
                _ => None,
            };
        out.insert("body".to_owned(), Value::String(new_body));
        match formatted {
            Some(f) => {
                out.insert("formatted_body".to_owned(), Value::String(f));
            }
            None => {
                // Without a reliable way to take the tag out of the HTML, send plain text
                // rather than show the tag.
                out.remove("format");
                out.remove("formatted_body");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Content {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn content_that_cannot_be_an_event_is_caught() {
        let sized = |n: usize| -> Content { serde_json::from_value(json!({"body": "x".repeat(n)})).unwrap() };
        assert!(fits_in_an_event(&sized(1000)));
        assert!(fits_in_an_event(&sized(MAX_CONTENT_BYTES - 20)));
        assert!(!fits_in_an_event(&sized(MAX_CONTENT_BYTES)));
        assert!(!fits_in_an_event(&sized(1024 * 1024)));
    }

    #[test]
    fn reply_fallbacks_split() {
        let body = "> <@a:x> quoted\n> more\n\na: reply";
        assert_eq!(split_reply_fallback(body), ("> <@a:x> quoted\n> more\n\n", "a: reply"));
        assert_eq!(split_reply_fallback("a: plain"), ("", "a: plain"));
        assert_eq!(split_reply_fallback("> not a fallback"), ("", "> not a fallback"));
        assert_eq!(split_reply_fallback("> quote\nno blank"), ("", "> quote\nno blank"));
        assert_eq!(split_reply_fallback("\nx"), ("", "\nx"));
        let html = "<mx-reply><blockquote>q</blockquote></mx-reply>a: <b>r</b>";
        assert_eq!(split_html_reply_fallback(html), ("<mx-reply><blockquote>q</blockquote></mx-reply>", "a: <b>r</b>"));
        assert_eq!(split_html_reply_fallback("a: x"), ("", "a: x"));
    }

    #[test]
    fn message_text_reads_edits() {
        let c = obj(json!({"msgtype": "m.text", "body": "> <@a:x> q\n\na: hi"}));
        assert_eq!(message_text(&c).unwrap(), MessageText { text: "a: hi", has_attachment: false, replaces: None });
        let edit = obj(json!({
            "msgtype": "m.text", "body": "* a: hi",
            "m.new_content": {"msgtype": "m.text", "body": "a: hi"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}
        }));
        assert_eq!(
            message_text(&edit).unwrap(),
            MessageText { text: "a: hi", has_attachment: false, replaces: Some("$orig") }
        );
        let image = obj(json!({"msgtype": "m.image", "body": "a: look", "url": "mxc://x/y"}));
        assert!(message_text(&image).unwrap().has_attachment);
        assert!(message_text(&obj(json!({"msgtype": "m.text"}))).is_none());
    }

    #[test]
    fn tag_removed_everywhere_and_fields_kept() {
        let original = obj(json!({
            "msgtype": "m.text",
            "body": "> <@bob:x> earlier\n\na: **hi** there",
            "format": HTML_FORMAT,
            "formatted_body": "<mx-reply><blockquote>earlier</blockquote></mx-reply><p>a: <strong>hi</strong> there</p>",
            "m.mentions": {"user_ids": ["@bob:x"]},
            "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}},
            "org.matrix.msc1767.text": "a: **hi** there",
        }));
        let out = ghost_content(&original, None, Rewrite::StripTag { prefix: "a:", suffix: "", inner: "**hi** there" });
        assert_eq!(
            Value::Object(out),
            json!({
                "msgtype": "m.text",
                "body": "> <@bob:x> earlier\n\n**hi** there",
                "format": HTML_FORMAT,
                "formatted_body": "<mx-reply><blockquote>earlier</blockquote></mx-reply><p><strong>hi</strong> there</p>",
                "m.mentions": {"user_ids": ["@bob:x"]},
                "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}},
            })
        );
    }

    #[test]
    fn html_without_the_tag_is_dropped() {
        let original =
            obj(json!({"msgtype": "m.text", "body": "a: hi", "format": HTML_FORMAT, "formatted_body": "<b>hi</b>"}));
        let out = ghost_content(&original, None, Rewrite::StripTag { prefix: "a:", suffix: "", inner: "hi" });
        assert_eq!(Value::Object(out), json!({"msgtype": "m.text", "body": "hi"}));
    }

    #[test]
    fn media_is_kept() {
        let original = obj(
            json!({"msgtype": "m.image", "body": "a: caption", "filename": "cat.png", "url": "mxc://x/cat", "info": {"h": 1600, "w": 900}}),
        );
        let out = ghost_content(&original, None, Rewrite::StripTag { prefix: "a:", suffix: "", inner: "caption" });
        assert_eq!(
            Value::Object(out),
            json!({"msgtype": "m.image", "body": "caption", "filename": "cat.png", "url": "mxc://x/cat", "info": {"h": 1600, "w": 900}})
        );
        let bare = ghost_content(&original, None, Rewrite::StripTag { prefix: "a:", suffix: "", inner: "" });
        assert_eq!(bare["body"], "cat.png");
    }

    #[test]
    fn thread_relation_is_kept() {
        let original = obj(
            json!({"msgtype": "m.text", "body": "[x]", "m.relates_to": {"rel_type": "m.thread", "event_id": "$root", "is_falling_back": true, "m.in_reply_to": {"event_id": "$last"}}}),
        );
        let out = ghost_content(&original, None, Rewrite::StripTag { prefix: "[", suffix: "]", inner: "x" });
        assert_eq!(out["m.relates_to"], original["m.relates_to"]);
        assert_eq!(out["body"], "x");
    }

    #[test]
    fn edit_becomes_a_new_message() {
        let original = obj(json!({
            "msgtype": "m.image", "body": "caption", "url": "mxc://x/y", "info": {"h": 1600},
            "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}}
        }));
        let new = obj(json!({"msgtype": "m.image", "body": "a: caption"}));
        let out =
            ghost_content(&original, Some(&new), Rewrite::StripTag { prefix: "a:", suffix: "", inner: "caption" });
        assert_eq!(
            Value::Object(out),
            json!({"msgtype": "m.image", "body": "caption", "url": "mxc://x/y", "info": {"h": 1600}, "m.relates_to": {"m.in_reply_to": {"event_id": "$parent"}}})
        );
    }

    #[test]
    fn autoproxy_keeps_text() {
        let original = obj(json!({"msgtype": "m.emote", "body": "waves", "m.new_content": {"body": "x"}}));
        let out = ghost_content(&original, None, Rewrite::Keep);
        assert_eq!(Value::Object(out), json!({"msgtype": "m.emote", "body": "waves"}));
    }
}
