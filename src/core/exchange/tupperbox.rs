//! Tupperbox's export (`tuppers` and `groups`), read into the PluralKit model so one importer
//! serves both, the way PluralKit reads it: bracket pairs become proxy tags, `show_brackets`
//! keepproxy, `posts` the message count, the birthday's date part the birthday. Beyond
//! PluralKit: Tupperbox groups become groups, and a tag all tuppers share becomes the system
//! tag (different tags go into display names, as PluralKit does).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::pluralkit::{Export, ExportGroup, ExportMember, ExportTag, ImportError};

#[derive(Debug, Deserialize)]
struct Tupperbox {
    tuppers: Vec<Tupper>,
    #[serde(default)]
    groups: Vec<TupperGroup>,
}

#[derive(Debug, Deserialize)]
struct Tupper {
    name: Option<String>,
    #[serde(default)]
    brackets: Vec<Option<String>>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    banner: Option<String>,
    #[serde(default)]
    posts: Option<i64>,
    #[serde(default)]
    show_brackets: Option<bool>,
    #[serde(default)]
    birthday: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    nick: Option<String>,
    #[serde(default)]
    group_id: Option<Value>,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TupperGroup {
    id: Value,
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// Whether `json` looks like a Tupperbox export.
pub fn is_tupperbox(json: &Value) -> bool {
    json.get("tuppers").is_some_and(Value::is_array)
}

pub fn parse(json: Value) -> Result<Export, ImportError> {
    let file: Tupperbox = serde_json::from_value(json)
        .map_err(|e| ImportError(format!("This Tupperbox export has an unexpected shape: {e}.")))?;
    let tags: Vec<&str> = file.tuppers.iter().filter_map(|t| t.tag.as_deref()).filter(|t| !t.is_empty()).collect();
    let shared_tag = tags.first().filter(|first| tags.len() == file.tuppers.len() && tags.iter().all(|t| t == *first));
    let mut members = Vec::with_capacity(file.tuppers.len());
    for (i, t) in file.tuppers.iter().enumerate() {
        let Some(name) = t.name.clone().filter(|n| !n.trim().is_empty()) else {
            return Err(ImportError(format!("Tupper number {} has no `name`.", i + 1)));
        };
        if t.brackets.len() % 2 != 0 {
            return Err(ImportError(format!("The `brackets` of tupper **{name}** are not pairs.")));
        }
        let proxy_tags = t
            .brackets
            .chunks(2)
            .map(|pair| ExportTag {
                prefix: pair[0].clone().filter(|p| !p.is_empty()),
                suffix: pair[1].clone().filter(|s| !s.is_empty()),
            })
            .collect();
        let birthday = match t.birthday.as_deref() {
            None => None,
            Some(b) => match chrono::DateTime::parse_from_rfc3339(b) {
                Ok(at) => Some(at.date_naive().format("%Y-%m-%d").to_string()),
                Err(_) => {
                    return Err(ImportError(format!("The `birthday` of tupper **{name}** is not a date: `{b}`.")));
                }
            },
        };
        let display_name = match (&t.nick, t.tag.as_deref().filter(|t| !t.is_empty())) {
            (Some(nick), _) => Some(nick.clone()),
            (None, Some(tag)) if shared_tag.is_none() => Some(format!("{name} {tag}")),
            _ => None,
        };
        members.push(ExportMember {
            id: Some(member_ref(i)),
            name,
            display_name,
            color: None,
            birthday,
            pronouns: None,
            avatar_url: t.avatar_url.clone().filter(|a| !a.is_empty()),
            banner: t.banner.clone().filter(|b| !b.is_empty()),
            description: t.description.clone().filter(|d| !d.is_empty()),
            created: t.created_at.clone(),
            keep_proxy: t.show_brackets,
            autoproxy_enabled: None,
            message_count: t.posts,
            proxy_tags,
            privacy: None,
            extra: Map::new(),
        });
    }
    let groups = file
        .groups
        .iter()
        .map(|g| ExportGroup {
            id: None,
            name: g.name.clone(),
            display_name: None,
            description: g.description.clone().filter(|d| !d.is_empty()),
            icon: None,
            banner: None,
            color: None,
            created: None,
            members: file
                .tuppers
                .iter()
                .enumerate()
                .filter(|(_, t)| t.group_id.as_ref() == Some(&g.id))
                .map(|(i, _)| member_ref(i))
                .collect(),
            privacy: None,
            extra: Map::new(),
        })
        .collect();
    Ok(Export {
        version: None,
        id: None,
        name: None,
        description: None,
        tag: shared_tag.map(|t| (*t).to_owned()),
        pronouns: None,
        avatar_url: None,
        banner: None,
        color: None,
        created: None,
        privacy: None,
        members,
        groups,
        switches: Vec::new(),
        extra: Map::new(),
    })
}

/// The file-local reference of the `i`-th tupper (never a kept ID: members are matched by name).
fn member_ref(i: usize) -> String {
    format!("tupper-{i}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tuppers_become_members_and_groups() {
        let file = json!({
            "tuppers": [
                {"id": 1, "name": "Ann", "brackets": ["a:", "", "[", "]"], "avatar_url": "https://x/a.png", "posts": 12,
                 "show_brackets": true, "birthday": "2000-05-27T00:00:00.000Z", "description": "hi", "tag": "| Us",
                 "group_id": 7, "nick": null},
                {"id": 2, "name": "Bea", "brackets": ["b:", ""], "tag": "| Us", "group_id": null, "nick": "Bee"}
            ],
            "groups": [{"id": 7, "name": "Front", "description": "up front"}]
        });
        assert!(is_tupperbox(&file));
        let export = parse(file).unwrap();
        assert_eq!(export.tag.as_deref(), Some("| Us"), "a tag all share is the system tag");
        let ann = &export.members[0];
        assert_eq!(
            ann.proxy_tags,
            vec![
                ExportTag { prefix: Some("a:".into()), suffix: None },
                ExportTag { prefix: Some("[".into()), suffix: Some("]".into()) }
            ]
        );
        assert_eq!(
            (ann.keep_proxy, ann.message_count, ann.birthday.as_deref()),
            (Some(true), Some(12), Some("2000-05-27"))
        );
        assert_eq!(export.members[1].display_name.as_deref(), Some("Bee"));
        assert_eq!(export.groups[0].members, vec!["tupper-0".to_owned()]);
        super::super::pluralkit::validate(&export, 1000, 250).unwrap();
    }

    #[test]
    fn different_tags_go_into_display_names_and_bad_files_are_named() {
        let export = parse(json!({"tuppers": [{"name": "Ann", "tag": "X"}, {"name": "Bea", "tag": "Y"}]})).unwrap();
        assert_eq!(export.tag, None);
        assert_eq!(export.members[0].display_name.as_deref(), Some("Ann X"));
        let err = parse(json!({"tuppers": [{"name": "Ann", "brackets": ["a:"]}]})).unwrap_err();
        assert!(err.0.contains("`brackets`") && err.0.contains("Ann"), "{err}");
        let err = parse(json!({"tuppers": [{"name": "Ann", "birthday": "soon"}]})).unwrap_err();
        assert!(err.0.contains("`birthday`"), "{err}");
        assert!(parse(json!({"tuppers": [{"brackets": []}]})).is_err());
    }
}
