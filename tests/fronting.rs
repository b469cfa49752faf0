//! Fronting and proxied messages against a real Synapse, real clients playing the users:
//! switches and front autoproxy, autoproxy per room, the front views, switch move with its
//! confirmation; `pk;edit`, `pk;reproxy`, `pk;message`; reactions (❌, 🔔, ❓). Plain and
//! encrypted rooms.

#![recursion_limit = "256"]

mod support;

use std::time::{Duration, Instant};

use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, RoomId, UserId, events::AnyMessageLikeEventContent, serde::Raw};
use serde_json::{Value, json};
use support::*;

/// Waits for `ghost`'s message whose body is `body`; returns its event ID.
async fn ghost_says(watcher: &User, room_id: &RoomId, ghost: &UserId, body: &str) -> OwnedEventId {
    let e = watcher
        .wait_for(room_id, &format!("{ghost} saying {body:?}"), |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == body && !is_redacted(e)
        })
        .await;
    OwnedEventId::try_from(e["event_id"].as_str().unwrap()).unwrap()
}

async fn react(user: &User, room_id: &RoomId, target: &OwnedEventId, key: &str) -> OwnedEventId {
    let content = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}});
    let raw: Raw<AnyMessageLikeEventContent> = Raw::new(&content).unwrap().cast_unchecked();
    user.room(room_id).send_raw("m.reaction", raw).await.unwrap().response.event_id
}

