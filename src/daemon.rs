//! The long-running daemon: schedules, signals, reloads, the single-instance lock and shutdown.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::app::load_tokens;
use crate::config::{self, Rules};
use crate::http::Service;
use crate::store::{Store, StoreError};
use crate::sync::{Engine, PassReport};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The rules or tokens are unusable; exit code 2.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Locked(String),
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
            std::fs::create_dir_all(dir)
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

fn build_engine(rules: Rules, store: Arc<Store>) -> Result<Engine, DaemonError> {
    let (zt, gt) = load_tokens(&rules).map_err(|e| DaemonError::Config(e.to_string()))?;
    Ok(Engine::new(Arc::new(rules), store, &zt, &gt, false))
}

/// Runs both schedules until `shutdown` is cancelled. `reload` delivers SIGHUPs.
pub async fn run(
    path: PathBuf,
    rules: Rules,
    shutdown: CancellationToken,
    mut reload: mpsc::UnboundedReceiver<()>,
) -> Result<(), DaemonError> {
    let _lock = InstanceLock::acquire(&rules.state_path)?;
    let store = Arc::new(Store::open(&rules.state_path)?);
    let mut engine = build_engine(rules, store.clone())?;
    info!(rules = %path.display(), state = %engine.rules.state_path.display(), "ticket-sync started");
    let mut last_escalate = Utc::now();
    let mut last_push = Utc::now();
    loop {
        let next_escalate = next(&engine.rules.schedule.escalate, last_escalate);
        let next_push = next(&engine.rules.schedule.push, last_push);
        let wake = next_escalate.min(next_push);
        let sleep = (wake - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(()) = reload.recv() => {
                engine = reloaded(&path, engine, store.clone());
                continue;
            }
            _ = tokio::time::sleep(sleep) => {}
        }
        let now = Utc::now();
        if now >= next_escalate {
            let result = engine.escalate(&shutdown).await;
            log_pass("escalate", &engine, result);
            last_escalate = Utc::now();
        }
        if now >= next_push && !shutdown.is_cancelled() {
            let result = engine.push(&shutdown).await;
            log_pass("push", &engine, result);
            last_push = Utc::now();
        }
    }
    Ok(())
}

fn next(schedule: &config::CronSchedule, after: DateTime<Utc>) -> DateTime<Utc> {
    schedule.next_after(after).unwrap_or(after + chrono::Duration::days(365))
}

/// Re-reads the rules file; an invalid one is rejected and the running rules stay.
fn reloaded(path: &Path, current: Engine, store: Arc<Store>) -> Engine {
    let mut rules = match config::load(path) {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "rules file rejected on reload; the previous rules stay in force");
            return current;
        }
    };
    if rules.state_path != current.rules.state_path {
        warn!(
            configured = %rules.state_path.display(),
            in_use = %current.rules.state_path.display(),
            "[state] path changed; it takes effect only after a restart (systemctl restart ticket-sync)"
        );
        rules.state_path = current.rules.state_path.clone();
    }
    match build_engine(rules, store) {
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

fn log_pass(kind: &str, engine: &Engine, result: Result<PassReport, crate::sync::PassError>) {
    let github_left = engine.budget_remaining(Service::Github);
    let zendesk_left = engine.budget_remaining(Service::Zendesk);
    match result {
        Ok(r) => info!(
            pass = kind,
            seen = r.seen,
            escalated = r.escalated,
            created = r.created,
            recovered = r.recovered,
            notes = r.notes,
            pushed = r.pushed,
            failed = r.failed,
            requests = r.requests,
            github_rate_left = ?github_left,
            zendesk_rate_left = ?zendesk_left,
            "pass complete"
        ),
        Err(e) => error!(pass = kind, error = %e, "pass failed; it will run again on schedule"),
    }
}
