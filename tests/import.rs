//! `pk;import` against a real Synapse: the real PluralKit export as a plain file replied to in
//! a plain room, and as an encrypted attachment captioned `pk;import` in an encrypted room;
//! a broken file is refused with a reason and changes nothing.

#![recursion_limit = "256"]

mod support;

use std::time::{Duration, Instant};

use matrix_sdk::{
    attachment::AttachmentConfig,
    ruma::{
        OwnedRoomId, RoomId,
        events::room::message::{FileMessageEventContent, TextMessageEventContent},
    },
};
use serde_json::json;
use support::*;

fn export() -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pluralkit-export-v2.json")).unwrap()
}

/// Uploads `data` and posts it as a plain (unencrypted) `m.file`; returns the event ID.
async fn post_file(user: &User, room_id: &RoomId, data: Vec<u8>) -> String {
    let size = data.len();
    let upload = user.client.media().upload(&mime::APPLICATION_JSON, data, None).await.unwrap();
    let content = json!({"msgtype": "m.file", "body": "system.json", "filename": "system.json",
                         "url": upload.content_uri, "info": {"mimetype": "application/json", "size": size}});
    user.send(room_id, content).await.to_string()
}

async fn reply_import(env: &TestEnv, user: &User, room_id: &RoomId, file_event: &str) -> String {
    let content =
        json!({"msgtype": "m.text", "body": "pk;import", "m.relates_to": {"m.in_reply_to": {"event_id": file_event}}});
    let id = user.send(room_id, content).await;
    let reply = user.reply_to(env, room_id, id.as_str()).await;
    reply["content"]["body"].as_str().unwrap_or_default().to_owned()
}

