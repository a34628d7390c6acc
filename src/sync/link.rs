//! `[linking]`: tickets linked to existing issues through a Zendesk ticket field, and the one
//! comment on each shared issue that lists its linked tickets.
//!
//! The field is read from the tickets the escalation pass reads anyway. A value is acted on
//! once: the value last acted on is stored with the ticket's `updated_at` (Zendesk's clock),
//! so a copy of the ticket older than that (a page read again) says nothing new, and
//! ticket-sync's own write-back (the URL of an issue it created) is never taken for an
//! agent's change. Every change (link, move, unlink, refusal) is recorded in one transaction
//! with the intent of the one note that tells the agent (`store::apply_link_change`); the note
//! carries the event key `field-{updated_at}`, so the same change read again is the same note.
//! Whether the field changed, and what it asks for, is the escalation planner's
//! (`escplan::plan`); this module gathers what is stored about the field and carries out the
//! change.

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::notes::{push_note, state_tags};
use super::{guard, identity, Engine, ItemError, PassError, PassReport};
use ticket_sync_clients::http::ApiError;
use ticket_sync_core::clock;
use ticket_sync_core::commenttext;
use ticket_sync_core::domain::{Issue, IssueNumber, IssueState, LinkState, Mapping, RepoName, Ticket, TicketId};
use ticket_sync_core::escplan::{self, FieldChange, FieldFacts};
use ticket_sync_core::eventkey::EventKey;
use ticket_sync_core::linkref::{self, RefProblem};
use ticket_sync_core::noteorder::NoteOrder;
use ticket_sync_core::notetext::{self, LinkRefusal};
use ticket_sync_store::{ChangeNote, Impact, Intent, LinkChange, PushPayload};

/// What is stored about a ticket's link field, gathered before the escalation plan.
pub(super) struct StoredField {
    /// The value last acted on, with the ticket's `updated_at` then.
    acted_on: Option<(String, DateTime<Utc>)>,
    /// The intent of the note that tells of that change, while the note is unwritten (an
    /// earlier attempt failed).
    note: Option<Intent>,
    /// GitHub's web base as known now.
    web_base: url::Url,
}

/// Gathers what is stored about the ticket's link field (no request is sent).
pub(super) fn stored_field(engine: &Engine, id: TicketId) -> Result<StoredField, ItemError> {
    let acted_on = engine.store.link_field(id)?;
    let note = match &acted_on {
        Some((_, seen)) => engine.store.push_intent(id, &EventKey::field_change(*seen).to_string())?,
        None => None,
    };
    Ok(StoredField { acted_on, note, web_base: engine.web_base() })
}

impl StoredField {
    /// The planner's view, with `value`, the field's text in the ticket.
    pub(super) fn facts<'a>(&'a self, value: &'a str) -> FieldFacts<'a> {
        FieldFacts {
            value,
            acted_on: self.acted_on.as_ref().map(|(v, seen)| (v.as_str(), *seen)),
            note_pending: self.note.is_some(),
            web_base: &self.web_base,
        }
    }
}

/// The ticket's link-field text, trimmed; empty with `[linking]` off.
pub(super) fn field_value<'t>(engine: &Engine, ticket: &'t Ticket) -> &'t str {
    engine.rules.linking.as_ref().map_or("", |l| ticket.field(l.field_id).trim())
}

/// Writes the note of the field's last change, which an earlier attempt left unwritten.
pub(super) async fn finish_note(
    engine: &Engine,
    field: &StoredField,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    if let Some(intent) = &field.note {
        if !engine.dry_run {
            // A payload this build cannot read fails the ticket, for an operator to look at.
            let payload = intent
                .push_payload()
                .map_err(|e| ItemError::Refused(format!("stored note intent is unreadable ({e})")))?;
            push_note(engine, intent, payload, report).await?;
        }
    }
    Ok(())
}

/// When a ticket without an `updated_at` (Zendesk always sends one) was seen: now, on
/// Zendesk's clock as its answers tell it, the time its `updated_at`s are compared with.
fn zendesk_now(engine: &Engine) -> chrono::DateTime<chrono::Utc> {
    engine.stats.service_now::<ticket_sync_core::domain::ZendeskClock>().utc()
}

