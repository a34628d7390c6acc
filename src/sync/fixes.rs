//! Following a linked issue's fix (part 15, `[fixes]`): the pull requests that put a fix in
//! review, and the releases that ship it. Runs inside the push pass: the pull requests before
//! push-back (so a close note names the merged pull request without asking GitHub), the
//! releases after it (so a close recorded in this pass is already a pending fix).
//!
//! Cost: per repository with active links, one conditional read of its pull requests by update
//! (a `304` when nothing moved); the releases list only for repositories with a pending fix
//! (conditional too, but its ETag changes with download counts); and one compare per new
//! release and pending fix closed before it was published, its answer kept. Every note goes
//! through a durable push-note intent with its own event key, so each ticket is told each step
//! once; what a pass cannot write, the next push pass finishes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Duration;
use tracing::{info, warn};

use super::notes::{push_note, state_tags};
use super::{stops_pass, Engine, ItemError, PassError, PassReport};
use ticket_sync_clients::github::Listing;
use ticket_sync_clients::http::ApiError;
use ticket_sync_core::clock;
use ticket_sync_core::domain::{
    EventKind, IssueEvent, IssueNumber, IssueState, LinkState, ListedIssue, Mapping, RepoName, StateReason, TicketId,
};
use ticket_sync_core::eventkey::EventKey;
use ticket_sync_core::fixplan::{self, Closer, PullState, Release};
use ticket_sync_core::noteorder::{NoteKind, NoteOrder};
use ticket_sync_core::notetext;
use ticket_sync_store::{ChangeNote, PendingFix, PushPayload};

/// The tag a linked ticket gets when its fix shipped (`[linking] state_tags`).
pub(super) const TAG_RELEASED: &str = "github_released";

/// How long before a fix's close a release may have been published and still contain it
/// (clock skew between a merge and the close event GitHub stamps).
const CLOSE_MARGIN_MINUTES: i64 = 10;

/// Compares of one release with one fix that may go unanswered (passes) before the release is
/// taken as not containing it: a 404 (unrelated histories, a tag gone) is asked once more; any
/// other failure (a diff too slow to make) a few times.
const NOT_FOUND_TRIES: u32 = 2;
const COMPARE_TRIES: u32 = 5;

/// Follows the fixes of one repository's linked issues: its pull requests, then (with a
/// pending fix) its releases. A failure is the repository's, and waits for the next pass; a
/// refusal (an App or fine-grained token without the Pull requests or Contents permission) or
/// a 404 only skips it, with a warning: it is a setting to change, not an item failing.
pub(super) async fn follow(engine: &Engine, repo: &RepoName, report: &mut PassReport) -> Result<(), PassError> {
    if !engine.rules.fixes.track || engine.dry_run {
        return Ok(());
    }
    // The pull requests and the releases need different permissions: one refused does not
    // keep the other from being read.
    let awaiting = awaiting_survivors(engine, repo, report).await;
    settle_half(repo, awaiting, report)?;
    let pulls = pull_requests(engine, repo, report).await;
    settle_half(repo, pulls, report)?;
    let late = untold_reviews(engine, repo, report).await;
    settle_half(repo, late, report)?;
    let shipped = releases(engine, repo, report).await;
    settle_half(repo, shipped, report)
}

/// What one half of `follow` came to: a store error or one that stops the pass is the pass's;
/// a refusal (an App or fine-grained token without the Pull requests or Contents permission)
/// or a 404 only skips it, with a warning: a setting to change, not an item failing; anything
/// else fails the repository until the next pass.
fn settle_half(repo: &RepoName, result: Result<(), ItemError>, report: &mut PassReport) -> Result<(), PassError> {
    match result {
        Ok(()) => Ok(()),
        Err(ItemError::Store(e)) => Err(e.into()),
        Err(ItemError::Api(e)) if stops_pass(&e) => Err(e.into()),
        Err(ItemError::Api(e @ (ApiError::Forbidden { .. } | ApiError::NotFound { .. }))) => {
            warn!(%repo, error = %e, "cannot follow fixes in this repository: ticket-sync needs read access to its pull requests and contents (a GitHub App's or fine-grained token's \"Pull requests\" and \"Contents\" permissions), or set [fixes] track = false");
            Ok(())
        }
        Err(e) => {
            report.failed += 1;
            warn!(%repo, error = %e, "following fixes skipped this repository; the next pass tries again");
            Ok(())
        }
    }
}

