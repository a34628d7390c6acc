//! What ticket-sync reads through GitHub's GraphQL API, which the REST API never shows: the
//! survivor ("canonical" issue) of an issue closed as a duplicate (docs/research/github-fixes.md,
//! §5 and "GraphQL: a duplicate's survivor"), and the issues pull requests may close, by a
//! closing keyword or by a hand link in the Development sidebar ("GraphQL: which issues a pull
//! request closes"), up to 50 pull requests a query. The queries go through the client's request path
//! (`Route::Graphql`): the credential covering the repository, GraphQL's own points budget, and
//! the same classification of HTTP-level refusals as REST's; what GraphQL reports in `errors`
//! (with HTTP 200) is classified here. The sandbox models the answers
//! (`crates/sandbox/src/github/tests/graphql.rs`).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use tracing::{debug, warn};

use super::{GithubClient, Route, SVC};
use crate::http::{self, ApiError, ForbiddenScope};
use ticket_sync_core::domain::{IssueNumber, RepoName};

/// The last mark or unmark of the issue as a duplicate: the last one says whether it is still
/// a duplicate, and of what. Values go in `variables`, never into the text.
// FACTS (GitHub's public schema, octokit/graphql-schema): `MARKED_AS_DUPLICATE_EVENT` and
// `UNMARKED_AS_DUPLICATE_EVENT` are `IssueTimelineItemsItemType`s; `canonical` is an
// `IssueOrPullRequest`; a connection needs `first` or `last` (1 to 100).
const SURVIVOR_QUERY: &str = "query DuplicateSurvivor($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    issue(number: $number) {
      timelineItems(itemTypes: [MARKED_AS_DUPLICATE_EVENT, UNMARKED_AS_DUPLICATE_EVENT], last: 1) {
        nodes {
          __typename
          ... on MarkedAsDuplicateEvent {
            canonical {
              __typename
              ... on Issue { number repository { nameWithOwner } }
            }
          }
        }
      }
    }
  }
}";

/// Pull requests asked about in one closing-references query.
// FACTS (docs.github.com, "Rate limits and query limits for the GraphQL API"): a query may ask
// for 500,000 nodes and costs its connections' requests over 100, at least one point: 50
// connections of 50 issues are 2,500 nodes and one point.
const CLOSING_BATCH: usize = 50;

/// Issues read of each pull request's closing references (GitHub takes 1 to 100).
const CLOSING_PAGE: usize = 50;

/// The closing-references query for `count` pull requests: `p{i}` the `i`th, its number the
/// variable `$n{i}`. Only the count shapes the text; every value goes in `variables`.
// FACTS (GitHub's public schema, octokit/graphql-schema): `Repository.pullRequest(number: Int!):
// PullRequest`; `PullRequest.closingIssuesReferences(first, …): IssueConnection`, "List of issues
// that may be closed by this pull request"; `IssueConnection.totalCount`.
fn closing_query(count: usize) -> String {
    let numbers: String = (0..count).map(|i| format!(", $n{i}: Int!")).collect();
    let aliases: String = (0..count)
        .map(|i| {
            format!(
                "    p{i}: pullRequest(number: $n{i}) {{ closingIssuesReferences(first: {CLOSING_PAGE}) {{ totalCount \
                 nodes {{ number repository {{ nameWithOwner }} }} }} }}\n"
            )
        })
        .collect();
    format!(
        "query ClosingIssues($owner: String!, $name: String!{numbers}) {{\n  repository(owner: $owner, name: $name) \
         {{\n{aliases}  }}\n}}"
    )
}

/// A GraphQL answer: `data` (absent when the query did not run) and `errors`.
#[derive(Deserialize)]
struct Answer<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Option<Vec<GraphqlError>>,
}

/// One entry of `errors`: GitHub's `type` (`NOT_FOUND`, `FORBIDDEN`, `RATE_LIMIT`…) when it
/// gives one, the field `path`, the message.
#[derive(Deserialize)]
struct GraphqlError {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    path: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    message: Option<String>,
}

