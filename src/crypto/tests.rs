//! The crypto module against a stub homeserver: cross-signing with user-interactive auth,
//! failed signatures, stores that need their key, crypto input applied once.

use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    body::Bytes,
    http::{Method, StatusCode, Uri},
};
use serde_json::{Value, json};

use super::{Crypto, CryptoError, CryptoSettings, ShareWith};
use crate::{db::test_db, homeserver::Homeserver};

#[derive(Default)]
struct Stub {
    calls: Vec<(String, String, Value)>,
    /// Answer signature uploads with a failure this many times.
    signature_failures: usize,
}

async fn serve(stub: Arc<Mutex<Stub>>) -> String {
    let app = Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let stub = stub.clone();
        async move {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let path = uri.path().to_owned();
            let mut s = stub.lock().unwrap();
            s.calls.push((method.to_string(), uri.to_string(), body.clone()));
            let ok = |v: Value| (StatusCode::OK, Json(v));
            if path.ends_with("/keys/device_signing/upload") {
                let auth = &body["auth"];
                if auth["type"] == "m.login.dummy" && auth["session"] == "S1" {
                    return ok(json!({}));
                }
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"flows": [{"stages": ["m.login.dummy"]}], "session": "S1", "params": {}})),
                );
            }
            if path.ends_with("/keys/signatures/upload") {
                if s.signature_failures > 0 {
                    s.signature_failures -= 1;
                    let user = body.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default();
                    return ok(json!({"failures": {user: {"X": {"errcode": "M_INVALID_SIGNATURE", "error": "bad"}}}}));
                }
                return ok(json!({"failures": {}}));
            }
            if path.ends_with("/keys/upload") {
                let n = body["one_time_keys"].as_object().map_or(0, |o| o.len());
                return ok(json!({"one_time_key_counts": {"signed_curve25519": n}}));
            }
            if path.ends_with("/keys/query") {
                return ok(json!({"device_keys": {}, "failures": {}}));
            }
            ok(json!({}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn crypto(url: &str, dir: &std::path::Path) -> Crypto {
    let settings = CryptoSettings { store_dir: dir.to_path_buf(), max_open_machines: 2, share_with: ShareWith::All };
    Crypto::new(test_db().await, Homeserver::new(url, "as-token").unwrap(), settings).unwrap()
}

fn calls_to<'a>(stub: &'a Stub, suffix: &str) -> Vec<&'a (String, String, Value)> {
    stub.calls.iter().filter(|(_, uri, _)| uri.split('?').next().unwrap_or_default().ends_with(suffix)).collect()
}

