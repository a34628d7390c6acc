//! A 404/410 storm: very many links answering at once that their repository, their issues or
//! their tickets are gone. It fails that repository or those items alone, never the pass or
//! the other repositories; each dead link is settled once (its link ended, one note where the
//! ticket can take one) and costs nothing after; and a repository that answers 404 for a while
//! ends no link, since it may come back.

use axum::http::Method;
use ticket_sync::sync::PassReport;
use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::{Issue, IssueId, IssueNumber, TicketId};
use ticket_sync_sandbox::{Fault, FaultRule, NewTicket};
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, PUSHBACK, ROUTES};

const BACKEND: &str = "acme/backend";
const BILLING: &str = "acme/billing";

/// `count` finished escalations to `repo`, seeded in bulk the way a long-running install has
/// them (tickets and issues a day old, the mappings imported): (ticket id, issue number) each.
fn seed_links(env: &Env, repo: &str, count: usize) -> Vec<(u64, u64)> {
    let at = env.sb.clock.now() - chrono::Duration::days(1);
    let tickets = (0..count)
        .map(|i| {
            let mut t = NewTicket::new(&format!("Storm {repo} {i}"), "Exports fail", env.requester);
            t.tags = vec!["escalated".into()];
            t.status = "open".into();
            (t, at)
        })
        .collect();
    let ids = env.sb.zendesk.seed_tickets(tickets);
    let issues = (ids.iter())
        .map(|id| {
            let body = format!("Escalated from Zendesk ticket {id}.\n\n<!-- ticket-sync:zendesk={id} -->");
            (format!("Exports fail [Zendesk #{id}]"), body, at + chrono::Duration::seconds(5))
        })
        .collect();
    let views = env.sb.github.seed_issues(repo, issues, env.sb.github.login());
    let links: Vec<(TicketId, Issue)> = (ids.iter().zip(&views))
        .map(|(id, view)| {
            let issue = Issue {
                repo: repo.parse().unwrap(),
                number: IssueNumber(view.number),
                id: IssueId(view.id),
                html_url: view.html_url.clone(),
                state: view.state.as_str().into(),
                state_reason: None,
                body: None,
                updated_at: Some(view.updated_at),
                closed_by: None,
                is_pull_request: false,
            };
            (TicketId(*id), issue)
        })
        .collect();
    env.engine().store.import_mappings(&links).expect("mappings imported");
    ids.into_iter().zip(views.iter().map(|v| v.number)).collect()
}

async fn audit(env: &Env) -> PassReport {
    env.engine().audit(&CancellationToken::new()).await.expect("an audit never stops for a storm")
}

/// GitHub requests about `repo` since the log was last cleared.
fn requests_about(env: &Env, repo: &str) -> usize {
    env.sb.github.door.log.count(|e| e.path.contains(&format!("/repos/{repo}")))
}

/// Reads of one issue (not its comments or events) since the log was last cleared.
fn issue_reads(env: &Env) -> usize {
    let one_issue = |p: &str| p.rsplit_once("/issues/").is_some_and(|(_, n)| n.bytes().all(|b| b.is_ascii_digit()));
    env.sb.github.door.log.count(|e| e.method == Method::GET && one_issue(&e.path))
}

fn states(env: &Env, links: &[(u64, u64)]) -> Vec<LinkState> {
    let store = env.engine().store;
    links.iter().map(|(id, _)| store.mapping(TicketId(*id)).unwrap().expect("mapped").link_state).collect()
}

fn all_in(env: &Env, links: &[(u64, u64)], state: LinkState) -> bool {
    states(env, links).iter().all(|s| *s == state)
}

/// Zendesk requests about one of `links`' tickets since the log was last cleared.
fn ticket_requests(env: &Env, links: &[(u64, u64)]) -> usize {
    let ticket = |p: &str| {
        let rest = p.split_once("/tickets/")?.1;
        rest.split(['/', '.']).next()?.parse::<u64>().ok()
    };
    env.sb.zendesk.door.log.count(|e| ticket(&e.path).is_some_and(|t| links.iter().any(|(id, _)| *id == t)))
}

