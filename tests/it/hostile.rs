//! Hostile answers and hostile customer text: a malformed item fails alone, tokens echoed by
//! a proxy are scrubbed, bodies are capped, and customer text cannot ping or cross-link on GitHub.

use axum::http::Method;
use ticket_sync_sandbox::{self as sandbox, Fault, FaultRule};

use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

/// Rewrites every answer on `path` (many times) so `from` becomes the raw bytes `to`.
fn rewrite(door: &ticket_sync_sandbox::Frontdoor, method: Method, path: &str, from: &str, to: &[u8]) {
    let fault = Fault::Rewrite { from: from.to_string(), to: to.to_vec() };
    door.faults.push(FaultRule::new(Some(method), path, fault).times(100));
}

/// Makes issue `number` unreadable in every listing: its `html_url` becomes a number.
fn unreadable(env: &Env, number: u64) {
    let url = env.sb.github.issue(REPO, number).unwrap().html_url;
    rewrite(
        &env.sb.github.door,
        Method::GET,
        "/repos/acme/backend/issues",
        &format!("\"html_url\":\"{url}\""),
        b"\"html_url\":17",
    );
}

#[tokio::test]
async fn a_lone_surrogate_or_invalid_utf8_in_one_ticket_does_not_stall_the_export() {
    let env = Env::new().await;
    let good = env.ticket("Fine ticket", &["escalated"]);
    let bad = env.ticket("BROKENSUBJECT", &["escalated"]);
    let worse = env.ticket("WORSESUBJECT", &["escalated"]);
    rewrite(&env.sb.zendesk.door, Method::GET, "/incremental/", "BROKENSUBJECT", b"bad \\ud800 here");
    rewrite(&env.sb.zendesk.door, Method::GET, "/incremental/", "WORSESUBJECT", b"bad \xff\xfe bytes");
    let cursor_before = env.engine().store.cursor("zendesk_export").unwrap();
    let report = env.engine().escalate(&Default::default()).await.expect("the page is read");
    assert_eq!((report.created, report.failed), (3, 0), "{report:?}");
    assert_ne!(env.engine().store.cursor("zendesk_export").unwrap(), cursor_before, "the cursor moved");
    for id in [good, bad, worse] {
        assert_eq!(env.issues_for(REPO, id).len(), 1, "ticket {id}");
    }
    let title = env.sb.github.issue(REPO, env.issues_for(REPO, bad)[0]).unwrap().title;
    assert!(title.contains('\u{fffd}'), "{title}");
}

#[tokio::test]
async fn one_bad_unrelated_issue_does_not_stop_a_repository_push_back() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (id, n) = env.linked("Crash on save").await;
    let other = env.sb.github.add_issue(REPO, "UNRELATED", "not ours", "mallory");
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    unreadable(&env, other);
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.push_notes(id).len(), 1);
    assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
}

#[tokio::test]
async fn a_bad_linked_issue_is_not_skipped_forever() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (id, n) = env.linked("Held back").await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    unreadable(&env, n);
    env.engine().push(&Default::default()).await.ok();
    assert_eq!(env.push_notes(id).len(), 0, "an unreadable issue is not acted on");
    env.sb.github.door.faults.clear();
    env.sb.clock.advance(std::time::Duration::from_secs(3600));
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
}

/// Whether `text` holds any form of either sandbox token (raw, or Zendesk's Basic credential).
fn leaks(text: &str) -> Vec<String> {
    use base64::Engine as _;
    let basic = format!("{}/token:{}", sandbox::ZENDESK_EMAIL, sandbox::ZENDESK_TOKEN);
    let basic = base64::engine::general_purpose::STANDARD.encode(basic);
    // `zdsbx` begins every access token the sandbox's OAuth client is given.
    [sandbox::GITHUB_TOKEN, sandbox::ZENDESK_TOKEN, basic.as_str(), sandbox::ZENDESK_CLIENT_SECRET, "zdsbx"]
        .into_iter()
        .filter(|s| text.contains(s))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_token_echoed_in_an_error_body_is_stored_logged_and_shown_only_scrubbed() {
    let env = Env::new().await;
    env.ticket("Refused by a proxy", &["escalated"]);
    env.ticket("Note refused by a proxy", &["escalated"]);
    let echo = |code| Fault::EchoAuthorization(code);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", echo(400)));
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), "/api/v2/tickets/", echo(400)));
    let out = env.bin(&["sync"], &[("RUST_LOG", "debug")]).await;
    assert_eq!(out.status.code(), Some(1), "two items failed");
    let logs = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(logs.contains("Authorization: "), "the echo reached the logs: {logs}");
    assert_eq!(leaks(&logs), Vec::<String>::new(), "{logs}");

    let status = env.bin(&["status", "--json"], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["failures"].as_array().unwrap().len(), 2, "{json}");
    assert_eq!(leaks(&json.to_string()), Vec::<String>::new(), "{json}");
    let text = env.bin(&["status"], &[]).await;
    assert_eq!(leaks(&String::from_utf8_lossy(&text.stdout)), Vec::<String>::new());

    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        let mut path = env.db_path().into_os_string();
        path.push(suffix);
        stored.extend(std::fs::read(&path).unwrap_or_default());
    }
    assert!(String::from_utf8_lossy(&stored).contains("Authorization: "), "the failure is stored");
    assert_eq!(leaks(&String::from_utf8_lossy(&stored)), Vec::<String>::new());
}