#[tokio::test]
async fn cross_signing_completes_user_interactive_auth() {
    let stub = Arc::new(Mutex::new(Stub::default()));
    let url = serve(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = crypto(&url, dir.path()).await;
    let user = ruma::UserId::parse("@_plural_a_b:x").unwrap();
    let machine = c.identity(&user).await.unwrap();
    let device = machine.device_id().to_owned();
    drop(machine);

    let s = stub.lock().unwrap();
    // Order: device created, keys uploaded, signing keys (401, then with auth), signatures.
    let first =
        |suffix: &str| s.calls.iter().position(|(_, uri, _)| uri.split('?').next().unwrap().ends_with(suffix)).unwrap();
    assert!(first(&format!("/devices/{device}")) < first("/keys/upload"));
    assert!(first("/keys/upload") < first("/keys/device_signing/upload"));
    assert!(first("/keys/device_signing/upload") < first("/keys/signatures/upload"));
    let signing = calls_to(&s, "/keys/device_signing/upload");
    assert_eq!(signing.len(), 2, "first refused with 401, then sent with auth");
    assert!(signing[0].2.get("auth").is_none_or(Value::is_null));
    assert_eq!(signing[1].2["auth"], json!({"type": "m.login.dummy", "session": "S1"}));
    assert!(signing[1].2["master_key"]["keys"].is_object());
    // Every crypto request masquerades as the ghost's device.
    for (_, uri, _) in calls_to(&s, "/keys/upload") {
        assert!(uri.contains("user_id=%40_plural_a_b%3Ax") && uri.contains(&format!("device_id={device}")), "{uri}");
    }
    drop(s);
    assert!(c.db.crypto_identity(user.as_str()).await.unwrap().unwrap().cross_signing_done);
}

#[tokio::test]
async fn signature_failures_are_failures_and_bootstrap_resumes() {
    let stub = Arc::new(Mutex::new(Stub { signature_failures: 1, ..Default::default() }));
    let url = serve(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = crypto(&url, dir.path()).await;
    let user = ruma::UserId::parse("@_plural_a_c:x").unwrap();
    let err = c.identity(&user).await.err().expect("a 200 with failures is a failure");
    assert!(matches!(err, CryptoError::Rejected(_)), "{err}");
    assert!(!c.db.crypto_identity(user.as_str()).await.unwrap().unwrap().cross_signing_done);

    // The next use finishes the job with the same keys (nothing half-done is left behind).
    c.identity(&user).await.unwrap();
    assert!(c.db.crypto_identity(user.as_str()).await.unwrap().unwrap().cross_signing_done);
    let s = stub.lock().unwrap();
    let uploads = calls_to(&s, "/keys/device_signing/upload");
    let masters: Vec<Value> =
        uploads.iter().map(|(_, _, b)| b["master_key"].clone()).filter(|m| m.is_object()).collect();
    assert!(masters.len() >= 2);
    assert!(masters.windows(2).all(|w| w[0]["keys"] == w[1]["keys"]), "resumed with the same master key");
    drop(s);

    // A reset publishes fresh keys.
    c.reset_cross_signing(&user).await.unwrap();
    let s = stub.lock().unwrap();
    let last =
        calls_to(&s, "/keys/device_signing/upload").last().map(|(_, _, b)| b["master_key"]["keys"].clone()).unwrap();
    assert_ne!(&last, &masters[0]["keys"], "reset uses new keys");
}

#[tokio::test]
async fn stores_need_their_key_and_survive_eviction() {
    let stub = Arc::new(Mutex::new(Stub::default()));
    let url = serve(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = crypto(&url, dir.path()).await;
    let users: Vec<_> = ["@_plural_a_d:x", "@_plural_a_e:x", "@_plural_a_f:x"]
        .iter()
        .map(|u| ruma::UserId::parse(*u).unwrap())
        .collect();
    let mut identity_keys = Vec::new();
    for u in &users {
        let m = c.identity(u).await.unwrap();
        identity_keys.push(m.identity_keys().ed25519.to_base64());
    }
    assert_eq!(c.open_machines(), 2, "the LRU holds at most max_open_machines");
    // The evicted first identity reopens from its store with the same keys.
    let again = c.identity(&users[0]).await.unwrap();
    assert_eq!(again.identity_keys().ed25519.to_base64(), identity_keys[0]);
    drop(again);

    let path = c.machines.store_path(&users[0]);
    assert!(matrix_sdk_sqlite::SqliteCryptoStore::open_with_key(&path, Some(&[0u8; 32])).await.is_err(), "wrong key");
    let other_key = c.machines.master_key_for_tests(users[1].as_str());
    assert!(
        matrix_sdk_sqlite::SqliteCryptoStore::open_with_key(&path, Some(&other_key)).await.is_err(),
        "another identity's key"
    );
}

/// Regression: a transaction whose crypto input was applied and then deferred (another
/// identity failed for now) fed the same input again; replayed Olm messages wedge
/// sessions. Here the input is a zero key count, which makes the machine upload keys:
/// applied twice, it would upload twice.
#[tokio::test]
async fn crypto_input_is_applied_once_per_identity() {
    let stub = Arc::new(Mutex::new(Stub::default()));
    let url = serve(stub.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let c = crypto(&url, dir.path()).await;
    let user = ruma::UserId::parse("@_plural_a_g:x").unwrap();
    let device = c.identity(&user).await.unwrap().device_id().to_owned();
    let txn: super::CryptoTransaction = serde_json::from_value(json!({
        "org.matrix.msc3202.device_one_time_keys_count": {user.as_str(): {device.as_str(): {"signed_curve25519": 0}}}
    }))
    .unwrap();
    let uploads = |s: &Stub| calls_to(s, "/keys/upload").len();
    let before = uploads(&stub.lock().unwrap());
    c.receive(7, &txn).await.unwrap();
    let after_first = uploads(&stub.lock().unwrap());
    assert!(after_first > before, "zero keys left: the machine uploads new ones");
    c.receive(7, &txn).await.unwrap();
    assert_eq!(uploads(&stub.lock().unwrap()), after_first, "the same entry is not applied again");
    c.receive(8, &txn).await.unwrap();
    assert!(uploads(&stub.lock().unwrap()) > after_first, "a new entry is");
}
