//! The push-back pass: GitHub issue changes → Zendesk notes and statuses, exactly once.
//!
//! Per repository: list issues and the repo-wide comments since the watermarks, each with its
//! ETag (an idle repository costs two 304s); read the events of the mapped issues that changed,
//! each from its last update seen (`github/events.rs`); plan with `pushplan`; then per ticket,
//! in order: ledger check → durable intent → (on a retry, look for the note's marker) → PUT
//! note and status → ledger. The watermarks move only once every ticket of the repository is
//! done or recorded as failed; a failed ticket's remaining notes stay queued as intents and are
//! finished, in order, by a later pass.
//! A spent budget or a refused token stops the pass instead of failing each ticket in turn.
//! Forwarding (Zendesk → GitHub, `forward.rs`) runs at the end of the pass when enabled.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, warn, Instrument};

use super::fixes;
use super::identity::github_identity;
use super::notes::{push_note, resume_queued, Pushed};
use super::{settle, stops_pass, Engine, ItemError, PassError, PassReport};
use ticket_sync_clients::github::Updates;
use ticket_sync_core::clock;
use ticket_sync_core::domain::Mapping;
use ticket_sync_core::domain::{GithubTime, IssueNumber, RepoName, Stage, TicketId};
use ticket_sync_core::pushplan::{self, PushAction, RepoInput, TicketPlan};
use ticket_sync_core::rules::CommentsMode;
use ticket_sync_store::PushPayload;

/// How old a second must be before no GitHub update can still carry it (clock skew included).
const SETTLED_SECOND_MINUTES: i64 = 10;
/// The failures this pass records and clears.
const STAGE: Stage = Stage::Push;

/// How far before the oldest mapping a repository's first listing starts (clock skew margin).
const FIRST_SINCE_MARGIN_MINUTES: i64 = 10;

/// One push-back pass over every repository with linked issues, or (`only`, a webhook
/// delivery) over one of them: the same watermarks, intents and ledger either way.
pub(super) async fn run(
    engine: &Engine,
    cancel: &CancellationToken,
    only: Option<&RepoName>,
) -> Result<PassReport, PassError> {
    let mut report = PassReport::new(ticket_sync_core::domain::PassKind::Push);
    engine.forget_repo_checks();
    let blocked = if engine.dry_run { BTreeSet::new() } else { resume(engine, cancel, &mut report).await? };
    let mut repos = engine.store.mapped_repos()?;
    if let Some(only) = only {
        // GitHub names a repository with its own capitals; the rules may not.
        repos.retain(|r| r.to_string().eq_ignore_ascii_case(&only.to_string()));
    }
    for repo in repos {
        if cancel.is_cancelled() {
            break;
        }
        engine.beat();
        let span = info_span!("repo", %repo);
        let result = sync_repo(engine, &repo, &blocked, cancel, &mut report).instrument(span.clone()).await;
        if result.is_ok() && !cancel.is_cancelled() {
            // `[fixes]`, once the repository's changes are in: a close recorded now is a
            // pending fix already. A repository push-back could not read is not read again.
            fixes::follow(engine, &repo, &mut report).instrument(span).await?;
        }
        if let Err(e) = result {
            match e {
                ItemError::Store(e) => return Err(e.into()),
                ItemError::Api(e) if stops_pass(&e) => return Err(e.into()),
                other => {
                    report.failed += 1;
                    warn!(%repo, error = %other, "push-back skipped this repository; its watermarks did not move, the next pass tries again");
                }
            }
        }
    }
    Ok(report)
}

/// Finishes the queued notes of earlier passes, oldest first per ticket (`push_note` drops
/// those of a link no longer active). Returns the tickets that still have queued notes: their
/// new notes queue behind them.
async fn resume(
    engine: &Engine,
    cancel: &CancellationToken,
    report: &mut PassReport,
) -> Result<BTreeSet<TicketId>, PassError> {
    resume_queued::<PushPayload>(engine, cancel, STAGE, report, |engine, _, intent, payload, report| {
        Box::pin(async move { Ok(!matches!(push_note(engine, intent, payload, report).await?, Pushed::TicketClosed)) })
    })
    .await
}

