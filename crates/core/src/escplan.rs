//! The escalation decision for one ticket, pure: the ticket as read plus what is stored about
//! it become one `EscalationPlan`, which the escalation pass (`sync/escalate.rs`) carries out.
//!
//! The questions are asked in this order; the first that decides ends the plan:
//! 1. A copy older than one read directly (for a webhook delivery) says nothing new: acting on
//!    it could undo what the newer copy showed (a tag removed again, a field changed back).
//! 2. A write an earlier escalation left unfinished (its issue, or the issue's link note) is
//!    carried on, but not while it waits out a failure: the ticket changing again is no reason
//!    to hurry.
//! 3. A linked ticket the export shows deleted ends its link, at no request.
//! 4. `[linking]`: a changed link field decides the ticket's link (link, move, unlink, refuse),
//!    and no issue is created for it; a value that stands (even a refused one) keeps an
//!    unlinked ticket from being escalated beside it. A cleared field with no link is recorded
//!    and the ticket goes on to 5 and 6. The note of the field's last change, when an earlier
//!    attempt left it unwritten, is written first, whatever follows.
//! 5. A linked ticket follows the re-escalation rule.
//! 6. Otherwise `[escalation]` and the routes (`route::decide`) decide: create an issue through
//!    a route, or skip the ticket.
//!
//! What needs a remote answer is the pass's, named as such there: reading the issue a link
//! field names (and GitHub's web host, once, before refusing a link to another host), and,
//! before creating, looking on the ticket for ticket-sync's own link note of an escalation a
//! lost database forgot.

use chrono::{DateTime, Utc};
use url::Url;

use crate::domain::{IssueNumber, IssueState, LinkState, Mapping, RepoName, Ticket, TicketStatus};
use crate::linkref::{self, FieldRef, RefProblem};
use crate::route::{self, Decision};
use crate::rules::{Escalation, Route};

/// Where the copy of the ticket comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The export, or a direct read for a webhook delivery: the ticket as it is now.
    Live,
    /// The copy stored with the ticket's failure, read again for its retry: it may be stale.
    Snapshot,
}

/// Whether an earlier escalation of the ticket left a write unfinished (its issue, or the
/// issue's link note).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// Nothing is left unfinished.
    Nothing,
    /// A write is left and due: it is carried on.
    Due,
    /// A write is left, waiting out an earlier failure's back-off.
    HeldBack,
}

/// What `[linking]` knows of the ticket's link field; present only with `[linking]` on.
#[derive(Debug, Clone, Copy)]
pub struct FieldFacts<'a> {
    /// The field's text in this copy of the ticket.
    pub value: &'a str,
    /// The value last acted on, with the ticket's `updated_at` then (Zendesk's clock).
    pub acted_on: Option<(&'a str, DateTime<Utc>)>,
    /// The note telling of that change is still to be written (an earlier attempt failed).
    pub note_pending: bool,
    /// GitHub's web base as known now: a link in the field is read against it.
    pub web_base: &'a Url,
}

/// Everything the decision depends on: the ticket, and what is stored about it.
#[derive(Debug, Clone, Copy)]
pub struct TicketFacts<'a> {
    pub ticket: &'a Ticket,
    pub source: Source,
    /// The `updated_at` of the newest copy read directly (for a webhook delivery), if any.
    pub read_directly_at: Option<DateTime<Utc>>,
    pub unfinished: Unfinished,
    /// The ticket's link, whatever its state.
    pub mapping: Option<&'a Mapping>,
    pub field: Option<FieldFacts<'a>>,
}

/// What the escalation pass does with one ticket: the writes before `step`, then `step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPlan<'a> {
    /// The note of the link field's last change is still unwritten: it is written first.
    pub finish_field_note: bool,
    /// The link field was cleared on a ticket with no active link: the empty value is recorded
    /// as acted on, and `step` is what escalation does with the ticket as usual.
    pub record_cleared_field: bool,
    pub step: Step<'a>,
}

