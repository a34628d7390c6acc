//! The survivor of an issue closed as a duplicate, read through the GitHub client's GraphQL
//! query (`GithubClient::duplicate_survivor`) against the fake GitHub: with a token, as a
//! GitHub App installation, and on GitHub Enterprise Server's layout (`/api/graphql`); an
//! unmark, a plain close and a pull request name none; what is not there is `NotFound`;
//! GraphQL's points are a budget apart from REST's. And the issues pull requests close
//! (`GithubClient::closing_issues`), by keyword or by a hand link REST does not show: up to 50
//! pull requests a query (counted in the fake's log), one GitHub does not find left out.

use std::sync::Arc;

use ticket_sync_clients::github::GithubClient;
use ticket_sync_clients::http::{build_client, ApiError, ApiStats};
use ticket_sync_clients::secret::{GithubCredential, Secret};
use ticket_sync_core::domain::{Endpoint, IssueNumber, RepoName, Scope};
use ticket_sync_sandbox::{FakeGithub, Sandbox, GHES_API_PREFIX, GITHUB_TOKEN};

use crate::harness::{Env, ROUTES};

const REPO: &str = "acme/backend";

fn repo(name: &str) -> RepoName {
    name.parse().unwrap()
}

/// The GraphQL requests the fake GitHub was sent (its front door logs `/graphql` in both
/// layouts).
fn graphql_requests(env: &Env) -> usize {
    env.sb.github.door.log.entries().iter().filter(|r| r.path == "/graphql").count()
}

/// Marks `dup` a duplicate of `survivor` (in `of`), as a person closing it in the web UI.
fn close_as_duplicate(env: &Env, dup: u64, of: &str, survivor: u64) {
    env.sb.github.close_as_duplicate(REPO, dup, of, survivor, "maintainer");
}

/// The reads every layout and credential must give.
async fn reads_every_case(env: &Env) {
    let github = env.engine().github;
    let gh = &env.sb.github;
    let (dup, survivor) =
        (gh.add_issue(REPO, "Crash on save", "", "alice"), gh.add_issue(REPO, "Saving crashes", "", "bob"));
    let elsewhere = gh.add_issue("acme/billing", "Invoices crash", "", "carol");
    let before = graphql_requests(env);

    assert_eq!(github.duplicate_survivor(&repo(REPO), IssueNumber(dup)).await.unwrap(), None, "open: no survivor");
    close_as_duplicate(env, dup, REPO, survivor);
    let read = github.duplicate_survivor(&repo(REPO), IssueNumber(dup)).await.unwrap();
    assert_eq!(read, Some((repo(REPO), IssueNumber(survivor))));
    assert_eq!(graphql_requests(env), before + 2, "one query a read");

    gh.unmark_duplicate(REPO, dup, "maintainer");
    assert_eq!(github.duplicate_survivor(&repo(REPO), IssueNumber(dup)).await.unwrap(), None, "unmarked: none");
    gh.reopen_issue(REPO, dup, "maintainer");
    gh.close_as_duplicate(REPO, dup, "acme/billing", elsewhere, "maintainer");
    let read = github.duplicate_survivor(&repo(REPO), IssueNumber(dup)).await.unwrap();
    assert_eq!(read, Some((repo("acme/billing"), IssueNumber(elsewhere))), "marked again, elsewhere: the last mark");

    let plain = gh.add_issue(REPO, "Fixed", "", "alice");
    gh.close_issue(REPO, plain, "completed", "maintainer");
    assert_eq!(github.duplicate_survivor(&repo(REPO), IssueNumber(plain)).await.unwrap(), None, "a plain close");
    let of_pull = gh.add_issue(REPO, "Dup of a PR", "", "alice");
    let pr = gh.open_pull_request(REPO, "Fix", "", "dev");
    close_as_duplicate(env, of_pull, REPO, pr);
    assert_eq!(github.duplicate_survivor(&repo(REPO), IssueNumber(of_pull)).await.unwrap(), None, "a pull request");

    let missing = github.duplicate_survivor(&repo(REPO), IssueNumber(9999)).await;
    assert!(matches!(&missing, Err(ApiError::NotFound { detail, .. }) if detail.contains("9999")), "{missing:?}");
    let nowhere = github.duplicate_survivor(&repo("acme/nowhere"), IssueNumber(1)).await;
    assert!(matches!(nowhere, Err(ApiError::NotFound { .. })), "{nowhere:?}");
}

#[tokio::test]
async fn a_duplicates_survivor_reads_with_a_token() {
    let env = Env::new().await;
    reads_every_case(&env).await;
    let log = env.sb.github.door.log.entries();
    let queries: Vec<_> = log.iter().filter(|r| r.path == "/graphql").collect();
    assert!(queries.iter().all(|r| r.method.as_str() == "POST"), "queries are POSTs");
}

