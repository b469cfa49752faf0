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
    let (owner, observer, room) = encrypted_owner_and_observer(&env, "cryptowner", "cryptwatch").await;
    let room_id = room_id_of(&room);

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
    // The bot's replies were encrypted too.
    assert!(
        chunk.iter().any(|e| e.raw().get_field::<String>("sender").ok().flatten().as_deref() == Some(env.bot.as_str())
            && e.encryption_info().is_some()),
        "an encrypted reply from the bot"
    );
    assert!(
        !chunk.iter().any(|e| {
            let sender = e.raw().get_field::<String>("sender").ok().flatten();
            let ours = sender.as_deref().is_some_and(|s| s == env.bot.as_str() || s == ghost.as_str());
            ours && e.raw().get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.message")
                && e.encryption_info().is_none()
        }),
        "nothing of ours in the clear in an encrypted room"
    );
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

    // Editing an unproxied encrypted message to add a tag proxies it, as in plain rooms
    // (the original is fetched and decrypted to keep its relation).
    let typo = owner.send_text(&room_id, "no tag yet").await;
    let edit = owner
        .send(
            &room_id,
            json!({"msgtype": "m.text", "body": "* a: edited in",
                   "m.new_content": {"msgtype": "m.text", "body": "a: edited in"},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": typo}}),
        )
        .await;
    observer
        .wait_for(&room_id, "the ghost's edit-proxy", |e| {
            e["sender"] == ghost.as_str() && e["type"] == "m.room.message" && e["content"]["body"] == "edited in"
        })
        .await;
    observer.wait_redacted(&room_id, &typo).await;
    observer.wait_redacted(&room_id, &edit).await;

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
    // Wait until the ghost's first uploads are over (the count holds still), or they would
    // top it up while it is being emptied.
    let mut before = count().await;
    let mut steady = 0;
    let deadline = Instant::now() + WAIT;
    while steady < 3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = count().await;
        steady = if now == before { steady + 1 } else { 0 };
        before = now;
        assert!(Instant::now() < deadline, "the one-time-key count never settled");
    }
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

/// A bare-bones E2EE client built on matrix-sdk-crypto's `OlmMachine` (in memory), so the test
/// decides when the room key goes out.
struct RawClient {
    hs: pluralmatrix::homeserver::Homeserver,
    machine: matrix_sdk_crypto::OlmMachine,
    user_id: matrix_sdk::ruma::OwnedUserId,
}

impl RawClient {
    async fn login(env: &TestEnv, localpart: &str) -> RawClient {
        env.user(localpart).await; // registers (and logs in a first device we do not use)
        let body = json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart}, "password": PASSWORD});
        let resp = reqwest::Client::new()
            .post(format!("{}/_matrix/client/v3/login", env.hs_url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let login: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
        let user_id = UserId::parse(login["user_id"].as_str().unwrap()).unwrap();
        let device: OwnedDeviceId = login["device_id"].as_str().unwrap().into();
        let mut hs =
            pluralmatrix::homeserver::Homeserver::new(&env.hs_url, login["access_token"].as_str().unwrap()).unwrap();
        hs.discover_versions().await.unwrap();
        let machine = matrix_sdk_crypto::OlmMachine::new(&user_id, &device).await;
        let client = RawClient { hs, machine, user_id };
        client.flush().await;
        client
    }

    /// Sends what the machine asks for (keys upload, queries, claims, to-device).
    async fn flush(&self) {
        use matrix_sdk_crypto::types::requests::AnyOutgoingRequest as R;
        for _ in 0..8 {
            let requests = self.machine.outgoing_requests().await.unwrap();
            if requests.is_empty() {
                return;
            }
            for r in requests {
                let id = r.request_id();
                match r.request() {
                    R::KeysUpload(req) => {
                        let resp = self.hs.send(req.clone(), None).await.unwrap();
                        self.machine.mark_request_as_sent(id, &resp).await.unwrap();
                    }
                    R::KeysQuery(req) => {
                        let mut q = matrix_sdk::ruma::api::client::keys::get_keys::v3::Request::new();
                        q.device_keys = req.device_keys.clone();
                        let resp = self.hs.send(q, None).await.unwrap();
                        self.machine.mark_request_as_sent(id, &resp).await.unwrap();
                    }
                    R::KeysClaim(req) => {
                        let resp = self.hs.send(req.clone(), None).await.unwrap();
                        self.machine.mark_request_as_sent(id, &resp).await.unwrap();
                    }
                    R::ToDeviceRequest(req) => self.send_to_device(req).await,
                    _ => {}
                }
            }
        }
    }

    async fn send_to_device(&self, req: &matrix_sdk_crypto::types::requests::ToDeviceRequest) {
        let r = matrix_sdk::ruma::api::client::to_device::send_event_to_device::v3::Request::new_raw(
            req.event_type.clone(),
            req.txn_id.clone(),
            req.messages.clone(),
        );
        let resp = self.hs.send(r, None).await.unwrap();
        self.machine.mark_request_as_sent(&req.txn_id, &resp).await.unwrap();
    }

    async fn send_plain(
        &self,
        room: &matrix_sdk::ruma::RoomId,
        content: serde_json::Value,
    ) -> matrix_sdk::ruma::OwnedEventId {
        let raw = matrix_sdk::ruma::serde::Raw::new(&content).unwrap().cast_unchecked();
        let txn = matrix_sdk::ruma::TransactionId::new();
        let ty = if content.get("algorithm").is_some() { "m.room.encrypted" } else { "m.room.message" };
        let req = matrix_sdk::ruma::api::client::message::send_message_event::v3::Request::new_raw(
            room.to_owned(),
            txn,
            ty.into(),
            raw,
        );
        self.hs.send(req, None).await.unwrap().event_id
    }
}

