//! The escalation pass: Zendesk export → decisions → issues and link notes, exactly once.
//!
//! Each ticket, like each repository of push-back, is gathered, planned, then acted on: what
//! the store holds about it is read (`gather`), the pure planner decides (`escplan::plan`:
//! carry on an unfinished write, end a deleted ticket's link, follow the link field, the
//! re-escalation rule, create or skip), and the plan is carried out (`perform`). The steps
//! that need a remote answer to go on are named where they are: the reconcile steps of the
//! exactly-once protocol (`earlier_escalation`, the marker lookups of `finish_create` and
//! `write_once`) and the reading of an issue a link field names (`link::follow`).
//!
//! Order of writes for one ticket, each step durable before the next remote call:
//! create intent → (reconcile if retried) → POST issue → mapping + note intent → (reconcile
//! if retried) → PUT note → ledger. A crash anywhere leaves an intent that the next pass
//! reconciles against the remote side before writing again.

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::export::ExportReader;
use super::note::{write_once, Note, NoteOutcome};
use super::reescalate;
use super::{guard, identity, link, notes};
use super::{settle, Engine, ItemError, PassError, PassReport};
use crate::crashpoint;
use ticket_sync_clients::github::ends_with_marker;
use ticket_sync_clients::http::{ApiError, ForbiddenScope};
use ticket_sync_clients::zendesk::TicketComment;
use ticket_sync_core::body;
use ticket_sync_core::clock;
use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::{Issue, IssueState, Mapping, Stage, Ticket, TicketId};
use ticket_sync_core::escplan::{self, EscalationPlan, Skipped, Source, Step, TicketFacts, Unfinished};
use ticket_sync_core::notetext;
use ticket_sync_core::rules::Route;
use ticket_sync_store::{CreatePayload, FailureClass, Intent, IntentKind, NewFailure, NotePayload, StoreError};

const CURSOR: &str = "zendesk_export";
/// The failures this pass records and clears.
const STAGE: Stage = Stage::Escalate;
/// How far before an intent's time to look for an issue an earlier attempt may have created.
const RECONCILE_MARGIN_MINUTES: i64 = 10;

/// The link note of a created (or adopted) issue, with the `[linking]` write-back.
fn link_note_payload(engine: &Engine, id: TicketId, issue: &Issue) -> NotePayload {
    let field = engine.rules.linking.as_ref().map(|l| (l.field_id, issue.html_url.clone()));
    let (add_tags, _) = notes::state_tags(engine, Some(issue.state == IssueState::Closed));
    NotePayload { text: notetext::link_note(id, issue), field, add_tags }
}

pub(super) async fn run(engine: &Engine, cancel: &CancellationToken) -> Result<PassReport, PassError> {
    let mut report = PassReport::new(ticket_sync_core::domain::PassKind::Escalate);
    engine.forget_repo_checks();
    if !engine.dry_run {
        // Push-back notes and forwarded comments are the push pass's to finish.
        let own = |i: &Intent| matches!(i.kind, IntentKind::CreateIssue | IntentKind::LinkNote);
        for intent in engine.store.pending_intents()?.into_iter().filter(own) {
            if cancel.is_cancelled() {
                return Ok(report);
            }
            engine.beat();
            let id = intent.ticket_id;
            if engine.held_back(id, STAGE)? {
                continue;
            }
            let span = info_span!(
                "ticket",
                ticket_id = id.0,
                repo = tracing::field::Empty,
                issue_number = tracing::field::Empty
            );
            // Each round reads the intent again: an earlier round may have finished it, or
            // moved on to the next write (a created issue's link note).
            let result = retrying!(engine, resume_by_key(engine, &intent.key, &mut report)).instrument(span).await;
            settle(engine, id, STAGE, None, result, &mut report)?;
        }
        for failure in engine.store.due_failures(STAGE, clock::now(), engine.epoch())? {
            if cancel.is_cancelled() {
                return Ok(report);
            }
            if let Some(ticket) = failure.ticket {
                handle(engine, ticket, Source::Snapshot, &mut report).await?;
            }
        }
    }
    read_export(engine, cancel, &mut report).await?;
    link::refresh_impacts(engine, &mut report).await?;
    Ok(report)
}

