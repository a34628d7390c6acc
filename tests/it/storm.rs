//! A 404/410 storm: very many links answering at once that their repository, their issues or
//! their tickets are gone. It fails that repository or those items alone, never the pass or
//! the other repositories; each dead link is settled once (its link ended, one note where the
//! ticket can take one) and costs nothing after; and a repository that answers 404 for a while
//! ends no link, since it may come back.

use axum::http::Method;
use ticket_sync::domain::{Issue, IssueNumber, TicketId};
use ticket_sync::sandbox::NewTicket;
use ticket_sync::store::LinkState;
use ticket_sync::sync::PassReport;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, PUSHBACK, ROUTES};

const BACKEND: &str = "acme/backend";

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
                id: view.id,
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