/// Records the field's value as acted on, with nothing else to do about it (a cleared field
/// with no link, or the linked issue written another way).
pub(super) fn record_value(engine: &Engine, ticket: &Ticket) -> Result<(), ItemError> {
    if !engine.dry_run {
        let seen_at = ticket.updated_at.unwrap_or_else(|| zendesk_now(engine));
        engine.store.record_link_field(ticket.id, field_value(engine, ticket), seen_at)?;
    }
    Ok(())
}

/// Acts on the change the plan read in the ticket's link field (`escplan::field_change`).
/// Two answers from GitHub can still change it: a link to another host is read again once
/// GitHub's web host is learned (issue pages may be on a host the API URL does not tell: data
/// residency, a second host name, a proxy; read once), and the issue a link names is read to
/// see that it may be linked (`linkable`).
pub(super) async fn follow(
    engine: &Engine,
    ticket: &Ticket,
    active: Option<&Mapping>,
    change: FieldChange,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    let value = field_value(engine, ticket);
    let change = match change {
        FieldChange::Refuse(RefProblem::OtherHost(_)) if !engine.web_base_learned() => {
            learn_web_base(engine).await?;
            escplan::field_change(linkref::parse(value, &engine.web_base()), active)
        }
        change => change,
    };
    let change = match change {
        // The linked issue, written another way (or ticket-sync's own write-back). (`Cleared`
        // comes only from a value read again, which is never empty.)
        FieldChange::SameIssue | FieldChange::Cleared => return record_value(engine, ticket),
        FieldChange::Unlink => Change::Unlink,
        FieldChange::Link(repo, number) => match linkable(engine, &repo, number).await? {
            Linkable::Issue(issue) => Change::Link(issue),
            Linkable::Refused(why) => Change::Refuse(why),
        },
        FieldChange::Refuse(problem) => {
            Change::Refuse(LinkRefusal::Reference { problem: &problem, web: &engine.web_base() }.to_string())
        }
    };
    if engine.dry_run {
        report.planned.push(format!("ticket {}: {}", ticket.id, change.describe()));
        return Ok(());
    }
    let seen_at = ticket.updated_at.unwrap_or_else(|| zendesk_now(engine));
    apply(engine, ticket, active, value, seen_at, change, report).await
}

enum Change {
    Link(Box<Issue>),
    Unlink,
    Refuse(String),
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Change::Link(issue) => format!("link to {}#{}", issue.repo, issue.number),
            Change::Unlink => "unlink".into(),
            Change::Refuse(why) => format!("refuse the link field: {why}"),
        }
    }
}

/// Whether the ticket may be linked to the issue an agent named.
enum Linkable {
    Issue(Box<Issue>),
    /// It may not; why, for the agent.
    Refused(String),
}

/// The issue an agent named, when the ticket may be linked to it; otherwise why not, for the
/// agent. Errors that may pass (a 5xx, a rate limit) fail the ticket for a retry instead.
async fn linkable(engine: &Engine, repo: &RepoName, number: IssueNumber) -> Result<Linkable, ItemError> {
    linkable_within(engine, repo, number, MAX_MOVES).await
}

/// How many transfers in a row a link follows before it says where it stopped (two issues
/// moved into each other would otherwise be followed for ever).
const MAX_MOVES: usize = 5;

