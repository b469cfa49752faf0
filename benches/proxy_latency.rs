//! Latency from a user's tagged message to the ghost's message, as a second user sees it
//! (a plain long-polling /sync), against a real Synapse and the real daemon on 127.0.0.1.
//! (matrix-sdk's sync loop adds about a second of its own, so it is not used for timing.)
//!
//!   cargo bench --bench proxy_latency             (release build)
//!   SAMPLES=50 cargo bench --bench proxy_latency
//!
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

async fn run() {
    let samples: usize = std::env::var("SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let env = TestEnv::start("bench-latency").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "benchowner", "benchobserver").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    // The observer long-polls /sync and we note when each ghost message arrives.
    let mut rx = watch_sync(&env.hs_url, observer.client.access_token().expect("logged in"));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples + 2 {
        let body = format!("sample {i}");
        let sent = Instant::now();
        owner.send_text(&room_id, &format!("a: {body}")).await;
        let arrived = loop {
            let (e, at) =
                tokio::time::timeout(WAIT, rx.recv()).await.expect("ghost message in time").expect("sync running");
            if e["sender"] == ghost.as_str() && e["content"]["body"] == body.as_str() {
                break at;
            }
        };
        if i >= 2 {
            latencies.push(arrived - sent); // the first two warm up ghost join and caches
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "proxy latency over {} messages (tagged message sent -> ghost message in observer's /sync): \
         median {:.0} ms, p90 {:.0} ms, min {:.0} ms, max {:.0} ms [{} build]",
        latencies.len(),
        ms(pick(0.5)),
        ms(pick(0.9)),
        ms(latencies[0]),
        ms(latencies[latencies.len() - 1]),
        if cfg!(debug_assertions) { "debug" } else { "release" },
    );
}
