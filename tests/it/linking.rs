//! `[linking]`: many tickets on one issue through a Zendesk ticket field — agent links,
//! write-back, refusals once, unlink and relink, fan-out of push-back, state tags, the issue's
//! linked-tickets comment.

use axum::http::Method;
use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule, Visibility};

use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

/// An environment with a text field for the link, `[linking]` on with state tags.
pub(crate) async fn env() -> (Env, u64) {
    let env = Env::with_routes(ROUTES, PUSHBACK).await;
    let field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n[linking]\nfield_id = {field}\nstate_tags = true\n"));
    (env, field)
}

/// Notes that tell of a change of the link (they carry a `field-` event key).
pub(crate) fn field_notes(env: &Env, ticket: u64) -> Vec<String> {
    env.push_notes(ticket).into_iter().filter(|n| n.contains("[ticket-sync:event field-")).collect()
}

/// Notes that tell of a close or reopen of the issue.
fn state_notes(env: &Env, ticket: u64) -> Vec<String> {
    env.push_notes(ticket).into_iter().filter(|n| n.contains(" was closed ") || n.contains(" was reopened ")).collect()
}

fn tags(env: &Env, ticket: u64) -> Vec<String> {
    env.sb.zendesk.ticket(ticket).unwrap().tags
}

/// ticket-sync's linked-tickets comments on an issue.
fn impact(env: &Env, number: u64) -> Vec<String> {
    let comments = env.sb.github.comments(REPO, number).into_iter();
    comments.filter(|c| c.body.contains("<!-- ticket-sync:impact -->")).map(|c| c.body).collect()
}

/// An agent sets the link field on a ticket; the change ages past the export's delay.
pub(crate) fn set_field(env: &Env, field: u64, ticket: u64, value: Option<&str>) {
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.zendesk.set_field(ticket, field, value);
    env.sb.settle();
}

/// A plain ticket (not escalated) an agent will link.
pub(crate) fn plain(env: &Env, subject: &str) -> u64 {
    env.ticket(subject, &[])
}

#[tokio::test]
async fn escalation_writes_the_issue_url_into_the_field_and_reading_it_back_changes_nothing() {
    let (env, field) = env().await;
    let (id, n) = env.linked("Crash on save").await;
    let url = env.sb.github.issue(REPO, n).unwrap().html_url;
    assert_eq!(env.sb.zendesk.field_value(id, field).as_deref(), Some(url.as_str()), "write-back");
    assert_eq!(env.link_notes(id).len(), 1);
    assert_eq!(tags(&env, id).iter().filter(|t| t.starts_with("github_")).collect::<Vec<_>>(), ["github_open"]);
    // The write-back in the same update as the note, the state tag added through the Tags
    // endpoint (a single update drops tag deltas): two Zendesk writes in all.
    assert_eq!(env.zendesk_writes(), 2);
    let tag_writes = env.sb.zendesk.door.log.count(|e| e.method == Method::PUT && e.path.ends_with("/tags.json"));
    assert_eq!(tag_writes, 1);

    env.sb.settle();
    let writes = (env.github_writes(), env.zendesk_writes());
    let report = env.escalate().await;
    assert_eq!((report.created, report.notes, report.failed), (0, 0, 0), "{report:?}");
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes, "the daemon's own write-back is no change");
    assert!(field_notes(&env, id).is_empty());
    assert!(impact(&env, n).is_empty(), "one escalated ticket: its issue body shows it, no comment");
}

