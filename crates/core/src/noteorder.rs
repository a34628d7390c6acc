//! The order in which a ticket's notes are written: when the note's change happened, then what
//! kind of note it is, then the id of what it tells of. The push-back planner gives it to the
//! notes GitHub's changes make, the passes to the notes ticket-sync queues itself; a queued
//! note keeps it (`ticket_sync_store::PushPayload::order`) so that notes finished by a later
//! pass are written in the same order.

use chrono::{DateTime, Utc};

use crate::domain::GithubTime;

/// Where a note stands among the notes of its ticket: notes are written by `at`, then `kind`,
/// then `id` (the derived order, field by field).
///
/// `at` is on GitHub's clock for the notes GitHub's changes make (`Comment`, `Event`, `State`:
/// the comment's or the event's `created_at`, the issue's `closed_at` or `updated_at`). Host
/// time enters in one place: the notes ticket-sync queues of its own doing (`Own`, `Link`) are
/// placed at the moment they are queued on the host's clock (`own`, `link_change`), taken as
/// GitHub's. Stored, `at` keeps whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteOrder {
    pub at: GithubTime,
    pub kind: NoteKind,
    /// The comment's or the event's id; 0 for notes that tell of no single GitHub item.
    pub id: u64,
}

/// What a note tells of, which orders notes of the same second. Declared in that order (the
/// derived `Ord`): a comment before the close it led to, GitHub's own notes before
/// ticket-sync's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoteKind {
    /// A new comment on the issue.
    Comment,
    /// A close or reopen event of the issue.
    Event,
    /// The state, when its events did not explain it (they were missed).
    State,
    /// A note of ticket-sync's own doing: the issue is gone, the ticket was escalated again,
    /// the issue was reopened for another linked ticket.
    Own,
    /// A change of the link itself through the link field (linked, moved, unlinked, refused).
    Link,
}

impl NoteOrder {
    /// A note for one GitHub item (a comment or an event) stamped `at` by GitHub.
    pub fn github(at: DateTime<Utc>, kind: NoteKind, id: u64) -> Self {
        NoteOrder { at: GithubTime::stamped(at), kind, id }
    }

    /// A note of ticket-sync's own doing (`NoteKind::Own`), queued at `host_now`.
    pub fn own(host_now: DateTime<Utc>) -> Self {
        Self::queued(host_now, NoteKind::Own)
    }

    /// The note of a link-field change (`NoteKind::Link`), queued at `host_now`.
    pub fn link_change(host_now: DateTime<Utc>) -> Self {
        Self::queued(host_now, NoteKind::Link)
    }

    fn queued(host_now: DateTime<Utc>, kind: NoteKind) -> Self {
        // The host's clock taken as GitHub's: such a note is queued as its change happens, so
        // a skew between the clocks can only move it among GitHub's notes of those few seconds,
        // which tell of changes made at the same moment; its kind puts it after them otherwise.
        NoteOrder { at: GithubTime::assume_host(host_now), kind, id: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn notes_are_ordered_by_time_then_kind_then_id() {
        let t = |s| Utc.timestamp_opt(s, 0).unwrap();
        let mut notes = [
            NoteOrder::own(t(10)),
            NoteOrder::github(t(10), NoteKind::Event, 7),
            NoteOrder::link_change(t(9)),
            NoteOrder::github(t(10), NoteKind::Comment, 8),
            NoteOrder::github(t(10), NoteKind::Comment, 3),
            NoteOrder::github(t(10), NoteKind::State, 0),
        ];
        notes.sort();
        let got: Vec<_> = notes.iter().map(|o| (o.at.utc().timestamp(), o.kind, o.id)).collect();
        assert_eq!(
            got,
            [
                (9, NoteKind::Link, 0),
                (10, NoteKind::Comment, 3),
                (10, NoteKind::Comment, 8),
                (10, NoteKind::Event, 7),
                (10, NoteKind::State, 0),
                (10, NoteKind::Own, 0),
            ]
        );
    }
}