async fn linkable_within(
    engine: &Engine,
    repo: &RepoName,
    number: IssueNumber,
    moves_left: usize,
) -> Result<Linkable, ItemError> {
    // The repository as the rules spell it (names match whatever their letter case), so that
    // everything stored about it is under one spelling.
    let Some(repo) = engine.rules.repos().find(|r| *r == repo).cloned() else {
        let allowed = engine.rules.repos().collect();
        return Ok(Linkable::Refused(LinkRefusal::RepoNotLinked { repo, allowed }.to_string()));
    };
    let repo = &repo;
    match guard::check_repo(engine, repo).await {
        Ok(()) => {}
        Err(ItemError::Refused(why)) => return Ok(Linkable::Refused(why.trim_start_matches("refused: ").to_string())),
        Err(e) => return Err(e),
    }
    let issue = match engine.github.get_issue(repo, number).await {
        Ok(issue) => issue,
        Err(ApiError::Moved { .. }) if moves_left == 0 => {
            return Ok(Linkable::Refused(LinkRefusal::MovedTooOften { repo, number, max: MAX_MOVES }.to_string()))
        }
        Err(ApiError::Moved { location: Some(location), .. }) => match engine.github.locate_moved(&location).await? {
            Some(issue) => {
                return Box::pin(linkable_within(engine, &issue.repo.clone(), issue.number, moves_left - 1)).await
            }
            None => return Ok(Linkable::Refused(LinkRefusal::MovedOutOfReach { repo, number }.to_string())),
        },
        Err(ApiError::NotFound { .. } | ApiError::Gone { .. }) => {
            return Ok(Linkable::Refused(LinkRefusal::NoSuchIssue { repo, number }.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    if issue.is_pull_request {
        return Ok(Linkable::Refused(LinkRefusal::PullRequest { repo, number }.to_string()));
    }
    Ok(Linkable::Issue(Box::new(issue)))
}

/// Reads the web base off the first configured repository's page (`GET /repos/{repo}`).
async fn learn_web_base(engine: &Engine) -> Result<(), ItemError> {
    let Some(repo) = engine.rules.repos().next() else { return Ok(()) };
    match engine.github.get_repo(repo).await {
        Ok(info) => engine.learn_web_base(repo, info.html_url.as_deref()),
        // A repository that cannot be read says nothing of the web host; its own refusal
        // comes when a link is made.
        Err(ApiError::NotFound { .. } | ApiError::Forbidden { .. } | ApiError::Gone { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Records the change with its note's intent (one transaction), then writes the note.
async fn apply(
    engine: &Engine,
    ticket: &Ticket,
    active: Option<&Mapping>,
    value: &str,
    seen_at: DateTime<Utc>,
    change: Change,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    // The same change read again is the same note.
    let key = EventKey::field_change(seen_at);
    let (text, closed, repo) = match &change {
        Change::Link(issue) => (
            notetext::field_link_note(issue, active, &key),
            Some(issue.state == IssueState::Closed),
            issue.repo.to_string(),
        ),
        Change::Unlink => {
            (notetext::unlinked_note(active, &key), None, active.map(|m| m.repo.to_string()).unwrap_or_default())
        }
        Change::Refuse(why) => (
            notetext::link_refused_note(why, active, &key),
            None,
            active.map(|m| m.repo.to_string()).unwrap_or_default(),
        ),
    };
    let event_key = key.to_string();
    let (add_tags, remove_tags) = match &change {
        Change::Refuse(_) => Default::default(),
        _ => state_tags(engine, closed),
    };
    let payload = PushPayload {
        event_key: event_key.clone(),
        text,
        status: None,
        order: NoteOrder::link_change(clock::now()),
        reopens: false,
        add_tags,
        remove_tags,
        about_link: true,
        field: None,
        public: false,
    };
    let impact_line = commenttext::impact_line(ticket, &engine.rules.zendesk.url, &engine.redactor);
    let store_change = match &change {
        Change::Link(issue) => {
            LinkChange::Link { issue, impact_line: &impact_line, ticket_updated_at: ticket.updated_at }
        }
        Change::Unlink => LinkChange::Unlink,
        Change::Refuse(why) => LinkChange::Refuse { why },
    };
    let note = ChangeNote { event_key: &event_key, repo: &repo, payload: &payload };
    engine.store.apply_link_change(ticket.id, &store_change, value, seen_at, &note)?;
    match &change {
        Change::Link(issue) => {
            info!(repo = %issue.repo, issue_number = issue.number.0, "ticket linked through the link field");
            report.linked.push((ticket.id, format!("{}#{}", issue.repo, issue.number)));
        }
        Change::Unlink => info!("ticket unlinked: the link field was cleared"),
        Change::Refuse(why) => warn!("link field refused: {why}"),
    }
    if let Some(intent) = engine.store.push_intent(ticket.id, &event_key)? {
        let payload = match intent.push_payload() {
            // A note of this change recorded before keeps its payload.
            Ok(stored) => stored.clone(),
            // One this build cannot read gives way to the note made just now (as it always has).
            Err(_) => payload,
        };
        push_note(engine, &intent, &payload, report).await?;
    }
    Ok(())
}

/// Brings every changed issue's impact comment up to date. A failure leaves the issue marked,
/// for the next pass; it never fails the pass.
pub(super) async fn refresh_impacts(engine: &Engine, report: &mut PassReport) -> Result<(), PassError> {
    if engine.dry_run {
        return Ok(());
    }
    for impact in engine.store.dirty_impacts()? {
        engine.beat();
        let issue = format!("{}#{}", impact.repo, impact.issue_number);
        match refresh(engine, &impact).await {
            Ok(()) => {}
            Err(ItemError::Store(e)) => return Err(e.into()),
            Err(ItemError::Api(e)) if super::stops_pass(&e) => return Err(e.into()),
            Err(e) => {
                report.failed += 1;
                warn!(%issue, error = %e, "the issue's linked-tickets comment was not updated; the next pass tries again");
            }
        }
    }
    Ok(())
}

async fn refresh(engine: &Engine, impact: &Impact) -> Result<(), ItemError> {
    let (repo, number) = (&impact.repo, impact.issue_number);
    let links = engine.store.issue_links(repo, number)?;
    // An issue found gone took its comment with it: there is nothing left to keep up to date,
    // and trying would cost an edit (404) and a create (410) on every pass, for ever.
    if links.iter().any(|(m, _)| m.link_state == LinkState::IssueGone) {
        engine.store.clear_impact(repo, number)?;
        return Ok(());
    }
    // An issue only escalation linked shows its one ticket in its body: no comment needed
    // (several tickets on it, say moved there from a duplicate, need one all the same).
    let active = links.iter().filter(|(m, _)| m.link_state == LinkState::Active).count();
    if impact.comment_id.is_none()
        && active <= 1
        && links.iter().all(|(m, _)| m.linked_by == ticket_sync_core::domain::LinkedBy::Escalation)
    {
        engine.store.clear_impact(repo, number)?;
        return Ok(());
    }
    let mut lines = Vec::new();
    for (m, line) in links.iter().filter(|(m, _)| m.link_state == LinkState::Active) {
        let line = match line {
            Some(line) => line.clone(),
            // An escalated ticket's row is made when its issue is first shared: one read of
            // the ticket then, instead of a stored row for every escalation.
            None => match engine.zendesk.show_ticket(m.ticket_id).await {
                Ok(ticket) => {
                    let line = commenttext::impact_line(&ticket, &engine.rules.zendesk.url, &engine.redactor);
                    engine.store.set_impact_line(m.ticket_id, &line)?;
                    line
                }
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(_) => commenttext::bare_impact_line(m.ticket_id, &engine.rules.zendesk.url),
            },
        };
        lines.push(line);
    }
    let text = commenttext::impact_comment(&lines);
    let digest = digest(&text);
    if impact.body_digest.as_deref() == Some(digest.as_str()) && impact.comment_id.is_some() {
        engine.store.record_impact(repo, number, None, &digest)?;
        return Ok(());
    }
    guard::check_repo(engine, repo).await?;
    // A comment someone deleted on GitHub is written anew.
    let existing = match impact.comment_id {
        Some(id) => match engine.github.update_comment(repo, id, &text).await {
            Ok(()) => Some(id),
            Err(ApiError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let id = match existing {
        Some(id) => id,
        None => {
            let found = if impact.attempts > 0 && impact.comment_id.is_none() {
                // An earlier attempt may have created it and lost the answer.
                let since = impact.attempted_at.unwrap_or_else(clock::now) - chrono::Duration::minutes(10);
                let own = identity::github_identity(engine).await?;
                let since = engine.github.github_time(since);
                engine
                    .github
                    .find_comment_with_marker(repo, number, commenttext::IMPACT_MARKER, since, &own.all())
                    .await?
            } else {
                None
            };
            match found {
                Some(id) => {
                    engine.github.update_comment(repo, id, &text).await?;
                    id
                }
                None => {
                    if let Some(at) = impact.attempted_at.filter(|_| impact.attempts > 0) {
                        // Sent before and not found: not again while GitHub may still be carrying it out.
                        let until = at + chrono::Duration::seconds(engine.rules.github.settle_secs as i64);
                        if clock::now() < until {
                            return Err(ItemError::Settling(until));
                        }
                    }
                    engine.store.impact_attempt(repo, number)?;
                    match engine.github.create_comment(repo, number, &text).await {
                        Ok(id) => id,
                        // Deleted before the audit noticed: the audit ends its links, and there
                        // is no comment to keep until then.
                        Err(ApiError::Gone { .. }) => {
                            info!(repo = %repo, issue_number = number.0, "the issue was deleted; its linked-tickets comment went with it");
                            engine.store.clear_impact(repo, number)?;
                            return Ok(());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    };
    info!(repo = %repo, issue_number = number.0, tickets = lines.len(), "linked-tickets comment updated");
    engine.store.record_impact(repo, number, Some(id), &digest)?;
    Ok(())
}

fn digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}
