//! The notes every pass writes on tickets, exactly once: queued push-back notes (and the
//! re-escalation note that waits for its reopen), one-off notes no GitHub event carries, and
//! the end of a link whose issue is gone; and the loop that finishes any pass's queued writes
//! (`resume_queued`). Passes share these through this module and never import each other.

use std::collections::BTreeSet;

use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::note::{write_once, Note, NoteOutcome};
use super::{settle, Engine, ItemError, PassError, PassReport};
use ticket_sync_clients::http::ApiError;
use ticket_sync_core::clock;
use ticket_sync_core::domain::{LinkState, Mapping};
use ticket_sync_core::domain::{Stage, TicketId};
use ticket_sync_core::eventkey::EventKey;
use ticket_sync_core::noteorder::NoteOrder;
use ticket_sync_core::notetext::{self, Gone};
use ticket_sync_store::{Intent, IntentKind, PayloadError, PushPayload};

/// The tag a linked ticket carries while its issue is open (`[linking] state_tags`).
pub(super) const TAG_OPEN: &str = "github_open";
/// The tag a linked ticket carries while its issue is closed.
pub(super) const TAG_CLOSED: &str = "github_closed";

/// The state tags to add and remove with a note that tells the issue is now closed
/// (`Some(true)`), open (`Some(false)`), or that the ticket is no longer linked (`None`);
/// nothing unless `[linking] state_tags` is on.
pub(super) fn state_tags(engine: &Engine, closed: Option<bool>) -> (Vec<String>, Vec<String>) {
    if !engine.rules.linking.as_ref().is_some_and(|l| l.state_tags) {
        return (Vec::new(), Vec::new());
    }
    let (add, remove): (&[&str], &[&str]) = match closed {
        Some(true) => (&[TAG_CLOSED], &[TAG_OPEN]),
        Some(false) => (&[TAG_OPEN], &[TAG_CLOSED]),
        None => (&[], &[TAG_OPEN, TAG_CLOSED]),
    };
    (add.iter().map(|t| t.to_string()).collect(), remove.iter().map(|t| t.to_string()).collect())
}

impl Queued for PushPayload {
    const KIND: IntentKind = IntentKind::PushNote;
    type Order = NoteOrder;
    fn order(&self) -> Self::Order {
        self.order
    }
    fn of(intent: &Intent) -> Result<&Self, PayloadError> {
        intent.push_payload()
    }
}

/// How one note ended.
pub(super) enum Pushed {
    Done,
    TicketClosed,
}

/// What a note no GitHub event carries tells of, which decides when it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tells {
    /// Something about the issue (it is gone, the ticket was escalated again): only to a
    /// ticket still linked to it.
    Issue,
    /// A reopen ticket-sync makes itself: written only once that reopen is done (see
    /// `PushPayload::reopens`).
    Reopen,
    /// Something about the link itself: written whatever the link's state.
    Link,
}

/// Records the intent of a note that no GitHub event carries; the push pass finishes it if
/// the caller cannot. Returns the intent as stored (an earlier one keeps its payload).
pub(super) fn queue_note(
    engine: &Engine,
    m: &Mapping,
    event_key: &EventKey,
    text: &str,
    tells: Tells,
) -> Result<(Intent, PushPayload), ItemError> {
    let reopens = tells == Tells::Reopen;
    let (add_tags, remove_tags) = if reopens { state_tags(engine, Some(false)) } else { Default::default() };
    let event_key = event_key.to_string();
    let payload = PushPayload {
        event_key: event_key.clone(),
        text: text.into(),
        status: None,
        order: NoteOrder::own(clock::now()),
        reopens,
        add_tags,
        remove_tags,
        about_link: tells == Tells::Link,
        field: None,
        public: false,
    };
    let intent = engine.store.begin_push_intent(m.ticket_id, &event_key, &m.repo.to_string(), &payload)?;
    let payload = match intent.push_payload() {
        // An earlier intent keeps its payload.
        Ok(stored) => stored.clone(),
        // One this build cannot read gives way to the note made just now (as it always has).
        Err(_) => payload,
    };
    Ok((intent, payload))
}

