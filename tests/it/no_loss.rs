//! No lost updates: history that an unfinished create or a transfer hid from the push pass,
//! forwards whose comment read failed, and replies on very long tickets.

use axum::http::Method;
use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule};
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, FORWARD, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

/// forward.rs run: a ticket whose comments cannot be read is recorded as a failure, but the
/// forward export cursor still moves past it and no intent was queued, so the public reply is
/// never forwarded (nothing retries a "forward" failure).
#[tokio::test]
async fn a_reply_whose_comments_read_failed_is_forwarded_later() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let id = env.ticket("Broken login", &["escalated"]);
    env.escalate().await;
    let n = env.issues_for(REPO, id)[0];
    env.sb.zendesk.add_public_comment(id, env.requester, "Still broken for us");
    env.sb.settle();
    env.sb
        .zendesk
        .door
        .faults
        .push(FaultRule::new(Some(Method::GET), &format!("/tickets/{id}/comments"), Fault::Status(500)).times(1000));
    let first = env.push().await;
    env.sb.zendesk.door.faults.clear();
    assert_eq!((first.forwarded, first.failed), (0, 1), "{first:?}");

    for _ in 0..3 {
        env.sb.settle();
        env.engine().store.retry_now(TicketId(id)).unwrap();
        env.push().await;
    }
    let fwd: Vec<_> =
        env.sb.github.comments(REPO, n).into_iter().filter(|c| c.body.contains("Still broken for us")).collect();
    assert_eq!(fwd.len(), 1, "the public reply was lost");
}

/// audit.rs check → store move_mapping: a transferred issue is followed up to a day later, but
/// the target repository's watermarks have meanwhile moved past whatever happened to the issue
/// there (its push pass saw an unmapped issue), so a comment made on the issue after the
/// transfer is never pushed back (the close does arrive, via the issue events).
#[tokio::test]
async fn a_comment_after_transfer_is_pushed_back_once_the_audit_follows() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let other = env.ticket("Billing link", &["escalated", "billing"]);
    let id = env.ticket("Moves", &["escalated"]);
    env.escalate().await;
    assert_eq!(env.issues_for("acme/billing", other).len(), 1);
    let n = env.issues_for(REPO, id)[0];
    env.push().await; // both repositories have watermarks now

    env.sb.clock.advance(std::time::Duration::from_secs(1));
    let moved = env.sb.github.transfer_issue(REPO, n, "acme/billing");
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.add_comment("acme/billing", moved, "carol", "Found it: rounding error");
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue("acme/billing", moved, "completed", "alice");
    env.sb.settle();
    env.push().await; // the regular push pass runs before the daily audit

    let audit = env.engine().audit(&CancellationToken::new()).await.expect("audit runs");
    assert_eq!(audit.failed, 0, "{audit:?}");
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!((m.repo.to_string(), m.issue_number.0), ("acme/billing".to_string(), moved));
    env.sb.settle();
    env.push().await;
    env.push().await;
    let notes = env.push_notes(id);
    assert!(notes.iter().any(|n| n.contains("closed as completed by alice")), "close lost: {notes:?}");
    assert!(notes.iter().any(|n| n.contains("rounding error")), "comment lost: {notes:?}");
    assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
}

/// Lost create answer, and a push pass of the same repository runs before the retry adopts the
/// issue: the comment on the (still unmapped) issue moves `last_comment_id`/`comments_since`
/// past it, and after adoption it is never mirrored.
#[tokio::test]
async fn a_comment_before_adoption_of_a_lost_create_is_pushed_back() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let other = env.ticket("Already linked", &["escalated"]);
    env.escalate().await;
    assert_eq!(env.issues_for(REPO, other).len(), 1);
    env.push().await;

    let id = env.ticket("Lost answer", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::LoseResponse));
    // GitHub keeps failing the reconciliation for the rest of the pass, so the lost create is
    // adopted only by a later pass.
    env.sb
        .github
        .door
        .faults
        .push(FaultRule::new(Some(Method::GET), "/acme/backend/issues", Fault::Status(503)).times(1000));
    let first = env.escalate().await;
    env.sb.github.door.faults.clear();
    assert_eq!((first.created, first.failed), (0, 1), "{first:?}");
    let n = env.issues_for(REPO, id)[0];
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.add_comment(REPO, n, "carol", "Known problem, fixed in 1.2");
    env.sb.settle();
    env.push().await; // the issue is not mapped yet

    env.engine().store.retry_now(TicketId(id)).unwrap();
    let second = env.escalate().await;
    assert_eq!(second.recovered, 1, "{second:?}");
    env.sb.settle();
    env.push().await;
    let notes = env.push_notes(id);
    assert!(notes.iter().any(|n| n.contains("fixed in 1.2")), "the comment was never pushed back: {notes:?}");
}

