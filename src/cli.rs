//! The command line (a contract: users, docs and scripts rely on these names).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ticket-sync",
    version,
    about = "Escalate Zendesk tickets to GitHub issues and push issue changes back"
)]
pub struct Cli {
    /// Rules file (default: $TICKET_SYNC_CONFIG, then ./sync-rules.toml).
    #[arg(long, global = true, value_name = "PATH")]
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run as a daemon: both schedules until SIGTERM/SIGINT; SIGHUP reloads the rules file.
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
    /// Validate the rules file (0 valid, 2 invalid).
    Check {
        /// Also verify both credentials and every routed repository.
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
    /// Start the built-in sandbox Zendesk and GitHub, run a few cycles and show what happened.
    Demo,
    /// Put a failed or parked ticket back in line for the next pass.
    Retry {
        /// The Zendesk ticket id.
        ticket_id: u64,
    },
}
