//! The GitHub client: repositories, issues, comments, conditional listing with `Link` pagination, and write pacing.

mod events;
mod lists;
mod wire;

pub use lists::{parse_next_link, Updates};

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use tracing::debug;
use url::Url;

use crate::domain::{Issue, IssueNumber, IssueState, RepoName, ServiceTime, StateReason};
pub use crate::domain::{IssueComment, IssueEvent, ListedIssue, BODY_LIMIT};
use crate::http::{self, ApiError, ApiStats, ForbiddenScope, Service};
use crate::limits::Target;
use crate::ratelimit::{RollingWindow, Scope, Spacer};
use crate::secret::Secret;

const SVC: Service = Service::Github;
/// GitHub's content-creating requests (issues, comments, edits): 80 a minute, 500 an hour.
pub const WRITE_ENDPOINT: &str = "content-creation";

/// What `GET /repos/{owner}/{repo}` says about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub id: u64,
    pub visibility: String,
    pub has_issues: bool,
    pub archived: bool,
}

/// The answer to a conditional list: unchanged (304, free), or every page of the new content.
#[derive(Debug, Clone)]
pub enum Listing<T> {
    NotModified,
    Changed { items: Vec<T>, etag: Option<String> },
}

/// Spaces content-creating requests so GitHub's secondary limits are never reached. Its
/// spacing and hourly window live in the shared `ApiStats`, so a new client (a reload) keeps
/// counting where the last one stopped, under the limits the new rules set.
#[derive(Debug)]
struct Pacer {
    spacing: Option<Arc<Spacer>>,
    /// GitHub allows 500 content creations an hour; a long backfill stops here, not at a 403.
    hourly: Option<Arc<RollingWindow>>,
}

impl Pacer {
    fn new(writes_per_minute: u32, writes_per_hour: u32, stats: &ApiStats) -> Self {
        let spacing = (writes_per_minute > 0)
            .then(|| stats.limits.spacer("github writes", Duration::from_millis(60_000 / writes_per_minute as u64)));
        let hourly = (writes_per_hour > 0)
            .then(|| stats.limits.window("github writes per hour", writes_per_hour, Duration::from_secs(3600)));
        Pacer { spacing, hourly }
    }

