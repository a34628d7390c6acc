//! Rate-limit timing, pure and tested with plain tables: what a limit applies to (`Scope`),
//! when it may be used again (`Gate`), the paces a service enforces without telling
//! (`RollingWindow`, `Spacer`), retry back-off, and how long one call may take (`CallBudget`).
//!
//! Rules (see FACTS.md): after a 429/403 limit answer wait `retry-after`; else, when the
//! budget is spent, until the reported reset; else at least a minute, doubling while the
//! limit answers keep coming (GitHub's secondary limits; never the reset of a budget that is
//! not spent, which may be an hour away and says nothing about this limit). When the
//! reported budget runs low, spread the remaining requests over the time to the reset instead
//! of spending them and then stalling; a spent budget blocks until its reset. No wait is longer
//! than `MAX_WAIT`: a header asking for more is wrong, and one such answer must not silence a
//! service for the life of the process.
//!
//! FACTS (docs.github.com, "Rate limits for the REST API" → "Exceeding the rate limit" and
//! "Handle rate limit errors appropriately"; FACTS.md "Secondary limits"; the docs' text as
//! quoted in JuliaWeb/GitHub.jl#231): a secondary limit answers 403 or 429; with
//! `retry-after`, wait that long; else if `x-ratelimit-remaining` is 0, until
//! `x-ratelimit-reset`; "Otherwise, wait for at least one minute before retrying. If your
//! request continues to fail due to a secondary rate limit, wait for an exponentially
//! increasing amount of time between retries". `x-ratelimit-remaining` may be above 0 then.
//! ASSUMED: "continues to fail" is a limit answer within as long again as the last wait after
//! it ended; the doubling stops at half an hour (the docs give no cap); the streak lives in
//! the process (`ApiStats`), a new process starts again at a minute. Searched GitHub's docs
//! ("Troubleshooting the REST API" says the same words), octokit/plugin-throttling (a 60 s
//! fallback, the back-off left to the caller) and go-github (no retry): none defines either.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Below this many requests left, requests are spaced out until the reset.
pub const LOW_WATER: u64 = 50;
/// The longest any rate-limit wait lasts, whatever a header says.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// A limit answer with no hint waits this long, doubled for each one in a row.
const MIN_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Where the doubling stops (60 s, 2, 4, 8, 16, 30 min): well inside `MAX_WAIT`.
const MAX_LIMIT_WAIT: Duration = Duration::from_secs(30 * 60);
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(8);

/// `wait` cut to `MAX_WAIT`.
pub fn capped(wait: Duration) -> Duration {
    wait.min(MAX_WAIT)
}

/// What one scope's gate knows.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    blocked_until: Option<Instant>,
    /// Limit answers in a row: each came before the one before it was `streak_until`.
    limited_streak: u32,
    /// A limit answer before this moment (the last wait's end plus as long again) means the
    /// limit "continues to fail" and the next unhinted wait doubles; a later one starts again
    /// at a minute. Successful answers in between (reads while writes are refused) do not
    /// break the streak: only a calm as long as the last wait does.
    streak_until: Option<Instant>,
    remaining: Option<u64>,
    reset_at: Option<Instant>,
}

impl Gate {
    /// How long to wait before the next request may be sent.
    pub fn wait_before(&self, now: Instant) -> Duration {
        if let Some(until) = self.blocked_until.filter(|u| *u > now) {
            return until - now;
        }
        match (self.remaining, self.reset_at) {
            (Some(left), Some(reset)) if left < LOW_WATER && reset > now => (reset - now) / (left as u32 + 1),
            _ => Duration::ZERO,
        }
    }

    /// Records the budget a successful (or at least not limited) answer reported. A spent
    /// budget blocks until its reset; returns that block's length.
    pub fn observe(&mut self, remaining: Option<u64>, reset_in: Option<Duration>, now: Instant) -> Option<Duration> {
        let left = remaining?;
        let reset_in = reset_in.map(capped);
        self.remaining = Some(left);
        self.reset_at = reset_in.map(|d| now + d);
        let spent = reset_in.filter(|d| left == 0 && !d.is_zero())?;
        self.block(spent, now);
        Some(spent)
    }