/// forward.rs forward_ticket reads the ticket's comments oldest first, at most COMMENT_PAGES
/// (10 × 100): on a ticket with a long history the newest comments are never read, so a new
/// public reply is never forwarded (and the forward mark never moves past the 1,000th comment).
#[tokio::test]
async fn a_reply_on_a_long_ticket_is_forwarded() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let id = env.ticket("Long conversation", &["question"]);
    for i in 0..1000 {
        env.sb.zendesk.add_public_comment(id, env.requester, &format!("earlier message {i}"));
    }
    env.sb.zendesk.set_tags(id, &["question", "escalated"]);
    env.sb.settle();
    env.escalate().await;
    let n = env.issues_for(REPO, id)[0];
    assert_eq!(env.link_notes(id).len(), 1);
    env.push().await; // first look at the ticket: nothing older than the link note is forwarded
    env.sb.zendesk.add_public_comment(id, env.requester, "Any news? It is still broken");
    env.sb.settle();
    let report = env.push().await;
    env.sb.settle();
    env.push().await;
    let fwd: Vec<_> = env.sb.github.comments(REPO, n).into_iter().filter(|c| c.body.contains("Any news?")).collect();
    assert_eq!(fwd.len(), 1, "the reply was never forwarded: {report:?}");
}

/// A ticket whose comments pages are over the body cap (large comments): they are read in
/// smaller pages, so the ticket escalates and its later replies are forwarded, instead of
/// failing on every attempt for good (part 12, item 4).
#[tokio::test]
async fn a_ticket_whose_comment_pages_are_over_the_cap_escalates_and_forwards() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let id = env.ticket("Long and heavy history", &["escalated"]);
    for i in 0..30 {
        env.sb.zendesk.add_public_comment(id, env.requester, &format!("log {i}: {}", "y".repeat(3000)));
    }
    env.sb.settle();
    // A page of 30 such comments is ~270 KB, of 10 ~90 KB: over this cap; one at a time fits.
    let cap = [("TICKET_SYNC_BODY_CAP_BYTES", "40000")];
    let out = env.bin(&["sync"], &cap).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let n = env.issues_for(REPO, id);
    assert_eq!(n.len(), 1, "escalated");
    assert_eq!(env.link_notes(id).len(), 1);
    env.sb.zendesk.add_public_comment(id, env.requester, "Still broken after the update");
    env.sb.settle();
    let out = env.bin(&["sync"], &cap).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let fwd: Vec<_> = env.forwarded(REPO, n[0]);
    assert_eq!(fwd.len(), 1, "{fwd:?}");
    assert!(fwd[0].contains("Still broken after the update"));
}

/// zendesk::comments_raw: a comment over the body cap even on its own failed its ticket's
/// comment reads on every attempt: the ticket could not escalate, and no later reply on it
/// reached the issue, for good. It is now stepped over (offset pages from the next record), and
/// the issue is told once, in its place, that a comment could not be read.
#[tokio::test]
async fn a_comment_too_large_to_read_alone_is_skipped_with_one_note() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let id = env.ticket("Huge paste", &["escalated"]);
    for i in 0..3 {
        env.sb.zendesk.add_public_comment(id, env.requester, &format!("before {i}"));
    }
    env.sb.zendesk.add_public_comment(id, env.requester, &"z".repeat(60_000));
    for i in 0..3 {
        env.sb.zendesk.add_public_comment(id, env.requester, &format!("after {i}"));
    }
    env.sb.settle();
    // One of those comments alone is ~60 KB: over this cap; every other fits.
    let cap = [("TICKET_SYNC_BODY_CAP_BYTES", "40000")];
    let out = env.bin(&["sync"], &cap).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let n = env.issues_for(REPO, id);
    assert_eq!(n.len(), 1, "escalated: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(env.link_notes(id).len(), 1);

    env.sb.clock.advance(std::time::Duration::from_secs(5));
    env.sb.zendesk.add_public_comment(id, env.requester, "first reply");
    env.sb.clock.advance(std::time::Duration::from_secs(5));
    env.sb.zendesk.add_public_comment(id, env.requester, &"w".repeat(60_000));
    env.sb.clock.advance(std::time::Duration::from_secs(5));
    env.sb.zendesk.add_public_comment(id, env.requester, "Still broken after the update");
    env.sb.settle();
    for _ in 0..2 {
        let out = env.bin(&["sync"], &cap).await;
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        env.sb.settle();
    }
    let fwd = env.forwarded(REPO, n[0]);
    assert_eq!(fwd.len(), 3, "{fwd:?}");
    assert!(fwd[0].contains("first reply"), "{fwd:?}");
    assert!(fwd[1].contains("too large for ticket-sync to read (over 40 KB"), "{fwd:?}");
    assert!(fwd[2].contains("Still broken after the update"), "{fwd:?}");
    assert!(fwd.iter().all(|f| !f.contains("wwww")), "the huge comment itself was never read");
}

