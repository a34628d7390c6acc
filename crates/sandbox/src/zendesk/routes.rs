//! The fake Zendesk's HTTP surface: the axum router, the gate every request passes
//! (authentication, account rate limit, rate-limit headers), and thin handlers that lock the
//! store, call the pure modules and render.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::limits::Budget;
use super::oauth::{Caller, OAuth, Refusal};
use super::state::Store;
use super::tags::TagChange;
use super::wire::{self, json_response, too_many_requests, ApiError};
use super::{comments, export, fields, tags, update};
use crate::common::{frontdoor, Clock, Frontdoor};
use crate::hooks::Outbox;

/// Everything the handlers share.
pub(super) struct Shared {
    pub store: Mutex<Store>,
    pub clock: Arc<Clock>,
    pub base_url: String,
    pub email: String,
    pub token: String,
    /// The one OAuth client, its tokens, and whether API tokens still work.
    pub oauth: OAuth,
    /// The webhook deliveries go to, and their log.
    pub outbox: Outbox,
    pub hook_body: Mutex<super::ZendeskHookBody>,
}

impl Shared {
    /// Who sent the request: an OAuth client's Bearer token (its scopes checked), or, until
    /// API tokens are switched off, `Basic base64("{email}/token:{token}")`. A password or any
    /// other scheme is refused like wrong credentials.
    fn authenticate(&self, req: &Request, now: chrono::DateTime<chrono::Utc>) -> Result<Caller, Refusal> {
        let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.oauth.bearer(credential.trim(), req.method(), req.uri().path(), now);
        }
        let api_tokens_on = !self.oauth.api_tokens_off.load(std::sync::atomic::Ordering::SeqCst);
        let decoded = STANDARD.decode(credential.trim()).ok().and_then(|b| String::from_utf8(b).ok());
        let basic = decoded.as_deref().and_then(|d| d.split_once("/token:"));
        match basic {
            Some((email, token))
                if api_tokens_on
                    && scheme.eq_ignore_ascii_case("basic")
                    && email.eq_ignore_ascii_case(&self.email)
                    && token == self.token =>
            {
                Ok(Caller { user_id: self.store.lock().unwrap().bot_user_id })
            }
            _ => Err(Refusal::Credentials),
        }
    }
}

pub(super) fn router(shared: Arc<Shared>, door: Arc<Frontdoor>) -> Router {
    Router::new()
        .route("/oauth/tokens", post(mint_token))
        .route("/api/v2/incremental/tickets/cursor.json", get(export_tickets))
        .route("/api/v2/incremental/tickets/cursor", get(export_tickets))
        .route("/api/v2/tickets/{id}", get(show_ticket).put(update_ticket))
        .route("/api/v2/tickets/{id}/tags.json", get(list_tags).put(change_tags).post(change_tags).delete(change_tags))
        .route("/api/v2/tickets/{id}/tags", get(list_tags).put(change_tags).post(change_tags).delete(change_tags))
        .route("/api/v2/tickets/{id}/comments.json", get(list_comments))
        .route("/api/v2/tickets/{id}/comments", get(list_comments))
        .route("/api/v2/ticket_fields/{id}", get(show_ticket_field))
        .route("/api/v2/users/{id}", get(show_user))
        .route("/api/v2/organizations/{id}", get(show_organization))
        .fallback(unknown_endpoint)
        .method_not_allowed_fallback(unknown_endpoint)
        .layer(from_fn_with_state(shared.clone(), gate))
        // Outermost: faults and the request log see every request, as a network would.
        .layer(from_fn_with_state(door, frontdoor))
        .with_state(shared)
}

