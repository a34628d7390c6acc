//! Every note ticket-sync writes on a Zendesk ticket, and the markers that end them: the
//! escalation's link note; the push-back notes of an issue's events, state and comments (and
//! a refused status said in words); the notes of the `[linking]` field (linked, moved,
//! unlinked, refused, and why); and the notes of ticket-sync's own doing (escalated again,
//! reopened for another ticket, tagged again after an unlink, the issue gone). Pure: domain
//! values in, text out. A note's marker is matched against what earlier releases wrote
//! (`sync/note.rs` looks for it before writing again), so these texts never change lightly.

use std::fmt;

use url::Url;

use crate::body::{defuse_markers, truncate_chars};
use crate::domain::{
    FieldId, Issue, IssueComment, IssueNumber, Mapping, RepoName, StateReason, TicketId, TicketStatus,
};
use crate::eventkey::EventKey;
use crate::linkref::RefProblem;

/// Longest GitHub comment text copied into a note, in characters.
const MAX_COMMENT: usize = 30_000;

/// The marker at the end of the link note on the ticket.
pub fn link_note_marker(id: TicketId) -> String {
    format!("[ticket-sync:link zendesk={id}]")
}

/// The marker at the end of every other note: names the event it tells of.
pub fn push_note_marker(key: &EventKey) -> String {
    format!("[ticket-sync:event {key}]")
}

/// The internal note that tells agents where the issue of their escalated ticket is.
pub fn link_note(id: TicketId, issue: &Issue) -> String {
    format!(
        "Escalated to engineering: GitHub issue {}#{}\n{}\n\n{}",
        issue.repo,
        issue.number,
        issue.html_url,
        link_note_marker(id)
    )
}

/// The line of a push-back note that says which status it set.
pub fn status_line(status: &TicketStatus) -> String {
    format!("Ticket status set to {status} by ticket-sync.")
}

/// The line of a push-back note about a close whose reason is not known (only the issue's
/// last close has one), in place of a status line.
pub fn close_reason_unknown_line() -> &'static str {
    "GitHub tells why an issue was closed only for its last close, so this note sets no status."
}

/// The note's text when Zendesk refused its status: the status line becomes an explanation,
/// so the note still arrives and tells the agent what is left to do by hand.
/// A note whose field write Zendesk refused (a field that validates its values, say), sent
/// again without it: the first line says so.
pub fn without_field(text: &str, field: FieldId, value: &str) -> String {
    format!(
        "ticket-sync could not set the ticket field {field} to \"{}\": Zendesk refused the value. Set it by hand, or change the field's validation.\n{text}",
        defuse_markers(value)
    )
}

pub fn without_status(text: &str, status: &TicketStatus, reasons: &[String]) -> String {
    let why = if reasons.is_empty() { "Zendesk refused it".to_string() } else { reasons.join("; ") };
    let refused = format!(
        "ticket-sync could not set the ticket status to {status}: {why}. Fill in what is required, then set the status by hand."
    );
    let line = status_line(status);
    if text.contains(&line) {
        text.replacen(&line, &refused, 1)
    } else {
        format!("{refused}\n{text}")
    }
}

/// What an issue's event or state note tells happened to the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueChange {
    ClosedAsCompleted,
    ClosedAsNotPlanned,
    ClosedAsDuplicate,
    /// A close whose reason nothing tells (an earlier close than the issue's last).
    Closed,
    Reopened,
}

impl IssueChange {
    /// A close for `reason`; no reason (a server older than `state_reason`) is completed.
    pub fn closed_as(reason: Option<&StateReason>) -> Self {
        match reason {
            Some(StateReason::NotPlanned) => IssueChange::ClosedAsNotPlanned,
            Some(StateReason::Duplicate) => IssueChange::ClosedAsDuplicate,
            _ => IssueChange::ClosedAsCompleted,
        }
    }

