//! What both API clients share: the typed error the retry logic branches on, the account
//! rate-limit headers, request counting, the time budgets of a request, and the one place a
//! request is sent (through the gates of `limits.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::time::Instant;
use tracing::warn;

use crate::limits::reports_rest_budget;
use crate::limits::{chrono_secs, is_limit_answer, is_rate_limited_403, limit_wait, read_budget, Limits, Target};
use crate::ratelimit::{retry_delay, CallBudget};
use ticket_sync_core::clock;
use ticket_sync_core::domain::Scope;
use ticket_sync_core::domain::{InstallationId, RateBudget, Service};
use ticket_sync_core::domain::{ServiceClock, ServiceTime};

/// What a refusal (403) is about, as the client that made the request judges it: how far the
/// caller lets it reach (one ticket, one repository, or everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenScope {
    /// The credentials themselves (for example, a token without a needed account-wide scope).
    Account,
    /// One repository: archived, or the token may not write to it.
    Repository,
    /// One issue: locked.
    Issue,
    /// One Zendesk ticket.
    Ticket,
}

impl ForbiddenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ForbiddenScope::Account => "account",
            ForbiddenScope::Repository => "repository",
            ForbiddenScope::Issue => "issue",
            ForbiddenScope::Ticket => "ticket",
        }
    }
}

/// A failed API call, typed so callers can decide: retry now, later, or never. The clients
/// (`zendesk/`, `github/`) decide what an answer means; nothing else reads status codes or
/// error bodies.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// A limit of `scope` is reached until `until` (at most an hour away). Only a ticket's own
    /// limit leaves the rest of a pass alone.
    #[error("{service} rate limit reached for {scope}; nothing is sent there before {until}")]
    RateLimited { service: Service, scope: Scope, until: DateTime<Utc> },
    #[error("{service} transient failure: {detail}")]
    Transient { service: Service, detail: String },
    /// No answer in time: the server may still be carrying the request out, so a write's
    /// outcome is unknown until it has had time to finish (see `sync::SETTLE`).
    #[error("{service} did not answer in time: {detail}")]
    Unanswered { service: Service, detail: String },
    #[error("{service} says not found: {detail}")]
    NotFound { service: Service, detail: String },
    #[error("{service} says gone (410): {detail}")]
    Gone { service: Service, detail: String },
    #[error("{service} says moved permanently to {location:?}")]
    Moved { service: Service, location: Option<String> },
    #[error(
        "{service} refused the credentials ({status}): {}",
        detail.as_deref().unwrap_or("check the token and its permissions")
    )]
    Unauthorized { service: Service, status: u16, detail: Option<String> },
    #[error("{service} refused access to this {} (403): {detail}", scope.as_str())]
    Forbidden { service: Service, scope: ForbiddenScope, detail: String },
    #[error("{service}: the ticket is closed and takes no more updates")]
    TicketClosed { service: Service },
    #[error("{service}: the ticket was deleted")]
    TicketDeleted { service: Service },
    #[error("{service} refused the status: {}", fields.join("; "))]
    StatusRefused { service: Service, fields: Vec<String> },
    #[error("{service} answered {status}: {body}")]
    Api { service: Service, status: u16, body: String },
    #[error("{service} answered with a body that could not be read: {detail}")]
    Decode { service: Service, detail: String },
    /// The answer is larger than the endpoint's cap (`body_cap`) and was not read: the same
    /// request would meet the same answer, so it is not tried again as it is (a list reads
    /// smaller pages instead).
    #[error("{service}'s answer is larger than the {cap}-byte cap for this endpoint; it was not read")]
    TooLarge { service: Service, cap: usize },
    /// The server's TLS certificate was not accepted (unknown authority, expired, wrong name):
    /// a configuration problem, never retried.
    #[error(
        "{service}: the server's TLS certificate was not accepted ({detail}); if it comes from an internal certificate authority or a TLS-inspecting proxy, set ca_file in [{service}] to that authority's certificate (PEM)"
    )]
    Certificate { service: Service, detail: String },
}

