//! What following fixes costs, counted (not timed) from the fakes' request logs: a release
//! and a fix at 10 and at 1,000 pending fixes (BENCHMARKS.md, section 8, quotes these counts;
//! run with `--nocapture` to see them).

use chrono::Duration;
use ticket_sync_core::domain::{Issue, IssueId, IssueNumber, TicketId};
use ticket_sync_sandbox::{MergeMethod, NewTicket, ReleaseSpec};
use ticket_sync_store::Store;

use crate::harness::{Env, PUSHBACK};

const REPO: &str = "acme/backend";
const ROUTES: &str = "[[route]]\nrepo = \"acme/backend\"\n";

/// `n` linked tickets whose issues were closed by a pushed commit: `n` pending fixes.
async fn pending(n: usize) -> Env {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let at = env.sb.clock.now() - Duration::hours(1);
    let tickets = (0..n)
        .map(|i| {
            let mut t = NewTicket::new(&format!("Bug {i}"), "Broken.", env.requester);
            t.tags = vec!["escalated".into()];
            t.status = "open".into();
            (t, at)
        })
        .collect();
    let ids = env.sb.zendesk.seed_tickets(tickets);
    let issues =
        ids.iter().map(|id| (format!("Bug [#{id}]"), format!("<!-- ticket-sync:zendesk={id} -->"), at)).collect();
    let views = env.sb.github.seed_issues(REPO, issues, env.sb.github.login());
    let links: Vec<(TicketId, Issue)> = ids
        .iter()
        .zip(&views)
        .map(|(id, v)| {
            let issue = Issue {
                repo: REPO.parse().unwrap(),
                number: IssueNumber(v.number),
                id: IssueId(v.id),
                html_url: v.html_url.clone(),
                state: v.state.as_str().into(),
                state_reason: None,
                body: None,
                updated_at: Some(v.updated_at),
                closed_by: None,
                is_pull_request: false,
            };
            (TicketId(*id), issue)
        })
        .collect();
    Store::open(&env.db_path()).unwrap().import_mappings(&links).unwrap();
    env.push().await;
    env.sb.clock.advance(std::time::Duration::from_secs(2));
    for v in &views {
        env.sb.github.close_issue_by_commit(REPO, v.number, "dev");
    }
    env.sb.settle();
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    // A thousand closes in one second make a listing of many pages, read again until that
    // second is settled (push-back's own rule, `pushback::next_since`).
    env.sb.clock.advance(std::time::Duration::from_secs(11 * 60));
    env.push().await;
    env.push().await;
    env.sb.settle();
    env
}

fn github_requests(env: &Env) -> Vec<(String, u16)> {
    env.sb.github.door.log.entries().into_iter().map(|e| (e.path, e.status)).collect()
}

#[tokio::test]
async fn a_release_costs_the_list_and_one_compare_per_pending_fix_once_and_a_fix_a_request_or_two() {
    for n in [10, 1000] {
        let env = pending(n).await;
        // Idle with pending fixes: the three 304s of any repository, and the releases list.
        env.sb.github.door.log.clear();
        env.push().await;
        let idle = github_requests(&env);
        assert!(idle.len() <= 4, "{n}: {idle:?}");
        assert!(idle.iter().all(|(_, s)| *s == 304 || *s == 200), "{idle:?}");

        // A release: the list, then one compare per pending fix; one note per ticket.
        env.sb.clock.advance(std::time::Duration::from_secs(2));
        env.sb.github.create_release(REPO, ReleaseSpec::published("v5.0.0"), "dev");
        env.sb.settle();
        env.sb.github.door.log.clear();
        env.sb.zendesk.door.log.clear();
        let report = env.push().await;
        assert_eq!(report.failed, 0, "{report:?}");
        let on_release = github_requests(&env);
        let compares = on_release.iter().filter(|(p, _)| p.contains("/compare/")).count();
        let lists = on_release.iter().filter(|(p, _)| p.ends_with("/releases")).count();
        let zendesk = env.sb.zendesk.door.log.count(|e| e.path != "/oauth/tokens");
        assert_eq!((compares, lists), (n, 1), "{n}");
        assert_eq!(zendesk, n, "one update per ticket: the note and the field together");
        eprintln!(
            "{n} pending fixes: idle {} GitHub requests; a release {} GitHub ({compares} compares, {lists} list), {zendesk} Zendesk",
            idle.len(),
            on_release.len()
        );

        // Nothing pending any more: the releases are not read, nothing is compared again.
        env.sb.github.door.log.clear();
        env.push().await;
        let after = github_requests(&env);
        assert!(after.iter().all(|(p, _)| !p.contains("/compare/") && !p.ends_with("/releases")), "{after:?}");

        // One more fix, by a merged pull request: its close costs the events of the issue and
        // at most one request naming the pull request; the next release one compare.
        let (_, issue) = env.linked("One more bug").await;
        env.sb.clock.advance(std::time::Duration::from_secs(2));
        let pr = env.sb.github.open_pull_request(REPO, "Fix it", &format!("Fixes #{issue}"), "dev");
        env.sb.github.merge_pull_request(REPO, pr, MergeMethod::Merge, "dev");
        env.sb.settle();
        env.sb.github.door.log.clear();
        env.push().await;
        let on_fix = github_requests(&env);
        eprintln!("{n} pending fixes: a fix by a pull request costs {} GitHub requests: {on_fix:?}", on_fix.len());
        assert!(on_fix.len() <= 7, "{on_fix:?}");
        env.sb.clock.advance(std::time::Duration::from_secs(2));
        env.sb.github.create_release(REPO, ReleaseSpec::published("v5.0.1"), "dev");
        env.sb.settle();
        env.sb.github.door.log.clear();
        env.push().await;
        let compares = github_requests(&env).iter().filter(|(p, _)| p.contains("/compare/")).count();
        assert_eq!(compares, 1, "only the new fix is pending");
    }
}
