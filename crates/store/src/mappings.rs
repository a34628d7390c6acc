//! Ticket ↔ issue mappings: one row per linked ticket, never two issues for one ticket.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::intents::{OnConflict, Started};
use super::{parse_ts, ts, NotePayload, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{
    Issue, IssueId, IssueNumber, IssueState, LinkState, Mapping, RepoName, Stage, StateReason, TicketId,
};

pub(super) const COLUMNS: &str = "ticket_id, repo, issue_number, issue_id, issue_url, issue_state, state_reason, link_state, created_at, issue_updated_at, last_pushed_at, closed_at, escalation_lost, escalated_ticket_at, linked_by";

/// Inserts one mapping row; the only place that writes a new mapping.
pub(super) fn insert_row(
    conn: &rusqlite::Connection,
    ticket: TicketId,
    issue: &Issue,
    now: &str,
    escalated_ticket_at: Option<DateTime<Utc>>,
) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO mappings (ticket_id, repo, issue_number, issue_id, issue_url, issue_state, state_reason, created_at, issue_updated_at, escalated_ticket_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    insert.execute(params![
        ticket.0 as i64,
        issue.repo.to_string(),
        issue.number.0 as i64,
        issue.id.0 as i64,
        issue.html_url,
        issue.state.as_str(),
        issue.state_reason.as_ref().map(StateReason::as_str),
        now,
        issue.updated_at.map(ts),
        escalated_ticket_at.map(ts),
    ])?;
    Ok(())
}

pub(super) fn from_row(r: &Row) -> rusqlite::Result<Mapping> {
    let repo: String = r.get(1)?;
    let parse_err = |e: String| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into());
    Ok(Mapping {
        ticket_id: TicketId(r.get::<_, i64>(0)? as u64),
        repo: repo.parse().map_err(parse_err)?,
        issue_number: IssueNumber(r.get::<_, i64>(2)? as u64),
        issue_id: IssueId(r.get::<_, i64>(3)? as u64),
        issue_url: r.get(4)?,
        issue_state: IssueState::parse(&r.get::<_, String>(5)?),
        state_reason: r.get::<_, Option<String>>(6)?.map(StateReason::from),
        link_state: LinkState::parse(&r.get::<_, String>(7)?),
        created_at: parse_ts(&r.get::<_, String>(8)?).unwrap_or_default(),
        issue_updated_at: r.get::<_, Option<String>>(9)?.and_then(|s| parse_ts(&s)),
        last_pushed_at: r.get::<_, Option<String>>(10)?.and_then(|s| parse_ts(&s)),
        closed_at: r.get::<_, Option<String>>(11)?.and_then(|s| parse_ts(&s)),
        escalation_lost: r.get::<_, i64>(12)? != 0,
        escalated_ticket_at: r.get::<_, Option<String>>(13)?.and_then(|s| parse_ts(&s)),
        linked_by: ticket_sync_core::domain::LinkedBy::parse(&r.get::<_, String>(14)?),
    })
}

/// The tables that hold a repository's name, and whether it is (part of) their key.
const REPO_TABLES: [(&str, bool); 11] = [
    ("mappings", false),
    ("intents", false),
    ("repos", true),
    ("watermarks", true),
    ("impacts", true),
    ("fix_watermarks", true),
    ("fix_pulls", true),
    ("fix_pull_issues", true),
    ("fix_issues", true),
    ("fix_releases", true),
    ("fix_checks", true),
];

