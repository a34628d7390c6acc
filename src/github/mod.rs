//! The GitHub client: repositories, issues, comments, conditional listing with `Link` pagination, and write pacing.

mod lists;
mod wire;

pub use lists::parse_next_link;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use tracing::debug;
use url::Url;

use crate::domain::{Issue, IssueNumber, RepoName};
use crate::http::{self, ApiError, ApiStats, Service};
use crate::limits::Target;
use crate::ratelimit::{RollingWindow, Scope, Spacer};
use crate::secret::Secret;

const SVC: Service = Service::Github;
/// GitHub's content-creating requests (issues, comments, edits): 80 a minute, 500 an hour.
pub const WRITE_ENDPOINT: &str = "content-creation";
/// GitHub's limit on issue and comment bodies, in characters.
pub const BODY_LIMIT: usize = 65_536;

/// What `GET /repos/{owner}/{repo}` says about a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    pub id: u64,
    pub visibility: String,
    pub has_issues: bool,
    pub archived: bool,
}

/// A comment on an issue, from the repo-wide comment list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub issue_number: IssueNumber,
    pub author: String,
    pub author_is_bot: bool,
    pub body: String,
    pub html_url: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An issue as the push-back pass reads it from the issue list (pull requests are dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedIssue {
    pub number: IssueNumber,
    pub id: u64,
    pub html_url: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub closed_by: Option<String>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A state change from the repo-wide issue event list (`closed`, `reopened`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueEvent {
    pub id: u64,
    pub kind: String,
    pub actor: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub state_reason: Option<String>,
    pub issue_number: IssueNumber,
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

    /// Sends one request; returns status, headers and body, or the typed error for a failure status.
    async fn call(
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
            .request(method, url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let (status, headers, bytes) = http::execute(&self.stats, &Target::service(SVC), req).await?;
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            return Err(http::status_error(SVC, status, &headers, &bytes));
        }
        Ok((status, headers, bytes))
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

    /// Looks for the issue whose body holds `marker` among issues created since `since`, newest
    /// first, through the list endpoint (it reads the primary store; search lags behind writes).
    pub async fn find_issue_with_marker(
        &self,
        repo: &RepoName,
        marker: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Issue>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues"));
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .append_pair("since", &since.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", "100");
        let Listing::Changed { items, .. } = self.list_all::<wire::WireIssue>(url, None).await? else {
            return Ok(None);
        };
        Ok(items
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .find(|i| i.body.as_deref().is_some_and(|b| b.contains(marker)))
            .map(|w| to_issue(repo, w)))
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

    /// The id of the issue's comment whose body holds `marker`, among comments since `since`.
    pub async fn find_comment_with_marker(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        marker: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<u64>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues/{number}/comments"));
        url.query_pairs_mut()
            .append_pair("since", &since.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", "100");
        let Listing::Changed { items, .. } = self.list_all::<wire::WireComment>(url, None).await? else {
            return Ok(None);
        };
        Ok(items.into_iter().find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker))).map(|c| c.id))
    }

    /// Adds a comment to an issue; returns the new comment's id.
    /// Reopens an issue. Reopening an open issue changes nothing, so a retry is harmless.
    pub async fn reopen_issue(&self, repo: &RepoName, number: IssueNumber) -> Result<(), ApiError> {
        let payload = serde_json::json!({ "state": "open", "state_reason": "reopened" });
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
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
        state: w.state,
        state_reason: w.state_reason,
        body: w.body,
        updated_at: parse_time(w.updated_at.as_deref()),
        closed_by: w.closed_by.map(|u| u.login),
    }
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
}
