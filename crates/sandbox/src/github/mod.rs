//! The sandbox's fake GitHub: a stateful REST server on loopback that accepts and rejects what
//! api.github.com does, plus the helpers tests and the demo use to act as humans on GitHub.
//!
//! Layout: `state` is the in-memory world, `routes`/`comment_routes` the handlers, `input`
//! the request validation, `query` the list parameters and pagination, `wire` the JSON shapes,
//! `reply` the answers and error bodies, `gate` auth, rate limits and ETags, `hooks` changes
//! timed against a client's requests, `bulk` seeding of large histories, `app` the GitHub App
//! mode (JWTs, installations, installation tokens) and `app_routes` its endpoints.
//! Issue 22's endpoints: `pull_routes` (pull requests, a commit's pull requests), `timeline`
//! (an issue's timeline), `git_routes` (compare, releases), `wire_git` their JSON shapes, and
//! `fixes` the helpers that act as developers (pull requests, commits, tags, duplicates,
//! releases). `graphql_routes` answers the one GraphQL query ticket-sync sends (a duplicate's
//! survivor), behind `gate::graphql_gate` and GraphQL's own points budget.
//!
//! Two layouts: api.github.com's (the API at the server's root, GraphQL at `/graphql`) and
//! GitHub Enterprise Server's (`start_with_prefix(…, "/api/v3")`: the API under the prefix,
//! GraphQL at `/api/graphql`, web pages on the server's host without either, and a 404 for
//! anything else).

mod app;
mod app_routes;
mod bulk;
mod comment_routes;
mod deliver;
mod fixes;
mod gate;
mod git_routes;
mod graphql_routes;
mod hooks;
mod input;
mod pull_routes;
mod query;
mod reply;
mod routes;
mod state;
mod timeline;
mod wire;
mod wire_git;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use axum::middleware::from_fn_with_state;
use chrono::{DateTime, SubsecRound, Utc};
use tokio::task::JoinHandle;

use super::common::{frontdoor, Clock, Frontdoor, Service};
use super::hooks::{DeliveryView, Outbox};
pub use app::{APP_TEST_KEY_PEM, APP_TEST_PUBLIC_KEY_PEM, OTHER_RSA_KEY_PEM};
pub use fixes::PullView;
use gate::Limits;
use state::{Comment, Issue, IssuePatch, Model, NewIssue, Repo, CLOSE_REASONS};
pub use state::{MergeMethod, ReleaseSpec};
use wire::Wire;

/// The user the fake's single token belongs to.
const BOT_LOGIN: &str = "ticket-sync-bot";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
    Internal,
}

/// An issue as a test sees it (plain issues only; pull requests are not reported).
#[derive(Debug, Clone)]
pub struct IssueView {
    pub number: u64,
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub html_url: String,
    pub user_login: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_by: Option<String>,
    pub comments: u64,
}

#[derive(Debug, Clone)]
pub struct CommentView {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub user_login: String,
    pub html_url: String,
    pub created_at: DateTime<Utc>,
}

/// What the handlers share. The model lock is never held across an `.await`.
struct Shared {
    token: String,
    login: String,
    /// The API base: `http://127.0.0.1:PORT`, or `http://127.0.0.1:PORT/api/v3` in GHES layout.
    base: String,
    /// The web base (`html_url`s): `http://127.0.0.1:PORT` in both layouts.
    web: String,
    /// The GraphQL endpoint: `http://127.0.0.1:PORT/graphql`, or `…/api/graphql` in GHES layout.
    graphql: String,
    clock: Arc<Clock>,
    started_at: DateTime<Utc>,
    model: Mutex<Model>,
    limits: Mutex<Limits>,
    /// GraphQL's points, a budget of each credential's apart from its REST requests.
    graphql_limits: Mutex<std::collections::HashMap<app::Credential, Limits>>,
    /// The GitHub App, its installations and tokens (App mode); empty in token mode.
    app: Mutex<app::AppState>,
    hooks: Mutex<Vec<hooks::Hook>>,
    /// The repository webhook (one for every repository of the fake) and its delivery log.
    outbox: Outbox,
}

impl Shared {
    /// Sandbox time in whole seconds, the resolution GitHub's timestamps have.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(0)
    }

    fn wire<'a>(&'a self, model: &'a Model) -> Wire<'a> {
        Wire { base: &self.base, web: &self.web, model }
    }
}

