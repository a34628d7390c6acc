//! Domain types shared by the sync logic, the store and the clients: ids that cannot be mixed up.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A Zendesk ticket id (64-bit in Zendesk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub u64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A GitHub issue number within one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IssueNumber(pub u64);

impl fmt::Display for IssueNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `owner/name` of a GitHub repository, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    pub fn owner(&self) -> &str {
        &self.owner
    }
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for RepoName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 100
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && part != "."
                && part != ".."
        };
        match s.split_once('/') {
            Some((owner, name)) if valid(owner) && valid(name) => {
                Ok(RepoName { owner: owner.to_string(), name: name.to_string() })
            }
            _ => Err(format!("`{s}` is not a repository in the form owner/name (letters, digits, `-`, `_`, `.`)")),
        }
    }
}

impl TryFrom<String> for RepoName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<RepoName> for String {
    fn from(r: RepoName) -> String {
        r.to_string()
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// One attachment on a ticket, as a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub file_name: String,
    pub url: String,
}

/// What escalation needs to know about a Zendesk ticket. Built by `zendesk/` from the wire shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub priority: Option<String>,
    pub tags: Vec<String>,
    pub organization: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A GitHub issue as the sync logic sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub repo: RepoName,
    pub number: IssueNumber,
    pub id: u64,
    pub html_url: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub body: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_must_be_owner_slash_name() {
        assert!("acme/backend".parse::<RepoName>().is_ok());
        assert!("acme/back.end-2_x".parse::<RepoName>().is_ok());
        for bad in ["acme", "acme/", "/x", "a/b/c", "ac me/x", "acme/..", ""] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad}");
        }
    }
}
