//! The command line (a contract: users, docs and scripts rely on these names).
//!
//! The same definition makes `--help`, the shell completions (`completions`) and the manual
//! page (`man`), so the three never disagree.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// `--version`: the release and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("TICKET_SYNC_COMMIT"), ")");

/// Exit codes, environment and files: the end of `--help` and sections of the manual page.
pub const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "success"),
    ("1", "some item failed (it is recorded and retried), or the state database could not be used"),
    ("2", "configuration error: the rules file or a credential; nothing was sent anywhere"),
];

pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("TICKET_SYNC_CONFIG", "the rules file when --config is not given (default ./sync-rules.toml)"),
    ("ZENDESK_CLIENT_SECRET", "the Zendesk OAuth client's secret, unless the rules name another source"),
    ("ZENDESK_API_TOKEN", "a Zendesk API token (until 2027-04-30), unless the rules name another source"),
    ("GITHUB_TOKEN", "the GitHub token, unless the rules name another source or use a GitHub App"),
    ("GITHUB_WEBHOOK_SECRET, ZENDESK_WEBHOOK_SECRET", "the webhook signing secrets ([webhooks])"),
    (
        "CREDENTIALS_DIRECTORY",
        "set by systemd's LoadCredential=: secrets are read from the credentials zendesk-client-secret, \
         zendesk-token, github-token, github-app-key, github-webhook-secret, zendesk-webhook-secret",
    ),
    ("STATE_DIRECTORY", "set by systemd's StateDirectory=: the database is kept there unless [state] path says"),
    ("RUST_LOG", "log filter, e.g. ticket_sync=debug (default info; warn for demo)"),
    ("SSL_CERT_FILE", "extra CA certificates to trust (a TLS-inspecting proxy)"),
];

pub const FILES: &[(&str, &str)] = &[
    ("/etc/ticket-sync/sync-rules.toml", "the rules file of the packaged service (sync-rules.toml(5))"),
    ("/var/lib/ticket-sync/ticket-sync.db", "the service's state database (SQLite); back it up"),
    ("/etc/systemd/system/ticket-sync.service", "the hardened systemd unit"),
];

pub const EXAMPLES: &[(&str, &str)] = &[
    ("ticket-sync demo", "try it against the built-in sandbox Zendesk and GitHub"),
    (
        "ticket-sync --config /etc/ticket-sync/sync-rules.toml check --online",
        "check rules, credentials and repositories",
    ),
    ("ticket-sync sync --dry-run", "show what one pass would do, writing nothing"),
    ("ticket-sync status --ticket 4711", "one ticket's history: its links, notes and failures"),
];

/// The end of `--help`: exit codes, environment, examples.
fn after_long_help() -> String {
    let list =
        |items: &[(&str, &str)]| items.iter().map(|(k, v)| format!("  {k}\n          {v}\n")).collect::<String>();
    format!(
        "Exit codes:\n{}\nEnvironment:\n{}\nExamples:\n{}\nThe rules file's keys: `ticket-sync man rules | man -l -`, or the commented sample \
         sync-rules.toml. Guides: docs/ in the source tree.",
        list(EXIT_CODES),
        list(ENVIRONMENT),
        list(EXAMPLES)
    )
}

#[derive(Debug, Parser)]
#[command(
    name = "ticket-sync",
    version = VERSION,
    about = "Escalate Zendesk tickets to GitHub issues and push issue changes back",
    long_about = "Escalate Zendesk tickets to GitHub issues and push issue changes back.\n\n\
        ticket-sync polls Zendesk for tickets its rules escalate, creates one GitHub issue for each \
        (exactly once, whatever fails), keeps the link in a local SQLite database, and tells the \
        ticket when the issue is closed, reopened or commented on. Run it as a service (`run`) or \
        from a timer (`sync`).",
    after_long_help = after_long_help()
)]
pub struct Cli {
    /// Rules file (default: $TICKET_SYNC_CONFIG, then ./sync-rules.toml).
    #[arg(long, global = true, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
    pub config: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which manual page `man` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManPage {
    /// ticket-sync(1): the commands.
    Cli,
    /// sync-rules.toml(5): the rules file.
    Rules,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as a daemon: the escalate, push and audit schedules until SIGTERM/SIGINT; SIGHUP reloads the rules file.
    #[command(long_about = "Run as a daemon until SIGTERM or SIGINT.\n\n\
        Three schedules run passes: escalate (new and changed tickets → issues), push (issue \
        events → tickets) and audit (transferred and deleted issues); webhooks, when configured, \
        start a pass at once. SIGHUP reloads the rules file; a broken one is refused and the old \
        rules stay. The log says when each schedule next fires.")]
    Run,
    /// One escalation pass, then one push-back pass, then exit (0 ok, 1 some item failed, 2 config error).
    Sync {
        /// Print what would be done; write nothing to Zendesk, GitHub or the state database.
        #[arg(long)]
        dry_run: bool,
        /// Stop after this many seconds, whatever is left (the next run resumes it; exit 1).
        #[arg(long, value_name = "SECONDS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        deadline: u64,
    },
    /// Validate the rules file and read every credential (0 valid, 2 invalid); nothing is sent.
    Check {
        /// Also sign in to both services and check every routed repository.
        #[arg(long)]
        online: bool,
    },
    /// Mappings, last passes and failures, read from the state database.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Show one ticket's history instead.
        #[arg(long, value_name = "TICKET_ID")]
        ticket: Option<u64>,
    },
    /// Start the built-in sandbox Zendesk and GitHub, run the daemon against them and show what happened.
    Demo {
        /// Keep the demo's rules file and database in DIR (created; must be empty), to try `status` on them.
        #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
        keep: Option<PathBuf>,
    },
    /// Put a failed or parked ticket back in line for the next pass.
    Retry {
        /// The Zendesk ticket id.
        ticket_id: u64,
    },
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell).
    #[command(after_long_help = "Install, for example:\n  \
        ticket-sync completions bash > /usr/share/bash-completion/completions/ticket-sync\n  \
        ticket-sync completions zsh > /usr/local/share/zsh/site-functions/_ticket-sync\n  \
        ticket-sync completions fish > ~/.config/fish/completions/ticket-sync.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page in roff: ticket-sync(1), or the rules file's sync-rules.toml(5).
    #[command(after_long_help = "Read one at once with `ticket-sync man | man -l -`; install, for example:\n  \
        ticket-sync man > /usr/local/share/man/man1/ticket-sync.1\n  \
        ticket-sync man rules > /usr/local/share/man/man5/sync-rules.toml.5")]
    Man {
        /// Which page: the commands (cli, the default) or the rules file (rules).
        #[arg(value_enum, default_value_t = ManPage::Cli)]
        page: ManPage,
    },
}