/// forward.rs: more public replies since the last pass than one read takes (10 pages of 100)
/// moved the forward mark past the oldest of them, which were then never forwarded, without a
/// word. The newest are forwarded and one comment before them says the older were not.
#[tokio::test]
async fn a_flood_of_replies_forwards_the_newest_and_says_the_rest_were_not() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let id = env.ticket("Flooded", &["escalated"]);
    env.escalate().await;
    let n = env.issues_for(REPO, id)[0];
    env.sb.clock.advance(std::time::Duration::from_secs(5));
    env.sb.zendesk.add_public_comment(id, env.requester, "first reply");
    env.sb.settle();
    env.push().await;
    assert_eq!(env.forwarded(REPO, n).len(), 1);
    env.sb.clock.advance(std::time::Duration::from_secs(5));
    for i in 0..1050 {
        env.sb.zendesk.add_public_comment(id, env.requester, &format!("flood reply {i:04}"));
    }
    env.sb.settle();
    env.push().await;
    env.sb.settle();
    env.push().await;
    let fwd = env.forwarded(REPO, n);
    let placeholders: Vec<_> = fwd.iter().filter(|f| f.contains("More replies came")).collect();
    assert_eq!(placeholders.len(), 1, "one comment says the oldest were not forwarded");
    assert_eq!(fwd.len(), 1 + 1 + 1000, "the first reply, the placeholder, the newest 1000");
    assert!(fwd[1].contains("More replies came"), "the placeholder comes before the newest replies");
    assert!(fwd.iter().any(|f| f.contains("flood reply 1049")) && !fwd.iter().any(|f| f.contains("flood reply 0049")));
}

/// A database the previous release (schema 14) left with writes in flight: a create whose
/// issue GitHub made before the crash, and a push note for an issue close. After the upgrade
/// (schema 15: payloads versioned), one pass of each finishes both exactly once: the issue is
/// adopted, not made again, and the note is written once.
#[tokio::test]
async fn writes_in_flight_in_a_database_of_the_previous_release_finish_once_after_the_upgrade() {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let (linked, linked_issue) = env.linked("Escalated before the upgrade").await;
    let ticket = env.ticket("Crashed mid-create", &["escalated"]);
    let body = format!("Escalated from Zendesk.\n\n<!-- ticket-sync:zendesk={ticket} -->\n");
    let n = env.sb.github.add_issue(REPO, "Crashed mid-create", &body, env.sb.github.login());
    std::fs::remove_file(env.db_path()).unwrap();
    ticket_sync_store::Store::create_at_version(&env.db_path(), 14).unwrap();
    {
        let conn = rusqlite::Connection::open(env.db_path()).unwrap();
        let created = (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339();
        // The create's payload and the push note's, as the previous release wrote them.
        let create = serde_json::json!({
            "repo": REPO, "title": "Crashed mid-create", "body": body, "labels": [], "ticket_updated_at": null
        })
        .to_string();
        conn.execute(
            "INSERT INTO intents (key, ticket_id, kind, repo, payload, created_at, attempts, attempted_at)
             VALUES (?1, ?2, 'create_issue', ?3, ?4, ?5, 1, ?5)",
            rusqlite::params![format!("create_issue:{ticket}"), ticket as i64, REPO, create, created],
        )
        .unwrap();
        let url = env.sb.github.issue(REPO, linked_issue).unwrap().html_url;
        conn.execute(
            "INSERT INTO mappings (ticket_id, repo, issue_number, issue_id, issue_url, issue_state, created_at, issue_updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, NULL)",
            rusqlite::params![linked as i64, REPO, linked_issue as i64, 1000 + linked_issue as i64, url, created],
        )
        .unwrap();
        let key = "gh-state-upgrade-closed";
        let note = format!(
            r#"{{"event_key":"{key}","text":"GitHub issue {REPO}#{linked_issue} was closed.\n[ticket-sync:event {key}]","status":null,"order":[1772600767,2,0],"reopens":false,"add_tags":[],"remove_tags":[],"about_link":false}}"#
        );
        conn.execute(
            "INSERT INTO intents (key, ticket_id, kind, repo, payload, created_at, attempts, attempted_at)
             VALUES (?1, ?2, 'push_note', ?3, ?4, ?5, 0, NULL)",
            rusqlite::params![format!("push_note:{linked}:{key}"), linked as i64, REPO, note, created],
        )
        .unwrap();
    }
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, ticket), [n], "the issue made before the crash is adopted, not made again");
    assert_eq!(env.link_notes(ticket).len(), 1, "one link note");
    env.push().await;
    env.push().await;
    let closes =
        env.push_notes(linked).into_iter().filter(|c| c.contains("[ticket-sync:event gh-state-upgrade-closed]"));
    assert_eq!(closes.count(), 1, "the waiting note is written once");
    assert!(env.engine().store.pending_intents().unwrap().is_empty(), "nothing is left waiting");
    let second = env.escalate().await;
    assert_eq!((second.created, second.failed), (0, 0), "{second:?}");
    assert_eq!(env.issues_for(REPO, ticket), [n]);
    assert_eq!(env.link_notes(ticket).len(), 1);
}
