//! The GraphQL endpoint in both layouts (`/graphql`; on GitHub Enterprise Server
//! `/api/graphql`): the survivor of an issue closed as a duplicate, as the last
//! `MarkedAsDuplicateEvent` / `UnmarkedAsDuplicateEvent` of its timeline; the issues pull
//! requests may close (`closingIssuesReferences`, one alias a pull request: closing keywords
//! into the default branch, hand links, an unknown number `null` beside the others); GraphQL's
//! error shapes (HTTP 200 with `errors`), its 401, its own points budget, and an App
//! installation's reach.

use reqwest::Response;
use serde_json::{json, Value};

use super::app::{app_harness, good_jwt, mint};
use super::*;

const LAYOUTS: [&str; 2] = ["", "/api/v3"];

/// The query ticket-sync sends (the fake only looks for the names in it).
const QUERY: &str = "query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    issue(number: $number) {
      timelineItems(itemTypes: [MARKED_AS_DUPLICATE_EVENT, UNMARKED_AS_DUPLICATE_EVENT], last: 1) {
        nodes {
          __typename
          ... on MarkedAsDuplicateEvent {
            canonical {
              __typename
              ... on Issue { number repository { nameWithOwner } }
              ... on PullRequest { number repository { nameWithOwner } }
            }
          }
        }
      }
    }
  }
}";

fn variables(repo: &str, number: u64) -> Value {
    let (owner, name) = repo.split_once('/').unwrap();
    json!({"owner": owner, "name": name, "number": number})
}

/// POSTs `body` to the GraphQL endpoint with `credential` (the harness's token by default).
async fn post_as(h: &Harness, body: &[u8], credential: &str) -> Response {
    (h.http.post(h.gh.graphql_url()))
        .header("user-agent", "ticket-sync-tests")
        .header("content-type", "application/json")
        .header("authorization", format!("bearer {credential}"))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn ask_as(h: &Harness, repo: &str, number: u64, credential: &str) -> Response {
    let body = json!({"query": QUERY, "variables": variables(repo, number)});
    post_as(h, &serde_json::to_vec(&body).unwrap(), credential).await
}

async fn ask(h: &Harness, repo: &str, number: u64) -> Response {
    ask_as(h, repo, number, TOKEN).await
}

/// The timeline nodes of a successful answer.
async fn nodes(resp: Response) -> Vec<Value> {
    assert_eq!(resp.status(), 200);
    let answer = body(resp).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"]["repository"]["issue"]["timelineItems"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_last_mark_names_the_survivor_in_both_layouts() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        h.gh.add_repo("acme/other", Visibility::Public, true);
        let (dup, survivor) = (h.create_issue("Crash on save").await, h.create_issue("Crash when saving").await);
        let elsewhere = h.gh.add_issue("acme/other", "Saving crashes", "", "alice");
        h.gh.close_as_duplicate(REPO, dup, "acme/other", elsewhere, "maintainer");
        h.gh.reopen_issue(REPO, dup, "maintainer");
        h.gh.close_as_duplicate(REPO, dup, REPO, survivor, "maintainer");

        let resp = ask(&h, REPO, dup).await;
        assert_eq!(header(&resp, "x-ratelimit-resource").as_deref(), Some("graphql"), "{prefix:?}");
        assert_eq!(remaining(&resp), 4999, "one point, GraphQL's own budget");
        assert_eq!(header(&resp, "etag"), None, "ASSUMED: no ETag on GraphQL answers");
        let got = nodes(resp).await;
        let expected = json!({
            "__typename": "MarkedAsDuplicateEvent",
            "canonical": {"__typename": "Issue", "number": survivor, "repository": {"nameWithOwner": REPO}},
        });
        assert_eq!(got, [expected], "last: 1 gives the last of the two marks ({prefix:?})");
        let rest = h.get(&format!("/repos/{REPO}")).await;
        assert_eq!(remaining(&rest), 4997, "REST's budget is apart: two creates and this read");
    }
}

