//! The checks GitHub runs around every handler: User-Agent, token, primary and secondary rate
//! limits, rate-limit headers, and ETag / `If-None-Match` (a 304 costs no rate-limit unit).
//! `gate` stands in front of the REST API, `graphql_gate` in front of `POST /graphql`, whose
//! points are a budget of their own (`x-ratelimit-resource: graphql`).

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::app::{self, Credential};
use super::reply::{docs, Reply};
use super::Shared;

/// The primary budget of a personal access token (and, in points, of its GraphQL queries).
const HOURLY_LIMIT: u32 = 5000;

/// The budget a request spends: the REST API's requests, or GraphQL's points.
///
/// FACTS (docs.github.com, "Rate limits and query limits for the GraphQL API", github/docs
/// `content/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api.md`): GraphQL
/// has a primary limit of its own, 5,000 points an hour for a user and per installation, with
/// the REST headers' names; `x-ratelimit-resource` is "always `graphql`" there. A query costs
/// at least one point. ASSUMED (modelled simply): every query the fake answers costs one point
/// (ticket-sync's query asks for one connection of one issue: one point by the documented
/// formula), JWTs have no GraphQL budget (they are refused there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Core,
    Graphql,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Core => "core",
            Resource::Graphql => "graphql",
        }
    }
}

/// Rate-limit bookkeeping of one credential: the personal token (whose `Limits` also keeps the
/// secondary write limit and the request count), the App's JWTs, or one installation.
#[derive(Default)]
pub struct Limits {
    /// End of the current one-hour window; the window opens with the first request after the
    /// previous one ended, as GitHub's does.
    reset_at: Option<DateTime<Utc>>,
    used: u32,
    write_limit: Option<u32>,
    writes: VecDeque<DateTime<Utc>>,
    /// The secondary limit's refusal carries no `retry-after` (GitHub does not always send one).
    secondary_without_retry_after: bool,
    requests: u64,
}

impl Limits {
    pub fn roll(&mut self, now: DateTime<Utc>) {
        if self.reset_at.is_none_or(|r| now >= r) {
            self.reset_at = Some(now + Duration::hours(1));
            self.used = 0;
        }
    }

    pub fn set_remaining(&mut self, now: DateTime<Utc>, remaining: u32) {
        self.roll(now);
        self.used = HOURLY_LIMIT - remaining.min(HOURLY_LIMIT);
    }

    pub fn set_write_limit(&mut self, limit: Option<u32>) {
        self.write_limit = limit;
        self.writes.clear();
    }

    pub fn set_secondary_retry_after(&mut self, sent: bool) {
        self.secondary_without_retry_after = !sent;
    }

    /// Counts a POST/PATCH in the rolling minute; false when the secondary limit is hit.
    fn admit_write(&mut self, now: DateTime<Utc>) -> bool {
        let Some(limit) = self.write_limit else {
            return true;
        };
        while self.writes.front().is_some_and(|t| *t <= now - Duration::seconds(60)) {
            self.writes.pop_front();
        }
        if self.writes.len() >= limit as usize {
            return false;
        }
        self.writes.push_back(now);
        true
    }

    fn remaining(&self) -> u32 {
        HOURLY_LIMIT.saturating_sub(self.used)
    }

    fn stamp(&self, headers: &mut HeaderMap, resource: Resource) {
        let reset = self.reset_at.map_or(0, |r| r.timestamp());
        stamp_values(headers, HOURLY_LIMIT, self.remaining(), self.used.min(HOURLY_LIMIT), reset, resource);
    }
}

fn stamp_values(headers: &mut HeaderMap, limit: u32, remaining: u32, used: u32, reset: i64, resource: Resource) {
    let values = [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", used.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
        ("x-ratelimit-resource", resource.name().to_string()),
    ];
    for (name, value) in values {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    }
}

