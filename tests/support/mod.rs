//! Test harness: a throwaway Synapse (scripts/synapse.sh) and the real daemon binary on
//! 127.0.0.1, plus human users played by matrix-sdk's `Client`.
//!
//! Every environment lives in its own folder under `CARGO_TARGET_TMPDIR/envs/`; the Synapse
//! and the daemon are stopped on drop (and `scripts/test.sh` stops any a killed test left).
#![allow(dead_code)]

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use hmac::{Hmac, Mac};
use matrix_sdk::{
    Client, Room,
    room::MessagesOptions,
    ruma::{
        OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId,
        api::client::{membership::joined_members, room::create_room},
        events::AnyMessageLikeEventContent,
        serde::Raw,
    },
};
use serde_json::{Value, json};

mod database;
pub use database::{new_postgres_database, postgres_server};

pub const SHARED_SECRET: &str = "pluralmatrix_test_shared_secret";
pub const PASSWORD: &str = "correct horse battery staple";
/// How long any wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(40);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free port below Linux's ephemeral range (32768+), so that no outgoing connection (of
/// another test, or a benchmark running at the same time) takes it before the daemon binds it.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let port = 20_000 + (rand::random::<u16>() % 12_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// One Synapse + one daemon, isolated in their own folder.
pub struct TestEnv {
    pub root: PathBuf,
    pub hs_url: String,
    pub as_port: u16,
    pub config_path: PathBuf,
    pub hs_token: String,
    pub as_token: String,
    pub bot: OwnedUserId,
    daemon: Option<Child>,
    daemon_starts: u32,
    /// `PLURALMATRIX_FAULTS` for the next daemon start (see `src/fault.rs`).
    pub faults: String,
    /// `RUST_LOG` for the next daemon start.
    pub rust_log: String,
    /// The daemon's database: a SQLite file in `root`, or a database of its own on the
    /// PostgreSQL server named by `PLURALMATRIX_TEST_POSTGRES` (`scripts/test.sh` runs the suite
    /// once on each).
    pub db_url: String,
}

impl TestEnv {
    /// Starts Synapse with the registration the daemon generates, then the daemon.
    pub async fn start(name: &str) -> TestEnv {
        let mut env = Self::start_without_daemon(name, "").await;
        env.start_daemon().await;
        env
    }

