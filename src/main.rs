//! The `ticket-sync` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use ticket_sync::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A command whose output is piped into `head` (or a pager that quits) ends quietly, as
    // Unix tools do, instead of panicking on a closed stdout. Only commands that open no
    // connection: a socket's vectored write to a peer that closed raises SIGPIPE too, which
    // must stay an error there, not the end of the process (`demo` and `sync` print with
    // `say!`, which ends quietly on a closed stdout instead).
    if ticket_sync::app::offline(&cli.command) {
        ticket_sync::app::default_sigpipe();
    }
    // The demo talks to the reader on stdout; its logs stay quiet unless RUST_LOG asks.
    let default_level = if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info" };
    ticket_sync::logging::init(cli.log_format, default_level);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime starts");
    runtime.block_on(ticket_sync::app::run(cli))
}
