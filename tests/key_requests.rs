//! A room key that Synapse dropped (it does not re-send to-device messages to an appservice
//! that was down) is asked for and recovered: the bot requests it from the sender's device,
//! whose client (matrix-sdk, forwarding on, as in Element) re-shares it, and the parked
//! message is proxied.

#![recursion_limit = "256"]

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_key_dropped_while_down_is_asked_for_and_the_message_proxied() {
    let mut env = TestEnv::start("key-request").await;
    let (owner, observer, room) = encrypted_owner_and_observer(&env, "keyowner", "keywatch").await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    // A new session, shared while the daemon is down: Synapse drops the bot's copy.
    env.kill_daemon();
    room.discard_room_key().await.unwrap();
    let original = owner.send_text(&room_id, "a: key came back").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    env.start_daemon().await;

    let msg = observer
        .wait_for(&room_id, "the ghost's message after the key request", |e| {
            e["sender"] == ghost.as_str() && e["type"] == "m.room.message" && e["content"]["body"] == "key came back"
        })
        .await;
    assert_eq!(msg["content"]["msgtype"], "m.text");
    observer.wait_redacted(&room_id, &original).await;
    let log = env.daemon_log();
    assert!(log.contains("asked the sender's device for a room key"), "the key was asked for");
    assert!(log.contains("imported a room key we asked for"), "and came from the answer");
}
