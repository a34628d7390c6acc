//! The real APIs' hard parts (issue 9): scoped refusals, refused statuses, notes that must not
//! lie, replies that must not be lost or misattributed. Each test failed before its fix.

use axum::http::Method;
use ticket_sync_core::domain::{Stage, TicketId};
use ticket_sync_sandbox::{Fault, FaultRule};

use crate::harness::{Env, FORWARD, ROUTES};

const REPO: &str = "acme/backend";

/// zendesk comments_raw: the page that holds the stop mark was read, but the authors it
/// side-loads were dropped, so every reply after the first was signed "A Zendesk user".
#[tokio::test]
async fn every_forwarded_reply_carries_its_authors_name() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (id, n) = env.linked("Slow exports").await;
    for text in ["first reply", "second reply", "third reply"] {
        env.sb.zendesk.add_public_comment(id, env.requester, text);
        env.sb.settle();
        let report = env.push().await;
        assert_eq!((report.forwarded, report.failed), (1, 0), "{report:?}");
    }
    let comments = env.forwarded(REPO, n);
    assert_eq!(comments.len(), 3, "{comments:?}");
    for c in &comments {
        assert!(c.starts_with("**Jane Customer** wrote"), "{c}");
    }
}

/// forward.rs first look: while the link note was still pending, the boundary became "the
/// newest comment", so a reply the customer wrote in that window was never forwarded.
#[tokio::test]
async fn a_reply_made_while_the_link_note_is_pending_is_forwarded() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let id = env.ticket("Pending note", &["escalated"]);
    let note_put = format!("/api/v2/tickets/{id}.json");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &note_put, Fault::Status(503)).times(20));
    let first = env.escalate().await;
    assert_eq!((first.created, first.notes), (1, 0), "{first:?}");
    let n = env.issues_for(REPO, id)[0];
    env.sb.zendesk.add_public_comment(id, env.requester, "written while the note was pending");
    env.sb.settle();
    env.push().await;
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.escalate().await;
    assert_eq!(env.link_notes(id).len(), 1);
    env.sb.settle();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.push().await;
    let comments = env.forwarded(REPO, n);
    assert_eq!(comments.len(), 1, "the reply was lost: {comments:?}");
    assert!(comments[0].contains("written while the note was pending"), "{}", comments[0]);
}

/// http.rs mapped every 403 without rate-limit signs to `Auth`, which stops the pass: one
/// ticket routed to a repository the token may not write to stopped escalation for everyone.
#[tokio::test]
async fn a_repository_that_refuses_writes_fails_only_its_own_tickets() {
    let env = Env::new().await;
    env.sb.github.set_writes_denied("acme/billing", true);
    let billing = env.ticket("Invoice wrong", &["escalated", "billing"]);
    let backend = env.ticket("API down", &["escalated"]);
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.issues_for(REPO, backend).len(), 1, "the other ticket is escalated");
    assert!(env.issues_for("acme/billing", billing).is_empty());
    let failure = env.engine().store.failures().unwrap();
    assert_eq!(failure.len(), 1);
    assert!(failure[0].error.contains("Resource not accessible"), "{}", failure[0].error);

    env.sb.github.set_writes_denied("acme/billing", false);
    env.engine().store.retry_now(TicketId(billing)).unwrap();
    let later = env.escalate().await;
    assert_eq!((later.created, later.failed), (1, 0), "{later:?}");
}

/// The same 403 on a locked issue stopped all forwarding.
#[tokio::test]
async fn a_locked_issue_fails_only_its_own_forward() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (a, na) = env.linked("Locked").await;
    let (b, nb) = env.linked("Open").await;
    env.sb.github.lock_issue(REPO, na);
    env.sb.zendesk.add_public_comment(a, env.requester, "to a locked issue");
    env.sb.zendesk.add_public_comment(b, env.requester, "to an open issue");
    env.sb.settle();
    let report = env.push().await;
    assert_eq!((report.forwarded, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.forwarded(REPO, nb).len(), 1);
    assert!(env.forwarded(REPO, na).is_empty());
}

