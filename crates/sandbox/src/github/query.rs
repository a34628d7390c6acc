//! List endpoints' query handling: parameter validation, filtering and ordering of issues and
//! comments, and page slicing with GitHub's `Link` header.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};

use super::reply::Reply;
use super::state::{Comment, Fate, Issue, Repo};

const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

/// The decoded query string, in the order the client sent it (links keep that order).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes());
        Params(pairs.into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// One of `allowed`, the default when absent, 422 otherwise.
    pub fn choice(
        &self,
        key: &str,
        allowed: &[&'static str],
        doc: &str,
        resource: &str,
    ) -> Result<&'static str, Reply> {
        match self.get(key) {
            None => Ok(allowed[0]),
            Some(v) => {
                allowed.iter().find(|a| **a == v).copied().ok_or_else(|| Reply::invalid_value(doc, resource, key, v))
            }
        }
    }

    /// `since`: an ISO 8601 timestamp; GitHub also takes a bare date.
    fn since(&self, doc: &str, resource: &str) -> Result<Option<DateTime<Utc>>, Reply> {
        let Some(raw) = self.get("since") else {
            return Ok(None);
        };
        if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
            return Ok(Some(t.with_timezone(&Utc)));
        }
        let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok();
        match day.and_then(|d| d.and_hms_opt(0, 0, 0)) {
            Some(t) => Ok(Some(t.and_utc())),
            None => Err(Reply::invalid_value(doc, resource, "since", raw)),
        }
    }

    /// `per_page` (default 30, capped at 100) and `page` (from 1); junk falls back to defaults.
    pub fn page(&self) -> (usize, usize) {
        let per_page = (self.get("per_page").and_then(|v| v.parse().ok()))
            .filter(|n: &usize| *n > 0)
            .map_or(DEFAULT_PER_PAGE, |n| n.min(MAX_PER_PAGE));
        let page = (self.get("page").and_then(|v| v.parse().ok())).filter(|n: &usize| *n > 0).unwrap_or(1);
        (per_page, page)
    }

    /// The URL of another page: same parameters, `page` replaced and moved to the end.
    fn page_url(&self, link_base: &str, page: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| k != "page") {
            query.append_pair(k, v);
        }
        query.append_pair("page", &page.to_string());
        format!("{link_base}?{}", query.finish())
    }
}

/// Cuts one page out of `items` and builds the `Link` header for it (None on a single page).
/// Links point at `link_base`, which for repository lists is the `/repositories/{id}` form.
/// Pages are cut at request time from the list as it is now, so a change between two page
/// requests shifts the items, as on GitHub (offset pagination).
pub fn paginate<T>(items: Vec<T>, params: &Params, link_base: &str) -> (Vec<T>, Option<String>) {
    let (per_page, page) = params.page();
    let last = items.len().div_ceil(per_page).max(1);
    let link = links(params, link_base, page, last, last);
    let items = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    (items, link)
}

/// Like `paginate`, for a list GitHub serves only the first `reachable` items of: a page that
/// starts beyond them answers 422 (`Reply::pagination_limited`), and `rel="last"` names the
/// last page that can be read. `rel="next"` still appears while more items exist, so a client
/// that follows it blindly runs into the refusal (the message points at `rel="last"`).
pub fn paginate_limited<T>(
    items: Vec<T>,
    params: &Params,
    link_base: &str,
    reachable: usize,
) -> Result<(Vec<T>, Option<String>), Reply> {
    let (per_page, page) = params.page();
    if (page - 1) * per_page >= reachable && page > 1 {
        return Err(Reply::pagination_limited());
    }
    let last = items.len().div_ceil(per_page).max(1);
    let last_reachable = reachable.div_ceil(per_page).clamp(1, last);
    let link = links(params, link_base, page, last, last_reachable);
    let items = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    Ok((items, link))
}

/// The `Link` header of `page`: `next` while pages up to `last` remain, `last` naming
/// `last_shown`.
fn links(params: &Params, link_base: &str, page: usize, last: usize, last_shown: usize) -> Option<String> {
    let mut rels: Vec<(usize, &str)> = Vec::new();
    if page > 1 {
        rels.push((page - 1, "prev"));
    }
    if page < last {
        rels.push((page + 1, "next"));
        rels.push((last_shown.max(page), "last"));
    }
    if page > 1 {
        rels.push((1, "first"));
    }
    (!rels.is_empty()).then(|| {
        let parts: Vec<String> =
            (rels.iter()).map(|(n, rel)| format!("<{}>; rel=\"{rel}\"", params.page_url(link_base, *n))).collect();
        parts.join(", ")
    })
}

