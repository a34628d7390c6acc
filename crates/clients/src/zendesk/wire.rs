//! Zendesk JSON shapes, as far as ticket-sync reads them. Everything else in a payload is ignored;
//! every field that could be null or missing is optional, so a sparse ticket still parses.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ExportPage {
    /// Kept as raw values so one malformed ticket fails alone instead of the whole page.
    #[serde(default)]
    pub tickets: Vec<serde_json::Value>,
    pub after_cursor: Option<String>,
    #[serde(default)]
    pub end_of_stream: bool,
    #[serde(default)]
    pub organizations: Vec<WireOrganization>,
}

/// `GET /api/v2/tickets/{id}.json?include=organizations`.
#[derive(Debug, Deserialize)]
pub struct ShowTicket {
    pub ticket: serde_json::Value,
    #[serde(default)]
    pub organizations: Vec<WireOrganization>,
}

#[derive(Debug, Deserialize)]
pub struct WireTicket {
    pub id: u64,
    pub subject: Option<String>,
    pub raw_subject: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    pub organization_id: Option<u64>,
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_fields")]
    pub custom_fields: Vec<WireFieldValue>,
}

/// One `custom_fields` entry: `{"id": 123, "value": "x"}`. The value is a string, a number, a
/// boolean, a list (multi-select) or null, depending on the field's type.
#[derive(Debug, Deserialize)]
pub struct WireFieldValue {
    pub id: u64,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// Entries that do not read as `{id, value}` are dropped: an odd field never fails its ticket.
fn lenient_fields<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<WireFieldValue>, D::Error> {
    let raw: Option<Vec<serde_json::Value>> = Option::deserialize(d).unwrap_or_default();
    Ok(raw.unwrap_or_default().into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
}

/// `GET /api/v2/ticket_fields/{id}`.
#[derive(Debug, Deserialize)]
pub struct TicketFieldResponse {
    pub ticket_field: WireTicketField,
}

#[derive(Debug, Deserialize)]
pub struct WireTicketField {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct WireOrganization {
    pub id: u64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CommentsPage {
    #[serde(default)]
    pub comments: Vec<WireComment>,
    pub meta: Option<Meta>,
    /// Offset pages only: the next page's URL, `null` on the last.
    #[serde(default)]
    pub next_page: Option<String>,
    /// Side-loaded with `include=users`.
    #[serde(default)]
    pub users: Vec<WireUserName>,
}

#[derive(Debug, Deserialize)]
pub struct WireUserName {
    pub id: u64,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub has_more: bool,
    pub after_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireComment {
    pub id: u64,
    pub author_id: Option<u64>,
    pub body: Option<String>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub attachments: Vec<WireAttachment>,
    pub created_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireAttachment {
    pub file_name: Option<String>,
    pub content_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateResponse {
    pub ticket: UpdatedTicket,
    pub audit: Option<Audit>,
}

#[derive(Debug, Deserialize)]
pub struct UpdatedTicket {
    pub id: u64,
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Audit {
    #[serde(default)]
    pub events: Vec<AuditEvent>,
}

#[derive(Debug, Deserialize)]
pub struct AuditEvent {
    pub id: Option<u64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UserEnvelope {
    pub user: WireUser,
}

#[derive(Debug, Deserialize)]
pub struct WireUser {
    /// `null` for the anonymous user an unauthenticated `users/me` answers with.
    pub id: Option<u64>,
    pub role: Option<String>,
    pub email: Option<String>,
}

/// `{"error": "RecordInvalid", "description": …, "details": {field: [{description, …}]}}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub details: Option<std::collections::HashMap<String, Vec<ErrorDetail>>>,
}

#[derive(Debug, Deserialize)]
pub struct ErrorDetail {
    pub description: Option<String>,
}

/// The answer of `POST /oauth/tokens`. Only the token must be what Zendesk documents: a
/// life or a scope in another JSON type (a numeric string, a float, a list) is read as far as
/// it can be, else as not said, so a good token is never thrown away for them.
#[derive(Debug, Deserialize)]
pub struct TokenAnswer {
    /// Any JSON value, so that one of another type is refused without being repeated.
    #[serde(default)]
    pub access_token: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient_scope")]
    pub scope: Option<String>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub expires_in: Option<i64>,
}

/// Whole seconds from a number or a numeric string; anything else is no value.
fn lenient_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let secs = match &value {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64),
        _ => None,
    };
    Ok(secs)
}

/// Space-separated scopes from a string, or from a list of strings; anything else is none.
fn lenient_scope<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Array(items) => {
            Some(items.iter().filter_map(serde_json::Value::as_str).collect::<Vec<_>>().join(" "))
        }
        _ => None,
    })
}

/// An OAuth refusal: `{"error": "invalid_client", "error_description": "…"}` (RFC 6749 §5.2).
#[derive(Debug, Deserialize)]
pub struct OAuthError {
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl OAuthError {
    /// The refusal's code and description, when the body is an OAuth refusal.
    pub fn refusal(self) -> Option<(String, Option<String>)> {
        const CODES: [&str; 6] = [
            "invalid_client",
            "unauthorized_client",
            "invalid_grant",
            "invalid_scope",
            "unsupported_grant_type",
            "invalid_request",
        ];
        let code = self.error?.as_str()?.to_string();
        CODES.contains(&code.as_str()).then_some((code, self.error_description))
    }
}