/// pushback.rs sync_repo: a ticket held back by its back-off only queued its new notes, but
/// the "success" cleared its failure: back-off and attempt count started over every pass, so
/// it was never parked and hammered a failing ticket.
#[tokio::test]
async fn a_ticket_whose_notes_only_queued_keeps_its_failure_and_back_off() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Failing ticket").await;
    let put = format!("/api/v2/tickets/{id}.json");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &put, Fault::Status(422)).times(1000));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let first = env.push().await;
    assert_eq!(first.failed, 1, "{first:?}");
    let before = env.engine().store.failures_of(TicketId(id)).unwrap();
    assert_eq!(before.len(), 1);

    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.add_comment(REPO, n, "carol", "more news");
    env.sb.settle();
    let second = env.push().await;
    assert_eq!(second.pushed, 0, "{second:?}");
    let after = env.engine().store.failures_of(TicketId(id)).unwrap();
    assert_eq!(after.len(), 1, "the failure was cleared by notes that were only queued");
    assert_eq!(
        (after[0].attempts, after[0].next_attempt_at),
        (before[0].attempts, before[0].next_attempt_at),
        "the back-off started over"
    );
    assert_eq!(env.engine().store.pending_intents().unwrap().len(), 2, "both notes wait, in order");
}

/// Recovery in seconds: a single 5xx on a create used to fail the ticket for its whole
/// back-off; now the same pass tries again.
#[tokio::test]
async fn a_single_5xx_on_a_create_is_retried_within_the_pass() {
    let env = Env::new().await;
    let id = env.ticket("Flaky GitHub", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::Status(502)));
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1);
    assert!(env.engine().store.failures().unwrap().is_empty());
}

/// Recovery in seconds: a refusal that depends on the rules is tried again as soon as the
/// rules change, without waiting for its back-off or `retry`.
#[tokio::test]
async fn a_refusal_by_the_rules_is_retried_as_soon_as_the_rules_change() {
    let env = Env::new().await;
    env.sb.github.set_visibility(REPO, ticket_sync_sandbox::Visibility::Public);
    let id = env.ticket("Customer data", &["escalated"]);
    let first = env.escalate().await;
    assert_eq!((first.created, first.failed), (0, 1), "{first:?}");
    let failure = &env.engine().store.failures_of(TicketId(id)).unwrap()[0];
    assert_eq!(failure.class, ticket_sync_store::FailureClass::Config);
    let unchanged = env.escalate().await;
    assert_eq!((unchanged.created, unchanged.failed), (0, 0), "same rules: the back-off holds");

    let text = std::fs::read_to_string(&env.rules_path)
        .unwrap()
        .replace("writes_per_minute = 0", "writes_per_minute = 0\nallow_public_repos = true");
    std::fs::write(&env.rules_path, text).unwrap();
    let fixed = env.escalate().await;
    assert_eq!((fixed.created, fixed.failed), (1, 0), "{fixed:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
}

/// note.rs: the status travels with the note, so a status Zendesk refuses (fields required
/// before solving) failed the note too, and every later note queued behind it for good.
#[tokio::test]
async fn a_refused_status_still_delivers_the_note_and_later_notes() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Needs a type").await;
    env.sb.zendesk.require_field_to_solve(12345657, "Type:");
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let first = env.push().await;
    assert_eq!((first.pushed, first.failed), (1, 0), "{first:?}");
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("could not set the ticket status to solved"), "{}", notes[0]);
    assert!(notes[0].contains("Type: is required when solving a ticket"), "{}", notes[0]);
    assert!(!notes[0].contains("Ticket status set to"), "the note must not claim the status: {}", notes[0]);
    assert_ne!(env.sb.zendesk.ticket(id).unwrap().status, "solved");

    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.add_comment(REPO, n, "carol", "Released in 2.1");
    env.sb.settle();
    let second = env.push().await;
    assert_eq!((second.pushed, second.failed), (1, 0), "{second:?}");
    assert!(env.push_notes(id)[1].contains("Released in 2.1"));
    assert!(env.engine().store.pending_intents().unwrap().is_empty());
}

