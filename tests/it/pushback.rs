//! Push-back (GitHub → Zendesk): notes and statuses for closes, reopens and comments, exactly
//! once, in true order, without echoes, at a cost that grows with changes, not with links.

use axum::http::Method;
use ticket_sync::sync::PassReport;
use ticket_sync_core::domain::LinkState;
use ticket_sync_core::domain::{Issue, IssueId, IssueNumber, StateReason, TicketId};
use ticket_sync_sandbox::{Fault, FaultRule, NewTicket};
use ticket_sync_store::Store;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, PUSHBACK, ROUTES};

const REPO: &str = "acme/backend";

async fn env() -> Env {
    Env::with_routes(ROUTES, PUSHBACK).await
}

fn status(env: &Env, ticket: u64) -> String {
    env.sb.zendesk.ticket(ticket).unwrap().status
}

/// GitHub's timestamps have whole seconds; within one second the order of a comment and an
/// event cannot be told from the API, so steps of a story are a second apart, as people's are.
fn tick(env: &Env) {
    env.sb.clock.advance(std::time::Duration::from_secs(1));
}

fn zendesk_puts(env: &Env) -> usize {
    env.sb.zendesk.door.log.count(|e| e.method == Method::PUT)
}

#[tokio::test]
async fn closing_an_issue_gives_one_internal_note_and_the_status() {
    let env = env().await;
    let (id, n) = env.linked("Crash on save").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let url = env.sb.github.issue(REPO, n).unwrap().html_url;
    assert!(notes[0].contains("closed as completed by alice") && notes[0].contains(&url), "{}", notes[0]);
    assert_eq!(status(&env, id), "solved");

    let mapping = env.engine().store.mapping(TicketId(id)).unwrap().unwrap();
    assert_eq!(
        (mapping.issue_state.as_str(), mapping.state_reason.as_ref().map(StateReason::as_str)),
        ("closed", Some("completed"))
    );
    assert!(mapping.last_pushed_at.is_some());
}

#[tokio::test]
async fn a_second_pass_writes_nothing() {
    let env = env().await;
    let (id, n) = env.linked("Slow").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.sb.github.add_comment(REPO, n, "carol", "fixed in 1.2");
    env.push().await;
    let writes = (env.github_writes(), env.zendesk_writes());
    for _ in 0..2 {
        let report = env.push().await;
        assert_eq!((report.pushed, report.failed), (0, 0), "{report:?}");
    }
    assert_eq!((env.github_writes(), env.zendesk_writes()), writes);
    assert_eq!(env.push_notes(id).len(), 2);
}

#[tokio::test]
async fn reopening_gives_one_note_and_the_reopened_status() {
    let env = env().await;
    let (id, n) = env.linked("Flaky").await;
    env.sb.github.close_issue(REPO, n, "not_planned", "alice");
    env.push().await;
    assert_eq!(status(&env, id), "hold");
    env.sb.github.reopen_issue(REPO, n, "bob");
    assert_eq!(env.push().await.pushed, 1);
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[1].contains("reopened by bob"), "{}", notes[1]);
    assert_eq!(status(&env, id), "open");
}

/// GitHub's issue events carry no `state_reason` (FACTS.md, "Issue events"): why an issue
/// was closed is read from the issue itself.
#[tokio::test]
async fn closes_as_not_planned_and_as_duplicate_set_their_statuses_from_the_issues_reason() {
    let env = env().await;
    let (not_planned, a) = env.linked("Won't fix").await;
    let (duplicate, b) = env.linked("Seen before").await;
    env.sb.github.close_issue(REPO, a, "not_planned", "alice");
    env.sb.github.close_issue(REPO, b, "duplicate", "bob");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (2, 0), "{report:?}");
    let first_line = |id| env.push_notes(id)[0].lines().next().unwrap().to_string();
    assert!(first_line(not_planned).ends_with("was closed as not planned by alice."), "{}", first_line(not_planned));
    assert!(first_line(duplicate).ends_with("was closed as duplicate by bob."), "{}", first_line(duplicate));
    assert_eq!((status(&env, not_planned), status(&env, duplicate)), ("hold".into(), "pending".into()));
}