/// The one thing escalation does with the ticket (see the module's order of questions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Nothing to do, for this reason.
    Ignore(Ignored),
    /// An earlier escalation's unfinished write waits out its failure; nothing else happens.
    Wait,
    /// Carry on the unfinished write of an earlier escalation.
    Resume,
    /// The export shows the linked ticket deleted: its link ends here, at no request, instead
    /// of costing an audit read a day and, once its issue changes, a refused note.
    EndLink,
    /// The link field changed: the ticket's link follows it; no issue is created.
    Field(FieldChange),
    /// The re-escalation rule's step for the ticket's link.
    Reescalate(&'a Mapping, Reescalation),
    /// An escalated ticket that cannot be escalated: counted as skipped and logged.
    Skip(Skipped),
    /// Create an issue through this route (unless the ticket shows an earlier escalation).
    Create(&'a Route),
}

/// Why a ticket needs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// The copy is older than one read directly.
    OlderCopy,
    /// The link field's value stands for the agent's intent (unchanged, or refused when it
    /// was read): no issue is created beside it.
    FieldStands,
    /// A stored copy of a linked ticket: it may be stale (the tag removed again since), so the
    /// re-escalation rule acts only on what the export shows now, and a queued reopen note is
    /// the push pass's to finish.
    LinkedSnapshot,
    /// A linked ticket that still matches `[escalation]`, or still does not.
    LinkedUnchanged,
    /// The ticket does not match `[escalation]` (a solved one matches only when `status_in`
    /// names `solved`).
    NotEscalated,
}

/// Why an escalated ticket is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// Closed (or deleted): it cannot take the link note.
    Unwritable,
    /// No `[[route]]` matches it and there is no fallback route.
    NoRoute,
}

/// What a changed link field asks for, read against GitHub's web base (`field_change`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldChange {
    /// Cleared while the ticket is linked: the link ends.
    Unlink,
    /// Cleared with no active link: nothing to undo; the value is recorded as acted on.
    Cleared,
    /// It names the linked issue (written another way, or ticket-sync's own write-back): the
    /// value is recorded as acted on.
    SameIssue,
    /// It names another issue: linked (or the link moved) once the issue is read and found
    /// linkable, else refused.
    Link(RepoName, IssueNumber),
    /// It names no issue ticket-sync can link: the agent is told why.
    Refuse(RefProblem),
}

/// The re-escalation rule for a linked ticket: losing the escalation match never unlinks it;
/// matching again while its issue is closed reopens that issue instead of creating another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reescalation {
    /// It no longer matches `[escalation]`: remembered, so that matching again re-escalates.
    LostMatch,
    /// It matches again while its issue is open (or its link ended otherwise): the lost match
    /// is forgotten, nothing else.
    MatchesAgain,
    /// It matches again after an agent unlinked it: one note says why nothing more happens.
    AfterUnlink,
    /// It matches again while its issue is closed: the issue is reopened, with one note.
    Reopen,
}

/// The plan for one ticket; `escalation` and `routes` are the rules' `[escalation]` and
/// `[[route]]`s.
pub fn plan<'a>(escalation: &Escalation, routes: &'a [Route], f: &TicketFacts<'a>) -> EscalationPlan<'a> {
    let t = f.ticket;
    let only = |step| EscalationPlan { finish_field_note: false, record_cleared_field: false, step };
    if matches!((f.read_directly_at, t.updated_at), (Some(read), Some(at)) if at < read) {
        return only(Step::Ignore(Ignored::OlderCopy));
    }
    match f.unfinished {
        Unfinished::HeldBack => return only(Step::Wait),
        Unfinished::Due => return only(Step::Resume),
        Unfinished::Nothing => {}
    }
    let active = f.mapping.filter(|m| m.link_state == LinkState::Active);
    if t.status == TicketStatus::Deleted && active.is_some() {
        return only(Step::EndLink);
    }
    let Some(field) = &f.field else { return only(escalation_step(escalation, routes, f)) };
    let value = field.value.trim();
    let (record_cleared_field, step) = if field_is_new(t, field) {
        match field_change(linkref::parse(value, field.web_base), active) {
            FieldChange::Cleared => (true, escalation_step(escalation, routes, f)),
            change => (false, Step::Field(change)),
        }
    } else if !value.is_empty() && f.mapping.is_none() {
        (false, Step::Ignore(Ignored::FieldStands))
    } else {
        (false, escalation_step(escalation, routes, f))
    };
    EscalationPlan { finish_field_note: field.note_pending, record_cleared_field, step }
}

