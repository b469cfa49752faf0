//! The one table of commands: every command word the parser accepts, with its aliases, its
//! usage and its help line. The parser finds words only here and `pk;help` lists only from
//! here, so the help cannot drift from what parses. Aliases follow PluralKit's.

use crate::core::profile::{GroupField, MemberField, SystemField};

/// Where a word stands: `pk;<word>`, `pk;system <word>`, `pk;member <word>` (no member
/// named), `pk;member <member> <word>`, `pk;group <word>`, `pk;group <group> <word>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Root,
    System,
    Members,
    Member,
    Groups,
    Group,
    /// `pk;switch <word>`.
    Switch,
}

/// What a word means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Help,
    Config,
    Export,
    Import,
    Link,
    Unlink,
    System,
    Member,
    Autoproxy,
    List,
    SystemNew,
    SystemList,
    SystemField(SystemField),
    SystemDelete,
    SystemPrivacy,
    MemberNew,
    MemberProxy,
    MemberDelete,
    MemberKeepProxy,
    MemberAutoproxy,
    MemberField(MemberField),
    MemberGroups,
    MemberPrivacy,
    Group,
    GroupNew,
    GroupList,
    GroupAdd,
    GroupRemove,
    GroupMembers,
    GroupDelete,
    GroupField(GroupField),
    GroupPrivacy,
    GroupFrontPercent,
    Switch,
    SwitchOut,
    SwitchMove,
    SwitchEdit,
    SwitchCopy,
    SwitchDelete,
    Front,
    FrontHistory,
    FrontPercent,
    Edit,
    Reproxy,
    Message,
    /// `pk;admin …`: not in `pk;help` (admins get their own list).
    Admin,
}

/// One command.
#[derive(Debug)]
pub struct Spec {
    pub scope: Scope,
    pub verb: Verb,
    /// The word first, then its aliases.
    pub words: &'static [&'static str],
    /// What to type after the prefix; empty for words that only lead to others.
    pub usage: &'static str,
    /// One line for `pk;help`.
    pub help: &'static str,
}

const fn spec(
    scope: Scope,
    verb: Verb,
    words: &'static [&'static str],
    usage: &'static str,
    help: &'static str,
) -> Spec {
    Spec { scope, verb, words, usage, help }
}

use Scope::{Group as G, Groups as Gs, Member as M, Members as Ms, Root as R, Switch as Sw, System as S};

