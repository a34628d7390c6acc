//! Listing GitHub without losing updates: changes made while a list is being paged, busy
//! repositories whose event lists GitHub will not page deep, and comments that become visible
//! after later ones. Each test asserts on both sides' state and on request counts.

use std::time::Duration;

use axum::http::Method;
use ticket_sync_sandbox::common::LoggedRequest;
use ticket_sync_sandbox::{Fault, FaultRule};

use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

async fn env() -> Env {
    Env::with_routes(ROUTES, PUSHBACK).await
}

fn tick(env: &Env) {
    env.sb.clock.advance(Duration::from_secs(1));
}

fn status(env: &Env, ticket: u64) -> String {
    env.sb.zendesk.ticket(ticket).unwrap().status
}

/// The first line of each push note on the ticket.
fn firsts(env: &Env, ticket: u64) -> Vec<String> {
    env.push_notes(ticket).iter().map(|n| n.lines().next().unwrap().to_string()).collect()
}

/// 100 unlinked issues, each updated a second after the one before: with the linked issue
/// changed after them, it is the 101st of the ascending list, the first of page 2.
fn hundred_unlinked_issues(env: &Env) -> Vec<u64> {
    (0..100)
        .map(|i| {
            tick(env);
            env.sb.github.add_issue(REPO, &format!("Unrelated {i}"), "", "alice")
        })
        .collect()
}

#[tokio::test]
async fn an_issue_closed_while_the_issue_list_is_paged_is_not_lost() {
    let env = env().await;
    let (id, n) = env.linked("Closed on page 2").await;
    env.push().await;
    let others = hundred_unlinked_issues(&env);
    tick(&env);
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    // Someone comments on the first issue of page 1 after the pass read that page.
    tick(&env);
    let gh = env.sb.github.clone();
    let first = others[0];
    env.sb.github.before_request("/issues", 2, move || {
        gh.add_comment(REPO, first, "bob", "me too");
    });
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let notes = firsts(&env, id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with("was closed as completed by alice."), "{notes:?}");
    assert_eq!(status(&env, id), "solved");
    assert_eq!(env.push().await.pushed, 0);
}

/// A bulk edit puts a whole page into one second: asking again from that second would return
/// the same page, so the pass pages by offset there, sees the shift (an issue read twice) and
/// reads from that second again next time instead of moving its watermark past it.
#[tokio::test]
async fn an_issue_closed_in_a_crowded_second_while_the_list_is_paged_is_read_on_the_next_pass() {
    let env = env().await;
    let gh = &env.sb.github;
    let others: Vec<u64> = (0..100).map(|i| gh.add_issue(REPO, &format!("Bulk {i}"), "", "alice")).collect();
    let (id, n) = env.linked("Closed in a bulk second").await;
    env.push().await;
    tick(&env);
    let bulk = env.sb.clock.now();
    for u in &others {
        gh.seed_events(REPO, *u, 1, "triage-bot", bulk);
    }
    gh.close_issue(REPO, n, "completed", "alice");
    tick(&env);
    let hook = env.sb.github.clone();
    let first = others[0];
    gh.before_request("/issues", 2, move || {
        hook.add_comment(REPO, first, "bob", "me too");
    });
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let notes = firsts(&env, id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with("was closed as completed by alice."), "{notes:?}");
    assert_eq!(status(&env, id), "solved");
    assert_eq!(env.push().await.pushed, 0);
}

#[tokio::test]
async fn a_comment_made_while_the_comment_list_is_paged_is_not_lost() {
    let env = env().await;
    let (id, n) = env.linked("Commented on page 2").await;
    env.push().await;
    let other = env.sb.github.add_issue(REPO, "Unrelated", "", "alice");
    let comments: Vec<u64> = (0..100)
        .map(|i| {
            tick(&env);
            env.sb.github.add_comment(REPO, other, "alice", &format!("unrelated {i}"))
        })
        .collect();
    tick(&env);
    env.sb.github.add_comment(REPO, n, "carol", "Root cause: the cache key.");
    // The first comment of page 1 is edited after the pass read that page.
    tick(&env);
    let gh = env.sb.github.clone();
    let first = comments[0];
    env.sb.github.before_request("/issues/comments", 2, move || gh.edit_comment(REPO, first, "edited"));
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("Root cause: the cache key."), "{notes:?}");
    assert_eq!(env.push().await.pushed, 0);
}