/// The repository's pull requests updated since the last read: each one into the default
/// branch that closes linked issues by keyword is remembered (a close note names it) and tells
/// their tickets it is in review, or that it was closed without being merged.
async fn pull_requests(engine: &Engine, repo: &RepoName, report: &mut PassReport) -> Result<(), ItemError> {
    let mut wm = engine.store.fix_watermark(repo)?;
    let listing = engine.github.pulls_updated_since(repo, wm.pulls_since, wm.pulls_etag.as_deref()).await?;
    let Listing::Changed { items, etag } = listing else { return Ok(()) };
    let web = engine.web_base();
    let linked = linked_in_ui(engine, repo, &items).await?;
    // Oldest update first, so the notes follow what happened.
    for pr in items.iter().rev() {
        let in_ui = linked.get(&pr.number).map_or(&[][..], Vec::as_slice);
        let closes = fixplan::closes(pr, &web, in_ui);
        let mut links = Vec::new();
        let mut here = Vec::new();
        for (issue_repo, number) in &closes {
            let issue_repo = engine.as_configured(issue_repo);
            if issue_repo == *repo {
                here.push(*number);
            }
            links.extend(engine.store.active_mappings_for(&issue_repo, &[*number])?);
        }
        // Remembered even with no ticket linked yet: a ticket linked while it is open is told
        // it is in review (`untold_reviews`), and a close it makes is named without a request.
        if !here.is_empty() || !links.is_empty() {
            engine.store.record_pull(pr, &here)?;
        }
        if links.is_empty() {
            continue;
        }
        for note in fixplan::review_notes(pr, &closes, &links) {
            if let EventKey::PullRequestUnmerged { repo, number } = &note.event_key {
                // Closed unmerged tells only a ticket that was told it was in review, or will
                // be (its note waiting as an intent: this one queues behind it).
                let review = EventKey::PullRequestInReview { repo: repo.clone(), number: *number }.to_string();
                let told = engine.store.push_note_done(note.ticket, &review)?
                    || engine.store.push_intent(note.ticket, &review)?.is_some();
                if !told {
                    continue;
                }
            }
            let Some(m) = links.iter().find(|m| m.ticket_id == note.ticket) else { continue };
            tell(engine, m, plain(engine, &note.event_key, note.text), report).await?;
        }
    }
    if let Some(newest) = items.iter().filter_map(|p| p.updated_at).max() {
        wm.pulls_since = Some(newest.utc().max(wm.pulls_since.unwrap_or(newest.utc())));
    }
    wm.pulls_etag = etag.or(wm.pulls_etag);
    engine.store.set_fix_watermark(repo, &wm)?;
    Ok(())
}

/// The issues linked in GitHub's UI to the pull requests of `items` that are not merged (one
/// GraphQL query per 50: REST does not show these links; a merged one's close is named from
/// its commit). Unreadable (no permission, GraphQL's budget spent): none, and said so; the
/// description's keywords still count.
async fn linked_in_ui(
    engine: &Engine,
    repo: &RepoName,
    items: &[fixplan::PullRequest],
) -> Result<BTreeMap<IssueNumber, Vec<(RepoName, IssueNumber)>>, ItemError> {
    let asked: Vec<IssueNumber> =
        items.iter().filter(|p| !matches!(p.state, PullState::Merged { .. })).map(|p| p.number).collect();
    match engine.github.closing_issues(repo, &asked).await {
        Ok(linked) => Ok(linked),
        Err(e) if stops_pass(&e) && !matches!(e, ApiError::RateLimited { .. }) => Err(e.into()),
        Err(e) => {
            warn!(%repo, error = %e, "could not read which issues the pull requests are linked to in GitHub's UI; their descriptions' keywords still count");
            Ok(BTreeMap::new())
        }
    }
}

