//! Domain types shared by the sync logic, the store and the clients: ids that cannot be mixed up.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// GitHub's limit on issue and comment bodies, in characters: every rendering keeps to it.
pub const BODY_LIMIT: usize = 65_536;

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

/// Defines a numeric id of one kind, as `TicketId` and `IssueNumber` are: it cannot be mixed up
/// with another kind's, shows and serialises as the bare number, and its inner `u64` is public
/// for the edges (wire types, SQL) that convert it.
macro_rules! numeric_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id! {
    /// A GitHub issue's database id (`id`, what `duplicate_issue_id` and `/repositories/{id}`
    /// style references name), never its number in the repository (`IssueNumber`).
    IssueId
}

numeric_id! {
    /// A comment on a Zendesk ticket (a note ticket-sync wrote, a reply it forwards).
    TicketCommentId
}

numeric_id! {
    /// A comment on a GitHub issue (a person's comment pushed back, one ticket-sync wrote).
    /// Never a ticket comment's: the two services number their comments apart.
    IssueCommentId
}

numeric_id! {
    /// A Zendesk user (a comment's author, the user ticket-sync writes as). GitHub's users are
    /// known by their login.
    UserId
}

numeric_id! {
    /// A Zendesk custom ticket field (`[linking] field_id`).
    FieldId
}

numeric_id! {
    /// A GitHub App's installation on one account (`[github] installation_id`): its own token,
    /// rate-limit budget and write pace.
    InstallationId
}

/// `owner/name` of a GitHub repository, validated. GitHub's owner and repository names are
/// case-insensitive (`ACME/Backend` is `acme/backend`): two names compare, hash and sort equal
/// whatever their letter case, and each keeps the spelling it was written with for display.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName {
    owner: String,
    name: String,
}

impl RepoName {
    /// The name in lower case: what equality, hashing and order go by.
    fn key(&self) -> (String, String) {
        (self.owner.to_ascii_lowercase(), self.name.to_ascii_lowercase())
    }
}

