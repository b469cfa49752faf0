//! Profile fields of systems and members: which there are, PluralKit's limits, and how a
//! value typed in a command is checked and normalised before it is stored (colours, dates,
//! image URIs, lengths). Pure: the edge stores what this returns.

use chrono::{Datelike, NaiveDate};

/// Longest system or member name, display name, and pronouns (PluralKit's limits).
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PRONOUNS_CHARS: usize = 100;
/// Longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Longest system tag.
pub const MAX_SYSTEM_TAG_CHARS: usize = 79;
/// Longest image URI (avatar, banner).
pub const MAX_URI_CHARS: usize = 256;
/// The year PluralKit stores for a birthday given without one (a leap year, so 29 February
/// is a valid year-less birthday).
pub const NO_YEAR: i32 = 4;

/// A text field of a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemField {
    Name,
    Description,
    Pronouns,
    Color,
    Avatar,
    Banner,
    Tag,
}

/// A text field of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberField {
    Name,
    DisplayName,
    Description,
    Pronouns,
    Color,
    Birthday,
    Avatar,
    Banner,
}

/// A text field of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupField {
    Name,
    DisplayName,
    Description,
    Color,
    Icon,
    Banner,
}

impl GroupField {
    pub fn kind(self) -> Kind {
        match self {
            Self::Name | Self::DisplayName => Kind::Line(MAX_NAME_CHARS),
            Self::Description => Kind::Text(MAX_DESCRIPTION_CHARS),
            Self::Color => Kind::Color,
            Self::Icon | Self::Banner => Kind::Image,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DisplayName => "display name",
            Self::Description => "description",
            Self::Color => "colour",
            Self::Icon => "icon",
            Self::Banner => "banner",
        }
    }
}

/// The display-name format when none is set: the name, then the tag.
pub const DEFAULT_NAME_FORMAT: &str = "{name} {tag}";

/// A ghost's display name from `format` (`{name}`, `{tag}`): without a tag, `{tag}` is
/// empty and the spaces it leaves are trimmed (as PluralKit does).
pub fn format_name(format: Option<&str>, name: &str, tag: Option<&str>) -> String {
    let format = format.filter(|f| !f.trim().is_empty()).unwrap_or(DEFAULT_NAME_FORMAT);
    let out = format.replace("{name}", name).replace("{tag}", tag.unwrap_or(""));
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.is_empty() { name.to_owned() } else { out }
}

/// The kind of value a field holds, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One line of text up to this many characters.
    Line(usize),
    /// Text that may span lines, up to this many characters.
    Text(usize),
    Color,
    Date,
    Image,
}

impl SystemField {
    pub fn kind(self) -> Kind {
        match self {
            Self::Name => Kind::Line(MAX_NAME_CHARS),
            Self::Description => Kind::Text(MAX_DESCRIPTION_CHARS),
            Self::Pronouns => Kind::Line(MAX_PRONOUNS_CHARS),
            Self::Color => Kind::Color,
            Self::Avatar | Self::Banner => Kind::Image,
            Self::Tag => Kind::Line(MAX_SYSTEM_TAG_CHARS),
        }
    }

    /// How the field is called in replies.
    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Description => "description",
            Self::Pronouns => "pronouns",
            Self::Color => "colour",
            Self::Avatar => "avatar",
            Self::Banner => "banner",
            Self::Tag => "tag",
        }
    }
}

impl MemberField {
    pub fn kind(self) -> Kind {
        match self {
            Self::Name | Self::DisplayName => Kind::Line(MAX_NAME_CHARS),
            Self::Description => Kind::Text(MAX_DESCRIPTION_CHARS),
            Self::Pronouns => Kind::Line(MAX_PRONOUNS_CHARS),
            Self::Color => Kind::Color,
            Self::Birthday => Kind::Date,
            Self::Avatar | Self::Banner => Kind::Image,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::DisplayName => "display name",
            Self::Description => "description",
            Self::Pronouns => "pronouns",
            Self::Color => "colour",
            Self::Birthday => "birthday",
            Self::Avatar => "avatar",
            Self::Banner => "banner",
        }
    }
}

/// Checks a value typed for a field of this kind; returns what to store, or why not (a
/// sentence for the reply, naming the field).
pub fn check(kind: Kind, label: &str, raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("The {label} can't be empty (use `-clear` to remove it)."));
    }
    match kind {
        Kind::Line(max) => {
            if value.chars().any(char::is_control) {
                return Err(format!("The {label} can't contain line breaks or other control characters."));
            }
            within(value, max, label)
        }
        Kind::Text(max) => {
            if value.chars().any(|c| c.is_control() && c != '\n') {
                return Err(format!("The {label} can't contain control characters."));
            }
            within(value, max, label)
        }
        Kind::Color => color(value).ok_or_else(|| {
            format!("The {label} must be a colour in hex, six digits like `ff8800` (a `#` in front is fine).")
        }),
        Kind::Date => birthday(value).map(format_birthday).ok_or_else(|| {
            format!("The {label} must be a date like `2000-05-27`, `May 27`, `27 May 2000` or `05-27`.")
        }),
        Kind::Image => image(value).ok_or_else(|| {
            format!(
                "The {label} must be an `mxc://` or `https://` address of at most {MAX_URI_CHARS} characters, or an \
                 image you attach or reply to."
            )
        }),
    }
}

