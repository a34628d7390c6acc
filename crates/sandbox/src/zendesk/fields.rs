//! Custom ticket fields: the account's field definitions, their `ticket_field` JSON, how a
//! ticket renders its values (`custom_fields` / `fields`), and how an update's
//! `custom_fields` list is read and validated.
//!
//! ASSUMED: Zendesk ignores an entry of `custom_fields` whose id names no (active) field of the
//! account, silently: no error, no `x-zendesk-api-warn`, nothing stored. Searched Zendesk's
//! Tickets reference and zenpy's, node-zendesk's and zendesk_api_client_rb's trackers: only a
//! silently dropped *value* of a drop-down field is reported (zenpy#420, node-zendesk#132).
//! ASSUMED: a `regexp` field whose new non-empty value does not match its
//! `regexp_for_validation` refuses the whole update with 422 RecordInvalid,
//! `details.base[{description: "<Title> is invalid", error: "InvalidValue", field_key: <id>}]`.
//! Searched the same places for that 422's body: only the "is required when solving" form of
//! `details.base` is captured (zenpy#114).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::state::Ticket;
use super::wire;

/// Field types as Zendesk names them in `ticket_field.type`.
pub(super) const FIELD_TYPES: [&str; 11] = [
    "text",
    "textarea",
    "checkbox",
    "date",
    "integer",
    "decimal",
    "regexp",
    "partialcreditcard",
    "multiselect",
    "tagger",
    "lookup",
];

/// A custom ticket field registered on the account.
pub(super) struct TicketField {
    pub id: u64,
    pub field_type: String,
    pub title: String,
    pub regexp: Option<String>,
    pub active: bool,
    pub position: u64,
    pub created_at: DateTime<Utc>,
}

/// The account's fields by id (ids grow with creation, so this is creation order too).
pub(super) type Fields = BTreeMap<u64, TicketField>;

/// `GET /api/v2/ticket_fields/{id}`'s `ticket_field` object.
pub(super) fn render(f: &TicketField, base: &str) -> Value {
    let mut field = json!({
        "url": format!("{base}/api/v2/ticket_fields/{}.json", f.id),
        "id": f.id,
        "type": f.field_type,
        "title": f.title,
        "raw_title": f.title,
        "description": "",
        "raw_description": "",
        "position": f.position,
        "active": f.active,
        "required": false,
        "collapsed_for_agents": false,
        "regexp_for_validation": f.regexp,
        "title_in_portal": f.title,
        "raw_title_in_portal": f.title,
        "visible_in_portal": false,
        "editable_in_portal": false,
        "required_in_portal": false,
        "tag": null,
        "created_at": wire::time(f.created_at),
        "updated_at": wire::time(f.created_at),
        "removable": true,
        "key": null,
        "agent_description": null,
    });
    if matches!(f.field_type.as_str(), "tagger" | "multiselect") {
        field["custom_field_options"] = json!([]);
    }
    field
}

/// A ticket's `custom_fields` (and `fields`) list: every active field of the account, with
/// the ticket's value or null.
pub(super) fn ticket_values(t: &Ticket, fields: &Fields) -> Value {
    let values: Vec<Value> = fields
        .values()
        .filter(|f| f.active)
        .map(|f| json!({"id": f.id, "value": t.custom_fields.get(&f.id).cloned().flatten()}))
        .collect();
    Value::Array(values)
}

/// A value as an update may send it: a string, a number (stored as its string form), a
/// boolean; null or "" clears the field. `Err` for arrays and objects.
fn value_of(value: &Value) -> Result<Option<String>, ()> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(()),
    }
}

/// The `base` entry of a field's 422 (see the module's `ASSUMED`).
fn invalid(field: &TicketField) -> Value {
    json!({"description": format!("{} is invalid", field.title), "error": "InvalidValue", "field_key": field.id})
}

/// New values by field id, in request order; `None` clears the field.
pub(super) type Values = Vec<(u64, Option<String>)>;

/// An update's `custom_fields`: `[{"id": N, "value": V}, …]`. Returns the values to set (for
/// known, active fields only) and the `base` errors; `Err` if the list itself is malformed.
pub(super) fn parse_update(value: &Value, fields: &Fields) -> Result<(Values, Vec<Value>), ()> {
    let items = value.as_array().ok_or(())?;
    let mut set = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let obj = item.as_object().ok_or(())?;
        let id = match obj.get("id") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        // Unknown or inactive fields are ignored (ASSUMED above).
        let Some(field) = id.and_then(|id| fields.get(&id)).filter(|f| f.active) else {
            continue;
        };
        let Ok(new) = value_of(obj.get("value").unwrap_or(&Value::Null)) else {
            errors.push(invalid(field));
            continue;
        };
        if let (Some(pattern), Some(text)) = (&field.regexp, &new) {
            let matches = regex::Regex::new(pattern).map(|re| re.is_match(text)).unwrap_or(false);
            if !matches {
                errors.push(invalid(field));
                continue;
            }
        }
        set.push((field.id, new));
    }
    Ok((set, errors))
}
