//! Tests of custom ticket fields: `GET /api/v2/ticket_fields/{id}`, the `custom_fields` /
//! `fields` lists of every ticket rendering, setting and clearing values through the update,
//! the regexp check, and an agent's edit moving the ticket in the export.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{json_of, sandbox, Sandbox};

const EXPORT: &str = "/api/v2/incremental/tickets/cursor.json";

/// The `{id, value}` entry of `field` in a rendered ticket's `custom_fields`, checking that
/// `fields` carries the same list.
fn value_in(ticket: &Value, field: u64) -> Value {
    assert_eq!(ticket["fields"], ticket["custom_fields"], "both names carry the same list");
    let list = ticket["custom_fields"].as_array().unwrap();
    let entry = list.iter().find(|e| e["id"] == json!(field)).unwrap_or_else(|| panic!("no field {field}"));
    entry["value"].clone()
}

async fn shown(sb: &Sandbox, id: u64) -> Value {
    let response = sb.get(&format!("/api/v2/tickets/{id}.json")).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_of(response).await["ticket"].clone()
}

async fn export_ids_from(sb: &Sandbox, start: i64) -> (Vec<u64>, Value) {
    let page = json_of(sb.get(&format!("{EXPORT}?start_time={start}")).await).await;
    let ids = page["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
    (ids, page)
}

#[tokio::test]
async fn ticket_field_endpoint_renders_the_field_and_404s_unknown_ids() {
    let sb = sandbox().await;
    let text = sb.zd.add_ticket_field("text", "GitHub issue");
    let pattern = r"\A[A-Z]{3}-\d+\z";
    let regexp = sb.zd.add_regexp_field("Order number", pattern);
    for path in [format!("/api/v2/ticket_fields/{text}"), format!("/api/v2/ticket_fields/{text}.json")] {
        let response = sb.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let field = json_of(response).await["ticket_field"].clone();
        assert_eq!(field["id"], json!(text));
        assert_eq!(field["type"], json!("text"));
        assert_eq!(field["title"], json!("GitHub issue"));
        assert_eq!(field["raw_title"], json!("GitHub issue"));
        assert_eq!((field["active"].clone(), field["removable"].clone()), (json!(true), json!(true)));
        assert_eq!(field["url"], json!(sb.url(&format!("/api/v2/ticket_fields/{text}.json"))));
        assert_eq!(field["regexp_for_validation"], Value::Null);
        let keys = [
            "description",
            "raw_description",
            "position",
            "required",
            "collapsed_for_agents",
            "title_in_portal",
            "raw_title_in_portal",
            "visible_in_portal",
            "editable_in_portal",
            "required_in_portal",
            "tag",
            "created_at",
            "updated_at",
            "key",
            "agent_description",
        ];
        for key in keys {
            assert!(field.get(key).is_some(), "ticket_field lacks {key}");
        }
    }
    let field = json_of(sb.get(&format!("/api/v2/ticket_fields/{regexp}.json")).await).await["ticket_field"].clone();
    assert_eq!((field["type"].clone(), field["regexp_for_validation"].clone()), (json!("regexp"), json!(pattern)));

    for path in ["/api/v2/ticket_fields/4242.json", "/api/v2/ticket_fields/4242", "/api/v2/ticket_fields/nope"] {
        let response = sb.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(json_of(response).await, json!({"error": "RecordNotFound", "description": "Not found"}));
    }
}

#[tokio::test]
async fn every_rendering_lists_each_active_field_with_null_until_set() {
    let sb = sandbox().await;
    let start = sb.clock.now().timestamp() - 3600;
    let id = sb.customer_ticket("Fields");
    let issue = sb.zd.add_ticket_field("text", "GitHub issue");
    let product = sb.zd.add_ticket_field("tagger", "Product");
    let ticket = shown(&sb, id).await;
    assert_eq!(ticket["custom_fields"], json!([{"id": issue, "value": null}, {"id": product, "value": null}]));
    assert_eq!(value_in(&ticket, issue), Value::Null);

    sb.advance(61);
    let (ids, page) = export_ids_from(&sb, start).await;
    assert_eq!(ids, [id]);
    assert_eq!(value_in(&page["tickets"][0], product), Value::Null);

    let response = sb.update(id, json!({"custom_fields": [{"id": issue, "value": "acme/support#7"}]})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = json_of(response).await;
    assert_eq!(value_in(&answer["ticket"], issue), json!("acme/support#7"));
    assert_eq!(value_in(&answer["ticket"], product), Value::Null);
}

#[tokio::test]
async fn update_sets_and_clears_values_and_counts_as_a_change() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Set me");
    let issue = sb.zd.add_ticket_field("text", "GitHub issue");
    let count = sb.zd.add_ticket_field("integer", "Affected users");
    let before = sb.zd.ticket(id).unwrap();
    sb.advance(5);
    let set = json!({"custom_fields": [{"id": issue, "value": "acme/support#7"}, {"id": count, "value": 12}]});
    let response = sb.update(id, set).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(value_in(&body["ticket"], count), json!("12"), "numbers are stored as their string form");
    let events = body["audit"]["events"].as_array().unwrap();
    let change = events.iter().find(|e| e["field_name"] == json!(issue.to_string())).unwrap();
    assert_eq!((change["value"].clone(), change["previous_value"].clone()), (json!("acme/support#7"), Value::Null));
    assert_eq!(sb.zd.field_value(id, issue).as_deref(), Some("acme/support#7"));
    assert_eq!(sb.zd.field_value(id, count).as_deref(), Some("12"));
    let after = sb.zd.ticket(id).unwrap();
    assert!(after.updated_at > before.updated_at);
    assert!(after.generated_timestamp >= before.generated_timestamp + 5, "the change re-enters the export");
    assert_eq!(value_in(&shown(&sb, id).await, issue), json!("acme/support#7"));

    sb.advance(5);
    let same = sb.update(id, json!({"custom_fields": [{"id": issue, "value": "acme/support#7"}]})).await;
    assert_eq!(same.status(), StatusCode::OK);
    assert_eq!(sb.zd.ticket(id).unwrap().updated_at, after.updated_at, "an unchanged value is no change");

    sb.advance(5);
    let clear = json!({"custom_fields": [{"id": issue, "value": null}, {"id": count, "value": ""}]});
    assert_eq!(sb.update(id, clear).await.status(), StatusCode::OK);
    assert_eq!((sb.zd.field_value(id, issue), sb.zd.field_value(id, count)), (None, None));
    assert!(sb.zd.ticket(id).unwrap().updated_at > after.updated_at);
    let ticket = shown(&sb, id).await;
    assert_eq!((value_in(&ticket, issue), value_in(&ticket, count)), (Value::Null, Value::Null));
}

#[tokio::test]
async fn unknown_field_ids_are_ignored_silently() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Unknown field");
    let issue = sb.zd.add_ticket_field("text", "GitHub issue");
    let before = sb.zd.ticket(id).unwrap();
    sb.advance(5);
    let response = sb.update(id, json!({"custom_fields": [{"id": 987654321, "value": "x"}]})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-zendesk-api-warn").is_none());
    let body = json_of(response).await;
    assert_eq!(body["ticket"]["custom_fields"], json!([{"id": issue, "value": null}]));
    assert_eq!(sb.zd.field_value(id, 987654321), None);
    assert_eq!(sb.zd.ticket(id).unwrap().updated_at, before.updated_at, "nothing changed");

    let mixed = json!({"custom_fields": [{"id": 987654321, "value": "x"}, {"id": issue, "value": "acme/support#1"}]});
    assert_eq!(sb.update(id, mixed).await.status(), StatusCode::OK);
    assert_eq!(sb.zd.field_value(id, issue).as_deref(), Some("acme/support#1"));
}

#[tokio::test]
async fn a_regexp_mismatch_is_422_and_applies_nothing_of_the_update() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Order");
    let order = sb.zd.add_regexp_field("Order number", r"\A[A-Z]{3}-\d+\z");
    let note = sb.zd.add_ticket_field("text", "Note");
    sb.zd.set_tags(id, &["keep"]);
    let before = sb.zd.ticket(id).unwrap();
    let comments = sb.zd.comments(id).len();
    sb.advance(5);
    let update = json!({
        "status": "open",
        "tags": ["changed"],
        "comment": {"body": "Looked it up.", "public": false},
        "custom_fields": [{"id": note, "value": "set"}, {"id": order, "value": "not an order"}],
    });
    let response = sb.update(id, update).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let expected = json!({
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"base": [{"description": "Order number is invalid", "error": "InvalidValue", "field_key": order}]},
    });
    assert_eq!(json_of(response).await, expected);
    let after = sb.zd.ticket(id).unwrap();
    assert_eq!((after.status.as_str(), after.tags.clone()), (before.status.as_str(), vec!["keep".to_string()]));
    assert_eq!(after.updated_at, before.updated_at);
    assert_eq!(sb.zd.comments(id).len(), comments, "the comment was not added");
    assert_eq!((sb.zd.field_value(id, note), sb.zd.field_value(id, order)), (None, None));

    let good = sb.update(id, json!({"custom_fields": [{"id": order, "value": "ABC-123"}]})).await;
    assert_eq!(good.status(), StatusCode::OK);
    assert_eq!(sb.zd.field_value(id, order).as_deref(), Some("ABC-123"));
    let cleared = sb.update(id, json!({"custom_fields": [{"id": order, "value": ""}]})).await;
    assert_eq!(cleared.status(), StatusCode::OK, "clearing is not checked against the regexp");
    assert_eq!(sb.zd.field_value(id, order), None);
}

