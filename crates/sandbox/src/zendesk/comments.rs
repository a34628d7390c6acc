//! `GET /api/v2/tickets/{id}/comments`: cursor pagination (`page[size]`, `page[after]`,
//! `page[before]`, `sort`) and the older offset pagination (`page`, `per_page`, `sort_order`).
//!
//! Clients must stop on `meta.has_more`, not on `links.next`: as on the real API, a
//! non-empty last page still links to a next page, which comes back empty.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::state::{Comment, Store, Ticket};
use super::wire::{self, ApiError};

const MAX_PAGE: usize = 100;
/// How deep offset pagination reaches.
const OFFSET_RECORDS: usize = 10_000;

/// Sort key of a comment: creation time, then id for comments made in the same second.
type Key = (i64, u64);

fn key(c: &Comment) -> Key {
    (c.created_at.timestamp(), c.id)
}

pub(super) enum Paging {
    Cursor { size: usize, after: Option<Key>, before: Option<Key>, desc: bool },
    Offset { page: usize, per_page: usize, desc: bool },
}

fn order_name(desc: bool) -> &'static str {
    if desc {
        "-created_at"
    } else {
        "created_at"
    }
}

fn encode_cursor(k: Key, desc: bool) -> String {
    STANDARD.encode(json!({"o": order_name(desc), "v": format!("{}:{}", k.0, k.1)}).to_string())
}

/// A cursor is only valid for the sort order it was issued under.
fn decode_cursor(cursor: &str, desc: bool) -> Result<Key, ApiError> {
    let invalid = || ApiError::bad_pagination("page[after]/page[before] cursor is invalid");
    let bytes = STANDARD.decode(cursor.trim()).map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if value["o"] != order_name(desc) {
        return Err(invalid());
    }
    let (ts, id) = value["v"].as_str().and_then(|v| v.split_once(':')).ok_or_else(invalid)?;
    Ok((ts.parse().map_err(|_| invalid())?, id.parse().map_err(|_| invalid())?))
}

pub(super) fn parse(params: &[(String, String)]) -> Result<Paging, ApiError> {
    let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let (size, after, before) = (get("page[size]"), get("page[after]"), get("page[before]"));
    if size.is_none() && after.is_none() && before.is_none() {
        let page: usize = get("page").and_then(|p| p.parse().ok()).filter(|&p| p > 0).unwrap_or(1);
        let per_page = get("per_page").and_then(|p| p.parse().ok()).filter(|&p| p > 0);
        let desc = get("sort_order") == Some("desc");
        let per_page = per_page.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        // FACTS (support article 5591904358938): since 2024 an offset request past the first
        // 10,000 records answers 400. ASSUMED: its body is the usual pagination error.
        if (page - 1).saturating_mul(per_page) >= OFFSET_RECORDS {
            return Err(ApiError::bad_pagination(
                "Offset pagination is limited to the first 10000 records; use cursor pagination",
            ));
        }
        return Ok(Paging::Offset { page, per_page, desc });
    }
    let size = match size.map(str::parse::<usize>) {
        None => MAX_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_pagination(
                "page[size] must be a number between 1 and the maximum allowed value of 100",
            ))
        }
    };
    let desc = match get("sort") {
        None | Some("created_at") => false,
        Some("-created_at") => true,
        Some(other) => return Err(ApiError::bad_pagination(&format!("sort value {other} is not supported"))),
    };
    let after = after.map(|c| decode_cursor(c, desc)).transpose()?;
    let before = before.map(|c| decode_cursor(c, desc)).transpose()?;
    Ok(Paging::Cursor { size, after, before, desc })
}

/// The comments in the requested order.
fn sorted(ticket: &Ticket, desc: bool) -> Vec<&Comment> {
    let mut comments: Vec<&Comment> = ticket.comments.iter().collect();
    comments.sort_by_key(|c| key(c));
    if desc {
        comments.reverse();
    }
    comments
}

fn page_url(base: &str, ticket_id: u64, pairs: &[(&str, String)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    format!("{base}/api/v2/tickets/{ticket_id}/comments.json?{}", query.finish())
}

/// Render one page of comments, with `users` sideloaded when `include_users`.
pub(super) fn render(store: &Store, ticket: &Ticket, paging: &Paging, include_users: bool, base: &str) -> Value {
    let mut body = match *paging {
        Paging::Cursor { size, after, before, desc } => cursor_page(ticket, size, after, before, desc, base),
        Paging::Offset { page, per_page, desc } => offset_page(ticket, page, per_page, desc, base),
    };
    if include_users {
        let mut ids: Vec<u64> = body["comments"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["author_id"].as_u64()).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        let users: Vec<Value> = ids.iter().filter_map(|id| store.users.get(id)).map(|u| wire::user(u, base)).collect();
        body["users"] = json!(users);
    }
    body
}

fn cursor_page(ticket: &Ticket, size: usize, after: Option<Key>, before: Option<Key>, desc: bool, base: &str) -> Value {
    let all = sorted(ticket, desc);
    // Position of a key in the requested order: "after" means later in that order.
    let later = |c: &Comment, k: Key| if desc { key(c) < k } else { key(c) > k };
    let (page, has_more): (Vec<&Comment>, bool) = if let Some(k) = before {
        let earlier: Vec<&Comment> = all.into_iter().filter(|c| !later(c, k) && key(c) != k).collect();
        let start = earlier.len().saturating_sub(size);
        (earlier[start..].to_vec(), start > 0)
    } else {
        let rest: Vec<&Comment> = all.into_iter().filter(|c| after.is_none_or(|k| later(c, k))).collect();
        (rest.iter().take(size).copied().collect(), rest.len() > size)
    };
    let cursor = |c: Option<&&Comment>| c.map(|c| encode_cursor(key(c), desc));
    let (first, last) = (cursor(page.first()), cursor(page.last()));
    let link = |dir: &str, c: &Option<String>| {
        c.as_ref().map(|c| {
            let mut pairs = vec![(dir, c.clone()), ("page[size]", size.to_string())];
            if desc {
                pairs.push(("sort", order_name(desc).to_string()));
            }
            page_url(base, ticket.id, &pairs)
        })
    };
    let comments: Vec<Value> = page.iter().map(|c| wire::comment(c, base)).collect();
    json!({
        "comments": comments,
        "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": first},
        "links": {"next": link("page[after]", &last), "prev": link("page[before]", &first)},
    })
}

fn offset_page(ticket: &Ticket, page: usize, per_page: usize, desc: bool, base: &str) -> Value {
    let all = sorted(ticket, desc);
    let count = all.len();
    let start = (page - 1).saturating_mul(per_page).min(count);
    let end = (start + per_page).min(count);
    let comments: Vec<Value> = all[start..end].iter().map(|c| wire::comment(c, base)).collect();
    let url = |p: usize| {
        let mut pairs = vec![("page", p.to_string()), ("per_page", per_page.to_string())];
        if desc {
            pairs.push(("sort_order", "desc".to_string()));
        }
        page_url(base, ticket.id, &pairs)
    };
    let mut body = Map::new();
    body.insert("comments".into(), json!(comments));
    body.insert("next_page".into(), json!((end < count).then(|| url(page + 1))));
    body.insert("previous_page".into(), json!((page > 1).then(|| url(page - 1))));
    body.insert("count".into(), json!(count));
    Value::Object(body)
}
