//! The re-escalation rule: a linked ticket that loses its escalation match and later matches
//! again, while its issue is closed, reopens that issue instead of getting a second one.

use tracing::info;

use super::{notes, Engine, ItemError, PassReport};
use ticket_sync_core::domain::{Mapping, Ticket};
use ticket_sync_core::escplan::Reescalation;
use ticket_sync_core::eventkey::EventKey;
use ticket_sync_core::notetext;
use ticket_sync_store::IntentKind;

/// Carries out the re-escalation rule's step for a linked ticket (`escplan` decides it): a
/// ticket seen without its escalation tags and later with them again, while its issue is
/// closed, reopens that issue (and gets one note) instead of getting a second issue. Losing the
/// tags alone never unlinks a ticket. A dry run changes nothing here.
pub(super) async fn apply(
    engine: &Engine,
    ticket: &Ticket,
    m: &Mapping,
    rule: Reescalation,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    if engine.dry_run {
        return Ok(());
    }
    match rule {
        Reescalation::LostMatch => engine.store.set_escalation_lost(ticket.id, true)?,
        Reescalation::MatchesAgain => engine.store.set_escalation_lost(ticket.id, false)?,
        Reescalation::AfterUnlink => {
            // Tagged again after an agent unlinked it: one note says why nothing more happens.
            let key = EventKey::retagged(ticket.updated_at);
            let text = notetext::escalated_after_unlink(m, &key);
            notes::note_once(engine, m, &key, &text, notes::Tells::Link, report).await?;
            engine.store.set_escalation_lost(ticket.id, false)?;
            info!("escalated again after an agent unlinked it: not escalated, the ticket says why");
        }
        Reescalation::Reopen => return reopen(engine, ticket, m, report).await,
    }
    Ok(())
}

/// Reopens the closed issue of a ticket escalated again, then writes the one note that says so.
async fn reopen(engine: &Engine, ticket: &Ticket, m: &Mapping, report: &mut PassReport) -> Result<(), ItemError> {
    tracing::Span::current().record("repo", tracing::field::display(&m.repo));
    tracing::Span::current().record("issue_number", m.issue_number.0);
    report.escalated += 1;
    let key = EventKey::Reescalated(engine.store.reopen_count(ticket.id)? + 1);
    let text = notetext::reescalated_note(m, &key);
    // The note's intent first, marked as telling of a reopen: if the process dies, or the
    // reopen fails in passing, the push pass reopens the issue itself before writing it, and
    // never writes it while the issue stays closed.
    let (intent, _) = notes::queue_note(engine, m, &key, &text, notes::Tells::Reopen)?;
    if let Err(e) = engine.github.reopen_issue(&m.repo, m.issue_number).await {
        // A refusal (not a passing failure) means the issue stays closed: the note would be untrue.
        if !e.is_retryable() && !matches!(e, ticket_sync_clients::http::ApiError::Moved { .. }) {
            let why = format!("the issue could not be reopened: {e}");
            engine.store.abandon_intent_key(IntentKind::PushNote, ticket.id, &intent.key, &why)?;
        }
        return Err(e.into());
    }
    notes::record_reopen(engine, m, &key)?;
    info!("re-escalated: the closed issue was reopened");
    notes::note_once(engine, m, &key, &text, notes::Tells::Issue, report).await
}