    fn words(self) -> &'static str {
        match self {
            IssueChange::ClosedAsCompleted => "closed as completed",
            IssueChange::ClosedAsNotPlanned => "closed as not planned",
            IssueChange::ClosedAsDuplicate => "closed as duplicate",
            IssueChange::Closed => "closed",
            IssueChange::Reopened => "reopened",
        }
    }
}

/// The push-back note of an issue's close or reopen (`m`'s issue, in `repo`) by `actor`, with
/// the status it sets, if any.
pub fn issue_state_note(
    repo: &RepoName,
    m: &Mapping,
    (change, close_line): (IssueChange, Option<&str>),
    actor: &str,
    status: Option<&TicketStatus>,
    key: &EventKey,
) -> String {
    let mut text = format!(
        "GitHub issue {repo}#{} was {} by {}.\n{}\n",
        m.issue_number,
        change.words(),
        defuse_markers(actor),
        m.issue_url
    );
    if let Some(line) = close_line {
        // Made by ticket-sync from GitHub's answers, its outside text already defused.
        text.push_str(&format!("{line}\n"));
    }
    if let Some(s) = status {
        text.push_str(&format!("{}\n", status_line(s)));
    } else if change == IssueChange::Closed {
        text.push_str(&format!("{}\n", close_reason_unknown_line()));
    }
    text.push_str(&format!("\n{}", push_note_marker(key)));
    text
}

/// The push-back note of a person's comment on issue `repo#number`, cut to a sane length.
pub fn issue_comment_note(repo: &RepoName, number: IssueNumber, c: &IssueComment, key: &EventKey) -> String {
    let text = defuse_markers(c.body.trim());
    let cut = truncate_chars(&text, MAX_COMMENT);
    let more = if cut.len() < text.len() { "\n[… cut; read the whole comment on GitHub]" } else { "" };
    format!(
        "{} commented on GitHub issue {repo}#{number}:\n\n{cut}{more}\n\n{}\n\n{}",
        defuse_markers(&c.author),
        c.html_url,
        push_note_marker(key)
    )
}

/// `repo#number` of a link, as the link notes name it.
fn issue_ref(m: &Mapping) -> String {
    format!("{}#{}", m.repo, m.issue_number)
}

/// The note on a ticket an agent linked through the `[linking]` field to `issue`; `before`,
/// the link it had (the note then says the link moved).
pub fn field_link_note(issue: &Issue, before: Option<&Mapping>, key: &EventKey) -> String {
    let what = match before {
        Some(from) => format!("Link moved from {} to GitHub issue", issue_ref(from)),
        None => "Linked to GitHub issue".to_string(),
    };
    format!(
        "{what} {}#{} ({}).\n{}\n\n{}",
        issue.repo,
        issue.number,
        issue.state,
        issue.html_url,
        push_note_marker(key)
    )
}

/// The note on a ticket whose link field an agent cleared; `before`, the link it had.
pub fn unlinked_note(before: Option<&Mapping>, key: &EventKey) -> String {
    format!(
        "Unlinked from GitHub issue {}: the link field was cleared. ticket-sync no longer syncs this ticket with it.\n\n{}",
        before.map_or_else(|| "(none)".to_string(), issue_ref),
        push_note_marker(key)
    )
}

/// The note on a ticket whose link field cannot be followed (`why`, a `LinkRefusal` or the
/// repository guard's words); `linked`, the link it keeps.
pub fn link_refused_note(why: &str, linked: Option<&Mapping>, key: &EventKey) -> String {
    let stays = match linked {
        Some(m) => format!(" The ticket stays linked to {}.", issue_ref(m)),
        None => " The ticket is not linked.".into(),
    };
    format!(
        "ticket-sync cannot link this ticket: {why}.{stays}\nFix the link field and the ticket is linked on the next pass.\n\n{}",
        push_note_marker(key)
    )
}