/// Tickets linked after an open pull request that closes their issue was read (an agent's
/// link, a move): told it is in review, once. From the database alone: no request.
async fn untold_reviews(engine: &Engine, repo: &RepoName, report: &mut PassReport) -> Result<(), ItemError> {
    for late in engine.store.untold_reviews(repo)? {
        let Some(m) = engine.store.mapping(late.ticket)? else { continue };
        let pr = fixplan::PullRequest {
            repo: repo.clone(),
            number: late.number,
            title: late.title,
            author: late.author,
            url: late.url,
            body: String::new(),
            into_default_branch: true,
            state: PullState::Open,
            updated_at: None,
        };
        for note in fixplan::review_notes(&pr, &[(repo.clone(), late.issue_number)], std::slice::from_ref(&m)) {
            tell(engine, &m, plain(engine, &note.event_key, note.text), report).await?;
        }
    }
    Ok(())
}

/// A note's payload with nothing but its text. It is ordered at GitHub's time now (by its
/// `Date` header): after every GitHub change already read, such as the close it follows.
fn plain(engine: &Engine, key: &EventKey, text: String) -> PushPayload {
    let github_now = engine.github.github_time(clock::now()).utc();
    PushPayload {
        event_key: key.to_string(),
        text,
        status: None,
        order: NoteOrder::github(github_now, NoteKind::Own, 0),
        reopens: false,
        add_tags: Vec::new(),
        remove_tags: Vec::new(),
        about_link: false,
        field: None,
        public: false,
    }
}

/// Queues one write for one ticket (its intent first) and makes it, once. A failure leaves
/// the intent, which the next push pass finishes in order.
async fn tell(engine: &Engine, m: &Mapping, payload: PushPayload, report: &mut PassReport) -> Result<(), ItemError> {
    let Some(intent) = queue(engine, m, &payload)? else { return Ok(()) };
    write_all(engine, vec![intent], report).await
}

/// Records a write's intent; `None` when it was made before.
fn queue(engine: &Engine, m: &Mapping, payload: &PushPayload) -> Result<Option<ticket_sync_store::Intent>, ItemError> {
    if engine.store.push_note_done(m.ticket_id, &payload.event_key)? {
        return Ok(None);
    }
    Ok(Some(engine.store.begin_push_intent(m.ticket_id, &payload.event_key, &m.repo.to_string(), payload)?))
}

/// Makes queued writes, in order, each with the payload its intent keeps (an earlier one
/// wins). A ticket with an unfinished note from before (a push-back note waiting out a
/// failure, say) gets nothing written now: its writes wait behind it, and the next push pass
/// makes them all in order. After a ticket's write fails, its later ones wait too.
async fn write_all(
    engine: &Engine,
    intents: Vec<ticket_sync_store::Intent>,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    let batch: BTreeSet<&str> = intents.iter().map(|i| i.key.as_str()).collect();
    let mut waiting = BTreeSet::new();
    for intent in &intents {
        let id = intent.ticket_id;
        if waiting.contains(&id) {
            continue;
        }
        let earlier = engine.store.pending_push_keys(id)?.into_iter().any(|k| !batch.contains(k.as_str()));
        if earlier {
            info!(ticket_id = id.0, "the ticket has an earlier note waiting; this one is written after it");
            waiting.insert(id);
            continue;
        }
        let Ok(payload) = intent.push_payload().cloned() else { continue };
        match push_note(engine, intent, &payload, report).await {
            Ok(_) => {}
            Err(e @ ItemError::Store(_)) => return Err(e),
            Err(ItemError::Api(e)) if stops_pass(&e) => return Err(e.into()),
            Err(e) => {
                report.failed += 1;
                warn!(ticket_id = id.0, error = %e, "the note waits as an intent; the next push pass writes it");
                waiting.insert(id);
            }
        }
    }
    Ok(())
}