/// GitHub requests of the measured push pass over a busy repository: `history` old events on
/// the linked issue, `unrelated` new events on ten unlinked issues, then the linked issue is
/// closed and reopened. Returns the requests, after checking that both notes arrived in order.
async fn busy_push(history: usize, unrelated: usize) -> Vec<LoggedRequest> {
    let env = env().await;
    let gh = &env.sb.github;
    let (id, n) = env.linked("Busy repository").await;
    let (other, m) = env.linked("Closed first").await;
    gh.seed_events(REPO, n, history, "alice", env.sb.clock.now());
    tick(&env);
    gh.set_labels(REPO, n, &["support", "p2"], "alice");
    env.push().await;
    tick(&env);
    gh.close_issue(REPO, m, "completed", "alice");
    let first = env.push().await;
    assert_eq!((first.pushed, first.failed), (1, 0), "{first:?}");
    assert_eq!(status(&env, other), "solved");

    tick(&env);
    for i in 0..10 {
        let u = gh.add_issue(REPO, &format!("Unrelated {i}"), "", "alice");
        gh.seed_events(REPO, u, unrelated / 10, "triage-bot", env.sb.clock.now());
    }
    tick(&env);
    gh.close_issue(REPO, n, "not_planned", "alice");
    tick(&env);
    gh.reopen_issue(REPO, n, "bob");
    gh.door.log.clear();
    let report = env.push().await;
    let requests = gh.door.log.entries();
    assert_eq!((report.pushed, report.failed), (2, 0), "{report:?}: {requests:?}");
    let notes = firsts(&env, id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    // Reopened since: the issue no longer says why it was closed, and its events never do.
    assert!(notes[0].ends_with("was closed by alice."), "{notes:?}");
    assert!(notes[1].ends_with("was reopened by bob."), "{notes:?}");
    assert_eq!(status(&env, id), "open");
    assert!(requests.iter().all(|r| r.status < 400), "{requests:?}");
    let again = env.push().await;
    assert_eq!((again.pushed, again.failed), (0, 0), "{again:?}");
    requests
}

#[tokio::test]
async fn a_busy_repository_costs_requests_per_changed_linked_issue_not_per_event() {
    let small = busy_push(250, 300).await;
    let large = busy_push(2450, 3000).await;
    eprintln!("push pass with 300 unrelated events: {} GitHub request(s)", small.len());
    eprintln!("push pass with 3000 unrelated events: {} GitHub request(s)", large.len());
    assert!(large.len() <= 6, "{large:?}");
    assert_eq!(small.len(), large.len(), "the cost does not grow with unrelated events or old history");
}

#[tokio::test]
async fn a_refused_event_list_page_does_not_wedge_the_repository() {
    let env = env().await;
    let gh = &env.sb.github;
    let linked = [env.linked("First").await, env.linked("Second").await, env.linked("Third").await];
    env.push().await;
    tick(&env);
    let u = gh.add_issue(REPO, "Unrelated", "", "alice");
    gh.seed_events(REPO, u, 500, "triage-bot", env.sb.clock.now());
    tick(&env);
    for (_, n) in &linked {
        gh.close_issue(REPO, *n, "completed", "alice");
    }
    gh.door.faults.push(FaultRule::new(Some(Method::GET), "/issues/events", Fault::Status(422)).times(5));
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (3, 0), "{report:?}");
    for (id, _) in &linked {
        assert_eq!(firsts(&env, *id).len(), 1);
        assert_eq!(status(&env, *id), "solved");
    }
    gh.door.faults.clear();
    tick(&env);
    for (_, n) in &linked {
        gh.reopen_issue(REPO, *n, "bob");
    }
    gh.door.log.clear();
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (3, 0), "{report:?}");
    let events = gh.door.log.count(|r| r.path.ends_with("/events"));
    assert!(events <= 2 + 2 * linked.len(), "{:?}", gh.door.log.entries());
}

#[tokio::test]
async fn a_comment_that_becomes_visible_after_a_later_one_is_pushed_back() {
    let env = env().await;
    let (id, n) = env.linked("Replication lag").await;
    env.push().await;
    tick(&env);
    let late = env.sb.github.add_unpublished_comment(REPO, n, "carol", "Written first, shown late.");
    tick(&env);
    env.sb.github.add_comment(REPO, n, "bob", "Written second, shown at once.");
    assert_eq!(env.push().await.pushed, 1);
    tick(&env);
    env.sb.github.publish_comment(REPO, late);
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].contains("Written first, shown late."), "{notes:?}");
    assert_eq!(env.push().await.pushed, 0, "the overlap does not repeat a note");
}

/// The repository's event list, newest first, with a `next` page the client does not follow
/// (another origin; on GitHub Enterprise Server, the host's web site outside `/api/v3`) was
/// taken as read to its end: the linked issues' events on the pages after it were never
/// looked for. It counts as read only as far back as its first page; each linked issue's own
/// list tells the rest.
#[tokio::test]
async fn an_event_list_whose_next_page_is_outside_the_api_is_not_taken_as_complete() {
    let env = env().await;
    let gh = &env.sb.github;
    let linked = [env.linked("First").await, env.linked("Second").await, env.linked("Third").await];
    env.push().await;
    tick(&env);
    for (_, n) in &linked {
        gh.close_issue(REPO, *n, "completed", "alice");
    }
    tick(&env);
    // The closes lie under a page of newer, unrelated events.
    let u = gh.add_issue(REPO, "Unrelated", "", "alice");
    gh.seed_events(REPO, u, 150, "triage-bot", env.sb.clock.now());
    let outside = if gh.web_url() == gh.base_url() { "https://elsewhere.example".to_string() } else { gh.web_url() };
    let link = format!("<{outside}/repositories/1/issues/events?page=2>; rel=\"next\"");
    gh.door.faults.push(FaultRule::new(
        Some(Method::GET),
        "/issues/events",
        Fault::Headers(vec![("link".into(), link)]),
    ));
    gh.door.log.clear();
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (3, 0), "{report:?}");
    for (id, n) in &linked {
        let own = format!("/issues/{n}/events");
        assert!(gh.door.log.count(|r| r.path.ends_with(&own)) >= 1, "{n}: {:?}", gh.door.log.entries());
        assert_eq!(status(&env, *id), "solved");
    }
}
