//! The fake GitHub's in-memory world: repositories, issues and pull requests, comments,
//! labels, users, each repository's commit graph and releases, with the read side (lookups,
//! following transfers). Pure data, no HTTP; the caller passes "now" in. Writes live in
//! `edits` (issues, comments), `pulls` (pull requests, pushes, cross-references) and
//! `releases`; the commit graph in `git`, reference parsing in `refs`.

mod edits;
pub mod git;
mod pulls;
pub mod refs;
mod releases;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Visibility;
use git::Git;
pub use pulls::{MergeMethod, Pull};
pub use releases::{Asset, Release, ReleaseSpec};

/// Ids come from separate ranges so a test (or a confused client) mixing an issue id with a
/// comment id or a repository id gets a miss instead of a lucky hit.
const FIRST_REPO_ID: u64 = 610_000_001;
const FIRST_ISSUE_ID: u64 = 2_200_000_001;
const FIRST_COMMENT_ID: u64 = 3_100_000_001;
const FIRST_LABEL_ID: u64 = 6_000_000_001;
const FIRST_EVENT_ID: u64 = 7_700_000_001;
const FIRST_PULL_ID: u64 = 1_800_000_001;
const FIRST_RELEASE_ID: u64 = 150_000_001;
const FIRST_ASSET_ID: u64 = 220_000_001;

/// The reasons GitHub accepts when an issue is closed.
pub const CLOSE_REASONS: [&str; 3] = ["completed", "not_planned", "duplicate"];

#[derive(Debug, Clone)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
}

/// What became of an issue number. Numbers are never reused, so gone issues keep a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Live,
    Transferred { repo_id: u64, number: u64 },
    Deleted,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub open: bool,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub comments: u64,
    pub is_pull_request: bool,
    pub fate: Fate,
    /// The issue it was closed as a duplicate of (repository id, number), kept for tests: the
    /// REST API never shows it (docs/research/github-fixes.md §5).
    pub duplicate_of: Option<(u64, u64)>,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub user: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// False while the comment exists but the API does not show it yet (replication lag): it
    /// keeps its id and times, and appears in the lists once published.
    pub visible: bool,
    /// Creation order across comments and events (the timeline interleaves them).
    pub seq: u64,
}

/// What an issue event carries beyond its kind, as GitHub's issue-event objects do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDetail {
    None,
    /// `labeled`, `unlabeled`.
    Label {
        name: String,
        color: String,
    },
    /// `assigned`, `unassigned`: who was (un)assigned; the actor is the assigner.
    Assignee {
        login: String,
    },
    /// `renamed`.
    Rename {
        from: String,
        to: String,
    },
    /// `cross-referenced` (timeline only): the issue or pull request whose text mentioned this
    /// one.
    CrossReference {
        repo_id: u64,
        number: u64,
    },
    /// `marked_as_duplicate`, `unmarked_as_duplicate`: the surviving ("canonical") issue, which
    /// only GraphQL shows (`MarkedAsDuplicateEvent.canonical`; docs/research/github-fixes.md
    /// §5): the REST bodies carry the common properties alone.
    Duplicate {
        repo_id: u64,
        number: u64,
    },
}

/// A commit an event names (`commit_id`, `commit_url`): its sha and the repository it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRef {
    pub repo_id: u64,
    pub sha: String,
}

/// Event kinds the timeline shows and the issue event lists do not (docs/research/github-fixes.md §1: GH-DOCS
/// issue-event-types.md availability tables).
pub const TIMELINE_ONLY: [&str; 1] = ["cross-referenced"];

/// One entry of an issue's history, as the issue event lists show it: state changes
/// (`closed`, `reopened`) and everything else GitHub records (`labeled`, `unlabeled`,
/// `assigned`, `unassigned`, `renamed`, `mentioned`, `subscribed`).
#[derive(Debug, Clone)]
pub struct IssueEvent {
    pub id: u64,
    pub issue_number: u64,
    pub event: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub detail: EventDetail,
    /// Creation order across comments and events.
    pub seq: u64,
    /// `closed` by a commit (or a merged pull request's commit), `referenced`, `merged`.
    pub commit: Option<CommitRef>,
    /// `closed` and `reopened`: the reason the change gave the issue.
    pub state_reason: Option<String>,
}