/// (a) A routed repository with 200 linked tickets is deleted (or made invisible to the token:
/// GitHub answers both with the same 404). Push-back fails that repository alone, at one
/// listing a pass, while the other repository's changes arrive; the audit, which reads every
/// linked issue, asks about the repository once instead of twice per link (before: 400 requests
/// and 200 failures a pass, for as long as the repository stayed away). No link ends and no
/// ticket is told anything: a deleted repository can be restored, access granted again. Once it
/// is back, what happened meanwhile arrives.
#[tokio::test]
async fn a_deleted_repository_fails_alone_at_one_read_a_pass_and_ends_no_link() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let dead = seed_links(&env, BACKEND, 200);
    let alive = seed_links(&env, BILLING, 3);
    env.push().await;
    assert_eq!(audit(&env).await.failed, 0, "the first audit reads every issue");

    env.sb.github.set_deleted(BACKEND, true);
    env.sb.github.close_issue(BILLING, alive[0].1, "completed", "alice");
    let log = &env.sb.github.door.log;
    log.clear();
    let push = env.push().await;
    assert_eq!((push.pushed, push.failed), (1, 1), "the other repository syncs, this one fails once: {push:?}");
    assert_eq!(requests_about(&env, BACKEND), 1, "one listing's 404 fails the repository");
    for pass in 1..=2 {
        log.clear();
        let report = audit(&env).await;
        assert_eq!(report.failed, 1, "audit {pass}: one repository failed, not its 200 links: {report:?}");
        let asked = requests_about(&env, BACKEND);
        assert!(asked <= 2, "audit {pass}: {asked} requests about a repository that is not there");
    }
    assert!(all_in(&env, &dead, LinkState::Active), "links ended: {:?}", states(&env, &dead));
    assert!(dead.iter().all(|(id, _)| env.push_notes(*id).is_empty()), "a ticket was told its issue is gone");

    env.sb.github.set_deleted(BACKEND, false);
    env.sb.github.close_issue(BACKEND, dead[7].1, "completed", "alice");
    let push = env.push().await;
    assert_eq!((push.pushed, push.failed), (1, 0), "the close made while it was away: {push:?}");
    assert_eq!(env.push_notes(dead[7].0).len(), 1);
    let report = audit(&env).await;
    assert_eq!((report.failed, report.pushed), (0, 0), "{report:?}");
    assert!(all_in(&env, &dead, LinkState::Active));
}

/// (a) An organisation uninstalls the GitHub App with 50 tickets linked to its repository:
/// every read there is refused (a 403 for the repository, as for a lapsed SSO authorisation).
/// The audit fails that repository once and reads nothing more of it, while the other
/// organisation's links are audited as usual (before: one refused lookup and one failure per
/// link, every audit).
#[tokio::test]
async fn an_organisation_that_uninstalls_the_app_fails_once_per_audit() {
    let (env, _, globex) = crate::github_app::two_orgs(PUSHBACK).await;
    let theirs = seed_links(&env, "globex/app", 50);
    let ours = seed_links(&env, BACKEND, 5);
    assert_eq!(audit(&env).await.failed, 0);

    env.sb.github.remove_installation(globex);
    for pass in 1..=2 {
        env.sb.github.door.log.clear();
        let report = audit(&env).await;
        assert_eq!(report.failed, 1, "audit {pass}: one repository, not its 50 links: {report:?}");
        let asked = env.sb.github.door.log.count(|e| e.path.contains("globex"));
        assert!(asked <= 3, "audit {pass}: {asked} requests about an organisation without the App");
        assert_eq!(issue_reads(&env), 5, "audit {pass}: the other organisation's issues are read");
    }
    assert!(all_in(&env, &theirs, LinkState::Active) && all_in(&env, &ours, LinkState::Active));
    assert!(theirs.iter().all(|(id, _)| env.push_notes(*id).is_empty()));
}