async fn sync_repo(
    engine: &Engine,
    repo: &RepoName,
    blocked: &BTreeSet<TicketId>,
    cancel: &CancellationToken,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    let stored = engine.store.watermark(repo)?;
    let first_since = match &stored {
        Some(_) => None,
        None => engine.store.earliest_issue_update(repo)?.map(|t| t - Duration::minutes(FIRST_SINCE_MARGIN_MINUTES)),
    };
    let mut wm = stored.unwrap_or_default();
    let issues_since = wm.issues_since.or(first_since);
    let comments_since = wm.comments_since.or(first_since);
    let issues = engine.github.list_issues_since(repo, issues_since, wm.issues_etag.as_deref()).await?;
    let comments = engine.github.list_comments_since(repo, comments_since, wm.comments_etag.as_deref()).await?;
    let (issues, issues_etag, issues_recheck) = changed(issues);
    let (comments, comments_etag, comments_recheck) = changed(comments);
    if issues.is_none() && comments.is_none() {
        return Ok(());
    }
    let (issues, comments) = (issues.unwrap_or_default(), comments.unwrap_or_default());
    // Only the links of issues that appear in this pass are read: memory follows the changes.
    let touched: Vec<IssueNumber> =
        issues.iter().map(|i| i.number).chain(comments.iter().map(|c| c.issue_number)).collect();
    let mappings: Vec<Mapping> = engine.store.active_mappings_for(repo, &touched)?;
    // Events only of the mapped issues that changed, each from its last update seen: the cost
    // follows the linked issues' changes, never the repository's other activity.
    let needs = pushplan::event_needs(&mappings, &issues);
    let events = if needs.is_empty() { Vec::new() } else { engine.github.issue_events_since(repo, &needs).await? };
    let mapped = |n| mappings.iter().any(|m| m.issue_number == n);
    let new_comments = (comments.iter())
        .any(|c| mapped(c.issue_number) && pushplan::is_new_comment(c, wm.last_comment_id, comments_since));
    let mirror = engine.rules.pushback.comments == CommentsMode::Internal;
    let own = if new_comments && mirror || !events.is_empty() { Some(github_identity(engine).await?) } else { None };
    // What closed each issue (`[fixes]`): its close note names it, and its fix is recorded.
    let closes = fixes::closes(engine, repo, &events, &issues, report).await?;
    let input = RepoInput {
        repo,
        mappings: &mappings,
        issues: &issues,
        events: &events,
        comments: &comments,
        last_comment_id: wm.last_comment_id,
        comments_from: comments_since,
        own: own.as_deref(),
        close_lines: &closes.lines,
    };
    let mut plan = pushplan::plan(&engine.rules.pushback, &input);
    // An issue closed as a duplicate: its tickets' note of that close is the fixes part's
    // (naming the survivor, or the move to it, written after their other notes of the pass);
    // a moved ticket keeps the survivor's state, not the old issue's.
    for t in plan.tickets.iter_mut().filter(|t| closes.held.contains_key(&t.ticket)) {
        t.actions.retain(|a| !closes.leaves_out(t.ticket, a));
        if closes.moved.contains(&t.ticket) {
            t.seen = None;
        }
    }
    let changes: usize = plan.tickets.iter().map(|t| t.actions.len()).sum();
    if changes > 0 {
        engine.progress(&format!("pushing {changes} changes from {repo}"));
    }
    for ticket in plan.tickets {
        if cancel.is_cancelled() {
            // The watermarks stay: the next pass plans the rest again; the ledger skips what is done.
            return Ok(());
        }
        engine.beat();
        let id = ticket.ticket;
        let span = info_span!("ticket", ticket_id = id.0, issue_number = tracing::field::Empty);
        if let Some(m) = engine.store.mapping(id).ok().flatten() {
            span.record("issue_number", m.issue_number.0);
        }
        let queued_behind = blocked.contains(&id);
        let result = retrying!(engine, act(engine, repo, ticket.clone(), queued_behind, report)).instrument(span).await;
        if queued_behind && result.is_ok() {
            // Its notes only queued behind an earlier failure: that failure, its back-off and
            // its attempt count stay as they are.
            continue;
        }
        settle(engine, id, STAGE, None, result, report)?;
    }
    fixes::write_after(engine, closes, report).await?;
    if engine.dry_run {
        return Ok(());
    }
    // GitHub's clock (its `Date` header), not the host's: a host running fast would call a
    // second settled while GitHub is still stamping changes with it.
    let now = engine.github.github_time(clock::now());
    if let Some(t) = issues.iter().filter_map(|i| i.updated_at).max() {
        wm.issues_since = Some(next_since(t, issues_etag.is_none(), now));
    }
    wm.issues_since = min_time(wm.issues_since.or(issues_since), issues_recheck);
    wm.issues_etag = issues_etag.or(wm.issues_etag);
    if let Some(t) = comments.iter().filter_map(|c| c.updated_at).max() {
        wm.comments_since = Some(next_comments_since(t, comments_since, comments_etag.is_none(), now));
    }
    wm.comments_since = min_time(wm.comments_since.or(comments_since), comments_recheck);
    wm.comments_etag = comments_etag.or(wm.comments_etag);
    wm.last_comment_id = comments.iter().map(|c| c.id).chain(wm.last_comment_id).max();
    if let Some(first) = plan.first_deferred_event {
        // Its issue's update seen stays before it, so the next pass reads it again.
        debug!(event = first, "events after the listing wait for the next pass");
    }
    engine.store.set_watermark(repo, &wm)?;
    Ok(())
}

/// The next `since` after a listing whose newest item was updated at `newest`.
///
/// `since` is inclusive and GitHub's times have whole seconds, so the next listing repeats the
/// items of that second; a single page of them answers 304 to its ETag. A listing of several
/// pages gets no ETag (a change further down would not alter its first page), so when the
/// newest second lies safely in the past (no update can still get that time stamp) the
/// watermark moves one second on, and the items already read are not read again.
fn next_since(newest: DateTime<Utc>, multi_page: bool, now: GithubTime) -> DateTime<Utc> {
    if multi_page && newest < (now - Duration::minutes(SETTLED_SECOND_MINUTES)).utc() {
        newest + Duration::seconds(1)
    } else {
        newest
    }
}