fn within(value: &str, max: usize, label: &str) -> Result<String, String> {
    let count = value.chars().count();
    if count > max {
        Err(format!("That {label} is too long ({count} characters; at most {max})."))
    } else {
        Ok(value.to_owned())
    }
}

/// A colour as six lower-case hex digits, from `ff8800`, `#FF8800`.
pub fn color(value: &str) -> Option<String> {
    let hex = value.strip_prefix('#').unwrap_or(value);
    (hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| hex.to_ascii_lowercase())
}

/// An image address: `mxc://server/id`, or an `https://` URL (imports; re-hosted elsewhere).
pub fn image(value: &str) -> Option<String> {
    let ok_chars = !value.chars().any(|c| c.is_whitespace() || c.is_control());
    let mxc = value.strip_prefix("mxc://").is_some_and(|rest| {
        let mut parts = rest.splitn(2, '/');
        matches!((parts.next(), parts.next()), (Some(server), Some(id)) if !server.is_empty() && !id.is_empty())
    });
    let https = value.strip_prefix("https://").is_some_and(|rest| !rest.is_empty());
    (ok_chars && (mxc || https) && value.chars().count() <= MAX_URI_CHARS).then(|| value.to_owned())
}

/// Month names, January first (also read by `core::time`).
pub(crate) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_named(word: &str) -> Option<u32> {
    let word = word.trim_end_matches('.').to_lowercase();
    if word.len() < 3 {
        return None;
    }
    MONTHS.iter().position(|m| m.starts_with(&word)).map(|i| i as u32 + 1)
}

/// A birthday in the forms PluralKit accepts: `2000-05-27` (also with `/` or `.`), `05-27`
/// (also `/`), and with a month's name: `May 27`, `May 27 2000`, `May 27, 2000`, `27 May`,
/// `27 May 2000`. A date without a year gets [`NO_YEAR`].
pub fn birthday(value: &str) -> Option<NaiveDate> {
    let value = value.trim();
    let numeric: Vec<&str> = value.split(['-', '/', '.']).collect();
    let number = |s: &str| s.parse::<u32>().ok().filter(|_| !s.is_empty() && s.len() <= 4);
    match numeric.as_slice() {
        [y, m, d] if y.len() == 4 => return date(number(y)? as i32, number(m)?, number(d)?),
        [m, d] if m.len() <= 2 && d.len() <= 2 => return date(NO_YEAR, number(m)?, number(d)?),
        _ => {}
    }
    let words: Vec<&str> = value.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()).collect();
    let day = |s: &str| {
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic()); // 27th
        number(digits).filter(|d| *d <= 31)
    };
    let year = |s: &str| number(s).filter(|_| s.len() == 4).map(|y| y as i32);
    match words.as_slice() {
        [a, b] => match (month_named(a), month_named(b)) {
            (Some(m), None) => date(NO_YEAR, m, day(b)?),
            (None, Some(m)) => date(NO_YEAR, m, day(a)?),
            _ => None,
        },
        [a, b, c] => match (month_named(a), month_named(b)) {
            (Some(m), None) => date(year(c)?, m, day(b)?),
            (None, Some(m)) => date(year(c)?, m, day(a)?),
            _ => None,
        },
        _ => None,
    }
}

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).filter(|d| (1..=9999).contains(&d.year()))
}