/// One ticket a webhook delivery named, read directly (the export shows a change only a
/// minute later). A ticket gone by now is nothing to do.
pub(super) async fn one(engine: &Engine, id: TicketId, cancel: &CancellationToken) -> Result<PassReport, PassError> {
    let mut report = PassReport::new(ticket_sync_core::domain::PassKind::Webhook);
    if cancel.is_cancelled() {
        return Ok(report);
    }
    let ticket = match engine.zendesk.show_ticket(id).await {
        Ok(ticket) => ticket,
        Err(ApiError::TicketDeleted { .. } | ApiError::NotFound { .. }) => return Ok(report),
        Err(e) if super::stops_pass(&e) => return Err(e.into()),
        Err(e) => {
            // The poll reads the ticket again; nothing is lost.
            warn!(ticket_id = id.0, error = %e, "the ticket a webhook named could not be read; the next poll sees it");
            report.failed += 1;
            return Ok(report);
        }
    };
    report.seen += 1;
    if !engine.dry_run {
        engine.store.ticket_read(id, ticket.updated_at)?;
    }
    handle(engine, ticket, Source::Live, &mut report).await?;
    link::refresh_impacts(engine, &mut report).await?;
    Ok(report)
}

/// Reads the export from the stored cursor to the end of the stream, page by page; the cursor
/// is saved after each page, once every ticket on it is either done or recorded as failed.
async fn read_export(engine: &Engine, cancel: &CancellationToken, report: &mut PassReport) -> Result<(), PassError> {
    let mut export = ExportReader::open(engine, CURSOR, || first_start_time(engine))?;
    while let Some(page) = export.next_page(engine).await? {
        engine.progress(&format!(
            "escalating: {} tickets on this page, {} issues created so far",
            page.tickets.len(),
            report.created
        ));
        for ticket in page.tickets {
            if cancel.is_cancelled() {
                return Ok(());
            }
            engine.beat();
            report.seen += 1;
            handle(engine, ticket, Source::Live, report).await?;
        }
        for (id, why) in page.rejected {
            report.seen += 1;
            report.failed += 1;
            warn!(ticket_id = ?id.map(|i| i.0), error = %why, "ticket skipped: the export returned it in a form ticket-sync cannot read");
            if let (Some(id), false) = (id, engine.dry_run) {
                let failure = NewFailure {
                    stage: STAGE,
                    class: FailureClass::Item,
                    error: &why,
                    epoch: engine.epoch(),
                    not_before: None,
                };
                engine.store.record_failure(id, &failure, None, &engine.rules.retry)?;
                report.failures.push((id, why));
            }
        }
        export.advance(engine, page.after_cursor, page.end_of_stream)?;
    }
    Ok(())
}

/// Where the very first poll starts: `[escalation] start`, else 24 hours before the first run;
/// remembered so a restart before the first page does not move it. Always a minute in the past.
fn first_start_time(engine: &Engine) -> Result<i64, PassError> {
    let default = engine.rules.escalation.start.unwrap_or_else(|| clock::now() - Duration::hours(24));
    let start = if engine.dry_run {
        engine.store.first_start()?.unwrap_or(default.timestamp())
    } else {
        engine.store.first_start_or_set(default.timestamp())?
    };
    Ok(start.min(clock::now().timestamp() - 61))
}

/// One ticket from the export, a direct read, or a retry (`Source::Snapshot`: the copy stored
/// with its failure): gather, plan, act; failures are recorded, not raised.
async fn handle(engine: &Engine, ticket: Ticket, source: Source, report: &mut PassReport) -> Result<(), PassError> {
    let id = ticket.id;
    let span =
        info_span!("ticket", ticket_id = id.0, repo = tracing::field::Empty, issue_number = tracing::field::Empty);
    let result = retrying!(engine, act(engine, &ticket, source, report)).instrument(span).await;
    settle(engine, id, STAGE, Some(&ticket), result, report).map(|_| ())
}

/// Escalation of one ticket: everything stored about it is read (`gather`), the pure planner
/// decides (`escplan::plan`), and the plan is carried out (`perform`).
async fn act(engine: &Engine, ticket: &Ticket, source: Source, report: &mut PassReport) -> Result<(), ItemError> {
    let stored = gather(engine, ticket)?;
    let plan = escplan::plan(&engine.rules.escalation, &engine.rules.routes, &stored.facts(engine, ticket, source));
    perform(engine, ticket, &stored, plan, report).await
}

