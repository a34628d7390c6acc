//! `/api/v2/tickets/{id}/tags`: the Tags endpoints, the way to add or remove tags without
//! replacing the list (a single ticket's update drops `additional_tags` / `remove_tags`).
//!
//! FACTS (Zendesk OpenAPI, SetTagsTicket / PutTagsTicket / DeleteTagsTicket and their
//! descriptions; "Tag Endpoint Limitations"):
//! - `POST` sets (replaces) the list: 201 `{tags}`; `PUT` adds: 200 `{tags}`; `DELETE` removes:
//!   204; `GET` lists. The body is `{"tags": [...]}` at the top level, no `ticket` wrapper.
//! - With `safe_update` and `updated_stamp` (the ticket's `updated_at`), a stale stamp is a 409.
//! - None of them changes a closed ticket.
//!
//! ASSUMED (searched Zendesk's Tags and rate-limit docs and node-zendesk's, zenpy's and
//! zendesk_api_client_rb's trackers; no capture found): `DELETE` takes the tags in a JSON body
//! (the docs' curl) or a `tags` query (a newer route table lists one), so both are read; a
//! change touches the ticket (`updated_at`, the export) and counts against the ticket's update
//! limit like an update; a closed ticket is refused with the update's 422 "Status closed
//! prevents ticket update"; the 409 body is the one the update's safe update gives.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::state::{normalize_tags, Store};
use super::update::{check_safe_update, closed_error};
use super::wire::{json_response, ApiError};

/// What a request does to the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TagChange {
    Set,
    Add,
    Remove,
}

/// The request's tags and safe-update fields, from a JSON body or (for `DELETE`) the query.
pub(super) fn parse(body: &[u8], query: &[(String, String)]) -> Result<(Vec<String>, Map<String, Value>), ApiError> {
    let object = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(o)) => o,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Unprocessable Entity",
                    "Server could not parse JSON",
                ))
            }
        }
    };
    let from_body = match object.get("tags") {
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().map(str::to_string)).collect::<Option<Vec<_>>>(),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        None => Some(Vec::new()),
        _ => None,
    };
    let Some(mut tags) = from_body else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "InvalidValue", "Tags: must be a list of strings"));
    };
    for (k, v) in query {
        if k == "tags" || k == "tags[]" {
            tags.extend(v.split(',').map(str::to_string));
        }
    }
    let tags = normalize_tags(tags.iter().map(String::as_str));
    if tags.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "ParameterMissing",
            "param is missing or the value is empty: tags",
        ));
    }
    Ok((tags, object))
}

/// Applies `change` to ticket `id`; the answer Zendesk gives. The caller has checked the
/// ticket is live and counted the update.
pub(super) fn apply(
    store: &mut Store,
    id: u64,
    change: TagChange,
    tags: &[String],
    input: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<axum::response::Response, ApiError> {
    let ticket = store.ticket_mut(id);
    if ticket.status == "closed" {
        return Err(closed_error());
    }
    check_safe_update(input, ticket.updated_at)?;
    let before = ticket.tags.clone();
    let after: Vec<String> = match change {
        TagChange::Set => tags.to_vec(),
        TagChange::Add => before.iter().chain(tags).cloned().collect(),
        TagChange::Remove => before.iter().filter(|t| !tags.contains(t)).cloned().collect(),
    };
    let after = normalize_tags(after.iter().map(String::as_str));
    if after != before {
        ticket.tags = after.clone();
        ticket.touch(now);
    }
    Ok(match change {
        TagChange::Set => json_response(StatusCode::CREATED, &json!({ "tags": after })),
        TagChange::Add => json_response(StatusCode::OK, &json!({ "tags": after })),
        TagChange::Remove => axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT),
    })
}
