//! Proxying against a real Synapse, seen by a second user: tags, formatting, replies, media,
//! escapes, latch, edits.

#![recursion_limit = "256"]

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_message_is_proxied_and_original_redacted() {
    let env = TestEnv::start("proxy-basic").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "owner", "observer").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    let original = owner.send_text(&room_id, "a: hello world").await;
    let msg = observer
        .wait_for(&room_id, "the ghost's message", |e| e["sender"] == ghost.as_str() && e["type"] == "m.room.message")
        .await;
    assert_eq!(msg["content"]["body"], "hello world");
    assert_eq!(msg["content"]["msgtype"], "m.text");
    observer.wait_redacted(&room_id, &original).await;

    // The ghost carries the member's name.
    let profile = observer.client.account().fetch_user_profile_of(&ghost).await.unwrap();
    assert_eq!(profile.get("displayname").and_then(|v| v.as_str()), Some("Alice"));

    // Untagged messages and bare tags stay as they are.
    let plain = owner.send_text(&room_id, "just me").await;
    let bare = owner.send_text(&room_id, "a:").await;
    let marker = owner.send_text(&room_id, "a: marker").await;
    observer.wait_redacted(&room_id, &marker).await;
    let events = observer.messages(&room_id).await;
    for id in [&plain, &bare] {
        let e = events.iter().find(|e| e["event_id"] == id.as_str()).unwrap();
        assert!(!is_redacted(e), "{id} should not be redacted");
    }
    assert_eq!(from(&events, &ghost).len(), 2, "exactly two ghost messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_formatting_escape_and_media() {
    let env = TestEnv::start("proxy-rich").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "rich", "watcher").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    // A reply with formatting: relation and HTML kept, tag gone from both bodies.
    let parent = observer.send_text(&room_id, "question?").await;
    let original = owner
        .send(
            &room_id,
            json!({
                "msgtype": "m.text",
                "body": format!("> <{}> question?\n\na: **bold** answer", observer.user_id),
                "format": "org.matrix.custom.html",
                "formatted_body": format!("<mx-reply><blockquote>question?</blockquote></mx-reply><p>a: <strong>bold</strong> answer</p>"),
                "m.relates_to": {"m.in_reply_to": {"event_id": parent}},
                "m.mentions": {"user_ids": [observer.user_id]},
            }),
        )
        .await;
    let msg = observer
        .wait_for(&room_id, "the ghost's reply", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"].as_str().is_some_and(|b| b.contains("answer"))
        })
        .await;
    let c = &msg["content"];
    assert_eq!(c["m.relates_to"]["m.in_reply_to"]["event_id"], parent.as_str());
    assert_eq!(c["body"], format!("> <{}> question?\n\n**bold** answer", observer.user_id));
    assert_eq!(c["format"], "org.matrix.custom.html");
    assert_eq!(
        c["formatted_body"],
        "<mx-reply><blockquote>question?</blockquote></mx-reply><p><strong>bold</strong> answer</p>"
    );
    assert_eq!(c["m.mentions"]["user_ids"][0], observer.user_id.as_str());
    observer.wait_redacted(&room_id, &original).await;

    // An image keeps its media fields; the caption loses the tag.
    let image = owner
        .send(&room_id, json!({"msgtype": "m.image", "body": "a: look", "url": "mxc://localhost/abc", "info": {"h": 1600, "w": 900, "mimetype": "image/png"}}))
        .await;
    let msg = observer
        .wait_for(&room_id, "the ghost's image", |e| {
            e["sender"] == ghost.as_str() && e["content"]["msgtype"] == "m.image"
        })
        .await;
    assert_eq!(msg["content"]["body"], "look");
    assert_eq!(msg["content"]["url"], "mxc://localhost/abc");
    assert_eq!(msg["content"]["info"]["h"], 1600);
    observer.wait_redacted(&room_id, &image).await;

    // A message in a thread stays in the thread.
    let root = observer.send_text(&room_id, "thread root").await;
    owner
        .send(&room_id, json!({"msgtype": "m.text", "body": "a: in the thread",
            "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": true, "m.in_reply_to": {"event_id": root}}}))
        .await;
    let msg = observer
        .wait_for(&room_id, "the ghost's thread message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "in the thread"
        })
        .await;
    assert_eq!(msg["content"]["m.relates_to"]["rel_type"], "m.thread");
    assert_eq!(msg["content"]["m.relates_to"]["event_id"], root.as_str());

    // `\` escapes: never proxied.
    let escaped = owner.send_text(&room_id, "\\a: not proxied").await;
    let marker = owner.send_text(&room_id, "a: after escape").await;
    observer.wait_redacted(&room_id, &marker).await;
    let events = observer.messages(&room_id).await;
    let e = events.iter().find(|e| e["event_id"] == escaped.as_str()).unwrap();
    assert!(!is_redacted(e));
    assert!(!from(&events, &ghost).iter().any(|e| e["content"]["body"] == "not proxied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latch_and_edit_to_proxy() {
    let env = TestEnv::start("proxy-latch").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "latcher", "seer").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    assert!(owner.command(&env, &room_id, "pk;member new Bob").await.contains("Member created"));
    assert!(owner.command(&env, &room_id, "pk;member bob proxy b:text").await.contains("b:text"));
    let alice = env.ghost(&system, "alice");
    let bob = env.ghost(&system, "bob");

    let reply = owner.command(&env, &room_id, "pk;autoproxy latch").await;
    assert!(reply.contains("latch mode enabled"), "{reply}");
    owner.send_text(&room_id, "a: first").await;
    observer
        .wait_for(&room_id, "alice's first", |e| e["sender"] == alice.as_str() && e["content"]["body"] == "first")
        .await;
    let untagged = owner.send_text(&room_id, "second").await;
    observer
        .wait_for(&room_id, "alice latched", |e| e["sender"] == alice.as_str() && e["content"]["body"] == "second")
        .await;
    observer.wait_redacted(&room_id, &untagged).await;
    owner.send_text(&room_id, "b: third").await;
    observer
        .wait_for(&room_id, "bob's third", |e| e["sender"] == bob.as_str() && e["content"]["body"] == "third")
        .await;
    owner.send_text(&room_id, "fourth").await;
    observer
        .wait_for(&room_id, "bob latched", |e| e["sender"] == bob.as_str() && e["content"]["body"] == "fourth")
        .await;
    // `\\` lets go of the latch; later untagged messages stay.
    owner.send_text(&room_id, "\\\\unlatch").await;
    let after = owner.send_text(&room_id, "fifth stays").await;
    let reply = owner.command(&env, &room_id, "pk;autoproxy off").await;
    assert!(reply.contains("Autoproxy disabled"), "{reply}");
    let events = observer.messages(&room_id).await;
    assert!(!is_redacted(events.iter().find(|e| e["event_id"] == after.as_str()).unwrap()));

    // Editing an unproxied message to add a tag: a new ghost message; original and edit go.
    let original = owner.send(&room_id, json!({"msgtype": "m.text", "body": "typo here"})).await;
    let edit = owner
        .send(
            &room_id,
            json!({
                "msgtype": "m.text", "body": "* b: fixed",
                "m.new_content": {"msgtype": "m.text", "body": "b: fixed"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": original}
            }),
        )
        .await;
    let msg = observer
        .wait_for(&room_id, "bob's edit-proxy", |e| e["sender"] == bob.as_str() && e["content"]["body"] == "fixed")
        .await;
    assert!(msg["content"].get("m.new_content").is_none());
    assert!(msg["content"].get("m.relates_to").is_none());
    observer.wait_redacted(&room_id, &original).await;
    observer.wait_redacted(&room_id, &edit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redaction_power_the_bot_says_so_once() {
    let env = TestEnv::start("proxy-nopower").await;
    let owner = env.user("powerless").await;
    let room = owner.create_room_with(&env, &[], false).await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");
    let first = owner.send_text(&room_id, "a: one").await;
    owner
        .wait_for(&room_id, "first ghost message", |e| e["sender"] == ghost.as_str() && e["content"]["body"] == "one")
        .await;
    let second = owner.send_text(&room_id, "a: two").await;
    owner
        .wait_for(&room_id, "second ghost message", |e| e["sender"] == ghost.as_str() && e["content"]["body"] == "two")
        .await;
    let marker = owner.command(&env, &room_id, "pk;system").await;
    assert!(marker.contains("Test System"));
    let events = owner.messages(&room_id).await;
    for id in [&first, &second] {
        assert!(!is_redacted(events.iter().find(|e| e["event_id"] == id.as_str()).unwrap()), "cannot be redacted");
    }
    let notices: Vec<_> = from(&events, &env.bot)
        .into_iter()
        .filter(|e| e["content"]["body"].as_str().unwrap_or_default().contains("can't remove the original"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice per room");
}
