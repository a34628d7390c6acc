//! Zendesk's rate limits, counted on the sandbox clock: the account budget per minute, the
//! incremental-export budget per minute, and the per-ticket update budget per ten minutes.
//!
//! Pure counters; the routes turn a refusal into `429` + `Retry-After`, and a budget into the
//! endpoint header that names it (`Budget::header_value`).
//!
//! - FACTS (FACTS.md, "Incremental ticket export" → "Rate limit"; live answers): every answer
//!   of the export names the export's budget: `zendesk-ratelimit-incremental-exports: total=10;
//!   remaining=N; resets=S`; its `429` too, by the docs' advice ("Best practices for avoiding
//!   rate limiting": "If you receive a 429 response, then look for endpoint-specific headers";
//!   no captured export 429 with its headers was found).
//! - FACTS (FACTS.md, "Ticket-update rate limits"; recorded): an update carries
//!   `zendesk-ratelimit-per-ticket-updates: total=30; remaining=29; resets=468`.
//! - FACTS (developer.zendesk.com, "Best practices for avoiding rate limiting", its example
//!   of a 429): a refused ticket update is `429`, `Content-Type: text/html; charset=utf-8`,
//!   `Retry-After: 93` and the plain-text body "Rate limit for ticket updates exceeded,
//!   please wait before updating this ticket again", with no per-ticket header (the example
//!   shows no account headers either; this fake keeps those on every answer, as FACTS.md's
//!   "Rate limits" says Zendesk sends them).

use std::collections::HashMap;

use axum::http::HeaderValue;
use chrono::{DateTime, Utc};

/// The account-wide budget every recording shows (Enterprise plan).
pub(super) const ACCOUNT_PER_MINUTE: u32 = 700;
/// The documented default for the incremental export endpoints.
pub(super) const EXPORT_PER_MINUTE: u32 = 10;
/// "30 updates per 10 minutes per user per ticket".
pub(super) const TICKET_UPDATES: u32 = 30;
pub(super) const TICKET_WINDOW_SECS: i64 = 600;

/// The export's own budget, on every answer of the export, its 429 included.
pub(super) const EXPORT_HEADER: &str = "zendesk-ratelimit-incremental-exports";
/// A ticket's update budget, on the answers of the updates counted against it (not on the
/// 429 that refuses one).
pub(super) const PER_TICKET_HEADER: &str = "zendesk-ratelimit-per-ticket-updates";

/// What the rate-limit headers report after a request was counted (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Budget {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window ends; also the `Retry-After` of a refusal.
    pub resets: u64,
}

impl Budget {
    /// The value of an endpoint header: `total=N; remaining=M; resets=S`.
    pub fn header_value(&self) -> HeaderValue {
        let text = format!("total={}; remaining={}; resets={}", self.limit, self.remaining, self.resets);
        HeaderValue::from_str(&text).expect("digits and separators are a valid header value")
    }
}

/// Counts requests in fixed windows aligned to the sandbox clock's minutes, which is what
/// `ratelimit-reset` ("seconds to the end of the minute") describes.
#[derive(Default)]
struct MinuteCounter {
    minute: i64,
    used: u32,
}

impl MinuteCounter {
    fn take(&mut self, now: DateTime<Utc>, limit: u32) -> Result<Budget, Budget> {
        let secs = now.timestamp();
        let minute = secs.div_euclid(60);
        if minute != self.minute {
            self.minute = minute;
            self.used = 0;
        }
        let resets = (60 - secs.rem_euclid(60)) as u64;
        if self.used >= limit {
            return Err(Budget { limit, remaining: 0, resets });
        }
        self.used += 1;
        Ok(Budget { limit, remaining: limit - self.used, resets })
    }

    fn peek(&self, now: DateTime<Utc>, limit: u32) -> Budget {
        let secs = now.timestamp();
        let used = if secs.div_euclid(60) == self.minute { self.used } else { 0 };
        let resets = (60 - secs.rem_euclid(60)) as u64;
        Budget { limit, remaining: limit.saturating_sub(used), resets }
    }
}

/// A ticket's update window opens with its first update and lasts ten minutes; the real
/// header's `resets` counts down from there rather than from a wall-clock boundary.
struct TicketWindow {
    start: i64,
    used: u32,
}

pub(super) struct Limits {
    account: MinuteCounter,
    export: MinuteCounter,
    pub export_limit: Option<u32>,
    tickets: HashMap<u64, TicketWindow>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            account: MinuteCounter::default(),
            export: MinuteCounter::default(),
            export_limit: Some(EXPORT_PER_MINUTE),
            tickets: HashMap::new(),
        }
    }
}

impl Limits {
    /// Count one authenticated request against the account budget.
    pub fn take_account(&mut self, now: DateTime<Utc>) -> Result<Budget, Budget> {
        self.account.take(now, ACCOUNT_PER_MINUTE)
    }

    /// The account budget without counting (for responses to unauthenticated requests).
    pub fn peek_account(&self, now: DateTime<Utc>) -> Budget {
        self.account.peek(now, ACCOUNT_PER_MINUTE)
    }

    /// Count one incremental-export call: the budget after it (`None` while the limit is
    /// lifted), or `Err` with the spent budget when over the limit.
    pub fn take_export(&mut self, now: DateTime<Utc>) -> Result<Option<Budget>, Budget> {
        match self.export_limit {
            None => Ok(None),
            Some(limit) => self.export.take(now, limit).map(Some),
        }
    }

    /// Count one update of ticket `id`.
    pub fn take_ticket_update(&mut self, id: u64, now: DateTime<Utc>) -> Result<Budget, Budget> {
        let secs = now.timestamp();
        let window = self.tickets.entry(id).or_insert(TicketWindow { start: secs, used: 0 });
        if secs >= window.start + TICKET_WINDOW_SECS {
            *window = TicketWindow { start: secs, used: 0 };
        }
        let resets = (window.start + TICKET_WINDOW_SECS - secs).max(1) as u64;
        if window.used >= TICKET_UPDATES {
            return Err(Budget { limit: TICKET_UPDATES, remaining: 0, resets });
        }
        window.used += 1;
        let remaining = TICKET_UPDATES - window.used;
        Ok(Budget { limit: TICKET_UPDATES, remaining, resets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn minute_budget_resets_at_the_next_clock_minute() {
        let mut limits = Limits { export_limit: Some(2), ..Limits::default() };
        assert!(limits.take_export(at(120)).is_ok());
        assert!(limits.take_export(at(130)).is_ok());
        assert_eq!(limits.take_export(at(170)), Err(Budget { limit: 2, remaining: 0, resets: 10 }));
        assert!(limits.take_export(at(180)).is_ok());
    }

    #[test]
    fn ticket_window_counts_thirty_updates_per_ten_minutes() {
        let mut limits = Limits::default();
        for _ in 0..TICKET_UPDATES {
            limits.take_ticket_update(7, at(1000)).unwrap();
        }
        let refused = limits.take_ticket_update(7, at(1100)).unwrap_err();
        assert_eq!(refused.resets, 500);
        assert!(limits.take_ticket_update(8, at(1100)).is_ok());
        assert!(limits.take_ticket_update(7, at(1600)).is_ok());
    }
}
