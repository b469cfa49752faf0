//! The transaction endpoint and the journal: authentication, malformed bodies, replays and
//! duplicates, kill -9 and restart, resuming unprocessed work, invites while down.

#![recursion_limit = "256"]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// Fetches an event's full JSON as the room sees it (with room_id, for a transaction).
async fn event_json(user: &User, room_id: &matrix_sdk::ruma::RoomId, id: &matrix_sdk::ruma::EventId) -> Value {
    let mut e = user.wait_for(room_id, "the event", |e| e["event_id"] == id.as_str()).await;
    e["room_id"] = json!(room_id);
    e
}

async fn count_bodies(
    user: &User,
    room_id: &matrix_sdk::ruma::RoomId,
    ghost: &matrix_sdk::ruma::UserId,
    body: &str,
) -> usize {
    from(&user.messages(room_id).await, ghost).iter().filter(|e| e["content"]["body"] == body).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_endpoint_auth_and_validation() {
    let env = TestEnv::start("intake").await;
    let owner = env.user("intaker").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    let event = json!({
        "type": "m.room.message", "room_id": room_id, "sender": owner.user_id, "event_id": "$intake-test:localhost",
        "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "a: sneaky"}
    });
    let body = txn_with(&event);

    let (status, err) = env.push_transaction("t-missing", &body, None).await;
    assert_eq!((status, err["errcode"].as_str()), (401, Some("M_MISSING_TOKEN")));
    let (status, err) = env.push_transaction("t-wrong", &body, Some("not-the-token")).await;
    assert_eq!((status, err["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    let (status, err) = env.push_transaction("t-notjson", "{not json", Some(&env.hs_token)).await;
    assert_eq!((status, err["errcode"].as_str()), (400, Some("M_NOT_JSON")));
    let (status, err) = env.push_transaction("t-badjson", "{\"events\": 5}", Some(&env.hs_token)).await;
    assert_eq!((status, err["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    let (status, err) = env.push_transaction("t-array", "[]", Some(&env.hs_token)).await;
    assert_eq!((status, err["errcode"].as_str()), (400, Some("M_BAD_JSON")));
    for txn in ["t-missing", "t-wrong", "t-notjson", "t-badjson", "t-array"] {
        assert!(!env.journal_has(txn).await, "rejected transaction {txn} must not be stored");
    }

    // Other endpoints check the token too.
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", env.daemon_url());
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(http.post(url("/_matrix/app/v1/ping")).body("{}").send().await.unwrap()), 401);
    let bearer = format!("Bearer {}", env.hs_token);
    assert_eq!(
        status(
            http.post(url("/_matrix/app/v1/ping")).header("authorization", &bearer).body("{}").send().await.unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            http.get(url("/_matrix/app/v1/rooms/%23x:localhost"))
                .header("authorization", &bearer)
                .send()
                .await
                .unwrap()
        ),
        404
    );
    assert_eq!(
        status(
            http.get(url("/_matrix/app/v1/users/@x:localhost"))
                .header("authorization", "Bearer nope")
                .send()
                .await
                .unwrap()
        ),
        403
    );
    // A body over the limit is refused before it is read into memory.
    let huge = format!("{{\"events\": [], \"pad\": \"{}\"}}", "x".repeat(33 * 1024 * 1024));
    let (status, _) = env.push_transaction("t-huge", &huge, Some(&env.hs_token)).await;
    assert_eq!(status, 413);

    // Nothing of the rejected ones was proxied; the legacy query-parameter form is accepted.
    let resp = http
        .put(url(&format!("/transactions/t-legacy?access_token={}", env.hs_token)))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    owner
        .wait_for(&room_id, "the legacy transaction's message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "sneaky"
        })
        .await;
    assert!(env.journal_has("t-legacy").await);
    assert!(!env.journal_has("t-huge").await);
    // The deprecated form is logged, once.
    let again = http
        .put(url(&format!("/transactions/t-legacy-2?access_token={}", env.hs_token)))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);
    assert_eq!(env.daemon_log().matches("?access_token= (deprecated)").count(), 1, "logged once");
    wait_journal_idle(&env).await;
    assert_eq!(count_bodies(&owner, &room_id, &ghost, "sneaky").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_daemon_replayed_and_duplicated_transactions_proxy_once() {
    let mut env = TestEnv::start("crash").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "crasher", "witness").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    // kill -9, then a tagged message while the daemon is down.
    env.kill_daemon();
    let original = owner.send_text(&room_id, "a: sent while down").await;
    let event = event_json(&owner, &room_id, &original).await;
    env.start_daemon().await;

    // We also deliver the same event ourselves, twice under one transaction ID and once more
    // under another (Synapse itself re-sends it after the restart as well).
    let body = txn_with(&event);
    for txn in ["dup-1", "dup-1", "dup-2"] {
        let (status, _) = env.push_transaction(txn, &body, Some(&env.hs_token)).await;
        assert_eq!(status, 200);
    }
    observer
        .wait_for(&room_id, "the ghost's message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "sent while down"
        })
        .await;
    observer.wait_redacted(&room_id, &original).await;

    // Wait until Synapse's own re-delivery has arrived and everything is processed.
    let deadline = Instant::now() + WAIT;
    loop {
        let pool = env.db().await;
        let like = format!("%{}%", original);
        let body = if env.postgres() { "convert_from(body, 'UTF8')" } else { "CAST(body AS TEXT)" };
        let sql = format!("SELECT COUNT(*) FROM journal WHERE {body} LIKE $1");
        let copies: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(like).fetch_one(&pool).await.unwrap();
        pool.close().await;
        if copies >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "Synapse never re-delivered the event (copies: {copies})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_journal_idle(&env).await;
    assert_eq!(count_bodies(&observer, &room_id, &ghost, "sent while down").await, 1, "proxied exactly once");

    // The same again with a clean SIGTERM shutdown in between.
    env.stop_daemon();
    let second = owner.send_text(&room_id, "a: after clean stop").await;
    env.start_daemon().await;
    observer
        .wait_for(&room_id, "the second ghost message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "after clean stop"
        })
        .await;
    observer.wait_redacted(&room_id, &second).await;
    wait_journal_idle(&env).await;
    assert_eq!(count_bodies(&observer, &room_id, &ghost, "after clean stop").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprocessed_journal_entries_resume_after_restart() {
    let mut env = TestEnv::start("resume").await;
    let owner = env.user("resumer").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    env.kill_daemon();

    // A transaction that was stored (acknowledged) but not processed when the daemon died,
    // journaled the way versions before the room queue did (its events not queued yet).
    // Its event is one Synapse will never send again, so only the journal can bring it back.
    let event = json!({
        "type": "m.room.message", "room_id": room_id, "sender": owner.user_id, "event_id": "$resume-test:localhost",
        "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "a: from the journal"}
    });
    {
        let pool = env.db().await;
        sqlx::query(
            "INSERT INTO journal (txn_id, body_hash, body, received_at) VALUES ('stored-before-crash', 'h', $1, 0)",
        )
        .bind(txn_with(&event).into_bytes())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    env.start_daemon().await;
    owner
        .wait_for(&room_id, "the resumed message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "from the journal"
        })
        .await;
    wait_journal_idle(&env).await;
    assert_eq!(count_bodies(&owner, &room_id, &ghost, "from the journal").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_joins_rooms_it_was_invited_to_while_down() {
    let mut env = TestEnv::start("invites").await;
    let owner = env.user("inviter").await;
    env.kill_daemon();
    let mut req = matrix_sdk::ruma::api::client::room::create_room::v3::Request::new();
    req.invite = vec![env.bot.clone()];
    let room = owner.client.create_room(req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!owner.joined_members(room.room_id()).await.contains(&env.bot));
    env.start_daemon().await;
    owner.wait_joined(room.room_id(), &env.bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homeserver_outage_keeps_the_transaction_until_it_is_back() {
    // Two tries per request, so the outage outlasts the client's own retries at once.
    let mut env = TestEnv::start_without_daemon("outage", "").await;
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    std::fs::write(&env.config_path, text.replace("[homeserver]\n", "[homeserver]\nretry_attempts = 2\n")).unwrap();
    env.start_daemon().await;
    let (owner, _observer, room_id) = owner_and_observer(&env, "outager", "outwatch").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    env.stop_synapse();
    // A transaction arrives while the homeserver is away (as if sent just before it went).
    let event = json!({
        "type": "m.room.message", "room_id": room_id, "sender": owner.user_id, "event_id": "$outage-test:localhost",
        "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "a: said during the outage"}
    });
    let (status, _) = env.push_transaction("during-outage", &txn_with(&event), Some(&env.hs_token)).await;
    assert_eq!(status, 200, "stored and acknowledged even though the homeserver is down");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pool = env.db().await;
    let (state, attempts): (String, i64) =
        sqlx::query_as("SELECT state, attempts FROM room_events WHERE event_id = '$outage-test:localhost'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(state, "pending", "the event waits instead of being dropped");
    assert!(attempts >= 1, "it was tried");

    env.restart_synapse();
    owner
        .wait_for(&room_id, "the ghost's message after the outage", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "said during the outage"
        })
        .await;
    wait_journal_idle(&env).await;
    assert_eq!(count_bodies(&owner, &room_id, &ghost, "said during the outage").await, 1);
}
