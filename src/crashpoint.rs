//! Test hook: abort the process at a named point, to prove crash recovery with real crashes.
//!
//! `TICKET_SYNC_CRASHPOINT=after_issue_create` aborts the first time that point is reached;
//! `after_issue_create:3` the third time. Abort skips destructors and buffered writes, like
//! SIGKILL. Unset (always, in production) it costs one atomic load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

static TARGET: OnceLock<Option<(String, u32)>> = OnceLock::new();
static HITS: AtomicU32 = AtomicU32::new(0);

fn target() -> &'static Option<(String, u32)> {
    TARGET.get_or_init(|| {
        let raw = std::env::var("TICKET_SYNC_CRASHPOINT").ok()?;
        let (name, n) = match raw.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
            None => (raw, 1),
        };
        Some((name, n.max(1)))
    })
}

/// Aborts the process if `name` is the configured crash point and its count is reached.
pub fn hit(name: &str) {
    if let Some((target, n)) = target() {
        if target == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            eprintln!("ticket-sync: crash point {name} reached, aborting (TICKET_SYNC_CRASHPOINT)");
            std::process::abort();
        }
    }
}