/// The releases of a repository with pending fixes: each release published after a pending
/// fix's close that counts as shipping (`fixplan::ships`) is compared with the fix's commit
/// (once: the answer is kept), and the first that contains it ships it.
async fn releases(engine: &Engine, repo: &RepoName, report: &mut PassReport) -> Result<(), ItemError> {
    let pending = engine.store.pending_fixes(repo)?;
    if pending.is_empty() {
        return Ok(());
    }
    let mut wm = engine.store.fix_watermark(repo)?;
    if let Listing::Changed { items, etag } = engine.github.releases(repo, wm.releases_etag.as_deref()).await? {
        engine.store.replace_releases(repo, &items)?;
        wm.releases_etag = etag.or(wm.releases_etag);
        engine.store.set_fix_watermark(repo, &wm)?;
    }
    for fix in pending {
        engine.beat();
        let from = fix.closed_at.map(|t| t - Duration::minutes(CLOSE_MARGIN_MINUTES));
        let candidates = engine.store.releases_since(repo, from)?;
        for release in candidates.iter().filter(|r| fixplan::ships(r, &engine.rules.fixes)) {
            let contained = match engine.store.release_check(repo, release.id, &fix.commit)? {
                Some(known) => known,
                None => match engine.github.tag_contains(repo, &release.tag, &fix.commit).await {
                    Ok(contained) => {
                        engine.store.record_release_check(repo, release.id, &fix.commit, contained)?;
                        contained
                    }
                    Err(e) if stops_pass(&e) => return Err(e.into()),
                    // No answer (a 404: the tag gone, unrelated histories; a 500: a diff too
                    // slow to make; an answer that does not read) is not "not contained": asked
                    // again next pass, and no later release is named before this one is known.
                    // After a few tries it is taken as not containing the fix, so a release
                    // that never answers costs no request on every pass for ever.
                    Err(e) => {
                        let tries = engine.store.record_release_check_failure(repo, release.id, &fix.commit)?;
                        let limit =
                            if matches!(e, ApiError::NotFound { .. }) { NOT_FOUND_TRIES } else { COMPARE_TRIES };
                        if tries < limit {
                            warn!(tag = %release.tag, commit = fix.commit.short(), error = %e, "could not tell whether the release contains the fix; asked again next pass");
                            break;
                        }
                        warn!(tag = %release.tag, commit = fix.commit.short(), error = %e, tries, "the release never told whether it contains the fix; taken as not containing it");
                        engine.store.record_release_check(repo, release.id, &fix.commit, false)?;
                        false
                    }
                },
            };
            if contained {
                ship(engine, &fix, release, report).await?;
                break;
            }
        }
    }
    Ok(())
}

/// Tells every ticket linked to the fixed issue that it shipped in `release`: the note (with
/// the drafted reply), the `github_released` tag, the version field, and with `public_reply`
/// the reply itself. Every intent is recorded before the fix is marked shipped, so a crash
/// between them queues them again under the same keys: nothing doubles, nothing is lost.
async fn ship(engine: &Engine, fix: &PendingFix, release: &Release, report: &mut PassReport) -> Result<(), ItemError> {
    let issue_repo = &fix.issue_repo;
    let links: Vec<Mapping> = (engine.store.issue_links(issue_repo, fix.issue_number)?.into_iter())
        .map(|(m, _)| m)
        .filter(|m| m.link_state == LinkState::Active)
        .collect();
    let rules = &engine.rules.fixes;
    let reply = match &rules.reply_template {
        Some(template) => {
            let title = if template.contains("{issue_title}") {
                issue_title(engine, issue_repo, fix.issue_number).await?
            } else {
                String::new()
            };
            let url = links.first().map(|m| m.issue_url.clone()).unwrap_or_default();
            Some(fixplan::reply(template, release, &title, &url))
        }
        None => None,
    };
    info!(issue_number = fix.issue_number.0, tag = %release.tag, tickets = links.len(), "the fix shipped");
    let note_key = fixplan::shipped_key(release);
    let add_tags: Vec<String> = if engine.rules.linking.as_ref().is_some_and(|l| l.state_tags) {
        vec![TAG_RELEASED.to_string()]
    } else {
        Vec::new()
    };
    let mut queued = Vec::new();
    for m in &links {
        let text = fixplan::shipped_note((issue_repo, fix.issue_number), release, reply.as_deref());
        let payload = PushPayload {
            add_tags: add_tags.clone(),
            field: rules.version_field_id.map(|f| (f, release.tag.clone())),
            ..plain(engine, &note_key, text)
        };
        queued.extend(queue(engine, m, &payload)?);
        if let (true, Some(reply)) = (rules.public_reply, &reply) {
            let key = EventKey::ShippedReply { repo: release.repo.clone(), release: release.id };
            let text = engine.redactor.redact(reply).into_owned();
            let mut payload = PushPayload { public: true, ..plain(engine, &key, text) };
            // After the note that carries its draft, when both wait and are written in order.
            payload.order.id = 1;
            queued.extend(queue(engine, m, &payload)?);
        }
    }
    engine.store.record_shipped(issue_repo, fix.issue_number, release)?;
    write_all(engine, queued, report).await?;
    Ok(())
}

