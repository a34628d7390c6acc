//! Writing one Zendesk note exactly once, shared by the link note and the push-back notes.
//!
//! The caller has a durable intent. Before the write its attempt count is raised (durably);
//! a retry of an intent that was attempted before first reads the ticket's recent comments and
//! looks for the note's marker on a note ticket-sync's own Zendesk user wrote, so a crash
//! between the write and the ledger never duplicates.

use tracing::{info, warn};

use super::{Engine, ItemError};
use crate::crashpoint;
use ticket_sync_clients::github::ends_with_marker;
use ticket_sync_clients::http::ApiError;
use ticket_sync_clients::zendesk::TicketComment;
use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::{FieldId, TicketCommentId, TicketId, TicketStatus, TicketUpdate};
use ticket_sync_core::notetext;
use ticket_sync_store::Intent;

/// Pages of recent ticket comments (100 each) searched for the marker of an earlier attempt.
const RECENT_PAGES: usize = 10;

/// What one note write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoteOutcome {
    /// Written now; the comment id when Zendesk's audit reports it.
    Written(Option<TicketCommentId>),
    /// An interrupted attempt had written it already.
    Found(TicketCommentId),
    /// The ticket is closed and can take no more updates (Zendesk's 422), or was deleted
    /// (404): the link ends in this state.
    TicketEnded(LinkState),
}

/// One note to write: the text ends with `marker`, which nothing else on the ticket carries.
pub(super) struct Note<'a> {
    pub ticket: TicketId,
    pub text: &'a str,
    pub marker: &'a str,
    pub status: Option<&'a TicketStatus>,
    /// The `[linking]` field set in the same update.
    pub field: Option<(FieldId, &'a str)>,
    /// State tags added and removed once the note is there (through the Tags endpoints).
    pub add_tags: &'a [&'a str],
    pub remove_tags: &'a [&'a str],
    /// A public reply to the customer (`[fixes] public_reply`): it carries no marker, and an
    /// earlier attempt is recognised by its whole text instead.
    pub public: bool,
    /// Crash points around the write, for the crash tests (`before_…`, `after_…`).
    pub crash_before: &'static str,
    pub crash_after: &'static str,
}

/// Writes `note` for `intent` unless an earlier attempt did; records nothing but the attempt.
/// `fresh`: the intent was recorded just now, already counted as attempted, so there is
/// nothing to look for and nothing more to record before the write.
pub(super) async fn write_once(
    engine: &Engine,
    intent: &Intent,
    note: &Note<'_>,
    fresh: bool,
) -> Result<NoteOutcome, ItemError> {
    let outcome = write_note(engine, intent, note, fresh).await?;
    if let NoteOutcome::Written(_) | NoteOutcome::Found(_) = outcome {
        change_tags(engine, note).await?;
    }
    Ok(outcome)
}

/// The state tags that go with the note, once it is there (written now, or found from an
/// interrupted attempt). Adding and removing tags are deltas, so a retry after a failure here
/// (the note is then found, not written again) sends them again harmlessly.
async fn change_tags(engine: &Engine, note: &Note<'_>) -> Result<(), ItemError> {
    if note.add_tags.is_empty() && note.remove_tags.is_empty() {
        return Ok(());
    }
    match engine.zendesk.change_tags(note.ticket, note.add_tags, note.remove_tags).await {
        // A ticket closed or deleted since the note: its tags are no one's concern any more,
        // and the next note about it ends the link.
        Err(ApiError::TicketClosed { .. } | ApiError::TicketDeleted { .. }) => Ok(()),
        other => Ok(other?),
    }
}

async fn write_note(engine: &Engine, intent: &Intent, note: &Note<'_>, fresh: bool) -> Result<NoteOutcome, ItemError> {
    if fresh {
        return send(engine, note).await;
    }
    if intent.attempts > 0 {
        let comments = match engine.zendesk.recent_comments(note.ticket, RECENT_PAGES).await {
            Err(ApiError::TicketDeleted { .. }) => return Ok(NoteOutcome::TicketEnded(LinkState::TicketDeleted)),
            other => other?,
        };
        // Only ticket-sync's own note counts: a customer can quote the marker in their text.
        let me = super::identity::zendesk_identity(engine).await?;
        // The same words may have been sent before (an earlier release's reply from a template
        // without its tag): a reply an earlier, finished write made is not this one's.
        let earlier = if note.public { engine.store.pushed_comment_ids(note.ticket)? } else { Vec::new() };
        let own = |c: &&TicketComment| {
            me.wrote(c.author_id)
                && if note.public {
                    c.public && !earlier.contains(&c.id) && same_words(&c.body, note.text)
                } else {
                    ends_with_marker(&c.body, note.marker)
                }
        };
        if let Some(c) = comments.iter().find(own) {
            info!(comment_id = c.id.0, "note was already written by an interrupted attempt");
            return Ok(NoteOutcome::Found(c.id));
        }
    }
    super::may_write_again(engine, intent)?;
    engine.store.intent_attempt_key(&intent.key)?;
    send(engine, note).await
}

async fn send(engine: &Engine, note: &Note<'_>) -> Result<NoteOutcome, ItemError> {
    crashpoint::hit(note.crash_before);
    let mut update = TicketUpdate { note: note.text, public: note.public, status: note.status, field: note.field };
    let mut sent = engine.zendesk.update_ticket(note.ticket, &update).await;
    let without_status;
    if let (Err(ApiError::StatusRefused { fields, .. }), Some(status)) = (&sent, note.status) {
        // Zendesk refused the whole update (nothing was written) because of the status alone,
        // typically fields required before solving. The note still goes, without the status
        // and saying so; later notes do not queue behind a status nobody can set.
        warn!(status = status.as_str(), refused = %fields.join("; "), "Zendesk refused the status; the note is written without it");
        without_status = notetext::without_status(note.text, status, fields);
        update.note = &without_status;
        update.status = None;
        sent = engine.zendesk.update_ticket(note.ticket, &update).await;
    }
    let refused_field = match (&sent, update.field) {
        (Err(ApiError::Api { status: 422, .. }), Some((field, value))) => Some((field, value)),
        _ => None,
    };
    let without_field;
    if let Some((field, value)) = refused_field {
        // Zendesk refused the whole update, perhaps for the field's value alone (a field that
        // validates its values): sent once more without it, saying so. A refusal for another
        // reason answers the same again.
        warn!(field = field.0, "Zendesk refused the update with the field; the note is written without it");
        without_field = notetext::without_field(update.note, field, value);
        update.note = &without_field;
        update.field = None;
        sent = engine.zendesk.update_ticket(note.ticket, &update).await;
    }
    match sent {
        Ok(comment_id) => {
            crashpoint::hit(note.crash_after);
            Ok(NoteOutcome::Written(comment_id))
        }
        Err(ApiError::TicketClosed { .. }) => Ok(NoteOutcome::TicketEnded(LinkState::TicketClosed)),
        Err(ApiError::TicketDeleted { .. }) => Ok(NoteOutcome::TicketEnded(LinkState::TicketDeleted)),
        Err(e) => Err(e.into()),
    }
}

/// Whether a comment's text is `text`, whitespace aside (Zendesk's plain `body` of a comment
/// may break its lines otherwise than they were sent).
fn same_words(body: &str, text: &str) -> bool {
    body.split_whitespace().eq(text.split_whitespace())
}
