//! Forwarding progress: per linked ticket, the last Zendesk comment looked at, the ledger of
//! comments forwarded to GitHub, and a mapping that follows its transferred issue.

use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::{IssueCommentId, IssueNumber, RepoName, TicketCommentId, TicketId};

const FORWARDED: &str = "forward_comment";
const FORWARDED_RECOVERED: &str = "forward_comment_recovered";

impl Store {
    /// The last Zendesk comment id forwarding has looked at on this ticket, if any.
    pub fn forward_mark(&self, ticket: TicketId) -> Result<Option<TicketCommentId>> {
        let v: Option<i64> = self
            .conn()
            .query_row("SELECT last_comment_id FROM forward_marks WHERE ticket_id = ?1", [ticket.0 as i64], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(v.map(|v| TicketCommentId(v as u64)))
    }

    pub fn set_forward_mark(&self, ticket: TicketId, last_comment_id: TicketCommentId) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO forward_marks (ticket_id, last_comment_id, updated_at) VALUES (?1, ?2, ?3)",
            params![ticket.0 as i64, last_comment_id.0 as i64, ts(clock::now())],
        )?;
        Ok(())
    }

    /// Whether this Zendesk comment was forwarded to GitHub already.
    pub fn forwarded(&self, ticket: TicketId, event_key: &str) -> Result<bool> {
        super::intents::event_done(self, ticket, event_key, [FORWARDED, FORWARDED_RECOVERED])
    }

    /// Finishes a forwarded comment: drops its intent and writes the ledger line.
    pub fn record_forward(
        &self,
        ticket: TicketId,
        intent_key: &str,
        event_key: &str,
        github_comment_id: IssueCommentId,
        recovered: bool,
    ) -> Result<()> {
        let event = if recovered { FORWARDED_RECOVERED } else { FORWARDED };
        super::intents::finish_event(
            self,
            ticket,
            intent_key,
            event,
            "github",
            Some(github_comment_id.to_string()),
            event_key,
        )
    }

    /// Points a mapping at the place its issue was transferred to.
    /// The new repository's watermarks rewind to a little before the issue's last update seen,
    /// so what happened to it there since is read.
    pub fn move_mapping(&self, ticket: TicketId, repo: &RepoName, number: IssueNumber, url: &str) -> Result<()> {
        let last_seen: Option<String> = self
            .conn()
            .query_row(
                "SELECT COALESCE(issue_updated_at, created_at) FROM mappings WHERE ticket_id = ?1",
                [ticket.0 as i64],
                |r| r.get(0),
            )
            .optional()?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(seen) = last_seen.as_deref().and_then(parse_ts) {
            super::watermarks::rewind(&tx, repo, seen - chrono::Duration::minutes(10))?;
        }
        // The issue's linked-tickets comment moved with it: so does the row that knows its id.
        tx.execute(
            "UPDATE OR IGNORE impacts SET repo = ?2, issue_number = ?3, dirty = 1
             WHERE (repo, issue_number) = (SELECT repo, issue_number FROM mappings WHERE ticket_id = ?1)",
            params![ticket.0 as i64, repo.to_string(), number.0 as i64],
        )?;
        tx.execute(
            "UPDATE mappings SET repo = ?2, issue_number = ?3, issue_url = ?4, link_state = ?5 WHERE ticket_id = ?1",
            params![ticket.0 as i64, repo.to_string(), number.0 as i64, url, LinkState::Active.as_str()],
        )?;
        tx.execute(
            "INSERT INTO ledger (ticket_id, at, event, side, remote_id, detail) VALUES (?1, ?2, 'issue_moved', 'github', ?3, ?4)",
            params![ticket.0 as i64, ts(clock::now()), format!("{repo}#{number}"), url],
        )?;
        tx.commit()?;
        Ok(())
    }
}
