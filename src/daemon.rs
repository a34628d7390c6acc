//! The long-running daemon: schedules, signals, reloads, the single-instance lock and shutdown.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use ticket_sync_core::clock;
use ticket_sync_core::domain::PassKind;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config;

use ticket_sync_clients::http::{ApiStats, Timeouts};

use crate::credentials::load_tokens;
use crate::metrics::{self, Metrics};
use crate::notify::Notifier;
use crate::sync::{Engine, PassReport};
use crate::webhooks::{self, Bell, Doorbell, Source, WebhookSecrets, WebhookStats};
use ticket_sync_core::domain::Service;
use ticket_sync_core::rules::Rules;
use ticket_sync_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The rules or tokens are unusable; exit code 2.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Locked(String),
    /// The state database was deleted or replaced under the running daemon.
    #[error("{0}; stopping so the restored or new database is opened afresh (systemctl start ticket-sync)")]
    StateReplaced(String),
}

/// An exclusive lock beside the database, held for the process's life, so two instances
/// never work on one database at once.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    pub fn acquire(db: &Path) -> Result<InstanceLock, DaemonError> {
        let mut lock_path = db.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Private, like the database it guards (the lock may be the first file created there).
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| DaemonError::Locked(format!("cannot create {}: {e}", dir.display())))?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| DaemonError::Locked(format!("cannot open lock file {}: {e}", lock_path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(InstanceLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(DaemonError::Locked(format!(
                "another ticket-sync is already working on {} (lock {} is held); stop it first, or give this one its own [state] path",
                db.display(),
                lock_path.display()
            ))),
            Err(TryLockError::Error(e)) => Err(DaemonError::Locked(format!("cannot lock {}: {e}", lock_path.display()))),
        }
    }
}

/// SIGTERM and SIGINT cancel `shutdown`; each SIGHUP sends one reload request.
pub fn spawn_signal_handlers(shutdown: CancellationToken) -> mpsc::UnboundedReceiver<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = mpsc::unbounded_channel();
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler installs");
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { info!(signal = "SIGTERM", "shutting down after the item in flight"); shutdown.cancel(); }
                _ = int.recv() => { info!(signal = "SIGINT", "shutting down after the item in flight"); shutdown.cancel(); }
                _ = hup.recv() => { let _ = tx.send(()); continue; }
            }
            break;
        }
    });
    rx
}

fn build_engine(rules: Rules, store: Arc<Store>, ctx: &RunContext) -> Result<Engine, DaemonError> {
    let (zt, gt) = load_tokens(&rules).map_err(|e| DaemonError::Config(e.to_string()))?;
    ctx.metrics.set_auth_mode("zendesk", zt.mode(), &["oauth", "api_token"]);
    let github_mode = match gt {
        ticket_sync_clients::secret::GithubCredential::Token(_) => "token",
        ticket_sync_clients::secret::GithubCredential::App(_) => "app",
    };
    ctx.metrics.set_auth_mode("github", github_mode, &["token", "app"]);
    let mut engine = Engine::with_stats(Arc::new(rules), store, &zt, &gt, false, ctx.stats.clone());
    engine.set_heartbeat(ctx.notifier.clone());
    Ok(engine)
}

/// What lives as long as the process, across reloads.
struct RunContext {
    notifier: Arc<Notifier>,
    metrics: Arc<Metrics>,
    stats: Arc<ApiStats>,
}

/// How often changed webhook counters are saved for `status` and `/metrics` while idle.
const DELIVERY_STATS_EVERY: Duration = Duration::from_secs(1);

/// How long a pass may go on after SIGTERM to finish its item in flight. An item cut off
/// after that is safe: its intent is reconciled on the next start.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Runs both schedules until `shutdown` is cancelled. `reload` delivers SIGHUPs.
pub async fn run(
    path: PathBuf,
    rules: Rules,
    shutdown: CancellationToken,
    reload: mpsc::UnboundedReceiver<()>,
) -> Result<(), DaemonError> {
    run_with(path, rules, shutdown, reload, Arc::new(Notifier::disabled())).await
}

