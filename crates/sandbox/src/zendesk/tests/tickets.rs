//! Tests of `PUT /api/v2/tickets/{id}`: what it changes, what it rejects, its per-ticket
//! limit, and the fault middleware in front of it.

use axum::http::Method;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{basic, header, json_of, sandbox, EMAIL, TOKEN};
use crate::common::{Fault, FaultRule};

#[tokio::test]
async fn update_adds_a_bot_comment_changes_fields_and_returns_the_audit() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Crash");
    let before = sb.zd.ticket(id).unwrap();
    sb.advance(5);
    let response = sb
        .update(
            id,
            json!({"status": "open", "tags": ["Escalated", "gh"], "priority": "high",
            "comment": {"body": "Tracked in GitHub.", "public": false}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["ticket"]["status"], json!("open"));
    assert_eq!(body["ticket"]["tags"], json!(["escalated", "gh"]), "tags are lower-cased");

    let comments = sb.zd.comments(id);
    let added = comments.last().unwrap();
    assert_eq!((added.author_id, added.public), (sb.zd.bot_user_id(), false));
    assert_eq!(added.body, "Tracked in GitHub.");

    let audit = &body["audit"];
    assert_eq!(audit["ticket_id"], json!(id));
    assert_eq!(audit["author_id"], json!(sb.zd.bot_user_id()));
    let events = audit["events"].as_array().unwrap();
    let comment_event = events.iter().find(|e| e["type"] == "Comment").unwrap();
    assert_eq!(comment_event["id"], json!(added.id));
    let change = |field: &str| events.iter().find(|e| e["type"] == "Change" && e["field_name"] == field).cloned();
    assert_eq!(change("status").unwrap()["previous_value"], json!("new"));
    assert_eq!(change("tags").unwrap()["value"], json!(["escalated", "gh"]));

    let after = sb.zd.ticket(id).unwrap();
    assert!(after.generated_timestamp >= before.generated_timestamp + 5, "the change re-enters the export");
    assert_eq!(after.priority.as_deref(), Some("high"));
}

/// FACTS: `additional_tags` / `remove_tags` work only on bulk updates; one ticket's update
/// drops them (and names them among the unpermitted keys). `tags` replaces the list.
#[tokio::test]
async fn a_single_update_drops_additional_and_remove_tags_and_warns() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Tags");
    sb.zd.set_tags(id, &["a", "b"]);
    let response = sb.update(id, json!({"additional_tags": ["c"], "remove_tags": "a"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let warn = header(&response, "x-zendesk-api-warn").to_string();
    assert!(warn.contains(":unpermitted_keys=>[\"ticket.additional_tags\", \"ticket.remove_tags\"]"), "{warn}");
    assert_eq!(sb.zd.ticket(id).unwrap().tags, vec!["a", "b"], "nothing changed");
    sb.update(id, json!({"tags": ["c"]})).await;
    assert_eq!(sb.zd.ticket(id).unwrap().tags, vec!["c"], "`tags` replaces the list");
}

#[tokio::test]
async fn the_tags_endpoints_add_remove_and_set_without_touching_other_tags() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Tags");
    sb.zd.set_tags(id, &["vip", "github_open"]);
    let url = sb.url(&format!("/api/v2/tickets/{id}/tags.json"));
    let auth = basic(EMAIL, TOKEN);
    let send = |method: reqwest::Method, body: Value| {
        sb.http.request(method, &url).header("authorization", &auth).json(&body).send()
    };
    let added = send(reqwest::Method::PUT, json!({"tags": ["github_closed"]})).await.unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(json_of(added).await, json!({"tags": ["vip", "github_open", "github_closed"]}));
    let removed = send(reqwest::Method::DELETE, json!({"tags": ["github_open"]})).await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(sb.zd.ticket(id).unwrap().tags, ["vip", "github_closed"]);
    // Removing again, or adding what is there, changes nothing and does not touch the ticket.
    let stamp = sb.zd.ticket(id).unwrap().updated_at;
    sb.advance(5);
    assert_eq!(
        send(reqwest::Method::DELETE, json!({"tags": ["github_open"]})).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(sb.zd.ticket(id).unwrap().updated_at, stamp);
    // `DELETE` with the tags in the query works too.
    let by_query = sb.http.delete(format!("{url}?tags=vip")).header("authorization", &auth).send().await.unwrap();
    assert_eq!(by_query.status(), StatusCode::NO_CONTENT);
    assert_eq!(sb.zd.ticket(id).unwrap().tags, ["github_closed"]);
    // `POST` replaces; a stale safe update is a 409 and changes nothing.
    let set = send(reqwest::Method::POST, json!({"tags": ["x"]})).await.unwrap();
    assert_eq!(set.status(), StatusCode::CREATED);
    let stale = json!({"tags": ["y"], "safe_update": "true", "updated_stamp": "2001-01-01T00:00:00Z"});
    let conflict = send(reqwest::Method::PUT, stale).await.unwrap();
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(sb.zd.ticket(id).unwrap().tags, ["x"]);
    // A closed ticket takes no tag change.
    sb.zd.set_status(id, "closed");
    let closed = send(reqwest::Method::PUT, json!({"tags": ["z"]})).await.unwrap();
    assert_eq!(closed.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn closed_ticket_rejects_every_update_with_the_exact_422_body() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Done");
    sb.zd.set_status(id, "closed");
    let attempts = [json!({"comment": {"body": "hello"}}), json!({"status": "open"}), json!({"tags": []})];
    for attempt in attempts {
        let response = sb.update(id, attempt).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let expected = json!({
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {"status": [{"description": "Status closed prevents ticket update"}]},
        });
        assert_eq!(json_of(response).await, expected);
    }
    assert_eq!(sb.zd.comments(id).len(), 1);
    assert_eq!(sb.zd.ticket(id).unwrap().status, "closed");
}

#[tokio::test]
async fn invalid_status_is_422_record_invalid_and_changes_nothing() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Status");
    let before = sb.zd.ticket(id).unwrap();
    let response = sb.update(id, json!({"status": "resolved", "comment": {"body": "x"}})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_of(response).await;
    assert_eq!(body["error"], json!("RecordInvalid"));
    assert!(body["details"]["status"][0]["description"].is_string());
    assert_eq!(sb.zd.comments(id).len(), 1, "a rejected update adds no comment");
    assert_eq!(sb.zd.ticket(id).unwrap().generated_timestamp, before.generated_timestamp);
}

#[tokio::test]
async fn comment_with_empty_body_is_422_record_invalid() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Empty");
    for comment in [json!({"body": ""}), json!({"body": "   ", "public": true}), json!({"public": false})] {
        let response = sb.update(id, json!({ "comment": comment })).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json_of(response).await["error"], json!("RecordInvalid"));
    }
}

#[tokio::test]
async fn unparsable_json_missing_ticket_key_or_non_json_body_is_400() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Garbage");
    let url = sb.url(&format!("/api/v2/tickets/{id}.json"));
    let garbage = sb.http.put(&url).header("authorization", basic(EMAIL, TOKEN));
    let garbage = garbage.header("content-type", "application/json").body("{\"ticket\": {");
    let response = garbage.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(json_of(response).await["error"].is_string());
    let response = sb.put(&format!("/api/v2/tickets/{id}.json"), json!({"status": "open"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let untyped = sb.http.put(&url).header("authorization", basic(EMAIL, TOKEN));
    let untyped = untyped.body(json!({"ticket": {"status": "open"}}).to_string());
    let response = untyped.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "no JSON content type");
    assert_eq!(sb.zd.ticket(id).unwrap().status, "new");
}

#[tokio::test]
async fn update_of_unknown_ticket_is_404() {
    let sb = sandbox().await;
    let response = sb.update(777, json!({"status": "open"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(response).await, json!({"error": "RecordNotFound", "description": "Not found"}));
}

#[tokio::test]
async fn unknown_keys_are_ignored_and_reported_in_x_zendesk_api_warn() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Warn");
    let response = sb.update(id, json!({"id": 5, "status": "pending", "colour": "red", "na\u{ef}ve\n": 1})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let warn = header(&response, "x-zendesk-api-warn").to_string();
    assert!(
        warn.contains("\"ticket.id\"") && warn.contains("\"ticket.colour\"") && warn.contains("na\\u{ef}ve\\n"),
        "{warn}"
    );
    assert_eq!(sb.zd.ticket(id).unwrap().status, "pending");
    let clean = sb.update(id, json!({"status": "open"})).await;
    assert!(clean.headers().get("x-zendesk-api-warn").is_none());
}

#[tokio::test]
async fn an_update_that_changes_nothing_does_not_bump_the_ticket() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Idle");
    sb.zd.set_status(id, "open");
    let before = sb.zd.ticket(id).unwrap();
    sb.advance(10);
    let response = sb.update(id, json!({"status": "open"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await["audit"]["events"], json!([]));
    assert_eq!(sb.zd.ticket(id).unwrap().updated_at, before.updated_at);
}

#[tokio::test]
async fn per_ticket_updates_are_limited_to_30_per_10_minutes() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Busy");
    let other = sb.customer_ticket("Quiet");
    for n in 1..=30 {
        let response = sb.update(id, json!({"comment": {"body": format!("update {n}")}})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let limit = header(&response, "zendesk-ratelimit-per-ticket-updates").to_string();
        assert!(limit.starts_with(&format!("total=30; remaining={}; resets=", 30 - n)), "{limit}");
    }
    let refused = sb.update(id, json!({"comment": {"body": "one too many"}})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=600).contains(&retry_after));
    assert_eq!(sb.zd.comments(id).len(), 31, "the refused update was not applied");
    let quiet = sb.update(other, json!({"status": "open"})).await;
    assert_eq!(quiet.status(), StatusCode::OK);
    assert!(header(&quiet, "zendesk-ratelimit-per-ticket-updates").starts_with("total=30; remaining=29; resets="));
    sb.advance(600);
    assert_eq!(sb.update(id, json!({"status": "open"})).await.status(), StatusCode::OK);
}

/// Zendesk's own example of a 429 ("Best practices for avoiding rate limiting"): plain text,
/// `Retry-After`, and nothing that names the per-ticket budget.
#[tokio::test]
async fn a_refused_ticket_update_is_zendesks_plain_text_429_without_a_per_ticket_header() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Busy");
    sb.zd.use_ticket_updates(id, 30);
    sb.advance(507);
    let refused = sb.update(id, json!({"comment": {"body": "one too many"}})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after = header(&refused, "retry-after");
    assert!(["92", "93"].contains(&retry_after), "until the ticket's ten minutes end: {retry_after}");
    assert_eq!(header(&refused, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&refused, "zendesk-ratelimit-per-ticket-updates"), "", "the 429 names no budget");
    assert_ne!(header(&refused, "x-rate-limit-remaining"), "0", "the account's budget is not what ran out");
    let text = refused.text().await.unwrap();
    assert_eq!(text, "Rate limit for ticket updates exceeded, please wait before updating this ticket again");
    sb.advance(94);
    let allowed = sb.update(id, json!({"comment": {"body": "now"}})).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(header(&allowed, "zendesk-ratelimit-per-ticket-updates").starts_with("total=30; remaining=29; resets="));
}

#[tokio::test]
async fn updates_counted_by_another_client_spend_the_same_ticket_budget() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Hot");
    sb.zd.use_ticket_updates(id, 29);
    let last = sb.update(id, json!({"comment": {"body": "the thirtieth"}})).await;
    assert_eq!(last.status(), StatusCode::OK);
    assert!(header(&last, "zendesk-ratelimit-per-ticket-updates").starts_with("total=30; remaining=0; resets="));
    let refused = sb.update(id, json!({"comment": {"body": "one too many"}})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn lost_response_on_put_applies_the_update_but_the_client_sees_an_error() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Flaky");
    sb.zd.door.faults.push(FaultRule::new(Some(Method::PUT), "/api/v2/tickets/", Fault::LoseResponse));
    let url = sb.url(&format!("/api/v2/tickets/{id}.json"));
    let body = json!({"ticket": {"status": "solved", "comment": {"body": "Fixed."}}});
    let request = sb.http.put(&url).header("authorization", basic(EMAIL, TOKEN)).json(&body);
    let outcome: Result<Value, reqwest::Error> = async { request.send().await?.json().await }.await;
    assert!(outcome.is_err(), "the client must not get a response: {outcome:?}");
    assert_eq!(sb.zd.ticket(id).unwrap().status, "solved");
    assert_eq!(sb.zd.comments(id).last().unwrap().body, "Fixed.");
    let logged = sb.zd.door.log.entries();
    assert_eq!(logged.last().unwrap().fault, Some(Fault::LoseResponse));
}

#[tokio::test]
async fn a_black_hole_never_answers_and_injected_headers_replace_the_handlers() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Lost");
    sb.zd.door.faults.push(FaultRule::new(Some(Method::GET), "/api/v2/tickets/", Fault::BlackHole));
    let url = sb.url(&format!("/api/v2/tickets/{id}.json"));
    let request = sb.http.get(&url).header("authorization", basic(EMAIL, TOKEN));
    let outcome = request.timeout(std::time::Duration::from_millis(300)).send().await;
    assert!(outcome.is_err_and(|e| e.is_timeout()), "no answer, only the client's timeout");
    assert_eq!(sb.zd.door.log.entries().last().unwrap().status, 0);

    let absurd = vec![("ratelimit-reset".to_string(), i64::MAX.to_string())];
    sb.zd.door.faults.push(FaultRule::new(Some(Method::GET), "/api/v2/tickets/", Fault::Headers(absurd)));
    let response = sb.get(&format!("/api/v2/tickets/{id}.json")).await;
    assert_eq!(response.status(), StatusCode::OK, "the handler ran");
    assert_eq!(header(&response, "ratelimit-reset"), "9223372036854775807");
}

#[tokio::test]
async fn safe_update_with_a_stale_stamp_is_409() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Race");
    let stale = "2001-01-01T00:00:00Z";
    let response = sb.update(id, json!({"status": "open", "safe_update": true, "updated_stamp": stale})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let fresh = super::super::wire::time(sb.zd.ticket(id).unwrap().updated_at);
    let response = sb.update(id, json!({"status": "open", "safe_update": true, "updated_stamp": fresh})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_required_field_refuses_solving_with_the_real_422_and_changes_nothing() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Needs a type");
    sb.zd.require_field_to_solve(12345657, "Type:");
    let before = sb.zd.comments(id).len();
    let response = sb.update(id, json!({"status": "solved", "comment": {"body": "Fixed.", "public": false}})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_of(response).await;
    assert_eq!(body["error"], json!("RecordInvalid"));
    let base = &body["details"]["base"][0];
    assert_eq!(base["ticket_field_id"], json!(12345657));
    assert_eq!(base["description"], json!("Type: is required when solving a ticket"));
    assert_eq!(sb.zd.comments(id).len(), before, "the refused update adds no comment");
    assert_ne!(sb.zd.ticket(id).unwrap().status, "solved");

    let note_only = sb.update(id, json!({"comment": {"body": "Fixed.", "public": false}})).await;
    assert_eq!(note_only.status(), StatusCode::OK, "without the status the note is taken");
    sb.zd.fill_field(id, 12345657);
    let solved = sb.update(id, json!({"status": "solved"})).await;
    assert_eq!(solved.status(), StatusCode::OK, "once the field is filled, solving works");
}

#[tokio::test]
async fn a_deleted_ticket_answers_record_not_found_and_shows_in_the_export_as_deleted() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Spam");
    let start = sb.clock.now().timestamp() - 10;
    sb.zd.delete_ticket(id);
    for response in [
        sb.get(&format!("/api/v2/tickets/{id}.json")).await,
        sb.get(&format!("/api/v2/tickets/{id}/comments.json")).await,
        sb.update(id, json!({"comment": {"body": "hello", "public": false}})).await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(response).await, json!({"error": "RecordNotFound", "description": "Not found"}));
    }
    sb.advance(120);
    let export = json_of(sb.get(&format!("/api/v2/incremental/tickets/cursor.json?start_time={start}")).await).await;
    let shown: Vec<&Value> = export["tickets"].as_array().unwrap().iter().filter(|t| t["id"] == json!(id)).collect();
    assert_eq!(shown.len(), 1, "{export}");
    assert_eq!(shown[0]["status"], json!("deleted"));
}

#[tokio::test]
async fn a_merged_ticket_is_closed_with_a_note_and_refuses_updates() {
    let sb = sandbox().await;
    let source = sb.customer_ticket("Duplicate report");
    let target = sb.customer_ticket("Original report");
    sb.zd.merge_tickets(source, target);
    assert_eq!(sb.zd.ticket(source).unwrap().status, "closed");
    assert!(sb
        .zd
        .comments(target)
        .iter()
        .any(|c| c.body.contains(&format!("Request #{source} was closed and merged"))));
    let refused = sb.update(source, json!({"comment": {"body": "note", "public": false}})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json_of(refused).await;
    assert_eq!(body["details"]["status"][0]["description"], json!("Status closed prevents ticket update"));
}

#[tokio::test]
async fn a_rewrite_serves_raw_bytes_and_an_echo_reflects_the_authorization_header() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("MARKER subject");
    let fault = Fault::Rewrite { from: "MARKER".into(), to: b"\\ud800 \xff".to_vec() };
    sb.zd.door.faults.push(FaultRule::new(Some(Method::GET), "/api/v2/tickets/", fault));
    let response = sb.get(&format!("/api/v2/tickets/{id}.json")).await;
    assert_eq!(response.status(), StatusCode::OK, "the handler ran");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.windows(8).any(|w| w == b"\\ud800 \xff"), "the raw bytes are served");
    assert!(serde_json::from_slice::<Value>(&bytes).is_err(), "and no strict reader can read them");
    assert_eq!(sb.zd.ticket(id).unwrap().subject, "MARKER subject", "the stored ticket is unchanged");

    sb.zd.door.faults.push(FaultRule::new(Some(Method::GET), "/api/v2/tickets/", Fault::EchoAuthorization(502)));
    let response = sb.get(&format!("/api/v2/tickets/{id}.json")).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.text().await.unwrap().contains(&basic(EMAIL, TOKEN)), "the header is reflected");
}
