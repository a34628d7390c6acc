//! Durable intents: written before every remote write, removed when its result is recorded.
//! An intent found at start-up means a write may or may not have happened; the sync logic
//! reconciles it against the remote side before writing again.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::payload::{
    self, CreatePayload, ForwardPayload, IntentKind, IntentPayload, NotePayload, Payload, PayloadError, PushPayload,
};
use super::{parse_ts, ts, Result, Store};
use ticket_sync_core::clock;
use ticket_sync_core::domain::{Stage, TicketCommentId, TicketId};

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
    /// Everything needed to perform the write without the original inputs, as stored; an error
    /// when this build cannot read what was stored (each caller says what it does then). Its
    /// variant is `kind`'s: the store reads the payload as its kind's.
    pub payload: std::result::Result<IntentPayload, PayloadError>,
    pub created_at: DateTime<Utc>,
    /// Remote writes started for this intent. Above zero, the remote side may already hold the result.
    pub attempts: u32,
    /// When the last write was started (None for intents from before v11, or never attempted).
    pub attempted_at: Option<DateTime<Utc>>,
}

impl Intent {
    /// The payload of a create intent.
    pub fn create_payload(&self) -> std::result::Result<&CreatePayload, PayloadError> {
        match self.payload.as_ref().map_err(Clone::clone)? {
            IntentPayload::CreateIssue(p) => Ok(p),
            other => Err(other.other_kind(IntentKind::CreateIssue)),
        }
    }

    /// The payload of a link-note intent.
    pub fn note_payload(&self) -> std::result::Result<&NotePayload, PayloadError> {
        match self.payload.as_ref().map_err(Clone::clone)? {
            IntentPayload::LinkNote(p) => Ok(p),
            other => Err(other.other_kind(IntentKind::LinkNote)),
        }
    }

    /// The payload of a push-note intent.
    pub fn push_payload(&self) -> std::result::Result<&PushPayload, PayloadError> {
        match self.payload.as_ref().map_err(Clone::clone)? {
            IntentPayload::PushNote(p) => Ok(p),
            other => Err(other.other_kind(IntentKind::PushNote)),
        }
    }

    /// The payload of a forward intent.
    pub fn forward_payload(&self) -> std::result::Result<&ForwardPayload, PayloadError> {
        match self.payload.as_ref().map_err(Clone::clone)? {
            IntentPayload::ForwardComment(p) => Ok(p),
            other => Err(other.other_kind(IntentKind::ForwardComment)),
        }
    }
}

impl Store {
    pub fn intent(&self, kind: IntentKind, ticket: TicketId) -> Result<Option<Intent>> {
        self.intent_by_key(&key(kind, ticket))
    }