/// A system with Alice (`a:text`) and Bea (`b:text`).
async fn alice_and_bea(env: &TestEnv, owner: &User, room_id: &RoomId) -> String {
    let system = system_with_alice(env, owner, room_id).await;
    assert!(owner.command(env, room_id, "pk;member new Bea").await.contains("Member created"));
    assert!(owner.command(env, room_id, "pk;member bea proxy b:text").await.contains("b:text"));
    system
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switches_drive_front_autoproxy_per_room() {
    let env = TestEnv::start("fronting-switches").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "fronter", "friend").await;
    let system = alice_and_bea(&env, &owner, &room_id).await;
    let (alice, bea) = (env.ghost(&system, "alice"), env.ghost(&system, "bea"));
    let other_room = owner.create_room(&env, &[&observer.user_id]).await;
    let other = room_id_of(&other_room);
    observer.join(&other).await;

    // Front mode in this room only; nobody fronts yet.
    let reply = owner.command(&env, &room_id, "pk;autoproxy front").await;
    assert!(reply.contains("front mode enabled in this room"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;ap").await;
    assert!(reply.contains("front") && reply.contains("nobody") && reply.contains("set for this room"), "{reply}");

    let reply = owner.command(&env, &room_id, "pk;switch bea alice").await;
    assert!(reply.contains("Current fronters are now **Bea**, **Alice**"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;switch bea alice").await;
    assert!(reply.starts_with("❌"), "the same switch twice is refused: {reply}");
    // Moving the latest switch asks first; `yes` moves it.
    let reply = owner.command(&env, &room_id, "pk;switch move 2h").await;
    assert!(reply.contains("This will move the latest switch") && reply.contains("yes"), "{reply}");
    let yes = owner.send_text(&room_id, "yes").await;
    let done = owner.reply_to(&env, &room_id, yes.as_str()).await;
    assert!(done["content"]["body"].as_str().unwrap().contains("Switch moved"), "{done}");
    // An untagged message goes out as the first fronter, at once.
    let original = owner.send_text(&room_id, "hello from the front").await;
    ghost_says(&observer, &room_id, &bea, "hello from the front").await;
    observer.wait_redacted(&room_id, &original).await;
    // The other room has no mode of its own, and the default is off: nothing is proxied.
    let untouched = owner.send_text(&other, "just me here").await;
    let reply = owner.command(&env, &other, "pk;autoproxy").await;
    assert!(reply.contains("is off") && reply.contains("your default"), "{reply}");
    let events = observer.messages(&other).await;
    let e = events.iter().find(|e| e["event_id"] == untouched.as_str()).unwrap();
    assert!(!is_redacted(e), "the other room follows its own (default) mode");

    // A switch takes effect at once; a switch-out stops front autoproxy.
    assert!(owner.command(&env, &room_id, "pk;sw alice").await.contains("Current fronter is now **Alice**"));
    owner.send_text(&room_id, "now alice").await;
    ghost_says(&observer, &room_id, &alice, "now alice").await;
    assert!(owner.command(&env, &room_id, "pk;switch out").await.contains("Switch-out registered"));
    let after_out = owner.send_text(&room_id, "nobody fronts").await;
    let marker = owner.send_text(&room_id, "b: marker").await;
    observer.wait_redacted(&room_id, &marker).await;
    let events = observer.messages(&room_id).await;
    assert!(!is_redacted(events.iter().find(|e| e["event_id"] == after_out.as_str()).unwrap()));

    // The global default reaches rooms without their own mode; this room keeps front.
    let reply = owner.command(&env, &room_id, "pk;autoproxy bea -global").await;
    assert!(reply.contains("by default"), "{reply}");
    owner.send_text(&other, "default is bea").await;
    ghost_says(&observer, &other, &bea, "default is bea").await;

    // Views: who fronts, the history, the breakdown; others see them unless private.
    let reply = owner.command(&env, &room_id, "pk;front").await;
    assert!(reply.contains("Nobody is fronting"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;fh").await;
    assert!(
        reply.contains("(switch-out)") && reply.contains("**Alice**") && reply.contains("**Bea**, **Alice**"),
        "{reply}"
    );
    let reply = owner.command(&env, &room_id, "pk;fp 1h").await;
    assert!(
        reply.contains("Front breakdown") && reply.contains("**Alice**") && reply.contains("*(no fronter)*"),
        "{reply}"
    );
    let reply = observer.command(&env, &room_id, "pk;system @fronter:localhost fronthistory").await;
    assert!(reply.contains("Front history"), "{reply}");
    assert!(owner.command(&env, &room_id, "pk;system privacy fronthistory private").await.contains("private"));
    let reply = observer.command(&env, &room_id, "pk;system @fronter:localhost fh").await;
    assert!(reply.contains("private"), "{reply}");

    let reply = owner.command(&env, &room_id, "pk;switch move 30m").await;
    assert!(reply.starts_with("❌"), "not before the previous switch: {reply}");
    let reply = owner.command(&env, &room_id, "pk;switch delete").await;
    assert!(reply.contains("This will delete the latest switch"), "{reply}");
    let no = owner.send_text(&room_id, "no").await;
    let cancelled = owner.reply_to(&env, &room_id, no.as_str()).await;
    assert!(cancelled["content"]["body"].as_str().unwrap().contains("cancelled"), "{cancelled}");
    let reply = owner.command(&env, &room_id, "pk;switch delete -y").await;
    assert!(reply.contains("Switch deleted"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;front").await;
    assert!(reply.contains("**Alice**"), "the switch before it is current again: {reply}");

    // Settings: time zone and latch timeout.
    let reply = owner.command(&env, &room_id, "pk;config timezone europe/berlin").await;
    assert!(reply.contains("Europe/Berlin"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;config").await;
    assert!(
        reply.contains("Europe/Berlin") && reply.contains("autoproxy timeout") && reply.contains("proxy case"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_reproxy_message_and_reactions() {
    let env = TestEnv::start("fronting-messages").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "editor", "reader").await;
    let system = alice_and_bea(&env, &owner, &room_id).await;
    let (alice, bea) = (env.ghost(&system, "alice"), env.ghost(&system, "bea"));
    // The reader has a system too: it must never be able to touch the editor's messages.
    observer.command(&env, &room_id, "pk;system new Reader").await;

    owner.send_text(&room_id, "a: helo wrld").await;
    let first = ghost_says(&observer, &room_id, &alice, "helo wrld").await;
    // Without a reply: the latest proxied message of the system in the room.
    let cmd = owner.send_text(&room_id, "pk;edit hello world").await;
    let edit = observer
        .wait_for(&room_id, "the ghost's edit", |e| {
            e["sender"] == alice.as_str() && e["content"]["m.relates_to"]["rel_type"] == "m.replace"
        })
        .await;
    assert_eq!(edit["content"]["m.relates_to"]["event_id"], first.as_str());
    assert_eq!(edit["content"]["m.new_content"]["body"], "hello world");
    observer.wait_redacted(&room_id, &cmd).await;
    // A substitution works on the text as edited.
    owner.send_text(&room_id, "pk;edit -regex s/WORLD/there/i").await;
    observer
        .wait_for(&room_id, "the substitution", |e| {
            e["sender"] == alice.as_str() && e["content"]["m.new_content"]["body"] == "hello there"
        })
        .await;
    owner.send_text(&room_id, "pk;edit -regex s/there/world/").await;
    observer
        .wait_for(&room_id, "the second substitution", |e| {
            e["sender"] == alice.as_str() && e["content"]["m.new_content"]["body"] == "hello world"
        })
        .await;

    // Someone else's system cannot edit or delete it.
    let reply = observer.command(&env, &room_id, "pk;edit mine now").await;
    assert!(reply.starts_with("❌"), "{reply}");
    let reply = observer
        .send(
            &room_id,
            json!({"msgtype": "m.text", "body": "pk;message -delete",
            "m.relates_to": {"m.in_reply_to": {"event_id": first}}}),
        )
        .await;
    let answer = observer.reply_to(&env, &room_id, reply.as_str()).await;
    assert!(answer["content"]["body"].as_str().unwrap().contains("another system"), "{answer}");

    // Anyone may ask who sent it.
    let ask = observer
        .send(
            &room_id,
            json!({"msgtype": "m.text", "body": "pk;message",
            "m.relates_to": {"m.in_reply_to": {"event_id": first}}}),
        )
        .await;
    let card = observer.reply_to(&env, &room_id, ask.as_str()).await;
    let card = card["content"]["body"].as_str().unwrap().to_owned();
    assert!(card.contains("Alice") && card.contains(owner.user_id.as_str()) && card.contains("Test System"), "{card}");

    // Reproxy as Bea: Bea's ghost says it (as edited), Alice's copy goes.
    let cmd = owner
        .send(
            &room_id,
            json!({"msgtype": "m.text", "body": "pk;reproxy bea",
            "m.relates_to": {"m.in_reply_to": {"event_id": first}}}),
        )
        .await;
    let second = ghost_says(&observer, &room_id, &bea, "hello world").await;
    observer.wait_redacted(&room_id, &first).await;
    observer.wait_redacted(&room_id, &cmd).await;

    // ❌ by someone else does nothing; by the owner it removes the message and the reaction.
    let stranger = react(&observer, &room_id, &second, "❌").await;
    let owners = react(&owner, &room_id, &second, "❌\u{fe0f}").await;
    observer.wait_redacted(&room_id, &second).await;
    observer.wait_redacted(&room_id, &owners).await;
    let events = observer.messages(&room_id).await;
    let e = events.iter().find(|e| e["event_id"] == stranger.as_str()).unwrap();
    assert!(!is_redacted(e), "a stranger's ❌ is left alone");

    // 🔔 pings the account that sent the message.
    owner.send_text(&room_id, "b: ping me").await;
    let third = ghost_says(&observer, &room_id, &bea, "ping me").await;
    let bell = react(&observer, &room_id, &third, "🔔").await;
    let ping = observer
        .wait_for(&room_id, "the ping", |e| {
            e["sender"] == env.bot.as_str() && e["content"]["m.mentions"]["user_ids"][0].is_string()
        })
        .await;
    assert_eq!(ping["content"]["m.mentions"]["user_ids"], json!([owner.user_id.as_str()]));
    assert!(ping["content"]["body"].as_str().unwrap().contains("Bea"), "{ping}");
    observer.wait_redacted(&room_id, &bell).await;
    // With pings off, 🔔 does nothing.
    assert!(owner.command(&env, &room_id, "pk;config ping off").await.contains("off"));
    let quiet = react(&observer, &room_id, &third, "🛎️").await;
    let marker = owner.send_text(&room_id, "b: after the bell").await;
    observer.wait_redacted(&room_id, &marker).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = observer.messages(&room_id).await;
    assert!(!is_redacted(events.iter().find(|e| e["event_id"] == quiet.as_str()).unwrap()), "not handled");
    let pings = events
        .iter()
        .filter(|e| e["sender"] == env.bot.as_str() && e["content"]["m.mentions"]["user_ids"].is_array())
        .count();
    assert_eq!(pings, 1, "one ping only");

    // ❓ sends the info to the reactor's direct chat (encrypted: the reader syncs for its keys).
    observer.start_sync().await;
    react(&observer, &room_id, &third, "❓").await;
    let dm = invited_room(&observer).await;
    observer.join(&dm).await;
    let info = observer
        .wait_for(&dm, "the message info", |e| {
            e["content"]["body"].as_str().is_some_and(|b| b.contains("Proxied message"))
        })
        .await;
    assert!(info["content"]["body"].as_str().unwrap().contains("Bea"), "{info}");
}

async fn invited_room(user: &User) -> OwnedRoomId {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        user.sync().await;
        if let Some(room) = user.client.invited_rooms().first() {
            return room.room_id().to_owned();
        }
        assert!(Instant::now() < deadline, "no invite to a direct chat");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_rooms_switch_edit_and_react() {
    let env = TestEnv::start("fronting-encrypted").await;
    let (owner, observer, room) = encrypted_owner_and_observer(&env, "cryptfront", "cryptread").await;
    let room_id = room_id_of(&room);
    let system = alice_and_bea(&env, &owner, &room_id).await;
    let bea = env.ghost(&system, "bea");

    assert!(owner.command(&env, &room_id, "pk;switch bea").await.contains("**Bea**"));
    assert!(owner.command(&env, &room_id, "pk;ap front").await.contains("front mode"));
    owner.send_text(&room_id, "secret front").await;
    let sent = ghost_says(&observer, &room_id, &bea, "secret front").await;
    let raw: Value = observer.messages(&room_id).await.into_iter().find(|e| e["event_id"] == sent.as_str()).unwrap();
    assert!(raw["content"]["body"] == "secret front", "decrypted by the observer");

    let cmd = owner.send_text(&room_id, "pk;edit secret edit").await;
    let edit = observer
        .wait_for(&room_id, "the encrypted edit", |e| {
            e["sender"] == bea.as_str() && e["content"]["m.new_content"]["body"] == "secret edit"
        })
        .await;
    assert_eq!(edit["content"]["m.relates_to"]["event_id"], sent.as_str());
    observer.wait_redacted(&room_id, &cmd).await;

    let bell = react(&observer, &room_id, &sent, "🔔").await;
    let ping = observer
        .wait_for(&room_id, "the ping", |e| {
            e["sender"] == env.bot.as_str() && e["content"]["m.mentions"]["user_ids"].is_array()
        })
        .await;
    assert_eq!(ping["content"]["m.mentions"]["user_ids"], json!([owner.user_id.as_str()]));
    observer.wait_redacted(&room_id, &bell).await;

    // Reproxy as Alice, then ask who sent it (a reply names the message), then ❓.
    let alice = env.ghost(&system, "alice");
    let cmd = owner
        .send(
            &room_id,
            json!({"msgtype": "m.text", "body": "pk;rp alice",
            "m.relates_to": {"m.in_reply_to": {"event_id": sent}}}),
        )
        .await;
    let again = ghost_says(&observer, &room_id, &alice, "secret edit").await;
    observer.wait_redacted(&room_id, &sent).await;
    observer.wait_redacted(&room_id, &cmd).await;
    let ask = observer
        .send(
            &room_id,
            json!({"msgtype": "m.text", "body": "pk;message",
            "m.relates_to": {"m.in_reply_to": {"event_id": again}}}),
        )
        .await;
    let card = observer.reply_to(&env, &room_id, ask.as_str()).await;
    assert!(card["content"]["body"].as_str().unwrap().contains("Alice"), "{card}");
    react(&observer, &room_id, &again, "❔").await;
    let dm = invited_room(&observer).await;
    observer.join(&dm).await;
    observer
        .wait_for(&dm, "the message info", |e| e["content"]["body"].as_str().is_some_and(|b| b.contains("Alice")))
        .await;

    let gone = react(&owner, &room_id, &again, "❌").await;
    observer.wait_redacted(&room_id, &again).await;
    observer.wait_redacted(&room_id, &gone).await;
}
