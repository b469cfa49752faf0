//! Fault-injection soak: several senders, each in a room of their own with one observer, send
//! tagged messages while the daemon is `kill -9`ed at random moments (seeded) and restarted
//! after 0–3 s, and Synapse is restarted once mid-load. Then every room's whole timeline is
//! read and counted: every message proxied exactly once, every original redacted, no stray
//! ghost messages. Prints `sent, lost, doubled, unredacted, stray`.
//!
//!   scripts/test.sh --test soak                              the short versions (also in CI)
//!   scripts/test.sh --release --test soak -- --ignored       the full ones (1,020 messages
//!                                                            plain; encrypted: SOAK_E2EE_MESSAGES)
//!
//! Environment: `SOAK_MESSAGES` (1020), `SOAK_E2EE_MESSAGES` (240), `SOAK_SENDERS` (6),
//! `SOAK_SEED` (random; printed, so a run can be repeated), `SOAK_CLIENT_LOG` (a tracing
//! filter for the test users' clients, logged to `clients.log` in the kept environment).

#![recursion_limit = "256"]

mod support;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use matrix_sdk::{
    Room,
    room::MessagesOptions,
    ruma::{
        OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId, events::AnyMessageLikeEventContent, serde::Raw,
    },
};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use support::*;

struct Params {
    messages: usize,
    senders: usize,
    encrypted: bool,
    seed: u64,
    /// Seconds between kills: a random value in this range.
    kill_every: (f64, f64),
    /// Milliseconds each sender waits between messages: a random value in this range.
    pace_ms: (u64, u64),
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(rand::random)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    let p = Params {
        messages: 120,
        senders: 6,
        encrypted: false,
        seed: seed(),
        kill_every: (1.5, 3.0),
        pace_ms: (150, 450),
    };
    soak(p).await;
}

/// The short version in encrypted rooms (also in CI): 90 messages from 3 senders, so no
/// Megolm session rotates; room keys dropped while the daemon is down are asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short_encrypted() {
    let p =
        Params { messages: 90, senders: 3, encrypted: true, seed: seed(), kill_every: (2.0, 4.0), pace_ms: (150, 450) };
    soak(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with --ignored"]
async fn soak_plain() {
    let p = Params {
        messages: env_or("SOAK_MESSAGES", 1020),
        senders: env_or("SOAK_SENDERS", 6),
        encrypted: false,
        seed: seed(),
        kill_every: (3.0, 6.0),
        pace_ms: (10, 120),
    };
    soak(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with --ignored"]
async fn soak_encrypted() {
    let p = Params {
        messages: env_or("SOAK_E2EE_MESSAGES", 240),
        senders: env_or("SOAK_SENDERS", 6),
        encrypted: true,
        seed: seed(),
        kill_every: (3.0, 6.0),
        pace_ms: (10, 120),
    };
    soak(p).await;
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    sent: usize,
    lost: usize,
    doubled: usize,
    unredacted: usize,
    stray: usize,
}

fn assert_clean(c: Counts) {
    assert_eq!((c.lost, c.doubled, c.unredacted, c.stray), (0, 0, 0, 0), "{c:?}");
}

/// What one sender sent: (original event ID, body) in their room.
struct Sent {
    room_id: OwnedRoomId,
    ghost: OwnedUserId,
    messages: Vec<(OwnedEventId, String)>,
}

async fn soak(p: Params) -> Counts {
    let mut env = TestEnv::start(if p.encrypted { "soak-e2ee" } else { "soak" }).await;
    // SOAK_CLIENT_LOG=<filter> (e.g. `matrix_sdk_crypto=debug`): the test users' own log, in
    // the environment's folder, to see why a client did (not) answer a key request.
    if let Ok(filter) = std::env::var("SOAK_CLIENT_LOG") {
        let file = std::fs::File::create(env.root.join("clients.log")).unwrap();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .try_init();
    }
    let observer = env.user("soakwatch").await;
    if p.encrypted {
        observer.start_sync().await;
    }
    let mut senders = Vec::new();
    for i in 0..p.senders {
        let sender = env.user(&format!("soaker{i}")).await;
        if p.encrypted {
            sender.start_sync().await;
        }
        let room = if p.encrypted {
            sender.create_encrypted_room(&env, &[&observer.user_id]).await
        } else {
            sender.create_room(&env, &[&observer.user_id]).await
        };
        let room_id = room_id_of(&room);
        observer.join(&room_id).await;
        let system = system_with_alice(&env, &sender, &room_id).await;
        let ghost = env.ghost(&system, "alice");
        senders.push((sender, room_id, ghost));
    }

    // Senders go at once, each at its own pace; the main task plays chaos meanwhile.
    let per_sender = p.messages.div_ceil(p.senders);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, (sender, room_id, ghost)) in senders.iter().enumerate() {
        let room = sender.room(room_id);
        let (room_id, ghost) = (room_id.clone(), ghost.clone());
        let seed = p.seed.wrapping_add(i as u64 + 1);
        let pace = p.pace_ms;
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut messages = Vec::new();
            for j in 0..per_sender {
                let body = format!("s{i} m{j}");
                let id = send_with_retries(&room, &format!("soak-{seed}-{j}"), &format!("a: {body}")).await;
                messages.push((id, body));
                tokio::time::sleep(Duration::from_millis(rng.random_range(pace.0..pace.1))).await;
            }
            Sent { room_id, ghost, messages }
        }));
    }
    let mut rng = StdRng::seed_from_u64(p.seed);
    let (mut kills, mut synapse_restarted) = (0usize, false);
    while !tasks.iter().all(|t| t.is_finished()) {
        let wait = rng.random_range(p.kill_every.0..p.kill_every.1);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
        if kills == 1 && !synapse_restarted {
            env.stop_synapse();
            env.restart_synapse();
            synapse_restarted = true;
            continue;
        }
        env.kill_daemon();
        kills += 1;
        tokio::time::sleep(Duration::from_secs_f64(rng.random_range(0.0..3.0))).await;
        env.start_daemon().await;
    }
    assert!(synapse_restarted, "the load ended before Synapse was restarted; send more messages");
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await.expect("sender"));
    }
    let send_secs = started.elapsed().as_secs_f64();

    // Let it finish (bounded), then count.
    let deadline = Instant::now() + Duration::from_secs(120) + Duration::from_millis(100 * p.messages as u64);
    let counts = loop {
        let c = count(&observer, &sent).await;
        if (c.lost == 0 && c.unredacted == 0) || Instant::now() > deadline {
            break c;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    };
    println!(
        "soak{}: sent {}, lost {}, doubled {}, unredacted {}, stray {} ({} senders/rooms, {} kills, 1 Synapse restart, \
         seed {}, sending took {:.0} s)",
        if p.encrypted { " (encrypted)" } else { "" },
        counts.sent,
        counts.lost,
        counts.doubled,
        counts.unredacted,
        counts.stray,
        p.senders,
        kills,
        p.seed,
        send_secs
    );
    if counts.doubled > 0 {
        explain_doubles(&env, &observer, &sent).await;
    }
    assert_clean(counts); // here, so a failing run keeps its environment for inspection
    counts
}