/// What escalation itself does with the ticket, once nothing before it decided: the
/// re-escalation rule for a linked ticket, the routes for another.
fn escalation_step<'a>(escalation: &Escalation, routes: &'a [Route], f: &TicketFacts<'a>) -> Step<'a> {
    match f.mapping {
        Some(_) if f.source == Source::Snapshot => Step::Ignore(Ignored::LinkedSnapshot),
        Some(m) => reescalation(escalation, f.ticket, m),
        None => match route::decide(escalation, routes, f.ticket, false) {
            Decision::NotEscalated | Decision::AlreadyLinked => Step::Ignore(Ignored::NotEscalated),
            Decision::Unwritable => Step::Skip(Skipped::Unwritable),
            Decision::NoRoute => Step::Skip(Skipped::NoRoute),
            Decision::Create(route) => Step::Create(route),
        },
    }
}

/// Whether the field says something not yet acted on: another value than the last one acted
/// on, in a copy newer than that one, of a ticket that can still take the note telling of it.
fn field_is_new(t: &Ticket, field: &FieldFacts) -> bool {
    let last_value = field.acted_on.map_or("", |(v, _)| v.trim());
    let older = matches!((field.acted_on, t.updated_at), (Some((_, seen)), Some(at)) if at <= seen);
    field.value.trim() != last_value && !older && !matches!(t.status, TicketStatus::Closed | TicketStatus::Deleted)
}

/// What a changed link field asks for, given the ticket's active link.
pub fn field_change(read: FieldRef, active: Option<&Mapping>) -> FieldChange {
    match read {
        FieldRef::Empty if active.is_some() => FieldChange::Unlink,
        FieldRef::Empty => FieldChange::Cleared,
        FieldRef::Issue(repo, number) if active.is_some_and(|m| m.repo == repo && m.issue_number == number) => {
            FieldChange::SameIssue
        }
        FieldRef::Issue(repo, number) => FieldChange::Link(repo, number),
        FieldRef::Invalid(problem) => FieldChange::Refuse(problem),
    }
}