    pub fn intent_by_key(&self, key: &str) -> Result<Option<Intent>> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT kind, ticket_id, repo, payload, created_at, attempts, attempted_at, payload_version FROM intents WHERE key = ?1",
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
                        r.get::<_, i64>(7)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.and_then(|(k, t, repo, payload, created, attempts, attempted, version)| {
            let kind = IntentKind::parse(&k)?;
            Some(Intent {
                key: key.to_string(),
                kind,
                ticket_id: TicketId(t as u64),
                repo,
                payload: IntentPayload::decode(kind, version, &payload),
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

    /// Records the create intent if it is new, already counted as attempted: the caller writes
    /// next, so one commit covers both. Returns it as stored (an existing one keeps its payload
    /// and count) and whether it is new; a new intent needs no reconciliation.
    pub fn begin_intent(
        &self,
        ticket: TicketId,
        repo: Option<&str>,
        payload: &CreatePayload,
    ) -> Result<(Intent, bool)> {
        let kind = IntentKind::CreateIssue;
        let inserted =
            insert_intent(&self.conn(), &key(kind, ticket), ticket, repo, payload, Started::Now, OnConflict::Ignore)?;
        Ok((self.intent(kind, ticket)?.expect("intent was just written"), inserted == 1))
    }

    /// Marks that a remote write for this intent is about to be sent. Durable before the write.
    pub fn intent_attempt(&self, kind: IntentKind, ticket: TicketId) -> Result<()> {
        self.intent_attempt_key(&key(kind, ticket))
    }

    pub fn intent_attempt_key(&self, key: &str) -> Result<()> {
        self.conn().execute(
            "UPDATE intents SET attempts = attempts + 1, attempted_at = ?2 WHERE key = ?1",
            params![key, ts(clock::now())],
        )?;
        Ok(())
    }

    /// Records the push-back note intent for one event if it is new; returns it as stored.
    pub fn begin_push_intent(
        &self,
        ticket: TicketId,
        event_key: &str,
        repo: &str,
        payload: &PushPayload,
    ) -> Result<Intent> {
        self.begin_event_intent(ticket, event_key, repo, payload)
    }

    /// Records the intent of one forwarded comment if it is new; returns it as stored.
    pub fn begin_forward_intent(
        &self,
        ticket: TicketId,
        event_key: &str,
        repo: &str,
        payload: &ForwardPayload,
    ) -> Result<Intent> {
        self.begin_event_intent(ticket, event_key, repo, payload)
    }

    /// Records a per-event intent if it is new; returns it as stored (an existing one keeps its payload).
    fn begin_event_intent<P: Payload>(
        &self,
        ticket: TicketId,
        event_key: &str,
        repo: &str,
        payload: &P,
    ) -> Result<Intent> {
        let key = event_intent_key(P::KIND, ticket, event_key);
        insert_intent(&self.conn(), &key, ticket, Some(repo), payload, Started::NotYet, OnConflict::Ignore)?;
        Ok(self.intent_by_key(&key)?.expect("intent was just written"))
    }

    /// The unfinished push note of one event of a ticket, if any.
    pub fn push_intent(&self, ticket: TicketId, event_key: &str) -> Result<Option<Intent>> {
        self.intent_by_key(&event_intent_key(IntentKind::PushNote, ticket, event_key))
    }

    /// The keys of the ticket's unfinished push notes (each intent's own key).
    pub fn pending_push_keys(&self, ticket: TicketId) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT key FROM intents WHERE ticket_id = ?1 AND kind = ?2 ORDER BY key")?;
        let keys = st.query_map(params![ticket.0 as i64, IntentKind::PushNote.as_str()], |r| r.get(0))?;
        Ok(keys.collect::<rusqlite::Result<_>>()?)
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
                ts(clock::now()),
                format!("{}_abandoned", kind.as_str()),
                format!("{n} write(s): {why}")
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Re-targets an unfinished create whose route changed (only after reconciling the old repo).
    pub fn retarget_intent(&self, ticket: TicketId, repo: &str, payload: &CreatePayload) -> Result<()> {
        self.conn().execute(
            "UPDATE intents SET repo = ?2, payload = ?3, payload_version = ?4 WHERE key = ?1",
            params![key(IntentKind::CreateIssue, ticket), repo, payload::encode(payload), payload::PAYLOAD_VERSION],
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
            params![ticket.0 as i64, ts(clock::now()), event, comment_id.map(|c| c.to_string())],
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
            params![ticket.0 as i64, ts(clock::now()), format!("{}_abandoned", kind.as_str()), why],
        )?;
        tx.commit()?;
        Ok(())
    }
}

/// Whether a new intent's write is sent right after it is recorded (counted as attempted).
pub(crate) enum Started {
    Now,
    NotYet,
}

/// What writing an intent whose key is taken does.
pub(crate) enum OnConflict {
    /// Keeps the intent there (with its payload and count).
    Ignore,
    /// Fails the write (and the caller's transaction).
    Fail,
}

/// Writes a new intent: its kind is its payload's, its payload in the current version. Returns
/// the number of rows written (0 when the key was taken and ignored).
pub(crate) fn insert_intent<P: Payload>(
    conn: &Connection,
    key: &str,
    ticket: TicketId,
    repo: Option<&str>,
    payload: &P,
    started: Started,
    on_conflict: OnConflict,
) -> rusqlite::Result<usize> {
    let verb = match on_conflict {
        OnConflict::Ignore => "INSERT OR IGNORE",
        OnConflict::Fail => "INSERT",
    };
    let (attempts, attempted_at) = match started {
        Started::Now => (1, "?6"),
        Started::NotYet => (0, "NULL"),
    };
    conn.execute(
        &format!(
            "{verb} INTO intents (key, ticket_id, kind, repo, payload, payload_version, created_at, attempts, attempted_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6, {attempts}, {attempted_at})"
        ),
        params![
            key,
            ticket.0 as i64,
            P::KIND.as_str(),
            repo,
            payload::encode(payload),
            ts(clock::now()),
            payload::PAYLOAD_VERSION
        ],
    )
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
        params![ticket.0 as i64, ts(clock::now()), event, side, remote_id, event_key],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IntentPayload;
    use ticket_sync_core::noteorder::{NoteKind, NoteOrder};

    /// Rows as the previous release (schema 14) wrote them: no payload version.
    const OLD_ROWS: [(&str, i64, &str, &str); 4] = [
        (
            "create_issue:1",
            1,
            "create_issue",
            r#"{"repo":"acme/backend","title":"t","body":"b","labels":["bug"],"ticket_updated_at":"2026-03-04T05:06:07Z"}"#,
        ),
        ("link_note:2", 2, "link_note", r#"{"text":"Escalated.","field":null,"add_tags":[]}"#),
        (
            "push_note:3:gh-event-99",
            3,
            "push_note",
            r#"{"event_key":"gh-event-99","text":"closed","status":"solved","order":[1772600767,1,99],"reopens":false,"add_tags":[],"remove_tags":[],"about_link":false}"#,
        ),
        (
            "forward_comment:4:zd-comment-5",
            4,
            "forward_comment",
            r#"{"event_key":"zd-comment-5","zendesk_comment_id":5,"body":"hi"}"#,
        ),
    ];

    #[test]
    fn intents_waiting_in_a_database_of_the_previous_release_read_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        Store::create_at_version(&path, 14).unwrap();
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for (key, ticket, kind, payload) in OLD_ROWS {
                conn.execute(
                    "INSERT INTO intents (key, ticket_id, kind, repo, payload, created_at, attempts) VALUES (?1, ?2, ?3, 'acme/backend', ?4, '2026-03-04T05:06:07.000Z', 1)",
                    params![key, ticket, kind, payload],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        let intents = store.pending_intents().unwrap();
        assert_eq!(intents.len(), 4);
        for intent in &intents {
            assert_eq!(intent.payload.as_ref().map(IntentPayload::kind), Ok(intent.kind), "{}", intent.key);
        }
        let of = |kind| intents.iter().find(|i| i.kind == kind).unwrap();
        assert_eq!(of(IntentKind::CreateIssue).create_payload().unwrap().labels, ["bug"]);
        assert_eq!(of(IntentKind::LinkNote).note_payload().unwrap().text, "Escalated.");
        let push = of(IntentKind::PushNote).push_payload().unwrap();
        assert_eq!(
            (push.order.kind, push.order.id, push.order.at.utc().timestamp()),
            (NoteKind::Event, 99, 1772600767)
        );
        let forward = of(IntentKind::ForwardComment);
        assert_eq!(forward.forward_payload().unwrap().zendesk_comment_id, TicketCommentId(5));
        assert!(matches!(forward.push_payload(), Err(PayloadError::OtherKind { .. })));
    }

    fn version_of(store: &Store, key: &str) -> i64 {
        store.conn().query_row("SELECT payload_version FROM intents WHERE key = ?1", [key], |r| r.get(0)).unwrap()
    }

    #[test]
    fn new_intents_carry_the_payload_version_and_their_kind_is_their_payloads() {
        let store = Store::open_in_memory().unwrap();
        let create = CreatePayload {
            repo: "acme/backend".parse().unwrap(),
            title: "t".into(),
            body: "b".into(),
            labels: vec![],
            ticket_updated_at: None,
        };
        let (intent, new) = store.begin_intent(TicketId(1), Some("acme/backend"), &create).unwrap();
        assert!(new);
        assert_eq!((intent.kind, intent.create_payload(), intent.attempts), (IntentKind::CreateIssue, Ok(&create), 1));
        let push = PushPayload {
            event_key: "issue-gone".into(),
            text: "gone".into(),
            status: None,
            order: NoteOrder::own(Utc::now()),
            reopens: false,
            add_tags: vec![],
            remove_tags: vec![],
            about_link: false,
            field: None,
            public: false,
        };
        let intent = store.begin_push_intent(TicketId(1), "issue-gone", "acme/backend", &push).unwrap();
        assert_eq!((intent.kind, intent.attempts), (IntentKind::PushNote, 0));
        let stored = intent.push_payload().unwrap();
        assert_eq!(stored.order.at.utc().timestamp(), push.order.at.utc().timestamp(), "whole seconds are kept");
        // An intent recorded again keeps what was stored first.
        let other = PushPayload { text: "another text".into(), ..push.clone() };
        let again = store.begin_push_intent(TicketId(1), "issue-gone", "acme/backend", &other).unwrap();
        assert_eq!(again.push_payload().unwrap().text, "gone");
        let forward = ForwardPayload {
            event_key: "zd-comment-5".into(),
            zendesk_comment_id: TicketCommentId(5),
            body: "hi".into(),
            unreadable: false,
            too_many: false,
        };
        let intent = store.begin_forward_intent(TicketId(1), "zd-comment-5", "acme/backend", &forward).unwrap();
        assert_eq!((intent.kind, intent.forward_payload()), (IntentKind::ForwardComment, Ok(&forward)));
        for intent in store.pending_intents().unwrap() {
            assert_eq!(version_of(&store, &intent.key), payload::PAYLOAD_VERSION, "{}", intent.key);
        }
    }

    #[test]
    fn an_unreadable_payload_is_its_intents_error_and_the_others_still_read() {
        let store = Store::open_in_memory().unwrap();
        let rows = [
            ("push_note:1:a", "push_note", OLD_ROWS[2].3, 2),
            ("push_note:1:b", "push_note", "{not json", 1),
            ("push_note:1:c", "push_note", OLD_ROWS[2].3, 1),
        ];
        for (key, kind, payload, version) in rows {
            store
                .conn()
                .execute(
                    "INSERT INTO intents (key, ticket_id, kind, repo, payload, payload_version, created_at, attempts) VALUES (?1, 1, ?2, 'acme/backend', ?3, ?4, '2026-03-04T05:06:07.000Z', 0)",
                    params![key, kind, payload, version],
                )
                .unwrap();
        }
        let intents = store.pending_intents().expect("unreadable payloads do not fail the read");
        assert_eq!(intents.len(), 3);
        assert_eq!(intents[0].payload, Err(PayloadError::UnknownVersion { kind: IntentKind::PushNote, version: 2 }));
        assert!(matches!(&intents[1].payload, Err(PayloadError::Unreadable { kind: IntentKind::PushNote, .. })));
        assert_eq!(intents[2].push_payload().unwrap().event_key, "gh-event-99");
        let err = store.push_intent(TicketId(1), "a").unwrap().unwrap().push_payload().unwrap_err();
        assert!(err.to_string().contains("upgrade ticket-sync"), "{err}");
    }
}