    /// Waits for the write's turn; a turn further off than `MAX_INLINE_WAIT` (both paces
    /// together) stops the pass. The spacing goes first: a turn it gives and the hourly window
    /// then refuses only delays the next write, while an hourly slot taken for nothing would
    /// be lost for an hour.
    async fn wait(&self) -> Result<(), ApiError> {
        let limited = |wait| ApiError::limited(SVC, Scope::endpoint(WRITE_ENDPOINT), wait);
        let start = tokio::time::Instant::now();
        if let Some(spacing) = &self.spacing {
            spacing.acquire(http::MAX_INLINE_WAIT).await.map_err(limited)?;
        }
        if let Some(hourly) = &self.hourly {
            let allowed = http::MAX_INLINE_WAIT.saturating_sub(start.elapsed());
            hourly.acquire(allowed).await.map_err(limited)?;
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct GithubClient {
    base: Url,
    auth: HeaderValue,
    http: reqwest::Client,
    stats: Arc<ApiStats>,
    pacer: Arc<Pacer>,
}

/// How far back a host time is moved when GitHub's clock is not known yet (no answer read).
const UNKNOWN_CLOCK_MARGIN_HOURS: i64 = 24;

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl GithubClient {
    /// A client whose content-creating requests are spaced to `writes_per_minute` and capped at
    /// `writes_per_hour` in any rolling hour (0 switches either off), counting what earlier
    /// clients sharing `stats` sent.
    pub fn new(
        base: Url,
        token: &Secret,
        writes_per_minute: u32,
        writes_per_hour: u32,
        http: reqwest::Client,
        stats: Arc<ApiStats>,
    ) -> Self {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token-characters"));
        auth.set_sensitive(true);
        let pacer = Arc::new(Pacer::new(writes_per_minute, writes_per_hour, &stats));
        GithubClient { base, auth, http, stats, pacer }
    }

    fn url(&self, path: &str) -> Url {
        http::join_path(&self.base, path)
    }

    /// Sends one request; returns status, headers and body, or the typed error for a failure
    /// status. A renamed repository answers every request under its old name with a redirect
    /// to `/repositories/{id}/…`: that is followed once (same origin only). A redirect of one
    /// issue (a transfer) is not: the caller gets `Moved` and moves the link.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ApiError> {
        match self.call_once(method.clone(), url.clone(), body, etag).await {
            Err(ApiError::Moved { location: Some(location), .. }) if !tells_a_transfer(&method, url.path()) => {
                let to = self
                    .same_origin(&location)
                    .ok_or_else(|| ApiError::Moved { service: SVC.as_str(), location: Some(location.clone()) })?;
                debug!(from = url.path(), to = to.path(), "the repository was renamed or moved; following");
                self.call_once(method, to, body, etag).await
            }
            other => other,
        }
    }

    /// `location` as a URL of the configured API (the token never goes elsewhere).
    fn same_origin(&self, location: &str) -> Option<Url> {
        within_api(&self.base, location)
    }

    async fn call_once(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        etag: Option<&str>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), ApiError> {
        if method != Method::GET {
            self.pacer.wait().await?;
        }
        debug!(%method, path = url.path(), "github request");
        let mut req = self
            .http
            .request(method, url.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let path = url.path().to_string();
        let (status, headers, bytes) = http::execute(&self.stats, &Target::service(SVC), req).await?;
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            return Err(refuse_scope(http::status_error(SVC, status, &headers, &bytes), &path, &bytes));
        }
        Ok((status, headers, bytes))
    }

    /// A moment of this host's clock on GitHub's clock, for comparing with GitHub's
    /// timestamps (`since`): a host that runs fast must not skip what GitHub stamped
    /// earlier. Before GitHub's clock is known, the moment is moved a day back instead.
    pub fn github_time(&self, host_time: chrono::DateTime<chrono::Utc>) -> ServiceTime {
        (self.stats.service_time(SVC, host_time)).unwrap_or_else(|| {
            ServiceTime::assume_host(host_time - chrono::Duration::hours(UNKNOWN_CLOCK_MARGIN_HOURS))
        })
    }

    pub async fn get_repo(&self, repo: &RepoName) -> Result<RepoInfo, ApiError> {
        let (_, _, bytes) = self.call(Method::GET, self.url(&format!("/repos/{repo}")), None, None).await?;
        let r: wire::WireRepo = http::decode(SVC, &bytes)?;
        let visibility = r.visibility.unwrap_or_else(|| if r.private { "private".into() } else { "public".into() });
        Ok(RepoInfo { id: r.id, visibility, has_issues: r.has_issues, archived: r.archived })
    }

    /// The login the token belongs to (checks the credentials).
    pub async fn whoami(&self) -> Result<String, ApiError> {
        let (_, _, bytes) = self.call(Method::GET, self.url("/user"), None, None).await?;
        let u: wire::WireUser = http::decode(SVC, &bytes)?;
        Ok(u.login)
    }

    pub async fn create_issue(
        &self,
        repo: &RepoName,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, ApiError> {
        let payload = serde_json::to_value(wire::CreateIssue { title, body, labels }).expect("serialisable");
        let url = self.url(&format!("/repos/{repo}/issues"));
        let (_, _, bytes) = self.call(Method::POST, url, Some(&payload), None).await?;
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(to_issue(repo, w))
    }

    /// Looks for ticket-sync's own issue carrying `marker` among issues created since `since`,
    /// newest first, through the list endpoint (it reads the primary store; search lags behind
    /// writes). Own: opened by `login` (the token's user), with the body ending in the marker
    /// as ticket-sync writes it, so neither a stranger's issue nor quoted text is adopted.
    pub async fn find_issue_with_marker(
        &self,
        repo: &RepoName,
        marker: &str,
        since: ServiceTime,
        login: &str,
    ) -> Result<Option<Issue>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues"));
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .append_pair("since", &since.utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", "100");
        let Listing::Changed { items, .. } = self.list_all::<wire::WireIssue>(url, None).await? else {
            return Ok(None);
        };
        Ok(items.into_iter().find(|i| is_own_issue(i, login, marker)).map(|w| to_issue(repo, w)))
    }

    /// The issue `number` if it is ticket-sync's own issue carrying `marker` (see
    /// `find_issue_with_marker`); `None` when it is someone else's, deleted or moved away.
    pub async fn own_issue(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        marker: &str,
        login: &str,
    ) -> Result<Option<Issue>, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let bytes = match self.call(Method::GET, url, None, None).await {
            Ok((_, _, bytes)) => bytes,
            // Transferred (or its repository renamed): judge it where it is now.
            Err(ApiError::Moved { location: Some(location), .. }) => {
                let Some((moved_to, w)) = self.read_moved(&location).await? else { return Ok(None) };
                let repo = moved_to.unwrap_or_else(|| repo.clone());
                return Ok(is_own_issue(&w, login, marker).then(|| to_issue(&repo, w)));
            }
            Err(e) => return Err(e),
        };
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(is_own_issue(&w, login, marker).then(|| to_issue(repo, w)))
    }

    /// Where a transferred issue went, from the `Location` of its redirect. `None` when the
    /// location is elsewhere, names no issue, or the issue's repository cannot be told.
    pub async fn locate_moved(&self, location: &str) -> Result<Option<Issue>, ApiError> {
        let Some((repo, w)) = self.read_moved(location).await? else { return Ok(None) };
        let repo = repo.or_else(|| repo_from_html_url(&w.html_url));
        Ok(repo.map(|repo| to_issue(&repo, w)))
    }

    /// Reads the issue a redirect's `Location` names. GitHub names the new repository by id
    /// (`/repositories/{id}/issues/{n}`), so the repository comes from the issue's
    /// `repository_url`. Same origin only; a sub-resource's redirect (`…/issues/{n}/comments`)
    /// names its issue too.
    async fn read_moved(&self, location: &str) -> Result<Option<(Option<RepoName>, wire::WireIssue)>, ApiError> {
        let Some(mut url) = self.same_origin(location) else { return Ok(None) };
        let Some(path) = issue_path(url.path()) else { return Ok(None) };
        url.set_path(&path);
        url.set_query(None);
        let (_, _, bytes) = self.call_once(Method::GET, url, None, None).await?;
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(Some((w.repository_url.as_deref().and_then(repo_from_api_url), w)))
    }

    /// One issue; a transferred one answers `Moved`, a deleted one `Gone`.
    /// Reads an issue unless it is unchanged since `etag` (then `None`, a 304 that costs no budget).
    pub async fn get_issue_if_changed(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        etag: Option<&str>,
    ) -> Result<Option<(Issue, Option<String>)>, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let (status, headers, bytes) = self.call(Method::GET, url, None, etag).await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let new_etag = headers.get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(Some((to_issue(repo, w), new_etag)))
    }

    pub async fn get_issue(&self, repo: &RepoName, number: IssueNumber) -> Result<Issue, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let (_, _, bytes) = self.call(Method::GET, url, None, None).await?;
        let w: wire::WireIssue = http::decode(SVC, &bytes)?;
        Ok(to_issue(repo, w))
    }

