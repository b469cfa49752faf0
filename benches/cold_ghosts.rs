//! Cold ghosts at once: the first message of a member whose ghost is not in the room yet
//! (join, profile, then the message), for one ghost alone and for several in different rooms
//! at the same moment, against a real Synapse and the real daemon on 127.0.0.1. If cold ghosts
//! are prepared side by side, the burst's figures stay near the lone ghost's; if they queued
//! behind each other, the burst's maximum would be about `GHOSTS` times the lone one.
//!
//! Per round (ROUNDS, default 3): GHOSTS + 1 new users (GHOSTS default 8), each with a room of
//! its own shared with the observer, a system and a member Alice (`a:text`). The first user's
//! `a:` message is timed alone (send returned → the ghost's message in the observer's plain
//! long-polling /sync), then its second message (warm), then the other GHOSTS send at once.
//!
//!   cargo bench --bench cold_ghosts
//!   ROUNDS=5 GHOSTS=16 cargo bench --bench cold_ghosts
//!
//! Prints the figures (medians over the rounds, and the ratios burst/lone measured in the
//! same run); asserts nothing about them.

#![recursion_limit = "256"]

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use matrix_sdk::ruma::OwnedRoomId;
use support::*;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The observer's /sync: when each ghost message (by body) arrived.
struct Arrivals {
    rx: tokio::sync::mpsc::UnboundedReceiver<(serde_json::Value, Instant)>,
    seen: HashMap<String, Instant>,
}

impl Arrivals {
    async fn wait(&mut self, body: &str) -> Instant {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = self.seen.get(body) {
                return *at;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let (e, at) = tokio::time::timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("{body:?} did not arrive in time"))
                .expect("sync running");
            let from_ghost = e["sender"].as_str().is_some_and(|s| s.starts_with("@_plural_"));
            if let (true, Some(b)) = (from_ghost, e["content"]["body"].as_str()) {
                self.seen.entry(b.to_owned()).or_insert(at);
            }
        }
    }
}

/// A user with a room shared with the observer and a system with Alice.
async fn owner(env: &TestEnv, observer: &User, name: &str) -> (User, OwnedRoomId) {
    let user = env.user(name).await;
    let room = user.create_room(env, &[&observer.user_id]).await;
    let room_id = room_id_of(&room);
    observer.join(&room_id).await;
    system_with_alice(env, &user, &room_id).await;
    (user, room_id)
}

async fn run() {
    let rounds = env_usize("ROUNDS", 3);
    let ghosts = env_usize("GHOSTS", 8);
    let env = TestEnv::start("bench-cold").await;
    let observer = env.user("coldwatch").await;
    let mut arrivals = Arrivals {
        rx: watch_sync(&env.hs_url, observer.client.access_token().expect("logged in")),
        seen: HashMap::new(),
    };
    println!(
        "cold_ghosts: ROUNDS={rounds} GHOSTS={ghosts} [{} build]",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );

    let (mut lone, mut warm, mut burst_p50, mut burst_max) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let (first, first_room) = owner(&env, &observer, &format!("cold{round}x")).await;
        let mut others = Vec::new();
        for i in 0..ghosts {
            others.push(owner(&env, &observer, &format!("cold{round}n{i}")).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;

        let body = format!("lone {round}");
        let sent = Instant::now();
        first.send_text(&first_room, &format!("a: {body}")).await;
        lone.push(ms(arrivals.wait(&body).await - sent));
        let body = format!("warm {round}");
        let sent = Instant::now();
        first.send_text(&first_room, &format!("a: {body}")).await;
        warm.push(ms(arrivals.wait(&body).await - sent));

        // Each send in a task of its own (a `Room` is a cheap handle), all at once.
        let mut set = tokio::task::JoinSet::new();
        for (i, (user, room_id)) in others.iter().enumerate() {
            let room = user.room(room_id);
            set.spawn(async move {
                let body = format!("burst {round} {i}");
                let content = serde_json::json!({"msgtype": "m.text", "body": format!("a: {body}")});
                let raw = matrix_sdk::ruma::serde::Raw::new(&content).unwrap().cast_unchecked();
                room.send_raw("m.room.message", raw).await.expect("send");
                (body, Instant::now())
            });
        }
        let sent = set.join_all().await;
        let mut latencies = Vec::new();
        for (body, at) in sent {
            latencies.push(ms(arrivals.wait(&body).await.saturating_duration_since(at)));
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let (p50, max) = (median(latencies.clone()), latencies[latencies.len() - 1]);
        println!(
            "  round {}: lone cold {:.0} ms, warm {:.0} ms; {ghosts} cold at once: p50 {p50:.0} ms, max {max:.0} ms",
            round + 1,
            lone[round],
            warm[round]
        );
        burst_p50.push(p50);
        burst_max.push(max);
    }
    let (lone, warm, p50, max) = (median(lone), median(warm), median(burst_p50), median(burst_max));
    println!("cold_ghosts: medians over {rounds} rounds: lone cold {lone:.0} ms, warm {warm:.0} ms");
    println!(
        "cold_ghosts: {ghosts} cold ghosts at once: p50 {p50:.0} ms (x{:.2} the lone one), max {max:.0} ms (x{:.2}; \
         one after another would be about x{ghosts})",
        p50 / lone,
        max / lone
    );
}