#[tokio::test]
async fn the_graphql_endpoint_is_beside_the_api_not_under_its_prefix() {
    let h = harness_with_prefix("/api/v3").await;
    let web = h.gh.web_url();
    assert_eq!(h.gh.graphql_url(), format!("{web}/api/graphql"));
    let under_prefix = h.post("/graphql", json!({"query": QUERY})).await;
    assert_eq!(under_prefix.status(), 404, "`/api/v3/graphql` is no endpoint");
    let root = h.http.post(format!("{web}/graphql")).header("user-agent", "t").send().await.unwrap();
    assert_eq!(root.status(), 404);
    let dotcom = harness().await;
    assert_eq!(dotcom.gh.graphql_url(), format!("{}/graphql", dotcom.gh.base_url()));
    let logged = |h: &Harness| h.gh.door.log.entries().iter().any(|r| r.path == "/graphql");
    ask(&h, REPO, 1).await;
    ask(&dotcom, REPO, 1).await;
    assert!(logged(&h) && logged(&dotcom), "the front door sees `/graphql` in both layouts");
}

#[tokio::test]
async fn an_unmark_ends_the_duplicate_and_a_new_mark_counts_again() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let (dup, survivor) = (h.create_issue("A").await, h.create_issue("B").await);
        h.gh.close_as_duplicate(REPO, dup, REPO, survivor, "maintainer");
        h.gh.unmark_duplicate(REPO, dup, "maintainer");
        let got = nodes(ask(&h, REPO, dup).await).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["__typename"], "UnmarkedAsDuplicateEvent", "{prefix:?}: the unmark is the last word");
        assert_eq!(got[0]["canonical"]["number"], survivor, "it names what it was a duplicate of");
        assert_eq!(h.gh.issue(REPO, dup).unwrap().state, "closed", "the issue stays closed");

        h.gh.reopen_issue(REPO, dup, "maintainer");
        h.gh.close_as_duplicate(REPO, dup, REPO, survivor, "maintainer");
        let got = nodes(ask(&h, REPO, dup).await).await;
        assert_eq!(got[0]["__typename"], "MarkedAsDuplicateEvent");
    }
}

#[tokio::test]
async fn a_plain_close_or_the_survivor_itself_has_no_mark() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let (plain, dup, survivor) = (h.create_issue("A").await, h.create_issue("B").await, h.create_issue("C").await);
        h.gh.close_issue(REPO, plain, "completed", "maintainer");
        let reason_only = h.create_issue("D").await;
        h.gh.close_issue(REPO, reason_only, "duplicate", "maintainer");
        h.gh.close_as_duplicate(REPO, dup, REPO, survivor, "maintainer");
        for number in [plain, reason_only, survivor] {
            assert_eq!(nodes(ask(&h, REPO, number).await).await, Vec::<Value>::new(), "{prefix:?} #{number}");
        }
    }
}

#[tokio::test]
async fn the_survivor_is_where_it_lives_now_and_may_be_a_pull_request() {
    let h = harness().await;
    h.gh.add_repo("acme/other", Visibility::Public, true);
    let (dup, survivor) = (h.create_issue("A").await, h.create_issue("B").await);
    h.gh.close_as_duplicate(REPO, dup, REPO, survivor, "maintainer");
    let moved = h.gh.transfer_issue(REPO, survivor, "acme/other");
    let canonical = &nodes(ask(&h, REPO, dup).await).await[0]["canonical"];
    assert_eq!(canonical["repository"]["nameWithOwner"], "acme/other");
    assert_eq!(canonical["number"], moved);
    h.gh.delete_issue("acme/other", moved);
    assert_eq!(nodes(ask(&h, REPO, dup).await).await[0]["canonical"], Value::Null, "ASSUMED: a deleted one is null");

    let other = h.create_issue("E").await;
    let pr = h.gh.open_pull_request(REPO, "Fix", "", "dev");
    h.gh.close_as_duplicate(REPO, other, REPO, pr, "maintainer");
    let canonical = &nodes(ask(&h, REPO, other).await).await[0]["canonical"];
    assert_eq!((canonical["__typename"].as_str(), canonical["number"].as_u64()), (Some("PullRequest"), Some(pr)));

    h.gh.rename_repo(REPO, "helpdesk");
    let by_old_name = nodes(ask(&h, REPO, other).await).await;
    assert_eq!(by_old_name[0]["canonical"]["repository"]["nameWithOwner"], "acme/helpdesk", "renames are followed");
}