impl GraphqlError {
    /// Whether the error is about the repository or the issue the query names (not an item).
    fn about_the_issue(&self) -> bool {
        self.path.as_ref().is_some_and(|p| (1..=2).contains(&p.len()))
    }

    /// The alias of the closing-references query the error is about (its path's second name),
    /// when it is about that pull request or its connection rather than one issue on it.
    fn about_a_pull(&self) -> Option<&str> {
        let path = self.path.as_ref().filter(|p| (2..=3).contains(&p.len()))?;
        path.get(1).and_then(serde_json::Value::as_str)
    }

    /// Whether the error is about the repository itself.
    fn about_the_repository(&self) -> bool {
        self.path.as_ref().is_some_and(|p| p.len() == 1)
    }

    fn message(&self) -> String {
        self.message.as_deref().unwrap_or("(no message)").chars().take(300).collect()
    }
}

#[derive(Deserialize)]
struct SurvivorData {
    #[serde(default)]
    repository: Option<WireRepository>,
}

#[derive(Deserialize)]
struct WireRepository {
    #[serde(default)]
    issue: Option<WireIssue>,
}

#[derive(Deserialize)]
struct WireIssue {
    #[serde(rename = "timelineItems", default)]
    timeline_items: Option<WireConnection>,
}

#[derive(Deserialize)]
struct WireConnection {
    #[serde(default)]
    nodes: Option<Vec<Option<WireItem>>>,
}

#[derive(Deserialize)]
struct WireItem {
    #[serde(rename = "__typename", default)]
    typename: Option<String>,
    #[serde(default)]
    canonical: Option<WireCanonical>,
}

#[derive(Deserialize)]
struct WireCanonical {
    #[serde(rename = "__typename", default)]
    typename: Option<String>,
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    repository: Option<WireNamed>,
}

#[derive(Deserialize)]
struct WireNamed {
    #[serde(rename = "nameWithOwner")]
    name_with_owner: String,
}

#[derive(Deserialize)]
struct ClosingData {
    /// Each alias, `null` for a pull request GitHub did not find.
    #[serde(default)]
    repository: Option<BTreeMap<String, Option<WirePull>>>,
}

#[derive(Deserialize)]
struct WirePull {
    #[serde(rename = "closingIssuesReferences", default)]
    closing: Option<WireIssues>,
}

#[derive(Deserialize)]
struct WireIssues {
    #[serde(rename = "totalCount", default)]
    total_count: Option<u64>,
    #[serde(default)]
    nodes: Option<Vec<Option<WireClosed>>>,
}

#[derive(Deserialize)]
struct WireClosed {
    #[serde(default)]
    number: Option<u64>,
    #[serde(default)]
    repository: Option<WireNamed>,
}

