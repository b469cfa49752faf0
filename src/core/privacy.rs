//! Privacy in PluralKit's model: per subject of a system (9), a member (9, with visibility)
//! or a group (7), each public or private. The owner sees everything; everybody else sees a
//! private subject as absent (a private member or group name falls back to the display name).
//! Subject keys are PluralKit's export keys, so import and export carry them as they are.

/// Public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    #[default]
    Public,
    Private,
}

impl Level {
    pub fn parse(word: &str) -> Option<Self> {
        match word.to_lowercase().as_str() {
            "public" | "pub" | "show" | "shown" | "visible" | "on" => Some(Self::Public),
            "private" | "priv" | "hide" | "hidden" | "off" => Some(Self::Private),
            _ => None,
        }
    }

    /// As stored and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }

    /// Stored text back to a level; anything unknown is private (the safe reading).
    pub fn from_stored(s: &str) -> Self {
        if s == "public" { Self::Public } else { Self::Private }
    }

    /// Whether a viewer sees a subject at this level.
    pub fn shows_to(self, viewer: Viewer) -> bool {
        self == Self::Public || viewer == Viewer::Owner
    }
}

/// Who looks: the system's own accounts, or anybody else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Owner,
    Other,
}

/// A subject of one kind of thing (system, member, group): its words and its export key.
pub trait Subject: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    /// The word first, then aliases.
    fn words(self) -> &'static [&'static str];
    /// PluralKit's key, also the database column.
    fn key(self) -> &'static str;

    fn parse(word: &str) -> Option<Self> {
        let word = word.to_lowercase();
        Self::ALL.iter().copied().find(|s| s.words().contains(&word.as_str()))
    }
}

macro_rules! subjects {
    ($name:ident { $($variant:ident => $key:literal, [$($word:literal),+];)+ }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),+ }

        impl Subject for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn words(self) -> &'static [&'static str] {
                match self { $(Self::$variant => &[$($word),+]),+ }
            }
            fn key(self) -> &'static str {
                match self { $(Self::$variant => $key),+ }
            }
        }
    };
}

subjects!(SystemSubject {
    Name => "name_privacy", ["name"];
    Avatar => "avatar_privacy", ["avatar", "pfp", "icon", "picture"];
    Description => "description_privacy", ["description", "desc", "bio", "info"];
    Banner => "banner_privacy", ["banner", "splash", "cover"];
    Pronouns => "pronoun_privacy", ["pronouns", "prns", "pn"];
    MemberList => "member_list_privacy", ["members", "list", "mlist", "memberlist"];
    GroupList => "group_list_privacy", ["groups", "glist", "grouplist"];
    Front => "front_privacy", ["front", "fronter", "fronters", "f"];
    FrontHistory => "front_history_privacy", ["fronthistory", "fh", "switches"];
});

subjects!(MemberSubject {
    Visibility => "visibility", ["visibility", "hidden", "shown", "visible"];
    Name => "name_privacy", ["name"];
    Description => "description_privacy", ["description", "desc", "bio", "info", "text"];
    Birthday => "birthday_privacy", ["birthday", "bday", "birthdate", "bdate"];
    Pronouns => "pronoun_privacy", ["pronouns", "prns", "pn", "pronoun"];
    Avatar => "avatar_privacy", ["avatar", "pfp", "icon", "picture", "image"];
    Banner => "banner_privacy", ["banner", "splash", "cover"];
    Metadata => "metadata_privacy", ["metadata", "meta", "info-meta", "created", "messages"];
    Proxy => "proxy_privacy", ["proxy", "proxies", "tags", "proxytags"];
});

subjects!(GroupSubject {
    Name => "name_privacy", ["name"];
    Icon => "icon_privacy", ["icon", "avatar", "pfp", "picture"];
    Description => "description_privacy", ["description", "desc", "bio", "info", "text"];
    Banner => "banner_privacy", ["banner", "splash", "cover"];
    List => "list_privacy", ["list", "members", "ms"];
    Metadata => "metadata_privacy", ["metadata", "meta", "created"];
    Visibility => "visibility", ["visibility", "hidden", "shown", "visible"];
});

/// Which subjects a privacy command sets: one, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<S> {
    One(S),
    All,
}

impl<S: Subject> Target<S> {
    pub fn parse(word: &str) -> Option<Self> {
        if word.eq_ignore_ascii_case("all") { Some(Self::All) } else { S::parse(word).map(Self::One) }
    }

    pub fn subjects(self) -> Vec<S> {
        match self {
            Self::One(s) => vec![s],
            Self::All => S::ALL.to_vec(),
        }
    }
}

/// The names of a subject kind's words, for error messages.
pub fn subject_list<S: Subject>() -> String {
    S::ALL.iter().map(|s| format!("`{}`", s.words()[0])).collect::<Vec<_>>().join(", ")
}

/// A member's or group's name as a viewer sees it: a private name falls back to the display
/// name (or stays the name when there is none), as in PluralKit.
pub fn name_for<'a>(name: &'a str, display_name: Option<&'a str>, level: Level, viewer: Viewer) -> &'a str {
    if level.shows_to(viewer) { name } else { display_name.unwrap_or(name) }
}

/// `value` if the viewer may see it at `level`.
pub fn shown<T>(value: Option<T>, level: Level, viewer: Viewer) -> Option<T> {
    value.filter(|_| level.shows_to(viewer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_words<S: Subject + std::fmt::Debug>() {
        for (i, a) in S::ALL.iter().enumerate() {
            assert_eq!(S::parse(a.words()[0]), Some(*a));
            for b in &S::ALL[i + 1..] {
                assert!(a.words().iter().all(|w| !b.words().contains(w)), "{a:?} and {b:?} share a word");
                assert_ne!(a.key(), b.key());
            }
        }
    }

    #[test]
    fn subjects_are_pluralkits() {
        check_words::<SystemSubject>();
        check_words::<MemberSubject>();
        check_words::<GroupSubject>();
        assert_eq!((SystemSubject::ALL.len(), MemberSubject::ALL.len(), GroupSubject::ALL.len()), (9, 9, 7));
        assert_eq!(Target::<MemberSubject>::parse("ALL"), Some(Target::All));
        assert_eq!(Target::parse("bday"), Some(Target::One(MemberSubject::Birthday)));
        assert_eq!(Target::<GroupSubject>::parse("bday"), None);
    }

    #[test]
    fn what_a_viewer_sees() {
        assert!(Level::Private.shows_to(Viewer::Owner));
        assert!(!Level::Private.shows_to(Viewer::Other));
        assert_eq!(name_for("Alice", Some("Al"), Level::Private, Viewer::Other), "Al");
        assert_eq!(name_for("Alice", None, Level::Private, Viewer::Other), "Alice");
        assert_eq!(name_for("Alice", Some("Al"), Level::Private, Viewer::Owner), "Alice");
        assert_eq!(shown(Some("x"), Level::Private, Viewer::Other), None);
        assert_eq!(Level::from_stored("garbage"), Level::Private, "unknown reads as private");
        assert_eq!(Level::parse("hidden"), Some(Level::Private));
    }
}
