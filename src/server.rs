//! The appservice HTTP API the homeserver calls (axum): transactions are authenticated,
//! checked for shape, committed to the journal, and only then acknowledged. User queries say
//! yes only for ghosts of members that exist.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use ruma::UserId;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tracing::{Instrument, debug, error, warn};

use crate::{
    bridge::Bridge,
    db::{Db, now_ms},
    engine::{TxnWatch, Wakers, crypto_input},
};

pub struct IntakeState {
    pub db: Db,
    pub hs_token: String,
    /// Woken after each new transaction is stored.
    pub wakers: Wakers,
    pub bridge: Bridge,
    /// Set once start-up against the homeserver is done; `/health` reports it.
    pub ready: Arc<AtomicBool>,
    /// Whether crypto input is applied (encryption on).
    pub encryption: bool,
    /// `/health` reports the journal stalled when work waits longer than this.
    pub stall_after_ms: i64,
    /// Notices a homeserver restart from its transaction IDs.
    pub txn_watch: Arc<TxnWatch>,
    /// Set once the deprecated `?access_token=` was seen (it is logged once).
    pub legacy_token_seen: AtomicBool,
    /// Whether `/metrics` is served here (on, and no `metrics.listen` of its own).
    pub metrics_here: bool,
}

/// `GET /metrics` alone (for `metrics.listen`, or merged into the appservice router).
pub fn metrics_router<S: Clone + Send + Sync + 'static>(db: Db) -> Router<S> {
    Router::new().route("/metrics", get(scrape)).with_state(db)
}

/// Reads the stored-state gauges, then writes every metric in Prometheus' text format.
async fn scrape(State(db): State<Db>) -> Response {
    let m = crate::metrics::metrics();
    let now = now_ms();
    if let (Ok(txns), Ok(events)) = (db.journal_pending_count().await, db.pending_events().await) {
        m.journal_pending.set(txns + events);
    }
    if let Ok(age) = db.oldest_pending_age(now).await {
        m.journal_oldest_pending_seconds.set(age.unwrap_or(0) as f64 / 1000.0);
    }
    if let Ok(dead) = db.dead_letter_count().await {
        m.dead_letters_stored.set(dead);
    }
    if let Ok(states) = db.identity_states().await {
        for (state, count) in states {
            m.identities.get_or_create(&crate::metrics::label("state", state)).set(count);
        }
    }
    m.uptime_seconds.set(crate::metrics::uptime_seconds());
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], m.encode()).into_response()
}

fn matrix_error(status: StatusCode, errcode: &str, message: &str) -> Response {
    (status, Json(json!({"errcode": errcode, "error": message}))).into_response()
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    access_token: Option<String>,
}

/// Checks the homeserver's token (header, or the legacy `access_token` query parameter).
fn authorize(state: &IntakeState, headers: &HeaderMap, query: &TokenQuery) -> Result<(), Response> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = match (from_header, query.access_token.as_deref()) {
        (Some(token), _) => token,
        (None, Some(token)) => {
            // Old homeservers send the token in the query; still accepted, but said once.
            if !state.legacy_token_seen.swap(true, Ordering::Relaxed) {
                warn!(
                    "the homeserver sends its hs_token as ?access_token= (deprecated); newer homeservers use the \
                       Authorization header"
                );
            }
            token
        }
        (None, None) => {
            return Err(matrix_error(StatusCode::UNAUTHORIZED, "M_MISSING_TOKEN", "Missing access token"));
        }
    };
    if bool::from(token.as_bytes().ct_eq(state.hs_token.as_bytes())) {
        Ok(())
    } else {
        warn!("rejected a request with a wrong hs_token");
        Err(matrix_error(StatusCode::FORBIDDEN, "M_FORBIDDEN", "Invalid access token"))
    }
}

