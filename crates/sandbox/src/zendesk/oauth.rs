//! The fake Zendesk's OAuth: `POST /oauth/tokens` (client credentials for one confidential
//! client), Bearer tokens that expire on the sandbox clock, the scopes each request needs, and
//! API tokens that can be switched off as Zendesk does on 2027-04-30.
//!
//! FACTS (Zendesk developer docs, "OAuth Tokens for Grant Types" (CreateTokenForGrantType),
//! "Migrating from API tokens to OAuth access tokens", "api-tokens-to-oauth"; real bodies from
//! client libraries' trackers):
//! - The request is JSON `{grant_type, client_id, client_secret, scope, expires_in}`; `scope` is
//!   one space-separated string. Form encoding also works in practice (zendesk/zcli#384).
//! - `expires_in` must lie between 300 s and 172,800 s; without it the token gets the
//!   client's default (30 minutes for clients with enforced lifetimes), and the answer may
//!   omit `expires_in` (NangoHQ/nango#6775).
//! - The answer is `{access_token, token_type: "bearer", scope, expires_in}`; clients that work
//!   against the real service expect status 200 (zendesk/zcli), though the OpenAPI says 201.
//!   Client credentials give no refresh token.
//! - The token acts as the admin who created the OAuth client: `users/me` is that user, and
//!   comments written with it are theirs.
//! - An expired or revoked token: `401 {"error":"invalid_token","error_description":"The
//!   access token provided is expired, revoked, malformed or invalid for other reasons."}`
//!   (zendesk_api_client_rb#297, zenpy#463). A token without a needed scope: `403
//!   {"error":"Forbidden","description":"You are missing the following required scopes: read"}`.
//! - `read` covers every GET (side-loads included), `write` every POST/PUT/DELETE;
//!   `tickets:read` was seen not to cover `GET /api/v2/ticket_fields`.
//! - Refused Basic credentials: `401 {"error":"Couldn't authenticate you"}`. ASSUMED: API
//!   tokens after they are switched off answer the same (the docs say only that calls "will
//!   fail"; no capture can exist before 2027-04-30).
//!
//! ASSUMED (searched Zendesk's OAuth docs, zendesk/zcli's token code and tests, and the
//! trackers of zenpy, node-zendesk, zendesk_api_client_rb and nango: zcli reads a refusal's
//! `{error, error_description}` but no capture shows its status): the token endpoint's
//! refusals follow RFC 6749 as the rack-oauth2 gem words them: `401 invalid_client` for a wrong
//! id or secret, `400` for `unsupported_grant_type` and `invalid_scope`; `tickets:read` /
//! `tickets:write` cover the ticket endpoints under `/api/v2/tickets` and the incremental
//! ticket export; `users:read` covers `/api/v2/users` (Zendesk documents no scope-to-endpoint
//! mapping).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// One confidential OAuth client and the tokens it was given.
pub(super) struct OAuth {
    pub client_id: String,
    pub secret: String,
    /// The admin who created the client: every token acts as this user.
    pub user_id: u64,
    /// The most a token lives (sandbox seconds), whatever was asked: the fake can hand out
    /// tokens that expire every few seconds.
    pub max_life_secs: AtomicU64,
    /// A token is refused after this many requests (0: never): a token that expires in the
    /// middle of a pass, whatever the clock says.
    pub uses_per_token: AtomicU64,
    /// Basic API-token credentials are refused (Zendesk's 2027-04-30).
    pub api_tokens_off: AtomicBool,
    /// A mint while a token of the same scopes still lives gives that token again, with the
    /// life it has left (what an OAuth server set to reuse access tokens does, Doorkeeper's
    /// `reuse_access_token`; whether Zendesk's does is not documented).
    pub reuse_live_tokens: AtomicBool,
    /// The client's Allowed scopes, when an admin set them: asking for any other scope is
    /// refused with `invalid_scope` (a Zendesk reviewer's warning on zendesk/zcli#407).
    pub allowed_scopes: Mutex<Option<Vec<String>>>,
    tokens: Mutex<HashMap<String, Issued>>,
    minted: AtomicU64,
}

struct Issued {
    expires_at: DateTime<Utc>,
    scopes: Vec<String>,
    uses: u64,
}

/// Why the gate refuses a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Basic credentials Zendesk does not take (or API tokens switched off): 401.
    Credentials,
    /// An expired, revoked or unknown access token: 401 `invalid_token`.
    InvalidToken,
    /// The token lacks this scope: 403.
    MissingScope(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Credentials => super::wire::ApiError::unauthorized().into_response(),
            Refusal::InvalidToken => invalid_token(),
            Refusal::MissingScope(scope) => {
                let body = json!({
                    "error": "Forbidden",
                    "description": format!("You are missing the following required scopes: {scope}"),
                });
                (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
            }
        }
    }
}

/// Who a request is from, as the gate found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Caller {
    pub user_id: u64,
}

/// Zendesk's default access-token life when none is asked for (30 minutes).
const DEFAULT_LIFE_SECS: u64 = 1800;

impl OAuth {
    pub fn new(client_id: &str, secret: &str, user_id: u64) -> OAuth {
        OAuth {
            client_id: client_id.to_string(),
            secret: secret.to_string(),
            user_id,
            max_life_secs: AtomicU64::new(172_800),
            uses_per_token: AtomicU64::new(0),
            api_tokens_off: AtomicBool::new(false),
            reuse_live_tokens: AtomicBool::new(false),
            allowed_scopes: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            minted: AtomicU64::new(0),
        }
    }

