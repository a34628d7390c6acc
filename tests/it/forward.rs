//! Forwarding (Zendesk → GitHub, `[forward] comments = "public"`): public comments become
//! issue comments once, redacted, never echoed; transferred issues are followed, deleted ones
//! end the link with one note.

use ticket_sync_store::Store;

use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::TicketId;

use crate::harness::{Env, FORWARD, ROUTES};

const REPO: &str = "acme/backend";

/// A customer replies on the ticket; the export shows it after Zendesk's one-minute delay.
fn reply(env: &Env, ticket: u64, text: &str) -> u64 {
    let id = env.sb.zendesk.add_public_comment(ticket, env.requester, text);
    env.sb.settle();
    id
}

#[tokio::test]
async fn a_public_reply_is_forwarded_once_redacted_with_the_author_name_only() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (id, n) = env.linked("Broken login").await;
    reply(&env, id, "Still broken. Call me on +1 (555) 123-4567 or jane@globex.example");
    let report = env.push().await;
    assert_eq!((report.forwarded, report.failed), (1, 0), "{report:?}");
    let comments = env.forwarded(REPO, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let c = &comments[0];
    assert!(c.starts_with("**Jane Customer** wrote on the Zendesk ticket:"), "{c}");
    assert!(c.contains("Still broken.") && c.contains("[redacted phone]") && c.contains("[redacted email]"), "{c}");
    assert!(!c.contains("123-4567") && !c.contains("jane@globex.example"), "{c}");
    assert_eq!(env.sb.github.comments(REPO, n).len(), 1, "the description and the link note are not forwarded");

    env.sb.settle();
    let again = env.push().await;
    assert_eq!((again.forwarded, again.pushed, again.failed), (0, 0, 0), "{again:?}");
    assert_eq!(env.forwarded(REPO, n).len(), 1);
    let notes = env.sb.zendesk.comments(id).into_iter().filter(|c| c.body.contains("[ticket-sync:event ")).count();
    assert_eq!(notes, 0, "the forwarded comment is not mirrored back to the ticket");
}

#[tokio::test]
async fn forwarding_is_off_by_default_and_costs_nothing() {
    let env = Env::new().await;
    let (id, n) = env.linked("Quiet").await;
    reply(&env, id, "hello?");
    env.sb.zendesk.door.log.clear();
    let report = env.push().await;
    assert_eq!(report.forwarded, 0);
    assert!(env.sb.github.comments(REPO, n).is_empty());
    assert_eq!(env.sb.zendesk.door.log.len(), 0, "{:?}", env.sb.zendesk.door.log.entries());
}

#[tokio::test]
async fn a_transferred_issue_is_followed_where_github_says_it_went() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (id, n) = env.linked("Wrong team").await;
    let moved = env.sb.github.transfer_issue(REPO, n, "acme/billing");
    reply(&env, id, "any news?");
    let report = env.push().await;
    assert_eq!((report.forwarded, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.forwarded("acme/billing", moved).len(), 1);
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(
        (m.repo.to_string(), m.issue_number.0, m.link_state),
        ("acme/billing".to_string(), moved, LinkState::Active)
    );
    assert!(m.issue_url.ends_with(&format!("/acme/billing/issues/{moved}")), "{}", m.issue_url);
}

#[tokio::test]
async fn a_deleted_issue_ends_the_link_with_one_note() {
    let env = Env::with_routes(ROUTES, FORWARD).await;
    let (id, n) = env.linked("Spam").await;
    env.sb.github.delete_issue(REPO, n);
    reply(&env, id, "hello?");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let gone = |env: &Env| env.sb.zendesk.comments(id).into_iter().filter(|c| c.body.contains("issue-gone]")).count();
    assert_eq!(gone(&env), 1);
    assert_eq!(env.engine().store.mapping(TicketId(id)).unwrap().unwrap().link_state, LinkState::IssueGone);
    reply(&env, id, "hello again?");
    let writes = (env.github_writes(), env.zendesk_writes());
    let report = env.push().await;
    assert_eq!((report.forwarded, report.pushed, report.failed), (0, 0, 0), "{report:?}");
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes, "no retry storm");
    assert_eq!(gone(&env), 1);
}

#[tokio::test]
async fn kill_between_the_github_comment_and_the_ledger_gives_no_duplicate() {
    for point in ["before_forward_comment", "after_forward_comment"] {
        let env = Env::with_routes(ROUTES, FORWARD).await;
        let (id, n) = env.linked("Crashy").await;
        reply(&env, id, "first");
        reply(&env, id, "second");
        let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", point)]).await;
        assert!(!crashed.status.success(), "{point}: the process must have aborted");
        let again = env.bin(&["sync"], &[]).await;
        assert!(again.status.success(), "{point}: {}", String::from_utf8_lossy(&again.stderr));
        let comments = env.forwarded(REPO, n);
        assert_eq!(comments.len(), 2, "{point}: {comments:?}");
        assert!(comments[0].contains("first") && comments[1].contains("second"), "{point}: {comments:?}");
        let store = Store::open_read_only(&env.db_path()).unwrap();
        assert!(store.pending_intents().unwrap().is_empty(), "{point}");
    }
}
