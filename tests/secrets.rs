//! Secrets never reach the log: a whole proxy flow in an encrypted room (commands, a cold
//! ghost's first encrypted message, the redaction) and a transaction with the deprecated
//! `?access_token=`, with the daemon logging everything (`RUST_LOG=trace`), and then no
//! trace of the `as_token`, the `hs_token` or the crypto master key in any of its logs.

#![recursion_limit = "256"]

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log_even_at_trace() {
    let mut env = TestEnv::start_without_daemon("secrets", "").await;
    env.rust_log = "trace".into();
    env.start_daemon().await;
    let (owner, observer, room) = encrypted_owner_and_observer(&env, "secretowner", "secretwatch").await;
    let room_id = room_id_of(&room);
    system_with_alice(&env, &owner, &room_id).await;
    let original = owner.send_text(&room_id, "a: nothing to see here").await;
    observer.wait_redacted(&room_id, &original).await;
    let legacy = reqwest::Client::new()
        .put(format!("{}/_matrix/app/v1/transactions/legacy-1?access_token={}", env.daemon_url(), env.hs_token))
        .header("content-type", "application/json")
        .body(r#"{"events": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status().as_u16(), 200);
    env.stop_daemon();

    let key = std::fs::read(env.root.join("data/crypto/pickle.key")).unwrap();
    assert_eq!(key.len(), 32);
    let log: String =
        (1..=8).filter_map(|n| std::fs::read_to_string(env.root.join(format!("daemon-{n}.log"))).ok()).collect();
    assert!(log.contains("TRACE") && log.len() > 100_000, "the daemon logged at trace ({} bytes)", log.len());
    let db_password = url::Url::parse(&env.db_url).unwrap().password().unwrap_or_default().to_owned();
    assert_eq!(env.postgres(), !db_password.is_empty(), "the harness gives PostgreSQL URLs a password");
    let mut secrets = vec![
        ("as_token", env.as_token.clone()),
        ("hs_token", env.hs_token.clone()),
        ("master key (hex)", hex::encode(&key)),
        ("master key (HEX)", hex::encode_upper(&key)),
        ("master key (bytes)", format!("{:?}", &key[..])),
    ];
    if env.postgres() {
        secrets.push(("database password", db_password));
    }
    for (what, secret) in secrets {
        assert!(!secret.is_empty());
        assert!(!log.contains(&secret), "the {what} is in the daemon's log");
    }
}
