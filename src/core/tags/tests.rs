//! Tag parsing and matching: unit tests and property tests (case folding, variation selectors,
//! longest first, never a panic).
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

const INSENSITIVE: Matching = Matching { case_insensitive: true };

fn ci<'t>(text: &str, tags: &'t [(u32, ProxyTag)]) -> Option<TagMatch<'t, u32>> {
    match_tags_with(text, tags, INSENSITIVE)
}

#[test]
fn default_matching_is_case_sensitive() {
    assert_eq!(Matching::default(), Matching { case_insensitive: false });
    let tags = vec![(1, t("a:text"))];
    assert_eq!(match_tags("A: hi", &tags), match_tags_with("A: hi", &tags, Matching::default()));
    assert!(match_tags_with("A: hi", &tags, Matching::default()).is_none());
}

#[test]
fn case_insensitive_letters_fold() {
    let tags = vec![(1, t("A:text")), (2, t("[Ä]text")), (3, t("text -ǅ")), (4, t("Σx:text"))];
    let m = ci("a: Hello THERE", &tags).unwrap();
    assert_eq!((m.member, m.inner.as_str(), m.matched_prefix.as_str()), (1, "Hello THERE", "a:"));
    assert_eq!(ci("A:x", &tags).unwrap().member, 1);
    let m = ci("[ä] Grüße", &tags).unwrap();
    assert_eq!((m.member, m.inner.as_str()), (2, "Grüße"));
    // Titlecase `ǅ`, uppercase `Ǆ` and lowercase `ǆ` are one letter.
    for msg in ["bye -ǅ", "bye -Ǆ", "bye -ǆ"] {
        let m = ci(msg, &tags).unwrap();
        assert_eq!((m.member, m.inner.as_str(), m.matched_suffix.as_str()), (3, "bye", &msg[3..]));
    }
    assert_eq!(ci("σX: y", &tags).unwrap().inner, "y");
    // Case-sensitively none of these match.
    for msg in ["a: Hello", "[ä] x", "bye -Ǆ", "σX: y"] {
        assert!(match_tags(msg, &tags).is_none(), "{msg}");
    }
}

#[test]
fn inner_comes_from_the_original_text() {
    let tags = vec![(1, t("HEY:text:HEY"))];
    let m = ci("hey: MiXeD İstanbul ß :Hey", &tags).unwrap();
    assert_eq!(m.inner, "MiXeD İstanbul ß");
    assert_eq!((m.matched_prefix.as_str(), m.matched_suffix.as_str()), ("hey:", ":Hey"));
    let tags = vec![(1, t("x:text"))];
    assert_eq!(ci("X: ÀÉÎ", &tags).unwrap().inner, "ÀÉÎ");
}

#[test]
fn dotted_capital_i_changes_length_when_lowercased() {
    // `İ` (2 bytes) lowercases to `i̇` (`i` + U+0307, 3 bytes).
    let tags = vec![(1, t("İ:text"))];
    for msg in ["İ: hi", "i\u{307}: hi"] {
        let m = ci(msg, &tags).unwrap();
        assert_eq!(m.inner, "hi");
        assert_eq!(m.matched_prefix, &msg[..msg.len() - 3]);
    }
    assert!(ci("i: hi", &tags).is_none());
    assert!(ci("I: hi", &tags).is_none());
    // `i` never matches half of `İ`.
    let tags = vec![(1, t("itext")), (2, t("text:i"))];
    assert!(ci("İx", &tags).is_none());
    assert!(ci("x:İ", &tags).is_none());
    assert_eq!(ci("Ix", &tags).unwrap().inner, "x");
    // İ in the suffix, with text around it that is longer when lowercased.
    let tags = vec![(1, t("İİtextİ"))];
    let m = ci("i\u{307}İ İİİ i\u{307}", &tags).unwrap();
    assert_eq!(m.inner, "İİİ");
    // A message shorter than the lowercased tag.
    assert!(ci("İ", &tags).is_none());
    assert!(ci("", &tags).is_none());
}

