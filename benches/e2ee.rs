//! Encrypted-room figures against a real Synapse and the real daemon on 127.0.0.1:
//!
//! 1. a new ghost's first encrypted message (device → keys → cross-signing → key share →
//!    message), and the member creation before it (ghost registration);
//! 2. a warm ghost's encrypted message;
//! 3. memory for many crypto identities: GHOSTS (default 500) ghosts registered and set up
//!    with the daemon's own crypto code (device, keys, cross-signing) in this process, with
//!    the default LRU of 128 open machines.
//!
//!   cargo bench --bench e2ee                 (release build)
//!   RUNS=10 GHOSTS=500 cargo bench --bench e2ee
//!
//! Latencies are from sending to the encrypted event arriving in a second user's /sync.
//! Prints the figures; asserts nothing about them.

#![recursion_limit = "256"]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn run() {
    let runs = env_usize("RUNS", 10);
    let ghosts = env_usize("GHOSTS", 500);
    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    let env = TestEnv::start("bench-e2ee").await;
    let owner = env.user("e2eeowner").await;
    let observer = env.user("e2eeobserver").await;
    owner.start_sync().await;
    let room = owner.create_encrypted_room(&env, &[&observer.user_id]).await;
    let room_id = room_id_of(&room);
    observer.join(&room_id).await;
    owner.wait_joined(&room_id, &observer.user_id).await;
    assert!(owner.command(&env, &room_id, "pk;system new Bench").await.contains("System created"));
    let mut rx = watch_sync(&env.hs_url, observer.client.access_token().unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Waits for an encrypted event from `ghost` in the observer's /sync.
    async fn arrival(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<(serde_json::Value, Instant)>,
        ghost: &str,
    ) -> Instant {
        loop {
            let (e, at) = tokio::time::timeout(WAIT, rx.recv()).await.expect("in time").expect("sync running");
            if e["sender"] == ghost && e["type"] == "m.room.encrypted" {
                return at;
            }
        }
    }

    let mut member_new = Vec::new();
    let mut first = Vec::new();
    for i in 0..runs {
        let started = Instant::now();
        let reply = owner.command(&env, &room_id, &format!("pk;member new m{i}")).await;
        assert!(reply.contains("Member created"), "{reply}");
        member_new.push(started.elapsed());
        owner.command(&env, &room_id, &format!("pk;member m{i} proxy m{i}:text")).await;
        let ghost = env.ghost("e2eeowner", &format!("m{i}"));
        let sent = Instant::now();
        owner.send_text(&room_id, &format!("m{i}: first words")).await;
        first.push(arrival(&mut rx, ghost.as_str()).await - sent);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut warm = Vec::new();
    let ghost = env.ghost("e2eeowner", "m0");
    for i in 0..runs {
        let sent = Instant::now();
        owner.send_text(&room_id, &format!("m0: warm {i}")).await;
        warm.push(arrival(&mut rx, ghost.as_str()).await - sent);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let daemon_rss = env.daemon_pid().map(rss_kib).unwrap_or(0);
    println!(
        "e2ee [{build}, {runs} runs, room of 2 users + bot + up to {runs} ghosts]: \
         new ghost's first encrypted message median {:.0} ms; member creation incl. ghost registration \
         (command -> reply) median {:.0} ms; warm ghost message median {:.0} ms; daemon RSS {} MiB",
        median(first),
        median(member_new),
        median(warm),
        daemon_rss / 1024
    );

    // Many identities, with the daemon's crypto code in this process.
    let dir = env.root.join("bench-identities");
    let db = pluralmatrix::db::Db::connect(&format!("sqlite://{}/db.sqlite", dir.display())).await.unwrap();
    let mut hs = pluralmatrix::homeserver::Homeserver::new(&env.hs_url, &env.as_token).unwrap();
    hs.discover_versions().await.unwrap();
    let settings = pluralmatrix::crypto::CryptoSettings {
        store_dir: dir.join("crypto"),
        max_open_machines: 128,
        share_with: pluralmatrix::crypto::ShareWith::All,
    };
    let crypto = pluralmatrix::crypto::Crypto::new(db, hs.clone(), settings).unwrap();
    let pid = std::process::id();
    let rss_before = rss_kib(pid);
    let started = Instant::now();
    for i in 0..ghosts {
        let localpart = format!("_plural_bench_g{i}");
        let mut req = matrix_sdk::ruma::api::client::account::register::v3::Request::new();
        req.username = Some(localpart.clone());
        req.inhibit_login = true;
        req.login_type = Some(matrix_sdk::ruma::api::client::account::register::LoginType::ApplicationService);
        hs.send(req, None).await.unwrap();
        let user = matrix_sdk::ruma::UserId::parse(format!("@{localpart}:localhost")).unwrap();
        drop(crypto.identity(&user).await.unwrap());
    }
    let took = started.elapsed();
    let rss_after = rss_kib(pid);
    let fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    println!(
        "identities [{build}]: {ghosts} ghosts registered + device + keys + cross-signing in {:.1} s \
         ({:.0} ms each); process RSS {} MiB -> {} MiB (+{} MiB), {} machines open, {fds} open fds, \
         stores on disk {} MiB",
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / ghosts.max(1) as f64,
        rss_before / 1024,
        rss_after / 1024,
        rss_after.saturating_sub(rss_before) / 1024,
        crypto.open_machines(),
        dir_size(&dir.join("crypto")) / (1024 * 1024),
    );
}
