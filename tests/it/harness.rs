//! Test harness: a sandbox, a temporary folder with a rules file, and helpers to run passes
//! in-process or the real binary.

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

use ticket_sync::sync::{Engine, PassReport};
use ticket_sync_clients::secret::{GithubCredential, Secret};
use ticket_sync_sandbox::{self as sandbox, NewTicket, Sandbox, Visibility};
use ticket_sync_store::Store;
use tokio_util::sync::CancellationToken;

pub const ROUTES: &str = r#"
[[route]]
when = { tags_any = ["billing"] }
repo = "acme/billing"
labels = ["support", "billing"]

[[route]]
repo = "acme/backend"
labels = ["support"]
"#;

/// Push-back statuses the push tests expect (each close reason maps to a different status).
pub const PUSHBACK: &str = r#"
[pushback]
closed_completed = "solved"
closed_not_planned = "hold"
closed_duplicate = "pending"
reopened = "open"
comments = "internal"
"#;

/// Forwarding of public ticket comments switched on.
pub const FORWARD: &str = "[forward]\ncomments = \"public\"\n";

/// The Zendesk credential the sandbox's rules (`Sandbox::rules_toml`) name, without the
/// environment: the sandbox's OAuth client or API token.
pub fn sandbox_zendesk_credential(
    rules: &ticket_sync_core::rules::Rules,
) -> ticket_sync_clients::secret::ZendeskCredential {
    use ticket_sync_clients::secret::{Secret, ZendeskCredential};
    match &rules.zendesk.auth {
        ticket_sync_core::rules::ZendeskAuth::OAuth(o) => ZendeskCredential::oauth(
            &o.client_id,
            Secret::new(sandbox::ZENDESK_CLIENT_SECRET),
            o.scopes.clone(),
            "environment variable TS_SANDBOX_ZENDESK_SECRET",
        ),
        ticket_sync_core::rules::ZendeskAuth::ApiToken { email, .. } => {
            ZendeskCredential::api_token(email, Secret::new(sandbox::ZENDESK_TOKEN))
        }
    }
}

/// The GitHub credential the rules name: the sandbox token, or the App's key they point at.
pub fn github_credential(rules: &ticket_sync_core::rules::Rules) -> GithubCredential {
    match &rules.github.auth {
        ticket_sync_core::rules::GithubAuth::App(_) => {
            ticket_sync::credentials::load_github(&rules.github.auth).expect("App key")
        }
        ticket_sync_core::rules::GithubAuth::Token(_) => GithubCredential::Token(Secret::new(sandbox::GITHUB_TOKEN)),
    }
}

pub struct Env {
    pub sb: Sandbox,
    pub dir: tempfile::TempDir,
    pub rules_path: PathBuf,
    pub requester: u64,
}

impl Env {
    /// A sandbox with two private repos and a rules file routing billing tickets apart.
    pub async fn new() -> Env {
        Self::with_routes(ROUTES, "").await
    }

    pub async fn with_routes(routes: &str, extra: &str) -> Env {
        Self::on(Sandbox::start().await.expect("sandbox starts"), routes, extra).await
    }

    /// `with_routes` on a sandbox the test started itself (another layout of a fake).
    pub async fn on(sb: Sandbox, routes: &str, extra: &str) -> Env {
        sb.github.add_repo("acme/billing", Visibility::Private, true);
        sb.github.add_repo("acme/backend", Visibility::Private, true);
        let org = sb.zendesk.add_organization("Globex Corp");
        let requester = sb.zendesk.add_user("Jane Customer", "jane@globex.example", Some(org));
        let dir = tempfile::tempdir().unwrap();
        let rules_path = dir.path().join("sync-rules.toml");
        let text = format!("{}\n{extra}", sb.rules_toml("state/test.db", routes));
        std::fs::write(&rules_path, text).unwrap();
        Env { sb, dir, rules_path, requester }
    }

    pub fn rewrite_rules(&self, routes: &str, extra: &str) {
        let text = format!("{}\n{extra}", self.sb.rules_toml("state/test.db", routes));
        std::fs::write(&self.rules_path, text).unwrap();
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("state/test.db")
    }

    /// Adds a ticket and lets it age past Zendesk's one-minute export delay.
    pub fn ticket(&self, subject: &str, tags: &[&str]) -> u64 {
        let mut t = NewTicket::new(subject, &format!("Description of {subject}"), self.requester);
        t.tags = tags.iter().map(|s| s.to_string()).collect();
        t.priority = Some("high".into());
        t.status = "open".into();
        let id = self.sb.zendesk.add_ticket(t);
        self.sb.settle();
        id
    }

