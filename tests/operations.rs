//! Running the daemon as an operator does, against a real Synapse: JSON logs with one span
//! per transaction and per event, SIGHUP reloading the access lists, SIGTERM finishing the
//! work in hand and exiting 0.

#![recursion_limit = "256"]

mod support;

use serde_json::Value;
use support::*;

fn signal(env: &TestEnv, name: &str) {
    let pid = env.daemon_pid().expect("the daemon runs").to_string();
    assert!(std::process::Command::new("kill").arg(format!("-{name}")).arg(pid).status().unwrap().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_sighup_reload_and_sigterm() {
    let mut env = TestEnv::start_without_daemon("operations", "[logging]\nformat = \"json\"\n").await;
    env.start_daemon().await;
    let (owner, other, room_id) = owner_and_observer(&env, "operator", "latecomer").await;
    assert!(owner.command(&env, &room_id, "pk;system new Ops").await.contains("System created"));

    // Every line is one JSON object; events and transactions carry their span.
    let log = env.daemon_log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().all(|v| v["level"].is_string() && v["fields"].is_object()));
    assert!(lines.iter().any(|v| v["span"]["name"] == "event" && v["span"]["event_id"].is_string()), "{log}");
    assert!(lines.iter().any(|v| v["span"]["name"] == "transaction" && v["span"]["txn_id"].is_string()), "{log}");

    // SIGHUP: a user added to `deny` in the file is ignored from then on, without a restart.
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(&env.config_path, format!("{config}\n[access]\ndeny = [\"@latecomer:localhost\"]\n")).unwrap();
    signal(&env, "HUP");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !env.daemon_log().contains("access lists and admin users reloaded") {
        assert!(std::time::Instant::now() < deadline, "no reload logged");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    other.send_text(&room_id, "pk;system new Nope").await;
    other
        .wait_for(&room_id, "the notice that the user is denied", |e| {
            e["sender"] == env.bot.as_str()
                && e["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("@latecomer:localhost") && b.contains("may not use"))
        })
        .await;
    // A broken file changes nothing (and the daemon stays up).
    std::fs::write(&env.config_path, "this is not toml [").unwrap();
    signal(&env, "HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(env.health().await.0, 200);
    std::fs::write(&env.config_path, format!("{config}\n[access]\ndeny = [\"@latecomer:localhost\"]\n")).unwrap();

    // A second daemon on the same database refuses to start (it would send everything twice).
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
        .args(["run", "-c"])
        .arg(&env.config_path)
        .env("PLURALMATRIX__APPSERVICE__LISTEN", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("another pluralmatrix is running on this database"), "{err}");
    assert_eq!(env.health().await.0, 200, "the first one goes on");

    // SIGTERM with work in hand: the command stored just before is answered, then exit 0.
    let id = owner.send_text(&room_id, "pk;member new Last").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pool = env.db().await;
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM room_events WHERE event_id = $1")
            .bind(id.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        if stored > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the command never arrived");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    env.stop_daemon();
    assert!(env.daemon_log().contains("shutting down"));
    let reply = owner.reply_to(&env, &room_id, id.as_str()).await;
    assert!(reply["content"]["body"].as_str().unwrap().contains("Member created"), "{reply}");
}