    /// The id of ticket-sync's own comment on the issue carrying `marker` (written by `login`,
    /// the marker ending its body), among comments since `since`.
    pub async fn find_comment_with_marker(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        marker: &str,
        since: ServiceTime,
        login: &str,
    ) -> Result<Option<u64>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues/{number}/comments"));
        url.query_pairs_mut()
            .append_pair("since", &since.utc().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", "100");
        let Listing::Changed { items, .. } = self.list_all::<wire::WireComment>(url, None).await? else {
            return Ok(None);
        };
        let own = |c: &wire::WireComment| {
            c.user.as_ref().is_some_and(|u| u.login.eq_ignore_ascii_case(login))
                && ends_with_marker(c.body.as_deref().unwrap_or(""), marker)
        };
        Ok(items.into_iter().find(own).map(|c| c.id))
    }

    /// Adds a comment to an issue; returns the new comment's id.
    /// Reopens an issue. Reopening an open issue changes nothing, so a retry is harmless.
    pub async fn reopen_issue(&self, repo: &RepoName, number: IssueNumber) -> Result<(), ApiError> {
        let payload = serde_json::json!({ "state": "open", "state_reason": "reopened" });
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        self.call(Method::PATCH, url, Some(&payload), None).await?;
        Ok(())
    }