impl ApiError {
    /// A passing failure (broken connection, 5xx, unreadable answer) worth retrying soon; rate
    /// limits are not: they say when to come back.
    pub fn is_transient(&self) -> bool {
        matches!(self, ApiError::Transient { .. } | ApiError::Decode { .. })
    }

    /// `scope` of `service` is limited for `wait` (cut to an hour) from now.
    pub fn limited(service: Service, scope: Scope, wait: Duration) -> ApiError {
        ApiError::RateLimited { service, scope, until: clock::now() + chrono_secs(wait) }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. }
                | ApiError::Transient { .. }
                | ApiError::Unanswered { .. }
                | ApiError::Decode { .. }
        )
    }

    /// The HTTP status, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } | ApiError::Unauthorized { status, .. } => Some(*status),
            ApiError::Forbidden { .. } => Some(403),
            ApiError::TicketClosed { .. } | ApiError::StatusRefused { .. } => Some(422),
            ApiError::TicketDeleted { .. } => Some(404),
            ApiError::NotFound { .. } => Some(404),
            ApiError::Gone { .. } => Some(410),
            ApiError::Moved { .. } => Some(301),
            ApiError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

/// Counts of requests by service and status, the last budget seen, and the rate-limit state
/// (`limits`). Shared by both clients of one engine and, in the daemon, by every engine
/// across reloads, so a reload resets no limit; read by the pass summary, `status` and the
/// metrics endpoint.
#[derive(Default)]
pub struct ApiStats {
    inner: Mutex<StatsInner>,
    pub limits: Limits,
    /// Told of every answer: a pass that gets answers is alive (systemd's watchdog), even in
    /// the middle of a long listing.
    heartbeat: Mutex<Option<Heartbeat>>,
}

/// What `ApiStats` calls on every answer.
pub type Heartbeat = Arc<dyn Fn() + Send + Sync>;

#[derive(Debug, Default, Clone)]
pub struct StatsInner {
    /// (service, status) → count; status 0 means no answer (timeout, reset).
    pub requests: BTreeMap<(Service, u16), u64>,
    pub budgets: BTreeMap<Service, RateBudget>,
    /// Each GitHub App installation's own budget, from the answers to its token.
    pub installation_budgets: BTreeMap<InstallationId, RateBudget>,
    /// Requests sent again after a transient failure or a short limit wait.
    pub retries: u64,
    /// Limit answers (429, or 403 with a rate-limit sign) seen.
    pub limited: u64,
    /// Each service's clock minus this host's, from its last `Date` header.
    pub clock_offsets: BTreeMap<Service, chrono::Duration>,
}

