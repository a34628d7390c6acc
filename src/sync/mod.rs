//! The sync engine: one escalation pass (Zendesk → GitHub) and one push-back pass
//! (GitHub → Zendesk), each deciding with pure functions and then acting through the clients.

/// A future that runs one item (`$item`, an expression giving a future, built anew each
/// round) and runs it again within the pass after a passing failure; see `run_again`.
macro_rules! retrying {
    ($engine:expr, $item:expr) => {
        async {
            let mut round = 0;
            loop {
                let result = $item.await;
                if !$crate::sync::run_again($engine, &result, &mut round).await {
                    break result;
                }
            }
        }
    };
}

mod audit;
mod escalate;
mod export;
mod fixes;
mod forward;
mod guard;
mod identity;
mod link;
mod note;
mod notes;
mod online;
mod pushback;
mod reescalate;

pub use online::online_check;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use ticket_sync_clients::github::GithubClient;
use ticket_sync_clients::http::{ApiError, ApiStats};
use ticket_sync_clients::secret::{GithubCredential, ZendeskCredential};
use ticket_sync_clients::zendesk::ZendeskClient;
use ticket_sync_core::clock;
use ticket_sync_core::domain::Service;
use ticket_sync_core::domain::{PassOutcome, RepoName, Stage, TicketId};
use ticket_sync_core::redact::Redactor;
use ticket_sync_core::rules::Rules;
use ticket_sync_store::{FailureClass, NewFailure, Store, StoreError};

/// Why a whole pass stopped. Per-item problems are not errors: they are recorded failures.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Api(#[from] ApiError),
}

/// Why one item failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ItemError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A rule forbids the write (public repository, issues disabled); the operator must act.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The item has unfinished work that waits out an earlier failure: nothing was done, and
    /// that failure stays as it is.
    #[error("waiting for an earlier failure's next attempt")]
    Waiting,
    /// An earlier attempt of this write got no clear answer and was not found: the server may
    /// still be carrying it out, so it is not sent again before this time.
    #[error("an earlier attempt of this write may still be carried out by the server; it is looked for again, and only then sent, after {0}")]
    Settling(chrono::DateTime<chrono::Utc>),
}

/// A pass-level error met inside one item (a store error, an API error) is that item's.
impl From<PassError> for ItemError {
    fn from(e: PassError) -> Self {
        match e {
            PassError::Store(e) => ItemError::Store(e),
            PassError::Api(e) => ItemError::Api(e),
        }
    }
}

/// What one pass did. Printed by `sync`, logged by the daemon, stored for `status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PassReport {
    pub kind: ticket_sync_core::domain::PassKind,
    pub seen: u64,
    pub escalated: u64,
    pub created: u64,
    pub recovered: u64,
    pub notes: u64,
    pub pushed: u64,
    /// Public Zendesk comments forwarded to GitHub (`[forward] comments = "public"`).
    pub forwarded: u64,
    pub skipped: u64,
    pub failed: u64,
    pub requests: u64,
    /// Requests sent again after a transient failure or a short rate-limit wait.
    pub retries: u64,
    /// Rate-limit answers seen.
    pub limited: u64,
    /// `--dry-run`: what would have been written.
    pub planned: Vec<String>,
    pub failures: Vec<(TicketId, String)>,
    /// Issues created (or recovered) in this pass, for the demo's table.
    pub linked: Vec<(TicketId, String)>,
}

impl PassReport {
    fn new(kind: ticket_sync_core::domain::PassKind) -> Self {
        PassReport { kind, ..Default::default() }
    }
}

/// Everything a pass needs: the rules, the clients, the store.
pub struct Engine {
    pub rules: Arc<Rules>,
    pub store: Arc<Store>,
    pub zendesk: ZendeskClient,
    pub github: GithubClient,
    pub stats: Arc<ApiStats>,
    pub dry_run: bool,
    redactor: Redactor,
    /// GitHub's web base as GitHub's own answers showed it (a repository's `html_url`), once
    /// learned in this engine; `None` until then (see `web_base`).
    web_base: Mutex<Option<url::Url>>,
    /// Repository checks made during this pass (`guard`).
    repo_checks: Mutex<HashMap<RepoName, guard::Verdict>>,
    /// The GitHub token's login (`GET /user`), read once when first needed.
    github_login: Mutex<Option<Arc<ticket_sync_core::domain::GithubIdentity>>>,
    /// Names the GitHub token without revealing it: the stored login is reused only for the
    /// token it was read with.
    github_token_id: String,
    /// The Zendesk user ticket-sync writes as (`GET /api/v2/users/me.json`), and those it
    /// wrote as before: read once when first needed.
    zendesk_user: Mutex<Option<Arc<ticket_sync_core::domain::ZendeskIdentity>>>,
    /// Names the Zendesk credential, as `github_token_id` does the GitHub one.
    zendesk_token_id: String,
    /// Told between items that the pass is making progress (systemd watchdog).
    heartbeat: Option<Arc<crate::notify::Notifier>>,
    /// The configuration epoch: a digest of the rules. A failure that depends on the
    /// configuration is tried again at once when the rules change (a reload, or a new process
    /// started with other rules).
    epoch: String,
}

