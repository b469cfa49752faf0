//! Linked accounts against a real Synapse: only the asked account's `yes`, as a reply to the
//! bot's question, links it; a linked account proxies and runs commands for the system; other
//! users never see the account list; unlinking, never the last account.

#![recursion_limit = "256"]

mod support;

use matrix_sdk::ruma::RoomId;
use serde_json::{Value, json};
use support::*;

async fn answer(user: &User, room_id: &RoomId, question: &str, text: &str) -> matrix_sdk::ruma::OwnedEventId {
    user.send(
        room_id,
        json!({"msgtype": "m.text", "body": text, "m.relates_to": {"m.in_reply_to": {"event_id": question}}}),
    )
    .await
}

fn body(e: &Value) -> &str {
    e["content"]["body"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_asked_accounts_yes_links_it() {
    let env = TestEnv::start("links").await;
    let (alice, bob, carol) = (env.user("linkalice").await, env.user("linkbob").await, env.user("linkcarol").await);
    let room = alice.create_room(&env, &[&bob.user_id, &carol.user_id]).await;
    let room_id = room_id_of(&room);
    bob.join(&room_id).await;
    carol.join(&room_id).await;
    links_flow(&env, &alice, &bob, &carol, &room_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_in_an_encrypted_room() {
    let env = TestEnv::start("links-e2ee").await;
    let (alice, bob, carol) = (env.user("linkalice").await, env.user("linkbob").await, env.user("linkcarol").await);
    for user in [&alice, &bob, &carol] {
        user.start_sync().await;
    }
    let room = alice.create_encrypted_room(&env, &[&bob.user_id, &carol.user_id]).await;
    let room_id = room_id_of(&room);
    bob.join(&room_id).await;
    carol.join(&room_id).await;
    alice.wait_joined(&room_id, &carol.user_id).await;
    links_flow(&env, &alice, &bob, &carol, &room_id).await;
}

async fn links_flow(env: &TestEnv, alice: &User, bob: &User, carol: &User, room_id: &RoomId) {
    let (env, room_id) = (env, room_id.to_owned());
    let system = system_with_alice(env, alice, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    let question = alice.command_event(env, &room_id, "pk;link @linkbob:localhost").await;
    assert!(body(&question).contains("Reply `yes`"), "{question}");
    assert_eq!(question["content"]["m.mentions"]["user_ids"], json!([bob.user_id.as_str()]), "bob is pinged");
    let q = question["event_id"].as_str().unwrap();

    // Somebody else's yes, and bob's yes that is not a reply, link nothing.
    answer(carol, &room_id, q, "yes").await;
    bob.send_text(&room_id, "yes").await;
    let reply = carol.command(env, &room_id, "pk;system").await;
    assert!(reply.contains("don't have a system"), "{reply}");
    let reply = bob.command(env, &room_id, "pk;system").await;
    assert!(reply.contains("don't have a system"), "{reply}");

    // Bob's yes as a reply links him.
    let yes = answer(bob, &room_id, q, "Yes!").await;
    let linked = bob.reply_to(env, &room_id, yes.as_str()).await;
    assert!(body(&linked).contains("now linked"), "{linked}");

    // Bob now proxies and runs commands for the system.
    let original = bob.send_text(&room_id, "a: from bob").await;
    carol
        .wait_for(&room_id, "bob's message as alice's ghost", |e| {
            e["sender"] == ghost.as_str() && body(e) == "from bob"
        })
        .await;
    carol.wait_redacted(&room_id, &original).await;
    let card = bob.command(env, &room_id, "pk;system").await;
    assert!(card.contains("@linkalice:localhost") && card.contains("@linkbob:localhost"), "{card}");
    // Carol sees the card without the accounts.
    let card = carol.command(env, &room_id, "pk;system @linkalice:localhost").await;
    assert!(card.contains("Test System") && !card.contains("Accounts") && !card.contains("@linkbob"), "{card}");

    // Unlink bob; the last account stays.
    let reply = alice.command(env, &room_id, "pk;unlink @linkbob:localhost").await;
    assert!(reply.contains("no longer linked"), "{reply}");
    let reply = bob.command(env, &room_id, "pk;system").await;
    assert!(reply.contains("don't have a system"), "{reply}");
    let reply = alice.command(env, &room_id, "pk;unlink").await;
    assert!(reply.starts_with('❌') && reply.contains("last account"), "{reply}");
    // The old question is closed: a late yes does nothing.
    let late = answer(bob, &room_id, q, "yes").await;
    let marker = bob.command(env, &room_id, "pk;system").await;
    assert!(marker.contains("don't have a system"), "{marker}");
    let events = bob.messages(&room_id).await;
    assert!(!events.iter().any(|e| e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == late.as_str()));
}