    /// Replaces a comment's body. Setting the same body again changes nothing, so a retry is
    /// harmless; an edit notifies nobody.
    pub async fn update_comment(&self, repo: &RepoName, comment_id: u64, body: &str) -> Result<(), ApiError> {
        let payload = serde_json::to_value(wire::CreateComment { body }).expect("serialisable");
        let url = self.url(&format!("/repos/{repo}/issues/comments/{comment_id}"));
        self.call(Method::PATCH, url, Some(&payload), None).await?;
        Ok(())
    }

    pub async fn create_comment(&self, repo: &RepoName, number: IssueNumber, body: &str) -> Result<u64, ApiError> {
        let payload = serde_json::to_value(wire::CreateComment { body }).expect("serialisable");
        let url = self.url(&format!("/repos/{repo}/issues/{number}/comments"));
        let (_, _, bytes) = self.call(Method::POST, url, Some(&payload), None).await?;
        let w: wire::WireComment = http::decode(SVC, &bytes)?;
        Ok(w.id)
    }
}

/// `location` if it is a URL of the API at `base`: the same origin and, for a base with a path
/// (GitHub Enterprise Server's `https://HOST/api/v3`), under that path. The rest of such a
/// host is its web site, where neither a redirect nor a `Link` of the API leads and where the
/// token has no business.
// FACT: GHES's REST endpoints are all prefixed with `http(s)://HOSTNAME/api/v3`, not
// configurable (docs.github.com/en/enterprise-server@3.10/rest/enterprise-admin, "Endpoint
// URLs"; github.com/orgs/community/discussions/24365); its `Link` and `Location` URLs are
// absolute URLs under that prefix.
fn within_api(base: &Url, location: &str) -> Option<Url> {
    let url = Url::parse(location).ok()?;
    let prefix = base.path().trim_end_matches('/');
    let under = url.path() == prefix || url.path().strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'));
    (url.origin() == base.origin() && under).then_some(url)
}

/// Narrows a 403 that is not a rate limit (`http` has told those apart) to what it is about.
/// GitHub refuses per resource: an archived repository ("Repository was archived so is
/// read-only"), a token or App without write access to one repository ("Resource not
/// accessible by …"), a locked issue ("Unable to create comment because issue is locked").
/// Only a refusal outside any repository (`/user`) is about the credentials themselves.
fn refuse_scope(e: ApiError, path: &str, body: &[u8]) -> ApiError {
    let ApiError::Forbidden { service, detail, .. } = e else { return e };
    let message = serde_json::from_slice::<wire::WireError>(body).ok().and_then(|b| b.message).unwrap_or_default();
    let in_repo = path.contains("/repos/") || path.contains("/repositories/");
    let scope = if !in_repo {
        ForbiddenScope::Account
    } else if message.to_ascii_lowercase().contains("locked") {
        ForbiddenScope::Issue
    } else {
        ForbiddenScope::Repository
    };
    ApiError::Forbidden { service, scope, detail: if message.is_empty() { detail } else { message } }
}

/// Whether a redirect of this request is news the caller acts on (the issue was transferred:
/// the link moves) rather than a renamed repository to follow: reading the issue itself, or
/// writing to it or under it.
fn tells_a_transfer(method: &Method, path: &str) -> bool {
    match issue_path(path) {
        Some(issue) => *method != Method::GET || issue == path.trim_end_matches('/'),
        None => false,
    }
}

/// The path up to and including `issues/{n}`, if the path names one issue.
fn issue_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments
        .windows(2)
        .position(|w| w[0] == "issues" && !w[1].is_empty() && w[1].bytes().all(|b| b.is_ascii_digit()))?;
    Some(segments[..at + 2].join("/"))
}

/// `owner/name` from `…/repos/{owner}/{name}`.
fn repo_from_api_url(url: &str) -> Option<RepoName> {
    let path = Url::parse(url).ok()?.path().to_string();
    let rest = &path[path.find("/repos/")? + "/repos/".len()..];
    rest.trim_end_matches('/').parse().ok()
}

