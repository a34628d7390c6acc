//! The fake's GitHub App mode: JWTs (signed here with the sandbox App's test key) checked on
//! the sandbox clock, installation tokens minted with them and what those reach, the bot
//! identity of the App's changes, per-installation budgets, and deliveries naming the
//! installation.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use super::*;
use crate::hooks::receiver::Receiver;
use crate::{APP_TEST_KEY_PEM, APP_TEST_PUBLIC_KEY_PEM, OTHER_RSA_KEY_PEM};

const APP_ID: u64 = 424_242;
const SLUG: &str = "ticket-sync-sandbox";
const BOT: &str = "ticket-sync-sandbox[bot]";
const ELSEWHERE: &str = "other/elsewhere";

/// The harness's fake in App mode, installed on `acme` (the harness repository's owner) with
/// `issues`; `other/elsewhere` exists but the App is not installed there.
pub(super) async fn app_harness(issues: Option<&str>) -> (Harness, u64) {
    let h = harness().await;
    h.gh.add_repo(ELSEWHERE, Visibility::Public, true);
    h.gh.enable_app(APP_ID, SLUG, APP_TEST_PUBLIC_KEY_PEM);
    let installation = h.gh.add_installation("acme", issues);
    (h, installation)
}

/// A JWT with these claims, signed RS256 with `key_pem`.
fn sign(claims: &Value, key_pem: &str) -> String {
    let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

/// Claims issued `iat` seconds and expiring `exp` seconds from sandbox now (as GitHub
/// recommends: `iat` a minute back, `exp` within ten minutes).
fn claims(h: &Harness, iat: i64, exp: i64) -> Value {
    let now = h.clock.now().timestamp();
    json!({"iat": now + iat, "exp": now + exp, "iss": APP_ID})
}

pub(super) fn good_jwt(h: &Harness) -> String {
    sign(&claims(h, -60, 540), APP_TEST_KEY_PEM)
}

async fn call(h: &Harness, method: Method, path: &str, credential: &str, body: Option<Value>) -> Response {
    let mut req = (h.http.request(method, h.url(path)))
        .header("user-agent", "ticket-sync-tests")
        .header("accept", "application/vnd.github+json")
        .header("authorization", format!("Bearer {credential}"));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

pub(super) async fn get_as(h: &Harness, path: &str, credential: &str) -> Response {
    call(h, Method::GET, path, credential, None).await
}

/// Mints an installation token with a fresh JWT.
pub(super) async fn mint(h: &Harness, installation: u64) -> String {
    let path = format!("/app/installations/{installation}/access_tokens");
    let resp = call(h, Method::POST, &path, &good_jwt(h), None).await;
    assert_eq!(resp.status(), 201);
    body(resp).await["token"].as_str().unwrap().to_string()
}

/// Asserts a 401 with GitHub's message.
async fn assert_401(resp: Response, message: &str) {
    assert_eq!(resp.status(), 401);
    let expected = json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "401"});
    assert_eq!(body(resp).await, expected);
}

#[tokio::test]
async fn a_valid_jwt_reads_the_app_with_a_numeric_or_string_iss() {
    let (h, _) = app_harness(Some("write")).await;
    let resp = get_as(&h, "/app", &good_jwt(&h)).await;
    assert_eq!(resp.status(), 200);
    let app = body(resp).await;
    assert_eq!((app["id"].as_u64(), app["slug"].as_str()), (Some(APP_ID), Some(SLUG)));
    assert_eq!(app["owner"]["type"], "Organization");
    assert_eq!(app["permissions"], json!({"issues": "write", "metadata": "read"}));
    assert_eq!(app["events"], json!(["issues", "issue_comment"]));
    assert!(is_github_timestamp(&app["created_at"]));
    let mut string_iss = claims(&h, -60, 540);
    string_iss["iss"] = json!(APP_ID.to_string());
    assert_eq!(get_as(&h, "/app", &sign(&string_iss, APP_TEST_KEY_PEM)).await.status(), 200);
    assert_eq!(h.gh.jwt_requests(), 2);
}

