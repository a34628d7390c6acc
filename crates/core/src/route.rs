//! Pure escalation decisions: does a ticket escalate, and to which route. No I/O here.

use crate::domain::{Ticket, TicketStatus};
use crate::rules::{Escalation, Match, Route};

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

/// What `[escalation]` and the `[[route]]`s say of one ticket (`linked`: it has an issue already).
pub fn decide<'r>(escalation: &Escalation, routes: &'r [Route], t: &Ticket, linked: bool) -> Decision<'r> {
    if !matches(&escalation.filter, t) {
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
    if t.status == TicketStatus::Solved && !escalation.filter.status_in.iter().any(|s| s == "solved") {
        return Decision::NotEscalated;
    }
    match route_for(routes, t) {
        Some(r) => Decision::Create(r),
        None => Decision::NoRoute,
    }
}
