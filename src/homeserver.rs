//! The homeserver client: ruma request types over reqwest, sent as the appservice and
//! masquerading as the bot or a ghost (`?user_id=`), with retries: 429 `retry_after_ms` is
//! honoured, 5xx and connection errors back off with jitter, everything else fails at once.

use std::{borrow::Cow, time::Duration};

use ruma::{
    DeviceId, UserId,
    api::{
        AppserviceUserIdentity, IncomingResponse, MatrixVersion, OutgoingRequestAppserviceExt, SupportedVersions,
        auth_scheme::{AuthScheme, SendAccessToken},
        path_builder::{PathBuilder, SinglePath, VersionHistory},
    },
};
use tracing::{debug, warn};

#[derive(Debug, thiserror::Error)]
pub enum HsError {
    #[error("homeserver answered {status} {errcode}: {message}")]
    Matrix {
        status: u16,
        errcode: String,
        message: String,
        retry_after_ms: Option<u64>,
        /// The whole error body (user-interactive auth reads its `flows` and `session`).
        body: serde_json::Value,
    },
    #[error("cannot reach the homeserver: {0}")]
    Transport(String),
    #[error("could not build the request: {0}")]
    Build(String),
    #[error("unexpected response from the homeserver: {0}")]
    Response(String),
}

impl HsError {
    pub fn errcode(&self) -> Option<&str> {
        match self {
            HsError::Matrix { errcode, .. } => Some(errcode),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            HsError::Matrix { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later could succeed (rate limits, server errors, no connection).
    pub fn is_transient(&self) -> bool {
        match self {
            HsError::Matrix { status, .. } => *status == 429 || *status >= 500,
            HsError::Transport(_) => true,
            HsError::Build(_) | HsError::Response(_) => false,
        }
    }

    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403) || self.errcode() == Some("M_FORBIDDEN")
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.errcode() == Some("M_NOT_FOUND")
    }
}

/// How hard to try before giving up on a transient error.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // 10 attempts: 0.25 + 0.5 + 1 + 2 + 4 + 8 + 16 + 30 + 30 s ≈ 1.5 minutes of trying.
        Self { max_attempts: 10, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// Exponential delay for attempt `n` (1-based), with ±50 % jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        let jitter: f64 = 0.5 + rand::random::<f64>();
        capped.mul_f64(jitter).min(self.max_delay)
    }
}

/// The input a path builder needs; lets one `send` serve every endpoint.
pub trait PathInput: PathBuilder {
    fn input(versions: &SupportedVersions) -> Self::Input<'_>;
}

impl PathInput for VersionHistory {
    fn input(versions: &SupportedVersions) -> Cow<'_, SupportedVersions> {
        Cow::Borrowed(versions)
    }
}

impl PathInput for SinglePath {
    fn input(_: &SupportedVersions) {}
}

