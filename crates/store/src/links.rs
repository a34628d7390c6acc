//! Links made, moved and ended through the `[linking]` ticket field, the field value each
//! ticket was last acted on, and each shared issue's "linked tickets" comment.
//!
//! A field change is recorded in one transaction with the note that tells the agent about it
//! (a push-note intent the push pass finishes if this pass cannot), so a crash between the two
//! neither loses the note nor acts on the change twice.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::intents::{OnConflict, Started};
use super::{parse_ts, ts, IntentKind, PushPayload, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{Issue, IssueCommentId, IssueNumber, Mapping, RepoName, TicketId};

/// What a change of the field does to the ticket's link.
pub enum LinkChange<'a> {
    /// Link the ticket to this issue, or move its link here.
    Link { issue: &'a Issue, impact_line: &'a str, ticket_updated_at: Option<DateTime<Utc>> },
    /// End the ticket's link (the field was cleared).
    Unlink,
    /// The value names nothing the ticket may be linked to; the link (if any) stays.
    Refuse { why: &'a str },
}

/// The note that tells the agent what the change did, written by the push pass's machinery.
pub struct ChangeNote<'a> {
    pub event_key: &'a str,
    pub repo: &'a str,
    pub payload: &'a PushPayload,
}

/// An issue's "linked tickets" comment: where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impact {
    pub repo: RepoName,
    pub issue_number: IssueNumber,
    pub comment_id: Option<IssueCommentId>,
    pub body_digest: Option<String>,
    pub attempts: u32,
    pub attempted_at: Option<DateTime<Utc>>,
}

fn mark_dirty(tx: &Transaction, repo: &str, number: u64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO impacts (repo, issue_number, dirty) VALUES (?1, ?2, 1)
         ON CONFLICT (repo, issue_number) DO UPDATE SET dirty = 1",
        params![repo, number as i64],
    )?;
    Ok(())
}

fn set_field(tx: &Transaction, ticket: TicketId, value: &str, seen_at: DateTime<Utc>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO link_fields (ticket_id, value, seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (ticket_id) DO UPDATE SET value = excluded.value, seen_at = excluded.seen_at",
        params![ticket.0 as i64, value, ts(seen_at)],
    )?;
    Ok(())
}

/// The note's push-note intent, unless one is there already (it keeps its payload).
fn insert_note(tx: &Transaction, ticket: TicketId, note: &ChangeNote) -> Result<()> {
    super::intents::insert_intent(
        tx,
        &super::intents::event_intent_key(IntentKind::PushNote, ticket, note.event_key),
        ticket,
        Some(note.repo),
        note.payload,
        Started::NotYet,
        OnConflict::Ignore,
    )?;
    Ok(())
}

/// The ledger's detail of a move away from `repo#number` (`moved_from` finds it by it).
fn moved_detail(repo: &str, number: i64) -> String {
    format!("{repo}#{number} closed as its duplicate")
}

fn ledger(tx: &Transaction, ticket: TicketId, event: &str, remote: Option<&str>, detail: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO ledger (ticket_id, at, event, side, remote_id, detail) VALUES (?1, ?2, ?3, 'local', ?4, ?5)",
        params![ticket.0 as i64, ts(clock::now()), event, remote, detail],
    )?;
    Ok(())
}

impl Store {
    /// The field value last acted on for this ticket, with the ticket's `updated_at` (Zendesk's
    /// clock) it was seen or written at: an older snapshot of the ticket says nothing new.
    pub fn link_field(&self, ticket: TicketId) -> Result<Option<(String, DateTime<Utc>)>> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row("SELECT value, seen_at FROM link_fields WHERE ticket_id = ?1", [ticket.0 as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.map(|(v, at)| (v, parse_ts(&at).unwrap_or_default())))
    }

    /// Remembers a field value that changes nothing (ticket-sync's own write-back, or the
    /// linked issue written another way).
    pub fn record_link_field(&self, ticket: TicketId, value: &str, seen_at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        set_field(&tx, ticket, value, seen_at)?;
        tx.commit()?;
        Ok(())
    }

