//! Full profiles against a real Synapse: every field of a system and a member set, shown and
//! cleared with PluralKit's aliases, in a plain and in an encrypted room; invalid values
//! refused with the field named; keepproxy and the member's autoproxy flag acting on
//! proxying.

#![recursion_limit = "256"]

mod support;

use matrix_sdk::{
    attachment::AttachmentConfig,
    ruma::{RoomId, events::room::message::TextMessageEventContent},
};
use serde_json::Value;
use support::*;

async fn ok(env: &TestEnv, user: &User, room_id: &RoomId, command: &str, expect: &str) -> Value {
    let reply = user.command_event(env, room_id, command).await;
    let body = reply["content"]["body"].as_str().unwrap_or_default();
    assert!(body.starts_with('✅') || !body.starts_with('❌'), "{command}: {body}");
    assert!(body.contains(expect), "{command}: expected {expect:?} in {body}");
    reply
}

/// Waits until the ghost's public profile shows `value` in `field`.
async fn ghost_shows(env: &TestEnv, ghost: &matrix_sdk::ruma::UserId, field: &str, value: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let url = format!("{}/_matrix/client/v3/profile/{ghost}", env.hs_url);
        let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        let profile: Value = serde_json::from_slice(&body).unwrap_or_default();
        if profile[field] == value {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the ghost's {field} is {profile}, not {value}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Every field, from the owner's side, in `room_id` (plain or encrypted).
async fn every_field(env: &TestEnv, owner: &User, room_id: &RoomId) {
    system_with_alice(env, owner, room_id).await;

    ok(env, owner, room_id, "pk;system description We are *many*.\nSecond line", "description set").await;
    ok(env, owner, room_id, "pk;system pronouns they/them", "they/them").await;
    ok(env, owner, room_id, "pk;system colour #AA00ff", "`#aa00ff`").await;
    ok(env, owner, room_id, "pk;system banner mxc://localhost/banner", "mxc://localhost/banner").await;
    ok(env, owner, room_id, "pk;system pfp mxc://localhost/avatar", "mxc://localhost/avatar").await;
    let card = ok(env, owner, room_id, "pk;system", "they/them").await;
    let html = card["content"]["formatted_body"].as_str().unwrap();
    assert!(html.contains("We are *many*.<br />\nSecond line"), "shown as typed, lines kept: {html}");
    assert!(html.contains("<code>#aa00ff</code>") && html.contains("mxc://localhost/banner"), "{html}");

    ok(env, owner, room_id, "pk;m alice bday May 27", "May 27").await;
    ok(env, owner, room_id, "pk;m alice pronouns she/her", "she/her").await;
    ok(env, owner, room_id, "pk;m alice color ff8800", "#ff8800").await;
    ok(env, owner, room_id, "pk;m alice desc Hello there", "Hello there").await;
    ok(env, owner, room_id, "pk;m alice banner mxc://localhost/mbanner", "mbanner").await;
    let card = ok(env, owner, room_id, "pk;member alice", "she/her").await;
    let body = card["content"]["body"].as_str().unwrap();
    for fact in ["May 27", "#ff8800", "Hello there", "mbanner"] {
        assert!(body.contains(fact), "{fact} on the card: {body}");
    }
    ok(env, owner, room_id, "pk;m alice birthday", "May 27").await;
    ok(env, owner, room_id, "pk;m alice birthday -clear", "cleared").await;
    ok(env, owner, room_id, "pk;m alice birthday", "has no birthday").await;
    ok(env, owner, room_id, "pk;system description -clear", "cleared").await;
    ok(env, owner, room_id, "pk;system description", "no description").await;

    // Invalid values: refused, naming the field; nothing changes.
    for (command, field) in [
        ("pk;m alice color red", "colour"),
        ("pk;m alice birthday someday", "birthday"),
        ("pk;m alice avatar http://example.org/a.png", "avatar"),
    ] {
        let reply = owner.command(env, room_id, command).await;
        assert!(reply.starts_with('❌') && reply.contains(field), "{command}: {reply}");
    }
    let long = format!("pk;system description {}", "d".repeat(1001));
    let reply = owner.command(env, room_id, &long).await;
    assert!(reply.starts_with('❌') && reply.contains("1000"), "{reply}");
    ok(env, owner, room_id, "pk;m alice colour", "#ff8800").await;

    // An image captioned with the command sets the avatar (in an encrypted room the image is
    // encrypted, and the bot uploads it again in the clear); the ghost shows it.
    let png = b"\x89PNG\r\n\x1a\n not really an image, but bytes".to_vec();
    let caption = TextMessageEventContent::plain("pk;member alice avatar");
    let config = AttachmentConfig::new().caption(Some(caption));
    let sent = owner.room(room_id).send_attachment("a.png", &mime::IMAGE_PNG, png, config).await.unwrap();
    let reply = owner.reply_to(env, room_id, sent.event_id.as_str()).await;
    let body = reply["content"]["body"].as_str().unwrap_or_default();
    assert!(body.starts_with('✅') && body.contains("mxc://"), "{body}");
    let avatar: String = body[body.find("mxc://").unwrap()..].chars().take_while(|c| *c != '`').collect();
    let ghost = env.ghost(owner.user_id.localpart(), "alice");
    ghost_shows(env, &ghost, "avatar_url", &avatar).await;

    // The name format renames the member accounts.
    ok(env, owner, room_id, "pk;system tag 🌸", "🌸").await;
    ghost_shows(env, &ghost, "displayname", "Alice 🌸").await;
    ok(env, owner, room_id, "pk;config name format {tag} {name}", "🌸 Alice").await;
    ghost_shows(env, &ghost, "displayname", "🌸 Alice").await;
    ok(env, owner, room_id, "pk;config", "{tag} {name}").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_in_a_plain_room() {
    let env = TestEnv::start("profiles").await;
    let owner = env.user("profiler").await;
    let room = owner.create_room(&env, &[]).await;
    every_field(&env, &owner, &room_id_of(&room)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_in_an_encrypted_room() {
    let env = TestEnv::start("profiles-e2ee").await;
    let (owner, _observer, room) = encrypted_owner_and_observer(&env, "cryptoprofiler", "cryptoviewer").await;
    every_field(&env, &owner, &room_id_of(&room)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepproxy_and_the_members_autoproxy_flag() {
    let env = TestEnv::start("keepproxy").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "keeper", "keepwatch").await;
    let system = system_with_alice(&env, &owner, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    ok(&env, &owner, &room_id, "pk;member alice keepproxy on", "now stay").await;
    owner.send_text(&room_id, "a: tag and all").await;
    observer
        .wait_for(&room_id, "the message with its tag", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "a: tag and all"
        })
        .await;
    ok(&env, &owner, &room_id, "pk;member alice keepproxy off", "now removed").await;

    // Autoproxy off for Alice: a tag still works, latch never picks her.
    ok(&env, &owner, &room_id, "pk;member alice autoproxy off", "no longer pick").await;
    ok(&env, &owner, &room_id, "pk;autoproxy latch", "latch").await;
    owner.send_text(&room_id, "a: tagged still works").await;
    observer
        .wait_for(&room_id, "the tagged message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "tagged still works"
        })
        .await;
    let untagged = owner.send_text(&room_id, "untagged stays mine").await;
    // The owner's messages are handled in order: once this command is answered, the
    // untagged message before it was handled too.
    ok(&env, &owner, &room_id, "pk;member alice autoproxy", "never pick").await;
    let events = owner.messages(&room_id).await;
    assert!(!from(&events, &ghost).iter().any(|e| e["content"]["body"] == "untagged stays mine"));
    let mine = events.iter().find(|e| e["event_id"] == untagged.as_str()).expect("the untagged message");
    assert!(!is_redacted(mine), "left as the owner's own");

    // With the flag on again, latch picks her.
    ok(&env, &owner, &room_id, "pk;member alice autoproxy on", "again").await;
    owner.send_text(&room_id, "a: latch me").await;
    owner.send_text(&room_id, "now latched").await;
    observer
        .wait_for(&room_id, "the latched message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "now latched"
        })
        .await;
    // Four messages went out as Alice: the card counts them (once each).
    ok(&env, &owner, &room_id, "pk;member alice", "**Messages:** 4").await;
}