/// How a birthday is stored (and exported, as PluralKit does): `YYYY-MM-DD`, year 0004 when
/// none was given.
pub fn format_birthday(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// How a stored birthday is shown: `May 27, 2000`, or `May 27` without a year.
pub fn show_birthday(stored: &str) -> String {
    match NaiveDate::parse_from_str(stored, "%Y-%m-%d") {
        Ok(d) if d.year() == NO_YEAR => d.format("%B %-d").to_string(),
        Ok(d) => d.format("%B %-d, %Y").to_string(),
        Err(_) => stored.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bday(s: &str) -> Option<String> {
        birthday(s).map(format_birthday)
    }

    #[test]
    fn birthdays_in_pluralkit_forms() {
        assert_eq!(bday("2000-05-27").as_deref(), Some("2000-05-27"));
        assert_eq!(bday("2000/5/27").as_deref(), Some("2000-05-27"));
        assert_eq!(bday("2000.05.27").as_deref(), Some("2000-05-27"));
        assert_eq!(bday("05-27").as_deref(), Some("0004-05-27"));
        assert_eq!(bday("5/27").as_deref(), Some("0004-05-27"));
        assert_eq!(bday("May 27").as_deref(), Some("0004-05-27"));
        assert_eq!(bday("27 May").as_deref(), Some("0004-05-27"));
        assert_eq!(bday("may 27th").as_deref(), Some("0004-05-27"));
        assert_eq!(bday("May 27, 2000").as_deref(), Some("2000-05-27"));
        assert_eq!(bday("27 September 1999").as_deref(), Some("1999-09-27"));
        assert_eq!(bday("Sept. 1 1999").as_deref(), Some("1999-09-01"));
        assert_eq!(bday("Feb 29").as_deref(), Some("0004-02-29"), "a year-less 29 February is fine");
        assert_eq!(bday("2001-02-29"), None, "2001 was no leap year");
        assert_eq!(bday("13-01"), None);
        assert_eq!(bday("May 32"), None);
        assert_eq!(bday("Ma 3"), None, "month names need three letters");
        assert_eq!(bday("yesterday"), None);
        assert_eq!(bday(""), None);
        assert_eq!(show_birthday("0004-05-27"), "May 27");
        assert_eq!(show_birthday("2000-05-27"), "May 27, 2000");
    }

    #[test]
    fn name_formats() {
        assert_eq!(format_name(None, "Alice", Some("| Us")), "Alice | Us");
        assert_eq!(format_name(None, "Alice", None), "Alice");
        assert_eq!(format_name(Some("{tag} {name}"), "Alice", Some("🌸")), "🌸 Alice");
        assert_eq!(format_name(Some("[{tag}] {name}"), "Alice", None), "[] Alice");
        assert_eq!(format_name(Some("{tag}"), "Alice", None), "Alice", "never empty");
        assert_eq!(format_name(Some("   "), "Alice", Some("x")), "Alice x");
    }

    #[test]
    fn colours_and_images() {
        assert_eq!(color("#FF8800").as_deref(), Some("ff8800"));
        assert_eq!(color("ff8800").as_deref(), Some("ff8800"));
        assert_eq!(color("ff880"), None);
        assert_eq!(color("gg8800"), None);
        assert_eq!(color("#ff88000"), None);
        assert!(image("mxc://example.org/abc").is_some());
        assert!(image("https://example.org/a.png").is_some());
        assert!(image("mxc://example.org/").is_none());
        assert!(image("http://example.org/a.png").is_none());
        assert!(image("javascript:alert(1)").is_none());
        assert!(image("mxc://x/a b").is_none());
        assert!(image(&format!("https://x/{}", "a".repeat(MAX_URI_CHARS))).is_none());
    }

    #[test]
    fn checks_name_the_field_and_the_limit() {
        let err = check(Kind::Text(MAX_DESCRIPTION_CHARS), "description", &"x".repeat(1001)).unwrap_err();
        assert!(err.contains("description") && err.contains("1001") && err.contains("1000"), "{err}");
        assert_eq!(check(Kind::Text(10), "description", " two\nlines ").unwrap(), "two\nlines");
        assert!(check(Kind::Line(10), "pronouns", "she\nher").is_err());
        assert!(check(Kind::Line(10), "pronouns", "  ").is_err());
        assert_eq!(check(Kind::Line(MAX_PRONOUNS_CHARS), "pronouns", "they/them").unwrap(), "they/them");
        assert_eq!(check(Kind::Color, "colour", "#ABCDEF").unwrap(), "abcdef");
        assert_eq!(check(Kind::Date, "birthday", "May 27").unwrap(), "0004-05-27");
    }

    proptest! {
        /// Every real date, written in each accepted form, reads back as itself.
        #[test]
        fn every_date_in_every_form(days in 0i64..3_000_000) {
            let d = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assume!(d.year() >= 1000 && d.year() <= 9999);
            for form in ["%Y-%m-%d", "%Y/%-m/%-d", "%B %-d %Y", "%b %-d, %Y", "%-d %B %Y"] {
                let text = d.format(form).to_string();
                prop_assert_eq!(birthday(&text), Some(d), "{}", text);
            }
            let yearless = birthday(&d.format("%B %-d").to_string()).unwrap();
            prop_assert_eq!((yearless.year(), yearless.month(), yearless.day()), (NO_YEAR, d.month(), d.day()));
        }

        #[test]
        fn checking_never_panics(s in "\\PC{0,40}") {
            for kind in [Kind::Line(5), Kind::Text(5), Kind::Color, Kind::Date, Kind::Image] {
                let _ = check(kind, "x", &s);
            }
        }
    }
}