impl Engine {
    pub fn new(
        rules: Arc<Rules>,
        store: Arc<Store>,
        zendesk_credential: &ZendeskCredential,
        github_token: &GithubCredential,
        dry_run: bool,
    ) -> Self {
        Self::with_stats(rules, store, zendesk_credential, github_token, dry_run, ApiStats::new())
    }

    /// Like `new`, counting requests into `stats` (shared across rules reloads by the daemon).
    pub fn with_stats(
        rules: Arc<Rules>,
        store: Arc<Store>,
        zendesk_credential: &ZendeskCredential,
        github_token: &GithubCredential,
        dry_run: bool,
        stats: Arc<ApiStats>,
    ) -> Self {
        let zendesk_token_id = zendesk_credential.identity_id();
        let zendesk_http =
            ticket_sync_clients::http::build_client(rules.zendesk.ca_file.as_ref().map(|c| c.pem.as_slice()));
        let github_http =
            ticket_sync_clients::http::build_client(rules.github.ca_file.as_ref().map(|c| c.pem.as_slice()));
        let zendesk = ZendeskClient::new(
            rules.zendesk.url.clone(),
            zendesk_credential,
            rules.zendesk.export_requests_per_minute,
            zendesk_http,
            stats.clone(),
        );
        let github = GithubClient::new(
            rules.github.url.clone(),
            github_token,
            rules.github.writes_per_minute,
            rules.github.writes_per_hour,
            github_http,
            stats.clone(),
        );
        // Waits an earlier process was told hold here too; new ones are kept for the next.
        stats.limits.restore_blocks(store.active_blocks(clock::now()).unwrap_or_default());
        if !dry_run {
            stats.limits.keep_blocks_in(Arc::new(BlockKeeper(store.clone())));
            // Rules that now spell a repository in another letter case than the database
            // does: the database follows the rules, so no lookup by the new spelling misses.
            for repo in rules.repos() {
                match store.respell_repo(repo) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(%repo, rows = n, "stored rows now spell the repository as the rules do"),
                    Err(e) => tracing::warn!(%repo, error = %e, "could not respell the repository in the database"),
                }
            }
        }
        Engine {
            redactor: Redactor::new(rules.redact.clone()),
            epoch: rules.fingerprint.clone(),
            rules,
            store,
            zendesk,
            github,
            stats,
            dry_run,
            repo_checks: Mutex::new(HashMap::new()),
            web_base: Mutex::new(None),
            github_login: Mutex::new(None),
            github_token_id: github_token.identity_id(),
            zendesk_user: Mutex::new(None),
            zendesk_token_id,
            heartbeat: None,
        }
    }

    /// `repo` as the rules spell it when they name it (names match whatever their letter case),
    /// else as given: everything stored about a repository is under one spelling, so a lookup
    /// by the rules' name finds it whatever case GitHub or an agent's link used.
    pub(crate) fn as_configured(&self, repo: &RepoName) -> RepoName {
        self.rules.repos().find(|r| *r == repo).unwrap_or(repo).clone()
    }

    /// GitHub's web base, where issue pages are: as GitHub's own answers showed it (this
    /// engine's, else the database's), else derived from the API URL (`api.github.com` →
    /// `github.com`, GitHub Enterprise Server's host without `/api/v3`). The derived one is only
    /// a first guess: with data residency (`api.SUB.ghe.com` → `SUB.ghe.com`), a second host
    /// name or a proxy, GitHub's answers say otherwise.
    pub(crate) fn web_base(&self) -> url::Url {
        if let Some(known) = self.web_base.lock().unwrap().clone() {
            return known;
        }
        // One kept that cannot be read (or a database that cannot be read now) is only a lost
        // guess: the derived one stands in, and GitHub's next answer tells it again.
        let stored = self.store.github_web_base(self.rules.github.url.as_str()).ok().flatten();
        stored.unwrap_or_else(|| ticket_sync_core::linkref::web_base(&self.rules.github.url))
    }

    /// Whether this engine has read the web base from GitHub (not only from the database).
    pub(crate) fn web_base_learned(&self) -> bool {
        self.web_base.lock().unwrap().is_some()
    }

    /// Keeps the web base `repo`'s page (`html_url`, from GitHub) shows.
    pub(crate) fn learn_web_base(&self, repo: &RepoName, page: Option<&str>) {
        let Some(base) = page.and_then(|p| ticket_sync_core::linkref::web_base_of(p, repo)) else { return };
        let changed = self.web_base.lock().unwrap().replace(base.clone()).is_none_or(|old| old != base);
        if changed && !self.dry_run {
            // Not kept (a full disk): this engine knows it, and the next one learns it again.
            let _ = self.store.set_github_web_base(self.rules.github.url.as_str(), &base);
        }
    }

    /// Pings `notifier`'s watchdog between items of every pass.
    pub fn set_heartbeat(&mut self, notifier: Arc<crate::notify::Notifier>) {
        let on_answer = notifier.clone();
        self.stats.set_heartbeat(Arc::new(move || on_answer.watchdog()));
        self.heartbeat = Some(notifier);
    }

    /// Called between items: the pass is alive.
    pub(crate) fn beat(&self) {
        if let Some(n) = &self.heartbeat {
            n.watchdog();
        }
    }

    /// Tells systemd what the pass is doing (`systemctl status` shows it).
    pub(crate) fn progress(&self, text: &str) {
        if let Some(n) = &self.heartbeat {
            n.status(text);
        }
    }

    /// One escalation pass: finish unfinished intents, retry due failures, then read the export.
    pub async fn escalate(&self, cancel: &CancellationToken) -> Result<PassReport, PassError> {
        self.run_pass(ticket_sync_core::domain::PassKind::Escalate, escalate::run(self, cancel)).await
    }

    /// One audit pass: follow transferred issues, end the links of deleted ones.
    pub async fn audit(&self, cancel: &CancellationToken) -> Result<PassReport, PassError> {
        self.run_pass(ticket_sync_core::domain::PassKind::Audit, audit::run(self, cancel)).await
    }

    /// One push-back pass: issue changes on GitHub become notes and statuses on Zendesk.
    pub async fn push(&self, cancel: &CancellationToken) -> Result<PassReport, PassError> {
        self.run_pass(ticket_sync_core::domain::PassKind::Push, async {
            let mut report = pushback::run(self, cancel, None).await?;
            forward::run(self, cancel, &mut report).await?;
            Ok(report)
        })
        .await
    }

    /// ticket-sync's own GitHub login, when it can be had (read once and kept): deliveries
    /// about its own writes are echoes.
    pub async fn own_github_login(&self) -> Option<String> {
        identity::github_login(self).await.ok()
    }

    /// A webhook delivery named this ticket: read it as it is now and escalate it (or follow
    /// its link field, or its re-escalation) exactly as the escalation pass would.
    pub async fn ring_ticket(&self, id: TicketId, cancel: &CancellationToken) -> Result<PassReport, PassError> {
        self.run_pass(ticket_sync_core::domain::PassKind::Webhook, escalate::one(self, id, cancel)).await
    }

    /// A webhook delivery named this repository: push its changes back now.
    pub async fn ring_repo(&self, repo: &RepoName, cancel: &CancellationToken) -> Result<PassReport, PassError> {
        self.run_pass(ticket_sync_core::domain::PassKind::Webhook, pushback::run(self, cancel, Some(repo))).await
    }

    async fn run_pass(
        &self,
        kind: ticket_sync_core::domain::PassKind,
        pass: impl std::future::Future<Output = Result<PassReport, PassError>>,
    ) -> Result<PassReport, PassError> {
        let before = self.stats.snapshot();
        if !self.dry_run {
            self.store.pass_started(kind, clock::now())?;
        }
        // Who writes is known before anything is written (read once per credential and database).
        let result = async {
            identity::record_writers(self).await?;
            pass.await
        }
        .await;
        let after = self.stats.snapshot();
        let requests = after.total() - before.total();
        let result = result.map(|mut r| {
            r.requests = requests;
            r.retries = after.retries - before.retries;
            r.limited = after.limited - before.limited;
            r
        });
        if self.dry_run {
            return result;
        }
        for (service, budget) in &after.budgets {
            self.store.save_budget(service.as_str(), budget)?;
        }
        // `status` shows each App installation's budget beside the service's last one.
        for (installation, budget) in &after.installation_budgets {
            self.store.save_budget(&format!("github installation {installation}"), budget)?;
        }
        match result {
            Ok(report) => {
                let outcome = if report.failed == 0 { PassOutcome::Ok } else { PassOutcome::Partial };
                self.store.pass_finished(kind, outcome, &summary_json(&report))?;
                Ok(report)
            }
            Err(e) => {
                let summary = serde_json::json!({ "error": e.to_string(), "requests": requests });
                self.store.pass_finished(kind, PassOutcome::Failed, &summary)?;
                Err(e)
            }
        }
    }

    /// The rate-limit budget last reported by a service, if any.
    pub fn budget_remaining(&self, service: Service) -> Option<u64> {
        self.stats.snapshot().budgets.get(&service).and_then(|b| b.remaining)
    }
}

