//! Webhooks: a delivery is a doorbell. The daemon reads the current state through the API with
//! its usual watermarks, intents and ledger, so duplicate, reordered or late deliveries never
//! change the outcome.

use ticket_sync_core::domain::{RepoName, TicketId};
use ticket_sync_sandbox::NewTicket;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

fn repo() -> RepoName {
    REPO.parse().unwrap()
}

#[tokio::test]
async fn a_ticket_named_by_a_delivery_is_escalated_at_once_and_only_once() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let id = fresh_ticket(&env, "Webhook escalation", &["escalated"]);
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let report = engine.ring_ticket(TicketId(id), &cancel).await.unwrap();
    assert_eq!(report.created, 1, "{report:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1);
    // The same delivery again, and then the poll that sees the same change: nothing more.
    engine.ring_ticket(TicketId(id), &cancel).await.unwrap();
    env.sb.settle();
    env.escalate().await;
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1);
}

#[tokio::test]
async fn a_repository_named_by_a_delivery_pushes_its_close_once() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (id, n) = env.linked("Webhook close").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let engine = env.engine();
    let cancel = CancellationToken::new();
    let report = engine.ring_repo(&repo(), &cancel).await.unwrap();
    assert_eq!(report.pushed, 1, "{report:?}");
    engine.ring_repo(&repo(), &cancel).await.unwrap();
    env.push().await;
    assert_eq!(env.push_notes(id).len(), 1);
    assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
}

#[tokio::test]
async fn a_delivery_showing_the_tag_removed_ends_the_stored_retry() {
    use axum::http::Method;
    use ticket_sync_sandbox::{Fault, FaultRule};
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let id = env.ticket("Escalated, then not", &["escalated"]);
    // Reading its comments fails before anything is written: the failure keeps the tagged
    // copy of the ticket for its retry.
    let rule = FaultRule::new(Some(Method::GET), &format!("/tickets/{id}/comments"), Fault::Status(500)).times(100);
    env.sb.zendesk.door.faults.push(rule);
    env.escalate().await;
    env.sb.zendesk.door.faults.clear();
    assert!(env.issues_for(REPO, id).is_empty());
    // The agent removes the tag; a delivery reads the ticket as it is now.
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.zendesk.set_tags(id, &[]);
    let cancel = CancellationToken::new();
    env.engine().ring_ticket(TicketId(id), &cancel).await.unwrap();
    // The retry of the stored (older, tagged) copy must not escalate it.
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.escalate().await;
    assert!(env.issues_for(REPO, id).is_empty(), "the tag was removed before the retry");
}

// ---- The receiver in the running daemon, with the fakes' signed deliveries ----

use std::time::{Duration, Instant};

use crate::daemon::Daemon;

pub(crate) const GITHUB_SECRET: &str = "gh-webhook-secret-for-tests";
pub(crate) const ZENDESK_SECRET: &str = "zd-webhook-secret-for-tests";
/// Schedules that never fire during a test: everything must come from deliveries.
pub(crate) const NEVER: &str = "[schedule]\nescalate = \"0 0 1 1 *\"\npush = \"0 0 1 1 *\"\naudit = \"0 0 1 1 *\"\n";

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A ticket created just now: the export would not show it for another minute.
pub(crate) fn fresh_ticket(env: &Env, subject: &str, tags: &[&str]) -> u64 {
    let mut t = NewTicket::new(subject, "Described", env.requester);
    t.tags = tags.iter().map(|s| s.to_string()).collect();
    t.status = "open".into();
    env.sb.zendesk.add_ticket(t)
}

pub(crate) fn webhooks_toml(port: u16) -> String {
    format!(
        "[webhooks]\nlisten = \"127.0.0.1:{port}\"\ngithub_secret_file = \"gh-secret\"\nzendesk_secret_file = \"zd-secret\"\n"
    )
}

/// A daemon that polls never and receives webhooks on a free port; the fakes deliver to it.
pub(crate) async fn hooked(extra: &str) -> (Env, u16) {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let port = hook_up(&env, NEVER, extra);
    (env, port)
}

/// Rules with `schedule` and webhooks on a free port; the fakes deliver to it.
pub(crate) fn hook_up(env: &Env, schedule: &str, extra: &str) -> u16 {
    let port = free_port();
    std::fs::write(env.dir.path().join("gh-secret"), GITHUB_SECRET).unwrap();
    std::fs::write(env.dir.path().join("zd-secret"), ZENDESK_SECRET).unwrap();
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n{schedule}\n{extra}\n{}", webhooks_toml(port)));
    env.sb.github.set_webhook(&format!("http://127.0.0.1:{port}/webhooks/github"), GITHUB_SECRET);
    env.sb.zendesk.set_webhook(&format!("http://127.0.0.1:{port}/webhooks/zendesk"), ZENDESK_SECRET);
    port
}

pub(crate) async fn start_with(env: &Env, port: u16, extra_env: &[(&str, &str)]) -> Daemon {
    let daemon = Daemon::start(env, extra_env);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the receiver never listened: {}", daemon.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon
}

pub(crate) async fn start(env: &Env, port: u16) -> Daemon {
    start_with(env, port, &[]).await
}

pub(crate) async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn escalation_and_close_complete_from_deliveries_alone() {
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    let id = fresh_ticket(&env, "Delivered", &["escalated"]);
    until("the issue", || env.issues_for(REPO, id).len() == 1 && env.link_notes(id).len() == 1).await;
    let n = env.issues_for(REPO, id)[0];
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    until("the close note", || env.push_notes(id).len() == 1).await;
    until("the status", || env.sb.zendesk.ticket(id).unwrap().status == "solved").await;
    // The daemon's own writes came back as deliveries too; they wrote nothing more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1);
    assert_eq!(env.push_notes(id).len(), 1);
    let log = daemon.kill();
    assert!(!log.contains(GITHUB_SECRET) && !log.contains(ZENDESK_SECRET), "{log}");
}

