//! The `ticket-sync` binary: parse the command line, set up logging, hand over to the library.

use clap::Parser;
use ticket_sync::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo talks to the reader on stdout; its logs stay quiet unless RUST_LOG asks.
    let default_level = if matches!(cli.command, Command::Demo) { "warn" } else { "info" };
    ticket_sync::logging::init(cli.log_format, default_level);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime starts");
    runtime.block_on(ticket_sync::app::run(cli))
}
