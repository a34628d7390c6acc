//! Handlers of the endpoints about code: compare (`GET …/compare/{base}...{head}`) and
//! releases (the list, the latest, by tag, by id).
//!
//! Compare (docs/research/github-fixes.md §4, which gives every source):
//! - FACT (GH-MD compare/get.md): `BASE...HEAD` names branches, tags or shas (`USER:REF` too);
//!   commits are `git log BASE..HEAD` in chronological order; `status` is ahead, behind,
//!   identical or diverged; without `per_page` or `page` at most 250 commits come back, "the
//!   last commit in the list is the most recent of the entire comparison"; with either the
//!   commits are paged (`Link`) and the changed files (up to 300 for the whole comparison) are
//!   on the first page only. FACT (REC-PyGithub `testCompareCommitsPerPage`): page 2 and later
//!   have no `files` key at all, and the `Link` URLs use `/repositories/{id}/compare/…`.
//! - FACT (github-changelog-generator#695, fork-cleaner#31, sentry#92809, github/docs#13185):
//!   a ref that does not exist, a tag that was deleted, the two-dot form `A..B`, and histories
//!   with no common ancestor all answer 404; a diff too large to compute answers 500.
//! - ASSUMED: with paging, `per_page` defaults to 30 and is capped at 100 like other lists;
//!   without paging the 250 commits are the newest ones; `status`, `ahead_by`, `behind_by` and
//!   `total_commits` count the whole comparison (docs/research/github-fixes.md §4: a real client compares
//!   `total_commits` with the list's length to see the cut); `USER:` other than the owner
//!   (forks) answers 404 (the fake has no forks); an unknown ref's 404 is the plain `Not
//!   Found` body.
//!
//! Releases (docs/research/github-fixes.md §3):
//! - FACT (GH-MD releases/get.md): the list takes `per_page` (max 100) and `page` only;
//!   "Only users with push access will receive listings for draft releases."
//! - FACT (GH-MD releases/latest/get.md): the latest is "the most recent non-prerelease,
//!   non-draft release, sorted by the `created_at` attribute", 404 when there is none.
//! - FACT (GH-MD releases/tags/get.md): "Get a published release with the specified tag":
//!   drafts are not found by tag.
//! - FACTS (jizhi0v0/duo-updater#357, #359): the list's ETag is a hash of its body, which
//!   carries the assets' `download_count`, so downloads change it; the list sends no
//!   `Last-Modified` and answers `If-Modified-Since` with 200; the latest and by-tag
//!   endpoints send `Last-Modified` and honour `If-Modified-Since` alone (GitHub ignores the
//!   date when `If-None-Match` is sent too).
//! - ASSUMED (docs/research/github-fixes.md §3): push access is the personal token's on the repository
//!   (`FakeGithub::set_push_access`) or an installation's `contents: write`; `GET
//!   …/releases/{id}` shows a draft only with push access; `Last-Modified` is the release's
//!   `updated_at`, which download counts do not move.

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::app::Credential;
use super::query::{paginate, Params};
use super::reply::{docs, Answer, Reply};
use super::routes::{repo_index, with_link, PathMap};
use super::state::{Release, Repo};
use super::wire::Wire;
use super::Shared;

/// Without paging, compare lists at most this many commits.
const UNPAGED_COMMITS: usize = 250;
/// Changed files listed for a whole comparison.
const MAX_FILES: usize = 300;

/// `GET …/compare/{base}...{head}`.
pub async fn compare(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::COMPARE;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let basehead = p.get("basehead").map_or("", String::as_str);
    let (base_name, head_name) = basehead.split_once("...").ok_or_else(|| Reply::not_found(doc))?;
    let base = resolve(r, base_name).ok_or_else(|| Reply::not_found(doc))?;
    let head = resolve(r, head_name).ok_or_else(|| Reply::not_found(doc))?;
    let cmp = r.git.compare(base, head).ok_or_else(|| Reply::no_common_ancestor(doc, base_name, head_name))?;
    let mut files = r.git.files_of(&cmp.ahead);
    files.truncate(MAX_FILES);
    if r.slow_diffs && !files.is_empty() {
        return Err(Reply::diff_too_slow(doc));
    }
    let wire = s.wire(&model);
    let paged = params.get("per_page").is_some() || params.get("page").is_some();
    if !paged {
        let from = cmp.ahead.len().saturating_sub(UNPAGED_COMMITS);
        return Ok(Reply::ok(wire.comparison(r, basehead, &cmp, &cmp.ahead[from..], Some(&files))));
    }
    let (_, page) = params.page();
    let link_base = format!("{}/repositories/{}/compare/{basehead}", s.base, r.id);
    let (commits, link) = paginate(cmp.ahead.clone(), &params, &link_base);
    let files = (page == 1).then_some(files.as_slice());
    Ok(with_link(Reply::ok(wire.comparison(r, basehead, &cmp, &commits, files)), link))
}

