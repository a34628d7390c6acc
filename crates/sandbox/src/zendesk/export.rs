//! The cursor-based incremental ticket export: request validation, the opaque cursor, and
//! which tickets a page holds.
//!
//! Tickets are ordered by (`generated_timestamp`, id). A page holds the tickets after the
//! request's position, minus those changed within the last minute: Zendesk withholds them,
//! and a client that polls too eagerly must not see them early.

use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::state::Store;
use super::wire::{self, ApiError};

/// Maximum (and default) tickets per page.
pub(super) const MAX_PER_PAGE: usize = 1000;
/// Changes younger than this are withheld, and `start_time` must be at least this old.
const QUIET_SECS: i64 = 60;

/// A place in the export order; a page returns tickets strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Position {
    pub ts: i64,
    pub id: u64,
}

/// The real cursor decodes to `"<unix>.0||<ticket id>|"`; the fake keeps that form, still
/// opaque to clients.
pub(super) fn encode_cursor(p: Position) -> String {
    STANDARD.encode(format!("{}.0||{}|", p.ts, p.id))
}

pub(super) fn decode_cursor(cursor: &str) -> Option<Position> {
    let raw = String::from_utf8(STANDARD.decode(cursor.trim()).ok()?).ok()?;
    let (ts, rest) = raw.split_once(".0||")?;
    let id = rest.strip_suffix('|')?;
    Some(Position { ts: ts.parse().ok()?, id: id.parse().ok()? })
}

/// A validated export request.
pub(super) struct ExportQuery {
    pub from: Position,
    pub per_page: usize,
    pub users: bool,
    pub organizations: bool,
}

fn invalid_value(status: StatusCode, description: &str) -> ApiError {
    ApiError::new(status, "InvalidValue", description)
}

/// Check the query parameters the way Zendesk does: exactly one of `start_time` and
/// `cursor`, a `start_time` at least a minute old, a cursor this server issued.
pub(super) fn parse_query(params: &[(String, String)], now: DateTime<Utc>) -> Result<ExportQuery, ApiError> {
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let from = match (get("start_time"), get("cursor")) {
        (Some(_), Some(_)) => return Err(ApiError::bad_pagination("start_time and cursor cannot be used together")),
        (None, None) => return Err(invalid_value(StatusCode::BAD_REQUEST, "start_time or cursor is required")),
        (Some(start), None) => start_position(start, now)?,
        (None, Some(cursor)) => {
            decode_cursor(cursor).ok_or_else(|| ApiError::bad_pagination("cursor is invalid or has expired"))?
        }
    };
    // Zendesk caps rather than rejects an oversized page.
    let per_page = match get("per_page").map(str::parse::<usize>) {
        None => MAX_PER_PAGE,
        Some(Ok(n)) if n > 0 => n.min(MAX_PER_PAGE),
        Some(_) => return Err(invalid_value(StatusCode::BAD_REQUEST, "per_page must be a positive integer")),
    };
    let include = get("include").unwrap_or("");
    let wants = |name: &str| include.split(',').any(|s| s.trim() == name);
    Ok(ExportQuery { from, per_page, users: wants("users"), organizations: wants("organizations") })
}

fn start_position(start: &str, now: DateTime<Utc>) -> Result<Position, ApiError> {
    let ts: i64 = start
        .parse()
        .map_err(|_| invalid_value(StatusCode::BAD_REQUEST, "start_time must be a Unix epoch time in seconds"))?;
    if ts > now.timestamp() - QUIET_SECS {
        return Err(invalid_value(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Too recent start_time. Use a start_time older than 1 minute",
        ));
    }
    // "At or after start_time": id 0 never exists, so (ts, 0) sorts before all of second ts.
    Ok(Position { ts, id: 0 })
}

/// The ticket ids of one page, in export order, and where the next page starts.
pub(super) struct Page {
    pub ids: Vec<u64>,
    pub after: Position,
    pub end_of_stream: bool,
}

pub(super) fn page(store: &Store, q: &ExportQuery, now: DateTime<Utc>) -> Page {
    let visible_until = now.timestamp() - QUIET_SECS;
    let mut keys: Vec<(i64, u64)> = store
        .tickets
        .values()
        .map(|t| t.export_key())
        .filter(|&(ts, id)| Position { ts, id } > q.from && ts <= visible_until)
        .collect();
    keys.sort_unstable();
    let end_of_stream = keys.len() <= q.per_page;
    keys.truncate(q.per_page);
    let after = keys.last().map_or(q.from, |&(ts, id)| Position { ts, id });
    Page { ids: keys.into_iter().map(|(_, id)| id).collect(), after, end_of_stream }
}

/// The response body: tickets, the cursor pair, and the requested sideloads.
pub(super) fn render(store: &Store, q: &ExportQuery, page: &Page, base: &str) -> Value {
    let tickets: Vec<_> = page.ids.iter().filter_map(|id| store.tickets.get(id)).collect();
    let cursor = encode_cursor(page.after);
    let after_url = format!(
        "{base}/api/v2/incremental/tickets/cursor.json?cursor={}",
        url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>()
    );
    let mut body = Map::new();
    body.insert("tickets".into(), tickets.iter().map(|t| wire::ticket(t, &store.fields, base)).collect());
    body.insert("after_url".into(), json!(after_url));
    body.insert("after_cursor".into(), json!(cursor));
    body.insert("before_url".into(), Value::Null);
    body.insert("before_cursor".into(), Value::Null);
    body.insert("end_of_stream".into(), json!(page.end_of_stream));
    if q.users {
        let mut ids: Vec<u64> = tickets.iter().flat_map(|t| [t.requester_id, t.submitter_id]).collect();
        ids.sort_unstable();
        ids.dedup();
        let users = ids.iter().filter_map(|id| store.users.get(id));
        body.insert("users".into(), users.map(|u| wire::user(u, base)).collect());
    }
    if q.organizations {
        let mut ids: Vec<u64> = tickets.iter().filter_map(|t| t.organization_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let orgs = ids.iter().filter_map(|id| store.organizations.get(id));
        body.insert("organizations".into(), orgs.map(|o| wire::organization(o, base)).collect());
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_looks_like_the_real_one() {
        let p = Position { ts: 1576613539, id: 467 };
        assert_eq!(encode_cursor(p), "MTU3NjYxMzUzOS4wfHw0Njd8");
        assert_eq!(decode_cursor("MTU3NjYxMzUzOS4wfHw0Njd8"), Some(p));
        assert_eq!(decode_cursor("not-a-cursor"), None);
    }
}
