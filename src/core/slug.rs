//! Slugs: the `[a-z0-9-]+` names that systems and members carry inside ghost user IDs.
//!
//! The rule is fixed by the interface spec: lower-case, every run of characters outside
//! `[a-z0-9-]` becomes one `-`, leading and trailing `-` are trimmed. Clashes get `-2`, `-3`, ….

/// Longest slug we hand out; keeps ghost localparts far below Matrix's 255-byte user ID limit.
pub const MAX_SLUG_LEN: usize = 40;

/// Turns a name or localpart into a slug. Returns `None` when nothing usable remains
/// (for example a name made only of emoji); callers then choose a fallback.
pub fn slugify(input: &str) -> Option<String> {
    let mut out = String::with_capacity(input.len());
    let mut in_run = false;
    for ch in input.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' {
            out.push(ch);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let trimmed = out.trim_matches('-');
    let mut slug: String = trimmed.chars().take(MAX_SLUG_LEN).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    (!slug.is_empty()).then_some(slug)
}

/// Whether `s` is a well-formed slug (what ghost IDs are parsed back with).
pub fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG_LEN + 8
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The first of `base`, `base-2`, `base-3`, … for which `taken` says no.
pub fn unique_slug(base: &str, mut taken: impl FnMut(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_owned();
    }
    (2u32..).map(|n| format!("{base}-{n}")).find(|candidate| !taken(candidate)).unwrap_or_else(|| base.to_owned()) // ok: the range is unbounded, find always returns
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(slugify("Alice").as_deref(), Some("alice"));
        assert_eq!(slugify("Alice Bee").as_deref(), Some("alice-bee"));
        assert_eq!(slugify("  alice__bee!!").as_deref(), Some("alice-bee"));
        assert_eq!(slugify("Zoë").as_deref(), Some("zo"));
        assert_eq!(slugify("x.y_z").as_deref(), Some("x-y-z"));
        assert_eq!(slugify("🌸🌸"), None);
        assert_eq!(slugify("---"), None);
        assert_eq!(slugify("a-b").as_deref(), Some("a-b"));
    }

    #[test]
    fn long_names_are_cut() {
        let s = slugify(&"ab".repeat(100)).unwrap();
        assert_eq!(s.len(), MAX_SLUG_LEN);
    }

    #[test]
    fn unique_appends_counter() {
        let taken = ["alice", "alice-2"];
        assert_eq!(unique_slug("alice", |s| taken.contains(&s)), "alice-3");
        assert_eq!(unique_slug("bob", |s| taken.contains(&s)), "bob");
    }

    proptest! {
        #[test]
        fn slug_is_always_valid(input in ".{0,80}") {
            if let Some(s) = slugify(&input) {
                prop_assert!(is_valid_slug(&s), "{s:?}");
                prop_assert!(!s.starts_with('-') && !s.ends_with('-'));
                prop_assert!(!s.contains('_'));
            }
        }

        #[test]
        fn slugify_is_idempotent(input in ".{0,80}") {
            if let Some(s) = slugify(&input) {
                prop_assert_eq!(slugify(&s), Some(s.clone()));
            }
        }
    }
}
