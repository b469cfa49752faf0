//! Identifiers: ghost user IDs from slugs and back, PluralKit-style short IDs, and the
//! deterministic transaction IDs that make every homeserver write safe to retry.

use sha2::{Digest, Sha256};

use super::slug::is_valid_slug;

/// The localpart of a member's ghost: `<prefix><system>_<member>`.
pub fn ghost_localpart(ghost_prefix: &str, system_slug: &str, member_slug: &str) -> String {
    format!("{ghost_prefix}{system_slug}_{member_slug}")
}

/// `(system slug, member slug)` of a ghost localpart, if it is one.
pub fn parse_ghost_localpart<'a>(ghost_prefix: &str, localpart: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = localpart.strip_prefix(ghost_prefix)?;
    let (system, member) = rest.split_once('_')?;
    (is_valid_slug(system) && is_valid_slug(member)).then_some((system, member))
}

/// A transaction ID derived from the event that caused a write and what the write is for,
/// so that a retry after a crash reuses it and the homeserver drops the duplicate.
pub fn txn_id(cause_event_id: &str, purpose: &str) -> String {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(cause_event_id.as_bytes());
    format!("pm{}", &hex::encode(h.finalize())[..40])
}

/// A new short ID (five lower-case letters, as PluralKit uses) from a source of randomness.
pub fn short_id(mut next_u32: impl FnMut() -> u32) -> String {
    (0..5).map(|_| char::from(b'a' + (next_u32() % 26) as u8)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ghost_ids_roundtrip() {
        let lp = ghost_localpart("_plural_", "alice", "bee-2");
        assert_eq!(lp, "_plural_alice_bee-2");
        assert_eq!(parse_ghost_localpart("_plural_", &lp), Some(("alice", "bee-2")));
        assert_eq!(parse_ghost_localpart("_plural_", "plural_bot"), None);
        assert_eq!(parse_ghost_localpart("_plural_", "_plural_alice"), None);
        assert_eq!(parse_ghost_localpart("_plural_", "_plural_Alice_b"), None);
        assert_eq!(parse_ghost_localpart("_plural_", "_plural_a_b_c"), None);
    }

    #[test]
    fn txn_ids_are_stable_and_distinct() {
        assert_eq!(txn_id("$e1", "proxy"), txn_id("$e1", "proxy"));
        assert_ne!(txn_id("$e1", "proxy"), txn_id("$e1", "redact"));
        assert_ne!(txn_id("$e1", "proxy"), txn_id("$e2", "proxy"));
        assert!(txn_id("$e", "x").chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn short_ids_are_letters() {
        let mut n = 0u32;
        let id = short_id(|| {
            n += 7;
            n
        });
        assert_eq!(id.len(), 5);
        assert!(id.chars().all(|c| c.is_ascii_lowercase()));
    }

    proptest! {
        #[test]
        fn parse_inverts_build(sys in "[a-z0-9][a-z0-9-]{0,10}", mem in "[a-z0-9][a-z0-9-]{0,10}") {
            let lp = ghost_localpart("_plural_", &sys, &mem);
            prop_assert_eq!(parse_ghost_localpart("_plural_", &lp), Some((sys.as_str(), mem.as_str())));
        }
    }
}