#[tokio::test]
async fn two_tickets_on_one_issue_both_receive_the_close_once() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Login fails").await;
    let url = env.sb.github.issue(REPO, n).unwrap().html_url;
    let second = plain(&env, "Login fails for us too");
    set_field(&env, field, second, Some(&format!("  {REPO}#{n} ")));
    let issues_before = env.sb.github.issues(REPO).len();
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 0), "{report:?}");
    assert_eq!(env.sb.github.issues(REPO).len(), issues_before, "no new issue");
    let notes = field_notes(&env, second);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains(&url), "{}", notes[0]);
    assert!(env.link_notes(second).is_empty(), "the escalation link note is the escalated ticket's");
    assert!(tags(&env, second).contains(&"github_open".to_string()));

    let comments = impact(&env, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("2 Zendesk tickets are linked"), "{}", comments[0]);
    assert!(comments[0].contains(&format!("#{first}")) && comments[0].contains(&format!("#{second}")));
    assert!(comments[0].contains("Globex Corp") && !comments[0].contains("jane@globex.example"));

    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (2, 0), "{report:?}");
    for id in [first, second] {
        assert_eq!(state_notes(&env, id).len(), 1, "ticket {id}");
        assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
        let t = tags(&env, id);
        assert!(t.contains(&"github_closed".to_string()) && !t.contains(&"github_open".to_string()), "{t:?}");
    }

    // Reruns of both passes write nothing anywhere.
    env.sb.settle();
    let writes = (env.github_writes(), env.zendesk_writes());
    env.escalate().await;
    env.push().await;
    env.escalate().await;
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes);
    assert_eq!(impact(&env, n).len(), 1);
}

#[tokio::test]
async fn each_refusal_is_explained_once_and_nothing_is_written_to_github() {
    let (env, field) = env().await;
    env.sb.github.add_repo("acme/open-source", Visibility::Public, true);
    env.sb.github.add_repo("acme/elsewhere", Visibility::Private, true);
    let pr = env.sb.github.add_pull_request(REPO, "A fix");
    let linking = format!("{PUSHBACK}\n[linking]\nfield_id = {field}\nrepos = [\"acme/open-source\"]\n");
    env.rewrite_rules(ROUTES, &linking);
    let id = plain(&env, "Wants a link");
    let web = env.sb.github.web_url();
    let cases = [
        ("not a link at all".to_string(), "does not name a GitHub issue"),
        ("acme/elsewhere#1".to_string(), "not a repository ticket-sync links to"),
        (format!("{web}/{REPO}/pull/{pr}"), "pull request"),
        (format!("{REPO}#999"), "does not exist"),
        ("acme/open-source#1".to_string(), "public"),
        ("https://gitlab.example/acme/backend/issues/1".to_string(), "not this GitHub"),
    ];
    for (i, (value, why)) in cases.iter().enumerate() {
        set_field(&env, field, id, Some(value));
        let github_writes = env.github_writes();
        env.escalate().await;
        env.escalate().await;
        let notes = field_notes(&env, id);
        assert_eq!(notes.len(), i + 1, "one note per refused value, not repeated: {notes:?}");
        assert!(notes[i].contains(why), "{value}: {}", notes[i]);
        assert!(notes[i].contains("cannot link"), "{}", notes[i]);
        assert_eq!(env.github_writes(), github_writes, "a refusal writes nothing to GitHub");
        assert!(env.engine().store.mapping(TicketId(id)).unwrap().is_none());
    }
    assert!(env.sb.github.issues(REPO).iter().all(|i| i.number == pr), "no issue created for a refused ticket");

    // A valid value links the ticket.
    let n = env.sb.github.add_issue(REPO, "Known bug", "", "alice");
    set_field(&env, field, id, Some(&format!("{web}/{REPO}/issues/{n}")));
    env.escalate().await;
    let m = env.engine().store.mapping(TicketId(id)).unwrap().expect("linked");
    assert_eq!(m.issue_number.0, n);
    assert_eq!(field_notes(&env, id).len(), cases.len() + 1);
}

#[tokio::test]
async fn an_escalated_ticket_with_a_refused_field_gets_no_issue() {
    let (env, field) = env().await;
    let id = env.ticket("Tagged and linked wrongly", &["escalated"]);
    env.sb.zendesk.set_field(id, field, Some("acme/backend#nope"));
    env.sb.settle();
    env.escalate().await;
    assert!(env.issues_for(REPO, id).is_empty(), "the agent meant an existing issue");
    assert_eq!(field_notes(&env, id).len(), 1);
}

