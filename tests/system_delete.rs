//! `pk;system delete` against a real Synapse, in an encrypted room: the typed-back ID, a
//! cancellation, and after the confirmation nothing of the system in the database, the ghost
//! gone from the room with its profile cleared and its crypto store and device removed, and
//! the old slug never handed out again.

#![recursion_limit = "256"]

mod support;

use sha2::{Digest, Sha256};
use support::*;

async fn count(env: &TestEnv, sql: &str, arg: &str) -> i64 {
    let pool = env.db().await;
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).bind(arg).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_system_leaves_nothing_behind() {
    let env = TestEnv::start("sysdelete").await;
    let (owner, observer, room) = encrypted_owner_and_observer(&env, "deleter", "deletewatch").await;
    delete_flow(&env, &owner, &observer, &room_id_of(&room), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_in_a_plain_room() {
    let env = TestEnv::start("sysdelete-plain").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "plaindeleter", "plaindeletewatch").await;
    delete_flow(&env, &owner, &observer, &room_id, false).await;
}

/// The whole deletion; `encrypted`: the room is, so the ghost has a crypto store to remove.
async fn delete_flow(
    env: &TestEnv,
    owner: &User,
    observer: &User,
    room_id: &matrix_sdk::ruma::RoomId,
    encrypted: bool,
) {
    let room_id = room_id.to_owned();
    let slug = system_with_alice(env, owner, &room_id).await;
    let ghost = env.ghost(&slug, "alice");
    owner.command(env, &room_id, "pk;member alice description Soon gone").await;
    owner.send_text(&room_id, "a: before the end").await;
    observer
        .wait_for(&room_id, "the ghost's message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "before the end"
        })
        .await;
    let store = env.root.join("data/crypto").join(&hex::encode(Sha256::digest(ghost.as_str().as_bytes()))[..32]);
    assert_eq!(store.is_dir(), encrypted, "a crypto store only where there is encryption: {}", store.display());
    let system_id: String = {
        let pool = env.db().await;
        let id = sqlx::query_scalar("SELECT short_id FROM systems WHERE slug = $1").bind(&slug).fetch_one(&pool).await;
        pool.close().await;
        id.unwrap()
    };

    // Anything but the ID cancels.
    let ask = owner.command(env, &room_id, "pk;system delete").await;
    assert!(ask.contains(&format!("`{system_id}`")), "{ask}");
    let cancel = owner.send_text(&room_id, "no wait").await;
    let reply = owner.reply_to(env, &room_id, cancel.as_str()).await;
    assert!(reply["content"]["body"].as_str().unwrap().contains("cancelled"), "{reply}");
    assert_eq!(count(env, "SELECT COUNT(*) FROM systems WHERE slug = $1", &slug).await, 1);

    // The ID deletes.
    owner.command(env, &room_id, "pk;system delete").await;
    let confirm = owner.send_text(&room_id, &system_id.to_uppercase()).await;
    let reply = owner.reply_to(env, &room_id, confirm.as_str()).await;
    assert!(reply["content"]["body"].as_str().unwrap().contains("is deleted"), "{reply}");

    observer
        .wait_for(&room_id, "the ghost leaving", |e| {
            e["type"] == "m.room.member" && e["state_key"] == ghost.as_str() && e["content"]["membership"] == "leave"
        })
        .await;
    let profile = reqwest::get(format!("{}/_matrix/client/v3/profile/{ghost}", env.hs_url)).await.unwrap();
    let profile: serde_json::Value = serde_json::from_slice(&profile.bytes().await.unwrap()).unwrap_or_default();
    assert!(profile.get("displayname").is_none_or(|d| d.is_null() || d == ""), "profile cleared: {profile}");
    assert!(!store.exists(), "the crypto store is removed");

    let owner_id = owner.user_id.as_str();
    for (what, sql, arg) in [
        ("systems", "SELECT COUNT(*) FROM systems WHERE slug = $1", slug.as_str()),
        ("accounts", "SELECT COUNT(*) FROM accounts WHERE user_id = $1", owner_id),
        ("members", "SELECT COUNT(*) FROM members WHERE name = $1", "Alice"),
        ("tags", "SELECT COUNT(*) FROM proxy_tags WHERE prefix = $1", "a:"),
        ("message records", "SELECT COUNT(*) FROM proxied_messages WHERE sender = $1", owner_id),
        ("crypto identity", "SELECT COUNT(*) FROM crypto_identities WHERE user_id = $1", ghost.as_str()),
        ("rooms of the ghost", "SELECT COUNT(*) FROM ghost_rooms WHERE user_id = $1", ghost.as_str()),
        ("pending confirmations", "SELECT COUNT(*) FROM pending_confirmations WHERE user_id = $1", owner_id),
        (
            "the ghost's shown name",
            "SELECT COUNT(*) FROM ghosts WHERE display_name IS NOT NULL AND user_id = $1",
            ghost.as_str(),
        ),
    ] {
        assert_eq!(count(env, sql, arg).await, 0, "{what} left behind");
    }
    let devices = reqwest::Client::new()
        .post(format!("{}/_matrix/client/v3/keys/query", env.hs_url))
        .bearer_auth(observer.client.access_token().unwrap())
        .header("content-type", "application/json")
        .body(serde_json::json!({"device_keys": {ghost.as_str(): []}}).to_string())
        .send()
        .await
        .unwrap();
    let devices: serde_json::Value = serde_json::from_slice(&devices.bytes().await.unwrap()).unwrap();
    let left = devices["device_keys"][ghost.as_str()].as_object().map_or(0, |d| d.len());
    assert_eq!(left, 0, "the ghost's device is deleted: {devices}");

    // A new system gets a new slug: the retired ghost's account is never handed out again.
    let reply = owner.command(env, &room_id, "pk;system new Again").await;
    assert!(reply.contains("System created"), "{reply}");
    assert!(!reply.contains(&format!("slug `{slug}`")), "{reply}");
    assert_eq!(count(env, "SELECT COUNT(*) FROM systems WHERE slug = $1", &slug).await, 0);
}
