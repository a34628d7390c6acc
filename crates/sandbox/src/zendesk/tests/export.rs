//! Tests of the incremental cursor export: request validation, the one-minute quiet window,
//! paging with a stored cursor, sideloads and the export rate limit.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{header, json_of, sandbox, Sandbox};

const EXPORT: &str = "/api/v2/incremental/tickets/cursor.json";

/// A `start_time` an hour back by the sandbox clock.
fn an_hour_ago(sb: &Sandbox) -> i64 {
    sb.clock.now().timestamp() - 3600
}

fn ticket_ids(page: &Value) -> Vec<u64> {
    page["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect()
}

async fn export_from(sb: &Sandbox, start_time: i64, extra: &str) -> Value {
    let response = sb.get(&format!("{EXPORT}?start_time={start_time}{extra}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

async fn export_cursor(sb: &Sandbox, cursor: &Value) -> Value {
    let cursor: String = url::form_urlencoded::byte_serialize(cursor.as_str().unwrap().as_bytes()).collect();
    let response = sb.get(&format!("{EXPORT}?cursor={cursor}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await
}

#[tokio::test]
async fn start_time_within_the_last_minute_is_422_too_recent() {
    let sb = sandbox().await;
    let now = sb.clock.now().timestamp();
    for start in [now, now - 30, now + 600] {
        let response = sb.get(&format!("{EXPORT}?start_time={start}")).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let expected = json!({
            "error": "InvalidValue",
            "description": "Too recent start_time. Use a start_time older than 1 minute",
        });
        assert_eq!(json_of(response).await, expected);
    }
    let ok = sb.get(&format!("{EXPORT}?start_time={}", now - 61)).await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn exactly_one_of_start_time_and_cursor_is_required() {
    let sb = sandbox().await;
    let first = export_from(&sb, an_hour_ago(&sb), "").await;
    let cursor = first["after_cursor"].as_str().unwrap().to_string();
    let neither = sb.get(EXPORT).await;
    assert_eq!(neither.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(neither).await["error"], json!("InvalidValue"));
    let both = sb.get(&format!("{EXPORT}?start_time={}&cursor={cursor}", an_hour_ago(&sb))).await;
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
    assert!(json_of(both).await["description"].is_string());
}

#[tokio::test]
async fn a_cursor_the_server_did_not_issue_is_400_invalid_pagination_parameter() {
    let sb = sandbox().await;
    let response = sb.get(&format!("{EXPORT}?cursor=bm9wZQ%3D%3D")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(response).await["error"], json!("InvalidPaginationParameter"));
}

#[tokio::test]
async fn tickets_changed_in_the_last_60_seconds_are_withheld_until_the_clock_moves() {
    let sb = sandbox().await;
    let start = an_hour_ago(&sb);
    let id = sb.customer_ticket("Fresh");
    assert!(ticket_ids(&export_from(&sb, start, "").await).is_empty());
    sb.advance(30);
    assert!(ticket_ids(&export_from(&sb, start, "").await).is_empty());
    sb.advance(31);
    let page = export_from(&sb, start, "").await;
    assert_eq!(ticket_ids(&page), vec![id]);
    let ticket = &page["tickets"][0];
    assert_eq!(ticket["generated_timestamp"], json!(sb.zd.ticket(id).unwrap().generated_timestamp));
    assert_eq!(ticket["subject"], json!("Fresh"));
}

#[tokio::test]
async fn cursor_pages_to_end_of_stream_and_the_stored_cursor_picks_up_later_changes() {
    let sb = sandbox().await;
    let start = an_hour_ago(&sb);
    let a = sb.customer_ticket("A");
    sb.advance(1);
    let b = sb.customer_ticket("B");
    sb.advance(1);
    let c = sb.customer_ticket("C");
    sb.advance(61);

    let first = export_from(&sb, start, "&per_page=2").await;
    assert_eq!(ticket_ids(&first), vec![a, b]);
    assert_eq!(first["end_of_stream"], json!(false));
    assert_eq!(first["before_cursor"], Value::Null);
    assert_eq!(first["before_url"], Value::Null);
    let after_url = first["after_url"].as_str().unwrap();
    assert!(after_url.starts_with(&sb.url(&format!("{EXPORT}?cursor="))));

    let second = json_of(sb.get(after_url.strip_prefix(&sb.zd.base_url()).unwrap()).await).await;
    assert_eq!(ticket_ids(&second), vec![c]);
    assert_eq!(second["end_of_stream"], json!(true));
    let stored = second["after_cursor"].clone();
    assert!(stored.is_string(), "the cursor is returned even at the end of the stream");

    let idle = export_cursor(&sb, &stored).await;
    assert!(ticket_ids(&idle).is_empty());
    assert_eq!(idle["end_of_stream"], json!(true));
    assert_eq!(idle["after_cursor"], stored, "an empty page keeps the position");

    sb.zd.set_tags(a, &["escalated"]);
    assert!(ticket_ids(&export_cursor(&sb, &stored).await).is_empty(), "still within the minute");
    sb.advance(61);
    let resumed = export_cursor(&sb, &stored).await;
    assert_eq!(ticket_ids(&resumed), vec![a]);
    assert_eq!(resumed["tickets"][0]["tags"], json!(["escalated"]));
}

#[tokio::test]
async fn include_sideloads_the_users_and_organizations_of_the_page() {
    let sb = sandbox().await;
    let start = an_hour_ago(&sb);
    let id = sb.customer_ticket("Sideloads");
    sb.advance(61);
    let plain = export_from(&sb, start, "").await;
    assert!(plain.get("users").is_none() && plain.get("organizations").is_none());

    let page = export_from(&sb, start, "&include=users,organizations").await;
    let ticket = sb.zd.ticket(id).unwrap();
    let users = page["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["id"], page["tickets"][0]["requester_id"]);
    assert_eq!(users[0]["name"], json!("Carla Customer"));
    let orgs = page["organizations"].as_array().unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["id"], json!(ticket.organization_id.unwrap()));
}

#[tokio::test]
async fn export_is_limited_per_minute_with_429_retry_after_and_plain_text_body() {
    let sb = sandbox().await;
    sb.align_to_minute();
    let path = format!("{EXPORT}?start_time={}", an_hour_ago(&sb));
    for _ in 0..10 {
        assert_eq!(sb.get(&path).await.status(), StatusCode::OK);
    }
    let refused = sb.get(&path).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(refused.text().await.unwrap(), "Too Many Requests");
    assert_eq!(sb.get("/api/v2/users/me.json").await.status(), StatusCode::OK, "only the export is limited");

    sb.advance(60);
    assert_eq!(sb.get(&path).await.status(), StatusCode::OK);
    sb.zd.set_export_limit_per_minute(None);
    for _ in 0..15 {
        assert_eq!(sb.get(&path).await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn every_export_answer_names_the_exports_budget_the_429_included() {
    let sb = sandbox().await;
    sb.align_to_minute();
    let path = format!("{EXPORT}?start_time={}", an_hour_ago(&sb));
    let budget = |r: &reqwest::Response| header(r, "zendesk-ratelimit-incremental-exports").to_string();
    let first = sb.get(&path).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(budget(&first).starts_with("total=10; remaining=9; resets="), "{}", budget(&first));
    let too_recent = sb.get(&format!("{EXPORT}?start_time={}", sb.clock.now().timestamp())).await;
    assert_eq!(too_recent.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(budget(&too_recent).starts_with("total=10; remaining=8; resets="), "on an error answer too");
    sb.zd.use_export_requests(7);
    let last = sb.get(&path).await;
    assert!(budget(&last).starts_with("total=10; remaining=0; resets="), "{}", budget(&last));
    let refused = sb.get(&path).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(&refused, "retry-after").to_string();
    assert_eq!(budget(&refused), format!("total=10; remaining=0; resets={retry_after}"));
    assert_ne!(header(&refused, "x-rate-limit-remaining"), "0", "the account's budget is not what ran out");
    let other = sb.get("/api/v2/users/me.json").await;
    assert_eq!(budget(&other), "", "only the export's answers carry its budget");
}

#[tokio::test]
async fn export_answers_on_the_path_without_json_suffix() {
    let sb = sandbox().await;
    let path = format!("/api/v2/incremental/tickets/cursor?start_time={}", an_hour_ago(&sb));
    let response = sb.get(&path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["tickets"], json!([]));
    assert_eq!(body["end_of_stream"], json!(true));
}