#[tokio::test]
async fn unlinking_stops_push_back_and_the_count_drops() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Export broken").await;
    let second = plain(&env, "Export broken here too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    assert!(impact(&env, n)[0].contains("2 Zendesk tickets"));

    set_field(&env, field, second, None);
    env.escalate().await;
    let notes = field_notes(&env, second);
    assert_eq!(notes.len(), 2, "linked, then unlinked: {notes:?}");
    assert!(notes[1].contains("Unlinked"), "{}", notes[1]);
    assert!(tags(&env, second).iter().all(|t| !t.starts_with("github_")), "{:?}", tags(&env, second));
    let comments = impact(&env, n);
    assert_eq!(comments.len(), 1, "edited in place: {comments:?}");
    assert!(comments[0].contains("1 Zendesk ticket is linked"), "{}", comments[0]);
    assert!(!comments[0].contains(&format!("#{second}]")), "{}", comments[0]);

    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.reopen_issue(REPO, n, "bob");
    env.push().await;
    assert_eq!(state_notes(&env, first).len(), 2);
    assert!(state_notes(&env, second).is_empty(), "no note to the unlinked ticket");
}

#[tokio::test]
async fn changing_the_field_moves_the_link() {
    let (env, field) = env().await;
    let a = env.sb.github.add_issue(REPO, "Bug A", "", "alice");
    let b = env.sb.github.add_issue(REPO, "Bug B", "", "alice");
    let id = plain(&env, "Which bug?");
    set_field(&env, field, id, Some(&format!("{REPO}#{a}")));
    env.escalate().await;
    set_field(&env, field, id, Some(&format!("{REPO}#{b}")));
    env.escalate().await;
    let notes = field_notes(&env, id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].contains(&format!("moved from {REPO}#{a}")), "{}", notes[1]);
    let m = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(m.issue_number.0, b);

    env.sb.github.close_issue(REPO, a, "completed", "alice");
    env.push().await;
    assert!(state_notes(&env, id).is_empty(), "the old issue no longer reaches the ticket");
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, b, "completed", "alice");
    env.push().await;
    assert_eq!(state_notes(&env, id).len(), 1);
    let history = env.engine().store.ledger(TicketId(id)).unwrap();
    let events: Vec<&str> = history.iter().map(|e| e.event.as_str()).collect();
    assert!(events.contains(&"linked_by_field") && events.contains(&"relinked_by_field"), "{events:?}");
}

#[tokio::test]
async fn a_fan_out_interrupted_midway_writes_each_note_once() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Outage").await;
    let others: Vec<u64> = (0..3).map(|i| plain(&env, &format!("Outage {i}"))).collect();
    for id in &others {
        env.sb.zendesk.set_field(*id, field, Some(&format!("{REPO}#{n}")));
    }
    env.sb.settle();
    env.escalate().await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    // The second ticket's update is carried out but its answer lost; the third fails outright.
    env.sb.zendesk.door.faults.push(FaultRule::new(
        Some(Method::PUT),
        &format!("/tickets/{}", others[0]),
        Fault::LoseResponse,
    ));
    env.sb
        .zendesk
        .door
        .faults
        .push(FaultRule::new(Some(Method::PUT), &format!("/tickets/{}", others[1]), Fault::Status(500)).times(50));
    let report = env.push().await;
    assert!(report.failed >= 1, "{report:?}");
    assert_eq!(state_notes(&env, others[1]).len(), 0, "{report:?}");
    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(others[1])).unwrap();
    env.push().await;
    env.push().await;
    for id in std::iter::once(first).chain(others.iter().copied()) {
        assert_eq!(state_notes(&env, id).len(), 1, "ticket {id}: {:?}", state_notes(&env, id));
        assert_eq!(env.sb.zendesk.ticket(id).unwrap().status, "solved");
    }
}

#[tokio::test]
async fn a_closed_ticket_does_not_block_the_others() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Shared").await;
    let second = plain(&env, "Shared too");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    env.sb.zendesk.set_status(first, "closed");
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(state_notes(&env, second).len(), 1);
}