#[derive(Clone)]
pub struct Homeserver {
    http: reqwest::Client,
    base_url: String,
    as_token: String,
    versions: SupportedVersions,
    retry: RetryPolicy,
    /// Set when a request could not reach the homeserver (it may have restarted since).
    unreachable: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Homeserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Homeserver").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Versions assumed until the homeserver tells us its own.
fn default_versions() -> SupportedVersions {
    SupportedVersions { versions: [MatrixVersion::V1_1, MatrixVersion::V1_11].into(), features: Default::default() }
}

impl Homeserver {
    pub fn new(base_url: &str, as_token: &str) -> Result<Self, HsError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(90))
            .user_agent(concat!("pluralmatrix/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HsError::Build(e.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            as_token: as_token.to_owned(),
            versions: default_versions(),
            retry: RetryPolicy::default(),
            unreachable: Default::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Asks the homeserver which spec versions it speaks (so new endpoints pick the right path).
    pub async fn discover_versions(&mut self) -> Result<(), HsError> {
        let url = format!("{}/_matrix/client/versions", self.base_url);
        let response = self.with_retries("GET /_matrix/client/versions", || async {
            let resp = self.http.get(&url).send().await.map_err(|e| HsError::Transport(e.to_string()))?;
            into_http_response(resp).await
        });
        let http = response.await?;
        let parsed = ruma::api::client::discovery::get_supported_versions::Response::try_from_http_response(http)
            .map_err(|e| HsError::Response(e.to_string()))?;
        let mut versions = parsed.as_supported_versions();
        if versions.versions.is_empty() {
            versions = default_versions();
        }
        self.versions = versions;
        Ok(())
    }

    /// Whether a request failed to reach the homeserver since the last call (and resets that).
    pub fn take_unreachable(&self) -> bool {
        self.unreachable.swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    /// One cheap request (`GET /_matrix/client/versions`, no retries): is the homeserver up?
    pub async fn probe(&self) -> bool {
        let url = format!("{}/_matrix/client/versions", self.base_url);
        let up = matches!(self.http.get(&url).timeout(Duration::from_secs(5)).send().await, Ok(r) if r.status().is_success());
        if !up {
            self.unreachable.store(true, std::sync::atomic::Ordering::Release);
        }
        up
    }

    /// Sends `request` as the appservice; as `user` when given (identity assertion).
    pub async fn send<R>(&self, request: R, user: Option<&UserId>) -> Result<R::IncomingResponse, HsError>
    where
        R: OutgoingRequestAppserviceExt,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        self.send_as(request, user, None).await
    }

    /// Sends `request` as `user` on `device` (`?user_id=…&device_id=…`).
    pub async fn send_as<R>(
        &self,
        request: R,
        user: Option<&UserId>,
        device: Option<&DeviceId>,
    ) -> Result<R::IncomingResponse, HsError>
    where
        R: OutgoingRequestAppserviceExt,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
        R::PathBuilder: PathInput,
    {
        let label = format!(
            "{} {}",
            R::METHOD,
            R::PATH_BUILDER.select_path(<R::PathBuilder as PathInput>::input(&self.versions)).unwrap_or("?")
        );
        let http = self
            .with_retries(&label, || async {
                let mut identity = user.map(AppserviceUserIdentity::new).unwrap_or_default();
                identity.device_id = device;
                let req: http::Request<Vec<u8>> = request
                    .clone()
                    .try_into_http_request_with_identity(
                        &self.base_url,
                        SendAccessToken::Always(&self.as_token),
                        identity,
                        <R::PathBuilder as PathInput>::input(&self.versions),
                    )
                    .map_err(|e| HsError::Build(e.to_string()))?;
                let req = reqwest::Request::try_from(req).map_err(|e| HsError::Build(e.to_string()))?;
                let resp = self.http.execute(req).await.map_err(|e| HsError::Transport(e.to_string()))?;
                into_http_response(resp).await
            })
            .await?;
        R::IncomingResponse::try_from_http_response(http).map_err(|e| HsError::Response(format!("{label}: {e}")))
    }

    /// Runs `attempt` until it succeeds, fails permanently, or the retry budget is spent.
    async fn with_retries<F, Fut>(&self, label: &str, mut attempt: F) -> Result<http::Response<Vec<u8>>, HsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<http::Response<Vec<u8>>, HsError>>,
    {
        let mut n = 0;
        loop {
            n += 1;
            let started = std::time::Instant::now();
            let result = attempt().await;
            record_request(label, &result, started.elapsed());
            let err = match result {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            if matches!(err, HsError::Transport(_)) {
                self.unreachable.store(true, std::sync::atomic::Ordering::Release);
            }
            if !err.is_transient() || n >= self.retry.max_attempts {
                return Err(err);
            }
            let delay = match &err {
                HsError::Matrix { retry_after_ms: Some(ms), .. } => {
                    Duration::from_millis(*ms).min(Duration::from_secs(300))
                }
                _ => self.retry.backoff(n),
            };
            if n >= 3 {
                warn!(request = label, attempt = n, delay_ms = delay.as_millis() as u64, error = %err, "homeserver request failed; retrying");
            } else {
                debug!(request = label, attempt = n, delay_ms = delay.as_millis() as u64, error = %err, "retrying");
            }
            tokio::time::sleep(delay).await;
        }
    }
}

/// Counts one attempt of a request in the metrics, by endpoint (method and path template)
/// and status (`error` when no answer came).
fn record_request(endpoint: &str, result: &Result<http::Response<Vec<u8>>, HsError>, took: Duration) {
    let status = match result {
        Ok(resp) => resp.status().as_u16().to_string(),
        Err(HsError::Matrix { status, .. }) => status.to_string(),
        Err(_) => "error".to_owned(),
    };
    let labels = vec![("endpoint".to_owned(), endpoint.to_owned()), ("status".to_owned(), status)];
    let m = crate::metrics::metrics();
    m.homeserver_requests.get_or_create(&labels).inc();
    m.homeserver_request_duration.get_or_create(&labels).observe(took.as_secs_f64());
}

/// Reads a reqwest response; non-2xx becomes [`HsError::Matrix`].
async fn into_http_response(resp: reqwest::Response) -> Result<http::Response<Vec<u8>>, HsError> {
    let status = resp.status();
    let retry_after_header = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|s| s * 1000);
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| HsError::Transport(e.to_string()))?.to_vec();
    if !status.is_success() {
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        return Err(HsError::Matrix {
            status: status.as_u16(),
            errcode: text("errcode").unwrap_or_else(|| "M_UNKNOWN".to_owned()),
            message: text("error").unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect()),
            retry_after_ms: json.get("retry_after_ms").and_then(|v| v.as_u64()).or(retry_after_header),
            body: json,
        });
    }
    let mut builder = http::Response::builder().status(status);
    if let Some(h) = builder.headers_mut() {
        *h = headers;
    }
    builder.body(body).map_err(|e| HsError::Response(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for n in 1..20 {
            let d = p.backoff(n);
            assert!(d <= p.max_delay, "attempt {n}: {d:?}");
            let nominal = p.base_delay.saturating_mul(1 << (n - 1).min(16)).min(p.max_delay);
            assert!(d >= nominal / 2, "attempt {n}: {d:?} < half of {nominal:?}");
        }
    }

    #[test]
    fn transient_errors() {
        let m = |status| HsError::Matrix {
            status,
            errcode: "X".into(),
            message: String::new(),
            retry_after_ms: None,
            body: serde_json::Value::Null,
        };
        assert!(m(429).is_transient());
        assert!(m(502).is_transient());
        assert!(!m(403).is_transient());
        assert!(!m(400).is_transient());
        assert!(HsError::Transport("refused".into()).is_transient());
        assert!(m(403).is_forbidden());
    }

    /// A stand-in server on 127.0.0.1 that answers with the scripted statuses in order.
    async fn stub(script: Vec<(u16, serde_json::Value)>) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        };
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let app = axum::Router::new().fallback(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (status, body) = script.get(n).cloned().unwrap_or((500, serde_json::json!({})));
            async move { (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(body)) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, calls)
    }

