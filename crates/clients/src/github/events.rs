//! Issue events: what happened to a few issues since a given time each, at a cost that follows
//! those issues and not the repository's activity.
//!
//! GitHub has two lists. The repository's (`GET /repos/{o}/{r}/issues/events`) is newest first
//! and holds every kind of event of every issue — labels, mentions, subscriptions — so in a busy
//! repository the events of a few issues lie under thousands of others, and GitHub refuses its
//! deep pages (422, "pagination is limited for this resource"). One issue's list
//! (`GET …/issues/{n}/events`) is oldest first, 100 a page, with no such limit.
//!
//! So: first a look at the newest few pages of the repository's list (one request tells a
//! quiet repository's story for any number of issues); each issue whose time lies within what
//! was seen is done. Every other issue is read from its own list backwards: its first page
//! (which names the last), then from the last page towards the first until the issue's time is
//! passed. That costs one request for a short history and two for a long one, plus one per 100
//! events the issue itself gained (the events of the very second an issue was last seen are
//! read again, as the time is inclusive); never anything for unrelated events. Appending to an
//! oldest-first list moves nothing already there, so this walk cannot skip an event.
//!
//! FACTS (FACTS.md, "Issue events"; GH-OAS `issue-event`, `issue-event-for-issue`): an event
//! has no `state_reason`; the issue object (and the timeline's state-change event) has it. A
//! `closed` event therefore says who and when, not why: the planner takes the reason from the
//! listed issue (`sync/pushplan.rs`), and uses an event's only if a server sends one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use tracing::warn;
use url::Url;

use super::lists::{has_next, PER_PAGE};
use super::{parse_time, wire, GithubClient, IssueEvent, SVC};
use crate::http::{self, ApiError};
use ticket_sync_core::domain::{CommitSha, EventKind, IssueNumber, RepoName, StateReason};

/// At most this many pages of the repository's list are read before per-issue lists take
/// over (well inside the depth GitHub serves).
const LOOK_PAGES: usize = 3;

/// Events of one list page, and the headers to walk on from it.
type Page = (Vec<wire::WireEvent>, reqwest::header::HeaderMap);

impl GithubClient {
    /// The events of each `(issue, from)` created at or after `from`, oldest first (by id).
    /// Events of pull requests and of other issues are left out.
    pub async fn issue_events_since(
        &self,
        repo: &RepoName,
        wanted: &[(IssueNumber, DateTime<Utc>)],
    ) -> Result<Vec<IssueEvent>, ApiError> {
        let mut found: BTreeMap<u64, IssueEvent> = BTreeMap::new();
        let mut rest: Vec<(IssueNumber, DateTime<Utc>)> = wanted.to_vec();
        // With one issue its own list is as cheap as a look at the repository's.
        if wanted.len() > 1 {
            let pages = LOOK_PAGES.min(wanted.len() - 1);
            let (events, seen_back_to) = self.recent_repo_events(repo, pages, wanted).await?;
            found.extend(events.into_iter().map(|e| (e.id, e)));
            // Covered: the list was seen to its end, or back past the issue's time.
            rest.retain(|(_, from)| seen_back_to.is_some_and(|t| t >= *from));
        }
        for (number, from) in rest {
            found.extend(self.events_of_issue(repo, number, from).await?.into_iter().map(|e| (e.id, e)));
        }
        let keep = |e: &IssueEvent| wanted.iter().any(|(n, from)| e.issue_number == *n && e.created_at >= Some(*from));
        Ok(found.into_values().filter(keep).collect())
    }

