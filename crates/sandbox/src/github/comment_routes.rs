//! Handlers of the issue-comment endpoints: one issue's comments (list, create), one comment
//! (get, edit), the repository-wide comment and issue-event lists that pollers use to catch
//! up, and one issue's event list.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use serde_json::Value;

use super::app::Actor;
use super::query::{paginate, paginate_limited, CommentQuery, Params};
use super::reply::{docs, Answer, Reply};
use super::routes::{live_issue, repo_index, with_link, PathMap};
use super::state::TIMELINE_ONLY;
use super::{input, Shared};

/// `GET …/issues/{n}/comments`: ascending id, `since`, paginated.
pub async fn list_issue_comments(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::LIST_COMMENTS;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let (repo, number) = live_issue(&s, &model, &p, doc, "/comments")?;
    let repo = &model.repos[repo];
    let selected = CommentQuery::parse_for_issue(&params, doc)?.select(repo, Some(number));
    let link_base = format!("{}/repositories/{}/issues/{number}/comments", s.base, repo.id);
    let (page, link) = paginate(selected, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|c| wire.comment(repo, c)).collect());
    Ok(with_link(Reply::ok(body), link))
}

/// `POST …/issues/{n}/comments`: 201 with `Location` of the new comment.
pub async fn create_comment(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(p): PathMap,
    body: Bytes,
) -> Answer {
    let doc = docs::CREATE_COMMENT;
    let mut model = s.model.lock().unwrap();
    let (repo, number) = live_issue(&s, &model, &p, doc, "/comments")?;
    super::routes::refuse_write(&model.repos[repo], Some(number), doc)?;
    let text = input::comment_body(&body)?;
    let id = model.add_comment(repo, number, &actor.login, &text, true, s.now());
    s.deliver_comment(&model, repo, id, "created", None, &actor.login);
    let wire = s.wire(&model);
    let repo = &model.repos[repo];
    let comment = repo.comments.iter().find(|c| c.id == id).expect("just created");
    let reply = Reply::json(StatusCode::CREATED, wire.comment(repo, comment));
    Ok(reply.header(header::LOCATION, wire.comment_api_url(repo, id)))
}

/// `GET …/issues/comments/{id}`: the URL the create answer's `Location` points at.
pub async fn get_comment(State(s): State<Arc<Shared>>, Path(p): PathMap) -> Answer {
    let doc = docs::GET_COMMENT;
    let model = s.model.lock().unwrap();
    let repo = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let id: Option<u64> = p.get("comment_id").and_then(|id| id.parse().ok());
    let comment =
        (repo.comments.iter()).find(|c| c.visible && Some(c.id) == id).ok_or_else(|| Reply::not_found(doc))?;
    let wire = s.wire(&model);
    Ok(Reply::ok(wire.comment(repo, comment)))
}

/// `PATCH …/issues/comments/{id}`: edit a comment's body; 200 with the whole comment.
///
/// The checks run in GitHub's order: an unknown (or not yet visible) comment is 404, then the
/// write refusals creating a comment gets (archived repository, no write access, locked issue),
/// then the body rules of creating one. The comment keeps its id and `created_at`; its
/// `updated_at` moves (so the repository-wide `since` list shows it again) and no issue event
/// is recorded. The secondary write limit applies through the gate, as for every PATCH.
pub async fn update_comment(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(p): PathMap,
    body: Bytes,
) -> Answer {
    let doc = docs::UPDATE_COMMENT;
    let mut model = s.model.lock().unwrap();
    let repo = repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?;
    let id: Option<u64> = p.get("comment_id").and_then(|id| id.parse().ok());
    let comment = (model.repos[repo].comments.iter()).find(|c| c.visible && Some(c.id) == id);
    let (id, number) = comment.map(|c| (c.id, c.issue_number)).ok_or_else(|| Reply::not_found(doc))?;
    super::routes::refuse_write(&model.repos[repo], Some(number), doc)?;
    let text = input::comment_edit(&body)?;
    let old = (model.repos[repo].comments.iter()).find(|c| c.id == id).map(|c| c.body.clone()).unwrap_or_default();
    model.edit_comment(repo, id, &text, s.now());
    if old != text {
        s.deliver_comment(&model, repo, id, "edited", Some(&old), &actor.login);
    }
    let wire = s.wire(&model);
    let repo = &model.repos[repo];
    let comment = repo.comments.iter().find(|c| c.id == id).expect("just edited");
    Ok(Reply::ok(wire.comment(repo, comment)))
}

/// `GET …/issues/comments`: every comment of the repository, pull requests' included.
pub async fn list_repo_comments(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::REPO_COMMENTS;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let repo = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let selected = CommentQuery::parse_repo_wide(&params, doc)?.select(repo, None);
    let link_base = format!("{}/repositories/{}/issues/comments", s.base, repo.id);
    let (page, link) = paginate(selected, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|c| wire.comment(repo, c)).collect());
    Ok(with_link(Reply::ok(body), link))
}

/// How far back the repository-wide issue event list can be paged.
///
/// FACTS (octokit/octokit.net#1417, `IssuesEventsClient.GetAllForRepository`; the same 422 on
/// other lists, theboi/github-update-readme#4): `GET /repos/{o}/{r}/issues/events` serves only
/// its newest part; a deeper page answers `422` with the body of `Reply::pagination_limited`
/// (`message` "In order to keep the API fast for everyone, pagination is limited for this
/// resource. Check the rel=last link relation in the Link response header to see how far back
/// you can traverse.").
///
/// ASSUMED (searched GitHub's docs and octokit's, go-github's and PyGithub's trackers; the
/// number and the orders are not documented):
/// - the list is newest first and the reachable part is about 300 events;
/// - `rel="last"` names the last page that can be read; `rel="next"` still leads beyond it;
/// - the per-issue list `GET /repos/{o}/{r}/issues/{n}/events` is oldest first, at most 100 per
///   page, and has no such limit.
pub const REPO_EVENTS_REACHABLE: usize = 300;

/// `GET …/issues/events`: the repository's issue events of every kind the events API has
/// (not `cross-referenced`: docs/research/github-fixes.md §1), newest first, with the issue embedded, paginated
/// up to `REPO_EVENTS_REACHABLE`.
pub async fn list_repo_events(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::REPO_EVENTS;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let repo = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let selected: Vec<_> = repo.events.iter().rev().filter(|e| !TIMELINE_ONLY.contains(&e.event.as_str())).collect();
    let link_base = format!("{}/repositories/{}/issues/events", s.base, repo.id);
    let (page, link) = paginate_limited(selected, &params, &link_base, REPO_EVENTS_REACHABLE)?;
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|e| wire.event(repo, e, true)).collect());
    Ok(with_link(Reply::ok(body), link))
}

/// `GET …/issues/{n}/events`: one issue's events of every kind, oldest first, without the
/// issue, paginated; a transferred issue redirects, a deleted one answers 410.
pub async fn list_issue_events(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::ISSUE_EVENTS;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let (repo, number) = live_issue(&s, &model, &p, doc, "/events")?;
    let repo = &model.repos[repo];
    let selected: Vec<_> = (repo.events.iter())
        .filter(|e| e.issue_number == number && !TIMELINE_ONLY.contains(&e.event.as_str()))
        .collect();
    let link_base = format!("{}/repositories/{}/issues/{number}/events", s.base, repo.id);
    let (page, link) = paginate(selected, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|e| wire.event(repo, e, false)).collect());
    Ok(with_link(Reply::ok(body), link))
}
