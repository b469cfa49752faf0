//! Privacy against a real Synapse, in a plain and an encrypted room: the owner sets levels;
//! another user's lookups of the system, a member by ID and a group by ID show only what is
//! public (a private name shows the display name; a hidden member is not found and not
//! listed); the owner still sees everything.

#![recursion_limit = "256"]

mod support;

use matrix_sdk::ruma::RoomId;
use support::*;

/// The first code span after "ID" in a reply ("ID `abcde`", "**ID:** `abcde`").
fn id_in(reply: &str) -> String {
    let after = &reply[reply.find("ID").expect("an ID")..];
    let start = after.find('`').expect("a code span") + 1;
    after[start..].chars().take_while(|c| *c != '`').collect()
}

async fn says(env: &TestEnv, user: &User, room_id: &RoomId, command: &str, want: &[&str], never: &[&str]) -> String {
    let reply = user.command(env, room_id, command).await;
    for w in want {
        assert!(reply.contains(w), "{command}: expected {w:?} in {reply}");
    }
    for n in never {
        assert!(!reply.contains(n), "{command}: {n:?} must not show in {reply}");
    }
    reply
}

async fn privacy_flow(env: &TestEnv, owner: &User, other: &User, room_id: &RoomId) {
    system_with_alice(env, owner, room_id).await;
    let bea = id_in(&owner.command(env, room_id, "pk;member new Bea").await);
    let alice = id_in(&owner.command(env, room_id, "pk;member alice").await);
    let desk = id_in(&owner.command(env, room_id, "pk;group new Desk").await);
    for command in [
        "pk;member alice displayname Al",
        "pk;member alice birthday May 27",
        "pk;member alice pronouns she/her",
        "pk;system description Our secret base",
        &format!("pk;group {desk} add alice bea"),
    ] {
        let reply = owner.command(env, room_id, command).await;
        assert!(reply.starts_with('✅'), "{command}: {reply}");
    }
    // Everything public: the other user sees it all.
    says(env, other, room_id, &format!("pk;member {alice}"), &["Alice", "May 27"], &[]).await;

    for command in [
        "pk;member alice privacy name private",
        "pk;member alice privacy birthday private",
        "pk;member bea privacy visibility private",
        "pk;system privacy description private",
        "pk;system privacy members private",
    ] {
        let reply = owner.command(env, room_id, command).await;
        assert!(reply.contains("is now **private**"), "{command}: {reply}");
    }
    says(env, owner, room_id, "pk;member alice privacy", &["name: **private**", "pronouns: **public**"], &[]).await;

    // The other user's view.
    says(env, other, room_id, &format!("pk;member {alice}"), &["### Al", "she/her"], &["Alice", "May 27"]).await;
    says(env, other, room_id, &format!("pk;member {bea}"), &["No member with ID"], &["Bea"]).await;
    let card =
        says(env, other, room_id, &format!("pk;system {}", owner.user_id), &["Test System"], &["Our secret base"])
            .await;
    assert!(!card.contains("Members:") && !card.contains("Autoproxy"), "{card}");
    says(env, other, room_id, &format!("pk;group {desk}"), &["Desk", "Members (1)", "Al"], &["Bea", "Alice"]).await;
    let reply = owner.command(env, room_id, &format!("pk;group {desk} privacy list private")).await;
    assert!(reply.contains("is now **private**"), "{reply}");
    says(env, other, room_id, &format!("pk;group {desk}"), &["Desk"], &["Members"]).await;

    // The owner still sees everything.
    says(env, owner, room_id, "pk;member alice", &["Alice", "May 27"], &[]).await;
    says(env, owner, room_id, &format!("pk;group {desk}"), &["Members (2)", "Alice", "Bea"], &[]).await;
    says(env, owner, room_id, "pk;system", &["Our secret base", "Members:"], &[]).await;
    // `-public` shows the owner what others see.
    says(env, owner, room_id, "pk;member alice -public", &["### Al", "she/her"], &["Alice", "May 27"]).await;
    says(env, owner, room_id, "pk;member bea -public", &["don't see this at all"], &[]).await;
    says(env, owner, room_id, "pk;system -public", &["Test System"], &["Our secret base", "Members:"]).await;
    // And can open it all again.
    owner.command(env, room_id, "pk;member alice privacy all public").await;
    says(env, other, room_id, &format!("pk;member {alice}"), &["Alice", "May 27"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_in_a_plain_room() {
    let env = TestEnv::start("privacy").await;
    let (owner, other, room_id) = owner_and_observer(&env, "privowner", "privother").await;
    privacy_flow(&env, &owner, &other, &room_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_in_an_encrypted_room() {
    let env = TestEnv::start("privacy-e2ee").await;
    let (owner, other, room) = encrypted_owner_and_observer(&env, "cryptprivowner", "cryptprivother").await;
    privacy_flow(&env, &owner, &other, &room_id_of(&room)).await;
}
