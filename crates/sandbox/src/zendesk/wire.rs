//! JSON shapes of the fake Zendesk: tickets, users, organizations, comments, and the
//! Zendesk-style error bodies. Renders the full field sets the real API sends, so clients
//! are tested against realistic payloads rather than the few fields they read.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::fields::Fields;
use super::state::{Attachment, Comment, Organization, Ticket, User};

/// Zendesk's timestamp format: ISO 8601, UTC, whole seconds, `Z` suffix.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn via(channel: &str) -> Value {
    json!({"channel": channel, "source": {"from": {}, "to": {}, "rel": null}})
}

/// A ticket with its values for every active custom field of the account (`fields`).
pub(super) fn ticket(t: &Ticket, fields: &Fields, base: &str) -> Value {
    let custom_fields = super::fields::ticket_values(t, fields);
    json!({
        "url": format!("{base}/api/v2/tickets/{}.json", t.id),
        "id": t.id,
        "external_id": t.external_id,
        "via": via("web"),
        "created_at": time(t.created_at),
        "updated_at": time(t.updated_at),
        "generated_timestamp": t.generated_timestamp,
        "type": t.ticket_type,
        "subject": t.subject,
        "raw_subject": t.subject,
        "description": t.description,
        "priority": t.priority,
        "status": t.status,
        "recipient": null,
        "requester_id": t.requester_id,
        "submitter_id": t.submitter_id,
        "assignee_id": null,
        "organization_id": t.organization_id,
        "group_id": null,
        "collaborator_ids": [],
        "follower_ids": [],
        "email_cc_ids": [],
        "forum_topic_id": null,
        "problem_id": null,
        "has_incidents": false,
        "is_public": t.comments.iter().any(|c| c.public),
        "due_at": null,
        "tags": t.tags,
        // The real API sends the same list under both names.
        "fields": custom_fields,
        "custom_fields": custom_fields,
        "satisfaction_rating": null,
        "sharing_agreement_ids": [],
        "custom_status_id": null,
        "encoded_id": encoded_id(t.id),
        "followup_ids": [],
        "ticket_form_id": null,
        "brand_id": null,
        "allow_channelback": false,
        "allow_attachments": true,
        "from_messaging_channel": false,
    })
}

/// The short reference shown to customers in emails, e.g. `E7K2QV-9Z4N`.
fn encoded_id(id: u64) -> String {
    let digest = Sha256::digest(id.to_be_bytes());
    let alphabet = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let chars: String = digest[..10].iter().map(|b| alphabet[(*b as usize) % alphabet.len()] as char).collect();
    format!("{}-{}", &chars[..6], &chars[6..])
}

pub(super) fn user(u: &User, base: &str) -> Value {
    json!({
        "id": u.id,
        "url": format!("{base}/api/v2/users/{}.json", u.id),
        "name": u.name,
        "email": u.email,
        "created_at": time(u.created_at),
        "updated_at": time(u.created_at),
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": null,
        "shared_phone_number": null,
        "photo": null,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": u.organization_id,
        "role": u.role,
        "verified": true,
        "external_id": null,
        "tags": [],
        "alias": null,
        "active": true,
        "shared": false,
        "shared_agent": false,
        "last_login_at": null,
        "two_factor_auth_enabled": false,
        "signature": null,
        "details": null,
        "notes": null,
        "role_type": null,
        "custom_role_id": null,
        "moderator": u.role == "admin",
        "ticket_restriction": if u.role == "end-user" { json!("requested") } else { Value::Null },
        "only_private_comments": false,
        "restricted_agent": false,
        "suspended": false,
        "default_group_id": null,
        "report_csv": u.role == "admin",
        "user_fields": {},
    })
}

pub(super) fn organization(o: &Organization, base: &str) -> Value {
    json!({
        "url": format!("{base}/api/v2/organizations/{}.json", o.id),
        "id": o.id,
        "name": o.name,
        "shared_tickets": false,
        "shared_comments": false,
        "external_id": null,
        "created_at": time(o.created_at),
        "updated_at": time(o.created_at),
        "domain_names": [],
        "details": null,
        "notes": null,
        "group_id": null,
        "tags": [],
        "organization_fields": {},
    })
}

pub(super) fn comment(c: &Comment, base: &str) -> Value {
    let attachments: Vec<Value> = c.attachments.iter().map(|a| attachment(a, base)).collect();
    json!({
        "id": c.id,
        "type": "Comment",
        "author_id": c.author_id,
        "body": c.body,
        "html_body": c.html_body,
        "plain_body": c.body,
        "public": c.public,
        "attachments": attachments,
        "audit_id": c.audit_id,
        "via": via(c.channel),
        "created_at": time(c.created_at),
        "metadata": {
            "system": {"client": "ticket-sync sandbox", "ip_address": "127.0.0.1", "location": "Loopback"},
            "custom": {},
        },
    })
}

