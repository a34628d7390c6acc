//! Durable intents: written before every remote write, removed when its result is recorded.
//! An intent found at start-up means a write may or may not have happened; the sync logic
//! reconciles it against the remote side before writing again.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::domain::{Stage, TicketCommentId, TicketId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentKind {
    CreateIssue,
    LinkNote,
    /// A push-back note for one GitHub event; its key also names the event.
    PushNote,
    /// A public Zendesk comment forwarded to the issue; its key also names the comment.
    ForwardComment,
}

impl IntentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentKind::CreateIssue => "create_issue",
            IntentKind::LinkNote => "link_note",
            IntentKind::PushNote => "push_note",
            IntentKind::ForwardComment => "forward_comment",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "create_issue" => Some(IntentKind::CreateIssue),
            "link_note" => Some(IntentKind::LinkNote),
            "push_note" => Some(IntentKind::PushNote),
            "forward_comment" => Some(IntentKind::ForwardComment),
            _ => None,
        }
    }
}

pub(crate) fn key(kind: IntentKind, ticket: TicketId) -> String {
    format!("{}:{}", kind.as_str(), ticket)
}

/// The key of a per-event intent (push-back note, forwarded comment): one per ticket and event.
pub(crate) fn event_intent_key(kind: IntentKind, ticket: TicketId, event_key: &str) -> String {
    format!("{}:{ticket}:{event_key}", kind.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Unique per intended write (`kind:ticket`, or `push_note:ticket:event` for push-back).
    pub key: String,
    pub kind: IntentKind,
    pub ticket_id: TicketId,
    pub repo: Option<String>,
    /// JSON: everything needed to perform the write without the original inputs.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    /// Remote writes started for this intent. Above zero, the remote side may already hold the result.
    pub attempts: u32,
    /// When the last write was started (None for intents from before v11, or never attempted).
    pub attempted_at: Option<DateTime<Utc>>,
}

impl Store {
    pub fn intent(&self, kind: IntentKind, ticket: TicketId) -> Result<Option<Intent>> {
        self.intent_by_key(&key(kind, ticket))
    }

    pub fn intent_by_key(&self, key: &str) -> Result<Option<Intent>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT kind, ticket_id, repo, payload, created_at, attempts, attempted_at FROM intents WHERE key = ?1",
                [key],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.and_then(|(k, t, repo, payload, created, attempts, attempted)| {
            Some(Intent {
                key: key.to_string(),
                kind: IntentKind::parse(&k)?,
                ticket_id: TicketId(t as u64),
                repo,
                payload,
                created_at: parse_ts(&created).unwrap_or_default(),
                attempts: attempts as u32,
                attempted_at: attempted.as_deref().and_then(parse_ts),
            })
        }))
    }

    /// All unfinished intents, oldest first.
    pub fn pending_intents(&self) -> Result<Vec<Intent>> {
        let keys: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT key FROM intents ORDER BY created_at, key")?;
            let rows = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            rows
        };
        let mut out = Vec::new();
        for k in keys {
            out.extend(self.intent_by_key(&k)?);
        }
        Ok(out)
    }

    /// Records the intent if it is new, already counted as attempted: the caller writes next,
    /// so one commit covers both. Returns it as stored (an existing one keeps its payload and
    /// count) and whether it is new; a new intent needs no reconciliation.
    pub fn begin_intent(
        &self,
        kind: IntentKind,
        ticket: TicketId,
        repo: Option<&str>,
        payload: &str,
    ) -> Result<(Intent, bool)> {
        let inserted = self.conn().execute(
            "INSERT OR IGNORE INTO intents (key, ticket_id, kind, repo, payload, created_at, attempts, attempted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?6)",
            params![key(kind, ticket), ticket.0 as i64, kind.as_str(), repo, payload, ts(Utc::now())],
        )?;
        Ok((self.intent(kind, ticket)?.expect("intent was just written"), inserted == 1))
    }

    /// Marks that a remote write for this intent is about to be sent. Durable before the write.
    pub fn intent_attempt(&self, kind: IntentKind, ticket: TicketId) -> Result<()> {
        self.intent_attempt_key(&key(kind, ticket))
    }

    pub fn intent_attempt_key(&self, key: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE intents SET attempts = attempts + 1, attempted_at = ?2 WHERE key = ?1",
            params![key, ts(Utc::now())],
        )?;
        Ok(())
    }

    /// Records the push-back note intent for one event if it is new; returns it as stored.
    pub fn begin_push_intent(&self, ticket: TicketId, event_key: &str, repo: &str, payload: &str) -> Result<Intent> {
        self.begin_event_intent(IntentKind::PushNote, ticket, event_key, repo, payload)
    }

    /// Records a per-event intent if it is new; returns it as stored (an existing one keeps its payload).
    pub fn begin_event_intent(
        &self,
        kind: IntentKind,
        ticket: TicketId,
        event_key: &str,
        repo: &str,
        payload: &str,
    ) -> Result<Intent> {
        let key = event_intent_key(kind, ticket, event_key);
        self.conn().execute(
            "INSERT OR IGNORE INTO intents (key, ticket_id, kind, repo, payload, created_at, attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            params![key, ticket.0 as i64, kind.as_str(), repo, payload, ts(Utc::now())],
        )?;
        Ok(self.intent_by_key(&key)?.expect("intent was just written"))
    }

    /// The unfinished push note of one event of a ticket, if any.
    pub fn push_intent(&self, ticket: TicketId, event_key: &str) -> Result<Option<Intent>> {
        self.intent_by_key(&event_intent_key(IntentKind::PushNote, ticket, event_key))
    }

    /// Drops every unfinished push-back note of a ticket that can no longer take them.
    pub fn abandon_push_intents(&self, ticket: TicketId, why: &str) -> Result<()> {
        self.abandon_event_intents(IntentKind::PushNote, ticket, why)
    }

    /// Drops every unfinished per-event intent of one kind for a ticket, with a ledger line.
    pub fn abandon_event_intents(&self, kind: IntentKind, ticket: TicketId, why: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM intents WHERE ticket_id = ?1 AND kind = ?2",
            params![ticket.0 as i64, kind.as_str()],
        )?;
        tx.execute(
            "INSERT INTO ledger (ticket_id, at, event, side, detail) VALUES (?1, ?2, ?3, 'local', ?4)",
            params![
                ticket.0 as i64,
                ts(Utc::now()),
                format!("{}_abandoned", kind.as_str()),
                format!("{n} write(s): {why}")
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Re-targets an unfinished create whose route changed (only after reconciling the old repo).
    pub fn retarget_intent(&self, kind: IntentKind, ticket: TicketId, repo: &str, payload: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE intents SET repo = ?2, payload = ?3 WHERE key = ?1",
            params![key(kind, ticket), repo, payload],
        )?;
        Ok(())
    }

    /// Finishes a link note: drops the intent and writes the ledger line.
    pub fn record_link_note(
        &self,
        ticket: TicketId,
        comment_id: Option<TicketCommentId>,
        recovered: bool,
    ) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM intents WHERE key = ?1", [key(IntentKind::LinkNote, ticket)])?;
        let event = if recovered { "link_note_recovered" } else { "link_note" };
        tx.execute(
            "INSERT INTO ledger (ticket_id, at, event, side, remote_id) VALUES (?1, ?2, ?3, 'zendesk', ?4)",
            params![ticket.0 as i64, ts(Utc::now()), event, comment_id.map(|c| c.to_string())],
        )?;
        tx.execute(
            "DELETE FROM failures WHERE ticket_id = ?1 AND stage = ?2",
            params![ticket.0 as i64, Stage::Escalate.as_str()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Drops an intent that can no longer be carried out (the ticket is closed, for example).
    pub fn abandon_intent(&self, kind: IntentKind, ticket: TicketId, why: &str) -> Result<()> {
        self.abandon_intent_key(kind, ticket, &key(kind, ticket), why)
    }

    /// Drops one intent by its key, with a ledger line saying why.
    pub fn abandon_intent_key(&self, kind: IntentKind, ticket: TicketId, intent_key: &str, why: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM intents WHERE key = ?1", [intent_key])?;
        tx.execute(
            "INSERT INTO ledger (ticket_id, at, event, side, detail) VALUES (?1, ?2, ?3, 'local', ?4)",
            params![ticket.0 as i64, ts(Utc::now()), format!("{}_abandoned", kind.as_str()), why],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Whether the ledger holds one of `events` for this ticket and event key.
pub(super) fn event_done(store: &Store, ticket: TicketId, event_key: &str, events: [&str; 2]) -> Result<bool> {
    let n: i64 = store.conn().query_row(
        "SELECT COUNT(*) FROM ledger WHERE ticket_id = ?1 AND detail = ?2 AND event IN (?3, ?4)",
        params![ticket.0 as i64, event_key, events[0], events[1]],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Ends a per-event intent: drops it and writes the ledger line (event key in `detail`), in one transaction.
pub(super) fn finish_event(
    store: &Store,
    ticket: TicketId,
    intent_key: &str,
    event: &str,
    side: &str,
    remote_id: Option<String>,
    event_key: &str,
) -> Result<()> {
    let mut conn = store.conn();
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM intents WHERE key = ?1", [intent_key])?;
    tx.execute(
        "INSERT INTO ledger (ticket_id, at, event, side, remote_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![ticket.0 as i64, ts(Utc::now()), event, side, remote_id, event_key],
    )?;
    tx.commit()?;
    Ok(())
}
