//! Every intent's payload as it is stored: the one place intent payloads are serialised and read
//! back. The kinds of intent (`IntentKind`, with their stored names) are here too: each kind has
//! its own payload type, and `IntentPayload` has one variant per kind, so a kind and a payload
//! that disagree cannot be written.
//!
//! Versions: the `intents.payload_version` column (schema 15) says how the payload text reads.
//! Rows from before it read as version 1 (the column's default), which is exactly the JSON every
//! earlier release wrote; new rows carry `PAYLOAD_VERSION`. A payload of a version this build
//! does not know, or text it cannot read, is a `PayloadError` on that one intent (never a panic,
//! never a failed read of the others): each caller says what it does with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use ticket_sync_core::domain::{FieldId, RepoName, TicketCommentId, TicketStatus};
use ticket_sync_core::noteorder::NoteOrder;

/// The kinds of intent, each with its stored name; each has its own payload type below.
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

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "create_issue" => Some(IntentKind::CreateIssue),
            "link_note" => Some(IntentKind::LinkNote),
            "push_note" => Some(IntentKind::PushNote),
            "forward_comment" => Some(IntentKind::ForwardComment),
            _ => None,
        }
    }
}

impl std::fmt::Display for IntentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The version new payloads are written in. Version 1: the JSON of the structs below, fields
/// added since the first release optional (`#[serde(default)]`), unknown fields ignored.
/// Change a payload's stored shape only together with a new version and a reader of the old one.
pub(crate) const PAYLOAD_VERSION: i64 = 1;

/// What a create intent carries: enough to create the issue without the ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePayload {
    pub repo: RepoName,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// The ticket's `updated_at` when it was escalated (absent in intents from before schema 8).
    #[serde(default)]
    pub ticket_updated_at: Option<DateTime<Utc>>,
}

/// What a link-note intent carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotePayload {
    pub text: String,
    /// `[linking]`: the field id and the issue's URL written into it in the same update.
    #[serde(default)]
    pub field: Option<(FieldId, String)>,
    #[serde(default)]
    pub add_tags: Vec<String>,
}

/// What a push-note intent carries: the whole write, and its place in the ticket's story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPayload {
    pub event_key: String,
    pub text: String,
    pub status: Option<TicketStatus>,
    /// Notes of one ticket are written in this order. Stored as `[unix seconds, kind, id]`,
    /// as every release before `NoteOrder` wrote it (`order_wire`).
    #[serde(with = "order_wire")]
    pub order: NoteOrder,
    /// The note tells of a reopen ticket-sync itself makes (a re-escalation): it is written
    /// only once that reopen is done, and the push pass makes it if nobody has yet.
    #[serde(default)]
    pub reopens: bool,
    /// `[linking] state_tags`: tags added and removed in the same update.
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
    /// The note tells of a change of the link itself (linked, moved, unlinked, refused): it is
    /// written whatever the link's state.
    #[serde(default)]
    pub about_link: bool,
    /// A ticket field set in the same update: `[fixes] version_field_id` and the release's tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<(FieldId, String)>,
    /// A public reply to the customer (`[fixes] public_reply`) rather than an internal note.
    /// Its text carries no marker (customers read it): an interrupted attempt is recognised by
    /// its whole text, written by ticket-sync's own Zendesk user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public: bool,
}

/// What a forward intent carries: the whole write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardPayload {
    pub event_key: String,
    /// The forwarded comment's id; for a comment too large to read, the id of the comment just
    /// older than it (0 when none is), which places it and names it.
    pub zendesk_comment_id: TicketCommentId,
    pub body: String,
    /// The write says that a comment could not be read, instead of forwarding one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
    /// The write says that more replies came after `zendesk_comment_id` (the forward mark) than
    /// one pass reads, so the oldest of them are not forwarded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub too_many: bool,
}

/// An intent's payload: one variant per `IntentKind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentPayload {
    CreateIssue(CreatePayload),
    LinkNote(NotePayload),
    PushNote(PushPayload),
    ForwardComment(ForwardPayload),
}