/// A spent budget or a refused token affects every item alike: the pass stops (the cursor and
/// watermarks stay, unfinished intents wait) instead of failing each item in turn. A refusal
/// about one repository, issue or ticket (`Forbidden`) fails only what it is about, and so
/// does a ticket's own limit (Zendesk's per-ticket updates).
pub(crate) fn stops_pass(e: &ApiError) -> bool {
    match e {
        ApiError::RateLimited { scope, .. } => !scope.spares_the_pass(),
        // Zendesk's role, plan or scope refusal is every ticket's alike: the next pass tries
        // again, so a fixed role is picked up without a restart.
        ApiError::Forbidden { service, scope: ticket_sync_clients::http::ForbiddenScope::Account, .. } => {
            *service == ticket_sync_core::domain::Service::Zendesk
        }
        _ => matches!(e, ApiError::Unauthorized { .. } | ApiError::Certificate { .. }),
    }
}

/// Tries again, within the same pass, this many times after a passing failure.
const IN_PASS_RETRIES: u32 = 3;

/// After one run of an item: whether to run it again within this pass. After a passing
/// failure (dropped connection, timeout, 5xx, lost answer) it waits a short jittered moment
/// and says yes, a few times, before the item is recorded as failed. The intent protocol makes
/// this safe for writes: a retried write first looks for what an earlier attempt wrote.
pub(crate) async fn run_again(engine: &Engine, result: &Result<(), ItemError>, round: &mut u32) -> bool {
    match result {
        Err(ItemError::Api(e)) if e.is_transient() && *round < IN_PASS_RETRIES => {
            tracing::debug!(error = %e, round = *round, "passing failure; trying the item again in this pass");
            engine.beat();
            tokio::time::sleep(ticket_sync_clients::ratelimit::retry_delay(*round, rand::random())).await;
            *round += 1;
            true
        }
        _ => false,
    }
}