impl GithubClient {
    /// The issue `repo#number` survives as, if it was closed as a duplicate and is still marked
    /// one: the survivor's repository and number where it is now. `None`: never marked, unmarked
    /// since, marked a duplicate of a pull request, or of an issue this credential cannot see.
    /// An issue or repository GitHub does not find (or hides from the credential) is `NotFound`,
    /// as a REST 404 is; an installation without `issues: read` is `Forbidden`; a spent GraphQL
    /// budget is `RateLimited` for GraphQL alone; any other GraphQL error is `Api` (not
    /// retried), but GitHub's "something went wrong" is `Transient`.
    pub async fn duplicate_survivor(
        &self,
        repo: &RepoName,
        number: IssueNumber,
    ) -> Result<Option<(RepoName, IssueNumber)>, ApiError> {
        let variables = json!({"owner": repo.owner(), "name": repo.name(), "number": number.0});
        let bytes = self.graphql(repo, SURVIVOR_QUERY, variables).await?;
        let answer: Answer<SurvivorData> = http::decode(SVC, &bytes)?;
        let errors = answer.errors.unwrap_or_default();
        let subject = format!("{repo}#{number}");
        if let Some(refusal) = errors.iter().filter(|e| e.about_the_issue()).find_map(|e| refusal(e, &subject)) {
            return Err(refusal);
        }
        let repository = answer.data.and_then(|d| d.repository);
        let nodes = repository.as_ref().and_then(|r| r.issue.as_ref()).and_then(|i| i.timeline_items.as_ref());
        let Some(nodes) = nodes.map(|c| c.nodes.as_deref().unwrap_or_default()) else {
            let missing = if repository.is_some() { "issue" } else { "repository" };
            return Err(unreadable(&errors, &subject, missing));
        };
        // Errors about single items (a survivor out of reach) leave what was read.
        let Some(Some(last)) = nodes.last() else { return Ok(None) };
        if last.typename.as_deref() != Some("MarkedAsDuplicateEvent") {
            return Ok(None);
        }
        let Some(canonical) = last.canonical.as_ref().filter(|c| c.typename.as_deref() == Some("Issue")) else {
            return Ok(None);
        };
        let (Some(survivor), Some(named)) = (canonical.number, canonical.repository.as_ref()) else {
            return Err(ApiError::Decode {
                service: SVC,
                detail: "a canonical Issue without its number or repository".into(),
            });
        };
        let name: RepoName = named.name_with_owner.parse().map_err(|e| ApiError::Decode {
            service: SVC,
            detail: format!("the survivor's repository name does not read: {e}"),
        })?;
        // ASSUMED (docs/research/github-fixes.md, "GraphQL: a duplicate's survivor"): marks are
        // on the duplicate's timeline only; should a survivor's show one naming itself, it is
        // no duplicate.
        if name == *repo && survivor == number.0 {
            return Ok(None);
        }
        Ok(Some((name, IssueNumber(survivor))))
    }

    /// The issues each of `pulls` (pull requests of `repo`) may close, as GitHub lists them:
    /// those its description names with a closing keyword (when it is into the default branch)
    /// and those linked to it by hand in the Development sidebar, as (repository where the issue
    /// is, number), at most 50 a pull request. One query for each 50 pull requests, whose
    /// numbers, like the repository's name, go in `variables`.
    ///
    /// A pull request GitHub does not find (or a number that cannot be one) is left out of the
    /// map; the others are answered. A repository GitHub does not find is `NotFound`, an
    /// installation without `pull_requests: read` `Forbidden`, a spent GraphQL budget
    /// `RateLimited`; GitHub's own failure is `Transient` and any other error `Api`, for the
    /// whole call (what earlier queries read is not returned).
    pub async fn closing_issues(
        &self,
        repo: &RepoName,
        pulls: &[IssueNumber],
    ) -> Result<BTreeMap<IssueNumber, Vec<(RepoName, IssueNumber)>>, ApiError> {
        // GraphQL's `Int` is 32 bits and numbers start at 1: others can be no pull request.
        let asked: BTreeSet<IssueNumber> =
            pulls.iter().copied().filter(|n| n.0 >= 1 && i32::try_from(n.0).is_ok()).collect();
        let asked: Vec<IssueNumber> = asked.into_iter().collect();
        let mut closes = BTreeMap::new();
        for batch in asked.chunks(CLOSING_BATCH) {
            closes.extend(self.closing_batch(repo, batch).await?);
        }
        Ok(closes)
    }

