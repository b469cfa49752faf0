//! The command line as operators use it: exit codes, one-line errors, token generation,
//! the registration file, environment overrides, masking.

use std::{path::Path, process::Command};

fn pm(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
        .args(args)
        .current_dir(dir)
        .env_remove("PLURALMATRIX_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A config for `run` listening on `port`, with a homeserver nobody answers at.
fn write_run_config(dir: &Path, port: u16) {
    let text = format!(
        "[appservice]\nas_token = \"a\"\nhs_token = \"h\"\nlisten = \"127.0.0.1:{port}\"\n[homeserver]\nurl = \"http://127.0.0.1:9\"\n"
    );
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

fn one_line(stderr: &str) {
    assert_eq!(stderr.trim_end().lines().count(), 1, "errors are one line: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn generate_registration_fills_tokens_and_check_config_masks_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "# operator comment\n[homeserver]\ndomain = \"example.org\"\n")
        .unwrap();

    // Before tokens exist, check-config says what to do.
    let (code, _, err) = pm(dir.path(), &["check-config"]);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains("generate-registration"), "{err}");

    let (code, yaml, err) = pm(dir.path(), &["generate-registration"]);
    assert_eq!(code, 0, "{err}");
    let reg: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
    let config: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.path().join("config.toml")).unwrap()).unwrap();
    assert!(std::fs::read_to_string(dir.path().join("config.toml")).unwrap().contains("# operator comment"));
    let as_token = config["appservice"]["as_token"].as_str().unwrap();
    let hs_token = config["appservice"]["hs_token"].as_str().unwrap();
    assert!(as_token.len() >= 32 && hs_token.len() >= 32 && as_token != hs_token);
    assert_eq!(reg["as_token"].as_str(), Some(as_token));
    assert_eq!(reg["hs_token"].as_str(), Some(hs_token));
    assert_eq!(reg["sender_localpart"].as_str(), Some("plural_bot"));
    assert_eq!(reg["url"].as_str(), Some("http://127.0.0.1:9003"));
    assert_eq!(reg["io.element.msc4190"].as_bool(), Some(true));
    assert_eq!(reg["org.matrix.msc3202"].as_bool(), Some(true));
    assert_eq!(reg["receive_ephemeral"].as_bool(), Some(true));
    assert_eq!(reg["rate_limited"].as_bool(), Some(false));
    assert_eq!(reg["namespaces"]["users"][0]["regex"].as_str(), Some("@_plural_.*:example\\.org"));
    assert_eq!(reg["namespaces"]["users"][1]["regex"].as_str(), Some("@plural_bot:example\\.org"));

    // Running it again keeps the tokens; -o writes a private file.
    let (code, _, _) = pm(dir.path(), &["generate-registration", "-o", "reg.yaml"]);
    assert_eq!(code, 0);
    let again: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.path().join("reg.yaml")).unwrap()).unwrap();
    assert_eq!(again["as_token"].as_str(), Some(as_token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("reg.yaml")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "registration must not be readable by others: {mode:o}");
    }

    // check-config passes now and never prints a token.
    let (code, out, err) = pm(dir.path(), &["check-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(as_token) && !out.contains(hs_token), "{out}");
    assert!(out.contains("example.org") && out.contains("plural_bot"), "{out}");
    // Relative paths are resolved against the config file's folder.
    let base = dir.path().canonicalize().unwrap();
    assert!(
        out.contains(&format!("sqlite://{}/data/pluralmatrix.db", base.display()))
            || out.contains(&format!("sqlite://{}/data/pluralmatrix.db", dir.path().display())),
        "{out}"
    );
}

#[test]
fn config_errors_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = pm(dir.path(), &["check-config"]);
    assert_eq!(code, 2, "missing file");
    one_line(&err);
    assert!(err.contains("config.toml"), "{err}");

    let cfg = "[appservice]\nas_token = \"a\"\nhs_token = \"h\"\n[commands]\nprefx = \"!\"\n";
    std::fs::write(dir.path().join("config.toml"), cfg).unwrap();
    let (code, _, err) = pm(dir.path(), &["check-config"]);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains("prefx"), "{err}");

    std::fs::write(dir.path().join("config.toml"), "[appservice]\nas_token = \"a\"\nhs_token = \"h\"\nlisten = 5\n")
        .unwrap();
    let (code, _, err) = pm(dir.path(), &["run"]);
    assert_eq!(code, 2);
    one_line(&err);

    // Usage errors are exit 2 as well.
    let (code, _, _) = pm(dir.path(), &["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn env_overrides_and_config_env_var() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("elsewhere.toml");
    std::fs::write(&path, "[appservice]\nas_token = \"a-token\"\nhs_token = \"h-token\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
        .arg("check-config")
        .env("PLURALMATRIX_CONFIG", &path)
        .env("PLURALMATRIX__COMMANDS__PREFIX", "pm!")
        .env("PLURALMATRIX__HOMESERVER__DOMAIN", "override.test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("prefix = \"pm!\""), "{stdout}");
    assert!(stdout.contains("domain = \"override.test\""), "{stdout}");

    // An unknown key through the environment is a typo too.
    let out = Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
        .arg("check-config")
        .env("PLURALMATRIX_CONFIG", &path)
        .env("PLURALMATRIX__COMMANDS__PREFX", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_fails_cleanly_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    write_run_config(dir.path(), port);
    let (code, _, err) = pm(dir.path(), &["run"]);
    assert_eq!(code, 1);
    assert!(err.lines().last().unwrap_or_default().contains(&port.to_string()), "{err}");
}

#[test]
fn shipped_example_config_is_valid() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
        .args(["check-config", "-c"])
        .arg(&example)
        .env("PLURALMATRIX__APPSERVICE__AS_TOKEN", "example-as")
        .env("PLURALMATRIX__APPSERVICE__HS_TOKEN", "example-hs")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Every key the example shows is a real key with the documented default.
    let shown: toml::Value = toml::from_str(&std::fs::read_to_string(&example).unwrap()).unwrap();
    let effective = String::from_utf8_lossy(&out.stdout);
    let effective: toml::Value = toml::from_str(effective.split_once('\n').unwrap().1).unwrap();
    for (section, keys) in shown.as_table().unwrap() {
        for (key, value) in keys.as_table().unwrap() {
            if key.ends_with("_token") || key == "url" && section == "database" || key == "store_dir" {
                continue; // secrets are masked; paths are made absolute
            }
            assert_eq!(effective[section][key], *value, "{section}.{key}");
        }
    }
}

#[cfg(unix)]
#[test]
fn run_refuses_a_crypto_key_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data/crypto")).unwrap();
    let key = dir.path().join("data/crypto/pickle.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    write_run_config(dir.path(), port);
    let (code, _, err) = pm(dir.path(), &["run"]);
    assert_eq!(code, 1);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.contains("pickle.key") && last.contains("chmod 600"), "{err}");
}

