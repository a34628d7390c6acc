//! The commands behind the command line: each returns the process exit code.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::cli::{Cli, Command};
use crate::config;
#[cfg(feature = "demo")]
use crate::demo;
use crate::sync::{Engine, PassReport};
use crate::{daemon, status};
use ticket_sync_core::domain::TicketId;
use ticket_sync_core::domain::{PassKind, PassOutcome};
use ticket_sync_core::rules::Rules;
use ticket_sync_store::Store;

/// Exit codes (a contract): 0 success, 1 some item failed, 2 configuration error.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ITEM_FAILED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;

pub async fn run(cli: Cli) -> ExitCode {
    let path = config::resolve_path(cli.config.as_deref());
    let code = match cli.command {
        // The demo writes its own rules for its own sandbox: a rules file given would be ignored.
        Command::Demo { .. } if cli.config.is_some() => {
            eprintln!(
                "error: demo runs against its own sandbox with its own rules, so --config is not used; to try your \
                 rules, run `ticket-sync --config PATH check --online` or `sync --dry-run`"
            );
            EXIT_CONFIG
        }
        #[cfg(feature = "demo")]
        Command::Demo { keep } => demo::run(keep).await,
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => {
            eprintln!("error: this ticket-sync was built without the demo (cargo build --no-default-features)");
            EXIT_CONFIG
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "ticket-sync", &mut std::io::stdout());
            EXIT_OK
        }
        Command::Man { page } => {
            let text = match page {
                crate::cli::ManPage::Cli => crate::manual::cli_page(),
                crate::cli::ManPage::Rules => crate::manual::rules_page(),
            };
            print!("{text}");
            EXIT_OK
        }
        Command::Check { online } => check(&path, online).await,
        Command::Status { json, ticket } => {
            with_rules(&path, |rules| status::print(&rules, json, ticket.map(TicketId)))
        }
        Command::Retry { ticket_id } => with_rules(&path, |rules| retry(&rules, TicketId(ticket_id))),
        Command::Sync { dry_run, deadline } => sync(&path, dry_run, Duration::from_secs(deadline)).await,
        Command::Run => daemon_main(&path).await,
    };
    ExitCode::from(code)
}

/// Commands that open no network connection (and write only to stdout, stderr and files).
pub fn offline(command: &Command) -> bool {
    matches!(
        command,
        Command::Status { .. } | Command::Retry { .. } | Command::Completions { .. } | Command::Man { .. }
    ) || matches!(command, Command::Check { online: false })
}

/// Restores the default action of SIGPIPE (the Rust runtime ignores it): writing to a closed
/// pipe then ends the process quietly, as it ends `cat` or `grep`, instead of a panic.
pub fn default_sigpipe() {
    // SAFETY: called at the start of `main`, before any thread is started; `signal` with
    // SIG_DFL only resets the disposition of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn load_rules(path: &Path) -> Result<Rules, u8> {
    config::load(path).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_CONFIG
    })
}

fn with_rules(path: &Path, f: impl FnOnce(Rules) -> u8) -> u8 {
    match load_rules(path) {
        Ok(rules) => f(rules),
        Err(code) => code,
    }
}

use crate::credentials::load_tokens;

async fn check(path: &Path, online: bool) -> u8 {
    let rules = match load_rules(path) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Credentials are part of the configuration: every missing or unreadable one is reported,
    // all in one run, and fails `check` as the daemon's start would fail.
    let mut problems: Vec<String> = Vec::new();
    let zt = crate::credentials::load_zendesk(&rules.zendesk.auth).map_err(|e| problems.push(e.to_string())).ok();
    let gt = crate::credentials::load_github(&rules.github.auth).map_err(|e| problems.push(e.to_string())).ok();
    let hooks = rules.webhooks.as_ref().and_then(|w| match crate::webhooks::WebhookSecrets::load_all(w) {
        Ok(secrets) => Some((w.listen, secrets)),
        Err(errors) => {
            problems.extend(errors.iter().map(ToString::to_string));
            None
        }
    });
    let (Some(zt), Some(gt), true) = (zt, gt, problems.is_empty()) else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!("{}: {} credential problem(s); nothing was sent anywhere", path.display(), problems.len());
        return EXIT_CONFIG;
    };
    let zendesk = match &zt {
        ticket_sync_clients::secret::ZendeskCredential::OAuth(c) => {
            format!("Zendesk OAuth client {} secret readable", c.client_id)
        }
        ticket_sync_clients::secret::ZendeskCredential::ApiToken { .. } => "Zendesk API token readable".to_string(),
    };
    let github = match &gt {
        ticket_sync_clients::secret::GithubCredential::Token(_) => "GitHub token readable".to_string(),
        ticket_sync_clients::secret::GithubCredential::App(key) => {
            format!("GitHub App {} key readable and signs", key.app_id)
        }
    };
    say!(
        "{}: valid ({} route(s), state database {}; {zendesk}; {github})",
        path.display(),
        rules.routes.len(),
        rules.state_path.display()
    );
    if matches!(zt, ticket_sync_clients::secret::ZendeskCredential::ApiToken { .. }) {
        eprintln!("warning: zendesk: {}", crate::credentials::API_TOKEN_SUNSET);
    }
    if let Some((listen, secrets)) = hooks {
        let set = |s: &Option<ticket_sync_clients::secret::Secret>, name: &str| {
            if s.is_some() {
                format!("{name} secret set")
            } else {
                format!("{name} off ({name} = false)")
            }
        };
        say!("webhooks on {listen}: {}, {}", set(&secrets.github, "github"), set(&secrets.zendesk, "zendesk"));
    }
    if !online {
        return EXIT_OK;
    }
    let store = Arc::new(Store::open_in_memory().expect("in-memory database opens"));
    let engine = Engine::new(Arc::new(rules), store, &zt, &gt, true);
    if crate::sync::online_check(&engine).await {
        EXIT_OK
    } else {
        EXIT_CONFIG
    }
}

