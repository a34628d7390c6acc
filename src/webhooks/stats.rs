//! Counters of the webhook receiver per source, for `status --json` and `/metrics`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Who sent a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Github,
    Zendesk,
}

impl Source {
    pub const ALL: [Source; 2] = [Source::Github, Source::Zendesk];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Github => "github",
            Source::Zendesk => "zendesk",
        }
    }

    /// The sender's name, as people write it.
    pub fn vendor(self) -> &'static str {
        match self {
            Source::Github => "GitHub",
            Source::Zendesk => "Zendesk",
        }
    }
}

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Missing, malformed or wrong signature (401).
    BadSignature,
    /// Zendesk timestamp unreadable or more than five minutes from now (401).
    StaleTimestamp,
    /// Body over the source's limit (413).
    TooLarge,
    /// Signed, but not JSON (400).
    BadJson,
    /// No secret is configured for the source (401).
    NoSecret,
}

impl Refusal {
    pub const ALL: [Refusal; 5] =
        [Refusal::BadSignature, Refusal::StaleTimestamp, Refusal::TooLarge, Refusal::BadJson, Refusal::NoSecret];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::BadSignature => "bad_signature",
            Refusal::StaleTimestamp => "stale_timestamp",
            Refusal::TooLarge => "too_large",
            Refusal::BadJson => "bad_json",
            Refusal::NoSecret => "no_secret",
        }
    }
}

/// One source's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceSnapshot {
    /// Every request to the source's path.
    pub received: u64,
    /// Refused deliveries by reason (every reason listed, zero included).
    pub refused: BTreeMap<&'static str, u64>,
    /// Valid (signed, fresh, JSON) deliveries.
    pub accepted: u64,
    /// Valid deliveries that named nothing to look at (other events, no ticket id).
    pub ignored: u64,
    /// Doorbells queued or joined to one already queued.
    pub rung: u64,
    /// Valid deliveries whose doorbell found the queue full (left to the next poll).
    pub dropped: u64,
    /// Doorbells the daemon acted on.
    pub acted: u64,
    /// When the last valid delivery arrived.
    pub last_delivery: Option<DateTime<Utc>>,
}

impl SourceSnapshot {
    fn empty() -> Self {
        SourceSnapshot { refused: Refusal::ALL.iter().map(|r| (r.as_str(), 0)).collect(), ..Default::default() }
    }
}

/// Every source's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookSnapshot {
    pub github: SourceSnapshot,
    pub zendesk: SourceSnapshot,
}

impl WebhookSnapshot {
    pub fn source(&self, source: Source) -> &SourceSnapshot {
        match source {
            Source::Github => &self.github,
            Source::Zendesk => &self.zendesk,
        }
    }
}

/// The receiver's counters, shared (`Arc`) between the receiver, the daemon and the reports.
pub struct WebhookStats {
    inner: Mutex<WebhookSnapshot>,
}

impl Default for WebhookStats {
    fn default() -> Self {
        Self::new()
    }
}

impl WebhookStats {
    pub fn new() -> Self {
        WebhookStats {
            inner: Mutex::new(WebhookSnapshot { github: SourceSnapshot::empty(), zendesk: SourceSnapshot::empty() }),
        }
    }

    pub fn snapshot(&self) -> WebhookSnapshot {
        self.lock().clone()
    }

    /// The daemon acted on a doorbell from `source`.
    pub fn acted(&self, source: Source) {
        self.with(source, |s| s.acted += 1);
    }

    pub(crate) fn received(&self, source: Source) {
        self.with(source, |s| s.received += 1);
    }

    pub(crate) fn refused(&self, source: Source, reason: Refusal) {
        self.with(source, |s| *s.refused.entry(reason.as_str()).or_default() += 1);
    }

    pub(crate) fn accepted(&self, source: Source, at: DateTime<Utc>) {
        self.with(source, |s| {
            s.accepted += 1;
            s.last_delivery = Some(at);
        });
    }

    pub(crate) fn ignored(&self, source: Source) {
        self.with(source, |s| s.ignored += 1);
    }

    pub(crate) fn rung(&self, source: Source) {
        self.with(source, |s| s.rung += 1);
    }

    pub(crate) fn dropped(&self, source: Source) {
        self.with(source, |s| s.dropped += 1);
    }

    fn with(&self, source: Source, f: impl FnOnce(&mut SourceSnapshot)) {
        let mut all = self.lock();
        f(match source {
            Source::Github => &mut all.github,
            Source::Zendesk => &mut all.zendesk,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WebhookSnapshot> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_lists_every_reason_and_serializes_by_source() {
        let stats = WebhookStats::new();
        stats.received(Source::Zendesk);
        stats.refused(Source::Zendesk, Refusal::StaleTimestamp);
        stats.acted(Source::Github);
        let snap = stats.snapshot();
        assert_eq!(snap.zendesk.refused["stale_timestamp"], 1);
        assert_eq!(snap.zendesk.refused.len(), 5);
        assert_eq!(snap.github.acted, 1);
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["zendesk"]["refused"]["no_secret"], 0);
        assert_eq!(json["github"]["last_delivery"], serde_json::Value::Null);
    }
}
