//! The command parser against PluralKit's forms.

use super::*;
use crate::core::{
    profile::{MemberField, SystemField},
    tags::ProxyTag,
};
use proptest::prelude::*;

fn p(text: &str) -> Result<Command, ParseError> {
    parse(text, "pk;").expect("is a command")
}

fn ok(text: &str) -> Command {
    p(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn sys(field: SystemField, value: FieldArg) -> Command {
    Command::System(SystemCommand::Field { field, value })
}

fn mem(member: &str, field: MemberField, value: FieldArg) -> Command {
    Command::Member(MemberCommand::Field { member: member.into(), field, value })
}

#[test]
fn prefix_detection() {
    assert!(parse("hello", "pk;").is_none());
    assert!(parse("pk", "pk;").is_none());
    assert!(parse("a pk;help", "pk;").is_none());
    assert_eq!(ok("pk;help"), Command::Help);
    assert_eq!(ok("PK;HELP"), Command::Help);
    assert_eq!(ok("Pk; help"), Command::Help);
    assert_eq!(ok("  pk;   help  "), Command::Help);
    assert_eq!(ok("pk;"), Command::Help);
    assert_eq!(parse("PLURAL!help", "plural!").unwrap().unwrap(), Command::Help);
    assert_eq!(parse("ÄB help", "äb").unwrap().unwrap(), Command::Help);
}

#[test]
fn system_commands() {
    assert_eq!(ok("pk;system"), Command::System(SystemCommand::Show));
    assert_eq!(ok("pk;s"), Command::System(SystemCommand::Show));
    assert_eq!(ok("pk;system new"), Command::System(SystemCommand::New { name: None }));
    assert_eq!(
        ok("pk;system new The Collective"),
        Command::System(SystemCommand::New { name: Some("The Collective".into()) })
    );
    assert_eq!(
        ok("pk;system new \"Quoted Name\""),
        Command::System(SystemCommand::New { name: Some("Quoted Name".into()) })
    );
    assert_eq!(ok("pk;system tag | ABC"), sys(SystemField::Tag, FieldArg::Set("| ABC".into())));
    assert_eq!(ok("pk;system tag -clear"), sys(SystemField::Tag, FieldArg::Clear));
    assert_eq!(ok("pk;system tag"), sys(SystemField::Tag, FieldArg::Show));
    assert_eq!(ok("pk;system rename Us"), sys(SystemField::Name, FieldArg::Set("Us".into())));
    assert_eq!(ok("pk;system rename"), sys(SystemField::Name, FieldArg::Show));
    assert_eq!(ok("pk;list"), Command::System(SystemCommand::List));
    assert_eq!(ok("pk;system @bob:x"), Command::System(SystemCommand::ShowOther("@bob:x".into())));
}

#[test]
fn member_commands() {
    assert_eq!(ok("pk;member new Alice"), Command::Member(MemberCommand::New { name: "Alice".into() }));
    assert_eq!(ok("pk;member new Alice Bee"), Command::Member(MemberCommand::New { name: "Alice Bee".into() }));
    assert_eq!(ok("pk;m new \"Alice Bee\""), Command::Member(MemberCommand::New { name: "Alice Bee".into() }));
    assert_eq!(ok("pk;m new “Alice Bee”"), Command::Member(MemberCommand::New { name: "Alice Bee".into() }));
    assert!(p("pk;member new").is_err());
    assert!(p("pk;member new ''").is_ok(), "single quotes are ordinary characters");
    assert!(p(&format!("pk;member new {}", "x".repeat(101))).is_err());
    assert_eq!(ok("pk;member alice"), Command::Member(MemberCommand::Show { member: "alice".into() }));
    assert_eq!(
        ok("pk;member \"Alice Bee\" rename Alicia B"),
        mem("Alice Bee", MemberField::Name, FieldArg::Set("Alicia B".into()))
    );
    assert_eq!(
        ok("pk;member alice delete"),
        Command::Member(MemberCommand::Delete { member: "alice".into(), confirmed: false })
    );
    assert_eq!(
        ok("pk;member alice delete -y"),
        Command::Member(MemberCommand::Delete { member: "alice".into(), confirmed: true })
    );
    assert_eq!(
        ok("pk;member alice avatar mxc://x/y"),
        mem("alice", MemberField::Avatar, FieldArg::Set("mxc://x/y".into()))
    );
    assert!(p("pk;member alice avatar http://x/y.png").is_err());
    assert_eq!(ok("pk;m alice dn -clear"), mem("alice", MemberField::DisplayName, FieldArg::Clear));
    assert!(p("pk;member").is_err());
    assert!(p("pk;member alice frobnicate").is_err());
}

fn proxy(text: &str) -> ProxyAction {
    match ok(text) {
        Command::Member(MemberCommand::Proxy { action, .. }) => action,
        other => panic!("{other:?}"),
    }
}

#[test]
fn proxy_arguments() {
    assert_eq!(proxy("pk;member a proxy a:text"), ProxyAction::Set(vec![ProxyTag::new("a:", "")]));
    assert_eq!(proxy("pk;member a proxy text -a"), ProxyAction::Set(vec![ProxyTag::new("", " -a")]));
    assert_eq!(proxy("pk;member a proxy [text]"), ProxyAction::Set(vec![ProxyTag::new("[", "]")]));
    assert_eq!(
        proxy("pk;member a proxy a:text [text]"),
        ProxyAction::Set(vec![ProxyTag::new("a:", ""), ProxyTag::new("[", "]")])
    );
    assert_eq!(
        proxy("pk;member a proxy \"a: text\" b:text"),
        ProxyAction::Set(vec![ProxyTag::new("a: ", ""), ProxyTag::new("b:", "")])
    );
    assert_eq!(proxy("pk;member a proxy \"a: text\""), ProxyAction::Set(vec![ProxyTag::new("a: ", "")]));
    assert_eq!(proxy("pk;member a proxy"), ProxyAction::Show);
    assert_eq!(proxy("pk;member a proxy -clear"), ProxyAction::Clear);
    assert_eq!(proxy("pk;member a proxy add {text}"), ProxyAction::Add(ProxyTag::new("{", "}")));
    assert_eq!(proxy("pk;member a proxy remove {text}"), ProxyAction::Remove(ProxyTag::new("{", "}")));
    assert_eq!(proxy("pk;member a proxy add {text} -keep"), ProxyAction::AddKept(ProxyTag::new("{", "}")));
    assert_eq!(proxy("pk;member a proxy add text -a -keep"), ProxyAction::AddKept(ProxyTag::new("", " -a")));
    assert_eq!(proxy("pk;member a proxy add \"text -k\""), ProxyAction::Add(ProxyTag::new("", " -k")));
    let keep = |on| ProxyAction::Keep { tag: ProxyTag::new("{", "}"), on };
    assert_eq!(proxy("pk;member a proxy keep {text}"), keep(true));
    assert_eq!(proxy("pk;member a proxy keep {text} off"), keep(false));
    assert!(p("pk;member a proxy nothing").is_err());
    assert!(p("pk;member a proxy text").is_err());
}

#[test]
fn autoproxy_arguments() {
    let ap = |arg: Option<AutoproxyArg>, global: bool| Command::Autoproxy { arg, global };
    assert_eq!(ok("pk;autoproxy"), ap(None, false));
    assert_eq!(ok("pk;ap off"), ap(Some(AutoproxyArg::Off), false));
    assert_eq!(ok("pk;autoproxy LATCH"), ap(Some(AutoproxyArg::Latch), false));
    assert_eq!(ok("pk;autoproxy front -global"), ap(Some(AutoproxyArg::Front), true));
    assert_eq!(ok("pk;autoproxy -g Alice"), ap(Some(AutoproxyArg::Member("Alice".into())), true));
    assert_eq!(ok("pk;autoproxy \"Alice Bee\""), ap(Some(AutoproxyArg::Member("Alice Bee".into())), false));
    assert_eq!(ok("pk;ap default"), ap(Some(AutoproxyArg::Default), false));
}

#[test]
fn switch_commands() {
    let sw = |c: SwitchCommand| Command::Switch(c);
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        ok("pk;switch Bea \"Alice Bee\""),
        sw(SwitchCommand::Register { members: names(&["Bea", "Alice Bee"]) })
    );
    assert_eq!(ok("pk;sw out"), sw(SwitchCommand::Register { members: vec![] }));
    assert_eq!(ok("pk;switch move 2h 30m"), sw(SwitchCommand::Move { time: "2h 30m".into(), confirmed: false }));
    assert_eq!(ok("pk;sw m -y 14:30"), sw(SwitchCommand::Move { time: "14:30".into(), confirmed: true }));
    assert_eq!(
        ok("pk;switch edit out"),
        sw(SwitchCommand::Edit { members: vec![], how: SwitchEditHow::Replace, confirmed: false })
    );
    assert_eq!(
        ok("pk;switch edit -first Bea"),
        sw(SwitchCommand::Edit { members: names(&["Bea"]), how: SwitchEditHow::First, confirmed: false })
    );
    assert!(p("pk;switch edit -first a b").is_err(), "-first takes one member");
    assert_eq!(
        ok("pk;switch copy Cee"),
        sw(SwitchCommand::Copy { members: names(&["Cee"]), how: SwitchEditHow::Append })
    );
    assert_eq!(
        ok("pk;switch add -r Cee"),
        sw(SwitchCommand::Copy { members: names(&["Cee"]), how: SwitchEditHow::Remove })
    );
    assert_eq!(ok("pk;switch delete all -y"), sw(SwitchCommand::Delete { all: true, confirmed: true }));
    assert_eq!(ok("pk;switch delete"), sw(SwitchCommand::Delete { all: false, confirmed: false }));
    assert!(p("pk;switch").is_err());
    assert!(p("pk;switch move").is_err());
}

#[test]
fn front_views() {
    let front =
        |system: Option<&str>, view: FrontView| Command::Front(FrontCommand { system: system.map(Into::into), view });
    assert_eq!(ok("pk;front"), front(None, FrontView::Fronter));
    assert_eq!(ok("pk;system fronter"), front(None, FrontView::Fronter));
    assert_eq!(ok("pk;s abcde f"), front(Some("abcde"), FrontView::Fronter));
    assert_eq!(ok("pk;fh 3"), front(None, FrontView::History { page: 3 }));
    assert_eq!(ok("pk;fh @a:x"), front(Some("@a:x"), FrontView::History { page: 1 }));
    assert_eq!(
        ok("pk;fp 2w -flat -fronters-only"),
        front(None, FrontView::Percent { since: Some("2w".into()), flat: true, fronters_only: true, group: None })
    );
    assert_eq!(
        ok("pk;group Singers fp"),
        front(
            None,
            FrontView::Percent { since: None, flat: false, fronters_only: false, group: Some("Singers".into()) }
        )
    );
    // A system subcommand is never read as a system's name.
    assert!(matches!(ok("pk;system privacy fronthistory private"), Command::System(SystemCommand::Privacy(Some(_)))));
    // The list alias `pk;f` stays the member list, as in PluralKit.
    assert_eq!(ok("pk;f"), Command::System(SystemCommand::List));
}

#[test]
fn message_commands() {
    assert_eq!(ok("pk;edit hello -a world"), Command::Edit { text: "hello -a world".into(), how: EditHow::Replace });
    assert_eq!(
        ok("pk;e -append \"quoted\" too"),
        Command::Edit { text: "\"quoted\" too".into(), how: EditHow::Append }
    );
    assert_eq!(ok("pk;edit more -p"), Command::Edit { text: "more".into(), how: EditHow::Prepend });
    assert_eq!(ok("pk;edit -regex s/a b/c/g"), Command::Edit { text: "s/a b/c/g".into(), how: EditHow::Regex });
    assert!(p("pk;edit").is_err() && p("pk;edit -a").is_err());
    assert_eq!(ok("pk;rp Bea"), Command::Reproxy { member: "Bea".into() });
    assert_eq!(ok("pk;msg -delete"), Command::Message { target: None, delete: true });
    assert_eq!(ok("pk;message $e:x"), Command::Message { target: Some("$e:x".into()), delete: false });
}

#[test]
fn unknown_commands_are_errors() {
    let err = p("pk;frobnicate now").unwrap_err();
    assert!(err.0.contains("frobnicate"), "{err}");
}

proptest! {
    #[test]
    fn parser_never_panics(s in "\\PC{0,60}") {
        let _ = parse(&s, "pk;");
        let _ = parse(&format!("pk;{s}"), "pk;");
        let _ = parse(&format!("pk;member {s}"), "pk;");
        let _ = parse(&format!("pk;m x proxy {s}"), "pk;");
    }

    #[test]
    fn new_member_name_roundtrips(name in "[A-Za-z][A-Za-z0-9 ]{0,30}[A-Za-z0-9]") {
        let got = parse(&format!("pk;member new {name}"), "pk;").unwrap().unwrap();
        prop_assert_eq!(got, Command::Member(MemberCommand::New { name: name.clone() }));
        let quoted = parse(&format!("pk;member new \"{name}\""), "pk;").unwrap().unwrap();
        prop_assert_eq!(quoted, Command::Member(MemberCommand::New { name }));
    }
}

#[test]
fn profile_fields() {
    assert_eq!(
        ok("pk;member alice bday May 27"),
        mem("alice", MemberField::Birthday, FieldArg::Set("0004-05-27".into()))
    );
    assert_eq!(ok("pk;m alice colour #FF8800"), mem("alice", MemberField::Color, FieldArg::Set("ff8800".into())));
    assert_eq!(ok("pk;m alice pronouns"), mem("alice", MemberField::Pronouns, FieldArg::Show));
    assert_eq!(ok("pk;m alice desc -clear"), mem("alice", MemberField::Description, FieldArg::Clear));
    assert_eq!(
        ok("pk;m alice desc line one\nline two"),
        mem("alice", MemberField::Description, FieldArg::Set("line one\nline two".into()))
    );
    assert_eq!(ok("pk;system desc About us"), sys(SystemField::Description, FieldArg::Set("About us".into())));
    assert_eq!(ok("pk;s banner mxc://x/y"), sys(SystemField::Banner, FieldArg::Set("mxc://x/y".into())));
    assert_eq!(
        ok("pk;member alice keepproxy on"),
        Command::Member(MemberCommand::KeepProxy { member: "alice".into(), on: Some(true) })
    );
    assert_eq!(
        ok("pk;member alice ap off"),
        Command::Member(MemberCommand::Autoproxy { member: "alice".into(), on: Some(false) })
    );
    assert_eq!(ok("pk;member list"), Command::System(SystemCommand::List));
    // Errors name the field and the limit.
    let err = p("pk;member alice birthday someday").unwrap_err();
    assert!(err.0.contains("birthday"), "{err}");
    let err = p(&format!("pk;system description {}", "x".repeat(1001))).unwrap_err();
    assert!(err.0.contains("1000"), "{err}");
    assert!(p("pk;member alice color red").is_err());
    assert!(p("pk;member alice keepproxy maybe").is_err());
}

/// Every usage line in the help parses (with sample values in place of the placeholders),
/// so the help cannot name a command the parser does not know.
#[test]
fn every_usage_in_the_table_parses() {
    for spec in table::COMMANDS.iter().filter(|s| !s.usage.is_empty()) {
        let sample = spec
            .usage
            .replace("[off|latch|front|<member>|default] [-global]", "latch -global")
            .replace("[<setting> [<value>|-clear]]", "ping off")
            .replace("<member>… | switch out", "alice")
            .replace("[<system>]", "abcde")
            .replace("[<page>]", "2")
            .replace("[<time>] [-flat] [-fronters-only]", "2w -flat -fronters-only")
            .replace("<text> [-append|-prepend|-regex]", "new words -append")
            .replace("[<event ID or link>] [-delete]", "-delete")
            .replace("<time>", "2h")
            .replace("<member>…|out [-first|-remove|-append|-prepend]", "alice -append")
            .replace("<member>… [-first|-remove|-prepend]", "alice -prepend")
            .replace("[all]", "all")
            .replace("<member>", "alice")
            .replace("[<tag>…|add <tag>|remove <tag>|-clear]", "a:text")
            .replace("[on|off]", "on")
            .replace("[hex|-clear]", "ff8800")
            .replace("[date|-clear]", "May 27")
            .replace("[mxc://…|-clear]", "mxc://x/y")
            .replace("<name>", "Bee")
            .replace("[name|-clear]", "Bee")
            .replace("[name]", "Bee")
            .replace("[text|-clear]", "words")
            .replace("<group>…", "desk")
            .replace("<group>", "desk")
            .replace("<member>…", "alice")
            .replace("[add|remove desk]", "add desk")
            .replace("[<subject>|all public|private]", "all private")
            .replace("[<format>|-clear]", "{tag} {name}")
            .replace("<@user:server>", "@bob:x")
            .replace("[@user:server]", "@bob:x")
            .replace("[tag|-clear]", "|x");
        assert!(!sample.contains(['<', '[']), "no sample for {}", spec.usage);
        let parsed = p(&format!("pk;{sample}"));
        assert!(parsed.is_ok(), "{sample}: {parsed:?}");
    }
}

#[test]
fn group_commands() {
    let g = |t: &str| match ok(t) {
        Command::Group(cmd) => cmd,
        other => panic!("{t}: {other:?}"),
    };
    assert_eq!(g("pk;group new Front Desk"), GroupCommand::New { name: "Front Desk".into() });
    assert_eq!(g("pk;g list"), GroupCommand::List);
    assert_eq!(g("pk;group desk"), GroupCommand::Show { group: "desk".into() });
    assert_eq!(
        g("pk;group desk add alice \"Bea B\""),
        GroupCommand::Add { group: "desk".into(), members: vec!["alice".into(), "Bea B".into()] }
    );
    assert_eq!(
        g("pk;group desk remove alice"),
        GroupCommand::Remove { group: "desk".into(), members: vec!["alice".into()] }
    );
    assert_eq!(g("pk;group desk list"), GroupCommand::Members { group: "desk".into() });
    assert_eq!(g("pk;group desk delete -y"), GroupCommand::Delete { group: "desk".into(), confirmed: true });
    assert_eq!(
        g("pk;group desk colour #00FF00"),
        GroupCommand::Field {
            group: "desk".into(),
            field: crate::core::profile::GroupField::Color,
            value: FieldArg::Set("00ff00".into())
        }
    );
    assert_eq!(g("pk;member alice groups"), GroupCommand::OfMember { member: "alice".into(), change: None });
    assert_eq!(
        g("pk;m alice group add desk other"),
        GroupCommand::OfMember { member: "alice".into(), change: Some((true, vec!["desk".into(), "other".into()])) }
    );
    assert!(p("pk;group desk add").is_err());
    assert!(p("pk;group desk frobnicate").is_err());
    assert!(p("pk;group").is_err());
}

#[test]
fn privacy_commands() {
    use crate::core::privacy::{Level, MemberSubject, SystemSubject, Target};
    assert_eq!(
        ok("pk;system privacy members private"),
        Command::System(SystemCommand::Privacy(Some((Target::One(SystemSubject::MemberList), Level::Private))))
    );
    assert_eq!(ok("pk;s privacy"), Command::System(SystemCommand::Privacy(None)));
    assert_eq!(
        ok("pk;m alice privacy bday hidden"),
        Command::Member(MemberCommand::Privacy {
            member: "alice".into(),
            change: Some((Target::One(MemberSubject::Birthday), Level::Private))
        })
    );
    assert_eq!(
        ok("pk;m alice privacy all public"),
        Command::Member(MemberCommand::Privacy { member: "alice".into(), change: Some((Target::All, Level::Public)) })
    );
    let err = p("pk;m alice privacy shoesize private").unwrap_err();
    assert!(err.0.contains("`birthday`"), "{err}");
    assert!(p("pk;m alice privacy name").is_err());
}

#[test]
fn view_flags() {
    assert_eq!(ok("pk;system -public"), Command::PublicView(Box::new(Command::System(SystemCommand::Show))));
    assert_eq!(
        ok("pk;member -pub alice"),
        Command::PublicView(Box::new(Command::Member(MemberCommand::Show { member: "alice".into() })))
    );
    assert_eq!(ok("pk;system -private"), Command::PrivateView(Box::new(Command::System(SystemCommand::Show))));
    assert_eq!(ok("pk;member new Priv -private"), Command::Member(MemberCommand::New { name: "Priv".into() }));
    assert_eq!(
        ok("pk;group desk -PUBLIC"),
        Command::PublicView(Box::new(Command::Group(GroupCommand::Show { group: "desk".into() })))
    );
    // Only cards take it; inside quotes it is text.
    assert_eq!(ok("pk;member new \"-public\""), Command::Member(MemberCommand::New { name: "-public".into() }));
    assert_eq!(ok("pk;member new Pub -public"), Command::Member(MemberCommand::New { name: "Pub".into() }));
}

#[test]
fn config_commands() {
    use crate::core::settings::{Key, Setting};
    assert_eq!(ok("pk;config"), Command::Config(ConfigCommand::All));
    assert_eq!(ok("pk;config name format"), Command::Config(ConfigCommand::Show(Key::NameFormat)));
    assert_eq!(
        ok("pk;cfg name format {tag} {name}"),
        Command::Config(ConfigCommand::Set(Setting::NameFormat(Some("{tag} {name}".into()))))
    );
    assert_eq!(ok("pk;config nameformat -clear"), Command::Config(ConfigCommand::Set(Setting::NameFormat(None))));
    assert!(p("pk;config name format {tag}").is_err(), "needs {{name}}");
    assert_eq!(
        ok("pk;config tz america/new_york"),
        Command::Config(ConfigCommand::Set(Setting::Timezone(Some("America/New_York".into()))))
    );
    assert!(p("pk;config timezone Nowhere/Land").is_err());
    assert_eq!(
        ok("pk;config ap timeout 2h"),
        Command::Config(ConfigCommand::Set(Setting::LatchTimeout(Some(7_200_000))))
    );
    assert_eq!(ok("pk;config proxy case off"), Command::Config(ConfigCommand::Set(Setting::ProxyCase(false))));
    assert_eq!(ok("pk;config ping"), Command::Config(ConfigCommand::Show(Key::Ping)));
    assert!(p("pk;config colour blue").is_err());
}
