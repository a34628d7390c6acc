//! Failed items: what failed, how often, when to try again, and whether the item is parked.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::{parse_ts, ts, Result, Store};
use crate::config::RetryPolicy;
use crate::domain::{Ticket, TicketId};

#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub ticket_id: TicketId,
    pub stage: String,
    pub error: String,
    pub attempts: u32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    /// Parked items are not retried until `ticket-sync retry TICKET_ID`.
    pub parked: bool,
    #[serde(skip)]
    pub ticket: Option<Ticket>,
}

const COLUMNS: &str =
    "ticket_id, stage, error, attempts, first_failed_at, last_failed_at, next_attempt_at, parked, ticket";

fn from_row(r: &Row) -> rusqlite::Result<Failure> {
    Ok(Failure {
        ticket_id: TicketId(r.get::<_, i64>(0)? as u64),
        stage: r.get(1)?,
        error: r.get(2)?,
        attempts: r.get::<_, i64>(3)? as u32,
        first_failed_at: parse_ts(&r.get::<_, String>(4)?).unwrap_or_default(),
        last_failed_at: parse_ts(&r.get::<_, String>(5)?).unwrap_or_default(),
        next_attempt_at: parse_ts(&r.get::<_, String>(6)?).unwrap_or_default(),
        parked: r.get::<_, i64>(7)? != 0,
        ticket: r.get::<_, Option<String>>(8)?.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

/// Delay before the next automatic attempt: the first delay, doubled per failure, at most six hours.
pub fn backoff(attempts: u32, first_delay_secs: u64) -> chrono::Duration {
    let secs = (first_delay_secs as i64).saturating_mul(1i64 << attempts.saturating_sub(1).min(20));
    chrono::Duration::seconds(secs).min(chrono::Duration::hours(6))
}

impl Store {
    /// Records one more failed attempt; parks the item when `max_attempts` is reached.
    /// Returns the stored failure.
    pub fn record_failure(
        &self,
        ticket: TicketId,
        stage: &str,
        error: &str,
        snapshot: Option<&Ticket>,
        policy: &RetryPolicy,
    ) -> Result<Failure> {
        let now = Utc::now();
        let previous = self.failure(ticket)?;
        let attempts = previous.as_ref().map_or(0, |f| f.attempts) + 1;
        let first = previous.as_ref().map_or(now, |f| f.first_failed_at);
        let snapshot = match snapshot {
            Some(t) => Some(serde_json::to_string(t).expect("tickets serialise")),
            None => previous.and_then(|f| f.ticket).map(|t| serde_json::to_string(&t).expect("tickets serialise")),
        };
        let parked = attempts >= policy.max_attempts;
        self.conn().execute(
            "INSERT OR REPLACE INTO failures (ticket_id, stage, error, attempts, first_failed_at, last_failed_at, next_attempt_at, parked, ticket)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![ticket.0 as i64, stage, error, attempts, ts(first), ts(now), ts(now + backoff(attempts, policy.first_delay_secs)), parked as i64, snapshot],
        )?;
        Ok(self.failure(ticket)?.expect("failure was just written"))
    }

    pub fn failure(&self, ticket: TicketId) -> Result<Option<Failure>> {
        let sql = format!("SELECT {COLUMNS} FROM failures WHERE ticket_id = ?1");
        Ok(self.conn().query_row(&sql, [ticket.0 as i64], from_row).optional()?)
    }

    pub fn failures(&self) -> Result<Vec<Failure>> {
        let sql = format!("SELECT {COLUMNS} FROM failures ORDER BY ticket_id");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Failures whose next attempt is due and that are not parked.
    pub fn due_failures(&self, now: DateTime<Utc>) -> Result<Vec<Failure>> {
        Ok(self.failures()?.into_iter().filter(|f| !f.parked && f.next_attempt_at <= now).collect())
    }

    /// Whether a failed item must wait: parked, or its next attempt not yet due.
    pub fn held_back(&self, ticket: TicketId, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.failure(ticket)?.is_some_and(|f| f.parked || f.next_attempt_at > now))
    }

    /// Clears the ticket's failure if `stage` recorded it (a success elsewhere leaves it alone).
    pub fn clear_failure_of(&self, ticket: TicketId, stage: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM failures WHERE ticket_id = ?1 AND stage = ?2", params![ticket.0 as i64, stage])?;
        Ok(())
    }

    pub fn clear_failure(&self, ticket: TicketId) -> Result<()> {
        self.conn().execute("DELETE FROM failures WHERE ticket_id = ?1", [ticket.0 as i64])?;
        Ok(())
    }

    /// Un-parks an item and makes it due at once. Returns false when there was no such failure.
    pub fn retry_now(&self, ticket: TicketId) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE failures SET parked = 0, attempts = 0, next_attempt_at = ?2 WHERE ticket_id = ?1",
            params![ticket.0 as i64, ts(Utc::now())],
        )?;
        Ok(n > 0)
    }
}