/// `run`, reporting to systemd through `notifier`.
pub async fn run_with(
    path: PathBuf,
    rules: Rules,
    shutdown: CancellationToken,
    reload: mpsc::UnboundedReceiver<()>,
    notifier: Arc<Notifier>,
) -> Result<(), DaemonError> {
    let mut reload = check_reloads(path.clone(), reload);
    let _lock = InstanceLock::acquire(&rules.state_path)?;
    let store = Arc::new(Store::open(&rules.state_path)?);
    let ctx = RunContext { notifier, metrics: Arc::new(Metrics::new()), stats: ApiStats::new() };
    let listen = rules.daemon.listen;
    let mut engine = build_engine(rules, store.clone(), &ctx)?;
    if let Some(addr) = listen {
        metrics::serve(addr, ctx.metrics.clone(), shutdown.clone())
            .await
            .map_err(|e| DaemonError::Config(format!("daemon.listen: cannot listen on {addr}: {e}")))?;
        info!(%addr, "serving /healthz and /metrics");
    }
    let bell = Bell::new(webhooks::DEFAULT_CAPACITY);
    let deliveries = Arc::new(WebhookStats::default());
    if let Some(w) = engine.rules.webhooks.clone() {
        let secrets = WebhookSecrets::load(&w).map_err(|e| DaemonError::Config(e.to_string()))?;
        let addr = webhooks::serve(w.listen, secrets, bell.clone(), deliveries.clone(), shutdown.clone())
            .await
            .map_err(|e| DaemonError::Config(format!("webhooks.listen: cannot listen on {}: {e}", w.listen)))?;
        info!(%addr, "receiving webhooks on /webhooks/github and /webhooks/zendesk (a reload does not move them)");
    }
    info!(
        rules = %path.display(),
        state = %engine.rules.state_path.display(),
        zendesk_auth = engine.zendesk.auth_mode(),
        "ticket-sync started"
    );
    if engine.zendesk.auth_mode() == "api_token" {
        warn!("zendesk: {}", crate::credentials::API_TOKEN_SUNSET);
    }
    warn_if_calls_outlast_the_watchdog(&ctx.notifier);
    ctx.notifier.ready();
    let mut last_escalate = clock::now();
    let mut last_push = clock::now();
    let mut last_audit = clock::now();
    // Refused or ignored deliveries ring no doorbell: their counters reach `status` and
    // `/metrics` on this tick (only when they changed), not only after the next pass.
    let mut stats_tick = tokio::time::interval(DELIVERY_STATS_EVERY);
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stats_saved = deliveries.snapshot();
    // When the schedules next fire is logged at start, after each round of passes and after a
    // reload: an operator reading the journal knows when to expect the next one.
    let mut announce = true;
    loop {
        let next_escalate = next(&engine.rules.schedule.escalate, last_escalate);
        let next_push = next(&engine.rules.schedule.push, last_push);
        let next_audit = next(&engine.rules.schedule.audit, last_audit);
        let wake = next_escalate.min(next_push).min(next_audit);
        if std::mem::take(&mut announce) {
            let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            info!(
                escalate = %at(next_escalate),
                push = %at(next_push),
                audit = %at(next_audit),
                "next passes scheduled"
            );
        }
        ctx.notifier.status(&format!(
            "idle, next escalation pass {}, next push pass {}, next audit {}",
            next_escalate.format("%H:%M:%S"),
            next_push.format("%H:%M:%S"),
            next_audit.format("%H:%M:%S")
        ));
        let mut sleep = (wake - clock::now()).to_std().unwrap_or_default();
        if let Some(cap) = ctx.notifier.max_sleep() {
            sleep = sleep.min(cap);
        }
        ctx.notifier.watchdog();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(checked) = reload.recv() => {
                if let Some(rules) = checked {
                    ctx.notifier.reloading();
                    engine = reloaded(rules, engine, store.clone(), &ctx);
                    ctx.notifier.ready();
                    announce = true;
                }
                continue;
            }
            // A pass already due goes first (a zero sleep is not ready at once; the bell is).
            _ = bell.rung(), if !sleep.is_zero() => {
                answer_doorbells(&engine, &bell, &deliveries, &shutdown, &ctx, wake).await;
                continue;
            }
            _ = stats_tick.tick(), if engine.rules.webhooks.is_some() => {
                let now = deliveries.snapshot();
                if now != stats_saved {
                    save_delivery_stats(&engine, &deliveries, &ctx);
                    stats_saved = now;
                }
                continue;
            }
            _ = tokio::time::sleep(sleep) => {}
        }
        save_delivery_stats(&engine, &deliveries, &ctx);
        ctx.notifier.watchdog();
        if let Some(why) = store.replaced() {
            // Writing on would record links in a file nobody reads again, and the next start
            // would escalate everything once more: stop loudly instead.
            error!(reason = %why, "the state database was deleted or replaced under the running daemon; stopping");
            ctx.notifier.stopping();
            return Err(DaemonError::StateReplaced(why));
        }
        let now = clock::now();
        announce = true;
        if now >= next_escalate {
            ctx.notifier.status("escalating: reading the Zendesk export");
            run_pass(Scheduled::Escalate, &engine, &shutdown, &ctx).await;
            last_escalate = clock::now();
        }
        if now >= next_push && !shutdown.is_cancelled() {
            ctx.notifier.status("pushing GitHub changes to Zendesk");
            run_pass(Scheduled::Push, &engine, &shutdown, &ctx).await;
            last_push = clock::now();
        }
        if now >= next_audit && !shutdown.is_cancelled() {
            ctx.notifier.status("auditing linked issues for transfers and deletions");
            run_pass(Scheduled::Audit, &engine, &shutdown, &ctx).await;
            last_audit = clock::now();
        }
    }
    ctx.notifier.stopping();
    info!("stopping");
    Ok(())
}