/// The re-escalation rule's step for a linked ticket, live from the export.
fn reescalation<'a>(escalation: &Escalation, t: &Ticket, m: &'a Mapping) -> Step<'a> {
    let escalated = route::matches(&escalation.filter, t);
    // (matches now, did not match when last seen)
    let rule = match (escalated, m.escalation_lost) {
        (true, false) | (false, true) => return Step::Ignore(Ignored::LinkedUnchanged),
        (false, false) => Reescalation::LostMatch,
        (true, true) if m.link_state == LinkState::Unlinked => Reescalation::AfterUnlink,
        (true, true) if m.issue_state == IssueState::Closed && m.link_state == LinkState::Active => {
            Reescalation::Reopen
        }
        (true, true) => Reescalation::MatchesAgain,
    };
    Step::Reescalate(m, rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FieldId, TicketId};
    use crate::rules::Match;

    const FIELD: FieldId = FieldId(42);

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn escalation() -> Escalation {
        let filter = Match { tags_any: vec!["escalated".into()], ..Match::default() };
        Escalation { filter, start: None, attachments: true }
    }

    /// No fallback route: a ticket neither about billing nor urgent matches none.
    fn routes() -> Vec<Route> {
        let when = |tags: &[&str], priority: &[&str]| Match {
            tags_any: tags.iter().map(|s| s.to_string()).collect(),
            priority_in: priority.iter().map(|s| s.to_string()).collect(),
            ..Match::default()
        };
        vec![
            Route { when: Some(when(&["billing"], &[])), repo: "acme/billing".parse().unwrap(), labels: vec![] },
            Route { when: Some(when(&[], &["urgent"])), repo: "acme/oncall".parse().unwrap(), labels: vec![] },
        ]
    }

    /// Ticket 7, updated at t(100).
    fn ticket(tags: &[&str], status: &str) -> Ticket {
        Ticket {
            id: TicketId(7),
            subject: "Export fails".into(),
            description: "It fails.".into(),
            status: status.into(),
            priority: None,
            tags: tags.iter().map(|s| s.to_string()).collect(),
            organization: None,
            updated_at: Some(t(100)),
            fields: Vec::new(),
        }
    }

    fn urgent(mut t: Ticket) -> Ticket {
        t.priority = Some("urgent".into());
        t
    }

    fn field(mut t: Ticket, value: &str) -> Ticket {
        t.fields = vec![(FIELD, Some(value.to_string()))];
        t
    }

    /// Ticket 7's link to acme/backend#5.
    fn mapping(link_state: LinkState, issue_state: &str, escalation_lost: bool) -> Mapping {
        Mapping {
            ticket_id: TicketId(7),
            issue_state: issue_state.into(),
            link_state,
            created_at: t(0),
            issue_updated_at: Some(t(0)),
            escalation_lost,
            escalated_ticket_at: Some(t(0)),
            ..Mapping::for_tests(7, "acme/backend", 5)
        }
    }

    fn linked() -> Option<Mapping> {
        Some(mapping(LinkState::Active, "open", false))
    }

    /// What is stored about the link field, with `[linking]` on.
    #[derive(Clone, Copy)]
    struct Linking {
        /// The value last acted on, and the ticket's `updated_at` then.
        acted_on: Option<(&'static str, i64)>,
        /// That change's note is still to be written.
        note_pending: bool,
    }

    /// `[linking]` on, the field never acted on.
    fn never_acted_on() -> Option<Linking> {
        Some(Linking { acted_on: None, note_pending: false })
    }

    /// `[linking]` on, `value` acted on at `at`.
    fn acted_on(value: &'static str, at: i64) -> Option<Linking> {
        Some(Linking { acted_on: Some((value, at)), note_pending: false })
    }

    /// `[linking]` on, `value` acted on at t(50), its note still unwritten.
    fn note_pending(value: &'static str) -> Option<Linking> {
        Some(Linking { acted_on: Some((value, 50)), note_pending: true })
    }

    struct Case {
        name: &'static str,
        ticket: Ticket,
        source: Source,
        read_directly_at: Option<i64>,
        unfinished: Unfinished,
        mapping: Option<Mapping>,
        linking: Option<Linking>,
        want: &'static str,
    }

    /// A live ticket with nothing stored about it and `[linking]` off.
    fn case(name: &'static str, ticket: Ticket, want: &'static str) -> Case {
        Case {
            name,
            ticket,
            source: Source::Live,
            read_directly_at: None,
            unfinished: Unfinished::Nothing,
            mapping: None,
            linking: None,
            want,
        }
    }

    fn summary(p: &EscalationPlan) -> String {
        let mut parts = Vec::new();
        if p.finish_field_note {
            parts.push("field note".to_string());
        }
        if p.record_cleared_field {
            parts.push("record cleared field".to_string());
        }
        parts.push(match &p.step {
            Step::Ignore(why) => format!("ignore: {why:?}"),
            Step::Wait => "wait".into(),
            Step::Resume => "resume".into(),
            Step::EndLink => "end link".into(),
            Step::Field(FieldChange::Link(repo, n)) => format!("link {repo}#{}", n.0),
            Step::Field(change) => format!("field: {change:?}"),
            Step::Reescalate(m, rule) => format!("{rule:?} {}#{}", m.repo, m.issue_number.0),
            Step::Skip(why) => format!("skip: {why:?}"),
            Step::Create(route) => format!("create in {}", route.repo),
        });
        parts.join(", then ")
    }

    fn run(c: &Case) -> String {
        let (escalation, routes) = (escalation(), routes());
        let web = Url::parse("https://github.com/").unwrap();
        let field = c.linking.map(|l| FieldFacts {
            value: c.ticket.field(FIELD),
            acted_on: l.acted_on.map(|(v, at)| (v, t(at))),
            note_pending: l.note_pending,
            web_base: &web,
        });
        let facts = TicketFacts {
            ticket: &c.ticket,
            source: c.source,
            read_directly_at: c.read_directly_at.map(t),
            unfinished: c.unfinished,
            mapping: c.mapping.as_ref(),
            field,
        };
        summary(&plan(&escalation, &routes, &facts))
    }

    fn check(cases: Vec<Case>) {
        for c in &cases {
            assert_eq!(run(c), c.want, "{}", c.name);
        }
    }

    #[test]
    fn new_tickets_are_created_through_the_first_matching_route_or_skipped() {
        check(vec![
            case("a billing ticket", ticket(&["escalated", "billing"], "open"), "create in acme/billing"),
            case("an urgent ticket", urgent(ticket(&["escalated"], "pending")), "create in acme/oncall"),
            case(
                "both: the first route wins",
                urgent(ticket(&["escalated", "billing"], "new")),
                "create in acme/billing",
            ),
            case("no route matches and none is a fallback", ticket(&["escalated"], "open"), "skip: NoRoute"),
            case(
                "closed: it cannot take the link note",
                ticket(&["escalated", "billing"], "closed"),
                "skip: Unwritable",
            ),
            case("deleted and never linked", ticket(&["escalated", "billing"], "deleted"), "skip: Unwritable"),
            case("not tagged", ticket(&["billing"], "open"), "ignore: NotEscalated"),
            case(
                "solved, and `status_in` does not name it",
                ticket(&["escalated", "billing"], "solved"),
                "ignore: NotEscalated",
            ),
            Case {
                source: Source::Snapshot,
                ..case(
                    "a failure's stored copy of an unlinked ticket escalates",
                    ticket(&["escalated", "billing"], "open"),
                    "create in acme/billing",
                )
            },
        ]);
    }

    #[test]
    fn older_copies_and_unfinished_writes_come_first() {
        let tagged = || ticket(&["escalated", "billing"], "open");
        check(vec![
            Case {
                read_directly_at: Some(200),
                ..case("older than a copy read directly", tagged(), "ignore: OlderCopy")
            },
            Case {
                read_directly_at: Some(100),
                ..case("as new as the copy read directly", tagged(), "create in acme/billing")
            },
            Case {
                read_directly_at: Some(200),
                unfinished: Unfinished::Due,
                ..case("an older copy does not even carry on a write", tagged(), "ignore: OlderCopy")
            },
            Case { unfinished: Unfinished::Due, ..case("an unfinished write is carried on", tagged(), "resume") },
            Case {
                unfinished: Unfinished::Due,
                ..case("whatever the ticket says now", ticket(&["billing"], "closed"), "resume")
            },
            Case {
                unfinished: Unfinished::HeldBack,
                ..case("an unfinished write waiting out a failure holds the ticket", tagged(), "wait")
            },
            Case {
                unfinished: Unfinished::Due,
                linking: note_pending("acme/backend#5"),
                ..case("before the field's unwritten note", field(tagged(), "acme/backend#9"), "resume")
            },
        ]);
    }

    #[test]
    fn a_deleted_ticket_ends_its_active_link() {
        let deleted = || ticket(&["escalated"], "deleted");
        check(vec![
            Case { mapping: linked(), ..case("linked", deleted(), "end link") },
            Case {
                mapping: linked(),
                linking: never_acted_on(),
                ..case("before its field is looked at", field(deleted(), "acme/backend#9"), "end link")
            },
            Case {
                mapping: Some(mapping(LinkState::TicketClosed, "open", false)),
                ..case("a link ended already is left to the re-escalation rule", deleted(), "ignore: LinkedUnchanged")
            },
        ]);
    }

    #[test]
    fn a_linked_ticket_follows_the_reescalation_rule() {
        let tagged = || ticket(&["escalated"], "open");
        let untagged = || ticket(&[], "open");
        check(vec![
            Case { mapping: linked(), ..case("still escalated", tagged(), "ignore: LinkedUnchanged") },
            Case {
                mapping: Some(mapping(LinkState::Active, "open", true)),
                ..case("still not escalated", untagged(), "ignore: LinkedUnchanged")
            },
            Case { mapping: linked(), ..case("the tag removed", untagged(), "LostMatch acme/backend#5") },
            Case {
                mapping: Some(mapping(LinkState::Active, "closed", true)),
                ..case("tagged again while the issue is closed", tagged(), "Reopen acme/backend#5")
            },
            Case {
                mapping: Some(mapping(LinkState::Active, "open", true)),
                ..case("tagged again while the issue is open", tagged(), "MatchesAgain acme/backend#5")
            },
            Case {
                mapping: Some(mapping(LinkState::TicketClosed, "closed", true)),
                ..case("tagged again after the link ended", tagged(), "MatchesAgain acme/backend#5")
            },
            Case {
                mapping: Some(mapping(LinkState::Unlinked, "closed", true)),
                ..case("tagged again after an agent unlinked it", tagged(), "AfterUnlink acme/backend#5")
            },
            Case {
                source: Source::Snapshot,
                mapping: Some(mapping(LinkState::Active, "closed", true)),
                ..case("a failure's stored copy may be stale", tagged(), "ignore: LinkedSnapshot")
            },
            Case {
                mapping: Some(mapping(LinkState::Active, "closed", true)),
                ..case(
                    "a closed issue of a ticket not escalated (urgent only)",
                    urgent(ticket(&[], "open")),
                    "ignore: LinkedUnchanged",
                )
            },
        ]);
    }

    #[test]
    fn a_changed_link_field_decides_the_link() {
        let tagged = || ticket(&["escalated", "billing"], "open");
        check(vec![
            Case {
                linking: never_acted_on(),
                ..case(
                    "an issue link",
                    field(tagged(), "https://github.com/acme/backend/issues/9"),
                    "link acme/backend#9",
                )
            },
            Case {
                linking: never_acted_on(),
                ..case("OWNER/REPO#N, untagged", field(ticket(&[], "open"), " acme/backend#9 "), "link acme/backend#9")
            },
            Case {
                mapping: linked(),
                linking: acted_on("acme/backend#5", 50),
                ..case("another issue than the linked one", field(tagged(), "acme/backend#9"), "link acme/backend#9")
            },
            Case {
                mapping: linked(),
                linking: acted_on("acme/backend#9", 50),
                ..case(
                    "the linked issue (ticket-sync's write-back)",
                    field(tagged(), "https://github.com/acme/backend/issues/5"),
                    "field: SameIssue",
                )
            },
            Case {
                mapping: linked(),
                linking: acted_on("acme/backend#9", 50),
                ..case("the linked issue in other capitals", field(tagged(), "ACME/Backend#5"), "field: SameIssue")
            },
            Case {
                linking: never_acted_on(),
                ..case("no reference", field(tagged(), "see the other ticket"), "field: Refuse(NotAReference)")
            },
            Case {
                linking: never_acted_on(),
                ..case(
                    "a pull request",
                    field(tagged(), "https://github.com/acme/backend/pull/3"),
                    "field: Refuse(PullRequest(RepoName { owner: \"acme\", name: \"backend\" }, IssueNumber(3)))",
                )
            },
            Case {
                linking: never_acted_on(),
                ..case(
                    "another host",
                    field(tagged(), "https://gitlab.com/acme/backend/issues/3"),
                    "field: Refuse(OtherHost(\"gitlab.com\"))",
                )
            },
            Case {
                mapping: linked(),
                linking: acted_on("acme/backend#5", 50),
                ..case("cleared while linked", field(tagged(), "  "), "field: Unlink")
            },
            Case {
                mapping: linked(),
                linking: acted_on("acme/backend#5", 50),
                ..case("cleared (no field at all) while linked", tagged(), "field: Unlink")
            },
            Case {
                linking: acted_on("not a link", 50),
                ..case(
                    "cleared with no link: recorded, then escalated",
                    field(tagged(), ""),
                    "record cleared field, then create in acme/billing",
                )
            },
            Case {
                mapping: Some(mapping(LinkState::Unlinked, "open", false)),
                linking: acted_on("acme/backend#5", 50),
                ..case(
                    "cleared after the link ended: recorded, then the rule",
                    field(tagged(), ""),
                    "record cleared field, then ignore: LinkedUnchanged",
                )
            },
        ]);
    }

    #[test]
    fn a_link_field_that_says_nothing_new_stands() {
        let tagged = || ticket(&["escalated", "billing"], "open");
        check(vec![
            Case {
                linking: acted_on("acme/backend#9", 50),
                ..case(
                    "unchanged (a refused value stands): no issue beside it",
                    field(tagged(), " acme/backend#9"),
                    "ignore: FieldStands",
                )
            },
            Case {
                linking: acted_on("acme/backend#5", 100),
                ..case(
                    "changed, in a copy not newer than the one acted on",
                    field(tagged(), "acme/backend#9"),
                    "ignore: FieldStands",
                )
            },
            Case {
                linking: never_acted_on(),
                ..case(
                    "set on a closed ticket",
                    field(ticket(&["escalated"], "closed"), "acme/backend#9"),
                    "ignore: FieldStands",
                )
            },
            Case {
                linking: never_acted_on(),
                ..case("empty and never set: escalated as usual", tagged(), "create in acme/billing")
            },
            Case {
                mapping: linked(),
                linking: acted_on("acme/backend#5", 50),
                ..case(
                    "unchanged on a linked ticket: the rule",
                    field(ticket(&[], "open"), "acme/backend#5"),
                    "LostMatch acme/backend#5",
                )
            },
            Case {
                linking: acted_on("acme/backend#5", 50),
                ..case(
                    "a copy without `updated_at` is not older",
                    Ticket { updated_at: None, ..field(tagged(), "acme/backend#9") },
                    "link acme/backend#9",
                )
            },
        ]);
    }

    #[test]
    fn the_note_of_the_fields_last_change_is_written_first() {
        let tagged = || ticket(&["escalated", "billing"], "open");
        check(vec![
            Case {
                linking: note_pending("acme/backend#9"),
                ..case(
                    "then the value stands",
                    field(tagged(), "acme/backend#9"),
                    "field note, then ignore: FieldStands",
                )
            },
            Case {
                linking: note_pending("acme/backend#9"),
                ..case(
                    "then the next change",
                    field(tagged(), "acme/backend#10"),
                    "field note, then link acme/backend#10",
                )
            },
            Case {
                linking: note_pending("acme/backend#9"),
                ..case(
                    "then the clearing, and the escalation",
                    tagged(),
                    "field note, then record cleared field, then create in acme/billing",
                )
            },
            Case {
                mapping: linked(),
                linking: note_pending("acme/backend#5"),
                ..case(
                    "then the re-escalation rule",
                    field(ticket(&[], "open"), "acme/backend#5"),
                    "field note, then LostMatch acme/backend#5",
                )
            },
            Case {
                read_directly_at: Some(200),
                linking: note_pending("acme/backend#9"),
                ..case("not for an older copy", field(tagged(), "acme/backend#9"), "ignore: OlderCopy")
            },
        ]);
    }
}