#[tokio::test]
async fn what_cannot_be_found_is_a_not_found_error_with_http_200() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let resp = ask(&h, REPO, 999).await;
        assert_eq!(resp.status(), 200, "{prefix:?}");
        let answer = body(resp).await;
        assert_eq!(answer["data"], json!({"repository": {"issue": null}}));
        let error = &answer["errors"][0];
        assert_eq!(error["type"], "NOT_FOUND");
        assert_eq!(error["path"], json!(["repository", "issue"]));
        assert_eq!(error["message"], "Could not resolve to an Issue with the number of 999.");
        assert_eq!(error["locations"], json!([{"line": 3, "column": 5}]));

        let answer = body(ask(&h, "acme/nowhere", 1).await).await;
        assert_eq!(answer["data"], json!({"repository": null}));
        assert_eq!(answer["errors"][0]["type"], "NOT_FOUND");
        assert_eq!(answer["errors"][0]["path"], json!(["repository"]));
        assert_eq!(answer["errors"][0]["message"], "Could not resolve to a Repository with the name 'acme/nowhere'.");

        let pr = h.gh.open_pull_request(REPO, "Fix", "", "dev");
        let answer = body(ask(&h, REPO, pr).await).await;
        assert_eq!(answer["errors"][0]["type"], "NOT_FOUND", "ASSUMED: a pull request is not an Issue");
        h.gh.set_hidden(REPO, true);
        let answer = body(ask(&h, REPO, 1).await).await;
        assert_eq!(answer["data"], json!({"repository": null}), "a repository the token cannot see");
    }
}

#[tokio::test]
async fn a_bad_token_is_refused_with_graphqls_401() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let resp = ask_as(&h, REPO, 1, "ghp_not_the_token").await;
        assert_eq!(resp.status(), 401, "{prefix:?}");
        assert_eq!(header(&resp, "x-ratelimit-limit").as_deref(), Some("0"));
        assert_eq!(header(&resp, "x-ratelimit-remaining").as_deref(), Some("0"));
        assert_eq!(header(&resp, "x-ratelimit-resource").as_deref(), Some("graphql"));
        let expected = json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql"});
        assert_eq!(body(resp).await, expected);
        let no_agent = h.http.post(h.gh.graphql_url()).header("authorization", format!("token {TOKEN}")).send().await;
        assert_eq!(no_agent.unwrap().status(), 403, "the User-Agent rule holds here too");
    }
}

#[tokio::test]
async fn bodies_and_queries_it_cannot_read_get_githubs_answers() {
    let h = harness().await;
    let resp = post_as(&h, b"{\"query\": ", TOKEN).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(body(resp).await["message"], "Problems parsing JSON");
    let resp = post_as(&h, b"[1, 2]", TOKEN).await;
    assert_eq!(
        (resp.status().as_u16(), body(resp).await["message"].clone()),
        (400, json!("Body should be a JSON object"))
    );
    let resp = post_as(&h, b"{\"variables\": {}}", TOKEN).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(body(resp).await["errors"][0]["message"], "A query attribute must be specified and must be a string.");

    let other = serde_json::to_vec(&json!({"query": "{ viewer { login } }"})).unwrap();
    let resp = post_as(&h, &other, TOKEN).await;
    assert_eq!(resp.status(), 200, "a query the fake does not model: a parse error, as GitHub's look");
    let answer = body(resp).await;
    assert!(answer.get("data").is_none(), "{answer}");
    assert!(answer["errors"][0]["message"].as_str().unwrap().starts_with("Parse error on"), "{answer}");
    assert_eq!(answer["errors"][0]["locations"], json!([{"line": 1, "column": 1}]));

    let missing = serde_json::to_vec(&json!({"query": QUERY, "variables": {"owner": "acme", "number": "7"}})).unwrap();
    let answer = body(post_as(&h, &missing, TOKEN).await).await;
    let messages: Vec<&str> =
        answer["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        [
            "Variable $name of type String! was provided invalid value",
            "Variable $number of type Int! was provided invalid value"
        ]
    );
    let unpaged = QUERY.replace(", last: 1", "");
    let unpaged = serde_json::to_vec(&json!({"query": unpaged, "variables": variables(REPO, 1)})).unwrap();
    h.create_issue("A").await;
    let answer = body(post_as(&h, &unpaged, TOKEN).await).await;
    assert_eq!(answer["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES", "{answer}");
    let mut garbage = QUERY.as_bytes().to_vec();
    garbage.extend([0xff, 0xfe]);
    assert_eq!(post_as(&h, &garbage, TOKEN).await.status(), 400, "no panic on bytes that are not JSON");
}

