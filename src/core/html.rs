//! Removing a proxy tag from an HTML `formatted_body` while keeping the markup around it.
//!
//! The tag is matched against the *text* of the HTML (markup skipped, entities decoded), so
//! `<p>a: <b>hi</b></p>` loses its `a:` and keeps `<p><b>hi</b></p>`.

/// One decoded text character and the byte range it occupies in the raw HTML.
struct TextChar {
    ch: char,
    start: usize,
    end: usize,
}

fn decode_entity(entity: &str) -> Option<char> {
    match entity {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let num = entity.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// The text characters of `html`, outside tags and comments, with entities decoded.
fn text_chars(html: &str) -> Vec<TextChar> {
    let mut out = Vec::new();
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < html.len() {
        if html[i..].starts_with("<!--") {
            i = html[i..].find("-->").map_or(html.len(), |e| i + e + 3);
            continue;
        }
        if bytes[i] == b'<' {
            // A tag runs to the next '>' (attribute values in formatted bodies are quoted
            // and may not contain a raw '>', per the HTML the spec allows).
            i = html[i..].find('>').map_or(html.len(), |e| i + e + 1);
            continue;
        }
        let Some(ch) = html[i..].chars().next() else {
            break;
        };
        if ch == '&' {
            if let Some(semi) = html[i + 1..].find(';').filter(|&s| s <= 10) {
                if let Some(decoded) = decode_entity(&html[i + 1..i + 1 + semi]) {
                    let end = i + semi + 2;
                    out.push(TextChar { ch: decoded, start: i, end });
                    i = end;
                    continue;
                }
            }
        }
        out.push(TextChar { ch, start: i, end: i + ch.len_utf8() });
        i += ch.len_utf8();
    }
    out
}

/// Removes `prefix` from the start and `suffix` from the end of the HTML's text, plus the
/// whitespace between them and the message. `None` if the text does not carry the tag (the
/// caller then drops the formatted body rather than show the tag).
pub fn strip_tag(html: &str, prefix: &str, suffix: &str) -> Option<String> {
    let chars = text_chars(html);
    let is_space = |c: &TextChar| c.ch.is_whitespace();
    let prefix: Vec<char> = prefix.chars().collect();
    let suffix: Vec<char> = suffix.chars().collect();
    let mut remove = vec![false; chars.len()];

    // Prefix: from the first non-space text character (or the very start if the tag itself
    // begins with whitespace).
    let first = if prefix.first().is_some_and(|c| c.is_whitespace()) {
        0
    } else {
        chars.iter().position(|c| !is_space(c)).unwrap_or(chars.len())
    };
    let prefix_end = first + prefix.len();
    let mut lo = first;
    if !prefix.is_empty() {
        let end = first + prefix.len();
        if end > chars.len() || !chars[first..end].iter().map(|c| c.ch).eq(prefix.iter().copied()) {
            return None;
        }
        lo = end;
    }
    while lo < chars.len() && is_space(&chars[lo]) {
        lo += 1;
    }

    // Suffix: up to the last non-space text character.
    let last = if suffix.last().is_some_and(|c| c.is_whitespace()) {
        chars.len()
    } else {
        chars.iter().rposition(|c| !is_space(c)).map_or(0, |p| p + 1)
    };
    let mut hi = last;
    if !suffix.is_empty() {
        if last < suffix.len() || last - suffix.len() < prefix_end.min(chars.len()) {
            return None;
        }
        let start = last - suffix.len();
        if !chars[start..last].iter().map(|c| c.ch).eq(suffix.iter().copied()) {
            return None;
        }
        hi = start;
    }
    let hi_trimmed = {
        let mut h = hi;
        while h > lo && is_space(&chars[h - 1]) {
            h -= 1;
        }
        h
    };
    // The tag goes, and so does the whitespace around the message (as in the plain body,
    // which is trimmed): text characters before `lo` and from `hi_trimmed` on.
    for (i, flag) in remove.iter_mut().enumerate() {
        *flag = i < lo || i >= hi_trimmed;
    }
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    for (c, gone) in chars.iter().zip(&remove) {
        if *gone {
            out.push_str(&html[pos..c.start]);
            pos = c.end;
        }
    }
    out.push_str(&html[pos..]);
    Some(out)
}

/// Escapes text for inclusion in HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_prefix() {
        assert_eq!(strip_tag("a: <b>hi</b>", "a:", "").as_deref(), Some("<b>hi</b>"));
        assert_eq!(strip_tag("a:hi", "a:", "").as_deref(), Some("hi"));
    }

    #[test]
    fn prefix_inside_paragraph() {
        assert_eq!(strip_tag("<p>a: hello <em>you</em></p>", "a:", "").as_deref(), Some("<p>hello <em>you</em></p>"));
    }

    #[test]
    fn prefix_split_by_markup() {
        assert_eq!(strip_tag("<b>a</b>: hi", "a:", "").as_deref(), Some("<b></b>hi"));
    }

    #[test]
    fn suffix_and_brackets() {
        assert_eq!(strip_tag("[<i>hi</i>]", "[", "]").as_deref(), Some("<i>hi</i>"));
        assert_eq!(strip_tag("<p>hi -a</p>", "", " -a").as_deref(), Some("<p>hi</p>"));
    }

    #[test]
    fn entities_are_decoded_for_matching() {
        assert_eq!(strip_tag("&lt;3 love", "<3", "").as_deref(), Some("love"));
        assert_eq!(strip_tag("&#60;3 love", "<3", "").as_deref(), Some("love"));
        assert_eq!(strip_tag("a&amp;b: x &amp; y", "a&b:", "").as_deref(), Some("x &amp; y"));
    }

    #[test]
    fn missing_tag_is_none() {
        assert_eq!(strip_tag("<p>hello</p>", "a:", ""), None);
        assert_eq!(strip_tag("<p>[hello</p>", "[", "]"), None);
        assert_eq!(strip_tag("[]", "[]", "]"), None);
    }

    #[test]
    fn markup_with_gt_inside_attributes_is_skipped() {
        assert_eq!(
            strip_tag("<a href=\"https://x/?a:b\">a: link</a>", "a:", "").as_deref(),
            Some("<a href=\"https://x/?a:b\">link</a>")
        );
    }

    #[test]
    fn escape_works() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    proptest! {
        #[test]
        fn stripping_escaped_text_matches_plain(prefix in "[a-z:<&]{1,3}", body in "[a-z <>&]{0,20}", suffix in "[\\]>]{0,2}") {
            let plain = format!("{prefix}{body}{suffix}");
            let html = format!("<p>{}</p>", escape(&plain));
            if let Some(stripped) = strip_tag(&html, &prefix, &suffix) {
                let inner = stripped.strip_prefix("<p>").and_then(|s| s.strip_suffix("</p>")).unwrap();
                prop_assert_eq!(inner, escape(body.trim()));
            } else {
                prop_assert!(false, "tag not found in {}", html);
            }
        }

        #[test]
        fn never_panics(html in "\\PC{0,40}", prefix in "\\PC{0,3}", suffix in "\\PC{0,3}") {
            let _ = strip_tag(&html, &prefix, &suffix);
        }
    }
}
