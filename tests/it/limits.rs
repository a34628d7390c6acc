//! Rate limits and faults: waits are honoured, transient failures retried, budgets kept for push-back.

use std::process::{Output, Stdio};
use std::time::Duration;

use axum::http::Method;
use chrono::Utc;
use ticket_sync::sync::PassError;
use ticket_sync_clients::http::ApiError;
use ticket_sync_core::domain::Scope;
use ticket_sync_core::domain::{Stage, TicketId};
use ticket_sync_sandbox::{Fault, FaultRule};
use ticket_sync_store::Store;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, FORWARD, PUSHBACK, ROUTES};

#[tokio::test]
async fn a_low_github_budget_defers_new_issues_without_losing_any() {
    let env = Env::new().await;
    let ids: Vec<u64> = (0..3).map(|i| env.ticket(&format!("Backfill {i}"), &["escalated"])).collect();
    env.sb.github.set_rate_limit_remaining(50);
    let engine = env.engine();
    let err = engine.escalate(&CancellationToken::new()).await.expect_err("the pass stops early");
    assert!(matches!(err, PassError::Api(ticket_sync_clients::http::ApiError::RateLimited { .. })), "{err}");
    let created = ids.iter().filter(|id| !env.issues_for("acme/backend", **id).is_empty()).count();
    assert!(created <= 1, "new issues wait while the budget is low ({created} created)");
    assert!(engine.store.failures().unwrap().is_empty(), "deferral is not an item failure");

    env.sb.github.set_rate_limit_remaining(5000);
    env.sb.settle();
    env.escalate().await;
    for id in ids {
        assert_eq!(env.issues_for("acme/backend", id).len(), 1, "ticket {id}");
        assert_eq!(env.link_notes(id).len(), 1, "ticket {id}");
    }
}

#[tokio::test]
async fn a_zendesk_429_is_waited_out_and_retried() {
    let env = Env::new().await;
    let id = env.ticket("Throttled", &["escalated"]);
    env.sb.zendesk.door.faults.push(FaultRule::new(None, "/incremental/", Fault::RateLimited { retry_after_secs: 1 }));
    let engine = env.engine();
    let report = engine.escalate(&CancellationToken::new()).await.expect("the pass waits and goes on");
    assert_eq!(report.created, 1);
    assert_eq!(engine.stats.snapshot().limited, 1);
    assert_eq!(env.sb.zendesk.door.log.count(|e| e.path.contains("/incremental/")), 2, "one 429, one retry");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
}

#[tokio::test]
async fn transient_read_failures_are_retried_within_the_pass() {
    let env = Env::new().await;
    let id = env.ticket("Flaky", &["escalated"]);
    env.sb
        .github
        .door
        .faults
        .push(FaultRule::new(Some(axum::http::Method::GET), "/repos/acme/backend", Fault::Status(502)).times(2));
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(axum::http::Method::GET), "/comments", Fault::Drop));
    let engine = env.engine();
    let report = engine.escalate(&CancellationToken::new()).await.unwrap();
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(engine.stats.snapshot().retries, 3);
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
}

#[tokio::test]
async fn a_rejected_token_stops_the_pass_once_without_hammering() {
    let env = Env::new().await;
    for i in 0..5 {
        env.ticket(&format!("Ticket {i}"), &["escalated"]);
    }
    let out = env.bin(&["sync"], &[("TS_SANDBOX_GITHUB_TOKEN", "revoked")]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert_eq!(env.sb.github.door.log.count(|e| e.status == 401), 1, "one refused request, not one per ticket");
}

#[tokio::test]
async fn the_hourly_write_cap_stops_a_backfill_without_failing_tickets() {
    let env = Env::new().await;
    let text = std::fs::read_to_string(&env.rules_path).unwrap().replace("writes_per_hour = 0", "writes_per_hour = 2");
    std::fs::write(&env.rules_path, text).unwrap();
    let ids: Vec<u64> = (0..4).map(|i| env.ticket(&format!("Capped {i}"), &["escalated"])).collect();
    let engine = env.engine();
    let err = engine.escalate(&CancellationToken::new()).await.expect_err("the cap stops the pass");
    assert!(matches!(err, PassError::Api(ticket_sync_clients::http::ApiError::RateLimited { .. })), "{err}");
    let created = ids.iter().filter(|id| !env.issues_for("acme/backend", **id).is_empty()).count();
    assert_eq!(created, 2, "exactly the hourly cap");
    assert_eq!(env.sb.github.door.log.count(|e| e.method == axum::http::Method::POST), 2, "no request beyond the cap");
    assert!(engine.store.failures().unwrap().is_empty(), "waiting for the cap is not a failure");
}

const REPO: &str = "acme/backend";

/// Runs the binary and kills it if it has not exited within `limit`, so a hang fails the test
/// instead of stalling the suite.
async fn bin_within(env: &Env, args: &[&str], vars: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = env.command(args, vars);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("binary runs");
    let pid = child.id() as i32;
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().expect("binary runs"));
    match tokio::time::timeout(limit, waiter).await {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on the pid of the child this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("`ticket-sync {}` did not finish within {limit:?}", args.join(" "));
        }
    }
}