#[tokio::test]
async fn an_answer_past_the_body_cap_fails_its_request_clearly_and_nothing_is_escalated_from_it() {
    let env = Env::new().await;
    let mut big = ticket_sync_sandbox::NewTicket::new("Huge", &"x".repeat(20_000), env.requester);
    big.tags = vec!["escalated".into()];
    big.status = "open".into();
    env.sb.zendesk.add_ticket(big);
    env.sb.settle();
    let cap = [("TICKET_SYNC_BODY_CAP_BYTES", "8192")];
    let out = env.bin(&["sync"], &cap).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("larger than the 8192-byte cap"), "{stderr}");
    assert_eq!(env.github_writes(), 0, "nothing was escalated from a page that was not read");
    let exports = |e: &ticket_sync_sandbox::LoggedRequest| e.path.contains("/incremental/");
    assert!(env.sb.zendesk.door.log.count(exports) >= 1);

    let out = env.bin(&["sync"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.github_writes(), 1, "under the default cap the same page is read");
}

/// Mentions and references GitHub would act on: a login, a team, an issue here and elsewhere.
const PINGS: [&str; 4] = ["@octocat", "@acme/owners", "#77", "acme/other#2"];

fn pings_in(text: &str) -> Vec<&'static str> {
    PINGS.into_iter().filter(|p| text.contains(p)).collect()
}

#[tokio::test]
async fn customer_mentions_and_references_neither_ping_nor_cross_link_on_github() {
    let env = Env::with_routes(ROUTES, crate::harness::FORWARD).await;
    let text = "cc @octocat and @acme/owners, see #77 and acme/other#2; docs https://x.example/p#12, a@b";
    let mut t = ticket_sync_sandbox::NewTicket::new("Ping @octocat about #77", text, env.requester);
    t.tags = vec!["escalated".into()];
    t.status = "open".into();
    let id = env.sb.zendesk.add_ticket(t);
    env.sb.settle();
    env.escalate().await;
    let n = env.issues_for(REPO, id)[0];
    let issue = env.sb.github.issue(REPO, n).unwrap();
    let body = issue.body.unwrap();
    assert_eq!(pings_in(&issue.title), Vec::<&str>::new(), "{}", issue.title);
    assert_eq!(pings_in(&body), Vec::<&str>::new(), "{body}");
    assert!(body.contains("https://x.example/p#12"), "links keep their fragment: {body}");
    assert!(body.contains("a@b"), "an @ inside a word is left: {body}");

    env.sb.zendesk.add_public_comment(id, env.requester, "thanks @octocat, also #77 and acme/other#2 @acme/owners");
    env.sb.settle();
    let report = env.push().await;
    assert_eq!(report.forwarded, 1, "{report:?}");
    let forwarded: Vec<String> = env.sb.github.comments(REPO, n).into_iter().map(|c| c.body).collect();
    let forwarded = forwarded.iter().find(|c| c.contains("<!-- ticket-sync:forwarded")).expect("forwarded");
    assert!(forwarded.contains("thanks @\u{200b}octocat"), "{forwarded}");
    assert_eq!(pings_in(forwarded), Vec::<&str>::new(), "{forwarded}");
}

#[tokio::test]
async fn an_unreadable_issue_that_may_be_ours_fails_the_marker_search_instead_of_making_a_second() {
    let env = Env::new().await;
    let id = env.ticket("Lost and unreadable", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::LoseResponse));
    let url = format!("{}/acme/backend/issues/1", env.sb.github.web_url());
    rewrite(
        &env.sb.github.door,
        Method::GET,
        "/repos/acme/backend/issues",
        &format!("\"html_url\":\"{url}\""),
        b"\"html_url\":17",
    );
    let first = env.escalate().await;
    assert_eq!((first.created, first.recovered, first.failed), (0, 0, 1), "{first:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "no second issue while the first cannot be read");
    env.sb.github.door.faults.clear();
    env.sb.clock.advance(std::time::Duration::from_secs(3600));
    let second = env.escalate().await;
    assert_eq!((second.created, second.failed), (0, 0), "{second:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
}