/// `owner/name` from an issue's web URL `…/{owner}/{name}/issues/{n}` (any host: GitHub
/// Enterprise Server too).
fn repo_from_html_url(url: &str) -> Option<RepoName> {
    let path = Url::parse(url).ok()?.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let at = segments.iter().rposition(|s| *s == "issues")?;
    (at >= 2).then(|| format!("{}/{}", segments[at - 2], segments[at - 1]).parse().ok()).flatten()
}

/// The repository and number an issue page's URL names (`…/{owner}/{repo}/issues/{n}`), as
/// the link note writes it.
pub fn parse_issue_html_url(url: &str) -> Option<(RepoName, IssueNumber)> {
    let path = Url::parse(url).ok()?.path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let at = segments.iter().rposition(|s| *s == "issues")?;
    let number = segments.get(at + 1)?.parse().ok()?;
    (at >= 2 && at + 2 == segments.len()).then_some(())?;
    Some((repo_from_html_url(url)?, IssueNumber(number)))
}

/// The repository and number an issue API URL names (`…/repos/{owner}/{repo}/issues/{n}`),
/// as a transfer's `Location` gives them.
pub fn parse_issue_url(url: &str) -> Option<(RepoName, IssueNumber)> {
    let path = Url::parse(url).ok()?.path().to_string();
    let rest = &path[path.find("/repos/")? + "/repos/".len()..];
    let mut parts = rest.split('/');
    let (owner, name, kind, number) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if kind != "issues" {
        return None;
    }
    Some((format!("{owner}/{name}").parse().ok()?, IssueNumber(number.parse().ok()?)))
}

fn parse_time(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|d| d.to_utc())
}

fn to_issue(repo: &RepoName, w: wire::WireIssue) -> Issue {
    Issue {
        repo: repo.clone(),
        number: IssueNumber(w.number),
        id: w.id,
        html_url: w.html_url,
        state: IssueState::parse(&w.state),
        state_reason: w.state_reason.map(StateReason::from),
        body: w.body,
        updated_at: parse_time(w.updated_at.as_deref()),
        closed_by: w.closed_by.map(|u| u.login),
        is_pull_request: w.pull_request.is_some(),
    }
}

/// Opened by `login` (GitHub logins compare without case), not a pull request, and the body
/// ends with `marker` on its own line, where `body::issue_body` puts it.
fn is_own_issue(w: &wire::WireIssue, login: &str, marker: &str) -> bool {
    let by = w.user.as_ref().is_some_and(|u| u.login.eq_ignore_ascii_case(login));
    by && w.pull_request.is_none() && ends_with_marker(w.body.as_deref().unwrap_or(""), marker)
}