#[tokio::test]
async fn a_duplicates_survivor_reads_on_github_enterprise_server() {
    let mut sb = Sandbox::start().await.unwrap();
    sb.github = FakeGithub::start_with_prefix(GITHUB_TOKEN, sb.clock.clone(), GHES_API_PREFIX).await.unwrap();
    let env = Env::on(sb, ROUTES, "").await;
    assert!(env.sb.github.base_url().ends_with("/api/v3"));
    assert_eq!(env.sb.github.graphql_url(), format!("{}/api/graphql", env.sb.github.web_url()));
    reads_every_case(&env).await;
}

#[tokio::test]
async fn a_duplicates_survivor_reads_as_a_github_app_installation() {
    let (env, installation) = crate::github_app::app_env(ROUTES, "").await;
    // The fake's GraphQL refuses a JWT: the queries carry the installation's token.
    reads_every_case(&env).await;
    // An installation without `issues` is refused for the repository alone.
    env.sb.github.set_installation_permission(installation, "issues", None);
    env.sb.github.revoke_installation_tokens();
    let github = env.engine().github;
    let n = env.sb.github.add_issue(REPO, "A", "", "alice");
    let refused = github.duplicate_survivor(&repo(REPO), IssueNumber(n)).await;
    assert!(matches!(refused, Err(ApiError::Forbidden { .. })), "{refused:?}");
}

#[tokio::test]
async fn graphqls_spent_points_hold_back_graphql_alone() {
    let env = Env::new().await;
    let engine = env.engine();
    let n = env.sb.github.add_issue(REPO, "A", "", "alice");
    env.sb.github.set_graphql_remaining(0);
    let limited = engine.github.duplicate_survivor(&repo(REPO), IssueNumber(n)).await;
    let points = Scope::Endpoint(Endpoint::from("graphql"));
    assert!(matches!(&limited, Err(ApiError::RateLimited { scope, .. }) if *scope == points), "{limited:?}");
    let sent = graphql_requests(&env);
    let again = engine.github.duplicate_survivor(&repo(REPO), IssueNumber(n)).await;
    assert!(matches!(again, Err(ApiError::RateLimited { .. })), "{again:?}");
    assert_eq!(graphql_requests(&env), sent, "held back until the reset, nothing sent");
    assert!(engine.github.get_repo(&repo(REPO)).await.is_ok(), "REST's budget is another");
    let budget = engine.stats.snapshot().budgets.get(&ticket_sync_core::domain::Service::Github).cloned();
    assert!(budget.and_then(|b| b.remaining).is_some_and(|left| left > 4000), "the REST budget shown is REST's");
}

#[tokio::test]
async fn a_refused_token_is_unauthorized_and_blocks_nothing() {
    let env = Env::new().await;
    let base = url::Url::parse(&env.sb.github.base_url()).unwrap();
    let stats = ApiStats::new();
    let wrong = GithubCredential::Token(Secret::new("ghp_not_the_sandbox_token_0001"));
    let github = GithubClient::new(base.clone(), &wrong, 0, 0, build_client(None), stats.clone());
    let refused = github.duplicate_survivor(&repo(REPO), IssueNumber(1)).await;
    assert!(matches!(refused, Err(ApiError::Unauthorized { status: 401, .. })), "{refused:?}");
    let right = GithubCredential::Token(Secret::new(GITHUB_TOKEN));
    let github = GithubClient::new(base, &right, 0, 0, build_client(None), Arc::clone(&stats));
    let n = env.sb.github.add_issue(REPO, "A", "", "alice");
    let read = github.duplicate_survivor(&repo(REPO), IssueNumber(n)).await;
    assert_eq!(read.unwrap(), None, "GraphQL's 401 (0 points of 0) blocked nothing for the right token");
}

