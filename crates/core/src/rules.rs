//! The validated rules: everything the daemon needs from `sync-rules.toml`, with defaults
//! applied and paths resolved, as plain data. Reading and validating the file is the product's
//! (`ticket_sync::config`); what the rules mean is decided here and in the planners.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use regex::Regex;
use url::Url;

use crate::cron::CronSchedule;
use crate::domain::{FieldId, InstallationId, RepoName, StateReason, TicketStatus};

/// Validated rules: everything the daemon needs, with defaults applied and paths resolved.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The file these rules came from.
    pub source: PathBuf,
    pub zendesk: ZendeskRules,
    pub github: GithubRules,
    /// Where the SQLite database lives, resolved against the rules file's folder.
    pub state_path: PathBuf,
    pub schedule: Schedules,
    pub escalation: Escalation,
    pub routes: Vec<Route>,
    pub pushback: Pushback,
    pub forward: Forward,
    /// `[linking]`: tickets linked to existing issues through a ticket field.
    pub linking: Option<Linking>,
    /// `[fixes]`: following a linked issue's fix to its release.
    pub fixes: Fixes,
    pub redact: Redaction,
    pub daemon: DaemonRules,
    pub retry: RetryPolicy,
    /// `[webhooks]`: the receiver of signed deliveries from GitHub and Zendesk; off when absent.
    pub webhooks: Option<WebhookRules>,
    /// A digest of the rules text, so failures that depend on the configuration are tried
    /// again as soon as it changes.
    pub fingerprint: String,
}

impl Rules {
    /// Every repository the rules name (routes, then `[linking] repos`), as they spell them.
    pub fn repos(&self) -> impl Iterator<Item = &RepoName> {
        self.routes.iter().map(|r| &r.repo).chain(self.linking.iter().flat_map(|l| &l.repos))
    }
}

/// When failed items are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Failed attempts after which an item is parked until `ticket-sync retry`.
    pub max_attempts: u32,
    /// Delay before the second attempt; it doubles with each failure, up to six hours.
    pub first_delay_secs: u64,
}

/// Where a token comes from. Resolved to a value only when a command needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable named explicitly in the rules file; `credential` is the systemd
    /// credential the default would have read, for the message when the variable is not set.
    Env { var: String, credential: String },
    /// A file named in the rules file.
    File(PathBuf),
    /// Nothing named: the default variable, then the systemd credential of this name.
    Default { env: String, credential: String },
}

/// How ticket-sync authenticates to GitHub: a token, or as a GitHub App.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubAuth {
    Token(TokenSource),
    App(AppRules),
}

/// `[github] app_id`, `private_key_file`, `installation_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRules {
    pub app_id: u64,
    /// The PEM GitHub lets one download: `private_key_file`, else the systemd credential.
    pub key: KeySource,
    /// The one installation to use; otherwise found per repository.
    pub installation_id: Option<InstallationId>,
}

/// Where the App's private key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `private_key_file`, resolved next to the rules file.
    File(PathBuf),
    /// Unset: `$CREDENTIALS_DIRECTORY/<credential>`.
    Credential(String),
}

/// `ca_file`: extra trusted roots for one service (an internal certificate authority, a
/// TLS-inspecting proxy), read and checked when the rules are read.
/// `pem` is the file's content, checked to be a bundle of certificates a TLS client accepts.
#[derive(Clone)]
pub struct CaFile {
    pub path: PathBuf,
    pub pem: Vec<u8>,
}

impl std::fmt::Debug for CaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaFile").field("path", &self.path).field("bytes", &self.pem.len()).finish()
    }
}

/// How ticket-sync authenticates to Zendesk: an OAuth client (the default from part 11), or
/// an API token (ends on 2027-04-30).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZendeskAuth {
    OAuth(OAuthRules),
    ApiToken { email: String, token: TokenSource },
}

/// `[zendesk] client_id`, `client_secret_env` / `client_secret_file`, `scopes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRules {
    /// The OAuth client's *Identifier* in Admin Center.
    pub client_id: String,
    /// The client's secret: `client_secret_env`, `client_secret_file`, else
    /// `ZENDESK_CLIENT_SECRET`, then the systemd credential `zendesk-client-secret`.
    pub secret: TokenSource,
    /// The scopes asked for; `DEFAULT_ZENDESK_SCOPES` unless the rules name others.
    pub scopes: Vec<String>,
}

/// The narrowest scopes ticket-sync is known to work with (see docs/zendesk.md, "Scopes"):
/// `read` for every read (the incremental export, tickets, comments with their side-loaded
/// authors, `users/me`, ticket fields: `tickets:read` was seen not to cover ticket fields, and
/// nothing documents which reads the resource scopes cover); `tickets:write` for the only
/// writes it makes (notes, statuses, tags, the link field), all on tickets.
pub const DEFAULT_ZENDESK_SCOPES: [&str; 2] = ["read", "tickets:write"];

#[derive(Debug, Clone)]
pub struct ZendeskRules {
    pub url: Url,
    pub auth: ZendeskAuth,
    /// Requests to the incremental export in any rolling minute (Zendesk allows 10; 30 with High Volume).
    pub export_requests_per_minute: u32,
    /// See `GithubRules::settle_secs`.
    pub settle_secs: u64,
    /// Extra trusted roots for the Zendesk client.
    pub ca_file: Option<CaFile>,
}

