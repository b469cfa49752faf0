//! The bot's words: help text, system and member cards, lists. Markdown in, so the edge can
//! send a plain body and HTML from one source. Every user-supplied string is escaped.

use super::tags::ProxyTag;

/// Escapes Markdown's special characters in user-supplied text.
pub fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '<' | '>' | '|' | '~' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An inline code span that survives backticks inside.
pub fn code(text: &str) -> String {
    if text.contains('`') { format!("`` {text} ``") } else { format!("`{text}`") }
}

pub fn help(prefix: &str) -> String {
    let p = prefix;
    format!(
        "**pluralmatrix** proxies your system's members: a message matching a member's proxy tag is \
re-sent by that member's own Matrix account, and yours is removed.\n\n\
**Getting started**\n\
- {a} — create your system\n\
- {b} — add a member\n\
- {c} — set the proxy tag (`text` marks where the message goes; several tags may be given)\n\
- then write `a: hello` and Alice says `hello`. Start a message with `\\` to send it as yourself.\n\n\
**System**\n\
- {d} — your system card · {e} — list members\n\
- {f} — rename · {g} — tag shown after member names\n\n\
**Members** (a member is its name, slug, or five-letter ID)\n\
- {h} — member card\n\
- {i} · {j} · {k}\n\
- {l} · {m} · {n}\n\n\
**Autoproxy**\n\
- {o} — untagged messages go out as the member of your last tagged message\n\
- {q} — always proxy as one member · {r} — follow the current fronter · {s}\n",
        a = code(&format!("{p}system new [name]")),
        b = code(&format!("{p}member new Alice")),
        c = code(&format!("{p}member Alice proxy a:text")),
        d = code(&format!("{p}system")),
        e = code(&format!("{p}system list")),
        f = code(&format!("{p}system rename <name>")),
        g = code(&format!("{p}system tag <tag>")),
        h = code(&format!("{p}member <member>")),
        i = code(&format!("{p}member <member> rename <name>")),
        j = code(&format!("{p}member <member> displayname <name>")),
        k = code(&format!("{p}member <member> avatar <mxc://…>")),
        l = code(&format!("{p}member <member> proxy add|remove <tag>")),
        m = code(&format!("{p}member <member> proxy -clear")),
        n = code(&format!("{p}member <member> delete")),
        o = code(&format!("{p}autoproxy latch")),
        q = code(&format!("{p}autoproxy <member>")),
        r = code(&format!("{p}autoproxy front")),
        s = code(&format!("{p}autoproxy off")),
    )
}

fn tag_list(tags: &[ProxyTag]) -> String {
    if tags.is_empty() {
        "none".to_owned()
    } else {
        tags.iter().map(|t| code(&t.to_string())).collect::<Vec<_>>().join(", ")
    }
}

/// What a system card shows.
pub struct SystemCard<'a> {
    pub name: Option<&'a str>,
    pub short_id: &'a str,
    pub slug: &'a str,
    pub tag: Option<&'a str>,
    pub member_count: usize,
    pub autoproxy: &'a str,
    pub accounts: &'a [String],
}

pub fn system_card(c: &SystemCard<'_>) -> String {
    let mut out = format!("### {}\n", md(c.name.unwrap_or("Unnamed system")));
    out.push_str(&format!("- **ID:** {} · **slug:** {}\n", code(c.short_id), code(c.slug)));
    if let Some(tag) = c.tag {
        out.push_str(&format!("- **Tag:** {}\n", md(tag)));
    }
    out.push_str(&format!("- **Members:** {}\n", c.member_count));
    out.push_str(&format!("- **Autoproxy:** {}\n", c.autoproxy));
    if !c.accounts.is_empty() {
        let accounts: Vec<String> = c.accounts.iter().map(|a| code(a)).collect();
        out.push_str(&format!("- **Accounts:** {}\n", accounts.join(", ")));
    }
    out
}

/// What a member card shows.
pub struct MemberCard<'a> {
    pub name: &'a str,
    pub display_name: Option<&'a str>,
    pub short_id: &'a str,
    pub slug: &'a str,
    pub ghost: &'a str,
    pub tags: &'a [ProxyTag],
    pub avatar: Option<&'a str>,
    pub system_name: Option<&'a str>,
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
    out.push_str(&format!("- **Proxy tags:** {}\n", tag_list(c.tags)));
    out.push_str(&format!("- **Matrix account:** {}\n", code(c.ghost)));
    if let Some(avatar) = c.avatar {
        out.push_str(&format!("- **Avatar:** {}\n", code(avatar)));
    }
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
    fn escaping() {
        assert_eq!(md("*bold* [x](y)"), "\\*bold\\* \\[x\\]\\(y\\)");
        assert_eq!(code("a:text"), "`a:text`");
        assert_eq!(code("`text`"), "`` `text` ``");
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
            tags: &tags,
            avatar: None,
            system_name: Some("Us"),
        });
        assert!(card.contains("Alice \\*Bee\\*"), "{card}");
        assert!(card.contains("`a:text`, `[text]`"), "{card}");
        assert!(card.contains("`abcde`"));
        assert!(help("pk;").contains("`pk;member new Alice`"));
        assert!(help("!").contains("`!member new Alice`"));
    }
}
