//! What both fake servers share: the fault injector, the request log and the sandbox clock.
//!
//! Faults are applied by one axum middleware in front of each fake, the way a load balancer
//! or a flaky network would apply them: the handler never knows. Random faults come from a
//! seeded generator so a chaos run is reproducible; scripted faults (`FaultRule`) fire a given
//! number of times on requests that match a method and a path fragment. A tap (`Taps`) runs a
//! test's action once a given request has been carried out, before its answer leaves.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which real service a fake imitates; decides the shape of injected error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Zendesk,
    Github,
}

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and the service's usual error body; the handler does not run.
    Status(u16),
    /// The connection breaks before the request is processed.
    Drop,
    /// The request is processed (state changes), then the response is lost on the way back.
    LoseResponse,
    /// `429 Too Many Requests` with `Retry-After: secs`; the handler does not run.
    RateLimited { retry_after_secs: u64 },
    /// The request is processed, and the response body is cut off half-way (a JSON body that ends early).
    Truncate,
    /// The request is processed after this many milliseconds and answered then (a busy
    /// server); it is processed even if the client has stopped waiting.
    Slow { millis: u64 },
    /// Answers this status at once, and carries the request out `millis` later anyway (a
    /// gateway that gave up on a backend that did not).
    StatusThenLater { status: u16, millis: u64 },
    /// The connection is accepted and the request read, and no answer ever comes (a stuck proxy
    /// in front of a dead backend); the handler does not run. Only a client timeout ends it.
    BlackHole,
    /// The request is processed and these headers are set on its answer, replacing the
    /// handler's (absurd rate-limit values, a spent budget).
    Headers(Vec<(String, String)>),
    /// The request is processed and every `from` in its answer's body is replaced by the raw
    /// bytes `to` (a lone-surrogate escape, invalid UTF-8: text no stored value can hold).
    Rewrite { from: String, to: Vec<u8> },
    /// Answers this status with a body that echoes the request's `Authorization` header (a
    /// proxy or WAF page that reflects it); the handler does not run.
    EchoAuthorization(u16),
    /// Answers this status with these headers and this body (`application/json` when it reads
    /// as JSON, else `text/html`): an answer a real server or a proxy gives in a form the fake's
    /// handlers never do. The handler does not run.
    Reply { status: u16, headers: Vec<(String, String)>, body: String },
    /// The request reaches the handler without its body (a proxy or load balancer that strips
    /// the body of a `DELETE`).
    DropBody,
}

/// A scripted fault: fires on the next `times` requests matching `method` and `path_contains`.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub method: Option<Method>,
    pub path_contains: String,
    pub fault: Fault,
    pub times: u32,
}

impl FaultRule {
    pub fn new(method: Option<Method>, path_contains: &str, fault: Fault) -> Self {
        FaultRule { method, path_contains: path_contains.to_string(), fault, times: 1 }
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method) && path.contains(&self.path_contains)
    }
}

/// Random faults for chaos runs. Rates are probabilities per request.
#[derive(Debug, Clone, Copy)]
pub struct RandomFaults {
    pub seed: u64,
    pub error_rate: f64,
    pub drop_rate: f64,
    pub lose_response_rate: f64,
}

#[derive(Default)]
struct FaultState {
    rules: Vec<FaultRule>,
    random: Option<(RandomFaults, StdRng)>,
}

/// The fault injector of one fake server.
#[derive(Default)]
pub struct Faults {
    state: Mutex<FaultState>,
}

impl Faults {
    pub fn push(&self, rule: FaultRule) {
        self.state.lock().unwrap().rules.push(rule);
    }

    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap();
        state.rules.clear();
        state.random = None;
    }

    pub fn set_random(&self, random: Option<RandomFaults>) {
        self.state.lock().unwrap().random = random.map(|r| (r, StdRng::seed_from_u64(r.seed)));
    }

    /// The fault to apply to this request, if any. Scripted rules win over random faults.
    fn pick(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut state = self.state.lock().unwrap();
        if let Some(pos) = state.rules.iter().position(|r| r.matches(method, path)) {
            let rule = &mut state.rules[pos];
            let fault = rule.fault.clone();
            rule.times -= 1;
            if rule.times == 0 {
                state.rules.remove(pos);
            }
            return Some(fault);
        }
        let (cfg, rng) = state.random.as_mut()?;
        let roll: f64 = rng.random();
        if roll < cfg.error_rate {
            let statuses = [500, 502, 503, 504];
            Some(Fault::Status(statuses[rng.random_range(0..statuses.len())]))
        } else if roll < cfg.error_rate + cfg.drop_rate {
            Some(Fault::Drop)
        } else if *method != Method::GET && roll < cfg.error_rate + cfg.drop_rate + cfg.lose_response_rate {
            Some(Fault::LoseResponse)
        } else {
            None
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub fault: Option<Fault>,
    /// The scheme of its `Authorization` header (`Basic`, `Bearer`), never the credential.
    pub auth_scheme: Option<String>,
}

/// Every request a fake received, in order. Tests count requests with it.
#[derive(Default)]
pub struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
}

