//! systemd notifications (`Type=notify`): READY, STATUS, RELOADING, STOPPING and watchdog pings.
//!
//! Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op. Watchdog pings are sent at
//! most every half `WATCHDOG_USEC`, from wherever the scheduler makes progress: the idle loop
//! and between items of a pass. A loop that stops making progress stops pinging, and systemd
//! restarts the service.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::debug;

#[derive(Debug)]
pub struct Notifier {
    enabled: bool,
    /// Half the watchdog interval, when the watchdog is on.
    ping_every: Option<Duration>,
    last_ping: Mutex<Option<Instant>>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the environment.
    pub fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let ping_every = if enabled { sd_notify::watchdog_enabled().map(|d| d / 2) } else { None };
        Notifier { enabled, ping_every, last_ping: Mutex::new(None) }
    }

    /// A notifier that never sends (tests, demo).
    pub fn disabled() -> Notifier {
        Notifier { enabled: false, ping_every: None, last_ping: Mutex::new(None) }
    }

    /// How long the scheduler may sleep before it must ping again.
    pub fn max_sleep(&self) -> Option<Duration> {
        self.ping_every
    }

    fn send(&self, states: &[NotifyState]) {
        if self.enabled {
            if let Err(e) = sd_notify::notify(states) {
                debug!(error = %e, "sd_notify failed");
            }
        }
    }

    pub fn ready(&self) {
        self.send(&[NotifyState::Ready]);
    }

    pub fn status(&self, text: &str) {
        self.send(&[NotifyState::Status(text)]);
    }

    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    /// Pings the watchdog if half its interval has passed since the last ping.
    pub fn watchdog(&self) {
        let Some(every) = self.ping_every else { return };
        let mut last = self.last_ping.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= every) {
            *last = Some(Instant::now());
            self.send(&[NotifyState::Watchdog]);
        }
    }
}