pub fn router(state: Arc<IntakeState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/_matrix/app/v1/transactions/{txn_id}", put(transaction))
        .route("/transactions/{txn_id}", put(transaction))
        .route("/_matrix/app/v1/users/{user_id}", get(user_query))
        .route("/users/{user_id}", get(user_query))
        .route("/_matrix/app/v1/rooms/{alias}", get(room_query))
        .route("/rooms/{alias}", get(room_query))
        .route("/_matrix/app/v1/ping", post(ping))
        .route("/health", get(health))
        .merge(if state.metrics_here { metrics_router(state.db.clone()) } else { Router::new() })
        .fallback(|| async { matrix_error(StatusCode::NOT_FOUND, "M_UNRECOGNIZED", "Unrecognized request") })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

async fn transaction(
    State(state): State<Arc<IntakeState>>,
    Path(txn_id): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(resp) = authorize(&state, &headers, &query) {
        return resp;
    }
    // One span per transaction: every line logged while storing it names it.
    let span = tracing::info_span!("transaction", txn_id = %txn_id);
    store_transaction(state, txn_id, body).instrument(span).await
}

async fn store_transaction(state: Arc<IntakeState>, txn_id: String, body: Bytes) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return matrix_error(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Content not JSON."),
    };
    let Ok(room_events) = transaction_events(&parsed) else {
        return matrix_error(StatusCode::BAD_REQUEST, "M_BAD_JSON", NOT_A_TRANSACTION);
    };
    // One database transaction: the raw body, and its room events queued for their rooms.
    let events = state.bridge.events_to_queue(room_events);
    let crypto = crypto_input(&parsed, state.encryption, &state.wakers.seen_counts);
    match state.db.journal_insert(&txn_id, &body, &events, crypto, now_ms()).await {
        Ok(true) => {
            crate::metrics::metrics().transactions_received.inc();
            debug!(txn_id, bytes = body.len(), events = events.len(), "transaction stored");
            state.wakers.stored(crypto);
            state.txn_watch.observe(&txn_id);
        }
        Ok(false) => debug!(txn_id, "the same transaction again; acknowledging again"),
        Err(e) => {
            // Not stored, so not acknowledged: the homeserver will send it again.
            error!(txn_id, error = %e, "could not store a transaction");
            return matrix_error(StatusCode::INTERNAL_SERVER_ERROR, "M_UNKNOWN", "Could not store the transaction");
        }
    }
    (StatusCode::OK, Json(json!({}))).into_response()
}

const NOT_A_TRANSACTION: &str = "A transaction is an object with an `events` list.";

/// The `events` of a parsed transaction body (none if it has no such key), or an error if the
/// body is not a transaction. Other fields are read leniently where they are used.
pub fn transaction_events(parsed: &Value) -> Result<&[Value], &'static str> {
    match parsed.as_object().map(|o| o.get("events")) {
        None => Err(NOT_A_TRANSACTION),
        Some(None) => Ok(&[]),
        Some(Some(Value::Array(events))) => Ok(events),
        Some(Some(_)) => Err(NOT_A_TRANSACTION),
    }
}

async fn user_query(
    State(state): State<Arc<IntakeState>>,
    Path(user_id): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = authorize(&state, &headers, &query) {
        return resp;
    }
    let not_found = || matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "No such user");
    let Ok(user) = UserId::parse(user_id.as_str()) else {
        return not_found();
    };
    match state.bridge.ensure_known_user(&user).await {
        Ok(true) => (StatusCode::OK, Json(json!({}))).into_response(),
        Ok(false) => not_found(),
        Err(e) => {
            warn!(%user, error = %e, "user query failed");
            not_found()
        }
    }
}

async fn room_query(
    State(state): State<Arc<IntakeState>>,
    Path(_alias): Path<String>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = authorize(&state, &headers, &query) {
        return resp;
    }
    matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "This bridge has no room aliases")
}

async fn ping(State(state): State<Arc<IntakeState>>, Query(query): Query<TokenQuery>, headers: HeaderMap) -> Response {
    if let Err(resp) = authorize(&state, &headers, &query) {
        return resp;
    }
    (StatusCode::OK, Json(json!({}))).into_response()
}

/// `200 ready` once start-up is done and the journal is moving; `503` with a one-line reason
/// while starting, or while work has waited longer than the stall bound (the homeserver is
/// away, or handling is stuck). No token needed.
async fn health(State(state): State<Arc<IntakeState>>) -> Response {
    let unavailable = |why: String| (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    if !state.ready.load(Ordering::Acquire) {
        return unavailable("starting".to_owned());
    }
    match state.db.oldest_pending_age(now_ms()).await {
        Ok(Some(age)) if age > state.stall_after_ms => {
            unavailable(format!("stalled: the oldest unfinished work is {} s old", age / 1000))
        }
        Ok(_) => (StatusCode::OK, "ready").into_response(),
        Err(e) => unavailable(format!("database: {e}")),
    }
}