/// Authentication and the account budget, then the rate-limit headers on the way out. The
/// token endpoint needs no credentials of its own (the client's are in its body).
async fn gate(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let now = shared.clock.now();
    if req.uri().path() == "/oauth/tokens" {
        return with_date(&shared, next.run(req).await);
    }
    let caller = match shared.authenticate(&req, now) {
        Ok(caller) => caller,
        // Zendesk answers `users/me` without credentials as the anonymous user.
        Err(_) if is_anonymous_me(&req) => return with_date(&shared, anonymous_me()),
        Err(refusal) => {
            let budget = shared.store.lock().unwrap().limits.peek_account(now);
            return with_date(&shared, with_budget(refusal.into_response(), budget));
        }
    };
    req.extensions_mut().insert(caller);
    let verdict = shared.store.lock().unwrap().limits.take_account(now);
    let response = match verdict {
        Ok(budget) => with_budget(next.run(req).await, budget),
        Err(budget) => with_budget(too_many_requests(budget.resets), budget),
    };
    with_date(&shared, response)
}

/// `Date` is Zendesk's own clock (the sandbox clock here).
fn with_date(shared: &Shared, mut response: Response) -> Response {
    let date = shared.clock.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    response.headers_mut().insert(header::DATE, HeaderValue::from_str(&date).unwrap());
    response
}

fn is_anonymous_me(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == axum::http::Method::GET
        && matches!(path, "/api/v2/users/me" | "/api/v2/users/me.json")
        && !req.headers().contains_key(header::AUTHORIZATION)
}

/// FACTS (a 2026 live probe, node-zendesk#152): `users/me` without credentials answers 200
/// with the anonymous user. ASSUMED: its `id` is `null` (clients are advised to check for a
/// non-null id) and it has no e-mail; searched public code and trackers for the body past its
/// `"name":"Anonymous user"`: not found.
fn anonymous_me() -> Response {
    let body = json!({"user": {"id": null, "name": "Anonymous user", "email": null, "role": "end-user"}});
    json_response(StatusCode::OK, &body)
}

async fn mint_token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.oauth.mint(&headers, &body, shared.clock.now())
}

/// Every spelling of the account rate-limit headers found in real responses.
fn with_budget(mut response: Response, b: Budget) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: u64| {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    };
    for name in ["x-rate-limit", "ratelimit-limit", "rate-limit"] {
        set(name, b.limit.into());
    }
    for name in ["x-rate-limit-remaining", "ratelimit-remaining", "rate-limit-remaining"] {
        set(name, b.remaining.into());
    }
    for name in ["ratelimit-reset", "rate-limit-reset"] {
        set(name, b.resets);
    }
    headers.insert("x-zendesk-api-version", HeaderValue::from_static("v2"));
    response
}

async fn unknown_endpoint() -> ApiError {
    ApiError::invalid_endpoint()
}

/// `123.json` or `123`; anything else names no record.
fn record_id(raw: &str) -> Result<u64, ApiError> {
    raw.strip_suffix(".json").unwrap_or(raw).parse().map_err(|_| ApiError::not_found())
}

fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// Every answer of the export names the export's budget, its 429 included. Only admins may
/// read it (FACTS: "Allowed for: Admins"); anyone else gets the role-or-plan refusal.
async fn export_tickets(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> Response {
    let now = shared.clock.now();
    let mut store = shared.store.lock().unwrap();
    if store.users.get(&caller.user_id).is_none_or(|u| u.role != "admin") {
        return wire::no_access_to_this_page();
    }
    let (mut response, budget) = match store.limits.take_export(now) {
        Err(spent) => (too_many_requests(spent.resets), Some(spent)),
        Ok(budget) => match export::parse_query(&query_pairs(query), now) {
            Ok(q) => {
                let page = export::page(&store, &q, now);
                (json_response(StatusCode::OK, &export::render(&store, &q, &page, &shared.base_url)), budget)
            }
            Err(e) => (e.into_response(), budget),
        },
    };
    if let Some(b) = budget {
        response.headers_mut().insert(super::limits::EXPORT_HEADER, b.header_value());
    }
    response
}

/// `GET /api/v2/tickets/{id}`, with `include=organizations` side-loading the ticket's organisation.
async fn show_ticket(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let store = shared.store.lock().unwrap();
    let ticket = store.live_ticket(id).ok_or_else(ApiError::not_found)?;
    let mut body = json!({"ticket": wire::ticket(ticket, &store.fields, &shared.base_url)});
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let wants_orgs = params.iter().any(|(k, v)| k == "include" && v.split(',').any(|s| s.trim() == "organizations"));
    if wants_orgs {
        let orgs = ticket.organization_id.and_then(|o| store.organizations.get(&o));
        body["organizations"] = orgs.map(|o| wire::organization(o, &shared.base_url)).into_iter().collect();
    }
    Ok(json_response(StatusCode::OK, &body))
}

async fn update_ticket(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.clock.now();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let result = record_id(&id).and_then(|id| Ok((id, update::parse_body(content_type, &body)?)));
    let (id, input) = match result {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let mut store = shared.store.lock().unwrap();
    if store.live_ticket(id).is_none() {
        return ApiError::not_found().into_response();
    }
    let budget = match store.limits.take_ticket_update(id, now) {
        Ok(b) => b,
        // The refusal names no budget: only the updates it was counted against do.
        Err(spent) => return wire::ticket_updates_exceeded(spent.resets),
    };
    let before = shared.watch(&store, id);
    let mut response = match update::apply(&mut store, id, &input, caller.user_id, now, &shared.base_url) {
        Ok(audit) => {
            shared.deliver_update(&store, id, before, caller.user_id);
            let ticket = wire::ticket(&store.tickets[&id], &store.fields, &shared.base_url);
            json_response(StatusCode::OK, &json!({"ticket": ticket, "audit": audit}))
        }
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(super::limits::PER_TICKET_HEADER, budget.header_value());
    // Keys are escaped to ASCII when the warning is built, so this always converts.
    let warn = update::unpermitted_warning(&input).and_then(|w| HeaderValue::from_str(&w).ok());
    if let Some(warn) = warn {
        headers.insert("x-zendesk-api-warn", warn);
    }
    response
}

async fn list_tags(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let store = shared.store.lock().unwrap();
    let ticket = store.live_ticket(id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &json!({ "tags": ticket.tags })))
}

/// A Tags-endpoint change (`PUT` adds, `POST` sets, `DELETE` removes), counted against the
/// ticket's update limit like an update.
async fn change_tags(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    method: axum::http::Method,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let change = match method {
        axum::http::Method::POST => TagChange::Set,
        axum::http::Method::DELETE => TagChange::Remove,
        _ => TagChange::Add,
    };
    let now = shared.clock.now();
    let parsed = record_id(&id).and_then(|id| Ok((id, tags::parse(&body, &query_pairs(query))?)));
    let (id, (list, input)) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut store = shared.store.lock().unwrap();
    if store.live_ticket(id).is_none() {
        return ApiError::not_found().into_response();
    }
    let budget = match store.limits.take_ticket_update(id, now) {
        Ok(b) => b,
        Err(spent) => return wire::ticket_updates_exceeded(spent.resets),
    };
    let before = shared.watch(&store, id);
    let mut response = match tags::apply(&mut store, id, change, &list, &input, now) {
        Ok(response) => {
            shared.deliver_update(&store, id, before, caller.user_id);
            response
        }
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(super::limits::PER_TICKET_HEADER, budget.header_value());
    response
}

async fn list_comments(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let params = query_pairs(query);
    let store = shared.store.lock().unwrap();
    let ticket = store.live_ticket(id).ok_or_else(ApiError::not_found)?;
    let paging = comments::parse(&params)?;
    let include_users = params.iter().any(|(k, v)| k == "include" && v.split(',').any(|s| s.trim() == "users"));
    let body = comments::render(&store, ticket, &paging, include_users, &shared.base_url);
    Ok(json_response(StatusCode::OK, &body))
}

async fn show_user(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = shared.store.lock().unwrap();
    let id = match id.as_str() {
        "me" | "me.json" => caller.user_id,
        other => record_id(other)?,
    };
    let user = store.users.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &json!({"user": wire::user(user, &shared.base_url)})))
}

async fn show_organization(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let store = shared.store.lock().unwrap();
    let org = store.organizations.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &json!({"organization": wire::organization(org, &shared.base_url)})))
}

async fn show_ticket_field(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let store = shared.store.lock().unwrap();
    let field = store.fields.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(json_response(StatusCode::OK, &json!({"ticket_field": fields::render(field, &shared.base_url)})))
}
