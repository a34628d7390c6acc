//! Listing: conditional (ETag) lists with `since` watermarks, read in keyset pages so that
//! nothing is lost to changes made while a list is paged, and `Link` pagination on the same
//! origin only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use reqwest::header::ETAG;
use reqwest::{Method, StatusCode};
use url::Url;

use super::{parse_time, wire, GithubClient, IssueComment, ListedIssue, Listing, SVC};
use crate::http::{self, ApiError};
use ticket_sync_core::domain::{IssueCommentId, IssueId, IssueNumber, IssueState, RepoName, StateReason};

/// Items per page of every list ticket-sync reads (GitHub's maximum).
pub(super) const PER_PAGE: usize = 100;

/// What a list sorted by update gave: unchanged (a free 304), or every item updated at or
/// after `since`, each once in its newest version, oldest update first.
#[derive(Debug, Clone)]
pub enum Updates<T> {
    NotModified,
    Changed {
        items: Vec<T>,
        /// For a single-page answer, the ETag that makes the same request a free 304 next time.
        etag: Option<String>,
        /// Set when part of the list had to be read by offset (many items in one second) and
        /// may have shifted under the reader: the next listing must start no later than this.
        recheck_from: Option<DateTime<Utc>>,
    },
}

/// A list's first page as `GithubClient::first_page` read it.
pub(super) struct FirstPage<T> {
    pub items: Vec<T>,
    pub bad: Vec<http::BadItem>,
    pub headers: reqwest::header::HeaderMap,
    pub etag: Option<String>,
}

/// An item of a list sorted by update: what keyset paging needs to know of it.
trait Updated {
    fn id(&self) -> u64;
    fn updated(&self) -> Option<DateTime<Utc>>;
}

impl Updated for wire::WireIssue {
    fn id(&self) -> u64 {
        self.id
    }
    fn updated(&self) -> Option<DateTime<Utc>> {
        parse_time(self.updated_at.as_deref())
    }
}

impl Updated for wire::WireComment {
    fn id(&self) -> u64 {
        self.id
    }
    fn updated(&self) -> Option<DateTime<Utc>> {
        parse_time(self.updated_at.as_deref())
    }
}

impl GithubClient {
    /// Issues and pull requests updated at or after `since`, oldest update first, conditional on
    /// `etag`; pull requests are dropped.
    pub async fn list_issues_since(
        &self,
        repo: &RepoName,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
    ) -> Result<Updates<ListedIssue>, ApiError> {
        let updates = self.list_updated::<wire::WireIssue>(&format!("/repos/{repo}/issues"), since, true, etag).await?;
        Ok(updates.map(|items| items.into_iter().filter(|i| i.pull_request.is_none()).map(to_listed).collect()))
    }

    /// The repo-wide comment list (issues and pull requests), updated at or after `since`,
    /// oldest update first, conditional on `etag`.
    pub async fn list_comments_since(
        &self,
        repo: &RepoName,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
    ) -> Result<Updates<IssueComment>, ApiError> {
        let path = format!("/repos/{repo}/issues/comments");
        let updates = self.list_updated::<wire::WireComment>(&path, since, false, etag).await?;
        Ok(updates.map(|items| items.into_iter().filter_map(to_comment).collect()))
    }

