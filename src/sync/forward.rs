//! Forwarding (opt-in, `[forward] comments = "public"`): new public comments on linked Zendesk
//! tickets become GitHub comments on the issue, redacted, with the author's name only.
//!
//! Which tickets changed comes from the incremental export (its own cursor): an idle pass costs
//! one Zendesk request. Per changed linked ticket: its comments with authors; those after the
//! last one looked at (at first: after the link note) that are public and not the daemon's own
//! are forwarded in order, each as ledger check → durable intent → (on a retry, look for the
//! comment's marker on the issue) → POST → ledger. A transferred issue is followed where GitHub
//! says it went; a deleted one ends the link with one note on the ticket.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn, Instrument};

use super::export::ExportReader;
use super::notes::{issue_gone, issue_not_found, repo_out_of_sight, resume_queued, ticket_deleted, Missing, Queued};
use super::{guard, settle, Engine, ItemError, PassError, PassReport};
use crate::crashpoint;
use ticket_sync_clients::http::ApiError;
use ticket_sync_clients::zendesk::TicketComment;
use ticket_sync_core::clock;
use ticket_sync_core::commenttext;
use ticket_sync_core::domain::{LinkState, Mapping};
use ticket_sync_core::domain::{Stage, TicketCommentId, TicketId, ZendeskClock};
use ticket_sync_core::eventkey::EventKey;
use ticket_sync_core::notetext::{self, Gone};
use ticket_sync_core::rules::ForwardMode;
use ticket_sync_store::{ForwardPayload, Intent, IntentKind, PayloadError};

const CURSOR: &str = "forward_export";
/// The failures this pass records and clears (and retries from the failures table).
const STAGE: Stage = Stage::Forward;
/// Pages of 100 comments read per changed ticket.
const COMMENT_PAGES: usize = 10;
/// How far before an intent's time to look for the comment an interrupted attempt posted.
const RECONCILE_MARGIN_MINUTES: i64 = 10;

/// The marker at the end of a forward intent's comment.
fn marker(p: &ForwardPayload) -> String {
    if p.too_many {
        commenttext::too_many_marker(p.zendesk_comment_id)
    } else if p.unreadable {
        commenttext::unreadable_marker(p.zendesk_comment_id)
    } else {
        commenttext::forward_marker(p.zendesk_comment_id)
    }
}

/// Whether a forward intent's comment stands for comments instead of forwarding one.
fn placeholder(p: &ForwardPayload) -> bool {
    p.unreadable || p.too_many
}

pub(super) async fn run(engine: &Engine, cancel: &CancellationToken, report: &mut PassReport) -> Result<(), PassError> {
    if engine.rules.forward.comments != ForwardMode::Public || engine.dry_run {
        return Ok(());
    }
    let mut blocked = resume(engine, cancel, report).await?;
    retry_failed(engine, cancel, &mut blocked, report).await?;
    let mut export = ExportReader::open(engine, CURSOR, || first_start_time(engine))?;
    loop {
        let page = match export.next_page(engine).await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                report.failed += 1;
                warn!(error = %e, "forwarding could not read the Zendesk export; the next pass tries again");
                return Ok(());
            }
        };
        for ticket in page.tickets {
            if cancel.is_cancelled() {
                return Ok(());
            }
            engine.beat();
            let Some(m) = engine.store.mapping(ticket.id)?.filter(|m| m.link_state == LinkState::Active) else {
                continue;
            };
            let queued = blocked.contains(&m.ticket_id);
            let result = retrying!(engine, forward_ticket(engine, &m, queued, report))
                .instrument(info_span!("ticket", ticket_id = m.ticket_id.0))
                .await;
            if queued && result.is_ok() {
                // Only queued behind an earlier failure, whose back-off stays as it is.
                continue;
            }
            settle(engine, m.ticket_id, STAGE, None, result, report)?;
        }
        export.advance(engine, page.after_cursor, page.end_of_stream)?;
    }
    Ok(())
}