/// Why a ticket cannot be linked to what its link field names, for the agent (`Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal<'a> {
    /// The repository is not one ticket-sync links to; `allowed`, those it does.
    RepoNotLinked {
        repo: &'a RepoName,
        allowed: Vec<&'a RepoName>,
    },
    /// The issue was moved more than `max` times in a row.
    MovedTooOften {
        repo: &'a RepoName,
        number: IssueNumber,
        max: usize,
    },
    /// The issue was moved where ticket-sync cannot follow it.
    MovedOutOfReach {
        repo: &'a RepoName,
        number: IssueNumber,
    },
    NoSuchIssue {
        repo: &'a RepoName,
        number: IssueNumber,
    },
    PullRequest {
        repo: &'a RepoName,
        number: IssueNumber,
    },
    /// The field names no issue of this GitHub (`web`: its web base, for the example).
    Reference {
        problem: &'a RefProblem,
        web: &'a Url,
    },
}

impl fmt::Display for LinkRefusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkRefusal::RepoNotLinked { repo, allowed } => {
                let mut allowed: Vec<String> = allowed.iter().map(ToString::to_string).collect();
                allowed.sort();
                allowed.dedup();
                write!(
                    f,
                    "{repo} is not a repository ticket-sync links to. Use an issue in one of: {}; or ask the ticket-sync admin to add {repo} to `[linking] repos`",
                    allowed.join(", ")
                )
            }
            LinkRefusal::MovedTooOften { repo, number, max } => write!(
                f,
                "{repo}#{number} was moved more than {max} times in a row; use the link of the issue where it ends"
            ),
            LinkRefusal::MovedOutOfReach { repo, number } => {
                write!(f, "{repo}#{number} was moved where ticket-sync cannot follow; use its new link")
            }
            LinkRefusal::NoSuchIssue { repo, number } => write!(f, "{repo}#{number} does not exist (or was deleted)"),
            LinkRefusal::PullRequest { repo, number } => {
                write!(f, "{repo}#{number} is a pull request, not an issue; link the issue it fixes")
            }
            LinkRefusal::Reference { problem, web } => {
                let example = format!("{}OWNER/REPO/issues/123", web.as_str());
                match problem {
                    RefProblem::NotAReference => write!(
                        f,
                        "the field does not name a GitHub issue. Write the issue's link ({example}) or OWNER/REPO#123"
                    ),
                    RefProblem::PullRequest(repo, number) => {
                        fmt::Display::fmt(&LinkRefusal::PullRequest { repo, number: *number }, f)
                    }
                    RefProblem::OtherHost(host) => write!(f, "{host} is not this GitHub; write a link like {example}"),
                }
            }
        }
    }
}

/// The note on a ticket tagged for escalation again after an agent unlinked it from `m`'s
/// issue (by clearing its link field): ticket-sync does not escalate it again by itself (a new
/// issue for a ticket an agent unlinked on purpose is not what the tag asks), and says how to
/// link it.
pub fn escalated_after_unlink(m: &Mapping, key: &EventKey) -> String {
    format!(
        "ticket-sync does not escalate this ticket again: an agent unlinked it from GitHub issue {}#{} by \
         clearing the link field.\nTo link it again, write an issue's link in the field (this one: {}); the \
         ticket is linked on the next pass.\n\n{}",
        m.repo,
        m.issue_number,
        m.issue_url,
        push_note_marker(key)
    )
}

/// The note on a ticket escalated again, whose closed issue ticket-sync reopened.
pub fn reescalated_note(m: &Mapping, key: &EventKey) -> String {
    format!(
        "Escalated again: GitHub issue {}#{} was closed, so ticket-sync reopened it.\n{}\n\n{}",
        m.repo,
        m.issue_number,
        m.issue_url,
        push_note_marker(key)
    )
}

/// The note on every other ticket linked to the issue that `m`'s re-escalation reopened, with
/// the status `[pushback] reopened` sets, if any.
pub fn reopened_for_note(m: &Mapping, status: Option<&TicketStatus>, key: &EventKey) -> String {
    let mut text = format!(
        "GitHub issue {} was reopened: Zendesk ticket #{} was escalated again.\n{}\n",
        issue_ref(m),
        m.ticket_id,
        m.issue_url
    );
    if let Some(s) = status {
        text.push_str(&format!("{}\n", status_line(s)));
    }
    text.push_str(&format!("\n{}", push_note_marker(key)));
    text
}

