//! Identity (issue 10): reconciliation adopts only what ticket-sync itself wrote, with its
//! marker in its own place; customer text never counts; a lost database adopts, never doubles.

use axum::http::Method;
use ticket_sync_core::domain::TicketId;
use ticket_sync_sandbox::{Fault, FaultRule, NewTicket};

use crate::harness::Env;

const REPO: &str = "acme/backend";

fn escalated(env: &Env, subject: &str, description: &str) -> NewTicket {
    let mut t = NewTicket::new(subject, description, env.requester);
    t.tags = vec!["escalated".into()];
    t.status = "open".into();
    t
}

/// Makes the next issue create fail before GitHub carries it out, so the retry reconciles.
fn fail_next_create(env: &Env) {
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/issues", Fault::Status(502)));
}

fn mapped_issue(env: &Env, id: u64) -> Option<u64> {
    env.engine().store.mapping(TicketId(id)).unwrap().map(|m| m.issue_number.0)
}

/// Internal notes by ticket-sync's Zendesk user that carry the ticket's link marker.
fn own_link_notes(env: &Env, id: u64) -> usize {
    let marker = format!("[ticket-sync:link zendesk={id}]");
    let bot = env.zendesk_user();
    env.sb.zendesk.comments(id).iter().filter(|c| !c.public && c.author_id == bot && c.body.contains(&marker)).count()
}

#[tokio::test]
async fn an_attachment_name_cannot_forge_another_tickets_marker() {
    let env = Env::new().await;
    let b = env.ticket("Ticket B", &[]);
    let mut a = escalated(&env, "Ticket A", "plain");
    a.attachments = vec![(format!("<!-- ticket-sync:zendesk={b} -->"), "text/plain".into())];
    let a = env.sb.zendesk.add_ticket(a);
    env.sb.settle();
    env.escalate().await;
    let issue_a = mapped_issue(&env, a).expect("A escalated");
    let body = env.sb.github.issue(REPO, issue_a).unwrap().body.unwrap();
    assert!(!body.contains(&format!("<!-- ticket-sync:zendesk={b} -->")), "{body}");

    env.sb.zendesk.set_tags(b, &["escalated"]);
    env.sb.settle();
    fail_next_create(&env);
    let report = env.engine().escalate(&tokio_util::sync::CancellationToken::new()).await;
    let report = report.expect("the pass is not stopped by a store error");
    assert_eq!((report.created, report.recovered, report.failed), (1, 0, 0), "{report:?}");
    let issue_b = mapped_issue(&env, b).expect("B escalated");
    assert_ne!(issue_a, issue_b);
    assert_eq!(env.sb.github.issues(REPO).len(), 2);
}

#[tokio::test]
async fn an_organisation_name_cannot_forge_a_marker() {
    let env = Env::new().await;
    let org = env.sb.zendesk.add_organization("<!-- ticket-sync:zendesk=777 -->");
    let user = env.sb.zendesk.add_user("Mal", "mal@evil.example", Some(org));
    let mut t = NewTicket::new("Org", "plain", user);
    t.tags = vec!["escalated".into()];
    t.status = "open".into();
    let id = env.sb.zendesk.add_ticket(t);
    env.sb.settle();
    env.escalate().await;
    let body = env.sb.github.issue(REPO, mapped_issue(&env, id).unwrap()).unwrap().body.unwrap();
    assert!(!body.contains("<!-- ticket-sync:zendesk=777 -->"), "{body}");
    assert!(!body.contains("ticket-sync:zendesk=777"), "{body}");
}

#[tokio::test]
async fn an_issue_filed_by_someone_else_with_the_marker_is_not_adopted() {
    let env = Env::new().await;
    let id = env.ticket("Target", &["escalated"]);
    let forged =
        env.sb.github.add_issue(REPO, "Forged", &format!("hi\n\n<!-- ticket-sync:zendesk={id} -->\n"), "mallory");
    fail_next_create(&env);
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered, report.failed), (1, 0, 0), "{report:?}");
    assert_ne!(mapped_issue(&env, id), Some(forged));
}

#[tokio::test]
async fn an_own_issue_with_the_marker_out_of_place_is_not_adopted() {
    let env = Env::new().await;
    let id = env.ticket("Target", &["escalated"]);
    let login = env.sb.github.login().to_string();
    let body = format!("<!-- ticket-sync:zendesk={id} -->\n\nsomething after the marker\n");
    let other = env.sb.github.add_issue(REPO, "Elsewhere", &body, &login);
    fail_next_create(&env);
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered, report.failed), (1, 0, 0), "{report:?}");
    assert_ne!(mapped_issue(&env, id), Some(other));
}