/// The issue's title, for the drafted reply.
async fn issue_title(engine: &Engine, repo: &RepoName, number: IssueNumber) -> Result<String, ItemError> {
    match engine.github.issue_title(repo, number).await {
        Ok(title) => Ok(title),
        Err(e) if e.is_retryable() || stops_pass(&e) => Err(e.into()),
        // Moved or gone since (the audit will say): the reply names it by its number.
        Err(e) => {
            warn!(issue_number = number.0, error = %e, "the issue's title cannot be read; the reply names the issue by its number");
            Ok(format!("{repo}#{number}"))
        }
    }
}

/// What closed an issue, for its close note and its fix: the merged pull request whose commit
/// is the close's (read from the pull requests, else asked of GitHub: one request), else the
/// commit — in the repository the commit is in (a pull request elsewhere can close the issue).
/// Without a commit (`fallback`: a close as completed), a merged pull request known to close
/// it that is not the fix of an earlier close; else by hand.
async fn closer(
    engine: &Engine,
    repo: &RepoName,
    number: IssueNumber,
    event: &IssueEvent,
    fallback: bool,
) -> Result<Closer, ItemError> {
    let Some(sha) = &event.commit_id else {
        if !fallback {
            return Ok(Closer::Hand);
        }
        // A pull request that fixed an earlier close (reopened since) did not fix this one.
        let earlier = engine.store.fix(repo, number)?.and_then(|f| match f.closer {
            Closer::PullRequest { number, .. } => Some(number),
            _ => None,
        });
        let merged = engine.store.pulls_closing(repo, number)?.into_iter().find_map(|p| match p.state {
            PullState::Merged { commit } if Some(p.number) != earlier => {
                Some(Closer::PullRequest { repo: repo.clone(), number: p.number, title: p.title, url: p.url, commit })
            }
            _ => None,
        });
        return Ok(merged.unwrap_or(Closer::Hand));
    };
    let in_repo = event.commit_repo.as_ref().map_or_else(|| repo.clone(), |r| engine.as_configured(r));
    let named = |p: (IssueNumber, String, String)| Closer::PullRequest {
        repo: in_repo.clone(),
        number: p.0,
        title: p.1,
        url: p.2,
        commit: Some(sha.clone()),
    };
    if let Some(p) = engine.store.pull_by_merge_commit(&in_repo, sha)? {
        return Ok(named((p.number, p.title, p.url)));
    }
    match engine.github.pull_of_commit(&in_repo, sha).await {
        Ok(Some(p)) => Ok(named((p.number, p.title, p.url))),
        Ok(None) => Ok(Closer::Commit { repo: in_repo.clone(), sha: sha.clone() }),
        Err(e) if stops_pass(&e) => Err(e.into()),
        Err(e) => {
            warn!(commit = sha.short(), error = %e, "could not read which pull request brought the commit in; the close note names the commit");
            Ok(Closer::Commit { repo: in_repo.clone(), sha: sha.clone() })
        }
    }
}