/// What became of a linked issue whose link ends (`Display`: the words after "issue").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// GitHub answers 410.
    Deleted,
    /// GitHub answers 404 twice while its repository answers.
    DeletedOrOutOfSight,
    /// A transfer GitHub names no place for, or one ticket-sync cannot read.
    MovedOutOfReach,
}

impl fmt::Display for Gone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gone::Deleted => "was deleted",
            Gone::DeletedOrOutOfSight => "was deleted (or moved where ticket-sync cannot see it)",
            Gone::MovedOutOfReach => "was moved where ticket-sync cannot follow it",
        })
    }
}

/// The one note on a ticket whose issue is gone: its link ends (key `issue-gone`).
pub fn issue_gone_note(m: &Mapping, why: Gone) -> String {
    format!(
        "GitHub issue {}#{} {why}. ticket-sync no longer syncs this ticket.\n{}\n\n{}",
        m.repo,
        m.issue_number,
        m.issue_url,
        push_note_marker(&EventKey::IssueGone)
    )
}

#[cfg(test)]
mod tests {
    //! The expected texts are what the release before this module wrote, byte for byte.

    use chrono::DateTime;

    use super::*;
    use crate::domain::{IssueCommentId, IssueId, IssueState};

    fn repo(name: &str) -> RepoName {
        name.parse().unwrap()
    }

    fn mapping(ticket: u64, number: u64) -> Mapping {
        let made = DateTime::from_timestamp(1_772_600_000, 0).unwrap();
        Mapping { created_at: made, ..Mapping::for_tests(ticket, "acme/backend", number) }
    }

    fn issue(state: IssueState) -> Issue {
        Issue {
            repo: repo("acme/backend"),
            number: IssueNumber(7),
            id: IssueId(1007),
            html_url: "https://github.com/acme/backend/issues/7".into(),
            state,
            state_reason: None,
            body: None,
            updated_at: None,
            closed_by: None,
            is_pull_request: false,
        }
    }

    fn field_key() -> EventKey {
        EventKey::FieldChange(1_772_600_767)
    }

    #[test]
    fn markers_keep_the_forms_earlier_releases_wrote() {
        assert_eq!(link_note_marker(TicketId(42)), "[ticket-sync:link zendesk=42]");
        assert_eq!(push_note_marker(&EventKey::GithubEvent(100)), "[ticket-sync:event gh-event-100]");
        assert_eq!(push_note_marker(&EventKey::Other("closed-7".into())), "[ticket-sync:event closed-7]");
    }

    #[test]
    fn the_link_note_names_the_issue_and_ends_with_the_link_marker() {
        assert_eq!(
            link_note(TicketId(42), &issue(IssueState::Open)),
            "Escalated to engineering: GitHub issue acme/backend#7\nhttps://github.com/acme/backend/issues/7\n\n\
             [ticket-sync:link zendesk=42]"
        );
    }

    #[test]
    fn a_refused_status_is_said_in_place_of_its_line() {
        assert_eq!(status_line(&TicketStatus::Solved), "Ticket status set to solved by ticket-sync.");
        assert_eq!(
            close_reason_unknown_line(),
            "GitHub tells why an issue was closed only for its last close, so this note sets no status."
        );
        let note = "GitHub issue acme/backend#7 was closed as completed by alice.\n\
                    https://github.com/acme/backend/issues/7\nTicket status set to solved by ticket-sync.\n\n\
                    [ticket-sync:event gh-event-100]";
        let reasons = ["Field Cause is required".to_string(), "Field Team is required".to_string()];
        assert_eq!(
            without_status(note, &TicketStatus::Solved, &reasons),
            "GitHub issue acme/backend#7 was closed as completed by alice.\nhttps://github.com/acme/backend/issues/7\n\
             ticket-sync could not set the ticket status to solved: Field Cause is required; Field Team is required. \
             Fill in what is required, then set the status by hand.\n\n[ticket-sync:event gh-event-100]"
        );
        assert_eq!(
            without_status("Plain note.\n", &TicketStatus::Solved, &[]),
            "ticket-sync could not set the ticket status to solved: Zendesk refused it. Fill in what is required, \
             then set the status by hand.\nPlain note.\n"
        );
    }

