//! The rules file exactly as written: serde types with spans, no meaning attached yet.
//!
//! Every table denies unknown keys, so a typo is an error with a line number rather than
//! a silently ignored setting. Values that need checking after parsing keep their span.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    pub zendesk: S<RawZendesk>,
    #[serde(default)]
    pub github: Option<S<RawGithub>>,
    #[serde(default)]
    pub state: Option<RawState>,
    #[serde(default)]
    pub schedule: Option<RawSchedule>,
    pub escalation: S<RawEscalation>,
    #[serde(default)]
    pub route: Vec<S<RawRoute>>,
    #[serde(default)]
    pub pushback: Option<RawPushback>,
    #[serde(default)]
    pub forward: Option<RawForward>,
    #[serde(default)]
    pub linking: Option<S<RawLinking>>,
    #[serde(default)]
    pub fixes: Option<RawFixes>,
    #[serde(default)]
    pub redact: Option<RawRedact>,
    #[serde(default)]
    pub daemon: Option<RawDaemon>,
    #[serde(default)]
    pub retry: Option<RawRetry>,
    #[serde(default)]
    pub webhooks: Option<S<RawWebhooks>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZendesk {
    pub url: S<String>,
    pub client_id: Option<S<String>>,
    pub client_secret_env: Option<S<String>>,
    pub client_secret_file: Option<S<String>>,
    pub scopes: Option<S<Vec<String>>>,
    pub email: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    pub export_requests_per_minute: Option<S<i64>>,
    pub settle_seconds: Option<S<i64>>,
    pub ca_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGithub {
    pub url: Option<S<String>>,
    pub token_env: Option<S<String>>,
    pub token_file: Option<S<String>>,
    #[serde(default)]
    pub allow_public_repos: bool,
    pub writes_per_minute: Option<S<i64>>,
    pub writes_per_hour: Option<S<i64>>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    pub settle_seconds: Option<S<i64>>,
    pub ca_file: Option<S<String>>,
    pub app_id: Option<S<i64>>,
    pub private_key_file: Option<S<String>>,
    pub installation_id: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    pub path: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub escalate: Option<S<String>>,
    pub push: Option<S<String>>,
    pub audit: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalation {
    pub tags_any: Option<S<Vec<String>>>,
    #[serde(default)]
    pub status_in: Option<S<Vec<String>>>,
    #[serde(default)]
    pub priority_in: Option<S<Vec<String>>>,
    pub start: Option<S<String>>,
    #[serde(default)]
    pub attachments: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    #[serde(default)]
    pub tags_any: Option<S<Vec<String>>>,
    #[serde(default)]
    pub status_in: Option<S<Vec<String>>>,
    #[serde(default)]
    pub priority_in: Option<S<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub when: Option<S<RawMatch>>,
    pub repo: Option<S<String>>,
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPushback {
    pub closed_completed: Option<S<String>>,
    pub closed_not_planned: Option<S<String>>,
    pub closed_duplicate: Option<S<String>>,
    pub reopened: Option<S<String>>,
    pub comments: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForward {
    pub comments: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFixes {
    pub track: Option<bool>,
    pub prereleases: Option<bool>,
    pub version_field_id: Option<S<i64>>,
    pub reply_template: Option<S<String>>,
    pub public_reply: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinking {
    pub field_id: Option<S<i64>>,
    #[serde(default)]
    pub repos: Vec<S<String>>,
    #[serde(default)]
    pub state_tags: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRedact {
    #[serde(default)]
    pub patterns: Vec<S<String>>,
    #[serde(default = "yes")]
    pub emails: bool,
    #[serde(default = "yes")]
    pub phones: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub listen: Option<S<String>>,
    pub pass_deadline_seconds: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub max_attempts: Option<S<i64>>,
    pub backoff_seconds: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhooks {
    pub listen: Option<S<String>>,
    pub github: Option<S<bool>>,
    pub zendesk: Option<S<bool>>,
    pub github_secret_env: Option<S<String>>,
    pub github_secret_file: Option<S<String>>,
    pub zendesk_secret_env: Option<S<String>>,
    pub zendesk_secret_file: Option<S<String>>,
}
