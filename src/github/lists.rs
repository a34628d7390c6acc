//! Listing: conditional (ETag) lists with `since` watermarks and `Link` pagination, issue events.

use reqwest::header::ETAG;
use reqwest::{Method, StatusCode};
use url::Url;

use super::{parse_time, wire, GithubClient, IssueComment, IssueEvent, ListedIssue, Listing, SVC};
use crate::domain::{IssueNumber, RepoName};
use crate::http::{self, ApiError};

impl GithubClient {
    /// Issues and pull requests updated at or after `since`, oldest update first, conditional on
    /// `etag`; pull requests are dropped.
    pub async fn list_issues_since(
        &self,
        repo: &RepoName,
        since: Option<chrono::DateTime<chrono::Utc>>,
        etag: Option<&str>,
    ) -> Result<Listing<ListedIssue>, ApiError> {
        let url = self.updated_list_url(&format!("/repos/{repo}/issues"), since, true);
        Ok(match self.list_all::<wire::WireIssue>(url, etag).await? {
            Listing::NotModified => Listing::NotModified,
            Listing::Changed { items, etag } => {
                let items = items.into_iter().filter(|i| i.pull_request.is_none()).map(to_listed).collect();
                Listing::Changed { items, etag }
            }
        })
    }

    /// The repo-wide comment list (issues and pull requests), updated at or after `since`,
    /// oldest update first, conditional on `etag`.
    pub async fn list_comments_since(
        &self,
        repo: &RepoName,
        since: Option<chrono::DateTime<chrono::Utc>>,
        etag: Option<&str>,
    ) -> Result<Listing<IssueComment>, ApiError> {
        let url = self.updated_list_url(&format!("/repos/{repo}/issues/comments"), since, false);
        Ok(match self.list_all::<wire::WireComment>(url, etag).await? {
            Listing::NotModified => Listing::NotModified,
            Listing::Changed { items, etag } => {
                Listing::Changed { items: items.into_iter().filter_map(to_comment).collect(), etag }
            }
        })
    }

    fn updated_list_url(&self, path: &str, since: Option<chrono::DateTime<chrono::Utc>>, all_states: bool) -> Url {
        let mut url = self.url(path);
        {
            let mut q = url.query_pairs_mut();
            if all_states {
                q.append_pair("state", "all");
            }
            q.append_pair("sort", "updated").append_pair("direction", "asc");
            if let Some(t) = since {
                q.append_pair("since", &t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
            q.append_pair("per_page", "100");
        }
        url
    }

    /// Issue events of the repository newer than `after_id` (and not older than `floor`), oldest
    /// first. The list is newest first, so pages are read only until a known event shows up.
    pub async fn issue_events_after(
        &self,
        repo: &RepoName,
        after_id: Option<u64>,
        floor: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Vec<IssueEvent>, ApiError> {
        let mut url = self.url(&format!("/repos/{repo}/issues/events"));
        url.query_pairs_mut().append_pair("per_page", "100");
        let mut next = Some(url);
        let mut out = Vec::new();
        while let Some(url) = next {
            let (_, headers, bytes) = self.call(Method::GET, url, None, None).await?;
            let page: Vec<wire::WireEvent> = http::decode(SVC, &bytes)?;
            let mut reached = page.is_empty();
            for e in page {
                let created_at = parse_time(e.created_at.as_deref());
                let old =
                    after_id.is_some_and(|a| e.id <= a) || matches!((created_at, floor), (Some(c), Some(f)) if c < f);
                if old {
                    reached = true;
                    continue;
                }
                let Some(issue) = e.issue.filter(|i| i.pull_request.is_none()) else { continue };
                out.push(IssueEvent {
                    id: e.id,
                    kind: e.event,
                    actor: e.actor.map(|a| a.login),
                    created_at,
                    state_reason: e.state_reason,
                    issue_number: IssueNumber(issue.number),
                });
            }
            next = if reached { None } else { self.next_link(&headers) };
        }
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    /// Every page of a list, following `Link: rel="next"` exactly as given. With an ETag, an
    /// unchanged first page answers 304 and nothing else is fetched. The ETag is returned only
    /// for a single-page answer: it covers the first page, and a change further down a longer
    /// list could leave the first page as it was.
    pub(super) async fn list_all<T: serde::de::DeserializeOwned>(
        &self,
        first: Url,
        etag: Option<&str>,
    ) -> Result<Listing<T>, ApiError> {
        let (status, headers, bytes) = self.call(Method::GET, first, None, etag).await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Listing::NotModified);
        }
        let new_etag = headers.get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let mut items: Vec<T> = http::decode(SVC, &bytes)?;
        let mut next = self.next_link(&headers);
        let single_page = next.is_none();
        while let Some(url) = next {
            let (_, headers, bytes) = self.call(Method::GET, url, None, None).await?;
            items.extend(http::decode::<Vec<T>>(SVC, &bytes)?);
            next = self.next_link(&headers);
        }
        Ok(Listing::Changed { items, etag: new_etag.filter(|_| single_page) })
    }

    /// The `rel="next"` URL, only if it points at the same origin as the configured API
    /// (the token must never be sent elsewhere).
    fn next_link(&self, headers: &reqwest::header::HeaderMap) -> Option<Url> {
        let link = headers.get("link")?.to_str().ok()?;
        let next = parse_next_link(link)?;
        let url = Url::parse(&next).ok()?;
        (url.origin() == self.base.origin()).then_some(url)
    }
}

/// Extracts the `rel="next"` target from a `Link` header.
pub fn parse_next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

fn to_listed(w: wire::WireIssue) -> ListedIssue {
    ListedIssue {
        number: IssueNumber(w.number),
        id: w.id,
        html_url: w.html_url,
        state: w.state,
        state_reason: w.state_reason,
        closed_at: parse_time(w.closed_at.as_deref()),
        closed_by: w.closed_by.map(|u| u.login),
        updated_at: parse_time(w.updated_at.as_deref()),
    }
}

/// A comment in domain terms; one whose issue URL names no number is dropped.
fn to_comment(w: wire::WireComment) -> Option<IssueComment> {
    let number = w.issue_url.rsplit('/').next()?.parse().ok()?;
    let (author, author_is_bot) = match w.user {
        Some(u) => (u.login, u.kind.as_deref() == Some("Bot")),
        None => ("ghost".to_string(), false),
    };
    Some(IssueComment {
        id: w.id,
        issue_number: IssueNumber(number),
        author,
        author_is_bot,
        body: w.body.unwrap_or_default(),
        html_url: w.html_url,
        created_at: parse_time(w.created_at.as_deref()),
        updated_at: parse_time(w.updated_at.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_others() {
        let link = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        assert_eq!(parse_next_link(link).unwrap(), "https://api.github.com/repositories/1/issues?page=2");
        let last = r#"<https://x/repositories/1/issues?page=1>; rel="first", <https://x/repositories/1/issues?page=4>; rel="prev""#;
        assert_eq!(parse_next_link(last), None);
    }
}