impl RequestLog {
    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.entries.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }

    /// How many logged requests satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&LoggedRequest) -> bool) -> usize {
        self.entries.lock().unwrap().iter().filter(|e| pred(e)).count()
    }

    /// Requests that changed or could have changed state (anything but GET/HEAD). Minting an
    /// access token (`POST /oauth/tokens`) changes no record and is not one.
    pub fn writes(&self) -> usize {
        self.count(|e| e.method != Method::GET && e.method != Method::HEAD && e.path != "/oauth/tokens")
    }

    fn record(&self, entry: LoggedRequest) {
        self.entries.lock().unwrap().push(entry);
    }
}

/// The sandbox's idea of "now": real time plus an offset tests can move forward.
///
/// Zendesk hides changes younger than a minute from the incremental export; tests and the
/// demo advance this clock instead of sleeping.
#[derive(Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    pub fn advance(&self, by: Duration) {
        self.offset_secs.fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }

    /// Moves the services' clock back: the host running ticket-sync is then fast by `by`.
    pub fn rewind(&self, by: Duration) {
        self.offset_secs.fetch_sub(by.as_secs() as i64, Ordering::SeqCst);
    }
}

/// Which requests a tap counts: their method and path.
type TapMatch = Box<dyn Fn(&Method, &str) -> bool + Send + Sync>;

/// One action waiting for its request.
struct Tap {
    matches: TapMatch,
    /// Matching requests still to be carried out before the action runs.
    left: u32,
    action: Box<dyn FnOnce() + Send>,
}

/// Actions a test runs at an exact point of a client's work: once the fake has carried out a
/// given request (its state changed) and before the client sees the answer, so the client's
/// next step meets whatever the action changed (a disk made full, say).
#[derive(Default)]
pub struct Taps {
    taps: Mutex<Vec<Tap>>,
}

impl Taps {
    /// Runs `action` once, right after the `nth` request (from 1) matching `matches` was
    /// carried out (answered with success, no fault injected).
    pub fn after(
        &self,
        nth: u32,
        matches: impl Fn(&Method, &str) -> bool + Send + Sync + 'static,
        action: impl FnOnce() + Send + 'static,
    ) {
        let tap = Tap { matches: Box::new(matches), left: nth.max(1), action: Box::new(action) };
        self.taps.lock().unwrap().push(tap);
    }

    /// Counts a request that was carried out, and runs the actions it was the last one for.
    fn carried_out(&self, method: &Method, path: &str) {
        let due: Vec<Tap> = {
            let mut taps = self.taps.lock().unwrap();
            for tap in taps.iter_mut().filter(|t| (t.matches)(method, path)) {
                tap.left -= 1;
            }
            let (due, waiting) = std::mem::take(&mut *taps).into_iter().partition(|t| t.left == 0);
            *taps = waiting;
            due
        };
        for tap in due {
            (tap.action)();
        }
    }
}

/// What the fault middleware needs to know about its server.
pub struct Frontdoor {
    pub service: Service,
    pub faults: Faults,
    pub log: RequestLog,
    pub taps: Taps,
}

impl Frontdoor {
    pub fn new(service: Service) -> Arc<Self> {
        Arc::new(Frontdoor { service, faults: Faults::default(), log: RequestLog::default(), taps: Taps::default() })
    }
}

