//! `GET /repos/{o}/{r}/issues/{n}/timeline`: an issue's (or pull request's) events and
//! comments together, oldest first, with the items only the timeline has (`cross-referenced`,
//! `commented`).
//!
//! What it rests on (docs/research/github-fixes.md §1, which gives every source):
//! - FACT (GH-MD …/timeline/get.md): `per_page` (max 100, default 30) and `page` only: no
//!   `since`, no sort; 200, 404 and 410 are its documented answers.
//! - FACT (REC-PyGithub 2017 and 2025, REC-octocrab): items come oldest first (observed, not
//!   documented), so new ones land on the last page; `cross-referenced` items have no `id`,
//!   `node_id` or `url`; a `closed` item carries `state_reason` besides the common properties.
//! - FACT (GH-DOCS issue-event-types.md §cross-referenced): `source.type` is always "issue";
//!   a pull request source has `source.issue.pull_request` (with `merged_at` in the 2025
//!   recording, null when not merged) and the source's `repository`.
//! - FACT (GH-DOCS §connected): `connected` / `disconnected` carry only the common properties.
//!   ASSUMED (docs/research/github-fixes.md §1): so REST cannot tell which pull request was linked by hand.
//! - FACT (REC-PyGithub `IssueEvent.setUp.txt`): `marked_as_duplicate` names no survivor.
//! - ASSUMED: a transferred issue's timeline redirects (301) like the issue itself; a
//!   cross-reference whose source was deleted or transferred away is not shown; `committed`
//!   items of pull requests are not modelled.
//! - The answer has an ETag and honours `If-None-Match` (the gate's, as for every GET).
//!   ASSUMED for this endpoint in particular: no timeline 304 was recorded.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use serde_json::{json, Value};

use super::query::{paginate, Params};
use super::reply::{docs, Answer, Reply};
use super::routes::{live_issue, with_link, PathMap};
use super::state::{Comment, EventDetail, Fate, IssueEvent, Model, Repo};
use super::wire::{merge, ts, Wire};
use super::Shared;

enum Item<'a> {
    Event(&'a IssueEvent),
    Comment(&'a Comment),
}

/// `GET …/issues/{n}/timeline`.
pub async fn list_timeline(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::TIMELINE;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let (repo, number) = live_issue(&s, &model, &p, doc, "/timeline")?;
    let r = &model.repos[repo];
    let mut items: Vec<(chrono::DateTime<chrono::Utc>, u64, Item)> = Vec::new();
    let events = r.events.iter().filter(|e| e.issue_number == number && shown(&model, e));
    items.extend(events.map(|e| (e.created_at, e.seq, Item::Event(e))));
    let comments = r.comments.iter().filter(|c| c.issue_number == number && c.visible);
    items.extend(comments.map(|c| (c.created_at, c.seq, Item::Comment(c))));
    items.sort_by_key(|(at, seq, _)| (*at, *seq));
    let link_base = format!("{}/repositories/{}/issues/{number}/timeline", s.base, r.id);
    let (page, link) = paginate(items, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|(_, _, item)| render(&wire, r, item)).collect());
    Ok(with_link(Reply::ok(body), link))
}

/// A cross-reference shows while its source is live.
fn shown(model: &Model, event: &IssueEvent) -> bool {
    match &event.detail {
        EventDetail::CrossReference { repo_id, number } => model
            .repo_by_id(*repo_id)
            .and_then(|i| model.repos[i].issues.get(number))
            .is_some_and(|i| i.fate == Fate::Live),
        _ => true,
    }
}

fn render(wire: &Wire, repo: &Repo, item: &Item) -> Value {
    match item {
        Item::Comment(c) => {
            let mut body = wire.comment(repo, c);
            merge(&mut body, json!({"event": "commented", "actor": wire.user(&c.user)}));
            body
        }
        Item::Event(e) => match &e.detail {
            EventDetail::CrossReference { repo_id, number } => cross_reference(wire, e, *repo_id, *number),
            _ => {
                let mut body = wire.event(repo, e, false);
                if e.state_reason.is_some() {
                    merge(&mut body, json!({ "state_reason": e.state_reason }));
                }
                body
            }
        },
    }
}

/// `{event, actor, created_at, updated_at, source: {type: "issue", issue}}`: no `id`; the
/// source issue as it is now, with its repository.
fn cross_reference(wire: &Wire, event: &IssueEvent, repo_id: u64, number: u64) -> Value {
    let model = wire.model;
    let source_repo = &model.repos[model.repo_by_id(repo_id).expect("shown() checked it")];
    let mut issue = wire.issue(source_repo, &source_repo.issues[&number]);
    merge(&mut issue, json!({ "repository": wire.repo(source_repo) }));
    json!({
        "event": "cross-referenced",
        "actor": wire.user(&event.actor),
        "created_at": ts(event.created_at),
        "updated_at": ts(event.created_at),
        "source": {"type": "issue", "issue": issue},
    })
}