#[test]
fn sharp_s_lowercases_but_does_not_case_fold() {
    let tags = vec![(1, t("ß:text"))];
    assert_eq!(ci("ẞ: x", &tags).unwrap().inner, "x");
    assert_eq!(ci("ß: x", &tags).unwrap().inner, "x");
    assert!(ci("SS: x", &tags).is_none());
    assert!(ci("ss: x", &tags).is_none());
    let tags = vec![(1, t("ẞ:text"))];
    assert_eq!(ci("ß: x", &tags).unwrap().inner, "x");
    assert!(match_tags("ß: x", &tags).is_none());
}

#[test]
fn symbols_and_emoji_never_fold() {
    let tags = vec![(1, t("🅰️:text")), (2, t("Ⓜtext")), (3, t("ⓑ:text")), (4, t("Ⅻ:text"))];
    assert_eq!(ci("🅰️: x", &tags).unwrap().member, 1);
    assert_eq!(ci("🅰: x", &tags).unwrap().member, 1);
    for msg in ["a: x", "A: x", "🄰: x", "🅐: x", "Ⓐ: x", "ⓐ: x", "ⓜ x", "m x", "M x", "Ⓑ: x", "b: x", "B: x"]
    {
        assert!(ci(msg, &tags).is_none(), "{msg}");
    }
    assert_eq!(ci("Ⓜ️ x", &tags).unwrap().member, 2);
    // Roman numerals are letter numbers: they fold.
    assert_eq!(ci("ⅻ: x", &tags).unwrap().member, 4);
    // Punctuation and digits are themselves in any mode.
    let tags = vec![(1, t("1{text}"))];
    assert!(ci("1[x]", &tags).is_none());
    assert!(ci("¹{x}", &tags).is_none());
}

#[test]
fn only_letters_have_lowercase_forms() {
    // `folds_case` is a real restriction only for the circled letters: every other
    // character that lowercases to something else is alphabetic.
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        let lower: String = c.to_lowercase().collect();
        if lower != c.to_string() && !('\u{24B6}'..='\u{24E9}').contains(&c) {
            assert!(folds_case(c), "{c:?} has a lowercase form but does not fold");
        }
        if is_variation_selector(c) {
            assert!(!folds_case(c));
        }
    }
}

#[test]
fn variation_selectors_are_ignored() {
    let with = vec![(1, t("❤️:text"))];
    let without = vec![(1, t("❤:text"))];
    for how in [Matching::default(), INSENSITIVE] {
        for tags in [&with, &without] {
            for msg in ["❤:hi", "❤️:hi", "❤\u{FE0E}:hi", "❤️\u{FE0F}:hi", "\u{FE0F}❤:\u{FE0F}hi"] {
                let m = match_tags_with(msg, tags, how).unwrap();
                assert_eq!(m.inner, "hi", "{msg:?} {how:?}");
                assert_eq!(format!("{}{}", m.matched_prefix, m.inner), msg);
            }
            assert!(match_tags_with("💙:hi", tags, how).is_none());
        }
    }
    // The variation selector after a prefix is the prefix's, not the message's.
    let tags = vec![(1, t("❤text")), (2, t("text✨"))];
    let m = match_tags("❤️hi", &tags).unwrap();
    assert_eq!((m.member, m.inner.as_str(), m.matched_prefix.as_str()), (1, "hi", "❤️"));
    let m = match_tags("hi✨️", &tags).unwrap();
    assert_eq!((m.member, m.inner.as_str(), m.matched_suffix.as_str()), (2, "hi", "✨️"));
    // Before a suffix it belongs to the inner text's last character.
    let tags = vec![(1, t("[text]"))];
    let m = match_tags("[hi ☺️]", &tags).unwrap();
    assert_eq!(m.inner, "hi ☺️");
    // `strip` agrees.
    assert_eq!(t("❤️:text").strip("❤:hi"), Some("hi"));
    assert_eq!(t("❤:text").strip("❤️:hi"), Some("hi"));
    assert_eq!(t("❤:text").strip("❤️"), None);
}

#[test]
fn keycap_and_zwj_sequences() {
    let tags = vec![(1, t("1️⃣text")), (2, t("🏳️‍🌈:text"))];
    assert_eq!(match_tags("1⃣ x", &tags).unwrap().member, 1);
    assert_eq!(match_tags("1️⃣ x", &tags).unwrap().member, 1);
    assert!(match_tags("1 x", &tags).is_none());
    assert_eq!(match_tags("🏳‍🌈: x", &tags).unwrap().inner, "x");
    assert!(match_tags("🏳: x", &tags).is_none());
}