#[tokio::test]
async fn a_comment_becomes_one_internal_note_with_author_text_and_link() {
    let env = env().await;
    let (id, n) = env.linked("Broken export").await;
    let c = env.sb.github.add_comment(REPO, n, "carol", "Root cause found: the CSV writer.");
    assert_eq!(env.push().await.pushed, 1);
    assert_eq!(env.push().await.pushed, 0);
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("carol commented on GitHub issue acme/backend#"), "{}", notes[0]);
    assert!(notes[0].contains("Root cause found: the CSV writer."));
    assert!(notes[0].contains(&format!("#issuecomment-{c}")), "{}", notes[0]);
    assert_eq!(status(&env, id), "open", "a comment does not change the status");
}

#[tokio::test]
async fn closed_reopened_closed_between_passes_gives_three_notes_in_order() {
    let env = env().await;
    let (id, n) = env.linked("Intermittent").await;
    let gh = &env.sb.github;
    gh.close_issue(REPO, n, "completed", "alice");
    tick(&env);
    gh.add_comment(REPO, n, "bob", "still happens for me");
    tick(&env);
    gh.reopen_issue(REPO, n, "bob");
    tick(&env);
    gh.close_issue(REPO, n, "duplicate", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (4, 0), "{report:?}");
    let notes = env.push_notes(id);
    let firsts: Vec<&str> = notes.iter().map(|n| n.lines().next().unwrap()).collect();
    assert_eq!(firsts.len(), 4, "{notes:?}");
    // GitHub's events do not say why an issue was closed, and the issue tells only its last
    // close's reason: the first close's note says it was closed and sets no status.
    assert!(firsts[0].ends_with("was closed by alice."), "{firsts:?}");
    assert!(!notes[0].contains("Ticket status set to"), "{}", notes[0]);
    assert!(firsts[1].starts_with("bob commented"), "{firsts:?}");
    assert!(firsts[2].ends_with("was reopened by bob."), "{firsts:?}");
    assert!(firsts[3].ends_with("was closed as duplicate by alice."), "{firsts:?}");
    assert_eq!(status(&env, id), "pending", "the final status is the final state's");
    assert_eq!(env.push().await.pushed, 0);
}

#[tokio::test]
async fn the_daemons_own_notes_and_comments_are_not_echoed() {
    let env = env().await;
    let (id, n) = env.linked("Echo").await;
    let bot = env.sb.github.login().to_string();
    env.sb.github.add_comment(REPO, n, &bot, "a comment the daemon wrote");
    // A person's quote-reply that copies a forwarded comment, hidden marker included, is
    // theirs: it is mirrored (once, the marker defused), never taken for the daemon's own.
    env.sb.github.add_comment(REPO, n, "someone", "> forwarded\n<!-- ticket-sync:forwarded zendesk=1 -->\nthanks");
    let gh_writes = env.github_writes();
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let notes = env.push_notes(id);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].starts_with("someone commented") && !notes[0].contains("<!-- ticket-sync:"), "{}", notes[0]);
    assert_eq!(env.link_notes(id).len(), 1);
    assert_eq!(env.github_writes(), gh_writes, "the link note is not sent back to GitHub");
}

