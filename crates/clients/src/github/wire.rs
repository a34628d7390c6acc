//! GitHub JSON shapes, as far as ticket-sync reads them. Unknown fields are ignored and
//! nullable fields are optional, so an API that grows or a sparse object still parses.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct WireUser {
    pub login: String,
    /// `User`, `Bot` or `Organization`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// An item of the repo-wide comment list.
#[derive(Debug, Deserialize)]
pub struct WireComment {
    pub id: u64,
    pub html_url: String,
    /// `…/issues/{number}`: the only place the issue number appears.
    pub issue_url: String,
    pub body: Option<String>,
    pub user: Option<WireUser>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// An item of the repo-wide issue event list.
#[derive(Debug, Deserialize)]
pub struct WireEvent {
    pub id: u64,
    pub event: String,
    pub actor: Option<WireUser>,
    pub created_at: Option<String>,
    /// Not in GitHub's `issue-event` schema (FACTS.md, "Issue events"): read should a server
    /// send it, never relied on; why an issue was closed is the issue's `state_reason`.
    #[serde(default)]
    pub state_reason: Option<String>,
    pub issue: Option<WireEventIssue>,
    /// The commit of a `closed` made by a commit (FACTS: `commit_id` on issue events; null for
    /// a close by hand, and at times for a close by a pull request).
    #[serde(default)]
    pub commit_id: Option<String>,
    /// `…/repos/{owner}/{name}/commits/{sha}`: the repository the commit is in.
    #[serde(default)]
    pub commit_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireEventIssue {
    pub number: u64,
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct CreateComment<'a> {
    pub body: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct WireIssue {
    pub id: u64,
    pub number: u64,
    pub html_url: String,
    /// `…/repos/{owner}/{name}`: names the repository even when the issue was read by id.
    #[serde(default)]
    pub repository_url: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub body: Option<String>,
    pub updated_at: Option<String>,
    pub closed_at: Option<String>,
    pub closed_by: Option<WireUser>,
    /// Who opened it.
    #[serde(default)]
    pub user: Option<WireUser>,
    /// Present only on pull requests, which the issue list returns too.
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct WireRepo {
    pub id: u64,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub private: bool,
    pub visibility: Option<String>,
    #[serde(default = "yes")]
    pub has_issues: bool,
    #[serde(default)]
    pub archived: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize)]
pub struct CreateIssue<'a> {
    pub title: &'a str,
    pub body: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub labels: &'a [String],
}

/// `basic-error`: `{message, documentation_url, status?}`.
#[derive(Debug, Deserialize)]
pub struct WireError {
    pub message: Option<String>,
}

/// `GET /app`: the App's own description (only its slug is used: the bot is `{slug}[bot]`).
#[derive(Debug, Deserialize)]
pub struct WireApp {
    pub slug: String,
}

/// `GET /repos/{owner}/{repo}/installation`, `GET /app/installations/{id}`.
#[derive(Debug, Deserialize)]
pub struct WireInstallation {
    pub id: u64,
    #[serde(default)]
    pub permissions: std::collections::BTreeMap<String, String>,
}

/// `POST /app/installations/{id}/access_tokens`.
#[derive(Deserialize)]
pub struct WireAccessToken {
    pub token: String,
    pub expires_at: Option<String>,
}