    /// Applies a change of the ticket's field in one transaction: the mapping, the value acted
    /// on, a ledger line, the note's intent, and the affected issues' comments marked for update.
    pub fn apply_link_change(
        &self,
        ticket: TicketId,
        change: &LinkChange,
        value: &str,
        seen_at: DateTime<Utc>,
        note: &ChangeNote,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let before: Option<(String, i64, String)> = tx
            .query_row(
                "SELECT repo, issue_number, link_state FROM mappings WHERE ticket_id = ?1",
                [ticket.0 as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let active_before = before.as_ref().filter(|b| b.2 == "active");
        match change {
            LinkChange::Link { issue, impact_line, ticket_updated_at } => {
                let now = ts(clock::now());
                tx.execute(
                    "INSERT INTO mappings (ticket_id, repo, issue_number, issue_id, issue_url, issue_state, state_reason,
                         created_at, issue_updated_at, escalated_ticket_at, linked_by, impact_line)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'field', ?11)
                     ON CONFLICT (ticket_id) DO UPDATE SET repo = excluded.repo, issue_number = excluded.issue_number,
                         issue_id = excluded.issue_id, issue_url = excluded.issue_url, issue_state = excluded.issue_state,
                         state_reason = excluded.state_reason, link_state = 'active', created_at = excluded.created_at,
                         issue_updated_at = excluded.issue_updated_at, last_pushed_at = NULL, closed_at = NULL,
                         escalation_lost = 0, issue_etag = NULL, escalated_ticket_at = excluded.escalated_ticket_at,
                         linked_by = 'field', impact_line = excluded.impact_line",
                    params![
                        ticket.0 as i64,
                        issue.repo.to_string(),
                        issue.number.0 as i64,
                        issue.id.0 as i64,
                        issue.html_url,
                        issue.state.as_str(),
                        issue.state_reason.as_ref().map(ticket_sync_core::domain::StateReason::as_str),
                        now,
                        issue.updated_at.map(ts),
                        ticket_updated_at.map(ts),
                        impact_line,
                    ],
                )?;
                let remote = format!("{}#{}", issue.repo, issue.number);
                let event = if active_before.is_some() { "relinked_by_field" } else { "linked_by_field" };
                ledger(&tx, ticket, event, Some(&remote), value)?;
                mark_dirty(&tx, &issue.repo.to_string(), issue.number.0)?;
            }
            LinkChange::Unlink => {
                tx.execute("UPDATE mappings SET link_state = 'unlinked' WHERE ticket_id = ?1", [ticket.0 as i64])?;
                let remote = active_before.map(|(repo, n, _)| format!("{repo}#{n}"));
                ledger(&tx, ticket, "unlinked_by_field", remote.as_deref(), "the link field was cleared")?;
            }
            LinkChange::Refuse { why } => ledger(&tx, ticket, "link_refused", None, why)?,
        }
        if let (Some((repo, n, _)), false) = (active_before, matches!(change, LinkChange::Refuse { .. })) {
            mark_dirty(&tx, repo, *n as u64)?;
        }
        set_field(&tx, ticket, value, seen_at)?;
        insert_note(&tx, ticket, note)?;
        tx.commit()?;
        Ok(())
    }

    /// Moves a ticket's link from an issue closed as a duplicate to the surviving issue, with
    /// the note that tells it so (a push-note intent), in one transaction: the mapping takes
    /// the survivor's number, id, page and state (as `survivor` shows it); both issues'
    /// linked-tickets comments are marked for update; a ledger line says why. A crash leaves
    /// either nothing done (the next pass reads the duplicate close again) or all of it.
    pub fn move_to_survivor(&self, ticket: TicketId, survivor: &Issue, note: &ChangeNote) -> Result<()> {
        self.move_link(ticket, survivor, note, false)
    }