impl StatsInner {
    /// Requests sent so far (a pass's share is the difference of two snapshots).
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

impl std::fmt::Debug for ApiStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiStats").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl ApiStats {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records how far the service's clock (its `Date` header) is from this host's.
    fn observe_clock(&self, service: Service, headers: &HeaderMap) {
        let date = headers.get(reqwest::header::DATE).and_then(|v| v.to_str().ok());
        if let Some(remote_now) = date.and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok()) {
            self.inner.lock().unwrap().clock_offsets.insert(service, remote_now.to_utc() - clock::now());
        }
    }

    /// A moment of this host's clock on `service`'s clock, for comparing with the service's
    /// own timestamps; `None` before any answer of the service was read.
    pub fn service_time<C: ServiceClock>(&self, host_time: DateTime<Utc>) -> Option<ServiceTime<C>> {
        self.inner.lock().unwrap().clock_offsets.get(&C::SERVICE).map(|offset| ServiceTime::shifted(host_time, *offset))
    }

    /// Now on service C's clock when its offset is known; before the service's first answer,
    /// this host's time taken as C's (`ServiceTime::assume_host`): the callers accept the
    /// clocks' skew there, each saying why.
    pub fn service_now<C: ServiceClock>(&self) -> ServiceTime<C> {
        let now = clock::now();
        self.service_time::<C>(now).unwrap_or_else(|| ServiceTime::assume_host(now))
    }

    /// Calls `beat` on every answer from now on.
    pub fn set_heartbeat(&self, beat: Heartbeat) {
        *self.heartbeat.lock().unwrap() = Some(beat);
    }

    fn record(&self, service: Service, status: u16, budget: Option<RateBudget>) {
        if let Some(beat) = self.heartbeat.lock().unwrap().clone() {
            beat();
        }
        let mut inner = self.inner.lock().unwrap();
        *inner.requests.entry((service, status)).or_insert(0) += 1;
        if let Some(b) = budget {
            inner.budgets.insert(service, b);
        }
    }

    fn record_installation(&self, installation: InstallationId, headers: &HeaderMap) {
        if let Some(b) = read_budget(headers).filter(|_| reports_rest_budget(headers)) {
            self.inner.lock().unwrap().installation_budgets.insert(installation, b);
        }
    }

    fn count_limited(&self) {
        self.inner.lock().unwrap().limited += 1;
    }

    fn count_retry(&self) {
        self.inner.lock().unwrap().retries += 1;
    }

    pub fn snapshot(&self) -> StatsInner {
        self.inner.lock().unwrap().clone()
    }
}

/// The longest one call waits in all (rate-limit gates and retry back-off) before giving up
/// on this pass; a longer wait ends the call with `RateLimited` or its last error.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(20);
/// Retries of an idempotent request after transient failures.
const MAX_RETRIES: u32 = 3;

/// How long requests may take. The defaults fit well inside the systemd watchdog
/// (`WatchdogSec=120s`, pinged between items): one call, all its attempts and waits included,
/// ends within 45 s, so a black-holed endpoint fails its item and the pass goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// One attempt, from connecting to the last byte of the answer.
    pub attempt: Duration,
    /// One call: every attempt, back-off and rate-limit wait.
    pub call: Duration,
}

impl Timeouts {
    pub const DEFAULT: Timeouts =
        Timeouts { connect: Duration::from_secs(5), attempt: Duration::from_secs(15), call: Duration::from_secs(45) };

    /// The defaults, or `TICKET_SYNC_HTTP_TIMEOUT_MS` (one attempt) and
    /// `TICKET_SYNC_CALL_BUDGET_MS` (one call) from the environment, read once per process:
    /// tests shorten them to drive a black hole quickly.
    pub fn get() -> Timeouts {
        static TIMEOUTS: OnceLock<Timeouts> = OnceLock::new();
        *TIMEOUTS.get_or_init(|| {
            let ms = |name: &str| std::env::var(name).ok()?.trim().parse::<u64>().ok().filter(|v| *v > 0);
            Timeouts::from_millis(ms("TICKET_SYNC_HTTP_TIMEOUT_MS"), ms("TICKET_SYNC_CALL_BUDGET_MS"))
        })
    }

    fn from_millis(attempt_ms: Option<u64>, call_ms: Option<u64>) -> Timeouts {
        let d = Timeouts::DEFAULT;
        let attempt = attempt_ms.map_or(d.attempt, Duration::from_millis);
        let call = call_ms.map_or(d.call, Duration::from_millis);
        Timeouts { connect: d.connect.min(attempt), attempt, call }
    }
}