    #[test]
    fn issue_state_notes_say_what_happened_who_did_it_and_the_status_set() {
        let (r, m) = (repo("acme/backend"), mapping(1, 10));
        let cases = [
            (
                IssueChange::Closed,
                "alice <!-- ticket-sync:x -->",
                None,
                EventKey::GithubEvent(100),
                "GitHub issue acme/backend#10 was closed by alice &lt;!-- ticket-sync\u{200b}:x -->.\n\
                 https://github.com/acme/backend/issues/10\n\
                 GitHub tells why an issue was closed only for its last close, so this note sets no status.\n\n\
                 [ticket-sync:event gh-event-100]",
            ),
            (
                IssueChange::Reopened,
                "bob",
                Some(TicketStatus::Open),
                EventKey::GithubEvent(101),
                "GitHub issue acme/backend#10 was reopened by bob.\nhttps://github.com/acme/backend/issues/10\n\
                 Ticket status set to open by ticket-sync.\n\n[ticket-sync:event gh-event-101]",
            ),
            (
                IssueChange::ClosedAsDuplicate,
                "carol",
                None,
                EventKey::GithubEvent(102),
                "GitHub issue acme/backend#10 was closed as duplicate by carol.\n\
                 https://github.com/acme/backend/issues/10\n\n[ticket-sync:event gh-event-102]",
            ),
            (
                IssueChange::ClosedAsCompleted,
                "alice",
                Some(TicketStatus::Solved),
                EventKey::GithubState { issue: IssueNumber(10), state: IssueState::Closed, at: 1_772_600_005 },
                "GitHub issue acme/backend#10 was closed as completed by alice.\n\
                 https://github.com/acme/backend/issues/10\nTicket status set to solved by ticket-sync.\n\n\
                 [ticket-sync:event gh-state-10-closed-1772600005]",
            ),
            (
                IssueChange::ClosedAsNotPlanned,
                "alice",
                Some(TicketStatus::Open),
                EventKey::GithubState { issue: IssueNumber(10), state: IssueState::Closed, at: 1_772_600_005 },
                "GitHub issue acme/backend#10 was closed as not planned by alice.\n\
                 https://github.com/acme/backend/issues/10\nTicket status set to open by ticket-sync.\n\n\
                 [ticket-sync:event gh-state-10-closed-1772600005]",
            ),
        ];
        for (change, actor, status, key, want) in cases {
            assert_eq!(issue_state_note(&r, &m, (change, None), actor, status.as_ref(), &key), want, "{change:?}");
        }
    }

    #[test]
    fn a_close_is_named_by_its_reason_and_no_reason_is_completed() {
        assert_eq!(IssueChange::closed_as(Some(&StateReason::NotPlanned)), IssueChange::ClosedAsNotPlanned);
        assert_eq!(IssueChange::closed_as(Some(&StateReason::Duplicate)), IssueChange::ClosedAsDuplicate);
        assert_eq!(IssueChange::closed_as(Some(&StateReason::Completed)), IssueChange::ClosedAsCompleted);
        assert_eq!(IssueChange::closed_as(None), IssueChange::ClosedAsCompleted);
    }

