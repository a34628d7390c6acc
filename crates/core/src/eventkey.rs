//! Event keys: the name of each thing ticket-sync tells exactly once per ticket (a GitHub
//! event, comment or state pushed back as a note, a Zendesk reply forwarded as a comment, a
//! step of a fix, a note of ticket-sync's own doing). A key is stored as its text (`Display`) in the intents,
//! the ledger and the marker that ends its note or comment; that text is the one earlier
//! releases wrote, and exactly-once reconciliation depends on it never changing.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::domain::{IssueCommentId, IssueNumber, IssueState, RepoName, TicketCommentId, TicketId};

/// One kind of event per variant; each shows as the text it is stored with. (Keys that name a
/// repository compare as repository names do, whatever their letter case; their text keeps
/// the spelling they were made with.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKey {
    /// A close or reopen event of the issue (GitHub's event id): `gh-event-{id}`.
    GithubEvent(u64),
    /// A person's comment on the issue: `gh-comment-{id}`.
    GithubComment(IssueCommentId),
    /// The issue's state when its events did not explain it, with the time it took that state
    /// (Unix seconds on GitHub's clock): `gh-state-{issue}-{state}-{at}`.
    GithubState { issue: IssueNumber, state: IssueState, at: i64 },
    /// A public Zendesk reply forwarded to the issue: `zd-comment-{id}`.
    ZendeskComment(TicketCommentId),
    /// The comment that stands for a reply too large to read, the one just after this comment
    /// (0 when it is the ticket's first): `zd-comment-unreadable-after-{id}`.
    ZendeskCommentUnreadableAfter(TicketCommentId),
    /// The comment that says the replies after this forward mark were more than one pass
    /// reads: `zd-comments-not-read-after-{id}`.
    ZendeskCommentsNotReadAfter(TicketCommentId),
    /// A change of the `[linking]` field, seen with the ticket's `updated_at` (Unix seconds on
    /// Zendesk's clock): `field-{at}`. The same change read again is the same note.
    FieldChange(i64),
    /// The ticket tagged for escalation again after an agent unlinked it, with its
    /// `updated_at` (Unix seconds; 0 when unknown): `retagged-{at}`.
    Retagged(i64),
    /// The ticket's n-th re-escalation (its closed issue reopened): `reescalated-{n}`.
    Reescalated(u64),
    /// The note to another ticket linked to the issue that ticket `ticket`'s re-escalation
    /// `reopen` reopened: `reopened-for-{ticket}-{reopen}`.
    ReopenedFor { ticket: TicketId, reopen: Box<EventKey> },
    /// The end of a link whose issue is gone: `issue-gone`.
    IssueGone,
    /// A pull request that closes the linked issue by keyword is in review:
    /// `pr-review-{repo}-{number}`.
    PullRequestInReview { repo: RepoName, number: IssueNumber },
    /// That pull request was closed without being merged: `pr-unmerged-{repo}-{number}`.
    PullRequestUnmerged { repo: RepoName, number: IssueNumber },
    /// The fix shipped in a release (GitHub's release id): `shipped-{repo}-{release}`.
    Shipped { repo: RepoName, release: u64 },
    /// The public reply that tells the customer the fix shipped in that release (`[fixes]
    /// public_reply`): `reply-shipped-{repo}-{release}`.
    ShippedReply { repo: RepoName, release: u64 },
    /// The ticket's link moved to the issue its issue was closed as a duplicate of:
    /// `survivor-{repo}-{number}` (the survivor's).
    MovedToSurvivor { repo: RepoName, number: IssueNumber },
    /// The ticket's link went back to the issue it had left for a survivor, reopened and no
    /// longer a duplicate: `returned-{repo}-{number}`.
    LinkReturned { repo: RepoName, number: IssueNumber },
    /// A stored key of no kind this build knows (another release wrote it), kept as it is.
    Other(String),
}

impl EventKey {
    /// The key of the issue's state note: the state it took at `at`.
    pub fn github_state(issue: IssueNumber, state: IssueState, at: DateTime<Utc>) -> Self {
        EventKey::GithubState { issue, state, at: at.timestamp() }
    }

    /// The key of the note of a link-field change seen with the ticket's `updated_at`.
    pub fn field_change(seen_at: DateTime<Utc>) -> Self {
        EventKey::FieldChange(seen_at.timestamp())
    }

    /// The key of the note on a ticket tagged again after an unlink, by its `updated_at`.
    pub fn retagged(updated_at: Option<DateTime<Utc>>) -> Self {
        EventKey::Retagged(updated_at.map_or(0, |t| t.timestamp()))
    }

