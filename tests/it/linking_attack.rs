//! Hostile review of `[linking]`: lost answers, transfers, oversized comments, races between
//! the daemon's write-back and an agent, dry runs.

use std::sync::Arc;

use axum::http::Method;
use ticket_sync::sync::Engine;
use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule, NewTicket};
use ticket_sync_store::Store;
use tokio_util::sync::CancellationToken;

use crate::harness::Env;
use crate::linking::{env, field_notes, plain, set_field};

const REPO: &str = "acme/backend";
const MARKER: &str = "<!-- ticket-sync:impact -->";

fn impact_in(env: &Env, repo: &str, number: u64) -> Vec<String> {
    let comments = env.sb.github.comments(repo, number).into_iter();
    comments.filter(|c| c.body.contains(MARKER)).map(|c| c.body).collect()
}

fn dry_engine(env: &Env) -> Engine {
    let rules = ticket_sync::config::load(&env.rules_path).expect("rules valid");
    let store = Arc::new(Store::open(&rules.state_path).expect("store opens"));
    let github = super::harness::github_credential(&rules);
    let zendesk = crate::harness::sandbox_zendesk_credential(&rules);
    Engine::new(Arc::new(rules), store, &zendesk, &github, true)
}

#[tokio::test]
async fn attack_impact_comment_post_answer_lost_makes_one_comment() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Lost answer").await;
    let second = plain(&env, "Lost answer too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/comments", Fault::LoseResponse));
    env.escalate().await;
    env.sb.github.door.faults.clear();
    env.sb.clock.advance(std::time::Duration::from_secs(5));
    env.escalate().await;
    env.escalate().await;
    let comments = impact_in(&env, REPO, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("2 Zendesk tickets"), "{}", comments[0]);
    assert_eq!(field_notes(&env, second).len(), 1);
}

#[tokio::test]
async fn attack_link_note_put_answer_lost_writes_the_note_once() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Lost note").await;
    let second = plain(&env, "Lost note too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.sb.zendesk.door.faults.push(FaultRule::new(
        Some(Method::PUT),
        &format!("/tickets/{second}"),
        Fault::LoseResponse,
    ));
    env.escalate().await;
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(second)).unwrap();
    env.sb.settle();
    env.escalate().await;
    env.push().await;
    env.escalate().await;
    assert_eq!(field_notes(&env, second).len(), 1, "{:?}", field_notes(&env, second));
}

#[tokio::test]
async fn attack_a_transferred_shared_issue_keeps_one_impact_comment() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Will move").await;
    let second = plain(&env, "Will move too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    assert_eq!(impact_in(&env, REPO, n).len(), 1);

    let m = env.sb.github.transfer_issue(REPO, n, "acme/billing");
    env.engine().audit(&CancellationToken::new()).await.unwrap();
    assert_eq!(env.engine().store.mapping(TicketId(second)).unwrap().unwrap().issue_number.0, m);
    assert_eq!(impact_in(&env, "acme/billing", m).len(), 1, "the comment moved with the issue");

    let third = plain(&env, "Same bug, after the move");
    set_field(&env, field, third, Some(&format!("acme/billing#{m}")));
    env.escalate().await;
    env.escalate().await;
    let comments = impact_in(&env, "acme/billing", m);
    assert_eq!(comments.len(), 1, "the moved comment is edited, not a second one created: {comments:#?}");
    assert!(comments[0].contains("3 Zendesk tickets"), "{}", comments[0]);
}

#[tokio::test]
async fn attack_many_links_with_long_organisation_names_stay_under_the_comment_limit() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Big outage").await;
    let count = 260;
    for i in 0..count {
        let name = format!("Organisation {i} {}", "x".repeat(230));
        let org = env.sb.zendesk.add_organization(&name);
        let user = env.sb.zendesk.add_user(&format!("User {i}"), &format!("u{i}@example.com"), Some(org));
        let mut t = NewTicket::new(&format!("Outage {i}"), "down", user);
        t.status = "open".into();
        let id = env.sb.zendesk.add_ticket(t);
        env.sb.zendesk.set_field(id, field, Some(&format!("{REPO}#{n}")));
    }
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!(report.linked.len(), count, "{:?}", report.failures);
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "the impact comment must still be written: {report:?}");
    let comments = impact_in(&env, REPO, n);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains(&format!("{} Zendesk tickets", count + 1)));
}