/// axum middleware in front of every REST route of the fake.
pub async fn gate(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let now = shared.clock.now();
    let request_id = request_id(&shared, now);
    let finish =
        |response, charge, credential| finish(&shared, response, &request_id, charge, credential, Resource::Core);
    let credential = match caller(&shared, req.headers()) {
        Ok(credential) => credential,
        Err(reply) => return finish(reply.into_response(), false, Credential::Personal),
    };
    if let Err(reply) = app::admit(&shared, credential, req.method(), req.uri().path()) {
        let charge = reply.status != StatusCode::UNAUTHORIZED;
        return finish(reply.into_response(), charge, credential);
    }
    if hidden(&shared, req.uri()) {
        let reply = Reply::not_found(super::reply::docs::GENERIC);
        return finish(reply.into_response(), true, credential);
    }
    if let Some(location) = renamed(&shared, req.uri()) {
        return finish(Reply::moved(&location).into_response(), true, credential);
    }
    let is_write = req.method() == Method::POST || req.method() == Method::PATCH;
    if let Some(response) = over_limit(&shared, now, is_write, &request_id, credential) {
        return response;
    }
    super::hooks::run_due(&shared, req.method(), req.uri().path());
    req.extensions_mut().insert(app::actor(&shared, credential));
    req.extensions_mut().insert(credential);
    let conditional =
        (*req.method() == Method::GET).then(|| req.headers().get(header::IF_NONE_MATCH).cloned()).flatten();
    let response = with_etag(next.run(req).await, conditional).await;
    let charge = response.status() != StatusCode::NOT_MODIFIED;
    finish(response, charge, credential)
}

/// axum middleware in front of `POST /graphql`: the REST gate's User-Agent and credential
/// checks, GraphQL's own budget, no ETags.
///
/// FACTS (ardatan/graphql-tools#4579, Kowlin/Sentinel#45; hcengineering/platform#5104, a
/// captured 401 of `https://api.github.com/graphql` in 2024 whose `content-length: 83` is this
/// very body): a refused credential answers 401
/// `{"message":"Bad credentials","documentation_url":"https://docs.github.com/graphql"}` (no
/// `status` field) with `x-ratelimit-limit: 0`, `x-ratelimit-remaining: 0`,
/// `x-ratelimit-used: 0`, `x-ratelimit-resource: graphql` and a reset an hour ahead.
/// FACT (the rate-limits page `Resource` cites, "Exceeding the rate limit"): a spent budget
/// answers 200 with an error and `x-ratelimit-remaining: 0`. FACTS (yanyongyu/githubkit#271, 2026): the error is
/// `{"errors":[{"type":"RATE_LIMIT","code":"graphql_rate_limit","message":"API rate limit
/// already exceeded for user ID …"}]}` (older captures, e.g. stursby/hasvuepassedreactyet#5 in
/// 2018, had `"type":"RATE_LIMITED"` and `"data":null`). ASSUMED: a JWT is refused like a
/// bad token (GraphQL reads repositories, which a JWT cannot); secondary limits count only
/// REST writes here (a query is a read).
pub async fn graphql_gate(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let now = shared.clock.now();
    let request_id = request_id(&shared, now);
    let finish =
        |response, charge, credential| finish(&shared, response, &request_id, charge, credential, Resource::Graphql);
    let refused = |reply: Reply| {
        let mut response = graphql_refusal(reply).into_response();
        let reset = (now + Duration::hours(1)).timestamp();
        stamp_values(response.headers_mut(), 0, 0, 0, reset, Resource::Graphql);
        finish_fixed(&shared, response, &request_id)
    };
    let credential = match caller(&shared, req.headers()) {
        Ok(credential) => credential,
        Err(reply) if reply.status == StatusCode::UNAUTHORIZED => return refused(reply),
        Err(reply) => return finish(reply.into_response(), false, Credential::Personal),
    };
    if credential == Credential::Jwt {
        return refused(app::bad_credentials());
    }
    if with_budget(&shared, credential, Resource::Graphql, |limits| limits.remaining() == 0) {
        let message = format!("API rate limit already exceeded for {}.", app::rate_limit_subject(credential));
        let body = json!({"errors": [{"type": "RATE_LIMIT", "code": "graphql_rate_limit", "message": message}]});
        return finish(Reply::ok(body).into_response(), false, credential);
    }
    super::hooks::run_due(&shared, req.method(), req.uri().path());
    req.extensions_mut().insert(app::actor(&shared, credential));
    req.extensions_mut().insert(credential);
    let response = next.run(req).await;
    finish(response, true, credential)
}