pub struct FakeGithub {
    pub door: Arc<Frontdoor>,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGithub {
    /// Binds 127.0.0.1:0 and serves on the current tokio runtime; returns once bound.
    pub async fn start(token: &str, clock: Arc<Clock>) -> std::io::Result<Arc<FakeGithub>> {
        Self::start_with_prefix(token, clock, "").await
    }

    /// Like `start`, with the API under `prefix` (`"/api/v3"`: GitHub Enterprise Server's
    /// layout) and web pages at the server's root; `""` is `start`'s layout.
    pub async fn start_with_prefix(token: &str, clock: Arc<Clock>, prefix: &str) -> std::io::Result<Arc<FakeGithub>> {
        Self::start_with_layout(token, clock, prefix, None).await
    }

    /// Like `start_with_prefix`, with the web pages (`html_url`s) named on `web_host` instead
    /// of the API's `127.0.0.1` (same port): GitHub Enterprise Cloud with data residency
    /// (`api.SUB.ghe.com` → `SUB.ghe.com`), a second host name, or a proxy in front of the API.
    pub async fn start_with_layout(
        token: &str,
        clock: Arc<Clock>,
        prefix: &str,
        web_host: Option<&str>,
    ) -> std::io::Result<Arc<FakeGithub>> {
        let prefix = prefix.trim_end_matches('/');
        assert!(prefix.is_empty() || prefix.starts_with('/'), "an API prefix starts with '/': {prefix:?}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let api = format!("http://{}", listener.local_addr()?);
        let web = match web_host {
            Some(host) => format!("http://{host}:{}", listener.local_addr()?.port()),
            None => api.clone(),
        };
        let door = Frontdoor::new(Service::Github);
        let shared = Arc::new(Shared {
            token: token.to_string(),
            login: BOT_LOGIN.to_string(),
            base: format!("{api}{prefix}"),
            graphql: format!("{api}{}/graphql", routes::graphql_parent(prefix)),
            web,
            started_at: clock.now().trunc_subsecs(0),
            clock,
            model: Mutex::new(Model::new(BOT_LOGIN)),
            limits: Mutex::new(Limits::default()),
            graphql_limits: Mutex::new(std::collections::HashMap::new()),
            app: Mutex::new(app::AppState::default()),
            hooks: Mutex::new(Vec::new()),
            outbox: Outbox::new(),
        });
        // The front door is outermost: it logs every request, refused ones included, and its
        // faults hit before GitHub's own checks, as a flaky network would.
        // Under a prefix, both layers sit inside it: they (and the front door's log and fault
        // rules) see the same prefix-less paths in both layouts.
        let api = routes::router(shared.clone())
            .layer(from_fn_with_state(shared.clone(), gate::gate))
            .layer(from_fn_with_state(door.clone(), frontdoor));
        // GraphQL has its own endpoint and gate: `/graphql` beside the REST API, or on GitHub
        // Enterprise Server `/api/graphql`, outside the REST prefix; its layers see `/graphql`.
        let graphql = graphql_routes::router(shared.clone())
            .layer(from_fn_with_state(shared.clone(), gate::graphql_gate))
            .layer(from_fn_with_state(door.clone(), frontdoor));
        let app = if prefix.is_empty() { api.merge(graphql) } else { routes::outside_prefix(prefix, api, graphql) };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Arc::new(FakeGithub { door, shared, server }))
    }

    /// The API base, what goes into the rules file's `[github] url`.
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The web base `html_url`s start with: the server's host, without any API prefix.
    pub fn web_url(&self) -> String {
        self.shared.web.clone()
    }

    /// The GraphQL endpoint: `/graphql` on api.github.com's layout, `/api/graphql` on GitHub
    /// Enterprise Server's.
    pub fn graphql_url(&self) -> String {
        self.shared.graphql.clone()
    }

    pub fn login(&self) -> &str {
        &self.shared.login
    }

    /// Adds a repository (or changes the flags of an existing one) and returns its id.
    pub fn add_repo(&self, full_name: &str, visibility: Visibility, has_issues: bool) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        model.add_repo(full_name, visibility, has_issues, now)
    }