/// reescalate.rs: when the reopen of a re-escalated issue failed in passing, its queued note
/// ("…so ticket-sync reopened it") was still written by the push pass, while the issue stayed
/// closed. Now the push pass makes the reopen first and writes the note only once it is done.
#[tokio::test]
async fn a_reopen_that_fails_in_passing_never_leaves_an_untrue_note() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Comes back").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    env.sb.zendesk.set_tags(id, &["followup"]);
    env.sb.settle();
    env.escalate().await;
    env.sb.zendesk.set_tags(id, &["followup", "escalated"]);
    env.sb.settle();
    let patch = FaultRule::new(Some(Method::PATCH), &format!("/issues/{n}"), Fault::Status(503)).times(1000);
    env.sb.github.door.faults.push(patch);
    let report = env.escalate().await;
    assert_eq!(report.failed, 1, "{report:?}");
    env.push().await;
    let untrue = |env: &Env| env.push_notes(id).iter().filter(|n| n.starts_with("Escalated again")).count();
    assert_eq!(env.sb.github.issue(REPO, n).unwrap().state, "closed");
    assert_eq!(untrue(&env), 0, "a note claims a reopen that did not happen: {:?}", env.push_notes(id));

    env.sb.github.door.faults.clear();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.push().await;
    env.escalate().await;
    env.push().await;
    assert_eq!(env.sb.github.issue(REPO, n).unwrap().state, "open");
    assert_eq!(untrue(&env), 1, "{:?}", env.push_notes(id));
    assert!(env.engine().store.pending_intents().unwrap().is_empty());
}

/// forward.rs: the public-repo guard ran only when an issue was created, so customer replies
/// were forwarded into a repository made public later, or into the public repository an issue
/// was transferred to.
#[tokio::test]
async fn customer_replies_never_reach_a_public_repository() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (made_public, n1) = env.linked("Repo goes public").await;
    let (moved, n2) = env.linked("Issue moves").await;
    env.sb.github.set_visibility("acme/billing", ticket_sync_sandbox::Visibility::Public);
    let n2_moved = env.sb.github.transfer_issue(REPO, n2, "acme/billing");
    env.sb.zendesk.add_public_comment(moved, env.requester, "my account number is 12345");
    env.sb.settle();
    let first = env.push().await;
    assert_eq!((first.forwarded, first.failed), (0, 1), "{first:?}");
    assert!(env.forwarded("acme/billing", n2_moved).is_empty(), "forwarded into a public repository");

    env.sb.github.set_visibility(REPO, ticket_sync_sandbox::Visibility::Public);
    env.sb.zendesk.add_public_comment(made_public, env.requester, "my password is hunter2");
    env.sb.settle();
    let second = env.push().await;
    assert_eq!(second.forwarded, 0, "{second:?}");
    assert!(env.forwarded(REPO, n1).is_empty(), "forwarded into a public repository");
    let failures = env.engine().store.failures().unwrap();
    assert!(failures.iter().all(|f| f.error.contains("public")), "{failures:?}");

    // Made private again: the queued reply goes, once, at its next attempt.
    env.sb.github.set_visibility(REPO, ticket_sync_sandbox::Visibility::Private);
    env.engine().store.retry_now(TicketId(made_public)).unwrap();
    env.push().await;
    assert_eq!(env.forwarded(REPO, n1).len(), 1);
}