/// `status --json`, read from the test's database.
fn status_json(env: &Env) -> serde_json::Value {
    let rules = ticket_sync::config::load(&env.rules_path).unwrap();
    let store = Store::open_read_only(&rules.state_path).unwrap();
    serde_json::to_value(ticket_sync::status::collect(&rules, &store).unwrap()).unwrap()
}

/// The active blocks `status --json` shows for `service`, as (scope, seconds left).
fn blocks(env: &Env, service: &str) -> Vec<(String, i64)> {
    let status = status_json(env);
    let Some(list) = status["blocks"].as_array() else { panic!("status shows no blocks: {status}") };
    list.iter()
        .filter(|b| b["service"] == service)
        .map(|b| {
            let until = chrono::DateTime::parse_from_rfc3339(b["until"].as_str().unwrap()).unwrap();
            (b["scope"].as_str().unwrap().to_string(), (until.to_utc() - Utc::now()).num_seconds())
        })
        .collect()
}

fn puts_to(env: &Env, ticket: u64) -> usize {
    let path = format!("/api/v2/tickets/{ticket}.json");
    env.sb.zendesk.door.log.count(|e| e.method == Method::PUT && e.path == path)
}

#[tokio::test]
async fn a_hot_tickets_update_limit_fails_only_that_ticket() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (hot, hot_issue) = env.linked("Hot ticket").await;
    let (calm, calm_issue) = env.linked("Calm ticket").await;
    env.sb.zendesk.use_ticket_updates(hot, 30);
    env.sb.github.close_issue(REPO, hot_issue, "completed", "alice");
    env.sb.github.close_issue(REPO, calm_issue, "completed", "alice");
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let report = engine.push(&cancel).await.expect("one ticket's limit does not stop the pass");
    assert_eq!((report.pushed, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.push_notes(calm).len(), 1);
    assert!(env.push_notes(hot).is_empty());
    let failure =
        engine.store.failure_at(TicketId(hot), Stage::Push).unwrap().expect("the hot ticket's failure is recorded");
    let wait = failure.next_attempt_at - Utc::now();
    assert!(
        wait > chrono::Duration::minutes(5) && wait <= chrono::Duration::seconds(600),
        "the next attempt comes when the ticket's window ends, not after the 60 s back-off: {failure:?}"
    );
    assert!(!failure.parked);

    // Zendesk is not closed for anyone else: a new escalation in the same process goes through.
    let fresh = env.ticket("New escalation", &["escalated"]);
    let report = engine.escalate(&cancel).await.expect("the service is not blocked");
    assert_eq!(report.created, 1, "{report:?}");
    assert_eq!(env.link_notes(fresh).len(), 1);
    // The hot ticket is not asked again inside its window, by this process or the next.
    let tries = puts_to(&env, hot);
    env.sb.github.add_comment(REPO, hot_issue, "carol", "still on it");
    engine.push(&cancel).await.expect("pass runs");
    env.push().await;
    assert_eq!(puts_to(&env, hot), tries);
    assert!(blocks(&env, "zendesk").iter().any(|(scope, _)| *scope == format!("ticket:{hot}")), "status shows it");
}

