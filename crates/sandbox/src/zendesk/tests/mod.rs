//! Tests of the fake Zendesk over real HTTP: the shared harness, and the cross-cutting
//! contracts (authentication, rate-limit headers, unknown routes, show endpoints).

mod comments;
mod export;
mod fields;
mod oauth;
mod tickets;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use super::{FakeZendesk, NewTicket};
use crate::common::Clock;

const EMAIL: &str = "sync-bot@example.com";
const TOKEN: &str = "s3cr3t-api-token";

/// A started fake plus a client that authenticates as the bot.
struct Sandbox {
    zd: Arc<FakeZendesk>,
    clock: Arc<Clock>,
    http: reqwest::Client,
}

fn basic(email: &str, token: &str) -> String {
    basic_raw(&format!("{email}/token:{token}"))
}

fn basic_raw(credentials: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials))
}

async fn sandbox() -> Sandbox {
    let clock = Arc::new(Clock::default());
    let zd = FakeZendesk::start(EMAIL, TOKEN, clock.clone()).await.unwrap();
    Sandbox { zd, clock, http: reqwest::Client::new() }
}

impl Sandbox {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.zd.base_url())
    }

    async fn get(&self, path: &str) -> Response {
        let request = self.http.get(self.url(path)).header("authorization", basic(EMAIL, TOKEN));
        request.send().await.unwrap()
    }

    async fn put(&self, path: &str, body: Value) -> Response {
        let request = self.http.put(self.url(path)).header("authorization", basic(EMAIL, TOKEN));
        request.json(&body).send().await.unwrap()
    }

    async fn update(&self, id: u64, ticket: Value) -> Response {
        self.put(&format!("/api/v2/tickets/{id}.json"), json!({ "ticket": ticket })).await
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// Move the sandbox clock to the start of a minute, so per-minute budgets cannot roll
    /// over in the middle of a test.
    fn align_to_minute(&self) {
        let into_minute = self.clock.now().timestamp().rem_euclid(60) as u64;
        self.advance((60 - into_minute) % 60);
    }

    /// A customer in an organization and a new ticket they opened.
    fn customer_ticket(&self, subject: &str) -> u64 {
        let org = self.zd.add_organization("Acme");
        let user = self.zd.add_user("Carla Customer", "carla@acme.test", Some(org));
        self.zd.add_ticket(NewTicket::new(subject, "It is broken.", user))
    }
}

async fn json_of(response: Response) -> Value {
    response.json().await.unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn requests_without_valid_api_token_are_401() {
    let sb = sandbox().await;
    let url = sb.url("/api/v2/tickets/1.json");
    let attempts = [
        None,
        Some(basic(EMAIL, "wrong-token")),
        Some(basic("someone@else.test", TOKEN)),
        // The token used as a password: Zendesk wants the "/token" suffix.
        Some(basic_raw(&format!("{EMAIL}:{TOKEN}"))),
    ];
    for auth in attempts {
        let mut request = sb.http.get(&url);
        if let Some(auth) = &auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "auth {auth:?}");
        assert_eq!(json_of(response).await, json!({"error": "Couldn't authenticate you"}));
    }
    // An API token as a Bearer token is no OAuth token.
    let response = sb.http.get(&url).header("authorization", format!("Bearer {TOKEN}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await["error"], "invalid_token");
}

#[tokio::test]
async fn users_me_without_credentials_is_the_anonymous_user_with_a_null_id() {
    let sb = sandbox().await;
    let response = sb.http.get(sb.url("/api/v2/users/me.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let user = json_of(response).await["user"].clone();
    assert_eq!((user["id"].clone(), user["name"].clone()), (Value::Null, json!("Anonymous user")));
    // With credentials Zendesk does not take, it is a 401 as elsewhere.
    let wrong = sb.http.get(sb.url("/api/v2/users/me.json")).header("authorization", basic(EMAIL, "nope"));
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_me_is_the_bot_user_created_with_the_token_email() {
    let sb = sandbox().await;
    let response = sb.get("/api/v2/users/me.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let user = json_of(response).await["user"].clone();
    assert_eq!(user["id"], json!(sb.zd.bot_user_id()));
    assert_eq!(user["email"], json!(EMAIL));
    assert_eq!(user["role"], json!("admin"));
}

#[tokio::test]
async fn every_response_carries_all_rate_limit_header_spellings() {
    let sb = sandbox().await;
    for path in ["/api/v2/users/me.json", "/api/v2/tickets/999.json", "/api/v2/nope"] {
        let response = sb.get(path).await;
        for name in ["x-rate-limit", "ratelimit-limit", "rate-limit"] {
            assert_eq!(header(&response, name), "700", "{path} {name}");
        }
        let remaining: u32 = header(&response, "x-rate-limit-remaining").parse().unwrap();
        assert!(remaining < 700);
        assert_eq!(header(&response, "ratelimit-remaining"), remaining.to_string());
        assert_eq!(header(&response, "rate-limit-remaining"), remaining.to_string());
        let reset: u64 = header(&response, "ratelimit-reset").parse().unwrap();
        assert!((1..=60).contains(&reset));
        assert_eq!(header(&response, "rate-limit-reset"), reset.to_string());
    }
}

#[tokio::test]
async fn account_budget_of_700_per_minute_then_429_plain_text() {
    let sb = sandbox().await;
    sb.align_to_minute();
    for _ in 0..700 {
        assert_eq!(sb.get("/api/v2/users/me.json").await.status(), StatusCode::OK);
    }
    let refused = sb.get("/api/v2/users/me.json").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "x-rate-limit-remaining"), "0");
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(refused.text().await.unwrap(), "Too Many Requests");
    sb.advance(60);
    assert_eq!(sb.get("/api/v2/users/me.json").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_404_invalid_endpoint() {
    let sb = sandbox().await;
    for path in ["/api/v2/widgets.json", "/api/v3/tickets/1.json"] {
        let response = sb.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = json_of(response).await;
        assert_eq!(body, json!({"error": "InvalidEndpoint", "description": "Not found"}));
    }
}

#[tokio::test]
async fn unknown_records_are_404_record_not_found() {
    let sb = sandbox().await;
    for path in ["/api/v2/tickets/4242.json", "/api/v2/users/4242.json", "/api/v2/organizations/4242.json"] {
        let response = sb.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body = json_of(response).await;
        assert_eq!(body, json!({"error": "RecordNotFound", "description": "Not found"}));
    }
}

#[tokio::test]
async fn show_endpoints_render_real_shaped_objects_with_or_without_json_suffix() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Printer on fire");
    let ticket = json_of(sb.get(&format!("/api/v2/tickets/{id}")).await).await["ticket"].clone();
    for key in ["url", "via", "raw_subject", "generated_timestamp", "requester_id", "custom_fields", "is_public"] {
        assert!(ticket.get(key).is_some(), "ticket lacks {key}");
    }
    assert_eq!(ticket["description"], json!("It is broken."));
    assert_eq!(ticket["url"], json!(sb.url(&format!("/api/v2/tickets/{id}.json"))));
    let requester = ticket["requester_id"].as_u64().unwrap();
    let user = json_of(sb.get(&format!("/api/v2/users/{requester}.json")).await).await["user"].clone();
    assert_eq!(user["role"], json!("end-user"));
    let org_id = ticket["organization_id"].as_u64().unwrap();
    assert_eq!(user["organization_id"], json!(org_id));
    let org = json_of(sb.get(&format!("/api/v2/organizations/{org_id}.json")).await).await;
    assert_eq!(org["organization"]["name"], json!("Acme"));
}
