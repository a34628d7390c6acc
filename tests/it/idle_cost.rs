//! The idle cost, asserted by counting requests (not by timing): with a few thousand links over
//! three repositories and nothing changed, one `sync` of the real binary costs one Zendesk
//! request (the export poll) and three GitHub requests per repository, all of them 304s: its
//! issues and comments (push-back) and its pull requests (`[fixes]`, on by default; with
//! `track = false` the third is not made: `fixes::with_fixes_off_an_idle_pass_costs_two_requests_per_repo`).

use chrono::Duration;
use ticket_sync_core::domain::{Issue, IssueId, IssueNumber, TicketId};
use ticket_sync_sandbox::{NewTicket, Visibility};
use ticket_sync_store::Store;

use crate::harness::Env;

const REPOS: [&str; 3] = ["acme/web", "acme/api", "acme/billing"];
const ROUTES: &str = r#"
[[route]]
when = { tags_any = ["team-web"] }
repo = "acme/web"

[[route]]
when = { tags_any = ["team-api"] }
repo = "acme/api"

[[route]]
repo = "acme/billing"
"#;
const LINKS: usize = 3000;

/// `LINKS` finished escalations with a history (one every 10 s, ending a day ago), seeded in
/// bulk: tickets in Zendesk, issues on GitHub, mappings in the store.
async fn seeded() -> Env {
    let env = Env::with_routes(ROUTES, "").await;
    env.sb.github.add_repo("acme/web", Visibility::Private, true);
    env.sb.github.add_repo("acme/api", Visibility::Private, true);
    let end = env.sb.clock.now() - Duration::days(1);
    let at = |i: usize| end - Duration::seconds(10 * (LINKS - i) as i64);
    let tickets = (0..LINKS)
        .map(|i| {
            let mut t = NewTicket::new(&format!("Export fails ({i})"), "The report export fails.", env.requester);
            t.tags = vec!["escalated".into(), ["team-web", "team-api", "billing"][i % 3].into()];
            t.status = "open".into();
            (t, at(i))
        })
        .collect();
    let ids = env.sb.zendesk.seed_tickets(tickets);
    let mut links = Vec::new();
    for (r, repo) in REPOS.iter().enumerate() {
        let mine: Vec<(usize, u64)> = ids.iter().copied().enumerate().filter(|(i, _)| i % 3 == r).collect();
        let issues = mine
            .iter()
            .map(|(i, id)| (format!("Export fails [#{id}]"), format!("<!-- ticket-sync:zendesk={id} -->"), at(*i)))
            .collect();
        let views = env.sb.github.seed_issues(repo, issues, env.sb.github.login());
        for ((_, id), v) in mine.iter().zip(views) {
            let issue = Issue {
                repo: repo.parse().unwrap(),
                number: IssueNumber(v.number),
                id: IssueId(v.id),
                html_url: v.html_url,
                state: v.state.into(),
                state_reason: None,
                body: None,
                updated_at: Some(v.updated_at),
                closed_by: None,
                is_pull_request: false,
            };
            links.push((TicketId(*id), issue));
        }
    }
    Store::open(&env.db_path()).unwrap().import_mappings(&links).unwrap();
    env
}

#[tokio::test]
async fn an_idle_sync_over_3000_links_in_3_repos_costs_one_zendesk_and_three_github_304s_per_repo() {
    let env = seeded().await;
    // The first sync reads the history once (a multi-page list has no usable ETag), the
    // second stores single-page ETags; from then on nothing has changed.
    for _ in 0..2 {
        let out = env.bin(&["sync"], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        env.sb.settle();
    }
    assert_eq!(Store::open(&env.db_path()).unwrap().mapping_count().unwrap(), LINKS as u64);
    for round in 0..2 {
        env.sb.github.door.log.clear();
        env.sb.zendesk.door.log.clear();
        let out = env.bin(&["sync"], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let github = env.sb.github.door.log.entries();
        // Each `sync` process mints one OAuth access token (a daemon keeps it for an hour).
        let (mints, zendesk): (Vec<_>, Vec<_>) =
            env.sb.zendesk.door.log.entries().into_iter().partition(|e| e.path == "/oauth/tokens");
        assert!(mints.len() <= 1, "round {round}: {mints:?}");
        assert!(zendesk.len() <= 1, "round {round}: {zendesk:?}");
        assert!(zendesk.iter().all(|e| e.path.contains("/incremental/")), "round {round}: {zendesk:?}");
        assert!(github.len() <= 3 * REPOS.len(), "round {round}: {github:?}");
        assert!(github.iter().all(|e| e.status == 304), "round {round}: {github:?}");
        for repo in REPOS {
            let n = github.iter().filter(|e| e.path.starts_with(&format!("/repos/{repo}/"))).count();
            assert!(n <= 3, "round {round}: {n} requests for {repo}: {github:?}");
            let pulls = github.iter().filter(|e| e.path.starts_with(&format!("/repos/{repo}/pulls"))).count();
            assert!(pulls <= 1, "round {round}: the pull requests are read once: {github:?}");
        }
        env.sb.settle();
    }
}
