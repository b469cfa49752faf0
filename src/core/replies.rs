//! The bot's words: help text, system and member cards, lists. Markdown in, so the edge can
//! send a plain body and HTML from one source. This is the one place where what users typed
//! meets the bot's markup: every user-supplied string goes through [`md`] (as text) or
//! [`code`] (as a code span), and [`render`] turns the result into HTML that holds no markup
//! of anybody else's: raw HTML in the Markdown comes out as text.

use pulldown_cmark::{Event, Options, Parser, html};

use super::tags::ProxyTag;

/// User-supplied text for a Markdown reply, to show as it is: Markdown's punctuation is
/// escaped, line breaks become spaces (a name is one line), and what would start a list or a
/// heading at the start of a line is defused.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    // A leading `-`, `+`, `=` or `1.` would make a list or heading where the text starts a
    // line of the reply.
    let mut at_start = true;
    while let Some(c) = chars.next() {
        let c = if matches!(c, '\n' | '\r') { ' ' } else { c };
        if at_start && c.is_whitespace() {
            // Indentation would make a code block: a character reference is text, not indent.
            out.push_str(&format!("&#{};", u32::from(c)));
            at_start = false;
            continue;
        }
        let leading = at_start && matches!(c, '-' | '+' | '=');
        let numbered = at_start && c.is_ascii_digit();
        if leading
            || matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '<' | '>' | '|' | '~' | '!' | '&')
        {
            out.push('\\');
        }
        out.push(c);
        if numbered {
            // Digits then `.` or `)` start an ordered list: escape that mark.
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                out.push(d);
            }
            if let Some(mark) = chars.next_if(|m| matches!(m, '.' | ')')) {
                out.push('\\');
                out.push(mark);
            }
        }
        at_start = false;
    }
    out
}

/// User-supplied text that may span lines (a description), each line escaped like [`md`],
/// with its line breaks kept.
pub fn md_lines(text: &str) -> String {
    text.lines().map(md).collect::<Vec<_>>().join("\\\n")
}

/// Longest user text shown in a code span; longer text is cut with `…` (a command's argument
/// may be anything up to the size of a message).
pub const MAX_CODE_CHARS: usize = 256;

/// User-supplied text as an inline code span, whatever backticks it holds: the fence is one
/// backtick longer than the longest run inside, line breaks become spaces, and text over
/// [`MAX_CODE_CHARS`] is cut.
pub fn code(text: &str) -> String {
    let mut shown: String =
        text.chars().take(MAX_CODE_CHARS).map(|c| if matches!(c, '\n' | '\r') { ' ' } else { c }).collect();
    if text.chars().nth(MAX_CODE_CHARS).is_some() {
        shown.push('…');
    }
    let text = shown;
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    if text.trim().is_empty() {
        "` `".to_owned() // an empty span would show its backticks
    } else if longest == 0 {
        format!("{fence}{text}{fence}")
    } else {
        // Spaces keep a backtick at either end from joining the fence (CommonMark strips one).
        format!("{fence} {text} {fence}")
    }
}

/// Renders a reply's Markdown to HTML. Raw HTML (blocks or inline) is not passed through: it
/// comes out as text, escaped.
pub fn render(markdown: &str) -> String {
    let events = Parser::new_ext(markdown, Options::empty()).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut out, events);
    out
}

/// `pk;help`: a short introduction, then every command of the command table by section.
pub fn help(prefix: &str) -> String {
    let mut out = format!(
        "**pluralmatrix** proxies your system's members: a message matching a member's proxy tag is re-sent by \
         that member's own Matrix account, and yours is removed.\n\n\
         **Getting started:** {}, {}, {}; then write `a: hello` and Alice says `hello`. Start a message with `\\` \
         to send it as yourself. A member is its name, slug, or five-letter ID. More on one topic: \
         `pk;help <topic>` (system, member, group, switch, autoproxy, config, messages, import).\n\n",
        code(&format!("{prefix}system new")),
        code(&format!("{prefix}member new Alice")),
        code(&format!("{prefix}member Alice proxy a:text")),
    );
    for (heading, lines) in crate::core::commands::table::sections() {
        out.push_str(&format!("**{heading}**\n"));
        push_usage_lines(&mut out, prefix, &lines);
        out.push('\n');
    }
    out
}

/// `- `usage` — help` lines.
fn push_usage_lines(out: &mut String, prefix: &str, lines: &[(&str, &str)]) {
    for (usage, help) in lines {
        let usage = code(&format!("{prefix}{usage}"));
        if help.is_empty() {
            out.push_str(&format!("- {usage}\n"));
        } else {
            out.push_str(&format!("- {usage} — {help}\n"));
        }
    }
}