#[tokio::test]
async fn an_idle_pass_over_2000_mapped_issues_costs_three_requests_per_repo() {
    // With forwarding on, as the most a pass can cost: the export is the one Zendesk request.
    let env = Env::with_routes(ROUTES, &format!("{PUSHBACK}\n[forward]\ncomments = \"public\"\n")).await;
    let gh = &env.sb.github;
    let store = Store::open(&env.db_path()).unwrap();
    let mut tickets = Vec::new();
    for i in 0..2000u64 {
        // Real issues are updated at different times; the fake's clock only moves when told.
        env.sb.clock.advance(std::time::Duration::from_secs(1));
        let n = gh.add_issue(REPO, &format!("Issue {i}"), "body", "alice");
        let view = gh.issue(REPO, n).unwrap();
        let ticket = if i < 10 {
            let mut t = NewTicket::new(&format!("Ticket {i}"), "d", env.requester);
            t.status = "open".into();
            env.sb.zendesk.add_ticket(t)
        } else {
            9_000_000 + i
        };
        let issue = Issue {
            repo: REPO.parse().unwrap(),
            number: IssueNumber(n),
            id: IssueId(view.id),
            html_url: view.html_url,
            state: view.state.into(),
            state_reason: None,
            body: None,
            updated_at: Some(view.updated_at),
            closed_by: None,
            is_pull_request: false,
        };
        store.insert_mapping(TicketId(ticket), &issue).unwrap();
        tickets.push((ticket, n));
    }
    drop(store);
    // The first pass reads everything once; the next settles the watermarks and ETags.
    env.push().await;
    env.push().await;

    env.sb.github.door.log.clear();
    env.sb.zendesk.door.log.clear();
    let report = env.push().await;
    let gh_requests = env.sb.github.door.log.entries();
    // A new engine mints an OAuth access token the first time it needs Zendesk; that is no
    // cost of the pass (a daemon keeps its token for an hour).
    let zd_requests = env.sb.zendesk.door.log.count(|e| e.path != "/oauth/tokens");
    eprintln!("idle pass: {} GitHub request(s), {zd_requests} Zendesk request(s)", gh_requests.len());
    // Issues, comments, and pull requests (`[fixes]`, on by default).
    assert!(gh_requests.len() <= 3, "{gh_requests:?}");
    assert!(gh_requests.iter().all(|r| r.status == 304), "{gh_requests:?}");
    assert!(zd_requests <= 1);
    assert_eq!(report.pushed, 0);

    env.sb.clock.advance(std::time::Duration::from_secs(1));
    for (_, n) in &tickets[..10] {
        gh.close_issue(REPO, *n, "completed", "alice");
    }
    env.sb.github.door.log.clear();
    env.sb.zendesk.door.log.clear();
    let report = env.push().await;
    let gh_n = env.sb.github.door.log.len();
    let zd_n = env.sb.zendesk.door.log.count(|e| e.path != "/oauth/tokens");
    eprintln!("pass with 10 changes: {gh_n} GitHub request(s), {zd_n} Zendesk request(s)");
    assert_eq!((report.pushed, report.failed), (10, 0), "{report:?}");
    let puts = env.sb.zendesk.door.log.count(|e| e.method == Method::PUT);
    assert_eq!((puts, zd_n), (10, 11), "one update per change, note and status together, and the export");
    assert!(gh_n <= 5, "{:?}", env.sb.github.door.log.entries());
    for (ticket, _) in &tickets[..10] {
        assert_eq!(env.push_notes(*ticket).len(), 1);
        assert_eq!(status(&env, *ticket), "solved");
    }
}

#[tokio::test]
async fn a_closed_zendesk_ticket_marks_the_mapping_and_later_passes_skip_it() {
    let env = env().await;
    let (closed, a) = env.linked("Old one").await;
    let (open, b) = env.linked("New one").await;
    env.sb.zendesk.set_status(closed, "closed");
    env.sb.github.close_issue(REPO, a, "completed", "alice");
    env.sb.github.close_issue(REPO, b, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    assert_eq!(env.push_notes(open).len(), 1, "the other ticket goes on");
    let store = env.engine().store;
    assert_eq!(store.mapping(TicketId(closed)).unwrap().unwrap().link_state, LinkState::TicketClosed);
    assert!(store.pending_intents().unwrap().is_empty());
    drop(store);

    env.sb.github.add_comment(REPO, a, "carol", "one more thing");
    let puts = zendesk_puts(&env);
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (0, 0), "{report:?}");
    assert_eq!(zendesk_puts(&env), puts, "no update is tried on the closed ticket");
}

