//! PluralKit's export format (`pk;export`, version 2). Fields the bridge interprets are typed;
//! everything else (UUIDs, webhook fields, config, Discord account IDs…) is kept as it came in
//! `extra`, so a round trip loses nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::core::{
    privacy::{GroupSubject, Level, MemberSubject, Subject, SystemSubject},
    profile::{self, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_PRONOUNS_CHARS, MAX_SYSTEM_TAG_CHARS},
    tags::MAX_TEMPLATE_CHARS,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub pronouns: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub banner: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub privacy: Option<Map<String, Value>>,
    #[serde(default)]
    pub members: Vec<ExportMember>,
    #[serde(default)]
    pub groups: Vec<ExportGroup>,
    #[serde(default)]
    pub switches: Vec<ExportSwitch>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportMember {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub birthday: Option<String>,
    #[serde(default)]
    pub pronouns: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub banner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub keep_proxy: Option<bool>,
    #[serde(default)]
    pub autoproxy_enabled: Option<bool>,
    #[serde(default)]
    pub message_count: Option<i64>,
    #[serde(default)]
    pub proxy_tags: Vec<ExportTag>,
    #[serde(default)]
    pub privacy: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportTag {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub suffix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportGroup {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub icon: Option<String>,
    #[serde(default)]
    pub banner: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    /// Member IDs.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub privacy: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSwitch {
    pub timestamp: String,
    /// Member IDs, first fronter first.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a file can't be imported: a sentence naming the field (and member or group).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImportError(pub String);

/// Reads an export. v1 member keys (`prefix`/`suffix` at the member level, `visibility` etc.
/// at the member level) are moved where v2 has them first.
pub fn parse(json: &[u8]) -> Result<Export, ImportError> {
    let mut value: Value =
        serde_json::from_slice(json).map_err(|e| ImportError(format!("This file is not valid JSON ({e}).")))?;
    let Some(root) = value.as_object_mut() else {
        return Err(ImportError("This file is not a PluralKit export (no system object).".to_owned()));
    };
    if !root.contains_key("members") && !root.contains_key("name") {
        return Err(ImportError("This file is not a PluralKit export (no `members`).".to_owned()));
    }
    if let Some(Value::Array(members)) = root.get_mut("members") {
        for member in members.iter_mut().filter_map(Value::as_object_mut) {
            upgrade_v1_member(member);
        }
    }
    serde_json::from_value(value)
        .map_err(|e| ImportError(format!("This PluralKit export has an unexpected shape: {e}.")))
}

/// v1 exports had one `prefix`/`suffix` per member and privacy keys on the member itself.
fn upgrade_v1_member(member: &mut Map<String, Value>) {
    if !member.contains_key("proxy_tags") && (member.contains_key("prefix") || member.contains_key("suffix")) {
        let prefix = member.remove("prefix").unwrap_or(Value::Null);
        let suffix = member.remove("suffix").unwrap_or(Value::Null);
        member.insert("proxy_tags".to_owned(), serde_json::json!([{"prefix": prefix, "suffix": suffix}]));
    }
    if !member.contains_key("privacy") {
        let mut privacy = Map::new();
        for subject in MemberSubject::ALL {
            if let Some(v) = member.remove(subject.key()) {
                privacy.insert(subject.key().to_owned(), v);
            }
        }
        if !privacy.is_empty() {
            member.insert("privacy".to_owned(), Value::Object(privacy));
        }
    }
}

/// Checks an export against PluralKit's rules before anything is stored; `max_members` and
/// `max_groups` are this bridge's limits.
pub fn validate(export: &Export, max_members: usize, max_groups: usize) -> Result<(), ImportError> {
    let fail = |msg: String| Err(ImportError(msg));
    if export.members.len() > max_members {
        return fail(format!("The file has {} members; this bridge allows {max_members}.", export.members.len()));
    }
    if export.groups.len() > max_groups {
        return fail(format!("The file has {} groups; this bridge allows {max_groups}.", export.groups.len()));
    }
    let system = "the system";
    within(export.name.as_deref(), MAX_NAME_CHARS, "name", system)?;
    within(export.description.as_deref(), MAX_DESCRIPTION_CHARS, "description", system)?;
    within(export.pronouns.as_deref(), MAX_PRONOUNS_CHARS, "pronouns", system)?;
    within(export.tag.as_deref(), MAX_SYSTEM_TAG_CHARS, "tag", system)?;
    color(export.color.as_deref(), system)?;
    privacy::<SystemSubject>(export.privacy.as_ref(), system)?;
    for m in &export.members {
        let who = format!("member **{}**", m.name);
        if m.name.trim().is_empty() {
            return fail("A member has an empty name.".to_owned());
        }
        within(Some(&m.name), MAX_NAME_CHARS, "name", &who)?;
        within(m.display_name.as_deref(), MAX_NAME_CHARS, "display_name", &who)?;
        within(m.description.as_deref(), MAX_DESCRIPTION_CHARS, "description", &who)?;
        within(m.pronouns.as_deref(), MAX_PRONOUNS_CHARS, "pronouns", &who)?;
        color(m.color.as_deref(), &who)?;
        if let Some(b) = m.birthday.as_deref() {
            if chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").is_err() {
                return fail(format!("The `birthday` of {who} is not a date like `2000-05-27`: `{b}`."));
            }
        }
        for tag in &m.proxy_tags {
            let (p, s) = (tag.prefix.as_deref().unwrap_or(""), tag.suffix.as_deref().unwrap_or(""));
            if p.trim().is_empty() && s.trim().is_empty() {
                return fail(format!("A proxy tag of {who} has neither prefix nor suffix."));
            }
            if p.chars().count() + s.chars().count() + 4 > MAX_TEMPLATE_CHARS {
                return fail(format!("A proxy tag of {who} is too long (at most {MAX_TEMPLATE_CHARS} characters)."));
            }
        }
        privacy::<MemberSubject>(m.privacy.as_ref(), &who)?;
    }
    let ids: std::collections::HashSet<&str> = export.members.iter().filter_map(|m| m.id.as_deref()).collect();
    for g in &export.groups {
        let which = format!("group **{}**", g.name);
        within(Some(&g.name), MAX_NAME_CHARS, "name", &which)?;
        within(g.display_name.as_deref(), MAX_NAME_CHARS, "display_name", &which)?;
        within(g.description.as_deref(), MAX_DESCRIPTION_CHARS, "description", &which)?;
        color(g.color.as_deref(), &which)?;
        privacy::<GroupSubject>(g.privacy.as_ref(), &which)?;
        if let Some(unknown) = g.members.iter().find(|id| !ids.contains(id.as_str())) {
            return fail(format!("The {which} lists a member `{unknown}` that is not in the file."));
        }
    }
    for (i, sw) in export.switches.iter().enumerate() {
        if chrono::DateTime::parse_from_rfc3339(&sw.timestamp).is_err() {
            return fail(format!("Switch {} has a timestamp that is not a date and time: `{}`.", i + 1, sw.timestamp));
        }
        if let Some(unknown) = sw.members.iter().find(|id| !ids.contains(id.as_str())) {
            return fail(format!("Switch {} lists a member `{unknown}` that is not in the file.", i + 1));
        }
    }
    Ok(())
}

fn within(value: Option<&str>, max: usize, field: &str, whose: &str) -> Result<(), ImportError> {
    match value.map(|v| v.chars().count()) {
        Some(n) if n > max => {
            Err(ImportError(format!("The `{field}` of {whose} is too long ({n} characters; at most {max}).")))
        }
        _ => Ok(()),
    }
}

fn color(value: Option<&str>, whose: &str) -> Result<(), ImportError> {
    match value {
        Some(c) if profile::color(c).is_none() => {
            Err(ImportError(format!("The `color` of {whose} is not six hex digits: `{c}`.")))
        }
        _ => Ok(()),
    }
}

fn privacy<S: Subject>(block: Option<&Map<String, Value>>, whose: &str) -> Result<(), ImportError> {
    for (key, value) in block.into_iter().flatten() {
        let known = S::ALL.iter().any(|s| s.key() == key);
        let level = value.as_str().and_then(Level::parse);
        if known && level.is_none() && !value.is_null() {
            return Err(ImportError(format!(
                "The privacy `{key}` of {whose} must be `public` or `private`, not {value}."
            )));
        }
    }
    Ok(())
}

/// Writes an export as PluralKit does (pretty JSON).
pub fn write(export: &Export) -> Vec<u8> {
    serde_json::to_vec_pretty(export).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_export() -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pluralkit-export-v2.json");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The real export reads, passes the checks, and writes back to the same JSON, field by
    /// field (nothing the bridge does not interpret is lost).
    #[test]
    fn the_real_export_round_trips() {
        let bytes = shared_export();
        let export = parse(&bytes).unwrap();
        assert_eq!(export.members.len(), 59);
        assert_eq!(export.groups.len(), 11);
        validate(&export, 1000, 250).unwrap();
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let again: Value = serde_json::from_slice(&write(&export)).unwrap();
        assert_eq!(again, original);
    }

    #[test]
    fn errors_name_the_field_and_the_member() {
        let mut export = parse(&shared_export()).unwrap();
        export.members[3].color = Some("red".into());
        let err = validate(&export, 1000, 250).unwrap_err().0;
        assert!(err.contains("`color`") && err.contains(&export.members[3].name), "{err}");
        let mut export = parse(&shared_export()).unwrap();
        export.members[0].birthday = Some("someday".into());
        assert!(validate(&export, 1000, 250).unwrap_err().0.contains("`birthday`"));
        let export = parse(&shared_export()).unwrap();
        let err = validate(&export, 10, 250).unwrap_err().0;
        assert!(err.contains("59 members") && err.contains("10"), "{err}");
        let mut export = parse(&shared_export()).unwrap();
        export.groups[0].members.push("nobody".into());
        assert!(validate(&export, 1000, 250).unwrap_err().0.contains("`nobody`"));
        let mut export = parse(&shared_export()).unwrap();
        export.members[1].privacy.as_mut().unwrap().insert("name_privacy".into(), Value::from("secret"));
        assert!(validate(&export, 1000, 250).unwrap_err().0.contains("name_privacy"));
        assert!(parse(b"[]").is_err());
        assert!(parse(b"{\"tuppers\": []}").is_err());
        assert!(parse(b"not json").is_err());
    }

    #[test]
    fn v1_member_keys_are_read() {
        let v1 = br#"{"name": "Old", "members": [{"id": "abcde", "name": "Ann", "prefix": "a:", "suffix": null,
                        "visibility": "private", "name_privacy": "public"}]}"#;
        let export = parse(v1).unwrap();
        let ann = &export.members[0];
        assert_eq!(ann.proxy_tags, vec![ExportTag { prefix: Some("a:".into()), suffix: None }]);
        assert_eq!(ann.privacy.as_ref().unwrap()["visibility"], "private");
        assert!(!ann.extra.contains_key("prefix"));
    }

    fn member_strategy() -> impl proptest::strategy::Strategy<Value = ExportMember> {
        use proptest::prelude::*;
        let text = "\\PC{0,30}";
        (
            text,
            proptest::option::of(text),
            proptest::option::of("[0-9a-f]{6}"),
            proptest::option::of(text),
            proptest::collection::vec((proptest::option::of(text), proptest::option::of(text)), 0..3),
            any::<bool>(),
            0i64..100_000,
        )
            .prop_map(|(name, display_name, color, description, tags, keep, count)| ExportMember {
                id: None,
                name,
                display_name,
                color,
                birthday: None,
                pronouns: None,
                avatar_url: None,
                banner: None,
                description,
                created: None,
                keep_proxy: Some(keep),
                autoproxy_enabled: Some(!keep),
                message_count: Some(count),
                proxy_tags: tags.into_iter().map(|(prefix, suffix)| ExportTag { prefix, suffix }).collect(),
                privacy: None,
                extra: Map::new(),
            })
    }

    proptest::proptest! {
        /// Any export the model can hold is written and read back as itself.
        #[test]
        fn writing_then_reading_is_the_identity(
            members in proptest::collection::vec(member_strategy(), 0..5),
            name in proptest::option::of("\\PC{0,30}"),
            tag in proptest::option::of("\\PC{0,20}"),
        ) {
            let export = Export {
                version: Some(2), id: Some("abcde".into()), name, description: None, tag, pronouns: None, avatar_url: None,
                banner: None, color: None, created: None, privacy: None, members, groups: Vec::new(), switches: Vec::new(),
                extra: Map::new(),
            };
            proptest::prop_assert_eq!(parse(&write(&export)).unwrap(), export);
        }

        /// Arbitrary bytes never panic the reader or the checks.
        #[test]
        fn reading_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(export) = parse(&bytes) {
                let _ = validate(&export, 1000, 250);
                let _ = write(&export);
            }
        }
    }
}
