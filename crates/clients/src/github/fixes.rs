//! What following a fix reads (part 15, `[fixes]`): a repository's pull requests by update, the
//! pull request that brought a commit in, the releases, and whether a tag contains a commit.
//! The facts each read relies on are in docs/research/github-fixes.md; the sandbox models them
//! (`crates/sandbox/src/github/tests/{pulls,releases,compare}.rs`).

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::lists::{has_next, FirstPage, PER_PAGE};
use super::{parse_time, GithubClient, Listing, SVC};
use crate::http::{self, ApiError};
use ticket_sync_core::domain::CommitSha;
use ticket_sync_core::domain::{GithubTime, IssueNumber, RepoName};
use ticket_sync_core::fixplan::{PullRequest, PullState, Release};

/// Pages of the pull-request list read at most in one go (100 pull requests each): more
/// updates than this between two reads leave the oldest of them to GitHub's own timeline.
const MAX_PULL_PAGES: usize = 10;

#[derive(Deserialize)]
struct WirePull {
    number: u64,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    merged_at: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    user: Option<WireUser>,
    #[serde(default)]
    base: Option<WireBase>,
}

#[derive(Deserialize)]
struct WireUser {
    login: String,
}

#[derive(Deserialize)]
struct WireBase {
    #[serde(rename = "ref", default)]
    branch: Option<String>,
    #[serde(default)]
    repo: Option<WireBaseRepo>,
}

#[derive(Deserialize)]
struct WireBaseRepo {
    #[serde(default)]
    default_branch: Option<String>,
}

#[derive(Deserialize)]
struct WireRelease {
    id: u64,
    #[serde(default)]
    tag_name: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
    #[serde(default)]
    published_at: Option<String>,
}

#[derive(Deserialize)]
struct WireTitle {
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct WireCompare {
    ahead_by: u64,
}

fn to_pull(repo: &RepoName, w: WirePull) -> PullRequest {
    let merged = w.merged_at.is_some();
    let state = match (w.state.as_deref(), merged) {
        (_, true) => PullState::Merged { commit: w.merge_commit_sha.as_deref().and_then(CommitSha::parse) },
        (Some("closed"), false) => PullState::ClosedUnmerged,
        _ => PullState::Open,
    };
    // Before a merge, `merge_commit_sha` is a test merge: never the fix's commit (above, it is
    // read only once merged). The base is the default branch when GitHub says so; an answer
    // without either name is not taken as one.
    let into_default_branch = w.base.as_ref().is_some_and(|b| {
        let default = b.repo.as_ref().and_then(|r| r.default_branch.as_deref());
        b.branch.is_some() && b.branch.as_deref() == default
    });
    PullRequest {
        repo: repo.clone(),
        number: IssueNumber(w.number),
        title: w.title.unwrap_or_default(),
        author: w.user.map(|u| u.login).unwrap_or_default(),
        url: w.html_url.unwrap_or_default(),
        body: w.body.unwrap_or_default(),
        into_default_branch,
        state,
        updated_at: parse_time(w.updated_at.as_deref()).map(GithubTime::stamped),
    }
}

fn to_release(repo: &RepoName, w: WireRelease) -> Option<Release> {
    Some(Release {
        repo: repo.clone(),
        id: w.id,
        tag: w.tag_name.filter(|t| !t.is_empty())?,
        url: w.html_url.unwrap_or_default(),
        draft: w.draft,
        prerelease: w.prerelease,
        published_at: parse_time(w.published_at.as_deref()).map(GithubTime::stamped),
    })
}

impl GithubClient {
    /// The repository's pull requests updated at or after `since`, newest update first
    /// (`GET /repos/{o}/{r}/pulls?state=all&sort=updated&direction=desc`), conditional on
    /// `etag` for the first page; without `since`, the first page only (the newest 100: older
    /// ones are past). A pull request that cannot be read is left out and logged.
    pub async fn pulls_updated_since(
        &self,
        repo: &RepoName,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
    ) -> Result<Listing<PullRequest>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/pulls"));
        url.query_pairs_mut()
            .append_pair("state", "all")
            .append_pair("sort", "updated")
            .append_pair("direction", "desc")
            .append_pair("per_page", &PER_PAGE.to_string());
        let Some(FirstPage { items: mut page, mut bad, mut headers, etag: new_etag }) =
            self.first_page::<WirePull>(url, etag).await?
        else {
            return Ok(Listing::NotModified);
        };
        let (mut items, mut pages) = (Vec::new(), 1);
        loop {
            super::lists::report_bad(&bad);
            let older = |p: &WirePull| since.zip(parse_time(p.updated_at.as_deref())).is_some_and(|(s, u)| u < s);
            let reached = page.iter().any(older);
            items.extend(page.into_iter().filter(|p| !older(p)).map(|p| to_pull(repo, p)));
            if reached || since.is_none() || !has_next(&headers) || pages >= MAX_PULL_PAGES {
                break;
            }
            let Some(next) = self.next_link(&headers) else { break };
            let (_, h, b) = self.call(Method::GET, next, None, None).await?;
            (page, bad) = http::decode_items::<WirePull>(SVC, &b)?;
            headers = h;
            pages += 1;
        }
        Ok(Listing::Changed { items, etag: new_etag })
    }

