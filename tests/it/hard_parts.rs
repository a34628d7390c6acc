//! The real APIs' hard parts (issue 9): scoped refusals, refused statuses, notes that must not
//! lie, replies that must not be lost or misattributed. Each test failed before its fix.

use axum::http::Method;
use ticket_sync::domain::TicketId;
use ticket_sync::sandbox::{Fault, FaultRule};

use crate::harness::{Env, FORWARD, ROUTES};

const REPO: &str = "acme/backend";

fn forwarded(env: &Env, repo: &str, number: u64) -> Vec<String> {
    let comments = env.sb.github.comments(repo, number).into_iter();
    comments.filter(|c| c.body.contains("<!-- ticket-sync:forwarded")).map(|c| c.body).collect()
}

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
    let comments = forwarded(&env, REPO, n);
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
    let comments = forwarded(&env, REPO, n);
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
    assert_eq!(forwarded(&env, REPO, nb).len(), 1);
    assert!(forwarded(&env, REPO, na).is_empty());
}
