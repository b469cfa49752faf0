//! Groups against a real Synapse, in a plain and in an encrypted room: create, list, card,
//! membership both ways, fields, the group limit, and deletion with the typed-back ID.

#![recursion_limit = "256"]

mod support;

use matrix_sdk::ruma::RoomId;
use support::*;

async fn expect(env: &TestEnv, user: &User, room_id: &RoomId, command: &str, want: &str) -> String {
    let reply = user.command(env, room_id, command).await;
    assert!(reply.contains(want), "{command}: expected {want:?} in {reply}");
    reply
}

/// The short ID in a reply like "… (ID `abcde`) …".
fn id_in(reply: &str) -> String {
    let start = reply.find("ID `").expect("an ID") + 4;
    reply[start..].chars().take_while(|c| *c != '`').collect()
}

async fn groups_flow(env: &TestEnv, owner: &User, room_id: &RoomId) {
    system_with_alice(env, owner, room_id).await;
    expect(env, owner, room_id, "pk;member new Bea", "Member created").await;
    let created = expect(env, owner, room_id, "pk;group new Front Desk", "Group created").await;
    let desk = id_in(&created);
    expect(env, owner, room_id, "pk;group new Night Shift", "Group created").await;
    // The limit (2 in this config) is named.
    let refused = owner.command(env, room_id, "pk;group new Third").await;
    assert!(refused.starts_with('❌') && refused.contains("limit of 2 groups"), "{refused}");

    expect(env, owner, room_id, "pk;group \"front desk\" add alice bea", "2 member(s) added").await;
    expect(env, owner, room_id, &format!("pk;group {desk} add alice"), "already in it").await;
    let missing = owner.command(env, room_id, "pk;group desk add nobody").await;
    assert!(missing.starts_with('❌'), "{missing}");
    expect(env, owner, room_id, "pk;member bea group add \"Night Shift\"", "added to 1 group").await;
    expect(env, owner, room_id, "pk;member bea groups", "Night Shift").await;
    expect(env, owner, room_id, &format!("pk;group {desk} list"), "Members of Front Desk").await;
    expect(env, owner, room_id, &format!("pk;group {desk} remove bea"), "1 member(s) removed").await;
    expect(env, owner, room_id, &format!("pk;group {desk} description The people up front"), "is set").await;
    expect(env, owner, room_id, &format!("pk;group {desk} color 00ff00"), "#00ff00").await;
    let card = expect(env, owner, room_id, &format!("pk;group {desk}"), "Front Desk").await;
    assert!(card.contains("Members (1)") && card.contains("Alice") && card.contains("The people up front"), "{card}");
    expect(env, owner, room_id, "pk;group list", "Night Shift").await;

    // Deletion: anything but the ID cancels; the ID deletes; members stay.
    expect(env, owner, room_id, &format!("pk;group {desk} delete"), &format!("`{desk}`")).await;
    let cancel = owner.send_text(room_id, "hmm").await;
    let reply = owner.reply_to(env, room_id, cancel.as_str()).await;
    assert!(reply["content"]["body"].as_str().unwrap().contains("cancelled"), "{reply}");
    expect(env, owner, room_id, &format!("pk;group {desk} delete"), "Send the group's ID").await;
    let confirm = owner.send_text(room_id, &desk).await;
    let reply = owner.reply_to(env, room_id, confirm.as_str()).await;
    assert!(reply["content"]["body"].as_str().unwrap().contains("deleted"), "{reply}");
    let list = expect(env, owner, room_id, "pk;group list", "Night Shift").await;
    assert!(!list.contains("Front Desk"), "{list}");
    expect(env, owner, room_id, "pk;system list", "Bea").await;
    expect(env, owner, room_id, "pk;group \"Night Shift\" delete -y", "deleted").await;
}

const LIMIT: &str = "\n[access]\nmax_groups = 2\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_in_a_plain_room() {
    let mut env = TestEnv::start_without_daemon("groups", LIMIT).await;
    env.start_daemon().await;
    let owner = env.user("grouper").await;
    let room = owner.create_room(&env, &[]).await;
    groups_flow(&env, &owner, &room_id_of(&room)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_in_an_encrypted_room() {
    let mut env = TestEnv::start_without_daemon("groups-e2ee", LIMIT).await;
    env.start_daemon().await;
    let (owner, _observer, room) = encrypted_owner_and_observer(&env, "cryptogrouper", "cryptogroupwatch").await;
    groups_flow(&env, &owner, &room_id_of(&room)).await;
}
