//! `pk;admin` against a real Synapse: only `admin.users` may use it (others get the unknown-
//! command answer), status, failures and retry of dead letters, bans at run time, a system
//! shown and deleted, a ghost's crypto status.

#![recursion_limit = "256"]

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands() {
    let mut env = TestEnv::start_without_daemon("admin", "[admin]\nusers = [\"@boss:localhost\"]\n").await;
    env.faults = "message.poison".into();
    env.start_daemon().await;
    let (owner, boss, room_id) = owner_and_observer(&env, "ordinary", "boss").await;
    let system = system_with_alice(&env, &owner, &room_id).await;

    // Not an admin: the same answer as any unknown command.
    let reply = owner.command(&env, &room_id, "pk;admin status").await;
    let unknown = owner.command(&env, &room_id, "pk;frobnicate").await;
    assert_eq!(reply.replace("admin", "X"), unknown.replace("frobnicate", "X"), "{reply}");

    let reply = boss.command(&env, &room_id, "pk;admin status").await;
    assert!(
        reply.contains(env!("CARGO_PKG_VERSION")) && reply.contains("Backlog") && reply.contains("Identities"),
        "{reply}"
    );
    let reply = boss.command(&env, &room_id, "pk;admin failures").await;
    assert!(reply.contains("No dead letters"), "{reply}");

    // A poisoned message becomes a dead letter; the admin sees it and can run it again.
    let poison = owner.send_text(&room_id, "a: poison-pill").await;
    let reply = loop {
        let reply = boss.command(&env, &room_id, "pk;admin failures 5").await;
        if reply.contains(poison.as_str()) {
            break reply;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(reply.contains("panicked"), "{reply}");
    let reply = boss.command(&env, &room_id, &format!("pk;admin retry {poison}")).await;
    assert!(reply.contains("1 dead letter(s) are back"), "{reply}");
    let reply = boss.command(&env, &room_id, "pk;admin retry $nothing:localhost").await;
    assert!(reply.starts_with("❌"), "{reply}");

    // A ban at run time: the user is ignored until unbanned; admins are never banned.
    let reply = boss.command(&env, &room_id, "pk;admin ban @ordinary:localhost").await;
    assert!(reply.contains("may no longer use"), "{reply}");
    owner.send_text(&room_id, "pk;system").await;
    owner
        .wait_for(&room_id, "the denial notice", |e| {
            e["sender"] == env.bot.as_str() && e["content"]["body"].as_str().is_some_and(|b| b.contains("may not use"))
        })
        .await;
    let reply = boss.command(&env, &room_id, "pk;admin ban @boss:localhost").await;
    assert!(reply.contains("may no longer use"), "{reply}");
    assert!(boss.command(&env, &room_id, "pk;admin status").await.contains("Backlog"), "admins are never banned");
    boss.command(&env, &room_id, "pk;admin unban @boss:localhost").await;
    let reply = boss.command(&env, &room_id, "pk;admin unban @ordinary:localhost").await;
    assert!(reply.contains("no longer banned"), "{reply}");
    assert!(owner.command(&env, &room_id, "pk;system").await.contains("Test System"));

    // A ghost's crypto identity.
    let ghost = env.ghost(&system, "alice");
    owner.send_text(&room_id, "a: make the ghost").await;
    boss.wait_for(&room_id, "the ghost", |e| e["sender"] == ghost.as_str()).await;
    let reply = boss.command(&env, &room_id, &format!("pk;admin ghost {ghost} crypto status")).await;
    assert!(reply.contains("(created)") && reply.contains("Cross-signing"), "{reply}");

    // A system shown to the admin, then deleted.
    let reply = boss.command(&env, &room_id, "pk;admin system @ordinary:localhost").await;
    assert!(reply.contains("Test System") && reply.contains("@ordinary:localhost"), "{reply}");
    let reply = boss.command(&env, &room_id, &format!("pk;admin system {system} delete")).await;
    assert!(reply.contains("-y"), "{reply}");
    let reply = boss.command(&env, &room_id, "pk;admin system @ordinary:localhost delete -y").await;
    assert!(reply.contains("deleted by an admin"), "{reply}");
    assert!(owner.command(&env, &room_id, "pk;system").await.contains("don't have a system"));
    assert!(env.daemon_log().contains("admin command"), "admin actions are logged");
}
