//! The fake Zendesk's OAuth, as the documentation and real answers describe it: client
//! credentials at `/oauth/tokens`, Bearer tokens that expire, scopes, API tokens switched off.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{json_of, sandbox, Sandbox};
use crate::{ZENDESK_CLIENT_ID, ZENDESK_CLIENT_SECRET};

impl Sandbox {
    async fn mint(&self, body: Value) -> (StatusCode, Value) {
        let response = self.http.post(self.url("/oauth/tokens")).json(&body).send().await.unwrap();
        (response.status(), json_of(response).await)
    }

    async fn token(&self, scope: &str) -> String {
        let (status, body) = self.mint(grant(scope)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn bearer(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }
}

fn grant(scope: &str) -> Value {
    json!({
        "grant_type": "client_credentials",
        "client_id": ZENDESK_CLIENT_ID,
        "client_secret": ZENDESK_CLIENT_SECRET,
        "scope": scope,
        "expires_in": 3600,
    })
}

#[tokio::test]
async fn client_credentials_give_a_bearer_token_that_acts_as_the_clients_creator() {
    let sb = sandbox().await;
    let (status, body) = sb.mint(grant("read tickets:write")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["token_type"].clone(), body["scope"].clone()), (json!("bearer"), json!("read tickets:write")));
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("refresh_token").is_none(), "client credentials give no refresh token");
    let token = body["access_token"].as_str().unwrap();
    let me = json_of(sb.bearer(reqwest::Method::GET, "/api/v2/users/me.json", token, None).await).await;
    assert_eq!(me["user"]["id"], json!(sb.zd.oauth_user_id()));
    assert_ne!(sb.zd.oauth_user_id(), sb.zd.bot_user_id(), "not the API token's user");
    // A note written with it is the creator's.
    let id = sb.customer_ticket("Written by OAuth");
    let note = json!({"ticket": {"comment": {"body": "internal", "public": false}}});
    let put = sb.bearer(reqwest::Method::PUT, &format!("/api/v2/tickets/{id}.json"), token, Some(note)).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert_eq!(sb.zd.comments(id).last().unwrap().author_id, sb.zd.oauth_user_id());
    // The same request form-encoded is taken too.
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", ZENDESK_CLIENT_ID),
        ("client_secret", ZENDESK_CLIENT_SECRET),
        ("scope", "read"),
    ];
    let response = sb.http.post(sb.url("/oauth/tokens")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["expires_in"], 1800, "Zendesk's default life when none is asked");
}