/// Watchdog: push-back, forwarding and list pagination never pinged it, so a push pass longer
/// than `WatchdogSec` got the service killed and restarted in a loop. Each answer is progress.
#[tokio::test]
async fn the_watchdog_is_pinged_during_a_long_push_pass() {
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, Instant};
    let schedule = "[schedule]\nescalate = \"0 0 0 1 1 *\"\npush = \"* * * * * *\"\n";
    let env = Env::with_routes(ROUTES, schedule).await;
    env.linked("Busy repository").await;
    // Every listing of the repository answers slowly: the pass takes several watchdog halves.
    let slow = FaultRule::new(Some(Method::GET), "/acme/backend/issues", Fault::Slow { millis: 700 }).times(3);
    env.sb.github.door.faults.push(slow);
    let socket_path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let notify = [("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WATCHDOG_USEC", "1000000")];
    let mut daemon = crate::daemon::Daemon::start(&env, &notify);
    // Read on a thread: the sandbox serves on this test's runtime, which must keep running.
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while std::sync::Arc::strong_count(&sink) > 1 {
            if let Ok(n) = socket.recv(&mut buf) {
                sink.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).trim().to_string());
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let pass_seen = |m: &[String]| {
        let start = m.iter().position(|s| s.starts_with("STATUS=pushing"))?;
        let end = start + m[start..].iter().position(|s| s.starts_with("STATUS=idle"))?;
        Some(m[start..end].iter().filter(|s| s.as_str() == "WATCHDOG=1").count())
    };
    let (pings, messages) = loop {
        let messages = received.lock().unwrap().clone();
        assert!(Instant::now() < deadline, "{messages:?}\n{}", daemon.log_text());
        if let Some(pings) = pass_seen(&messages) {
            break (pings, messages);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(received);
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(10)).await;
    assert!(pings >= 2, "{pings} watchdog pings during a pass of 3 slow answers: {messages:?}");
}

/// escalate.rs reconciliation compared this host's clock with GitHub's timestamps: on a host
/// running more than ten minutes fast, the issue a lost create made was not found, and a
/// second one was created. GitHub's `Date` header now says what GitHub's clock reads.
#[tokio::test]
async fn a_fast_host_clock_still_finds_the_issue_a_lost_create_made() {
    let env = Env::new().await;
    env.sb.clock.rewind(std::time::Duration::from_secs(30 * 60));
    let id = env.ticket("Fast host", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::LoseResponse));
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered, report.failed), (0, 1, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "a second issue was created");
}

/// Real redirects name `/repositories/{id}/…`, and a renamed repository answers 301 for every
/// request under its old name: push-back failed the repository on every pass, and a transfer
/// whose redirect had that shape ended the link.
#[tokio::test]
async fn a_renamed_repository_keeps_syncing_and_its_links_follow_the_new_name() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Renamed").await;
    env.sb.github.rename_repo(REPO, "backend-v2");
    env.sb.github.close_issue("acme/backend-v2", n, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let audit = env.engine().audit(&tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(audit.failed, 0, "{audit:?}");
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(
        (m.repo.to_string(), m.link_state),
        ("acme/backend-v2".to_string(), ticket_sync_core::domain::LinkState::Active)
    );
}

#[tokio::test]
async fn a_transfer_redirect_by_repository_id_is_followed() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (id, n) = env.linked("Moved by id").await;
    let moved = env.sb.github.transfer_issue(REPO, n, "acme/billing");
    env.sb.zendesk.add_public_comment(id, env.requester, "still there?");
    env.sb.settle();
    let report = env.push().await;
    assert_eq!((report.forwarded, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.forwarded("acme/billing", moved).len(), 1);
}

/// A create that gets no answer in time may still be carried out by GitHub. Looking for it at
/// once (an in-pass retry, or the ticket re-seen in the export) could miss it and create a
/// second issue; the ticket waits until the server must have finished.
#[tokio::test]
async fn a_create_that_times_out_is_never_duplicated() {
    let env = Env::new().await;
    let id = env.ticket("Slow GitHub", &["escalated"]);
    let slow = FaultRule::new(Some(Method::POST), "/acme/backend/issues", Fault::Slow { millis: 1500 });
    env.sb.github.door.faults.push(slow);
    let short = [("TICKET_SYNC_HTTP_TIMEOUT_MS", "300"), ("TICKET_SYNC_CALL_BUDGET_MS", "1000")];
    let out = env.bin(&["sync"], &short).await;
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(env.issues_for(REPO, id).len(), 1, "GitHub carried the create out after the client gave up");
    let failure = env.engine().store.failure_at(TicketId(id), Stage::Escalate).unwrap().expect("recorded");
    assert!(failure.next_attempt_at > chrono::Utc::now() + chrono::Duration::seconds(30), "{failure:?}");

    let again = env.bin(&["sync"], &[]).await;
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(env.issues_for(REPO, id).len(), 1, "a second issue was created");
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.bin(&["sync"], &[]).await;
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1, "the create was adopted and linked");
}