/// What is stored about one ticket that its plan depends on; read before anything is decided.
struct Stored {
    /// The `updated_at` of the newest copy read directly (for a webhook delivery).
    read_directly_at: Option<DateTime<Utc>>,
    /// The write an earlier escalation of the ticket left unfinished: its issue, else the issue's
    /// link note.
    unfinished: Option<UnfinishedWrite>,
    /// The ticket's link, whatever its state.
    mapping: Option<Mapping>,
    /// `[linking]`: what is stored about the ticket's link field (`None` with `[linking]` off).
    field: Option<link::StoredField>,
}

struct UnfinishedWrite {
    intent: Intent,
    /// It waits out an earlier failure's back-off.
    held_back: bool,
}

/// Gather: the store's facts about the ticket. No request is sent: what needs a remote answer
/// is read only by the step of the plan that needs it (`escalate_new`, `link::follow`).
fn gather(engine: &Engine, ticket: &Ticket) -> Result<Stored, ItemError> {
    let id = ticket.id;
    let unfinished = match engine.store.intent(IntentKind::CreateIssue, id)? {
        Some(intent) => Some(intent),
        // The issue exists; its link note is still to be written (or found).
        None => engine.store.intent(IntentKind::LinkNote, id)?,
    };
    let unfinished = match unfinished {
        Some(intent) => Some(UnfinishedWrite { intent, held_back: engine.held_back(id, STAGE)? }),
        None => None,
    };
    let field = match &engine.rules.linking {
        Some(_) => Some(link::stored_field(engine, id)?),
        None => None,
    };
    Ok(Stored {
        read_directly_at: engine.store.ticket_read_at(id)?,
        unfinished,
        mapping: engine.store.mapping(id)?,
        field,
    })
}

impl Stored {
    /// The planner's view of the ticket and of these facts.
    fn facts<'a>(&'a self, engine: &Engine, ticket: &'a Ticket, source: Source) -> TicketFacts<'a> {
        TicketFacts {
            ticket,
            source,
            read_directly_at: self.read_directly_at,
            unfinished: match &self.unfinished {
                None => Unfinished::Nothing,
                Some(write) if write.held_back => Unfinished::HeldBack,
                Some(_) => Unfinished::Due,
            },
            mapping: self.mapping.as_ref(),
            field: self.field.as_ref().map(|f| f.facts(link::field_value(engine, ticket))),
        }
    }
}

/// Act: carries out the plan, in its order; every remote write is preceded by its durable
/// intent. In a dry run nothing is written, and what would be is recorded in the report.
async fn perform(
    engine: &Engine,
    ticket: &Ticket,
    stored: &Stored,
    plan: EscalationPlan<'_>,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    if plan.finish_field_note {
        if let Some(field) = &stored.field {
            link::finish_note(engine, field, report).await?;
        }
    }
    if plan.record_cleared_field {
        link::record_value(engine, ticket)?;
    }
    match plan.step {
        Step::Ignore(_) => Ok(()),
        Step::Wait => Err(ItemError::Waiting),
        Step::Resume => {
            let write = stored.unfinished.as_ref().expect("the plan resumes only an unfinished write it was given");
            resume(engine, write.intent.clone(), report).await
        }
        Step::EndLink => {
            if engine.dry_run {
                report.planned.push(format!("end the link of ticket {} (the ticket was deleted)", ticket.id));
                return Ok(());
            }
            notes::ticket_deleted(engine, ticket.id)
        }
        Step::Field(change) => {
            let active = stored.mapping.as_ref().filter(|m| m.link_state == LinkState::Active);
            link::follow(engine, ticket, active, change, report).await
        }
        Step::Reescalate(mapping, rule) => reescalate::apply(engine, ticket, mapping, rule, report).await,
        Step::Skip(Skipped::Unwritable) => {
            report.skipped += 1;
            info!(status = %ticket.status, "escalated ticket skipped: it is closed and cannot take the link note");
            Ok(())
        }
        Step::Skip(Skipped::NoRoute) => {
            report.skipped += 1;
            warn!("escalated ticket matches no [[route]]; add a route without `when` as a fallback to catch it");
            Ok(())
        }
        Step::Create(route) => escalate_new(engine, ticket, route, report).await,
    }
}