#[tokio::test]
async fn a_database_from_the_previous_release_upgrades_and_shares_issues() {
    let (env, field) = env().await;
    // What the previous release (schema 12) left: one escalated ticket, its issue, a ledger line.
    let first = env.ticket("Old escalation", &["escalated"]);
    let body = format!("Escalated.\n\n<!-- ticket-sync:zendesk={first} -->\n");
    let n = env.sb.github.add_issue(REPO, "Old escalation", &body, env.sb.github.login());
    let url = env.sb.github.issue(REPO, n).unwrap().html_url;
    std::fs::create_dir_all(env.db_path().parent().unwrap()).unwrap();
    ticket_sync_store::Store::create_at_version(&env.db_path(), 12).unwrap();
    {
        let conn = rusqlite::Connection::open(env.db_path()).unwrap();
        conn.execute(
            "INSERT INTO mappings (ticket_id, repo, issue_number, issue_id, issue_url, issue_state, created_at, issue_updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open', '2026-01-01T00:00:00Z', NULL)",
            rusqlite::params![first as i64, REPO, n as i64, 1000 + n as i64, url],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO ledger (ticket_id, at, event, side, remote_id) VALUES (?1, '2026-01-01T00:00:00Z', 'issue_created', 'github', ?2)",
            rusqlite::params![first as i64, format!("{REPO}#{n}")],
        )
        .unwrap();
    }
    let store = env.engine().store;
    let m = store.mapping(TicketId(first)).unwrap().expect("the old mapping survives the upgrade");
    assert_eq!((m.issue_number.0, m.linked_by.as_str()), (n, "escalation"));
    assert_eq!(store.ledger(TicketId(first)).unwrap().len(), 1);
    drop(store);

    let second = plain(&env, "New ticket, same bug");
    set_field(&env, field, second, Some(&url));
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, first), [n], "the old ticket is not escalated again");
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    assert_eq!(state_notes(&env, first).len(), 1);
    assert_eq!(state_notes(&env, second).len(), 1);
}

#[tokio::test]
async fn public_replies_of_every_linked_ticket_are_forwarded() {
    let env = Env::with_routes(ROUTES, crate::harness::FORWARD).await;
    let field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    env.rewrite_rules(ROUTES, &format!("{}\n[linking]\nfield_id = {field}\n", crate::harness::FORWARD));
    let (first, n) = env.linked("Shared bug").await;
    let second = plain(&env, "Same bug here");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.zendesk.add_public_comment(first, env.requester, "Still broken for the first customer");
    env.sb.zendesk.add_public_comment(second, env.requester, "And for the second one");
    env.sb.settle();
    env.push().await;
    env.push().await;
    let forwarded = env.forwarded(REPO, n);
    assert_eq!(forwarded.len(), 2, "{forwarded:?}");
    assert!(
        forwarded.iter().any(|c| c.contains("first customer")) && forwarded.iter().any(|c| c.contains("second one"))
    );
}

#[tokio::test]
async fn check_online_verifies_the_link_field() {
    let (env, field) = env().await;
    let ok = env.bin(&["check", "--online"], &[]).await;
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{out}");
    assert!(out.contains(&format!("ok    linking.field_id: field {field}")), "{out}");

    let tagger = env.sb.zendesk.add_ticket_field("tagger", "Product");
    env.rewrite_rules(ROUTES, &format!("[linking]\nfield_id = {tagger}\n"));
    let wrong = env.bin(&["check", "--online"], &[]).await;
    let out = String::from_utf8_lossy(&wrong.stdout).to_string();
    assert!(!wrong.status.success(), "{out}");
    assert!(out.contains("is of type tagger; it must be a text or regexp field"), "{out}");

    env.rewrite_rules(ROUTES, "[linking]\nfield_id = 999999\n");
    let missing = env.bin(&["check", "--online"], &[]).await;
    let out = String::from_utf8_lossy(&missing.stdout).to_string();
    assert!(!missing.status.success() && out.contains("Zendesk has no ticket field 999999"), "{out}");
}