/// A repository that answers 404 for a moment (an outage, access being granted again) ends no
/// link. Before, one 404 to an issue followed by a repository that answered again ended the
/// link for good, with a note telling the ticket its issue was deleted: the 404 is now checked
/// by reading the issue again once the repository answers.
#[tokio::test]
async fn a_repository_404_for_a_moment_ends_no_link() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let links = seed_links(&env, BACKEND, 20);
    env.push().await;
    audit(&env).await;
    let faults = &env.sb.github.door.faults;
    let not_found =
        |times| FaultRule::new(Some(Method::GET), &format!("/repos/{BACKEND}"), Fault::Status(404)).times(times);
    for times in 1..=3 {
        faults.push(not_found(times));
        audit(&env).await;
        faults.clear();
        assert!(all_in(&env, &links, LinkState::Active), "after {times} 404s: {:?}", states(&env, &links));
    }
    assert!(links.iter().all(|(id, _)| env.push_notes(*id).is_empty()), "a ticket was told its issue is gone");
    assert_eq!(audit(&env).await.failed, 0);

    // Push-back: the listing's 404 holds the watermarks, and the next pass catches up.
    env.sb.github.close_issue(BACKEND, links[3].1, "completed", "alice");
    faults.push(not_found(1));
    let first = env.push().await;
    assert_eq!((first.pushed, first.failed), (0, 1), "{first:?}");
    let next = env.push().await;
    assert_eq!((next.pushed, next.failed), (1, 0), "{next:?}");
}

/// (b) 150 of 200 linked issues are deleted at once (410 Gone). The audit ends each of their
/// links with one note, and from then on they cost nothing: later audits read only the live
/// issues, and no pass writes to their tickets again.
#[tokio::test]
async fn issues_deleted_in_bulk_end_their_links_once_with_one_note_each() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let links = seed_links(&env, BACKEND, 200);
    env.push().await;
    audit(&env).await;
    let (deleted, kept) = links.split_at(150);
    for (_, n) in deleted {
        env.sb.github.delete_issue(BACKEND, *n);
    }
    let push = env.push().await;
    assert_eq!((push.pushed, push.failed), (0, 0), "deleted issues leave the listings: {push:?}");

    env.sb.github.door.log.clear();
    env.sb.zendesk.door.log.clear();
    let report = audit(&env).await;
    assert_eq!((report.pushed, report.failed), (150, 0), "{report:?}");
    assert_eq!(issue_reads(&env), 200, "each linked issue read once");
    assert_eq!(env.zendesk_writes(), 150, "one note a ticket");
    assert!(all_in(&env, deleted, LinkState::IssueGone), "{:?}", states(&env, deleted));
    assert!(all_in(&env, kept, LinkState::Active));

    for pass in 1..=2 {
        env.sb.github.door.log.clear();
        env.sb.zendesk.door.log.clear();
        let report = audit(&env).await;
        assert_eq!((report.pushed, report.failed), (0, 0), "audit {pass}: {report:?}");
        assert_eq!(issue_reads(&env), 50, "audit {pass}: only the live issues are read");
        let (push, escalate) = (env.push().await, env.escalate().await);
        assert_eq!((push.failed, escalate.failed), (0, 0), "{push:?} {escalate:?}");
        assert_eq!(ticket_requests(&env, deleted), 0, "pass {pass}: a settled link cost a request");
    }
    for (id, _) in deleted {
        let notes = env.push_notes(*id);
        assert!(notes.len() == 1 && notes[0].contains("was deleted"), "ticket {id}: {notes:?}");
    }
    assert!(kept.iter().all(|(id, _)| env.push_notes(*id).is_empty()));
}

/// (b) The notes of a storm of deleted issues meet Zendesk's account limit (other integrations
/// spent most of the minute's budget): the audit waits a few seconds for the next minute's
/// budget and goes on, and each ticket gets its one note, none twice.
#[tokio::test]
async fn a_storm_of_notes_that_meets_zendesks_limit_writes_each_note_once() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let links = seed_links(&env, BACKEND, 60);
    env.push().await;
    audit(&env).await;
    for (_, n) in &links {
        env.sb.github.delete_issue(BACKEND, *n);
    }
    // Five seconds before the fake's minute ends, with twenty requests of its budget left.
    let into = env.sb.clock.now().timestamp().rem_euclid(60) as u64;
    env.sb.clock.advance(std::time::Duration::from_secs((55 + 60 - into) % 60));
    env.sb.zendesk.use_account_requests(680);
    env.sb.zendesk.door.log.clear();
    let report = audit(&env).await;
    assert_eq!((report.pushed, report.failed), (60, 0), "{report:?}");
    // The budget headers say the minute is spent, so the client waits rather than meet a 429.
    assert!(env.sb.zendesk.door.log.count(|e| e.status == 429) <= 1, "{:?}", env.sb.zendesk.door.log.entries());
    assert!(all_in(&env, &links, LinkState::IssueGone), "{:?}", states(&env, &links));
    let notes = env.sb.zendesk.door.log.count(|e| e.method == Method::PUT && e.status == 200);
    assert_eq!(notes, 60, "one note written a ticket");
    assert!(links.iter().all(|(id, _)| env.push_notes(*id).len() == 1));
}