/// `pk;export` in `room_id`; the test client joins the direct chat the bot invites it to,
/// downloads `system.json` (decrypting it where the chat is encrypted) and compares it with
/// the file it imported: the same, field by field.
async fn export_matches_the_import(env: &TestEnv, user: &User, room_id: &RoomId) -> OwnedRoomId {
    let reply = user.command(env, room_id, "pk;export").await;
    assert!(reply.contains("direct chat"), "{reply}");
    let deadline = Instant::now() + WAIT;
    let dm: OwnedRoomId = loop {
        user.sync().await;
        if let Some(room) = user.client.invited_rooms().first() {
            break room.room_id().to_owned();
        }
        assert!(Instant::now() < deadline, "no invite to a direct chat");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    user.join(&dm).await;
    let file = user
        .wait_for(&dm, "the export file", |e| {
            e["content"]["msgtype"] == "m.file" && e["content"]["body"] == "system.json"
        })
        .await;
    // The direct chat is encrypted (encryption is on), so the file is an encrypted attachment.
    assert!(file["content"]["file"]["key"].is_object() && file["content"].get("url").is_none(), "{file}");
    let content: FileMessageEventContent = serde_json::from_value(file["content"].clone()).unwrap();
    let bytes = user.client.media().get_file(&content, false).await.unwrap().expect("the file");
    let exported: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let original: serde_json::Value = serde_json::from_slice(&export()).unwrap();
    assert_eq!(exported["members"], original["members"]);
    assert_eq!(exported["groups"], original["groups"]);
    assert_eq!(exported, original, "the whole export");
    dm
}

async fn imported_system_is_there(env: &TestEnv, user: &User, room_id: &RoomId) {
    let card = user.command(env, room_id, "pk;member udhgx").await;
    assert!(card.contains("Riven") && card.contains("It/Its") && card.contains("`Ri:text`"), "{card}");
    let groups = user.command(env, room_id, "pk;group list").await;
    assert!(groups.contains("(11)"), "{groups}");
    let system = user.command(env, room_id, "pk;system").await;
    assert!(system.contains("Seraphim") && system.contains("**Members:** 59"), "{system}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_file_replied_to() {
    let env = TestEnv::start("import").await;
    let owner = env.user("importer").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);

    // A file that is not an export: refused, nothing stored.
    let junk = post_file(&owner, &room_id, b"{\"hello\": 1}".to_vec()).await;
    let reply = reply_import(&env, &owner, &room_id, &junk).await;
    assert!(reply.starts_with('❌') && reply.contains("not a PluralKit export"), "{reply}");
    let reply = owner.command(&env, &room_id, "pk;system").await;
    assert!(reply.contains("don't have a system"), "{reply}");
    // A broken export: refused with the member and field named.
    let mut broken: serde_json::Value = serde_json::from_slice(&export()).unwrap();
    broken["members"][2]["color"] = json!("purple");
    let name = broken["members"][2]["name"].as_str().unwrap().to_owned();
    let file = post_file(&owner, &room_id, broken.to_string().into_bytes()).await;
    let reply = reply_import(&env, &owner, &room_id, &file).await;
    assert!(reply.contains("Nothing was imported") && reply.contains("`color`") && reply.contains(&name), "{reply}");

    // The real export: a new system with everything.
    let file = post_file(&owner, &room_id, export()).await;
    let reply = reply_import(&env, &owner, &room_id, &file).await;
    assert!(reply.contains("59 member(s) created") && reply.contains("11 group(s) created"), "{reply}");
    imported_system_is_there(&env, &owner, &room_id).await;
    let dm = export_matches_the_import(&env, &owner, &room_id).await;
    // Whoever leaves the direct chat gets a new one with the next export.
    owner.room(&dm).leave().await.unwrap();
    let again = export_matches_the_import(&env, &owner, &room_id).await;
    assert_ne!(again, dm, "a new direct chat");
    // Again: matched by ID, nothing doubled.
    let reply = reply_import(&env, &owner, &room_id, &file).await;
    assert!(reply.contains("0 member(s) created, 59 updated"), "{reply}");
    // A member from the file proxies.
    owner.send_text(&room_id, "Ri: hello from the import").await;
    owner
        .wait_for(&room_id, "the imported member's message", |e| {
            e["sender"].as_str().is_some_and(|s| s.starts_with("@_plural_importer_"))
                && e["content"]["body"] == "hello from the import"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_attachment_captioned() {
    let env = TestEnv::start("import-e2ee").await;
    let (owner, _observer, room) = encrypted_owner_and_observer(&env, "cryptimporter", "cryptimportwatch").await;
    let room_id = room_id_of(&room);
    let config = AttachmentConfig::new().caption(Some(TextMessageEventContent::plain("pk;import")));
    let sent = room.send_attachment("system.json", &mime::APPLICATION_JSON, export(), config).await.unwrap();
    let reply = owner.reply_to(&env, &room_id, sent.event_id.as_str()).await;
    let body = reply["content"]["body"].as_str().unwrap_or_default();
    assert!(body.contains("59 member(s) created"), "{reply}");
    imported_system_is_there(&env, &owner, &room_id).await;
    export_matches_the_import(&env, &owner, &room_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tupperbox_export() {
    let env = TestEnv::start("import-tb").await;
    let owner = env.user("tupperer").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let file = json!({
        "tuppers": [
            {"id": 1, "name": "Ann", "brackets": ["a:", ""], "posts": 3, "show_brackets": false, "tag": "| Us", "group_id": 9},
            {"id": 2, "name": "Bea", "brackets": ["[", "]"], "tag": "| Us", "group_id": null}
        ],
        "groups": [{"id": 9, "name": "Front", "description": null}]
    });
    let posted = post_file(&owner, &room_id, file.to_string().into_bytes()).await;
    let reply = reply_import(&env, &owner, &room_id, &posted).await;
    assert!(reply.contains("2 member(s) created") && reply.contains("1 group(s) created"), "{reply}");
    let list = owner.command(&env, &room_id, "pk;system list").await;
    assert!(list.contains("Ann") && list.contains("`[text]`"), "{list}");
    let tag = owner.command(&env, &room_id, "pk;system tag").await;
    assert!(tag.contains("| Us"), "{tag}");
    let groups = owner.command(&env, &room_id, "pk;member ann groups").await;
    assert!(groups.contains("Front"), "{groups}");
}

/// A PluralKit export with `n` members (tags, descriptions, privacy) and `n / 10` groups.
fn generated_export(n: usize) -> Vec<u8> {
    let members: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let id: String = (0..5).map(|k| char::from(b'a' + ((i / 26usize.pow(k)) % 26) as u8)).collect();
            json!({"id": id, "name": format!("Member {i}"),
                   "display_name": format!("M{i}"), "color": "00aaff", "birthday": "2000-01-01", "pronouns": "they/them",
                   "description": "x".repeat(500), "proxy_tags": [{"prefix": format!("m{i}:"), "suffix": null}],
                   "privacy": {"visibility": "public", "name_privacy": "private"}})
        })
        .collect();
    let groups: Vec<serde_json::Value> = (0..n / 10)
        .map(|g| json!({"name": format!("Group {g}"), "members": [], "privacy": {"list_privacy": "private"}}))
        .collect();
    json!({"version": 2, "name": "Generated", "members": members, "groups": groups, "switches": []})
        .to_string()
        .into_bytes()
}

/// Import timings (not a pass/fail figure): the shared export and a generated 1,000-member
/// export, from sending `pk;import` to the bot's answer, 3 rounds each, median printed.
/// `scripts/test.sh --release --test import -- --ignored --nocapture import_timing`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing figures: run with --ignored --nocapture"]
async fn import_timing() {
    for (label, data) in
        [("shared export (59 members)", export()), ("generated (1,000 members)", generated_export(1000))]
    {
        let mut times = Vec::new();
        for round in 0..3 {
            let env = TestEnv::start("import-timing").await;
            let owner = env.user(&format!("timer{round}")).await;
            let room = owner.create_room(&env, &[]).await;
            let room_id = room_id_of(&room);
            let posted = post_file(&owner, &room_id, data.clone()).await;
            let started = Instant::now();
            let reply = reply_import(&env, &owner, &room_id, &posted).await;
            times.push(started.elapsed());
            assert!(reply.contains("member(s) created"), "{reply}");
        }
        times.sort();
        println!("import of the {label}: median {:?} (runs {times:?})", times[1]);
    }
}

/// An image server on 127.0.0.1 that counts its requests (it stops with the test).
async fn image_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 2048];
            let _ = socket.read(&mut buf).await;
            let body = b"\x89PNG\r\n\x1a\n fake image bytes";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(body).await;
        }
    });
    (port, hits)
}