/// A 404 can mean "the token can no longer see this" (access removed, SSO authorisation
/// lapsed), not "deleted": the audit ended every link of such a repository.
#[tokio::test]
async fn a_repository_the_token_no_longer_sees_keeps_its_links() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, _) = env.linked("Lapsed SSO").await;
    env.sb.github.set_hidden(REPO, true);
    let audit = env.engine().audit(&tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(audit.failed, 1, "{audit:?}");
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(m.link_state, ticket_sync_core::domain::LinkState::Active, "the link was ended");
    assert!(env.push_notes(id).is_empty(), "no 'issue gone' note: {:?}", env.push_notes(id));

    env.sb.github.set_hidden(REPO, false);
    let again = env.engine().audit(&tokio_util::sync::CancellationToken::new()).await.unwrap();
    assert_eq!(again.failed, 0, "{again:?}");
}

/// A deleted Zendesk ticket answered 404 to every note, which failed and queued behind itself
/// for ever; now its link ends with nothing left pending.
#[tokio::test]
async fn a_deleted_ticket_ends_its_link_instead_of_piling_up_notes() {
    let env = Env::with_routes(ROUTES, &format!("{}\n{FORWARD}", crate::harness::PUSHBACK)).await;
    let (id, n) = env.linked("Spam ticket").await;
    env.sb.zendesk.delete_ticket(id);
    env.sb.settle();
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let first = env.push().await;
    assert_eq!(first.failed, 0, "{first:?}");
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(m.link_state, ticket_sync_core::domain::LinkState::TicketDeleted);
    env.sb.github.add_comment(REPO, n, "carol", "anyone?");
    env.sb.settle();
    let second = env.push().await;
    assert_eq!((second.pushed, second.failed), (0, 0), "{second:?}");
    assert!(env.engine().store.pending_intents().unwrap().is_empty());
    assert!(env.engine().store.failures().unwrap().is_empty());
}

/// Switching forwarding on for links made long ago replayed every public reply since each
/// link was made; only replies from the moment it is switched on are forwarded.
#[tokio::test]
async fn switching_forwarding_on_later_does_not_replay_history() {
    let env = Env::new().await;
    let (id, n) = env.linked("Old link").await;
    env.sb.zendesk.add_public_comment(id, env.requester, "an old reply, long handled");
    env.sb.clock.advance(std::time::Duration::from_secs(3600));
    env.push().await;
    env.rewrite_rules(ROUTES, FORWARD);
    let first = env.push().await;
    assert_eq!(first.forwarded, 0, "{first:?}");
    env.sb.zendesk.add_public_comment(id, env.requester, "a new reply");
    env.sb.settle();
    let second = env.push().await;
    assert_eq!(second.forwarded, 1, "{second:?}");
    let comments = env.forwarded(REPO, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("a new reply"));
}

