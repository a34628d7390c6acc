//! What ticket-sync reads through GitHub's GraphQL API: the survivor ("canonical" issue) of an
//! issue closed as a duplicate, which the REST API never names (docs/research/github-fixes.md,
//! §5 and "GraphQL: a duplicate's survivor"). The query goes through the client's request path
//! (`Route::Graphql`): the credential covering the repository, GraphQL's own points budget, and
//! the same classification of HTTP-level refusals as REST's; what GraphQL reports in `errors`
//! (with HTTP 200) is classified here. The sandbox models the answers
//! (`crates/sandbox/src/github/tests/graphql.rs`).

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;
use url::Url;

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
        if let Some(refusal) = errors.iter().filter(|e| e.about_the_issue()).find_map(|e| refusal(e, repo, number)) {
            return Err(refusal);
        }
        let repository = answer.data.and_then(|d| d.repository);
        let nodes = repository.as_ref().and_then(|r| r.issue.as_ref()).and_then(|i| i.timeline_items.as_ref());
        let Some(nodes) = nodes.map(|c| c.nodes.as_deref().unwrap_or_default()) else {
            return Err(unreadable(&errors, repo, number, repository.is_some()));
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

/// What an error about the repository or the issue means for the caller, if it is a refusal.
fn refusal(error: &GraphqlError, repo: &RepoName, number: IssueNumber) -> Option<ApiError> {
    match error.kind.as_deref() {
        Some("NOT_FOUND") => {
            Some(ApiError::NotFound { service: SVC, detail: format!("{repo}#{number}: {}", error.message()) })
        }
        Some("FORBIDDEN") => Some(ApiError::Forbidden {
            service: SVC,
            scope: ForbiddenScope::Repository,
            detail: format!("{repo}#{number}: {}", error.message()),
        }),
        _ => None,
    }
}

/// The error for an answer without the timeline: GitHub's own failure (retried), what its
/// errors say (not retried: the same query would meet the same errors), or an answer that
/// names no repository or issue and says nothing (as a 404).
fn unreadable(errors: &[GraphqlError], repo: &RepoName, number: IssueNumber, had_repository: bool) -> ApiError {
    if errors.is_empty() {
        let missing = if had_repository { "issue" } else { "repository" };
        return ApiError::NotFound {
            service: SVC,
            detail: format!("{repo}#{number}: GitHub's GraphQL API gave no {missing}"),
        };
    }
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
        let wrong = unreadable(&[error(None, "Parse error on \"x\" at [1, 1]")], &repo, IssueNumber(1), false);
        assert!(matches!(&wrong, ApiError::Api { status: 200, .. }) && !wrong.is_retryable(), "{wrong:?}");
        let failed = unreadable(
            &[error(None, "Something went wrong while executing your query.")],
            &repo,
            IssueNumber(1),
            false,
        );
        assert!(matches!(failed, ApiError::Transient { .. }), "{failed:?}");
        assert!(matches!(unreadable(&[], &repo, IssueNumber(1), true), ApiError::NotFound { .. }));
        let forbidden =
            GraphqlError { path: Some(vec![json!("repository"), json!("issue")]), ..error(Some("FORBIDDEN"), "no") };
        assert!(forbidden.about_the_issue());
        assert!(matches!(
            refusal(&forbidden, &repo, IssueNumber(1)),
            Some(ApiError::Forbidden { scope: ForbiddenScope::Repository, .. })
        ));
        let item = GraphqlError {
            path: Some(vec![json!("repository"), json!("issue"), json!("timelineItems"), json!("nodes"), json!(0)]),
            ..error(Some("NOT_FOUND"), "no")
        };
        assert!(!item.about_the_issue(), "an error about one item is not the issue's");
    }
}
