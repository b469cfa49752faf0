//! Who (if anyone) a message goes out as: escapes, tag matches, autoproxy modes and the latch.
//! Pure decision logic; the caller loads the state and persists the returned update.

use super::tags::{Matching, ProxyTag, match_tags_with};

/// How long a latch holds without a new proxied message (PluralKit's default: 6 hours).
pub const DEFAULT_LATCH_TIMEOUT_MS: i64 = 6 * 60 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// The member of the last tagged message proxies untagged ones.
    Latch,
    /// The current fronter proxies untagged messages.
    Front,
    /// One fixed member proxies untagged messages.
    Member,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Latch => "latch",
            Mode::Front => "front",
            Mode::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "off" => Mode::Off,
            "latch" => Mode::Latch,
            "front" => Mode::Front,
            "member" => Mode::Member,
            _ => return None,
        })
    }
}

/// A system's autoproxy settings, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State<K> {
    pub mode: Mode,
    /// The member for [`Mode::Member`].
    pub member: Option<K>,
    /// The latched member and when it was last used (ms since the epoch).
    pub latch: Option<(K, i64)>,
}

impl<K> Default for State<K> {
    fn default() -> Self {
        Self { mode: Mode::Off, member: None, latch: None }
    }
}

/// What a message looks like, as far as the decision needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The body with any reply fallback removed.
    pub text: &'a str,
    /// An image, file, … whose caption may be empty.
    pub has_attachment: bool,
    /// An edit of an earlier message: only an explicit tag proxies it, never autoproxy.
    pub is_edit: bool,
}

/// Why a message is proxied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via<'t> {
    /// `prefix` and `suffix` are the tag as the message wrote it (letter case and variation
    /// selectors may differ from the stored tag).
    Tag {
        tag: &'t ProxyTag,
        inner: String,
        prefix: String,
        suffix: String,
    },
    Autoproxy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'t, K> {
    Proxy { member: K, via: Via<'t> },
    Ignore,
}

/// How the stored latch must change after this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchUpdate<K> {
    Keep,
    Set(K, i64),
    Clear,
}