/// GraphQL's form of a refusal the REST gate would give: its message, GraphQL's documentation
/// link, no `status` field.
fn graphql_refusal(reply: Reply) -> Reply {
    let message = reply.body.as_ref().and_then(|b| b["message"].as_str()).unwrap_or("Bad credentials").to_string();
    Reply::json(reply.status, json!({"message": message, "documentation_url": docs::GRAPHQL}))
}

/// Counts the request and names it as GitHub does (`x-github-request-id`).
fn request_id(shared: &Shared, now: DateTime<Utc>) -> String {
    let mut limits = shared.limits.lock().unwrap();
    limits.roll(now);
    limits.requests += 1;
    format!("0FA{:X}:1B2C:{:07X}", limits.requests % 16, limits.requests)
}

/// Who is calling, or GitHub's refusal: no User-Agent (403), a credential it does not take (401).
fn caller(shared: &Shared, headers: &HeaderMap) -> Result<Credential, Reply> {
    if !has_user_agent(headers) {
        return Err(no_user_agent());
    }
    app::identify(shared, given_credential(headers))
}

/// Runs `f` on the budget `credential` spends on `resource`: the personal token's, the JWTs',
/// or its installation's (each rolls its own hour window); GraphQL's points are kept apart.
fn with_budget<R>(shared: &Shared, credential: Credential, resource: Resource, f: impl FnOnce(&mut Limits) -> R) -> R {
    let now = shared.clock.now();
    if resource == Resource::Graphql {
        let mut budgets = shared.graphql_limits.lock().unwrap();
        let limits = budgets.entry(credential).or_default();
        limits.roll(now);
        return f(limits);
    }
    match credential {
        Credential::Personal => f(&mut shared.limits.lock().unwrap()),
        Credential::Jwt => {
            let mut state = shared.app.lock().unwrap();
            state.jwt_limits.roll(now);
            f(&mut state.jwt_limits)
        }
        Credential::Installation(id) => {
            let mut state = shared.app.lock().unwrap();
            let limits = &mut state.installation_mut(id).expect("tokens belong to installations").limits;
            limits.roll(now);
            f(limits)
        }
    }
}

/// Whether the request is about a repository the token cannot see (GitHub answers 404, not
/// 403, so as not to reveal that a private repository exists) or one that was deleted.
fn hidden(shared: &Shared, uri: &axum::http::Uri) -> bool {
    let model = shared.model.lock().unwrap();
    let path = uri.path();
    let index = if let Some(rest) = path.strip_prefix("/repos/") {
        let mut parts = rest.splitn(3, '/');
        match (parts.next(), parts.next()) {
            (Some(owner), Some(name)) => model.repo_by_name(owner, name),
            _ => None,
        }
    } else if let Some(rest) = path.strip_prefix("/repositories/") {
        rest.split('/').next().and_then(|id| id.parse().ok()).and_then(|id| model.repo_by_id(id))
    } else {
        None
    };
    index.is_some_and(|i| model.repos[i].hidden || model.repos[i].deleted)
}

/// A renamed repository answers every request under its old name with a 301 to the same
/// resource under `/repositories/{id}` (GitHub keeps these redirects for renamed and
/// transferred repositories).
fn renamed(shared: &Shared, uri: &axum::http::Uri) -> Option<String> {
    let rest = uri.path().strip_prefix("/repos/")?;
    let mut parts = rest.splitn(3, '/');
    let (owner, name) = (parts.next()?, parts.next()?);
    let tail = parts.next().map(|t| format!("/{t}")).unwrap_or_default();
    let model = shared.model.lock().unwrap();
    if model.repo_by_name(owner, name).is_some() {
        return None;
    }
    let repo = &model.repos[model.repo_by_former_name(owner, name)?];
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!("{}/repositories/{}{tail}{query}", shared.base, repo.id))
}

