//! Building a PluralKit export of a system from the database (the inverse of `import`):
//! what an import kept in `import_extra` comes back as it was; timestamps keep their instant
//! (the imported text where there is one); IDs are the bridge's short IDs.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::{Db, DbResult, Group, Member, System, privacy::PrivacyOf};
use crate::core::{
    exchange::pluralkit::{Export, ExportGroup, ExportMember, ExportSwitch, ExportTag},
    privacy::{GroupSubject, MemberSubject, Subject, SystemSubject},
};

fn extra_of(stored: Option<String>) -> Map<String, Value> {
    stored.and_then(|s| serde_json::from_str::<Map<String, Value>>(&s).ok()).unwrap_or_default()
}

/// The imported `created` text if it is the same instant as `created_ms`, else `created_ms`
/// written as RFC 3339.
fn created(extra: &mut Map<String, Value>, created_ms: i64) -> Option<String> {
    let kept = extra.remove("created").and_then(|v| v.as_str().map(str::to_owned));
    let same = kept.as_deref().and_then(|k| chrono::DateTime::parse_from_rfc3339(k).ok()).map(|t| t.timestamp_millis());
    if same == Some(created_ms) {
        return kept;
    }
    chrono::DateTime::from_timestamp_millis(created_ms).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

fn privacy_block<S: Subject>(levels: &super::Privacy<S>) -> Map<String, Value> {
    levels.iter().map(|(s, l)| (s.key().to_owned(), Value::from(l.as_str()))).collect()
}

/// The bridge's settings in PluralKit's `config` keys (latch timeout in seconds).
fn write_settings(config: &mut Map<String, Value>, system: &System) {
    let c = &system.config;
    config.insert("timezone".to_owned(), json!(c.zone().name()));
    config.insert("pings_enabled".to_owned(), json!(c.pings_enabled));
    config.insert("latch_timeout".to_owned(), json!(c.latch_timeout_ms.map(|ms| ms / 1000)));
    config.insert("member_default_private".to_owned(), json!(c.member_default_private));
    config.insert("group_default_private".to_owned(), json!(c.group_default_private));
    config.insert("show_private_info".to_owned(), json!(c.show_private));
    config.insert("case_sensitive_proxy_tags".to_owned(), json!(c.case_sensitive_tags));
    config.insert("proxy_switch".to_owned(), json!(c.proxy_switch().as_str()));
    config.insert("name_format".to_owned(), json!(system.name_format));
}

fn none_if_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl Db {
    async fn import_extra(&self, table: &str, id: i64) -> DbResult<(Map<String, Value>, i64)> {
        let sql = format!("SELECT import_extra, created_at FROM {table} WHERE id = $1");
        let (extra, created): (Option<String>, i64) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_one(self.pool()).await?;
        Ok((extra_of(extra), created))
    }

    pub async fn export_system(&self, system: &System) -> DbResult<Export> {
        let (mut extra, created_ms) = self.import_extra("systems", system.id).await?;
        // Switches imported by an earlier version were kept as they were written.
        let legacy: Vec<ExportSwitch> =
            extra.remove("switches").and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        let switches = self.export_switches(system.id, legacy).await?;
        let created = created(&mut extra, created_ms);
        extra.entry("accounts").or_insert_with(|| json!([]));
        // The settings the bridge uses: their values win over the kept ones.
        let config = extra.entry("config").or_insert_with(|| json!({}));
        if let Some(config) = config.as_object_mut() {
            write_settings(config, system);
        }
        let mut members = Vec::new();
        for m in self.members(system.id).await? {
            members.push(self.export_member(&m).await?);
        }
        let mut groups = Vec::new();
        for g in self.groups(system.id).await? {
            groups.push(self.export_group(&g).await?);
        }
        let privacy = self.privacy::<SystemSubject>(PrivacyOf::System(system.id)).await?;
        Ok(Export {
            version: Some(2),
            id: Some(system.short_id.clone()),
            name: system.name.clone(),
            description: system.description.clone(),
            tag: system.tag.clone(),
            pronouns: system.pronouns.clone(),
            avatar_url: system.avatar_url.clone(),
            banner: system.banner_url.clone(),
            color: system.color.clone(),
            created,
            privacy: Some(privacy_block(&privacy)),
            members,
            groups,
            switches,
            extra,
        })
    }

    /// The switch log in PluralKit's form: members by ID, the timestamp as imported while
    /// the switch was not moved.
    async fn export_switches(&self, system_id: i64, legacy: Vec<ExportSwitch>) -> DbResult<Vec<ExportSwitch>> {
        let stored = self.switches_for_export(system_id).await?;
        if stored.is_empty() {
            return Ok(legacy);
        }
        let mut short_ids: HashMap<i64, String> = HashMap::new();
        for m in self.members(system_id).await? {
            short_ids.insert(m.id, m.short_id);
        }
        Ok(stored
            .into_iter()
            .map(|(s, written)| {
                let same = written.as_deref().and_then(|w| chrono::DateTime::parse_from_rfc3339(w).ok());
                let timestamp = match (written, same.map(|t| t.timestamp_millis())) {
                    (Some(w), Some(at)) if at == s.at => w,
                    _ => chrono::DateTime::from_timestamp_millis(s.at)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                        .unwrap_or_default(),
                };
                let members = s.members.iter().filter_map(|id| short_ids.get(id).cloned()).collect();
                ExportSwitch { timestamp, members, extra: Map::new() }
            })
            .collect())
    }

    async fn export_member(&self, m: &Member) -> DbResult<ExportMember> {
        let (mut extra, created_ms) = self.import_extra("members", m.id).await?;
        let created = created(&mut extra, created_ms);
        let tags = self.member_tags(m.id).await?;
        let privacy = self.privacy::<MemberSubject>(PrivacyOf::Member(m.id)).await?;
        Ok(ExportMember {
            id: Some(m.short_id.clone()),
            name: m.name.clone(),
            display_name: m.display_name.clone(),
            color: m.color.clone(),
            birthday: m.birthday.clone(),
            pronouns: m.pronouns.clone(),
            avatar_url: m.avatar_url.clone(),
            banner: m.banner_url.clone(),
            description: m.description.clone(),
            created,
            keep_proxy: Some(m.keep_proxy),
            autoproxy_enabled: Some(m.allow_autoproxy),
            message_count: Some(m.message_count),
            proxy_tags: tags
                .iter()
                .map(|t| ExportTag { prefix: none_if_empty(&t.prefix), suffix: none_if_empty(&t.suffix) })
                .collect(),
            privacy: Some(privacy_block(&privacy)),
            extra,
        })
    }

    async fn export_group(&self, g: &Group) -> DbResult<ExportGroup> {
        let (mut extra, created_ms) = self.import_extra("groups", g.id).await?;
        let created = created(&mut extra, created_ms);
        let mut members = Vec::new();
        for id in self.group_member_ids(g.id).await? {
            if let Some(m) = self.member_by_id(id).await? {
                members.push(m.short_id);
            }
        }
        let privacy = self.privacy::<GroupSubject>(PrivacyOf::Group(g.id)).await?;
        Ok(ExportGroup {
            id: Some(g.short_id.clone()),
            name: g.name.clone(),
            display_name: g.display_name.clone(),
            description: g.description.clone(),
            icon: g.icon_url.clone(),
            banner: g.banner_url.clone(),
            color: g.color.clone(),
            created,
            members,
            privacy: Some(privacy_block(&privacy)),
            extra,
        })
    }
}
#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::{
        core::exchange::pluralkit::{parse, write},
        db::{now_ms, test_db},
    };

    /// Import the real export, export it again: the same data, field by field.
    #[tokio::test]
    async fn the_real_export_round_trips_through_the_database() {
        let db = test_db().await;
        let bytes =
            std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pluralkit-export-v2.json"))
                .unwrap();
        let export = parse(&bytes).unwrap();
        let summary = db.import_export("@a:x", "a", &export, "$imp", now_ms(), (1000, 250)).await.unwrap();
        let system = db.system_by_id(summary.system_id).await.unwrap().unwrap();
        let again: Value = serde_json::from_slice(&write(&db.export_system(&system).await.unwrap())).unwrap();
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        // IDs are kept (they were free), so the whole document compares equal.
        let mut differences = Vec::new();
        diff(&original, &again, "", &mut differences);
        assert!(
            differences.is_empty(),
            "{} differences, first: {:#?}",
            differences.len(),
            &differences[..differences.len().min(8)]
        );
    }

    /// A system with every field and every privacy value set, both levels used, goes through
    /// import and export unchanged.
    #[tokio::test]
    async fn every_field_and_privacy_value_round_trips() {
        let private_all = |keys: &[&str]| -> Value {
            keys.iter()
                .enumerate()
                .map(|(i, k)| ((*k).to_owned(), Value::from(if i % 2 == 0 { "private" } else { "public" })))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let member = |id: &str, name: &str| {
            serde_json::json!({
                "id": id, "uuid": format!("uuid-{id}"), "name": name, "display_name": format!("{name} D"), "color": "a1b2c3",
                "birthday": "0004-02-29", "pronouns": "they/them", "avatar_url": "https://example.org/a.png",
                "webhook_avatar_url": null, "banner": "mxc://example.org/banner", "description": "line one\nline two",
                "created": "2021-01-02T03:04:05.123456Z", "keep_proxy": true, "tts": false, "autoproxy_enabled": false,
                "message_count": 7, "last_message_timestamp": null,
                "proxy_tags": [{"prefix": "[", "suffix": "]"}, {"prefix": null, "suffix": " -x"}],
                "privacy": private_all(&["visibility", "name_privacy", "description_privacy", "birthday_privacy",
                                         "pronoun_privacy", "avatar_privacy", "banner_privacy", "metadata_privacy", "proxy_privacy"])
            })
        };
        let original = serde_json::json!({
            "version": 2, "id": "sysaa", "uuid": "uuid-sys", "name": "Everything", "description": "All of it",
            "tag": "| E", "pronouns": "we/us", "avatar_url": "mxc://example.org/avatar", "banner": "https://example.org/b.png",
            "color": "ffffff", "created": "2020-05-06T07:08:09.5Z", "webhook_url": null,
            "privacy": private_all(&["name_privacy", "avatar_privacy", "description_privacy", "banner_privacy", "pronoun_privacy",
                                     "member_list_privacy", "group_list_privacy", "front_privacy", "front_history_privacy"]),
            "config": {"timezone": "Europe/Berlin", "pings_enabled": false, "latch_timeout": 3600,
                       "member_default_private": true, "group_default_private": true, "show_private_info": false,
                       "case_sensitive_proxy_tags": false, "proxy_switch": "add", "name_format": "{tag} {name}",
                       "hid_display_split": true},
            "accounts": [],
            "members": [member("memaa", "Ann"), member("membbb", "Bea")],
            "groups": [{"id": "grpaa", "uuid": "uuid-g", "name": "G", "display_name": "Gee", "description": "d", "icon": "mxc://example.org/i",
                        "banner": null, "color": "000000", "created": "2022-02-02T02:02:02Z", "members": ["membbb", "memaa"],
                        "privacy": private_all(&["name_privacy", "description_privacy", "banner_privacy", "icon_privacy",
                                                 "list_privacy", "metadata_privacy", "visibility"])}],
            "switches": [{"timestamp": "2023-03-03T03:03:03Z", "members": ["memaa", "membbb"]}, {"timestamp": "2023-03-04T03:03:03Z", "members": []}]
        });
        let export = parse(original.to_string().as_bytes()).unwrap();
        crate::core::exchange::pluralkit::validate(&export, 1000, 250).unwrap();
        let db = test_db().await;
        let summary = db.import_export("@e:x", "e", &export, "$imp", now_ms(), (1000, 250)).await.unwrap();
        let system = db.system_by_id(summary.system_id).await.unwrap().unwrap();
        assert_eq!(system.name_format.as_deref(), Some("{tag} {name}"), "the name format is used");
        // The settings the bridge knows are used, not only kept.
        assert_eq!(system.config.zone().name(), "Europe/Berlin");
        assert_eq!(system.config.latch_timeout_ms, Some(3_600_000));
        assert!(!system.config.case_sensitive_tags && !system.config.pings_enabled && !system.config.show_private);
        assert_eq!(system.config.proxy_switch, "add");
        assert_eq!(db.current_fronters(system.id).await.unwrap(), Vec::<i64>::new(), "the switch-out is current");
        assert_eq!(db.switch_count(system.id).await.unwrap(), 2, "the switches are front history");
        let again: Value = serde_json::from_slice(&write(&db.export_system(&system).await.unwrap())).unwrap();
        let mut differences = Vec::new();
        diff(&original, &again, "", &mut differences);
        assert!(differences.is_empty(), "{differences:#?}");
    }

    /// Paths where two JSON documents differ, with both values.
    fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    diff(
                        x.get(key).unwrap_or(&Value::Null),
                        y.get(key).unwrap_or(&Value::Null),
                        &format!("{path}.{key}"),
                        out,
                    );
                    if x.contains_key(key) != y.contains_key(key) {
                        out.push(format!("{path}.{key}: present in only one"));
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    diff(p, q, &format!("{path}[{i}]"), out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} vs {b}")),
            _ => {}
        }
    }
}