    /// Every item of a list sorted by `updated` ascending from `since`, read so that an item
    /// changed while the list is paged can never be skipped.
    ///
    /// Offset pages (`page=2`, what `rel="next"` names) are cut from the list as it is when
    /// each page is asked for: an item of page 1 updated before page 2 is read jumps to the end,
    /// every later item shifts back by one, and the first item of page 2 slides onto page 1,
    /// already read. So after a full page this asks for the list again from the newest update
    /// time on that page (keyset paging; `since` is inclusive, so the items of that second come
    /// again and are deduplicated by id, the newest version kept). An item updated meanwhile
    /// only moves towards the end, which is still to be read; nothing before the new `since`
    /// can be missed, because everything that sorted there was on the pages already read.
    ///
    /// When more than half of a full page shares its newest second (a bulk edit), asking again
    /// from that second would gain little or nothing, so the walk follows the page's
    /// `rel="next"` (within the API only) instead. Within such offset steps a shift is possible
    /// again. An update that causes one brings the item back later in the walk with a newer
    /// time; so when any item was read twice with different times and any offset step was
    /// taken (conservatively, without asking which came first), `recheck_from` tells the caller
    /// to start the next listing no later than the first offset step, where an item may have
    /// been skipped. (A deletion or transfer in the middle of such a step shifts the list
    /// without trace; that needs more than half a page of updates in one second and a removal
    /// within the milliseconds between two requests.)
    async fn list_updated<T: serde::de::DeserializeOwned + Updated>(
        &self,
        path: &str,
        mut since: Option<DateTime<Utc>>,
        all_states: bool,
        etag: Option<&str>,
    ) -> Result<Updates<T>, ApiError> {
        let first = self.updated_list_url(path, since, all_states);
        let Some(FirstPage { items: mut page, mut bad, headers, etag: new_etag }) =
            self.first_page::<T>(first, etag).await?
        else {
            return Ok(Updates::NotModified);
        };
        let mut held = hold_before(None, &bad, since);
        let mut more = has_next(&headers);
        let single_page = !more;
        let mut next = self.next_link(&headers);
        let mut read: HashMap<u64, (T, Option<DateTime<Utc>>)> = HashMap::new();
        let (mut offset_from, mut moved) = (None::<DateTime<Utc>>, false);
        let mut pages = 1;
        loop {
            if pages > MAX_PAGES {
                return Err(too_many_pages());
            }
            pages += 1;
            let newest = page.iter().filter_map(Updated::updated).max();
            let crowded = page.iter().filter(|i| i.updated() == newest).count() > page.len() / 2;
            for item in page {
                let updated = item.updated();
                if let Some((_, before)) = read.insert(item.id(), (item, updated)) {
                    moved |= before != updated;
                }
            }
            if !more {
                break;
            }
            let url = match newest {
                Some(t) if !crowded && since.is_none_or(|s| t > s) => {
                    since = Some(t);
                    self.updated_list_url(path, since, all_states)
                }
                _ => {
                    let step = newest.or(since).unwrap_or_default();
                    offset_from = Some(offset_from.map_or(step, |o| o.min(step)));
                    match next.take() {
                        Some(url) => url,
                        // A `next` elsewhere is never followed: read the rest next time.
                        None => {
                            moved = true;
                            break;
                        }
                    }
                }
            };
            let (_, headers, bytes) = self.call(Method::GET, url, None, None).await?;
            (page, bad) = http::decode_items::<T>(SVC, &bytes)?;
            held = hold_before(held, &bad, since);
            more = has_next(&headers);
            next = self.next_link(&headers);
        }
        let mut items: Vec<(T, Option<DateTime<Utc>>)> = read.into_values().collect();
        items.sort_by_key(|(i, updated)| (*updated, i.id()));
        Ok(Updates::Changed {
            items: items.into_iter().map(|(i, _)| i).collect(),
            etag: new_etag.filter(|_| single_page && held.is_none()),
            recheck_from: earliest(offset_from.filter(|_| moved), held),
        })
    }

    /// The first page of a list, asked with `etag`: `None` when it is unchanged (a free 304);
    /// else its items (those that cannot be read, apart), its headers (for `Link`) and the
    /// ETag that makes the same request a 304 next time.
    pub(super) async fn first_page<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        etag: Option<&str>,
    ) -> Result<Option<FirstPage<T>>, ApiError> {
        let (status, headers, bytes) = self.call(Method::GET, url, None, etag).await?;
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        let etag = headers.get(ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (items, bad) = http::decode_items::<T>(SVC, &bytes)?;
        Ok(Some(FirstPage { items, bad, headers, etag }))
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
            q.append_pair("per_page", &PER_PAGE.to_string());
        }
        url
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
        let Some(FirstPage { mut items, bad, headers, etag: new_etag }) = self.first_page::<T>(first, etag).await?
        else {
            return Ok(Listing::NotModified);
        };
        whole_or_unrelated(&bad)?;
        let mut next = self.followable_next(&headers)?;
        let single_page = next.is_none();
        let mut pages = 1;
        while let Some(url) = next {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(too_many_pages());
            }
            let (_, headers, bytes) = self.call(Method::GET, url, None, None).await?;
            let (more, bad) = http::decode_items::<T>(SVC, &bytes)?;
            whole_or_unrelated(&bad)?;
            items.extend(more);
            next = self.followable_next(&headers)?;
        }
        Ok(Listing::Changed { items, etag: new_etag.filter(|_| single_page) })
    }

    /// The next page of a list that must be read whole (a marker search must not end early
    /// and conclude "not written"): a `next` outside the API is an error, not the end.
    pub(super) fn followable_next(&self, headers: &reqwest::header::HeaderMap) -> Result<Option<Url>, ApiError> {
        match self.next_link(headers) {
            Some(url) => Ok(Some(url)),
            None if has_next(headers) => Err(ApiError::Transient {
                service: SVC,
                detail: "GitHub's next page is outside the configured API (another origin, or outside its path); it is not followed (the token never leaves the configured API)".into(),
            }),
            None => Ok(None),
        }
    }

    /// The `rel="next"` URL, only if it points at the configured API (the token must never
    /// be sent elsewhere).
    pub(super) fn next_link(&self, headers: &reqwest::header::HeaderMap) -> Option<Url> {
        self.link(headers, "next")
    }

    /// The URL of a `Link` relation (`next`, `prev`, `first`, `last`), only if it points at
    /// the configured API: its origin, and under its path (GitHub Enterprise Server's `/api/v3`).
    pub(super) fn link(&self, headers: &reqwest::header::HeaderMap, rel: &str) -> Option<Url> {
        let link = headers.get("link")?.to_str().ok()?;
        super::within_api(&self.base, &parse_link(link, rel)?)
    }
}

