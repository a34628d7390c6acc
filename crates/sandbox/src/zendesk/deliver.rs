//! Webhook deliveries of the fake Zendesk: a trigger ("Ticket is Created" or "Ticket is
//! Updated") with a "Notify webhook" action, or a ticket event webhook, fired by every change
//! of a ticket, through the API (the daemon's own updates included) or a test helper.
//!
//! Each delivery is signed as Zendesk signs: `X-Zendesk-Webhook-Signature` =
//! base64(HMAC-SHA256(secret, timestamp + body)), the timestamp being the sandbox clock's now in
//! `X-Zendesk-Webhook-Signature-Timestamp`.
//!
//! - FACTS (developer.zendesk.com, "Anatomy of a webhook request"): every request carries
//!   `x-zendesk-account-id`, `x-zendesk-webhook-id` (a ULID-like id),
//!   `x-zendesk-webhook-invocation-id` (a number) and the two signature headers; the
//!   `User-Agent: Zendesk Webhook` is from a third party's example delivery (prismatic.io).
//! - FACTS (developer.zendesk.com, "Webhook event types" and "Ticket events"; prismatic.io's
//!   example): a ticket event's body is `{type, account_id, id, time, zendesk_event_version:
//!   "2022-11-06", subject: "zen:ticket:<id>", detail, event}`; `detail` holds exactly the
//!   properties `detail` builds below, ids as strings; `event` has `meta.sequence {id,
//!   position}`: "A single action can trigger a sequence of events. Events with the same
//!   sequence id were triggered by the same action", so one update sends one event per kind of
//!   change.
//! - ASSUMED (searched Zendesk's webhook and trigger docs and public receivers' code; the
//!   receivers disagree): each kind's own properties (`status_changed` and the like →
//!   `{current, previous}`, upper-case; `tags_changed` → `{tags: {added, removed}}`;
//!   `comment_added` → `{comment: {id, body, is_public, author: {id}}}`;
//!   `custom_field_changed` → `{custom_field: {id}, current, previous}`; `created` and
//!   `soft_deleted` → nothing more); `detail`'s status, priority and type upper-case (one
//!   receiver's code says event webhooks send `OPEN`; prismatic.io's example shows `Open`). The
//!   daemon reads only `type` and `detail.id`.
//! - ASSUMED (searched the placeholders docs; no recorded trigger body found): a trigger's body
//!   is whatever the admin wrote; `{"ticket_id": "{{ticket.id}}"}` renders the id as a string,
//!   `{"ticket_id": {{ticket.id}}}` as a number. A trigger fires once per update: one delivery
//!   named after the most telling change (created, soft_deleted, status, comment, tags,
//!   subject, priority, type, external id, custom field).
//! - A change that touches nothing sends nothing (a no-op update makes no audit and fires no
//!   trigger).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::routes::Shared;
use super::state::{Store, Ticket};
use crate::hooks::{guid, zendesk_signature, Delivery};

/// What a delivery's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZendeskHookBody {
    /// A trigger's body `{"ticket_id": "{{ticket.id}}"}`: `{"ticket_id": "123"}`.
    #[default]
    TriggerString,
    /// A trigger's body `{"ticket_id": {{ticket.id}}}`: `{"ticket_id": 123}`.
    TriggerNumber,
    /// A ticket event webhook (`zen:event-type:ticket.*`).
    EventWebhook,
}

/// The parts of a ticket whose change fires a delivery.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Snapshot {
    status: String,
    subject: String,
    priority: Option<String>,
    ticket_type: Option<String>,
    external_id: Option<String>,
    tags: Vec<String>,
    comments: usize,
    custom_fields: BTreeMap<u64, Option<String>>,
}

impl Snapshot {
    fn of(t: &Ticket) -> Self {
        Snapshot {
            status: t.status.clone(),
            subject: t.subject.clone(),
            priority: t.priority.clone(),
            ticket_type: t.ticket_type.clone(),
            external_id: t.external_id.clone(),
            tags: t.tags.clone(),
            comments: t.comments.len(),
            custom_fields: t.custom_fields.clone(),
        }
    }
}

/// The sandbox account's id, in event bodies and the `X-Zendesk-Account-Id` header.
const ACCOUNT_ID: u64 = 1;

fn upper(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| json!(s.to_uppercase()))
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Each kind of change with its `event` object, the most telling first; empty when nothing
/// changed.
fn changes(before: Option<&Snapshot>, t: &Ticket) -> Vec<(&'static str, Value)> {
    let Some(b) = before else {
        return vec![("created", json!({}))];
    };
    let a = Snapshot::of(t);
    if a.status == "deleted" && b.status != "deleted" {
        return vec![("soft_deleted", json!({}))];
    }
    let cur_prev = |current: Value, previous: Value| json!({"current": current, "previous": previous});
    let mut out = Vec::new();
    if a.status != b.status {
        out.push(("status_changed", cur_prev(json!(a.status.to_uppercase()), json!(b.status.to_uppercase()))));
    }
    if a.comments > b.comments {
        let c = t.comments.last().expect("a comment was added");
        let comment = json!({
            "id": c.id.to_string(), "body": c.body, "is_public": c.public,
            "author": {"id": c.author_id.to_string()},
        });
        out.push(("comment_added", json!({ "comment": comment })));
    }
    if a.tags != b.tags {
        let added: Vec<&String> = a.tags.iter().filter(|x| !b.tags.contains(x)).collect();
        let removed: Vec<&String> = b.tags.iter().filter(|x| !a.tags.contains(x)).collect();
        out.push(("tags_changed", json!({"tags": {"added": added, "removed": removed}})));
    }
    if a.subject != b.subject {
        out.push(("subject_changed", cur_prev(json!(a.subject), json!(b.subject))));
    }
    if a.priority != b.priority {
        out.push(("priority_changed", cur_prev(upper(&a.priority), upper(&b.priority))));
    }
    if a.ticket_type != b.ticket_type {
        out.push(("type_changed", cur_prev(upper(&a.ticket_type), upper(&b.ticket_type))));
    }
    if a.external_id != b.external_id {
        out.push(("external_id_changed", cur_prev(json!(a.external_id), json!(b.external_id))));
    }
    for (id, value) in a.custom_fields.iter().filter(|(id, v)| b.custom_fields.get(id) != Some(v)) {
        let previous = b.custom_fields.get(id).cloned().flatten();
        let event = json!({"custom_field": {"id": id.to_string()}, "current": value, "previous": previous});
        out.push(("custom_field_changed", event));
    }
    out
}

