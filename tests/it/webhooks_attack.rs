//! A hostile look at the webhook receiver in the running daemon: odd signatures and bodies,
//! slow senders, echoes, secrets, the counters `status` shows, and what `check` says.

use std::io::Write;
use std::time::{Duration, Instant};

use ticket_sync_sandbox::hooks::{github_signature_256, zendesk_signature};

use crate::harness::{Env, PUSHBACK, ROUTES};
use crate::webhooks::{
    free_port, fresh_ticket, hook_up, hooked, start, start_with, until, webhooks_toml, GITHUB_SECRET, NEVER,
    ZENDESK_SECRET,
};

const REPO: &str = "acme/backend";

fn stamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A Zendesk delivery signed with the right secret (or `secret`), stamped `ts`.
async fn zendesk_raw(port: u16, ts: &str, secret: &str, body: &[u8]) -> u16 {
    let sig = zendesk_signature(secret, ts, body);
    client()
        .post(format!("http://127.0.0.1:{port}/webhooks/zendesk"))
        .header("content-type", "application/json")
        .header("X-Zendesk-Webhook-Signature-Timestamp", ts)
        .header("X-Zendesk-Webhook-Signature", sig)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn zendesk(port: u16, body: &str) -> u16 {
    zendesk_raw(port, &stamp(), ZENDESK_SECRET, body.as_bytes()).await
}

async fn github_with(port: u16, event: &str, body: &str, signature: &str) -> u16 {
    client()
        .post(format!("http://127.0.0.1:{port}/webhooks/github"))
        .header("content-type", "application/json")
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", "attack-1")
        .header("X-Hub-Signature-256", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn github(port: u16, event: &str, body: &str) -> u16 {
    github_with(port, event, body, &github_signature_256(GITHUB_SECRET, body.as_bytes())).await
}

fn requests(env: &Env) -> usize {
    env.sb.github.door.log.len() + env.sb.zendesk.door.log.len()
}

fn writes(env: &Env) -> usize {
    env.github_writes() + env.zendesk_writes()
}

/// Waits until the daemon's queue is answered: a probe delivery for a ticket created now is
/// escalated once everything rung before it has been acted on (doorbells are first-rung order).
async fn drain(env: &Env, port: u16) -> u64 {
    let probe = fresh_ticket(env, "Probe", &["escalated"]);
    assert_eq!(zendesk(port, &format!(r#"{{"ticket_id": {probe}}}"#)).await, 202);
    until("the probe escalated", || env.issues_for(REPO, probe).len() == 1 && env.link_notes(probe).len() == 1).await;
    probe
}

// ---- Signatures and bodies ----

#[tokio::test]
async fn odd_signature_headers_are_refused_and_uppercase_hex_is_accepted() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    let body = r#"{"zen": "ping"}"#;
    let good = github_signature_256(GITHUB_SECRET, body.as_bytes());
    let hex = good.strip_prefix("sha256=").unwrap();
    assert_eq!(github_with(port, "ping", body, &good).await, 200);
    assert_eq!(github_with(port, "ping", body, &format!("sha256={}", hex.to_uppercase())).await, 200);
    for bad in [
        hex.to_string(),
        format!("sha1={hex}"),
        format!("SHA256={hex}"),
        format!("sha256= {hex}"),
        format!("sha256={hex} x"),
        "sha256=".to_string(),
        format!("sha256={}", &hex[..62]),
    ] {
        assert_eq!(github_with(port, "ping", body, &bad).await, 401, "{bad}");
    }
    // An empty body, signed: not JSON.
    assert_eq!(github(port, "issues", "").await, 400);
    // A duplicated header: the first (forged) one does not let the second in, nor crash it.
    let dup = client()
        .post(format!("http://127.0.0.1:{port}/webhooks/github"))
        .header("X-GitHub-Event", "ping")
        .header("X-Hub-Signature-256", "sha256=00")
        .header("X-Hub-Signature-256", good.clone())
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(dup.status() == 401 || dup.status() == 200, "{}", dup.status());
    assert_eq!(requests(&env), 0, "no API request for any of it");
}

#[tokio::test]
async fn signed_deliveries_naming_odd_repositories_and_tickets_write_nothing_and_the_daemon_goes_on() {
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    let long = format!("acme/{}", "x".repeat(10_000));
    for repo in ["acme/unlinked", "../../etc/passwd", "acme/../backend", long.as_str(), "acmé/bäckend", "/", ""] {
        let body =
            serde_json::json!({"action": "closed", "repository": {"full_name": repo}, "sender": {"login": "mallory"}})
                .to_string();
        let got = github(port, "issues", &body).await;
        assert!((200..300).contains(&got), "{repo}: {got}");
    }
    let weird_ids = [
        "0".to_string(),
        u64::MAX.to_string(),
        format!("\"{}\"", u64::MAX),
        "\"12 34\"".to_string(),
        "[1, 2]".to_string(),
        "999999".to_string(),
        "\"-1\"".to_string(),
        "1e3".to_string(),
        "{\"id\": 1}".to_string(),
    ];
    for id in &weird_ids {
        let got = zendesk(port, &format!(r#"{{"ticket_id": {id}}}"#)).await;
        assert!((200..300).contains(&got), "{id}: {got}");
    }
    let w = writes(&env);
    drain(&env, port).await;
    // The probe wrote its issue and link note; the odd deliveries nothing.
    assert_eq!(writes(&env), w + 2, "only the probe's issue and link note");
    let log = daemon.kill();
    assert!(!log.contains("panicked"), "{log}");
}

/// receiver.rs: a signed delivery whose strings carry broken text (a lone surrogate escape,
/// bytes that are not UTF-8, as a pasted comment can) was refused as bad JSON, so its change
/// waited for the next poll; such text is now read lossily, as the APIs' answers are.
#[tokio::test]
async fn signed_deliveries_with_broken_text_in_their_strings_are_acted_on() {
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    drain(&env, port).await;
    let id = fresh_ticket(&env, "Broken text", &["escalated"]);
    let mut body = format!(r#"{{"ticket_id": {id}, "detail": {{"subject": "a \ud800 half", "raw": ""#).into_bytes();
    body.extend_from_slice(b"\xff\xfe not utf-8\"}}");
    assert!(std::str::from_utf8(&body).is_err());
    assert_eq!(zendesk_raw(port, &stamp(), ZENDESK_SECRET, &body).await, 202);
    until("the ticket escalated", || env.issues_for(REPO, id).len() == 1).await;
    let gh = r#"{"action": "created", "repository": {"full_name": "acme/backend"}, "comment": {"body": "\udc00 x"}}"#;
    assert!((200..300).contains(&github(port, "issue_comment", gh).await));
    let out = env.bin(&["status", "--json"], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for src in ["zendesk", "github"] {
        assert_eq!(json["webhooks"][src]["refused"]["bad_json"].as_u64(), Some(0), "{src}: {json}");
    }
    let log = daemon.kill();
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn zendesk_timestamps_at_the_edges() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    let body = br#"{"ticket_id": "999999"}"#;
    let now = chrono::Utc::now();
    let plus = now.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let millis = now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    for ts in [plus.as_str(), millis.as_str()] {
        assert_eq!(zendesk_raw(port, ts, ZENDESK_SECRET, body).await, 202, "{ts}");
    }
    let future = (now + chrono::Duration::days(3650)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let naive = now.format("%Y-%m-%d %H:%M:%S").to_string();
    let epoch = now.timestamp().to_string();
    for ts in [future.as_str(), naive.as_str(), epoch.as_str(), "2016-12-31T23:59:60Z", "9999-99-99T99:99:99Z"] {
        assert_eq!(zendesk_raw(port, ts, ZENDESK_SECRET, body).await, 401, "{ts}");
    }
}

#[tokio::test]
async fn a_body_exactly_at_the_limit_is_read_and_one_byte_more_is_refused() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    let limit = 1024 * 1024;
    let head = br#"{"ticket_id": "999999"}"#;
    let mut body = head.to_vec();
    body.resize(limit, b' ');
    assert_eq!(zendesk_raw(port, &stamp(), ZENDESK_SECRET, &body).await, 202);
    body.push(b' ');
    assert_eq!(zendesk_raw(port, &stamp(), ZENDESK_SECRET, &body).await, 413);
}

// ---- Slow senders and storms ----

#[tokio::test]
async fn a_slowloris_does_not_hold_up_other_deliveries_or_the_daemon() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    // Several connections that send half their headers, and one that promises a body and
    // never sends it.
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(b"POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nX-Zendesk-Webhook-Sig").unwrap();
        held.push(s);
    }
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let ts = stamp();
    let sig = zendesk_signature(ZENDESK_SECRET, &ts, b"{}");
    write!(
        s,
        "POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nX-Zendesk-Webhook-Signature: {sig}\r\nX-Zendesk-Webhook-Signature-Timestamp: {ts}\r\n\r\n{{"
    )
    .unwrap();
    held.push(s);
    let id = fresh_ticket(&env, "Beside a slowloris", &["escalated"]);
    let started = Instant::now();
    assert_eq!(zendesk(port, &format!(r#"{{"ticket_id": {id}}}"#)).await, 202);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    until("the issue", || env.issues_for(REPO, id).len() == 1).await;
    drop(held);
}

#[tokio::test]
async fn deliveries_are_answered_within_a_second_while_the_daemon_is_busy() {
    use axum::http::Method;
    use ticket_sync_sandbox::{Fault, FaultRule};
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    // Every ticket read is slow: the daemon answers doorbells slowly.
    let slow = FaultRule::new(Some(Method::GET), "/tickets/", Fault::Slow { millis: 300 }).times(10_000);
    env.sb.zendesk.door.faults.push(slow);
    let client = client();
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let sends = (0..40).map(|i| {
            let body = format!(r#"{{"ticket_id": {}}}"#, 500_000 + round * 40 + i);
            let ts = stamp();
            let sig = zendesk_signature(ZENDESK_SECRET, &ts, body.as_bytes());
            let req = client
                .post(format!("http://127.0.0.1:{port}/webhooks/zendesk"))
                .header("X-Zendesk-Webhook-Signature-Timestamp", ts)
                .header("X-Zendesk-Webhook-Signature", sig)
                .body(body);
            async move {
                let t = Instant::now();
                let s = req.send().await.unwrap().status().as_u16();
                (s, t.elapsed())
            }
        });
        for (s, took) in futures_util::future::join_all(sends).await {
            assert_eq!(s, 202);
            worst = worst.max(took);
        }
    }
    assert!(worst < Duration::from_secs(1), "slowest answer {worst:?}");
    env.sb.zendesk.door.faults.clear();
}

// ---- Echoes ----

#[tokio::test]
async fn an_echo_of_ticket_syncs_own_zendesk_note_costs_at_most_one_read() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    let id = fresh_ticket(&env, "Echoed", &["escalated"]);
    until("the issue", || env.issues_for(REPO, id).len() == 1 && env.link_notes(id).len() == 1).await;
    // Let the echoes of those writes (GitHub's issue, Zendesk's note) be answered.
    tokio::time::sleep(Duration::from_millis(800)).await;
    drain(&env, port).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Now one more echo of the link note, exactly as the trigger sends it.
    let (before, w) = (requests(&env), writes(&env));
    assert_eq!(zendesk(port, &format!(r#"{{"ticket_id": "{id}"}}"#)).await, 202);
    let probe = drain(&env, port).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // Subtract the probe's own cost, measured the same way on a second probe.
    let (mid, w_mid) = (requests(&env), writes(&env));
    let _ = probe;
    drain(&env, port).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let probe_cost = requests(&env) - mid;
    let probe_writes = writes(&env) - w_mid;
    let echo_cost = (mid - before) - probe_cost;
    let echo_writes = (w_mid - w) - probe_writes;
    assert_eq!(echo_writes, 0, "the echo wrote nothing");
    assert!(echo_cost <= 1, "the echo cost {echo_cost} requests (a probe costs {probe_cost})");
}

// ---- Secrets ----

#[tokio::test]
async fn secrets_never_reach_the_trace_log_or_status() {
    let (env, port) = hooked("").await;
    let daemon = start_with(&env, port, &[("RUST_LOG", "trace")]).await;
    let id = fresh_ticket(&env, "Traced", &["escalated"]);
    until("the issue", || env.issues_for(REPO, id).len() == 1).await;
    assert_eq!(zendesk_raw(port, &stamp(), "wrong", b"{}").await, 401);
    assert_eq!(github_with(port, "ping", "{}", "sha256=00").await, 401);
    let status = env.bin(&["status", "--json"], &[]).await;
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    let log = daemon.kill();
    for secret in [GITHUB_SECRET, ZENDESK_SECRET] {
        assert!(!log.contains(secret), "the log shows a secret");
        assert!(!status.contains(secret), "status shows a secret");
    }
}

// ---- status, /metrics and check ----

#[tokio::test]
async fn status_and_metrics_show_a_refused_delivery_without_waiting_for_a_poll() {
    let mport = free_port();
    let (env, port) = hooked(&format!("[daemon]\nlisten = \"127.0.0.1:{mport}\"\n")).await;
    let _daemon = start(&env, port).await;
    assert_eq!(zendesk_raw(port, &stamp(), "forged", br#"{"ticket_id": 1}"#).await, 401);
    assert_eq!(github_with(port, "issues", "{}", "sha256=00").await, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.bin(&["status", "--json"], &[]).await;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let zd = json["webhooks"]["zendesk"]["refused"]["bad_signature"].as_u64();
        let gh = json["webhooks"]["github"]["refused"]["bad_signature"].as_u64();
        if zd == Some(1) && gh == Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "status never showed the refusals: {}", json["webhooks"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = client().get(format!("http://127.0.0.1:{mport}/metrics")).send().await.unwrap().text().await.unwrap();
    let refused = metrics
        .lines()
        .find(|l| l.contains("webhook_deliveries") && l.contains("zendesk") && l.contains("refused_bad_signature"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(refused.ends_with(" 1"), "{refused}");
}

#[tokio::test]
async fn check_refuses_a_missing_webhook_secret_file_the_daemon_would_refuse() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let port = free_port();
    // gh-secret and zd-secret are named but never written.
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n{}", webhooks_toml(port)));
    let out = env.bin(&["check"], &[]).await;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "check passed a configuration the daemon refuses: {text}");
    assert!(text.contains("webhooks.github_secret_file") || text.contains("github webhook secret"), "{text}");
}

#[tokio::test]
async fn check_online_says_whether_the_webhook_secrets_are_set() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let port = free_port();
    std::fs::write(env.dir.path().join("gh-secret"), GITHUB_SECRET).unwrap();
    let hooks = format!("[webhooks]\nlisten = \"127.0.0.1:{port}\"\ngithub_secret_file = \"gh-secret\"\n");
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n{hooks}"));
    // Zendesk's secret is left to the defaults, and none of them is there: every Zendesk
    // delivery would be refused, so the rules must say that Zendesk sends none.
    let out = env.bin(&["check", "--online"], &[("ZENDESK_WEBHOOK_SECRET", "")]).await;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("zendesk-webhook-secret") && text.contains("`zendesk = false`"), "{text}");
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n{hooks}zendesk = false\n"));
    let out = env.bin(&["check", "--online"], &[("ZENDESK_WEBHOOK_SECRET", "")]).await;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let line = text.lines().find(|l| l.contains("webhook")).unwrap_or_else(|| panic!("nothing about webhooks: {text}"));
    assert!(line.contains("github secret set") && line.contains("zendesk off"), "{line}");
    assert!(!text.contains(GITHUB_SECRET), "{text}");
}

// ---- Reloads ----

#[tokio::test]
async fn a_reload_that_changes_webhooks_says_it_needs_a_restart_and_keeps_the_receiver_counted() {
    let (env, port) = hooked("").await;
    let daemon = start(&env, port).await;
    // The operator switches webhooks off (or rotates a secret file, or moves the port).
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n{NEVER}\n"));
    daemon.signal("HUP");
    until("the reload", || daemon.log_text().contains("rules reloaded")).await;
    let log = daemon.log_text();
    assert!(
        log.lines().any(|l| l.contains("[webhooks]") && l.contains("restart")),
        "a changed [webhooks] is silently ignored on reload: {log}"
    );
    // The receiver still runs (it cannot be moved without a restart), so its refusals are
    // still counted for `status`.
    assert_eq!(zendesk_raw(port, &stamp(), "forged", b"{}").await, 401);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.bin(&["status", "--json"], &[]).await;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if json["webhooks"]["zendesk"]["refused"]["bad_signature"].as_u64() == Some(1) {
            break;
        }
        assert!(Instant::now() < deadline, "status lost the receiver after the reload: {}", json["webhooks"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- Connections ----

#[tokio::test]
async fn the_delivery_after_an_oversized_one_on_the_same_connection_is_not_lost() {
    let (env, port) = hooked("").await;
    let _daemon = start(&env, port).await;
    // One pooled connection, as a proxy in front of the receiver keeps.
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(1).build().unwrap();
    let send = |body: Vec<u8>| {
        let ts = stamp();
        let sig = zendesk_signature(ZENDESK_SECRET, &ts, &body);
        client
            .post(format!("http://127.0.0.1:{port}/webhooks/zendesk"))
            .header("X-Zendesk-Webhook-Signature-Timestamp", ts)
            .header("X-Zendesk-Webhook-Signature", sig)
            .body(body)
            .send()
    };
    for round in 0..20 {
        let big = vec![b' '; 1024 * 1024 + 1 + round * 1000];
        let refused = send(big).await;
        // The oversized one may be cut off while it is still being sent; that is its business.
        if let Ok(r) = refused {
            assert_eq!(r.status(), 413);
        }
        let next = send(br#"{"ticket_id": "999999"}"#.to_vec()).await;
        let status = next.unwrap_or_else(|e| panic!("round {round}: the next delivery was lost: {e:?}")).status();
        assert_eq!(status, 202, "round {round}");
    }
    drop(env);
}

// ---- Polling stays the backstop ----

#[tokio::test]
async fn a_long_queue_of_doorbells_does_not_hold_up_a_due_push_pass() {
    use axum::http::Method;
    use ticket_sync_sandbox::{Fault, FaultRule};
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (id, n) = env.linked("Closed while the bell rings").await;
    let every_second = "[schedule]\nescalate = \"0 0 1 1 *\"\npush = \"* * * * * *\"\naudit = \"0 0 1 1 *\"\n";
    let port = hook_up(&env, every_second, "");
    // GitHub's delivery of the close is lost: only the push pass can carry it.
    env.sb.github.clear_webhook();
    let daemon = start(&env, port).await;
    // Forty doorbells for tickets whose every read takes half a second: twenty seconds of work.
    let slow = FaultRule::new(Some(Method::GET), "/tickets/9", Fault::Slow { millis: 500 }).times(10_000);
    env.sb.zendesk.door.faults.push(slow);
    for i in 0..40 {
        assert_eq!(zendesk(port, &format!(r#"{{"ticket_id": {}}}"#, 900_000 + i)).await, 202);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let started = Instant::now();
    let deadline = Duration::from_secs(8);
    while env.push_notes(id).is_empty() {
        assert!(
            started.elapsed() < deadline,
            "the push pass due every second waited behind the doorbells: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.sb.zendesk.door.faults.clear();
}

#[tokio::test]
async fn a_delivery_lost_while_the_receiver_is_down_is_caught_up_by_the_poll() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let every_second = "[schedule]\nescalate = \"* * * * * *\"\npush = \"0 0 1 1 *\"\naudit = \"0 0 1 1 *\"\n";
    let port = hook_up(&env, every_second, "");
    // Nobody listens yet: Zendesk's delivery of this change is lost.
    let id = fresh_ticket(&env, "Lost delivery", &["escalated"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    env.sb.settle();
    let _daemon = start(&env, port).await;
    until("the poll's issue", || env.issues_for(REPO, id).len() == 1 && env.link_notes(id).len() == 1).await;
}

#[tokio::test]
async fn sigterm_with_a_long_queue_of_doorbells_stops_promptly() {
    use axum::http::Method;
    use ticket_sync_sandbox::{Fault, FaultRule};
    let (env, port) = hooked("").await;
    let mut daemon = start(&env, port).await;
    let slow = FaultRule::new(Some(Method::GET), "/tickets/9", Fault::Slow { millis: 500 }).times(10_000);
    env.sb.zendesk.door.faults.push(slow);
    for i in 0..40 {
        assert_eq!(zendesk(port, &format!(r#"{{"ticket_id": {}}}"#, 900_000 + i)).await, 202);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).await, Some(0));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}