/// The close lines and fixes of one repository's issues whose events were read in a push
/// pass: per issue, its last close or reopen decides. A close with a commit first has the
/// repository's pull requests read (their merge commits name it without a request). An issue
/// the listing shows closed as a duplicate moves its tickets to the surviving issue when that
/// is in a routed repository (`moved`: their notes of the close are left out, the note of the
/// move queued, to be written after the ticket's other notes of this pass); otherwise its close
/// note names the survivor.
pub(super) async fn closes(
    engine: &Engine,
    repo: &RepoName,
    events: &[IssueEvent],
    issues: &[ListedIssue],
    report: &mut PassReport,
) -> Result<Closes, ItemError> {
    let mut out = Closes::default();
    if !engine.rules.fixes.track || engine.dry_run {
        return Ok(out);
    }
    let states = || events.iter().filter(|e| matches!(e.kind, EventKind::Closed | EventKind::Reopened));
    if states().any(|e| e.kind == EventKind::Closed && e.commit_id.is_some()) {
        settle_half(repo, pull_requests(engine, repo, report).await, report)?;
    }
    let mut by_issue: BTreeMap<IssueNumber, Vec<&IssueEvent>> = BTreeMap::new();
    for e in states() {
        by_issue.entry(e.issue_number).or_default().push(e);
    }
    for (number, list) in by_issue {
        let listed = issues.iter().find(|i| i.number == number);
        let last = list.last().copied();
        for e in &list {
            if e.kind != EventKind::Closed {
                continue;
            }
            // Why it was closed: the listing's reason is its last close's.
            let reason = match (listed, last.is_some_and(|l| l.id == e.id)) {
                (Some(i), true) => i.state_reason.clone(),
                _ => e.state_reason.clone(),
            };
            let fallback = matches!(reason, None | Some(StateReason::Completed));
            let closer = closer(engine, repo, number, e, fallback).await?;
            if let Some(line) = closer.close_line() {
                out.lines.insert(e.id, line);
            }
            if last.is_some_and(|l| l.id == e.id) {
                engine.store.record_close(repo, number, e.created_at, &closer)?;
            }
        }
        match last {
            Some(e) if e.kind == EventKind::Closed => {
                let duplicate = listed
                    .is_some_and(|i| i.state == IssueState::Closed && i.state_reason == Some(StateReason::Duplicate));
                if duplicate {
                    let actor = e.actor.as_deref().unwrap_or("someone");
                    let held = engine.store.active_mappings_for(repo, &[number])?;
                    out.held.extend(held.iter().map(|m| (m.ticket_id, e.id)));
                    if !duplicate_close(engine, repo, number, (e.id, actor), &mut out).await? {
                        engine.store.record_awaiting_survivor(repo, number, e.id, actor)?;
                    }
                }
            }
            Some(_) => engine.store.record_fix_reopened(repo, number)?,
            None => {}
        }
    }
    // An issue whose tickets left for a survivor, open again: not a duplicate after all (its
    // mark undone, it is reopened); they come back, each told once.
    for listed in issues.iter().filter(|i| i.state == IssueState::Open) {
        let back = engine.store.moved_from(repo, listed.number)?;
        if back.is_empty() {
            continue;
        }
        let issue = engine.github.get_issue(repo, listed.number).await?;
        let key = EventKey::LinkReturned { repo: repo.clone(), number: listed.number };
        for ticket in back {
            let Some(m) = engine.store.mapping(ticket)? else { continue };
            let text = fixplan::returned_note((repo, listed.number), (&m.repo, m.issue_number), &issue.html_url);
            let (add_tags, remove_tags) = state_tags(engine, Some(false));
            let payload = PushPayload { about_link: true, add_tags, remove_tags, ..plain(engine, &key, text) };
            let note = ChangeNote { event_key: &payload.event_key, repo: &repo.to_string(), payload: &payload };
            engine.store.move_back(ticket, &issue, &note)?;
            info!(ticket_id = ticket.0, to = %format!("{repo}#{}", listed.number), "the issue is no longer a duplicate; the ticket follows it again");
            out.after.push(engine.store.begin_push_intent(ticket, &payload.event_key, &repo.to_string(), &payload)?);
        }
        engine.store.record_fix_reopened(repo, listed.number)?;
    }
    Ok(out)
}