#[tokio::test]
async fn graphqls_points_are_spent_apart_and_refused_with_http_200() {
    let h = harness().await;
    let n = h.create_issue("A").await;
    h.gh.set_graphql_remaining(1);
    let last = ask(&h, REPO, n).await;
    assert_eq!((last.status().as_u16(), remaining(&last)), (200, 0));
    let refused = ask(&h, REPO, n).await;
    assert_eq!((refused.status().as_u16(), remaining(&refused)), (200, 0));
    assert_eq!(header(&refused, "x-ratelimit-resource").as_deref(), Some("graphql"));
    let answer = body(refused).await;
    assert_eq!(answer["errors"][0]["type"], "RATE_LIMIT");
    assert!(answer["errors"][0]["message"].as_str().unwrap().starts_with("API rate limit already exceeded"));
    let rest = h.get(&format!("/repos/{REPO}")).await;
    assert_eq!((rest.status().as_u16(), header(&rest, "x-ratelimit-resource")), (200, Some("core".to_string())));
    h.advance(3600);
    assert_eq!(remaining(&ask(&h, REPO, n).await), 4999, "the next hour window");
}

#[tokio::test]
async fn an_installation_reads_its_accounts_duplicates_with_issues_read() {
    let (h, installation) = app_harness(Some("read")).await;
    let (dup, survivor) = (h.gh.add_issue(REPO, "A", "", "alice"), h.gh.add_issue(REPO, "B", "", "bob"));
    h.gh.close_as_duplicate(REPO, dup, REPO, survivor, "maintainer");
    let token = mint(&h, installation).await;
    let got = nodes(ask_as(&h, REPO, dup, &token).await).await;
    assert_eq!(got[0]["canonical"]["number"], survivor);
    assert_eq!(ask_as(&h, REPO, dup, TOKEN).await.status(), 401, "the personal token is refused in App mode");
    assert_eq!(ask_as(&h, REPO, dup, &good_jwt(&h)).await.status(), 401, "ASSUMED: a JWT is refused");

    let elsewhere = body(ask_as(&h, "other/elsewhere", 1, &token).await).await;
    assert_eq!(elsewhere["errors"][0]["type"], "NOT_FOUND", "another account's repository is not seen");
    h.gh.set_installation_permission(installation, "issues", None);
    let token = mint(&h, installation).await;
    let refused = body(ask_as(&h, REPO, dup, &token).await).await;
    assert_eq!(refused["data"], json!({"repository": {"issue": null}}));
    assert_eq!(refused["errors"][0]["type"], "FORBIDDEN");
    assert_eq!(refused["errors"][0]["message"], "Resource not accessible by integration");
}

/// The closing-references query ticket-sync sends for `count` pull requests: one alias each,
/// every value a variable.
fn closing_query(count: usize, connection_arguments: &str) -> String {
    let numbers: String = (0..count).map(|i| format!(", $n{i}: Int!")).collect();
    let aliases: String = (0..count)
        .map(|i| {
            format!(
                "    p{i}: pullRequest(number: $n{i}) {{\n      closingIssuesReferences({connection_arguments}) {{\n        \
                 totalCount\n        nodes {{ number repository {{ nameWithOwner }} }}\n      }}\n    }}\n"
            )
        })
        .collect();
    format!(
        "query ClosingIssues($owner: String!, $name: String!{numbers}) {{\n  repository(owner: $owner, name: $name) \
         {{\n{aliases}  }}\n}}"
    )
}