/// forward.rs skipped any public reply whose text contained "ticket-sync:"; a customer quoting
/// an error message lost their reply. Ticket-sync writes only internal notes, so every public
/// comment is a person's.
#[tokio::test]
async fn a_reply_that_mentions_ticket_sync_is_still_forwarded() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (id, n) = env.linked("Quoting").await;
    env.sb.zendesk.add_public_comment(id, env.requester, "The log says: ticket-sync: [ticket-sync:event x] boom");
    env.sb.settle();
    let report = env.push().await;
    assert_eq!(report.forwarded, 1, "{report:?}");
    assert_eq!(env.forwarded(REPO, n).len(), 1);
}

/// Recovery in seconds: with one request in ten failing in passing (5xx, dropped
/// connections, lost answers) on both services, a backfill and its push-back converge in one
/// or two passes, not ten, and still exactly once.
#[tokio::test]
async fn a_ten_percent_fault_rate_converges_in_two_passes() {
    use ticket_sync_sandbox::RandomFaults;
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    env.sb.zendesk.set_export_limit_per_minute(None);
    let ids: Vec<u64> = (0..30).map(|i| env.ticket(&format!("Flaky {i}"), &["escalated"])).collect();
    let faults = |seed| RandomFaults { seed, error_rate: 0.05, drop_rate: 0.03, lose_response_rate: 0.02 };
    env.sb.zendesk.door.faults.set_random(Some(faults(20261130)));
    env.sb.github.door.faults.set_random(Some(faults(20261130 ^ 0x9e37)));
    let linked = |id: &u64| env.issues_for(REPO, *id).len() == 1 && env.link_notes(*id).len() == 1;
    let mut passes = 0;
    while !ids.iter().all(linked) {
        passes += 1;
        assert!(passes <= 2, "not converged after {} passes", passes - 1);
        env.engine().escalate(&tokio_util::sync::CancellationToken::new()).await.ok();
    }
    for id in &ids {
        assert_eq!((env.issues_for(REPO, *id).len(), env.link_notes(*id).len()), (1, 1), "ticket {id}");
    }

    for n in 1..=30 {
        env.sb.github.close_issue(REPO, n, "completed", "alice");
    }
    let mut push_passes = 0;
    while !ids.iter().all(|id| env.push_notes(*id).len() == 1) {
        push_passes += 1;
        assert!(push_passes <= 2, "push-back not converged after {} passes", push_passes - 1);
        env.engine().push(&tokio_util::sync::CancellationToken::new()).await.ok();
    }
    env.sb.zendesk.door.faults.set_random(None);
    env.sb.github.door.faults.set_random(None);
    env.push().await;
    for id in &ids {
        assert_eq!(env.push_notes(*id).len(), 1, "ticket {id}: exactly one note");
    }
}