#[tokio::test]
async fn a_delivery_sent_twice_and_the_poll_write_once() {
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    let (id, n) = {
        let id = fresh_ticket(&env, "Twice", &["escalated"]);
        until("the issue", || env.issues_for(REPO, id).len() == 1).await;
        (id, env.issues_for(REPO, id)[0])
    };
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    until("the close note", || env.push_notes(id).len() == 1).await;
    let close = env.sb.github.deliveries().into_iter().find(|d| d.action == "closed").expect("a close delivery");
    env.sb.github.redeliver(&close.id);
    until("the redelivery answered", || env.sb.github.deliveries().iter().filter(|d| d.id == close.id).count() == 2)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(daemon);
    // And the poll that sees the same changes later.
    env.sb.settle();
    env.escalate().await;
    env.push().await;
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1);
    assert_eq!(env.push_notes(id).len(), 1);
}

#[tokio::test]
async fn refused_deliveries_cause_no_api_request() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    let before = env.sb.github.door.log.len() + env.sb.zendesk.door.log.len();
    // No kept-alive connections: the receiver closes one after refusing an oversized body.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let body = r#"{"ticket_id": "1"}"#;
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let good = ticket_sync_sandbox::hooks::zendesk_signature(ZENDESK_SECRET, &stamp, body.as_bytes());
    let forged = ticket_sync_sandbox::hooks::zendesk_signature("wrong", &stamp, body.as_bytes());
    let old = (chrono::Utc::now() - chrono::Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let old_sig = ticket_sync_sandbox::hooks::zendesk_signature(ZENDESK_SECRET, &old, body.as_bytes());
    let send = |stamp: String, sig: String, body: Vec<u8>| {
        client
            .post(url("/webhooks/zendesk"))
            .header("content-type", "application/json")
            .header("X-Zendesk-Webhook-Signature-Timestamp", stamp)
            .header("X-Zendesk-Webhook-Signature", sig)
            .body(body)
            .send()
    };
    assert_eq!(send(stamp.clone(), forged, body.into()).await.unwrap().status(), 401);
    assert_eq!(send(old, old_sig, body.into()).await.unwrap().status(), 401);
    // An oversized body is refused from its Content-Length, before any of it is read: the
    // headers alone get the answer (a client still sending would race the close).
    let head = format!(
        "POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Zendesk-Webhook-Signature-Timestamp: {stamp}\r\nX-Zendesk-Webhook-Signature: {good}\r\nContent-Length: {}\r\n\r\n",
        1024 * 1024 + 1
    );
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.write_all(head.as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let n = tcp.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let bad = b"{not json".to_vec();
    let bad_sig = ticket_sync_sandbox::hooks::zendesk_signature(ZENDESK_SECRET, &stamp, &bad);
    assert_eq!(send(stamp.clone(), bad_sig, bad).await.unwrap().status(), 400);
    let gh = client
        .post(url("/webhooks/github"))
        .header("X-GitHub-Event", "issues")
        .header("X-Hub-Signature-256", "sha256=00")
        .body(r#"{"repository":{"full_name":"acme/backend"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(gh.status(), 401);
    assert!(good.len() > 10);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.sb.github.door.log.len() + env.sb.zendesk.door.log.len(), before, "no API request");
}

#[tokio::test]
async fn the_receiver_survives_a_burst_of_a_thousand_deliveries() {
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    let id = fresh_ticket(&env, "Burst", &["escalated"]);
    // No kept-alive connections: the receiver closes one after refusing an oversized body.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let mut answers = Vec::new();
    for chunk in 0..10 {
        let sends = (0..100).map(|i| {
            let body = format!(r#"{{"ticket_id": "{}"}}"#, if (chunk * 100 + i) % 2 == 0 { id } else { id + 1000 });
            let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let sig = ticket_sync_sandbox::hooks::zendesk_signature(ZENDESK_SECRET, &stamp, body.as_bytes());
            client
                .post(format!("http://127.0.0.1:{port}/webhooks/zendesk"))
                .header("content-type", "application/json")
                .header("X-Zendesk-Webhook-Signature-Timestamp", stamp)
                .header("X-Zendesk-Webhook-Signature", sig)
                .body(body)
                .send()
        });
        for r in futures_util::future::join_all(sends).await {
            answers.push(r.unwrap().status().as_u16());
        }
    }
    assert_eq!(answers.len(), 1000);
    assert!(answers.iter().all(|s| (200..300).contains(s)), "{:?}", answers.iter().filter(|s| **s >= 300).count());
    until("the issue", || env.issues_for(REPO, id).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "the receiver still answers");
    let log = daemon.kill();
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn check_online_says_whether_the_secrets_are_set() {
    let (env, _) = hooked("").await;
    let ok = env.bin(&["check", "--online"], &[]).await;
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{out}");
    assert!(out.contains("github secret set, zendesk secret set"), "{out}");
    assert!(!out.contains(GITHUB_SECRET) && !out.contains(ZENDESK_SECRET));
    // A secret file the rules name but that is gone: the daemon would not start, nor does check pass.
    std::fs::remove_file(env.dir.path().join("zd-secret")).unwrap();
    let missing = env.bin(&["check", "--online"], &[]).await;
    let err = String::from_utf8_lossy(&missing.stderr).to_string();
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(err.contains("zendesk webhook secret"), "{err}");
}
