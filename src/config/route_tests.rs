//! The routing planner (`ticket_sync_core::route`) on rules read from a rules file: the
//! tables live here because only the product reads rules files.

use ticket_sync_core::domain::{Ticket, TicketId};
use ticket_sync_core::route::{decide, Decision};
use ticket_sync_core::rules::Rules;

fn rules() -> Rules {
    let text = r#"
[zendesk]
url = "https://acme.zendesk.com"
email = "bot@acme.com"
[escalation]
tags_any = ["escalated"]
[[route]]
when = { tags_any = ["billing"] }
repo = "acme/billing"
labels = ["support", "billing"]
[[route]]
when = { priority_in = ["urgent"] }
repo = "acme/oncall"
[[route]]
repo = "acme/backend"
labels = ["support"]
"#;
    crate::config::parse(std::path::Path::new("/etc/ticket-sync/sync-rules.toml"), text).unwrap()
}

fn ticket(tags: &[&str], status: &str, priority: Option<&str>) -> Ticket {
    Ticket {
        id: TicketId(1),
        subject: "s".into(),
        description: "d".into(),
        status: status.into(),
        priority: priority.map(str::to_string),
        tags: tags.iter().map(|s| s.to_string()).collect(),
        organization: None,
        updated_at: None,
        fields: Vec::new(),
    }
}

#[test]
fn first_matching_route_wins_and_fallback_catches_the_rest() {
    let r = rules();
    type Case<'a> = (&'a [&'a str], &'a str, Option<&'a str>, bool, &'a str);
    let cases: &[Case] = &[
        (&["escalated", "billing"], "open", Some("urgent"), false, "create acme/billing"),
        (&["escalated"], "open", Some("urgent"), false, "create acme/oncall"),
        (&["escalated"], "pending", None, false, "create acme/backend"),
        (&["billing"], "open", None, false, "not escalated"),
        (&["escalated"], "open", None, true, "linked"),
        (&["escalated"], "closed", None, false, "unwritable"),
        // Solved tickets only when `status_in` names "solved" (these rules do not).
        (&["escalated"], "solved", None, false, "not escalated"),
    ];
    for (tags, status, prio, linked, want) in cases {
        let got = match decide(&r.escalation, &r.routes, &ticket(tags, status, *prio), *linked) {
            Decision::Create(route) => format!("create {}", route.repo),
            Decision::NotEscalated => "not escalated".into(),
            Decision::AlreadyLinked => "linked".into(),
            Decision::Unwritable => "unwritable".into(),
            Decision::NoRoute => "no route".into(),
        };
        assert_eq!(&got, want, "{tags:?} {status} {prio:?}");
    }
}

#[test]
fn solved_tickets_escalate_only_when_the_rules_ask() {
    let mut r = rules();
    r.escalation.filter.status_in = vec!["open".into(), "solved".into()];
    assert!(matches!(
        decide(&r.escalation, &r.routes, &ticket(&["escalated"], "solved", None), false),
        Decision::Create(_)
    ));
}