fn closing_variables(repo: &str, pulls: &[u64]) -> Value {
    let (owner, name) = repo.split_once('/').unwrap();
    let mut variables = json!({"owner": owner, "name": name});
    for (i, n) in pulls.iter().enumerate() {
        variables[format!("n{i}")] = json!(n);
    }
    variables
}

async fn ask_closing_with(h: &Harness, repo: &str, pulls: &[u64], arguments: &str, credential: &str) -> Value {
    let request = json!({"query": closing_query(pulls.len(), arguments), "variables": closing_variables(repo, pulls)});
    let resp = post_as(h, &serde_json::to_vec(&request).unwrap(), credential).await;
    assert_eq!(resp.status(), 200);
    body(resp).await
}

async fn ask_closing(h: &Harness, pulls: &[u64]) -> Value {
    ask_closing_with(h, REPO, pulls, "first: 50", TOKEN).await
}

/// The (repository, number) pairs one alias lists.
fn listed(answer: &Value, alias: &str) -> Vec<(String, u64)> {
    let nodes = answer["data"]["repository"][alias]["closingIssuesReferences"]["nodes"].as_array();
    let nodes = nodes.unwrap_or_else(|| panic!("{alias} has no nodes: {answer}"));
    nodes
        .iter()
        .map(|n| (n["repository"]["nameWithOwner"].as_str().unwrap().to_string(), n["number"].as_u64().unwrap()))
        .collect()
}

fn here(numbers: &[u64]) -> Vec<(String, u64)> {
    numbers.iter().map(|n| (REPO.to_string(), *n)).collect()
}

#[tokio::test]
async fn a_pull_requests_keyword_closes_and_hand_links_are_listed_in_both_layouts() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        h.gh.add_repo("acme/other", Visibility::Public, true);
        let (a, b, c) = (h.create_issue("A").await, h.create_issue("B").await, h.create_issue("C").await);
        let elsewhere = h.gh.add_issue("acme/other", "D", "", "alice");
        let text = format!("Fixes #{a}, see #{c}, and resolves acme/other#{elsewhere}");
        let keyword = h.gh.open_pull_request(REPO, "Fix A", &text, "dev");
        let by_hand = h.gh.open_pull_request(REPO, "Fix B", "No keyword here", "dev");
        h.gh.link_pull_request(REPO, b, REPO, by_hand, "maintainer");
        let neither = h.gh.open_pull_request(REPO, "Refactor", &format!("Mentions #{a} only"), "dev");

        let variables = closing_variables(REPO, &[keyword, by_hand, neither]);
        let request = json!({"query": closing_query(3, "first: 50"), "variables": variables});
        let resp = post_as(&h, &serde_json::to_vec(&request).unwrap(), TOKEN).await;
        assert_eq!(remaining(&resp), 4999, "{prefix:?}: one query of 3 pull requests is one point");
        assert_eq!(header(&resp, "x-ratelimit-resource").as_deref(), Some("graphql"));
        let answer = body(resp).await;
        assert!(answer.get("errors").is_none(), "{answer}");
        let mut expected = here(&[a]);
        expected.push(("acme/other".to_string(), elsewhere));
        assert_eq!(listed(&answer, "p0"), expected, "{prefix:?}: keywords, here and in another repository");
        assert_eq!(listed(&answer, "p1"), here(&[b]), "{prefix:?}: a hand link in the Development sidebar");
        assert_eq!(listed(&answer, "p2"), here(&[]), "{prefix:?}: a mention closes nothing");
        assert_eq!(answer["data"]["repository"]["p0"]["closingIssuesReferences"]["totalCount"], 2);

        h.gh.link_pull_request(REPO, c, REPO, keyword, "maintainer");
        h.gh.link_pull_request(REPO, a, REPO, keyword, "maintainer");
        let answer = ask_closing(&h, &[keyword]).await;
        let mut expected = here(&[a]);
        expected.push(("acme/other".to_string(), elsewhere));
        expected.push((REPO.to_string(), c));
        assert_eq!(listed(&answer, "p0"), expected, "keywords first, then hand links, each issue once");
    }
}

