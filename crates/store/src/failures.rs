//! Failed items, one row per (ticket, stage): what failed, of which class, how often, when to
//! try again, and whether the item is parked. Each stage keeps its own snapshot, so a retry of
//! one stage never replays another stage's data.

use chrono::{DateTime, Utc};
use rusqlite::{params, Row};
use serde::Serialize;

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{Stage, Ticket, TicketId};
use ticket_sync_core::rules::RetryPolicy;

/// What kind of failure it was decides when it is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// A dropped connection, a timeout, a 5xx, a lost answer: retried soon.
    Transient,
    /// Refused by the rules or by a permission (public repository, unknown repository, no write
    /// access): tried again at once when the rules change, else after its back-off; never
    /// parked (fixing the cause is enough).
    Config,
    /// The item itself was refused (a validation error): back-off, then parked.
    Item,
    /// A limit on this one item (a ticket's update limit): tried again when the limit ends.
    Limited,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::Config => "config",
            FailureClass::Item => "item",
            FailureClass::Limited => "limited",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "transient" => FailureClass::Transient,
            "config" => FailureClass::Config,
            "limited" => FailureClass::Limited,
            _ => FailureClass::Item,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub ticket_id: TicketId,
    /// The stage as stored (`Stage::as_str`); kept as text, since early versions stored
    /// stages that no longer exist, and `status` shows them as they are.
    pub stage: String,
    pub class: FailureClass,
    pub error: String,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    /// Parked items are not retried until `ticket-sync retry TICKET_ID`.
    pub parked: bool,
    /// The configuration a `config` failure happened under (see `Engine::epoch`).
    #[serde(skip)]
    pub epoch: Option<String>,
    #[serde(skip)]
    pub ticket: Option<Ticket>,
}

impl Failure {
    /// Whether the item may be tried now: not parked, and its back-off is over or, for a
    /// configuration-dependent failure, the configuration has changed since.
    pub fn is_due(&self, now: DateTime<Utc>, epoch: &str) -> bool {
        let config_changed = self.class == FailureClass::Config && self.epoch.as_deref() != Some(epoch);
        !self.parked && (self.next_attempt_at <= now || config_changed)
    }
}

/// What one recorded failure says: the class, the text, and (for limits) when it ends.
pub struct NewFailure<'a> {
    pub stage: Stage,
    pub class: FailureClass,
    pub error: &'a str,
    pub epoch: &'a str,
    /// The earliest next attempt, when the failure says so (a limit's end).
    pub not_before: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "ticket_id, stage, class, epoch, error, attempts, first_failed_at, last_failed_at, next_attempt_at, parked, ticket";