    /// Records a limit answer; returns how long the scope is now blocked (at most `MAX_WAIT`):
    /// `retry_after`, else `reset_in` (the caller gives it only for a spent budget), else a
    /// minute doubled for each limit answer in a row, up to `MAX_LIMIT_WAIT`.
    pub fn limited(&mut self, retry_after: Option<Duration>, reset_in: Option<Duration>, now: Instant) -> Duration {
        if self.streak_until.is_none_or(|until| now >= until) {
            self.limited_streak = 0;
        }
        let fallback = MIN_LIMIT_WAIT.saturating_mul(1 << self.limited_streak.min(5)).min(MAX_LIMIT_WAIT);
        let wait = capped(retry_after.or(reset_in.filter(|d| !d.is_zero())).unwrap_or(fallback));
        self.limited_streak += 1;
        self.streak_until = Some(now + wait * 2);
        self.blocked_until = Some(now + wait);
        self.remaining = Some(0).filter(|_| retry_after.is_none() && reset_in.is_some());
        wait
    }

    /// Blocks for `wait` (at most `MAX_WAIT`) unless a longer block is in force.
    pub fn block(&mut self, wait: Duration, now: Instant) {
        let until = now + capped(wait);
        self.blocked_until = Some(self.blocked_until.map_or(until, |u| u.max(until)));
    }

    /// The budget left at the last answer, unless its reset has come since.
    pub fn remaining_at(&self, now: Instant) -> Option<u64> {
        self.remaining.filter(|_| self.reset_at.is_none_or(|r| r > now))
    }

    /// Whether the gate holds nothing back any more (it can be forgotten).
    pub fn is_open(&self, now: Instant) -> bool {
        self.blocked_until.is_none_or(|u| u <= now) && self.reset_at.is_none_or(|r| r <= now)
    }
}

/// At most `limit` requests in any rolling `period`: for limits a service enforces without
/// telling (Zendesk's export: 10 a minute; GitHub's content creation: 500 an hour). The limit
/// can change (a reloaded rules file) without forgetting what was sent.
#[derive(Debug)]
pub struct RollingWindow {
    limit: AtomicU32,
    period: Duration,
    sent: Mutex<std::collections::VecDeque<Instant>>,
}

impl RollingWindow {
    pub fn new(limit: u32, period: Duration) -> Self {
        RollingWindow { limit: AtomicU32::new(limit.max(1)), period, sent: Default::default() }
    }

    pub fn set_limit(&self, limit: u32) {
        self.limit.store(limit.max(1), Ordering::Relaxed);
    }

    /// Takes a slot, waiting for one if the wait is at most `max_wait`; otherwise returns the
    /// wait, so the caller can stop its pass instead of holding it.
    pub async fn acquire(&self, max_wait: Duration) -> Result<(), Duration> {
        let wait = {
            let mut sent = self.sent.lock().unwrap();
            let now = Instant::now();
            while sent.front().is_some_and(|t| now.duration_since(*t) >= self.period) {
                sent.pop_front();
            }
            let limit = self.limit.load(Ordering::Relaxed) as usize;
            if sent.len() < limit {
                sent.push_back(now);
                return Ok(());
            }
            // With a lowered limit, a slot frees when all but `limit - 1` have aged out.
            (sent[sent.len() - limit] + self.period) - now
        };
        if wait > max_wait {
            return Err(wait);
        }
        tokio::time::sleep(wait).await;
        self.sent.lock().unwrap().push_back(Instant::now());
        Ok(())
    }
}

/// At least `interval` between two requests: a per-minute pace spread evenly. The interval can
/// change without forgetting when the last request went.
#[derive(Debug)]
pub struct Spacer {
    interval: Mutex<Duration>,
    next: tokio::sync::Mutex<Option<Instant>>,
}

impl Spacer {
    pub fn new(interval: Duration) -> Self {
        Spacer { interval: Mutex::new(interval), next: tokio::sync::Mutex::new(None) }
    }

    pub fn set_interval(&self, interval: Duration) {
        *self.interval.lock().unwrap() = interval;
    }