/// `pk;help <topic>`: the topic's commands, with a word on how the topic works.
pub fn help_topic(prefix: &str, topic: &str) -> String {
    use crate::core::commands::table;
    let Some((heading, lines)) = table::topic(topic) else {
        return format!("❌ There is no help on {}. Topics: {}.", code(topic), table::TOPICS);
    };
    let mut out = format!("**{heading}**\n");
    push_usage_lines(&mut out, prefix, &lines);
    let extra = match heading {
        "Autoproxy" => {
            "\nA message starting with `\\` is never proxied; `\\\\` also lets go of a latch. A room \
                        without its own mode follows your default (`-global`). Latch holds for `pk;config autoproxy \
                        timeout` (6 hours by default)."
        }
        "Proxied messages" => {
            "\nReact to a proxied message: ❌ deletes it (your own system's), ❓ sends you who \
                               sent it, 🔔 pings the account that sent it."
        }
        "Switches and fronting" => {
            "\nTimes: `2h` or `1d12h` (ago), `14:30`, `2026-05-01 14:30`, in your \
                                    `pk;config timezone`."
        }
        _ => "",
    };
    out.push_str(extra);
    out
}

fn tag_list(tags: &[ProxyTag]) -> String {
    if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.iter().map(|t| code(&t.to_string())).collect::<Vec<_>>().join(", ")
    }
}

/// The profile fields a card shows when they are set (as stored).
#[derive(Debug, Default, Clone, Copy)]
pub struct Profile<'a> {
    pub pronouns: Option<&'a str>,
    pub birthday: Option<&'a str>,
    pub color: Option<&'a str>,
    pub avatar: Option<&'a str>,
    pub banner: Option<&'a str>,
    pub description: Option<&'a str>,
}

fn profile_lines(p: &Profile<'_>) -> String {
    let mut out = String::new();
    if let Some(v) = p.pronouns {
        out.push_str(&format!("- **Pronouns:** {}\n", md(v)));
    }
    if let Some(v) = p.birthday {
        out.push_str(&format!("- **Birthday:** {}\n", md(&super::profile::show_birthday(v))));
    }
    if let Some(v) = p.color {
        out.push_str(&format!("- **Colour:** {}\n", code(&format!("#{v}"))));
    }
    if let Some(v) = p.avatar {
        out.push_str(&format!("- **Avatar:** {}\n", code(v)));
    }
    if let Some(v) = p.banner {
        out.push_str(&format!("- **Banner:** {}\n", code(v)));
    }
    if let Some(v) = p.description {
        out.push_str(&format!("\n{}\n", md_lines(v)));
    }
    out
}

/// What a system card shows.
pub struct SystemCard<'a> {
    pub name: Option<&'a str>,
    pub short_id: &'a str,
    pub slug: &'a str,
    pub tag: Option<&'a str>,
    /// `None` when the member list is private to the viewer.
    pub member_count: Option<usize>,
    /// Shown to the system's own accounts only.
    pub autoproxy: Option<&'a str>,
    pub accounts: &'a [String],
    pub profile: Profile<'a>,
}

pub fn system_card(c: &SystemCard<'_>) -> String {
    let mut out = format!("### {}\n", md(c.name.unwrap_or("Unnamed system")));
    out.push_str(&format!("- **ID:** {} · **slug:** {}\n", code(c.short_id), code(c.slug)));
    if let Some(tag) = c.tag {
        out.push_str(&format!("- **Tag:** {}\n", md(tag)));
    }
    if let Some(count) = c.member_count {
        out.push_str(&format!("- **Members:** {count}\n"));
    }
    if let Some(autoproxy) = c.autoproxy {
        out.push_str(&format!("- **Autoproxy (default for rooms):** {autoproxy}\n"));
    }
    if !c.accounts.is_empty() {
        let accounts: Vec<String> = c.accounts.iter().map(|a| code(a)).collect();
        out.push_str(&format!("- **Accounts:** {}\n", accounts.join(", ")));
    }
    out.push_str(&profile_lines(&c.profile));
    out
}

/// What a member card shows.
pub struct MemberCard<'a> {
    pub name: &'a str,
    pub display_name: Option<&'a str>,
    pub short_id: &'a str,
    pub slug: &'a str,
    pub ghost: &'a str,
    /// `None` when the proxy tags are private to the viewer.
    pub tags: Option<&'a [ProxyTag]>,
    pub system_name: Option<&'a str>,
    pub profile: Profile<'a>,
    /// (created, in ms since the epoch; messages proxied), when the viewer may see them.
    pub metadata: Option<(i64, i64)>,
}

