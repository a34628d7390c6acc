//! Tests of `GET …/issues`: pagination links, pull requests in the list, `since`, filters,
//! ordering, and the 422s for bad parameters.

use serde_json::json;

use super::*;

#[tokio::test]
async fn issue_list_links_use_repositories_urls_that_work_when_followed() {
    let h = harness().await;
    for i in 1..=7 {
        h.create_issue(&format!("issue {i}")).await;
    }
    let first = h.get(&format!("/repos/{REPO}/issues?per_page=3&state=all")).await;
    let page_url = |n: u64| h.url(&format!("/repositories/{}/issues?per_page=3&state=all&page={n}", h.repo_id));
    let rels = links(&first);
    assert_eq!(rels.len(), 2);
    assert_eq!((rels["next"].clone(), rels["last"].clone()), (page_url(2), page_url(3)));
    let mut seen = numbers(&body(first).await);
    let middle = h.get(&rels["next"]).await;
    let middle_rels = links(&middle);
    let expected_order = format!(
        "<{}>; rel=\"prev\", <{}>; rel=\"next\", <{}>; rel=\"last\", <{}>; rel=\"first\"",
        page_url(1),
        page_url(3),
        page_url(3),
        page_url(1)
    );
    assert_eq!(header(&middle, "link").unwrap(), expected_order);
    seen.extend(numbers(&body(middle).await));
    let last = h.get(&middle_rels["next"]).await;
    let last_rels = links(&last);
    let mut rel_names: Vec<&String> = last_rels.keys().collect();
    rel_names.sort();
    assert_eq!(rel_names, ["first", "prev"]);
    seen.extend(numbers(&body(last).await));
    assert_eq!(seen, [7, 6, 5, 4, 3, 2, 1]);
}