#[tokio::test]
async fn the_token_endpoint_refuses_as_oauth_says() {
    let sb = sandbox().await;
    let cases = [
        (json!({"client_secret": "wrong"}), StatusCode::UNAUTHORIZED, "invalid_client"),
        (json!({"client_id": "someone_else"}), StatusCode::UNAUTHORIZED, "invalid_client"),
        (json!({"grant_type": "password"}), StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        (json!({"scope": "tickets:delete"}), StatusCode::BAD_REQUEST, "invalid_scope"),
        (json!({"expires_in": 60}), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"expires_in": 200_000}), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (change, status, error) in cases {
        let mut body = grant("read");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (got, answer) = sb.mint(body.clone()).await;
        assert_eq!((got, answer["error"].as_str()), (status, Some(error)), "{body}");
        assert!(answer["error_description"].is_string());
        assert!(!answer.to_string().contains(ZENDESK_CLIENT_SECRET));
    }
    assert_eq!(sb.zd.tokens_minted(), 0);
}

#[tokio::test]
async fn tokens_expire_on_zendesks_clock_and_after_their_uses() {
    let sb = sandbox().await;
    sb.zd.set_token_life(120);
    let (_, body) = sb.mint(grant("read")).await;
    assert_eq!(body["expires_in"], 120, "the fake's shorter life is what the answer says");
    let token = body["access_token"].as_str().unwrap().to_string();
    let me = || sb.bearer(reqwest::Method::GET, "/api/v2/users/me.json", &token, None);
    assert_eq!(me().await.status(), StatusCode::OK);
    sb.advance(121);
    let expired = me().await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    assert!(expired.headers().get("www-authenticate").is_some());
    assert_eq!(
        json_of(expired).await,
        json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons."})
    );
    sb.zd.set_token_uses(2);
    let fresh = sb.token("read").await;
    let me = || sb.bearer(reqwest::Method::GET, "/api/v2/users/me.json", &fresh, None);
    assert_eq!((me().await.status(), me().await.status()), (StatusCode::OK, StatusCode::OK));
    assert_eq!(me().await.status(), StatusCode::UNAUTHORIZED);
    let revoked = sb.token("read").await;
    sb.zd.revoke_tokens();
    let r = sb.bearer(reqwest::Method::GET, "/api/v2/users/me.json", &revoked, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// A server set to reuse access tokens gives a live token again with the life it has left;
/// other scopes, or a token that lapsed, get a new one.
#[tokio::test]
async fn a_server_reusing_tokens_gives_the_live_one_again() {
    let sb = sandbox().await;
    sb.zd.set_token_life(120);
    sb.zd.reuse_live_tokens(true);
    let first = sb.token("read").await;
    sb.advance(50);
    let (status, again) = sb.mint(grant("read")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["access_token"].as_str(), Some(first.as_str()));
    let left = again["expires_in"].as_u64().unwrap();
    assert!((69..=70).contains(&left), "the life it has left: {left}");
    let me = sb.bearer(reqwest::Method::GET, "/api/v2/users/me.json", &first, None).await;
    assert_eq!(me.status(), StatusCode::OK, "the token given again works");
    assert_ne!(sb.token("read tickets:write").await, first, "other scopes, another token");
    sb.advance(71);
    assert_ne!(sb.token("read").await, first, "a lapsed token is not given again");
    assert_eq!(sb.zd.tokens_minted(), 3);
}

/// A client with Allowed scopes refuses a token for any other scope (`invalid_scope`).
#[tokio::test]
async fn a_client_with_allowed_scopes_refuses_others() {
    let sb = sandbox().await;
    sb.zd.set_allowed_scopes(Some(&["read", "tickets:write"]));
    let (status, body) = sb.mint(grant("read write")).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_scope")), "{body}");
    let (status, _) = sb.mint(grant("read tickets:write")).await;
    assert_eq!(status, StatusCode::OK);
    sb.zd.set_allowed_scopes(None);
    assert_eq!(sb.mint(grant("read write")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_token_without_the_needed_scope_is_forbidden_naming_it() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Scoped");
    let field = sb.zd.add_ticket_field("text", "GitHub issue");
    let tickets_read = sb.token("tickets:read").await;
    use reqwest::Method as M;
    let ok = sb.bearer(M::GET, &format!("/api/v2/tickets/{id}.json"), &tickets_read, None).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let note = json!({"ticket": {"comment": {"body": "x", "public": false}}});
    for (method, path, body, missing) in [
        (M::GET, "/api/v2/users/me.json".to_string(), None, "read"),
        (M::GET, format!("/api/v2/ticket_fields/{field}.json"), None, "read"),
        (M::PUT, format!("/api/v2/tickets/{id}.json"), Some(note.clone()), "write"),
    ] {
        let r = sb.bearer(method, &path, &tickets_read, body).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let expected = format!("You are missing the following required scopes: {missing}");
        assert_eq!(json_of(r).await, json!({"error": "Forbidden", "description": expected}));
    }
    let writer = sb.token("read tickets:write").await;
    let r = sb.bearer(M::PUT, &format!("/api/v2/tickets/{id}.json"), &writer, Some(note)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn api_tokens_switched_off_are_refused_like_wrong_ones() {
    let sb = sandbox().await;
    assert_eq!(sb.get("/api/v2/users/me.json").await.status(), StatusCode::OK);
    sb.zd.switch_off_api_tokens(true);
    let response = sb.get("/api/v2/users/me.json").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await, json!({"error": "Couldn't authenticate you"}));
}