/// axum middleware: log the request, and apply a fault if one is due.
pub async fn frontdoor(State(door): State<Arc<Frontdoor>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth_scheme = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_string);
    let fault = door.faults.pick(&method, &path);
    if fault == Some(Fault::BlackHole) {
        door.log.record(LoggedRequest { method, path, query, status: 0, fault, auth_scheme });
        // Never answers; the server drops this future when the client gives up.
        return std::future::pending().await;
    }
    let response = match &fault {
        None => next.run(req).await,
        Some(Fault::LoseResponse) => {
            let _ = next.run(req).await;
            broken_response()
        }
        Some(Fault::Drop) => broken_response(),
        Some(Fault::Truncate) => truncated(next.run(req).await).await,
        Some(Fault::Slow { millis }) => {
            // Like a real server, it carries the request out even if the client gives up
            // waiting: the work does not belong to the connection.
            let millis = *millis;
            let work = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                next.run(req).await
            });
            work.await.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Some(Fault::Status(code)) => error_response(door.service, *code),
        Some(Fault::StatusThenLater { status, millis }) => {
            let millis = *millis;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                let _ = next.run(req).await;
            });
            error_response(door.service, *status)
        }
        Some(Fault::RateLimited { retry_after_secs }) => rate_limited_response(door.service, *retry_after_secs),
        Some(Fault::Headers(headers)) => with_headers(next.run(req).await, headers),
        Some(Fault::Rewrite { from, to }) => rewritten(next.run(req).await, from.as_bytes(), to).await,
        Some(Fault::EchoAuthorization(code)) => echo_authorization(&req, *code),
        Some(Fault::Reply { status, headers, body }) => with_headers(reply(*status, body), headers),
        Some(Fault::DropBody) => {
            let (mut parts, _) = req.into_parts();
            parts.headers.remove("content-length");
            parts.headers.remove("content-type");
            next.run(Request::from_parts(parts, Body::empty())).await
        }
        Some(Fault::BlackHole) => unreachable!("handled above"),
    };
    if fault.is_none() && response.status().is_success() {
        door.taps.carried_out(&method, &path);
    }
    let status = match fault {
        Some(Fault::Drop) | Some(Fault::LoseResponse) | Some(Fault::BlackHole) => 0,
        _ => response.status().as_u16(),
    };
    door.log.record(LoggedRequest { method, path, query, status, fault, auth_scheme });
    response
}

/// The same response with half of its body and a matching `Content-Length`.
async fn truncated(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.insert("content-length", HeaderValue::from(half.len()));
    parts.headers.remove("etag");
    Response::from_parts(parts, Body::from(half))
}

/// The same response with every `from` in its body replaced by `to`.
async fn rewritten(response: Response, from: &[u8], to: &[u8]) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest: &[u8] = &bytes;
    while let Some(at) = (!from.is_empty()).then(|| rest.windows(from.len()).position(|w| w == from)).flatten() {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(to);
        rest = &rest[at + from.len()..];
    }
    out.extend_from_slice(rest);
    parts.headers.insert("content-length", HeaderValue::from(out.len()));
    parts.headers.remove("etag");
    Response::from_parts(parts, Body::from(out))
}

/// An error page that reflects the request's `Authorization` header, as some proxies do.
fn echo_authorization(req: &Request, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
    (status, format!("<html>Bad gateway. Your request: Authorization: {auth}</html>")).into_response()
}

/// `body` with `status`, typed as JSON when it is JSON.
fn reply(status: u16, body: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let json = serde_json::from_str::<serde_json::Value>(body).is_ok();
    let content_type = if json { "application/json; charset=utf-8" } else { "text/html; charset=utf-8" };
    (status, [("content-type", content_type)], body.to_string()).into_response()
}

/// The same response with `headers` set (invalid names or values are skipped).
fn with_headers(mut response: Response, headers: &[(String, String)]) -> Response {
    for (name, value) in headers {
        let name = axum::http::HeaderName::from_bytes(name.as_bytes());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// A response whose body fails after the status line: the client sees a broken connection.
fn broken_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox: connection dropped",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    response
}

fn error_response(service: Service, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match service {
        Service::Github => serde_json::json!({
            "message": status.canonical_reason().unwrap_or("Server Error"),
            "documentation_url": "https://docs.github.com/rest",
            "status": code.to_string(),
        }),
        Service::Zendesk => serde_json::json!({
            "error": "InternalError",
            "description": status.canonical_reason().unwrap_or("Server Error"),
        }),
    };
    (status, axum::Json(body)).into_response()
}

fn rate_limited_response(service: Service, retry_after_secs: u64) -> Response {
    let mut response = match service {
        // Zendesk's 429 body is not always JSON; the sandbox sends plain text to keep clients honest.
        Service::Zendesk => (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response(),
        Service::Github => (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            })),
        )
            .into_response(),
    };
    response.headers_mut().insert("retry-after", HeaderValue::from_str(&retry_after_secs.to_string()).unwrap());
    response
}