    /// How many tokens were minted so far.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::SeqCst)
    }

    /// Every token stops working (an admin revoked them).
    pub fn revoke_all(&self) {
        self.tokens.lock().unwrap().clear();
    }

    /// `POST /oauth/tokens`.
    pub fn mint(&self, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Response {
        let Some(params) = token_params(headers, body) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is missing a required parameter.",
            );
        };
        let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
        let grant = text("grant_type").unwrap_or_default();
        if grant != "client_credentials" {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("'{grant}' isn't supported."),
            );
        }
        if text("client_id").as_deref() != Some(&self.client_id)
            || text("client_secret").as_deref() != Some(&self.secret)
        {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
            );
        }
        let scope = text("scope").unwrap_or_else(|| "read write".to_string());
        let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
        let allowed = self.allowed_scopes.lock().unwrap().clone();
        let not_allowed = allowed.is_some_and(|allowed| !scopes.iter().all(|s| allowed.contains(s)));
        if scopes.is_empty() || !scopes.iter().all(|s| known_scope(s)) || not_allowed {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            );
        }
        let asked = match params.get("expires_in") {
            None | Some(Value::Null) => DEFAULT_LIFE_SECS,
            Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
                Some(secs) if (300..=172_800).contains(&secs) => secs,
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "expires_in must be more than 300 seconds and less than 172800 seconds.",
                    )
                }
            },
        };
        let life = asked.min(self.max_life_secs.load(Ordering::SeqCst)).max(1);
        if self.reuse_live_tokens.load(Ordering::SeqCst) {
            let limit = self.uses_per_token.load(Ordering::SeqCst);
            let tokens = self.tokens.lock().unwrap();
            let live =
                tokens.iter().find(|(_, t)| t.expires_at > now && t.scopes == scopes && (limit == 0 || t.uses < limit));
            if let Some((token, issued)) = live {
                let left = (issued.expires_at - now).num_seconds().max(1);
                return token_answer(token, &scopes, left as u64);
            }
        }
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        // Opaque, long and unlike any other secret of the sandbox.
        let token = format!("zdsbx{n:04}{}", hex_digest(&format!("{}:{n}:{now}", self.secret)));
        let issued = Issued { expires_at: now + Duration::seconds(life as i64), scopes: scopes.clone(), uses: 0 };
        self.tokens.lock().unwrap().insert(token.clone(), issued);
        token_answer(&token, &scopes, life)
    }

    /// The caller of a `Bearer` request, or the refusal (401 for a bad token, 403 for a
    /// missing scope).
    pub fn bearer(&self, token: &str, method: &Method, path: &str, now: DateTime<Utc>) -> Result<Caller, Refusal> {
        let mut tokens = self.tokens.lock().unwrap();
        let limit = self.uses_per_token.load(Ordering::SeqCst);
        let issued = match tokens.get_mut(token) {
            Some(t) if t.expires_at > now && (limit == 0 || t.uses < limit) => t,
            _ => return Err(Refusal::InvalidToken),
        };
        issued.uses += 1;
        let needed = needed_scope(method, path);
        if !covers(&issued.scopes, needed) {
            return Err(Refusal::MissingScope(needed.1));
        }
        Ok(Caller { user_id: self.user_id })
    }
}

/// The request's parameters, from a JSON body or a form.
fn token_params(headers: &HeaderMap, body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs = url::form_urlencoded::parse(body).into_owned();
        return Some(pairs.map(|(k, v)| (k, Value::String(v))).collect());
    }
    serde_json::from_slice::<Value>(body).ok()?.as_object().cloned()
}

fn known_scope(s: &str) -> bool {
    const RESOURCES: [&str; 11] = [
        "tickets",
        "users",
        "auditlogs",
        "organizations",
        "hc",
        "apps",
        "triggers",
        "automations",
        "targets",
        "webhooks",
        "macros",
    ];
    match s.split_once(':') {
        None => matches!(s, "read" | "write" | "impersonate"),
        Some((r, a)) => RESOURCES.contains(&r) && matches!(a, "read" | "write"),
    }
}

/// The resource a request touches and the global scope that covers it (`read` / `write`).
fn needed_scope(method: &Method, path: &str) -> (Option<&'static str>, &'static str) {
    let global = if *method == Method::GET { "read" } else { "write" };
    let resource = if path.starts_with("/api/v2/tickets") || path.starts_with("/api/v2/incremental/tickets") {
        Some("tickets")
    } else if path.starts_with("/api/v2/users") {
        Some("users")
    } else if path.starts_with("/api/v2/organizations") {
        Some("organizations")
    } else {
        // Ticket fields and the rest: only the global scope was seen to work.
        None
    };
    (resource, global)
}

fn covers(granted: &[String], (resource, global): (Option<&str>, &str)) -> bool {
    granted.iter().any(|g| g == global || resource.is_some_and(|r| *g == format!("{r}:{global}")))
}

/// `{access_token, token_type, scope, expires_in}` with status 200.
fn token_answer(token: &str, scopes: &[String], life: u64) -> Response {
    let answer = json!({
        "access_token": token,
        "token_type": "bearer",
        "scope": scopes.join(" "),
        "expires_in": life,
    });
    (StatusCode::OK, [("content-type", "application/json; charset=utf-8")], answer.to_string()).into_response()
}

fn invalid_token() -> Response {
    let body = json!({
        "error": "invalid_token",
        "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
    });
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response.headers_mut().insert(
        "www-authenticate",
        axum::http::HeaderValue::from_static("Bearer realm=\"Zendesk\", error=\"invalid_token\""),
    );
    response
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

fn hex_digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}