/// One side of `BASE...HEAD`: a ref or sha, optionally `OWNER:` first; the two-dot form and
/// other owners' refs name nothing here.
fn resolve(r: &Repo, name: &str) -> Option<usize> {
    let name = match name.split_once(':') {
        Some((owner, rest)) if owner.eq_ignore_ascii_case(&r.owner) => rest,
        Some(_) => return None,
        None => name,
    };
    if name.is_empty() || name.contains("..") {
        return None;
    }
    r.git.resolve(name)
}

/// Whether the caller has push access to the repository (it sees drafts).
fn push_access(s: &Shared, r: &Repo, credential: Credential) -> bool {
    match credential {
        Credential::Personal => r.push_access,
        Credential::Installation(id) => {
            let state = s.app.lock().unwrap();
            state.installation(id).is_some_and(|i| i.contents.as_deref() == Some("write"))
        }
        Credential::Jwt => false,
    }
}

/// `GET …/releases`.
pub async fn list_releases(
    State(s): State<Arc<Shared>>,
    Extension(credential): Extension<Credential>,
    Path(p): PathMap,
    RawQuery(q): RawQuery,
) -> Answer {
    let doc = docs::LIST_RELEASES;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let drafts = push_access(&s, r, credential);
    let link_base = format!("{}/repositories/{}/releases", s.base, r.id);
    let (page, link) = paginate(r.visible_releases(drafts), &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|rel| wire.release(r, rel)).collect());
    Ok(with_link(Reply::ok(body), link))
}

/// `GET …/releases/latest`.
pub async fn latest_release(State(s): State<Arc<Shared>>, Path(p): PathMap, headers: HeaderMap) -> Answer {
    let doc = docs::LATEST_RELEASE;
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let release = r.latest_release().ok_or_else(|| Reply::not_found(doc))?;
    single(&s.wire(&model), r, release, &headers)
}

/// `GET …/releases/tags/{tag}`.
pub async fn release_by_tag(State(s): State<Arc<Shared>>, Path(p): PathMap, headers: HeaderMap) -> Answer {
    let doc = docs::RELEASE_BY_TAG;
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let tag = p.get("tag").map_or("", String::as_str);
    let release = r.visible_releases(false).into_iter().find(|rel| rel.tag == tag);
    single(&s.wire(&model), r, release.ok_or_else(|| Reply::not_found(doc))?, &headers)
}

/// `GET …/releases/{id}`.
pub async fn get_release(
    State(s): State<Arc<Shared>>,
    Extension(credential): Extension<Credential>,
    Path(p): PathMap,
    headers: HeaderMap,
) -> Answer {
    let doc = docs::GET_RELEASE;
    let model = s.model.lock().unwrap();
    let r = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let id: Option<u64> = p.get("release_id").and_then(|id| id.parse().ok());
    let drafts = push_access(&s, r, credential);
    let release = r.visible_releases(drafts).into_iter().find(|rel| Some(rel.id) == id);
    single(&s.wire(&model), r, release.ok_or_else(|| Reply::not_found(doc))?, &headers)
}

/// One release with `Last-Modified`; `If-Modified-Since` alone can answer 304.
fn single(wire: &Wire, r: &Repo, release: &Release, headers: &HeaderMap) -> Answer {
    let modified = release.updated_at;
    let since = (headers.get(header::IF_NONE_MATCH).is_none())
        .then(|| headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(http_date))
        .flatten();
    let last_modified = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if since.is_some_and(|since| modified <= since) {
        return Ok(Reply::not_modified().header(header::LAST_MODIFIED, last_modified));
    }
    Ok(Reply::ok(wire.release(r, release)).header(header::LAST_MODIFIED, last_modified))
}

fn http_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value).ok().map(|t| t.with_timezone(&Utc))
}