#[derive(Debug)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub visibility: Visibility,
    pub has_issues: bool,
    pub created_at: DateTime<Utc>,
    pub labels: Vec<Label>,
    pub issues: BTreeMap<u64, Issue>,
    pub comments: Vec<Comment>,
    /// Issue events, oldest first.
    pub events: Vec<IssueEvent>,
    next_number: u64,
    /// Read-only: every write answers 403.
    pub archived: bool,
    /// The token may read but not write here (a fine-grained token or App without Issues: write).
    pub writes_denied: bool,
    /// Locked issues: comments by the token are refused.
    pub locked: std::collections::BTreeSet<u64>,
    /// Names the repository had before it was renamed (`owner/name`): they redirect here.
    pub former_names: Vec<String>,
    /// The token can no longer see the repository (access removed, SSO authorisation lapsed):
    /// everything under it answers 404, as GitHub answers for private resources it hides.
    pub hidden: bool,
    /// The repository was deleted: everything under it answers GitHub's plain 404, by name and
    /// by id. An owner can restore it (with its issues and numbers) for a while.
    pub deleted: bool,
    /// Branches, tags and commits.
    pub git: Git,
    /// The pull-request side of the issues that are pull requests, by number.
    pub pulls: BTreeMap<u64, Pull>,
    /// Releases, in creation order.
    pub releases: Vec<Release>,
    /// The personal token may push here (it sees draft releases); true by default.
    pub push_access: bool,
    /// Compares whose diff has files answer 500 "taking too long" (a huge diff).
    pub slow_diffs: bool,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn live(&self, number: u64) -> Option<&Issue> {
        self.issues.get(&number).filter(|i| i.fate == Fate::Live)
    }

    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.name.eq_ignore_ascii_case(name))
    }

    pub fn open_issues_count(&self) -> usize {
        self.issues.values().filter(|i| i.fate == Fate::Live && i.open).count()
    }
}

/// Where a requested issue number leads, after following transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    Live,
    Moved { repo: usize, number: u64 },
    Deleted,
    Missing,
}

/// A validated issue update; `None` means "field not sent".
#[derive(Debug, Default, Clone)]
pub struct IssuePatch {
    pub title: Option<String>,
    pub body: Option<Option<String>>,
    pub open: Option<bool>,
    pub state_reason: Option<String>,
    pub labels: Option<Vec<String>>,
    pub assignees: Option<Vec<String>>,
    /// `duplicate_issue_id`, resolved: the survivor's repository id and number.
    pub duplicate_of: Option<(u64, u64)>,
}

/// The GitHub App of App mode, as the objects it made name it (`performed_via_github_app`).
#[derive(Debug, Clone)]
pub struct AppInfo {
    pub id: u64,
    pub slug: String,
    pub created_at: DateTime<Utc>,
}

impl AppInfo {
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

pub struct Model {
    pub repos: Vec<Repo>,
    /// The App, once App mode is on.
    pub app: Option<AppInfo>,
    /// Logins in registration order; a user's id is its position plus one (the bot is 1).
    users: Vec<String>,
    next_repo_id: u64,
    next_issue_id: u64,
    next_comment_id: u64,
    next_label_id: u64,
    next_event_id: u64,
    next_pull_id: u64,
    next_release_id: u64,
    next_asset_id: u64,
    /// Orders comments and events together.
    next_seq: u64,
    /// Seconds by which events are stamped after the change that made them: GitHub's events
    /// are written apart from the issue and can carry a later second than its `updated_at`.
    pub event_lag_secs: i64,
}

impl Model {
    pub fn new(bot_login: &str) -> Self {
        Model {
            repos: Vec::new(),
            app: None,
            users: vec![bot_login.to_string()],
            next_repo_id: FIRST_REPO_ID,
            next_issue_id: FIRST_ISSUE_ID,
            next_comment_id: FIRST_COMMENT_ID,
            next_label_id: FIRST_LABEL_ID,
            next_event_id: FIRST_EVENT_ID,
            next_pull_id: FIRST_PULL_ID,
            next_release_id: FIRST_RELEASE_ID,
            next_asset_id: FIRST_ASSET_ID,
            next_seq: 1,
            event_lag_secs: 0,
        }
    }

