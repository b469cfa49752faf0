//! Prometheus metrics (prometheus-client writes the text format). One process-wide set,
//! reached through [`metrics()`]: the intake, the engine, the bridge and the homeserver
//! client count what they do; gauges that describe stored state (journal backlog, dead
//! letters, identities) are read from the database when `/metrics` is scraped.

use std::sync::{OnceLock, atomic::AtomicU64};

use prometheus_client::{
    encoding::text::encode,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

type Labels = Vec<(String, String)>;

/// Every metric the daemon exposes (names: `../shared/spec/interface.md`, "Metrics").
pub struct Metrics {
    registry: Registry,
    pub transactions_received: Counter,
    pub events_processed: Family<Labels, Counter>,
    pub messages_proxied: Family<Labels, Counter>,
    pub dead_letters: Counter,
    pub commands_run: Counter,
    pub proxy_duration: Histogram,
    pub homeserver_requests: Family<Labels, Counter>,
    pub homeserver_request_duration: Family<Labels, Histogram>,
    pub journal_pending: Gauge,
    pub journal_oldest_pending_seconds: Gauge<f64, AtomicU64>,
    pub dead_letters_stored: Gauge,
    pub crypto_machines_open: Gauge,
    pub identities: Family<Labels, Gauge>,
    pub uptime_seconds: Gauge<f64, AtomicU64>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    // 5 ms to about 41 s.
    exponential_buckets(0.005, 2.0, 14)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            transactions_received: Counter::default(),
            events_processed: Family::default(),
            messages_proxied: Family::default(),
            dead_letters: Counter::default(),
            commands_run: Counter::default(),
            proxy_duration: Histogram::new(latency_buckets()),
            homeserver_requests: Family::default(),
            homeserver_request_duration: Family::new_with_constructor(|| Histogram::new(latency_buckets())),
            journal_pending: Gauge::default(),
            journal_oldest_pending_seconds: Gauge::default(),
            dead_letters_stored: Gauge::default(),
            crypto_machines_open: Gauge::default(),
            identities: Family::default(),
            uptime_seconds: Gauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        // Counters get `_total` appended by the encoder.
        r.register("pluralmatrix_transactions_received", "Transactions stored", m.transactions_received.clone());
        r.register("pluralmatrix_events_processed", "Room events settled, by outcome", m.events_processed.clone());
        r.register("pluralmatrix_messages_proxied", "Messages sent by ghosts", m.messages_proxied.clone());
        r.register("pluralmatrix_dead_letters", "Events given up on (dead letters)", m.dead_letters.clone());
        r.register("pluralmatrix_commands", "Room commands answered", m.commands_run.clone());
        r.register(
            "pluralmatrix_proxy_duration_seconds",
            "From the transaction's arrival to the ghost's message sent",
            m.proxy_duration.clone(),
        );
        r.register(
            "pluralmatrix_homeserver_requests",
            "Requests to the homeserver, by endpoint and status (each attempt)",
            m.homeserver_requests.clone(),
        );
        r.register(
            "pluralmatrix_homeserver_request_duration_seconds",
            "Homeserver request durations, by endpoint and status",
            m.homeserver_request_duration.clone(),
        );
        r.register(
            "pluralmatrix_journal_pending",
            "Transactions and room events not yet handled",
            m.journal_pending.clone(),
        );
        r.register(
            "pluralmatrix_journal_oldest_pending_seconds",
            "Age of the oldest work not yet done",
            m.journal_oldest_pending_seconds.clone(),
        );
        r.register("pluralmatrix_dead_letters_stored", "Dead letters in the database", m.dead_letters_stored.clone());
        r.register("pluralmatrix_crypto_machines_open", "Crypto stores open now", m.crypto_machines_open.clone());
        r.register("pluralmatrix_identities", "Crypto identities, by set-up state", m.identities.clone());
        r.register("pluralmatrix_uptime_seconds", "Seconds since the daemon started", m.uptime_seconds.clone());
        Self { registry, ..m }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

tokio::task_local! {
    /// When the transaction that brought the event being handled was stored (ms): the
    /// start of `pluralmatrix_proxy_duration_seconds`.
    pub static ARRIVED_AT: i64;
}

/// A ghost's message went out: counts it and how long it took since its event arrived.
pub fn proxied(encrypted: bool, now_ms: i64) {
    let m = metrics();
    m.messages_proxied.get_or_create(&label("encrypted", encrypted.to_string())).inc();
    if let Ok(arrived) = ARRIVED_AT.try_with(|a| *a) {
        m.proxy_duration.observe((now_ms - arrived).max(0) as f64 / 1000.0);
    }
}

/// A room event was settled with `outcome` (`done`, `parked`, `retry`, `dead`, `panicked`).
pub fn event_settled(outcome: &str) {
    metrics().events_processed.get_or_create(&label("outcome", outcome)).inc();
}

/// Seconds since the metrics were first touched (at start-up).
pub fn uptime_seconds() -> f64 {
    static STARTED: OnceLock<std::time::Instant> = OnceLock::new();
    STARTED.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// One label pair.
pub fn label(key: &str, value: impl Into<String>) -> Labels {
    vec![(key.to_owned(), value.into())]
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_the_spec_names() {
        let m = metrics();
        m.transactions_received.inc();
        m.events_processed.get_or_create(&label("outcome", "done")).inc();
        m.messages_proxied.get_or_create(&label("encrypted", "false")).inc();
        m.proxy_duration.observe(0.1);
        m.homeserver_requests
            .get_or_create(&vec![("endpoint".into(), "PUT /send".into()), ("status".into(), "200".into())])
            .inc();
        m.journal_pending.set(3);
        let text = m.encode();
        for name in [
            "pluralmatrix_transactions_received_total ",
            "pluralmatrix_events_processed_total{outcome=\"done\"} ",
            "pluralmatrix_messages_proxied_total{encrypted=\"false\"} ",
            "pluralmatrix_journal_pending 3",
            "pluralmatrix_journal_oldest_pending_seconds ",
            "pluralmatrix_proxy_duration_seconds_bucket{le=\"0.16\"} ",
            "pluralmatrix_homeserver_requests_total{endpoint=\"PUT /send\",status=\"200\"} ",
            "pluralmatrix_crypto_machines_open ",
            "pluralmatrix_dead_letters_total ",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
