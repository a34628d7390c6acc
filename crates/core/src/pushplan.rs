//! The push-back decision, pure: what was fetched from one repository plus the stored mappings
//! become, per ticket and in true order, the Zendesk notes (with statuses) to write.
//!
//! Rules: close and reopen events give one note each, with the status `[pushback]` names for
//! them; new human comments give one note each when `[pushback] comments = "internal"`. Events
//! by the daemon's own login and comments it wrote are never mirrored. If the events do not
//! explain the issue's final state (they were missed), one note reports that state, so the
//! ticket's final status always matches the issue's.
//!
//! Why an issue was closed (completed, not planned, duplicate) is the listed issue's
//! `state_reason`: GitHub's issue events do not carry it (FACTS.md, "Issue events": the
//! `issue-event` schema has no `state_reason`; the issue object has it). The issue tells only
//! its last close's reason, so the close it names is the last close event when the listed
//! issue is still closed (the events are in order, and those after the listing wait for the
//! next pass). An earlier close between two passes (closed, reopened, closed again) has no
//! known reason unless its event happens to carry one: its note says it was closed and
//! leaves the status as it is, since a guessed status (say "solved" for what may have been
//! "not planned") could set off the ticket's own triggers, and the reopen's and the last
//! close's notes that follow set the status the issue's state calls for.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::domain::{EventKind, IssueComment, IssueEvent, IssueState, ListedIssue, Mapping, SeenState};
use crate::domain::{GithubIdentity, IssueCommentId, IssueNumber, RepoName, TicketId, TicketStatus};
use crate::eventkey::EventKey;
use crate::noteorder::{NoteKind, NoteOrder};
use crate::notetext::{self, IssueChange};
use crate::rules::{CommentsMode, Pushback};

/// What one repository's fetch produced, with what is stored about it.
pub struct RepoInput<'a> {
    pub repo: &'a RepoName,
    /// Active mappings of this repository.
    pub mappings: &'a [Mapping],
    pub issues: &'a [ListedIssue],
    /// Events of mapped issues from the last update seen of each on (`event_needs`), oldest first.
    pub events: &'a [IssueEvent],
    pub comments: &'a [IssueComment],
    pub last_comment_id: Option<IssueCommentId>,
    /// The `since` the comment list was read from: comments created at or after it are new
    /// even with a lower id than one seen before (see `is_new_comment`).
    pub comments_from: Option<DateTime<Utc>>,
    /// ticket-sync's own GitHub identity: its events and comments are the daemon's.
    pub own: Option<&'a GithubIdentity>,
    /// What the close note of an event adds on what closed the issue, by event id: the pull
    /// request or commit that fixed it, or the issue it duplicates (`[fixes]`).
    pub close_lines: &'a HashMap<u64, String>,
}

/// One note to write on a ticket; `event_key` names the GitHub event, unique per ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAction {
    pub event_key: EventKey,
    /// When it happened on GitHub, then what it tells of; notes are written in this order.
    pub order: NoteOrder,
    pub text: String,
    pub status: Option<TicketStatus>,
    /// The note tells the issue is now closed (`Some(true)`) or open again (`Some(false)`).
    pub closes: Option<bool>,
}

/// Everything to do for one ticket in this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPlan {
    pub ticket: TicketId,
    pub actions: Vec<PushAction>,
    /// The issue state to store, when the issue was in the listing.
    pub seen: Option<SeenState>,
}

/// The result for one repository: the tickets' plans and the lowest event id left for later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoPlan {
    pub tickets: Vec<TicketPlan>,
    /// Events newer than the listing (applied next pass); the event watermark must stay below.
    pub first_deferred_event: Option<u64>,
}

/// How much later than its issue's `updated_at` GitHub may stamp the event of that update.
const EVENT_SKEW_SECS: i64 = 2;

/// How long before a link was made its issue's events are read when no update of the issue
/// was ever seen (clock skew margin).
const EVENTS_BEFORE_LINK_MINUTES: i64 = 10;

