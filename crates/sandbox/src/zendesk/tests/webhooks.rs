//! Webhook deliveries of the fake Zendesk (a trigger's "Notify webhook" action, or a ticket
//! event webhook), received by a tiny local server: signed deliveries for every ticket change,
//! the daemon's own API updates included (a trigger's one per update, an event webhook's one
//! per kind of change).

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{sandbox, Sandbox};
use crate::hooks::receiver::{logged, Received, Receiver};
use crate::ZendeskHookBody;

const SECRET: &str = "zd-signing-secret";

/// What a receiver computes: base64(HMAC-SHA256(key = secret bytes, timestamp + raw body)).
fn expected_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The construction against `zendesk/webhook-signature.test-vector.computed.json`.
#[test]
fn the_signature_construction_matches_the_test_vector() {
    let secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
    let (timestamp, body) = ("2021-03-25T05:09:27Z", r#"{"event":"ticket.updated","id":123}"#);
    let expected = "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM=";
    assert_eq!(expected_signature(secret, timestamp, body.as_bytes()), expected);
    assert_eq!(crate::hooks::zendesk_signature(secret, timestamp, body.as_bytes()), expected);
}

async fn hooked() -> (Sandbox, Receiver) {
    let s = sandbox().await;
    let rx = Receiver::start().await;
    s.zd.set_webhook(&rx.url("zendesk"), SECRET);
    (s, rx)
}

fn assert_zendesk_delivery(r: &Received) {
    assert_eq!(r.path, "/webhooks/zendesk");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("user-agent"), "Zendesk Webhook");
    assert_eq!(r.header("x-zendesk-account-id"), "1");
    assert!(!r.header("x-zendesk-webhook-id").is_empty());
    assert!(r.header("x-zendesk-webhook-invocation-id").parse::<u64>().is_ok());
    let timestamp = r.header("x-zendesk-webhook-signature-timestamp");
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap();
    assert!(re.is_match(timestamp), "{timestamp}");
    assert_eq!(r.header("x-zendesk-webhook-signature"), expected_signature(SECRET, timestamp, &r.body));
}

#[tokio::test]
async fn an_api_update_fires_one_signed_trigger_delivery() {
    let s = sandbox().await;
    let id = s.customer_ticket("Cannot log in");
    let rx = Receiver::start().await;
    s.zd.set_webhook(&rx.url("zendesk"), SECRET);
    // The sandbox clock is a day ahead of real time: the timestamp is the sandbox's now.
    s.advance(86_400);
    let resp = s.update(id, json!({"status": "open"})).await;
    assert_eq!(resp.status(), 200);
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "exactly one delivery");
    assert_zendesk_delivery(&got[0]);
    assert_eq!(got[0].json(), json!({"ticket_id": id.to_string()}));
    let stamped = chrono::DateTime::parse_from_rfc3339(got[0].header("x-zendesk-webhook-signature-timestamp")).unwrap();
    assert!((s.clock.now() - stamped.with_timezone(&chrono::Utc)).num_seconds().abs() < 30);
    let log = logged(|| s.zd.deliveries(), 1).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].id, got[0].header("x-zendesk-webhook-invocation-id"));
    assert_eq!(log[0].event, "zen:event-type:ticket.status_changed");
    assert_eq!((log[0].action.as_str(), log[0].status), ("status_changed", Some(200)));
    // A no-op update makes no audit and fires nothing.
    assert_eq!(s.update(id, json!({"status": "open"})).await.status(), 200);
    assert_eq!(rx.settle().await.len(), 1);
    // A trigger fires once per update, however many kinds of change it makes.
    assert_eq!(s.update(id, json!({"status": "pending", "tags": ["waiting"]})).await.status(), 200);
    assert_eq!(rx.settle().await.len(), 2);
}

#[tokio::test]
async fn helper_changes_fire_too() {
    let (s, rx) = hooked().await;
    let id = s.customer_ticket("Broken");
    let field = s.zd.add_ticket_field("text", "Severity");
    s.zd.set_tags(id, &["escalated"]);
    s.zd.set_status(id, "pending");
    s.zd.add_public_comment(id, s.zd.bot_user_id(), "We are on it.");
    s.zd.set_field(id, field, Some("high"));
    s.zd.delete_ticket(id);
    let log = logged(|| s.zd.deliveries(), 6).await;
    let got = rx.wait_for(6).await;
    assert_eq!(got.len(), 6);
    got.iter().for_each(assert_zendesk_delivery);
    assert!(got.iter().all(|r| r.json() == json!({"ticket_id": id.to_string()})));
    let mut actions: Vec<&str> = log.iter().map(|d| d.action.as_str()).collect();
    actions.sort();
    let expected =
        ["comment_added", "created", "custom_field_changed", "soft_deleted", "status_changed", "tags_changed"];
    assert_eq!(actions, expected);
}

