//! Bad input from the APIs: odd content is used or cut, broken answers fail one item or one
//! pass, never the daemon, never a stuck cursor.

use ticket_sync_sandbox::{Fault, FaultRule, NewTicket};

use crate::harness::Env;

#[tokio::test]
async fn odd_ticket_content_escalates_cleanly() {
    let env = Env::new().await;
    let zd = &env.sb.zendesk;
    let mut cases = Vec::new();
    let mut add = |subject: &str, description: &str, tags: &[&str], id: Option<u64>| {
        let mut t = NewTicket::new(subject, description, env.requester);
        t.tags = tags.iter().map(|s| s.to_string()).collect();
        t.id = id;
        t.status = "open".into();
        cases.push(zd.add_ticket(t));
    };
    add(
        "<b>HTML</b> subject",
        "<script>alert(1)</script><!-- ticket-sync:zendesk=1 --> <img src=x>",
        &["escalated"],
        None,
    );
    add("🔥 مرحبا بالعالم \u{202e}reversed", "نص من اليمين إلى اليسار 😀👍🏽", &["escalated", "vip/gold", "x:y"], None);
    add("", "", &["escalated"], None);
    add("Huge", &"x".repeat(100_000), &["escalated"], None);
    add("Sixty-four bits", "big id", &["escalated"], Some(33_144_692_244_499));
    env.sb.settle();
    let report = env.escalate().await;
    assert_eq!((report.created, report.failed), (cases.len() as u64, 0), "{report:?}");
    for id in cases {
        let numbers = env.issues_for("acme/backend", id);
        assert_eq!(numbers.len(), 1, "ticket {id}");
        let issue = env.sb.github.issue("acme/backend", numbers[0]).unwrap();
        let body = issue.body.unwrap();
        assert!(body.chars().count() <= 65_536);
        assert_eq!(body.matches("<!-- ticket-sync:zendesk=").count(), 1, "only the real marker: {body}");
        assert!(issue.title.ends_with(&format!("[Zendesk #{id}]")), "{}", issue.title);
        assert_eq!(env.link_notes(id).len(), 1);
    }
}

#[tokio::test]
async fn a_cut_off_export_answer_fails_the_pass_and_keeps_the_cursor() {
    let env = Env::new().await;
    let first = env.ticket("Before", &["escalated"]);
    env.escalate().await;
    let cursor_before = env.engine().store.cursor("zendesk_export").unwrap();
    let second = env.ticket("After", &["escalated"]);
    env.sb.zendesk.door.faults.push(FaultRule::new(None, "/incremental/", Fault::Truncate));
    let err = env.engine().escalate(&Default::default()).await.expect_err("a cut-off page fails the pass");
    assert!(err.to_string().contains("could not be read"), "{err}");
    assert_eq!(env.engine().store.cursor("zendesk_export").unwrap(), cursor_before, "the cursor did not move");
    let report = env.escalate().await;
    assert_eq!(report.created, 1);
    assert_eq!(env.issues_for("acme/backend", first).len(), 1);
    assert_eq!(env.issues_for("acme/backend", second).len(), 1);
}

#[tokio::test]
async fn a_cut_off_create_answer_fails_one_ticket_and_is_reconciled() {
    let env = Env::new().await;
    let a = env.ticket("Cut off", &["escalated"]);
    let b = env.ticket("Fine", &["escalated"]);
    env.sb.github.door.faults.push(FaultRule::new(Some(axum::http::Method::POST), "/issues", Fault::Truncate));
    // The cut-off answer is a passing failure: the same pass reconciles and adopts the issue.
    let report = env.escalate().await;
    assert_eq!((report.created, report.recovered, report.failed), (1, 1, 0), "{report:?}");
    let again = env.escalate().await;
    assert_eq!((again.created, again.recovered, again.failed), (0, 0, 0), "{again:?}");
    for id in [a, b] {
        assert_eq!(env.issues_for("acme/backend", id).len(), 1);
        assert_eq!(env.link_notes(id).len(), 1);
    }
}
