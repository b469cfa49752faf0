//! Proxy tags: parsing `prefix` + `text` + `suffix` templates and matching messages against
//! every tag of a system, most specific (longest prefix + suffix) first.

use std::fmt;

/// Longest template accepted (`prefix` + `text` + `suffix`), as in PluralKit.
pub const MAX_TEMPLATE_CHARS: usize = 100;

/// The placeholder that marks where the message goes inside a template.
pub const PLACEHOLDER: &str = "text";

/// One proxy tag. At least one of prefix and suffix is non-empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyTag {
    pub prefix: String,
    pub suffix: String,
}

/// Why a template is not a usable tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("a proxy tag needs the word `text` where the message goes, like `a:text` or `[text]`")]
    MissingPlaceholder,
    #[error("a proxy tag needs something around `text`, like `a:text` or `[text]`")]
    Empty,
    #[error("that proxy tag is too long (at most {MAX_TEMPLATE_CHARS} characters)")]
    TooLong,
}

/// How tags are compared with a message.
///
/// Whatever the mode, variation selectors (U+FE0E text style, U+FE0F emoji style) are
/// ignored on both sides: clients add and drop them freely, so `❤️:text` (with U+FE0F) and
/// `❤:text` (without) are the same tag (PluralKit issue #745).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Matching {
    /// Letters match whatever their case (PluralKit's `pk;config proxy case off`, issue
    /// #562). Each letter is compared by its full Unicode lowercase, character by
    /// character: `A` matches `a`, `Ä` matches `ä`, `ǅ` matches `ǆ`, `İ` matches `i̇`
    /// (`i` + U+0307), `ẞ` matches `ß` (but `SS` does not: that is case folding, not
    /// lowercasing). Everything that is not a letter, emoji and symbols included, still
    /// matches exactly: `Ⓜ` does not match `ⓜ`, nor `🅰` `a`.
    pub case_insensitive: bool,
}

impl ProxyTag {
    pub fn new(prefix: impl Into<String>, suffix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), suffix: suffix.into() }
    }

    /// Parses a template such as `a:text`, `[text]` or `text -a`. The first `text`
    /// (any case) is the placeholder; prefix and suffix are kept byte for byte. A template
    /// with nothing but whitespace and variation selectors around `text` is refused: such
    /// a tag would never match (see [`Matching`]).
    pub fn parse(template: &str) -> Result<Self, TagError> {
        if template.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TagError::TooLong);
        }
        let lower = template.to_ascii_lowercase();
        let at = lower.find(PLACEHOLDER).ok_or(TagError::MissingPlaceholder)?;
        let tag = Self::new(&template[..at], &template[at + PLACEHOLDER.len()..]);
        let blank = |s: &str| s.chars().all(|c| c.is_whitespace() || is_variation_selector(c));
        if blank(&tag.prefix) && blank(&tag.suffix) {
            return Err(TagError::Empty);
        }
        Ok(tag)
    }

    /// Combined length of prefix and suffix in characters, not counting variation selectors
    /// (U+FE0E, U+FE0F): the specificity used for ordering, so `❤️:text` and `❤:text` are
    /// equally specific. A tag of specificity 0 never matches anything.
    pub fn specificity(&self) -> usize {
        let count = |s: &str| s.chars().filter(|&c| !is_variation_selector(c)).count();
        count(&self.prefix) + count(&self.suffix)
    }

    /// If `text` is wrapped in this tag, the inner text with surrounding whitespace trimmed.
    /// Case-sensitive; variation selectors are ignored (see [`Matching`]).
    pub fn strip<'a>(&self, text: &'a str) -> Option<&'a str> {
        self.strip_with(text, Matching::default())
    }

    /// [`ProxyTag::strip`], comparing as `how` says.
    pub fn strip_with<'a>(&self, text: &'a str, how: Matching) -> Option<&'a str> {
        let (start, end) = self.span(text, how)?;
        text.get(start..end).map(str::trim)
    }

    /// Byte offsets in `text` where the inner text starts (just past the prefix, and past
    /// any variation selectors that follow it) and ends (where the suffix starts). Both are
    /// character boundaries of `text`, and `start <= end`.
    fn span(&self, text: &str, how: Matching) -> Option<(usize, usize)> {
        if self.specificity() == 0 {
            return None;
        }
        let start = prefix_end(text, &self.prefix, how)?;
        let end = suffix_start(text, &self.suffix, how)?;
        (start <= end).then_some((start, end))
    }
}

impl fmt::Display for ProxyTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{PLACEHOLDER}{}", self.prefix, self.suffix)
    }
}

/// U+FE0E (text style) and U+FE0F (emoji style), ignored when matching.
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}')
}