/// The first export starts when forwarding is switched on (a minute back, as the export
/// requires): what happened before is history, and reading it would cost a request per page
/// of every ticket changed since the oldest link.
fn first_start_time(_engine: &Engine) -> Result<i64, PassError> {
    Ok(clock::now().timestamp() - 61)
}

/// When forwarding was switched on: replies older than that are history, never forwarded, so
/// switching it on for links made months ago does not flood their issues. Stored at the first
/// forwarding pass; a database that was already forwarding before this was recorded (its
/// export cursor exists) has no such limit.
fn forwarding_since(engine: &Engine) -> Result<chrono::DateTime<Utc>, PassError> {
    let already_forwarding = engine.store.cursor(CURSOR)?.is_some();
    // On Zendesk's clock (its `Date` header; the export was read before this), since it is
    // compared with Zendesk's comment times; the host's clock only if Zendesk's is not known.
    let now = engine.stats.service_now::<ZendeskClock>();
    let default = if already_forwarding { chrono::DateTime::<Utc>::UNIX_EPOCH } else { now.utc() };
    Ok(engine.store.forward_enabled_at_or_set(default)?)
}

/// Tickets whose comments could not be read last time (nothing was queued for them, and the
/// export cursor moved on): read them again once their back-off is over.
async fn retry_failed(
    engine: &Engine,
    cancel: &CancellationToken,
    blocked: &mut BTreeSet<TicketId>,
    report: &mut PassReport,
) -> Result<(), PassError> {
    for f in engine.store.due_failures(STAGE, clock::now(), engine.epoch())? {
        if cancel.is_cancelled() || blocked.contains(&f.ticket_id) {
            continue;
        }
        engine.beat();
        let Some(m) = engine.store.mapping(f.ticket_id)?.filter(|m| m.link_state == LinkState::Active) else {
            engine.store.clear_failure_of(f.ticket_id, STAGE)?;
            continue;
        };
        let result = retrying!(engine, forward_ticket(engine, &m, false, report))
            .instrument(info_span!("ticket", ticket_id = m.ticket_id.0))
            .await;
        if !settle(engine, m.ticket_id, STAGE, None, result, report)? {
            blocked.insert(m.ticket_id);
        }
    }
    Ok(())
}

/// Finishes forwards queued by earlier passes, oldest comment first per ticket. Returns the
/// tickets that still have queued forwards: their new comments queue behind them.
async fn resume(
    engine: &Engine,
    cancel: &CancellationToken,
    report: &mut PassReport,
) -> Result<BTreeSet<TicketId>, PassError> {
    resume_queued::<ForwardPayload>(engine, cancel, STAGE, report, |engine, id, intent, payload, report| {
        Box::pin(forward_one(engine, id, intent, payload, report))
    })
    .await
}

impl Queued for ForwardPayload {
    const KIND: IntentKind = IntentKind::ForwardComment;
    type Order = TicketCommentId;
    fn order(&self) -> TicketCommentId {
        self.zendesk_comment_id
    }
    fn of(intent: &Intent) -> Result<&Self, PayloadError> {
        intent.forward_payload()
    }
}