/// Why a stored payload cannot be read by this build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Written by a newer ticket-sync, in a version this build does not know.
    #[error("the {kind} payload is of version {version}, newer than this build reads (up to {PAYLOAD_VERSION}); upgrade ticket-sync")]
    UnknownVersion { kind: IntentKind, version: i64 },
    /// Not the JSON of its kind's payload.
    #[error("the {kind} payload cannot be read: {reason}")]
    Unreadable { kind: IntentKind, reason: String },
    /// The payload of another kind than the one asked for.
    #[error("the intent holds a {found} payload, not a {wanted} one")]
    OtherKind { wanted: IntentKind, found: IntentKind },
}

/// A payload type, whose kind its type fixes.
pub(crate) trait Payload: Serialize {
    const KIND: IntentKind;
}

impl Payload for CreatePayload {
    const KIND: IntentKind = IntentKind::CreateIssue;
}

impl Payload for NotePayload {
    const KIND: IntentKind = IntentKind::LinkNote;
}

impl Payload for PushPayload {
    const KIND: IntentKind = IntentKind::PushNote;
}

impl Payload for ForwardPayload {
    const KIND: IntentKind = IntentKind::ForwardComment;
}

/// The text a new payload is stored as (in `PAYLOAD_VERSION`).
pub(crate) fn encode<P: Payload>(payload: &P) -> String {
    // Strings, numbers, lists and times only: serialising cannot fail.
    serde_json::to_string(payload).expect("intent payloads serialise")
}

impl IntentPayload {
    pub fn kind(&self) -> IntentKind {
        match self {
            IntentPayload::CreateIssue(_) => IntentKind::CreateIssue,
            IntentPayload::LinkNote(_) => IntentKind::LinkNote,
            IntentPayload::PushNote(_) => IntentKind::PushNote,
            IntentPayload::ForwardComment(_) => IntentKind::ForwardComment,
        }
    }

    /// Reads a stored payload of `kind` written in `version`.
    pub(crate) fn decode(kind: IntentKind, version: i64, text: &str) -> Result<Self, PayloadError> {
        // Version 1 is the only one so far; a later one adds its reader here and keeps this one.
        if version != 1 {
            return Err(PayloadError::UnknownVersion { kind, version });
        }
        let unreadable = |e: serde_json::Error| PayloadError::Unreadable { kind, reason: e.to_string() };
        Ok(match kind {
            IntentKind::CreateIssue => IntentPayload::CreateIssue(serde_json::from_str(text).map_err(unreadable)?),
            IntentKind::LinkNote => IntentPayload::LinkNote(serde_json::from_str(text).map_err(unreadable)?),
            IntentKind::PushNote => IntentPayload::PushNote(serde_json::from_str(text).map_err(unreadable)?),
            IntentKind::ForwardComment => {
                IntentPayload::ForwardComment(serde_json::from_str(text).map_err(unreadable)?)
            }
        })
    }

    pub(crate) fn other_kind(&self, wanted: IntentKind) -> PayloadError {
        PayloadError::OtherKind { wanted, found: self.kind() }
    }
}

/// `NoteOrder` as releases before it stored the order: `[unix seconds, kind number, id]`.
mod order_wire {
    use chrono::DateTime;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use ticket_sync_core::domain::ServiceTime;
    use ticket_sync_core::noteorder::{NoteKind, NoteOrder};

    /// The stored number of each kind; their order is the kinds' order (a test holds it).
    pub(super) const KINDS: [(NoteKind, u8); 5] =
        [(NoteKind::Comment, 0), (NoteKind::Event, 1), (NoteKind::State, 2), (NoteKind::Own, 3), (NoteKind::Link, 4)];

