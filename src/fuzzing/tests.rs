//! The short run of the fuzz targets in the test suite: every seed in `fuzz/seeds/<target>/`
//! (which also keeps any input a long run found), then generated inputs shaped like each
//! target's input. `scripts/fuzz.sh` runs the long coverage-guided version.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a seed").path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).expect("a readable seed")).collect()
}

#[test]
fn every_seed_passes() {
    let targets: [(&str, fn(&[u8])); 4] =
        [("transaction", transaction), ("command", command), ("tags", tags), ("html", html)];
    for (name, target) in targets {
        let seeds = seeds(name);
        assert!(seeds.len() >= 3, "{name}: seeds missing");
        for seed in seeds {
            target(&seed);
        }
    }
}

/// Text with what makes parsers stumble: quotes of every kind, RTL and zero-width marks,
/// combining characters, markup, tags' usual punctuation.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("\"".to_owned()),
            Just("“".to_owned()),
            Just("”".to_owned()),
            Just("„".to_owned()),
            Just("«".to_owned()),
            Just("»".to_owned()),
            Just("\u{202e}".to_owned()),
            Just("\u{200b}".to_owned()),
            Just("\u{200d}".to_owned()),
            Just("\u{fe0f}".to_owned()),
            Just("e\u{301}".to_owned()),
            Just("<a href=\"x\">".to_owned()),
            Just("&amp;".to_owned()),
            Just("`".to_owned()),
            Just("pk;".to_owned()),
            Just("member".to_owned()),
            Just("system".to_owned()),
            Just("proxy".to_owned()),
            Just("text".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("\t".to_owned()),
            "\\PC{1,4}",
            "[a-z:\\[\\]-]{1,4}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// JSON shaped like a transaction: the fields the daemon reads, with right and wrong types.
fn transaction_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        tricky_text().prop_map(Value::from),
        Just(json!("@a:x")),
        Just(json!("@_plural_s_m:x")),
        Just(json!("!r:x")),
        Just(json!("$e")),
        Just(json!("m.room.message")),
        Just(json!("m.replace")),
        Just(json!("org.matrix.custom.html")),
    ];
    let keys = prop_oneof![
        Just("events"),
        Just("type"),
        Just("event_id"),
        Just("room_id"),
        Just("sender"),
        Just("state_key"),
        Just("content"),
        Just("body"),
        Just("format"),
        Just("formatted_body"),
        Just("m.relates_to"),
        Just("rel_type"),
        Just("m.new_content"),
        Just("msgtype"),
        Just("to_device"),
        Just("org.matrix.msc3202.device_lists"),
        Just("changed"),
        Just("org.matrix.msc3202.device_one_time_keys_count"),
        Just("org.matrix.msc3202.device_unused_fallback_key_types"),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            proptest::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// A well-formed message event around generated content, so the deeper paths are reached.
fn message_event(content: Value) -> Value {
    json!({"events": [{"type": "m.room.message", "event_id": "$e", "room_id": "!r:x", "sender": "@a:x",
                       "content": content}]})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_500))]

    #[test]
    fn transactions(value in transaction_json(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        transaction(value.to_string().as_bytes());
        transaction(message_event(value).to_string().as_bytes());
        transaction(&bytes);
    }

    #[test]
    fn messages(body in tricky_text(), html_body in tricky_text()) {
        let content = json!({"msgtype": "m.text", "body": body, "format": "org.matrix.custom.html",
                             "formatted_body": html_body});
        transaction(message_event(content).to_string().as_bytes());
    }

    #[test]
    fn commands(text in tricky_text()) {
        command(text.as_bytes());
    }

    #[test]
    fn tag_matching(templates in proptest::collection::vec(tricky_text(), 0..4), message in tricky_text()) {
        tags(format!("{}\n{message}", templates.join("\t")).as_bytes());
    }

    #[test]
    fn html_stripping(prefix in tricky_text(), suffix in tricky_text(), body in tricky_text()) {
        html(format!("{prefix}\t{suffix}\n{body}").as_bytes());
    }
}

/// A 64 KiB command line of each kind: parsed (or refused) without trouble.
#[test]
fn long_command_lines() {
    for unit in ["a", "\u{200b}", "\"", "«x» ", "\u{202e}x ", "`"] {
        let line = unit.repeat(64 * 1024 / unit.len());
        command(line.as_bytes());
        command(format!("member new {line}").as_bytes());
        command(format!("member x proxy {line}text").as_bytes());
    }
}