pub const COMMANDS: &[Spec] = &[
    spec(R, Verb::Help, &["help", "h", "commands", "cmd"], "help", "this list"),
    spec(R, Verb::System, &["system", "s"], "", ""),
    spec(R, Verb::Member, &["member", "m"], "", ""),
    spec(R, Verb::List, &["list", "l", "members", "ls", "find", "f"], "", ""),
    spec(R, Verb::Group, &["group", "g", "groups"], "", ""),
    spec(
        R,
        Verb::Config,
        &["config", "cfg"],
        "config [<setting> [<value>|-clear]]",
        "your settings: `timezone`, `autoproxy timeout`, `ping`, `proxy case`, `proxy switch`, `private member`, \
         `private group`, `show private`, `name format` (`pk;config` lists them)",
    ),
    spec(
        R,
        Verb::Switch,
        &["switch", "sw"],
        "switch <member>… | switch out",
        "register who is fronting now, first fronter first (`out`: nobody)",
    ),
    spec(
        R,
        Verb::Front,
        &["front", "fronter", "fronters"],
        "front [<system>]",
        "who is fronting (`pk;system fronter`)",
    ),
    spec(
        R,
        Verb::FrontHistory,
        &["fh", "fronthistory", "history", "switches"],
        "fh [<page>]",
        "the switch history, newest first (`pk;system fronthistory`)",
    ),
    spec(
        R,
        Verb::FrontPercent,
        &["fp", "frontpercent", "front%", "frontbreakdown"],
        "fp [<time>] [-flat] [-fronters-only]",
        "time each member fronted since `<time>` (default 30 days; `pk;system frontpercent`)",
    ),
    spec(
        R,
        Verb::Edit,
        &["edit", "e"],
        "edit <text> [-append|-prepend|-regex]",
        "edit your proxied message (the one replied to, or your latest here); `-regex s|find|replace|g`",
    ),
    spec(
        R,
        Verb::Reproxy,
        &["reproxy", "rp", "crimes", "crime"],
        "reproxy <member>",
        "send your proxied message (replied to, or latest) again as another member",
    ),
    spec(
        R,
        Verb::Message,
        &["message", "msg", "messageinfo"],
        "message [<event ID or link>] [-delete]",
        "who sent a proxied message (reply to it); `-delete` removes your own",
    ),
    spec(R, Verb::Admin, &["admin"], "", ""),
    spec(Sw, Verb::SwitchOut, &["out"], "switch out", "nobody is fronting"),
    spec(
        Sw,
        Verb::SwitchMove,
        &["move", "m", "shift", "offset"],
        "switch move <time>",
        "move the latest switch: `2h` (ago), `14:30`, `2026-05-01 14:30` (your time zone)",
    ),
    spec(
        Sw,
        Verb::SwitchEdit,
        &["edit", "e", "replace"],
        "switch edit <member>…|out [-first|-remove|-append|-prepend]",
        "change who is in the latest switch",
    ),
    spec(
        Sw,
        Verb::SwitchCopy,
        &["copy", "add", "duplicate", "dupe"],
        "switch copy <member>… [-first|-remove|-prepend]",
        "a new switch: the current fronters with these added (or changed by the flag)",
    ),
    spec(
        Sw,
        Verb::SwitchDelete,
        &["delete", "remove", "erase", "cancel", "yeet"],
        "switch delete [all]",
        "delete the latest switch (or all of them); asks you to confirm (or add `-y`)",
    ),
    spec(R, Verb::Export, &["export"], "export", "your system as PluralKit's `system.json`, sent to our direct chat"),
    spec(
        R,
        Verb::Import,
        &["import"],
        "import",
        "as a reply to a PluralKit export file (or as its caption): imports members, groups, privacy",
    ),
    spec(
        R,
        Verb::Link,
        &["link"],
        "link <@user:server>",
        "link another account to your system; it confirms by answering `yes` to the bot",
    ),
    spec(
        R,
        Verb::Unlink,
        &["unlink"],
        "unlink [@user:server]",
        "unlink an account (yours if none given; never the last)",
    ),
    spec(
        R,
        Verb::Autoproxy,
        &["autoproxy", "ap", "auto"],
        "autoproxy [off|latch|front|<member>|default] [-global]",
        "proxy untagged messages in this room: as the last member used (latch), the first fronter, or one \
         member; `-global` sets the default for rooms without their own, `default` makes this room follow it",
    ),
    spec(
        S,
        Verb::SystemNew,
        &["new", "create", "make", "add", "register", "init", "n"],
        "system new [name]",
        "create your system",
    ),
    spec(S, Verb::SystemList, &["list", "l", "members", "ls"], "system list", "your members (also `pk;list`)"),
    spec(
        S,
        Verb::SystemField(SystemField::Name),
        &["name", "rename", "changename", "rn"],
        "system rename [name]",
        "show or set the system's name",
    ),
    spec(
        S,
        Verb::SystemField(SystemField::Description),
        &["description", "desc", "bio"],
        "system description [text|-clear]",
        "up to 1000 characters",
    ),
    spec(S, Verb::SystemField(SystemField::Pronouns), &["pronouns", "prns"], "system pronouns [text|-clear]", ""),
    spec(S, Verb::SystemField(SystemField::Color), &["color", "colour"], "system color [hex|-clear]", "like `ff8800`"),
    spec(
        S,
        Verb::SystemField(SystemField::Avatar),
        &["avatar", "picture", "icon", "image", "pic", "pfp"],
        "system avatar [mxc://…|-clear]",
        "",
    ),
    spec(
        S,
        Verb::SystemField(SystemField::Banner),
        &["banner", "splash", "cover"],
        "system banner [mxc://…|-clear]",
        "",
    ),
    spec(
        S,
        Verb::SystemField(SystemField::Tag),
        &["tag", "t"],
        "system tag [tag|-clear]",
        "shown after every member's name",
    ),
    spec(
        S,
        Verb::SystemPrivacy,
        &["privacy", "priv"],
        "system privacy [<subject>|all public|private]",
        "name avatar description banner pronouns members groups front fronthistory",
    ),
    spec(
        S,
        Verb::SystemDelete,
        &["delete", "remove", "destroy", "erase", "yeet"],
        "system delete",
        "asks for your system's ID to confirm, then deletes the system, its members and their accounts' profiles",
    ),
    spec(Ms, Verb::MemberNew, &["new", "n", "add", "create", "register"], "member new <name>", "add a member"),
    spec(Ms, Verb::List, &["list"], "", ""),
    spec(
        M,
        Verb::MemberProxy,
        &["proxy", "tags", "proxytags", "brackets", "p"],
        "member <member> proxy [<tag>…|add <tag>|remove <tag>|-clear]",
        "`text` marks where the message goes: `a:text`, `[text]`",
    ),
    spec(
        M,
        Verb::MemberField(MemberField::Name),
        &["name", "rename", "changename", "setname", "rn"],
        "member <member> rename [name]",
        "",
    ),
    spec(
        M,
        Verb::MemberField(MemberField::DisplayName),
        &["displayname", "dn", "dname", "nick", "nickname", "dispname", "display"],
        "member <member> displayname [name|-clear]",
        "the name shown on proxied messages",
    ),
    spec(
        M,
        Verb::MemberField(MemberField::Description),
        &["description", "info", "bio", "text", "desc"],
        "member <member> description [text|-clear]",
        "up to 1000 characters",
    ),
    spec(
        M,
        Verb::MemberField(MemberField::Pronouns),
        &["pronouns", "pronoun", "prns", "pn"],
        "member <member> pronouns [text|-clear]",
        "",
    ),
    spec(M, Verb::MemberField(MemberField::Color), &["color", "colour"], "member <member> color [hex|-clear]", ""),
    spec(
        M,
        Verb::MemberField(MemberField::Birthday),
        &["birthday", "bday", "birthdate", "cakeday", "bdate"],
        "member <member> birthday [date|-clear]",
        "`2000-05-27`, `May 27`, …",
    ),
    spec(
        M,
        Verb::MemberField(MemberField::Avatar),
        &["avatar", "profile", "picture", "icon", "image", "pfp", "pic", "av"],
        "member <member> avatar [mxc://…|-clear]",
        "the ghost's avatar",
    ),
    spec(
        M,
        Verb::MemberField(MemberField::Banner),
        &["banner", "splash", "cover"],
        "member <member> banner [mxc://…|-clear]",
        "",
    ),
    spec(
        M,
        Verb::MemberKeepProxy,
        &["keepproxy", "keeptags", "showtags", "kp"],
        "member <member> keepproxy [on|off]",
        "keep the tag in the proxied text",
    ),
    spec(
        M,
        Verb::MemberAutoproxy,
        &["autoproxy", "ap"],
        "member <member> autoproxy [on|off]",
        "whether latch and front autoproxy may pick this member",
    ),
    spec(
        M,
        Verb::MemberGroups,
        &["group", "groups", "g"],
        "member <member> group [add|remove <group>…]",
        "the member's groups",
    ),
    spec(
        M,
        Verb::MemberPrivacy,
        &["privacy", "priv"],
        "member <member> privacy [<subject>|all public|private]",
        "visibility name description birthday pronouns avatar banner metadata proxy",
    ),
    spec(Gs, Verb::GroupNew, &["new", "n", "create", "add"], "group new <name>", "create a group"),
    spec(Gs, Verb::GroupList, &["list", "l", "ls"], "group list", "your groups"),
    spec(G, Verb::GroupAdd, &["add", "a"], "group <group> add <member>…", "put members in the group"),
    spec(G, Verb::GroupRemove, &["remove", "rem", "r"], "group <group> remove <member>…", ""),
    spec(G, Verb::GroupMembers, &["members", "list", "ms", "l", "ls"], "group <group> list", "the group's members"),
    spec(
        G,
        Verb::GroupField(GroupField::Name),
        &["rename", "name", "changename", "setname", "rn"],
        "group <group> rename [name]",
        "",
    ),
    spec(
        G,
        Verb::GroupField(GroupField::DisplayName),
        &["displayname", "dn", "nick", "nickname"],
        "group <group> displayname [name|-clear]",
        "",
    ),
    spec(
        G,
        Verb::GroupField(GroupField::Description),
        &["description", "desc", "info", "bio", "text"],
        "group <group> description [text|-clear]",
        "",
    ),
    spec(
        G,
        Verb::GroupField(GroupField::Icon),
        &["icon", "avatar", "picture", "image", "pic", "pfp"],
        "group <group> icon [mxc://…|-clear]",
        "",
    ),
    spec(
        G,
        Verb::GroupField(GroupField::Banner),
        &["banner", "splash", "cover"],
        "group <group> banner [mxc://…|-clear]",
        "",
    ),
    spec(G, Verb::GroupField(GroupField::Color), &["color", "colour"], "group <group> color [hex|-clear]", ""),
    spec(
        G,
        Verb::GroupPrivacy,
        &["privacy", "priv"],
        "group <group> privacy [<subject>|all public|private]",
        "name icon description banner list metadata visibility",
    ),
    spec(
        G,
        Verb::GroupDelete,
        &["delete", "destroy", "erase", "yeet"],
        "group <group> delete",
        "asks for the group's ID to confirm (or add `-y`); members stay",
    ),
    spec(
        G,
        Verb::GroupFrontPercent,
        &["fp", "frontpercent", "front%", "frontbreakdown"],
        "group <group> frontpercent [<time>] [-flat] [-fronters-only]",
        "how long the group's members fronted",
    ),
    spec(
        M,
        Verb::MemberDelete,
        &["delete", "remove", "destroy", "erase", "yeet", "rm", "del"],
        "member <member> delete",
        "asks for the member's ID to confirm (or add `-y`)",
    ),
];

