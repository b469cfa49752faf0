//! Paired benchmark: the daemon against a minimal "echo" appservice, on ONE Synapse, in the
//! same run, with the figures as ratios daemon/echo.
//!
//! The echo (in this file; run as a separate process of this same bench binary, switched on by
//! the `PAIRED_ECHO` environment variable, so its CPU is its own) is the floor: it acknowledges
//! every transaction as soon as its body is parsed (no journal), and for every `m.room.message`
//! from a non-echo user whose body starts with `a:` it sends the rest, trimmed, as
//! `@echo_ghost:localhost` and then redacts the original as `@echo_bot:localhost`, one spawned
//! task per event.
//!
//! Synapse is started by `TestEnv::start_without_daemon` and then restarted (same port and data)
//! with both registrations (`restart_synapse_with_registrations`, i.e. `scripts/synapse.sh start
//! DIR PORT REG EXTRA_REG`). The observer long-polls /sync like `support::watch_sync`, but with an
//! inline filter raising the timeline limit (Synapse's default of 10 events per room would leave
//! burst events out); the last line counts responses that were limited anyway (should be 0).
//!
//! Room D holds the owner, the observer, the daemon's bot (moderator) and the burst senders;
//! room E the same humans, `@echo_bot` (power 50) and `@echo_ghost`. Every human has a system
//! with Alice (`a:text`). All rooms are plain (unencrypted); the daemon runs with its default
//! config (encryption enabled).
//!
//! Per run (RUNS, default 3, all in the same environment):
//!
//! a. latency: PAIRS pairs (default 100), interleaved ABBA (D, E, E, D, …) after 3 warm-ups per
//!    side: the owner sends `a: <unique body>`; the time from the send call returning until the
//!    observer's plain long-polling /sync delivers the ghost's message. The next sample starts
//!    once the original's redaction has been seen too. p50 and p99 per side.
//! b. throughput: ROUNDS bursts (default 4, sides D, E, E, D, …): BURST_SENDERS users (default 8)
//!    send BURST_MESSAGES messages each (default 15; 25 made a default run take ~10.5 min on
//!    2 cores), all at once, each as fast as its sends return; from the first send until the
//!    observer has the round's last ghost message.
//! c. CPU per proxied message during the bursts (utime+stime from /proc/<pid>/stat, from the
//!    first send until every original of the round is seen redacted, plus 300 ms): Synapse
//!    (SYNAPSE_PID in <env>/synapse/synapse.env), the daemon, the echo process. CLK_TCK comes
//!    from `getconf CLK_TCK` (100 if that fails).
//!
//! and, over all bursts, the client-API requests each appservice made per proxied message, by
//! endpoint, from Synapse's access log (`Processed request` lines in homeserver.log; told apart
//! by user agent: `pluralmatrix/…` is the daemon, `paired-echo/…` the echo, anything else the
//! humans), with the Synapse CPU inside those requests (the log's `ru=`), the Synapse CPU outside
//! any client request (transaction pushing, background), and the Synapse CPU per message without
//! the observer's /sync requests (whose number depends on how the ghost messages are spread out).
//!
//! The last lines give the median over the runs of every figure; a ratio there is the median
//! of the per-run ratios (a paired statistic), so it need not equal the quotient of the two
//! medians printed beside it.
//!
//!   cargo bench --bench paired                  (release build; ~8 min plus the build, 2 cores)
//!   PAIRS=10 ROUNDS=2 RUNS=1 BURST_MESSAGES=5 cargo bench --bench paired      (quick check)
//!   KEEP_ENV=1 cargo bench --bench paired     (keep target/tmp/envs/paired-*, logs included)
//!   ECHO_LIKE_DAEMON=1 cargo bench --bench paired   (the echo's registration also sets
//!       receive_ephemeral, org.matrix.msc3202 and io.element.msc4190, like the daemon's, so
//!       Synapse does the same extra work for both; the echo ignores what that brings)
//!
//! Prints the figures; asserts nothing about them (it fails only if the set-up fails or a
//! message does not arrive in time). Everything stays on 127.0.0.1.

#![recursion_limit = "256"]

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use matrix_sdk::ruma::{Int, OwnedRoomId, RoomId, UserId, api::client::room::create_room};
use rand::Rng;
use serde_json::{Value, json};
use support::*;

const ECHO_BOT: &str = "@echo_bot:localhost";
const ECHO_GHOST: &str = "@echo_ghost:localhost";