fn from_row(r: &Row) -> rusqlite::Result<Failure> {
    Ok(Failure {
        ticket_id: TicketId(r.get::<_, i64>(0)? as u64),
        stage: r.get(1)?,
        class: FailureClass::parse(&r.get::<_, String>(2)?),
        epoch: r.get(3)?,
        error: r.get(4)?,
        attempts: r.get::<_, i64>(5)? as u32,
        first_failed_at: parse_ts(&r.get::<_, String>(6)?).unwrap_or_default(),
        last_failed_at: parse_ts(&r.get::<_, String>(7)?).unwrap_or_default(),
        next_attempt_at: parse_ts(&r.get::<_, String>(8)?).unwrap_or_default(),
        parked: r.get::<_, i64>(9)? != 0,
        ticket: r.get::<_, Option<String>>(10)?.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

/// Delay before the next automatic attempt: the first delay, doubled per failure, at most six hours.
pub fn backoff(attempts: u32, first_delay_secs: u64) -> chrono::Duration {
    let secs = (first_delay_secs as i64).saturating_mul(1i64 << attempts.saturating_sub(1).min(20));
    chrono::Duration::seconds(secs).min(chrono::Duration::hours(6))
}

impl Store {
    /// Records one more failed attempt of `ticket` at `f.stage`; parks the item when
    /// `max_attempts` is reached (a limit or a passing failure never parks: they end by
    /// themselves). Returns the stored failure.
    pub fn record_failure(
        &self,
        ticket: TicketId,
        f: &NewFailure,
        snapshot: Option<&Ticket>,
        policy: &RetryPolicy,
    ) -> Result<Failure> {
        let now = clock::now();
        let previous = self.failure_at(ticket, f.stage)?;
        let attempts = previous.as_ref().map_or(0, |p| p.attempts) + 1;
        let first = previous.as_ref().map_or(now, |p| p.first_failed_at);
        let snapshot = match snapshot {
            Some(t) => Some(serde_json::to_string(t).expect("tickets serialise")),
            None => (previous.as_ref().and_then(|p| p.ticket.as_ref()))
                .map(|t| serde_json::to_string(t).expect("tickets serialise")),
        };
        // Only the item's own refusals park: a passing failure, a limit, or a refusal by the
        // rules or a permission ends by itself (or with the configuration), never by `retry`.
        let parked = f.class == FailureClass::Item && attempts >= policy.max_attempts;
        let backed_off = now + backoff(attempts, policy.first_delay_secs);
        let mut next = match (f.class, f.not_before) {
            // A limit says exactly when it ends.
            (FailureClass::Limited, Some(end)) => end.max(now),
            // A first wait of this kind (a write settling) is what it asks for; later ones back
            // off as well, so a write that never gets an answer is not tried every minute.
            (_, Some(not_before)) if attempts == 1 => not_before.max(now),
            (_, Some(not_before)) => (now + backoff(attempts - 1, policy.first_delay_secs)).max(not_before),
            (_, None) => backed_off,
        };
        if let Some(p) = previous.as_ref().filter(|p| !p.parked) {
            // A later failure never brings an earlier wait forward (a settling write).
            next = next.max(p.next_attempt_at);
        }
        self.conn().execute(
            "INSERT OR REPLACE INTO failures (ticket_id, stage, class, epoch, error, attempts, first_failed_at, last_failed_at, next_attempt_at, parked, ticket)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![ticket.0 as i64, f.stage.as_str(), f.class.as_str(), f.epoch, f.error, attempts, ts(first), ts(now), ts(next), parked as i64, snapshot],
        )?;
        Ok(self.failure_at(ticket, f.stage)?.expect("failure was just written"))
    }

    /// The ticket's failure at one stage.
    pub fn failure_at(&self, ticket: TicketId, stage: Stage) -> Result<Option<Failure>> {
        let sql = format!("SELECT {COLUMNS} FROM failures WHERE ticket_id = ?1 AND stage = ?2");
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query_map(params![ticket.0 as i64, stage.as_str()], from_row)?;
        Ok(rows.next().transpose()?)
    }

    /// The ticket's failures, one per failing stage.
    pub fn failures_of(&self, ticket: TicketId) -> Result<Vec<Failure>> {
        let sql = format!("SELECT {COLUMNS} FROM failures WHERE ticket_id = ?1 ORDER BY stage");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([ticket.0 as i64], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn failures(&self) -> Result<Vec<Failure>> {
        let sql = format!("SELECT {COLUMNS} FROM failures ORDER BY ticket_id, stage");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Failures of `stage` that may be tried now (see `Failure::is_due`).
    pub fn due_failures(&self, stage: Stage, now: DateTime<Utc>, epoch: &str) -> Result<Vec<Failure>> {
        Ok(self.failures()?.into_iter().filter(|f| f.stage == stage.as_str() && f.is_due(now, epoch)).collect())
    }

    /// Whether the ticket's work at `stage` must wait: parked, or not yet due.
    pub fn held_back(&self, ticket: TicketId, stage: Stage, now: DateTime<Utc>, epoch: &str) -> Result<bool> {
        Ok(self.failure_at(ticket, stage)?.is_some_and(|f| !f.is_due(now, epoch)))
    }

    /// Clears the ticket's failure at `stage` (a success elsewhere leaves other stages alone).
    pub fn clear_failure_of(&self, ticket: TicketId, stage: Stage) -> Result<()> {
        self.conn().execute(
            "DELETE FROM failures WHERE ticket_id = ?1 AND stage = ?2",
            params![ticket.0 as i64, stage.as_str()],
        )?;
        Ok(())
    }

    /// Un-parks every failing stage of the ticket and makes it due at once. Returns false when
    /// there was no such failure.
    pub fn retry_now(&self, ticket: TicketId) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE failures SET parked = 0, attempts = 0, next_attempt_at = ?2 WHERE ticket_id = ?1",
            params![ticket.0 as i64, ts(clock::now())],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure<'a>(class: FailureClass, not_before: Option<DateTime<Utc>>) -> NewFailure<'a> {
        NewFailure { stage: Stage::Escalate, class, error: "e", epoch: "rules-1", not_before }
    }

    #[test]
    fn each_class_waits_as_it_should_and_only_item_failures_park() {
        let store = Store::open_in_memory().unwrap();
        let policy = RetryPolicy { max_attempts: 2, first_delay_secs: 60 };
        let id = TicketId(1);
        let soon = Utc::now() + chrono::Duration::seconds(5);
        let first = store.record_failure(id, &failure(FailureClass::Transient, Some(soon)), None, &policy).unwrap();
        assert_eq!(first.next_attempt_at.timestamp(), soon.timestamp(), "a first settle waits what it asks");
        let second = store.record_failure(id, &failure(FailureClass::Transient, Some(soon)), None, &policy).unwrap();
        assert!(second.next_attempt_at > Utc::now() + chrono::Duration::seconds(50), "then it backs off");
        assert!(!second.parked, "passing failures never park");

        let limit_end = Utc::now() + chrono::Duration::seconds(500);
        let limited =
            store.record_failure(TicketId(2), &failure(FailureClass::Limited, Some(limit_end)), None, &policy).unwrap();
        assert_eq!(limited.next_attempt_at.timestamp(), limit_end.timestamp());

        for _ in 0..3 {
            store.record_failure(TicketId(3), &failure(FailureClass::Config, None), None, &policy).unwrap();
        }
        let config = store.failure_at(TicketId(3), Stage::Escalate).unwrap().unwrap();
        assert!(!config.parked && config.is_due(Utc::now(), "rules-2"), "a rules change makes it due at once");
        assert!(!config.is_due(Utc::now(), "rules-1"));

        store.record_failure(TicketId(4), &failure(FailureClass::Item, None), None, &policy).unwrap();
        let item = store.record_failure(TicketId(4), &failure(FailureClass::Item, None), None, &policy).unwrap();
        assert!(item.parked);
    }
}