#[tokio::test]
async fn linking_rules_are_checked_with_their_line() {
    let env = Env::new().await;
    env.rewrite_rules(ROUTES, "[linking]\nrepos = [\"not a repo\"]\nstate_tag = true\n");
    let out = env.bin(&["check"], &[]).await;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("linking.field_id") && err.contains("is required"), "{err}");
    assert!(err.contains("linking.state_tag"), "the unknown key is reported too: {err}");
}

#[tokio::test]
async fn a_link_note_that_failed_is_written_later_once_even_for_an_unlinked_ticket() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Flaky").await;
    let refused = plain(&env, "Bad value");
    let unlinked = plain(&env, "Will unlink");
    set_field(&env, field, unlinked, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    assert_eq!(field_notes(&env, unlinked).len(), 1);

    set_field(&env, field, refused, Some("no reference here"));
    set_field(&env, field, unlinked, None);
    for id in [refused, unlinked] {
        let rule = FaultRule::new(Some(Method::PUT), &format!("/tickets/{id}"), Fault::Status(500)).times(50);
        env.sb.zendesk.door.faults.push(rule);
    }
    let report = env.escalate().await;
    assert_eq!(report.failed, 2, "{report:?}");
    assert_eq!(field_notes(&env, refused).len(), 0);
    assert_eq!(field_notes(&env, unlinked).len(), 1);
    env.sb.zendesk.door.faults.clear();
    for id in [refused, unlinked] {
        env.engine().store.retry_now(TicketId(id)).unwrap();
    }
    // Whichever pass comes first finishes the queued notes; neither writes one twice.
    env.push().await;
    env.escalate().await;
    env.push().await;
    assert_eq!(field_notes(&env, refused).len(), 1, "{:?}", field_notes(&env, refused));
    let notes = field_notes(&env, unlinked);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].contains("Unlinked"));
    assert!(env.engine().store.pending_intents().unwrap().is_empty());
}

#[tokio::test]
async fn the_audit_reads_a_shared_issue_once_and_tells_every_ticket() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Shared and deleted").await;
    let others: Vec<u64> = (0..2).map(|i| plain(&env, &format!("Also {i}"))).collect();
    for id in &others {
        env.sb.zendesk.set_field(*id, field, Some(&format!("{REPO}#{n}")));
    }
    env.sb.settle();
    env.escalate().await;
    let cancel = tokio_util::sync::CancellationToken::new();
    let before = env.sb.github.door.log.len();
    env.engine().audit(&cancel).await.unwrap();
    let reads =
        env.sb.github.door.log.entries()[before..].iter().filter(|e| e.path.ends_with(&format!("/issues/{n}"))).count();
    assert_eq!(reads, 1, "one read for three tickets");

    env.sb.github.delete_issue(REPO, n);
    env.engine().audit(&cancel).await.unwrap();
    for id in std::iter::once(first).chain(others) {
        let gone: Vec<String> = env.push_notes(id).into_iter().filter(|n| n.contains("was deleted")).collect();
        assert_eq!(gone.len(), 1, "ticket {id}: {gone:?}");
    }
}

#[tokio::test]
async fn a_link_that_ends_leaves_the_impact_count() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Counted").await;
    let others: Vec<u64> = (0..2).map(|i| plain(&env, &format!("Counted {i}"))).collect();
    for id in &others {
        env.sb.zendesk.set_field(*id, field, Some(&format!("{REPO}#{n}")));
    }
    env.sb.settle();
    env.escalate().await;
    assert!(impact(&env, n)[0].contains("3 Zendesk tickets"));
    env.sb.zendesk.set_status(others[0], "closed");
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    env.escalate().await;
    let comments = impact(&env, n);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains("2 Zendesk tickets"), "{}", comments[0]);
}

