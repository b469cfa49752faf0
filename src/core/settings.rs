//! A system's settings (`pk;config`, PluralKit's system config): what each one is, its
//! default, how its value reads and shows. Pure; the database stores them as columns.

use super::time::{format_duration, parse_duration, parse_zone};

/// What proxying does to the switch log (PluralKit's `proxy switch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxySwitch {
    #[default]
    Off,
    /// A message proxied as a member who is not fronting registers a switch to that member.
    New,
    /// … adds that member to the current fronters.
    Add,
}

impl ProxySwitch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::New => "new",
            Self::Add => "add",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_lowercase().as_str() {
            "off" | "no" | "false" | "disable" | "disabled" => Some(Self::Off),
            "new" | "n" | "on" | "yes" | "true" | "enable" | "enabled" => Some(Self::New),
            "add" | "a" => Some(Self::Add),
            _ => None,
        }
    }
}

/// One setting, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Timezone,
    LatchTimeout,
    Ping,
    ProxyCase,
    ProxySwitch,
    MemberPrivate,
    GroupPrivate,
    ShowPrivate,
    NameFormat,
}

/// Every setting in the order `pk;config` lists them, with its name and what it does.
pub const KEYS: &[(Key, &str, &str)] = &[
    (Key::Timezone, "timezone", "the time zone for switch times and front history"),
    (Key::LatchTimeout, "autoproxy timeout", "how long latch autoproxy holds without a proxied message"),
    (Key::Ping, "ping", "whether others can ping your account by reacting 🔔 to a proxied message"),
    (Key::ProxyCase, "proxy case", "whether proxy tags match letter case exactly"),
    (Key::ProxySwitch, "proxy switch", "whether proxying as a non-fronting member logs a switch (`new`, `add`)"),
    (Key::MemberPrivate, "private member", "whether new members start private"),
    (Key::GroupPrivate, "private group", "whether new groups start private"),
    (Key::ShowPrivate, "show private", "whether your cards show private information to you by default"),
    (Key::NameFormat, "name format", "how member accounts are named: `{name}` and `{tag}`"),
];

/// A new value for a setting (`None`: back to the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// A canonical IANA zone name.
    Timezone(Option<String>),
    /// Milliseconds; `Some(0)`: the latch never expires.
    LatchTimeout(Option<i64>),
    Ping(bool),
    /// `true`: tags match case exactly (the default).
    ProxyCase(bool),
    ProxySwitch(ProxySwitch),
    MemberPrivate(bool),
    GroupPrivate(bool),
    ShowPrivate(bool),
    NameFormat(Option<String>),
}

impl Setting {
    pub fn key(&self) -> Key {
        match self {
            Self::Timezone(_) => Key::Timezone,
            Self::LatchTimeout(_) => Key::LatchTimeout,
            Self::Ping(_) => Key::Ping,
            Self::ProxyCase(_) => Key::ProxyCase,
            Self::ProxySwitch(_) => Key::ProxySwitch,
            Self::MemberPrivate(_) => Key::MemberPrivate,
            Self::GroupPrivate(_) => Key::GroupPrivate,
            Self::ShowPrivate(_) => Key::ShowPrivate,
            Self::NameFormat(_) => Key::NameFormat,
        }
    }
}

fn toggle(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "on" | "yes" | "true" | "enable" | "enabled" | "1" => Some(true),
        "off" | "no" | "false" | "disable" | "disabled" | "0" => Some(false),
        _ => None,
    }
}

/// Reads `value` for `key`; `clear` puts the default back. Errors are user-facing Markdown.
pub fn parse_value(key: Key, value: &str, clear: bool) -> Result<Setting, String> {
    let bad = |what: &str| format!("{what} Send `pk;config` to see every setting.");
    let on_off = |v: &str| toggle(v).ok_or_else(|| bad("Say `on` or `off`."));
    Ok(match key {
        Key::Timezone if clear => Setting::Timezone(None),
        Key::Timezone => Setting::Timezone(Some(parse_zone(value)?.name().to_owned())),
        Key::LatchTimeout if clear => Setting::LatchTimeout(None),
        Key::LatchTimeout => match value.to_lowercase().as_str() {
            "off" | "never" | "disable" | "none" | "0" => Setting::LatchTimeout(Some(0)),
            v => match parse_duration(v) {
                Some(ms) if ms > 0 => Setting::LatchTimeout(Some(ms)),
                _ => return Err(bad("Give a duration like `6h`, `30m` or `1d`, or `off` for no timeout.")),
            },
        },
        Key::Ping => Setting::Ping(clear || on_off(value)?),
        Key::ProxyCase => Setting::ProxyCase(clear || on_off(value)?),
        Key::ProxySwitch if clear => Setting::ProxySwitch(ProxySwitch::Off),
        Key::ProxySwitch => {
            Setting::ProxySwitch(ProxySwitch::parse(value).ok_or_else(|| bad("Say `new`, `add` or `off`."))?)
        }
        Key::MemberPrivate => Setting::MemberPrivate(!clear && on_off(value)?),
        Key::GroupPrivate => Setting::GroupPrivate(!clear && on_off(value)?),
        Key::ShowPrivate => Setting::ShowPrivate(clear || on_off(value)?),
        Key::NameFormat if clear => Setting::NameFormat(None),
        Key::NameFormat => {
            let v = super::profile::check(super::profile::Kind::Line(100), "name format", value)?;
            if !v.contains("{name}") {
                return Err("A name format needs `{name}` somewhere, like `{name} {tag}`.".to_owned());
            }
            Setting::NameFormat(Some(v))
        }
    })
}