    /// One closing-references query, for at most `CLOSING_BATCH` pull requests.
    async fn closing_batch(
        &self,
        repo: &RepoName,
        pulls: &[IssueNumber],
    ) -> Result<BTreeMap<IssueNumber, Vec<(RepoName, IssueNumber)>>, ApiError> {
        let mut variables = serde_json::Map::new();
        variables.insert("owner".into(), json!(repo.owner()));
        variables.insert("name".into(), json!(repo.name()));
        for (i, number) in pulls.iter().enumerate() {
            variables.insert(format!("n{i}"), json!(number.0));
        }
        let bytes = self.graphql(repo, &closing_query(pulls.len()), serde_json::Value::Object(variables)).await?;
        let answer: Answer<ClosingData> = http::decode(SVC, &bytes)?;
        let errors = answer.errors.unwrap_or_default();
        let subject = format!("{repo} (pull requests {})", numbers(pulls));
        if let Some(error) = batch_error(&errors, &subject) {
            return Err(error);
        }
        let Some(mut answered) = answer.data.and_then(|d| d.repository) else {
            return Err(unreadable(&errors, &subject, "repository"));
        };
        let mut closes = BTreeMap::new();
        for (i, number) in pulls.iter().enumerate() {
            // `null` (with its NOT_FOUND error): no such pull request, left out.
            let Some(Some(pull)) = answered.remove(&format!("p{i}")) else {
                debug!(%repo, pull = number.0, "GitHub's GraphQL API found no such pull request; left out");
                continue;
            };
            let Some(connection) = pull.closing else {
                let detail = format!("{repo}#{number}: a pull request without its closingIssuesReferences");
                return Err(ApiError::Decode { service: SVC, detail });
            };
            closes.insert(*number, closed_by(repo, *number, connection));
        }
        Ok(closes)
    }

