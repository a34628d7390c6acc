//! Escalation (Zendesk → GitHub): routing, bodies, notes, reruns, crashes and lost answers.

use ticket_sync_sandbox::{Fault, FaultRule, Visibility};

use crate::harness::Env;

#[tokio::test]
async fn tickets_route_to_the_first_matching_repo_with_its_labels() {
    let env = Env::new().await;
    let billing = env.ticket("Refund please", &["escalated", "billing"]);
    let backend = env.ticket("API returns 500", &["escalated"]);
    let ignored = env.ticket("How do I log in", &["question"]);
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (2, 0), "{report:?}");

    let gh = &env.sb.github;
    let b = env.issues_for("acme/billing", billing);
    assert_eq!(b.len(), 1);
    assert_eq!(gh.issue("acme/billing", b[0]).unwrap().labels, ["support", "billing"]);
    let k = env.issues_for("acme/backend", backend);
    assert_eq!(k.len(), 1);
    assert_eq!(gh.issue("acme/backend", k[0]).unwrap().labels, ["support"]);
    assert!(env.issues_for("acme/backend", ignored).is_empty() && env.issues_for("acme/billing", ignored).is_empty());
    assert!(env.issues_for("acme/backend", billing).is_empty());
}

#[tokio::test]
async fn issue_body_carries_the_ticket_and_redacts_personal_data() {
    let env = Env::new().await;
    let mut t = ticket_sync_sandbox::NewTicket::new(
        "Printer on fire",
        "Call me on +1 (555) 123-4567 or mail jane@globex.example",
        env.requester,
    );
    t.tags = vec!["escalated".into()];
    t.priority = Some("urgent".into());
    t.status = "open".into();
    t.attachments = vec![("smoke.png".into(), "image/png".into())];
    let id = env.sb.zendesk.add_ticket(t);
    env.sb.settle();
    env.escalate().await;

    let n = env.issues_for("acme/backend", id)[0];
    let issue = env.sb.github.issue("acme/backend", n).unwrap();
    let body = issue.body.unwrap();
    assert_eq!(issue.title, format!("Printer on fire [Zendesk #{id}]"));
    assert!(body.contains("| Priority | urgent |"), "{body}");
    assert!(body.contains("| Organisation | Globex Corp |"), "{body}");
    assert!(body.contains("smoke.png"), "{body}");
    assert!(body.contains(&format!("{}/agent/tickets/{id}", env.sb.zendesk.base_url())), "{body}");
    assert!(body.contains(&format!("<!-- ticket-sync:zendesk={id} -->")));
    assert!(!body.contains("jane@globex.example") && !body.contains("123-4567"), "{body}");
    assert!(body.contains("[redacted email]") && body.contains("[redacted phone]"));
}

#[tokio::test]
async fn each_ticket_gets_exactly_one_internal_link_note() {
    let env = Env::new().await;
    let ids: Vec<u64> = (0..3).map(|i| env.ticket(&format!("Bug {i}"), &["escalated"])).collect();
    env.escalate().await;
    env.escalate().await;
    for id in ids {
        let notes = env.link_notes(id);
        assert_eq!(notes.len(), 1, "ticket {id}: {notes:?}");
        let n = env.issues_for("acme/backend", id)[0];
        let url = env.sb.github.issue("acme/backend", n).unwrap().html_url;
        assert!(notes[0].contains(&url));
    }
}

#[tokio::test]
async fn a_second_pass_writes_nothing() {
    let env = Env::new().await;
    env.ticket("Bug", &["escalated"]);
    env.escalate().await;
    let (gh, zd) = (env.github_writes(), env.zendesk_writes());
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.notes), (0, 0));
    assert_eq!((env.github_writes(), env.zendesk_writes()), (gh, zd));
}

#[tokio::test]
async fn a_ticket_escalated_later_is_picked_up() {
    let env = Env::new().await;
    let id = env.ticket("Slow dashboard", &["question"]);
    assert_eq!(env.escalate().await.created, 0);
    env.sb.zendesk.set_tags(id, &["question", "escalated"]);
    env.sb.settle();
    assert_eq!(env.escalate().await.created, 1);
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
}