fn export_with_avatar(url: &str) -> Vec<u8> {
    json!({"version": 2, "name": "Pics", "members": [{"id": "picaa", "name": "Pic",
           "avatar_url": url, "proxy_tags": [{"prefix": "p:", "suffix": null}]}]})
    .to_string()
    .into_bytes()
}

async fn ghost_avatar(env: &TestEnv, ghost: &str) -> serde_json::Value {
    let url = format!("{}/_matrix/client/v3/profile/{ghost}", env.hs_url);
    let body = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default()["avatar_url"].clone()
}

/// With private addresses allowed (as a test needs), the imported avatar is fetched, uploaded
/// and shown by the member's account; the URL stays in the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_avatars_are_fetched_for_the_accounts() {
    let (port, hits) = image_server().await;
    let mut env = TestEnv::start_without_daemon("import-avatars", "\n[import]\nallow_private_addresses = true\n").await;
    env.start_daemon().await;
    let owner = env.user("pictures").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    let file = post_file(&owner, &room_id, export_with_avatar(&format!("http://127.0.0.1:{port}/a.png"))).await;
    let reply = reply_import(&env, &owner, &room_id, &file).await;
    assert!(reply.contains("1 member(s) created"), "{reply}");
    let deadline = Instant::now() + WAIT;
    loop {
        let pool = env.db().await;
        let mxc: Option<String> = sqlx::query_scalar("SELECT avatar_mxc FROM members WHERE short_id = 'picaa'")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        if mxc.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the avatar was never fetched");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    owner.send_text(&room_id, "p: with a face").await;
    let ghost = env.ghost("pictures", "pic");
    owner.wait_for(&room_id, "the message", |e| e["sender"] == ghost.as_str()).await;
    let avatar = ghost_avatar(&env, ghost.as_str()).await;
    assert!(avatar.as_str().is_some_and(|a| a.starts_with("mxc://")), "{avatar}");
    let card = owner.command(&env, &room_id, "pk;member pic").await;
    assert!(card.contains(&format!("http://127.0.0.1:{port}/a.png")), "the URL stays: {card}");
}

/// By default, an import cannot make the daemon fetch from the operator's own network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_avatars_on_private_addresses_are_not_fetched() {
    let (port, hits) = image_server().await;
    let env = TestEnv::start("import-no-fetch").await;
    let owner = env.user("nopictures").await;
    let room = owner.create_room(&env, &[]).await;
    let room_id = room_id_of(&room);
    // https, as in real exports: refused for the address before any connection is made.
    let file = post_file(&owner, &room_id, export_with_avatar(&format!("https://127.0.0.1:{port}/a.png"))).await;
    let reply = reply_import(&env, &owner, &room_id, &file).await;
    assert!(reply.contains("1 member(s) created"), "{reply}");
    owner.send_text(&room_id, "p: no face").await;
    let ghost = env.ghost("nopictures", "pic");
    owner.wait_for(&room_id, "the message", |e| e["sender"] == ghost.as_str()).await;
    // The fetch (had it been allowed) would have started right after the import answered.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "not even a connection");
    assert!(ghost_avatar(&env, ghost.as_str()).await.is_null());
    assert!(env.daemon_log().contains("has no public address"), "the refusal is logged");
}