/// (b) A shared issue (one escalation, three agents' links, a linked-tickets comment) is
/// deleted, and an agent unlinks one ticket before the audit notices. The comment that went
/// with the issue is not kept up to date (before: an edit answering 404 and a create answering
/// 410, a failure on every escalation pass, for ever); the other three links end with one
/// note each, and then cost nothing.
#[tokio::test]
async fn a_deleted_shared_issue_costs_nothing_once_its_links_ended() {
    let (env, field) = crate::linking::env().await;
    let (first, n) = env.linked("Shared, then deleted").await;
    let others: Vec<u64> = (0..3).map(|i| crate::linking::plain(&env, &format!("Also hit {i}"))).collect();
    for id in &others {
        env.sb.zendesk.set_field(*id, field, Some(&format!("{BACKEND}#{n}")));
    }
    env.sb.settle();
    env.escalate().await;
    let comments = env.sb.github.comments(BACKEND, n);
    assert_eq!(comments.iter().filter(|c| c.body.contains("<!-- ticket-sync:impact -->")).count(), 1);

    env.sb.github.delete_issue(BACKEND, n);
    crate::linking::set_field(&env, field, others[0], None);
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "the unlink, with the issue already deleted: {report:?}");
    let report = audit(&env).await;
    assert_eq!((report.pushed, report.failed), (3, 0), "{report:?}");
    for pass in 1..=2 {
        env.sb.github.door.log.clear();
        let report = env.escalate().await;
        assert_eq!(report.failed, 0, "escalation {pass}: {report:?}");
        let about = env.sb.github.door.log.count(|e| e.path.contains("/issues/"));
        assert_eq!(about, 0, "escalation {pass}: {:?}", env.sb.github.door.log.entries());
    }
    for id in std::iter::once(first).chain(others.iter().copied()) {
        let gone: Vec<String> = env.push_notes(id).into_iter().filter(|n| n.contains("was deleted")).collect();
        assert_eq!(gone.len(), usize::from(id != others[0]), "ticket {id}: {gone:?}");
    }
}

/// (c) 60 of 100 linked tickets are deleted in bulk on Zendesk (every ticket endpoint answers
/// 404 RecordNotFound; the export shows each once more with the status `deleted`). Their links
/// end as the escalation pass reads that, at no request: before, they stayed active, every
/// audit read their issues, and each cost a refused note once its issue changed.
#[tokio::test]
async fn tickets_deleted_in_bulk_end_their_links_without_a_request_each() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let links = seed_links(&env, BACKEND, 100);
    env.escalate().await;
    env.push().await;
    audit(&env).await;
    let (deleted, kept) = links.split_at(60);
    for (id, _) in deleted {
        env.sb.zendesk.delete_ticket(*id);
    }
    env.sb.settle();

    env.sb.github.door.log.clear();
    env.sb.zendesk.door.log.clear();
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(all_in(&env, deleted, LinkState::TicketDeleted), "{:?}", states(&env, deleted));
    assert!(all_in(&env, kept, LinkState::Active));
    assert_eq!((env.zendesk_writes(), env.sb.github.door.log.len()), (0, 0), "ending a link costs no request");

    for (_, n) in &links {
        env.sb.github.close_issue(BACKEND, *n, "completed", "alice");
    }
    env.sb.zendesk.door.log.clear();
    let push = env.push().await;
    assert_eq!((push.pushed, push.failed), (40, 0), "{push:?}");
    assert_eq!(ticket_requests(&env, deleted), 0, "a note was sent to a deleted ticket");
    env.sb.github.door.log.clear();
    audit(&env).await;
    assert_eq!(issue_reads(&env), 40, "only the live links' issues are read");
}