/// A new escalation through `route`: the budget and the repository are checked, the ticket's
/// comments are read (attachment links for the body, and the notes for `earlier_escalation`),
/// then the create intent is recorded and the issue created.
async fn escalate_new(
    engine: &Engine,
    ticket: &Ticket,
    route: &Route,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    report.escalated += 1;
    if engine.dry_run {
        report
            .planned
            .push(format!("create an issue in {} for ticket {} \"{}\"", route.repo, ticket.id, ticket.subject));
        return Ok(());
    }
    engine.github.hold_new_issue(&route.repo)?;
    guard::check_repo(engine, &route.repo).await?;
    let scan = engine.zendesk.attachments(ticket.id).await?;
    let mut notes = scan.internal_notes.clone();
    if scan.read_all_pages {
        // A long ticket: its link note may be newer than the first pages read.
        notes.extend(engine.zendesk.recent_comments(ticket.id, 10).await?.into_iter().filter(|c| !c.public));
    }
    match earlier_escalation(engine, ticket.id, &notes).await? {
        EarlierEscalation::Never => {}
        EarlierEscalation::Adoptable(issue) => return adopt(engine, ticket, *issue, report).await,
        // ticket-sync's own link note names an issue that cannot be adopted (deleted, no longer
        // ticket-sync's, out of sight): never create a second one.
        EarlierEscalation::Unverifiable => {
            return Err(ItemError::Refused(format!(
                "refused: ticket {} already carries ticket-sync's link note, but the issue it names cannot be \
                 verified (deleted, moved out of sight, or no longer ticket-sync's); a second issue is not \
                 created. Check the note's issue, then remove the note and run `ticket-sync retry {}` to escalate anew",
                ticket.id, ticket.id
            )))
        }
    }
    let (attachments, unreadable) = if engine.rules.escalation.attachments {
        (Some(scan.attachments.as_slice()), scan.unreadable)
    } else {
        (None, 0)
    };
    let payload = CreatePayload {
        repo: route.repo.clone(),
        title: body::issue_title(ticket, &engine.redactor),
        body: body::issue_body(ticket, attachments, unreadable, &engine.rules.zendesk.url, &engine.redactor),
        labels: route.labels.clone(),
        ticket_updated_at: ticket.updated_at,
    };
    let intent = engine.store.begin_intent(ticket.id, Some(&route.repo.to_string()), &payload)?;
    finish_create(engine, intent.0, intent.1, report).await
}

/// What the ticket's own notes say of an earlier escalation by ticket-sync that the database
/// does not know (it was deleted, or restored from an older backup).
enum EarlierEscalation {
    /// No link note of ticket-sync's own: the ticket was never escalated.
    Never,
    /// The issue the note names is still ticket-sync's own with the ticket's marker: it is
    /// adopted rather than the ticket escalated twice.
    Adoptable(Box<Issue>),
    /// There is such a note, but its issue cannot be adopted (no issue in it, deleted, out of
    /// sight, no longer ticket-sync's).
    Unverifiable,
}

/// Reconcile step before a create: looks among the ticket's notes for ticket-sync's own link
/// note, and reads the issue it names. It needs remote answers the plan cannot have (who
/// ticket-sync writes as, the issue itself), and only a ticket about to get an issue pays them.
async fn earlier_escalation(
    engine: &Engine,
    id: TicketId,
    notes: &[TicketComment],
) -> Result<EarlierEscalation, ItemError> {
    let marker = notetext::link_note_marker(id);
    let me = identity::zendesk_identity(engine).await?;
    let Some(own) = notes.iter().rev().find(|c| me.wrote(c.author_id) && ends_with_marker(&c.body, &marker)) else {
        return Ok(EarlierEscalation::Never);
    };
    let Some((repo, number)) = own.body.lines().find_map(ticket_sync_clients::github::parse_issue_html_url) else {
        return Ok(EarlierEscalation::Unverifiable);
    };
    let identity = identity::github_identity(engine).await?;
    match engine.github.own_issue(&repo, number, &body::issue_marker(id), &identity.all()).await {
        Ok(Some(issue)) => Ok(EarlierEscalation::Adoptable(Box::new(issue))),
        Ok(None) | Err(ApiError::Gone { .. } | ApiError::NotFound { .. }) => Ok(EarlierEscalation::Unverifiable),
        Err(e) => Err(e.into()),
    }
}