#[tokio::test]
async fn an_adoption_that_conflicts_with_a_mapping_refuses_that_ticket_only() {
    let env = Env::new().await;
    let (a, issue_a) = env.linked("Ticket A").await;
    let b = env.ticket("Ticket B", &[]);
    // Another tool with ticket-sync's token rewrites A's issue to end with B's marker.
    let url = format!("{}/repos/{REPO}/issues/{issue_a}", env.sb.github.base_url());
    let resp = reqwest::Client::new()
        .patch(url)
        .header("authorization", format!("token {}", ticket_sync_sandbox::GITHUB_TOKEN))
        .header("user-agent", "test")
        .json(&serde_json::json!({ "body": format!("moved\n\n<!-- ticket-sync:zendesk={b} -->\n") }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    env.sb.zendesk.set_tags(b, &["escalated"]);
    let c = env.ticket("Ticket C", &["escalated"]);
    fail_next_create(&env);
    let report = env.engine().escalate(&tokio_util::sync::CancellationToken::new()).await;
    let report = report.expect("a conflict does not stop the pass");
    assert_eq!(mapped_issue(&env, a), Some(issue_a));
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(mapped_issue(&env, b).is_none());
    assert!(mapped_issue(&env, c).is_some(), "later tickets still escalate");
}

#[tokio::test]
async fn a_customer_written_link_marker_does_not_count_as_the_link_note() {
    let env = Env::new().await;
    let mut t = escalated(&env, "Suppress", "please ignore\n[ticket-sync:link zendesk=9001]");
    t.id = Some(9001);
    let id = env.sb.zendesk.add_ticket(t);
    env.sb.settle();
    let put = format!("/api/v2/tickets/{id}.json");
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(Method::PUT), &put, Fault::Status(503)));
    env.escalate().await;
    env.escalate().await;
    assert_eq!(own_link_notes(&env, id), 1);
}
#[tokio::test]
async fn a_deleted_database_adopts_the_linked_issue_instead_of_creating_another() {
    let env = Env::new().await;
    let (id, n) = env.linked("Before the loss").await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = env.db_path().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered, report.notes, report.failed), (0, 1, 0, 0), "{report:?}");
    assert_eq!(env.sb.github.issues(REPO).len(), 1);
    assert_eq!(own_link_notes(&env, id), 1);
    assert_eq!(mapped_issue(&env, id), Some(n));
    let again = env.escalate().await;
    assert_eq!((again.created, again.recovered, again.notes), (0, 0, 0), "{again:?}");
}

#[tokio::test]
async fn a_forged_link_note_in_customer_text_is_not_adopted() {
    let env = Env::new().await;
    let login = env.sb.github.login().to_string();
    let other = env.sb.github.add_issue(REPO, "Unrelated", "nothing", &login);
    let url = format!("https://github.com/{REPO}/issues/{other}");
    let mut t = escalated(
        &env,
        "Forged note",
        &format!("Escalated to engineering: GitHub issue {REPO}#{other}\n{url}\n\n[ticket-sync:link zendesk=9002]"),
    );
    t.id = Some(9002);
    let id = env.sb.zendesk.add_ticket(t);
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered), (1, 0), "{report:?}");
    assert_ne!(mapped_issue(&env, id), Some(other));
}

fn db_files(env: &Env) -> Vec<std::path::PathBuf> {
    let p = env.db_path();
    ["", "-wal", "-shm"].iter().map(|s| std::path::PathBuf::from(format!("{}{s}", p.display()))).collect()
}

#[tokio::test]
async fn a_restored_backup_adopts_what_was_escalated_after_it() {
    let env = Env::new().await;
    let (old, _) = env.linked("Before the backup").await;
    let backup = env.dir.path().join("backup");
    std::fs::create_dir_all(&backup).unwrap();
    for (i, f) in db_files(&env).iter().enumerate() {
        if f.exists() {
            std::fs::copy(f, backup.join(i.to_string())).unwrap();
        }
    }
    let (new, n) = env.linked("After the backup").await;
    for (i, f) in db_files(&env).iter().enumerate() {
        let _ = std::fs::remove_file(f);
        let saved = backup.join(i.to_string());
        if saved.exists() {
            std::fs::copy(saved, f).unwrap();
        }
    }
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered, report.failed), (0, 1, 0), "{report:?}");
    assert_eq!(env.sb.github.issues(REPO).len(), 2);
    assert_eq!((own_link_notes(&env, old), own_link_notes(&env, new)), (1, 1));
    assert_eq!(mapped_issue(&env, new), Some(n));
}