/// What `closes` found: the close notes' lines by event id; the tickets of issues closed as
/// duplicates, with that close's event, whose note of it this part makes itself (`held`: the
/// plan's is left out, see `leaves_out`), of which those moved to a survivor (`moved`: the old
/// issue's state is not kept for them); and those writes, to make once the tickets' other
/// notes of the pass are (`after`).
#[derive(Debug, Default)]
pub(super) struct Closes {
    pub lines: HashMap<u64, String>,
    pub held: BTreeMap<TicketId, u64>,
    pub moved: BTreeSet<TicketId>,
    after: Vec<ticket_sync_store::Intent>,
}

impl Closes {
    /// Whether the plan's note `action` for `ticket` is one this part makes itself: the note
    /// of its issue's close as a duplicate (or of the closed state it left, when the events
    /// did not explain it). Its other notes (comments, earlier closes and reopens) stay.
    pub fn leaves_out(&self, ticket: TicketId, action: &ticket_sync_core::pushplan::PushAction) -> bool {
        let Some(event) = self.held.get(&ticket) else { return false };
        action.closes == Some(true)
            && match &action.event_key {
                EventKey::GithubEvent(id) => id == event,
                EventKey::GithubState { state, .. } => *state == IssueState::Closed,
                _ => false,
            }
    }
}

/// Makes the writes `closes` left for after the tickets' other notes of the pass.
pub(super) async fn write_after(engine: &Engine, closes: Closes, report: &mut PassReport) -> Result<(), ItemError> {
    write_all(engine, closes.after, report).await
}

/// How many duplicates of duplicates are followed to the issue that lives on.
const MAX_DUPLICATE_HOPS: usize = 5;