/// The settings a PluralKit export's `config` block carries (unknown or invalid values are
/// left out: the setting keeps its value).
pub fn from_pluralkit(config: &serde_json::Map<String, serde_json::Value>) -> Vec<Setting> {
    let flag = |key: &str| config.get(key).and_then(serde_json::Value::as_bool);
    let mut out = Vec::new();
    if let Some(zone) = config.get("timezone").and_then(|v| v.as_str()).and_then(|z| parse_zone(z).ok()) {
        out.push(Setting::Timezone((zone != chrono_tz::Tz::UTC).then(|| zone.name().to_owned())));
    }
    match config.get("latch_timeout") {
        // PluralKit counts seconds; 0 is "never".
        Some(serde_json::Value::Number(n)) => {
            if let Some(secs) = n.as_i64().filter(|s| (0..=100 * 365 * 86_400).contains(s)) {
                out.push(Setting::LatchTimeout(Some(secs * 1000)));
            }
        }
        Some(serde_json::Value::Null) => out.push(Setting::LatchTimeout(None)),
        _ => {}
    }
    type Flag = (&'static str, fn(bool) -> Setting);
    let pairs: [Flag; 5] = [
        ("pings_enabled", Setting::Ping),
        ("case_sensitive_proxy_tags", Setting::ProxyCase),
        ("member_default_private", Setting::MemberPrivate),
        ("group_default_private", Setting::GroupPrivate),
        ("show_private_info", Setting::ShowPrivate),
    ];
    out.extend(pairs.iter().filter_map(|(key, make)| flag(key).map(make)));
    if let Some(ps) = config.get("proxy_switch").and_then(|v| v.as_str()).and_then(ProxySwitch::parse) {
        out.push(Setting::ProxySwitch(ps));
    }
    out
}

/// How a latch timeout reads: `6h 0m`, or `never`.
pub fn timeout_text(ms: i64) -> String {
    if ms <= 0 { "never (no timeout)".to_owned() } else { format_duration(ms) }
}

pub fn on_off(v: bool) -> &'static str {
    if v { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pluralkit_config_block() {
        let config = serde_json::json!({
            "timezone": "Europe/Berlin", "pings_enabled": false, "latch_timeout": 3600,
            "case_sensitive_proxy_tags": false, "proxy_switch": "add", "show_private_info": true,
            "member_default_private": "yes", "group_default_private": true,
        });
        let got = from_pluralkit(config.as_object().unwrap());
        assert!(got.contains(&Setting::Timezone(Some("Europe/Berlin".into()))));
        assert!(got.contains(&Setting::Ping(false)));
        assert!(got.contains(&Setting::LatchTimeout(Some(3_600_000))));
        assert!(got.contains(&Setting::ProxyCase(false)));
        assert!(got.contains(&Setting::ProxySwitch(ProxySwitch::Add)));
        assert!(got.contains(&Setting::GroupPrivate(true)));
        assert!(!got.iter().any(|s| s.key() == Key::MemberPrivate), "a string is not a flag");
        let utc = from_pluralkit(serde_json::json!({"timezone": "UTC", "latch_timeout": null}).as_object().unwrap());
        assert_eq!(utc, vec![Setting::Timezone(None), Setting::LatchTimeout(None)]);
    }

    #[test]
    fn values() {
        assert_eq!(parse_value(Key::Ping, "off", false), Ok(Setting::Ping(false)));
        assert_eq!(parse_value(Key::Ping, "", true), Ok(Setting::Ping(true)), "the default is on");
        assert_eq!(parse_value(Key::MemberPrivate, "", true), Ok(Setting::MemberPrivate(false)));
        assert_eq!(parse_value(Key::LatchTimeout, "2h", false), Ok(Setting::LatchTimeout(Some(7_200_000))));
        assert_eq!(parse_value(Key::LatchTimeout, "off", false), Ok(Setting::LatchTimeout(Some(0))));
        assert_eq!(parse_value(Key::LatchTimeout, "x", true), Ok(Setting::LatchTimeout(None)));
        assert!(parse_value(Key::LatchTimeout, "soon", false).is_err());
        assert_eq!(parse_value(Key::ProxySwitch, "add", false), Ok(Setting::ProxySwitch(ProxySwitch::Add)));
        assert!(parse_value(Key::ProxySwitch, "maybe", false).is_err());
        assert_eq!(
            parse_value(Key::Timezone, "europe/berlin", false),
            Ok(Setting::Timezone(Some("Europe/Berlin".to_owned())))
        );
        assert!(parse_value(Key::Timezone, "Mars/Olympus", false).is_err());
        assert!(parse_value(Key::NameFormat, "{tag}", false).is_err());
    }
}