/// The verb a word means in a scope (case-insensitive).
pub fn find(scope: Scope, word: &str) -> Option<Verb> {
    let word = word.to_lowercase();
    COMMANDS.iter().find(|c| c.scope == scope && c.words.contains(&word.as_str())).map(|c| c.verb)
}

/// The usage lines of a scope, for "usage" errors.
pub fn usages(scope: Scope) -> impl Iterator<Item = &'static str> {
    COMMANDS.iter().filter(move |c| c.scope == scope && !c.usage.is_empty()).map(|c| c.usage)
}

/// `pk;help <topic>`: a topic's heading and its commands, `None` for an unknown topic.
pub fn topic(word: &str) -> Option<(&'static str, Vec<(&'static str, &'static str)>)> {
    let verbs = |pick: &dyn Fn(&Spec) -> bool| -> Vec<(&'static str, &'static str)> {
        COMMANDS.iter().filter(|c| !c.usage.is_empty() && pick(c)).map(|c| (c.usage, c.help)).collect()
    };
    Some(match word {
        "system" | "systems" | "s" => ("System", verbs(&|c| c.scope == S)),
        "member" | "members" | "m" => ("Members", verbs(&|c| c.scope == Ms || c.scope == M)),
        "group" | "groups" | "g" => ("Groups", verbs(&|c| c.scope == Gs || c.scope == G)),
        "switch" | "switches" | "switching" | "sw" | "front" | "fronting" => (
            "Switches and fronting",
            verbs(&|c| {
                c.scope == Sw
                    || matches!(c.verb, Verb::Switch | Verb::Front | Verb::FrontHistory | Verb::FrontPercent)
                    || c.verb == Verb::GroupFrontPercent
            }),
        ),
        "autoproxy" | "ap" | "auto" => {
            ("Autoproxy", verbs(&|c| matches!(c.verb, Verb::Autoproxy | Verb::MemberAutoproxy | Verb::Config)))
        }
        "config" | "cfg" | "settings" => ("Settings", verbs(&|c| c.verb == Verb::Config)),
        "message" | "messages" | "proxy" | "proxying" | "edit" | "reproxy" => (
            "Proxied messages",
            verbs(&|c| {
                matches!(c.verb, Verb::Edit | Verb::Reproxy | Verb::Message | Verb::MemberProxy | Verb::MemberKeepProxy)
            }),
        ),
        "import" | "export" => ("Import and export", verbs(&|c| matches!(c.verb, Verb::Import | Verb::Export))),
        _ => return None,
    })
}

