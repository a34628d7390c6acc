//! Webhooks: a delivery is a doorbell. The daemon reads the current state through the API with
//! its usual watermarks, intents and ledger, so duplicate, reordered or late deliveries never
//! change the outcome.

use ticket_sync::domain::{RepoName, TicketId};
use ticket_sync::sandbox::NewTicket;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

fn repo() -> RepoName {
    REPO.parse().unwrap()
}

/// A ticket created just now: the export would not show it for another minute.
fn fresh_ticket(env: &Env, subject: &str, tags: &[&str]) -> u64 {
    let mut t = NewTicket::new(subject, "Described", env.requester);
    t.tags = tags.iter().map(|s| s.to_string()).collect();
    t.status = "open".into();
    env.sb.zendesk.add_ticket(t)
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
    use ticket_sync::sandbox::{Fault, FaultRule};
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