/// Records a found issue like a recovered create (push watermarks rewind, so its changes are
/// seen), then finds its link note through the usual reconciliation.
async fn adopt(engine: &Engine, ticket: &Ticket, issue: Issue, report: &mut PassReport) -> Result<(), ItemError> {
    let id = ticket.id;
    warn!(issue = %format!("{}#{}", issue.repo, issue.number), "the ticket already carries ticket-sync's link note; adopting its issue (was the state database deleted or restored?)");
    let note = link_note_payload(engine, id, &issue);
    record_created(engine, id, &issue, true, &note, ticket.updated_at)?;
    report.recovered += 1;
    report.linked.push((id, format!("{}#{}", issue.repo, issue.number)));
    let intent = engine.store.intent(IntentKind::LinkNote, id)?.expect("note intent recorded with the mapping");
    finish_note(engine, intent, false, report).await
}

/// `record_issue_created`; only an adopted issue can already be another ticket's, and then
/// this one ticket is refused rather than the pass stopped.
fn record_created(
    engine: &Engine,
    id: TicketId,
    issue: &Issue,
    recovered: bool,
    note: &NotePayload,
    at: Option<chrono::DateTime<Utc>>,
) -> Result<(), ItemError> {
    // Stored under the rules' spelling of the repository, whatever GitHub's answer or an
    // intent written under older rules spells it: one spelling in the database.
    let issue = &Issue { repo: engine.as_configured(&issue.repo), ..issue.clone() };
    match engine.store.record_issue_created(id, issue, recovered, note, at) {
        Err(e @ StoreError::IssueTaken { .. }) => Err(ItemError::Refused(format!(
            "refused: the issue found for this ticket is not its own ({e}); check the issue and run `ticket-sync retry {id}`"
        ))),
        other => Ok(other?),
    }
}

/// Carries the intent stored under `key` to its end, if it is still there.
async fn resume_by_key(engine: &Engine, key: &str, report: &mut PassReport) -> Result<(), ItemError> {
    match engine.store.intent_by_key(key)? {
        Some(intent) => resume(engine, intent, report).await,
        None => Ok(()),
    }
}

/// Carries an unfinished intent to its end (used at the start of a pass).
async fn resume(engine: &Engine, intent: Intent, report: &mut PassReport) -> Result<(), ItemError> {
    match intent.kind {
        IntentKind::CreateIssue => finish_create(engine, intent, false, report).await,
        IntentKind::LinkNote => finish_note(engine, intent, false, report).await,
        IntentKind::PushNote | IntentKind::ForwardComment => Ok(()),
    }
}

/// Creates the issue of a create intent (or adopts the one an interrupted attempt created),
/// records it, then writes the link note. `fresh`: the intent was recorded just now, so no
/// earlier attempt can exist.
async fn finish_create(engine: &Engine, intent: Intent, fresh: bool, report: &mut PassReport) -> Result<(), ItemError> {
    let id = intent.ticket_id;
    // A payload this build cannot read fails the ticket, for an operator to look at.
    let payload: &CreatePayload = intent
        .create_payload()
        .map_err(|e| ItemError::Refused(format!("stored intent is unreadable ({e}); run `ticket-sync retry {id}`")))?;
    tracing::Span::current().record("repo", tracing::field::display(&payload.repo));
    let marker = body::issue_marker(id);
    let found = if !fresh && intent.attempts > 0 {
        // An earlier attempt may have created the issue and lost the answer: look before writing.
        let since = engine.github.github_time(intent.created_at) - Duration::minutes(RECONCILE_MARGIN_MINUTES);
        let own = identity::github_identity(engine).await?;
        engine.github.find_issue_with_marker(&payload.repo, &marker, since, &own.all()).await?
    } else {
        None
    };
    let (issue, recovered) = match found {
        Some(issue) => {
            info!(issue_number = %issue.number, "found the issue an interrupted attempt created; adopting it");
            (issue, true)
        }
        None => {
            guard::check_repo(engine, &payload.repo).await?;
            if !fresh {
                super::may_write_again(engine, &intent)?;
                engine.store.intent_attempt(IntentKind::CreateIssue, id)?;
            }
            crashpoint::hit("before_issue_create");
            let created =
                engine.github.create_issue(&payload.repo, &payload.title, &payload.body, &payload.labels).await;
            let issue = match created {
                Ok(issue) => issue,
                // The repository refuses this token's writes: its other tickets fail at once
                // for the rest of this pass, without asking again.
                Err(e @ ApiError::Forbidden { scope: ForbiddenScope::Repository, .. }) => {
                    let why = format!("refused: GitHub does not let ticket-sync write to {}: {e}", payload.repo);
                    guard::remember_refusal(engine, &payload.repo, &why);
                    return Err(ItemError::Refused(why));
                }
                Err(e) => return Err(e.into()),
            };
            crashpoint::hit("after_issue_create");
            (issue, false)
        }
    };
    tracing::Span::current().record("issue_number", issue.number.0);
    let note = link_note_payload(engine, id, &issue);
    record_created(engine, id, &issue, recovered, &note, payload.ticket_updated_at)?;
    crashpoint::hit("after_mapping_write");
    if recovered {
        report.recovered += 1;
    } else {
        report.created += 1;
        info!(url = %issue.html_url, "issue created");
    }
    report.linked.push((id, format!("{}#{}", issue.repo, issue.number)));
    let intent = engine.store.intent(IntentKind::LinkNote, id)?.expect("note intent recorded with the mapping");
    finish_note(engine, intent, true, report).await
}