#[tokio::test]
async fn a_jwt_signed_with_another_key_or_garbage_could_not_be_decoded() {
    let (h, _) = app_harness(Some("write")).await;
    let forged = sign(&claims(&h, -60, 540), OTHER_RSA_KEY_PEM);
    assert_401(get_as(&h, "/app", &forged).await, "A JSON web token could not be decoded").await;
    assert_401(get_as(&h, "/app", "abc.def.ghi").await, "A JSON web token could not be decoded").await;
    assert_eq!(h.gh.jwt_requests(), 0);
}

#[tokio::test]
async fn a_jwt_for_another_app_or_without_an_integer_iss_is_refused() {
    let (h, _) = app_harness(Some("write")).await;
    let mut other = claims(&h, -60, 540);
    other["iss"] = json!(APP_ID + 1);
    assert_401(get_as(&h, "/app", &sign(&other, APP_TEST_KEY_PEM)).await, "Integration not found").await;
    other["iss"] = json!("ticket-sync");
    let message = "'Issuer' claim ('iss') must be an Integer";
    assert_401(get_as(&h, "/app", &sign(&other, APP_TEST_KEY_PEM)).await, message).await;
}

#[tokio::test]
async fn exp_may_be_at_most_ten_minutes_ahead_without_leeway() {
    let (h, _) = app_harness(Some("write")).await;
    assert_eq!(get_as(&h, "/app", &sign(&claims(&h, -60, 600), APP_TEST_KEY_PEM)).await.status(), 200);
    let too_far = sign(&claims(&h, -60, 601), APP_TEST_KEY_PEM);
    assert_401(get_as(&h, "/app", &too_far).await, "'Expiration time' claim ('exp') is too far in the future").await;
}

#[tokio::test]
async fn a_jwt_expires_on_the_sandbox_clock_and_iat_may_not_be_in_the_future() {
    let (h, _) = app_harness(Some("write")).await;
    let jwt = good_jwt(&h);
    assert_eq!(get_as(&h, "/app", &jwt).await.status(), 200);
    h.advance(540);
    let message = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which \
                   the assertion expires";
    assert_401(get_as(&h, "/app", &jwt).await, message).await;
    let future = sign(&claims(&h, 5, 300), APP_TEST_KEY_PEM);
    // FACTS (lcobucci/jwt#582, probot/probot#967): GitHub's own words, which octokit's auth-app
    // matches to retry with GitHub's clock.
    let message = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
    assert_401(get_as(&h, "/app", &future).await, message).await;
}

#[tokio::test]
async fn a_jwt_only_reaches_the_app_endpoints() {
    let (h, _) = app_harness(Some("write")).await;
    let jwt = good_jwt(&h);
    for path in [format!("/repos/{REPO}"), format!("/repos/{REPO}/issues"), "/user".to_string()] {
        assert_401(get_as(&h, &path, &jwt).await, "Bad credentials").await;
    }
    let created = call(&h, Method::POST, &format!("/repos/{REPO}/issues"), &jwt, Some(json!({"title": "x"}))).await;
    assert_401(created, "Bad credentials").await;
}

#[tokio::test]
async fn installations_are_listed_and_unknown_ones_are_404() {
    let (h, installation) = app_harness(Some("read")).await;
    let jwt = good_jwt(&h);
    let list = body(get_as(&h, "/app/installations", &jwt).await).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one = body(get_as(&h, &format!("/app/installations/{installation}"), &jwt).await).await;
    assert_eq!(one, list[0]);
    assert_eq!((one["id"].as_u64(), one["app_id"].as_u64()), (Some(installation), Some(APP_ID)));
    assert_eq!((one["account"]["login"].as_str(), one["app_slug"].as_str()), (Some("acme"), Some(SLUG)));
    assert_eq!(one["target_type"], "Organization");
    assert_eq!(one["repository_selection"], "all");
    assert_eq!(one["permissions"], json!({"issues": "read", "metadata": "read"}));
    let unknown = installation + 1000;
    assert_eq!(get_as(&h, &format!("/app/installations/{unknown}"), &jwt).await.status(), 404);
    let mint = call(&h, Method::POST, &format!("/app/installations/{unknown}/access_tokens"), &jwt, None).await;
    assert_eq!(mint.status(), 404);
    assert_eq!(h.gh.tokens_minted(installation), 0);
}