/// An action's sequence id, as Zendesk writes them (32 upper-case hex digits).
fn sequence_id() -> String {
    format!("{:032X}", rand::random::<u128>())
}

/// The `detail` of a ticket event: the ticket, ids as strings.
fn detail(t: &Ticket, actor_id: u64) -> Value {
    json!({
        "actor_id": actor_id.to_string(),
        "assignee_id": null,
        "brand_id": null,
        "created_at": ts(t.created_at),
        "custom_status": null,
        "description": t.description,
        "external_id": t.external_id,
        "form_id": null,
        "group_id": null,
        "id": t.id.to_string(),
        "is_public": true,
        "organization_id": t.organization_id.map(|o| o.to_string()),
        "priority": upper(&t.priority),
        "requester_id": t.requester_id.to_string(),
        "status": t.status.to_uppercase(),
        "subject": t.subject,
        "submitter_id": t.submitter_id.to_string(),
        "tags": t.tags,
        "type": upper(&t.ticket_type),
        "updated_at": ts(t.updated_at),
        "via": {"channel": "web_service"},
    })
}

impl Shared {
    /// The ticket as it is before a change, if a webhook is set (else nothing is sent).
    pub(super) fn watch(&self, store: &Store, id: u64) -> Option<Snapshot> {
        self.outbox.target()?;
        store.tickets.get(&id).map(Snapshot::of)
    }

    /// After a change of ticket `id`, made by user `actor_id`: its deliveries, if it changed.
    pub(super) fn deliver_update(&self, store: &Store, id: u64, before: Option<Snapshot>, actor_id: u64) {
        if let Some(before) = before {
            self.deliver(store, id, Some(&before), actor_id);
        }
    }

    /// After ticket `id` was created by user `actor_id`.
    pub(super) fn deliver_created(&self, store: &Store, id: u64, actor_id: u64) {
        self.deliver(store, id, None, actor_id);
    }

    fn deliver(&self, store: &Store, id: u64, before: Option<&Snapshot>, actor_id: u64) {
        let Some(ticket) = store.tickets.get(&id) else {
            return;
        };
        let changes = changes(before, ticket);
        let Some((first, _)) = changes.first() else {
            return;
        };
        let style = *self.hook_body.lock().unwrap();
        match style {
            ZendeskHookBody::TriggerString => self.send(first, json!({"ticket_id": id.to_string()})),
            ZendeskHookBody::TriggerNumber => self.send(first, json!({"ticket_id": id})),
            ZendeskHookBody::EventWebhook => {
                let sequence = sequence_id();
                for (position, (kind, mut event)) in changes.into_iter().enumerate() {
                    event["meta"] = json!({"sequence": {"id": sequence, "position": position + 1}});
                    let body = json!({
                        "type": format!("zen:event-type:ticket.{kind}"),
                        "account_id": ACCOUNT_ID,
                        "id": guid(),
                        "time": self.clock.now().to_rfc3339_opts(SecondsFormat::Nanos, true),
                        "zendesk_event_version": "2022-11-06",
                        "subject": format!("zen:ticket:{id}"),
                        "detail": detail(ticket, actor_id),
                        "event": event,
                    });
                    self.send(kind, body);
                }
            }
        }
    }

    /// Signs and sends one delivery of change `kind` to the webhook, if one is set.
    fn send(&self, kind: &str, body: Value) {
        let Some(target) = self.outbox.target() else {
            return;
        };
        let body = serde_json::to_vec(&body).expect("JSON serializes");
        let timestamp = ts(self.clock.now());
        let invocation = (rand::random::<u64>() % 9_000_000_000_000 + 1_000_000_000_000).to_string();
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("User-Agent".to_string(), "Zendesk Webhook".to_string()),
            ("X-Zendesk-Account-Id".to_string(), ACCOUNT_ID.to_string()),
            ("X-Zendesk-Webhook-Id".to_string(), target.id.clone()),
            ("X-Zendesk-Webhook-Invocation-Id".to_string(), invocation.clone()),
            ("X-Zendesk-Webhook-Signature-Timestamp".to_string(), timestamp.clone()),
            ("X-Zendesk-Webhook-Signature".to_string(), zendesk_signature(&target.secret, &timestamp, &body)),
        ];
        self.outbox.dispatch(Delivery {
            id: invocation,
            event: format!("zen:event-type:ticket.{kind}"),
            action: kind.to_string(),
            url: target.url,
            headers,
            body,
        });
    }
}

/// A ULID-like webhook id (26 Crockford base-32 characters starting with `01`).
pub(super) fn webhook_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n: u128 = rand::random();
    let mut out = String::from("01");
    for _ in 0..24 {
        out.push(ALPHABET[(n % 32) as usize] as char);
        n /= 32;
    }
    out
}
