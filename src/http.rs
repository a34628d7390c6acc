//! What both API clients share: the typed error the retry logic branches on, rate-limit
//! headers, request counting, and the one place a request is sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;

use crate::ratelimit::{retry_delay, Gate, RollingWindow, Spacer};

/// Which remote a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Zendesk,
    Github,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Zendesk => "zendesk",
            Service::Github => "github",
        }
    }
}

/// A failed API call, typed so callers can decide: retry now, later, or never.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{service} rate limit reached; retry after {retry_after:?}")]
    RateLimited { service: &'static str, retry_after: Option<Duration> },
    #[error("{service} transient failure: {detail}")]
    Transient { service: &'static str, detail: String },
    #[error("{service} says not found: {detail}")]
    NotFound { service: &'static str, detail: String },
    #[error("{service} says gone (410): {detail}")]
    Gone { service: &'static str, detail: String },
    #[error("{service} says moved permanently to {location:?}")]
    Moved { service: &'static str, location: Option<String> },
    #[error("{service} refused the credentials ({status}): check the token and its permissions")]
    Auth { service: &'static str, status: u16 },
    #[error("{service} answered {status}: {body}")]
    Api { service: &'static str, status: u16, body: String },
    #[error("{service} answered with a body that could not be read: {detail}")]
    Decode { service: &'static str, detail: String },
}

impl ApiError {
    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::RateLimited { .. } | ApiError::Transient { .. } | ApiError::Decode { .. })
    }

    /// The HTTP status, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } | ApiError::Auth { status, .. } => Some(*status),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Gone { .. } => Some(410),
            ApiError::Moved { .. } => Some(301),
            ApiError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

/// The rate-limit budget a service reported on its last answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateBudget {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_at: Option<DateTime<Utc>>,
}

/// Reads GitHub's `x-ratelimit-*` or any of Zendesk's spellings.
pub fn read_budget(headers: &HeaderMap) -> Option<RateBudget> {
    let num = |names: &[&str]| names.iter().find_map(|n| headers.get(*n)?.to_str().ok()?.trim().parse::<u64>().ok());
    let remaining =
        num(&["x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining", "rate-limit-remaining"])?;
    let limit = num(&["x-ratelimit-limit", "x-rate-limit", "ratelimit-limit", "rate-limit"]);
    // GitHub sends the reset as epoch seconds, Zendesk as seconds from now.
    let reset_at = match num(&["x-ratelimit-reset"]) {
        Some(epoch) => DateTime::from_timestamp(epoch as i64, 0),
        None => num(&["ratelimit-reset", "rate-limit-reset"]).map(|s| Utc::now() + chrono::Duration::seconds(s as i64)),
    };
    Some(RateBudget { limit, remaining: Some(remaining), reset_at })
}

/// `Retry-After` in seconds (the only form either service sends).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(v))
}

/// Counts of requests by service and status, the last budget seen, and the rate-limit state:
/// gates and the paces the rules set. Shared by both clients of one engine and, in the daemon,
/// by every engine across reloads, so a reload resets no limit; read by the pass summary,
/// `status` and the metrics endpoint.
#[derive(Debug, Default)]
pub struct ApiStats {
    inner: Mutex<StatsInner>,
    gates: Mutex<BTreeMap<Service, Gate>>,
    windows: Mutex<BTreeMap<&'static str, Arc<RollingWindow>>>,
    spacers: Mutex<BTreeMap<&'static str, Arc<Spacer>>>,
}

#[derive(Debug, Default, Clone)]
pub struct StatsInner {
    /// (service, status) → count; status 0 means no answer (timeout, reset).
    pub requests: BTreeMap<(Service, u16), u64>,
    pub budgets: BTreeMap<Service, RateBudget>,
    /// Requests sent again after a transient failure or a short limit wait.
    pub retries: u64,
    /// Limit answers (429, or 403 with a rate-limit sign) seen.
    pub limited: u64,
}

impl StatsInner {
    /// Requests sent so far (a pass's share is the difference of two snapshots).
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

impl ApiStats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn record(&self, service: Service, status: u16, budget: Option<RateBudget>) {
        let mut inner = self.inner.lock().unwrap();
        *inner.requests.entry((service, status)).or_insert(0) += 1;
        if let Some(b) = budget {
            inner.budgets.insert(service, b);
        }
    }

    fn gate_wait(&self, service: Service) -> Duration {
        self.gates.lock().unwrap().entry(service).or_default().wait_before(Instant::now())
    }

    fn gate_observe(&self, service: Service, headers: &HeaderMap) {
        let budget = read_budget(headers);
        let remaining = budget.as_ref().and_then(|b| b.remaining);
        let reset_in = budget.and_then(|b| b.reset_at).and_then(|r| (r - Utc::now()).to_std().ok());
        self.gates.lock().unwrap().entry(service).or_default().observe(remaining, reset_in, Instant::now());
    }

    fn gate_limited(&self, service: Service, headers: &HeaderMap) -> Duration {
        self.inner.lock().unwrap().limited += 1;
        let reset_in = read_budget(headers).and_then(|b| b.reset_at).and_then(|r| (r - Utc::now()).to_std().ok());
        self.gates.lock().unwrap().entry(service).or_default().limited(retry_after(headers), reset_in, Instant::now())
    }

    /// The shared pace `name`: at most `limit` requests per `period`, whoever sends them. A
    /// later call with another limit changes it (a reloaded rules file), keeping the history.
    pub fn window(&self, name: &'static str, limit: u32, period: Duration) -> Arc<RollingWindow> {
        let mut windows = self.windows.lock().unwrap();
        let window = windows.entry(name).or_insert_with(|| Arc::new(RollingWindow::new(limit, period)));
        window.set_limit(limit);
        window.clone()
    }

    /// The shared spacing `name`: at least `interval` between two requests.
    pub fn spacer(&self, name: &'static str, interval: Duration) -> Arc<Spacer> {
        let mut spacers = self.spacers.lock().unwrap();
        let spacer = spacers.entry(name).or_insert_with(|| Arc::new(Spacer::new(interval)));
        spacer.set_interval(interval);
        spacer.clone()
    }

    fn count_retry(&self) {
        self.inner.lock().unwrap().retries += 1;
    }

    pub fn snapshot(&self) -> StatsInner {
        self.inner.lock().unwrap().clone()
    }
}

/// The longest a request waits in line for a rate limit before giving up on this pass.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(20);
/// Retries of an idempotent request after transient failures.
const MAX_RETRIES: u32 = 3;

/// Sends a request through the service's rate-limit gate and reads its body. GET requests
/// are retried after transient failures (5xx, timeouts, broken connections) with capped,
/// jittered back-off, and after short limit waits. Writes are never repeated here: whether
/// a failed write happened is for the caller's intent to reconcile. Returns the status,
/// headers and body of the final answer, whatever its status.
pub async fn execute(
    stats: &ApiStats,
    service: Service,
    request: RequestBuilder,
) -> Result<(StatusCode, HeaderMap, bytes::Bytes), ApiError> {
    let idempotent = request
        .try_clone()
        .and_then(|r| r.build().ok())
        .is_some_and(|r| matches!(*r.method(), reqwest::Method::GET | reqwest::Method::HEAD));
    let mut attempt = 0;
    loop {
        let wait = stats.gate_wait(service);
        if wait > MAX_INLINE_WAIT {
            return Err(ApiError::RateLimited { service: service.as_str(), retry_after: Some(wait) });
        }
        tokio::time::sleep(wait).await;
        let req = request.try_clone().expect("ticket-sync only sends bodies that can be cloned");
        let outcome = match send(stats, service, req).await {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                body_bytes(service, resp).await.map(|b| (status, headers, b))
            }
            Err(e) => Err(e),
        };
        let retryable = idempotent && attempt < MAX_RETRIES;
        match outcome {
            Ok((status, headers, body)) if is_limit_answer(status, &headers, &body) => {
                let blocked = stats.gate_limited(service, &headers);
                tracing::warn!(
                    service = service.as_str(),
                    status = status.as_u16(),
                    wait_seconds = blocked.as_secs(),
                    "rate limited; nothing is sent to this service until the wait is over"
                );
                if !(retryable && blocked <= MAX_INLINE_WAIT) {
                    return Ok((status, headers, body));
                }
            }
            Ok((status, headers, body)) => {
                stats.gate_observe(service, &headers);
                if !(retryable && status.is_server_error()) {
                    return Ok((status, headers, body));
                }
                tokio::time::sleep(retry_delay(attempt, rand::random())).await;
            }
            Err(e) if retryable && e.is_retryable() => tokio::time::sleep(retry_delay(attempt, rand::random())).await,
            Err(e) => return Err(e),
        }
        stats.count_retry();
        attempt += 1;
    }
}

fn is_limit_answer(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && is_rate_limited_403(headers, &String::from_utf8_lossy(body)))
}

/// Sends a request and maps transport failures; the status is left for the caller's client to judge.
pub async fn send(stats: &ApiStats, service: Service, request: RequestBuilder) -> Result<Response, ApiError> {
    match request.send().await {
        Ok(resp) => {
            stats.record(service, resp.status().as_u16(), read_budget(resp.headers()));
            Ok(resp)
        }
        Err(e) => {
            stats.record(service, 0, None);
            Err(ApiError::Transient { service: service.as_str(), detail: describe(&e) })
        }
    }
}

/// Reads a whole body; a connection that breaks mid-body is transient.
pub async fn body_bytes(service: Service, resp: Response) -> Result<bytes::Bytes, ApiError> {
    resp.bytes().await.map_err(|e| ApiError::Transient { service: service.as_str(), detail: describe(&e) })
}

/// Parses a JSON body into a wire type; a broken body fails this item, not the daemon.
pub fn decode<T: serde::de::DeserializeOwned>(service: Service, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Decode { service: service.as_str(), detail: e.to_string() })
}

/// The error for a non-success status, with a short body for the operator.
pub fn status_error(service: Service, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let s = service.as_str();
    let text = String::from_utf8_lossy(&body[..body.len().min(600)]).trim().to_string();
    match status.as_u16() {
        401 => ApiError::Auth { service: s, status: 401 },
        429 => ApiError::RateLimited { service: s, retry_after: retry_after(headers) },
        403 if is_rate_limited_403(headers, &text) => {
            ApiError::RateLimited { service: s, retry_after: retry_after(headers) }
        }
        403 => ApiError::Auth { service: s, status: 403 },
        404 => ApiError::NotFound { service: s, detail: text },
        410 => ApiError::Gone { service: s, detail: text },
        301 | 308 => ApiError::Moved {
            service: s,
            location: headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_string),
        },
        500..=599 => ApiError::Transient { service: s, detail: format!("{status}: {text}") },
        code => ApiError::Api { service: s, status: code, body: text },
    }
}

/// GitHub answers a primary or secondary rate limit with 403 as well as 429.
fn is_rate_limited_403(headers: &HeaderMap, body: &str) -> bool {
    let exhausted = headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()) == Some("0");
    exhausted || headers.contains_key("retry-after") || body.contains("rate limit")
}

/// A transport error without the URL's query or any header; reqwest never includes headers.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading the answer"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// `base` with `path` appended to its own path (a GitHub Enterprise base ends in `/api/v3`).
pub fn join_path(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    let prefix = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("{prefix}{path}"));
    url
}

/// The HTTP client both services use: rustls, timeouts, no automatic redirects (a 301 on an
/// issue means it was transferred, and the sync logic wants to see that).
pub fn build_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("ticket-sync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("the TLS backend initialises")
}