/// The topics `pk;help <topic>` knows.
pub const TOPICS: &str = "`system`, `member`, `group`, `switch`, `autoproxy`, `config`, `messages`, `import`";

/// The commands for `pk;help`, by section: `(heading, [(usage, help line)])`.
pub fn sections() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let lines = |scopes: &[Scope]| -> Vec<(&'static str, &'static str)> {
        COMMANDS
            .iter()
            .filter(|c| scopes.contains(&c.scope) && !c.usage.is_empty())
            .map(|c| (c.usage, c.help))
            .collect()
    };
    vec![
        ("System", lines(&[S])),
        ("Members", lines(&[Ms, M])),
        ("Groups", lines(&[Gs, G])),
        ("Switches", lines(&[Sw])),
        ("Other", lines(&[R])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_means_one_thing_in_its_scope() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                if a.scope == b.scope {
                    let shared: Vec<_> = a.words.iter().filter(|w| b.words.contains(w)).collect();
                    assert!(shared.is_empty(), "{shared:?} is both {:?} and {:?}", a.verb, b.verb);
                }
            }
            assert!(a.words.iter().all(|w| *w == w.to_lowercase()), "{:?}", a.words);
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(find(Scope::Root, "SYSTEM"), Some(Verb::System));
        assert_eq!(find(Scope::Member, "bday"), Some(Verb::MemberField(MemberField::Birthday)));
        assert_eq!(find(Scope::System, "bday"), None);
        assert_eq!(find(Scope::System, "colour"), Some(Verb::SystemField(SystemField::Color)));
    }
}