/// Acts on the doorbells the webhook receiver queued: each names a ticket to read now or a
/// repository to push back now. Deliveries about ticket-sync's own GitHub writes are echoes
/// and cost nothing. Once a scheduled pass is due (`until`), the doorbells not yet answered go
/// back on the queue: polling stays on its schedule however long the queue is.
async fn answer_doorbells(
    engine: &Engine,
    bell: &Bell,
    deliveries: &WebhookStats,
    shutdown: &CancellationToken,
    ctx: &RunContext,
    until: DateTime<Utc>,
) {
    let doorbells = bell.take();
    if doorbells.is_empty() {
        return;
    }
    ctx.notifier.status("answering webhook deliveries");
    let own = engine.own_github_login().await;
    let mut doorbells = doorbells.into_iter();
    let mut answered = 0;
    while let Some(doorbell) = doorbells.next() {
        if shutdown.is_cancelled() {
            break;
        }
        if answered > 0 && clock::now() >= until {
            // Back on the queue, in their order, behind the due pass (a full queue leaves
            // them to the polls).
            for later in std::iter::once(doorbell).chain(doorbells.by_ref()) {
                bell.ring(later);
            }
            break;
        }
        answered += 1;
        ctx.notifier.watchdog();
        let started = std::time::Instant::now();
        let result = match doorbell {
            Doorbell::Ticket(id) => {
                deliveries.acted(Source::Zendesk);
                engine.ring_ticket(id, shutdown).await
            }
            Doorbell::Repo { repo, senders } => {
                let echo = own.as_deref().is_some_and(|me| senders.iter().all(|s| s.eq_ignore_ascii_case(me)));
                if echo {
                    continue;
                }
                deliveries.acted(Source::Github);
                engine.ring_repo(&repo, shutdown).await
            }
        };
        let stats = ctx.stats.snapshot();
        ctx.metrics.record_pass(
            PassKind::Webhook,
            result.as_ref().map_err(|e| e.to_string()),
            started.elapsed().as_secs_f64(),
            &stats,
        );
        log_pass(PassKind::Webhook, engine, result);
    }
    save_delivery_stats(engine, deliveries, ctx);
}

/// The receiver's counters go to the store (for `status`) and to `/metrics`.
fn save_delivery_stats(engine: &Engine, deliveries: &WebhookStats, ctx: &RunContext) {
    if engine.rules.webhooks.is_none() {
        return;
    }
    let snapshot = serde_json::to_value(deliveries.snapshot()).unwrap_or_default();
    if let Some(sources) = snapshot.as_object() {
        for (source, v) in sources {
            ctx.metrics.record_webhooks(source, v);
            if let Err(e) = engine.store.save_webhook_stats(source, v) {
                warn!(error = %e, "webhook counters not saved");
            }
        }
    }
}

/// The watchdog is pinged between items, so one item must end well inside its interval: a
/// call that may take longer than half of it (a `TICKET_SYNC_CALL_BUDGET_MS` too large, a
/// `WatchdogSec` too short) risks a restart before the item's failure is recorded.
fn warn_if_calls_outlast_the_watchdog(notifier: &Notifier) {
    let call = Timeouts::get().call;
    if let Some(half) = notifier.max_sleep().filter(|half| call >= *half) {
        warn!(
            call_budget_seconds = call.as_secs(),
            watchdog_seconds = (half * 2).as_secs(),
            "one request may take longer than half the watchdog interval; raise WatchdogSec or lower TICKET_SYNC_CALL_BUDGET_MS"
        );
    }
}

/// The passes a schedule runs (a webhook's are run by `answer_doorbells`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheduled {
    Escalate,
    Push,
    Audit,
}

impl Scheduled {
    fn kind(self) -> PassKind {
        match self {
            Scheduled::Escalate => PassKind::Escalate,
            Scheduled::Push => PassKind::Push,
            Scheduled::Audit => PassKind::Audit,
        }
    }
}