#[tokio::test]
async fn an_unlink_removes_the_hand_link_but_not_a_keyword() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let (a, b) = (h.create_issue("A").await, h.create_issue("B").await);
        let pr = h.gh.open_pull_request(REPO, "Fix", &format!("Closes #{a}"), "dev");
        h.gh.link_pull_request(REPO, b, REPO, pr, "maintainer");
        assert_eq!(listed(&ask_closing(&h, &[pr]).await, "p0"), here(&[a, b]), "{prefix:?}");
        h.gh.unlink_pull_request(REPO, b, REPO, pr, "maintainer");
        assert_eq!(listed(&ask_closing(&h, &[pr]).await, "p0"), here(&[a]), "{prefix:?}: unlinked");
        h.gh.edit_pull_request_body(REPO, pr, "No longer closes anything", "dev");
        assert_eq!(listed(&ask_closing(&h, &[pr]).await, "p0"), here(&[]), "{prefix:?}: the keyword edited away");
        let hand_only = ask_closing_with(&h, REPO, &[pr], "first: 50, userLinkedOnly: true", TOKEN).await;
        assert_eq!(listed(&hand_only, "p0"), here(&[]));
        h.gh.edit_pull_request_body(REPO, pr, &format!("Fixes #{a}"), "dev");
        h.gh.link_pull_request(REPO, b, REPO, pr, "maintainer");
        let hand_only = ask_closing_with(&h, REPO, &[pr], "first: 50, userLinkedOnly: true", TOKEN).await;
        assert_eq!(listed(&hand_only, "p0"), here(&[b]), "ASSUMED: userLinkedOnly lists the hand links alone");
    }
}

#[tokio::test]
async fn a_batch_with_an_unknown_number_answers_the_others() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let a = h.create_issue("A").await;
        let pr = h.gh.open_pull_request(REPO, "Fix", &format!("Fixes #{a}"), "dev");
        let answer = ask_closing(&h, &[pr, 999, a]).await;
        assert_eq!(listed(&answer, "p0"), here(&[a]), "{prefix:?}: the known one is answered");
        assert_eq!(answer["data"]["repository"]["p1"], Value::Null);
        assert_eq!(answer["data"]["repository"]["p2"], Value::Null, "ASSUMED: an issue is no PullRequest");
        let errors = answer["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{answer}");
        assert_eq!(errors[0]["type"], "NOT_FOUND");
        assert_eq!(errors[0]["path"], json!(["repository", "p1"]));
        assert_eq!(errors[0]["message"], "Could not resolve to a PullRequest with the number of 999.");
        assert_eq!(errors[0]["locations"], json!([{"line": 9, "column": 5}]), "where `p1:` is");
        assert_eq!(errors[1]["path"], json!(["repository", "p2"]));
        assert_eq!(errors[1]["message"], format!("Could not resolve to a PullRequest with the number of {a}."));

        let answer = ask_closing_with(&h, "acme/nowhere", &[pr], "first: 50", TOKEN).await;
        assert_eq!(answer["data"], json!({"repository": null}));
        assert_eq!(
            (answer["errors"][0]["type"].as_str(), &answer["errors"][0]["path"]),
            (Some("NOT_FOUND"), &json!(["repository"]))
        );
    }
}

#[tokio::test]
async fn a_pull_request_into_another_branch_lists_its_hand_links_only() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let (a, b) = (h.create_issue("A").await, h.create_issue("B").await);
        let main = h.gh.default_branch(REPO);
        h.gh.create_branch(REPO, "release-1", &main);
        let pr = h.gh.open_pull_request_onto(REPO, "release-1", "Backport", &format!("Fixes #{a}"), "dev");
        assert_eq!(listed(&ask_closing(&h, &[pr]).await, "p0"), here(&[]), "{prefix:?}: keywords are ignored there");
        h.gh.link_pull_request(REPO, b, REPO, pr, "maintainer");
        assert_eq!(listed(&ask_closing(&h, &[pr]).await, "p0"), here(&[b]), "{prefix:?}: a hand link is listed");
    }
}