#[tokio::test]
async fn a_minted_token_reaches_the_installed_account_only() {
    let (h, installation) = app_harness(Some("write")).await;
    let path = format!("/app/installations/{installation}/access_tokens");
    let resp = call(&h, Method::POST, &path, &good_jwt(&h), None).await;
    assert_eq!(resp.status(), 201);
    let minted = body(resp).await;
    let token = minted["token"].as_str().unwrap();
    assert!(token.starts_with("ghs_") && token.len() >= 40, "{token}");
    let expires = (h.clock.now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    assert_eq!(minted["expires_at"], expires);
    assert_eq!(minted["permissions"], json!({"issues": "write", "metadata": "read"}));
    assert_eq!(minted["repository_selection"], "all");
    assert_eq!(h.gh.tokens_minted(installation), 1);
    assert_eq!(get_as(&h, &format!("/repos/{REPO}"), token).await.status(), 200);
    assert_eq!(get_as(&h, &format!("/repositories/{}/issues", h.repo_id), token).await.status(), 200);
    let hidden = get_as(&h, &format!("/repos/{ELSEWHERE}/issues"), token).await;
    assert_eq!(hidden.status(), 404);
    assert_eq!(body(hidden).await["message"], "Not Found");
    let second = mint(&h, installation).await;
    assert_ne!(second, token);
    assert_eq!(h.gh.tokens_minted(installation), 2);
}

#[tokio::test]
async fn an_installation_token_expires_on_the_sandbox_clock() {
    let (h, installation) = app_harness(Some("write")).await;
    let token = mint(&h, installation).await;
    h.advance(3599);
    assert_eq!(get_as(&h, &format!("/repos/{REPO}"), &token).await.status(), 200);
    h.advance(1);
    assert_401(get_as(&h, &format!("/repos/{REPO}"), &token).await, "Bad credentials").await;
    h.gh.set_installation_token_ttl(Duration::from_secs(120));
    let short = mint(&h, installation).await;
    h.advance(120);
    assert_401(get_as(&h, &format!("/repos/{REPO}"), &short).await, "Bad credentials").await;
}

#[tokio::test]
async fn revoked_tokens_are_bad_credentials_and_new_ones_work() {
    let (h, installation) = app_harness(Some("write")).await;
    let token = mint(&h, installation).await;
    h.gh.revoke_installation_tokens();
    assert_401(get_as(&h, &format!("/repos/{REPO}"), &token).await, "Bad credentials").await;
    let fresh = mint(&h, installation).await;
    assert_eq!(get_as(&h, &format!("/repos/{REPO}"), &fresh).await.status(), 200);
}

#[tokio::test]
async fn an_installation_token_is_not_a_user_nor_an_app() {
    let (h, installation) = app_harness(Some("write")).await;
    let token = mint(&h, installation).await;
    let resp = get_as(&h, "/user", &token).await;
    assert_eq!(resp.status(), 403);
    let expected = json!({
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
        "status": "403",
    });
    assert_eq!(body(resp).await, expected);
    assert_401(get_as(&h, "/app/installations", &token).await, "A JSON web token could not be decoded").await;
    let installation_of_repo = get_as(&h, &format!("/repos/{REPO}/installation"), &token).await;
    assert_401(installation_of_repo, "A JSON web token could not be decoded").await;
}

#[tokio::test]
async fn the_personal_token_is_refused_once_app_mode_is_on() {
    let h = harness().await;
    assert_eq!(h.get("/user").await.status(), 200);
    assert_eq!(h.get("/app").await.status(), 404, "no App in token mode");
    h.gh.enable_app(APP_ID, SLUG, APP_TEST_PUBLIC_KEY_PEM);
    assert_401(h.get("/user").await, "Bad credentials").await;
    assert_401(h.get(&format!("/repos/{REPO}")).await, "Bad credentials").await;
}

#[tokio::test]
async fn the_apps_issues_comments_and_closes_are_by_the_bot() {
    let (h, installation) = app_harness(Some("write")).await;
    assert_eq!(h.gh.app_bot_login(), BOT);
    let token = mint(&h, installation).await;
    let created = call(&h, Method::POST, &format!("/repos/{REPO}/issues"), &token, Some(json!({"title": "T"}))).await;
    assert_eq!(created.status(), 201);
    let issue = body(created).await;
    assert_eq!((issue["user"]["login"].as_str(), issue["user"]["type"].as_str()), (Some(BOT), Some("Bot")));
    assert!(issue["user"]["html_url"].as_str().unwrap().ends_with(&format!("/apps/{SLUG}")));
    assert_eq!(issue["performed_via_github_app"]["id"], APP_ID);
    assert_eq!(issue["performed_via_github_app"]["slug"], SLUG);
    let n = issue["number"].as_u64().unwrap();
    let comment_path = format!("/repos/{REPO}/issues/{n}/comments");
    let comment = body(call(&h, Method::POST, &comment_path, &token, Some(json!({"body": "hi"}))).await).await;
    assert_eq!((comment["user"]["login"].as_str(), comment["user"]["type"].as_str()), (Some(BOT), Some("Bot")));
    let close = json!({"state": "closed"});
    let closed = body(call(&h, Method::PATCH, &format!("/repos/{REPO}/issues/{n}"), &token, Some(close)).await).await;
    assert_eq!(closed["closed_by"]["login"], BOT);
    // What people do stays theirs.
    h.gh.add_comment(REPO, n, "alice", "human");
    let comments = body(get_as(&h, &comment_path, &token).await).await;
    assert_eq!(comments[0]["performed_via_github_app"]["slug"], SLUG);
    assert!(comments[1]["performed_via_github_app"].is_null());
    assert_eq!(comments[1]["user"]["type"], "User");
    let view = h.gh.issue(REPO, n).unwrap();
    assert_eq!((view.user_login.as_str(), view.closed_by.as_deref()), (BOT, Some(BOT)));
    let events = body(get_as(&h, &format!("/repos/{REPO}/issues/{n}/events"), &token).await).await;
    let closed_event = events.as_array().unwrap().iter().find(|e| e["event"] == "closed").unwrap().clone();
    assert_eq!(
        (closed_event["actor"]["login"].as_str(), closed_event["actor"]["type"].as_str()),
        (Some(BOT), Some("Bot"))
    );
}

#[tokio::test]
async fn an_installation_without_issues_write_may_read_but_not_write() {
    let (h, installation) = app_harness(Some("read")).await;
    let token = mint(&h, installation).await;
    assert_eq!(get_as(&h, &format!("/repos/{REPO}/issues"), &token).await.status(), 200);
    let resp = call(&h, Method::POST, &format!("/repos/{REPO}/issues"), &token, Some(json!({"title": "T"}))).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(header(&resp, "x-accepted-github-permissions").as_deref(), Some("issues=write"));
    let expected = json!({
        "message": "Resource not accessible by integration",
        "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
        "status": "403",
    });
    assert_eq!(body(resp).await, expected);
    assert!(h.gh.issues(REPO).is_empty());
    // Without any issues permission even reading issues is refused; the repository is not.
    let bare = h.gh.add_installation("other", None);
    let token = mint(&h, bare).await;
    assert_eq!(get_as(&h, &format!("/repos/{ELSEWHERE}"), &token).await.status(), 200);
    assert_eq!(get_as(&h, &format!("/repos/{ELSEWHERE}/issues"), &token).await.status(), 403);
}

#[tokio::test]
async fn each_installation_and_the_jwts_have_their_own_budget() {
    let (h, acme) = app_harness(Some("write")).await;
    let other = h.gh.add_installation("other", Some("write"));
    let (acme_token, other_token) = (mint(&h, acme).await, mint(&h, other).await);
    h.gh.set_installation_rate_limit_remaining(acme, 1);
    let last = get_as(&h, &format!("/repos/{REPO}"), &acme_token).await;
    assert_eq!((last.status().as_u16(), remaining(&last)), (200, 0));
    let refused = get_as(&h, &format!("/repos/{REPO}"), &acme_token).await;
    assert_eq!((refused.status().as_u16(), remaining(&refused)), (403, 0));
    let message = body(refused).await["message"].as_str().unwrap().to_string();
    assert!(message.starts_with(&format!("API rate limit exceeded for installation ID {acme}.")), "{message}");
    let fine = get_as(&h, &format!("/repos/{ELSEWHERE}"), &other_token).await;
    assert_eq!(fine.status(), 200);
    assert_eq!(header(&fine, "x-ratelimit-limit").as_deref(), Some("5000"));
    assert_eq!(remaining(&fine), 4999);
    let app = get_as(&h, "/app", &good_jwt(&h)).await;
    assert_eq!(app.status(), 200);
    // Two mints so far, then this request.
    assert_eq!(remaining(&app), 4997);
    // The budget comes back with the next hour window.
    h.advance(3600);
    assert_eq!(get_as(&h, &format!("/repos/{REPO}"), &mint(&h, acme).await).await.status(), 200);
}

#[tokio::test]
async fn a_repositorys_installation_is_found_or_404() {
    let (h, installation) = app_harness(Some("write")).await;
    let jwt = good_jwt(&h);
    let found = get_as(&h, &format!("/repos/{REPO}/installation"), &jwt).await;
    assert_eq!(found.status(), 200);
    assert_eq!(body(found).await["id"], installation);
    let missing = get_as(&h, &format!("/repos/{ELSEWHERE}/installation"), &jwt).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(body(missing).await["message"], "Not Found");
    assert_eq!(get_as(&h, "/repos/acme/nope/installation", &jwt).await.status(), 404);
}

#[tokio::test]
async fn deliveries_name_the_installation_and_the_bot_sender() {
    let (h, installation) = app_harness(Some("write")).await;
    let rx = Receiver::start().await;
    h.gh.set_webhook(&rx.url("github"), "secret");
    let token = mint(&h, installation).await;
    let created = call(&h, Method::POST, &format!("/repos/{REPO}/issues"), &token, Some(json!({"title": "T"}))).await;
    assert_eq!(created.status(), 201);
    h.gh.add_issue(ELSEWHERE, "Not ours", "", "someone");
    let got = rx.wait_for(2).await;
    let by_repo = |name: &str| got.iter().map(|r| r.json()).find(|p| p["repository"]["full_name"] == name).unwrap();
    let ours = by_repo(REPO);
    assert_eq!(ours["installation"]["id"], installation);
    assert!(ours["installation"]["node_id"].is_string());
    assert_eq!((ours["sender"]["login"].as_str(), ours["sender"]["type"].as_str()), (Some(BOT), Some("Bot")));
    let r = got.iter().find(|r| r.json()["repository"]["full_name"] == REPO).unwrap();
    assert_eq!(r.header("x-github-hook-installation-target-type"), "integration");
    assert_eq!(r.header("x-github-hook-installation-target-id"), APP_ID.to_string());
    assert!(by_repo(ELSEWHERE).get("installation").is_none());
    let r = got.iter().find(|r| r.json()["repository"]["full_name"] == ELSEWHERE).unwrap();
    assert_eq!(r.header("x-github-hook-installation-target-type"), "repository");
}
