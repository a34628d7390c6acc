//! Rate-limit gates and retry timing, one gate per service. Pure timing decisions, tested
//! with plain tables; `http::execute` applies them around every request.
//!
//! Rules (see FACTS.md): after a 429/403 limit answer wait `retry-after`; else until the
//! reported reset; else at least a minute, doubling with each limit answer in a row. When the
//! reported budget runs low, spread the remaining requests over the time to the reset instead
//! of spending them and then stalling.

use std::time::Duration;

use tokio::time::Instant;

/// Below this many requests left, requests are spaced out until the reset.
pub const LOW_WATER: u64 = 50;
/// A limit answer with no hint waits this long, doubled for each one in a row.
const MIN_LIMIT_WAIT: Duration = Duration::from_secs(60);
const MAX_LIMIT_WAIT: Duration = Duration::from_secs(30 * 60);
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(8);

/// What one service's gate knows.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    blocked_until: Option<Instant>,
    limited_streak: u32,
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

    /// Records the budget a successful (or at least not limited) answer reported.
    pub fn observe(&mut self, remaining: Option<u64>, reset_in: Option<Duration>, now: Instant) {
        self.limited_streak = 0;
        if remaining.is_some() {
            self.remaining = remaining;
            self.reset_at = reset_in.map(|d| now + d);
        }
    }

    /// Records a limit answer; returns how long the service is now blocked.
    pub fn limited(&mut self, retry_after: Option<Duration>, reset_in: Option<Duration>, now: Instant) -> Duration {
        let fallback = MIN_LIMIT_WAIT.saturating_mul(1 << self.limited_streak.min(5)).min(MAX_LIMIT_WAIT);
        let wait = retry_after.or(reset_in.filter(|d| !d.is_zero())).unwrap_or(fallback);
        self.limited_streak += 1;
        self.blocked_until = Some(now + wait);
        self.remaining = Some(0).filter(|_| retry_after.is_none() && reset_in.is_some());
        wait
    }
}

/// The pause before an item is tried again within the same pass: 100 ms, doubling, with up to
/// as much again of jitter (`jitter` in 0..1), so a flapping server is not hit in lock step.
pub fn in_pass_delay(round: u32, jitter: f64) -> Duration {
    let base = Duration::from_millis(100).saturating_mul(1 << round.min(4));
    base + base.mul_f64(jitter.clamp(0.0, 1.0))
}

/// At most `limit` requests in any rolling `period`: for limits a service enforces without
/// telling (Zendesk's export: 10 a minute; GitHub's content creation: 500 an hour).
#[derive(Debug)]
pub struct RollingWindow {
    limit: u32,
    period: Duration,
    sent: std::sync::Mutex<std::collections::VecDeque<Instant>>,
}

impl RollingWindow {
    pub fn new(limit: u32, period: Duration) -> Self {
        RollingWindow { limit: limit.max(1), period, sent: Default::default() }
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
            if (sent.len() as u32) < self.limit {
                sent.push_back(now);
                return Ok(());
            }
            (sent[0] + self.period) - now
        };
        if wait > max_wait {
            return Err(wait);
        }
        tokio::time::sleep(wait).await;
        self.sent.lock().unwrap().push_back(Instant::now());
        Ok(())
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
        let waits: Vec<_> = (0..4).map(|_| g.limited(None, None, now).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480]);
        g.observe(Some(4000), Some(s(100)), now);
        assert_eq!(g.limited(None, None, now), s(60), "a success resets the streak");
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
}