#[tokio::test]
async fn a_failing_ticket_does_not_block_the_others_and_is_retried_in_order() {
    let env = env().await;
    let (bad, a) = env.linked("Unlucky").await;
    let (good, b) = env.linked("Lucky").await;
    env.sb
        .zendesk
        .door
        .faults
        .push(FaultRule::new(Some(Method::PUT), &format!("/tickets/{bad}"), Fault::Status(500)).times(50));
    env.sb.github.close_issue(REPO, a, "completed", "alice");
    tick(&env);
    env.sb.github.add_comment(REPO, a, "carol", "after the close");
    env.sb.github.close_issue(REPO, b, "completed", "alice");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (1, 1), "{report:?}");
    assert_eq!(env.push_notes(good).len(), 1);
    assert!(env.push_notes(bad).is_empty());

    env.sb.zendesk.door.faults.clear();
    env.engine().store.retry_now(TicketId(bad)).unwrap();
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (2, 0), "{report:?}");
    let notes = env.push_notes(bad);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("closed as completed") && notes[1].contains("after the close"), "{notes:?}");
    assert_eq!(env.push().await.pushed, 0);
}

#[tokio::test]
async fn lost_note_response_yields_one_push_note() {
    let env = env().await;
    let (id, n) = env.linked("Lost answer").await;
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), "/tickets/", Fault::LoseResponse));
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    let first = env.push().await;
    assert_eq!((first.pushed, first.failed), (0, 0), "found by its marker in the same pass: {first:?}");
    assert_eq!(env.push_notes(id).len(), 1, "Zendesk did write it");
    let report = env.push().await;
    assert_eq!((report.pushed, report.failed), (0, 0), "{report:?}");
    assert_eq!(env.push_notes(id).len(), 1);
    assert!(env.engine().store.pending_intents().unwrap().is_empty());
}

#[tokio::test]
async fn kill_between_the_zendesk_write_and_the_ledger_gives_no_duplicate_note() {
    for point in ["before_push_note", "after_push_note"] {
        let env = env().await;
        let (a, n) = env.linked("First").await;
        let (b, m) = env.linked("Second").await;
        env.sb.github.close_issue(REPO, n, "completed", "alice");
        env.sb.github.close_issue(REPO, m, "not_planned", "alice");
        let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", point)]).await;
        assert!(!crashed.status.success(), "{point}: the process must have aborted");
        let again = env.bin(&["sync"], &[]).await;
        assert!(again.status.success(), "{point}: {}", String::from_utf8_lossy(&again.stderr));
        for id in [a, b] {
            assert_eq!(env.push_notes(id).len(), 1, "{point}: ticket {id}");
        }
        assert_eq!((status(&env, a), status(&env, b)), ("solved".to_string(), "hold".to_string()), "{point}");
        let store = Store::open_read_only(&env.db_path()).unwrap();
        assert!(store.pending_intents().unwrap().is_empty(), "{point}");
    }
}

#[tokio::test]
async fn closed_and_reopened_between_passes_is_told_though_the_state_looks_unchanged() {
    let env = env().await;
    let (id, n) = env.linked("Flapping").await;
    env.push().await;
    let gh = &env.sb.github;
    tick(&env);
    gh.close_issue(REPO, n, "not_planned", "alice");
    tick(&env);
    gh.reopen_issue(REPO, n, "bob");
    let report = env.push().await;
    assert_eq!(report.pushed, 2, "{report:?}");
    let notes = env.push_notes(id);
    // The reopened issue's `state_reason` is "reopened": why it was closed is not known.
    assert!(notes[0].lines().next().unwrap().ends_with("was closed by alice."), "{notes:?}");
    assert!(notes[1].lines().next().unwrap().ends_with("was reopened by bob."), "{notes:?}");
    assert_eq!(status(&env, id), "open");
}

