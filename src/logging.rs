//! Log setup: stderr, `RUST_LOG` filtering, text or JSON, and no timestamps under journald.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Installs the global subscriber. `default_level` applies when `RUST_LOG` is unset.
pub fn init(format: LogFormat, default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // journald stamps every line itself; a second timestamp only costs width.
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let result = match (format, under_journald) {
        (LogFormat::Json, _) => {
            builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
        }
        (LogFormat::Text, true) => builder.without_time().with_ansi(false).try_init(),
        (LogFormat::Text, false) => builder.with_ansi(false).try_init(),
    };
    // A second init (tests, demo) keeps the first subscriber.
    let _ = result;
}