impl PartialEq for RepoName {
    fn eq(&self, other: &Self) -> bool {
        self.owner.eq_ignore_ascii_case(&other.owner) && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl Eq for RepoName {}

impl std::hash::Hash for RepoName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for RepoName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RepoName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
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

/// Defines a set of names this build alone writes (in the store, the logs, the metrics):
/// `ALL`, `as_str` (the text kept), `from_name` (`None` for a name no release wrote) and
/// `Display`; the derives are the caller's.
macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub const ALL: [$name; [$($text),*].len()] = [$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The member a stored name stands for; `None` for a name no release wrote.
            pub fn from_name(name: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|m| m.as_str() == name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Defines a closed set of names read from a remote or the store: `as_str` gives the text kept
/// in the store and in JSON (unchanged from when these were strings); any other text is kept
/// in `Other`, so an unknown value from a server never fails decoding.
macro_rules! named_set {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know, kept as it was read.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => $name::$variant,)*
                    _ => $name::Other(s.to_string()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::Other(_) => $name::Other(s),
                    known => known,
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Other(s) => s,
                    known => known.as_str().to_string(),
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok($name::from(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_set! {
    /// A Zendesk ticket's status.
    TicketStatus {
        New = "new",
        Open = "open",
        Pending = "pending",
        Hold = "hold",
        Solved = "solved",
        Closed = "closed",
        Deleted = "deleted",
    }
}

named_set! {
    /// Why a GitHub issue is in its state (`state_reason`).
    StateReason {
        Completed = "completed",
        NotPlanned = "not_planned",
        Duplicate = "duplicate",
        Reopened = "reopened",
    }
}

named_set! {
    /// The kind of an issue event (`event` in GitHub's event lists); the planner acts on close
    /// and reopen only.
    EventKind {
        Closed = "closed",
        Reopened = "reopened",
        Transferred = "transferred",
    }
}

/// A GitHub issue's state. GitHub knows only these two; any other text is taken as open (the
/// planner only ever asked whether an issue was closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "&'static str")]
pub enum IssueState {
    Open,
    Closed,
}

impl IssueState {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueState::Open => "open",
            IssueState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "closed" {
            IssueState::Closed
        } else {
            IssueState::Open
        }
    }
}

impl From<String> for IssueState {
    fn from(s: String) -> Self {
        IssueState::parse(&s)
    }
}

impl From<&str> for IssueState {
    fn from(s: &str) -> Self {
        IssueState::parse(s)
    }
}

impl From<IssueState> for &'static str {
    fn from(s: IssueState) -> &'static str {
        s.as_str()
    }
}

impl fmt::Display for IssueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stage of a ticket's work a failure is kept for (`failures.stage`): one per pass that
/// records failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Escalate,
    Push,
    Forward,
}

impl Stage {
    /// The text the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Escalate => "escalate",
            Stage::Push => "push",
            Stage::Forward => "forward",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ticket-sync's GitHub identity: the login it writes as now (a token's user, or an App's
/// `{slug}[bot]`), and the logins it wrote as before (a token's user before a switch to an
/// App). A former login's comments and events count as ticket-sync's own only from before the
/// current identity began (`since`): the person behind a former token is a person again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubIdentity {
    pub login: String,
    pub former: Vec<String>,
    pub since: Option<DateTime<Utc>>,
}

impl GithubIdentity {
    /// Whether `author` acting `at` was ticket-sync (logins compare without case).
    pub fn acted(&self, author: &str, at: Option<DateTime<Utc>>) -> bool {
        if author.eq_ignore_ascii_case(&self.login) {
            return true;
        }
        let before_switch = matches!((at, self.since), (Some(at), Some(since)) if at < since);
        before_switch && self.former.iter().any(|f| f.eq_ignore_ascii_case(author))
    }

    /// Every login ticket-sync wrote as: reconciliation looks for its own issues and comments
    /// (with its marker at the end) among what any of them wrote, so an intent recorded before
    /// a switch is still found after it.
    pub fn all(&self) -> Vec<&str> {
        std::iter::once(self.login.as_str()).chain(self.former.iter().map(String::as_str)).collect()
    }
}

/// The Zendesk user ticket-sync writes as now (an OAuth client's user, or an API token's
/// agent), and the users it wrote as before a switch of credentials. Reconciliation looks for
/// its notes among what any of them wrote (with its marker at the end), so a note written by
/// the API token before a switch to OAuth is found after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZendeskIdentity {
    pub user: UserId,
    pub former: Vec<UserId>,
}

impl ZendeskIdentity {
    /// Whether a comment by `author` may be ticket-sync's own (a note still needs its marker).
    pub fn wrote(&self, author: Option<UserId>) -> bool {
        author.is_some_and(|a| a == self.user || self.former.contains(&a))
    }
}

/// A service's clock as a type, so that a moment on GitHub's clock cannot be compared with one
/// on Zendesk's, nor either with this host's (`DateTime<Utc>` from `clock::now`), without
/// saying so: mixing them is a compile error.
pub trait ServiceClock: fmt::Debug + Clone + Copy + PartialEq + Eq + PartialOrd + Ord + std::hash::Hash {
    /// The service whose clock this is (`ApiStats` keeps each service's offset from the host).
    const SERVICE: Service;
}

/// GitHub's clock (its `Date` header; the times in its answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GithubClock {}

/// Zendesk's clock (its `Date` header; the times in its answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ZendeskClock {}

impl ServiceClock for GithubClock {
    const SERVICE: Service = Service::Github;
}

impl ServiceClock for ZendeskClock {
    const SERVICE: Service = Service::Zendesk;
}

/// A moment on a remote service's clock (its `Date` header), as opposed to this host's: only
/// such a moment may be compared with the service's own timestamps (`ApiStats::service_time`
/// makes one from a host time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceTime<C: ServiceClock>(DateTime<Utc>, std::marker::PhantomData<C>);

/// A moment on GitHub's clock.
pub type GithubTime = ServiceTime<GithubClock>;
/// A moment on Zendesk's clock.
pub type ZendeskTime = ServiceTime<ZendeskClock>;

impl<C: ServiceClock> ServiceTime<C> {
    /// A host time moved onto the service's clock by its known offset.
    pub fn shifted(host_time: DateTime<Utc>, offset: chrono::Duration) -> Self {
        ServiceTime(host_time + offset, std::marker::PhantomData)
    }

    /// A host time taken as it is, where the service's clock is unknown or being off by the
    /// clocks' skew is accepted (each use says why).
    pub fn assume_host(host_time: DateTime<Utc>) -> Self {
        ServiceTime(host_time, std::marker::PhantomData)
    }

    /// A time the service stamped (one of its own timestamps).
    pub fn stamped(at: DateTime<Utc>) -> Self {
        ServiceTime(at, std::marker::PhantomData)
    }

    /// The moment as a plain time, to compare with or store beside the service's timestamps.
    pub fn utc(self) -> DateTime<Utc> {
        self.0
    }
}

impl<C: ServiceClock> std::ops::Sub<chrono::Duration> for ServiceTime<C> {
    type Output = ServiceTime<C>;
    fn sub(self, d: chrono::Duration) -> ServiceTime<C> {
        ServiceTime(self.0 - d, std::marker::PhantomData)
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
    pub status: TicketStatus,
    pub priority: Option<String>,
    pub tags: Vec<String>,
    pub organization: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Custom field values as text (`None` when empty or not text), by field id.
    #[serde(default)]
    pub fields: Vec<(FieldId, Option<String>)>,
}

impl Ticket {
    /// The text of one custom field; empty when unset.
    pub fn field(&self, id: FieldId) -> &str {
        self.fields.iter().find(|(f, _)| *f == id).and_then(|(_, v)| v.as_deref()).unwrap_or_default()
    }
}

/// One Zendesk ticket update ticket-sync makes: a comment, and what changes with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketUpdate<'a> {
    pub note: &'a str,
    pub public: bool,
    pub status: Option<&'a TicketStatus>,
    /// A custom field set in the same update (the `[linking]` write-back).
    pub field: Option<(FieldId, &'a str)>,
}

/// A GitHub issue as the sync logic sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub repo: RepoName,
    pub number: IssueNumber,
    pub id: IssueId,
    pub html_url: String,
    pub state: IssueState,
    pub state_reason: Option<StateReason>,
    pub body: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    /// GitHub serves pull requests through the issue endpoints too.
    #[serde(default)]
    pub is_pull_request: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the pass kinds and services are stored and shown: they never change.
    #[test]
    fn pass_kinds_and_services_keep_their_stored_names() {
        let names: Vec<&str> = PassKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names, ["escalate", "push", "audit", "webhook"]);
        for kind in PassKind::ALL {
            assert_eq!(PassKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(PassKind::from_name("sweep"), None);
        let outcomes: Vec<&str> = PassOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(outcomes, ["ok", "partial", "failed"]);
        for outcome in PassOutcome::ALL {
            assert_eq!(PassOutcome::from_name(outcome.as_str()), Some(outcome));
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
            assert_eq!(outcome.to_string(), outcome.as_str());
        }
        assert_eq!(PassOutcome::from_name("running"), None);
        assert_eq!((Service::Zendesk.to_string(), Service::Github.to_string()), ("zendesk".into(), "github".into()));
    }

    /// The endpoints' names are stored in the blocks table and shown by `status`: they are the
    /// names the strings had, and they read back as the same endpoint.
    #[test]
    fn endpoints_keep_their_stored_names_and_round_trip() {
        let known =
            [Endpoint::IncrementalExports, Endpoint::TicketsUpdate, Endpoint::TicketsShow, Endpoint::ContentCreation];
        let names: Vec<&str> = known.iter().map(|e| e.as_str()).collect();
        assert_eq!(names, ["incremental-exports", "tickets-update", "tickets-show", "content-creation"]);
        let other = Endpoint::Other("tickets-index".into());
        for endpoint in known.into_iter().chain([other]) {
            assert_eq!(Endpoint::from(endpoint.as_str()), endpoint);
            assert_eq!(endpoint.to_string(), endpoint.as_str());
            let scope = Scope::Endpoint(endpoint.clone());
            assert_eq!(scope.key(), format!("endpoint:{}", endpoint.as_str()));
            assert_eq!(scope.to_string(), format!("endpoint {}", endpoint.as_str()));
            assert_eq!(Scope::from_key(&scope.key()), Some(scope));
        }
    }

    /// A block row another release wrote keeps its endpoint, whatever its name (as when
    /// endpoints were strings); a kind of scope this build does not know is read as nothing
    /// (the store skips it): never a panic, never an error.
    #[test]
    fn stored_scopes_read_back_and_an_unknown_kind_is_none() {
        let old = Scope::from_key("endpoint:incremental-export");
        assert_eq!(old, Some(Scope::Endpoint(Endpoint::Other("incremental-export".into()))));
        for key in ["endpoint:", "repository:acme/backend", "ticket:x", "installation:", "services", ""] {
            assert_eq!(Scope::from_key(key), None, "{key}");
        }
    }

    #[test]
    fn repo_names_match_whatever_their_letter_case_and_keep_their_spelling() {
        let a: RepoName = "ACME/Backend".parse().unwrap();
        let b: RepoName = "acme/backend".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
        let set: std::collections::HashSet<RepoName> = [a.clone(), b.clone()].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!((a.to_string(), b.to_string()), ("ACME/Backend".to_string(), "acme/backend".to_string()));
        assert_ne!(a, "acme/frontend".parse::<RepoName>().unwrap());
    }

    #[test]
    fn repo_names_must_be_owner_slash_name() {
        assert!("acme/backend".parse::<RepoName>().is_ok());
        assert!("acme/back.end-2_x".parse::<RepoName>().is_ok());
        for bad in ["acme", "acme/", "/x", "a/b/c", "ac me/x", "acme/..", ""] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn closed_sets_keep_their_text_and_unknown_values() {
        for s in ["new", "open", "pending", "hold", "solved", "closed", "deleted", "archived"] {
            assert_eq!(TicketStatus::from(s).as_str(), s);
        }
        assert_eq!(TicketStatus::from("solved"), TicketStatus::Solved);
        assert_eq!(EventKind::from("labeled"), EventKind::Other("labeled".into()));
        assert_eq!(StateReason::from("not_planned"), StateReason::NotPlanned);
        let t: Ticket = serde_json::from_str(
            r#"{"id":1,"subject":"s","description":"d","status":"someday","priority":null,"tags":[],"organization":null,"updated_at":null}"#,
        )
        .unwrap();
        assert_eq!(t.status, TicketStatus::Other("someday".into()));
        assert_eq!(serde_json::to_value(&t).unwrap()["status"], "someday");
        assert_eq!(serde_json::to_value(IssueState::Closed).unwrap(), "closed");
        assert_eq!(serde_json::to_value(Some(StateReason::Completed)).unwrap(), "completed");
    }
}

// What the push-back planner sees of GitHub and of the stored links: plain domain types
// (the clients and the store convert to and from them), so the planner imports neither.

/// A comment on an issue, from the repo-wide comment list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: IssueCommentId,
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
    pub id: IssueId,
    pub html_url: String,
    pub state: IssueState,
    pub state_reason: Option<StateReason>,
    pub closed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub closed_by: Option<String>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A commit's id as GitHub names it (40 hexadecimal digits; 7 or more from a short form).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommitSha(String);

impl CommitSha {
    /// `None` unless `text` is 7 to 64 hexadecimal digits (SHA-1 or SHA-256), kept in lower case.
    pub fn parse(text: &str) -> Option<CommitSha> {
        let ok = (7..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit());
        ok.then(|| CommitSha(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first seven digits, as GitHub shows a commit.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
}

impl std::fmt::Display for CommitSha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An entry of an issue's history (`closed`, `reopened`, `labeled`, …), from an event list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueEvent {
    pub id: u64,
    pub kind: EventKind,
    pub actor: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why a `closed` event closed the issue, only if the server said so: GitHub's issue
    /// events do not (the listed issue's `state_reason` is its last close's).
    pub state_reason: Option<StateReason>,
    pub issue_number: IssueNumber,
    /// The commit that closed the issue, on a `closed` event made by a commit (a merged pull
    /// request's or a pushed commit's message); `None` for a close by hand, and sometimes for
    /// a close by a pull request too (docs/research/github-fixes.md §1).
    pub commit_id: Option<CommitSha>,
    /// The repository that commit is in (its `commit_url`), when the server says: a pull
    /// request in another repository can close the issue.
    pub commit_repo: Option<RepoName>,
}

/// The issue state a push pass saw, to store on the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenState {
    pub state: IssueState,
    pub state_reason: Option<StateReason>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Whether a link is still synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Active,
    /// The Zendesk ticket is closed and immutable; nothing more is pushed.
    TicketClosed,
    /// The issue was deleted, or moved where we cannot follow.
    IssueGone,
    /// The Zendesk ticket was deleted; nothing more is pushed.
    TicketDeleted,
    /// An agent cleared the `[linking]` field: nothing more is pushed to this ticket.
    Unlinked,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Active => "active",
            LinkState::TicketClosed => "ticket_closed",
            LinkState::IssueGone => "issue_gone",
            LinkState::TicketDeleted => "ticket_deleted",
            LinkState::Unlinked => "unlinked",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ticket_closed" => LinkState::TicketClosed,
            "issue_gone" => LinkState::IssueGone,
            "ticket_deleted" => LinkState::TicketDeleted,
            "unlinked" => LinkState::Unlinked,
            _ => LinkState::Active,
        }
    }
}

/// How a ticket came to be linked to its issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedBy {
    /// ticket-sync created the issue for the escalated ticket.
    Escalation,
    /// An agent named an existing issue in the `[linking]` ticket field.
    Field,
    /// It followed an issue closed as a duplicate to the surviving issue (`[fixes]`).
    Duplicate,
}

impl LinkedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkedBy::Escalation => "escalation",
            LinkedBy::Field => "field",
            LinkedBy::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "field" {
            LinkedBy::Field
        } else if s == "duplicate" {
            LinkedBy::Duplicate
        } else {
            LinkedBy::Escalation
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub ticket_id: TicketId,
    pub repo: RepoName,
    pub issue_number: IssueNumber,
    pub issue_id: IssueId,
    pub issue_url: String,
    pub issue_state: IssueState,
    pub state_reason: Option<StateReason>,
    pub link_state: LinkState,
    pub created_at: DateTime<Utc>,
    pub issue_updated_at: Option<DateTime<Utc>>,
    pub last_pushed_at: Option<DateTime<Utc>>,
    /// When the issue was last closed, as last seen (None while open).
    pub closed_at: Option<DateTime<Utc>>,
    /// The ticket was last seen not matching `[escalation]`; matching again re-escalates it.
    pub escalation_lost: bool,
    /// The escalated ticket's `updated_at` (Zendesk's clock) when its issue was created; its
    /// public comments created later are new to the issue. None for links made before v8.
    pub escalated_ticket_at: Option<DateTime<Utc>>,
    pub linked_by: LinkedBy,
}

#[cfg(test)]
impl Mapping {
    /// An active link of `ticket` to `repo#number`, open, made at the epoch by escalation: the
    /// planners' tests change the fields their case is about.
    pub(crate) fn for_tests(ticket: u64, repo: &str, number: u64) -> Mapping {
        Mapping {
            ticket_id: TicketId(ticket),
            repo: repo.parse().expect("a repository name"),
            issue_number: IssueNumber(number),
            issue_id: IssueId(1000 + number),
            issue_url: format!("https://github.com/{repo}/issues/{number}"),
            issue_state: IssueState::Open,
            state_reason: None,
            link_state: LinkState::Active,
            created_at: DateTime::UNIX_EPOCH,
            issue_updated_at: None,
            last_pushed_at: None,
            closed_at: None,
            escalation_lost: false,
            escalated_ticket_at: None,
            linked_by: LinkedBy::Escalation,
        }
    }
}

closed_set! {
    /// A kind of pass, by the name the database, the logs, the metrics and `status` give it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    PassKind {
        /// New and changed tickets → issues (the `escalate` schedule).
        #[default]
        Escalate = "escalate",
        /// Issue changes → tickets, then forwarded replies (the `push` schedule).
        Push = "push",
        /// Transferred and deleted issues (the `audit` schedule).
        Audit = "audit",
        /// One ticket or repository a webhook delivery named.
        Webhook = "webhook",
    }
}

closed_set! {
    /// How a pass ended, by the name the database (`passes.outcome`), the metrics (the
    /// `outcome` label) and `status` give it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    PassOutcome {
        /// Every item it took up succeeded (or was recorded for a later pass without failing).
        Ok = "ok",
        /// It ran to its end with items that failed; they are recorded and tried again.
        Partial = "partial",
        /// It stopped: an error of the pass itself (a store error, a refused credential, a
        /// service's limit), or its deadline.
        Failed = "failed",
    }
}