    /// Like `start`, with extra TOML appended to the daemon's config, and no daemon yet.
    pub async fn start_without_daemon(name: &str, extra_config: &str) -> TestEnv {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("envs")
            .join(format!("{name}-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let as_port = free_port();
        let config_path = root.join("config.toml");
        let db_url = match postgres_server() {
            Some(server) => new_postgres_database(&server).await,
            None => format!("sqlite://{}", root.join("data/pluralmatrix.db").display()),
        };
        std::fs::write(
            &config_path,
            format!(
                "[homeserver]\nurl = \"http://127.0.0.1:1\"\ndomain = \"localhost\"\n\n[appservice]\nlisten = \"127.0.0.1:{as_port}\"\nurl = \"http://127.0.0.1:{as_port}\"\nas_token = \"\"\nhs_token = \"\"\n\n[database]\nurl = \"{db_url}\"\n{extra_config}"
            ),
        )
        .unwrap();
        let reg = root.join("registration.yaml");
        let out = Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
            .args(["generate-registration", "-c"])
            .arg(&config_path)
            .arg("-o")
            .arg(&reg)
            .output()
            .unwrap();
        assert!(out.status.success(), "generate-registration: {}", String::from_utf8_lossy(&out.stderr));
        let config: toml::Value = toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
        let token = |k: &str| config["appservice"][k].as_str().unwrap().to_owned();

        let synapse_dir = root.join("synapse");
        let out = Command::new(repo_root().join("scripts/synapse.sh"))
            .arg("start")
            .arg(&synapse_dir)
            .arg("0")
            .arg(&reg)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "synapse did not start");
        let hs_url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        TestEnv {
            root,
            hs_url,
            as_port,
            config_path,
            hs_token: token("hs_token"),
            as_token: token("as_token"),
            bot: UserId::parse("@plural_bot:localhost").unwrap(),
            daemon: None,
            daemon_starts: 0,
            faults: String::new(),
            rust_log: "info,pluralmatrix=debug,sqlx=warn".into(),
            db_url,
        }
    }

    pub fn daemon_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.as_port)
    }

    /// Whether this environment's daemon runs on PostgreSQL.
    pub fn postgres(&self) -> bool {
        self.db_url.starts_with("postgres")
    }

    /// Starts the daemon and waits until `/health` says ready.
    pub async fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "daemon already running");
        self.daemon_starts += 1;
        let log = std::fs::File::create(self.root.join(format!("daemon-{}.log", self.daemon_starts))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pluralmatrix"))
            .args(["run", "-c"])
            .arg(&self.config_path)
            .env("PLURALMATRIX__HOMESERVER__URL", &self.hs_url)
            .env("RUST_LOG", &self.rust_log)
            .env("PLURALMATRIX_FAULTS", &self.faults)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
        let deadline = Instant::now() + WAIT;
        let http = reqwest::Client::new();
        loop {
            // Exited (e.g. its port was taken): whatever answers there is not ours.
            if let Some(status) = self.daemon.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited during start-up ({status}); log:\n{}", self.daemon_log());
            }
            if let Ok(r) = http.get(format!("{}/health", self.daemon_url())).send().await {
                // Started; "stalled" means old work is waiting, which a test may well have made.
                let ok = r.status().is_success();
                if ok || r.text().await.unwrap_or_default().starts_with("stalled") {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "daemon not ready in time; log:\n{}", self.daemon_log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the homeserver (the daemon keeps running).
    pub fn stop_synapse(&self) {
        let status = Command::new(repo_root().join("scripts/synapse.sh"))
            .arg("stop")
            .arg(self.root.join("synapse"))
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Starts the homeserver again, on the same port with the same data.
    pub fn restart_synapse(&self) {
        self.start_synapse_again(&[]);
    }

    /// Starts the stopped homeserver on its port with its data, with the daemon's registration
    /// plus `extra` ones (`scripts/synapse.sh start DIR PORT REG EXTRA…`).
    fn start_synapse_again(&self, extra: &[PathBuf]) {
        let port = self.hs_url.rsplit(':').next().unwrap();
        let out = Command::new(repo_root().join("scripts/synapse.sh"))
            .arg("start")
            .arg(self.root.join("synapse"))
            .arg(port)
            .arg(self.root.join("registration.yaml"))
            .args(extra)
            .stderr(Stdio::inherit())
            .output()
            .unwrap();
        assert!(out.status.success(), "synapse did not restart");
    }

    /// Waits until the daemon process ends by itself (a fault point aborted it).
    pub async fn wait_daemon_exit(&mut self) {
        let deadline = Instant::now() + WAIT;
        let child = self.daemon.as_mut().expect("daemon running");
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the daemon did not stop at its fault point");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.daemon = None;
    }

    /// `GET /health`: status and body.
    pub async fn health(&self) -> (u16, String) {
        let r = reqwest::get(format!("{}/health", self.daemon_url())).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// The running daemon's process ID.
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(|c| c.id())
    }

    /// kill -9: no chance to finish anything.
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait: the clean shutdown path.
    pub fn stop_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "SIGTERM is a clean exit, not {status}");
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("daemon did not stop on SIGTERM");
        }
    }

    pub fn daemon_log(&self) -> String {
        (1..=self.daemon_starts)
            .map(|n| std::fs::read_to_string(self.root.join(format!("daemon-{n}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    /// Registers a normal user with the shared secret and logs a matrix-sdk client in.
    pub async fn user(&self, localpart: &str) -> User {
        let http = reqwest::Client::new();
        let url = format!("{}/_synapse/admin/v1/register", self.hs_url);
        let nonce: Value =
            serde_json::from_slice(&http.get(&url).send().await.unwrap().bytes().await.unwrap()).unwrap();
        let nonce = nonce["nonce"].as_str().unwrap().to_owned();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SHARED_SECRET.as_bytes()).unwrap();
        mac.update(format!("{nonce}\0{localpart}\0{PASSWORD}\0notadmin").as_bytes());
        let body = json!({"nonce": nonce, "username": localpart, "password": PASSWORD, "admin": false,
                          "mac": hex::encode(mac.finalize().into_bytes())});
        let resp =
            http.post(&url).header("content-type", "application/json").body(body.to_string()).send().await.unwrap();
        assert!(resp.status().is_success(), "register {localpart}: {}", resp.text().await.unwrap());
        let client = Client::builder().homeserver_url(&self.hs_url).build().await.unwrap();
        client
            .matrix_auth()
            .login_username(localpart, PASSWORD)
            .initial_device_display_name("test")
            .send()
            .await
            .unwrap();
        let user_id = client.user_id().unwrap().to_owned();
        User { client, user_id, sync_task: Default::default() }
    }

    /// The daemon's database, while it runs (SQLite's WAL mode allows that). Boolean columns
    /// read through `Any` need `col IS TRUE` on SQLite (see `pluralmatrix::db::Flag`).
    pub async fn db(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&self.db_url).await.unwrap()
    }

    /// Whether the journal holds a transaction with this ID.
    pub async fn journal_has(&self, txn_id: &str) -> bool {
        let pool = self.db().await;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE txn_id = $1")
            .bind(txn_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n > 0
    }

    /// PUTs a transaction straight to the daemon, as the homeserver would.
    pub async fn push_transaction(&self, txn_id: &str, body: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .put(format!("{}/_matrix/app/v1/transactions/{txn_id}", self.daemon_url()))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// The ghost user ID of a member, as the daemon names it.
    pub fn ghost(&self, system_slug: &str, member_slug: &str) -> OwnedUserId {
        UserId::parse(format!("@_plural_{system_slug}_{member_slug}:localhost")).unwrap()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.kill_daemon();
        let _ =
            Command::new(repo_root().join("scripts/synapse.sh")).arg("stop").arg(self.root.join("synapse")).status();
        if std::thread::panicking() {
            eprintln!("test environment kept for inspection: {}", self.root.display());
            eprintln!("daemon log (tail):\n{}", tail(&self.daemon_log(), 60));
        } else {
            if std::env::var_os("KEEP_ENV").is_none() {
                let _ = std::fs::remove_dir_all(&self.root);
            }
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A human, played by matrix-sdk's client (with end-to-end encryption).
pub struct User {
    pub client: Client,
    pub user_id: OwnedUserId,
    sync_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for User {
    fn drop(&mut self) {
        if let Some(task) = self.sync_task.lock().unwrap().take() {
            task.abort();
        }
    }
}

impl User {
    /// Creates a private room, invites `invite`, and gives the bot moderator power.
    pub async fn create_room(&self, env: &TestEnv, invite: &[&UserId]) -> Room {
        self.create_room_with(env, invite, true).await
    }

    /// Creates a private room with the bot; `bot_moderator`: whether it may redact.
    pub async fn create_room_with(&self, env: &TestEnv, invite: &[&UserId], bot_moderator: bool) -> Room {
        let mut req = create_room::v3::Request::new();
        req.invite = invite.iter().map(|u| (*u).to_owned()).chain([env.bot.clone()]).collect();
        req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        let room = self.client.create_room(req).await.unwrap();
        if bot_moderator {
            self.sync().await;
            room.update_power_levels(vec![(&env.bot, matrix_sdk::ruma::Int::from(50))]).await.unwrap();
        }
        self.wait_joined(room.room_id(), &env.bot).await;
        room
    }

    /// Keeps the client syncing in the background (needed for encryption: room keys and
    /// device lists arrive through /sync).
    pub async fn start_sync(&self) {
        self.sync().await;
        let client = self.client.clone();
        // Like Element, keep syncing through a homeserver outage: matrix-sdk's `Client::sync`
        // returns at the first failed request, so a Synapse restart would leave this user
        // deaf to to-device messages (key requests, room keys) for the rest of the test.
        let task = tokio::spawn(async move {
            let settings = matrix_sdk::config::SyncSettings::default().timeout(Duration::from_secs(5));
            let _ = client
                .sync_with_result_callback(settings, |result| async move {
                    if result.is_err() {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Ok(matrix_sdk::LoopCtrl::Continue)
                })
                .await;
        });
        *self.sync_task.lock().unwrap() = Some(task);
    }

    /// Creates an encrypted private room with the bot (as moderator) and `invite`.
    pub async fn create_encrypted_room(&self, env: &TestEnv, invite: &[&UserId]) -> Room {
        use matrix_sdk::ruma::events::{InitialStateEvent, room::encryption::RoomEncryptionEventContent};
        let mut req = create_room::v3::Request::new();
        req.invite = invite.iter().map(|u| (*u).to_owned()).chain([env.bot.clone()]).collect();
        req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        req.initial_state = vec![
            InitialStateEvent::with_empty_state_key(RoomEncryptionEventContent::with_recommended_defaults())
                .to_raw_any(),
        ];
        let room = self.client.create_room(req).await.unwrap();
        self.sync().await;
        room.update_power_levels(vec![(&env.bot, matrix_sdk::ruma::Int::from(50))]).await.unwrap();
        self.wait_joined(room.room_id(), &env.bot).await;
        room
    }

    /// One /sync round, so the client knows current room state.
    pub async fn sync(&self) {
        let settings = matrix_sdk::config::SyncSettings::default().timeout(Duration::ZERO);
        self.client.sync_once(settings).await.unwrap();
    }

    pub async fn join(&self, room_id: &RoomId) -> Room {
        self.client.join_room_by_id(room_id).await.unwrap()
    }

    pub fn room(&self, room_id: &RoomId) -> Room {
        self.client.get_room(room_id).expect("known room")
    }

    pub async fn joined_members(&self, room_id: &RoomId) -> Vec<OwnedUserId> {
        let resp = self.client.send(joined_members::v3::Request::new(room_id.to_owned())).await.unwrap();
        resp.joined.into_keys().collect()
    }

    pub async fn wait_joined(&self, room_id: &RoomId, user: &UserId) {
        let deadline = Instant::now() + WAIT;
        while !self.joined_members(room_id).await.iter().any(|u| u == user) {
            assert!(Instant::now() < deadline, "{user} did not join {room_id}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends raw `m.room.message` content; returns the event ID.
    pub async fn send(&self, room_id: &RoomId, content: Value) -> OwnedEventId {
        let raw: Raw<AnyMessageLikeEventContent> = Raw::new(&content).unwrap().cast_unchecked();
        self.room(room_id).send_raw("m.room.message", raw).await.unwrap().response.event_id
    }

    pub async fn send_text(&self, room_id: &RoomId, body: &str) -> OwnedEventId {
        self.send(room_id, json!({"msgtype": "m.text", "body": body})).await
    }

    /// The room's latest events (newest first), as raw JSON, fetched with /messages.
    pub async fn messages(&self, room_id: &RoomId) -> Vec<Value> {
        let mut options = MessagesOptions::backward();
        options.limit = 100u32.into();
        let msgs = self.room(room_id).messages(options).await.unwrap();
        msgs.chunk.iter().map(|e| e.raw().deserialize_as_unchecked::<Value>().unwrap()).collect()
    }

    /// Polls until `pred` holds for some event; returns it.
    pub async fn wait_for(&self, room_id: &RoomId, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_within(room_id, what, WAIT, pred).await
    }

    /// Like `wait_for`, with a bound of its own (for bulk work, which is slower in a debug
    /// build, and slower on PostgreSQL, where every query is a round trip).
    pub async fn wait_for_within(
        &self,
        room_id: &RoomId,
        what: &str,
        bound: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(found) = self.messages(room_id).await.into_iter().find(|e| pred(e)) {
                return found;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Sends a command and waits for the bot's reply to it; returns the reply's body.
    pub async fn command(&self, env: &TestEnv, room_id: &RoomId, text: &str) -> String {
        let reply = self.command_event(env, room_id, text).await;
        reply["content"]["body"].as_str().unwrap_or_default().to_owned()
    }

    /// Sends a command and waits for the bot's reply to it; returns the whole reply event.
    pub async fn command_event(&self, env: &TestEnv, room_id: &RoomId, text: &str) -> Value {
        let id = self.send_text(room_id, text).await;
        self.reply_to(env, room_id, id.as_str()).await
    }

    /// Waits for the bot's reply to the event `id`.
    pub async fn reply_to(&self, env: &TestEnv, room_id: &RoomId, id: &str) -> Value {
        self.wait_for(room_id, &format!("the bot's reply to {id}"), |e| {
            // Decrypted (in encrypted rooms the relation is readable before the body is).
            e["sender"] == env.bot.as_str()
                && e["type"] == "m.room.message"
                && e["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == id
        })
        .await
    }

    /// Waits until the event `id` shows as redacted.
    pub async fn wait_redacted(&self, room_id: &RoomId, id: &OwnedEventId) {
        self.wait_for(room_id, &format!("{id} to be redacted"), |e| e["event_id"] == id.as_str() && is_redacted(e))
            .await;
    }
}

/// Long-polls /sync as `token` (plain HTTP, so no client processing is timed) and reports every
/// new timeline event with the moment its sync response arrived. Stops when the receiver goes.
pub fn watch_sync(hs_url: &str, token: String) -> tokio::sync::mpsc::UnboundedReceiver<(Value, Instant)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let sync_url = format!("{hs_url}/_matrix/client/v3/sync");
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut since: Option<String> = None;
        while !tx.is_closed() {
            let url = match &since {
                Some(s) => format!("{sync_url}?timeout=10000&since={s}"),
                None => format!("{sync_url}?timeout=0"),
            };
            let Ok(resp) = http.get(url).bearer_auth(&token).send().await else { return };
            let arrived = Instant::now();
            let Ok(bytes) = resp.bytes().await else { return };
            let bytes: &[u8] = &bytes;
            let body: Value = serde_json::from_slice(bytes).unwrap_or_default();
            let first = since.is_none();
            since = body["next_batch"].as_str().map(str::to_owned);
            if first {
                continue; // history
            }
            for room in body["rooms"]["join"].as_object().into_iter().flat_map(|r| r.values()) {
                for e in room["timeline"]["events"].as_array().into_iter().flatten() {
                    let _ = tx.send((e.clone(), arrived));
                }
            }
        }
    });
    rx
}

pub fn is_redacted(e: &Value) -> bool {
    e["unsigned"].get("redacted_because").is_some()
}

/// Messages in `events` sent by `sender` (not redacted).
pub fn from<'a>(events: &'a [Value], sender: &UserId) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["sender"] == sender.as_str() && e["type"] == "m.room.message" && !is_redacted(e))
        .collect()
}

/// An owner and an observer (new users with these localparts) in a fresh private room with the
/// bot as moderator.
pub async fn owner_and_observer(env: &TestEnv, owner: &str, observer: &str) -> (User, User, OwnedRoomId) {
    let owner = env.user(owner).await;
    let observer = env.user(observer).await;
    let room = owner.create_room(env, &[&observer.user_id]).await;
    let room_id = room_id_of(&room);
    observer.join(&room_id).await;
    (owner, observer, room_id)
}

/// Like `owner_and_observer`, in an encrypted room, both users syncing (for room keys).
pub async fn encrypted_owner_and_observer(env: &TestEnv, owner: &str, observer: &str) -> (User, User, Room) {
    let owner = env.user(owner).await;
    let observer = env.user(observer).await;
    owner.start_sync().await;
    observer.start_sync().await;
    let room = owner.create_encrypted_room(env, &[&observer.user_id]).await;
    let room_id = room_id_of(&room);
    observer.join(&room_id).await;
    owner.wait_joined(&room_id, &observer.user_id).await;
    (owner, observer, room)
}

pub fn room_id_of(room: &Room) -> OwnedRoomId {
    room.room_id().to_owned()
}

/// Makes a system with one member "Alice" (tag `a:text`) for `user`; returns the system slug.
pub async fn system_with_alice(env: &TestEnv, user: &User, room_id: &RoomId) -> String {
    let reply = user.command(env, room_id, "pk;system new Test System").await;
    assert!(reply.contains("System created"), "{reply}");
    let reply = user.command(env, room_id, "pk;member new Alice").await;
    assert!(reply.contains("Member created"), "{reply}");
    let reply = user.command(env, room_id, "pk;member alice proxy a:text").await;
    assert!(reply.contains("a:text"), "{reply}");
    user.user_id.localpart().to_owned()
}

// ---------------------------------------------------------------------------------------------
// Homeserver with more than one appservice (for benches/paired.rs).

impl TestEnv {
    /// Stops the homeserver and starts it again on the same port with the same data, with the
    /// daemon's registration plus the `extra` ones (`scripts/synapse.sh start DIR PORT REG EXTRA…`).
    /// Call it before the daemon starts, e.g. right after `start_without_daemon`.
    pub fn restart_synapse_with_registrations(&self, extra: &[PathBuf]) {
        self.stop_synapse();
        self.start_synapse_again(extra);
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions pushed by hand.

/// A transaction body with one event, the way Synapse sends it.
pub fn txn_with(event: &Value) -> String {
    json!({"events": [event], "ephemeral": [], "de.sorunome.msc2409.to_device": []}).to_string()
}

/// Waits until every stored transaction and queued room event has been handled.
pub async fn wait_journal_idle(env: &TestEnv) {
    let deadline = Instant::now() + WAIT;
    loop {
        let pool = env.db().await;
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM journal WHERE processed_at IS NULL) + \
             (SELECT COUNT(*) FROM room_events WHERE state = 'pending')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        if pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "journal never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
