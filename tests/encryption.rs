//! Encrypted rooms against a real Synapse, with matrix-sdk clients (their own crypto) playing
//! the humans: commands and proxying work encrypted, ghosts and the bot are cross-signed
//! identities, restarts keep the same devices, depleted one-time keys are replenished.

#![recursion_limit = "256"]

mod support;

use std::time::{Duration, Instant};

use matrix_sdk::ruma::{OwnedDeviceId, UserId};
use serde_json::json;
use support::*;

/// The devices of `user` as `client` sees them: (device ID, cross-signed by its owner).
async fn devices_of(client: &matrix_sdk::Client, user: &UserId) -> Vec<(OwnedDeviceId, bool)> {
    client.encryption().request_user_identity(user).await.unwrap();
    let devices = client.encryption().get_user_devices(user).await.unwrap();
    devices.devices().map(|d| (d.device_id().to_owned(), d.is_cross_signed_by_owner())).collect()
}

/// Asserts `user` has exactly one device, cross-signed by a valid identity; returns its ID.
async fn assert_verified_identity(client: &matrix_sdk::Client, user: &UserId) -> OwnedDeviceId {
    let identity = client.encryption().request_user_identity(user).await.unwrap();
    assert!(identity.is_some(), "{user} has a cross-signing identity (master + self-signing key)");
    let devices = devices_of(client, user).await;
    assert_eq!(devices.len(), 1, "{user} has one device: {devices:?}");
    assert!(devices[0].1, "{user}'s device is cross-signed by its owner");
    devices[0].0.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_room_commands_proxying_verification_and_restart() {
    let mut env = TestEnv::start("e2ee").await;
    let owner = env.user("cryptowner").await;
    let observer = env.user("cryptwatch").await;
    owner.start_sync().await;
    observer.start_sync().await;
    let room = owner.create_encrypted_room(&env, &[&observer.user_id]).await;
    let room_id = room_id_of(&room);
    observer.join(&room_id).await;
    owner.wait_joined(&room_id, &observer.user_id).await;

    // Commands are read (decrypted) and answered (encrypted).
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    let original = owner.send_text(&room_id, "a: secret hello").await;
    let msg = observer
        .wait_for(&room_id, "the ghost's decrypted message", |e| {
            e["sender"] == ghost.as_str() && e["type"] == "m.room.message" && e["content"]["body"] == "secret hello"
        })
        .await;
    assert_eq!(msg["content"]["msgtype"], "m.text");
    observer.wait_redacted(&room_id, &original).await;

    // The ghost's message really was encrypted, by a device its owner cross-signed.
    let mut options = matrix_sdk::room::MessagesOptions::backward();
    options.limit = 50u32.into();
    let chunk = observer.room(&room_id).messages(options).await.unwrap().chunk;
    let ghost_event = chunk
        .iter()
        .find(|e| {
            e.raw().get_field::<String>("sender").ok().flatten().as_deref() == Some(ghost.as_str())
                && e.encryption_info().is_some()
        })
        .expect("an encrypted ghost event");
    let info = ghost_event.encryption_info().unwrap();
    assert!(
        !matches!(
            info.verification_state,
            matrix_sdk::deserialized_responses::VerificationState::Unverified(
                matrix_sdk::deserialized_responses::VerificationLevel::UnsignedDevice
            )
        ),
        "the ghost's device is signed: {:?}",
        info.verification_state
    );
    let ghost_device = assert_verified_identity(&observer.client, &ghost).await;
    let bot_device = assert_verified_identity(&observer.client, &env.bot).await;
    assert_eq!(info.sender_device.as_deref(), Some(ghost_device.as_ref()));

    // kill -9 and restart: the same devices keep working, no new identities.
    env.kill_daemon();
    env.start_daemon().await;
    owner.send_text(&room_id, "a: after restart").await;
    observer
        .wait_for(&room_id, "the ghost's message after restart", |e| {
            e["sender"] == ghost.as_str() && e["type"] == "m.room.message" && e["content"]["body"] == "after restart"
        })
        .await;
    assert_eq!(assert_verified_identity(&observer.client, &ghost).await, ghost_device);
    assert_eq!(assert_verified_identity(&observer.client, &env.bot).await, bot_device);
    let reply = owner.command(&env, &room_id, "pk;system").await;
    assert!(reply.contains("Test System"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depleted_one_time_keys_are_replenished() {
    let env = TestEnv::start("e2ee-otk").await;
    let owner = env.user("otkowner").await;
    let thief = env.user("otkthief").await;
    owner.start_sync().await;
    let room = owner.create_encrypted_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    owner.send_text(&room_id, "a: first").await;
    owner
        .wait_for(&room_id, "the ghost's message", |e| e["sender"] == ghost.as_str() && e["content"]["body"] == "first")
        .await;
    let device = devices_of(&thief.client, &ghost).await.first().expect("ghost device").0.clone();

    // What the homeserver holds for the ghost's device, asked as the appservice.
    let http = reqwest::Client::new();
    let count = || {
        let url = format!(
            "{}/_matrix/client/v3/keys/upload?user_id={}&device_id={}",
            env.hs_url,
            urlencoding(ghost.as_str()),
            device
        );
        let req = http.post(url).bearer_auth(&env.as_token).header("content-type", "application/json").body("{}");
        async move {
            let v: serde_json::Value =
                serde_json::from_slice(&req.send().await.unwrap().bytes().await.unwrap()).unwrap();
            v["one_time_key_counts"]["signed_curve25519"].as_u64().unwrap_or(0)
        }
    };
    let before = count().await;
    assert!(before > 0, "the ghost published one-time keys");

    // Someone claims every one of them.
    let token = thief.client.access_token().unwrap();
    for _ in 0..before {
        let body = json!({"one_time_keys": {ghost.as_str(): {device.as_str(): "signed_curve25519"}}});
        let resp = http
            .post(format!("{}/_matrix/client/v3/keys/claim", env.hs_url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    assert_eq!(count().await, 0, "all claimed");

    // The next transaction that concerns the ghost carries its count; the daemon tops up.
    owner.send_text(&room_id, "a: second").await;
    owner
        .wait_for(&room_id, "the second ghost message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "second"
        })
        .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let n = count().await;
        if n >= before / 2 {
            break;
        }
        assert!(Instant::now() < deadline, "one-time keys not replenished (count {n})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
