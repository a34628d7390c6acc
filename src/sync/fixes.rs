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

use super::notes::push_note;
use super::{stops_pass, Engine, ItemError, PassError, PassReport};
use ticket_sync_clients::github::Listing;
use ticket_sync_clients::http::ApiError;
use ticket_sync_core::clock;
use ticket_sync_core::closeref;
use ticket_sync_core::domain::{
    CommitSha, IssueNumber, IssueState, LinkState, ListedIssue, Mapping, RepoName, StateReason, TicketId,
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

/// Follows the fixes of one repository's linked issues: its pull requests, then (with a
/// pending fix) its releases. A failure is the repository's, and waits for the next pass; a
/// refusal (an App or fine-grained token without the Pull requests or Contents permission) or
/// a 404 only skips it, with a warning: it is a setting to change, not an item failing.
pub(super) async fn follow(engine: &Engine, repo: &RepoName, report: &mut PassReport) -> Result<(), PassError> {
    if !engine.rules.fixes.track || engine.dry_run {
        return Ok(());
    }
    let result = async {
        pull_requests(engine, repo, report).await?;
        releases(engine, repo, report).await
    };
    match result.await {
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
    // Oldest update first, so the notes follow what happened.
    for pr in items.iter().rev() {
        if !pr.into_default_branch {
            continue;
        }
        let closes = closeref::closed_issues(&pr.body, &pr.repo, &web);
        let mut links = Vec::new();
        let mut here = Vec::new();
        for (issue_repo, number) in &closes {
            let issue_repo = engine.as_configured(issue_repo);
            let found = engine.store.active_mappings_for(&issue_repo, &[*number])?;
            if !found.is_empty() && issue_repo == *repo {
                here.push(*number);
            }
            links.extend(found);
        }
        if links.is_empty() {
            continue;
        }
        engine.store.record_pull(pr, &here)?;
        for note in fixplan::review_notes(pr, &links, &web) {
            if let EventKey::PullRequestUnmerged { repo, number } = &note.event_key {
                // Closed unmerged tells only a ticket that was told it was in review.
                let review = EventKey::PullRequestInReview { repo: repo.clone(), number: *number };
                if !engine.store.push_note_done(note.ticket, &review.to_string())? {
                    continue;
                }
            }
            let Some(m) = links.iter().find(|m| m.ticket_id == note.ticket) else { continue };
            let text = format!("{}\n{}", note.text, notetext::push_note_marker(&note.event_key));
            let payload = plain(engine, &note.event_key, text);
            tell(engine, m, payload, report).await?;
        }
    }
    if let Some(newest) = items.iter().filter_map(|p| p.updated_at).max() {
        wm.pulls_since = Some(newest.utc().max(wm.pulls_since.unwrap_or(newest.utc())));
    }
    wm.pulls_etag = etag.or(wm.pulls_etag);
    engine.store.set_fix_watermark(repo, &wm)?;
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
    if engine.store.push_note_done(m.ticket_id, &payload.event_key)? {
        return Ok(());
    }
    let intent = queue(engine, m, &payload)?;
    let Some(intent) = intent else { return Ok(()) };
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
            Err(e @ (ItemError::Store(_) | ItemError::Api(_))) if !per_ticket(&e) => return Err(e),
            Err(e) => {
                report.failed += 1;
                warn!(ticket_id = id.0, error = %e, "the note waits as an intent; the next push pass writes it");
                waiting.insert(id);
            }
        }
    }
    Ok(())
}