/// The deploy kit points at things that exist: what the container build copies, the binary
/// and config the unit runs, and the files the compose trial reads.
#[test]
fn deploy_files_refer_to_what_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let containerfile = std::fs::read_to_string(root.join("deploy/Containerfile")).unwrap();
    for line in containerfile.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        for source in &parts[1..parts.len() - 1] {
            assert!(root.join(source).exists(), "the Containerfile copies {source}, which is missing");
        }
    }
    assert!(containerfile.contains("USER pluralmatrix") && containerfile.contains("VOLUME [\"/data\"]"));
    let unit = std::fs::read_to_string(root.join("deploy/pluralmatrix.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/pluralmatrix run") && unit.contains("LimitNOFILE="));
    let compose = std::fs::read_to_string(root.join("deploy/compose/compose.yaml")).unwrap();
    assert!(compose.contains("dockerfile: deploy/Containerfile"));
    for mount in compose.lines().filter_map(|l| l.trim().strip_prefix("- ./")) {
        let file = mount.split(':').next().unwrap();
        if file.contains('.') {
            assert!(root.join("deploy/compose").join(file).exists(), "compose mounts {file}, which is missing");
        }
    }
    let setup = std::fs::read_to_string(root.join("deploy/compose/setup.sh")).unwrap();
    assert!(setup.contains("url = \"postgres://pluralmatrix:pluralmatrix@postgres:5432/pluralmatrix\""));
    assert!(root.join("deploy/synapse-appservice.yaml").exists() && root.join("deploy/compose/setup.sh").exists());
    let snippet = std::fs::read_to_string(root.join("deploy/synapse-appservice.yaml")).unwrap();
    for key in ["msc2409_to_device_messages_enabled", "msc3202_transaction_extensions", "app_service_config_files"] {
        assert!(snippet.contains(key), "{key}");
    }
}

#[test]
fn migrate_db_copies_once_and_explains_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let db =
            pluralmatrix::db::Db::connect(&format!("sqlite://{}", dir.path().join("a.db").display())).await.unwrap();
        let system = db.create_system("@a:x", "a", Some("Copied"), None, 1).await.unwrap();
        db.create_member(system.id, "Alice", None, 1).await.unwrap();
        db.close().await;
    });
    let (code, out, err) = pm(dir.path(), &["migrate-db", "--from", "sqlite://a.db", "--to", "sqlite://b.db"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l == "systems: 1") && out.lines().any(|l| l == "members: 1"), "{out}");
    assert!(out.contains("copied ") && out.contains("point database.url at the new database"), "{out}");
    let copied = runtime.block_on(async {
        let db =
            pluralmatrix::db::Db::connect(&format!("sqlite://{}", dir.path().join("b.db").display())).await.unwrap();
        db.system_for_account("@a:x").await.unwrap().and_then(|s| s.name)
    });
    assert_eq!(copied.as_deref(), Some("Copied"));

    let (code, _, err) = pm(dir.path(), &["migrate-db", "--from", "sqlite://a.db", "--to", "sqlite://b.db"]);
    assert_eq!(code, 1);
    one_line(&err);
    assert!(err.contains("already holds data"), "{err}");
    let (code, _, err) = pm(dir.path(), &["migrate-db", "--from", "sqlite://a.db", "--to", "mysql://x/y"]);
    assert_eq!(code, 2);
    one_line(&err);
    assert!(err.contains("neither a sqlite: nor a postgres:// URL"), "{err}");
}