/// State tags go through the Tags endpoints after the note: an agent's tags set meanwhile stay,
/// a tag write that fails leaves the note written once and the tags changed on the next try,
/// and a crash between the note and its tags changes them on the next pass.
#[tokio::test]
async fn state_tags_change_once_the_note_is_there_whatever_fails_between() {
    let (env, _field) = env().await;
    let (id, n) = env.linked("Tagged").await;
    assert!(tags(&env, id).contains(&"github_open".to_string()));
    // An agent adds a tag of their own.
    env.sb.zendesk.set_tags(id, &["escalated", "github_open", "vip"]);
    env.sb.settle();
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    // The tag removal fails with a 503 on every try of this pass.
    let tags_path = format!("/api/v2/tickets/{id}/tags");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::DELETE), &tags_path, Fault::Status(503)).times(50));
    let report = env.push().await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(state_notes(&env, id).len(), 1, "the note is written");
    env.sb.zendesk.door.faults.clear();
    env.sb.settle();
    env.engine().store.retry_now(TicketId(id)).unwrap();
    let report = env.push().await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(state_notes(&env, id).len(), 1, "found, not written again");
    let t = tags(&env, id);
    assert!(t.contains(&"github_closed".to_string()) && !t.contains(&"github_open".to_string()), "{t:?}");
    assert!(t.contains(&"vip".to_string()), "the agent's tag stays: {t:?}");

    // A crash between a note and its tags: the next run finds the note and changes the tags.
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.reopen_issue(REPO, n, "bob");
    let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", "after_push_note")]).await;
    assert_ne!(crashed.status.code(), Some(0));
    assert!(tags(&env, id).contains(&"github_closed".to_string()), "the crash came before the tags");
    env.sb.settle();
    let out = env.bin(&["sync"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(state_notes(&env, id).len(), 2, "close and reopen, each once");
    let t = tags(&env, id);
    assert!(t.contains(&"github_open".to_string()) && !t.contains(&"github_closed".to_string()), "{t:?}");
}

/// GitHub's owner and repository names are case-insensitive: a reference in any letter case,
/// or a browser URL in GitHub's own spelling, links the ticket to the repository the rules
/// name, and the close reaches it (part 12, item 5).
#[tokio::test]
async fn a_link_in_any_letter_case_links_the_ticket() {
    let (env, field) = env().await;
    let (_, n) = env.linked("Case matters not").await;
    let url = env.sb.github.issue(REPO, n).unwrap().html_url;
    let shouting = plain(&env, "Upper case reference");
    set_field(&env, field, shouting, Some(&format!("ACME/Backend#{n}")));
    let browser = plain(&env, "Browser URL in another case");
    set_field(&env, field, browser, Some(&url.replace("acme/backend", "Acme/BACKEND")));
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    for id in [shouting, browser] {
        let notes = field_notes(&env, id);
        assert_eq!(notes.len(), 1, "ticket {id}: {notes:?}");
        assert!(!notes[0].contains("not a repository ticket-sync links to"), "{}", notes[0]);
        let m = env.engine().store.mapping(TicketId(id)).unwrap().expect("linked");
        assert_eq!((m.repo.to_string(), m.issue_number.0), (REPO.to_string(), n), "stored as the rules spell it");
    }
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (3, 0), "{report:?}");
    for id in [shouting, browser] {
        assert_eq!(state_notes(&env, id).len(), 1, "ticket {id}");
    }
}

/// store::respell_repo: rules that spell a repository in another letter case than the database
/// (an operator copying GitHub's own spelling, `ACME/Backend`) split its issues' tickets in
/// two: lookups by repository are exact matches, so a ticket linked after the change did not
/// count those linked before, and the issue got a second "linked tickets" comment. The
/// database now follows the rules' spelling when the engine starts.
#[tokio::test]
async fn rules_that_respell_a_repository_keep_one_count_of_its_tickets() {
    let (env, field) = env().await;
    let (first, n) = env.linked("Respelled").await;
    let second = plain(&env, "Before the respelling");
    set_field(&env, field, second, Some(&format!("{REPO}#{n}")));
    env.escalate().await;
    assert_eq!(impact(&env, n).len(), 1);
    let linking = format!("{PUSHBACK}\n[linking]\nfield_id = {field}\nstate_tags = true\n");
    env.rewrite_rules(&ROUTES.replace("acme/backend", "ACME/Backend"), &linking);
    let third = plain(&env, "After the respelling");
    set_field(&env, field, third, Some(&format!("{REPO}#{n}")));
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let comments = impact(&env, n);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("3 Zendesk tickets are linked"), "{}", comments[0]);
    for id in [first, second, third] {
        let m = env.engine().store.mapping(TicketId(id)).unwrap().expect("linked");
        assert_eq!(m.repo.to_string(), "ACME/Backend", "ticket {id}");
    }
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (3, 0), "{report:?}");
}

