//! Tests of what guards every endpoint: User-Agent, token, rate limits, ETags, the fault
//! middleware, unknown routes, and the user and repository endpoints.

use axum::http::Method as AxumMethod;
use reqwest::Method;
use serde_json::json;

use super::*;
use crate::common::{Fault, FaultRule};

#[tokio::test]
async fn request_without_user_agent_is_forbidden() {
    let h = harness().await;
    let resp = (h.http.get(h.url("/user"))).header("authorization", format!("token {TOKEN}")).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let message = body(resp).await["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("Request forbidden by administrative rules."));
    assert!(message.contains("User-Agent header"));
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_bad_credentials() {
    let h = harness().await;
    let bad_auth = [None, Some("token nope"), Some("Basic abc"), Some(TOKEN)];
    for auth in bad_auth {
        let mut req = h.http.get(h.url("/user")).header("user-agent", "t");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "auth {auth:?}");
        let expected =
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"});
        assert_eq!(body(resp).await, expected);
    }
}

#[tokio::test]
async fn token_and_bearer_schemes_are_both_accepted_and_user_is_the_bot() {
    let h = harness().await;
    for scheme in ["token", "Bearer"] {
        let resp = (h.http.get(h.url("/user")))
            .header("user-agent", "t")
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let user = body(resp).await;
        assert_eq!(user["login"], "ticket-sync-bot");
        assert_eq!(user["type"], "User");
        assert!(user["id"].is_u64());
    }
    assert_eq!(h.gh.login(), "ticket-sync-bot");
}

#[tokio::test]
async fn every_answer_uses_one_rate_limit_unit_and_carries_the_headers() {
    let h = harness().await;
    let first = h.get("/user").await;
    let second = h.get("/repos/acme/nope").await;
    assert_eq!(second.status(), 404);
    assert_eq!(remaining(&first) - remaining(&second), 1);
    assert_eq!(header(&second, "x-ratelimit-limit").unwrap(), "5000");
    assert_eq!(header(&second, "x-ratelimit-used").unwrap(), "2");
    assert_eq!(header(&second, "x-ratelimit-resource").unwrap(), "core");
    let reset: i64 = header(&second, "x-ratelimit-reset").unwrap().parse().unwrap();
    let now = h.clock.now().timestamp();
    assert!(reset > now && reset <= now + 3600, "reset {reset} now {now}");
}

#[tokio::test]
async fn exhausted_budget_is_403_until_the_hour_window_resets() {
    let h = harness().await;
    h.gh.set_rate_limit_remaining(1);
    let last = h.get("/user").await;
    assert_eq!((last.status().as_u16(), remaining(&last)), (200, 0));
    let refused = h.get("/user").await;
    assert_eq!((refused.status().as_u16(), remaining(&refused)), (403, 0));
    let refusal = body(refused).await;
    let message = refusal["message"].as_str().unwrap();
    assert!(message.starts_with("API rate limit exceeded for user ID 1."));
    assert_eq!(
        refusal["documentation_url"],
        "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
    );
    h.advance(3601);
    let fresh = h.get("/user").await;
    assert_eq!((fresh.status().as_u16(), remaining(&fresh)), (200, 4999));
}

#[tokio::test]
async fn matching_if_none_match_gives_304_without_using_a_unit() {
    let h = harness().await;
    h.create_issue("one").await;
    let path = format!("/repos/{REPO}/issues");
    let first = h.get(&path).await;
    let etag = header(&first, "etag").unwrap();
    assert!(etag.starts_with('"') && etag.len() == 66, "strong sha256 etag: {etag}");
    let before = remaining(&first);
    let cached = h.req(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(remaining(&cached), before);
    assert!(cached.bytes().await.unwrap().is_empty());
    h.create_issue("two").await;
    let changed = h.req(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag").unwrap(), etag);
    assert_eq!(body(changed).await.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn secondary_write_limit_refuses_extra_writes_with_retry_after() {
    let h = harness().await;
    h.gh.set_write_limit_per_minute(Some(2));
    h.create_issue("a").await;
    h.create_issue("b").await;
    let refused = h.post(&format!("/repos/{REPO}/issues"), json!({"title": "c"})).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "retry-after").unwrap(), "60");
    let message = body(refused).await["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("You have exceeded a secondary rate limit"));
    assert_eq!(h.gh.issues(REPO).len(), 2);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues")).await.status(), 200);
    h.advance(61);
    h.create_issue("c").await;
    h.gh.set_write_limit_per_minute(None);
    for title in ["d", "e", "f"] {
        h.create_issue(title).await;
    }
}

/// FACTS.md, "Secondary limits": the refusal may carry no `retry-after`, and
/// `x-ratelimit-remaining` may be above 0; the body is the real one.
#[tokio::test]
async fn a_secondary_limit_may_answer_without_retry_after_and_with_budget_left() {
    let h = harness().await;
    h.gh.set_write_limit_per_minute(Some(1));
    h.gh.set_secondary_retry_after(false);
    h.create_issue("a").await;
    let refused = h.post(&format!("/repos/{REPO}/issues"), json!({"title": "b"})).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(header(&refused, "retry-after"), None);
    let remaining: u32 = header(&refused, "x-ratelimit-remaining").unwrap().parse().unwrap();
    assert!(remaining > 4000, "the primary budget is not what ran out: {remaining}");
    let reset: i64 = header(&refused, "x-ratelimit-reset").unwrap().parse().unwrap();
    let reset_in = reset - h.clock.now().timestamp();
    assert!((3500..=3600).contains(&reset_in), "the primary window's reset, an hour away: {reset_in}");
    assert_eq!(
        body(refused).await,
        json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": "https://docs.github.com/en/free-pro-team@latest/rest/overview/resources-in-the-rest-api#secondary-rate-limits",
        })
    );
    assert_eq!(h.gh.issues(REPO).len(), 1);
    h.advance(61);
    h.create_issue("b").await;
}

#[tokio::test]
async fn lost_response_on_create_still_creates_the_issue() {
    let h = harness().await;
    let rule = FaultRule::new(Some(AxumMethod::POST), "/issues", Fault::LoseResponse);
    h.gh.door.faults.push(rule);
    let sent = (h.req(Method::POST, &format!("/repos/{REPO}/issues"))).json(&json!({"title": "lost"})).send().await;
    let client_saw_error = match sent {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(client_saw_error);
    let issues = h.gh.issues(REPO);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].title, "lost");
    assert_eq!(h.gh.door.log.count(|e| e.status == 0), 1);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_404_basic_error() {
    let h = harness().await;
    let expected =
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"});
    let unknown = h.get("/nothing/here").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(body(unknown).await, expected);
    let wrong_method = h.req(Method::DELETE, &format!("/repos/{REPO}")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 404);
    assert_eq!(body(wrong_method).await, expected);
}

#[tokio::test]
async fn repository_object_has_the_real_fields_and_unknown_repo_is_404() {
    let h = harness().await;
    let resp = h.get(&format!("/repos/{REPO}")).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "etag").is_some());
    let repo = body(resp).await;
    assert_eq!(repo["id"], h.repo_id);
    assert_eq!(repo["full_name"], REPO);
    assert_eq!((repo["private"].clone(), repo["visibility"].clone()), (json!(false), json!("public")));
    assert_eq!((repo["has_issues"].clone(), repo["archived"].clone()), (json!(true), json!(false)));
    assert_eq!(repo["owner"]["login"], "acme");
    assert_eq!(repo["permissions"]["push"], true);
    assert_eq!(repo["url"], h.url(&format!("/repos/{REPO}")));
    let by_id = body(h.get(&format!("/repositories/{}", h.repo_id)).await).await;
    assert_eq!(by_id["full_name"], REPO);
    h.gh.add_repo("acme/secret", Visibility::Internal, false);
    let secret = body(h.get("/repos/acme/secret").await).await;
    assert_eq!((secret["private"].clone(), secret["visibility"].clone()), (json!(true), json!("internal")));
    assert_eq!(secret["has_issues"], false);
    let missing = h.get("/repos/acme/nope").await;
    assert_eq!(missing.status(), 404);
    let expected = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository", "status": "404"});
    assert_eq!(body(missing).await, expected);
}

#[tokio::test]
async fn the_date_header_is_githubs_clock() {
    let h = harness().await;
    h.advance(3600);
    let resp = h.get("/user").await;
    let date = header(&resp, "date").unwrap();
    let github_now = chrono::DateTime::parse_from_rfc2822(&date).unwrap().to_utc();
    let ahead = github_now - chrono::Utc::now();
    assert!(ahead > chrono::Duration::minutes(59) && ahead < chrono::Duration::minutes(61), "{date}");
}