    /// The merged pull request that brought `sha` onto the default branch, if GitHub names one
    /// (`GET /repos/{o}/{r}/commits/{sha}/pulls`; a commit elsewhere lists open ones only, which
    /// are not what closed anything).
    pub async fn pull_of_commit(&self, repo: &RepoName, sha: &CommitSha) -> Result<Option<PullRequest>, ApiError> {
        let url = self.url(&format!("/repos/{repo}/commits/{sha}/pulls"));
        let (_, _, bytes) = self.call(Method::GET, url, None, None).await?;
        let (pulls, bad) = http::decode_items::<WirePull>(SVC, &bytes)?;
        super::lists::report_bad(&bad);
        let merged = pulls.into_iter().map(|p| to_pull(repo, p));
        Ok(merged.into_iter().find(|p| matches!(&p.state, PullState::Merged { commit: Some(c) } if c == sha)))
    }

    /// The repository's newest releases (`GET /repos/{o}/{r}/releases`, one page of 100),
    /// conditional on `etag`. GitHub lists them by the tagged commit's date, so a release made
    /// later on an older commit may sort below newer ones; 100 is far more than a repository
    /// publishes between two reads. A release without a tag (a draft not yet tagged) is left out.
    pub async fn releases(&self, repo: &RepoName, etag: Option<&str>) -> Result<Listing<Release>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/releases"));
        url.query_pairs_mut().append_pair("per_page", &PER_PAGE.to_string());
        let Some(FirstPage { items, bad, etag, .. }) = self.first_page::<WireRelease>(url, etag).await? else {
            return Ok(Listing::NotModified);
        };
        super::lists::report_bad(&bad);
        Ok(Listing::Changed { items: items.into_iter().filter_map(|r| to_release(repo, r)).collect(), etag })
    }

    /// Whether the tag `tag` contains the commit `sha`: `GET …/compare/{tag}...{sha}?per_page=1`
    /// says the commit is `ahead_by` 0 commits of the tag (status `behind` or `identical`). A
    /// 404 (an unknown or deleted tag, histories without a common ancestor) or a 500 (a diff
    /// too slow to make) is an error, never "not contained": the caller asks again later.
    pub async fn tag_contains(&self, repo: &RepoName, tag: &str, sha: &CommitSha) -> Result<bool, ApiError> {
        let encoded: String = url::form_urlencoded::byte_serialize(tag.as_bytes()).collect();
        let mut url = self.url(&format!("/repos/{repo}/compare/{encoded}...{sha}"));
        url.query_pairs_mut().append_pair("per_page", "1");
        let (_, _, bytes) = self.call(Method::GET, url, None, None).await?;
        let compare: WireCompare = http::decode(SVC, &bytes)?;
        Ok(compare.ahead_by == 0)
    }

    /// The issue's title (`GET /repos/{o}/{r}/issues/{n}`), for a drafted reply that names it.
    pub async fn issue_title(&self, repo: &RepoName, number: IssueNumber) -> Result<String, ApiError> {
        let url = self.url(&format!("/repos/{repo}/issues/{number}"));
        let (_, _, bytes) = self.call(Method::GET, url, None, None).await?;
        let w: WireTitle = http::decode(SVC, &bytes)?;
        Ok(w.title.unwrap_or_default())
    }
}