/// Parsed filters of `GET …/issues`.
pub struct IssueQuery {
    state: &'static str,
    sort: &'static str,
    descending: bool,
    since: Option<DateTime<Utc>>,
    creator: Option<String>,
    assignee: Option<String>,
    labels: Vec<String>,
}

impl IssueQuery {
    pub fn parse(params: &Params, doc: &str) -> Result<Self, Reply> {
        let state = params.choice("state", &["open", "closed", "all"], doc, "Issue")?;
        let sort = params.choice("sort", &["created", "updated", "comments"], doc, "Issue")?;
        let direction = params.choice("direction", &["desc", "asc"], doc, "Issue")?;
        let labels = (params.get("labels").unwrap_or("").split(','))
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        Ok(IssueQuery {
            state,
            sort,
            descending: direction == "desc",
            since: params.since(doc, "Issue")?,
            creator: params.get("creator").map(str::to_string),
            assignee: params.get("assignee").map(str::to_string),
            labels,
        })
    }

    fn matches(&self, issue: &Issue) -> bool {
        let state_ok = match self.state {
            "open" => issue.open,
            "closed" => !issue.open,
            _ => true,
        };
        let creator_ok = (self.creator.as_ref()).is_none_or(|c| c.eq_ignore_ascii_case(&issue.user));
        let assignee_ok = match self.assignee.as_deref() {
            None => true,
            Some("*") => !issue.assignees.is_empty(),
            Some("none") => issue.assignees.is_empty(),
            Some(login) => issue.assignees.iter().any(|a| a.eq_ignore_ascii_case(login)),
        };
        let labels_ok = (self.labels.iter()).all(|want| issue.labels.iter().any(|l| l.eq_ignore_ascii_case(want)));
        let since_ok = self.since.is_none_or(|s| issue.updated_at >= s);
        state_ok && creator_ok && assignee_ok && labels_ok && since_ok
    }

    /// Live issues and pull requests of `repo` that match, in the requested order.
    pub fn select<'a>(&self, repo: &'a Repo) -> Vec<&'a Issue> {
        let mut out: Vec<&Issue> = (repo.issues.values()).filter(|i| i.fate == Fate::Live && self.matches(i)).collect();
        out.sort_by(|a, b| {
            // Timestamps have whole seconds, so ties are common; the number breaks them.
            let key = match self.sort {
                "updated" => a.updated_at.cmp(&b.updated_at),
                "comments" => a.comments.cmp(&b.comments),
                _ => a.created_at.cmp(&b.created_at),
            };
            directed(key.then(a.number.cmp(&b.number)), self.descending)
        });
        out
    }
}

/// Parsed filters of the comment lists.
pub struct CommentQuery {
    by_updated: bool,
    descending: bool,
    since: Option<DateTime<Utc>>,
}

impl CommentQuery {
    /// The repository-wide list: `sort`, `direction` (ascending by default) and `since`.
    pub fn parse_repo_wide(params: &Params, doc: &str) -> Result<Self, Reply> {
        let sort = params.choice("sort", &["created", "updated"], doc, "IssueComment")?;
        let direction = params.choice("direction", &["asc", "desc"], doc, "IssueComment")?;
        Ok(CommentQuery {
            by_updated: sort == "updated",
            descending: direction == "desc",
            since: params.since(doc, "IssueComment")?,
        })
    }

    /// One issue's list: ascending id, `since` only.
    pub fn parse_for_issue(params: &Params, doc: &str) -> Result<Self, Reply> {
        Ok(CommentQuery { by_updated: false, descending: false, since: params.since(doc, "IssueComment")? })
    }

    pub fn select<'a>(&self, repo: &'a Repo, issue_number: Option<u64>) -> Vec<&'a Comment> {
        let mut out: Vec<&Comment> = (repo.comments.iter())
            .filter(|c| c.visible && issue_number.is_none_or(|n| c.issue_number == n))
            .filter(|c| self.since.is_none_or(|s| c.updated_at >= s))
            .collect();
        out.sort_by(|a, b| {
            let key = if self.by_updated { a.updated_at.cmp(&b.updated_at) } else { a.created_at.cmp(&b.created_at) };
            directed(key.then(a.id.cmp(&b.id)), self.descending)
        });
        out
    }
}

fn directed(order: Ordering, descending: bool) -> Ordering {
    if descending {
        order.reverse()
    } else {
        order
    }
}