/// Runs one pass; after a shutdown request it gets `SHUTDOWN_GRACE` to finish its item.
async fn run_pass(scheduled: Scheduled, engine: &Engine, shutdown: &CancellationToken, ctx: &RunContext) {
    let started = std::time::Instant::now();
    let kind = scheduled.kind();
    let pass = async {
        match scheduled {
            Scheduled::Escalate => engine.escalate(shutdown).await,
            Scheduled::Push => engine.push(shutdown).await,
            Scheduled::Audit => engine.audit(shutdown).await,
        }
    };
    let grace = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let deadline = tokio::time::sleep(Duration::from_secs(engine.rules.daemon.pass_deadline_secs));
    let result = tokio::select! {
        r = pass => r,
        _ = deadline => {
            warn!(pass = kind.as_str(), deadline_seconds = engine.rules.daemon.pass_deadline_secs, "pass stopped at its deadline; the next pass resumes its work (raise daemon.pass_deadline_seconds for long backfills)");
            ctx.metrics.record_pass(kind, Err("deadline reached".into()), engine.rules.daemon.pass_deadline_secs as f64, &ctx.stats.snapshot());
            return;
        }
        _ = grace => {
            warn!(pass = kind.as_str(), "the item in flight did not finish within the shutdown grace period; its intent is reconciled on the next start");
            return;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let stats = ctx.stats.snapshot();
    ctx.metrics.record_pass(kind, result.as_ref().map_err(|e| e.to_string()), seconds, &stats);
    log_pass(kind, engine, result);
}

fn next(schedule: &ticket_sync_core::cron::CronSchedule, after: DateTime<Utc>) -> DateTime<Utc> {
    schedule.next_after(after).unwrap_or(after + chrono::Duration::days(365))
}

/// Re-reads the rules file; an invalid one is rejected and the running rules stay.
/// Reads the rules file at each SIGHUP as it arrives, even while a pass runs, and says at once
/// what came of it: every reload gets its own verdict, and a broken file is reported before a
/// later fix could hide it. Valid rules are handed on (`None` for a rejected file) and applied
/// by the scheduler after the pass in flight.
fn check_reloads(path: PathBuf, mut signals: mpsc::UnboundedReceiver<()>) -> mpsc::UnboundedReceiver<Option<Rules>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while signals.recv().await.is_some() {
            let checked = match config::load(&path) {
                Ok(rules) => {
                    info!(rules = %path.display(), "reload requested: the rules file is valid; it applies after the pass in flight");
                    Some(rules)
                }
                Err(e) => {
                    error!(error = %e, "rules file rejected on reload; the previous rules stay in force");
                    None
                }
            };
            if tx.send(checked).is_err() {
                break;
            }
        }
    });
    rx
}

fn reloaded(mut rules: Rules, current: Engine, store: Arc<Store>, ctx: &RunContext) -> Engine {
    if rules.state_path != current.rules.state_path {
        warn!(
            configured = %rules.state_path.display(),
            in_use = %current.rules.state_path.display(),
            "[state] path changed; it takes effect only after a restart (systemctl restart ticket-sync)"
        );
        rules.state_path = current.rules.state_path.clone();
    }
    if rules.daemon.listen != current.rules.daemon.listen {
        warn!("[daemon] listen changed; it takes effect only after a restart");
    }
    if rules.webhooks != current.rules.webhooks {
        // The receiver, its address and its secrets were set up at start; the rules keep
        // describing them, so its deliveries are still answered and counted.
        warn!("[webhooks] changed; it takes effect only after a restart (systemctl restart ticket-sync)");
        rules.webhooks = current.rules.webhooks.clone();
    }
    match build_engine(rules, store, ctx) {
        Ok(engine) => {
            info!(
                routes = engine.rules.routes.len(),
                escalate = engine.rules.schedule.escalate.text(),
                push = engine.rules.schedule.push.text(),
                "rules reloaded; they apply from the next pass"
            );
            engine
        }
        Err(e) => {
            error!(error = %e, "reload failed; the previous rules stay in force");
            current
        }
    }
}
fn budget_text(left: Option<u64>) -> String {
    left.map_or_else(|| "unknown".into(), |v| v.to_string())
}

pub(crate) fn log_pass(kind: PassKind, engine: &Engine, result: Result<PassReport, crate::sync::PassError>) {
    let github_left = engine.budget_remaining(Service::Github);
    let zendesk_left = engine.budget_remaining(Service::Zendesk);
    match result {
        Ok(r) => info!(
            pass = kind.as_str(),
            seen = r.seen,
            escalated = r.escalated,
            created = r.created,
            recovered = r.recovered,
            notes = r.notes,
            pushed = r.pushed,
            failed = r.failed,
            requests = r.requests,
            retries = r.retries,
            rate_limited = r.limited,
            github_rate_left = %budget_text(github_left),
            zendesk_rate_left = %budget_text(zendesk_left),
            "pass complete"
        ),
        Err(e) => error!(pass = kind.as_str(), error = %e, "pass failed; it will run again on schedule"),
    }
}
