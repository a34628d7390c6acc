//! Push-back progress: per-repository watermarks (`since` times, ETags, last comment id), the
//! issue state last seen on each mapping (which is also where its events are read from), and
//! the ledger of pushed notes. (The `last_event_id` column of `watermarks` is no longer used:
//! events are read per changed issue from its last update seen.)

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{IssueCommentId, RepoName, SeenState, StateReason, TicketCommentId, TicketId};

/// How far a repository's push-back has read. All fields are GitHub's values, never local time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watermark {
    pub issues_since: Option<DateTime<Utc>>,
    pub issues_etag: Option<String>,
    pub comments_since: Option<DateTime<Utc>>,
    pub comments_etag: Option<String>,
    pub last_comment_id: Option<IssueCommentId>,
}

const PUSHED: &str = "push_note";
const PUSHED_RECOVERED: &str = "push_note_recovered";

impl Store {
    pub fn watermark(&self, repo: &RepoName) -> Result<Option<Watermark>> {
        let row = self
            .conn()
            .query_row(
                "SELECT issues_since, issues_etag, comments_since, comments_etag, last_comment_id
                 FROM watermarks WHERE repo = ?1",
                [repo.to_string()],
                |r| {
                    Ok(Watermark {
                        issues_since: r.get::<_, Option<String>>(0)?.and_then(|s| parse_ts(&s)),
                        issues_etag: r.get(1)?,
                        comments_since: r.get::<_, Option<String>>(2)?.and_then(|s| parse_ts(&s)),
                        comments_etag: r.get(3)?,
                        last_comment_id: r.get::<_, Option<i64>>(4)?.map(|v| IssueCommentId(v as u64)),
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    pub fn set_watermark(&self, repo: &RepoName, w: &Watermark) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO watermarks
             (repo, issues_since, issues_etag, comments_since, comments_etag, last_comment_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                repo.to_string(),
                w.issues_since.map(ts),
                w.issues_etag,
                w.comments_since.map(ts),
                w.comments_etag,
                w.last_comment_id.map(|v| v.0 as i64),
                ts(clock::now()),
            ],
        )?;
        Ok(())
    }

    /// The earliest GitHub update time among the repo's mappings: where a first push pass starts.
    pub fn earliest_issue_update(&self, repo: &RepoName) -> Result<Option<DateTime<Utc>>> {
        let v: Option<String> = self.conn().query_row(
            "SELECT MIN(COALESCE(issue_updated_at, created_at)) FROM mappings WHERE repo = ?1",
            [repo.to_string()],
            |r| r.get(0),
        )?;
        Ok(v.and_then(|s| parse_ts(&s)))
    }

    /// Stores the issue state last seen, and when a note was last pushed if one was.
    pub fn record_seen_state(&self, ticket: TicketId, seen: &SeenState, pushed: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE mappings SET issue_state = ?2, state_reason = ?3, closed_at = ?4,
                    issue_updated_at = COALESCE(?5, issue_updated_at),
                    last_pushed_at = CASE WHEN ?6 THEN ?7 ELSE last_pushed_at END
             WHERE ticket_id = ?1",
            params![
                ticket.0 as i64,
                seen.state.as_str(),
                seen.state_reason.as_ref().map(StateReason::as_str),
                seen.closed_at.map(ts),
                seen.updated_at.map(ts),
                pushed,
                ts(clock::now()),
            ],
        )?;
        Ok(())
    }

    /// Whether the note for this event was written to the ticket already.
    pub fn push_note_done(&self, ticket: TicketId, event_key: &str) -> Result<bool> {
        super::intents::event_done(self, ticket, event_key, [PUSHED, PUSHED_RECOVERED])
    }

    /// The Zendesk comments ticket-sync's finished notes on this ticket became (as Zendesk
    /// reported their ids): a comment found on a retry that is one of these is an earlier
    /// write's, not the interrupted one's.
    pub fn pushed_comment_ids(&self, ticket: TicketId) -> Result<Vec<TicketCommentId>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT remote_id FROM ledger WHERE ticket_id = ?1 AND event IN (?2, ?3) AND remote_id IS NOT NULL",
        )?;
        let ids = st.query_map(params![ticket.0 as i64, PUSHED, PUSHED_RECOVERED], |r| r.get::<_, String>(0))?;
        let ids: Vec<String> = ids.collect::<rusqlite::Result<_>>()?;
        Ok(ids.iter().filter_map(|s| s.parse().ok()).map(TicketCommentId).collect())
    }

    /// Finishes a pushed note: drops its intent and writes the ledger line with the event key.
    pub fn record_push_note(
        &self,
        ticket: TicketId,
        intent_key: &str,
        event_key: &str,
        comment_id: Option<TicketCommentId>,
        recovered: bool,
    ) -> Result<()> {
        let event = if recovered { PUSHED_RECOVERED } else { PUSHED };
        super::intents::finish_event(
            self,
            ticket,
            intent_key,
            event,
            "zendesk",
            comment_id.map(|c| c.to_string()),
            event_key,
        )?;
        // Every note counts, however it was written (a queued one finished by a later pass too).
        self.conn().execute(
            "UPDATE mappings SET last_pushed_at = ?2 WHERE ticket_id = ?1",
            params![ticket.0 as i64, ts(clock::now())],
        )?;
        Ok(())
    }
}

/// Makes the next push pass over `repo` read everything since `to` again: for a link that
/// appears for an issue that already had a history there (an adopted create, a transfer).
/// The ledger keeps what was pushed before from being pushed twice. Runs inside the caller's
/// transaction, so the link and the rewind are one step. (Times are stored in one RFC 3339
/// form, so text order is time order.)
pub(super) fn rewind(conn: &rusqlite::Connection, repo: &RepoName, to: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE watermarks SET issues_since = MIN(COALESCE(issues_since, ?2), ?2),
                comments_since = MIN(COALESCE(comments_since, ?2), ?2),
                issues_etag = NULL, comments_etag = NULL, last_comment_id = NULL
         WHERE repo = ?1",
        params![repo.to_string(), ts(to)],
    )?;
    Ok(())
}