    #[test]
    fn a_comment_note_defuses_markers_and_cuts_a_long_comment() {
        let comment = |id: u64, author: &str, body: &str| IssueComment {
            id: IssueCommentId(id),
            issue_number: IssueNumber(10),
            author: author.into(),
            author_is_bot: false,
            body: body.into(),
            html_url: format!("https://github.com/acme/backend/issues/10#issuecomment-{id}"),
            created_at: None,
            updated_at: None,
        };
        let r = repo("acme/backend");
        let c = comment(8, "dave", "  Fixed in [ticket-sync:event gh-event-1] <!-- hi -->\n");
        assert_eq!(
            issue_comment_note(&r, IssueNumber(10), &c, &EventKey::GithubComment(c.id)),
            "dave commented on GitHub issue acme/backend#10:\n\n\
             Fixed in [ticket-sync\u{200b}:event gh-event-1] &lt;!-- hi -->\n\n\
             https://github.com/acme/backend/issues/10#issuecomment-8\n\n[ticket-sync:event gh-comment-8]"
        );
        let c = comment(9, "erin", &"y".repeat(30_005));
        let note = issue_comment_note(&r, IssueNumber(10), &c, &EventKey::GithubComment(c.id));
        let head = "erin commented on GitHub issue acme/backend#10:\n\n";
        let tail = "\n[… cut; read the whole comment on GitHub]\n\n\
                    https://github.com/acme/backend/issues/10#issuecomment-9\n\n[ticket-sync:event gh-comment-9]";
        assert_eq!(note, format!("{head}{}{tail}", "y".repeat(30_000)));
    }

    #[test]
    fn link_field_notes_tell_the_link_its_move_its_end_and_a_refusal() {
        let (key, before) = (field_key(), mapping(42, 7));
        assert_eq!(
            field_link_note(&issue(IssueState::Open), None, &key),
            "Linked to GitHub issue acme/backend#7 (open).\nhttps://github.com/acme/backend/issues/7\n\n\
             [ticket-sync:event field-1772600767]"
        );
        let mut old = mapping(42, 3);
        old.repo = repo("acme/old");
        assert_eq!(
            field_link_note(&issue(IssueState::Closed), Some(&old), &key),
            "Link moved from acme/old#3 to GitHub issue acme/backend#7 (closed).\n\
             https://github.com/acme/backend/issues/7\n\n[ticket-sync:event field-1772600767]"
        );
        assert_eq!(
            unlinked_note(Some(&before), &key),
            "Unlinked from GitHub issue acme/backend#7: the link field was cleared. ticket-sync no longer syncs \
             this ticket with it.\n\n[ticket-sync:event field-1772600767]"
        );
        assert_eq!(
            unlinked_note(None, &key),
            "Unlinked from GitHub issue (none): the link field was cleared. ticket-sync no longer syncs this \
             ticket with it.\n\n[ticket-sync:event field-1772600767]"
        );
        assert_eq!(
            link_refused_note("acme/web#3 does not exist (or was deleted)", Some(&before), &key),
            "ticket-sync cannot link this ticket: acme/web#3 does not exist (or was deleted). The ticket stays \
             linked to acme/backend#7.\nFix the link field and the ticket is linked on the next pass.\n\n\
             [ticket-sync:event field-1772600767]"
        );
        assert_eq!(
            link_refused_note("x", None, &key),
            "ticket-sync cannot link this ticket: x. The ticket is not linked.\nFix the link field and the \
             ticket is linked on the next pass.\n\n[ticket-sync:event field-1772600767]"
        );
    }