impl<T> Updates<T> {
    fn map<U>(self, f: impl FnOnce(Vec<T>) -> Vec<U>) -> Updates<U> {
        match self {
            Updates::NotModified => Updates::NotModified,
            Updates::Changed { items, etag, recheck_from } => Updates::Changed { items: f(items), etag, recheck_from },
        }
    }
}

/// A list longer than this many pages is not read to its end: a server that always names a
/// next page would otherwise hold the pass for ever (its answers keep the watchdog fed).
const MAX_PAGES: usize = 1_000;

/// Logs the items of a list that could not be read (by id where it could be seen); they are
/// left out, and the rest of the list is used.
pub(super) fn report_bad(bad: &[http::BadItem]) {
    for item in bad {
        let id = item.raw.get("number").or_else(|| item.raw.get("id")).and_then(|v| v.as_u64());
        tracing::warn!(id, detail = %item.detail, "an item of a GitHub list could not be read; it is left out");
    }
}

/// A list read whole (a marker search, an issue's comments) may leave out an unreadable item
/// only if it cannot be ticket-sync's own: one that carries a `ticket-sync:` marker fails the
/// listing, so a marker search never concludes "not written" (and writes a second) past it.
fn whole_or_unrelated(bad: &[http::BadItem]) -> Result<(), ApiError> {
    report_bad(bad);
    if bad.iter().any(|b| b.raw.to_string().contains("ticket-sync:")) {
        let detail = "an item that may be ticket-sync's own could not be read".to_string();
        return Err(ApiError::Decode { service: SVC, detail });
    }
    Ok(())
}

/// Where the next listing must start again so that unreadable items are read again (a bad
/// linked issue is never skipped for good): the earliest update time among `bad`, else the
/// listing's own `since` (an item without a readable time holds the watermark where it was).
fn hold_before(
    held: Option<DateTime<Utc>>,
    bad: &[http::BadItem],
    since: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    report_bad(bad);
    let times = bad.iter().map(|b| parse_time(b.raw.get("updated_at").and_then(|v| v.as_str())).or(since));
    times.fold(held, earliest)
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn too_many_pages() -> ApiError {
    ApiError::Transient { service: SVC, detail: format!("a list went on past {MAX_PAGES} pages; stopped") }
}

/// Whether the answer says more pages follow (wherever its `rel="next"` points).
pub(super) fn has_next(headers: &reqwest::header::HeaderMap) -> bool {
    headers.get("link").and_then(|v| v.to_str().ok()).and_then(parse_next_link).is_some()
}

/// Extracts the `rel="next"` target from a `Link` header.
pub fn parse_next_link(link: &str) -> Option<String> {
    parse_link(link, "next")
}

/// Extracts the target of relation `rel` from a `Link` header.
fn parse_link(link: &str, rel: &str) -> Option<String> {
    let wanted = format!("rel=\"{rel}\"");
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let found = params.split(';').any(|p| p.trim().replace(' ', "") == wanted);
        found.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

fn to_listed(w: wire::WireIssue) -> ListedIssue {
    ListedIssue {
        number: IssueNumber(w.number),
        id: IssueId(w.id),
        html_url: w.html_url,
        state: IssueState::parse(&w.state),
        state_reason: w.state_reason.map(StateReason::from),
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
        id: IssueCommentId(w.id),
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
        assert_eq!(parse_link(last, "prev").unwrap(), "https://x/repositories/1/issues?page=4");
        assert_eq!(parse_link(link, "last").unwrap(), "https://api.github.com/repositories/1/issues?page=5");
    }
}
