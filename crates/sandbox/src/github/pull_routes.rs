//! Handlers of the pull-request endpoints: the list (`GET …/pulls`), one pull request
//! (`GET …/pulls/{n}`), and the pull requests of a commit (`GET …/commits/{sha}/pulls`).
//!
//! What they rest on:
//! - FACT (FACTS.md, "List repository issues"; docs/research/github-fixes.md §2): a pull request is an issue
//!   too, numbered in the same sequence; the issue list shows it with a `pull_request` key.
//! - FACT (GitHub's REST reference, "List pull requests"): `state` open|closed|all (default
//!   open), `head` (`user:ref`), `base`, `sort` created|updated|popularity|long-running
//!   (default created), `direction` (default desc for created, asc otherwise), `per_page` (max
//!   100), `page`. ASSUMED: a value outside those answers the issue list's 422 `invalid`
//!   (resource `PullRequest`), and `popularity` sorts by comments, `long-running` by age.
//! - FACT (GH-MD commits/{sha}/pulls/get.md): "Lists the merged pull request that introduced
//!   the commit to the repository. If the commit is not present in the default branch, will
//!   only return open pull requests associated with the commit." ASSUMED: a merged pull
//!   request introduced its merge commit (any method) and, merged with a merge commit, its own
//!   commits; an unknown sha answers the commit endpoints' 422 (`Reply::no_commit`).
//! - `GET …/pulls/{n}` of a plain issue's number answers 404, as GitHub does.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use serde_json::Value;

use super::query::{paginate, Params};
use super::reply::{docs, Answer, Reply};
use super::routes::{repo_index, with_link, PathMap};
use super::state::{Fate, Issue, MergeMethod, Pull, Repo};
use super::Shared;

/// `GET …/pulls`.
pub async fn list_pulls(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::LIST_PULLS;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let state = params.choice("state", &["open", "closed", "all"], doc, "PullRequest")?;
    let sort = params.choice("sort", &["created", "updated", "popularity", "long-running"], doc, "PullRequest")?;
    let default_direction = if sort == "created" { "desc" } else { "asc" };
    let direction = match params.get("direction") {
        None => default_direction,
        Some(_) => params.choice("direction", &["desc", "asc"], doc, "PullRequest")?,
    };
    let head = params.get("head").map(|h| h.split_once(':').map_or(h, |(_, branch)| branch));
    let base = params.get("base");
    let mut selected: Vec<(&Issue, &Pull)> = pulls(r)
        .filter(|(i, _)| state == "all" || (state == "open") == i.open)
        .filter(|(_, p)| head.is_none_or(|h| p.head_ref == h) && base.is_none_or(|b| p.base_ref == b))
        .collect();
    selected.sort_by(|(a, _), (b, _)| {
        let key = match sort {
            "updated" => a.updated_at.cmp(&b.updated_at),
            "popularity" => a.comments.cmp(&b.comments),
            _ => a.created_at.cmp(&b.created_at),
        };
        let key = key.then(a.number.cmp(&b.number));
        if direction == "desc" {
            key.reverse()
        } else {
            key
        }
    });
    let link_base = format!("{}/repositories/{}/pulls", s.base, r.id);
    let (page, link) = paginate(selected, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|(i, p)| wire.pull(r, i, p, false)).collect());
    Ok(with_link(Reply::ok(body), link))
}

/// Live pull requests of a repository with their issue side.
fn pulls(r: &Repo) -> impl Iterator<Item = (&Issue, &Pull)> {
    (r.pulls.values()).filter_map(|p| r.issues.get(&p.number).filter(|i| i.fate == Fate::Live).map(|i| (i, p)))
}

/// `GET …/pulls/{n}`.
pub async fn get_pull(State(s): State<Arc<Shared>>, Path(p): PathMap) -> Answer {
    let doc = docs::GET_PULL;
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let number: Option<u64> = p.get("number").and_then(|n| n.parse().ok());
    let pull = number.and_then(|n| r.pulls.get(&n)).ok_or_else(|| Reply::not_found(doc))?;
    let issue = r.live(pull.number).ok_or_else(|| Reply::not_found(doc))?;
    Ok(Reply::ok(s.wire(&model).pull(r, issue, pull, true)))
}

/// `GET …/commits/{sha}/pulls`.
pub async fn commit_pulls(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::COMMIT_PULLS;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let sha = p.get("commit_sha").map_or("", String::as_str);
    let commit = r.git.resolve(sha).ok_or_else(|| Reply::no_commit(doc, sha))?;
    let on_default = r.git.contains(r.git.default_head(), commit);
    let mut selected: Vec<(&Issue, &Pull)> = pulls(r)
        .filter(|(i, p)| match (on_default, p.merged_at.is_some()) {
            (true, true) => {
                p.merge_commit == commit || (p.method == Some(MergeMethod::Merge) && p.commits.contains(&commit))
            }
            (false, false) => i.open && p.commits.contains(&commit),
            _ => false,
        })
        .collect();
    selected.sort_by_key(|(i, _)| std::cmp::Reverse(i.number));
    let link_base = format!("{}/repositories/{}/commits/{sha}/pulls", s.base, r.id);
    let (page, link) = paginate(selected, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|(i, p)| wire.pull(r, i, p, false)).collect());
    Ok(with_link(Reply::ok(body), link))
}