/// Forwards the ticket's new public comments in order; behind a failure the rest only queue.
async fn forward_ticket(engine: &Engine, m: &Mapping, queued: bool, report: &mut PassReport) -> Result<(), ItemError> {
    let id = m.ticket_id;
    let mark = engine.store.forward_mark(id)?;
    let read = match engine.zendesk.comments_with_authors(id, mark, COMMENT_PAGES).await {
        Err(ApiError::TicketDeleted { .. }) => return ticket_deleted(engine, id),
        other => other?,
    };
    let (comments, gaps) = (read.comments, read.gaps);
    let Some(newest) = comments.iter().map(|c| c.id).max() else { return Ok(()) };
    let after = match mark {
        Some(mark) => mark,
        None => first_look_boundary(m, &comments, newest, forwarding_since(engine)?),
    };
    // Ticket-sync writes only internal notes on tickets, so every public comment is a
    // person's, whatever its text says. A comment too large to read (public or not: it could
    // not be read) is told of once, in its place, so the issue's readers know one is missing.
    let mut writes: Vec<ForwardPayload> = comments
        .iter()
        .filter(|c| c.id > after && c.public)
        .map(|c| ForwardPayload {
            event_key: EventKey::ZendeskComment(c.id).to_string(),
            zendesk_comment_id: c.id,
            body: commenttext::forwarded_comment(c.id, c.author_name.as_deref(), &c.body, &engine.redactor),
            unreadable: false,
            too_many: false,
        })
        .collect();
    // More replies since the mark than one read takes (`COMMENT_PAGES` pages): the newest are
    // forwarded, and one comment before them says the older ones were not, so none is lost
    // without a word (reading them all would cost a request per page of a flood, every pass).
    if let (Some(mark), false) = (mark, read.complete) {
        warn!(
            after_comment = mark.0,
            "more replies came than one pass reads; the issue is told the oldest are not forwarded"
        );
        writes.push(ForwardPayload {
            event_key: EventKey::ZendeskCommentsNotReadAfter(mark).to_string(),
            zendesk_comment_id: mark,
            body: commenttext::too_many_comment(mark, COMMENT_PAGES * 100),
            unreadable: false,
            too_many: true,
        });
    }
    for gap in gaps {
        let older = gap.older.map_or(0, |c| c.0);
        if older < after.0 {
            continue;
        }
        warn!(after_comment = older, "a comment on the ticket is too large to read; the issue is told it was skipped");
        writes.push(ForwardPayload {
            event_key: EventKey::ZendeskCommentUnreadableAfter(TicketCommentId(older)).to_string(),
            zendesk_comment_id: TicketCommentId(older),
            body: commenttext::unreadable_comment(
                TicketCommentId(older),
                ticket_sync_clients::http::body_cap("/api/v2/tickets/comments.json"),
            ),
            unreadable: true,
            too_many: false,
        });
    }
    writes.sort_by_key(|w| (w.zendesk_comment_id, placeholder(w)));
    let mut queue_only = queued;
    let mut failure = None;
    for payload in writes {
        if engine.store.forwarded(id, &payload.event_key)? {
            continue;
        }
        let intent = engine.store.begin_forward_intent(id, &payload.event_key, &m.repo.to_string(), &payload)?;
        if queue_only {
            continue;
        }
        match forward_one(engine, id, &intent, &payload, report).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                queue_only = true;
                failure = Some(e);
            }
        }
    }
    engine.store.set_forward_mark(id, newest)?;
    failure.map_or(Ok(()), Err)
}

/// On the first look at a ticket: the last comment that was already part of the ticket when it
/// was escalated. Comments created after the escalated snapshot (Zendesk's own clock, so host
/// clock skew does not matter) are new, even if the link note is still pending. Links made
/// before that time was recorded fall back to the link note, else to the newest comment.
/// Replies older than ten minutes before forwarding was switched on are history too (the
/// margin covers a clock that could not be read from Zendesk).
fn first_look_boundary(
    m: &Mapping,
    comments: &[TicketComment],
    newest: TicketCommentId,
    forwarding_since: chrono::DateTime<Utc>,
) -> TicketCommentId {
    let history = forwarding_since - Duration::minutes(10);
    if let Some(escalated) = m.escalated_ticket_at {
        let old = escalated.max(history);
        let older = comments.iter().filter(|c| c.created_at.is_some_and(|t| t <= old));
        return older.map(|c| c.id).max().unwrap_or(TicketCommentId(0));
    }
    let link_note = notetext::link_note_marker(m.ticket_id);
    // Only an internal note counts: a customer cannot write one, whatever their text says.
    comments.iter().find(|c| !c.public && c.body.contains(&link_note)).map_or(newest, |note| note.id)
}

