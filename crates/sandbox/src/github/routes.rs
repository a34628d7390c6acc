//! The fake's axum router and its user, repository and issue handlers. Every repository route
//! answers under `/repos/{owner}/{repo}` and under `/repositories/{id}`, as GitHub's do
//! (its pagination links use the second form).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use super::app::Actor;
use super::comment_routes::{
    create_comment, get_comment, list_issue_comments, list_issue_events, list_repo_comments, list_repo_events,
    update_comment,
};
use super::query::{paginate, IssueQuery, Params};
use super::reply::{docs, Answer, Reply};
use super::state::{Located, Model};
use super::{app_routes, git_routes, input, pull_routes, timeline, Shared};

/// Path parameters by name; the handlers accept either repository form.
pub type PathMap = Path<HashMap<String, String>>;

pub fn router(shared: Arc<Shared>) -> Router {
    let mut router = app_routes::routes(Router::new().route("/user", get(get_user)));
    for prefix in ["/repos/{owner}/{repo}", "/repositories/{repo_id}"] {
        let path = |suffix: &str| format!("{prefix}{suffix}");
        router = router
            .route(&path(""), get(get_repo))
            .route(&path("/issues"), get(list_issues).post(create_issue))
            .route(&path("/issues/comments"), get(list_repo_comments))
            .route(&path("/issues/events"), get(list_repo_events))
            .route(&path("/issues/comments/{comment_id}"), get(get_comment).patch(update_comment))
            .route(&path("/issues/{number}"), get(get_issue).patch(update_issue))
            .route(&path("/issues/{number}/comments"), get(list_issue_comments).post(create_comment))
            .route(&path("/issues/{number}/events"), get(list_issue_events))
            .route(&path("/issues/{number}/timeline"), get(timeline::list_timeline))
            .route(&path("/pulls"), get(pull_routes::list_pulls))
            .route(&path("/pulls/{number}"), get(pull_routes::get_pull))
            .route(&path("/commits/{commit_sha}/pulls"), get(pull_routes::commit_pulls))
            .route(&path("/compare/{*basehead}"), get(git_routes::compare))
            .route(&path("/releases"), get(git_routes::list_releases))
            .route(&path("/releases/latest"), get(git_routes::latest_release))
            .route(&path("/releases/tags/{*tag}"), get(git_routes::release_by_tag))
            .route(&path("/releases/{release_id}"), get(git_routes::get_release));
    }
    // GitHub answers unknown paths and unsupported methods alike with a JSON 404.
    router.fallback(unknown_route).method_not_allowed_fallback(unknown_route).with_state(shared)
}