    /// Up to `pages` pages of the repository's list, newest first, stopping once every wanted
    /// time is passed. Returns the events and how far back the list was seen complete: `None`
    /// if to its end, else the oldest time read (an issue whose time is later is covered).
    async fn recent_repo_events(
        &self,
        repo: &RepoName,
        pages: usize,
        wanted: &[(IssueNumber, DateTime<Utc>)],
    ) -> Result<(Vec<IssueEvent>, Option<DateTime<Utc>>), ApiError> {
        let earliest = wanted.iter().map(|(_, from)| *from).min();
        let mut url = Some(self.events_url(&format!("/repos/{repo}/issues/events")));
        let (mut out, mut oldest) = (Vec::new(), None::<DateTime<Utc>>);
        for _ in 0..pages {
            let Some(next) = url.take() else {
                return Ok((out, None));
            };
            let (page, headers) = match self.event_page(next).await {
                Ok(page) => page,
                // Refused this deep (or at all): the per-issue lists tell the rest.
                Err(e) if page_refused(&e) => break,
                Err(e) => return Err(e),
            };
            for e in page {
                if let Some(created) = parse_time(e.created_at.as_deref()) {
                    oldest = Some(oldest.map_or(created, |o| o.min(created)));
                }
                if let Some(number) = e.issue.as_ref().filter(|i| i.pull_request.is_none()).map(|i| i.number) {
                    out.push(to_event(IssueNumber(number), e));
                }
            }
            url = self.link(&headers, "next");
            if url.is_none() {
                if has_next(&headers) {
                    // A next page outside the API (another origin, or outside GitHub Enterprise
                    // Server's `/api/v3`) is not followed, and the list was not seen to its end.
                    break;
                }
                return Ok((out, None));
            }
            if matches!((oldest, earliest), (Some(o), Some(e)) if o < e) {
                break;
            }
        }
        // Events of the oldest second read may continue on the next page.
        Ok((out, Some(oldest.unwrap_or(DateTime::<Utc>::MAX_UTC))))
    }

    /// One issue's events from `from` on: its first page, then backwards from its last page
    /// until `from` is passed or the first page is reached. (A server that names no last page
    /// is read forwards to its end.)
    async fn events_of_issue(
        &self,
        repo: &RepoName,
        number: IssueNumber,
        from: DateTime<Utc>,
    ) -> Result<Vec<IssueEvent>, ApiError> {
        let url = self.events_url(&format!("/repos/{repo}/issues/{number}/events"));
        let (first, headers) = self.event_page(url).await?;
        let mut out: Vec<IssueEvent> = first.into_iter().map(|e| to_event(number, e)).collect();
        let (mut url, backwards) = match self.link(&headers, "last") {
            Some(last) => (Some(last), true),
            None => (self.followable_next(&headers)?, false),
        };
        while let Some(this) = url.take() {
            let (page, headers) = match self.event_page(this).await {
                Ok(page) => page,
                Err(e) if page_refused(&e) => {
                    warn!(%repo, issue = %number, "GitHub refused a page of the issue's events; its final state is told instead of every step");
                    break;
                }
                Err(e) => return Err(e),
            };
            let passed = page.first().and_then(|e| parse_time(e.created_at.as_deref())).is_some_and(|t| t < from);
            out.extend(page.into_iter().map(|e| to_event(number, e)));
            url = if !backwards {
                self.followable_next(&headers)?
            } else if passed {
                None
            } else {
                // Page 1 was read first.
                self.link(&headers, "prev").filter(|prev| Some(prev) != self.link(&headers, "first").as_ref())
            };
        }
        Ok(out)
    }

    fn events_url(&self, path: &str) -> Url {
        let mut url = self.url(path);
        url.query_pairs_mut().append_pair("per_page", &PER_PAGE.to_string());
        url
    }

    async fn event_page(&self, url: Url) -> Result<Page, ApiError> {
        let (_, headers, bytes) = self.call(Method::GET, url, None, None).await?;
        Ok((http::decode(SVC, &bytes)?, headers))
    }
}

/// GitHub's answer to a page deeper than an event list serves: 422 "pagination is limited".
fn page_refused(e: &ApiError) -> bool {
    matches!(e, ApiError::Api { status: 422, .. })
}

/// The repository of a commit's API address (`…/repos/{owner}/{name}/commits/{sha}`).
fn commit_repo(url: &str) -> Option<RepoName> {
    let rest = url.split("/repos/").nth(1)?;
    let (repo, _) = rest.split_once("/commits/")?;
    repo.parse().ok()
}

fn to_event(number: IssueNumber, e: wire::WireEvent) -> IssueEvent {
    IssueEvent {
        id: e.id,
        kind: EventKind::from(e.event),
        actor: e.actor.map(|a| a.login),
        created_at: parse_time(e.created_at.as_deref()),
        state_reason: e.state_reason.map(StateReason::from),
        issue_number: number,
        commit_id: e.commit_id.as_deref().and_then(CommitSha::parse),
        commit_repo: e.commit_url.as_deref().and_then(commit_repo),
    }
}