#[tokio::test]
async fn an_agent_setting_a_field_moves_the_ticket_in_the_export() {
    let sb = sandbox().await;
    let start = sb.clock.now().timestamp() - 3600;
    let quiet = sb.customer_ticket("Quiet");
    let edited = sb.customer_ticket("Edited");
    let issue = sb.zd.add_ticket_field("text", "GitHub issue");
    sb.advance(61);
    let (ids, first) = export_ids_from(&sb, start).await;
    assert_eq!(ids, [quiet, edited]);
    let cursor: String =
        url::form_urlencoded::byte_serialize(first["after_cursor"].as_str().unwrap().as_bytes()).collect();

    let before = sb.zd.ticket(quiet).unwrap();
    sb.advance(10);
    sb.zd.set_field(quiet, issue, Some("acme/support#9"));
    assert_eq!(sb.zd.field_value(quiet, issue).as_deref(), Some("acme/support#9"));
    let after = sb.zd.ticket(quiet).unwrap();
    assert!(after.updated_at > before.updated_at && after.generated_timestamp > before.generated_timestamp);
    sb.advance(61);
    let page = json_of(sb.get(&format!("{EXPORT}?cursor={cursor}")).await).await;
    let ids: Vec<u64> = page["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [quiet], "only the edited ticket shows again");
    assert_eq!(value_in(&page["tickets"][0], issue), json!("acme/support#9"));

    sb.zd.set_field(quiet, issue, None);
    assert_eq!(sb.zd.field_value(quiet, issue), None);
    assert_eq!(sb.zd.tags(quiet), sb.zd.ticket(quiet).unwrap().tags);
    assert!(sb.zd.tags(4242).is_empty());
}

#[tokio::test]
async fn a_required_field_set_in_the_same_update_lets_the_ticket_be_solved() {
    let sb = sandbox().await;
    let id = sb.customer_ticket("Needs a type");
    let kind = sb.zd.add_ticket_field("tagger", "Type:");
    sb.zd.require_field_to_solve(kind, "Type:");
    let refused = sb.update(id, json!({"status": "solved", "custom_fields": [{"id": kind, "value": null}]})).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let solved = sb.update(id, json!({"status": "solved", "custom_fields": [{"id": kind, "value": "bug"}]})).await;
    assert_eq!(solved.status(), StatusCode::OK);
    assert_eq!(sb.zd.ticket(id).unwrap().status, "solved");
    assert_eq!(sb.zd.field_value(id, kind).as_deref(), Some("bug"));
}