/// An issue closed as a duplicate (its close event and who closed it): GitHub's GraphQL names
/// the survivor (REST does not), followed along a chain of duplicates to the issue that lives
/// on. A survivor in a routed repository takes the issue's tickets, each told once (with its
/// state when it is closed already); any other, or none named, is said in the note of the
/// close, which the tickets get from here. False when GitHub could not be asked now (GraphQL
/// down, its budget spent): nothing was written, and the caller has it asked again.
async fn duplicate_close(
    engine: &Engine,
    repo: &RepoName,
    number: IssueNumber,
    (event, actor): (u64, &str),
    out: &mut Closes,
) -> Result<bool, ItemError> {
    let mut visited = vec![(repo.clone(), number)];
    let mut named: Option<(RepoName, IssueNumber)> = None;
    let mut target: Option<ticket_sync_core::domain::Issue> = None;
    for _ in 0..MAX_DUPLICATE_HOPS {
        let (at_repo, at_number) = visited.last().cloned().unwrap_or_else(|| (repo.clone(), number));
        let found = match engine.github.duplicate_survivor(&at_repo, at_number).await {
            Ok(found) => found,
            Err(ApiError::RateLimited { .. }) => return Ok(false),
            Err(e) if stops_pass(&e) => return Err(e.into()),
            Err(e) if e.is_retryable() => {
                warn!(issue_number = number.0, error = %e, "GitHub could not say which issue this one duplicates; asked again next pass");
                return Ok(false);
            }
            Err(e) => {
                warn!(issue_number = number.0, error = %e, "could not read which issue this one duplicates");
                None
            }
        };
        let Some((next_repo, next_number)) = found.filter(|f| !visited.contains(f)) else { break };
        named = Some((next_repo.clone(), next_number));
        if !engine.rules.repos().any(|routed| *routed == next_repo) {
            break;
        }
        let next_repo = engine.as_configured(&next_repo);
        let issue = match engine.github.get_issue(&next_repo, next_number).await {
            Ok(issue) => issue,
            Err(e) if stops_pass(&e) => return Err(e.into()),
            Err(e) if e.is_retryable() => return Ok(false),
            // Gone, moved or out of sight: the tickets stay where they are, and it is named.
            Err(e) => {
                warn!(survivor = %format!("{next_repo}#{next_number}"), error = %e, "the surviving issue cannot be read");
                break;
            }
        };
        let chained = issue.state == IssueState::Closed && issue.state_reason == Some(StateReason::Duplicate);
        visited.push((next_repo, next_number));
        target = Some(issue);
        if !chained {
            break;
        }
    }
    let links = engine.store.active_mappings_for(repo, &[number])?;
    let Some(issue) = target else {
        let line = fixplan::duplicate_line(named.as_ref().map(|(r, n)| (r, *n)));
        if let Some((r, n)) = &named {
            engine.store.record_duplicate(repo, number, &format!("{r}#{n}"))?;
        }
        let key = EventKey::GithubEvent(event);
        let status = engine.rules.pushback.on_close(Some(&StateReason::Duplicate)).status();
        let (add_tags, remove_tags) = state_tags(engine, Some(true));
        for m in links {
            let change = (notetext::IssueChange::ClosedAsDuplicate, Some(line.as_str()));
            let text = notetext::issue_state_note(repo, &m, change, actor, status.as_ref(), &key);
            let payload = PushPayload {
                status: status.clone(),
                add_tags: add_tags.clone(),
                remove_tags: remove_tags.clone(),
                ..plain(engine, &key, text)
            };
            out.after.extend(queue(engine, &m, &payload)?);
        }
        return Ok(true);
    };
    let to_repo = engine.as_configured(&issue.repo);
    let to_number = issue.number;
    engine.store.record_duplicate(repo, number, &format!("{to_repo}#{to_number}"))?;
    let key = EventKey::MovedToSurvivor { repo: to_repo.clone(), number: to_number };
    // A survivor closed already: the move note says so, with the status and state tags its
    // close would have set (push-back sees no change of the survivor to tell).
    let closed = issue.state == IssueState::Closed;
    let status = if closed { engine.rules.pushback.on_close(issue.state_reason.as_ref()).status() } else { None };
    let (add_tags, remove_tags) = if closed { state_tags(engine, Some(true)) } else { Default::default() };
    for m in links {
        let survivor_closed = closed.then_some(status.as_ref());
        let text =
            fixplan::moved_to_survivor_note((repo, number), (&to_repo, to_number), &issue.html_url, survivor_closed);
        let payload = PushPayload {
            about_link: true,
            status: status.clone(),
            add_tags: add_tags.clone(),
            remove_tags: remove_tags.clone(),
            ..plain(engine, &key, text)
        };
        let note = ChangeNote { event_key: &payload.event_key, repo: &to_repo.to_string(), payload: &payload };
        engine.store.move_to_survivor(m.ticket_id, &issue, &note)?;
        info!(ticket_id = m.ticket_id.0, to = %format!("{to_repo}#{to_number}"), "the issue was closed as a duplicate; the ticket follows the surviving issue");
        out.moved.insert(m.ticket_id);
        // The intent recorded with the move, as stored: written after the ticket's other
        // notes of this pass (else by the next pass).
        let intent = engine.store.begin_push_intent(m.ticket_id, &payload.event_key, &to_repo.to_string(), &payload)?;
        out.after.push(intent);
    }
    Ok(true)
}

/// The duplicates of `repo` whose survivor GitHub could not name when they closed: asked
/// again; once answered, their tickets move or are told of the close, each once.
async fn awaiting_survivors(engine: &Engine, repo: &RepoName, report: &mut PassReport) -> Result<(), ItemError> {
    for (number, event, actor) in engine.store.awaiting_survivors(repo)? {
        let mut out = Closes::default();
        if duplicate_close(engine, repo, number, (event, &actor), &mut out).await? {
            engine.store.clear_awaiting_survivor(repo, number)?;
            write_after(engine, out, report).await?;
        }
    }
    Ok(())
}