fn main() {
    if std::env::var_os("PAIRED_ECHO").is_some() {
        echo::main();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for path segments and
/// query values).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn random_token() -> String {
    rand::rng().sample_iter(rand::distr::Alphanumeric).take(64).map(char::from).collect()
}

// ------------------------------------------------------------------------------------------
// The echo appservice (its own process).

mod echo {
    use std::{
        io::Read,
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::Duration,
    };

    use axum::{
        Json, Router,
        body::Bytes,
        extract::{Path, State},
        http::{HeaderMap, StatusCode},
        routing::{get, post, put},
    };
    use serde_json::{Value, json};

    use super::{ECHO_BOT, ECHO_GHOST, enc};

    struct Echo {
        http: reqwest::Client,
        hs_url: String,
        as_token: String,
        hs_token: String,
        txn: AtomicU64,
        stamp: u128,
    }

    fn var(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| panic!("echo: {name} not set"))
    }

    pub fn main() {
        // The bench holds our stdin: when it goes (even killed), so do we.
        std::thread::spawn(|| {
            let mut buf = [0u8; 64];
            loop {
                match std::io::stdin().read(&mut buf) {
                    Ok(0) | Err(_) => std::process::exit(0),
                    Ok(_) => {}
                }
            }
        });
        let port: u16 = var("PAIRED_ECHO_PORT").parse().expect("PAIRED_ECHO_PORT");
        let echo = Arc::new(Echo {
            http: reqwest::Client::builder().user_agent("paired-echo/1").build().unwrap(),
            hs_url: var("PAIRED_ECHO_HS_URL"),
            as_token: var("PAIRED_ECHO_AS_TOKEN"),
            hs_token: var("PAIRED_ECHO_HS_TOKEN"),
            txn: AtomicU64::new(0),
            stamp: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let app = Router::new()
                .route("/_matrix/app/v1/transactions/{txn}", put(transaction))
                .route("/_matrix/app/v1/users/{user}", get(user))
                .route("/_matrix/app/v1/rooms/{alias}", get(no_alias))
                .route("/_matrix/app/v1/ping", post(ping))
                .with_state(echo);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("echo: bind");
            axum::serve(listener, app).await.expect("echo: serve");
        });
    }

    fn authorized(echo: &Echo, headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", echo.hs_token))
    }

    fn forbidden() -> (StatusCode, Json<Value>) {
        (StatusCode::FORBIDDEN, Json(json!({"errcode": "M_FORBIDDEN"})))
    }

    async fn transaction(
        State(echo): State<Arc<Echo>>,
        Path(_txn): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, Json<Value>) {
        if !authorized(&echo, &headers) {
            return forbidden();
        }
        let Ok(txn) = serde_json::from_slice::<Value>(&body) else {
            return (StatusCode::BAD_REQUEST, Json(json!({"errcode": "M_NOT_JSON"})));
        };
        for e in txn["events"].as_array().into_iter().flatten() {
            if e["type"] != "m.room.message" || e["sender"].as_str().is_none_or(|s| s.starts_with("@echo_")) {
                continue;
            }
            let Some(text) = e["content"]["body"].as_str().and_then(|b| b.strip_prefix("a:")) else { continue };
            let (Some(room), Some(event)) = (e["room_id"].as_str(), e["event_id"].as_str()) else { continue };
            tokio::spawn(proxy(echo.clone(), room.to_owned(), event.to_owned(), text.trim().to_owned()));
        }
        (StatusCode::OK, Json(json!({})))
    }

    async fn proxy(echo: Arc<Echo>, room: String, event: String, text: String) {
        let room = enc(&room);
        let send = format!(
            "{}/_matrix/client/v3/rooms/{room}/send/m.room.message/{}?user_id={}",
            echo.hs_url,
            next_txn(&echo),
            enc(ECHO_GHOST)
        );
        if !put_json(&echo, &send, json!({"msgtype": "m.text", "body": text})).await {
            return;
        }
        let redact = format!(
            "{}/_matrix/client/v3/rooms/{room}/redact/{}/{}?user_id={}",
            echo.hs_url,
            enc(&event),
            next_txn(&echo),
            enc(ECHO_BOT)
        );
        put_json(&echo, &redact, json!({})).await;
    }

    fn next_txn(echo: &Echo) -> String {
        format!("echo{}-{}", echo.stamp, echo.txn.fetch_add(1, Ordering::Relaxed))
    }

    /// PUT with the appservice token; a few tries on failure (same transaction ID). Whether it
    /// worked.
    async fn put_json(echo: &Echo, url: &str, body: Value) -> bool {
        let body = body.to_string();
        for attempt in 0..5 {
            let resp = echo
                .http
                .put(url)
                .bearer_auth(&echo.as_token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match resp {
                Ok(r) if r.status().is_success() => {
                    let _ = r.bytes().await;
                    return true;
                }
                Ok(r) => {
                    let status = r.status();
                    eprintln!("echo: {url}: {status} {}", r.text().await.unwrap_or_default());
                }
                Err(e) => eprintln!("echo: {url}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        false
    }

    async fn user(
        State(echo): State<Arc<Echo>>,
        Path(user): Path<String>,
        headers: HeaderMap,
    ) -> (StatusCode, Json<Value>) {
        if !authorized(&echo, &headers) {
            return forbidden();
        }
        if user == ECHO_GHOST || user == ECHO_BOT {
            (StatusCode::OK, Json(json!({})))
        } else {
            (StatusCode::NOT_FOUND, Json(json!({"errcode": "M_NOT_FOUND"})))
        }
    }

    async fn no_alias() -> (StatusCode, Json<Value>) {
        (StatusCode::NOT_FOUND, Json(json!({"errcode": "M_NOT_FOUND"})))
    }

    async fn ping(State(echo): State<Arc<Echo>>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
        if !authorized(&echo, &headers) {
            return forbidden();
        }
        (StatusCode::OK, Json(json!({})))
    }
}

fn echo_like_daemon() -> bool {
    std::env::var("ECHO_LIKE_DAEMON").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The echo process; killed (and reaped) on drop.
struct EchoProcess {
    child: Child,
    url: String,
    hs_token: String,
    as_token: String,
    registration: PathBuf,
}

impl EchoProcess {
    fn spawn(env: &TestEnv) -> EchoProcess {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let (as_token, hs_token) = (random_token(), random_token());
        let registration = env.root.join("echo-registration.yaml");
        // ECHO_LIKE_DAEMON=1: the daemon's registration extras too, to see what they cost Synapse.
        let flags = if echo_like_daemon() {
            "receive_ephemeral: true\norg.matrix.msc3202: true\nio.element.msc4190: true\n"
        } else {
            ""
        };
        std::fs::write(
            &registration,
            format!(
                "id: echo\nurl: \"{url}\"\nas_token: \"{as_token}\"\nhs_token: \"{hs_token}\"\n\
                 sender_localpart: echo_bot\nrate_limited: false\n{flags}namespaces:\n  users:\n    \
                 - exclusive: true\n      regex: '@echo_.*:localhost'\n  aliases: []\n  rooms: []\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(env.root.join("echo.log")).unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .env("PAIRED_ECHO", "1")
            .env("PAIRED_ECHO_PORT", port.to_string())
            .env("PAIRED_ECHO_HS_URL", &env.hs_url)
            .env("PAIRED_ECHO_AS_TOKEN", &as_token)
            .env("PAIRED_ECHO_HS_TOKEN", &hs_token)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        EchoProcess { child, url, hs_token, as_token, registration }
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        loop {
            let r = http
                .get(format!("{}/_matrix/app/v1/users/{}", self.url, enc(ECHO_GHOST)))
                .bearer_auth(&self.hs_token)
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(self.child.try_wait().unwrap().is_none(), "the echo process exited during start-up");
            assert!(Instant::now() < deadline, "the echo did not answer in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------
// Measuring.

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Side {
    Daemon,
    Echo,
}

/// A, B, B, A, A, B, B, A, …
fn abba(k: usize) -> Side {
    if matches!(k % 4, 0 | 3) { Side::Daemon } else { Side::Echo }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return 0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let get = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn clk_tck() -> (f64, bool) {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    match out.and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.trim().parse::<f64>().ok()) {
        Some(t) if t > 0.0 => (t, true),
        _ => (100.0, false),
    }
}

fn synapse_pid(env: &TestEnv) -> u32 {
    let text = std::fs::read_to_string(env.root.join("synapse/synapse.env")).unwrap();
    text.lines().find_map(|l| l.strip_prefix("SYNAPSE_PID=")).and_then(|p| p.trim().parse().ok()).expect("SYNAPSE_PID")
}

#[derive(Clone, Copy, Default)]
struct Cpu {
    synapse: u64,
    daemon: u64,
    echo: u64,
}

struct Pids {
    synapse: u32,
    daemon: u32,
    echo: u32,
}

impl Pids {
    fn snapshot(&self) -> Cpu {
        Cpu { synapse: cpu_ticks(self.synapse), daemon: cpu_ticks(self.daemon), echo: cpu_ticks(self.echo) }
    }
}

/// The observer's view: ghost messages by body, redactions by redacted event ID, each with the
/// moment its /sync response arrived.
struct Observer {
    rx: tokio::sync::mpsc::UnboundedReceiver<(Value, Instant)>,
    ghost_msgs: HashMap<String, Instant>,
    redacted: HashMap<String, Instant>,
}

impl Observer {
    fn absorb(&mut self, e: Value, at: Instant) {
        let sender = e["sender"].as_str().unwrap_or_default();
        match e["type"].as_str() {
            Some("m.room.message") if sender.starts_with("@_plural_") || sender == ECHO_GHOST => {
                if let Some(body) = e["content"]["body"].as_str() {
                    self.ghost_msgs.entry(body.to_owned()).or_insert(at);
                }
            }
            Some("m.room.redaction") => {
                let redacts = e["redacts"].as_str().or_else(|| e["content"]["redacts"].as_str());
                if let Some(id) = redacts {
                    self.redacted.entry(id.to_owned()).or_insert(at);
                }
            }
            _ => {}
        }
    }

    async fn wait_until(&mut self, deadline: Instant, what: &str, done: impl Fn(&Observer) -> bool) {
        loop {
            while let Ok((e, at)) = self.rx.try_recv() {
                self.absorb(e, at);
            }
            if done(self) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some((e, at))) => self.absorb(e, at),
                Ok(None) => panic!("the observer's /sync stopped while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }
}

/// `support::watch_sync` with one difference: an inline filter raises the per-room timeline limit
/// (Synapse's default is 10 events per sync response, so a burst would come back `limited`, with
/// events left out). Counts the responses that were limited anyway.
fn watch_sync_full(
    hs_url: &str,
    token: String,
) -> (tokio::sync::mpsc::UnboundedReceiver<(Value, Instant)>, std::sync::Arc<AtomicU64>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let limited = std::sync::Arc::new(AtomicU64::new(0));
    let limited_count = limited.clone();
    let filter = enc(r#"{"room":{"timeline":{"limit":1000}}}"#);
    let sync_url = format!("{hs_url}/_matrix/client/v3/sync?filter={filter}");
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut since: Option<String> = None;
        while !tx.is_closed() {
            let url = match &since {
                Some(s) => format!("{sync_url}&timeout=10000&since={s}"),
                None => format!("{sync_url}&timeout=0"),
            };
            let Ok(resp) = http.get(url).bearer_auth(&token).send().await else { return };
            let arrived = Instant::now();
            let Ok(bytes) = resp.bytes().await else { return };
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let first = since.is_none();
            since = body["next_batch"].as_str().map(str::to_owned);
            if first {
                continue; // history
            }
            for room in body["rooms"]["join"].as_object().into_iter().flat_map(|r| r.values()) {
                if room["timeline"]["limited"] == true {
                    limited_count.fetch_add(1, Ordering::Relaxed);
                }
                for e in room["timeline"]["events"].as_array().into_iter().flatten() {
                    let _ = tx.send((e.clone(), arrived));
                }
            }
        }
    });
    (rx, limited)
}

/// A human as plain HTTP: sends go straight to the client API (no client-side processing timed).
#[derive(Clone)]
struct Sender {
    http: reqwest::Client,
    hs_url: String,
    token: String,
}

static TXN: AtomicU64 = AtomicU64::new(0);

impl Sender {
    /// Sends `m.text` and returns the event ID.
    async fn send(&self, room: &RoomId, body: &str) -> String {
        let txn = format!("paired{}-{}", std::process::id(), TXN.fetch_add(1, Ordering::Relaxed));
        let url = format!("{}/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", self.hs_url, enc(room.as_str()));
        let resp = self
            .http
            .put(url)
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(json!({"msgtype": "m.text", "body": body}).to_string())
            .send()
            .await
            .expect("send");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("send response");
        assert!(status.is_success(), "send: {status} {}", String::from_utf8_lossy(&bytes));
        let v: Value = serde_json::from_slice(&bytes).expect("send response JSON");
        v["event_id"].as_str().expect("event_id").to_owned()
    }
}

/// Requests and the Synapse CPU they took (the access log's `ru=(utime, stime)`).
#[derive(Default, Clone, Copy)]
struct Tally {
    count: u64,
    ru_ms: f64,
}

/// Who made a request, by user agent: `pluralmatrix/…`, `paired-echo/…`, or anyone else (the
/// humans' sends and the observer's /sync).
fn requester_kind(agent: &str) -> &'static str {
    if agent.starts_with("pluralmatrix/") {
        "daemon"
    } else if agent.starts_with("paired-echo/") {
        "echo"
    } else {
        "humans"
    }
}

/// Client-API requests in a slice of Synapse's access log, added to `into` by (who, endpoint).
fn count_requests(log: &[u8], into: &mut BTreeMap<(&'static str, String), Tally>) {
    let text = String::from_utf8_lossy(log);
    for line in text.lines().filter(|l| l.contains(" Processed request: ")) {
        // … {requester} Processed request: 0.002sec/0.000sec ru=(0.001sec, 0.000sec) db=(…) 2B 200
        //   "PUT /path HTTP/1.1" "user agent" [0 dbevts]
        let mut quoted = line.split('"').skip(1).step_by(2);
        let (Some(request), Some(agent)) = (quoted.next(), quoted.next()) else { continue };
        let mut parts = request.split(' ');
        let (Some(method), Some(uri)) = (parts.next(), parts.next()) else { continue };
        let ru_ms = line
            .split_once(" ru=(")
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(r, _)| {
                r.split(", ").filter_map(|t| t.trim_end_matches("sec").parse::<f64>().ok()).sum::<f64>() * 1000.0
            })
            .unwrap_or(0.0);
        let t = into.entry((requester_kind(agent), endpoint(method, uri))).or_default();
        t.count += 1;
        t.ru_ms += ru_ms;
    }
}

/// `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}` and the like.
fn endpoint(method: &str, uri: &str) -> String {
    let path = uri.split('?').next().unwrap_or(uri);
    let segs: Vec<&str> = path.split('/').collect();
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let back = |n: usize| if i >= n { segs[i - n] } else { "" };
        let id = |p: char, e: &str| s.starts_with(p) || s.starts_with(e);
        let placeholder = if id('!', "%21") {
            Some("{room}")
        } else if id('$', "%24") {
            Some("{event}")
        } else if id('@', "%40") {
            Some("{user}")
        } else if id('#', "%23") {
            Some("{alias}")
        } else if matches!(back(2), "send" | "redact" | "sendToDevice") || back(1) == "transactions" {
            Some("{txn}")
        } else if back(1) == "devices" {
            Some("{device}")
        } else if back(2) == "state" {
            Some("{state_key}")
        } else {
            None
        };
        out.push(placeholder.unwrap_or(s).to_owned());
    }
    format!("{method} {}", out.join("/"))
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// One run's figures.
#[derive(Default, Clone)]
struct RunFigures {
    p50: [f64; 2],
    p99: [f64; 2],
    /// messages per second
    throughput: [f64; 2],
    /// Synapse CPU ms per proxied message
    synapse_cpu: [f64; 2],
    daemon_cpu: f64,
    echo_cpu: f64,
    /// daemon CPU ms per second of echo bursts (work it does that is not ours)
    daemon_idle: f64,
}

struct Bench {
    env: TestEnv,
    pids: Pids,
    tck: f64,
    observer: Observer,
    owner: Sender,
    senders: Vec<Sender>,
    room: [OwnedRoomId; 2],
    pairs: usize,
    rounds: usize,
    burst_messages: usize,
    /// Per burst side: requests by (who, endpoint).
    requests: [BTreeMap<(&'static str, String), Tally>; 2],
    /// Per burst side: Synapse CPU ms over all its bursts.
    synapse_burst_ms: [f64; 2],
    burst_total: [u64; 2],
}

fn idx(side: Side) -> usize {
    match side {
        Side::Daemon => 0,
        Side::Echo => 1,
    }
}

impl Bench {
    fn ms(&self, ticks: u64) -> f64 {
        ticks as f64 * 1000.0 / self.tck
    }

    /// One latency sample: the ghost message's arrival after the send returned; waits for the
    /// redaction of the original as well.
    async fn latency_sample(&mut self, side: Side, body: &str) -> Duration {
        let room = self.room[idx(side)].clone();
        let event = self.owner.send(&room, &format!("a: {body}")).await;
        let sent = Instant::now();
        let deadline = sent + WAIT;
        self.observer
            .wait_until(deadline, &format!("the {side:?} ghost's {body:?}"), |o| o.ghost_msgs.contains_key(body))
            .await;
        let arrived = self.observer.ghost_msgs[body];
        self.observer
            .wait_until(deadline, &format!("the redaction of {event}"), |o| o.redacted.contains_key(&event))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        arrived.saturating_duration_since(sent)
    }

    /// One burst: (messages, time to the last ghost message, CPU during it).
    async fn burst(&mut self, run: usize, round: usize, side: Side) -> (usize, Duration, Cpu, Duration) {
        let room = self.room[idx(side)].clone();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let log_path = self.env.root.join("synapse/homeserver.log");
        let log_start = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let cpu0 = self.pids.snapshot();
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        let mut bodies = Vec::new();
        for (s, sender) in self.senders.iter().enumerate() {
            let mine: Vec<String> =
                (0..self.burst_messages).map(|m| format!("burst r{run} k{round} s{s} m{m}")).collect();
            bodies.extend(mine.iter().cloned());
            let (sender, room) = (sender.clone(), room.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::with_capacity(mine.len());
                for body in mine {
                    ids.push(sender.send(&room, &format!("a: {body}")).await);
                }
                ids
            }));
        }
        let mut events = Vec::new();
        for t in tasks {
            events.extend(t.await.expect("sender task"));
        }
        let n = bodies.len();
        let deadline = t0 + WAIT + Duration::from_millis(500) * n as u32;
        self.observer
            .wait_until(deadline, &format!("the {side:?} burst's {n} ghost messages"), |o| {
                bodies.iter().all(|b| o.ghost_msgs.contains_key(b))
            })
            .await;
        let last = bodies.iter().map(|b| self.observer.ghost_msgs[b]).max().unwrap();
        let events: HashSet<String> = events.into_iter().collect();
        self.observer
            .wait_until(deadline, &format!("the {side:?} burst's {n} redactions"), |o| {
                events.iter().all(|e| o.redacted.contains_key(e))
            })
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu1 = self.pids.snapshot();
        let window = t0.elapsed();
        let log_end = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(log_start);
        let log = std::fs::read(&log_path).unwrap_or_default();
        let slice = &log[(log_start as usize).min(log.len())..(log_end as usize).min(log.len())];
        count_requests(slice, &mut self.requests[idx(side)]);
        self.synapse_burst_ms[idx(side)] += self.ms(cpu1.synapse - cpu0.synapse);
        self.burst_total[idx(side)] += n as u64;
        let cpu = Cpu {
            synapse: cpu1.synapse - cpu0.synapse,
            daemon: cpu1.daemon - cpu0.daemon,
            echo: cpu1.echo - cpu0.echo,
        };
        (n, last.saturating_duration_since(t0), cpu, window)
    }

    async fn run_once(&mut self, run: usize) -> RunFigures {
        // a. latency
        let mut lat: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for k in 0..6 {
            let side = abba(k);
            self.latency_sample(side, &format!("warm r{run} {k} {side:?}")).await;
        }
        for k in 0..self.pairs * 2 {
            let side = abba(k);
            let d = self.latency_sample(side, &format!("lat r{run} {k} {side:?}")).await;
            lat[idx(side)].push(d);
        }
        for l in &mut lat {
            l.sort();
        }

        // b. + c. bursts
        let mut msgs = [0usize; 2];
        let mut time = [Duration::ZERO; 2];
        let mut cpu = [Cpu::default(); 2];
        let mut window = [Duration::ZERO; 2];
        for round in 0..self.rounds {
            let side = abba(round);
            let (n, d, c, w) = self.burst(run, round, side).await;
            println!(
                "  run {run} burst {round} {side:?}: {n} messages in {:.0} ms ({:.1} msg/s); CPU ms synapse {:.0}, daemon {:.0}, echo {:.0} over {:.0} ms",
                d.as_secs_f64() * 1000.0,
                n as f64 / d.as_secs_f64(),
                self.ms(c.synapse),
                self.ms(c.daemon),
                self.ms(c.echo),
                w.as_secs_f64() * 1000.0,
            );
            let i = idx(side);
            msgs[i] += n;
            time[i] += d;
            window[i] += w;
            cpu[i].synapse += c.synapse;
            cpu[i].daemon += c.daemon;
            cpu[i].echo += c.echo;
        }
        let per_msg = |ticks: u64, n: usize| if n == 0 { f64::NAN } else { self.ms(ticks) / n as f64 };
        let rate = |n: usize, d: Duration| if n == 0 { f64::NAN } else { n as f64 / d.as_secs_f64() };
        RunFigures {
            p50: [percentile(&lat[0], 0.5), percentile(&lat[1], 0.5)],
            p99: [percentile(&lat[0], 0.99), percentile(&lat[1], 0.99)],
            throughput: [rate(msgs[0], time[0]), rate(msgs[1], time[1])],
            synapse_cpu: [per_msg(cpu[0].synapse, msgs[0]), per_msg(cpu[1].synapse, msgs[1])],
            daemon_cpu: per_msg(cpu[0].daemon, msgs[0]),
            echo_cpu: per_msg(cpu[1].echo, msgs[1]),
            daemon_idle: if window[1].is_zero() { f64::NAN } else { self.ms(cpu[1].daemon) / window[1].as_secs_f64() },
        }
    }
}

/// Registers `@echo_ghost` and joins `user` (the echo bot or ghost) to `room` as the echo.
async fn echo_join(hs_url: &str, echo: &EchoProcess, room: &RoomId, user: &str) {
    let http = reqwest::Client::builder().user_agent("paired-setup/1").build().unwrap();
    let url = format!("{hs_url}/_matrix/client/v3/join/{}?user_id={}", enc(room.as_str()), enc(user));
    let resp = http
        .post(url)
        .bearer_auth(&echo.as_token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(status.is_success(), "{user} joining {room}: {status} {}", resp.text().await.unwrap_or_default());
}

async fn register_echo_ghost(hs_url: &str, echo: &EchoProcess) {
    let http = reqwest::Client::builder().user_agent("paired-setup/1").build().unwrap();
    let resp = http
        .post(format!("{hs_url}/_matrix/client/v3/register"))
        .bearer_auth(&echo.as_token)
        .header("content-type", "application/json")
        .body(
            json!({"type": "m.login.application_service", "username": "echo_ghost", "inhibit_login": true}).to_string(),
        )
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success() || text.contains("M_USER_IN_USE"), "registering echo_ghost: {status} {text}");
}

fn token(user: &User) -> String {
    user.client.access_token().expect("logged in")
}

async fn run() {
    let pairs = env_usize("PAIRS", 100);
    let rounds = env_usize("ROUNDS", 4);
    let runs = env_usize("RUNS", 3).max(1);
    let n_senders = env_usize("BURST_SENDERS", 8).max(1);
    let burst_messages = env_usize("BURST_MESSAGES", 15).max(1);
    let (tck, tck_known) = clk_tck();
    let started = Instant::now();
    println!(
        "paired: PAIRS={pairs} ROUNDS={rounds} RUNS={runs} BURST_SENDERS={n_senders} BURST_MESSAGES={burst_messages}; \
         CLK_TCK={tck}{} [{} build]",
        if tck_known { " (getconf)" } else { " (assumed; getconf failed)" },
        if cfg!(debug_assertions) { "debug" } else { "release" },
    );
    if echo_like_daemon() {
        println!(
            "paired: ECHO_LIKE_DAEMON: the echo registers receive_ephemeral, org.matrix.msc3202, io.element.msc4190"
        );
    }

    // One Synapse with both registrations, the daemon (default config) and the echo.
    let mut env = TestEnv::start_without_daemon("paired", "").await;
    let mut echo = EchoProcess::spawn(&env);
    echo.wait_ready().await;
    env.restart_synapse_with_registrations(std::slice::from_ref(&echo.registration));
    env.start_daemon().await;
    let pids = Pids { synapse: synapse_pid(&env), daemon: env.daemon_pid().expect("daemon running"), echo: echo.pid() };

    // Room D: owner, observer, the daemon's bot (moderator).
    let (owner, observer, room_d) = owner_and_observer(&env, "pairowner", "pairobserver").await;
    system_with_alice(&env, &owner, &room_d).await;
    let mut senders = Vec::new();
    for i in 0..n_senders {
        let user = env.user(&format!("pairsender{i}")).await;
        owner.room(&room_d).invite_user_by_id(&user.user_id).await.unwrap();
        user.join(&room_d).await;
        system_with_alice(&env, &user, &room_d).await;
        senders.push(user);
    }

    // Room E: the same humans, @echo_bot (power 50) and @echo_ghost; no daemon.
    register_echo_ghost(&env.hs_url, &echo).await;
    let echo_bot = UserId::parse(ECHO_BOT).unwrap();
    let echo_ghost = UserId::parse(ECHO_GHOST).unwrap();
    let mut req = create_room::v3::Request::new();
    req.invite = [observer.user_id.clone(), echo_bot.clone(), echo_ghost.clone()]
        .into_iter()
        .chain(senders.iter().map(|s| s.user_id.clone()))
        .collect();
    req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
    let room = owner.client.create_room(req).await.unwrap();
    let room_e = room_id_of(&room);
    owner.sync().await;
    room.update_power_levels(vec![(&echo_bot, Int::from(50))]).await.unwrap();
    echo_join(&env.hs_url, &echo, &room_e, ECHO_BOT).await;
    echo_join(&env.hs_url, &echo, &room_e, ECHO_GHOST).await;
    observer.join(&room_e).await;
    for s in &senders {
        s.join(&room_e).await;
    }
    for u in [&echo_bot, &echo_ghost, &observer.user_id] {
        owner.wait_joined(&room_e, u).await;
    }
    for s in &senders {
        owner.wait_joined(&room_e, &s.user_id).await;
    }

    let (rx, limited) = watch_sync_full(&env.hs_url, token(&observer));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let http = reqwest::Client::new();
    let as_sender = |u: &User| Sender { http: http.clone(), hs_url: env.hs_url.clone(), token: token(u) };
    let owner_s = as_sender(&owner);
    let senders_s: Vec<Sender> = senders.iter().map(as_sender).collect();
    let mut bench = Bench {
        pids,
        tck,
        observer: Observer { rx, ghost_msgs: HashMap::new(), redacted: HashMap::new() },
        owner: owner_s,
        senders: senders_s,
        room: [room_d, room_e],
        pairs,
        rounds,
        burst_messages,
        requests: [BTreeMap::new(), BTreeMap::new()],
        synapse_burst_ms: [0.0; 2],
        burst_total: [0; 2],
        env,
    };

    // Warm every sender's ghost (the daemon registers it and joins it on first use).
    for side in [Side::Daemon, Side::Echo] {
        for s in 0..bench.senders.len() {
            let sender = bench.senders[s].clone();
            let room = bench.room[idx(side)].clone();
            let body = format!("warm sender {s} {side:?}");
            let event = sender.send(&room, &format!("a: {body}")).await;
            let deadline = Instant::now() + WAIT;
            bench
                .observer
                .wait_until(deadline, &format!("warm-up {body:?}"), |o| o.ghost_msgs.contains_key(&body))
                .await;
            bench.observer.wait_until(deadline, "warm-up redaction", |o| o.redacted.contains_key(&event)).await;
        }
    }
    println!("paired: set-up done in {:.0} s", started.elapsed().as_secs_f64());

    let mut all = Vec::new();
    for run in 1..=runs {
        let t = Instant::now();
        let f = bench.run_once(run).await;
        println!(
            "paired run {run}/{runs} ({:.0} s): latency p50 daemon {:.1} ms, echo {:.1} ms (x{:.2}); p99 daemon {:.1} ms, echo {:.1} ms (x{:.2}); \
             throughput daemon {:.1} msg/s, echo {:.1} msg/s (x{:.2}); synapse CPU/msg daemon {:.2} ms, echo {:.2} ms (x{:.2}); \
             daemon CPU/msg {:.2} ms; echo CPU/msg {:.2} ms; daemon CPU while echo bursts {:.1} ms/s",
            t.elapsed().as_secs_f64(),
            f.p50[0],
            f.p50[1],
            f.p50[0] / f.p50[1],
            f.p99[0],
            f.p99[1],
            f.p99[0] / f.p99[1],
            f.throughput[0],
            f.throughput[1],
            f.throughput[0] / f.throughput[1],
            f.synapse_cpu[0],
            f.synapse_cpu[1],
            f.synapse_cpu[0] / f.synapse_cpu[1],
            f.daemon_cpu,
            f.echo_cpu,
            f.daemon_idle,
        );
        all.push(f);
    }

    // Requests per proxied message, by endpoint.
    println!(
        "paired: client-API requests per proxied message during the bursts (Synapse access log; who = user agent; \
         {} daemon messages, {} echo messages); per endpoint: requests/message (count) and the Synapse CPU \
         those requests took (ms/message, from the log's ru=)",
        bench.burst_total[0], bench.burst_total[1]
    );
    for side in [Side::Daemon, Side::Echo] {
        let i = idx(side);
        let n = bench.burst_total[i].max(1) as f64;
        let map = &bench.requests[i];
        println!("  during the {side:?} bursts:");
        for who in ["daemon", "echo", "humans"] {
            let mut rows: Vec<(&String, &Tally)> =
                map.iter().filter(|((w, _), _)| *w == who).map(|((_, e), t)| (e, t)).collect();
            let count: u64 = rows.iter().map(|(_, t)| t.count).sum();
            let ru: f64 = rows.iter().map(|(_, t)| t.ru_ms).sum();
            if count == 0 {
                continue;
            }
            println!(
                "    {who}: {:.2} requests/message, Synapse CPU in them {:.2} ms/message",
                count as f64 / n,
                ru / n
            );
            rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            for (endpoint, t) in rows {
                println!("      {:>7.3}  ({:>5})  {:>6.2} ms  {endpoint}", t.count as f64 / n, t.count, t.ru_ms / n);
            }
        }
        let in_requests: f64 = map.values().map(|t| t.ru_ms).sum();
        println!(
            "    Synapse CPU outside client requests (pushing transactions, background): {:.2} ms/message \
             (of {:.2} ms/message in all)",
            (bench.synapse_burst_ms[i] - in_requests) / n,
            bench.synapse_burst_ms[i] / n
        );
    }
    let without_sync = |i: usize| {
        let sync: f64 = bench.requests[i]
            .iter()
            .filter(|((w, e), _)| *w == "humans" && e.starts_with("GET /_matrix/client/v3/sync"))
            .map(|(_, t)| t.ru_ms)
            .sum();
        (bench.synapse_burst_ms[i] - sync) / bench.burst_total[i].max(1) as f64
    };
    println!(
        "paired: synapse CPU per message without the observer's /sync requests (all bursts): daemon {:.2} ms / \
         echo {:.2} ms = {:.2}",
        without_sync(0),
        without_sync(1),
        without_sync(0) / without_sync(1)
    );

    // Medians over the runs.
    let m = |f: &dyn Fn(&RunFigures) -> f64| median(all.iter().map(f).collect());
    println!(
        "paired: medians over {runs} run(s); each ratio is the median of the per-run ratios; total time {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "paired: latency p50 daemon {:.1} ms / echo {:.1} ms = {:.2} (goal <= 1.05)",
        m(&|f| f.p50[0]),
        m(&|f| f.p50[1]),
        m(&|f| f.p50[0] / f.p50[1])
    );
    println!(
        "paired: latency p99 daemon {:.1} ms / echo {:.1} ms = {:.2}",
        m(&|f| f.p99[0]),
        m(&|f| f.p99[1]),
        m(&|f| f.p99[0] / f.p99[1])
    );
    println!(
        "paired: throughput daemon {:.1} msg/s / echo {:.1} msg/s = {:.2} (goal >= 0.9)",
        m(&|f| f.throughput[0]),
        m(&|f| f.throughput[1]),
        m(&|f| f.throughput[0] / f.throughput[1])
    );
    println!(
        "paired: synapse CPU per message daemon {:.2} ms / echo {:.2} ms = {:.2} (goal ~1.0)",
        m(&|f| f.synapse_cpu[0]),
        m(&|f| f.synapse_cpu[1]),
        m(&|f| f.synapse_cpu[0] / f.synapse_cpu[1])
    );
    println!("paired: daemon CPU per message {:.2} ms (goal <= 5 ms)", m(&|f| f.daemon_cpu));
    println!("paired: echo CPU per message {:.2} ms (for reference)", m(&|f| f.echo_cpu));
    println!("paired: daemon CPU while the echo bursts {:.1} ms/s (background work)", m(&|f| f.daemon_idle));
    println!("paired: observer /sync responses with a limited timeline: {}", limited.load(Ordering::Relaxed));
    drop(bench);
    drop(echo);
}