/// Sends a request through its scopes' rate-limit gates and reads its body. GET requests are
/// retried after transient failures (5xx, timeouts, broken connections) with capped, jittered
/// back-off, and after short limit waits. Writes are never repeated here: whether a failed
/// write happened is for the caller's intent to reconcile. The whole call, attempts and waits,
/// stays within `Timeouts::call`, and its waits within `MAX_INLINE_WAIT`. A limit answer that
/// is not waited out here is `RateLimited` with its scope; any other answer is returned with
/// its status, headers and body, whatever the status.
pub async fn execute(
    stats: &ApiStats,
    target: &Target,
    request: RequestBuilder,
) -> Result<(StatusCode, HeaderMap, bytes::Bytes), ApiError> {
    let service = target.service;
    let idempotent = request
        .try_clone()
        .and_then(|r| r.build().ok())
        .is_some_and(|r| matches!(*r.method(), reqwest::Method::GET | reqwest::Method::HEAD));
    let mut budget = CallBudget::new(Timeouts::get().call, MAX_INLINE_WAIT, Instant::now());
    let mut attempt = 0;
    loop {
        let (wait, scope) = stats.limits.wait(target);
        if !wait.is_zero() {
            if !budget.take_wait(wait, Instant::now()) {
                return Err(ApiError::limited(service, scope, wait));
            }
            tokio::time::sleep(wait).await;
        }
        let req = request.try_clone().expect("ticket-sync only sends bodies that can be cloned");
        let outcome = attempt_once(stats, service, req, budget.left(Instant::now())).await;
        let retryable = idempotent && attempt < MAX_RETRIES;
        match outcome {
            Ok((status, headers, body)) if is_limit_answer(status, &headers, &body) => {
                stats.count_limited();
                if let Some(installation) = target.installation {
                    stats.record_installation(installation, &headers);
                }
                let (scope, blocked) = stats.limits.limited(target, status, &headers);
                warn!(
                    service = service.as_str(),
                    status = status.as_u16(),
                    scope = %scope,
                    wait_seconds = blocked.as_secs(),
                    "rate limited; nothing is sent to this scope until the wait is over"
                );
                // The wait itself is taken at the top of the loop, from the same budget.
                if !(retryable && budget.fits(blocked, Instant::now())) {
                    return Err(ApiError::limited(service, scope, blocked));
                }
            }
            Ok((status, headers, body)) => {
                // A refused credential's answer reports no budget of this credential's (GitHub's
                // GraphQL 401 says 0 points of 0, its REST 401 the budget of unauthenticated
                // requests): it neither blocks nor stands for one.
                if status != StatusCode::UNAUTHORIZED {
                    stats.limits.observe(target, &headers);
                    if let Some(installation) = target.installation {
                        stats.record_installation(installation, &headers);
                    }
                }
                stats.observe_clock(target.service, &headers);
                if !(retryable && status.is_server_error()) {
                    return Ok((status, headers, body));
                }
                let delay = retry_delay(attempt, rand::random());
                if !budget.take_wait(delay, Instant::now()) {
                    return Ok((status, headers, body));
                }
                tokio::time::sleep(delay).await;
            }
            Err(e) if retryable && e.is_retryable() => {
                let delay = retry_delay(attempt, rand::random());
                if !budget.take_wait(delay, Instant::now()) {
                    return Err(e);
                }
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(e),
        }
        stats.count_retry();
        attempt += 1;
    }
}

/// One attempt, cut off at `left` (the call's remaining budget) if the client's own attempt
/// timeout has not ended it first.
async fn attempt_once(
    stats: &ApiStats,
    service: Service,
    request: RequestBuilder,
    left: Duration,
) -> Result<(StatusCode, HeaderMap, bytes::Bytes), ApiError> {
    // Whether `send` counted the request already (the body may be what never comes).
    let answered = std::sync::atomic::AtomicBool::new(false);
    let attempt = async {
        let resp = send(stats, service, request).await?;
        answered.store(true, std::sync::atomic::Ordering::Relaxed);
        let (status, headers) = (resp.status(), resp.headers().clone());
        body_bytes(service, resp).await.map(|b| (status, headers, b))
    };
    match tokio::time::timeout(left, attempt).await {
        Ok(outcome) => outcome,
        Err(_) => {
            let detail = "timed out: no answer within the call's time budget".to_string();
            if answered.load(std::sync::atomic::Ordering::Relaxed) {
                // The server answered; only its body did not come: it finished the request.
                return Err(ApiError::Transient { service, detail });
            }
            stats.record(service, 0, None);
            Err(ApiError::Unanswered { service, detail })
        }
    }
}

/// Sends a request and maps transport failures; the status is left for the caller's client to judge.
pub async fn send(stats: &ApiStats, service: Service, request: RequestBuilder) -> Result<Response, ApiError> {
    match request.send().await {
        Ok(resp) => {
            // The service's budget as `status` and the metrics show it is the REST API's: a
            // GraphQL answer's points, or a refused credential's, are not it.
            let (status, headers) = (resp.status(), resp.headers());
            let rest = reports_rest_budget(headers) && status != StatusCode::UNAUTHORIZED;
            stats.record(service, status.as_u16(), read_budget(headers).filter(|_| rest));
            Ok(resp)
        }
        Err(e) => {
            stats.record(service, 0, None);
            if let Some(detail) = certificate_problem(&e) {
                return Err(ApiError::Certificate { service, detail });
            }
            let detail = describe(&e);
            if e.is_timeout() {
                Err(ApiError::Unanswered { service, detail })
            } else {
                Err(ApiError::Transient { service, detail })
            }
        }
    }
}

/// The most a body may hold: the incremental export's pages (a thousand tickets with their
/// descriptions) may be large, every other answer is small. Both are far above real answers.
pub const EXPORT_BODY_CAP: usize = 64 << 20;
pub const BODY_CAP: usize = 16 << 20;

/// The cap for an answer from `path`; `TICKET_SYNC_BODY_CAP_BYTES` (read once per process)
/// replaces both caps, so tests can go past one with a small answer.
pub fn body_cap(path: &str) -> usize {
    static OVERRIDE: OnceLock<Option<usize>> = OnceLock::new();
    let set = OVERRIDE.get_or_init(|| {
        std::env::var("TICKET_SYNC_BODY_CAP_BYTES").ok()?.trim().parse::<usize>().ok().filter(|v| *v > 0)
    });
    set.unwrap_or(if path.contains("/incremental/") { EXPORT_BODY_CAP } else { BODY_CAP })
}

/// Reads a whole body in chunks, up to its endpoint's cap (`body_cap`): a larger answer fails
/// this request (`Decode`) before it can take the memory, whatever its `Content-Length` says.
/// A connection that breaks mid-body is transient. Known secrets are scrubbed from the body
/// here, before anything can log, store or show its text.
pub async fn body_bytes(service: Service, mut resp: Response) -> Result<bytes::Bytes, ApiError> {
    let cap = body_cap(resp.url().path());
    let too_big = || ApiError::TooLarge { service, cap };
    if resp.content_length().is_some_and(|len| len > cap as u64) {
        return Err(too_big());
    }
    let mut body = bytes::BytesMut::new();
    let broken = |e: reqwest::Error| ApiError::Transient { service, detail: describe(&e) };
    while let Some(chunk) = resp.chunk().await.map_err(broken)? {
        if body.len() + chunk.len() > cap {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(crate::secret::scrub_bytes(body.freeze()))
}

/// Parses a JSON body into a wire type; a broken body fails this item, not the daemon. Broken
/// text (invalid UTF-8, a lone surrogate escape) is read lossily (`lenient::sanitize_json`),
/// so only a broken structure is a `Decode` failure.
pub fn decode<T: serde::de::DeserializeOwned>(service: Service, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(&crate::lenient::sanitize_json(bytes))
        .map_err(|e| ApiError::Decode { service, detail: e.to_string() })
}

/// A list item that could not be read as its wire type: the raw value and why.
#[derive(Debug, Clone)]
pub struct BadItem {
    pub raw: serde_json::Value,
    pub detail: String,
}

/// Parses a JSON array item by item: the page must be an array, and each item that does not
/// fit `T` is returned apart instead of failing the page (one bad item must not stop a list).
pub fn decode_items<T: serde::de::DeserializeOwned>(
    service: Service,
    bytes: &[u8],
) -> Result<(Vec<T>, Vec<BadItem>), ApiError> {
    let values: Vec<serde_json::Value> = decode(service, bytes)?;
    let (mut good, mut bad) = (Vec::with_capacity(values.len()), Vec::new());
    for raw in values {
        match T::deserialize(&raw) {
            Ok(item) => good.push(item),
            Err(e) => bad.push(BadItem { detail: e.to_string(), raw }),
        }
    }
    Ok((good, bad))
}

/// The error for a non-success status, with a short body for the operator.
pub fn status_error(service: Service, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let s = service;
    let text = String::from_utf8_lossy(&body[..body.len().min(600)]).trim().to_string();
    match status.as_u16() {
        401 => ApiError::Unauthorized { service: s, status: 401, detail: None },
        429 => ApiError::limited(service, Scope::Service, limit_wait(headers)),
        403 if is_rate_limited_403(headers, &text) => ApiError::limited(service, Scope::Service, limit_wait(headers)),
        // The client narrows what the refusal is about: it knows what the request was.
        403 => ApiError::Forbidden { service: s, scope: ForbiddenScope::Account, detail: text },
        404 => ApiError::NotFound { service: s, detail: text },
        410 => ApiError::Gone { service: s, detail: text },
        // The one header an error repeats: scrubbed like a body (a redirect may carry a secret).
        301 | 308 => ApiError::Moved {
            service: s,
            location: headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(|l| crate::secret::scrub(l).into_owned()),
        },
        500..=599 => ApiError::Transient { service: s, detail: format!("{status}: {text}") },
        code => ApiError::Api { service: s, status: code, body: text },
    }
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

/// What is wrong with the server's certificate, when `error` (a failed request) comes from
/// the TLS handshake refusing it. The `rustls::Error` is looked for in the source chain
/// (inside the `io::Error` hyper wraps it in, whose `source` skips it); the text rustls gives
/// that error ("invalid peer certificate") is the fallback, should the wrapping change.
pub fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    // Each cause in turn, looking into an `io::Error` for what it wraps (its `source` skips it).
    let chain = || {
        std::iter::successors(Some(error), |e| match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        })
    };
    chain().find_map(rustls_certificate_error).or_else(|| {
        chain().find_map(|e| {
            let text = e.to_string();
            text.find("invalid peer certificate").map(|at| text[at..].to_string())
        })
    })
}

fn rustls_certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e.downcast_ref::<rustls::Error>()? else {
        return None;
    };
    let plain = match c {
        C::UnknownIssuer => "it is signed by an authority this host does not trust (UnknownIssuer)".to_string(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".to_string(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "it is not valid for the host name in the URL".to_string()
        }
        C::Revoked => "it has been revoked".to_string(),
        other => format!("invalid certificate: {other:?}"),
    };
    Some(plain)
}

/// Reads a `ca_file`: one or more PEM certificates, each a valid trust anchor. Returns the
/// file's content, checked; the error says what is wrong, for the rules-file message.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{} is not a PEM certificate bundle: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (a block starting -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    // Adding them to a client's root store parses each certificate: a broken one fails here,
    // with the rules file's key and line, and not when the daemon starts its clients.
    let mut check = reqwest::Client::builder().use_rustls_tls().tls_built_in_root_certs(false);
    for c in &certs {
        check = check.add_root_certificate(c.clone());
    }
    check.build().map_err(|e| format!("{} holds a certificate that cannot be used: {e}", path.display()))?;
    Ok(pem)
}