fn retry(rules: &Rules, id: TicketId) -> u8 {
    // Never a new, empty database: the ticket's failure is in the one the daemon uses.
    if !rules.state_path.exists() {
        eprintln!(
            "error: no state database at {}: nothing to retry. ticket-sync has not run with these rules yet, or \
             `[state] path` points elsewhere (the service's is /var/lib/ticket-sync/ticket-sync.db when the rules \
             say so); name the service's rules file with --config",
            std::path::absolute(&rules.state_path).unwrap_or_else(|_| rules.state_path.clone()).display()
        );
        return EXIT_ITEM_FAILED;
    }
    if let Err(why) = refuse_foreign_state_dir(&rules.state_path) {
        eprintln!("error: {why}");
        return EXIT_ITEM_FAILED;
    }
    let store = match Store::open(&rules.state_path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ITEM_FAILED;
        }
    };
    match store.retry_now(id) {
        Ok(true) => {
            println!("ticket {id} will be retried on the next escalation pass");
            EXIT_OK
        }
        Ok(false) => {
            eprintln!("ticket {id} has no recorded failure; nothing to retry");
            EXIT_ITEM_FAILED
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ITEM_FAILED
        }
    }
}

/// Root running a command on a state folder that belongs to the service's user would leave
/// root-owned files (the lock, the database's WAL) that the service then cannot open.
fn refuse_foreign_state_dir(db: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's effective user (Linux, where the service runs).
    let Ok(me) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return Ok(()) };
    let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    let Ok(owner) = std::fs::metadata(dir).map(|m| m.uid()) else { return Ok(()) };
    if me == 0 && owner != 0 {
        return Err(format!(
            "{} belongs to user id {owner}, and this command runs as root: files it creates there would lock the \
             service out. Run it as the service's user, with the unit's own settings, for example \
             `sudo systemd-run --quiet --pipe --wait --collect -p User=ticket-sync -p DynamicUser=yes \
             -p StateDirectory=ticket-sync -p StateDirectoryMode=0700 -p UMask=0077 /usr/local/bin/ticket-sync \
             --config /etc/ticket-sync/sync-rules.toml retry ID` (docs/install.md, \"One-off commands\"), or \
             `sudo -u '#{owner}' ticket-sync …`",
            dir.display()
        ));
    }
    Ok(())
}

