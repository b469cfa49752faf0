//! `/metrics` against a real Synapse: scraped and parsed as Prometheus text, with values
//! that move when a message is proxied; on its own address with `metrics.listen`.

#![recursion_limit = "256"]

mod support;

use std::collections::HashMap;

use support::*;

/// `name{labels}` → value, from the text format (comments and blank lines skipped).
fn parse(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line:?}"));
        out.insert(key.to_owned(), value);
    }
    out
}

async fn scrape(url: &str) -> (HashMap<String, f64>, String) {
    let resp = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    let text = resp.text().await.unwrap();
    (parse(&text), text)
}

fn sum(samples: &HashMap<String, f64>, prefix: &str) -> f64 {
    samples.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_the_work() {
    let env = TestEnv::start("metrics").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "measured", "counter").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let (before, text) = scrape(&env.daemon_url()).await;
    for name in [
        "pluralmatrix_transactions_received_total",
        "pluralmatrix_journal_pending",
        "pluralmatrix_journal_oldest_pending_seconds",
        "pluralmatrix_crypto_machines_open",
        "pluralmatrix_dead_letters_total",
        "pluralmatrix_proxy_duration_seconds_count",
        "pluralmatrix_identities{state=\"ready\"}",
        "pluralmatrix_uptime_seconds",
    ] {
        assert!(before.contains_key(name), "{name} missing:\n{text}");
    }
    assert!(before["pluralmatrix_transactions_received_total"] > 0.0);
    assert!(sum(&before, "pluralmatrix_events_processed_total{outcome=\"done\"}") > 0.0, "{text}");
    // Every request so far is counted by endpoint (a path template, never an ID) and status.
    let sends = "pluralmatrix_homeserver_requests_total{endpoint=\"PUT /_matrix/client/v3/rooms/{room_id}/send/";
    assert!(sum(&before, sends) > 0.0, "the bot's replies were sent:\n{text}");
    assert!(!text.contains("!"), "no room IDs in labels");
    assert!(text.contains("pluralmatrix_homeserver_request_duration_seconds_bucket"), "{text}");

    owner.send_text(&room_id, "a: measure me").await;
    let ghost = env.ghost(&system, "alice");
    observer.wait_for(&room_id, "the ghost", |e| e["sender"] == ghost.as_str()).await;
    wait_journal_idle(&env).await;
    let (after, text) = scrape(&env.daemon_url()).await;
    let proxied = "pluralmatrix_messages_proxied_total{encrypted=\"false\"}";
    assert_eq!(after.get(proxied).copied().unwrap_or(0.0) - before.get(proxied).copied().unwrap_or(0.0), 1.0, "{text}");
    let count = "pluralmatrix_proxy_duration_seconds_count";
    assert_eq!(after[count] - before[count], 1.0);
    let seconds = after["pluralmatrix_proxy_duration_seconds_sum"] - before["pluralmatrix_proxy_duration_seconds_sum"];
    assert!(seconds > 0.0 && seconds < 30.0, "one proxy took {seconds} s");
    assert!(after["pluralmatrix_transactions_received_total"] > before["pluralmatrix_transactions_received_total"]);
    assert_eq!(after["pluralmatrix_journal_pending"], 0.0, "idle");

    // The Grafana dashboard only asks for metrics that exist.
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana-dashboard.json")).unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let names = regex_names(&dashboard);
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(text.contains(&format!("\n{name}")), "the dashboard uses {name}, which /metrics does not have");
    }
}

/// Every `pluralmatrix_…` name in `text`.
fn regex_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("pluralmatrix_") {
        let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        out.insert(name);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_their_own_address() {
    let port = free_port();
    let mut env =
        TestEnv::start_without_daemon("metrics-apart", &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n")).await;
    env.start_daemon().await;
    let (samples, _) = scrape(&format!("http://127.0.0.1:{port}")).await;
    assert!(samples.contains_key("pluralmatrix_journal_pending"));
    let resp = reqwest::get(format!("{}/metrics", env.daemon_url())).await.unwrap();
    assert_eq!(resp.status(), 404, "not on the appservice address then");
}