/// A user on a [`RawClient`] with a system (member Alice, tag `a:text`), an encrypted room with
/// the bot and a watcher, and a tagged encrypted message sent with its room key held back.
struct HeldBack {
    late: RawClient,
    watcher: User,
    room: matrix_sdk::ruma::OwnedRoomId,
    original: matrix_sdk::ruma::OwnedEventId,
    held: Vec<std::sync::Arc<matrix_sdk_crypto::types::requests::ToDeviceRequest>>,
}

async fn send_with_key_held_back(env: &TestEnv, localpart: &str) -> HeldBack {
    use matrix_sdk::ruma::api::client::room::create_room;
    let late = RawClient::login(env, localpart).await;
    let watcher = env.user(&format!("{localpart}-watcher")).await;
    watcher.start_sync().await;

    // Set up a system in a plain room first (commands work anywhere).
    let mut req = create_room::v3::Request::new();
    req.invite = vec![env.bot.clone(), watcher.user_id.clone()];
    let plain = late.hs.send(req, None).await.unwrap().room_id;
    watcher.join(&plain).await;
    watcher.wait_joined(&plain, &env.bot).await;
    for (cmd, answer) in [
        ("pk;system new Late", "created"),
        ("pk;member new Alice", "created"),
        ("pk;member alice proxy a:text", "a:text"),
    ] {
        late.send_plain(&plain, json!({"msgtype": "m.text", "body": cmd})).await;
        watcher
            .wait_for(&plain, "the bot's answer", |e| {
                e["sender"] == env.bot.as_str()
                    && e["content"]["body"].as_str().is_some_and(|b| b.contains(answer) && !b.contains("Unknown"))
            })
            .await;
    }

    // An encrypted room with the bot as moderator (room v12: the creator is implied).
    let mut req = create_room::v3::Request::new();
    req.invite = vec![env.bot.clone(), watcher.user_id.clone()];
    req.initial_state = vec![
        matrix_sdk::ruma::events::InitialStateEvent::with_empty_state_key(
            matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any(),
    ];
    let room = late.hs.send(req, None).await.unwrap().room_id;
    watcher.join(&room).await;
    watcher.wait_joined(&room, &env.bot).await;
    let levels = json!({"users": {env.bot.as_str(): 50}});
    let put = matrix_sdk::ruma::api::client::state::send_state_event::v3::Request::new_raw(
        room.clone(),
        "m.room.power_levels".into(),
        String::new(),
        matrix_sdk::ruma::serde::Raw::new(&levels).unwrap().cast_unchecked(),
    );
    late.hs.send(put, None).await.unwrap();

    // Prepare the room key for the bot's device, but hold it back.
    let members = [late.user_id.clone(), env.bot.clone()];
    late.machine.update_tracked_users(members.iter().map(|u| u.as_ref())).await.unwrap();
    late.flush().await;
    if let Some((id, claim)) = late.machine.get_missing_sessions(members.iter().map(|u| u.as_ref())).await.unwrap() {
        let resp = late.hs.send(claim, None).await.unwrap();
        late.machine.mark_request_as_sent(&id, &resp).await.unwrap();
    }
    let settings = matrix_sdk_crypto::EncryptionSettings::default();
    let held = late.machine.share_room_key(&room, members.iter().map(|u| u.as_ref()), settings).await.unwrap();
    assert!(!held.is_empty(), "a room key to hold back");

    // The tagged message goes first.
    let content = matrix_sdk::ruma::serde::Raw::new(&json!({"msgtype": "m.text", "body": "a: late but there"}))
        .unwrap()
        .cast_unchecked();
    let encrypted = late.machine.encrypt_room_event_raw(&room, "m.room.message", &content).await.unwrap();
    let encrypted: serde_json::Value = encrypted.content.deserialize_as_unchecked().unwrap();
    let original = late.send_plain(&room, encrypted).await;
    HeldBack { late, watcher, room, original, held }
}

async fn parked_count(env: &TestEnv, event_id: &str) -> i64 {
    let pool = env.db().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM parked_events WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_room_key_still_proxies_once_it_arrives() {
    let env = TestEnv::start("e2ee-late").await;
    let HeldBack { late, watcher, room, original, held } = send_with_key_held_back(&env, "latekey").await;
    let ghost = env.ghost("latekey", "alice");

    // The daemon parks it rather than dropping it.
    let deadline = Instant::now() + WAIT;
    while parked_count(&env, original.as_str()).await != 1 {
        assert!(Instant::now() < deadline, "the event was not parked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Now the key arrives; the message is proxied and the original removed.
    for share in &held {
        late.send_to_device(share).await;
    }
    watcher.wait_redacted(&room, &original).await;
    let ghost_msgs: Vec<_> = watcher
        .messages(&room)
        .await
        .into_iter()
        .filter(|e| e["sender"] == ghost.as_str() && (e["type"] == "m.room.encrypted" || e["type"] == "m.room.message"))
        .collect();
    assert_eq!(ghost_msgs.len(), 1, "exactly one ghost message: {ghost_msgs:?}");
    assert_eq!(parked_count(&env, original.as_str()).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_never_comes_is_reported_to_the_sender() {
    let mut env = TestEnv::start_without_daemon("e2ee-nokey", "[encryption]\nroom_key_wait_seconds = 3\n").await;
    env.start_daemon().await;
    let HeldBack { watcher, room, original, .. } = send_with_key_held_back(&env, "nokey").await;
    // Parked first, then given up on: the sender is told, and nothing was proxied.
    let notice = watcher
        .wait_for(&room, "the bot's notice", |e| {
            e["sender"] == env.bot.as_str()
                && e["content"]["body"].as_str().is_some_and(|b| b.contains("could not decrypt"))
        })
        .await;
    assert_eq!(notice["type"], "m.room.message", "decrypted by the watcher: the notice itself is encrypted");
    assert_eq!(parked_count(&env, original.as_str()).await, 0);
    let events = watcher.messages(&room).await;
    assert!(!is_redacted(events.iter().find(|e| e["event_id"] == original.as_str()).unwrap()));
    assert!(from(&events, &env.ghost("nokey", "alice")).is_empty());
}
