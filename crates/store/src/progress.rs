//! Progress records: export cursors, repository checks, pass records, the ledger and budgets.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use ticket_sync_core::clock;
use ticket_sync_core::domain::{PassKind, PassOutcome};

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::domain::RateBudget;
use ticket_sync_core::domain::{RepoName, TicketId};

#[derive(Debug, Clone, Serialize)]
pub struct RepoRecord {
    pub repo: String,
    pub repo_id: Option<u64>,
    pub visibility: String,
    pub has_issues: bool,
    pub checked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PassRecord {
    pub kind: PassKind,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `None` before the first end, or for an outcome this release does not know (a newer one's).
    pub outcome: Option<PassOutcome>,
    pub summary: Option<serde_json::Value>,
    /// When a pass of this kind last finished without failing.
    pub last_success_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub side: String,
    pub remote_id: Option<String>,
    pub detail: Option<String>,
}

impl Store {
    pub fn cursor(&self, name: &str) -> Result<Option<String>> {
        Ok(self.conn().query_row("SELECT value FROM cursors WHERE name = ?1", [name], |r| r.get(0)).optional()?)
    }

    pub fn set_cursor(&self, name: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO cursors (name, value, updated_at) VALUES (?1, ?2, ?3)",
            params![name, value, ts(clock::now())],
        )?;
        Ok(())
    }

    pub fn cursors(&self) -> Result<Vec<(String, String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, value, updated_at FROM cursors ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn repo_record(&self, repo: &RepoName) -> Result<Option<RepoRecord>> {
        let row = self
            .conn()
            .query_row(
                "SELECT repo, repo_id, visibility, has_issues, checked_at FROM repos WHERE repo = ?1",
                [repo.to_string()],
                |r| {
                    Ok(RepoRecord {
                        repo: r.get(0)?,
                        repo_id: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                        visibility: r.get(2)?,
                        has_issues: r.get::<_, i64>(3)? != 0,
                        checked_at: parse_ts(&r.get::<_, String>(4)?).unwrap_or_default(),
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    pub fn save_repo_record(&self, repo: &RepoName, repo_id: u64, visibility: &str, has_issues: bool) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO repos (repo, repo_id, visibility, has_issues, checked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![repo.to_string(), repo_id as i64, visibility, has_issues as i64, ts(clock::now())],
        )?;
        Ok(())
    }

    pub fn repo_records(&self) -> Result<Vec<RepoRecord>> {
        let names: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT repo FROM repos ORDER BY repo")?;
            let rows = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            rows
        };
        let mut out = Vec::new();
        for n in names {
            if let Ok(repo) = n.parse() {
                out.extend(self.repo_record(&repo)?);
            }
        }
        Ok(out)
    }

    pub fn pass_started(&self, kind: PassKind, at: DateTime<Utc>) -> Result<()> {
        self.conn().execute(
            "INSERT INTO passes (kind, started_at) VALUES (?1, ?2)
             ON CONFLICT (kind) DO UPDATE SET started_at = excluded.started_at",
            params![kind.as_str(), ts(at)],
        )?;
        Ok(())
    }

    pub fn pass_finished(&self, kind: PassKind, outcome: PassOutcome, summary: &serde_json::Value) -> Result<()> {
        self.conn().execute(
            "UPDATE passes SET finished_at = ?2, outcome = ?3, summary = ?4,
                 last_success_at = CASE WHEN ?3 = ?5 THEN last_success_at ELSE ?2 END
             WHERE kind = ?1",
            params![
                kind.as_str(),
                ts(clock::now()),
                outcome.as_str(),
                summary.to_string(),
                PassOutcome::Failed.as_str()
            ],
        )?;
        Ok(())
    }

    /// The last pass of each kind; a row of a kind no release of ticket-sync writes is left out.
    pub fn passes(&self) -> Result<Vec<PassRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT kind, started_at, finished_at, outcome, summary, last_success_at FROM passes ORDER BY kind",
        )?;
        let rows: Vec<Option<PassRecord>> = stmt
            .query_map([], |r| {
                let Some(kind) = PassKind::from_name(&r.get::<_, String>(0)?) else { return Ok(None) };
                Ok(Some(PassRecord {
                    kind,
                    started_at: parse_ts(&r.get::<_, String>(1)?).unwrap_or_default(),
                    finished_at: r.get::<_, Option<String>>(2)?.and_then(|s| parse_ts(&s)),
                    outcome: r.get::<_, Option<String>>(3)?.as_deref().and_then(PassOutcome::from_name),
                    summary: r.get::<_, Option<String>>(4)?.and_then(|s| serde_json::from_str(&s).ok()),
                    last_success_at: r.get::<_, Option<String>>(5)?.and_then(|s| parse_ts(&s)),
                }))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().flatten().collect())
    }

    pub fn ledger(&self, ticket: TicketId) -> Result<Vec<LedgerEntry>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT at, event, side, remote_id, detail FROM ledger WHERE ticket_id = ?1 ORDER BY id")?;
        let rows = stmt
            .query_map([ticket.0 as i64], |r| {
                Ok(LedgerEntry {
                    at: parse_ts(&r.get::<_, String>(0)?).unwrap_or_default(),
                    event: r.get(1)?,
                    side: r.get(2)?,
                    remote_id: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn save_budget(&self, service: &str, b: &RateBudget) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO budgets (service, lim, remaining, reset_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                service,
                b.limit.map(|v| v as i64),
                b.remaining.map(|v| v as i64),
                b.reset_at.map(ts),
                ts(clock::now())
            ],
        )?;
        Ok(())
    }

    pub fn budgets(&self) -> Result<Vec<(String, RateBudget)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT service, lim, remaining, reset_at FROM budgets ORDER BY service")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    RateBudget {
                        limit: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                        remaining: r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                        reset_at: r.get::<_, Option<String>>(3)?.and_then(|s| parse_ts(&s)),
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pass's outcome is stored by its name (what `status --json` and older releases read);
    /// a failed pass leaves the last success where it was; a name this release does not know
    /// (a newer one's) reads as no outcome, never as an error.
    #[test]
    fn pass_outcomes_are_stored_by_name_and_an_unknown_one_reads_as_none() {
        let store = Store::open_in_memory().unwrap();
        let stored = |kind: PassKind| -> (Option<String>, Option<String>) {
            store
                .conn()
                .query_row("SELECT outcome, last_success_at FROM passes WHERE kind = ?1", [kind.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap()
        };
        let summary = serde_json::json!({});
        for (kind, outcome) in [
            (PassKind::Escalate, PassOutcome::Ok),
            (PassKind::Push, PassOutcome::Partial),
            (PassKind::Audit, PassOutcome::Failed),
        ] {
            store.pass_started(kind, Utc::now()).unwrap();
            store.pass_finished(kind, outcome, &summary).unwrap();
            assert_eq!(stored(kind).0.as_deref(), Some(outcome.as_str()));
        }
        assert!(stored(PassKind::Push).1.is_some(), "a partial pass is a success");
        assert!(stored(PassKind::Audit).1.is_none(), "a failed pass is not");
        store.pass_finished(PassKind::Escalate, PassOutcome::Failed, &summary).unwrap();
        assert!(stored(PassKind::Escalate).1.is_some(), "the last success stays");
        store.conn().execute("UPDATE passes SET outcome = 'cancelled' WHERE kind = 'audit'", []).unwrap();
        store
            .conn()
            .execute("INSERT INTO passes (kind, started_at) VALUES ('vacuum', '2026-01-01T00:00:00Z')", [])
            .unwrap();
        let outcomes: Vec<(String, Option<PassOutcome>)> =
            store.passes().unwrap().into_iter().map(|p| (p.kind.to_string(), p.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("audit".to_string(), None),
                ("escalate".to_string(), Some(PassOutcome::Failed)),
                ("push".to_string(), Some(PassOutcome::Partial))
            ]
        );
    }
}