/// Before an intent's write is sent again (its earlier attempt was looked for and not found):
/// refuses while that attempt may still be carried out by the server (`settle_seconds` of
/// `[github]` or `[zendesk]` after it was sent). Looking is allowed at any time; writing again
/// is not.
pub(crate) fn may_write_again(engine: &Engine, intent: &ticket_sync_store::Intent) -> Result<(), ItemError> {
    if intent.attempts == 0 {
        return Ok(());
    }
    // Intents from before `attempted_at` was kept count from when they were made.
    let at = intent.attempted_at.unwrap_or(intent.created_at);
    let settle = match intent.kind {
        ticket_sync_store::IntentKind::CreateIssue | ticket_sync_store::IntentKind::ForwardComment => {
            engine.rules.github.settle_secs
        }
        ticket_sync_store::IntentKind::LinkNote | ticket_sync_store::IntentKind::PushNote => {
            engine.rules.zendesk.settle_secs
        }
    };
    let until = at + chrono::Duration::seconds(settle as i64);
    if clock::now() < until {
        return Err(ItemError::Settling(until));
    }
    Ok(())
}

/// What kind of failure an item error is, and the earliest moment to try again if it says.
fn classify(e: &ItemError) -> (FailureClass, Option<chrono::DateTime<chrono::Utc>>) {
    match e {
        ItemError::Refused(_) => (FailureClass::Config, None),
        ItemError::Settling(until) => (FailureClass::Transient, Some(*until)),
        // Not run again within the pass (the endpoint is likely still stuck); a write it may
        // have made waits for its settle time before it is sent again (`may_write_again`).
        ItemError::Api(ApiError::Unanswered { .. }) => (FailureClass::Transient, None),
        ItemError::Api(a) if a.is_transient() => (FailureClass::Transient, None),
        ItemError::Api(ApiError::Forbidden { .. } | ApiError::NotFound { .. } | ApiError::Certificate { .. }) => {
            (FailureClass::Config, None)
        }
        // The ticket's own limit: try again when it ends, not after the back-off.
        ItemError::Api(ApiError::RateLimited { until, .. }) => (FailureClass::Limited, Some(*until)),
        _ => (FailureClass::Item, None),
    }
}

