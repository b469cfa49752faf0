//! Every room command of the first set, against a real Synapse: what the bot answers and what
//! changes as a result (ghost accounts, display names, proxying).

#![recursion_limit = "256"]

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_and_member_commands() {
    let env = TestEnv::start("commands").await;
    let (owner, observer, room_id) = owner_and_observer(&env, "Commander", "commander_").await;

    // Help works for anyone; the prefix is case-insensitive and may be followed by a space.
    let help = owner.command(&env, &room_id, "PK; help").await;
    assert!(help.contains("pk;member new"), "{help}");
    assert!(help.contains("pk;autoproxy"), "{help}");

    // Without a system, member commands explain what to do.
    let reply = owner.command(&env, &room_id, "pk;member new Alice").await;
    assert!(reply.contains("pk;system new"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;system").await;
    assert!(reply.contains("don't have a system"), "{reply}");

    // pk;system new [name]; the slug comes from the localpart, lower-cased.
    let reply = owner.command(&env, &room_id, "pk;system new The Collective").await;
    assert!(
        reply.contains("System created") && reply.contains("The Collective") && reply.contains("`commander`"),
        "{reply}"
    );
    let reply = owner.command(&env, &room_id, "pk;system new Again").await;
    assert!(reply.contains("already have a system"), "{reply}");
    // `commander_` slugifies to `commander` too, which is taken: it gets `commander-2`.
    let reply = observer.command(&env, &room_id, "pk;s new").await;
    assert!(reply.contains("System created") && reply.contains("`commander-2`"), "{reply}");

    // pk;member new with a quoted name; the card; the ghost account exists with that name.
    let reply = owner.command(&env, &room_id, "pk;member new \"Alice Bee\"").await;
    assert!(reply.contains("Member created") && reply.contains("Alice Bee"), "{reply}");
    let ghost = env.ghost("commander", "alice-bee");
    assert!(reply.contains(ghost.as_str()), "{reply}");
    let profile = observer.client.account().fetch_user_profile_of(&ghost).await.unwrap();
    assert_eq!(profile.get("displayname").and_then(|v| v.as_str()), Some("Alice Bee"));

    // Several tags at once, then the card shows them.
    let reply = owner.command(&env, &room_id, "pk;member \"alice bee\" proxy a:text [text]").await;
    assert!(reply.contains("`a:text`, `[text]`"), "{reply}");
    let card = owner.command(&env, &room_id, "pk;member Alice-Bee").await;
    assert!(
        card.contains("Alice Bee") && card.contains("`a:text`, `[text]`") && card.contains(ghost.as_str()),
        "{card}"
    );
    // `text -a` keeps its space: one suffix tag.
    owner.command(&env, &room_id, "pk;member new Carol").await;
    let reply = owner.command(&env, &room_id, "pk;member carol proxy text -c").await;
    assert!(reply.contains("`text -c`"), "{reply}");
    // A tag can't belong to two members.
    let reply = owner.command(&env, &room_id, "pk;member carol proxy [text]").await;
    assert!(reply.contains("already belongs to") && reply.contains("Alice Bee"), "{reply}");

    // The system card and tag; the tag reaches the ghost's display name.
    let reply = owner.command(&env, &room_id, "pk;system tag | TC").await;
    assert!(reply.contains("| TC"), "{reply}");
    let card = owner.command(&env, &room_id, "pk;system").await;
    assert!(card.contains("The Collective") && card.contains("Members:** 2") && card.contains("| TC"), "{card}");
    let profile = observer.client.account().fetch_user_profile_of(&ghost).await.unwrap();
    assert_eq!(profile.get("displayname").and_then(|v| v.as_str()), Some("Alice Bee | TC"));

    // Rename keeps the ghost account, changes its name.
    let reply = owner.command(&env, &room_id, "pk;member alice-bee rename Alicia").await;
    assert!(reply.contains("Alicia"), "{reply}");
    let profile = observer.client.account().fetch_user_profile_of(&ghost).await.unwrap();
    assert_eq!(profile.get("displayname").and_then(|v| v.as_str()), Some("Alicia | TC"));

    // A suffix tag proxies too.
    owner.send_text(&room_id, "see you -c").await;
    let carol = env.ghost("commander", "carol");
    observer
        .wait_for(&room_id, "carol's message", |e| e["sender"] == carol.as_str() && e["content"]["body"] == "see you")
        .await;

    // Autoproxy to a fixed member, by name; then off.
    let reply = owner.command(&env, &room_id, "pk;autoproxy Alicia").await;
    assert!(reply.contains("Autoproxy enabled for **Alicia**"), "{reply}");
    let untagged = owner.send_text(&room_id, "autoproxied words").await;
    observer
        .wait_for(&room_id, "autoproxied message", |e| {
            e["sender"] == ghost.as_str() && e["content"]["body"] == "autoproxied words"
        })
        .await;
    observer.wait_redacted(&room_id, &untagged).await;
    let reply = owner.command(&env, &room_id, "pk;ap").await;
    assert!(reply.contains("always **Alicia**"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;autoproxy off").await;
    assert!(reply.contains("Autoproxy disabled"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;autoproxy nobody").await;
    assert!(reply.contains("No member"), "{reply}");

    // Errors are answered, never proxied.
    let reply = owner.command(&env, &room_id, "pk;frobnicate").await;
    assert!(reply.contains("Unknown command"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;member nobody").await;
    assert!(reply.contains("No member"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;member carol proxy nothing-here").await;
    assert!(reply.contains("text"), "{reply}");

    // Delete asks for confirmation; anything else cancels; the ID confirms.
    let reply = owner.command(&env, &room_id, "pk;member carol delete").await;
    assert!(reply.contains("Delete **Carol**"), "{reply}");
    let carol_id = reply.split('`').nth(1).unwrap().to_owned();
    let reply = owner.command(&env, &room_id, "nope").await;
    assert!(reply.contains("cancelled"), "{reply}");
    assert!(owner.command(&env, &room_id, "pk;member carol").await.contains("Carol"));
    owner.command(&env, &room_id, "pk;member carol delete").await;
    let reply = owner.command(&env, &room_id, &carol_id).await;
    assert!(reply.contains("deleted"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;member carol").await;
    assert!(reply.contains("No member"), "{reply}");
    // Carol's tag no longer proxies, and her ghost left the room.
    let stays = owner.send_text(&room_id, "gone -c").await;
    let marker = owner.send_text(&room_id, "a: marker").await;
    observer.wait_redacted(&room_id, &marker).await;
    let events = observer.messages(&room_id).await;
    assert!(!is_redacted(events.iter().find(|e| e["event_id"] == stays.as_str()).unwrap()));
    assert!(!owner.joined_members(&room_id).await.contains(&carol));

    // The list shows who is left.
    let list = owner.command(&env, &room_id, "pk;system list").await;
    assert!(list.contains("Alicia") && !list.contains("Carol"), "{list}");

    // Commands are not proxied even with autoproxy on, and ghosts never trigger anything.
    owner.command(&env, &room_id, "pk;autoproxy latch").await;
    let reply = owner.command(&env, &room_id, "pk;autoproxy").await;
    assert!(reply.contains("latch"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;system").await;
    assert!(reply.contains("Autoproxy (default for rooms):** off"), "the room's mode is not the default: {reply}");
    let events = observer.messages(&room_id).await;
    assert!(
        from(&events, &ghost).iter().all(|e| { !e["content"]["body"].as_str().unwrap_or_default().starts_with("pk;") })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_queries_only_know_existing_members() {
    let env = TestEnv::start("userquery").await;
    let owner = env.user("queen").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    system_with_alice(&env, &owner, &room_id).await;
    let http = reqwest::Client::new();
    let query = |user: String| {
        let req = http
            .get(format!("{}/_matrix/app/v1/users/{}", env.daemon_url(), user))
            .header("authorization", format!("Bearer {}", env.hs_token));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(query(env.ghost("queen", "alice").to_string()).await, 200);
    assert_eq!(query(env.ghost("queen", "nobody").to_string()).await, 404);
    assert_eq!(query("@_plural_whatever:localhost".into()).await, 404);
    assert_eq!(query("@someone:localhost".into()).await, 404);
    assert_eq!(query(env.bot.to_string()).await, 200);

    // Inviting a ghost of no member provisions nothing: the account is never created.
    let nobody = env.ghost("queen", "nobody");
    let _ = owner.room(&room_id).invite_user_by_id(&nobody).await;
    owner.room(&room_id).invite_user_by_id(&env.ghost("queen", "alice")).await.unwrap();
    owner.wait_joined(&room_id, &env.ghost("queen", "alice")).await;
    assert!(!owner.joined_members(&room_id).await.contains(&nobody));
    let profile = owner.client.account().fetch_user_profile_of(&nobody).await;
    assert!(profile.is_err(), "no account for a ghost without a member: {profile:?}");
}
