//! Loading, defaults, environment overrides and validation of the config file.

use super::*;
use std::io::Write;

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("config.toml");
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    p
}

const MIN: &str = "[appservice]\nas_token = \"a\"\nhs_token = \"h\"\n";

#[test]
fn defaults_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&write(dir.path(), MIN), true).unwrap();
    let c = loaded.config;
    assert_eq!(c.appservice.bot_localpart, "plural_bot");
    assert_eq!(c.commands.prefix, "pk;");
    let base = dir.path().canonicalize().unwrap_or(dir.path().to_path_buf());
    assert!(c.database.url.ends_with("/data/pluralmatrix.db"), "{}", c.database.url);
    assert!(c.database.url.contains(dir.path().to_str().unwrap()) || c.database.url.contains(base.to_str().unwrap()));
    assert!(c.encryption.store_dir.starts_with(dir.path()));
}

#[test]
fn unknown_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&write(dir.path(), &format!("{MIN}prefx = 1\n")), true).unwrap_err().to_string();
    assert!(err.contains("prefx"), "{err}");
    let err = load(&write(dir.path(), &format!("{MIN}[commands]\nprefx = \"!\"\n")), true).unwrap_err().to_string();
    assert!(err.contains("prefx"), "{err}");
}

#[test]
fn missing_file_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(load(&dir.path().join("nope.toml"), true), Err(ConfigError::NotFound(_))));
    let p = write(dir.path(), "[homeserver]\ndomain = \"example.org\"\n");
    let err = load(&p, true).unwrap_err().to_string();
    assert!(err.contains("as_token"), "{err}");
    assert!(load(&p, false).is_ok());
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("[homeserver]\nurl = \"ftp://x\"\n", "homeserver.url"),
        ("[appservice2]\n", "appservice2"),
        ("[database]\nurl = \"mysql://x\"\n", "database.url"),
        ("[metrics]\nlisten = \"nowhere\"\n", "metrics.listen"),
        ("[logging]\nformat = \"xml\"\n", "logging.format"),
        ("[commands]\nprefix = \"\"\n", "commands.prefix"),
        ("[admin]\nusers = [\"bob\"]\n", "admin.users"),
    ] {
        let err = load(&write(dir.path(), &format!("{MIN}{extra}")), true).unwrap_err().to_string();
        assert!(err.contains(key), "{extra}: {err}");
    }
    let err = load(&write(dir.path(), "[appservice]\nas_token = \"a\"\nhs_token = \"h\"\nlisten = \"nope\"\n"), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("appservice.listen"), "{err}");
}

#[test]
fn encryption_options() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(
        &write(dir.path(), &format!("{MIN}[encryption]\nshare_with = \"cross-signed\"\nmax_open_machines = 5\n")),
        true,
    )
    .unwrap()
    .config;
    assert_eq!(c.encryption.share_with, crate::crypto::ShareWith::CrossSigned);
    assert_eq!(c.encryption.max_open_machines, 5);
    let err =
        load(&write(dir.path(), &format!("{MIN}[encryption]\nshare_with = \"some\"\n")), true).unwrap_err().to_string();
    assert!(err.contains("share_with"), "{err}");
    let err =
        load(&write(dir.path(), &format!("{MIN}[encryption]\nmax_open_machines = 0\n")), true).unwrap_err().to_string();
    assert!(err.contains("max_open_machines"), "{err}");
}

#[test]
fn masking_hides_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&write(dir.path(), "[appservice]\nas_token = \"secret-as\"\nhs_token = \"secret-hs\"\n"), true)
        .unwrap()
        .config;
    let shown = c.masked_toml();
    assert!(!shown.contains("secret-as") && !shown.contains("secret-hs"), "{shown}");
    assert!(shown.contains("<set, 9 characters>"));
    // Regression: `Config` derived `Debug` with the tokens inside.
    let debug = format!("{c:?} {c:#?}");
    assert!(!debug.contains("secret-as") && !debug.contains("secret-hs"), "{debug}");
    assert!(debug.contains("<set, 9 characters>") && debug.contains("bot_localpart"), "{debug}");
}

/// Regression: the PostgreSQL password in `database.url` was printed by `check-config`.
#[test]
fn masking_hides_the_database_password() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[appservice]\nas_token = \"a\"\nhs_token = \"h\"\n[database]\nurl = \"postgres://pm:hunter2@db.example:5432/pm\"\n";
    let c = load(&write(dir.path(), text), true).unwrap().config;
    assert_eq!(c.database.url, "postgres://pm:hunter2@db.example:5432/pm", "the daemon still gets it");
    let shown = format!("{} {c:?}", c.masked_toml());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://pm:***@db.example:5432/pm"), "{shown}");
}