    /// Plain issues of `repo` (no pull requests, nothing transferred or deleted), by number.
    pub fn issues(&self, repo: &str) -> Vec<IssueView> {
        let model = self.shared.model.lock().unwrap();
        let Some(idx) = model.repo_by_full_name(repo) else {
            return Vec::new();
        };
        let r = &model.repos[idx];
        let wire = self.wire(&model);
        (r.issues.values())
            .filter(|i| r.live(i.number).is_some() && !i.is_pull_request)
            .map(|i| issue_view(&wire, r, i))
            .collect()
    }

    pub fn issue(&self, repo: &str, number: u64) -> Option<IssueView> {
        let model = self.shared.model.lock().unwrap();
        let r = &model.repos[model.repo_by_full_name(repo)?];
        let issue = r.live(number).filter(|i| !i.is_pull_request)?;
        Some(issue_view(&self.wire(&model), r, issue))
    }

    /// Comments of a live issue or pull request, by ascending id.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<CommentView> {
        let model = self.shared.model.lock().unwrap();
        let Some(idx) = model.repo_by_full_name(repo) else {
            return Vec::new();
        };
        let r = &model.repos[idx];
        let wire = self.wire(&model);
        let mut out: Vec<CommentView> =
            (r.comments.iter()).filter(|c| c.issue_number == number).map(|c| comment_view(&wire, r, c)).collect();
        out.sort_by_key(|c| c.id);
        out
    }

    /// A human closes the issue on GitHub. `reason`: completed | not_planned | duplicate.
    pub fn close_issue(&self, repo: &str, number: u64, reason: &str, by_login: &str) {
        assert!(CLOSE_REASONS.contains(&reason), "unknown close reason {reason:?}");
        let patch = IssuePatch { open: Some(false), state_reason: Some(reason.to_string()), ..IssuePatch::default() };
        self.patch(repo, number, patch, by_login);
    }

    pub fn reopen_issue(&self, repo: &str, number: u64, by_login: &str) {
        let patch = IssuePatch { open: Some(true), ..IssuePatch::default() };
        self.patch(repo, number, patch, by_login);
    }

    fn patch(&self, repo: &str, number: u64, patch: IssuePatch, by_login: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let before = model.repos[idx].issues[&number].clone();
        model.update_issue(idx, number, patch, by_login, now);
        self.shared.deliver_issue_update(&model, idx, &before, by_login);
    }

    /// A human comments on the issue (or pull request); returns the comment id.
    pub fn add_comment(&self, repo: &str, number: u64, by_login: &str, body: &str) -> u64 {
        self.comment(repo, number, by_login, body, true)
    }

    /// A comment that exists from now (id, times) but that the API shows only once
    /// `publish_comment` is called: GitHub's replication lag, which can make a comment appear
    /// after a later one was listed.
    pub fn add_unpublished_comment(&self, repo: &str, number: u64, by_login: &str, body: &str) -> u64 {
        self.comment(repo, number, by_login, body, false)
    }

    pub fn publish_comment(&self, repo: &str, id: u64) {
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        model.publish_comment(idx, id);
    }

    /// A human edits a comment: its `updated_at` moves to now.
    pub fn edit_comment(&self, repo: &str, id: u64, body: &str) {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let old = model.repos[idx].comments.iter().find(|c| c.id == id).map(|c| (c.body.clone(), c.user.clone()));
        assert!(model.edit_comment(idx, id, body, now), "fake GitHub has no comment {id} in {repo}");
        // The helper stands for the author editing their own comment.
        if let Some((old, author)) = old.filter(|(old, _)| old != body) {
            self.shared.deliver_comment(&model, idx, id, "edited", Some(&old), &author);
        }
    }

    /// A human sets the issue's labels (creating missing ones); each change is an event.
    pub fn set_labels(&self, repo: &str, number: u64, labels: &[&str], by_login: &str) {
        let labels = Some(labels.iter().map(|l| l.to_string()).collect());
        self.patch(repo, number, IssuePatch { labels, ..IssuePatch::default() }, by_login);
    }

    fn comment(&self, repo: &str, number: u64, by_login: &str, body: &str, visible: bool) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        let id = model.add_comment(idx, number, by_login, body, visible, now);
        // GitHub sends the delivery when the comment is made, whether or not the API shows it yet.
        self.shared.deliver_comment(&model, idx, id, "created", None, by_login);
        id
    }

    /// Opens a pull request (authored by the repository owner); returns its number.
    pub fn add_pull_request(&self, repo: &str, title: &str) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let owner = model.repos[idx].owner.clone();
        model.create_pull_request(idx, title, &owner, now)
    }

    /// A human files an issue (allowed even where the API would answer 410).
    pub fn add_issue(&self, repo: &str, title: &str, body: &str, by_login: &str) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let idx = repo_index(&model, repo);
        let new = NewIssue { title: title.to_string(), body: Some(body.to_string()), ..NewIssue::default() };
        let number = model.create_issue(idx, new, by_login, now);
        self.shared.deliver(&model, idx, number, ("issues", "opened"), serde_json::json!({}), by_login);
        number
    }

    /// Moves the issue to `to_repo`; the old number answers 301 from now on.
    pub fn transfer_issue(&self, repo: &str, number: u64, to_repo: &str) -> u64 {
        let now = self.shared.now();
        let mut model = self.shared.model.lock().unwrap();
        let from = live_index(&model, repo, number);
        let to = repo_index(&model, to_repo);
        let new_number = model.transfer(from, number, to, now);
        // Sent to the old repository's hook, by its owner (an admin action), with where it went.
        if self.shared.outbox.target().is_some() {
            let wire = self.wire(&model);
            let target = &model.repos[to];
            let new_issue = target.issues.get(&new_number).map(|i| wire.issue(target, i));
            let changes = serde_json::json!({"changes": {"new_issue": new_issue, "new_repository": wire.repo(target)}});
            let owner = model.repos[from].owner.clone();
            self.shared.deliver(&model, from, number, ("issues", "transferred"), changes, &owner);
        }
        new_number
    }

    /// Deletes the issue; its number answers 410 from now on.
    pub fn delete_issue(&self, repo: &str, number: u64) {
        let mut model = self.shared.model.lock().unwrap();
        let idx = live_index(&model, repo, number);
        model.delete(idx, number);
        // Deleting an issue takes an admin; the repository owner stands for one.
        let owner = model.repos[idx].owner.clone();
        self.shared.deliver(&model, idx, number, ("issues", "deleted"), serde_json::json!({}), &owner);
    }

    /// Secondary rate limit: at most `limit` POST/PATCH per rolling minute; `None` = off.
    /// Archives a repository (or un-archives it): every write then answers 403.
    pub fn set_archived(&self, repo: &str, archived: bool) {
        self.with_repo(repo, |r| r.archived = archived);
    }

    /// Takes the token's write access to one repository away (or gives it back).
    pub fn set_writes_denied(&self, repo: &str, denied: bool) {
        self.with_repo(repo, |r| r.writes_denied = denied);
    }

    /// Locks an issue's conversation: comments by the token answer 403.
    pub fn lock_issue(&self, repo: &str, number: u64) {
        self.with_repo(repo, |r| {
            r.locked.insert(number);
        });
    }

    /// Renames a repository (`owner/name` → `owner/new_name`); the old name redirects.
    pub fn rename_repo(&self, repo: &str, new_name: &str) {
        self.with_repo(repo, |r| {
            r.former_names.push(r.full_name());
            r.name = new_name.to_string();
        });
    }

    /// Stamps every later event `secs` seconds after the change that made it, as GitHub's
    /// events can be stamped a second after their issue's `updated_at`.
    pub fn set_event_lag(&self, secs: i64) {
        self.shared.model.lock().unwrap().event_lag_secs = secs;
    }

    /// Hides a repository from the token (or shows it again): every request about it, its
    /// issues included, answers 404.
    pub fn set_hidden(&self, repo: &str, hidden: bool) {
        self.with_repo(repo, |r| r.hidden = hidden);
    }

    /// Deletes a repository, or restores it (`deleted = false`) with its issues as they were:
    /// while deleted, every request about it answers 404 `{"message":"Not Found"}`.
    // FACT: "Usually, deleted repositories can be restored within 90 days"
    // (docs.github.com, repositories/creating-and-managing-repositories/restoring-a-deleted-repository);
    // a deleted repository answers the same 404 as one the token cannot see (FACTS.md, Error bodies).
    pub fn set_deleted(&self, repo: &str, deleted: bool) {
        self.with_repo(repo, |r| r.deleted = deleted);
    }

    /// Makes a repository public, private or internal.
    pub fn set_visibility(&self, repo: &str, visibility: Visibility) {
        self.with_repo(repo, |r| r.visibility = visibility);
    }

    fn with_repo(&self, repo: &str, f: impl FnOnce(&mut state::Repo)) {
        let (owner, name) = repo.split_once('/').expect("owner/name");
        let mut model = self.shared.model.lock().unwrap();
        let index = model.repo_by_name(owner, name).expect("known repository");
        f(&mut model.repos[index]);
    }

    pub fn set_write_limit_per_minute(&self, limit: Option<u32>) {
        self.shared.limits.lock().unwrap().set_write_limit(limit);
    }

    /// Whether the write limit's 403 carries `retry-after: 60` (the default) or, as GitHub's
    /// secondary limits sometimes answer, none (then only its body says what it is).
    pub fn set_secondary_retry_after(&self, sent: bool) {
        self.shared.limits.lock().unwrap().set_secondary_retry_after(sent);
    }

    /// Sets what is left of the primary budget in the current hour window.
    pub fn set_rate_limit_remaining(&self, remaining: u32) {
        let now = self.shared.clock.now();
        self.shared.limits.lock().unwrap().set_remaining(now, remaining);
    }

    /// Sets what is left of the personal token's GraphQL points in the current hour window.
    pub fn set_graphql_remaining(&self, remaining: u32) {
        let now = self.shared.clock.now();
        let mut budgets = self.shared.graphql_limits.lock().unwrap();
        budgets.entry(app::Credential::Personal).or_default().set_remaining(now, remaining);
    }

    /// Sends a signed delivery to `url` for every later change of an issue or comment in any
    /// repository of the fake (like one webhook on each repository), `secret` signing them.
    pub fn set_webhook(&self, url: &str, secret: &str) {
        let hook_id = 480_000_000 + u64::from(rand::random::<u16>());
        self.shared.outbox.set(url, secret, &hook_id.to_string());
    }

    /// Removes the webhook: later changes send nothing.
    pub fn clear_webhook(&self) {
        self.shared.outbox.clear();
    }

    /// While paused, deliveries are built and logged as lost (status `None`) but not sent.
    pub fn set_webhook_paused(&self, paused: bool) {
        self.shared.outbox.set_paused(paused);
    }

    /// Every ended delivery attempt, in the order they ended (a delivery is logged once its
    /// answer came or failed; poll until the count you expect is there).
    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.shared.outbox.deliveries()
    }

    /// Sends delivery `delivery_id` again: the same body, `X-GitHub-Delivery` and signature,
    /// to the URL it first went to. Panics if no such delivery was made.
    pub fn redeliver(&self, delivery_id: &str) {
        assert!(self.shared.outbox.redeliver(delivery_id), "fake GitHub made no delivery {delivery_id}");
    }

    fn wire<'a>(&'a self, model: &'a Model) -> Wire<'a> {
        self.shared.wire(model)
    }
}