/// Writes one note that no GitHub event carries (the issue is gone, the ticket re-escalated,
/// tagged again after an unlink) exactly once.
pub(super) async fn note_once(
    engine: &Engine,
    m: &Mapping,
    event_key: &EventKey,
    text: &str,
    tells: Tells,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    if engine.store.push_note_done(m.ticket_id, &event_key.to_string())? {
        return Ok(());
    }
    let (intent, payload) = queue_note(engine, m, event_key, text, tells)?;
    push_note(engine, &intent, &payload, report).await.map(|_| ())
}

/// Writes one queued note exactly once and records it; a closed ticket ends its link.
pub(super) async fn push_note(
    engine: &Engine,
    intent: &Intent,
    p: &PushPayload,
    report: &mut PassReport,
) -> Result<Pushed, ItemError> {
    let id = intent.ticket_id;
    // A note about the issue goes only to a ticket still linked to it; one about the link
    // itself (linked, moved, unlinked, refused) goes whatever the link's state.
    if !p.about_link && engine.store.mapping(id)?.is_none_or(|m| m.link_state != LinkState::Active) {
        engine.store.abandon_intent_key(IntentKind::PushNote, id, &intent.key, "the link is no longer active")?;
        return Ok(Pushed::Done);
    }
    if p.reopens && !engine.store.reopened(id, &p.event_key)? && !finish_reopen(engine, intent, p).await? {
        return Ok(Pushed::Done);
    }
    // The key as it was stored: the marker is the one an earlier attempt wrote.
    let Ok(key) = p.event_key.parse::<EventKey>();
    let marker = notetext::push_note_marker(&key);
    let status = p.status.as_ref();
    let add: Vec<&str> = p.add_tags.iter().map(String::as_str).collect();
    let remove: Vec<&str> = p.remove_tags.iter().map(String::as_str).collect();
    let note = Note {
        ticket: id,
        text: &p.text,
        marker: &marker,
        status,
        field: p.field.as_ref().map(|(id, value)| (*id, value.as_str())),
        add_tags: &add,
        remove_tags: &remove,
        public: p.public,
        crash_before: "before_push_note",
        crash_after: "after_push_note",
    };
    match write_once(engine, intent, &note, false).await? {
        NoteOutcome::Written(comment_id) => {
            engine.store.record_push_note(id, &intent.key, &p.event_key, comment_id, false)?;
            report.pushed += 1;
            info!(ticket_id = id.0, repo = intent.repo.as_deref().unwrap_or_default(), event = %p.event_key, "note pushed");
            Ok(Pushed::Done)
        }
        NoteOutcome::Found(comment_id) => {
            engine.store.record_push_note(id, &intent.key, &p.event_key, Some(comment_id), true)?;
            Ok(Pushed::Done)
        }
        NoteOutcome::TicketEnded(state) => {
            warn!(link = state.as_str(), "the Zendesk ticket is closed or deleted and takes no more notes; its link ends and is skipped from now on");
            engine.store.set_link_state(id, state)?;
            engine.store.abandon_push_intents(id, state.as_str())?;
            report.skipped += 1;
            Ok(Pushed::TicketClosed)
        }
    }
}

/// Records the reopen ticket-sync made for a re-escalated ticket, and queues one note for
/// every other ticket linked to the issue: the issue's own event is ticket-sync's and never
/// mirrored, so this is how they hear of it (each exactly once, with the reopen status).
pub(super) fn record_reopen(engine: &Engine, m: &Mapping, reopen: &EventKey) -> Result<(), ItemError> {
    let issue = format!("{}#{}", m.repo, m.issue_number);
    let event_key = reopen.to_string();
    if engine.store.reopened(m.ticket_id, &event_key)? {
        // Recorded, and its notes queued, before.
        return Ok(());
    }
    // The other tickets' notes are queued before the reopen is recorded, so a crash between
    // the two queues them again under the same keys: nothing doubles.

    let status = engine.rules.pushback.reopened.status();
    let (add_tags, remove_tags) = state_tags(engine, Some(false));
    for other in engine.store.issue_links(&m.repo, m.issue_number)? {
        let other = other.0;
        if other.ticket_id == m.ticket_id || other.link_state != LinkState::Active {
            continue;
        }
        let key = EventKey::reopened_for(m.ticket_id, reopen.clone());
        let text = notetext::reopened_for_note(m, status.as_ref(), &key);
        let key = key.to_string();
        let payload = PushPayload {
            event_key: key.clone(),
            text,
            status: status.clone(),
            order: NoteOrder::own(clock::now()),
            reopens: false,
            add_tags: add_tags.clone(),
            remove_tags: remove_tags.clone(),
            about_link: false,
            field: None,
            public: false,
        };
        if !engine.store.push_note_done(other.ticket_id, &key)? {
            engine.store.begin_push_intent(other.ticket_id, &key, &other.repo.to_string(), &payload)?;
        }
    }
    engine.store.record_reopened(m.ticket_id, &issue, &event_key)?;
    Ok(())
}