/// The HTTP client of one service: rustls, the attempt timeouts of `Timeouts::get`, no
/// automatic redirects (a 301 on an issue means it was transferred, and the sync logic wants
/// to see that). It trusts the bundled roots, the system's store (or, when `SSL_CERT_FILE` is
/// set, the certificates of that file instead: rustls-native-certs reads it), and `extra_roots`
/// (the service's `ca_file`: a PEM bundle `read_ca_file` checked).
pub fn build_client(extra_roots: Option<&[u8]>) -> reqwest::Client {
    let timeouts = Timeouts::get();
    warn_unreadable_ssl_cert_file();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("ticket-sync/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.attempt)
        .redirect(reqwest::redirect::Policy::none());
    let extra = extra_roots.map(reqwest::Certificate::from_pem_bundle).transpose();
    for cert in extra.expect("ca_file certificates were checked when the rules were read").unwrap_or_default() {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().expect("the TLS backend initialises; ca_file certificates were checked when the rules were read")
}

/// The system store loader ignores an `SSL_CERT_FILE` it cannot read: say so, once.
fn warn_unreadable_ssl_cert_file() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else { return };
        let path = std::path::PathBuf::from(path);
        if let Err(e) = read_ca_file(&path) {
            warn!(error = %e, "SSL_CERT_FILE is set but unusable; only the bundled roots and ca_file are trusted");
        }
    });
}