/// Posts one forwarded comment exactly once. False when the link ended (issue gone).
async fn forward_one(
    engine: &Engine,
    id: TicketId,
    intent: &Intent,
    p: &ForwardPayload,
    report: &mut PassReport,
) -> Result<bool, ItemError> {
    let marker = marker(p);
    // One transfer is followed within the attempt; a second one waits for the next pass.
    for _ in 0..2 {
        // The mapping is read now: a transfer found earlier may have moved it.
        let Some(m) = engine.store.mapping(id)?.filter(|m| m.link_state == LinkState::Active) else {
            engine.store.abandon_event_intents(IntentKind::ForwardComment, id, "the link is no longer active")?;
            return Ok(false);
        };
        let attempted = engine.store.intent_by_key(&intent.key)?.map_or(intent.attempts, |i| i.attempts);
        if attempted > 0 {
            let since = engine.github.github_time(intent.created_at) - Duration::minutes(RECONCILE_MARGIN_MINUTES);
            let own = super::identity::github_identity(engine).await?;
            let found =
                engine.github.find_comment_with_marker(&m.repo, m.issue_number, &marker, since, &own.all()).await?;
            if let Some(cid) = found {
                info!(github_comment_id = cid.0, "comment was already forwarded by an interrupted attempt");
                engine.store.record_forward(id, &intent.key, &p.event_key, cid, true)?;
                return Ok(true);
            }
        }
        // The issue may have been transferred, or its repository made public, since the link was made.
        guard::check_repo(engine, &m.repo).await?;
        if let Some(current) = engine.store.intent_by_key(&intent.key)? {
            super::may_write_again(engine, &current)?;
        }
        engine.store.intent_attempt_key(&intent.key)?;
        crashpoint::hit("before_forward_comment");
        match engine.github.create_comment(&m.repo, m.issue_number, &p.body).await {
            Ok(cid) => {
                crashpoint::hit("after_forward_comment");
                engine.store.record_forward(id, &intent.key, &p.event_key, cid, false)?;
                report.forwarded += 1;
                info!(ticket_id = id.0, repo = %m.repo, issue_number = m.issue_number.0, github_comment_id = cid.0, "reply forwarded to GitHub");
                return Ok(true);
            }
            Err(ApiError::Moved { location, .. }) => {
                let found = match location.as_deref() {
                    Some(l) => engine.github.locate_moved(l).await?,
                    None => None,
                };
                let Some(issue) = found else {
                    issue_gone(engine, &m, Gone::MovedOutOfReach, report).await?;
                    return Ok(false);
                };
                info!(to = %format!("{}#{}", issue.repo, issue.number), "the issue was transferred; the link follows it");
                engine.store.move_mapping(id, &engine.as_configured(&issue.repo), issue.number, &issue.html_url)?;
            }
            Err(ApiError::Gone { .. }) => {
                issue_gone(engine, &m, Gone::Deleted, report).await?;
                return Ok(false);
            }
            Err(ApiError::NotFound { .. }) => match issue_not_found(engine, std::slice::from_ref(&m), report).await? {
                Missing::Ended => return Ok(false),
                Missing::RepoOutOfSight => return Err(repo_out_of_sight(&m.repo)),
                // Found again: the comment was not posted (a 404 creates nothing); the retry
                // looks for it first all the same.
                Missing::Back => {
                    return Err(ItemError::Api(ApiError::Transient {
                        service: ticket_sync_core::domain::Service::Github,
                        detail: "the issue answered 404, then was found again; retrying".into(),
                    }))
                }
            },
            Err(e) => return Err(e.into()),
        }
    }
    Err(ItemError::Api(ApiError::Transient {
        service: ticket_sync_core::domain::Service::Github,
        detail: "the issue was transferred twice; retrying later".into(),
    }))
}