/// Makes the reopen a re-escalation note tells of, before the note is written. False when the
/// note must not be written (GitHub refused the reopen, or the link ended): it is dropped.
async fn finish_reopen(engine: &Engine, intent: &Intent, p: &PushPayload) -> Result<bool, ItemError> {
    let id = intent.ticket_id;
    let Some(m) = engine.store.mapping(id)?.filter(|m| m.link_state == LinkState::Active) else {
        engine.store.abandon_intent_key(IntentKind::PushNote, id, &intent.key, "the link is no longer active")?;
        return Ok(false);
    };
    match engine.github.reopen_issue(&m.repo, m.issue_number).await {
        Ok(()) => {
            // The key of the re-escalation the note tells of, as it was stored.
            let Ok(reopen) = p.event_key.parse::<EventKey>();
            record_reopen(engine, &m, &reopen)?;
            info!("re-escalated: the closed issue was reopened");
            Ok(true)
        }
        // Transferred: the audit moves the link, then the reopen goes where the issue is.
        Err(e) if e.is_retryable() || matches!(e, ApiError::Moved { .. }) => Err(e.into()),
        Err(e) => {
            let why = format!("the issue could not be reopened: {e}");
            warn!("{why}; the note that would announce it is dropped");
            engine.store.abandon_intent_key(IntentKind::PushNote, id, &intent.key, &why)?;
            Ok(false)
        }
    }
}

/// What a linked issue's 404 turned out to be (`issue_not_found`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missing {
    /// The repository answers and the issue still does not: its links were ended.
    Ended,
    /// The issue answers again: the 404 was passing, and nothing was ended.
    Back,
    /// The repository itself answers 404 (or 403): nothing was ended, and every other issue
    /// of the repository would answer the same.
    RepoOutOfSight,
}

/// A 404 for a linked issue (`links`: every ticket linked to it): deleted, or no longer
/// visible? GitHub answers 404 both for an issue deleted or moved where the token may not
/// follow and for everything in a repository the token can no longer see (deleted, access
/// removed, a lapsed SSO authorisation). Only when the repository itself is still visible and
/// the issue, read once more, still answers 404 are the links ended; a deleted repository can
/// be restored and access granted again, so a repository's 404 ends nothing.
pub(super) async fn issue_not_found(
    engine: &Engine,
    links: &[Mapping],
    report: &mut PassReport,
) -> Result<Missing, ItemError> {
    let Some(first) = links.first() else { return Ok(Missing::Back) };
    match engine.github.get_repo(&first.repo).await {
        Ok(_) => {}
        Err(ApiError::NotFound { .. } | ApiError::Forbidden { .. }) => return Ok(Missing::RepoOutOfSight),
        Err(e) => return Err(e.into()),
    }
    // The repository answers, but it may have come back only after the issue's 404 (an outage,
    // access being granted again): only a second 404 says the issue itself is gone.
    let why = match engine.github.get_issue(&first.repo, first.issue_number).await {
        Err(ApiError::NotFound { .. }) => Gone::DeletedOrOutOfSight,
        Err(ApiError::Gone { .. }) => Gone::Deleted,
        // It answers, or redirects (a transfer the audit follows): nothing is ended.
        Ok(_) | Err(ApiError::Moved { .. }) => return Ok(Missing::Back),
        Err(e) => return Err(e.into()),
    };
    for m in links {
        issue_gone(engine, m, why, report).await?;
    }
    Ok(Missing::Ended)
}

/// The failure of an item whose repository ticket-sync can no longer see.
pub(super) fn repo_out_of_sight(repo: &ticket_sync_core::domain::RepoName) -> ItemError {
    ItemError::Refused(format!(
        "ticket-sync can no longer see repository {repo} (deleted, token access removed, or its SSO authorisation lapsed?); the link is kept and tried again"
    ))
}