    /// Waits for the request's turn if that is at most `max_wait`; otherwise returns the wait.
    pub async fn acquire(&self, max_wait: Duration) -> Result<(), Duration> {
        let mut next = self.next.lock().await;
        let wait = next.map_or(Duration::ZERO, |n| n.saturating_duration_since(Instant::now()));
        if wait > max_wait {
            return Err(wait);
        }
        tokio::time::sleep(wait).await;
        *next = Some(Instant::now() + *self.interval.lock().unwrap());
        Ok(())
    }
}

/// How long one call may still take. Its attempts and waits together end by `deadline`, and
/// its waits (limit gates, retry back-off) add up to at most `wait_left`, so no call holds a
/// pass longer than the caller allows, whatever the other side does.
#[derive(Debug, Clone, Copy)]
pub struct CallBudget {
    deadline: Instant,
    wait_left: Duration,
}

impl CallBudget {
    pub fn new(total: Duration, max_wait: Duration, now: Instant) -> Self {
        CallBudget { deadline: now + total, wait_left: max_wait }
    }

    /// Whether a wait of `wait` fits, leaving time for an attempt after it.
    pub fn fits(&self, wait: Duration, now: Instant) -> bool {
        wait <= self.wait_left && now + wait < self.deadline
    }

    /// Whether a wait of `wait` fits; if so it is counted.
    pub fn take_wait(&mut self, wait: Duration, now: Instant) -> bool {
        let fits = self.fits(wait, now);
        if fits {
            self.wait_left -= wait;
        }
        fits
    }

    /// Time left for the next attempt.
    pub fn left(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }
}