/// The issues pull requests close, by keyword or by a hand link, read in one query for up to
/// 50 pull requests: keyword, hand link and neither in one request; a pull request GitHub does
/// not find (and an issue's number) left out; nothing asked, nothing sent.
async fn reads_closing_issues(env: &Env) {
    let github = env.engine().github;
    let gh = &env.sb.github;
    let (a, b) = (gh.add_issue(REPO, "Crash on save", "", "alice"), gh.add_issue(REPO, "Slow export", "", "bob"));
    let elsewhere = gh.add_issue("acme/billing", "Invoices crash", "", "carol");
    let keyword =
        gh.open_pull_request(REPO, "Fix the crash", &format!("Fixes #{a}, fixes acme/billing#{elsewhere}"), "dev");
    let by_hand = gh.open_pull_request(REPO, "Speed up export", "No keyword", "dev");
    gh.link_pull_request(REPO, b, REPO, by_hand, "maintainer");
    let neither = gh.open_pull_request(REPO, "Refactor", &format!("Mentions #{a}"), "dev");
    let before = graphql_requests(env);

    let pulls = [IssueNumber(keyword), IssueNumber(by_hand), IssueNumber(neither)];
    let read = github.closing_issues(&repo(REPO), &pulls).await.unwrap();
    assert_eq!(graphql_requests(env), before + 1, "three pull requests, one query");
    assert_eq!(
        read[&IssueNumber(keyword)],
        [(repo(REPO), IssueNumber(a)), (repo("acme/billing"), IssueNumber(elsewhere))]
    );
    assert_eq!(read[&IssueNumber(by_hand)], [(repo(REPO), IssueNumber(b))], "a hand link REST does not show");
    assert_eq!(read[&IssueNumber(neither)], [], "a mention closes nothing");

    let with_unknown = [IssueNumber(keyword), IssueNumber(9999), IssueNumber(a), IssueNumber(0), IssueNumber(u64::MAX)];
    let read = github.closing_issues(&repo(REPO), &with_unknown).await.unwrap();
    let keys: Vec<IssueNumber> = read.keys().copied().collect();
    assert_eq!(keys, [IssueNumber(keyword)], "an unknown number and an issue's are left out, the others read");
    assert_eq!(graphql_requests(env), before + 2, "numbers that can be no pull request are not asked about");

    gh.unlink_pull_request(REPO, b, REPO, by_hand, "maintainer");
    let read = github.closing_issues(&repo(REPO), &[IssueNumber(by_hand)]).await.unwrap();
    assert_eq!(read[&IssueNumber(by_hand)], [], "unlinked");
    assert!(github.closing_issues(&repo(REPO), &[]).await.unwrap().is_empty());
    assert_eq!(graphql_requests(env), before + 3, "nothing asked, nothing sent");
    let nowhere = github.closing_issues(&repo("acme/nowhere"), &[IssueNumber(1)]).await;
    assert!(matches!(nowhere, Err(ApiError::NotFound { .. })), "{nowhere:?}");
}

#[tokio::test]
async fn the_issues_pull_requests_close_read_in_one_query_with_a_token() {
    let env = Env::new().await;
    reads_closing_issues(&env).await;
    let log = env.sb.github.door.log.entries();
    let query = log.iter().rev().find(|r| r.path == "/graphql").expect("a query");
    assert_eq!(query.method.as_str(), "POST");
}

#[tokio::test]
async fn the_issues_pull_requests_close_read_on_github_enterprise_server() {
    let mut sb = Sandbox::start().await.unwrap();
    sb.github = FakeGithub::start_with_prefix(GITHUB_TOKEN, sb.clock.clone(), GHES_API_PREFIX).await.unwrap();
    let env = Env::on(sb, ROUTES, "").await;
    reads_closing_issues(&env).await;
}

#[tokio::test]
async fn the_issues_of_120_pull_requests_read_in_three_queries() {
    let env = Env::new().await;
    let github = env.engine().github;
    let gh = &env.sb.github;
    let issue = gh.add_issue(REPO, "Crash on save", "", "alice");
    let pulls: Vec<IssueNumber> = (0..120)
        .map(|i| {
            let body = if i % 40 == 0 { format!("Closes #{issue}") } else { String::new() };
            IssueNumber(gh.open_pull_request(REPO, &format!("Change {i}"), &body, "dev"))
        })
        .collect();
    let last = *pulls.last().unwrap();
    gh.link_pull_request(REPO, issue, REPO, last.0, "maintainer");
    let before = graphql_requests(&env);
    let read = github.closing_issues(&repo(REPO), &pulls).await.unwrap();
    assert_eq!(graphql_requests(&env), before + 3, "50, 50 and 20 pull requests");
    assert_eq!(read.len(), 120, "every pull request answered");
    let closing: Vec<IssueNumber> = read.iter().filter(|(_, issues)| !issues.is_empty()).map(|(pr, _)| *pr).collect();
    assert_eq!(closing, [pulls[0], pulls[40], pulls[80], last], "the keyword ones in each query, and the hand link");
    assert!(read.values().flatten().all(|closed| *closed == (repo(REPO), IssueNumber(issue))));
}

#[tokio::test]
async fn an_installation_reads_closing_issues_with_pull_requests_read() {
    let (env, installation) = crate::github_app::app_env(ROUTES, "").await;
    let gh = &env.sb.github;
    let a = gh.add_issue(REPO, "A", "", "alice");
    let pr = gh.open_pull_request(REPO, "Fix", &format!("Fixes #{a}"), "dev");
    let refused = env.engine().github.closing_issues(&repo(REPO), &[IssueNumber(pr)]).await;
    assert!(matches!(refused, Err(ApiError::Forbidden { .. })), "issues: write alone: {refused:?}");
    gh.set_installation_permission(installation, "pull_requests", Some("read"));
    gh.revoke_installation_tokens();
    let read = env.engine().github.closing_issues(&repo(REPO), &[IssueNumber(pr)]).await.unwrap();
    assert_eq!(read[&IssueNumber(pr)], [(repo(REPO), IssueNumber(a))]);
}
