//! Identities survive the loss of their store (issue 10 §4): a ghost's private cross-signing
//! keys are kept in its secret storage, so a store deleted while the daemon is stopped comes
//! back as a new device signed by the same identity. An observer that verified the ghost
//! earlier still trusts it, sees the same master key, and decrypts its next message.

#![recursion_limit = "256"]

mod support;

use std::time::{Duration, Instant};

use matrix_sdk::ruma::{OwnedDeviceId, UserId};
use sha2::{Digest, Sha256};
use support::*;

async fn secrets_stored(env: &TestEnv, user: &UserId) -> bool {
    let pool = env.db().await;
    let stored: Option<i64> = sqlx::query_scalar(
        "SELECT CASE WHEN secrets_stored THEN 1 ELSE 0 END FROM crypto_identities WHERE user_id = $1",
    )
    .bind(user.as_str())
    .fetch_optional(&pool)
    .await
    .unwrap();
    pool.close().await;
    stored == Some(1)
}

/// The ghost's devices as the observer's client sees them: (ID, signed by its owner).
async fn devices_of(client: &matrix_sdk::Client, user: &UserId) -> Vec<(OwnedDeviceId, bool)> {
    client.encryption().request_user_identity(user).await.unwrap();
    let devices = client.encryption().get_user_devices(user).await.unwrap();
    devices.devices().map(|d| (d.device_id().to_owned(), d.is_cross_signed_by_owner())).collect()
}

async fn master_key(client: &matrix_sdk::Client, user: &UserId) -> (String, bool) {
    let identity = client.encryption().request_user_identity(user).await.unwrap().expect("an identity");
    let key = identity.master_key().get_first_key().expect("a master key").to_base64();
    (key, identity.is_verified())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_is_rebuilt_under_the_same_identity() {
    let mut env = TestEnv::start("recovery").await;
    let (owner, observer, room) = encrypted_owner_and_observer(&env, "keeper", "verifier").await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    owner.send_text(&room_id, "a: before").await;
    observer
        .wait_for(&room_id, "the first message", |e| e["sender"] == ghost.as_str() && e["content"]["body"] == "before")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !secrets_stored(&env, &ghost).await {
        assert!(Instant::now() < deadline, "the ghost's keys never reached secret storage");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The observer verifies the ghost's identity (with its own cross-signing keys).
    observer.client.encryption().bootstrap_cross_signing(None).await.unwrap();
    let identity = observer.client.encryption().request_user_identity(&ghost).await.unwrap().unwrap();
    identity.verify().await.unwrap();
    let (master_before, verified) = master_key(&observer.client, &ghost).await;
    assert!(verified, "the observer verified the ghost");
    let before = devices_of(&observer.client, &ghost).await;
    assert_eq!(before.len(), 1);

    // The ghost's store is lost while the daemon is down.
    env.stop_daemon();
    let digest = hex::encode(Sha256::digest(ghost.as_bytes()));
    let store = env.root.join("data/crypto").join(&digest[..32]);
    assert!(store.is_dir(), "the store is where it should be: {}", store.display());
    std::fs::remove_dir_all(&store).unwrap();
    env.start_daemon().await;

    // The next message: decrypted by the observer, from a new device of the same, still
    // verified identity.
    owner.send_text(&room_id, "a: after").await;
    observer
        .wait_for(&room_id, "the message after the loss", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "after"
        })
        .await;
    let (master_after, verified) = master_key(&observer.client, &ghost).await;
    assert_eq!(master_after, master_before, "the same master key");
    assert!(verified, "still verified: nobody sees an identity change");
    let after = devices_of(&observer.client, &ghost).await;
    assert_eq!(after.len(), 1, "the old device is gone: {after:?}");
    assert_ne!(after[0].0, before[0].0, "a new device");
    assert!(after[0].1, "signed by the same identity");
    let device = observer.client.encryption().get_device(&ghost, &after[0].0).await.unwrap().unwrap();
    assert!(device.is_verified(), "verified through the identity the observer trusts");
    assert!(env.daemon_log().contains("identity restored"), "the log says what happened");

    // `pk;admin … crypto restore` does the same on demand; `reset` starts over with a new
    // master key, for when secret storage is gone too.
    env.stop_daemon();
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(&env.config_path, format!("{config}\n[admin]\nusers = [\"@verifier:localhost\"]\n")).unwrap();
    env.start_daemon().await;
    let reply = observer.command(&env, &room_id, &format!("pk;admin ghost {ghost} crypto restore")).await;
    assert!(reply.contains("new device"), "{reply}");
    let (master_restored, verified) = master_key(&observer.client, &ghost).await;
    assert_eq!(master_restored, master_before, "restore keeps the identity");
    assert!(verified);
    owner.send_text(&room_id, "a: after restore").await;
    observer
        .wait_for(&room_id, "the message after the restore", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "after restore"
        })
        .await;
    let reply = observer.command(&env, &room_id, &format!("pk;admin ghost {ghost} crypto reset")).await;
    assert!(reply.contains("starts over"), "{reply}");
    let (master_reset, _) = master_key(&observer.client, &ghost).await;
    assert_ne!(master_reset, master_before, "a reset makes a new identity");
    owner.send_text(&room_id, "a: after reset").await;
    observer
        .wait_for(&room_id, "the message after the reset", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "after reset"
        })
        .await;
}