/// The primary (budget spent) or secondary (too many writes a minute) refusal, if due. The
/// secondary limit counts every credential's writes together; its refusal is a 403 with the
/// real body (FACTS.md, "Secondary limits"; `error-secondary-rate-limit.observed.json`), the
/// primary budget's headers (what is left, and its reset an hour away at most, are not this
/// limit's), and `retry-after: 60` unless the test asked for none.
fn over_limit(
    shared: &Shared,
    now: DateTime<Utc>,
    is_write: bool,
    request_id: &str,
    credential: Credential,
) -> Option<Response> {
    if with_budget(shared, credential, Resource::Core, |limits| limits.remaining() == 0) {
        let message = format!(
            "API rate limit exceeded for {}. If you reach out to GitHub Support for help, \
             please include the request ID {request_id}.",
            app::rate_limit_subject(credential)
        );
        let body = json!({"message": message, "documentation_url": docs::RATE_LIMIT});
        let mut response = Reply::json(StatusCode::FORBIDDEN, body).into_response();
        with_budget(shared, credential, Resource::Core, |limits| limits.stamp(response.headers_mut(), Resource::Core));
        return Some(response);
    }
    let (admitted, without_retry_after) = {
        let mut limits = shared.limits.lock().unwrap();
        (!is_write || limits.admit_write(now), limits.secondary_without_retry_after)
    };
    if !admitted {
        let body = json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": docs::SECONDARY_LIMIT,
        });
        let mut reply = Reply::json(StatusCode::FORBIDDEN, body);
        if !without_retry_after {
            reply = reply.header(header::RETRY_AFTER, "60");
        }
        let mut response = reply.into_response();
        with_budget(shared, credential, Resource::Core, |limits| {
            limits.used += 1;
            limits.stamp(response.headers_mut(), Resource::Core);
        });
        return Some(response);
    }
    None
}

/// Charges the unit of `resource` (unless told not to) and adds the headers every GitHub
/// answer carries.
fn finish(
    shared: &Shared,
    mut response: Response,
    request_id: &str,
    charge: bool,
    credential: Credential,
    resource: Resource,
) -> Response {
    let headers = response.headers_mut();
    with_budget(shared, credential, resource, |limits| {
        if charge {
            limits.used = (limits.used + 1).min(HOURLY_LIMIT);
        }
        limits.stamp(headers, resource);
    });
    finish_fixed(shared, response, request_id)
}

/// The headers every answer carries whatever its budget: media type, API version, request id,
/// `Date` on GitHub's clock.
fn finish_fixed(shared: &Shared, mut response: Response, request_id: &str) -> Response {
    let headers = response.headers_mut();
    let fixed = [("x-github-media-type", "github.v3; format=json"), ("x-github-api-version-selected", "2022-11-28")];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert("x-github-request-id", HeaderValue::from_str(request_id).unwrap());
    // `Date` is GitHub's own clock (the sandbox clock here), not the client's: what a client
    // compares with GitHub's timestamps must be read from it.
    let date = shared.clock.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    headers.insert(header::DATE, HeaderValue::from_str(&date).unwrap());
    response
}

/// Adds a strong ETag (quoted SHA-256 of the body) to successful answers, and turns a GET
/// whose `If-None-Match` names the current ETag into an empty 304.
async fn with_etag(response: Response, if_none_match: Option<HeaderValue>) -> Response {
    let status = response.status();
    if status != StatusCode::OK && status != StatusCode::CREATED {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "body read failed").into_response();
    };
    let etag = format!("\"{:x}\"", Sha256::digest(&bytes));
    parts.headers.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    let cache = HeaderValue::from_static("private, max-age=60, s-maxage=60");
    parts.headers.insert(header::CACHE_CONTROL, cache);
    let matched = if_none_match.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|v| etag_matches(v, &etag));
    if matched {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `If-None-Match` may list several tags, weak ones included; any match counts.
fn etag_matches(header_value: &str, etag: &str) -> bool {
    header_value.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == etag || t == "*")
}

fn has_user_agent(headers: &HeaderMap) -> bool {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    ua.is_some_and(|v| !v.trim().is_empty())
}

/// The credential of `Authorization: token T` (what the recordings send) or `Bearer T`.
fn given_credential(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())?;
    let (scheme, given) = value.trim().split_once(' ')?;
    let scheme_ok = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
    scheme_ok.then(|| given.trim())
}

fn no_user_agent() -> Reply {
    let message = format!(
        "Request forbidden by administrative rules. Please make sure your request has a \
         User-Agent header ({}).",
        docs::USER_AGENT
    );
    Reply::json(StatusCode::FORBIDDEN, json!({ "message": message }))
}