closed_set! {
    /// Which remote a request went to; its name (`zendesk`, `github`) is how ticket-sync writes
    /// it in messages, logs and keys.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    Service {
        Zendesk = "zendesk",
        Github = "github",
    }
}

/// The rate-limit budget a service reported on its last answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateBudget {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_at: Option<DateTime<Utc>>,
}

named_set! {
    /// An endpoint with a rate limit of its own, gated by name. The names are stored
    /// (`endpoint:NAME` in the state database's blocks) and shown (`status`, logs): they never
    /// change. Zendesk's are the names its `zendesk-ratelimit-NAME` headers give the budgets.
    /// A budget none of ticket-sync's requests is sent under by name (one only the service
    /// knows, or a name an older or newer release kept) is `Other`: its spent budget still
    /// closes a gate of that name, is kept and shown (`ticket_sync_clients::limits`).
    #[derive(PartialOrd, Ord)]
    Endpoint {
        /// Zendesk's incremental ticket export (10 requests a minute): its header,
        /// `zendesk-ratelimit-incremental-exports: total=10; remaining=N; resets=S`, is on
        /// every answer of the export, its 429 included (FACTS.md, "Incremental ticket export"
        /// → "Rate limit"), so the gate it closes is the export's own. A bare 429 there is the
        /// export's too.
        IncrementalExports = "incremental-exports",
        /// Zendesk's account-wide limit on ticket updates (`zendesk-rate-limit-tickets-update`).
        TicketsUpdate = "tickets-update",
        /// Reading one Zendesk ticket (`show`), counted with the account's requests.
        TicketsShow = "tickets-show",
        /// GitHub's content-creating requests (issues, comments, edits: 80 a minute, 500 an
        /// hour), paced by ticket-sync itself.
        ContentCreation = "content-creation",
    }
}

