//! Who may use the bridge (config section `[access]`): Matrix ID patterns where `*` matches
//! any run of characters (none included) and everything else matches itself, case and all.
//! `allow` says who may create a system (and, with `bot_invites = "allowed"`, invite the
//! bot); empty means the homeserver's own users. `deny` says who may not use the bridge at
//! all. Admins are never denied.

/// A Matrix ID pattern: `*` is any run of characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: &str) -> Self {
        Self(text.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the whole of `user_id` matches.
    pub fn matches(&self, user_id: &str) -> bool {
        glob(self.0.as_bytes(), user_id.as_bytes())
    }
}

/// Iterative wildcard matching with backtracking to the last `*` (linear in practice, never
/// exponential).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Who may invite the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotInvites {
    Anyone,
    /// Only users who may create a system.
    Allowed,
}

/// The access rules, ready to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPolicy {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
    admins: Vec<String>,
    bot_invites: BotInvites,
}

impl AccessPolicy {
    /// `allow` empty means `@*:<domain>`.
    pub fn new(allow: &[String], deny: &[String], admins: &[String], bot_invites: BotInvites, domain: &str) -> Self {
        let allow = if allow.is_empty() {
            vec![Pattern::new(&format!("@*:{domain}"))]
        } else {
            allow.iter().map(|a| Pattern::new(a)).collect()
        };
        Self { allow, deny: deny.iter().map(|d| Pattern::new(d)).collect(), admins: admins.to_vec(), bot_invites }
    }

    pub fn is_admin(&self, user_id: &str) -> bool {
        self.admins.iter().any(|a| a == user_id)
    }

    /// Whether `user_id` may not use the bridge at all (never an admin).
    pub fn is_denied(&self, user_id: &str) -> bool {
        !self.is_admin(user_id) && self.deny.iter().any(|d| d.matches(user_id))
    }

    /// Whether `user_id` may create a system (and so import one).
    pub fn may_create_system(&self, user_id: &str) -> bool {
        !self.is_denied(user_id) && (self.is_admin(user_id) || self.allow.iter().any(|a| a.matches(user_id)))
    }

    /// Whether an invite of the bot by `user_id` is accepted.
    pub fn may_invite_bot(&self, user_id: &str) -> bool {
        match self.bot_invites {
            BotInvites::Anyone => !self.is_denied(user_id),
            BotInvites::Allowed => self.may_create_system(user_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn patterns() {
        let p = Pattern::new("@*:example.org");
        assert!(p.matches("@alice:example.org"));
        assert!(p.matches("@:example.org"), "a star may match nothing");
        assert!(!p.matches("@alice:example.org.evil"), "the whole ID must match");
        assert!(!p.matches("@alice:other.org"));
        assert!(!p.matches("@alice:EXAMPLE.org"), "case counts");
        assert!(Pattern::new("@alice:other.org").matches("@alice:other.org"));
        assert!(!Pattern::new("@alice:other.org").matches("@alice:other.orgx"));
        assert!(Pattern::new("*").matches("@anyone:anywhere"));
        assert!(Pattern::new("@a*b*c:x").matches("@aXXbYYc:x"));
        assert!(!Pattern::new("@a*b*c:x").matches("@aXXcYYb:x"));
        assert!(Pattern::new("@**:x").matches("@q:x"));
        assert!(
            Pattern::new("@bot?:x").matches("@bot?:x") && !Pattern::new("@bot?:x").matches("@bots:x"),
            "only * is special"
        );
    }

    #[test]
    fn defaults_admins_and_denial() {
        let admins = vec!["@root:home.org".to_owned()];
        let p = AccessPolicy::new(
            &[],
            &["@spam*:home.org".into(), "@root:home.org".into()],
            &admins,
            BotInvites::Anyone,
            "home.org",
        );
        assert!(p.may_create_system("@alice:home.org"), "local users by default");
        assert!(!p.may_create_system("@alice:elsewhere.org"), "nobody else");
        assert!(!p.may_create_system("@spammer:home.org") && p.is_denied("@spammer:home.org"));
        assert!(!p.is_denied("@root:home.org"), "admins are never denied");
        assert!(p.may_invite_bot("@alice:elsewhere.org"), "anyone may invite");
        assert!(!p.may_invite_bot("@spammer:home.org"), "but not the denied");
        let strict = AccessPolicy::new(&["@alice:other.org".into()], &[], &admins, BotInvites::Allowed, "home.org");
        assert!(strict.may_create_system("@alice:other.org") && !strict.may_create_system("@bob:home.org"));
        assert!(strict.may_create_system("@root:home.org"), "admins may always");
        assert!(!strict.may_invite_bot("@bob:home.org") && strict.may_invite_bot("@alice:other.org"));
    }

    /// A naive matcher to check against: regex-free, recursive (fine for short inputs).
    fn naive(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => naive(&p[1..], t) || (!t.is_empty() && naive(p, &t[1..])),
            (Some(a), Some(b)) if a == b => naive(&p[1..], &t[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn matching_agrees_with_the_definition(p in "[ab*:@]{0,8}", t in "[ab:@]{0,10}") {
            prop_assert_eq!(Pattern::new(&p).matches(&t), naive(p.as_bytes(), t.as_bytes()));
        }

        #[test]
        fn an_id_matches_itself_and_a_star_matches_all(t in "\\PC{0,40}") {
            prop_assert!(Pattern::new(&t).matches(&t));
            prop_assert!(Pattern::new("*").matches(&t));
        }
    }
}
