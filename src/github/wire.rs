//! GitHub JSON shapes, as far as ticket-sync reads them. Unknown fields are ignored and
//! nullable fields are optional, so an API that grows or a sparse object still parses.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct WireUser {
    pub login: String,
}

#[derive(Debug, Deserialize)]
pub struct WireIssue {
    pub id: u64,
    pub number: u64,
    pub html_url: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub body: Option<String>,
    pub updated_at: Option<String>,
    pub closed_by: Option<WireUser>,
    /// Present only on pull requests, which the issue list returns too.
    pub pull_request: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct WireRepo {
    pub id: u64,
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