fn attachment(a: &Attachment, base: &str) -> Value {
    // Real content URLs carry an opaque token; derive a stable one from the id.
    let token: String = Sha256::digest(a.id.to_be_bytes())[..12].iter().map(|b| format!("{b:02x}")).collect();
    let content_url = format!("{base}/attachments/token/{token}/?name={}", a.file_name);
    json!({
        "id": a.id,
        "url": format!("{base}/api/v2/attachments/{}.json", a.id),
        "file_name": a.file_name,
        "content_url": content_url,
        "mapped_content_url": content_url,
        "content_type": a.content_type,
        "size": a.size,
        "width": null,
        "height": null,
        "inline": false,
        "deleted": false,
        "malware_access_override": false,
        "malware_scan_result": "malware_not_found",
        "thumbnails": [],
    })
}

/// The HTML Zendesk stores for a plain-text comment.
pub(super) fn text_to_html(text: &str) -> String {
    let escaped = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let paragraphs: Vec<String> =
        escaped.split("\n\n").map(|p| format!("<p>{}</p>", p.replace('\n', "<br>"))).collect();
    format!("<div class=\"zd-comment\" dir=\"auto\">{}</div>", paragraphs.concat())
}

/// The plain text Zendesk derives from an `html_body` comment.
pub(super) fn html_to_text(html: &str) -> String {
    let breaks = regex::Regex::new(r"(?i)<br\s*/?>|</p>").expect("static regex");
    let tags = regex::Regex::new(r"<[^>]*>").expect("static regex");
    let text = breaks.replace_all(html, "\n");
    let text = tags.replace_all(&text, "");
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .trim()
        .to_string()
}

/// A Zendesk error: `{"error": Type, "description": text, "details"?: {...}}`.
#[derive(Debug)]
pub(super) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, description: &str) -> Self {
        ApiError { status, body: json!({"error": error, "description": description}) }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "RecordNotFound", "Not found")
    }

    pub fn invalid_endpoint() -> Self {
        Self::new(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found")
    }

    pub fn unauthorized() -> Self {
        ApiError { status: StatusCode::UNAUTHORIZED, body: json!({"error": "Couldn't authenticate you"}) }
    }

    pub fn bad_pagination(description: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidPaginationParameter", description)
    }

    /// `422 RecordInvalid` with per-field details, e.g. `{"status": [{"description": ...}]}`.
    pub fn record_invalid(details: Map<String, Value>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({
                "error": "RecordInvalid",
                "description": "Record validation errors",
                "details": details,
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// JSON with the `charset` parameter Zendesk always sends.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// Zendesk's 429: a plain-text body (clients must not expect JSON) and `Retry-After`.
pub(super) fn too_many_requests(retry_after_secs: u64) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
    response
}

/// The 429 of a ticket whose update budget is spent, as Zendesk's own example shows it
/// ("Best practices for avoiding rate limiting"): `text/html`, `Retry-After`, a plain-text
/// sentence, and no header naming the per-ticket budget.
pub(super) fn ticket_updates_exceeded(retry_after_secs: u64) -> Response {
    let text = "Rate limit for ticket updates exceeded, please wait before updating this ticket again";
    let mut response = (StatusCode::TOO_MANY_REQUESTS, text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
    response
}

/// The refusal of a role or plan that may not use an endpoint (real bodies: zenpy#336 for a
/// non-admin agent, tap-zendesk for a plan without the feature): the `error` is an object.
/// ASSUMED: the incremental export refuses a non-admin with this same body; searched
/// dust-tt/dust#8860, kafka-docker-playground#961 and the Zendesk clients' trackers: the 403 is
/// reported, its body never shown.
pub(super) fn no_access_to_this_page() -> Response {
    let body = json!({"error": {
        "title": "Forbidden",
        "message": "You do not have access to this page. Please contact the account owner of this help desk for further help.",
    }});
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_escaped_into_html_and_html_is_stripped_to_text() {
        let html = text_to_html("a < b\n\nline one\nline two");
        assert_eq!(html, "<div class=\"zd-comment\" dir=\"auto\"><p>a &lt; b</p><p>line one<br>line two</p></div>");
        assert_eq!(html_to_text("<p>Fixed &amp; shipped</p>"), "Fixed & shipped");
    }
}