/// Records the outcome of one item of any pass. A success clears the item's failure from this
/// `stage`; a failure is counted and recorded with `snapshot` (what a retry needs) unless it
/// stops the whole pass or the store failed. Returns whether the item succeeded.
pub(crate) fn settle(
    engine: &Engine,
    id: TicketId,
    stage: Stage,
    snapshot: Option<&ticket_sync_core::domain::Ticket>,
    result: Result<(), ItemError>,
    report: &mut PassReport,
) -> Result<bool, PassError> {
    let e = match result {
        Ok(()) => {
            if !engine.dry_run {
                engine.store.clear_failure_of(id, stage)?;
            }
            return Ok(true);
        }
        Err(ItemError::Store(e)) => return Err(e.into()),
        Err(ItemError::Api(e)) if stops_pass(&e) => return Err(e.into()),
        Err(ItemError::Waiting) => return Ok(false),
        Err(e) => e,
    };
    report.failed += 1;
    let text = e.to_string();
    report.failures.push((id, text.clone()));
    if engine.dry_run {
        tracing::warn!(ticket_id = id.0, stage = stage.as_str(), error = %text, "would fail");
        return Ok(false);
    }
    let (class, not_before) = classify(&e);
    let new = NewFailure { stage, class, error: &text, epoch: &engine.epoch, not_before };
    let f = engine.store.record_failure(id, &new, snapshot, &engine.rules.retry)?;
    if f.parked {
        tracing::warn!(ticket_id = id.0, stage = stage.as_str(), attempts = f.attempts, error = %text, "parked after repeated failures; fix the cause, then run `ticket-sync retry {id}`");
    } else {
        tracing::warn!(ticket_id = id.0, stage = stage.as_str(), class = class.as_str(), attempts = f.attempts, next_attempt_at = %f.next_attempt_at, error = %text, "failed; it is retried after its back-off");
    }
    Ok(false)
}

impl Engine {
    /// The configuration epoch (see the field).
    pub(crate) fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Repository verdicts (`guard`) hold for one pass.
    pub(crate) fn forget_repo_checks(&self) {
        self.repo_checks.lock().unwrap().clear();
    }

    /// Whether the ticket's work at `stage` must wait for its back-off.
    pub(crate) fn held_back(&self, id: TicketId, stage: Stage) -> Result<bool, StoreError> {
        self.store.held_back(id, stage, clock::now(), &self.epoch)
    }
}

/// A short SHA-256 prefix of a token: enough to notice a different token, useless to an attacker.
fn summary_json(r: &PassReport) -> serde_json::Value {
    serde_json::json!({
        "seen": r.seen, "escalated": r.escalated, "created": r.created, "recovered": r.recovered,
        "notes": r.notes, "pushed": r.pushed, "forwarded": r.forwarded, "skipped": r.skipped, "failed": r.failed, "requests": r.requests,
    })
}

/// The engine keeps rate-limit blocks in its store (the limits layer knows only the trait, and
/// the store knows no client: this adapter is where the two meet).
struct BlockKeeper(Arc<Store>);

impl ticket_sync_clients::limits::BlockStore for BlockKeeper {
    fn save_block(&self, block: &ticket_sync_core::domain::Block) {
        if let Err(e) = self.0.save_block(block) {
            tracing::warn!(error = %e, service = block.service.as_str(), scope = %block.scope, "could not keep a rate-limit block in the state database; a restart may not honour it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_error_stops_the_pass_and_is_a_config_failure() {
        let e = ApiError::Certificate {
            service: ticket_sync_core::domain::Service::Github,
            detail: "UnknownIssuer".into(),
        };
        assert!(stops_pass(&e) && !e.is_retryable() && !e.is_transient());
        assert_eq!(classify(&ItemError::Api(e)).0, FailureClass::Config);
    }
}