/// What a rate limit applies to: the whole service (the account budget, GitHub's primary and
/// secondary limits), one endpoint (Zendesk's incremental export, GitHub content creation), or
/// one ticket's updates (Zendesk's 30 per ticket per 10 minutes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Service,
    Endpoint(Endpoint),
    Ticket(TicketId),
    /// One GitHub App installation's own budget (an organisation's share of the App's limits).
    Installation(InstallationId),
}

impl Scope {
    pub fn is_ticket(&self) -> bool {
        matches!(self, Scope::Ticket(_))
    }

    /// Only a ticket's own limit, or one App installation's (its repositories), leaves the
    /// other items of a pass alone.
    pub fn spares_the_pass(&self) -> bool {
        matches!(self, Scope::Ticket(_) | Scope::Installation(_))
    }

    /// `service`, `endpoint:NAME` or `ticket:ID`: how the store and `status --json` name it.
    pub fn key(&self) -> String {
        match self {
            Scope::Service => "service".into(),
            Scope::Endpoint(endpoint) => format!("endpoint:{endpoint}"),
            Scope::Ticket(id) => format!("ticket:{id}"),
            Scope::Installation(id) => format!("installation:{id}"),
        }
    }

    /// The scope a stored key names; `None` for one this build cannot read (a kind of scope
    /// from a newer release): the store skips such a block, which ends within the hour anyway.
    pub fn from_key(key: &str) -> Option<Scope> {
        match key.split_once(':') {
            None if key == "service" => Some(Scope::Service),
            Some(("endpoint", name)) if !name.is_empty() => Some(Scope::Endpoint(Endpoint::from(name))),
            Some(("ticket", id)) => id.parse().ok().map(|id| Scope::Ticket(TicketId(id))),
            Some(("installation", id)) => id.parse().ok().map(|id| Scope::Installation(InstallationId(id))),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Service => f.write_str("the whole service"),
            Scope::Endpoint(endpoint) => write!(f, "endpoint {endpoint}"),
            Scope::Ticket(id) => write!(f, "updates of ticket {id}"),
            Scope::Installation(id) => write!(f, "GitHub App installation {id}"),
        }
    }
}

/// A scope's block as the store keeps it, so a new process honours a wait the last one was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub service: Service,
    pub scope: Scope,
    pub until: DateTime<Utc>,
    pub reason: String,
}
