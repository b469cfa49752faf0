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

impl ProxyTag {
    pub fn new(prefix: impl Into<String>, suffix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), suffix: suffix.into() }
    }

    /// Parses a template such as `a:text`, `[text]` or `text -a`. The first `text`
    /// (any case) is the placeholder; prefix and suffix are kept byte for byte.
    pub fn parse(template: &str) -> Result<Self, TagError> {
        if template.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TagError::TooLong);
        }
        let lower = template.to_ascii_lowercase();
        let at = lower.find(PLACEHOLDER).ok_or(TagError::MissingPlaceholder)?;
        let tag = Self::new(&template[..at], &template[at + PLACEHOLDER.len()..]);
        if tag.prefix.trim().is_empty() && tag.suffix.trim().is_empty() {
            return Err(TagError::Empty);
        }
        Ok(tag)
    }

    /// Combined length of prefix and suffix in characters: the specificity used for ordering.
    pub fn specificity(&self) -> usize {
        self.prefix.chars().count() + self.suffix.chars().count()
    }

    /// If `text` is wrapped in this tag, the inner text with surrounding whitespace trimmed.
    pub fn strip<'a>(&self, text: &'a str) -> Option<&'a str> {
        if text.len() < self.prefix.len() + self.suffix.len() {
            return None;
        }
        let inner = text.strip_prefix(self.prefix.as_str())?.strip_suffix(self.suffix.as_str())?;
        Some(inner.trim())
    }
}

impl fmt::Display for ProxyTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{PLACEHOLDER}{}", self.prefix, self.suffix)
    }
}

/// A successful match: which member (by the caller's key), which tag, and the inner text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMatch<'t, K> {
    pub member: K,
    pub tag: &'t ProxyTag,
    /// The message without the tag, trimmed. May be empty (a bare tag).
    pub inner: String,
}

/// Finds the most specific tag that wraps `text`. `tags` lists (member key, tag) pairs in a
/// stable order (member creation order, then tag order); among equally specific tags the
/// first one wins.
pub fn match_tags<'t, K: Copy>(text: &str, tags: &'t [(K, ProxyTag)]) -> Option<TagMatch<'t, K>> {
    let mut order: Vec<&(K, ProxyTag)> = tags.iter().collect();
    // Stable sort: ties keep the caller's order.
    order.sort_by_key(|(_, tag)| std::cmp::Reverse(tag.specificity()));
    order.into_iter().find_map(|(member, tag)| {
        tag.strip(text).map(|inner| TagMatch { member: *member, tag, inner: inner.to_owned() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(template: &str) -> ProxyTag {
        ProxyTag::parse(template).unwrap()
    }

    #[test]
    fn parse_templates() {
        assert_eq!(t("a:text"), ProxyTag::new("a:", ""));
        assert_eq!(t("[text]"), ProxyTag::new("[", "]"));
        assert_eq!(t("text -a"), ProxyTag::new("", " -a"));
        assert_eq!(t("A:TEXT"), ProxyTag::new("A:", ""));
        assert_eq!(t("🌸text🌸"), ProxyTag::new("🌸", "🌸"));
        assert_eq!(ProxyTag::parse("a:"), Err(TagError::MissingPlaceholder));
        assert_eq!(ProxyTag::parse("text"), Err(TagError::Empty));
        assert_eq!(ProxyTag::parse(" text "), Err(TagError::Empty));
        assert_eq!(ProxyTag::parse(&format!("{}text", "x".repeat(100))), Err(TagError::TooLong));
    }

    #[test]
    fn display_roundtrips() {
        for s in ["a:text", "[text]", "text -a", "{{text}}"] {
            assert_eq!(t(s).to_string(), s);
            assert_eq!(t(&t(s).to_string()), t(s));
        }
    }

    #[test]
    fn prefix_and_suffix_match() {
        let tags = vec![(1, t("a:text")), (2, t("[text]")), (3, t("text -c"))];
        let m = match_tags("a: hello", &tags).unwrap();
        assert_eq!((m.member, m.inner.as_str()), (1, "hello"));
        let m = match_tags("[hi there]", &tags).unwrap();
        assert_eq!((m.member, m.inner.as_str()), (2, "hi there"));
        let m = match_tags("see you -c", &tags).unwrap();
        assert_eq!((m.member, m.inner.as_str()), (3, "see you"));
        assert!(match_tags("hello a:", &tags).is_none());
        assert!(match_tags("[unclosed", &tags).is_none());
        assert!(match_tags("A: hello", &tags).is_none(), "matching is case-sensitive");
    }

    #[test]
    fn longest_tag_wins() {
        let tags = vec![(1, t("a:text")), (2, t("ab:text")), (3, t("a:text:a"))];
        assert_eq!(match_tags("ab: x", &tags).unwrap().member, 2);
        assert_eq!(match_tags("a: x :a", &tags).unwrap().member, 3);
        assert_eq!(match_tags("a: x", &tags).unwrap().member, 1);
    }

    #[test]
    fn ties_keep_caller_order() {
        let tags = vec![(7, t("x:text")), (8, t("text:x"))];
        assert_eq!(match_tags("x:hi:x", &tags).unwrap().member, 7);
    }

    #[test]
    fn bare_tag_gives_empty_inner() {
        let tags = vec![(1, t("[text]"))];
        assert_eq!(match_tags("[]", &tags).unwrap().inner, "");
        assert_eq!(match_tags("[  ]", &tags).unwrap().inner, "");
        // Prefix and suffix may not overlap.
        let tags = vec![(1, t("ab:text:ab"))];
        assert!(match_tags("ab:ab", &tags).is_none());
    }

    proptest! {
        #[test]
        fn wrapped_text_is_found(prefix in "[a-z:!\\[]{1,4}", inner in "[a-zA-Z0-9 ]{0,30}", suffix in "[\\]!]{0,2}") {
            let tag = ProxyTag::new(prefix.clone(), suffix.clone());
            let msg = format!("{prefix}{inner}{suffix}");
            let tags = vec![(0u8, tag)];
            let m = match_tags(&msg, &tags).unwrap();
            prop_assert_eq!(m.inner, inner.trim());
        }

        #[test]
        fn winner_is_a_most_specific_match(
            tags in proptest::collection::vec(("[ab:]{0,3}", "[ab:]{0,2}"), 1..6),
            msg in "[ab: ]{0,10}",
        ) {
            let tags: Vec<(usize, ProxyTag)> = tags.into_iter().enumerate()
                .filter(|(_, (p, s)): &(usize, (String, String))| !(p.is_empty() && s.is_empty()))
                .map(|(i, (p, s))| (i, ProxyTag::new(p, s)))
                .collect();
            let best = tags.iter().filter(|(_, tag)| tag.strip(&msg).is_some())
                .map(|(_, tag)| tag.specificity()).max();
            match match_tags(&msg, &tags) {
                Some(m) => prop_assert_eq!(Some(m.tag.specificity()), best),
                None => prop_assert_eq!(best, None),
            }
        }
    }
}