#[tokio::test]
async fn a_merged_or_closed_pull_request_keeps_its_list() {
    for prefix in LAYOUTS {
        let h = harness_with_prefix(prefix).await;
        let (a, b, c) = (h.create_issue("A").await, h.create_issue("B").await, h.create_issue("C").await);
        let merged = h.gh.open_pull_request(REPO, "Fix", &format!("Fixes #{a}"), "dev");
        h.gh.link_pull_request(REPO, b, REPO, merged, "maintainer");
        h.gh.merge_pull_request(REPO, merged, crate::github::state::MergeMethod::Squash, "maintainer");
        assert_eq!(h.gh.issue(REPO, a).unwrap().state, "closed", "the merge closed them");
        let closed = h.gh.open_pull_request(REPO, "Abandoned", &format!("Fixes #{c}"), "dev");
        h.gh.close_pull_request(REPO, closed, "maintainer");
        let answer = ask_closing(&h, &[merged, closed]).await;
        assert_eq!(listed(&answer, "p0"), here(&[a, b]), "{prefix:?}: ASSUMED: closed issues stay listed");
        assert_eq!(listed(&answer, "p1"), here(&[c]), "{prefix:?}: ASSUMED: a closed one keeps its list");
    }
}

#[tokio::test]
async fn closing_references_are_paged_and_their_variables_checked() {
    let h = harness().await;
    let issues: Vec<u64> = [0; 3].iter().map(|_| h.gh.add_issue(REPO, "A", "", "alice")).collect();
    let text: Vec<String> = issues.iter().map(|n| format!("Fixes #{n}")).collect();
    let pr = h.gh.open_pull_request(REPO, "Fix", &text.join(", "), "dev");
    let answer = ask_closing_with(&h, REPO, &[pr], "first: 2", TOKEN).await;
    assert_eq!(listed(&answer, "p0"), here(&issues[..2]));
    assert_eq!(answer["data"]["repository"]["p0"]["closingIssuesReferences"]["totalCount"], 3);
    let answer = ask_closing_with(&h, REPO, &[pr], "first: 101", TOKEN).await;
    assert_eq!(answer["errors"][0]["type"], "EXCESSIVE_PAGINATION", "{answer}");
    let answer = ask_closing_with(&h, REPO, &[pr], "userLinkedOnly: false", TOKEN).await;
    assert_eq!(answer["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES", "{answer}");

    let mut variables = closing_variables(REPO, &[pr, pr]);
    variables["n1"] = json!("7");
    let bad = json!({"query": closing_query(2, "first: 50"), "variables": variables});
    let answer = body(post_as(&h, &serde_json::to_vec(&bad).unwrap(), TOKEN).await).await;
    assert!(answer.get("data").is_none(), "a bad variable runs nothing: {answer}");
    assert_eq!(answer["errors"][0]["message"], "Variable $n1 of type Int! was provided invalid value");
    variables["n1"] = json!(1_u64 << 40);
    let bad = json!({"query": closing_query(2, "first: 50"), "variables": variables});
    let answer = body(post_as(&h, &serde_json::to_vec(&bad).unwrap(), TOKEN).await).await;
    assert!(answer["errors"][0]["message"].as_str().unwrap().contains("$n1"), "GraphQL's Int is 32 bits: {answer}");
}

#[tokio::test]
async fn an_installation_reads_closing_references_with_pull_requests_read() {
    let (h, installation) = app_harness(Some("read")).await;
    let a = h.gh.add_issue(REPO, "A", "", "alice");
    let pr = h.gh.open_pull_request(REPO, "Fix", &format!("Fixes #{a}"), "dev");
    let token = mint(&h, installation).await;
    let refused = ask_closing_with(&h, REPO, &[pr], "first: 50", &token).await;
    assert_eq!(refused["data"], json!({"repository": {"p0": null}}));
    assert_eq!(refused["errors"][0]["type"], "FORBIDDEN", "ASSUMED: pull requests need pull_requests: read");
    assert_eq!(refused["errors"][0]["path"], json!(["repository", "p0"]));
    h.gh.set_installation_permission(installation, "pull_requests", Some("read"));
    let token = mint(&h, installation).await;
    assert_eq!(listed(&ask_closing_with(&h, REPO, &[pr], "first: 50", &token).await, "p0"), here(&[a]));
}