#[tokio::test]
async fn lost_create_response_yields_one_issue() {
    let env = Env::new().await;
    let id = env.ticket("Lost answer", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(axum::http::Method::POST), "/issues", Fault::LoseResponse));
    // A lost answer is a passing failure: the same pass looks for the issue and adopts it.
    let first = env.escalate().await;
    assert_eq!((first.created, first.recovered, first.failed), (0, 1, 0), "{first:?}");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1, "GitHub did create it, once");
    assert_eq!(env.link_notes(id).len(), 1);
    let second = env.escalate().await;
    assert_eq!((second.created, second.recovered, second.failed), (0, 0, 0), "{second:?}");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
    assert_eq!(env.link_notes(id).len(), 1);
}

#[tokio::test]
async fn lost_note_response_yields_one_note() {
    let env = Env::new().await;
    let id = env.ticket("Lost note answer", &["escalated"]);
    env.sb.zendesk.door.faults.push(FaultRule::new(Some(axum::http::Method::PUT), "/tickets/", Fault::LoseResponse));
    let first = env.escalate().await;
    assert_eq!((first.failed, first.notes), (0, 0), "found by its marker in the same pass, not written twice");
    assert_eq!(env.link_notes(id).len(), 1, "Zendesk did write it");
    assert!(env.engine().store.pending_intents().unwrap().is_empty());
    env.escalate().await;
    assert_eq!(env.link_notes(id).len(), 1);
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
}

#[tokio::test]
async fn kill_between_create_and_mapping_yields_one_issue() {
    for point in ["after_issue_create", "after_mapping_write", "before_link_note", "after_link_note"] {
        let env = Env::new().await;
        let a = env.ticket("First", &["escalated"]);
        let b = env.ticket("Second", &["escalated"]);
        let crashed = env.bin(&["sync"], &[("TICKET_SYNC_CRASHPOINT", point)]).await;
        assert!(!crashed.status.success(), "{point}: the process must have aborted");
        let again = env.bin(&["sync"], &[]).await;
        assert!(again.status.success(), "{point}: {}", String::from_utf8_lossy(&again.stderr));
        for id in [a, b] {
            assert_eq!(env.issues_for("acme/backend", id).len(), 1, "{point}: ticket {id}");
            assert_eq!(env.link_notes(id).len(), 1, "{point}: ticket {id}");
        }
        let store = ticket_sync_store::Store::open_read_only(&env.db_path()).unwrap();
        assert_eq!(store.mapping_count().unwrap(), 2, "{point}");
        assert!(store.pending_intents().unwrap().is_empty(), "{point}");
    }
}

#[tokio::test]
async fn the_cursor_survives_a_restart() {
    let env = Env::new().await;
    env.ticket("One", &["escalated"]);
    env.escalate().await;
    env.sb.zendesk.door.log.clear();
    let id = env.ticket("Two", &["escalated"]);
    // A new engine and a new store connection: only the database carries the cursor over.
    let report = env.escalate().await;
    assert_eq!(report.created, 1, "{report:?}");
    let exports: Vec<_> =
        env.sb.zendesk.door.log.entries().into_iter().filter(|e| e.path.contains("incremental")).collect();
    assert!(exports.iter().all(|e| e.query.contains("cursor=") && !e.query.contains("start_time")), "{exports:?}");
    assert_eq!(env.issues_for("acme/backend", id).len(), 1);
}

#[tokio::test]
async fn public_repositories_are_refused_unless_allowed() {
    let env = Env::new().await;
    env.sb.github.add_repo("acme/backend", Visibility::Public, true);
    let id = env.ticket("Secret customer data", &["escalated"]);
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (0, 1));
    assert!(report.failures[0].1.contains("public"), "{:?}", report.failures);
    assert!(env.issues_for("acme/backend", id).is_empty());
    let status = env.bin(&["status", "--json"], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(json["failures"][0]["error"].as_str().unwrap().contains("allow_public_repos"), "{json}");

    env.rewrite_rules(crate::harness::ROUTES, "");
    let text = std::fs::read_to_string(&env.rules_path)
        .unwrap()
        .replace("writes_per_minute = 0", "writes_per_minute = 0\nallow_public_repos = true");
    std::fs::write(&env.rules_path, text).unwrap();
    env.engine().store.retry_now(ticket_sync_core::domain::TicketId(id)).unwrap();
    assert_eq!(env.escalate().await.created, 1);
}