/// Zendesk's own example of a per-ticket 429 carries `Retry-After: 93` and no budget header
/// ("Best practices for avoiding rate limiting"): the sandbox's injected 429 is just that.
#[tokio::test]
async fn a_bare_429_on_one_tickets_update_fails_that_ticket_until_retry_after_and_zendesk_stays_open() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (hot, hot_issue) = env.linked("Hot ticket").await;
    let (calm, calm_issue) = env.linked("Calm ticket").await;
    let path = format!("/api/v2/tickets/{hot}.json");
    env.sb.zendesk.door.faults.push(FaultRule::new(
        Some(Method::PUT),
        &path,
        Fault::RateLimited { retry_after_secs: 93 },
    ));
    env.sb.github.close_issue(REPO, hot_issue, "completed", "alice");
    env.sb.github.close_issue(REPO, calm_issue, "completed", "alice");
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let tries = puts_to(&env, hot) + 1;
    let report = engine.push(&cancel).await.expect("one ticket's 429 does not stop the pass");
    assert_eq!((report.pushed, report.failed), (1, 1), "{report:?}");
    assert_eq!((env.push_notes(calm).len(), env.push_notes(hot).len()), (1, 0));
    let failure = engine.store.failure_at(TicketId(hot), Stage::Push).unwrap().expect("the hot ticket failed");
    let due_in = (failure.next_attempt_at - Utc::now()).num_seconds();
    assert!((60..=93).contains(&due_in), "due again when its Retry-After ends: {due_in} s");
    assert_eq!(puts_to(&env, hot), tries, "the 429 was not sent again");
    let fresh = env.ticket("New escalation", &["escalated"]);
    assert_eq!(engine.escalate(&cancel).await.expect("Zendesk is not blocked").created, 1);
    assert_eq!(env.link_notes(fresh).len(), 1);
    env.push().await;
    assert_eq!(puts_to(&env, hot), tries, "not asked again inside its wait, by this process or the next");
    let (scope, left) = the_zendesk_block(&env);
    assert_eq!(scope, format!("ticket:{hot}"));
    assert!((60..=93).contains(&left), "{left} s");
}

#[tokio::test]
async fn a_429_that_says_the_account_budget_is_spent_still_stops_zendesk() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (id, issue) = env.linked("Busy account").await;
    env.sb.github.close_issue(REPO, issue, "completed", "alice");
    start_of_a_minute(&env);
    env.sb.zendesk.use_account_requests(700);
    let err = env.engine().push(&CancellationToken::new()).await.expect_err("the account's budget is spent");
    assert!(matches!(&err, PassError::Api(ApiError::RateLimited { scope: Scope::Service, .. })), "{err}");
    let store = Store::open_read_only(&env.db_path()).unwrap();
    assert!(store.failure_at(TicketId(id), Stage::Push).unwrap().is_none(), "no ticket's failure");
    assert_eq!(the_zendesk_block(&env).0, "service");
}

#[tokio::test]
async fn an_export_limit_blocks_only_the_export() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (id, issue) = env.linked("Linked").await;
    env.sb.github.close_issue(REPO, issue, "completed", "alice");
    let rule = FaultRule::new(None, "/incremental/", Fault::RateLimited { retry_after_secs: 300 });
    env.sb.zendesk.door.faults.push(rule);
    let engine = env.engine();
    let cancel = CancellationToken::new();
    // Waiting for the export's limit is normal operation: the pass ends early, without failing.
    let paced = engine.escalate(&cancel).await.expect("the export's limit is no failure");
    assert_eq!((paced.seen, paced.failed), (0, 0), "{paced:?}");
    let report = engine.push(&cancel).await.expect("ticket updates are not behind the export's limit");
    assert_eq!(report.pushed, 1, "{report:?}");
    assert_eq!(env.push_notes(id).len(), 1);
    let exports = env.sb.zendesk.door.log.count(|e| e.path.contains("/incremental/"));
    let waiting = engine.escalate(&cancel).await.expect("the export is still waiting, quietly");
    assert_eq!(waiting.failed, 0, "{waiting:?}");
    assert_eq!(env.sb.zendesk.door.log.count(|e| e.path.contains("/incremental/")), exports, "not asked again");
    assert_eq!(blocks(&env, "zendesk").len(), 1, "one block, on the export");
}

/// Moves the sandbox clock to the start of its next minute: the fake's per-minute export
/// budget then resets about a minute later, and cannot roll over within the test.
fn start_of_a_minute(env: &Env) {
    let into = env.sb.clock.now().timestamp().rem_euclid(60) as u64;
    env.sb.clock.advance(Duration::from_secs(60 - into));
}

fn export_reads(env: &Env) -> usize {
    env.sb.zendesk.door.log.count(|e| e.path.contains("/incremental/"))
}

/// The one block `status` shows for Zendesk: its scope and seconds left.
fn the_zendesk_block(env: &Env) -> (String, i64) {
    let zendesk = blocks(env, "zendesk");
    assert_eq!(zendesk.len(), 1, "{zendesk:?}");
    zendesk[0].clone()
}