#[tokio::test]
async fn a_merge_fires_for_both_tickets() {
    let (s, rx) = hooked().await;
    let a = s.customer_ticket("One");
    let b = s.customer_ticket("Two");
    rx.wait_for(2).await;
    s.zd.merge_tickets(a, b);
    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let mut ids: Vec<String> = got[2..].iter().map(|r| r.json()["ticket_id"].as_str().unwrap().to_string()).collect();
    ids.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn the_number_body_style_renders_the_id_as_a_number() {
    let (s, rx) = hooked().await;
    s.zd.set_webhook_body_style(ZendeskHookBody::TriggerNumber);
    let id = s.customer_ticket("Numbers");
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_zendesk_delivery(&got[0]);
    assert_eq!(got[0].json(), json!({ "ticket_id": id }));
}

/// FACTS (developer.zendesk.com, "Ticket events"): "A single action can trigger a sequence of
/// events"; each carries `event.meta.sequence {id, position}`, the same id for one action.
#[tokio::test]
async fn the_event_webhook_style_sends_one_ticket_event_per_kind_of_change() {
    let (s, rx) = hooked().await;
    s.zd.set_webhook_body_style(ZendeskHookBody::EventWebhook);
    let id = s.customer_ticket("Events");
    rx.wait_for(1).await;
    assert_eq!(s.update(id, json!({"status": "open", "tags": ["escalated"]})).await.status(), 200);
    let got = rx.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let kinds: Vec<String> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_string()).collect();
    for kind in ["created", "status_changed", "tags_changed"] {
        assert!(kinds.contains(&format!("zen:event-type:ticket.{kind}")), "{kinds:?}");
    }
    let of_update: Vec<_> =
        got.iter().map(Received::json).filter(|p| p["type"] != "zen:event-type:ticket.created").collect();
    let sequences: Vec<&Value> = of_update.iter().map(|p| &p["event"]["meta"]["sequence"]["id"]).collect();
    assert_eq!(sequences[0], sequences[1], "one action, one sequence");
    assert_eq!(sequences[0].as_str().unwrap().len(), 32);
    let mut positions: Vec<u64> =
        of_update.iter().map(|p| p["event"]["meta"]["sequence"]["position"].as_u64().unwrap()).collect();
    positions.sort();
    assert_eq!(positions, [1, 2]);
    let tags = of_update.iter().find(|p| p["type"] == "zen:event-type:ticket.tags_changed").unwrap();
    assert_eq!(tags["event"]["tags"], json!({"added": ["escalated"], "removed": []}));
    let created = got.iter().map(Received::json).find(|p| p["type"] == "zen:event-type:ticket.created").unwrap();
    assert_eq!(created["detail"]["status"], "NEW");
    let changed = got.iter().find(|r| r.json()["type"] == "zen:event-type:ticket.status_changed").unwrap();
    assert_zendesk_delivery(changed);
    let p = changed.json();
    assert_eq!(p["zendesk_event_version"], "2022-11-06");
    assert_eq!(p["account_id"], 1);
    assert_eq!(p["subject"], format!("zen:ticket:{id}"));
    assert_eq!(p["detail"]["id"], id.to_string());
    assert_eq!(p["detail"]["status"], "OPEN");
    assert_eq!(p["detail"]["tags"], json!(["escalated"]));
    assert_eq!(p["detail"]["actor_id"], s.zd.bot_user_id().to_string());
    assert_eq!((&p["event"]["current"], &p["event"]["previous"]), (&json!("OPEN"), &json!("NEW")));
    assert_eq!(p["id"].as_str().unwrap().len(), 36);
    assert!(chrono::DateTime::parse_from_rfc3339(p["time"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn paused_deliveries_are_lost() {
    let (s, rx) = hooked().await;
    s.zd.set_webhook_paused(true);
    let id = s.customer_ticket("Lost");
    assert_eq!(s.zd.deliveries().len(), 1);
    assert_eq!(s.zd.deliveries()[0].status, None);
    assert!(rx.settle().await.is_empty());
    s.zd.set_webhook_paused(false);
    s.zd.set_status(id, "open");
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let log = logged(|| s.zd.deliveries(), 2).await;
    assert_eq!(log[1].status, Some(200));
}

#[tokio::test]
async fn without_a_webhook_nothing_is_sent() {
    let (s, rx) = hooked().await;
    s.zd.clear_webhook();
    let id = s.customer_ticket("Quiet");
    s.zd.set_status(id, "open");
    assert!(rx.settle().await.is_empty());
    assert!(s.zd.deliveries().is_empty());
}