/// A marker search whose `next` page pointed at another origin ended early and concluded
/// "not created": a lost create, with many issues created after it, was created again.
#[tokio::test]
async fn a_cross_origin_next_page_never_ends_a_marker_search_early() {
    let env = Env::new().await;
    let id = env.ticket("Odd proxy", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::LoseResponse));
    let search = FaultRule::new(Some(Method::GET), "/acme/backend/issues", Fault::Status(503)).times(1000);
    env.sb.github.door.faults.push(search);
    let first = env.escalate().await;
    env.sb.github.door.faults.clear();
    assert_eq!((first.created, first.failed), (0, 1), "{first:?}");
    // A busy repository: 150 issues created since, so the lost one is on the second page.
    let later = env.sb.clock.now();
    let busy = (0..150).map(|i| (format!("Other {i}"), String::new(), later)).collect();
    env.sb.github.seed_issues(REPO, busy, "someone");
    let link = r#"<https://elsewhere.example/repositories/1/issues?page=2>; rel="next""#.to_string();
    let odd = Fault::Headers(vec![("link".into(), link)]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::GET), "/acme/backend/issues", odd).times(1000));
    env.engine().store.retry_now(TicketId(id)).unwrap();
    let second = env.escalate().await;
    env.sb.github.door.faults.clear();
    assert_eq!(second.created, 0, "{second:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "a second issue was created");
    env.engine().store.retry_now(TicketId(id)).unwrap();
    let third = env.escalate().await;
    assert_eq!((third.recovered, third.failed), (1, 0), "{third:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1);
}

/// On GitHub Enterprise Server the API is under `/api/v3` of a host whose other paths are its
/// web site: a `next` page on that host but outside the prefix is not the API. It was
/// followed (the origin matched), sending the token to a web page. It is refused like another
/// origin, and the marker search fails instead of ending early.
#[tokio::test]
async fn a_next_page_outside_the_api_prefix_is_not_followed() {
    let env = Env::new().await;
    let web = env.sb.github.web_url();
    if env.sb.github.base_url() == web {
        // Only GitHub Enterprise Server's layout (TICKET_SYNC_SANDBOX_GHES=1) has a same-origin
        // URL outside the API; in api.github.com's layout every path of the origin is the API.
        return;
    }
    let id = env.ticket("Odd page", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::LoseResponse));
    let search = FaultRule::new(Some(Method::GET), "/acme/backend/issues", Fault::Status(503)).times(1000);
    env.sb.github.door.faults.push(search);
    env.escalate().await;
    env.sb.github.door.faults.clear();
    let link = format!("<{web}/repositories/1/issues?page=2>; rel=\"next\"");
    let odd = Fault::Headers(vec![("link".into(), link)]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::GET), "/acme/backend/issues", odd).times(1000));
    env.engine().store.retry_now(TicketId(id)).unwrap();
    let second = env.escalate().await;
    env.sb.github.door.faults.clear();
    assert_eq!((second.created, second.failed), (0, 1), "{second:?}");
    let why = &second.failures[0].1;
    assert!(why.contains("outside the configured API"), "{why}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "a second issue was created");
    env.engine().store.retry_now(TicketId(id)).unwrap();
    let third = env.escalate().await;
    assert_eq!((third.recovered, third.failed), (1, 0), "{third:?}");
}

/// A close event stamped a second after its issue's `updated_at` was deferred, so the state
/// note told the close, and the event told it again later: two notes, the status set twice.
#[tokio::test]
async fn a_close_event_stamped_after_its_issue_gives_one_note() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Lagging event").await;
    env.sb.github.set_event_lag(1);
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    env.sb.settle();
    env.sb.github.add_comment(REPO, n, "carol", "done");
    env.sb.settle();
    env.push().await;
    let closes = env.push_notes(id).iter().filter(|n| n.contains("was closed")).count();
    assert_eq!(closes, 1, "{:?}", env.push_notes(id));
}

/// A gateway can answer 5xx while the backend goes on to create the issue. Looking for it at
/// once finds nothing; writing again then made a second issue. A write whose outcome is
/// unknown is sent again only after `[github] settle_seconds`; looking is allowed at once.
#[tokio::test]
async fn a_create_answered_502_but_carried_out_later_is_never_duplicated() {
    let env = Env::new().await;
    let text = std::fs::read_to_string(&env.rules_path).unwrap();
    let text = text.replace("writes_per_hour = 0\nsettle_seconds = 0", "writes_per_hour = 0\nsettle_seconds = 2");
    std::fs::write(&env.rules_path, text).unwrap();
    let id = env.ticket("Gateway gave up", &["escalated"]);
    let late = Fault::StatusThenLater { status: 502, millis: 700 };
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/acme/backend/issues", late));
    let first = env.escalate().await;
    assert_eq!((first.created, first.failed), (0, 1), "{first:?}");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(env.issues_for(REPO, id).len(), 1, "GitHub carried the create out");
    let second = env.escalate().await;
    assert_eq!((second.created, second.recovered, second.failed), (0, 1, 0), "{second:?}");
    assert_eq!(env.issues_for(REPO, id).len(), 1, "a second issue was created");
    assert_eq!(env.link_notes(id).len(), 1);
}

