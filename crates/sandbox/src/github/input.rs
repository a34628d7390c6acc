//! Request-body validation for the write endpoints, in GitHub's order: JSON syntax (400), then
//! the schema types ("Invalid request" 422), then field rules (`validation-error` 422).

use serde_json::{Map, Value};

use super::reply::{docs, Reply};
use super::state::{IssuePatch, NewIssue};

/// Longest issue or comment body GitHub stores, counted in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

type Object = Map<String, Value>;

/// The request body as a JSON object; an empty body counts as `{}`.
fn object(bytes: &[u8], doc: &str) -> Result<Object, Reply> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Object::new());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reply::bad_json(doc)),
    }
}

/// A title may be sent as a string or an integer; null counts as absent.
fn title(obj: &Object, doc: &str) -> Result<Option<String>, Reply> {
    match obj.get("title") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(other) => Err(Reply::wrong_type(doc, "title", other, "a string or integer")),
    }
}

/// A nullable string field: `None` absent, `Some(None)` explicit null.
fn nullable_string(obj: &Object, field: &str, doc: &str) -> Result<Option<Option<String>>, Reply> {
    match obj.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(Reply::wrong_type(doc, field, other, "a string or null")),
    }
}

/// A list of names; labels may also be given as `{"name": …}` objects.
fn names(obj: &Object, field: &str, doc: &str) -> Result<Option<Vec<String>>, Reply> {
    let items = match obj.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(Reply::wrong_type(doc, field, other, "an array")),
    };
    let mut out = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => s.as_str(),
            Value::Object(o) if field == "labels" => o.get("name").and_then(Value::as_str).unwrap_or(""),
            other => return Err(Reply::wrong_type(doc, &format!("{field}/items"), other, "a string")),
        };
        if !name.trim().is_empty() {
            out.push(name.trim().to_string());
        }
    }
    Ok(Some(out))
}

fn check_body_length(body: &Option<String>, resource: &str, doc: &str) -> Result<(), Reply> {
    match body {
        Some(b) if b.chars().count() > MAX_BODY_CHARS => Err(Reply::too_long(doc, resource, "body", MAX_BODY_CHARS)),
        _ => Ok(()),
    }
}

/// The sandbox has no milestones, so any milestone a client names does not exist.
fn check_milestone(obj: &Object, doc: &str) -> Result<(), Reply> {
    match obj.get("milestone") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => Err(Reply::invalid_value(doc, "Issue", "milestone", s)),
        Some(Value::Number(n)) => Err(Reply::invalid_value(doc, "Issue", "milestone", &n.to_string())),
        Some(other) => Err(Reply::wrong_type(doc, "milestone", other, "a string or integer or null")),
    }
}

/// `POST /repos/{o}/{r}/issues`.
pub fn new_issue(bytes: &[u8]) -> Result<NewIssue, Reply> {
    let doc = docs::CREATE_ISSUE;
    let obj = object(bytes, doc)?;
    let title = title(&obj, doc)?;
    let body = nullable_string(&obj, "body", doc)?.flatten();
    let labels = names(&obj, "labels", doc)?.unwrap_or_default();
    let assignees = names(&obj, "assignees", doc)?.unwrap_or_default();
    let title = title.filter(|t| !t.trim().is_empty()).ok_or_else(|| Reply::missing_field(doc, "Issue", "title"))?;
    check_body_length(&body, "Issue", doc)?;
    check_milestone(&obj, doc)?;
    Ok(NewIssue { title, body, labels, assignees })
}

/// `PATCH /repos/{o}/{r}/issues/{n}`; every field optional.
pub fn issue_patch(bytes: &[u8]) -> Result<IssuePatch, Reply> {
    let doc = docs::UPDATE_ISSUE;
    let obj = object(bytes, doc)?;
    let title = title(&obj, doc)?;
    if title.as_ref().is_some_and(|t| t.trim().is_empty()) {
        return Err(Reply::missing_field(doc, "Issue", "title"));
    }
    let body = nullable_string(&obj, "body", doc)?;
    if let Some(body) = &body {
        check_body_length(body, "Issue", doc)?;
    }
    let open = match nullable_string(&obj, "state", doc)?.flatten().as_deref() {
        None => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(other) => return Err(Reply::invalid_value(doc, "Issue", "state", other)),
    };
    let state_reason = nullable_string(&obj, "state_reason", doc)?.flatten();
    let reasons = ["completed", "not_planned", "duplicate", "reopened"];
    if let Some(reason) = state_reason.as_deref().filter(|r| !reasons.contains(r)) {
        return Err(Reply::invalid_value(doc, "Issue", "state_reason", reason));
    }
    check_milestone(&obj, doc)?;
    Ok(IssuePatch {
        title,
        body,
        open,
        state_reason,
        labels: names(&obj, "labels", doc)?,
        assignees: names(&obj, "assignees", doc)?,
        duplicate_of: None,
    })
}

/// `duplicate_issue_id` of an issue update: the survivor's database id (FACTS.md, "Update
/// issue"), an integer or null; the caller resolves it.
pub fn duplicate_issue_id(bytes: &[u8]) -> Result<Option<u64>, Reply> {
    let doc = docs::UPDATE_ISSUE;
    let obj = object(bytes, doc)?;
    match obj.get("duplicate_issue_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
        Some(other) => Err(Reply::wrong_type(doc, "duplicate_issue_id", other, "an integer or null")),
    }
}

/// `POST …/issues/{n}/comments`: `{body}` required and non-empty.
pub fn comment_body(bytes: &[u8]) -> Result<String, Reply> {
    comment_text(bytes, docs::CREATE_COMMENT)
}

/// `PATCH …/issues/comments/{id}`: the same `{body}` rules as creating a comment.
pub fn comment_edit(bytes: &[u8]) -> Result<String, Reply> {
    comment_text(bytes, docs::UPDATE_COMMENT)
}

/// A comment's `{body}`: a string (anything else is GitHub's schema 422), non-blank (missing
/// field 422), at most `MAX_BODY_CHARS` characters.
fn comment_text(bytes: &[u8], doc: &str) -> Result<String, Reply> {
    let obj = object(bytes, doc)?;
    let body = nullable_string(&obj, "body", doc)?.flatten();
    let body =
        body.filter(|b| !b.trim().is_empty()).ok_or_else(|| Reply::missing_field(doc, "IssueComment", "body"))?;
    check_body_length(&Some(body.clone()), "IssueComment", doc)?;
    Ok(body)
}