pub fn member_card(c: &MemberCard<'_>) -> String {
    let mut out = format!("### {}", md(c.name));
    if let Some(system) = c.system_name {
        out.push_str(&format!(" ({})", md(system)));
    }
    out.push('\n');
    out.push_str(&format!("- **ID:** {} · **slug:** {}\n", code(c.short_id), code(c.slug)));
    if let Some(dn) = c.display_name {
        out.push_str(&format!("- **Display name:** {}\n", md(dn)));
    }
    if let Some(tags) = c.tags {
        out.push_str(&format!("- **Proxy tags:** {}\n", tag_list(tags)));
    }
    out.push_str(&format!("- **Matrix account:** {}\n", code(c.ghost)));
    if let Some((created, messages)) = c.metadata {
        let created = chrono::DateTime::from_timestamp_millis(created)
            .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string());
        out.push_str(&format!("- **Created:** {created} · **Messages:** {messages}\n"));
    }
    out.push_str(&profile_lines(&c.profile));
    out
}

/// A group's card: name, ID, display name, members (names), profile.
/// `members` is `None` when the member list is private to the viewer.
pub fn group_card(
    name: &str,
    display_name: Option<&str>,
    short_id: &str,
    members: Option<&[&str]>,
    p: &Profile<'_>,
) -> String {
    let mut out = format!("### {}\n- **ID:** {}\n", md(name), code(short_id));
    if let Some(dn) = display_name {
        out.push_str(&format!("- **Display name:** {}\n", md(dn)));
    }
    if let Some(members) = members {
        let names: Vec<String> = members.iter().map(|m| md(m)).collect();
        let list = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
        out.push_str(&format!("- **Members ({}):** {list}\n", members.len()));
    }
    out.push_str(&profile_lines(p));
    out
}

/// One line of a member list.
pub struct MemberLine<'a> {
    pub name: &'a str,
    pub short_id: &'a str,
    pub tags: &'a [ProxyTag],
}

