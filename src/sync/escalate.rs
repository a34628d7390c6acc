//! The escalation pass: Zendesk export → decisions → issues and link notes, exactly once.
//!
//! Order of writes for one ticket, each step durable before the next remote call:
//! create intent → (reconcile if retried) → POST issue → mapping + note intent → (reconcile
//! if retried) → PUT note → ledger. A crash anywhere leaves an intent that the next pass
//! reconciles against the remote side before writing again.

use chrono::{Duration, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::export::ExportReader;
use super::note::{write_once, Note, NoteOutcome};
use super::reescalate;
use super::{guard, identity, link, notes};
use super::{settle, Engine, ItemError, PassError, PassReport};
use crate::crashpoint;
use ticket_sync_clients::github::WRITE_ENDPOINT;
use ticket_sync_clients::http::{ApiError, ForbiddenScope};
use ticket_sync_clients::zendesk::TicketComment;
use ticket_sync_core::body;
use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::Scope;
use ticket_sync_core::domain::Service;
use ticket_sync_core::domain::{Issue, IssueState, RepoName, Stage, Ticket, TicketId, TicketStatus};
use ticket_sync_core::route::{decide, Decision};
use ticket_sync_store::{CreatePayload, FailureClass, Intent, IntentKind, NewFailure, NotePayload, StoreError};

const CURSOR: &str = "zendesk_export";
/// The failures this pass records and clears.
const STAGE: Stage = Stage::Escalate;
/// How far before an intent's time to look for an issue an earlier attempt may have created.
const RECONCILE_MARGIN_MINUTES: i64 = 10;
/// GitHub requests kept back from new escalations for push-back when the budget runs low.
const BACKFILL_RESERVE: u64 = 100;

/// The link note of a created (or adopted) issue, with the `[linking]` write-back.
fn link_note_payload(engine: &Engine, id: TicketId, issue: &Issue) -> NotePayload {
    let field = engine.rules.linking.as_ref().map(|l| (l.field_id, issue.html_url.clone()));
    let (add_tags, _) = notes::state_tags(engine, Some(issue.state == IssueState::Closed));
    NotePayload { text: body::link_note(id, issue), field, add_tags }
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
        for failure in engine.store.due_failures(STAGE, Utc::now(), engine.epoch())? {
            if cancel.is_cancelled() {
                return Ok(report);
            }
            if let Some(ticket) = failure.ticket {
                handle(engine, ticket, true, &mut report).await?;
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
    handle(engine, ticket, false, &mut report).await?;
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
            handle(engine, ticket, false, report).await?;
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
    let default = engine.rules.escalation.start.unwrap_or_else(|| Utc::now() - Duration::hours(24));
    let start = if engine.dry_run {
        engine.store.first_start()?.unwrap_or(default.timestamp())
    } else {
        engine.store.first_start_or_set(default.timestamp())?
    };
    Ok(start.min(Utc::now().timestamp() - 61))
}

/// One ticket from the export or a retry (`from_snapshot`: the copy stored with its failure):
/// decide, then act; failures are recorded, not raised.
async fn handle(
    engine: &Engine,
    ticket: Ticket,
    from_snapshot: bool,
    report: &mut PassReport,
) -> Result<(), PassError> {
    let id = ticket.id;
    let span =
        info_span!("ticket", ticket_id = id.0, repo = tracing::field::Empty, issue_number = tracing::field::Empty);
    let result = retrying!(engine, act(engine, &ticket, from_snapshot, report)).instrument(span).await;
    settle(engine, id, STAGE, Some(&ticket), result, report).map(|_| ())
}

async fn act(engine: &Engine, ticket: &Ticket, from_snapshot: bool, report: &mut PassReport) -> Result<(), ItemError> {
    // A copy older than one read directly (for a webhook) says nothing new: acting on it could
    // undo what the newer one showed (a tag removed again, a field changed back).
    if let (Some(read), Some(at)) = (engine.store.ticket_read_at(ticket.id)?, ticket.updated_at) {
        if at < read {
            return Ok(());
        }
    }
    // An unfinished write (an earlier escalation of this ticket, not a new one) is carried on,
    // but not while it waits out a failure: the ticket changing again is no reason to hurry.
    let unfinished = match engine.store.intent(IntentKind::CreateIssue, ticket.id)? {
        Some(intent) => Some(intent),
        // The issue exists; its link note is still to be written (or found).
        None => engine.store.intent(IntentKind::LinkNote, ticket.id)?,
    };
    if let Some(intent) = unfinished {
        if engine.held_back(ticket.id, STAGE)? {
            return Err(ItemError::Waiting);
        }
        return resume(engine, intent, report).await;
    }
    let mapping = engine.store.mapping(ticket.id)?;
    let active = mapping.as_ref().is_some_and(|m| m.link_state == LinkState::Active);
    if ticket.status == TicketStatus::Deleted && active {
        // The export shows a deleted ticket once more: its link ends here, at no request,
        // instead of costing an audit read a day and, once its issue changes, a refused note.
        if engine.dry_run {
            report.planned.push(format!("end the link of ticket {} (the ticket was deleted)", ticket.id));
            return Ok(());
        }
        return notes::ticket_deleted(engine, ticket.id);
    }
    if link::follow_field(engine, ticket, mapping.as_ref(), report).await? == link::Next::Done {
        return Ok(());
    }
    if let Some(m) = &mapping {
        if from_snapshot {
            // A stored copy may be stale (the tag removed again since): the re-escalation rule
            // acts only on what the export shows now, and a queued reopen note is the push
            // pass's to finish.
            return Ok(());
        }
        return reescalate::track(engine, ticket, m, report).await;
    }
    match decide(&engine.rules, ticket, false) {
        Decision::NotEscalated | Decision::AlreadyLinked => Ok(()),
        Decision::Unwritable => {
            report.skipped += 1;
            info!(status = %ticket.status, "escalated ticket skipped: it is closed and cannot take the link note");
            Ok(())
        }
        Decision::NoRoute => {
            report.skipped += 1;
            warn!("escalated ticket matches no [[route]]; add a route without `when` as a fallback to catch it");
            Ok(())
        }
        Decision::Create(route) => {
            report.escalated += 1;
            if engine.dry_run {
                report
                    .planned
                    .push(format!("create an issue in {} for ticket {} \"{}\"", route.repo, ticket.id, ticket.subject));
                return Ok(());
            }
            defer_when_budget_is_short(engine, &route.repo)?;
            guard::check_repo(engine, &route.repo).await?;
            let scan = engine.zendesk.attachments(ticket.id).await?;
            let mut notes = scan.internal_notes.clone();
            if scan.read_all_pages {
                // A long ticket: its link note may be newer than the first pages read.
                notes.extend(engine.zendesk.recent_comments(ticket.id, 10).await?.into_iter().filter(|c| !c.public));
            }
            if let Some(found) = linked_issue(engine, ticket.id, &notes).await? {
                return match found {
                    Some(issue) => adopt(engine, ticket, issue, report).await,
                    // ticket-sync's own link note names an issue that cannot be adopted (deleted,
                    // no longer ticket-sync's, out of sight): never create a second one.
                    None => Err(ItemError::Refused(format!(
                        "refused: ticket {} already carries ticket-sync's link note, but the issue it names cannot be \
                         verified (deleted, moved out of sight, or no longer ticket-sync's); a second issue is not \
                         created. Check the note's issue, then remove the note and run `ticket-sync retry {}` to escalate anew",
                        ticket.id, ticket.id
                    ))),
                };
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
    }
}

/// The issue ticket-sync's own link note on the ticket names, when that issue is still
/// ticket-sync's own with the ticket's marker: the ticket was escalated by a database that is
/// gone (deleted, or restored from an older backup), and is adopted rather than escalated twice.
/// `None`: no link note of ticket-sync's own; `Some(None)`: there is one, but its issue
/// cannot be adopted; `Some(Some(issue))`: adopt it.
async fn linked_issue(
    engine: &Engine,
    id: TicketId,
    notes: &[TicketComment],
) -> Result<Option<Option<Issue>>, ItemError> {
    let marker = body::link_note_marker(id);
    let me = identity::zendesk_identity(engine).await?;
    let Some(own) = notes.iter().rev().find(|c| me.wrote(c.author_id) && identity::ends_with_marker(&c.body, &marker))
    else {
        return Ok(None);
    };
    let Some((repo, number)) = own.body.lines().find_map(ticket_sync_clients::github::parse_issue_html_url) else {
        return Ok(Some(None));
    };
    let identity = identity::github_identity(engine).await?;
    match engine.github.own_issue(&repo, number, &body::issue_marker(id), &identity.all()).await {
        Ok(found) => Ok(Some(found)),
        Err(ApiError::Gone { .. } | ApiError::NotFound { .. }) => Ok(Some(None)),
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

/// New issues wait when GitHub's budget is nearly spent, so push-back of status changes
/// (which does not wait) keeps working through a large backfill.
/// As a GitHub App, the budget is that of the installation covering `repo`: another
/// organisation's low budget holds back only its own new issues.
fn defer_when_budget_is_short(engine: &Engine, repo: &RepoName) -> Result<(), ItemError> {
    let (left, scope) = match engine.github.installation_budget(repo) {
        Some((installation, left)) => (left, Scope::Installation(installation)),
        None => (engine.budget_remaining(Service::Github), Scope::endpoint(WRITE_ENDPOINT)),
    };
    match left {
        Some(left) if left < BACKFILL_RESERVE => {
            warn!(github_rate_left = left, %scope, "GitHub budget is low: new issues wait for the reset, push-back goes on");
            let wait = std::time::Duration::from_secs(60);
            Err(ItemError::Api(ApiError::limited(Service::Github, scope, wait)))
        }
        _ => Ok(()),
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
                    engine.repo_checks.lock().unwrap().insert(payload.repo.clone(), Some(why.clone()));
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
    let marker = body::link_note_marker(id);
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
        crash_before: "before_link_note",
        crash_after: "after_link_note",
    };
    let outcome = write_once(engine, &intent, &note, fresh).await?;
    if let (NoteOutcome::Written(_) | NoteOutcome::Found(_), Some((_, url))) = (outcome, &field) {
        // The write-back is ticket-sync's own: the field holding it is no agent's change. A copy
        // of the ticket older than this write says nothing about the field either.
        let now = engine.stats.service_time(Service::Zendesk, Utc::now()).map_or_else(Utc::now, |t| t.utc());
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
