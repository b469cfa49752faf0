//! Access control against a real Synapse (`[access]`): who may create a system, the member
//! limit, the deny list, who may invite the bot, and ghosts that only go where their own
//! system invites them.

#![recursion_limit = "256"]

mod support;

use matrix_sdk::ruma::{OwnedRoomId, UserId, api::client::room::create_room};
use serde_json::Value;
use support::*;

const ACCESS: &str = "\n[access]\nallow = [\"@member*:localhost\"]\ndeny = [\"@banned:localhost\"]\nmax_members = 2\n\
                      bot_invites = \"allowed\"\n";

async fn systems_of(env: &TestEnv, user: &UserId) -> i64 {
    let pool = env.db().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE user_id = $1")
        .bind(user.as_str())
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// A room of `user`'s with `invite` invited, without waiting for anybody to join.
async fn plain_room(user: &User, invite: &[&UserId]) -> OwnedRoomId {
    let mut req = create_room::v3::Request::new();
    req.invite = invite.iter().map(|u| (*u).to_owned()).collect();
    req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    let room = user.client.create_room(req).await.unwrap();
    room.room_id().to_owned()
}

fn left(e: &Value, who: &UserId) -> bool {
    e["type"] == "m.room.member" && e["state_key"] == who.as_str() && e["content"]["membership"] == "leave"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_create_how_many_members_and_who_is_ignored() {
    let mut env = TestEnv::start_without_daemon("access", ACCESS).await;
    env.start_daemon().await;
    let member = env.user("memberone").await;
    let outsider = env.user("outsider").await;
    let banned = env.user("banned").await;
    let room = member.create_room(&env, &[&outsider.user_id, &banned.user_id]).await;
    let room_id = room_id_of(&room);
    outsider.join(&room_id).await;
    banned.join(&room_id).await;

    // Outside `allow`: a polite refusal, and nothing stored.
    let reply = outsider.command(&env, &room_id, "pk;system new Mine").await;
    assert!(reply.starts_with("❌") && reply.contains("does not let"), "{reply}");
    assert!(reply.contains("@outsider:localhost"), "{reply}");
    assert_eq!(systems_of(&env, &outsider.user_id).await, 0, "nothing stored");

    // Inside: a system, and members up to the limit, which the refusal names.
    let reply = member.command(&env, &room_id, "pk;system new Ours").await;
    assert!(reply.contains("System created"), "{reply}");
    for name in ["Ann", "Bea"] {
        let reply = member.command(&env, &room_id, &format!("pk;member new {name}")).await;
        assert!(reply.contains("Member created"), "{reply}");
    }
    let reply = member.command(&env, &room_id, "pk;member new Cal").await;
    assert!(reply.starts_with("❌") && reply.contains("limit of 2 members"), "{reply}");
    let list = member.command(&env, &room_id, "pk;system list").await;
    assert!(!list.contains("Cal"), "{list}");

    // Denied: told once in the room, then ignored.
    let first = banned.send_text(&room_id, "pk;system new Nope").await;
    let notice = member
        .wait_for(&room_id, "the notice to the denied user", |e| {
            e["sender"] == env.bot.as_str()
                && e["content"]["m.relates_to"]["m.in_reply_to"].is_null()
                && e["content"]["body"].as_str().unwrap_or_default().contains("may not use this bridge")
        })
        .await;
    assert!(notice["content"]["body"].as_str().unwrap().contains("@banned:localhost"));
    banned.send_text(&room_id, "pk;system").await;
    let marker = member.command(&env, &room_id, "pk;system").await; // handled after the second try
    assert!(marker.contains("Ours"), "{marker}");
    let events = member.messages(&room_id).await;
    let notices = from(&events, &env.bot)
        .iter()
        .filter(|e| e["content"]["body"].as_str().unwrap_or_default().contains("may not use this bridge"))
        .count();
    assert_eq!(notices, 1, "one notice per room");
    let answered = events.iter().any(|e| e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == first.as_str());
    assert!(!answered, "the denied user's command is not answered");
    assert_eq!(systems_of(&env, &banned.user_id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_from_strangers_are_turned_down() {
    let mut env = TestEnv::start_without_daemon("invites", ACCESS).await;
    env.start_daemon().await;
    let member = env.user("memberfour").await;
    let stranger = env.user("strangerfour").await;
    let room = member.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let system = system_with_alice(&env, &member, &room_id).await;
    let ghost = env.ghost(&system, "alice");

    // `bot_invites = "allowed"`: the bot turns down a stranger's invite.
    let strangers = plain_room(&stranger, &[&env.bot]).await;
    stranger.sync().await;
    stranger.wait_for(&strangers, "the bot turning the invite down", |e| left(e, &env.bot)).await;

    // A stranger invites a member's ghost into their own room: it never joins.
    let other = plain_room(&stranger, &[&ghost]).await;
    stranger.sync().await;
    let refusal = stranger.wait_for(&other, "the ghost turning the invite down", |e| left(e, &ghost)).await;
    assert!(refusal["content"]["reason"].as_str().unwrap_or_default().contains("own system"), "{refusal}");
    assert!(!stranger.joined_members(&other).await.contains(&ghost));

    // Its own system's account may invite it.
    let own = plain_room(&member, &[&ghost]).await;
    member.sync().await;
    member.wait_joined(&own, &ghost).await;
}
