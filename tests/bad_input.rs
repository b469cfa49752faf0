//! Bad input on purpose, against a real Synapse: markup injected through names and tags, and
//! input far over any sensible size (a transaction of 10,000 events, a 1 MiB message, a
//! 100,000-character member name). Each gets a clear outcome, the daemon stays up, and
//! nothing else is lost.

#![recursion_limit = "256"]

mod support;

use serde_json::{Value, json};
use support::*;

fn formatted(reply: &Value) -> &str {
    reply["content"]["formatted_body"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_markup_is_shown_as_text() {
    let env = TestEnv::start("markup").await;
    let owner = env.user("injector").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let reply = owner.command(&env, &room_id, "pk;system new <b>Sys</b>").await;
    assert!(reply.contains("System created"), "{reply}");

    let evil = "<img src=x onerror=alert(1)>[click](https://evil.example) <a href=\"https://evil.example\">x</a>";
    let created = owner.command_event(&env, &room_id, &format!("pk;member new {evil}")).await;
    let html = formatted(&created);
    assert!(created["content"]["body"].as_str().unwrap().contains("Member created"), "{created}");
    assert!(!html.contains("<img") && !html.contains("<a "), "markup got through: {html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"), "the name is shown as typed: {html}");

    // The system card, the member list, and a tag with backticks and HTML in it.
    for command in ["pk;system", "pk;system list"] {
        let reply = owner.command_event(&env, &room_id, command).await;
        let html = formatted(&reply);
        assert!(!html.contains("<img") && !html.contains("<a ") && !html.contains("<b>"), "{command}: {html}");
    }
    let tagged = owner.command_event(&env, &room_id, "pk;system tag a``<b>x</b>").await;
    let html = formatted(&tagged);
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("<code>a``&lt;b&gt;x&lt;/b&gt;</code>"), "the tag in one piece: {html}");

    // Line breaks and other control characters are refused in names.
    let refused = owner.command(&env, &room_id, "pk;member new \"Line\nbreak\"").await;
    assert!(refused.starts_with("❌") && refused.contains("control characters"), "{refused}");
    let list = owner.command(&env, &room_id, "pk;system list").await;
    assert!(!list.contains("Line"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_input_gets_a_clear_outcome_and_nothing_else_is_lost() {
    let env = TestEnv::start("oversized").await;
    let owner = env.user("bigsender").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    let event = |id: &str, body: &str| {
        json!({"type": "m.room.message", "room_id": room_id, "sender": owner.user_id, "event_id": id,
               "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": body}})
    };

    // 10,000 events in one transaction: stored, all handled, and the tagged last one proxied.
    let mut events: Vec<Value> =
        (0..9_999).map(|i| event(&format!("$bulk-{i}:localhost"), &format!("chatter {i}"))).collect();
    events.push(event("$bulk-last:localhost", "a: the last of ten thousand"));
    let (status, _) = env.push_transaction("t-10k", &json!({"events": events}).to_string(), Some(&env.hs_token)).await;
    assert_eq!(status, 200);

    // A tagged message with a 1 MiB body (more than any event may hold): left as it is, with
    // a notice that says why.
    let huge = format!("a: {}", "z".repeat(1024 * 1024));
    let (status, _) =
        env.push_transaction("t-1mib", &txn_with(&event("$huge:localhost", &huge)), Some(&env.hs_token)).await;
    assert_eq!(status, 200);

    // A member name of 100,000 characters: refused by the parser, and the refusal is short.
    let long_name = format!("pk;member new {}", "n".repeat(100_000));
    let (status, _) =
        env.push_transaction("t-name", &txn_with(&event("$longname:localhost", &long_name)), Some(&env.hs_token)).await;
    assert_eq!(status, 200);

    // 40 s is enough on SQLite; 10,000 events take ~45 s on PostgreSQL in a debug build.
    owner
        .wait_for_within(&room_id, "the last of the 10,000", WAIT * 4, |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "the last of ten thousand"
        })
        .await;
    let refusal = owner.reply_to(&env, &room_id, "$huge:localhost").await;
    assert!(refusal["content"]["body"].as_str().unwrap().contains("too large"), "{refusal}");
    let refusal = owner.reply_to(&env, &room_id, "$longname:localhost").await;
    let body = refusal["content"]["body"].as_str().unwrap();
    assert!(body.contains("too long") && body.len() < 1_000, "{body}");
    wait_journal_idle(&env).await;

    // Nothing else lost or broken: the daemon is up, and the next message is proxied as usual.
    assert_eq!(env.health().await.0, 200);
    let original = owner.send_text(&room_id, "a: still here").await;
    owner
        .wait_for(&room_id, "the next message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "still here"
        })
        .await;
    owner.wait_redacted(&room_id, &original).await;
    let messages = owner.messages(&room_id).await;
    assert!(
        !from(&messages, &ghost).iter().any(|e| e["content"]["body"].as_str().unwrap_or_default().starts_with("zzz"))
    );
    let list = owner.command(&env, &room_id, "pk;system list").await;
    assert!(list.contains("Alice") && !list.contains("nnnn"), "{list}");
    let pool = env.db().await;
    let dead: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(dead, 0, "every event had an outcome, none was given up on");
}