#[test]
fn specificity_ignores_variation_selectors() {
    assert_eq!(t("❤️:text").specificity(), 2);
    assert_eq!(t("❤:text").specificity(), 2);
    assert_eq!(ProxyTag::new("\u{FE0F}", "\u{FE0E}").specificity(), 0);
    // Equally specific: the caller's order decides, whatever the selectors.
    for msg in ["❤️:hi", "❤:hi"] {
        let tags = vec![(1, t("❤:text")), (2, t("❤️:text"))];
        assert_eq!(match_tags(msg, &tags).unwrap().member, 1);
        let tags = vec![(2, t("❤️:text")), (1, t("❤:text"))];
        assert_eq!(match_tags(msg, &tags).unwrap().member, 2);
    }
    // A longer real tag wins over one that only looks longer in bytes or chars.
    let tags = vec![(1, t("❤️\u{FE0F}\u{FE0F}:text")), (2, t("❤:text:")), (3, t("❤️❤:text"))];
    assert_eq!(match_tags("❤: hi :", &tags).unwrap().member, 2);
    assert_eq!(match_tags("❤️: hi :", &tags).unwrap().member, 2);
    assert_eq!(match_tags("❤️: hi", &tags).unwrap().member, 1);
    assert_eq!(match_tags("❤❤️: hi :", &tags).unwrap().member, 3);
}

#[test]
fn tags_of_nothing_never_match() {
    assert_eq!(ProxyTag::parse("\u{FE0F}text"), Err(TagError::Empty));
    assert_eq!(ProxyTag::parse(" \u{FE0E}text\u{FE0F} "), Err(TagError::Empty));
    assert_eq!(ProxyTag::parse("\u{FE0F}text]"), Ok(ProxyTag::new("\u{FE0F}", "]")));
    let tags = vec![(1, ProxyTag::new("", "")), (2, ProxyTag::new("\u{FE0F}", "")), (3, ProxyTag::new("", "\u{FE0E}"))];
    for msg in ["", "hi", "\u{FE0F}", "\u{FE0F}hi\u{FE0E}"] {
        assert!(match_tags(msg, &tags).is_none());
        assert!(ci(msg, &tags).is_none());
        assert!(tags.iter().all(|(_, tag)| tag.strip(msg).is_none()));
    }
    // A selector-only prefix next to a real suffix: the suffix alone decides.
    let tags = vec![(1, t("\u{FE0F}text]"))];
    assert_eq!(match_tags("hi]", &tags).unwrap().inner, "hi");
}

#[test]
fn prefix_and_suffix_do_not_overlap_when_folded() {
    let tags = vec![(1, t("Aa:text:aA"))];
    assert!(ci("aa:aa", &tags).is_none());
    assert_eq!(ci("aa::aa", &tags).unwrap().inner, "");
    let tags = vec![(1, t("❤️text❤️"))];
    assert!(match_tags("❤️", &tags).is_none());
    assert!(match_tags("❤\u{FE0F}\u{FE0F}", &tags).is_none());
    assert_eq!(match_tags("❤❤", &tags).unwrap().inner, "");
    assert_eq!(match_tags("❤️❤️", &tags).unwrap().inner, "");
}

/// Emoji and symbols, circled and squared letters included: none of them fold.
const SYMBOLS: &[&str] = &[
    "❤", "☺", "✨", "⭐", "🌸", "🅰", "🄰", "🅐", "🇦", "Ⓜ", "ⓜ", "Ⓐ", "ⓐ", "ℹ", "™", "№", "℃", "©", "®", "½", "¹", "→",
    "♀", "⚧", "!", "[", "]", ":", "~", "1", "⃣", "\u{200d}",
];
/// Letters and marks a symbol could be mistaken for.
const OTHERS: &[&str] = &["a", "A", "m", "M", "i", "İ", "ß", "\u{307}", " ", "ⅰ", "Ⅰ"];