#[tokio::test]
async fn single_page_list_has_no_link_header() {
    let h = harness().await;
    h.create_issue("only").await;
    let resp = h.get(&format!("/repos/{REPO}/issues")).await;
    assert!(header(&resp, "link").is_none());
    assert_eq!(body(resp).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn issue_list_includes_pull_requests_marked_with_pull_request() {
    let h = harness().await;
    let issue = h.create_issue("plain").await;
    let pr = h.gh.add_pull_request(REPO, "a change");
    assert_eq!(pr, issue + 1, "PRs share the issue number sequence");
    let list = body(h.get(&format!("/repos/{REPO}/issues")).await).await;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 2);
    let pr_item = items.iter().find(|i| i["number"] == pr).unwrap();
    let pr_url = h.url(&format!("/repos/{REPO}/pulls/{pr}"));
    assert_eq!(pr_item["pull_request"]["url"], pr_url);
    let plain = items.iter().find(|i| i["number"] == issue).unwrap();
    assert!(plain.get("pull_request").is_none());
    assert_eq!(h.gh.issues(REPO).len(), 1, "the helper reports plain issues only");
}

#[tokio::test]
async fn since_returns_only_items_updated_at_or_after_it() {
    let h = harness().await;
    let old = h.create_issue("old").await;
    let touched = h.create_issue("touched").await;
    h.advance(120);
    h.gh.add_comment(REPO, touched, "alice", "bump");
    let since = super::super::wire::ts(h.gh.issue(REPO, touched).unwrap().updated_at);
    let path = format!("/repos/{REPO}/issues?since={since}");
    let list = body(h.get(&path).await).await;
    assert_eq!(numbers(&list), [touched]);
    let earlier = super::super::wire::ts(h.gh.issue(REPO, old).unwrap().updated_at);
    let all = body(h.get(&format!("/repos/{REPO}/issues?since={earlier}")).await).await;
    assert_eq!(numbers(&all), [touched, old]);
}

#[tokio::test]
async fn bad_list_parameters_are_422() {
    let h = harness().await;
    for query in ["state=done", "since=yesterday", "sort=title", "direction=up"] {
        let resp = h.get(&format!("/repos/{REPO}/issues?{query}")).await;
        assert_eq!(resp.status(), 422, "{query}");
        assert_eq!(body(resp).await["message"], "Validation Failed");
    }
    let unknown = h.get(&format!("/repositories/{}/issues", h.repo_id + 1000)).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn list_filters_by_state_creator_and_labels_and_sorts() {
    let h = harness().await;
    let path = format!("/repos/{REPO}/issues");
    let tagged = h.post(&path, json!({"title": "t", "labels": ["zendesk", "p1"]})).await;
    let tagged = body(tagged).await["number"].as_u64().unwrap();
    let other = h.post(&path, json!({"title": "u", "labels": ["zendesk"]})).await;
    let other = body(other).await["number"].as_u64().unwrap();
    let human = h.gh.add_issue(REPO, "by alice", "", "alice");
    h.advance(5);
    h.gh.close_issue(REPO, other, "completed", "alice");
    assert_eq!(h.numbers(&format!("{path}?")).await, [human, tagged]);
    assert_eq!(h.numbers(&format!("{path}?state=closed")).await, [other]);
    assert_eq!(h.numbers(&format!("{path}?state=all&labels=zendesk,p1")).await, [tagged]);
    assert_eq!(h.numbers(&format!("{path}?state=all&labels=ZENDESK")).await, [other, tagged]);
    assert_eq!(h.numbers(&format!("{path}?state=all&creator=alice")).await, [human]);
    assert_eq!(h.numbers(&format!("{path}?state=all&direction=asc")).await, [tagged, other, human]);
    assert_eq!(h.numbers(&format!("{path}?state=all&sort=updated")).await, [other, human, tagged]);
}

/// Pages are cut at request time (offset pagination): an issue of page 1 updated before page 2
/// is read moves to the end of an ascending list, every later issue shifts back by one, and the
/// first issue of page 2 slides onto page 1, which the client has read already.
#[tokio::test]
async fn an_update_between_page_requests_shifts_the_offset_pages() {
    let h = harness().await;
    for i in 1..=5 {
        h.create_issue(&format!("issue {i}")).await;
        h.advance(1);
    }
    let gh = h.gh.clone();
    h.gh.before_request("/issues", 2, move || {
        gh.add_comment(REPO, 1, "alice", "bump");
    });
    let first = h.get(&format!("/repos/{REPO}/issues?sort=updated&direction=asc&per_page=2")).await;
    let next = links(&first)["next"].clone();
    assert_eq!(numbers(&body(first).await), [1, 2]);
    let second = numbers(&body(h.get(&next).await).await);
    assert_eq!(second, [4, 5], "issue 3 slid onto page 1 and is never seen by a client following the links");
    let everything = h.numbers(&format!("/repos/{REPO}/issues?sort=updated&direction=asc")).await;
    assert_eq!(everything, [2, 3, 4, 5, 1]);
}

#[tokio::test]
async fn an_edited_comment_moves_to_the_end_of_the_list_by_update_between_pages() {
    let h = harness().await;
    let n = h.create_issue("busy").await;
    let ids: Vec<u64> = (0..5)
        .map(|i| {
            h.advance(1);
            h.gh.add_comment(REPO, n, "alice", &format!("comment {i}"))
        })
        .collect();
    let gh = h.gh.clone();
    let first_id = ids[0];
    h.advance(1);
    h.gh.before_request("/issues/comments", 2, move || gh.edit_comment(REPO, first_id, "edited"));
    let path = format!("/repos/{REPO}/issues/comments?sort=updated&direction=asc&per_page=2");
    let first = h.get(&path).await;
    let next = links(&first)["next"].clone();
    let read = |v: Value| -> Vec<u64> { v.as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect() };
    assert_eq!(read(body(first).await), ids[..2]);
    assert_eq!(read(body(h.get(&next).await).await), [ids[3], ids[4]], "the third comment was skipped");
}

#[tokio::test]
async fn a_hook_runs_once_before_the_nth_matching_request_only() {
    let h = harness().await;
    let n = h.create_issue("quiet").await;
    let gh = h.gh.clone();
    h.gh.before_request("/issues", 2, move || gh.close_issue(REPO, n, "completed", "alice"));
    let open = format!("/repos/{REPO}/issues/{n}");
    assert_eq!(body(h.get(&open).await).await["state"], "open", "another path does not count");
    assert_eq!(h.numbers(&format!("/repos/{REPO}/issues")).await, [n], "the first matching request");
    assert_eq!(h.numbers(&format!("/repos/{REPO}/issues")).await, Vec::<u64>::new(), "closed before the second");
    h.gh.reopen_issue(REPO, n, "alice");
    assert_eq!(h.numbers(&format!("/repos/{REPO}/issues")).await, [n], "it ran once");
}