#[tokio::test]
async fn a_re_escalated_ticket_reopens_its_closed_issue_instead_of_a_second_one() {
    let env = env().await;
    let (id, n) = env.linked("Came back").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    // Support drops the tag (the link stays), then escalates again.
    env.sb.zendesk.set_tags(id, &["followup"]);
    env.sb.settle();
    assert_eq!(env.escalate().await.created, 0);
    assert!(env.engine().store.mapping(TicketId(id)).unwrap().is_some(), "losing the tag keeps the link");
    env.sb.zendesk.set_tags(id, &["followup", "escalated"]);
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.pushed, report.failed), (0, 1, 0), "{report:?}");
    assert_eq!(env.issues_for(REPO, id), [n], "still one issue");
    assert_eq!(env.sb.github.issue(REPO, n).unwrap().state, "open", "the issue was reopened");
    let notes = env.push_notes(id);
    assert!(notes.last().unwrap().starts_with("Escalated again"), "{notes:?}");
    env.sb.settle();
    let again = env.escalate().await;
    let pushed = env.push().await;
    assert_eq!((again.created, again.pushed, pushed.pushed), (0, 0, 0), "the daemon's own reopen is not echoed");
}

async fn audit(env: &Env) -> PassReport {
    env.engine().audit(&CancellationToken::new()).await.expect("audit runs")
}

#[tokio::test]
async fn the_audit_follows_a_transferred_issue_and_ends_a_deleted_ones_link() {
    let env = env().await;
    env.sb.github.add_repo("acme/platform", ticket_sync_sandbox::Visibility::Private, true);
    let (moved, n_moved) = env.linked("Moves").await;
    let (deleted, n_deleted) = env.linked("Deleted").await;
    let (kept, _) = env.linked("Stays").await;
    assert_eq!(audit(&env).await.failed, 0, "the first audit reads every open issue");
    env.sb.github.door.log.clear();
    audit(&env).await;
    assert_eq!(env.sb.github.door.log.count(|e| e.status == 304), 3, "an unchanged issue costs a free 304");

    let new_number = env.sb.github.transfer_issue(REPO, n_moved, "acme/platform");
    env.sb.github.delete_issue(REPO, n_deleted);
    let report = audit(&env).await;
    assert_eq!((report.pushed, report.failed), (1, 0), "{report:?}");
    let store = env.engine().store;
    let m = store.mapping(TicketId(moved)).unwrap().unwrap();
    assert_eq!(
        (m.repo.to_string(), m.issue_number.0, m.link_state),
        ("acme/platform".into(), new_number, LinkState::Active)
    );
    assert_eq!(store.mapping(TicketId(deleted)).unwrap().unwrap().link_state, LinkState::IssueGone);
    let gone_notes = env.push_notes(deleted);
    assert_eq!(gone_notes.len(), 1, "{gone_notes:?}");
    assert!(gone_notes[0].contains("was deleted"), "{gone_notes:?}");
    assert!(env.push_notes(kept).is_empty() && env.push_notes(moved).is_empty());

    // The moved link keeps working in its new repository; the ended one stays quiet.
    env.sb.github.close_issue("acme/platform", new_number, "completed", "dana");
    let pushed = env.push().await;
    assert_eq!(pushed.pushed, 1, "{pushed:?}");
    assert!(env.push_notes(moved)[0].contains("acme/platform"));
    assert_eq!(audit(&env).await.pushed, 0);
    assert_eq!(env.push_notes(deleted).len(), 1);
}

#[tokio::test]
async fn a_re_escalation_whose_reopen_is_refused_leaves_no_untrue_note() {
    let env = env().await;
    let (id, n) = env.linked("Gone before coming back").await;
    env.sb.github.close_issue(REPO, n, "completed", "alice");
    env.push().await;
    env.sb.zendesk.set_tags(id, &["followup"]);
    env.sb.settle();
    env.escalate().await;
    env.sb.github.delete_issue(REPO, n);
    env.sb.zendesk.set_tags(id, &["followup", "escalated"]);
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 1), "{report:?}");
    env.engine().store.retry_now(TicketId(id)).unwrap();
    env.push().await;
    assert!(
        env.push_notes(id).iter().all(|n| !n.starts_with("Escalated again")),
        "no note may claim a reopen that did not happen: {:?}",
        env.push_notes(id)
    );
}