/// `status` said "pushed never" for a ticket whose note was written by a later pass (a
/// queued note finished by `resume`).
#[tokio::test]
async fn a_note_finished_by_a_later_pass_counts_as_pushed() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Pushed later").await;
    let put = format!("/api/v2/tickets/{id}.json");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &put, Fault::Status(422)));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let first = env.push().await;
    assert_eq!(first.failed, 1, "{first:?}");
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.push().await;
    assert_eq!(env.push_notes(id).len(), 1);
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert!(m.last_pushed_at.is_some(), "status would say 'pushed never'");
}

/// An operator's first week: the status text hid why a pass failed and when a pass last
/// succeeded.
#[tokio::test]
async fn status_tells_why_a_pass_failed_and_when_it_last_succeeded() {
    let env = Env::new().await;
    env.escalate().await;
    env.ticket("Needs GitHub", &["escalated"]);
    let bad = env.bin(&["sync"], &[("TS_SANDBOX_GITHUB_TOKEN", "revoked")]).await;
    assert_ne!(bad.status.code(), Some(0));
    let out = env.bin(&["status"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("failed because: github refused the credentials"), "{text}");
    let escalate = text.lines().find(|l| l.trim_start().starts_with("escalate")).unwrap();
    assert!(!escalate.contains("last success -"), "the successful pass is remembered: {escalate}");
}

/// A SIGHUP was read only after the pass in flight, so a broken rules file sent during a long
/// pass was reported late, or never (when fixed before the pass ended). Every reload's verdict
/// now comes at once.
#[tokio::test]
async fn a_reload_during_a_long_pass_is_judged_at_once() {
    use std::time::Duration;
    let schedule = "[schedule]\nescalate = \"0 0 0 1 1 *\"\npush = \"* * * * * *\"\n";
    let env = Env::with_routes(ROUTES, schedule).await;
    env.linked("Long pass").await;
    let slow = FaultRule::new(Some(Method::GET), "/acme/backend/issues", Fault::Slow { millis: 2000 }).times(3);
    env.sb.github.door.faults.push(slow);
    let good = std::fs::read_to_string(&env.rules_path).unwrap();
    let mut daemon = crate::daemon::Daemon::start(&env, &[]);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    std::fs::write(&env.rules_path, good.replace("[escalation]", "[escalation]\ncolour = 1")).unwrap();
    daemon.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = daemon.log_text();
        if log.contains("pass complete pass=\"push\"") || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rejected = log.find("rules file rejected on reload");
    let pass_done = log.find("pass complete pass=\"push\"");
    assert!(rejected.is_some() && rejected < pass_done, "the verdict waited for the pass:\n{log}");
    std::fs::write(&env.rules_path, &good).unwrap();
    daemon.signal("HUP");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !daemon.log_text().contains("rules reloaded") {
        assert!(std::time::Instant::now() < deadline, "{}", daemon.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(15)).await;
}

/// An operator's first week: in JSON logs, note lines lacked `repo` and ticket ids were strings.
#[tokio::test]
async fn json_log_lines_of_writes_carry_numeric_ids_and_the_repository() {
    let env = Env::with_routes(ROUTES, crate::harness::PUSHBACK).await;
    let (id, n) = env.linked("Logged").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let out = env.bin(&["--log-format", "json", "sync"], &[("RUST_LOG", "info")]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("note pushed")).unwrap_or_else(|| panic!("{stderr}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["ticket_id"], serde_json::json!(id), "{line}");
    assert_eq!(v["repo"], serde_json::json!(REPO), "{line}");
    assert_eq!(v["span"]["ticket_id"], serde_json::json!(id), "a number in the span too: {line}");
}