    /// Sends a GraphQL query about `repo` (its credential, GraphQL's budget) and returns the
    /// answer's body. The endpoint's own 404, 410 or redirect says nothing about a repository
    /// or an issue: it is an `Api` error, never `NotFound`, `Gone` or `Moved`.
    async fn graphql(
        &self,
        repo: &RepoName,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<bytes::Bytes, ApiError> {
        let body = json!({"query": query, "variables": variables});
        let url = graphql_url(&self.base);
        match self.call_via(Route::Graphql(repo), Method::POST, url.clone(), Some(&body), None).await {
            Ok((_, _, bytes)) => Ok(bytes),
            Err(e @ (ApiError::NotFound { .. } | ApiError::Gone { .. } | ApiError::Moved { .. })) => {
                Err(ApiError::Api {
                    service: SVC,
                    status: e.status().unwrap_or_default(),
                    body: format!("GitHub's GraphQL endpoint ({}) is not there: {e}", url.path()),
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// What the errors of a closing-references answer mean for the whole call, if anything: a
/// refusal of the repository or of the pull requests (one installation permission covers them
/// all), or any other error about a pull request or its connection (a failure: its answer
/// cannot be trusted). A NOT_FOUND about one pull request only leaves it out; errors about one
/// issue on a list leave that issue `null`, skipped.
fn batch_error(errors: &[GraphqlError], subject: &str) -> Option<ApiError> {
    let on_repository = errors.iter().filter(|e| e.about_the_repository());
    let on_pulls = errors.iter().filter(|e| e.about_a_pull().is_some() && e.kind.as_deref() != Some("NOT_FOUND"));
    let on_pulls: Vec<&GraphqlError> = on_pulls.collect();
    if let Some(refusal) = on_repository.chain(on_pulls.iter().copied()).find_map(|e| refusal(e, subject)) {
        return Some(refusal);
    }
    (!on_pulls.is_empty()).then(|| failure(&on_pulls))
}

/// The issues one pull request's connection lists, each once, in GitHub's order; an issue that
/// does not read is left out (and logged), as an unreadable item of a REST list is.
fn closed_by(repo: &RepoName, pull: IssueNumber, connection: WireIssues) -> Vec<(RepoName, IssueNumber)> {
    let nodes = connection.nodes.unwrap_or_default();
    let listed = nodes.len() as u64;
    let mut closes: Vec<(RepoName, IssueNumber)> = Vec::new();
    // A `null` node is an issue the credential cannot see (its error names the item): skipped.
    for node in nodes.into_iter().flatten() {
        let read = node.number.zip(node.repository).map(|(n, r)| (r.name_with_owner.parse::<RepoName>(), n));
        match read {
            Some((Ok(name), n)) => {
                let issue = (name, IssueNumber(n));
                if !closes.contains(&issue) {
                    closes.push(issue);
                }
            }
            _ => warn!(%repo, pull = pull.0, "an issue a pull request closes could not be read; it is left out"),
        }
    }
    if connection.total_count.is_some_and(|total| total > listed) {
        warn!(%repo, pull = pull.0, read = listed, "a pull request closes more issues than one page; the rest are not read");
    }
    closes
}

/// `#1, #2, #3`, or the first three and how many more.
fn numbers(pulls: &[IssueNumber]) -> String {
    let shown: Vec<String> = pulls.iter().take(3).map(|n| format!("#{n}")).collect();
    match pulls.len().saturating_sub(3) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// What an error about the repository, the issue or a pull request means for the caller, if it
/// is a refusal; `subject` names what was asked about.
fn refusal(error: &GraphqlError, subject: &str) -> Option<ApiError> {
    match error.kind.as_deref() {
        Some("NOT_FOUND") => {
            Some(ApiError::NotFound { service: SVC, detail: format!("{subject}: {}", error.message()) })
        }
        Some("FORBIDDEN") => Some(ApiError::Forbidden {
            service: SVC,
            scope: ForbiddenScope::Repository,
            detail: format!("{subject}: {}", error.message()),
        }),
        _ => None,
    }
}

/// The error for an answer without what was asked (`missing`: the repository, the issue…):
/// what its errors say, or, when it gives nothing and says nothing, a 404's `NotFound`.
fn unreadable(errors: &[GraphqlError], subject: &str, missing: &str) -> ApiError {
    if errors.is_empty() {
        return ApiError::NotFound {
            service: SVC,
            detail: format!("{subject}: GitHub's GraphQL API gave no {missing}"),
        };
    }
    failure(&errors.iter().collect::<Vec<_>>())
}

/// What errors that are no refusal mean: GitHub's own failure (retried), else an `Api` error
/// (not retried: the same query would meet the same errors).
fn failure(errors: &[&GraphqlError]) -> ApiError {
    // FACT (GitHawkApp/GitHawk#2156): GitHub's own failure answers an untyped "Something went
    // wrong while executing your query. Please include `ID` when reporting this issue."
    let failed = errors.iter().any(|e| e.kind.is_none() && e.message().starts_with("Something went wrong"));
    let said: Vec<String> = errors.iter().take(3).map(|e| e.message()).collect();
    let said = said.join("; ");
    if failed {
        return ApiError::Transient { service: SVC, detail: format!("GitHub's GraphQL API failed: {said}") };
    }
    ApiError::Api { service: SVC, status: 200, body: format!("GraphQL errors: {said}") }
}

/// Whether a GraphQL answer is GitHub's refusal of a spent budget (HTTP 200 with an error).
// FACTS (docs.github.com, "Rate limits and query limits for the GraphQL API": a spent primary
// limit answers 200 with an error and `x-ratelimit-remaining: 0`; yanyongyu/githubkit#271: its
// type is `RATE_LIMIT` in 2026; stursby/hasvuepassedreactyet#5: `RATE_LIMITED` in 2018).
pub(super) fn says_rate_limited(bytes: &[u8]) -> bool {
    let Ok(answer) = http::decode::<Answer<serde::de::IgnoredAny>>(SVC, bytes) else { return false };
    let limited = |e: &GraphqlError| matches!(e.kind.as_deref(), Some("RATE_LIMITED" | "RATE_LIMIT"));
    answer.errors.unwrap_or_default().iter().any(limited)
}

/// GitHub's GraphQL endpoint for the REST API at `base`: `https://api.github.com/graphql` (and
/// likewise on any host whose API is at its root), or on GitHub Enterprise Server, whose REST
/// API is under `/api/v3`, `/api/graphql`.
// FACTS (docs.github.com, "Forming calls with GraphQL": the endpoint is
// `https://api.github.com/graphql`; on Enterprise Server `http(s)://HOSTNAME/api/graphql`;
// apache/devlake#7541 moved to `/api/graphql` for GHES).
fn graphql_url(base: &Url) -> Url {
    let mut url = base.clone();
    let path = base.path().trim_end_matches('/');
    let graphql = match path.strip_suffix("/api/v3") {
        Some(host_prefix) => format!("{host_prefix}/api/graphql"),
        None => format!("{path}/graphql"),
    };
    url.set_path(&graphql);
    url.set_query(None);
    url.set_fragment(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graphql_endpoint_is_beside_the_rest_api() {
        let at = |base: &str| graphql_url(&Url::parse(base).unwrap()).to_string();
        assert_eq!(at("https://api.github.com"), "https://api.github.com/graphql");
        assert_eq!(at("https://api.github.com/"), "https://api.github.com/graphql");
        assert_eq!(at("https://ghe.corp.example/api/v3"), "https://ghe.corp.example/api/graphql");
        assert_eq!(at("https://ghe.corp.example/api/v3/"), "https://ghe.corp.example/api/graphql");
        assert_eq!(at("https://proxy.example/github/api/v3"), "https://proxy.example/github/api/graphql");
        assert_eq!(at("https://api.acme.ghe.com"), "https://api.acme.ghe.com/graphql");
        assert_eq!(at("http://127.0.0.1:8080"), "http://127.0.0.1:8080/graphql");
    }

    #[test]
    fn a_spent_budget_is_told_from_other_errors_and_from_bodies_that_do_not_read() {
        assert!(says_rate_limited(br#"{"errors":[{"type":"RATE_LIMIT","code":"graphql_rate_limit","message":"x"}]}"#));
        assert!(says_rate_limited(
            br#"{"data":null,"errors":[{"message":"API rate limit exceeded","type":"RATE_LIMITED"}]}"#
        ));
        assert!(!says_rate_limited(
            br#"{"data":{"repository":null},"errors":[{"type":"NOT_FOUND","path":["repository"]}]}"#
        ));
        for odd in [&b""[..], b"[]", b"{\"errors\": 3}", b"{\"errors\": [1]}", b"\xff\xfe", b"null"] {
            assert!(!says_rate_limited(odd), "{odd:?}");
        }
    }

    #[test]
    fn errors_without_the_timeline_are_classified() {
        let repo: RepoName = "acme/x".parse().unwrap();
        let error = |kind: Option<&str>, message: &str| GraphqlError {
            kind: kind.map(str::to_string),
            path: None,
            message: Some(message.to_string()),
        };
        let subject = format!("{repo}#1");
        let wrong = unreadable(&[error(None, "Parse error on \"x\" at [1, 1]")], &subject, "repository");
        assert!(matches!(&wrong, ApiError::Api { status: 200, .. }) && !wrong.is_retryable(), "{wrong:?}");
        let failed = unreadable(&[error(None, "Something went wrong while executing your query.")], &subject, "issue");
        assert!(matches!(failed, ApiError::Transient { .. }), "{failed:?}");
        assert!(matches!(unreadable(&[], &subject, "issue"), ApiError::NotFound { .. }));
        let forbidden =
            GraphqlError { path: Some(vec![json!("repository"), json!("issue")]), ..error(Some("FORBIDDEN"), "no") };
        assert!(forbidden.about_the_issue());
        assert!(matches!(
            refusal(&forbidden, &subject),
            Some(ApiError::Forbidden { scope: ForbiddenScope::Repository, .. })
        ));
        let item = GraphqlError {
            path: Some(vec![json!("repository"), json!("issue"), json!("timelineItems"), json!("nodes"), json!(0)]),
            ..error(Some("NOT_FOUND"), "no")
        };
        assert!(!item.about_the_issue(), "an error about one item is not the issue's");
    }

    #[test]
    fn the_closing_query_names_one_alias_a_pull_request_and_no_values() {
        let query = closing_query(3);
        for i in 0..3 {
            assert!(query.contains(&format!("$n{i}: Int!")), "{query}");
            assert!(query.contains(&format!("p{i}: pullRequest(number: $n{i}) {{ closingIssuesReferences(first: 50)")));
        }
        assert!(!query.contains("p3:") && query.contains("repository(owner: $owner, name: $name)"), "{query}");
        assert_eq!(query.matches('{').count(), query.matches('}').count(), "balanced: {query}");
        assert_eq!(closing_query(CLOSING_BATCH).matches("pullRequest(").count(), 50);
    }

    #[test]
    fn errors_of_a_closing_answer_are_told_apart() {
        let at = |kind: Option<&str>, path: &[serde_json::Value], message: &str| GraphqlError {
            kind: kind.map(str::to_string),
            path: Some(path.to_vec()),
            message: Some(message.to_string()),
        };
        let (repository, p1) = (json!("repository"), json!("p1"));
        let missing = at(Some("NOT_FOUND"), &[repository.clone(), p1.clone()], "Could not resolve to a PullRequest");
        assert_eq!(missing.about_a_pull(), Some("p1"));
        assert!(batch_error(&[missing], "s").is_none(), "one pull request not found is left out");
        let item = at(
            Some("FORBIDDEN"),
            &[repository.clone(), p1.clone(), json!("closingIssuesReferences"), json!("nodes"), json!(0)],
            "x",
        );
        assert!(batch_error(&[item], "s").is_none(), "an error about one issue leaves it null");
        let forbidden =
            at(Some("FORBIDDEN"), &[repository.clone(), p1.clone()], "Resource not accessible by integration");
        assert!(matches!(batch_error(&[forbidden], "s"), Some(ApiError::Forbidden { .. })));
        let gone = at(Some("NOT_FOUND"), std::slice::from_ref(&repository), "Could not resolve to a Repository");
        assert!(matches!(batch_error(&[gone], "s"), Some(ApiError::NotFound { .. })));
        let failed =
            at(None, &[repository.clone(), p1.clone(), json!("closingIssuesReferences")], "Something went wrong");
        assert!(matches!(batch_error(&[failed], "s"), Some(ApiError::Transient { .. })));
        let odd = at(Some("SERVICE_UNAVAILABLE"), &[repository, p1], "x");
        assert!(matches!(batch_error(&[odd], "s"), Some(ApiError::Api { status: 200, .. })));
        assert_eq!(numbers(&[IssueNumber(1), IssueNumber(2)]), "#1, #2");
        assert_eq!(numbers(&(1..=50).map(IssueNumber).collect::<Vec<_>>()), "#1, #2, #3 and 47 more");
    }

    #[test]
    fn closing_answers_read_and_odd_nodes_are_left_out() {
        let body = br#"{"data":{"repository":{"p0":{"closingIssuesReferences":{"totalCount":4,"nodes":[
            {"number":3,"repository":{"nameWithOwner":"acme/x"}},
            null,
            {"number":3,"repository":{"nameWithOwner":"acme/x"}},
            {"number":9,"repository":{"nameWithOwner":"not a name"}},
            {"repository":{"nameWithOwner":"acme/y"}},
            {"number":4,"repository":{"nameWithOwner":"acme/y"}}]}},"p1":null}},
            "errors":[{"type":"NOT_FOUND","path":["repository","p1"],"message":"Could not resolve"}]}"#;
        let answer: Answer<ClosingData> = http::decode(SVC, body).unwrap();
        let mut answered = answer.data.unwrap().repository.unwrap();
        assert!(matches!(answered.get("p1"), Some(None)), "a pull request not found is null");
        let repo: RepoName = "acme/x".parse().unwrap();
        let connection = answered.remove("p0").flatten().and_then(|p| p.closing).unwrap();
        let closes = closed_by(&repo, IssueNumber(1), connection);
        let y: RepoName = "acme/y".parse().unwrap();
        assert_eq!(closes, [(repo, IssueNumber(3)), (y, IssueNumber(4))]);
    }
}