/// Whether case-insensitive matching lowercases `c`: letters do, symbols do not. The
/// standard library has no general category, so "letter" is `is_alphabetic` minus the
/// circled letters `Ⓐ`–`ⓩ` (U+24B6–U+24E9): symbols (So) that Unicode counts as alphabetic
/// and gives case mappings (`Ⓜ️` is an emoji). The only other non-letters with a lowercase
/// mapping are the Roman numerals `Ⅰ`–`Ⅿ` (letter numbers), which do fold.
fn folds_case(c: char) -> bool {
    c.is_alphabetic() && !('\u{24B6}'..='\u{24E9}').contains(&c)
}

/// What one character compares as: nothing (a variation selector), itself, or its
/// lowercase (one to three characters).
enum Folded {
    Same(std::option::IntoIter<char>),
    Lower(std::char::ToLowercase),
}

impl Iterator for Folded {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            Folded::Same(it) => it.next(),
            Folded::Lower(it) => it.next(),
        }
    }
}

impl DoubleEndedIterator for Folded {
    fn next_back(&mut self) -> Option<char> {
        match self {
            Folded::Same(it) => it.next_back(),
            Folded::Lower(it) => it.next_back(),
        }
    }
}

fn fold(c: char, how: Matching) -> Folded {
    if is_variation_selector(c) {
        Folded::Same(None.into_iter())
    } else if how.case_insensitive && folds_case(c) {
        Folded::Lower(c.to_lowercase())
    } else {
        Folded::Same(Some(c).into_iter())
    }
}

/// Where `prefix` ends in `text` if `text` starts with it (compared as `how` says), past any
/// variation selectors that follow it. The prefix must end on a character of `text`: `i`
/// does not match the first half of `İ` (`i̇` when lowercased).
fn prefix_end(text: &str, prefix: &str, how: Matching) -> Option<usize> {
    let mut want = prefix.chars().flat_map(|c| fold(c, how)).peekable();
    if want.peek().is_none() {
        return Some(0);
    }
    for (i, c) in text.char_indices() {
        if want.peek().is_none() {
            // Matched: the variation selectors right after the prefix belong to it.
            if is_variation_selector(c) {
                continue;
            }
            return Some(i);
        }
        for got in fold(c, how) {
            if want.next() != Some(got) {
                return None;
            }
        }
    }
    want.peek().is_none().then_some(text.len())
}

/// Where `suffix` starts in `text` if `text` ends with it (compared as `how` says). The
/// variation selectors just before the suffix stay out of it: they belong to the inner text
/// (`hi ❤️]` with the suffix `]`).
fn suffix_start(text: &str, suffix: &str, how: Matching) -> Option<usize> {
    let mut want = suffix.chars().rev().flat_map(|c| fold(c, how).rev()).peekable();
    if want.peek().is_none() {
        return Some(text.len());
    }
    for (i, c) in text.char_indices().rev() {
        for got in fold(c, how).rev() {
            if want.next() != Some(got) {
                return None;
            }
        }
        if want.peek().is_none() {
            return Some(i);
        }
    }
    None
}

/// A successful match: which member (by the caller's key), which tag, and the inner text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMatch<'t, K> {
    pub member: K,
    pub tag: &'t ProxyTag,
    /// The message without the tag, trimmed. May be empty (a bare tag). Always taken from
    /// the message as sent, whatever case the tag was written in.
    pub inner: String,
    /// The tag's prefix as written in the message (the message starts with it). It may
    /// differ from `tag.prefix` in case or variation selectors, and includes the variation
    /// selectors that follow it; use it, not `tag.prefix`, to find the tag in the message.
    pub matched_prefix: String,
    /// The tag's suffix as written in the message (the message ends with it).
    pub matched_suffix: String,
}

/// Finds the most specific tag that wraps `text`, case-sensitively. `tags` lists (member
/// key, tag) pairs in a stable order (member creation order, then tag order); among equally
/// specific tags the first one wins.
pub fn match_tags<'t, K: Copy>(text: &str, tags: &'t [(K, ProxyTag)]) -> Option<TagMatch<'t, K>> {
    match_tags_with(text, tags, Matching::default())
}

/// [`match_tags`], comparing as `how` says. Specificity ([`ProxyTag::specificity`]) does not
/// depend on `how`.
pub fn match_tags_with<'t, K: Copy>(text: &str, tags: &'t [(K, ProxyTag)], how: Matching) -> Option<TagMatch<'t, K>> {
    let mut order: Vec<&(K, ProxyTag)> = tags.iter().collect();
    // Stable sort: ties keep the caller's order.
    order.sort_by_key(|(_, tag)| std::cmp::Reverse(tag.specificity()));
    order.into_iter().find_map(|(member, tag)| {
        let (start, end) = tag.span(text, how)?;
        Some(TagMatch {
            member: *member,
            tag,
            inner: text.get(start..end)?.trim().to_owned(),
            matched_prefix: text.get(..start)?.to_owned(),
            matched_suffix: text.get(end..)?.to_owned(),
        })
    })
}

#[cfg(test)]
mod tests;