    /// Moves a ticket's link back to the issue it had left for a survivor (`move_to_survivor`),
    /// reopened and no longer a duplicate, with its note, in one transaction.
    pub fn move_back(&self, ticket: TicketId, issue: &Issue, note: &ChangeNote) -> Result<()> {
        self.move_link(ticket, issue, note, true)
    }

    fn move_link(&self, ticket: TicketId, survivor: &Issue, note: &ChangeNote, back: bool) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let before: Option<(String, i64)> = tx
            .query_row("SELECT repo, issue_number FROM mappings WHERE ticket_id = ?1", [ticket.0 as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((old_repo, old_number)) = before else { return Ok(()) };
        tx.execute(
            "UPDATE mappings SET repo = ?2, issue_number = ?3, issue_id = ?4, issue_url = ?5, issue_state = ?6,
                 state_reason = ?7, issue_updated_at = ?8, closed_at = NULL, issue_etag = NULL, link_state = 'active',
                 linked_by = CASE WHEN NOT ?9 THEN 'duplicate'
                     WHEN EXISTS (SELECT 1 FROM ledger WHERE ticket_id = ?1 AND event IN ('linked_by_field', 'relinked_by_field'))
                     THEN 'field' ELSE 'escalation' END
             WHERE ticket_id = ?1",
            params![
                ticket.0 as i64,
                survivor.repo.to_string(),
                survivor.number.0 as i64,
                survivor.id.0 as i64,
                survivor.html_url,
                survivor.state.as_str(),
                survivor.state_reason.as_ref().map(ticket_sync_core::domain::StateReason::as_str),
                survivor.updated_at.map(ts),
                back,
            ],
        )?;
        let remote = format!("{}#{}", survivor.repo, survivor.number);
        if back {
            ledger(
                &tx,
                ticket,
                "moved_back",
                Some(&remote),
                &format!("no longer a duplicate of {old_repo}#{old_number}"),
            )?;
        } else {
            ledger(&tx, ticket, "moved_to_survivor", Some(&remote), &moved_detail(&old_repo, old_number))?;
        }
        mark_dirty(&tx, &old_repo, old_number as u64)?;
        mark_dirty(&tx, &survivor.repo.to_string(), survivor.number.0)?;
        insert_note(&tx, ticket, note)?;
        tx.commit()?;
        Ok(())
    }

    /// The tickets moved from `repo#number` to a survivor (`move_to_survivor`) that still
    /// follow it there: they go back should the issue turn out not to be a duplicate.
    pub fn moved_from(&self, repo: &RepoName, number: IssueNumber) -> Result<Vec<TicketId>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT DISTINCT l.ticket_id FROM ledger l JOIN mappings m ON m.ticket_id = l.ticket_id
             WHERE l.event = 'moved_to_survivor' AND l.detail = ?1
               AND m.linked_by = 'duplicate' AND m.link_state = 'active'
               AND NOT (m.repo = ?2 AND m.issue_number = ?3)
             ORDER BY l.ticket_id",
        )?;
        let detail = moved_detail(&repo.to_string(), number.0 as i64);
        let rows = st.query_map(params![detail, repo.to_string(), number.0 as i64], |r| r.get::<_, i64>(0))?;
        Ok(rows.map(|r| r.map(|id| TicketId(id as u64))).collect::<rusqlite::Result<_>>()?)
    }

    /// Every ticket ever linked to this issue (any link state), oldest link first.
    pub fn issue_links(&self, repo: &RepoName, number: IssueNumber) -> Result<Vec<(Mapping, Option<String>)>> {
        let sql = format!(
            "SELECT {}, impact_line FROM mappings WHERE repo = ?1 AND issue_number = ?2 ORDER BY created_at, ticket_id",
            super::mappings::COLUMNS
        );
        let conn = self.conn();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![repo.to_string(), number.0 as i64], |r| {
                Ok((super::mappings::from_row(r)?, r.get::<_, Option<String>>(15)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The line an escalated ticket shows in its issue's "linked tickets" comment.
    pub fn set_impact_line(&self, ticket: TicketId, line: &str) -> Result<()> {
        self.conn()
            .execute("UPDATE mappings SET impact_line = ?2 WHERE ticket_id = ?1", params![ticket.0 as i64, line])?;
        Ok(())
    }

    /// Issues whose "linked tickets" comment may be out of date.
    pub fn dirty_impacts(&self) -> Result<Vec<Impact>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT repo, issue_number, comment_id, body_digest, attempts, attempted_at FROM impacts
             WHERE dirty = 1 ORDER BY repo, issue_number",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(repo, n, comment, digest, attempts, at)| {
                Some(Impact {
                    repo: repo.parse().ok()?,
                    issue_number: IssueNumber(n as u64),
                    comment_id: comment.map(|c| IssueCommentId(c as u64)),
                    body_digest: digest,
                    attempts: attempts as u32,
                    attempted_at: at.as_deref().and_then(parse_ts),
                })
            })
            .collect())
    }

    /// Marks an issue's comment for an update (a linked ticket's line changed).
    pub fn mark_impact_dirty(&self, repo: &RepoName, number: IssueNumber) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        mark_dirty(&tx, &repo.to_string(), number.0)?;
        tx.commit()?;
        Ok(())
    }

    /// Records, before it is sent, that the comment is about to be created (the intent).
    pub fn impact_attempt(&self, repo: &RepoName, number: IssueNumber) -> Result<()> {
        self.conn().execute(
            "UPDATE impacts SET attempts = attempts + 1, attempted_at = ?3 WHERE repo = ?1 AND issue_number = ?2",
            params![repo.to_string(), number.0 as i64, ts(clock::now())],
        )?;
        Ok(())
    }

    /// The comment is up to date: its id and what it says.
    pub fn record_impact(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        comment_id: Option<IssueCommentId>,
        digest: &str,
    ) -> Result<()> {
        self.conn().execute(
            "UPDATE impacts SET comment_id = COALESCE(?3, comment_id), body_digest = ?4, dirty = 0, attempts = 0
             WHERE repo = ?1 AND issue_number = ?2",
            params![repo.to_string(), number.0 as i64, comment_id.map(|c| c.0 as i64), digest],
        )?;
        Ok(())
    }

    /// The issue needs no comment (one ticket, linked by escalation), or has none left to edit
    /// (it was deleted): nothing to keep up to date.
    pub fn clear_impact(&self, repo: &RepoName, number: IssueNumber) -> Result<()> {
        self.conn().execute(
            "UPDATE impacts SET dirty = 0 WHERE repo = ?1 AND issue_number = ?2",
            params![repo.to_string(), number.0 as i64],
        )?;
        Ok(())
    }

    /// Remembers the `updated_at` of a ticket read directly (for a webhook delivery).
    pub fn ticket_read(&self, ticket: TicketId, updated_at: Option<DateTime<Utc>>) -> Result<()> {
        let Some(at) = updated_at else { return Ok(()) };
        self.conn().execute(
            "INSERT INTO ticket_reads (ticket_id, updated_at) VALUES (?1, ?2)
             ON CONFLICT (ticket_id) DO UPDATE SET updated_at = MAX(updated_at, excluded.updated_at)",
            params![ticket.0 as i64, ts(at)],
        )?;
        Ok(())
    }

    /// The newest `updated_at` of the ticket as read directly, if it ever was.
    pub fn ticket_read_at(&self, ticket: TicketId) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = self
            .conn()
            .query_row("SELECT updated_at FROM ticket_reads WHERE ticket_id = ?1", [ticket.0 as i64], |r| r.get(0))
            .optional()?;
        Ok(at.as_deref().and_then(parse_ts))
    }

    /// Saves the webhook receiver's counters of one source, for `status`.
    pub fn save_webhook_stats(&self, source: &str, stats: &serde_json::Value) -> Result<()> {
        self.conn().execute(
            "INSERT INTO webhook_stats (source, stats, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET stats = excluded.stats, updated_at = excluded.updated_at",
            params![source, stats.to_string(), ts(clock::now())],
        )?;
        Ok(())
    }

    /// The webhook receiver's counters, by source, as last saved. Counters that cannot be read
    /// are left out: they are only shown.
    pub fn webhook_stats(&self) -> Result<Vec<(String, serde_json::Value)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT source, stats FROM webhook_stats ORDER BY source")?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<(String, String)>>>()?;
        Ok(rows.into_iter().filter_map(|(source, stats)| Some((source, serde_json::from_str(&stats).ok()?))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_counters_read_back_and_unreadable_ones_are_left_out() {
        let store = Store::open_in_memory().unwrap();
        let github = serde_json::json!({ "accepted": 3, "last_delivery": null });
        store.save_webhook_stats("github", &github).unwrap();
        store.save_webhook_stats("zendesk", &serde_json::json!({ "accepted": 1 })).unwrap();
        store.conn().execute("UPDATE webhook_stats SET stats = '{oops' WHERE source = 'zendesk'", []).unwrap();
        assert_eq!(store.webhook_stats().unwrap(), [("github".to_string(), github)]);
    }

    fn issue(number: u64, state: ticket_sync_core::domain::IssueState) -> Issue {
        Issue {
            repo: "acme/backend".parse().unwrap(),
            number: IssueNumber(number),
            id: ticket_sync_core::domain::IssueId(number * 10),
            html_url: format!("https://github.com/acme/backend/issues/{number}"),
            state,
            state_reason: None,
            body: None,
            updated_at: None,
            closed_by: None,
            is_pull_request: false,
        }
    }

    #[test]
    fn a_link_moved_to_a_survivor_and_back_says_which_in_the_ledger_and_is_found_only_while_away() {
        use ticket_sync_core::domain::{IssueState, LinkedBy};
        let store = Store::open_in_memory().unwrap();
        let (dup, survivor) = (issue(1, IssueState::Closed), issue(2, IssueState::Open));
        store.insert_mapping(TicketId(7), &dup).unwrap();
        let payload = |key: &str| PushPayload {
            event_key: key.into(),
            text: "note".into(),
            status: None,
            order: ticket_sync_core::noteorder::NoteOrder::own(clock::now()),
            reopens: false,
            add_tags: vec![],
            remove_tags: vec![],
            about_link: true,
            field: None,
            public: false,
        };
        let away = payload("survivor-acme/backend-2");
        let note = ChangeNote { event_key: &away.event_key, repo: "acme/backend", payload: &away };
        store.move_to_survivor(TicketId(7), &survivor, &note).unwrap();
        let m = store.mapping(TicketId(7)).unwrap().unwrap();
        assert_eq!((m.issue_number, m.linked_by), (IssueNumber(2), LinkedBy::Duplicate));
        assert_eq!(store.moved_from(&dup.repo, IssueNumber(1)).unwrap(), [TicketId(7)]);
        assert!(store.push_intent(TicketId(7), "survivor-acme/backend-2").unwrap().is_some(), "the note's intent");

        let back = payload("returned-acme/backend-1");
        let note = ChangeNote { event_key: &back.event_key, repo: "acme/backend", payload: &back };
        store.move_back(TicketId(7), &dup, &note).unwrap();
        let m = store.mapping(TicketId(7)).unwrap().unwrap();
        assert_eq!((m.issue_number, m.linked_by), (IssueNumber(1), LinkedBy::Escalation), "as it was linked");
        assert!(store.moved_from(&dup.repo, IssueNumber(1)).unwrap().is_empty());
        let events: Vec<String> = store.ledger(TicketId(7)).unwrap().into_iter().map(|e| e.event).collect();
        assert_eq!(events, ["moved_to_survivor", "moved_back"]);
    }
}