    /// The key of the note that tells another linked ticket of ticket `ticket`'s re-escalation.
    pub fn reopened_for(ticket: TicketId, reopen: EventKey) -> Self {
        EventKey::ReopenedFor { ticket, reopen: Box::new(reopen) }
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventKey::GithubEvent(id) => write!(f, "gh-event-{id}"),
            EventKey::GithubComment(id) => write!(f, "gh-comment-{id}"),
            EventKey::GithubState { issue, state, at } => write!(f, "gh-state-{issue}-{state}-{at}"),
            EventKey::ZendeskComment(id) => write!(f, "zd-comment-{id}"),
            EventKey::ZendeskCommentUnreadableAfter(id) => write!(f, "zd-comment-unreadable-after-{id}"),
            EventKey::ZendeskCommentsNotReadAfter(id) => write!(f, "zd-comments-not-read-after-{id}"),
            EventKey::FieldChange(at) => write!(f, "field-{at}"),
            EventKey::Retagged(at) => write!(f, "retagged-{at}"),
            EventKey::Reescalated(n) => write!(f, "reescalated-{n}"),
            EventKey::ReopenedFor { ticket, reopen } => write!(f, "reopened-for-{ticket}-{reopen}"),
            EventKey::IssueGone => f.write_str("issue-gone"),
            EventKey::PullRequestInReview { repo, number } => write!(f, "pr-review-{repo}-{number}"),
            EventKey::PullRequestUnmerged { repo, number } => write!(f, "pr-unmerged-{repo}-{number}"),
            EventKey::Shipped { repo, release } => write!(f, "shipped-{repo}-{release}"),
            EventKey::ShippedReply { repo, release } => write!(f, "reply-shipped-{repo}-{release}"),
            EventKey::MovedToSurvivor { repo, number } => write!(f, "survivor-{repo}-{number}"),
            EventKey::LinkReturned { repo, number } => write!(f, "returned-{repo}-{number}"),
            EventKey::Other(text) => f.write_str(text),
        }
    }
}

/// Reads a stored key back. Every text reads: one of no known kind, or not in the exact form
/// this build writes (`gh-event-07`), is `Other`, so a key read back always shows as the text
/// it was read from.
impl FromStr for EventKey {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        let key = known(s).filter(|k| k.to_string() == s);
        Ok(key.unwrap_or_else(|| EventKey::Other(s.to_string())))
    }
}