/// One escalation pass, then one push-back pass, both within `deadline`: a cron-driven run
/// never outlives its slot, whatever a remote does. Work cut off at the deadline is safe (every
/// write has its intent) and the next run resumes it.
async fn sync(path: &Path, dry_run: bool, deadline: Duration) -> u8 {
    let rules = match load_rules(path) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let (zt, gt) = match load_tokens(&rules) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_CONFIG;
        }
    };
    if !dry_run {
        if let Err(why) = refuse_foreign_state_dir(&rules.state_path) {
            eprintln!("error: {why}");
            return EXIT_ITEM_FAILED;
        }
    }
    // The lock first: two first runs must not both create and migrate the database.
    let _lock = if dry_run {
        None
    } else {
        match daemon::InstanceLock::acquire(&rules.state_path) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_ITEM_FAILED;
            }
        }
    };
    let opened = if dry_run { Store::open_read_only(&rules.state_path) } else { Store::open(&rules.state_path) };
    let store = match opened {
        Ok(s) => Arc::new(s),
        Err(e) => {
            // A database that cannot be opened (full disk, permissions) is not a rules error:
            // exit 2 stays for rules and tokens.
            eprintln!("error: {e}");
            return EXIT_ITEM_FAILED;
        }
    };
    let engine = Engine::new(Arc::new(rules), store, &zt, &gt, dry_run);
    let cancel = CancellationToken::new();
    let mut failed = false;
    let out_of_time = tokio::time::sleep(deadline);
    tokio::pin!(out_of_time);
    // On a terminal a long backfill shows it is alive; under journald (not a terminal) the
    // per-item log lines are the record and nothing is added.
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| spawn_progress(&engine));
    for pass in [PassKind::Escalate, PassKind::Push] {
        if let Some(p) = &progress {
            p.send_replace(pass);
        }
        let run = async {
            match pass {
                PassKind::Escalate => engine.escalate(&cancel).await,
                _ => engine.push(&cancel).await,
            }
        };
        let result = tokio::select! {
            r = run => r,
            _ = &mut out_of_time => {
                error!(pass = pass.as_str(), deadline_seconds = deadline.as_secs(), "sync stopped at its deadline");
                eprintln!(
                    "error: sync stopped at its deadline ({} s) during the {pass} pass; the next run resumes (raise --deadline for long backfills)",
                    deadline.as_secs()
                );
                if !dry_run {
                    // `status` shows the pass as stopped, not as still running.
                    let summary = serde_json::json!({ "error": "sync deadline reached" });
                    if let Err(e) = engine.store.pass_finished(pass, PassOutcome::Failed, &summary) {
                        eprintln!("error: {e}");
                    }
                }
                failed = true;
                break;
            }
        };
        // Refused credentials would be refused by the next pass too: it is not run.
        let refused = matches!(
            &result,
            Err(crate::sync::PassError::Api(ticket_sync_clients::http::ApiError::Unauthorized { .. }))
        );
        match &result {
            Ok(report) => {
                print_report(report, dry_run);
                failed |= report.failed > 0;
            }
            Err(e) => {
                eprintln!("error: {pass} pass failed: {e}");
                failed = true;
            }
        }
        daemon::log_pass(pass, &engine, result);
        if refused {
            break;
        }
    }
    if failed {
        EXIT_ITEM_FAILED
    } else {
        EXIT_OK
    }
}

/// Every `PROGRESS_EVERY`, while a `sync` runs on a terminal: one line on stderr with the pass,
/// its time so far, the requests sent and the links known. Stops when the sender is dropped.
fn spawn_progress(engine: &Engine) -> tokio::sync::watch::Sender<PassKind> {
    const PROGRESS_EVERY: Duration = Duration::from_secs(5);
    let (tx, mut rx) = tokio::sync::watch::channel(PassKind::Escalate);
    let (stats, store) = (engine.stats.clone(), engine.store.clone());
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
        loop {
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { break },
                _ = tick.tick() => {
                    let pass = *rx.borrow();
                    let links = store.mapping_count().map_or_else(|_| "?".to_string(), |n| n.to_string());
                    eprintln!(
                        "… {pass} pass running: {} s, {} requests sent, {links} links",
                        started.elapsed().as_secs(),
                        stats.snapshot().total()
                    );
                }
            }
        }
    });
    tx
}

fn print_report(r: &PassReport, dry_run: bool) {
    if dry_run {
        for p in &r.planned {
            say!("would {p}");
        }
    }
    say!(
        "{}: {} seen, {} escalated, {} created, {} recovered, {} notes, {} pushed, {} skipped, {} failed, {} requests",
        r.kind,
        r.seen,
        r.escalated,
        r.created,
        r.recovered,
        r.notes,
        r.pushed,
        r.skipped,
        r.failed,
        r.requests
    );
    for (id, why) in &r.failures {
        say!("  ticket {id} failed: {why}");
    }
}

async fn daemon_main(path: &Path) -> u8 {
    let rules = match load_rules(path) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let shutdown = CancellationToken::new();
    let reload = daemon::spawn_signal_handlers(shutdown.clone());
    let notifier = std::sync::Arc::new(crate::notify::Notifier::from_env());
    match daemon::run_with(path.to_path_buf(), rules, shutdown, reload, notifier).await {
        Ok(()) => {
            info!("stopped");
            EXIT_OK
        }
        Err(daemon::DaemonError::Config(msg)) => {
            eprintln!("error: {msg}");
            EXIT_CONFIG
        }
        Err(e) => {
            error!(error = %e, "daemon stopped");
            eprintln!("error: {e}");
            EXIT_ITEM_FAILED
        }
    }
}