#[tokio::test]
async fn a_database_deleted_under_the_running_daemon_stops_it_with_an_error() {
    let schedule = "[schedule]\nescalate = \"* * * * * *\"\npush = \"* * * * * *\"\n";
    let env = Env::with_routes(crate::harness::ROUTES, schedule).await;
    let id = env.ticket("Before the loss", &["escalated"]);
    let mut daemon = crate::daemon::Daemon::start(&env, &[]);
    for _ in 0..400 {
        if own_link_notes(&env, id) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(own_link_notes(&env, id), 1, "the first pass escalated the ticket");
    for f in db_files(&env) {
        let _ = std::fs::remove_file(f);
    }
    // `wait_exit` is bounded: a daemon that goes on silently fails the test.
    let code = daemon.wait_exit(std::time::Duration::from_secs(20)).await;
    assert_eq!(code, Some(1), "{}", daemon.log_text());
    assert!(daemon.log_text().contains("deleted or replaced"), "{}", daemon.log_text());
    assert_eq!(env.sb.github.issues(REPO).len(), 1, "nothing escalated twice");
}

#[tokio::test]
async fn a_colleagues_comment_quoting_a_forward_marker_does_not_count_as_forwarded() {
    // Comments are not pushed back, so the colleague's comment does not touch the ticket.
    let extra = format!("{}\n[pushback]\ncomments = \"off\"\n", crate::harness::FORWARD);
    let env = Env::with_routes(crate::harness::ROUTES, &extra).await;
    let (id, n) = env.linked("Forwarded").await;
    let cid = env.sb.zendesk.add_public_comment(id, env.requester, "the customer's reply");
    env.sb.settle();
    let quote = format!("quoting\n\n<!-- ticket-sync:forwarded zendesk-comment={cid} -->\n");
    env.sb.github.add_comment(REPO, n, "colleague", &quote);
    env.sb.github.door.faults.push(FaultRule::new(Some(Method::POST), "/comments", Fault::Status(502)));
    env.push().await;
    env.sb.settle();
    env.push().await;
    let login = env.sb.github.login().to_string();
    let own = env.sb.github.comments(REPO, n).into_iter().filter(|c| c.user_login == login);
    assert_eq!(own.filter(|c| c.body.contains("the customer's reply")).count(), 1);
}

/// From a cold review: after a lost database, a ticket whose link note names an issue that was
/// deleted, transferred or whose repository was renamed got a second issue and a second note.
#[tokio::test]
async fn a_lost_database_never_creates_a_second_issue_for_a_linked_ticket() {
    for case in ["deleted", "transferred", "renamed"] {
        let env = Env::new().await;
        let (id, n) = env.linked(&format!("Linked, then {case}")).await;
        match case {
            "deleted" => env.sb.github.delete_issue(REPO, n),
            "transferred" => {
                env.sb.github.transfer_issue(REPO, n, "acme/billing");
            }
            _ => env.sb.github.rename_repo(REPO, "backend-v2"),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut p = env.db_path().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        env.sb.settle();
        if case == "renamed" {
            // The route must name the repository as it is called now.
            env.rewrite_rules(&crate::harness::ROUTES.replace("acme/backend", "acme/backend-v2"), "");
        }
        let report = env.escalate().await;
        assert_eq!(report.created, 0, "{case}: {report:?}");
        assert_eq!(own_link_notes(&env, id), 1, "{case}: a second link note");
        let all: usize = ["acme/backend", "acme/billing", "acme/backend-v2"]
            .iter()
            .filter(|r| *r != &"acme/backend" || case != "renamed")
            .map(|r| env.issues_for(r, id).len())
            .sum();
        assert!(all <= 1, "{case}: {all} issues carry the ticket's marker");
        if case != "deleted" {
            assert_eq!(report.recovered, 1, "{case}: the moved issue is adopted: {report:?}");
        }
    }
}
