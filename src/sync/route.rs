//! Pure escalation decisions: does a ticket escalate, and to which route. No I/O here.

use crate::config::{Match, Route, Rules};
use crate::domain::{Ticket, TicketStatus};

/// What escalation should do with one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'r> {
    /// The ticket does not match `[escalation]`.
    NotEscalated,
    /// Closed or deleted tickets cannot take the link note, so they are never escalated.
    Unwritable,
    /// No route matches and there is no fallback route.
    NoRoute,
    /// The ticket already has an issue; nothing to create.
    AlreadyLinked,
    /// Create an issue through this route.
    Create(&'r Route),
}

/// Whether a ticket satisfies a filter: any listed tag, and status and priority among those listed.
pub fn matches(m: &Match, t: &Ticket) -> bool {
    let tags_ok = m.tags_any.is_empty() || m.tags_any.iter().any(|tag| t.tags.iter().any(|x| x == tag));
    let status_ok = m.status_in.is_empty() || m.status_in.iter().any(|s| s == t.status.as_str());
    let priority_ok =
        m.priority_in.is_empty() || t.priority.as_ref().is_some_and(|p| m.priority_in.iter().any(|x| x == p));
    tags_ok && status_ok && priority_ok
}

/// The first route whose `when` matches; a route without `when` matches everything.
pub fn route_for<'r>(routes: &'r [Route], t: &Ticket) -> Option<&'r Route> {
    routes.iter().find(|r| r.when.as_ref().is_none_or(|w| matches(w, t)))
}

pub fn decide<'r>(rules: &'r Rules, t: &Ticket, linked: bool) -> Decision<'r> {
    if !matches(&rules.escalation.filter, t) {
        return Decision::NotEscalated;
    }
    if linked {
        return Decision::AlreadyLinked;
    }
    if matches!(t.status, TicketStatus::Closed | TicketStatus::Deleted) {
        return Decision::Unwritable;
    }
    // A solved ticket is done: it is escalated only when the rules name `solved` in
    // `status_in` (a first run must not open issues for months of solved tickets).
    if t.status == TicketStatus::Solved && !rules.escalation.filter.status_in.iter().any(|s| s == "solved") {
        return Decision::NotEscalated;
    }
    match route_for(&rules.routes, t) {
        Some(r) => Decision::Create(r),
        None => Decision::NoRoute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TicketId;

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
            let got = match decide(&r, &ticket(tags, status, *prio), *linked) {
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
        assert!(matches!(decide(&r, &ticket(&["escalated"], "solved", None), false), Decision::Create(_)));
    }
}