    fn whoami() -> ruma::api::client::account::whoami::v3::Request {
        ruma::api::client::account::whoami::v3::Request::new()
    }

    #[tokio::test]
    async fn rate_limit_waits_retry_after() {
        use serde_json::json;
        let (url, calls) = stub(vec![
            (429, json!({"errcode": "M_LIMIT_EXCEEDED", "error": "slow down", "retry_after_ms": 300})),
            (200, json!({"user_id": "@a:x", "is_guest": false})),
        ])
        .await;
        let hs = Homeserver::new(&url, "token").unwrap();
        let started = std::time::Instant::now();
        let resp = hs.send(whoami(), None).await.unwrap();
        assert_eq!(resp.user_id.as_str(), "@a:x");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(started.elapsed() >= Duration::from_millis(300), "waited {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn server_errors_back_off_and_client_errors_do_not_retry() {
        use serde_json::json;
        let (url, calls) = stub(vec![
            (502, json!({})),
            (500, json!({"errcode": "M_UNKNOWN"})),
            (200, json!({"user_id": "@a:x", "is_guest": false})),
        ])
        .await;
        let hs = Homeserver::new(&url, "token").unwrap();
        hs.send(whoami(), None).await.unwrap();
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);

        let (url, calls) = stub(vec![(403, json!({"errcode": "M_FORBIDDEN", "error": "no"}))]).await;
        let hs = Homeserver::new(&url, "token").unwrap();
        let err = hs.send(whoami(), None).await.unwrap_err();
        assert_eq!((err.status(), err.errcode()), (Some(403), Some("M_FORBIDDEN")));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);

        // A bounded budget: it gives up instead of looping.
        let (url, calls) = stub(vec![]).await;
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
        };
        let hs = Homeserver::new(&url, "token").unwrap().with_retry(policy);
        assert!(hs.send(whoami(), None).await.unwrap_err().is_transient());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn masquerades_with_user_id() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(String::new()));
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            *record.lock().unwrap() = format!("{uri} {auth}");
            async { axum::Json(serde_json::json!({"user_id": "@g:x", "is_guest": false})) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let hs = Homeserver::new(&url, "the-as-token").unwrap();
        let ghost = ruma::UserId::parse("@_plural_a_b:x").unwrap();
        hs.send(whoami(), Some(&ghost)).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert!(seen.contains("user_id=%40_plural_a_b%3Ax"), "{seen}");
        assert!(seen.ends_with("Bearer the-as-token"), "{seen}");
    }
}