    /// The user's id; every login the model stores was registered when it was stored.
    pub fn user_id(&self, login: &str) -> u64 {
        let pos = self.users.iter().position(|u| u.eq_ignore_ascii_case(login));
        pos.map_or(0, |p| p as u64 + 1)
    }

    fn register(&mut self, login: &str) {
        if self.user_id(login) == 0 {
            self.users.push(login.to_string());
        }
    }

    /// Adds a repository, or updates the flags of an existing one; returns its id.
    pub fn add_repo(&mut self, full_name: &str, vis: Visibility, has_issues: bool, now: DateTime<Utc>) -> u64 {
        let (owner, name) =
            full_name.split_once('/').unwrap_or_else(|| panic!("repository name {full_name:?} is not owner/name"));
        if let Some(idx) = self.repo_by_name(owner, name) {
            let repo = &mut self.repos[idx];
            repo.visibility = vis;
            repo.has_issues = has_issues;
            return repo.id;
        }
        self.register(owner);
        let id = self.next_repo_id;
        self.next_repo_id += 1;
        self.repos.push(Repo {
            id,
            owner: owner.to_string(),
            name: name.to_string(),
            visibility: vis,
            has_issues,
            created_at: now,
            labels: Vec::new(),
            issues: BTreeMap::new(),
            comments: Vec::new(),
            events: Vec::new(),
            next_number: 1,
            archived: false,
            writes_denied: false,
            locked: Default::default(),
            former_names: Vec::new(),
            hidden: false,
            deleted: false,
            git: Git::new(id, owner, now),
            pulls: BTreeMap::new(),
            releases: Vec::new(),
            push_access: true,
            slow_diffs: false,
        });
        id
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// GitHub resolves owner and repository names case-insensitively.
    pub fn repo_by_name(&self, owner: &str, name: &str) -> Option<usize> {
        self.repos.iter().position(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// The repository that once had this name and was renamed since.
    pub fn repo_by_former_name(&self, owner: &str, name: &str) -> Option<usize> {
        let full = format!("{owner}/{name}");
        self.repos.iter().position(|r| r.former_names.iter().any(|f| f.eq_ignore_ascii_case(&full)))
    }

    pub fn repo_by_full_name(&self, full_name: &str) -> Option<usize> {
        let (owner, name) = full_name.split_once('/')?;
        self.repo_by_name(owner, name)
    }

    pub fn repo_by_id(&self, id: u64) -> Option<usize> {
        self.repos.iter().position(|r| r.id == id)
    }

    /// The live issue (or pull request) with this database id: (repository id, number).
    pub fn issue_by_id(&self, id: u64) -> Option<(u64, u64)> {
        self.repos
            .iter()
            .find_map(|r| r.issues.values().find(|i| i.id == id && i.fate == Fate::Live).map(|i| (r.id, i.number)))
    }

    /// Follows transfers from `number` in `repo` to where the issue lives now.
    pub fn locate(&self, mut repo: usize, mut number: u64) -> Located {
        let mut moved = false;
        // A chain can never be longer than the number of repositories times issues; the bound
        // only guards against a cycle a buggy transfer could create.
        for _ in 0..=self.repos.len() * 64 {
            let Some(issue) = self.repos[repo].issues.get(&number) else {
                return Located::Missing;
            };
            match issue.fate {
                Fate::Live if moved => return Located::Moved { repo, number },
                Fate::Live => return Located::Live,
                Fate::Deleted => return Located::Deleted,
                Fate::Transferred { repo_id, number: n } => {
                    let Some(next) = self.repo_by_id(repo_id) else {
                        return Located::Missing;
                    };
                    (repo, number, moved) = (next, n, true);
                }
            }
        }
        Located::Missing
    }
}

/// The fields of a new issue once the request body was validated.
#[derive(Debug, Default, Clone)]
pub struct NewIssue {
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}
