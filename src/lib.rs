//! ticket-sync: escalate Zendesk tickets to GitHub issues and push issue changes back.
//!
//! `main.rs` parses the command line and calls into this library; see ARCHITECTURE.md for the map.
/// `println!` for commands that talk to a reader while they work (`demo`, `sync`): a stdout
/// closed by its reader (`| head -1`) ends the process quietly instead of a panic.
macro_rules! say {
    () => {
        $crate::app::say_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::app::say_line(format_args!($($arg)*))
    };
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