/// GitHub Enterprise Server's layout: `api` (the fake with its layers) under `prefix`, and
/// `graphql` (the GraphQL endpoint with its layers) under the prefix's parent: `/api/v3`'s
/// GraphQL is `/api/graphql`. The nested routers see paths without their prefix. Anything
/// else is the server's web site, which the fake does not have: a 404 page, not the API's JSON.
// FACT: GHES's GraphQL endpoint is `http(s)://HOSTNAME/api/graphql`
// (docs.github.com/en/enterprise-server@2.21/graphql/guides/forming-calls-with-graphql, "The
// GraphQL endpoint"; apache/devlake#7541 switched to `/api/graphql` for it).
// FACT: GHES's REST endpoints are prefixed with `http(s)://HOSTNAME/api/v3`, and the prefix is
// not configurable (docs.github.com/en/enterprise-server@3.10/rest/enterprise-admin, "Endpoint
// URLs"; github.com/orgs/community/discussions/24365).
// FACTS (GHES users' reports of their repositories' addresses, e.g. FarhadG/init#15:
// `https://git.<company>.com/<org>/<repo>`): the web UI is at the host's root
// (`http(s)://HOSTNAME/OWNER/REPO/issues/N`), so what the real server answers outside `/api/v3`
// is a web page; any 404 stands for it here.
pub fn outside_prefix(prefix: &str, api: Router, graphql: Router) -> Router {
    let not_found = || async { (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html")], "<h1>Not Found</h1>") };
    let parent = graphql_parent(prefix);
    let router = Router::new().nest(prefix, api);
    let router = if parent.is_empty() { router.merge(graphql) } else { router.nest(parent, graphql) };
    router.fallback(not_found)
}

/// Where `/graphql` goes in the layout with the REST API under `prefix`: its parent (`/api` for
/// `/api/v3`), the root for none.
pub fn graphql_parent(prefix: &str) -> &str {
    prefix.rsplit_once('/').map_or("", |(parent, _)| parent)
}

async fn unknown_route() -> Reply {
    Reply::not_found(docs::GENERIC)
}

/// The repository a path names, by `owner`/`repo` or by `repo_id`.
pub fn repo_index(model: &Model, params: &HashMap<String, String>) -> Option<usize> {
    if let Some(id) = params.get("repo_id") {
        return id.parse().ok().and_then(|id| model.repo_by_id(id));
    }
    model.repo_by_name(params.get("owner")?, params.get("repo")?)
}

/// The live issue a path names, or the 404 / 410 / 301 GitHub gives instead. `suffix` is
/// appended to a redirect's URL so sub-resources (`/comments`) redirect to their new home.
pub fn live_issue(
    shared: &Shared,
    model: &Model,
    params: &HashMap<String, String>,
    doc: &str,
    suffix: &str,
) -> Result<(usize, u64), Reply> {
    let repo = repo_index(model, params).ok_or_else(|| Reply::not_found(doc))?;
    let number = (params.get("number").and_then(|n| n.parse().ok())).ok_or_else(|| Reply::not_found(doc))?;
    match model.locate(repo, number) {
        Located::Live => Ok((repo, number)),
        Located::Moved { repo, number } => {
            // Real transfer redirects name the repository by id, not by name.
            let url = format!("{}/repositories/{}/issues/{number}", shared.base, model.repos[repo].id);
            Err(Reply::moved(&format!("{url}{suffix}")))
        }
        Located::Deleted => Err(Reply::issue_deleted(doc)),
        Located::Missing => Err(Reply::not_found(doc)),
    }
}

async fn get_user(State(s): State<Arc<Shared>>) -> Reply {
    let model = s.model.lock().unwrap();
    let wire = s.wire(&model);
    Reply::ok(wire.authenticated_user(&s.login, s.started_at))
}

async fn get_repo(State(s): State<Arc<Shared>>, Path(p): PathMap) -> Answer {
    let model = s.model.lock().unwrap();
    let repo = repo_index(&model, &p).ok_or_else(|| Reply::not_found(docs::GET_REPO))?;
    let wire = s.wire(&model);
    Ok(Reply::ok(wire.repo(&model.repos[repo])))
}

/// `GET …/issues`: issues and pull requests, filtered, sorted and paginated.
async fn list_issues(State(s): State<Arc<Shared>>, Path(p): PathMap, RawQuery(q): RawQuery) -> Answer {
    let doc = docs::LIST_ISSUES;
    let params = Params::parse(q.as_deref());
    let model = s.model.lock().unwrap();
    let repo = &model.repos[repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?];
    let selected = IssueQuery::parse(&params, doc)?.select(repo);
    let link_base = format!("{}/repositories/{}/issues", s.base, repo.id);
    let (page, link) = paginate(selected, &params, &link_base);
    let wire = s.wire(&model);
    let body = Value::Array(page.iter().map(|i| wire.issue(repo, i)).collect());
    Ok(with_link(Reply::ok(body), link))
}

pub fn with_link(reply: Reply, link: Option<String>) -> Reply {
    match link {
        Some(link) => reply.header(header::LINK, link),
        None => reply,
    }
}

/// `POST …/issues`: 404 unknown repo, 410 issues disabled, 400 bad JSON, 422 invalid fields.
async fn create_issue(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(p): PathMap,
    body: Bytes,
) -> Answer {
    let doc = docs::CREATE_ISSUE;
    let mut model = s.model.lock().unwrap();
    let repo = repo_index(&model, &p).ok_or_else(|| Reply::not_found(doc))?;
    if !model.repos[repo].has_issues {
        return Err(Reply::issues_disabled(doc));
    }
    refuse_write(&model.repos[repo], None, doc)?;
    let new = input::new_issue(&body)?;
    let number = model.create_issue(repo, new, &actor.login, s.now());
    s.deliver(&model, repo, number, ("issues", "opened"), serde_json::json!({}), &actor.login);
    let wire = s.wire(&model);
    let repo = &model.repos[repo];
    let issue = repo.live(number).expect("just created");
    let reply = Reply::json(StatusCode::CREATED, wire.issue(repo, issue));
    Ok(reply.header(header::LOCATION, wire.issue_api_url(repo, number)))
}

async fn get_issue(State(s): State<Arc<Shared>>, Path(p): PathMap) -> Answer {
    let model = s.model.lock().unwrap();
    let (repo, number) = live_issue(&s, &model, &p, docs::GET_ISSUE, "")?;
    render_issue(&s, &model, repo, number)
}

/// `PATCH …/issues/{n}`: the caller is the actor, so closing records it in `closed_by`.
async fn update_issue(
    State(s): State<Arc<Shared>>,
    Extension(actor): Extension<Actor>,
    Path(p): PathMap,
    body: Bytes,
) -> Answer {
    let doc = docs::UPDATE_ISSUE;
    let mut model = s.model.lock().unwrap();
    let (repo, number) = live_issue(&s, &model, &p, doc, "")?;
    refuse_write(&model.repos[repo], None, doc)?;
    let mut patch = input::issue_patch(&body)?;
    patch.duplicate_of = duplicate_of(&model, repo, number, &patch, input::duplicate_issue_id(&body)?)?;
    let before = model.repos[repo].issues[&number].clone();
    model.update_issue(repo, number, patch, &actor.login, s.now());
    s.deliver_issue_update(&model, repo, &before, &actor.login);
    render_issue(&s, &model, repo, number)
}

/// The survivor `duplicate_issue_id` names, when the update closes the issue as a duplicate.
///
/// FACT (FACTS.md, "Update issue"): `duplicate_issue_id` applies only with `state_reason:
/// duplicate`, and it is the survivor's database `id`, not its number (docs/research/github-fixes.md §5: "an
/// issue number there links an unrelated issue"). ASSUMED: an id naming no live issue (or the
/// issue itself) answers 422 `invalid` on the field; without the field the close is accepted
/// and names no survivor.
fn duplicate_of(
    model: &Model,
    repo: usize,
    number: u64,
    patch: &super::state::IssuePatch,
    id: Option<u64>,
) -> Result<Option<(u64, u64)>, Reply> {
    let closing_as_duplicate = patch.open == Some(false) && patch.state_reason.as_deref() == Some("duplicate");
    let Some(id) = id.filter(|_| closing_as_duplicate) else {
        return Ok(None);
    };
    let this = (model.repos[repo].id, number);
    let survivor = model.issue_by_id(id).filter(|found| *found != this);
    survivor
        .map(Some)
        .ok_or_else(|| Reply::invalid_value(docs::UPDATE_ISSUE, "Issue", "duplicate_issue_id", &id.to_string()))
}

/// The 403 GitHub gives a write it refuses for this repository or issue, if any. The messages
/// are the real ones; none carries a rate-limit header.
pub fn refuse_write(repo: &super::state::Repo, comment_on: Option<u64>, doc: &str) -> Result<(), Reply> {
    if repo.archived {
        return Err(Reply::forbidden("Repository was archived so is read-only.", doc));
    }
    if repo.writes_denied {
        return Err(Reply::forbidden("Resource not accessible by personal access token", doc));
    }
    if comment_on.is_some_and(|n| repo.locked.contains(&n)) {
        return Err(Reply::forbidden("Unable to create comment because issue is locked.", doc));
    }
    Ok(())
}

fn render_issue(s: &Shared, model: &Model, repo: usize, number: u64) -> Answer {
    let wire = s.wire(model);
    let repo = &model.repos[repo];
    Ok(Reply::ok(wire.issue(repo, repo.live(number).expect("located live"))))
}