/// The known kind `s` is written as, if any (its exact form is checked by the caller).
fn known(s: &str) -> Option<EventKey> {
    let num = |rest: &str| rest.parse::<u64>().ok();
    let secs = |rest: &str| rest.parse::<i64>().ok();
    // Longer prefixes before the shorter ones they begin with.
    if let Some(rest) = s.strip_prefix("gh-event-") {
        return num(rest).map(EventKey::GithubEvent);
    }
    if let Some(rest) = s.strip_prefix("gh-comment-") {
        return num(rest).map(|id| EventKey::GithubComment(IssueCommentId(id)));
    }
    if let Some(rest) = s.strip_prefix("gh-state-") {
        let mut parts = rest.splitn(3, '-');
        let (issue, state, at) = (parts.next()?, parts.next()?, parts.next()?);
        let state = match state {
            "open" => IssueState::Open,
            "closed" => IssueState::Closed,
            _ => return None,
        };
        return Some(EventKey::GithubState { issue: IssueNumber(num(issue)?), state, at: secs(at)? });
    }
    if let Some(rest) = s.strip_prefix("zd-comment-unreadable-after-") {
        return num(rest).map(|id| EventKey::ZendeskCommentUnreadableAfter(TicketCommentId(id)));
    }
    if let Some(rest) = s.strip_prefix("zd-comments-not-read-after-") {
        return num(rest).map(|id| EventKey::ZendeskCommentsNotReadAfter(TicketCommentId(id)));
    }
    if let Some(rest) = s.strip_prefix("zd-comment-") {
        return num(rest).map(|id| EventKey::ZendeskComment(TicketCommentId(id)));
    }
    if let Some(rest) = s.strip_prefix("field-") {
        return secs(rest).map(EventKey::FieldChange);
    }
    if let Some(rest) = s.strip_prefix("retagged-") {
        return secs(rest).map(EventKey::Retagged);
    }
    if let Some(rest) = s.strip_prefix("reescalated-") {
        return num(rest).map(EventKey::Reescalated);
    }
    if let Some(rest) = s.strip_prefix("reopened-for-") {
        let (ticket, reopen) = rest.split_once('-')?;
        let Ok(reopen) = reopen.parse();
        return Some(EventKey::reopened_for(TicketId(num(ticket)?), reopen));
    }
    // A repository's name may hold `-`; the number after it may not.
    let repo_and = |rest: &str| {
        let (repo, n) = rest.rsplit_once('-')?;
        Some((repo.parse::<RepoName>().ok()?, num(n)?))
    };
    if let Some(rest) = s.strip_prefix("pr-review-") {
        let (repo, n) = repo_and(rest)?;
        return Some(EventKey::PullRequestInReview { repo, number: IssueNumber(n) });
    }
    if let Some(rest) = s.strip_prefix("pr-unmerged-") {
        let (repo, n) = repo_and(rest)?;
        return Some(EventKey::PullRequestUnmerged { repo, number: IssueNumber(n) });
    }
    if let Some(rest) = s.strip_prefix("shipped-") {
        let (repo, release) = repo_and(rest)?;
        return Some(EventKey::Shipped { repo, release });
    }
    if let Some(rest) = s.strip_prefix("reply-shipped-") {
        let (repo, release) = repo_and(rest)?;
        return Some(EventKey::ShippedReply { repo, release });
    }
    if let Some(rest) = s.strip_prefix("survivor-") {
        let (repo, n) = repo_and(rest)?;
        return Some(EventKey::MovedToSurvivor { repo, number: IssueNumber(n) });
    }
    if let Some(rest) = s.strip_prefix("returned-") {
        let (repo, n) = repo_and(rest)?;
        return Some(EventKey::LinkReturned { repo, number: IssueNumber(n) });
    }
    (s == "issue-gone").then_some(EventKey::IssueGone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<(EventKey, &'static str)> {
        vec![
            (EventKey::GithubEvent(100), "gh-event-100"),
            (EventKey::GithubComment(IssueCommentId(8)), "gh-comment-8"),
            (
                EventKey::github_state(
                    IssueNumber(10),
                    IssueState::Closed,
                    DateTime::from_timestamp(1_700_000_005, 0).unwrap(),
                ),
                "gh-state-10-closed-1700000005",
            ),
            (EventKey::GithubState { issue: IssueNumber(20), state: IssueState::Open, at: 0 }, "gh-state-20-open-0"),
            (EventKey::ZendeskComment(TicketCommentId(123)), "zd-comment-123"),
            (EventKey::ZendeskCommentUnreadableAfter(TicketCommentId(122)), "zd-comment-unreadable-after-122"),
            (EventKey::ZendeskCommentUnreadableAfter(TicketCommentId(0)), "zd-comment-unreadable-after-0"),
            (EventKey::ZendeskCommentsNotReadAfter(TicketCommentId(100)), "zd-comments-not-read-after-100"),
            (EventKey::field_change(DateTime::from_timestamp(1_772_600_767, 0).unwrap()), "field-1772600767"),
            (EventKey::retagged(Some(DateTime::from_timestamp(1_772_600_767, 0).unwrap())), "retagged-1772600767"),
            (EventKey::retagged(None), "retagged-0"),
            (EventKey::Reescalated(1), "reescalated-1"),
            (EventKey::reopened_for(TicketId(42), EventKey::Reescalated(2)), "reopened-for-42-reescalated-2"),
            (EventKey::IssueGone, "issue-gone"),
            (
                EventKey::PullRequestInReview { repo: "acme/back-end".parse().unwrap(), number: IssueNumber(45) },
                "pr-review-acme/back-end-45",
            ),
            (
                EventKey::PullRequestUnmerged { repo: "Acme/backend".parse().unwrap(), number: IssueNumber(45) },
                "pr-unmerged-Acme/backend-45",
            ),
            (EventKey::Shipped { repo: "acme/backend".parse().unwrap(), release: 99 }, "shipped-acme/backend-99"),
            (
                EventKey::ShippedReply { repo: "acme/backend".parse().unwrap(), release: 99 },
                "reply-shipped-acme/backend-99",
            ),
            (
                EventKey::MovedToSurvivor { repo: "acme/my-app".parse().unwrap(), number: IssueNumber(12) },
                "survivor-acme/my-app-12",
            ),
            (
                EventKey::LinkReturned { repo: "acme/my-app".parse().unwrap(), number: IssueNumber(3) },
                "returned-acme/my-app-3",
            ),
        ]
    }

    /// The texts earlier releases stored: each kind keeps its own.
    #[test]
    fn each_kind_shows_as_the_text_earlier_releases_stored() {
        for (key, text) in every_kind() {
            assert_eq!(key.to_string(), text, "{key:?}");
        }
    }

    #[test]
    fn a_stored_key_reads_back_as_its_kind_and_shows_as_it_was_read() {
        for (key, text) in every_kind() {
            let read: EventKey = text.parse().unwrap();
            assert_eq!(read, key, "{text}");
            assert_eq!(read.to_string(), text);
        }
    }

    #[test]
    fn a_key_of_no_known_form_is_kept_as_it_is() {
        for text in [
            "closed-7",
            "gh-event-07",
            "gh-event-",
            "gh-state-10-reopened-5",
            "field-x",
            "reopened-for-42-closed-7",
            "reopened-for-x-reescalated-1",
            "issue-gone-again",
            "pr-review-acme/backend",
            "pr-review-not a repo-45",
            "shipped-acme/backend-v2",
            "",
        ] {
            let read: EventKey = text.parse().unwrap();
            assert_eq!(read.to_string(), text);
            // A reopen note for a re-escalation key of another form still names its ticket.
            let want = match text.strip_prefix("reopened-for-42-") {
                Some(reopen) => EventKey::reopened_for(TicketId(42), EventKey::Other(reopen.into())),
                None => EventKey::Other(text.into()),
            };
            assert_eq!(read, want, "{text}");
        }
    }
}