async fn finish_note(engine: &Engine, intent: Intent, fresh: bool, report: &mut PassReport) -> Result<(), ItemError> {
    let id = intent.ticket_id;
    // A payload this build cannot read fails the ticket, for an operator to look at.
    let payload: &NotePayload =
        intent.note_payload().map_err(|e| ItemError::Refused(format!("stored note intent is unreadable ({e})")))?;
    let marker = notetext::link_note_marker(id);
    let add: Vec<&str> = payload.add_tags.iter().map(String::as_str).collect();
    let mut field = payload.field.clone();
    if let (false, Some((field_id, url))) = (fresh, &field) {
        // The note waited (its first write failed): an agent may have written another issue
        // into the field since. The write-back never overwrites that; the field is then the
        // agent's, and following it moves the link.
        let current = match engine.zendesk.show_ticket(id).await {
            Ok(t) => t.field(*field_id).trim().to_string(),
            Err(ApiError::TicketDeleted { .. } | ApiError::NotFound { .. }) => String::new(),
            Err(e) => return Err(e.into()),
        };
        if !current.is_empty() && current != *url {
            info!("the link field was set by an agent while the link note waited; it is left as the agent wrote it");
            field = None;
        }
    }
    let note = Note {
        ticket: id,
        text: &payload.text,
        marker: &marker,
        status: None,
        field: field.as_ref().map(|(f, v)| (*f, v.as_str())),
        add_tags: &add,
        remove_tags: &[],
        public: false,
        crash_before: "before_link_note",
        crash_after: "after_link_note",
    };
    let outcome = write_once(engine, &intent, &note, fresh).await?;
    if let (NoteOutcome::Written(_) | NoteOutcome::Found(_), Some((_, url))) = (outcome, &field) {
        // The write-back is ticket-sync's own: the field holding it is no agent's change. A copy
        // of the ticket older than this write says nothing about the field either.
        // The export was read before this, so Zendesk's clock is known; were it not, the
        // host's is a value as good as any for "not older than this write".
        let now = engine.stats.service_now::<ticket_sync_core::domain::ZendeskClock>().utc();
        engine.store.record_link_field(id, url, now)?;
    }
    match outcome {
        NoteOutcome::Written(comment_id) => {
            engine.store.record_link_note(id, comment_id, false)?;
            report.notes += 1;
        }
        NoteOutcome::Found(comment_id) => engine.store.record_link_note(id, Some(comment_id), true)?,
        NoteOutcome::TicketEnded(state) => {
            warn!(
                link = state.as_str(),
                "the ticket was closed or deleted before the link note could be written; the link is kept, no note"
            );
            engine.store.abandon_intent(IntentKind::LinkNote, id, state.as_str())?;
            engine.store.set_link_state(id, state)?;
        }
    }
    Ok(())
}
