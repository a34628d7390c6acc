//! Rate limits and faults: waits are honoured, transient failures retried, budgets kept for push-back.

use ticket_sync::sandbox::{Fault, FaultRule};
use ticket_sync::sync::PassError;
use tokio_util::sync::CancellationToken;

use crate::harness::Env;

#[tokio::test]
async fn a_low_github_budget_defers_new_issues_without_losing_any() {
    let env = Env::new().await;
    let ids: Vec<u64> = (0..3).map(|i| env.ticket(&format!("Backfill {i}"), &["escalated"])).collect();
    env.sb.github.set_rate_limit_remaining(50);
    let engine = env.engine();
    let err = engine.escalate(&CancellationToken::new()).await.expect_err("the pass stops early");
    assert!(matches!(err, PassError::Api(ticket_sync::http::ApiError::RateLimited { .. })), "{err}");
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
    assert!(matches!(err, PassError::Api(ticket_sync::http::ApiError::RateLimited { .. })), "{err}");
    let created = ids.iter().filter(|id| !env.issues_for("acme/backend", **id).is_empty()).count();
    assert_eq!(created, 2, "exactly the hourly cap");
    assert_eq!(env.sb.github.door.log.count(|e| e.method == axum::http::Method::POST), 2, "no request beyond the cap");
    assert!(engine.store.failures().unwrap().is_empty(), "waiting for the cap is not a failure");
}