/// For each doubled body: its ghost messages and which originals the daemon says they came
/// from (two originals with one body would be the sender's doing, one original twice ours).
async fn explain_doubles(env: &TestEnv, observer: &User, sent: &[Sent]) {
    let pool = env.db().await;
    for s in sent {
        let events = whole_timeline(&observer.room(&s.room_id)).await;
        let mut by_body: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in from(&events, &s.ghost) {
            by_body
                .entry(e["content"]["body"].as_str().unwrap_or_default())
                .or_default()
                .push(e["event_id"].as_str().unwrap_or_default());
        }
        for (body, ids) in by_body.into_iter().filter(|(_, ids)| ids.len() > 1) {
            for id in ids {
                let originals: Vec<String> =
                    sqlx::query_scalar("SELECT original_event_id FROM proxied_messages WHERE ghost_event_id = $1")
                        .bind(id)
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                eprintln!("doubled {body:?}: ghost event {id} from originals {originals:?}");
            }
        }
    }
    pool.close().await;
}

/// Sends with a fixed transaction ID, retrying while the homeserver is away (the same ID
/// makes a retry of a send that did go through harmless).
async fn send_with_retries(room: &Room, txn: &str, body: &str) -> OwnedEventId {
    let content = json!({"msgtype": "m.text", "body": body});
    for _ in 0..240 {
        let raw: Raw<AnyMessageLikeEventContent> = Raw::new(&content).unwrap().cast_unchecked();
        let txn_id: OwnedTransactionId = txn.into();
        match room.send_raw("m.room.message", raw).with_transaction_id(&txn_id).await {
            Ok(r) => return r.response.event_id,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    panic!("could not send {body:?} in 2 minutes");
}

/// Reads every room's whole timeline and counts.
async fn count(observer: &User, sent: &[Sent]) -> Counts {
    let mut c = Counts::default();
    for s in sent {
        let events = whole_timeline(&observer.room(&s.room_id)).await;
        let redacted: HashMap<&str, bool> =
            events.iter().filter_map(|e| Some((e["event_id"].as_str()?, is_redacted(e)))).collect();
        let mut copies: HashMap<&str, usize> = HashMap::new();
        for e in from(&events, &s.ghost) {
            *copies.entry(e["content"]["body"].as_str().unwrap_or_default()).or_default() += 1;
        }
        c.sent += s.messages.len();
        for (id, body) in &s.messages {
            match copies.remove(body.as_str()).unwrap_or(0) {
                0 => c.lost += 1,
                1 => {}
                _ => c.doubled += 1,
            }
            if redacted.get(id.as_str()) != Some(&true) {
                c.unredacted += 1;
            }
        }
        c.stray += copies.values().sum::<usize>();
    }
    c
}

async fn whole_timeline(room: &Room) -> Vec<Value> {
    let mut events = Vec::new();
    let mut from: Option<String> = None;
    for _ in 0..200 {
        let mut options = MessagesOptions::backward().from(from.as_deref());
        options.limit = 100u32.into();
        let Ok(page) = room.messages(options).await else { break };
        events.extend(page.chunk.iter().filter_map(|e| e.raw().deserialize_as_unchecked::<Value>().ok()));
        match page.end {
            Some(end) if !page.chunk.is_empty() => from = Some(end),
            _ => break,
        }
    }
    events
}