/// Decides for one message. `tags` holds every (member, tag) pair of the sender's system,
/// `fronter` the current fronter for front mode, `now` is ms since the epoch, `how` how tags
/// match (letter case).
pub fn decide<'t, K: Copy + PartialEq>(
    msg: Message<'_>,
    tags: &'t [(K, ProxyTag)],
    state: &State<K>,
    fronter: Option<K>,
    now: i64,
    latch_timeout_ms: i64,
    how: Matching,
) -> (Decision<'t, K>, LatchUpdate<K>) {
    let text = msg.text.trim_start();
    // `\\message`: not proxied, and the latch is let go.
    if text.starts_with("\\\\") {
        let update = if state.latch.is_some() { LatchUpdate::Clear } else { LatchUpdate::Keep };
        return (Decision::Ignore, update);
    }
    // `\message`: never proxied.
    if text.starts_with('\\') {
        return (Decision::Ignore, LatchUpdate::Keep);
    }
    if let Some(m) = match_tags_with(msg.text.trim(), tags, how) {
        if m.inner.is_empty() && !msg.has_attachment {
            // A bare tag is not a message.
            return (Decision::Ignore, LatchUpdate::Keep);
        }
        let update = if state.mode == Mode::Latch { LatchUpdate::Set(m.member, now) } else { LatchUpdate::Keep };
        return (
            Decision::Proxy {
                member: m.member,
                via: Via::Tag { tag: m.tag, inner: m.inner, prefix: m.matched_prefix, suffix: m.matched_suffix },
            },
            update,
        );
    }
    if msg.is_edit || (msg.text.trim().is_empty() && !msg.has_attachment) {
        return (Decision::Ignore, LatchUpdate::Keep);
    }
    let auto = match state.mode {
        Mode::Off => None,
        Mode::Member => state.member,
        Mode::Front => fronter,
        Mode::Latch => match state.latch {
            Some((member, at)) if latch_timeout_ms <= 0 || now - at < latch_timeout_ms => {
                return (Decision::Proxy { member, via: Via::Autoproxy }, LatchUpdate::Set(member, now));
            }
            Some(_) => return (Decision::Ignore, LatchUpdate::Clear),
            None => None,
        },
    };
    match auto {
        Some(member) => (Decision::Proxy { member, via: Via::Autoproxy }, LatchUpdate::Keep),
        None => (Decision::Ignore, LatchUpdate::Keep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 60 * 60 * 1000;
    const M: Matching = Matching { case_insensitive: false };

    fn tags() -> Vec<(u8, ProxyTag)> {
        vec![(1, ProxyTag::parse("a:text").unwrap()), (2, ProxyTag::parse("b:text").unwrap())]
    }

    fn text(t: &str) -> Message<'_> {
        Message { text: t, has_attachment: false, is_edit: false }
    }

    fn member_of<K: Copy>(d: &Decision<'_, K>) -> Option<K> {
        match d {
            Decision::Proxy { member, .. } => Some(*member),
            Decision::Ignore => None,
        }
    }

    #[test]
    fn tag_match_proxies_without_autoproxy() {
        let tags = tags();
        let (d, u) = decide(text("a: hello"), &tags, &State::default(), None, 0, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!(
            d,
            Decision::Proxy {
                member: 1,
                via: Via::Tag { tag: &tags[0].1, inner: "hello".into(), prefix: "a:".into(), suffix: String::new() }
            }
        );
        assert_eq!(u, LatchUpdate::Keep);
        let (d, _) = decide(text("hello"), &tags, &State::default(), None, 0, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!(d, Decision::Ignore);
    }

    #[test]
    fn escapes() {
        let tags = tags();
        let latched = State { mode: Mode::Latch, member: None, latch: Some((1, 0)) };
        let (d, u) = decide(text("\\a: hello"), &tags, &latched, None, 1, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!((d, u), (Decision::Ignore, LatchUpdate::Keep));
        let (d, u) = decide(text("\\\\hello"), &tags, &latched, None, 1, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!((d, u), (Decision::Ignore, LatchUpdate::Clear));
    }

    #[test]
    fn bare_tag_is_not_proxied_unless_attachment() {
        let tags = tags();
        let (d, _) = decide(text("a:"), &tags, &State::default(), None, 0, 0, M);
        assert_eq!(d, Decision::Ignore);
        let msg = Message { text: "a:", has_attachment: true, is_edit: false };
        assert_eq!(member_of(&decide(msg, &tags, &State::default(), None, 0, 0, M).0), Some(1));
    }

    #[test]
    fn latch_follows_the_last_tag() {
        let tags = tags();
        let mut state = State { mode: Mode::Latch, member: None, latch: None };
        // Nothing latched yet: untagged messages stay.
        assert_eq!(decide(text("hi"), &tags, &state, None, 0, DEFAULT_LATCH_TIMEOUT_MS, M).0, Decision::Ignore);
        let (d, u) = decide(text("a: one"), &tags, &state, None, 10, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!(member_of(&d), Some(1));
        assert_eq!(u, LatchUpdate::Set(1, 10));
        state.latch = Some((1, 10));
        let (d, u) = decide(text("two"), &tags, &state, None, 20, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!(d, Decision::Proxy { member: 1, via: Via::Autoproxy });
        assert_eq!(u, LatchUpdate::Set(1, 20));
        let (d, u) = decide(text("b: three"), &tags, &state, None, 30, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!((member_of(&d), u), (Some(2), LatchUpdate::Set(2, 30)));
    }

    #[test]
    fn latch_expires() {
        let tags = tags();
        let state = State { mode: Mode::Latch, member: None, latch: Some((1, 0)) };
        let (d, u) = decide(text("late"), &tags, &state, None, 7 * H, DEFAULT_LATCH_TIMEOUT_MS, M);
        assert_eq!((d, u), (Decision::Ignore, LatchUpdate::Clear));
        // A timeout of zero means the latch never expires.
        let (d, _) = decide(text("late"), &tags, &state, None, 700 * H, 0, M);
        assert_eq!(member_of(&d), Some(1));
    }

    #[test]
    fn member_and_front_modes() {
        let tags = tags();
        let fixed = State { mode: Mode::Member, member: Some(2), latch: None };
        assert_eq!(member_of(&decide(text("hi"), &tags, &fixed, None, 0, 0, M).0), Some(2));
        // A tag still wins over autoproxy.
        assert_eq!(member_of(&decide(text("a: hi"), &tags, &fixed, None, 0, 0, M).0), Some(1));
        let front = State { mode: Mode::Front, member: None, latch: None };
        assert_eq!(member_of(&decide(text("hi"), &tags, &front, Some(2), 0, 0, M).0), Some(2));
        assert_eq!(decide(text("hi"), &tags, &front, None, 0, 0, M).0, Decision::Ignore);
        let off = State { mode: Mode::Off, member: Some(2), latch: Some((1, 0)) };
        assert_eq!(decide(text("hi"), &tags, &off, None, 0, 0, M).0, Decision::Ignore);
    }

    #[test]
    fn edits_and_empty_messages_are_never_autoproxied() {
        let tags = tags();
        let fixed = State { mode: Mode::Member, member: Some(2), latch: None };
        let edit = Message { text: "hello", has_attachment: false, is_edit: true };
        assert_eq!(decide(edit, &tags, &fixed, None, 0, 0, M).0, Decision::Ignore);
        let edit = Message { text: "b: hello", has_attachment: false, is_edit: true };
        assert_eq!(member_of(&decide(edit, &tags, &fixed, None, 0, 0, M).0), Some(2));
        assert_eq!(decide(text("   "), &tags, &fixed, None, 0, 0, M).0, Decision::Ignore);
    }
}