    #[test]
    fn each_refusal_says_why_and_what_to_do() {
        let (web, number) = (Url::parse("https://github.com").unwrap(), IssueNumber(3));
        let (web_repo, backend, frontend) = (repo("acme/web"), repo("acme/backend"), repo("acme/frontend"));
        let repo = &web_repo;
        let not_a_reference = RefProblem::NotAReference;
        let pull_request = RefProblem::PullRequest(repo.clone(), number);
        let other_host = RefProblem::OtherHost("gitlab.com".into());
        let cases = [
            (
                // Sorted, each named once, whatever the rules' order.
                LinkRefusal::RepoNotLinked { repo, allowed: vec![&frontend, &backend, &frontend] },
                "acme/web is not a repository ticket-sync links to. Use an issue in one of: acme/backend, \
                 acme/frontend; or ask the ticket-sync admin to add acme/web to `[linking] repos`",
            ),
            (
                LinkRefusal::MovedTooOften { repo, number, max: 5 },
                "acme/web#3 was moved more than 5 times in a row; use the link of the issue where it ends",
            ),
            (
                LinkRefusal::MovedOutOfReach { repo, number },
                "acme/web#3 was moved where ticket-sync cannot follow; use its new link",
            ),
            (LinkRefusal::NoSuchIssue { repo, number }, "acme/web#3 does not exist (or was deleted)"),
            (
                LinkRefusal::PullRequest { repo, number },
                "acme/web#3 is a pull request, not an issue; link the issue it fixes",
            ),
            (
                LinkRefusal::Reference { problem: &not_a_reference, web: &web },
                "the field does not name a GitHub issue. Write the issue's link \
                 (https://github.com/OWNER/REPO/issues/123) or OWNER/REPO#123",
            ),
            (
                LinkRefusal::Reference { problem: &pull_request, web: &web },
                "acme/web#3 is a pull request, not an issue; link the issue it fixes",
            ),
            (
                LinkRefusal::Reference { problem: &other_host, web: &web },
                "gitlab.com is not this GitHub; write a link like https://github.com/OWNER/REPO/issues/123",
            ),
        ];
        for (refusal, want) in cases {
            assert_eq!(refusal.to_string(), want, "{refusal:?}");
        }
    }

    #[test]
    fn notes_of_ticket_syncs_own_doing_name_the_issue_and_end_with_their_key() {
        let m = mapping(42, 7);
        assert_eq!(
            escalated_after_unlink(&m, &EventKey::Retagged(1_772_600_767)),
            "ticket-sync does not escalate this ticket again: an agent unlinked it from GitHub issue acme/backend#7 \
             by clearing the link field.\nTo link it again, write an issue's link in the field (this one: \
             https://github.com/acme/backend/issues/7); the ticket is linked on the next pass.\n\n\
             [ticket-sync:event retagged-1772600767]"
        );
        assert_eq!(
            reescalated_note(&m, &EventKey::Reescalated(2)),
            "Escalated again: GitHub issue acme/backend#7 was closed, so ticket-sync reopened it.\n\
             https://github.com/acme/backend/issues/7\n\n[ticket-sync:event reescalated-2]"
        );
        let key = EventKey::reopened_for(TicketId(42), EventKey::Reescalated(2));
        assert_eq!(
            reopened_for_note(&m, Some(&TicketStatus::Open), &key),
            "GitHub issue acme/backend#7 was reopened: Zendesk ticket #42 was escalated again.\n\
             https://github.com/acme/backend/issues/7\nTicket status set to open by ticket-sync.\n\n\
             [ticket-sync:event reopened-for-42-reescalated-2]"
        );
        assert_eq!(
            reopened_for_note(&m, None, &key),
            "GitHub issue acme/backend#7 was reopened: Zendesk ticket #42 was escalated again.\n\
             https://github.com/acme/backend/issues/7\n\n[ticket-sync:event reopened-for-42-reescalated-2]"
        );
    }

    #[test]
    fn the_issue_gone_note_says_what_became_of_the_issue() {
        let m = mapping(42, 7);
        let cases = [
            (Gone::Deleted, "was deleted"),
            (Gone::DeletedOrOutOfSight, "was deleted (or moved where ticket-sync cannot see it)"),
            (Gone::MovedOutOfReach, "was moved where ticket-sync cannot follow it"),
        ];
        for (why, words) in cases {
            assert_eq!(why.to_string(), words);
            assert_eq!(
                issue_gone_note(&m, why),
                format!(
                    "GitHub issue acme/backend#7 {words}. ticket-sync no longer syncs this ticket.\n\
                     https://github.com/acme/backend/issues/7\n\n[ticket-sync:event issue-gone]"
                )
            );
        }
    }
}