/// The next `since` of the comment list after one read from `sent` whose newest comment was
/// updated at `newest`. A comment can appear in the API a little after a later one
/// (replication), with an earlier time than the newest already read; until that second is
/// settled, the next listing looks back `SETTLED_SECOND_MINUTES` before it (never before
/// `sent`, up to which the list was complete), and the ledger skips what was told already.
/// Once settled, every comment up to it was visible when it was read.
fn next_comments_since(
    newest: DateTime<Utc>,
    sent: Option<DateTime<Utc>>,
    multi_page: bool,
    now: GithubTime,
) -> DateTime<Utc> {
    if newest < (now - Duration::minutes(SETTLED_SECOND_MINUTES)).utc() {
        return next_since(newest, multi_page, now);
    }
    let back = newest - Duration::minutes(SETTLED_SECOND_MINUTES);
    sent.map_or(back, |s| s.max(back))
}

/// Items, ETag and recheck time of a changed listing; `None` for a 304.
fn changed<T>(listing: Updates<T>) -> (Option<Vec<T>>, Option<String>, Option<DateTime<Utc>>) {
    match listing {
        Updates::NotModified => (None, None, None),
        Updates::Changed { items, etag, recheck_from } => (Some(items), etag, recheck_from),
    }
}

/// The earlier of a watermark and a recheck time (a listing that may have skipped something
/// must be read again from there).
fn min_time(since: Option<DateTime<Utc>>, recheck: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (since, recheck) {
        (Some(s), Some(r)) => Some(s.min(r)),
        (s, r) => s.or(r),
    }
}

/// One ticket's notes in order, then the state seen. Behind a failure (or a queue from an
/// earlier pass) the remaining notes are only queued, so they are never written out of order.
async fn act(
    engine: &Engine,
    repo: &RepoName,
    plan: TicketPlan,
    blocked: bool,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    let id = plan.ticket;
    let mut queue_only = blocked;
    let mut failure = None;
    let mut pushed = false;
    for action in plan.actions {
        if engine.store.push_note_done(id, &action.event_key.to_string())? {
            continue;
        }
        if engine.dry_run {
            report.planned.push(format!("note on ticket {id} for {} ({})", action.event_key, describe(&action)));
            continue;
        }
        let payload = payload(engine, action);
        let intent = engine.store.begin_push_intent(id, &payload.event_key, &repo.to_string(), &payload)?;
        if queue_only {
            continue;
        }
        match push_note(engine, &intent, &payload, report).await {
            Ok(Pushed::Done) => pushed = true,
            Ok(Pushed::TicketClosed) => return Ok(()),
            Err(e) => {
                queue_only = true;
                failure = Some(e);
            }
        }
    }
    if let (Some(seen), false) = (&plan.seen, engine.dry_run) {
        engine.store.record_seen_state(id, seen, pushed)?;
    }
    failure.map_or(Ok(()), Err)
}

fn payload(engine: &Engine, a: PushAction) -> PushPayload {
    let (add_tags, remove_tags) = a.closes.map(|c| super::notes::state_tags(engine, Some(c))).unwrap_or_default();
    PushPayload {
        event_key: a.event_key.to_string(),
        text: a.text,
        status: a.status,
        order: a.order,
        reopens: false,
        add_tags,
        remove_tags,
        about_link: false,
        field: None,
        public: false,
    }
}

fn describe(a: &PushAction) -> String {
    let first = a.text.lines().next().unwrap_or_default();
    match &a.status {
        Some(s) => format!("{first} → status {s}"),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_settled_second_of_a_long_listing_is_not_read_again() {
        let newest = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let later = |m| GithubTime::stamped(newest + Duration::minutes(m));
        assert_eq!(next_since(newest, true, later(11)), newest + Duration::seconds(1), "several pages, long past");
        assert_eq!(next_since(newest, true, later(5)), newest, "too recent: an update may still carry that second");
        assert_eq!(next_since(newest, false, later(60)), newest, "one page: its ETag makes the repeat free");
    }

    #[test]
    fn the_comment_list_looks_back_until_its_newest_second_is_settled() {
        let newest = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let later = |m| GithubTime::stamped(newest + Duration::minutes(m));
        let back = newest - Duration::minutes(10);
        assert_eq!(next_comments_since(newest, None, false, later(1)), back, "recent: look back");
        let sent = newest - Duration::minutes(3);
        assert_eq!(next_comments_since(newest, Some(sent), false, later(1)), sent, "never before what was complete");
        assert_eq!(next_comments_since(newest, Some(back), false, later(11)), newest, "settled: no look-back");
        assert_eq!(next_comments_since(newest, None, true, later(11)), newest + Duration::seconds(1));
    }
}