#[tokio::test]
async fn an_export_429_naming_its_budget_waits_alone_while_push_back_and_forwarding_go_on() {
    let env = Env::with_routes(ROUTES, &format!("{PUSHBACK}\n{FORWARD}")).await;
    let (id, issue) = env.linked("Linked").await;
    env.sb.github.close_issue(REPO, issue, "completed", "alice");
    start_of_a_minute(&env);
    // Another integration spent this minute's export budget: the next read is a 429 whose
    // `zendesk-ratelimit-incremental-exports` header names the export's budget.
    env.sb.zendesk.use_export_requests(10);
    let reads = export_reads(&env);
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let paced = engine.escalate(&cancel).await.expect("the export's limit is no failure");
    assert_eq!((paced.seen, paced.failed), (0, 0), "{paced:?}");
    assert_eq!(export_reads(&env), reads + 1, "the 429 is not sent again inside its wait");
    let report = engine.push(&cancel).await.expect("push-back is not behind the export's limit");
    assert_eq!((report.pushed, report.failed), (1, 0), "forwarding waits for the export quietly: {report:?}");
    assert_eq!(env.push_notes(id).len(), 1);
    env.escalate().await;
    env.push().await;
    assert_eq!(export_reads(&env), reads + 1, "a new engine sends nothing to the export inside the wait");
    let (scope, left) = the_zendesk_block(&env);
    assert_eq!(scope, "endpoint:incremental-exports", "the block has the header's name");
    assert!((30..=60).contains(&left), "until the budget's reset: {left} s");
}

#[tokio::test]
async fn an_export_answer_that_spends_its_budget_holds_the_next_read_until_the_reset() {
    let env = Env::new().await;
    let id = env.ticket("Last read of the minute", &["escalated"]);
    start_of_a_minute(&env);
    env.sb.zendesk.use_export_requests(9);
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    let reads = export_reads(&env);
    let waiting = env.escalate().await;
    assert_eq!((waiting.seen, waiting.failed), (0, 0), "{waiting:?}");
    assert_eq!(export_reads(&env), reads, "remaining=0 was heeded: no 429 asked for");
    let (scope, left) = the_zendesk_block(&env);
    assert_eq!(scope, "endpoint:incremental-exports");
    assert!((30..=60).contains(&left), "{left} s");
}

/// FACTS.md, "Secondary limits": without `retry-after`, with budget left, wait at least a
/// minute; the primary window's reset (up to an hour away) is not this limit's.
#[tokio::test]
async fn a_secondary_limit_without_retry_after_blocks_github_for_a_minute_not_until_the_primary_reset() {
    let env = Env::new().await;
    let first = env.ticket("First", &["escalated"]);
    let second = env.ticket("Second", &["escalated"]);
    env.sb.github.set_write_limit_per_minute(Some(1));
    env.sb.github.set_secondary_retry_after(false);
    let err = env.engine().escalate(&CancellationToken::new()).await.expect_err("the secondary limit stops the pass");
    assert!(matches!(&err, PassError::Api(ApiError::RateLimited { scope: Scope::Service, .. })), "{err}");
    assert_eq!(env.issues_for(REPO, first).len() + env.issues_for(REPO, second).len(), 1);
    let github = blocks(&env, "github");
    assert_eq!(github.len(), 1, "{github:?}");
    let (scope, left) = &github[0];
    assert_eq!(scope, "service");
    assert!((30..=60).contains(left), "a minute, not the primary reset an hour away: {left} s");
    let sent = env.sb.github.door.log.len();
    env.engine().escalate(&CancellationToken::new()).await.expect_err("still inside the minute");
    assert_eq!(env.sb.github.door.log.len(), sent, "nothing sent to GitHub inside the wait");
    assert!(env.engine().store.failures().unwrap().is_empty(), "waiting is not a ticket's failure");
}

#[tokio::test]
async fn absurd_rate_limit_headers_neither_panic_nor_silence_a_service_for_long() {
    let env = Env::new().await;
    let id = env.ticket("Absurd", &["escalated"]);
    let absurd_reset = vec![("ratelimit-reset".to_string(), i64::MAX.to_string())];
    env.sb.zendesk.door.faults.push(FaultRule::new(None, "/incremental/", Fault::Headers(absurd_reset)));
    let endless = Fault::RateLimited { retry_after_secs: u64::MAX };
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::GET), "/repos/acme/backend", endless));
    let err = env.engine().escalate(&CancellationToken::new()).await.expect_err("GitHub asked to wait");
    assert!(matches!(err, PassError::Api(ApiError::RateLimited { .. })), "{err}");
    let github = blocks(&env, "github");
    assert_eq!(github.len(), 1, "{github:?}");
    let (scope, left) = &github[0];
    assert_eq!(scope, "service");
    assert!((3500..=3600).contains(left), "the wait is capped at an hour: {left} s");
    assert!(env.issues_for(REPO, id).is_empty());
}