#[tokio::test]
async fn attack_an_agent_link_made_while_the_link_note_waits_is_not_overwritten_by_the_write_back() {
    let (env, field) = env().await;
    let known = env.sb.github.add_issue(REPO, "Known bug", "", "alice");
    let id = env.ticket("Escalated, then linked by hand", &["escalated"]);
    // The issue is created; the link note (with the write-back) fails for now.
    env.sb
        .zendesk
        .door
        .faults
        .push(FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::Status(500)).times(100));
    env.escalate().await;
    assert_eq!(env.issues_for(REPO, id).len(), 1);
    env.sb.zendesk.door.faults.clear();
    // Meanwhile an agent links the ticket to the issue engineering already tracks.
    let wanted = format!("{REPO}#{known}");
    set_field(&env, field, id, Some(&wanted));
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.escalate().await;
    env.escalate().await;
    let value = env.sb.zendesk.field_value(id, field).unwrap_or_default();
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert!(
        value == wanted || m.issue_number.0 == known,
        "the agent's link to #{known} was silently replaced: field = {value}, linked to #{}",
        m.issue_number.0
    );
}

#[tokio::test]
async fn attack_dry_run_with_field_changes_writes_nothing_and_forgets_nothing() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Dry").await;
    let second = plain(&env, "Dry too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    set_field(&env, field, first, None);
    let writes = (env.github_writes(), env.zendesk_writes());
    let report = dry_engine(&env).escalate(&CancellationToken::new()).await.unwrap();
    assert!(!report.planned.is_empty(), "{report:?}");
    dry_engine(&env).push(&CancellationToken::new()).await.unwrap();
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes);
    env.escalate().await;
    assert_eq!(field_notes(&env, second).len(), 1, "the real pass still acts");
    assert_eq!(field_notes(&env, first).len(), 1, "the real pass still unlinks");
}

#[tokio::test]
async fn attack_markers_and_markdown_in_an_organisation_name_are_defused() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Hostile org").await;
    let org = env.sb.zendesk.add_organization("Evil | <!-- ticket-sync:impact --> [ticket-sync:event field-1]\nrow");
    let user = env.sb.zendesk.add_user("Mallory", "m@evil.example", Some(org));
    let mut t = NewTicket::new("Hostile", "x", user);
    t.status = "open".into();
    let id = env.sb.zendesk.add_ticket(t);
    set_field(&env, field, id, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    let comments = impact_in(&env, REPO, n);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].matches(MARKER).count(), 1, "{}", comments[0]);
    assert!(comments[0].trim_end().ends_with(MARKER));
    let rows = comments[0].lines().filter(|l| l.starts_with("| [#")).count();
    assert_eq!(rows, 2, "{}", comments[0]);
}

#[tokio::test]
async fn attack_status_json_lists_active_links_only() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Status").await;
    let second = plain(&env, "Status too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    let out = env.bin(&["status", "--json"], &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mappings"].as_array().unwrap().len(), 2, "{v}");
    set_field(&env, field, second, None);
    env.escalate().await;
    let out = env.bin(&["status", "--json"], &[]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mappings"].as_array().unwrap().len(), 1, "{v}");
    let out = env.bin(&["status", "--ticket", &second.to_string()], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("linked_by_field") || text.contains("linked"), "{text}");
    assert!(text.contains("unlinked"), "{text}");
}

#[tokio::test]
async fn attack_reescalation_of_a_shared_closed_issue_reopens_once_and_fans_out() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Regressed").await;
    let second = plain(&env, "Regressed too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.zendesk.set_tags(first, &[]);
    env.sb.settle();
    env.escalate().await;
    env.sb.zendesk.set_tags(first, &["escalated"]);
    env.sb.settle();
    env.escalate().await;
    env.push().await;
    env.escalate().await;
    env.push().await;
    assert_eq!(env.sb.github.issue(REPO, n).unwrap().state, "open");
    let reopened = |id: u64| env.push_notes(id).into_iter().filter(|n| n.contains("reopen")).count();
    assert_eq!(reopened(first), 1, "{:?}", env.push_notes(first));
    assert_eq!(reopened(second), 1, "{:?}", env.push_notes(second));
    assert_eq!(env.sb.zendesk.ticket(second).unwrap().status, "open");
    assert!(env.sb.zendesk.ticket(second).unwrap().tags.contains(&"github_open".to_string()));
}