/// Issue pages on a host the API URL does not tell (GitHub Enterprise Cloud with data
/// residency: API `api.SUB.ghe.com`, pages on `SUB.ghe.com`; a second host name; a proxy):
/// the web host is read from GitHub's own answer, a pasted page link on it links the ticket,
/// and a link on any other host is still refused (part 12, item 6).
#[tokio::test]
async fn a_link_on_githubs_own_page_host_links_though_the_api_is_elsewhere() {
    use ticket_sync_sandbox::{FakeGithub, Sandbox, GITHUB_TOKEN};
    let sb = Sandbox::start().await.unwrap();
    let github = FakeGithub::start_with_layout(GITHUB_TOKEN, sb.clock.clone(), "", Some("localhost")).await.unwrap();
    let sb = Sandbox { github, ..sb };
    let env = Env::on(sb, ROUTES, PUSHBACK).await;
    let field = env.sb.zendesk.add_ticket_field("text", "GitHub issue");
    env.rewrite_rules(ROUTES, &format!("{PUSHBACK}\n[linking]\nfield_id = {field}\n"));
    let n = env.sb.github.add_issue(REPO, "Data residency", "Seen on the EU instance", "alice");
    let page = env.sb.github.issue(REPO, n).unwrap().html_url;
    assert!(page.starts_with("http://localhost:"), "{page}");
    let pasted = plain(&env, "Pasted the page link");
    set_field(&env, field, pasted, Some(&page));
    let elsewhere = plain(&env, "A link on another host");
    set_field(&env, field, elsewhere, Some(&page.replace("localhost", "127.0.0.2")));
    let report = env.escalate().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let m = env.engine().store.mapping(TicketId(pasted)).unwrap().expect("linked");
    assert_eq!((m.issue_number.0, m.issue_url.as_str()), (n, page.as_str()), "the issue's real page URL");
    let refused = field_notes(&env, elsewhere);
    assert!(refused.len() == 1 && refused[0].contains("is not this GitHub"), "{refused:?}");
    assert!(refused[0].contains("http://localhost:"), "the example names the real page host: {}", refused[0]);
}

/// An escalated ticket whose field an agent cleared, then tagged again: ticket-sync does not
/// escalate it to a second issue (nor silently do nothing): one note says why and how to link
/// it, and `status --ticket` shows it (part 12, item 8).
#[tokio::test]
async fn tagging_again_after_an_unlink_is_answered_with_one_note() {
    let (env, field) = env().await;
    let (id, n) = env.linked("Unlinked then tagged again").await;
    set_field(&env, field, id, None);
    env.escalate().await;
    assert!(field_notes(&env, id).iter().any(|note| note.contains("Unlinked")), "{:?}", field_notes(&env, id));
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.zendesk.set_tags(id, &["other"]);
    env.sb.settle();
    env.escalate().await;
    env.sb.clock.advance(std::time::Duration::from_secs(1));
    env.sb.zendesk.set_tags(id, &["escalated"]);
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 0), "{report:?}");
    let said: Vec<String> =
        env.push_notes(id).into_iter().filter(|note| note.contains("does not escalate this ticket again")).collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains(&format!("{REPO}#{n}")), "{}", said[0]);
    assert_eq!(env.issues_for(REPO, id).len(), 1, "no second issue");
    env.sb.settle();
    env.escalate().await;
    let again =
        env.push_notes(id).into_iter().filter(|note| note.contains("does not escalate this ticket again")).count();
    assert_eq!(again, 1, "said once");
    let out = env.bin(&["status", "--ticket", &id.to_string()], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("retagged-"), "status --ticket shows the note: {text}");
}