#[tokio::test]
async fn a_spent_budget_with_a_far_reset_blocks_for_an_hour_at_most_and_status_says_so() {
    let env = Env::new().await;
    env.ticket("Spent", &["escalated"]);
    let spent = vec![
        ("x-ratelimit-remaining".to_string(), "0".to_string()),
        ("x-ratelimit-reset".to_string(), "4102444800".to_string()), // 2100-01-01
    ];
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::GET), "/repos/acme/backend", Fault::Headers(spent)));
    let err = env.engine().escalate(&CancellationToken::new()).await.expect_err("the budget is spent");
    assert!(matches!(err, PassError::Api(ApiError::RateLimited { .. })), "{err}");
    let github = blocks(&env, "github");
    assert!(
        github.iter().any(|(scope, left)| scope == "service" && (3500..=3600).contains(left)),
        "blocked for an hour at most, and status says so: {github:?}"
    );
    let sent = env.sb.github.door.log.len();
    env.engine().escalate(&CancellationToken::new()).await.expect_err("a new engine honours the block");
    assert_eq!(env.sb.github.door.log.len(), sent, "nothing sent to GitHub inside the block");
}

#[tokio::test]
async fn a_new_process_honours_a_wait_the_previous_one_was_told() {
    let env = Env::new().await;
    let id = env.ticket("Told to wait", &["escalated"]);
    let told = Fault::RateLimited { retry_after_secs: 3000 };
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", told));
    let first = env.bin(&["sync"], &[]).await;
    assert_eq!(first.status.code(), Some(1), "{}", String::from_utf8_lossy(&first.stderr));
    let sent = env.sb.github.door.log.len();
    let second = env.bin(&["sync"], &[]).await;
    assert_eq!(second.status.code(), Some(1), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(env.sb.github.door.log.len(), sent, "the new process sent nothing to GitHub inside the wait");
    assert!(env.issues_for(REPO, id).is_empty());
    let status = env.bin(&["status"], &[]).await;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("github") && text.contains("blocked until"), "{text}");
}

#[tokio::test]
async fn a_black_holed_request_fails_its_item_and_the_next_one_proceeds() {
    let env = Env::new().await;
    let lost = env.ticket("Lost in a black hole", &["escalated"]);
    let fine = env.ticket("Fine", &["escalated"]);
    let path = format!("/tickets/{lost}/comments");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::GET), &path, Fault::BlackHole).times(100));
    let short = [("TICKET_SYNC_HTTP_TIMEOUT_MS", "300"), ("TICKET_SYNC_CALL_BUDGET_MS", "1500")];
    let out = bin_within(&env, &["sync"], &short, Duration::from_secs(60)).await;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let store = Store::open_read_only(&env.db_path()).unwrap();
    let failure = store
        .failure_at(TicketId(lost), Stage::Escalate)
        .unwrap()
        .expect("the black-holed ticket's failure is recorded");
    assert_eq!(failure.stage, "escalate");
    assert!(failure.error.contains("timed out"), "{}", failure.error);
    assert!(env.issues_for(REPO, lost).is_empty());
    assert_eq!(env.issues_for(REPO, fine).len(), 1, "the next ticket went on");
    assert_eq!(env.link_notes(fine).len(), 1);
    let tries = env.sb.zendesk.door.log.count(|e| e.path.contains(&path));
    assert!((1..=4).contains(&tries), "retried only within the call's budget: {tries}");
}

#[tokio::test]
async fn sync_stops_at_its_deadline_and_the_next_run_resumes() {
    let env = Env::new().await;
    let stuck = env.ticket("Stuck", &["escalated"]);
    let next = env.ticket("Next", &["escalated"]);
    let path = format!("/tickets/{stuck}/comments");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::GET), &path, Fault::BlackHole));
    let patient = [("TICKET_SYNC_HTTP_TIMEOUT_MS", "600000"), ("TICKET_SYNC_CALL_BUDGET_MS", "600000")];
    let out = bin_within(&env, &["sync", "--deadline", "2"], &patient, Duration::from_secs(60)).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("deadline"), "{stderr}");
    assert!(env.issues_for(REPO, stuck).is_empty() && env.issues_for(REPO, next).is_empty());
    assert_eq!(status_json(&env)["last_pass"]["escalate"]["outcome"], "failed", "not left as running");
    let again = env.bin(&["sync"], &[]).await;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    for id in [stuck, next] {
        assert_eq!(env.issues_for(REPO, id).len(), 1, "ticket {id}");
        assert_eq!(env.link_notes(id).len(), 1, "ticket {id}");
    }
}