    pub fn engine(&self) -> Engine {
        let rules = ticket_sync::config::load(&self.rules_path).expect("rules valid");
        let store = Arc::new(Store::open(&rules.state_path).expect("store opens"));
        let github = github_credential(&rules);
        let zendesk = crate::harness::sandbox_zendesk_credential(&rules);
        Engine::new(Arc::new(rules), store, &zendesk, &github, false)
    }

    pub async fn escalate(&self) -> PassReport {
        self.engine().escalate(&CancellationToken::new()).await.expect("pass runs")
    }

    /// The real binary, configured for this sandbox (tokens in its environment).
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ticket-sync"));
        cmd.arg("--config").arg(&self.rules_path).args(args);
        cmd.env("TS_SANDBOX_ZENDESK_TOKEN", sandbox::ZENDESK_TOKEN)
            .env("TS_SANDBOX_ZENDESK_SECRET", sandbox::ZENDESK_CLIENT_SECRET)
            .env("TS_SANDBOX_GITHUB_TOKEN", sandbox::GITHUB_TOKEN)
            .env_remove("RUST_LOG")
            .env_remove("TICKET_SYNC_CRASHPOINT")
            .env_remove("TICKET_SYNC_CONFIG")
            .env_remove("STATE_DIRECTORY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the binary to completion on a blocking thread, so the in-process sandbox keeps serving.
    pub async fn bin(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args, env);
        tokio::task::spawn_blocking(move || cmd.output().expect("binary runs")).await.unwrap()
    }

    /// Internal notes on a ticket that carry the link marker.
    pub fn link_notes(&self, ticket: u64) -> Vec<String> {
        let marker = format!("[ticket-sync:link zendesk={ticket}]");
        self.sb
            .zendesk
            .comments(ticket)
            .into_iter()
            .filter(|c| c.body.contains(&marker))
            .map(|c| {
                assert!(!c.public, "link notes are internal");
                c.body
            })
            .collect()
    }

    /// Issues in a repo whose body carries the ticket's marker.
    pub fn issues_for(&self, repo: &str, ticket: u64) -> Vec<u64> {
        let marker = format!("<!-- ticket-sync:zendesk={ticket} -->");
        self.sb
            .github
            .issues(repo)
            .into_iter()
            .filter(|i| i.body.as_deref().unwrap_or("").contains(&marker))
            .map(|i| i.number)
            .collect()
    }

    /// The Zendesk user ticket-sync writes as: the OAuth client's creator, or the API token's agent.
    pub fn zendesk_user(&self) -> u64 {
        match sandbox::zendesk_auth_mode() {
            sandbox::ZendeskAuthMode::OAuth => self.sb.zendesk.oauth_user_id(),
            sandbox::ZendeskAuthMode::ApiToken => self.sb.zendesk.bot_user_id(),
        }
    }

    pub fn github_writes(&self) -> usize {
        self.sb.github.door.log.writes()
    }

    pub fn zendesk_writes(&self) -> usize {
        self.sb.zendesk.door.log.writes()
    }

    /// A ticket escalated to an issue in acme/backend: (ticket id, issue number).
    pub async fn linked(&self, subject: &str) -> (u64, u64) {
        let id = self.ticket(subject, &["escalated"]);
        self.escalate().await;
        (id, self.issues_for("acme/backend", id)[0])
    }

    /// Comments ticket-sync forwarded to an issue (they carry the forward marker).
    pub fn forwarded(&self, repo: &str, number: u64) -> Vec<String> {
        let comments = self.sb.github.comments(repo, number).into_iter();
        comments.filter(|c| c.body.contains("<!-- ticket-sync:forwarded")).map(|c| c.body).collect()
    }

    pub async fn push(&self) -> PassReport {
        self.engine().push(&CancellationToken::new()).await.expect("pass runs")
    }

    /// The push-back notes on a ticket, oldest first; each must be internal.
    pub fn push_notes(&self, ticket: u64) -> Vec<String> {
        let notes = self.sb.zendesk.comments(ticket).into_iter().filter(|c| c.body.contains("[ticket-sync:event "));
        notes
            .map(|c| {
                assert!(!c.public, "push-back notes are internal: {}", c.body);
                c.body
            })
            .collect()
    }
}