/// The helpers are test fixtures: naming something that does not exist is a bug in the test.
fn repo_index(model: &Model, repo: &str) -> usize {
    model.repo_by_full_name(repo).unwrap_or_else(|| panic!("fake GitHub has no repository {repo}"))
}

fn live_index(model: &Model, repo: &str, number: u64) -> usize {
    let idx = repo_index(model, repo);
    assert!(model.repos[idx].live(number).is_some(), "fake GitHub has no live issue {repo}#{number}");
    idx
}

fn issue_view(wire: &Wire, repo: &Repo, issue: &Issue) -> IssueView {
    IssueView {
        number: issue.number,
        id: issue.id,
        title: issue.title.clone(),
        body: issue.body.clone(),
        state: if issue.open { "open" } else { "closed" }.to_string(),
        state_reason: issue.state_reason.clone(),
        labels: issue.labels.clone(),
        html_url: wire.issue_html_url(repo, issue),
        user_login: issue.user.clone(),
        created_at: issue.created_at,
        updated_at: issue.updated_at,
        closed_by: issue.closed_by.clone(),
        comments: issue.comments,
    }
}

fn comment_view(wire: &Wire, repo: &Repo, comment: &Comment) -> CommentView {
    CommentView {
        id: comment.id,
        issue_number: comment.issue_number,
        body: comment.body.clone(),
        user_login: comment.user.clone(),
        html_url: wire.comment_html_url(repo, comment),
        created_at: comment.created_at,
    }
}