pub fn member_list(system_name: Option<&str>, members: &[MemberLine<'_>]) -> String {
    let mut out = format!("### Members of {}\n", md(system_name.unwrap_or("your system")));
    if members.is_empty() {
        out.push_str("No members yet. Add one with `pk;member new <name>`.\n");
    }
    for m in members {
        out.push_str(&format!("- {} **{}** — {}\n", code(m.short_id), md(m.name), tag_list(m.tags)));
    }
    out
}

pub fn tags_reply(member: &str, tags: &[ProxyTag]) -> String {
    format!("Proxy tags of **{}**: {}", md(member), tag_list(tags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_topics() {
        let switch = help_topic("pk;", "switch");
        assert!(
            switch.contains("pk;switch move") && switch.contains("pk;fp") && switch.contains("time zone"),
            "{switch}"
        );
        assert!(!switch.contains("pk;member new"), "only the topic's commands");
        assert!(help_topic("pk;", "config").contains("pk;config"));
        assert!(help_topic("pk;", "messages").contains("pk;reproxy"));
        assert!(help_topic("pk;", "<b>").starts_with("❌") && !render(&help_topic("pk;", "<b>")).contains("<b>"));
        for topic in crate::core::commands::table::TOPICS.split(", ") {
            let topic = topic.trim_matches('`');
            assert!(crate::core::commands::table::topic(topic).is_some(), "{topic}");
        }
    }

    #[test]
    fn escaping() {
        assert_eq!(md("*bold* [x](y)"), "\\*bold\\* \\[x\\]\\(y\\)");
        assert_eq!(code("a:text"), "`a:text`");
        assert_eq!(code("`text`"), "`` `text` ``");
        // Regression: two backticks in a row ended the span early.
        assert_eq!(code("a``<b>"), "``` a``<b> ```");
        assert_eq!(render(&code("a``<b>")), "<p><code>a``&lt;b&gt;</code></p>\n");
        assert_eq!(md("- one\n# two"), "\\- one \\# two");
        assert_eq!(md("1. first"), "1\\. first");
        assert_eq!(md("x-1.5"), "x-1.5", "only at the start");
        // Regression: a command's argument of any size was echoed whole (a 1 MiB reply).
        let long = "y".repeat(100_000);
        assert_eq!(code(&long), format!("`{}…`", "y".repeat(MAX_CODE_CHARS)));
        assert_eq!(code(&"y".repeat(MAX_CODE_CHARS)), format!("`{}`", "y".repeat(MAX_CODE_CHARS)));
        // Regression (found by the fuzz target): indentation made a code block.
        assert_eq!(render(&md("    x")), "<p>  x</p>\n".replace("  x", "    x"));
    }

    /// Regression: raw HTML in the Markdown went into `formatted_body` as it was.
    #[test]
    fn raw_html_is_text() {
        let html =
            render("hello <img src=x onerror=alert(1)> <a href=\"https://evil\">x</a>\n\n<script>bad()</script>");
        assert!(!html.contains("<img") && !html.contains("<a ") && !html.contains("<script"), "{html}");
        assert!(html.contains("&lt;img src=x"), "{html}");
    }

    /// The tags and attributes in `html`, in order (names only for tags, `name=value` for
    /// attributes), to compare what markup a reply has.
    fn markup(html: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
            out.push(rest[start..end].to_owned());
            rest = &rest[end..];
        }
        out
    }

    fn every_field(u: &str) -> Profile<'_> {
        Profile {
            pronouns: Some(u),
            birthday: Some(u),
            color: Some(u),
            avatar: Some(u),
            banner: Some(u),
            description: Some(u),
        }
    }

    /// Every reply that shows user text, with `u` in every user-supplied place.
    fn replies_with(u: &str) -> Vec<String> {
        let tags = vec![ProxyTag::new(u, ""), ProxyTag::new("[", u)];
        let accounts = vec![u.to_owned()];
        vec![
            system_card(&SystemCard {
                name: Some(u),
                short_id: u,
                slug: u,
                tag: Some(u),
                member_count: Some(3),
                autoproxy: Some(&md(u)),
                accounts: &accounts,
                profile: every_field(u),
            }),
            member_card(&MemberCard {
                name: u,
                display_name: Some(u),
                short_id: u,
                slug: u,
                ghost: u,
                tags: Some(&tags),
                system_name: Some(u),
                profile: every_field(u),
                metadata: Some((0, 1)),
            }),
            member_list(Some(u), &[MemberLine { name: u, short_id: u, tags: &tags }]),
            tags_reply(u, &tags),
            group_card(u, Some(u), u, Some(&[u, u]), &every_field(u)),
            format!("✅ Renamed **{}** to **{}** ({}).", md(u), md(u), code(u)),
            format!("- {}\n- **{}** {}", md(u), md(u), code(u)),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Whatever a user types, the bot's formatted replies hold no tag or attribute that
        /// they do not hold with a harmless word in its place: nothing the bot did not put
        /// there itself. (Less is possible: `**` around an empty name makes no `<strong>`.)
        #[test]
        fn user_text_adds_no_markup(u in "(\\PC|[<>&`*_\\[\\]()#!|~\\\\\"'=:/ \n\r.1-])*") {
            for (ours, theirs) in replies_with("word").iter().zip(replies_with(&u)) {
                let mut allowed = markup(&render(ours));
                // Line breaks the bot keeps in descriptions are its own markup.
                for piece in markup(&render(&theirs)).into_iter().filter(|p| p != "<br /") {
                    let Some(i) = allowed.iter().position(|a| *a == piece) else {
                        return Err(proptest::test_runner::TestCaseError::fail(format!(
                            "{u:?} added {piece:?}: {}", render(&theirs)
                        )));
                    };
                    allowed.remove(i);
                }
            }
        }
    }

    #[test]
    fn cards_contain_their_facts() {
        let tags = vec![ProxyTag::new("a:", ""), ProxyTag::new("[", "]")];
        let card = member_card(&MemberCard {
            name: "Alice *Bee*",
            display_name: None,
            short_id: "abcde",
            slug: "alice-bee",
            ghost: "@_plural_x_alice-bee:localhost",
            tags: Some(&tags),
            system_name: Some("Us"),
            metadata: Some((1_700_000_000_000, 42)),
            profile: Profile {
                pronouns: Some("she/her"),
                birthday: Some("0004-05-27"),
                color: Some("ff8800"),
                description: Some("line one\nline two"),
                ..Profile::default()
            },
        });
        assert!(card.contains("Alice \\*Bee\\*"), "{card}");
        assert!(card.contains("she/her") && card.contains("May 27") && card.contains("`#ff8800`"), "{card}");
        assert!(card.contains("2023-11-14") && card.contains("**Messages:** 42"), "{card}");
        let html = render(&card);
        assert!(html.contains("line one<br />\nline two"), "{html}");
        assert!(card.contains("`a:text`, `[text]`"), "{card}");
        assert!(card.contains("`abcde`"));
        assert!(help("pk;").contains("`pk;member new Alice`"));
        assert!(help("!").contains("`!member new Alice`"));
    }
}