/// Capped exponential back-off with jitter for retry number `attempt` (0-based); `jitter` in [0, 1).
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let base = RETRY_BASE.saturating_mul(1 << attempt.min(10)).min(RETRY_CAP);
    // Full jitter between half and all of the delay keeps concurrent clients apart.
    base.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticket_sync_core::domain::TicketId;
    use ticket_sync_core::domain::{Endpoint, Scope};

    #[tokio::test(start_paused = true)]
    async fn a_rolling_window_paces_to_its_limit() {
        let window = RollingWindow::new(10, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..10 {
            window.acquire(Duration::from_secs(20)).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "ten requests go at once");
        assert_eq!(
            window.acquire(Duration::from_secs(20)).await,
            Err(Duration::from_secs(60)),
            "too long to wait inline"
        );
        tokio::time::advance(Duration::from_secs(45)).await;
        window.acquire(Duration::from_secs(20)).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(60), "it waited for the oldest to age out");
    }

    #[test]
    fn limit_answers_wait_for_retry_after_then_reset_then_a_doubling_minute() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let cases = [(Some(s(7)), Some(s(900)), s(7)), (None, Some(s(900)), s(900)), (None, None, s(60))];
        for (retry_after, reset, want) in cases {
            let mut g = Gate::default();
            assert_eq!(g.limited(retry_after, reset, now), want);
            assert_eq!(g.wait_before(now), want);
            assert_eq!(g.wait_before(now + want), Duration::ZERO);
        }
        let mut g = Gate::default();
        let mut at = now;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let wait = g.limited(None, None, at);
            waits.push(wait.as_secs());
            // Sent again when the block ends (a read went through meanwhile), limited again.
            g.observe(Some(4000), Some(s(3000)), at + wait / 2);
            at += wait;
        }
        assert_eq!(waits, [60, 120, 240, 480, 960, 1800, 1800, 1800], "doubling, capped at half an hour");
        let calm = at + s(1800);
        assert_eq!(g.limited(None, None, calm), s(60), "a calm as long as the last wait starts over");
        assert_eq!(g.limited(Some(s(5)), None, calm + s(5)), s(5), "retry-after is obeyed as sent");
        assert_eq!(g.limited(None, None, calm + s(10)), s(240), "…and counts in the streak");
    }

    #[test]
    fn a_low_budget_is_spread_until_the_reset() {
        let now = Instant::now();
        let mut g = Gate::default();
        g.observe(Some(4000), Some(Duration::from_secs(600)), now);
        assert_eq!(g.wait_before(now), Duration::ZERO);
        g.observe(Some(9), Some(Duration::from_secs(600)), now);
        assert_eq!(g.wait_before(now), Duration::from_secs(60));
        assert_eq!(g.wait_before(now + Duration::from_secs(601)), Duration::ZERO, "after the reset");
    }

    #[test]
    fn retry_delays_grow_and_stay_capped() {
        assert_eq!(retry_delay(0, 1.0), Duration::from_millis(250));
        assert_eq!(retry_delay(0, 0.0), Duration::from_millis(125));
        assert_eq!(retry_delay(2, 1.0), Duration::from_secs(1));
        assert_eq!(retry_delay(30, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn no_wait_is_longer_than_an_hour() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let mut g = Gate::default();
        assert_eq!(g.limited(Some(Duration::MAX), None, now), MAX_WAIT);
        assert_eq!(g.limited(None, Some(Duration::MAX), now), MAX_WAIT);
        assert_eq!(g.wait_before(now), MAX_WAIT);
        let mut g = Gate::default();
        assert_eq!(g.observe(Some(0), Some(s(75 * 365 * 86_400)), now), Some(MAX_WAIT), "a reset in 2100");
        assert_eq!(g.wait_before(now), MAX_WAIT);
        assert_eq!(g.wait_before(now + MAX_WAIT), Duration::ZERO);
        g.block(Duration::MAX, now);
        assert_eq!(g.wait_before(now), MAX_WAIT);
    }

    #[test]
    fn a_spent_budget_blocks_until_its_reset_and_a_block_is_never_shortened() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let mut g = Gate::default();
        assert_eq!(g.observe(Some(0), Some(s(30)), now), Some(s(30)));
        assert!(!g.is_open(now));
        g.block(s(10), now);
        assert_eq!(g.wait_before(now), s(30), "the longer block stays");
        assert_eq!(g.observe(Some(5), Some(s(30)), now), None, "a budget left is no block");
        assert!(g.is_open(now + s(31)));
    }

    #[test]
    fn scopes_round_trip_through_their_keys() {
        for scope in [Scope::Service, Scope::Endpoint(Endpoint::IncrementalExports), Scope::Ticket(TicketId(42))] {
            assert_eq!(Scope::from_key(&scope.key()), Some(scope.clone()), "{scope}");
        }
        assert_eq!(Scope::from_key("ticket:x"), None);
        assert_eq!(Scope::from_key("endpoint:"), None);
        assert!(Scope::Ticket(TicketId(1)).is_ticket() && !Scope::Service.is_ticket());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lowered_window_limit_counts_what_was_already_sent() {
        let window = RollingWindow::new(3, Duration::from_secs(3600));
        for _ in 0..2 {
            window.acquire(Duration::ZERO).await.unwrap();
        }
        window.set_limit(2);
        assert!(window.acquire(Duration::ZERO).await.is_err(), "two of two already sent");
        window.set_limit(3);
        window.acquire(Duration::ZERO).await.unwrap();
        assert!(window.acquire(Duration::ZERO).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_spacer_refuses_a_turn_further_off_than_allowed() {
        let spacer = Spacer::new(Duration::from_secs(30));
        spacer.acquire(Duration::from_secs(20)).await.unwrap();
        assert_eq!(spacer.acquire(Duration::from_secs(20)).await, Err(Duration::from_secs(30)));
        spacer.set_interval(Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(15)).await;
        spacer.acquire(Duration::from_secs(20)).await.unwrap();
        let start = Instant::now();
        spacer.acquire(Duration::from_secs(20)).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(1), "the new interval applies");
    }

    #[test]
    fn a_call_budget_bounds_waits_and_the_whole_call() {
        let now = Instant::now();
        let s = Duration::from_secs;
        let mut b = CallBudget::new(s(45), s(20), now);
        assert!(b.take_wait(s(15), now));
        assert!(!b.take_wait(s(6), now + s(15)), "waits add up to 20 s at most");
        assert!(b.take_wait(s(5), now + s(15)));
        assert!(!b.take_wait(Duration::ZERO, now + s(45)), "nothing fits after the deadline");
        assert_eq!(b.left(now + s(40)), s(5));
        assert_eq!(b.left(now + s(50)), Duration::ZERO);
        let mut b = CallBudget::new(s(10), s(20), now);
        assert!(!b.take_wait(s(10), now), "no wait that leaves no time for the attempt");
    }
}
