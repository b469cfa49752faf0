//! What `pk;edit` makes of the old text: replaced, appended to, prepended to, or changed by
//! a substitution (`-regex s|find|replace|flags`, PluralKit's form).

/// Limits for a user's pattern: the `regex` crate runs in linear time; these bound its size.
const MAX_PATTERN_BYTES: usize = 1_000;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const FORMAT: &str = "A substitution reads `s|find|replace|flags`: `|` is any character, `find` a regular \
                      expression, `replace` the new text (`$1` for a group), flags any of `g` (all matches), `i`, \
                      `m`, `s`, `x`.";

/// Applies `s|find|replace|flags` to `original`. Errors are user-facing Markdown.
pub fn substitute(original: &str, spec: &str) -> Result<String, String> {
    let mut chars = spec.chars();
    let (Some('s'), Some(sep)) = (chars.next(), chars.next()) else { return Err(FORMAT.to_owned()) };
    let parts: Vec<&str> = chars.as_str().split(sep).collect();
    let (find, replace, flags) = match parts.as_slice() {
        [find, replace] => (*find, *replace, ""),
        [find, replace, flags] => (*find, *replace, *flags),
        _ => return Err(FORMAT.to_owned()),
    };
    if find.len() > MAX_PATTERN_BYTES {
        return Err("That expression is too long.".to_owned());
    }
    let mut builder = regex::RegexBuilder::new(find);
    builder.size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(REGEX_SIZE_LIMIT);
    let mut all = false;
    for flag in flags.chars() {
        match flag {
            'g' => all = true,
            'i' => _ = builder.case_insensitive(true),
            'm' => _ = builder.multi_line(true),
            's' => _ = builder.dot_matches_new_line(true),
            'x' => _ = builder.ignore_whitespace(true),
            'n' => {}
            other => return Err(format!("Unknown flag `{other}`. {FORMAT}")),
        }
    }
    let re = builder.build().map_err(|_| format!("That is not a regular expression I can use. {FORMAT}"))?;
    Ok(if all { re.replace_all(original, replace) } else { re.replace(original, replace) }.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn substitutions() {
        assert_eq!(substitute("helo helo", "s/helo/hello/").unwrap(), "hello helo");
        assert_eq!(substitute("helo helo", "s/helo/hello/g").unwrap(), "hello hello");
        assert_eq!(substitute("Cat cat", "s|cat|dog|gi").unwrap(), "dog dog");
        assert_eq!(substitute("a1 b2", r"s/(\w)(\d)/$2$1/g").unwrap(), "1a 2b");
        assert!(substitute("x", "s/(/y/").is_err(), "a bad pattern is an error, not a panic");
        assert!(substitute("x", "s/x/y/q").unwrap_err().contains("`q`"));
        assert!(substitute("x", "x/y/z").is_err() && substitute("x", "s").is_err() && substitute("x", "s/a").is_err());
        assert!(substitute("x", "s/a/b/c/d").is_err());
        assert!(substitute("x", &format!("s/{}/y/", "a".repeat(2_000))).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(original in any::<String>(), spec in any::<String>()) {
            let _ = substitute(&original, &spec);
            let _ = substitute(&original, &format!("s/{spec}/x/g"));
        }

        #[test]
        fn a_literal_word_is_replaced(before in "[a-z ]{0,20}", word in "[a-z]{1,8}", after in "[a-z ]{0,20}") {
            let text = format!("{before}<{word}>{after}");
            let changed = substitute(&text, &format!("s/<{word}>/[x]/")).unwrap();
            prop_assert_eq!(changed, format!("{before}[x]{after}"));
        }
    }
}