impl Store {
    /// Spells `repo` everywhere as given where a row spells it in another letter case (GitHub's
    /// names are case-insensitive; the rules changed their spelling, say). Where a keyed row
    /// exists in both spellings (a database written under rules that named the repository
    /// twice), nothing that matters is dropped: of two watermarks the older is kept (reading
    /// again is harmless, skipping is not), and a linked-tickets comment's id survives, marked
    /// to be brought up to date. Returns how many rows changed. A scan of each table: run once
    /// at start, not per pass.
    pub fn respell_repo(&self, repo: &RepoName) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let name = repo.to_string();
        let other = "repo = ?1 COLLATE NOCASE AND repo <> ?1";
        // The older watermark wins: drop the rules' spelling's row when an older one exists.
        tx.execute(
            "DELETE FROM watermarks WHERE repo = ?1 AND EXISTS (SELECT 1 FROM watermarks old
                 WHERE old.repo = ?1 COLLATE NOCASE AND old.repo <> ?1
                   AND COALESCE(old.issues_since, '') <= COALESCE(watermarks.issues_since, ''))",
            [&name],
        )?;
        // A shared issue's comment id is kept whichever row held it.
        tx.execute(
            "UPDATE impacts SET dirty = 1, comment_id = COALESCE(comment_id, (SELECT old.comment_id FROM impacts old
                 WHERE old.repo = ?1 COLLATE NOCASE AND old.repo <> ?1 AND old.issue_number = impacts.issue_number))
             WHERE repo = ?1 AND EXISTS (SELECT 1 FROM impacts old
                 WHERE old.repo = ?1 COLLATE NOCASE AND old.repo <> ?1 AND old.issue_number = impacts.issue_number)",
            [&name],
        )?;
        let mut changed = 0;
        for (table, keyed) in REPO_TABLES {
            changed += tx.execute(&format!("UPDATE OR IGNORE {table} SET repo = ?1 WHERE {other}"), [&name])?;
            if keyed {
                tx.execute(&format!("DELETE FROM {table} WHERE {other}"), [&name])?;
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Inserts a mapping for an issue that exists already, without a link note (imports, tests).
    pub fn insert_mapping(&self, ticket: TicketId, issue: &Issue) -> Result<()> {
        insert_row(&self.conn(), ticket, issue, &ts(clock::now()), None)?;
        Ok(())
    }

    pub fn mapping(&self, ticket: TicketId) -> Result<Option<Mapping>> {
        let sql = format!("SELECT {COLUMNS} FROM mappings WHERE ticket_id = ?1");
        Ok(self.conn().query_row(&sql, [ticket.0 as i64], from_row).optional()?)
    }

    pub fn mapping_by_issue(&self, repo: &RepoName, number: IssueNumber) -> Result<Option<Mapping>> {
        let sql = format!("SELECT {COLUMNS} FROM mappings WHERE repo = ?1 AND issue_number = ?2");
        Ok(self.conn().query_row(&sql, params![repo.to_string(), number.0 as i64], from_row).optional()?)
    }

    pub fn mappings(&self) -> Result<Vec<Mapping>> {
        let sql = format!("SELECT {COLUMNS} FROM mappings ORDER BY ticket_id");
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn mapping_count(&self) -> Result<u64> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM mappings", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// The active mappings of these issues in `repo` (what a push pass needs, not every mapping).
    pub fn active_mappings_for(&self, repo: &RepoName, numbers: &[IssueNumber]) -> Result<Vec<Mapping>> {
        let mut numbers: Vec<i64> = numbers.iter().map(|n| n.0 as i64).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let conn = self.conn();
        let mut out = Vec::new();
        for chunk in numbers.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                // `+link_state` keeps SQLite on the (repo, issue_number) index: the lookup reads only these issues.
                "SELECT {COLUMNS} FROM mappings WHERE repo = ? AND +link_state = 'active' AND issue_number IN ({marks})"
            );
            let mut stmt = conn.prepare(&sql)?;
            let repo_name = repo.to_string();
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&repo_name];
            args.extend(chunk.iter().map(|n| n as &dyn rusqlite::ToSql));
            out.extend(stmt.query_map(args.as_slice(), from_row)?.collect::<rusqlite::Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    /// The repos that have at least one active mapping (what a push pass polls).
    pub fn mapped_repos(&self) -> Result<Vec<RepoName>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT DISTINCT repo FROM mappings WHERE link_state = 'active' ORDER BY repo")?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(names.into_iter().filter_map(|n| n.parse().ok()).collect())
    }

    /// Records a created (or recovered) issue: the mapping, the ledger line, the end of the
    /// create intent and the start of the link-note intent (counted as attempted: the note is
    /// written next), in one transaction.
    pub fn record_issue_created(
        &self,
        ticket: TicketId,
        issue: &Issue,
        recovered: bool,
        note: &NotePayload,
        escalated_ticket_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = ts(clock::now());
        if recovered {
            // Push passes since the lost create saw this issue unlinked and moved on: look again
            // from a little before the create was first attempted.
            let intent_at: Option<String> = tx
                .query_row(
                    "SELECT created_at FROM intents WHERE key = ?1",
                    [super::intents::key(super::IntentKind::CreateIssue, ticket)],
                    |r| r.get(0),
                )
                .optional()?;
            let from = intent_at.as_deref().and_then(parse_ts).unwrap_or_else(clock::now);
            super::watermarks::rewind(&tx, &issue.repo, from - chrono::Duration::minutes(10))?;
        }
        let taken: Option<i64> = tx
            .query_row(
                // Another ticket escalated to the same issue; tickets linked through the field share it.
                "SELECT ticket_id FROM mappings WHERE repo = ?1 AND issue_number = ?2 AND ticket_id <> ?3 AND linked_by = 'escalation'",
                params![issue.repo.to_string(), issue.number.0 as i64, ticket.0 as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(other) = taken {
            // Nothing is written: the caller refuses this ticket, the pass goes on.
            let (repo, number) = (issue.repo.to_string(), issue.number.0);
            return Err(super::StoreError::IssueTaken { repo, number, other: other as u64 });
        }
        insert_row(&tx, ticket, issue, &now, escalated_ticket_at)?;
        tx.execute(
            "DELETE FROM intents WHERE key = ?1",
            [super::intents::key(super::IntentKind::CreateIssue, ticket)],
        )?;
        super::intents::insert_intent(
            &tx,
            &super::intents::key(super::IntentKind::LinkNote, ticket),
            ticket,
            Some(&issue.repo.to_string()),
            note,
            Started::Now,
            OnConflict::Fail,
        )?;
        let event = if recovered { "issue_recovered" } else { "issue_created" };
        let remote = format!("{}#{}", issue.repo, issue.number);
        tx.execute(
            // The URL is on the mapping; the ledger keeps `owner/repo#number` only.
            "INSERT INTO ledger (ticket_id, at, event, side, remote_id) VALUES (?1, ?2, ?3, 'github', ?4)",
            params![ticket.0 as i64, now, event, remote],
        )?;
        tx.execute(
            "DELETE FROM failures WHERE ticket_id = ?1 AND stage = ?2",
            params![ticket.0 as i64, Stage::Escalate.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    pub fn set_link_state(&self, ticket: TicketId, state: LinkState) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE mappings SET link_state = ?2 WHERE ticket_id = ?1",
            params![ticket.0 as i64, state.as_str()],
        )?;
        // The issue's linked-tickets comment (if it has one) counts active links only.
        tx.execute(
            "UPDATE impacts SET dirty = 1 WHERE (repo, issue_number) IN
                 (SELECT repo, issue_number FROM mappings WHERE ticket_id = ?1)",
            [ticket.0 as i64],
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Remembers whether the ticket was last seen without its escalation tags.
    /// The ETag of the issue's last audit read.
    pub fn issue_etag(&self, ticket: TicketId) -> Result<Option<String>> {
        let etag = self
            .conn()
            .query_row("SELECT issue_etag FROM mappings WHERE ticket_id = ?1", [ticket.0 as i64], |r| r.get(0))
            .optional()?;
        Ok(etag.flatten())
    }

    pub fn set_issue_etag(&self, ticket: TicketId, etag: Option<&str>) -> Result<()> {
        self.conn()
            .execute("UPDATE mappings SET issue_etag = ?2 WHERE ticket_id = ?1", params![ticket.0 as i64, etag])?;
        Ok(())
    }

    pub fn set_escalation_lost(&self, ticket: TicketId, lost: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE mappings SET escalation_lost = ?2 WHERE ticket_id = ?1",
            params![ticket.0 as i64, lost as i64],
        )?;
        Ok(())
    }

    /// Whether the reopen that the re-escalation `event_key` asked for was done.
    pub fn reopened(&self, ticket: TicketId, event_key: &str) -> Result<bool> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM ledger WHERE ticket_id = ?1 AND event = 'issue_reopened' AND detail = ?2",
            params![ticket.0 as i64, event_key],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Records that the daemon reopened the issue of a re-escalated ticket, once per
    /// re-escalation (`event_key`); a second record of the same one changes nothing.
    pub fn record_reopened(&self, ticket: TicketId, issue_ref: &str, event_key: &str) -> Result<()> {
        if self.reopened(ticket, event_key)? {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE mappings SET escalation_lost = 0, issue_state = 'open', state_reason = 'reopened', closed_at = NULL
             WHERE ticket_id = ?1",
            [ticket.0 as i64],
        )?;
        tx.execute(
            "INSERT INTO ledger (ticket_id, at, event, side, remote_id, detail) VALUES (?1, ?2, 'issue_reopened', 'github', ?3, ?4)",
            params![ticket.0 as i64, ts(clock::now()), issue_ref, event_key],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// How many times the daemon reopened this ticket's issue (numbers re-escalations).
    pub fn reopen_count(&self, ticket: TicketId) -> Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM ledger WHERE ticket_id = ?1 AND event = 'issue_reopened'",
            [ticket.0 as i64],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written under rules that named one repository in two spellings: respelling
    /// keeps the older watermark and the linked-tickets comment's id, whichever row held them.
    #[test]
    fn respelling_keeps_the_older_watermark_and_the_comment_id() {
        let store = Store::open_in_memory().unwrap();
        {
            let conn = store.conn();
            for (repo, since) in [("acme/x", "2026-06-01T00:00:00Z"), ("ACME/x", "2026-01-01T00:00:00Z")] {
                conn.execute(
                    "INSERT INTO watermarks (repo, issues_since, updated_at) VALUES (?1, ?2, ?2)",
                    params![repo, since],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO impacts (repo, issue_number, comment_id, dirty) VALUES ('acme/x', 1, NULL, 0)",
                [],
            )
            .unwrap();
            conn.execute("INSERT INTO impacts (repo, issue_number, comment_id, dirty) VALUES ('ACME/x', 1, 77, 0)", [])
                .unwrap();
        }
        let repo: RepoName = "acme/x".parse().unwrap();
        store.respell_repo(&repo).unwrap();
        let conn = store.conn();
        let marks: Vec<(String, String)> = conn
            .prepare("SELECT repo, issues_since FROM watermarks")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(marks, [("acme/x".to_string(), "2026-01-01T00:00:00Z".to_string())]);
        let impacts: Vec<(String, Option<i64>, i64)> = conn
            .prepare("SELECT repo, comment_id, dirty FROM impacts")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(impacts, [("acme/x".to_string(), Some(77), 1)]);
    }
}
