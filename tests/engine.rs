//! The engine under faults, against a real Synapse: a Synapse restart (its transaction IDs
//! start at 1 again), crashes in the windows between the steps of a proxy and of a command,
//! poison input, and rooms that must not wait for each other.

#![recursion_limit = "256"]

mod support;

use std::time::{Duration, Instant};

use support::*;

/// Regression: after a Synapse restart its transaction IDs start again at 1, and the journal
/// acknowledged and dropped every new transaction whose ID it had seen before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_after_a_synapse_restart_are_proxied() {
    let env = TestEnv::start("hs-restart").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "restarter", "restartwatch").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    // Enough transactions before the restart that the new ones reuse stored IDs.
    for i in 0..3 {
        owner.send_text(&room_id, &format!("a: before {i}")).await;
    }
    observer.wait_for(&room_id, "the last message before", |e| e["content"]["body"] == "before 2").await;

    env.stop_synapse();
    env.restart_synapse();
    for i in 0..3 {
        let id = owner.send_text(&room_id, &format!("a: after {i}")).await;
        observer.wait_redacted(&room_id, &id).await;
    }
    let events = observer.messages(&room_id).await;
    for i in 0..3 {
        let body = format!("after {i}");
        let n = from(&events, &ghost).iter().filter(|e| e["content"]["body"] == body.as_str()).count();
        assert_eq!(n, 1, "{body:?} proxied exactly once");
    }
}

/// Regression: a proxy retried after its ghost message went out sent it again; only the
/// homeserver's in-memory transaction cache stood in the way, and a Synapse restart empties it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_retried_after_its_send_does_not_send_again() {
    let mut env = TestEnv::start("proxy-once").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "oncer", "oncewatch").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    env.stop_daemon();
    env.faults = "proxy.after-send".into();
    env.start_daemon().await;
    let original = owner.send_text(&room_id, "a: only once").await;
    env.wait_daemon_exit().await; // the ghost's message is out, the original not yet redacted
    env.stop_synapse();
    env.restart_synapse();
    env.faults.clear();
    env.start_daemon().await;
    observer.wait_redacted(&room_id, &original).await;
    let events = observer.messages(&room_id).await;
    let copies = from(&events, &ghost).iter().filter(|e| e["content"]["body"] == "only once").count();
    assert_eq!(copies, 1, "the ghost's message exactly once");
}

/// The original's redaction is queued with the record of the ghost's message: a crash before
/// it was made loses nothing, and nothing is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redaction_interrupted_by_a_crash_is_made_after_the_restart() {
    let mut env = TestEnv::start("redact-later").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "redacter", "redactwatch").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    env.stop_daemon();
    env.faults = "redaction.before".into();
    env.start_daemon().await;
    let original = owner.send_text(&room_id, "a: redact me later").await;
    env.wait_daemon_exit().await; // the ghost's message is out, the redaction queued
    let events = observer.messages(&room_id).await;
    assert!(!events.iter().any(|e| e["event_id"] == original.as_str() && is_redacted(e)), "not redacted yet");
    env.faults.clear();
    env.start_daemon().await;
    observer.wait_redacted(&room_id, &original).await;
    let events = observer.messages(&room_id).await;
    let copies = from(&events, &ghost).iter().filter(|e| e["content"]["body"] == "redact me later").count();
    assert_eq!(copies, 1, "the ghost's message exactly once");
    let pool = env.db().await;
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_redactions").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(queued, 0, "the queue is empty again");
}