/// Headers from name/value pairs, for the tests of this module and of `limits`.
#[cfg(test)]
pub(crate) fn test_headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::test_headers as headers;
    use super::*;

    #[test]
    fn a_redirect_is_repeated_without_the_secrets_it_carries() {
        let _ = crate::secret::Secret::new("zd_redirect_echo_secret_1");
        let h = headers(&[("location", "https://login.example/?secret=zd_redirect_echo_secret_1&x=1")]);
        let e = status_error(Service::Zendesk, StatusCode::MOVED_PERMANENTLY, &h, b"");
        assert!(
            matches!(&e, ApiError::Moved { location: Some(l), .. } if l == "https://login.example/?secret=***&x=1"),
            "{e:?}"
        );
    }

    #[test]
    fn timeouts_come_from_the_environment_or_the_defaults() {
        assert_eq!(Timeouts::from_millis(None, None), Timeouts::DEFAULT);
        let t = Timeouts::from_millis(Some(300), Some(1500));
        assert_eq!(
            (t.connect, t.attempt, t.call),
            (Duration::from_millis(300), Duration::from_millis(300), Duration::from_millis(1500))
        );
        let d = Timeouts::DEFAULT;
        assert!(d.call * 2 < Duration::from_secs(120), "a call fits twice into the watchdog interval");
        assert!(d.attempt * (MAX_RETRIES + 1) > d.call, "the call budget, not the attempt count, bounds a black hole");
    }

    /// Wraps an error the way hyper hands a handshake failure to reqwest: inside an `io::Error`.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_rustls_certificate_error_is_found_in_the_chain_or_by_its_text() {
        let cases = [
            (rustls::CertificateError::UnknownIssuer, "authority this host does not trust"),
            (rustls::CertificateError::Expired, "expired"),
            (rustls::CertificateError::NotValidForName, "not valid for the host name"),
            (rustls::CertificateError::BadSignature, "BadSignature"),
        ];
        for (cert, want) in cases {
            let e = Outer(std::io::Error::other(rustls::Error::InvalidCertificate(cert)));
            let found = certificate_problem(&e).expect("found");
            assert!(found.contains(want), "{found}");
        }
        let text = Outer(std::io::Error::other("invalid peer certificate: UnknownIssuer"));
        assert_eq!(certificate_problem(&text).as_deref(), Some("invalid peer certificate: UnknownIssuer"));
        let other = Outer(std::io::Error::other(rustls::Error::HandshakeNotComplete));
        assert_eq!(certificate_problem(&other), None);
        assert_eq!(certificate_problem(&Outer(std::io::Error::other("connection refused"))), None);
    }
}