    pub(super) fn number(kind: NoteKind) -> u8 {
        KINDS.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n).expect("every kind has its number")
    }

    pub fn serialize<S: Serializer>(order: &NoteOrder, s: S) -> Result<S::Ok, S::Error> {
        (order.at.utc().timestamp(), number(order.kind), order.id).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NoteOrder, D::Error> {
        let (secs, n, id) = <(i64, u8, u64)>::deserialize(d)?;
        let at = DateTime::from_timestamp(secs, 0).ok_or_else(|| D::Error::custom(format!("no time: {secs}")))?;
        let kind = (KINDS.iter().find(|(_, k)| *k == n).map(|(kind, _)| *kind))
            .ok_or_else(|| D::Error::custom(format!("unknown note kind {n}")))?;
        // The order was on GitHub's clock (or the host's taken as GitHub's) when it was stored.
        Ok(NoteOrder { at: ServiceTime::stamped(at), kind, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticket_sync_core::domain::ServiceTime;
    use ticket_sync_core::noteorder::NoteKind;

    /// The payload texts earlier releases stored (version 1), each with what it reads as.
    /// Written out as the previous release's serde output, not made by this build, so a change
    /// of a payload type that would misread a waiting intent fails here.
    mod stored {
        pub const CREATE: &str = r#"{"repo":"acme/backend","title":"Login \"fails\" é","body":"Line 1\nLine 2 <!-- ticket-sync:zendesk=42 -->\n","labels":["bug","from-zendesk"],"ticket_updated_at":"2026-03-04T05:06:07Z"}"#;
        pub const CREATE_NO_TIME: &str = r#"{"repo":"acme/backend","title":"Login \"fails\" é","body":"Line 1\nLine 2 <!-- ticket-sync:zendesk=42 -->\n","labels":[],"ticket_updated_at":null}"#;
        pub const CREATE_SUBSECOND: &str = r#"{"repo":"acme/backend","title":"Login \"fails\" é","body":"Line 1\nLine 2 <!-- ticket-sync:zendesk=42 -->\n","labels":[],"ticket_updated_at":"2026-03-04T05:06:07.123456789Z"}"#;
        /// Before schema 8: no `ticket_updated_at`.
        pub const CREATE_FIRST: &str = r#"{"repo":"acme/backend","title":"t","body":"b","labels":["bug"]}"#;
        pub const NOTE: &str = r#"{"text":"Escalated to https://github.com/acme/backend/issues/7\n\n[ticket-sync:link zendesk=42]","field":[360001,"https://github.com/acme/backend/issues/7"],"add_tags":["github_open"]}"#;
        pub const NOTE_NO_FIELD: &str = r#"{"text":"Escalated to https://github.com/acme/backend/issues/7\n\n[ticket-sync:link zendesk=42]","field":null,"add_tags":[]}"#;
        /// Before `[linking]`: the text only.
        pub const NOTE_FIRST: &str = r#"{"text":"Escalated."}"#;
        pub const PUSH_EVENT: &str = r#"{"event_key":"gh-event-99","text":"GitHub issue acme/backend#7 was closed as completed by alice.\n","status":"solved","order":[1772600767,1,99],"reopens":false,"add_tags":["github_closed"],"remove_tags":["github_open"],"about_link":false}"#;
        pub const PUSH_REOPEN: &str = r#"{"event_key":"reescalated-1","text":"Escalated again","status":null,"order":[1772600767,3,0],"reopens":true,"add_tags":[],"remove_tags":[],"about_link":false}"#;
        pub const PUSH_LINK: &str = r#"{"event_key":"field-1772600767","text":"Linked","status":null,"order":[1772600767,4,0],"reopens":false,"add_tags":[],"remove_tags":["github_open","github_closed"],"about_link":true}"#;
        pub const PUSH_COMMENT: &str = r#"{"event_key":"gh-comment-5","text":"x","status":null,"order":[0,0,5],"reopens":false,"add_tags":[],"remove_tags":[],"about_link":false}"#;
        pub const PUSH_STATE: &str = r#"{"event_key":"gh-state-7-closed-1772600767","text":"y","status":"solved","order":[1772600767,2,0],"reopens":false,"add_tags":[],"remove_tags":[],"about_link":false}"#;
        /// Before re-escalation, state tags and linking: no `reopens`, tags or `about_link`.
        pub const PUSH_FIRST: &str =
            r#"{"event_key":"gh-event-99","text":"closed","status":"solved","order":[1772600767,1,99]}"#;
        pub const FORWARD: &str = r#"{"event_key":"zd-comment-123","zendesk_comment_id":123,"body":"**Ann** wrote on the Zendesk ticket:\n\nhi\n\n<!-- ticket-sync:forwarded zendesk-comment=123 -->\n"}"#;
        pub const FORWARD_UNREADABLE: &str = r#"{"event_key":"zd-comment-unreadable-after-122","zendesk_comment_id":122,"body":"too large","unreadable":true}"#;
        pub const FORWARD_TOO_MANY: &str =
            r#"{"event_key":"zd-comments-not-read-after-100","zendesk_comment_id":100,"body":"flood","too_many":true}"#;
    }

    fn time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn order(secs: i64, kind: NoteKind, id: u64) -> NoteOrder {
        NoteOrder { at: ServiceTime::stamped(DateTime::from_timestamp(secs, 0).unwrap()), kind, id }
    }

    fn read(kind: IntentKind, text: &str) -> IntentPayload {
        IntentPayload::decode(kind, 1, text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn create(text: &str) -> CreatePayload {
        match read(IntentKind::CreateIssue, text) {
            IntentPayload::CreateIssue(p) => p,
            other => panic!("{other:?}"),
        }
    }

    fn note(text: &str) -> NotePayload {
        match read(IntentKind::LinkNote, text) {
            IntentPayload::LinkNote(p) => p,
            other => panic!("{other:?}"),
        }
    }

    fn push(text: &str) -> PushPayload {
        match read(IntentKind::PushNote, text) {
            IntentPayload::PushNote(p) => p,
            other => panic!("{other:?}"),
        }
    }

    fn forward(text: &str) -> ForwardPayload {
        match read(IntentKind::ForwardComment, text) {
            IntentPayload::ForwardComment(p) => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_payloads_of_earlier_releases_read_as_they_were_written() {
        let p = create(stored::CREATE);
        assert_eq!(p.repo.to_string(), "acme/backend");
        assert_eq!(p.title, "Login \"fails\" é");
        assert_eq!(p.body, "Line 1\nLine 2 <!-- ticket-sync:zendesk=42 -->\n");
        assert_eq!(p.labels, ["bug", "from-zendesk"]);
        assert_eq!(p.ticket_updated_at, Some(time("2026-03-04T05:06:07Z")));
        assert_eq!(create(stored::CREATE_NO_TIME).ticket_updated_at, None);
        assert_eq!(create(stored::CREATE_SUBSECOND).ticket_updated_at, Some(time("2026-03-04T05:06:07.123456789Z")));
        let first = create(stored::CREATE_FIRST);
        assert_eq!((first.title.as_str(), first.body.as_str(), first.ticket_updated_at), ("t", "b", None));
    }

    #[test]
    fn link_note_payloads_of_earlier_releases_read_as_they_were_written() {
        let p = note(stored::NOTE);
        assert_eq!(p.text, "Escalated to https://github.com/acme/backend/issues/7\n\n[ticket-sync:link zendesk=42]");
        assert_eq!(p.field, Some((FieldId(360001), "https://github.com/acme/backend/issues/7".to_string())));
        assert_eq!(p.add_tags, ["github_open"]);
        let none = note(stored::NOTE_NO_FIELD);
        assert_eq!((none.field, none.add_tags.len()), (None, 0));
        let first = note(stored::NOTE_FIRST);
        assert_eq!((first.text.as_str(), first.field, first.add_tags.len()), ("Escalated.", None, 0));
    }

    #[test]
    fn push_payloads_of_earlier_releases_read_as_they_were_written() {
        let p = push(stored::PUSH_EVENT);
        assert_eq!(p.event_key, "gh-event-99");
        assert_eq!(p.text, "GitHub issue acme/backend#7 was closed as completed by alice.\n");
        assert_eq!(p.status.as_ref().map(TicketStatus::as_str), Some("solved"));
        assert_eq!(p.order, order(1772600767, NoteKind::Event, 99));
        assert_eq!((p.reopens, p.about_link), (false, false));
        assert_eq!((p.add_tags, p.remove_tags), (vec!["github_closed".to_string()], vec!["github_open".to_string()]));
        let reopen = push(stored::PUSH_REOPEN);
        assert_eq!((reopen.order, reopen.reopens, reopen.status), (order(1772600767, NoteKind::Own, 0), true, None));
        let link = push(stored::PUSH_LINK);
        assert_eq!((link.order, link.about_link), (order(1772600767, NoteKind::Link, 0), true));
        assert_eq!(link.remove_tags, ["github_open", "github_closed"]);
        assert_eq!(push(stored::PUSH_COMMENT).order, order(0, NoteKind::Comment, 5));
        assert_eq!(push(stored::PUSH_STATE).order, order(1772600767, NoteKind::State, 0));
        let first = push(stored::PUSH_FIRST);
        assert_eq!(first.order, order(1772600767, NoteKind::Event, 99));
        assert_eq!(
            (first.reopens, first.about_link, first.add_tags.len(), first.remove_tags.len()),
            (false, false, 0, 0)
        );
    }

    #[test]
    fn forward_payloads_of_earlier_releases_read_as_they_were_written() {
        let p = forward(stored::FORWARD);
        assert_eq!((p.event_key.as_str(), p.zendesk_comment_id), ("zd-comment-123", TicketCommentId(123)));
        assert!(p.body.ends_with("<!-- ticket-sync:forwarded zendesk-comment=123 -->\n"));
        assert_eq!((p.unreadable, p.too_many), (false, false));
        let unreadable = forward(stored::FORWARD_UNREADABLE);
        assert_eq!(
            (unreadable.zendesk_comment_id, unreadable.unreadable, unreadable.too_many),
            (TicketCommentId(122), true, false)
        );
        let flood = forward(stored::FORWARD_TOO_MANY);
        assert_eq!((flood.zendesk_comment_id, flood.unreadable, flood.too_many), (TicketCommentId(100), false, true));
    }

    /// A payload read and written again is the very text the previous release wrote: the
    /// stored form (the order's `[seconds, kind, id]` included) did not change.
    #[test]
    fn payloads_are_written_exactly_as_the_previous_release_wrote_them() {
        for (kind, text) in [
            (IntentKind::CreateIssue, stored::CREATE),
            (IntentKind::CreateIssue, stored::CREATE_NO_TIME),
            (IntentKind::CreateIssue, stored::CREATE_SUBSECOND),
            (IntentKind::LinkNote, stored::NOTE),
            (IntentKind::LinkNote, stored::NOTE_NO_FIELD),
            (IntentKind::PushNote, stored::PUSH_EVENT),
            (IntentKind::PushNote, stored::PUSH_REOPEN),
            (IntentKind::PushNote, stored::PUSH_LINK),
            (IntentKind::PushNote, stored::PUSH_COMMENT),
            (IntentKind::PushNote, stored::PUSH_STATE),
            (IntentKind::ForwardComment, stored::FORWARD),
            (IntentKind::ForwardComment, stored::FORWARD_UNREADABLE),
            (IntentKind::ForwardComment, stored::FORWARD_TOO_MANY),
        ] {
            let again = match read(kind, text) {
                IntentPayload::CreateIssue(p) => encode(&p),
                IntentPayload::LinkNote(p) => encode(&p),
                IntentPayload::PushNote(p) => encode(&p),
                IntentPayload::ForwardComment(p) => encode(&p),
            };
            assert_eq!(again, text);
        }
    }

    #[test]
    fn every_variant_reads_back_as_it_was_written() {
        let payloads = [
            IntentPayload::CreateIssue(CreatePayload {
                repo: "Acme/Backend".parse().unwrap(),
                title: "A \"title\" ✓".into(),
                body: "body\n<!-- ticket-sync:zendesk=1 -->".into(),
                labels: vec!["bug".into()],
                ticket_updated_at: Some(time("2026-01-02T03:04:05.678Z")),
            }),
            IntentPayload::LinkNote(NotePayload {
                text: "note".into(),
                field: Some((FieldId(9), "https://github.com/acme/backend/issues/1".into())),
                add_tags: vec!["github_open".into()],
            }),
            IntentPayload::PushNote(PushPayload {
                event_key: "issue-gone".into(),
                text: "gone".into(),
                status: Some("open".into()),
                order: order(1_700_000_000, NoteKind::Own, 0),
                reopens: true,
                add_tags: vec!["github_open".into()],
                remove_tags: vec!["github_closed".into()],
                about_link: true,
                field: None,
                public: false,
            }),
            IntentPayload::ForwardComment(ForwardPayload {
                event_key: "zd-comment-7".into(),
                zendesk_comment_id: TicketCommentId(7),
                body: "hello".into(),
                unreadable: true,
                too_many: true,
            }),
        ];
        for payload in payloads {
            let text = match &payload {
                IntentPayload::CreateIssue(p) => encode(p),
                IntentPayload::LinkNote(p) => encode(p),
                IntentPayload::PushNote(p) => encode(p),
                IntentPayload::ForwardComment(p) => encode(p),
            };
            let back = IntentPayload::decode(payload.kind(), PAYLOAD_VERSION, &text).unwrap();
            assert_eq!(back, payload);
            if let (IntentPayload::CreateIssue(a), IntentPayload::CreateIssue(b)) = (&back, &payload) {
                assert_eq!(a.repo.to_string(), b.repo.to_string(), "the spelling is kept");
            }
        }
    }

    #[test]
    fn every_note_kind_keeps_its_stored_number_and_their_order() {
        let kinds: Vec<NoteKind> = order_wire::KINDS.iter().map(|(k, _)| *k).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted, "the numbers order the kinds as NoteKind does");
        for (i, (kind, n)) in order_wire::KINDS.iter().enumerate() {
            assert_eq!((*n as usize, order_wire::number(*kind)), (i, *n));
        }
    }

    #[test]
    fn a_payload_of_an_unknown_version_is_an_error_that_says_to_upgrade() {
        let err = IntentPayload::decode(IntentKind::PushNote, 2, stored::PUSH_EVENT).unwrap_err();
        assert_eq!(err, PayloadError::UnknownVersion { kind: IntentKind::PushNote, version: 2 });
        assert!(err.to_string().contains("push_note payload is of version 2"), "{err}");
        assert!(err.to_string().contains("upgrade ticket-sync"), "{err}");
        assert!(IntentPayload::decode(IntentKind::CreateIssue, 0, stored::CREATE).is_err());
    }

    #[test]
    fn garbage_or_another_kinds_payload_is_an_error_not_a_panic() {
        for (kind, text, says) in [
            (IntentKind::CreateIssue, "", "EOF"),
            (IntentKind::LinkNote, "not json", "expected"),
            (IntentKind::CreateIssue, stored::PUSH_EVENT, "missing field `repo`"),
            (IntentKind::ForwardComment, "[1,2,3]", "invalid type"),
            (
                IntentKind::PushNote,
                r#"{"event_key":"k","text":"t","status":null,"order":[1,9,0]}"#,
                "unknown note kind 9",
            ),
            (IntentKind::PushNote, r#"{"event_key":"k","text":"t","status":null,"order":[1,-1,0]}"#, "invalid value"),
            (
                IntentKind::PushNote,
                r#"{"event_key":"k","text":"t","status":null,"order":[9223372036854775807,0,0]}"#,
                "no time",
            ),
            (IntentKind::CreateIssue, r#"{"repo":"no-slash","title":"t","body":"b","labels":[]}"#, "repo"),
        ] {
            match IntentPayload::decode(kind, 1, text) {
                Err(e @ PayloadError::Unreadable { .. }) => {
                    let message = e.to_string();
                    assert!(message.starts_with(&format!("the {kind} payload cannot be read: ")), "{message}");
                    assert!(message.contains(says), "{text}: {message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