/// Regression: a command retried after it ran (its answer not yet sent) ran again:
/// `member new` made a second member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_retried_after_it_ran_does_not_run_again() {
    let mut env = TestEnv::start("command-once").await;
    let owner = env.user("commander").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let reply = owner.command(&env, &room_id, "pk;system new Once").await;
    assert!(reply.contains("System created"), "{reply}");

    env.stop_daemon();
    env.faults = "command.before-record".into();
    env.start_daemon().await;
    let command = owner.send_text(&room_id, "pk;member new Bea").await;
    env.wait_daemon_exit().await; // the member exists, the answer is neither recorded nor sent
    env.faults.clear();
    env.start_daemon().await;
    let reply = owner
        .wait_for(&room_id, "the answer", |e| {
            e["sender"] == env.bot.as_str()
                && e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == command.as_str()
        })
        .await;
    assert!(reply["content"]["body"].as_str().unwrap().contains("Member created"), "{reply}");
    let list = owner.command(&env, &room_id, "pk;system list").await;
    assert_eq!(list.matches("Bea").count(), 1, "one member Bea: {list}");
    let answers = owner
        .messages(&room_id)
        .await
        .into_iter()
        .filter(|e| e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == command.as_str())
        .count();
    assert_eq!(answers, 1, "answered once");
}

/// An event whose handling panics every time becomes a dead letter after a few tries, its
/// sender is told once, and neither its own room's later messages nor another room nor
/// another sender in the same room wait for ever; `/health` says "stalled" meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_input_becomes_a_dead_letter_and_holds_up_nobody() {
    let mut env = TestEnv::start_without_daemon("poison", "\n[engine]\nstall_seconds = 2\n").await;
    env.faults = "message.poison".into();
    env.start_daemon().await;
    let (owner, observer, room_id) = owner_and_observer(&env, "poisoner", "poisonwatch").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    let other = owner.create_room(&env, &[&observer.user_id]).await;
    let other_id = room_id_of(&other);
    observer.join(&other_id).await;
    let neighbour = env.user("poisonneighbour").await;
    owner.room(&room_id).invite_user_by_id(&neighbour.user_id).await.unwrap();
    neighbour.join(&room_id).await;
    system_with_alice(&env, &neighbour, &room_id).await;

    let poison = owner.send_text(&room_id, "a: poison-pill").await;
    let after = owner.send_text(&room_id, "a: after the poison").await;
    let started = Instant::now();
    let elsewhere = owner.send_text(&other_id, "a: in another room").await;
    let next_door = neighbour.send_text(&room_id, "a: a neighbour's message").await;
    observer.wait_redacted(&other_id, &elsewhere).await;
    let other_room_took = started.elapsed();
    // Regression: a room was one line, so another sender's message waited behind the poison.
    observer.wait_redacted(&room_id, &next_door).await;
    let other_sender_took = started.elapsed();
    assert!(other_room_took < Duration::from_secs(4), "the other room waited {other_room_took:?}");
    assert!(other_sender_took < Duration::from_secs(4), "the other sender waited {other_sender_took:?}");

    // Meanwhile the poisoned room waits (tries with backoff), and health says so.
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = env.health().await;
        if status == 503 {
            assert!(body.starts_with("stalled"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "health never reported the stall");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let notice = observer
        .wait_for(&room_id, "the notice about the dead letter", |e| {
            e["sender"] == env.bot.as_str() && e["content"]["body"].as_str().unwrap_or("").contains("went wrong")
        })
        .await;
    assert!(notice["content"]["body"].as_str().unwrap().starts_with("⚠️"));
    observer.wait_redacted(&room_id, &after).await;

    let pool = env.db().await;
    let (reason, attempts): (String, i64) =
        sqlx::query_as("SELECT reason, attempts FROM dead_letters WHERE event_id = $1")
            .bind(poison.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert!(reason.contains("panicked") && attempts == 3, "{reason} after {attempts}");
    let events = observer.messages(&room_id).await;
    assert!(!events.iter().any(|e| e["event_id"] == poison.as_str() && is_redacted(e)), "the poison stays as it was");
    let notices = from(&events, &env.bot)
        .iter()
        .filter(|e| e["content"]["body"].as_str().unwrap_or("").contains("went wrong"))
        .count();
    assert_eq!(notices, 1, "told once");
    assert_eq!(from(&events, &ghost).iter().filter(|e| e["content"]["body"] == "after the poison").count(), 1);

    // Nothing waits any more: healthy again.
    let deadline = Instant::now() + WAIT;
    while env.health().await.0 != 200 {
        assert!(Instant::now() < deadline, "health never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