/// Reference for case-sensitive matching: drop the variation selectors everywhere, then
/// compare bytes.
fn reference_strip(tag: &ProxyTag, msg: &str) -> bool {
    let plain = |s: &str| s.chars().filter(|&c| !is_variation_selector(c)).collect::<String>();
    let (p, s, m) = (plain(&tag.prefix), plain(&tag.suffix), plain(msg));
    !(p.is_empty() && s.is_empty()) && m.len() >= p.len() + s.len() && m.starts_with(&p) && m.ends_with(&s)
}

/// A random case for each character of `s` that lowercases the same as the original.
fn recase(s: &str, picks: &[u8]) -> String {
    let lower = |s: &str| s.chars().flat_map(|c| fold(c, INSENSITIVE)).collect::<String>();
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            let pick = picks.get(i % picks.len().max(1)).unwrap_or(&0);
            let options = [c.to_string(), c.to_lowercase().collect(), c.to_uppercase().collect()];
            let same: Vec<&String> = options.iter().filter(|o| lower(o) == lower(&c.to_string())).collect();
            same[usize::from(*pick) % same.len()].clone()
        })
        .collect()
}

/// `s` with a variation selector after the characters `mask` picks.
fn sprinkle(s: &str, mask: &[u8]) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        out.push(c);
        match mask.get(i % mask.len().max(1)).unwrap_or(&0) % 4 {
            1 => out.push('\u{FE0F}'),
            2 => out.push('\u{FE0E}'),
            _ => {}
        }
    }
    out
}

fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just("\u{FE0F}"),
                Just("\u{FE0E}"),
                Just("İ"),
                Just("i"),
                Just("I"),
                Just("\u{307}"),
                Just("ß"),
                Just("ẞ"),
                Just("❤"),
                Just("Ⓜ"),
                Just("ⓜ"),
                Just("ǅ"),
                Just("Σ"),
                Just("ς"),
                Just("ﬃ"),
                Just(":"),
                Just(" "),
                Just("a"),
                Just("A"),
            ],
            0..8
        )
        .prop_map(|v| v.concat()),
        "\\PC{0,6}",
    ]
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
    #[test]
    fn case_insensitive_matches_any_case(
        prefix in "[a-zA-Z:!\\[àÄéÉøØßẞİıσΣςЖжǄǅǆ]{1,4}",
        inner in "[a-zA-Z0-9 ]{0,20}",
        suffix in "[a-zA-Z\\]!éÉİßǅЖ]{0,3}",
        picks in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let tags = vec![(0u32, ProxyTag::new(prefix.clone(), suffix.clone()))];
        let (p, s) = (recase(&prefix, &picks), recase(&suffix, &picks[1..]));
        let msg = format!("{p}{inner}{s}");
        let m = ci(&msg, &tags).unwrap();
        prop_assert_eq!(m.inner, inner.trim());
        prop_assert_eq!(m.matched_prefix, p);
        prop_assert_eq!(m.matched_suffix, s);
    }

    #[test]
    fn symbols_only_match_exactly(
        symbols in proptest::collection::vec(0usize..SYMBOLS.len(), 1..4),
        changed in any::<prop::sample::Index>(),
        replacement in 0usize..SYMBOLS.len() + OTHERS.len(),
        inner in "[a-z ]{0,10}",
        as_suffix in any::<bool>(),
        case_insensitive in any::<bool>(),
    ) {
        let how = Matching { case_insensitive };
        let tag: String = symbols.iter().map(|&i| SYMBOLS[i]).collect();
        let tags = vec![(0u32, if as_suffix { ProxyTag::new("", tag.clone()) } else { ProxyTag::new(tag.clone(), "") })];
        let wrap = |t: &str| if as_suffix { format!("{inner}{t}") } else { format!("{t}{inner}") };
        prop_assert!(match_tags_with(&wrap(&tag), &tags, how).is_some());
        // Change one symbol to any other character: no match.
        let at = changed.index(symbols.len());
        let new = SYMBOLS.iter().chain(OTHERS).nth(replacement).copied().unwrap_or("?");
        prop_assume!(new != SYMBOLS[symbols[at]]);
        let other: String = symbols.iter().enumerate().map(|(i, &s)| if i == at { new } else { SYMBOLS[s] }).collect();
        prop_assert!(match_tags_with(&wrap(&other), &tags, how).is_none(), "{:?} matched {:?}", other, tag);
    }

    #[test]
    fn variation_selectors_never_matter(
        tags in proptest::collection::vec(("[❤☺✨:ab]{0,3}", "[❤☺✨:b]{0,2}", any::<Vec<u8>>()), 1..6),
        pick in any::<prop::sample::Index>(),
        inner in "[a-z ]{0,8}",
        mask in proptest::collection::vec(any::<u8>(), 1..10),
        case_insensitive in any::<bool>(),
    ) {
        let how = Matching { case_insensitive };
        let plain: Vec<(String, String)> =
            tags.iter().filter(|(p, s, _)| !(p.is_empty() && s.is_empty())).map(|(p, s, _)| (p.clone(), s.clone())).collect();
        prop_assume!(!plain.is_empty());
        // The stored tags carry selectors anywhere (a leading one included).
        let tags: Vec<(usize, ProxyTag)> = tags.iter()
            .filter(|(p, s, _)| !(p.is_empty() && s.is_empty()))
            .enumerate()
            .map(|(i, (p, s, m))| {
                let lead = if m.first().is_some_and(|b| b % 3 == 0) { "\u{FE0F}" } else { "" };
                (i, ProxyTag::new(format!("{lead}{}", sprinkle(p, m)), sprinkle(s, &m.iter().rev().copied().collect::<Vec<_>>())))
            })
            .collect();
        // The message is written with one of them, selectors elsewhere.
        let (p, s) = &plain[pick.index(plain.len())];
        let msg = format!("{}{inner}{}", sprinkle(p, &mask), sprinkle(s, &mask[1..]));
        let best = tags.iter().filter(|(_, tag)| reference_strip(tag, &msg)).map(|(_, tag)| tag.specificity()).max();
        prop_assert!(best.is_some());
        let m = match_tags_with(&msg, &tags, how).unwrap();
        prop_assert_eq!(Some(m.tag.specificity()), best);
        let unselected = |s: &str| s.replace(['\u{FE0E}', '\u{FE0F}'], "");
        if (unselected(&m.tag.prefix), unselected(&m.tag.suffix)) == (p.clone(), s.clone()) {
            prop_assert_eq!(m.inner, inner.trim());
        }
        for (_, tag) in &tags {
            prop_assert_eq!(tag.strip(&msg).is_some(), reference_strip(tag, &msg));
            prop_assert_eq!(tag.specificity(), unselected(&tag.prefix).chars().count() + unselected(&tag.suffix).chars().count());
        }
    }

    #[test]
    fn never_panics(
        tags in proptest::collection::vec((tricky(), tricky()), 0..5),
        msg in tricky(),
    ) {
        let tags: Vec<(usize, ProxyTag)> = tags.into_iter().enumerate().map(|(i, (p, s))| (i, ProxyTag::new(p, s))).collect();
        let exact = match_tags(&msg, &tags);
        let folded = match_tags_with(&msg, &tags, INSENSITIVE);
        for (found, how) in [(&exact, Matching::default()), (&folded, INSENSITIVE)] {
            let Some(m) = found else {
                prop_assert!(tags.iter().all(|(_, tag)| tag.strip_with(&msg, how).is_none()));
                continue;
            };
            prop_assert!(msg.starts_with(&m.matched_prefix) && msg.ends_with(&m.matched_suffix));
            let (start, end) = (m.matched_prefix.len(), msg.len() - m.matched_suffix.len());
            prop_assert!(start <= end);
            prop_assert_eq!(m.inner.as_str(), msg[start..end].trim());
            prop_assert!(m.tag.specificity() > 0);
            prop_assert!(!tags.iter().any(|(_, tag)| tag.specificity() > m.tag.specificity() && tag.strip_with(&msg, how).is_some()));
        }
        // Exact matching agrees with the reference; whatever matches exactly also
        // matches case-insensitively.
        for (_, tag) in &tags {
            prop_assert_eq!(tag.strip(&msg).is_some(), reference_strip(tag, &msg));
            if tag.strip(&msg).is_some() {
                prop_assert_eq!(tag.strip_with(&msg, INSENSITIVE), tag.strip(&msg));
            }
        }
        if let Some(m) = exact {
            prop_assert!(folded.is_some_and(|f| f.tag.specificity() >= m.tag.specificity()));
        }
        let _ = ProxyTag::parse(&msg);
    }
}