/// Whether `body` ends with `marker` on a line of its own (trailing blank space aside), the
/// only place ticket-sync writes a marker.
pub fn ends_with_marker(body: &str, marker: &str) -> bool {
    body.trim_end().strip_suffix(marker).is_some_and(|rest| rest.is_empty() || rest.ends_with('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_location_names_the_new_repository_and_number() {
        let (repo, number) = parse_issue_url("https://api.github.com/repos/acme/other/issues/12").unwrap();
        assert_eq!((repo.to_string(), number), ("acme/other".to_string(), IssueNumber(12)));
        assert!(parse_issue_url("https://api.github.com/repositories/5/issues/12").is_none());
    }

    #[test]
    fn redirect_shapes_are_told_apart() {
        assert!(tells_a_transfer(&Method::GET, "/repositories/5/issues/12"));
        assert!(tells_a_transfer(&Method::POST, "/repos/a/b/issues/12/comments"));
        assert!(
            !tells_a_transfer(&Method::GET, "/repos/a/b/issues/12/events"),
            "a renamed repository's reads are followed"
        );
        assert!(!tells_a_transfer(&Method::POST, "/repos/a/b/issues"));
        assert!(!tells_a_transfer(&Method::GET, "/repos/a/b/issues/comments"));
        assert!(!tells_a_transfer(&Method::GET, "/repos/a/b"));
        assert_eq!(issue_path("/repositories/5/issues/12/comments").as_deref(), Some("/repositories/5/issues/12"));
        let repo = |s: &str| s.parse::<RepoName>().unwrap();
        assert_eq!(repo_from_api_url("https://api.github.com/repos/acme/new-name"), Some(repo("acme/new-name")));
        assert_eq!(repo_from_html_url("https://ghe.example/acme/x/issues/3"), Some(repo("acme/x")));
    }

    #[test]
    fn api_urls_stay_under_an_enterprise_servers_prefix() {
        let base = Url::parse("https://ghe.corp.example/api/v3").unwrap();
        let within = |l: &str| within_api(&base, l).map(|u| u.to_string());
        let renamed = "https://ghe.corp.example/api/v3/repositories/5/issues?page=2";
        assert_eq!(within(renamed).as_deref(), Some(renamed));
        assert!(within("https://ghe.corp.example/login?return_to=%2Frepos").is_none(), "the web site");
        assert!(within("https://ghe.corp.example/acme/x/issues/3").is_none(), "an issue page");
        assert!(within("https://ghe.corp.example/api/v30/repos/acme/x").is_none(), "a longer segment");
        assert!(within("https://other.example/api/v3/repos/acme/x").is_none(), "another host");
        assert!(within("http://ghe.corp.example/api/v3/repos/acme/x").is_none(), "another scheme");
        let trailing = Url::parse("https://ghe.corp.example/api/v3/").unwrap();
        assert!(within_api(&trailing, "https://ghe.corp.example/api/v3/repos/acme/x").is_some());
        let dotcom = Url::parse("https://api.github.com").unwrap();
        assert!(within_api(&dotcom, "https://api.github.com/repositories/5/issues/1").is_some());
    }

    #[test]
    fn enterprise_server_urls_keep_the_prefix_and_name_the_issue() {
        let base = Url::parse("https://ghe.corp.example/api/v3").unwrap();
        let url = http::join_path(&base, "/repos/acme/x/issues/3");
        assert_eq!(url.as_str(), "https://ghe.corp.example/api/v3/repos/acme/x/issues/3");
        let trailing = Url::parse("https://ghe.corp.example/api/v3/").unwrap();
        assert_eq!(http::join_path(&trailing, "/user").as_str(), "https://ghe.corp.example/api/v3/user");
        let repo = |s: &str| s.parse::<RepoName>().unwrap();
        assert_eq!(parse_issue_url(url.as_str()), Some((repo("acme/x"), IssueNumber(3))));
        let moved = "/api/v3/repositories/5/issues/12/comments";
        assert_eq!(issue_path(moved).as_deref(), Some("/api/v3/repositories/5/issues/12"));
        assert!(tells_a_transfer(&Method::GET, "/api/v3/repositories/5/issues/12"));
        assert!(!tells_a_transfer(&Method::GET, "/api/v3/repos/a/b/issues/12/events"));
        let api = "https://ghe.corp.example/api/v3/repos/acme/new-name";
        assert_eq!(repo_from_api_url(api), Some(repo("acme/new-name")));
        let page = parse_issue_html_url("https://ghe.corp.example/acme/x/issues/3");
        assert_eq!(page, Some((repo("acme/x"), IssueNumber(3))));
        let forbidden = |path: &str| {
            let e = ApiError::Forbidden { service: "github", scope: ForbiddenScope::Account, detail: String::new() };
            match refuse_scope(e, path, br#"{"message":"Resource not accessible by integration"}"#) {
                ApiError::Forbidden { scope, .. } => scope,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(forbidden("/api/v3/repos/acme/x/issues"), ForbiddenScope::Repository);
        assert_eq!(forbidden("/api/v3/user"), ForbiddenScope::Account);
    }

    #[test]
    fn a_link_notes_issue_url_names_repository_and_number() {
        let repo = |s: &str| s.parse::<RepoName>().unwrap();
        let parsed = parse_issue_html_url("https://github.com/acme/x/issues/3");
        assert_eq!(parsed, Some((repo("acme/x"), IssueNumber(3))));
        assert!(parse_issue_html_url("https://github.com/acme/x/issues/3/more").is_none());
        assert!(parse_issue_html_url("https://github.com/acme/x/pull/3").is_none());
        assert!(parse_issue_html_url("Escalated to engineering: GitHub issue acme/x#3").is_none());
        assert!(ends_with_marker("text\n\n<!-- m -->\n", "<!-- m -->"));
        assert!(!ends_with_marker("text <!-- m -->", "<!-- m -->"));
    }
}