#[derive(Debug, Clone)]
pub struct GithubRules {
    pub url: Url,
    /// A token, or a GitHub App's key.
    pub auth: GithubAuth,
    pub allow_public_repos: bool,
    /// Pace of content-creating requests; 0 switches pacing off.
    pub writes_per_minute: u32,
    /// Cap on content-creating requests in any rolling hour; 0 switches it off.
    pub writes_per_hour: u32,
    /// How long after a write whose outcome is unknown (no answer, a 5xx, a broken connection)
    /// it may be sent again: the server may still carry the first one out, and a look before
    /// that could miss it. Looking for it is allowed at any time; sending it again is not.
    pub settle_secs: u64,
    /// Extra trusted roots for the GitHub client (GitHub Enterprise Server with an internal CA).
    pub ca_file: Option<CaFile>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedules {
    pub escalate: CronSchedule,
    pub push: CronSchedule,
    /// Looks for transferred and deleted issues (one conditional GET per open linked issue).
    pub audit: CronSchedule,
}

/// A ticket filter: every list given must match (tags: any one of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    pub tags_any: Vec<String>,
    pub status_in: Vec<TicketStatus>,
    pub priority_in: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Escalation {
    pub filter: Match,
    pub start: Option<DateTime<Utc>>,
    /// Whether to read the ticket's comments for attachment links (one request per escalation).
    pub attachments: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub when: Option<Match>,
    pub repo: RepoName,
    pub labels: Vec<String>,
}

/// What a Zendesk status becomes when something happens on the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAction {
    Keep,
    Set(TicketStatus),
}

impl StatusAction {
    /// The status this action sets, if any.
    pub fn status(&self) -> Option<TicketStatus> {
        match self {
            StatusAction::Keep => None,
            StatusAction::Set(s) => Some(s.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentsMode {
    Off,
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    Off,
    Public,
}

#[derive(Debug, Clone)]
pub struct Pushback {
    pub closed_completed: StatusAction,
    pub closed_not_planned: StatusAction,
    pub closed_duplicate: StatusAction,
    pub reopened: StatusAction,
    pub comments: CommentsMode,
}

impl Pushback {
    /// What a close for `reason` does to the ticket's status (no reason known: completed, as
    /// GitHub servers older than `state_reason` close).
    pub fn on_close(&self, reason: Option<&StateReason>) -> &StatusAction {
        match reason {
            Some(StateReason::NotPlanned) => &self.closed_not_planned,
            Some(StateReason::Duplicate) => &self.closed_duplicate,
            _ => &self.closed_completed,
        }
    }
}

/// `[linking]`: a Zendesk custom field that holds the linked GitHub issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linking {
    pub field_id: FieldId,
    /// Repositories an agent may link to besides the routes' repositories.
    pub repos: Vec<RepoName>,
    /// Keep one of the tags `github_open` / `github_closed` on linked tickets.
    pub state_tags: bool,
}

#[derive(Debug, Clone)]
pub struct Forward {
    pub comments: ForwardMode,
}

/// `[fixes]`: each linked ticket follows its issue's fix: the pull request in review, what
/// closed the issue, and the published release that contains the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixes {
    /// Follow pull requests and releases of linked issues (on unless the rules turn it off).
    pub track: bool,
    /// A published prerelease counts as shipped.
    pub prereleases: bool,
    /// A Zendesk text field that gets the release's tag.
    pub version_field_id: Option<FieldId>,
    /// The drafted customer reply the release note carries (placeholders: `REPLY_PLACEHOLDERS`).
    pub reply_template: Option<String>,
    /// Post the reply publicly on release, once per ticket (never unless the rules say so).
    pub public_reply: bool,
}

impl Default for Fixes {
    fn default() -> Self {
        Fixes { track: true, prereleases: false, version_field_id: None, reply_template: None, public_reply: false }
    }
}

/// The placeholders a `[fixes] reply_template` may use.
pub const REPLY_PLACEHOLDERS: [&str; 4] = ["tag", "release_url", "issue_title", "issue_url"];

/// The `{name}` placeholders of `template` that are not `REPLY_PLACEHOLDERS` (a brace not
/// around a plain lower-case name is text, not a placeholder).
pub fn unknown_placeholders(template: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
        if !name.is_empty() && rest[name.len()..].starts_with('}') && !REPLY_PLACEHOLDERS.contains(&name.as_str()) {
            unknown.push(name);
        }
    }
    unknown
}

#[derive(Debug, Clone)]
pub struct Redaction {
    pub emails: bool,
    pub phones: bool,
    pub patterns: Vec<Regex>,
}

#[derive(Debug, Clone, Default)]
pub struct DaemonRules {
    pub listen: Option<SocketAddr>,
    /// A pass still running after this long is stopped; the next one resumes its work.
    pub pass_deadline_secs: u64,
}

/// `[webhooks]`: where the receiver listens and where each source's signing secret comes from.
/// Each source is on unless the rules turn it off (`github = false`); one that is on must have
/// its secret, or the daemon does not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRules {
    /// Default 127.0.0.1:9465.
    pub listen: SocketAddr,
    /// `github_secret_env` / `github_secret_file`; default GITHUB_WEBHOOK_SECRET, then the
    /// systemd credential `github-webhook-secret`. `None` with `github = false`: GitHub does not
    /// deliver here, and its path refuses everything.
    pub github_secret: Option<TokenSource>,
    /// `zendesk_secret_env` / `zendesk_secret_file`; default ZENDESK_WEBHOOK_SECRET, then the
    /// systemd credential `zendesk-webhook-secret`. `None` with `zendesk = false`.
    pub zendesk_secret: Option<TokenSource>,
}