/// Ends a link whose issue is gone: one note on the ticket, the mapping marked, queued forwards dropped.
pub(super) async fn issue_gone(
    engine: &Engine,
    m: &Mapping,
    why: Gone,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    warn!(issue = %format!("{}#{}", m.repo, m.issue_number), "the linked issue {why}; the link is ended");
    let text = notetext::issue_gone_note(m, why);
    note_once(engine, m, &EventKey::IssueGone, &text, Tells::Issue, report).await?;
    engine.store.set_link_state(m.ticket_id, LinkState::IssueGone)?;
    engine.store.abandon_event_intents(IntentKind::ForwardComment, m.ticket_id, "the issue is gone")?;
    Ok(())
}

/// Ends a link whose Zendesk ticket was deleted: nothing more is written to it, and what was
/// queued for it (notes, forwarded comments) is dropped.
pub(super) fn ticket_deleted(engine: &Engine, id: TicketId) -> Result<(), ItemError> {
    warn!(ticket_id = id.0, "the Zendesk ticket was deleted; its link ends");
    engine.store.set_link_state(id, LinkState::TicketDeleted)?;
    engine.store.abandon_event_intents(IntentKind::ForwardComment, id, "ticket deleted")?;
    engine.store.abandon_push_intents(id, "ticket deleted")?;
    Ok(())
}

/// The unfinished per-event writes of one kind, by ticket, each with its payload (a payload
/// this build cannot read is left as it is, and said so).
pub(super) fn queued_by_ticket<P: Queued>(
    engine: &Engine,
) -> Result<std::collections::BTreeMap<TicketId, Vec<(P, Intent)>>, ticket_sync_store::StoreError> {
    let mut queued: std::collections::BTreeMap<_, Vec<(P, Intent)>> = std::collections::BTreeMap::new();
    for intent in engine.store.pending_intents()?.into_iter().filter(|i| i.kind == P::KIND) {
        match P::of(&intent).cloned() {
            Ok(p) => queued.entry(intent.ticket_id).or_default().push((p, intent)),
            Err(e) => warn!(key = %intent.key, error = %e, "stored intent is unreadable; it is left as it is"),
        }
    }
    Ok(queued)
}

/// The payload of a per-event write that waits as an intent until it is done: its kind, the
/// order in which a ticket's queued writes are made, and how it is found in its intent.
pub(super) trait Queued: Clone {
    const KIND: IntentKind;
    type Order: Ord;
    fn order(&self) -> Self::Order;
    /// The payload of an intent of `KIND`, as the store read it.
    fn of(intent: &Intent) -> Result<&Self, PayloadError>;
}

/// One queued write in flight: whether the ticket's next writes may follow.
pub(super) type WriteFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, ItemError>> + Send + 'a>>;

/// Finishes the writes of one kind that earlier passes queued, in order per ticket, and
/// records each ticket's outcome at `stage`. `write` makes one write and says whether the
/// ticket's next ones may follow. Returns the tickets that still have queued writes: their new
/// writes queue behind them.
pub(super) async fn resume_queued<P: Queued>(
    engine: &Engine,
    cancel: &CancellationToken,
    stage: Stage,
    report: &mut PassReport,
    write: impl for<'a> Fn(&'a Engine, TicketId, &'a Intent, &'a P, &'a mut PassReport) -> WriteFuture<'a> + Sync,
) -> Result<BTreeSet<TicketId>, PassError> {
    let mut blocked = BTreeSet::new();
    for (id, mut items) in queued_by_ticket::<P>(engine)? {
        blocked.insert(id);
        if cancel.is_cancelled() {
            continue;
        }
        engine.beat();
        if engine.held_back(id, stage)? {
            continue;
        }
        items.sort_by_key(|(p, _)| p.order());
        let result = retrying!(engine, async {
            for (payload, intent) in &items {
                // A write made by an earlier round of this loop is not made again.
                let Some(intent) = engine.store.intent_by_key(&intent.key)? else { continue };
                if !write(engine, id, &intent, payload, report).await? {
                    break;
                }
            }
            Ok::<(), ItemError>(())
        })
        .instrument(info_span!("ticket", ticket_id = id.0))
        .await;
        if settle(engine, id, stage, None, result, report)? {
            blocked.remove(&id);
        }
    }
    Ok(blocked)
}
