//! ticket-sync: escalate Zendesk tickets to GitHub issues and push issue changes back.
//!
//! `main.rs` parses the command line and calls into this library; see ARCHITECTURE.md for the map.
/// `println!` for commands that talk to a reader while they work (`demo`, `sync`): a stdout
/// closed by its reader (`| head -1`) ends the process quietly instead of a panic.
macro_rules! say {
    () => {
        $crate::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::say_line(format_args!($($arg)*))
    };
}

/// One line to stdout for `say!`; a reader that went away (`| head`) ends the process quietly
/// (exit code 0, `app::EXIT_OK`). Here, beside its macro, so that a module that says a line
/// (`sync/online.rs`, `demo.rs`) does not depend on the commands.
#[doc(hidden)]
pub fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{args}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub mod app;
pub mod cli;
pub mod config;
pub mod crashpoint;
pub mod credentials;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod logging;
pub mod manual;
pub mod metrics;
pub mod notify;
pub mod serve;
pub mod status;
pub mod sync;
pub mod webhooks;