/// Whether an error is the ticket's alone (the repository's work goes on).
fn per_ticket(e: &ItemError) -> bool {
    match e {
        ItemError::Store(_) => false,
        ItemError::Api(e) => !stops_pass(e),
        _ => true,
    }
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
                    // A 404 (the tag gone, unrelated histories) or a 500 (a diff too slow to make)
                    // is never "not contained": asked again next pass.
                    Err(e @ (ApiError::NotFound { .. } | ApiError::Transient { .. })) => {
                        warn!(tag = %release.tag, commit = fix.commit.short(), error = %e, "could not tell whether the release contains the fix; asked again next pass");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            if contained {
                ship(engine, repo, &fix, release, report).await?;
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
async fn ship(
    engine: &Engine,
    repo: &RepoName,
    fix: &PendingFix,
    release: &Release,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    let links: Vec<Mapping> = (engine.store.issue_links(repo, fix.issue_number)?.into_iter())
        .map(|(m, _)| m)
        .filter(|m| m.link_state == LinkState::Active)
        .collect();
    let rules = &engine.rules.fixes;
    let reply = match &rules.reply_template {
        Some(template) => {
            let title = if template.contains("{issue_title}") {
                issue_title(engine, repo, fix.issue_number).await?
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
        let text = format!(
            "{}\n{}",
            fixplan::shipped_note((repo, fix.issue_number), release, reply.as_deref()),
            notetext::push_note_marker(&note_key)
        );
        let payload = PushPayload {
            add_tags: add_tags.clone(),
            field: rules.version_field_id.map(|f| (f, release.tag.clone())),
            ..plain(engine, &note_key, text)
        };
        queued.extend(queue(engine, m, &payload)?);
        if let (true, Some(reply)) = (rules.public_reply, &reply) {
            let key = EventKey::ShippedReply { repo: release.repo.clone(), release: release.id };
            let text = engine.redactor.redact(reply).into_owned();
            let payload = PushPayload { public: true, ..plain(engine, &key, text) };
            queued.extend(queue(engine, m, &payload)?);
        }
    }
    engine.store.record_shipped(repo, fix.issue_number, release)?;
    write_all(engine, queued, report).await?;
    Ok(())
}

/// The issue's title, for the drafted reply.
async fn issue_title(engine: &Engine, repo: &RepoName, number: IssueNumber) -> Result<String, ItemError> {
    Ok(engine.github.issue_title(repo, number).await?)
}

/// What closed an issue, for its close note and its fix: the merged pull request whose commit
/// is the close's (read from the pull requests, else asked of GitHub: one request), else the
/// commit; without a commit, a merged pull request known to close it, else by hand.
pub(super) async fn closer(
    engine: &Engine,
    repo: &RepoName,
    number: IssueNumber,
    commit: Option<&CommitSha>,
) -> Result<Closer, ItemError> {
    let Some(sha) = commit else {
        let merged = engine.store.pulls_closing(repo, number)?.into_iter().find_map(|p| match p.state {
            PullState::Merged { commit } => {
                Some(Closer::PullRequest { repo: repo.clone(), number: p.number, title: p.title, url: p.url, commit })
            }
            _ => None,
        });
        return Ok(merged.unwrap_or(Closer::Hand));
    };
    if let Some(p) = engine.store.pull_by_merge_commit(repo, sha)? {
        return Ok(Closer::PullRequest {
            repo: repo.clone(),
            number: p.number,
            title: p.title,
            url: p.url,
            commit: Some(sha.clone()),
        });
    }
    match engine.github.pull_of_commit(repo, sha).await {
        Ok(Some(p)) => Ok(Closer::PullRequest {
            repo: repo.clone(),
            number: p.number,
            title: p.title,
            url: p.url,
            commit: Some(sha.clone()),
        }),
        Ok(None) => Ok(Closer::Commit { repo: repo.clone(), sha: sha.clone() }),
        Err(e) if !e.is_retryable() => {
            warn!(commit = sha.short(), error = %e, "could not read which pull request brought the commit in; the close note names the commit");
            Ok(Closer::Commit { repo: repo.clone(), sha: sha.clone() })
        }
        Err(e) => Err(e.into()),
    }
}

/// A close (`true`) or reopen event of an issue: its id, its commit, when it happened.
pub(super) type StateEvent = (u64, bool, Option<CommitSha>, Option<chrono::DateTime<chrono::Utc>>);

/// The close lines and fixes of one repository's issues whose events were read in a push
/// pass: per issue, its last close or reopen decides (`events`: per issue, its close and
/// reopen events in order). An issue the listing shows closed as a duplicate moves its tickets
/// to the surviving issue when that is in a routed repository (`moved`: they get no close
/// note); otherwise its close note names the survivor.
pub(super) async fn closes(
    engine: &Engine,
    repo: &RepoName,
    events: &BTreeMap<IssueNumber, Vec<StateEvent>>,
    issues: &[ListedIssue],
    report: &mut PassReport,
) -> Result<Closes, ItemError> {
    let mut out = Closes::default();
    if !engine.rules.fixes.track || engine.dry_run {
        return Ok(out);
    }
    for (number, list) in events {
        let mut last = None;
        for (id, closed, commit, at) in list {
            if *closed {
                let closer = closer(engine, repo, *number, commit.as_ref()).await?;
                if let Some(line) = closer.close_line() {
                    out.lines.insert(*id, line);
                }
                last = Some((Some(closer), *at, *id));
            } else {
                last = Some((None, *at, *id));
            }
        }
        match last {
            Some((Some(closer), at, id)) => {
                engine.store.record_close(repo, *number, at, &closer)?;
                let listed = issues.iter().find(|i| i.number == *number);
                let duplicate = listed
                    .is_some_and(|i| i.state == IssueState::Closed && i.state_reason == Some(StateReason::Duplicate));
                if duplicate {
                    duplicate_close(engine, repo, *number, id, &mut out, report).await?;
                }
            }
            Some((None, _, _)) => engine.store.record_fix_reopened(repo, *number)?,
            None => {}
        }
    }
    Ok(out)
}

/// What `closes` found: the close notes' lines by event id, and the tickets moved away.
#[derive(Debug, Default)]
pub(super) struct Closes {
    pub lines: HashMap<u64, String>,
    pub moved: BTreeSet<TicketId>,
}

/// An issue closed as a duplicate (its close event `event`): GitHub's GraphQL names the
/// survivor (REST does not). A survivor in a routed repository takes the issue's tickets, each
/// told once; any other, or none named, is said in the close note, and the tickets stay.
async fn duplicate_close(
    engine: &Engine,
    repo: &RepoName,
    number: IssueNumber,
    event: u64,
    out: &mut Closes,
    report: &mut PassReport,
) -> Result<(), ItemError> {
    let survivor = match engine.github.duplicate_survivor(repo, number).await {
        Ok(found) => found.filter(|(r, n)| !(r == repo && *n == number)),
        // GraphQL's own points budget: spent, this repository waits for it (its push-back
        // is read again next pass); the other repositories and the pass go on.
        Err(ApiError::RateLimited { until, .. }) => {
            return Err(ItemError::Refused(format!(
                "GitHub's GraphQL budget, which names a duplicate's surviving issue, is spent until {until}; this repository's changes wait for it"
            )))
        }
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => {
            warn!(issue_number = number.0, error = %e, "could not read which issue this one duplicates; its close note says so");
            None
        }
    };
    let routed = survivor.as_ref().filter(|(r, _)| engine.rules.repos().any(|routed| routed == r));
    let Some((to_repo, to_number)) = routed else {
        let line = fixplan::duplicate_line(survivor.as_ref().map(|(r, n)| (r, *n)));
        out.lines.insert(event, line);
        if let Some((r, n)) = &survivor {
            engine.store.record_duplicate(repo, number, &format!("{r}#{n}"))?;
        }
        return Ok(());
    };
    let to_repo = engine.as_configured(to_repo);
    let issue = engine.github.get_issue(&to_repo, *to_number).await?;
    engine.store.record_duplicate(repo, number, &format!("{to_repo}#{to_number}"))?;
    let links = engine.store.active_mappings_for(repo, &[number])?;
    let key = EventKey::MovedToSurvivor { repo: to_repo.clone(), number: *to_number };
    let mut moved = Vec::new();
    for m in links {
        let text = format!(
            "{}\n{}",
            fixplan::moved_to_survivor_note((repo, number), (&to_repo, *to_number), &issue.html_url),
            notetext::push_note_marker(&key)
        );
        let payload = PushPayload { about_link: true, ..plain(engine, &key, text) };
        let note = ChangeNote { event_key: &payload.event_key, repo: &to_repo.to_string(), payload: &payload };
        engine.store.move_to_survivor(m.ticket_id, &issue, &note)?;
        info!(ticket_id = m.ticket_id.0, to = %format!("{to_repo}#{to_number}"), "the issue was closed as a duplicate; the ticket follows the surviving issue");
        out.moved.insert(m.ticket_id);
        // The intent recorded with the move, as stored: written now (else by the next pass).
        let intent = engine.store.begin_push_intent(m.ticket_id, &payload.event_key, &to_repo.to_string(), &payload)?;
        moved.push(intent);
    }
    write_all(engine, moved, report).await?;
    Ok(())
}