/// The listed mapped issues whose events must be read, each with the time from which
/// (inclusive): those whose state differs from the stored one, or that changed at all since
/// last seen (closed and reopened between two passes looks unchanged in the listing, and only
/// the events tell that story). The time is the update last seen: every event up to it was
/// told, or deferred because it came after that listing (so at or after it); events of that
/// very second may come again, and the ledger skips those already told.
pub fn event_needs(mappings: &[Mapping], issues: &[ListedIssue]) -> Vec<(IssueNumber, DateTime<Utc>)> {
    let by_number: HashMap<IssueNumber, &Mapping> = mappings.iter().map(|m| (m.issue_number, m)).collect();
    let mut needs: Vec<(IssueNumber, DateTime<Utc>)> = (issues.iter())
        .filter_map(|i| by_number.get(&i.number).map(|m| (*m, i)))
        .filter(|(m, i)| state_differs(m, i) || updated_since(m, i))
        .map(|(m, i)| {
            let before_link = m.created_at - chrono::Duration::minutes(EVENTS_BEFORE_LINK_MINUTES);
            (i.number, m.issue_updated_at.unwrap_or(before_link))
        })
        .collect();
    needs.sort();
    needs.dedup();
    needs
}

fn updated_since(m: &Mapping, i: &ListedIssue) -> bool {
    match (m.issue_updated_at, i.updated_at) {
        (Some(seen), Some(now)) => now > seen,
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn state_differs(m: &Mapping, i: &ListedIssue) -> bool {
    m.issue_state != i.state || m.state_reason != i.state_reason || m.closed_at != i.closed_at
}

pub fn plan(rules: &Pushback, input: &RepoInput) -> RepoPlan {
    let listed: HashMap<IssueNumber, &ListedIssue> = input.issues.iter().map(|i| (i.number, i)).collect();
    let mut events: BTreeMap<IssueNumber, Vec<&IssueEvent>> = BTreeMap::new();
    let mut first_deferred_event = None;
    let mapped: HashMap<IssueNumber, &Mapping> = input.mappings.iter().map(|m| (m.issue_number, m)).collect();
    for e in input.events.iter().filter(|e| matches!(e.kind, EventKind::Closed | EventKind::Reopened)) {
        let Some(m) = mapped.get(&e.issue_number) else { continue };
        // What we know of the issue: the listing, else the stored state. An event newer than
        // that happened after the listing: it is applied next pass, with the state it led to.
        // GitHub stamps an event up to a second or two after the issue's `updated_at`: within
        // that skew the event is the change the listing shows, not a later one.
        let known = listed.get(&e.issue_number).map_or(m.issue_updated_at, |i| i.updated_at);
        if matches!((e.created_at, known), (Some(c), Some(k)) if c <= k + chrono::Duration::seconds(EVENT_SKEW_SECS)) {
            events.entry(e.issue_number).or_default().push(e);
        } else {
            first_deferred_event = Some(first_deferred_event.map_or(e.id, |f: u64| f.min(e.id)));
        }
    }
    let mut tickets = Vec::new();
    for m in input.mappings {
        let issue = listed.get(&m.issue_number).copied();
        let mut actions = state_actions(rules, input, m, issue, events.get(&m.issue_number).map_or(&[][..], |v| v));
        if rules.comments == CommentsMode::Internal {
            actions.extend(comment_actions(input, m));
        }
        actions.sort_by_key(|a| a.order);
        let seen = issue.map(|i| SeenState {
            state: i.state,
            state_reason: i.state_reason.clone(),
            closed_at: i.closed_at,
            updated_at: i.updated_at,
        });
        if !actions.is_empty() || seen.as_ref().is_some_and(|s| Some(s) != Some(&stored(m))) {
            tickets.push(TicketPlan { ticket: m.ticket_id, actions, seen });
        }
    }
    RepoPlan { tickets, first_deferred_event }
}

fn stored(m: &Mapping) -> SeenState {
    SeenState {
        state: m.issue_state,
        state_reason: m.state_reason.clone(),
        closed_at: m.closed_at,
        updated_at: m.issue_updated_at,
    }
}

/// Notes for the issue's close and reopen events; one more if they leave the state unexplained.
fn state_actions(
    rules: &Pushback,
    input: &RepoInput,
    m: &Mapping,
    issue: Option<&ListedIssue>,
    events: &[&IssueEvent],
) -> Vec<PushAction> {
    let mut state = m.issue_state;
    let mut out = Vec::new();
    // The close the listed issue shows, whose reason is the issue's.
    let last_close = events
        .last()
        .filter(|e| e.kind == EventKind::Closed && issue.is_some_and(|i| i.state == IssueState::Closed))
        .map(|e| e.id);
    for e in events {
        let closed = e.kind == EventKind::Closed;
        let after = if closed { IssueState::Closed } else { IssueState::Open };
        if state == after {
            // No transition from what the ticket was last told (a state note told this close
            // already, while the event list lagged): one note per state transition, and a
            // stale status is never applied again.
            continue;
        }
        state = after;
        let actor = e.actor.as_deref().unwrap_or("someone");
        if input.own.is_some_and(|o| o.acted(actor, e.created_at)) {
            continue;
        }
        let key = EventKey::GithubEvent(e.id);
        let at = e.created_at.unwrap_or_default();
        let change = match (closed, issue.filter(|_| last_close == Some(e.id))) {
            (false, _) => IssueChange::Reopened,
            // No reason on an issue closed by a server older than `state_reason`: completed.
            (true, Some(i)) => IssueChange::closed_as(i.state_reason.as_ref().or(e.state_reason.as_ref())),
            (true, None) => e.state_reason.as_ref().map_or(IssueChange::Closed, |r| IssueChange::closed_as(Some(r))),
        };
        let order = NoteOrder::github(at, NoteKind::Event, e.id);
        let line = if closed { input.close_lines.get(&e.id).map(String::as_str) } else { None };
        out.push(state_note(rules, input.repo, m, (change, line), actor, key, order));
    }
    if let Some(i) = issue.filter(|i| i.state != state) {
        let closed = i.state == IssueState::Closed;
        let change = if closed { IssueChange::closed_as(i.state_reason.as_ref()) } else { IssueChange::Reopened };
        let actor = i.closed_by.as_deref().filter(|_| closed).unwrap_or("someone");
        let at = i.closed_at.or(i.updated_at).unwrap_or_default();
        let key = EventKey::github_state(i.number, i.state, at);
        out.push(state_note(
            rules,
            input.repo,
            m,
            (change, None),
            actor,
            key,
            NoteOrder::github(at, NoteKind::State, 0),
        ));
    }
    out
}

fn state_note(
    rules: &Pushback,
    repo: &RepoName,
    m: &Mapping,
    (change, close_line): (IssueChange, Option<&str>),
    actor: &str,
    event_key: EventKey,
    order: NoteOrder,
) -> PushAction {
    let closes = Some(change != IssueChange::Reopened);
    let status = match change {
        IssueChange::ClosedAsNotPlanned => rules.closed_not_planned.status(),
        IssueChange::ClosedAsDuplicate => rules.closed_duplicate.status(),
        IssueChange::ClosedAsCompleted => rules.closed_completed.status(),
        // Its reason is not known: a guessed status could set off the ticket's own triggers.
        IssueChange::Closed => None,
        IssueChange::Reopened => rules.reopened.status(),
    };
    let text = notetext::issue_state_note(repo, m, (change, close_line), actor, status.as_ref(), &event_key);
    PushAction { event_key, order, text, status, closes }
}

/// Whether a listed comment is one to tell (if the ledger has not told it already): newer than
/// any seen before, or created within the listing's look-back. A comment can show up in the
/// API after a later one (replication), with the lower id; an edit of an old comment brings it
/// back into the list but is not new.
pub fn is_new_comment(c: &IssueComment, last_id: Option<IssueCommentId>, from: Option<DateTime<Utc>>) -> bool {
    last_id.is_none_or(|l| c.id > l) || matches!((c.created_at, from), (Some(at), Some(f)) if at >= f)
}

/// Notes for new human comments on the mapped issue.
fn comment_actions(input: &RepoInput, m: &Mapping) -> Vec<PushAction> {
    // Ticket-sync's own comments are known by their author, never by text a person could
    // copy (a quote-reply of a forwarded comment carries its hidden marker). Only when the
    // daemon's login is unknown does the marker stand in for it.
    let is_own = |c: &IssueComment| {
        c.author_is_bot
            || match input.own {
                Some(o) => o.acted(&c.author, c.created_at),
                None => c.body.contains("<!-- ticket-sync:"),
            }
    };
    input
        .comments
        .iter()
        .filter(|c| {
            c.issue_number == m.issue_number
                && is_new_comment(c, input.last_comment_id, input.comments_from)
                && !is_own(c)
        })
        .map(|c| {
            let key = EventKey::GithubComment(c.id);
            let text = notetext::issue_comment_note(input.repo, m.issue_number, c, &key);
            PushAction {
                event_key: key,
                order: NoteOrder::github(c.created_at.unwrap_or_default(), NoteKind::Comment, c.id.0),
                text,
                status: None,
                closes: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IssueId, StateReason};
    use crate::rules::StatusAction;

    const REPO: &str = "acme/backend";

    fn rules(comments: CommentsMode) -> Pushback {
        Pushback {
            closed_completed: StatusAction::Set("solved".into()),
            closed_not_planned: StatusAction::Set("open".into()),
            closed_duplicate: StatusAction::Keep,
            reopened: StatusAction::Set("open".into()),
            comments,
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn mapping(ticket: u64, number: u64, state: &str) -> Mapping {
        let base = Mapping::for_tests(ticket, REPO, number);
        Mapping { issue_state: state.into(), created_at: t(0), issue_updated_at: Some(t(0)), ..base }
    }

    fn issue(number: u64, state: &str, reason: Option<&str>, updated: i64) -> ListedIssue {
        ListedIssue {
            number: IssueNumber(number),
            id: IssueId(1000 + number),
            html_url: format!("https://github.com/{REPO}/issues/{number}"),
            state: state.into(),
            state_reason: reason.map(StateReason::from),
            closed_at: (state == "closed").then(|| t(updated)),
            closed_by: (state == "closed").then(|| "alice".to_string()),
            updated_at: Some(t(updated)),
        }
    }

    fn event(id: u64, number: u64, kind: &str, actor: &str, reason: Option<&str>, at: i64) -> IssueEvent {
        IssueEvent {
            id,
            kind: kind.into(),
            actor: Some(actor.into()),
            created_at: Some(t(at)),
            state_reason: reason.map(StateReason::from),
            issue_number: IssueNumber(number),
            commit_id: None,
            commit_repo: None,
        }
    }

    fn comment(id: u64, number: u64, author: &str, text: &str, at: i64) -> IssueComment {
        IssueComment {
            id: IssueCommentId(id),
            issue_number: IssueNumber(number),
            author: author.into(),
            author_is_bot: false,
            body: text.into(),
            html_url: format!("https://github.com/{REPO}/issues/{number}#issuecomment-{id}"),
            created_at: Some(t(at)),
            updated_at: Some(t(at)),
        }
    }

    /// Per ticket: (event key, status) of each note, in order.
    type Notes<K> = Vec<(u64, Vec<(K, Option<K>)>)>;

    struct Case<'a> {
        name: &'a str,
        mappings: Vec<Mapping>,
        issues: Vec<ListedIssue>,
        events: Vec<IssueEvent>,
        comments: Vec<IssueComment>,
        last_comment_id: Option<u64>,
        /// Per ticket: (event key, status) in order.
        want: Notes<&'a str>,
    }

    fn run(case: &Case) -> RepoPlan {
        let repo: RepoName = REPO.parse().unwrap();
        // ticket-sync wrote as `old-token-user` until t(20), as a GitHub App since.
        let identity = GithubIdentity {
            login: "ticket-sync-bot".into(),
            former: vec!["old-token-user".into()],
            since: Some(t(20)),
        };
        let input = RepoInput {
            repo: &repo,
            mappings: &case.mappings,
            issues: &case.issues,
            events: &case.events,
            comments: &case.comments,
            last_comment_id: case.last_comment_id.map(IssueCommentId),
            comments_from: None,
            own: Some(&identity),
            close_lines: &HashMap::new(),
        };
        plan(&rules(CommentsMode::Internal), &input)
    }

    #[test]
    fn plans_follow_the_true_order_of_events_and_comments() {
        let cases = vec![
            Case {
                name: "close gives one note with the completed status",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "closed", Some("completed"), 5)],
                events: vec![event(100, 10, "closed", "alice", Some("completed"), 5)],
                comments: vec![],
                last_comment_id: None,
                want: vec![(1, vec![("gh-event-100", Some("solved"))])],
            },
            Case {
                name: "closed, reopened, closed: three notes, the last status is the final state's",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "closed", Some("not_planned"), 9)],
                events: vec![
                    event(100, 10, "closed", "alice", None, 5),
                    event(101, 10, "reopened", "bob", None, 7),
                    event(102, 10, "closed", "alice", None, 9),
                ],
                comments: vec![],
                last_comment_id: None,
                want: vec![(
                    1,
                    vec![("gh-event-100", None), ("gh-event-101", Some("open")), ("gh-event-102", Some("open"))],
                )],
            },
            Case {
                name:
                    "closed and reopened: the close's reason is not the open issue's; a reason an event carries is used",
                mappings: vec![mapping(1, 10, "open"), mapping(2, 20, "open")],
                issues: vec![issue(10, "open", Some("reopened"), 7), issue(20, "open", Some("reopened"), 7)],
                events: vec![
                    event(100, 10, "closed", "alice", None, 5),
                    event(101, 10, "reopened", "bob", None, 7),
                    event(102, 20, "closed", "alice", Some("not_planned"), 5),
                    event(103, 20, "reopened", "bob", None, 7),
                ],
                comments: vec![],
                last_comment_id: None,
                want: vec![
                    (1, vec![("gh-event-100", None), ("gh-event-101", Some("open"))]),
                    (2, vec![("gh-event-102", Some("open")), ("gh-event-103", Some("open"))]),
                ],
            },
            Case {
                name: "the last close's reason is the listed issue's, over what its event may say",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "closed", Some("not_planned"), 5)],
                events: vec![event(100, 10, "closed", "alice", Some("completed"), 5)],
                comments: vec![],
                last_comment_id: None,
                want: vec![(1, vec![("gh-event-100", Some("open"))])],
            },
            Case {
                name: "duplicate keeps the status; comments interleave by time; old and own comments are skipped",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "closed", Some("duplicate"), 9)],
                events: vec![event(100, 10, "closed", "alice", None, 6)],
                comments: vec![
                    comment(7, 10, "carol", "already seen", 1),
                    comment(8, 10, "carol", "first", 5),
                    comment(9, 10, "ticket-sync-bot", "forwarded", 7),
                    // A person's quote-reply that copies a forwarded comment's marker is theirs.
                    comment(10, 10, "dave", "hi <!-- ticket-sync:forwarded zendesk=1 -->", 7),
                    comment(11, 10, "dave", "after", 8),
                ],
                last_comment_id: Some(7),
                want: vec![(
                    1,
                    vec![
                        ("gh-comment-8", None),
                        ("gh-event-100", None),
                        ("gh-comment-10", None),
                        ("gh-comment-11", None),
                    ],
                )],
            },
            Case {
                name: "a close event stamped a second after the listed update is that close: one note",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "closed", Some("completed"), 5)],
                events: vec![event(100, 10, "closed", "alice", Some("completed"), 6)],
                comments: vec![],
                last_comment_id: None,
                want: vec![(1, vec![("gh-event-100", Some("solved"))])],
            },
            Case {
                name: "a close told by a state note is not told again when its event shows up late",
                mappings: vec![mapping(1, 10, "closed")],
                issues: vec![],
                events: vec![event(100, 10, "closed", "alice", Some("completed"), 0)],
                comments: vec![],
                last_comment_id: None,
                want: vec![],
            },
            Case {
                name: "a former login's comments and events are its own before the switch, a person's after",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "open", None, 30)],
                events: vec![
                    event(100, 10, "closed", "old-token-user", Some("completed"), 5),
                    event(101, 10, "reopened", "Old-Token-User", None, 30),
                ],
                comments: vec![
                    comment(12, 10, "old-token-user", "forwarded before the switch", 6),
                    comment(13, 10, "old-token-user", "a person again", 31),
                ],
                last_comment_id: None,
                want: vec![(1, vec![("gh-event-101", Some("open")), ("gh-comment-13", None)])],
            },
            Case {
                name: "events by the daemon's login are not mirrored; unmapped issues are ignored",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![issue(10, "closed", Some("completed"), 5), issue(11, "closed", None, 5)],
                events: vec![
                    event(100, 10, "closed", "ticket-sync-bot", Some("completed"), 5),
                    event(101, 11, "closed", "alice", None, 5),
                ],
                comments: vec![comment(12, 11, "carol", "unmapped", 5)],
                last_comment_id: None,
                want: vec![(1, vec![])],
            },
            Case {
                name: "a state the events do not explain gets one note of its own",
                mappings: vec![mapping(1, 10, "open"), mapping(2, 20, "closed")],
                issues: vec![issue(10, "closed", Some("completed"), 5), issue(20, "open", Some("reopened"), 6)],
                events: vec![],
                comments: vec![],
                last_comment_id: None,
                want: vec![
                    (1, vec![("gh-state-10-closed-1700000005", Some("solved"))]),
                    (2, vec![("gh-state-20-open-1700000006", Some("open"))]),
                ],
            },
            Case {
                name: "nothing changed: no plans",
                mappings: vec![mapping(1, 10, "open")],
                issues: vec![ListedIssue { updated_at: Some(t(0)), ..issue(10, "open", None, 0) }],
                events: vec![],
                comments: vec![],
                last_comment_id: None,
                want: vec![],
            },
        ];
        for case in &cases {
            let got: Notes<String> = run(case)
                .tickets
                .into_iter()
                .map(|p| {
                    (
                        p.ticket.0,
                        p.actions.into_iter().map(|a| (a.event_key.to_string(), a.status.map(String::from))).collect(),
                    )
                })
                .collect();
            let want: Notes<String> = (case.want.iter())
                .map(|(t, a)| (*t, a.iter().map(|(k, s)| (k.to_string(), s.map(str::to_string))).collect()))
                .collect();
            assert_eq!(got, want, "{}", case.name);
        }
    }

    #[test]
    fn an_earlier_close_between_two_passes_says_it_was_closed_and_sets_no_status() {
        let case = Case {
            name: "flapping",
            mappings: vec![mapping(1, 10, "open")],
            issues: vec![issue(10, "closed", Some("duplicate"), 9)],
            events: vec![
                event(100, 10, "closed", "alice", None, 5),
                event(101, 10, "reopened", "bob", None, 7),
                event(102, 10, "closed", "carol", None, 9),
            ],
            comments: vec![],
            last_comment_id: None,
            want: vec![],
        };
        let plan = run(&case);
        let texts: Vec<&str> = plan.tickets[0].actions.iter().map(|a| a.text.as_str()).collect();
        assert!(texts[0].starts_with("GitHub issue acme/backend#10 was closed by alice.\n"), "{}", texts[0]);
        assert!(texts[0].contains(notetext::close_reason_unknown_line()), "{}", texts[0]);
        assert!(texts[2].starts_with("GitHub issue acme/backend#10 was closed as duplicate by carol."), "{}", texts[2]);
        let closes: Vec<Option<bool>> = plan.tickets[0].actions.iter().map(|a| a.closes).collect();
        assert_eq!(closes, [Some(true), Some(false), Some(true)]);
    }

    #[test]
    fn events_after_the_listing_are_deferred_and_hold_the_watermark() {
        let case = Case {
            name: "deferred",
            mappings: vec![mapping(1, 10, "open")],
            issues: vec![issue(10, "closed", Some("completed"), 5)],
            events: vec![
                event(100, 10, "closed", "alice", Some("completed"), 5),
                event(101, 10, "reopened", "bob", None, 8),
            ],
            comments: vec![],
            last_comment_id: None,
            want: vec![],
        };
        let plan = run(&case);
        assert_eq!(plan.first_deferred_event, Some(101));
        let keys: Vec<String> = plan.tickets[0].actions.iter().map(|a| a.event_key.to_string()).collect();
        assert_eq!(keys, ["gh-event-100"]);
    }

    #[test]
    fn old_events_of_an_unlisted_issue_are_told_not_deferred() {
        let mut quiet = mapping(2, 20, "open");
        quiet.issue_updated_at = Some(t(9));
        let case = Case {
            name: "unlisted",
            mappings: vec![mapping(1, 10, "open"), quiet],
            issues: vec![issue(10, "closed", Some("completed"), 5)],
            events: vec![
                event(100, 20, "closed", "alice", Some("completed"), 3),
                event(101, 20, "reopened", "alice", None, 4),
                event(102, 10, "closed", "alice", Some("completed"), 5),
                event(103, 20, "closed", "bob", None, 12),
            ],
            comments: vec![],
            last_comment_id: None,
            want: vec![],
        };
        let plan = run(&case);
        assert_eq!(plan.first_deferred_event, Some(103));
        let keys: Vec<(u64, Vec<String>)> = (plan.tickets.iter())
            .map(|p| (p.ticket.0, p.actions.iter().map(|a| a.event_key.to_string()).collect()))
            .collect();
        let keys: Vec<(u64, Vec<&str>)> =
            keys.iter().map(|(t, k)| (*t, k.iter().map(String::as_str).collect())).collect();
        assert_eq!(keys, [(1, vec!["gh-event-102"]), (2, vec!["gh-event-100", "gh-event-101"])]);
    }

    #[test]
    fn a_comment_shown_late_is_new_and_an_edited_old_one_is_not() {
        let late = comment(5, 10, "carol", "written before 8, shown after", 6);
        let mut old = comment(3, 10, "dave", "edited today", 1);
        old.updated_at = Some(t(9));
        assert!(is_new_comment(&late, Some(IssueCommentId(8)), Some(t(5))), "within the look-back");
        assert!(!is_new_comment(&late, Some(IssueCommentId(8)), Some(t(7))), "before the look-back, id seen: not new");
        assert!(!is_new_comment(&old, Some(IssueCommentId(8)), Some(t(5))), "an edit is not a new comment");
        assert!(is_new_comment(&comment(9, 10, "erin", "newer", 2), Some(IssueCommentId(8)), Some(t(5))));
        assert!(is_new_comment(&old, None, None), "nothing seen yet");
    }

    #[test]
    fn events_are_read_for_changed_mapped_issues_from_the_update_last_seen() {
        let mut never_seen = mapping(3, 30, "open");
        never_seen.issue_updated_at = None;
        let mappings = [mapping(1, 10, "open"), mapping(2, 20, "open"), never_seen];
        let issues = [
            issue(10, "closed", Some("completed"), 5),
            ListedIssue { updated_at: Some(t(0)), ..issue(20, "open", None, 0) },
            issue(30, "open", None, 2),
            issue(40, "closed", None, 7),
        ];
        let needs = event_needs(&mappings, &issues);
        assert_eq!(needs, [(IssueNumber(10), t(0)), (IssueNumber(30), t(0) - chrono::Duration::minutes(10))]);
        assert!(event_needs(&mappings[1..2], &issues).is_empty(), "unchanged: no events");
    }

    #[test]
    fn notes_name_the_issue_the_actor_and_end_with_the_marker() {
        let case = Case {
            name: "text",
            mappings: vec![mapping(1, 10, "open")],
            issues: vec![issue(10, "closed", Some("not_planned"), 5)],
            events: vec![event(100, 10, "closed", "alice", None, 5)],
            comments: vec![comment(8, 10, "carol", "Fixed in [ticket-sync:event gh-event-1]", 4)],
            last_comment_id: None,
            want: vec![],
        };
        let plan = run(&case);
        let actions = &plan.tickets[0].actions;
        let comment = &actions[0].text;
        assert!(comment.starts_with("carol commented on GitHub issue acme/backend#10:"), "{comment}");
        assert!(
            comment.contains("#issuecomment-8") && !comment.contains("[ticket-sync:event gh-event-1]"),
            "{comment}"
        );
        let close = &actions[1].text;
        assert!(close.contains("was closed as not planned by alice"), "{close}");
        assert!(close.contains("https://github.com/acme/backend/issues/10"), "{close}");
        assert!(close.ends_with("[ticket-sync:event gh-event-100]"), "{close}");
        assert!(!event_needs(&case.mappings, &case.issues).is_empty());
        assert!(event_needs(
            &[mapping(1, 10, "open")],
            &[ListedIssue { updated_at: Some(t(0)), ..issue(10, "open", None, 0) }]
        )
        .is_empty());
        assert!(
            !event_needs(&[mapping(1, 10, "open")], &[issue(10, "open", None, 3)]).is_empty(),
            "closed and reopened between two passes: same state, newer update"
        );
    }
}
