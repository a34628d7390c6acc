//! Tests of the comment endpoints: create (201, Location, 422s), one issue's list, and the
//! repository-wide list with pull-request comments, ordering, `since`, links and ETags.

use serde_json::json;

use super::*;

fn ids(list: &Value) -> Vec<u64> {
    (list.as_array().unwrap().iter()).map(|c| c["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn create_comment_is_201_with_location_and_bumps_the_issue() {
    let h = harness().await;
    let n = h.create_issue("needs a reply").await;
    let before = h.gh.issue(REPO, n).unwrap();
    h.advance(60);
    let issue_url = h.url(&format!("/repos/{REPO}/issues/{n}"));
    let resp = h.post(&format!("{issue_url}/comments"), json!({"body": "On it"})).await;
    assert_eq!(resp.status(), 201);
    let location = header(&resp, "location").unwrap();
    let comment = body(resp).await;
    let id = comment["id"].as_u64().unwrap();
    assert_eq!(location, h.url(&format!("/repos/{REPO}/issues/comments/{id}")));
    assert_eq!(comment["url"], location);
    assert_eq!(comment["issue_url"], issue_url);
    assert_eq!(comment["html_url"], h.url(&format!("/{REPO}/issues/{n}#issuecomment-{id}")));
    assert_eq!((comment["body"].clone(), comment["user"]["login"].clone()), (json!("On it"), json!("ticket-sync-bot")));
    assert!(is_github_timestamp(&comment["created_at"]));
    assert_eq!(body(h.get(&location).await).await, comment);
    let after = h.gh.issue(REPO, n).unwrap();
    assert_eq!(after.comments, 1);
    assert!(after.updated_at > before.updated_at);
    assert_ne!(id, after.id, "comment ids and issue ids do not collide");
}

#[tokio::test]
async fn create_comment_without_body_or_over_65536_chars_is_422() {
    let h = harness().await;
    let n = h.create_issue("x").await;
    let path = format!("/repos/{REPO}/issues/{n}/comments");
    let missing = h.post(&path, json!({})).await;
    assert_eq!(missing.status(), 422);
    let expected = json!([{"resource": "IssueComment", "code": "missing_field", "field": "body"}]);
    assert_eq!(body(missing).await["errors"], expected);
    let long = h.post(&path, json!({"body": "y".repeat(65_537)})).await;
    assert_eq!(long.status(), 422);
    assert_eq!(body(long).await["errors"][0]["code"], "custom");
    let unknown = h.post(&format!("/repos/{REPO}/issues/99/comments"), json!({"body": "z"})).await;
    assert_eq!(unknown.status(), 404);
    assert!(h.gh.comments(REPO, n).is_empty());
}

#[tokio::test]
async fn issue_comments_are_ascending_with_since_and_links() {
    let h = harness().await;
    let n = h.create_issue("chatty").await;
    let first = h.gh.add_comment(REPO, n, "alice", "1");
    h.advance(60);
    let second = h.gh.add_comment(REPO, n, "bob", "2");
    let third = h.gh.add_comment(REPO, n, "alice", "3");
    let path = format!("/repos/{REPO}/issues/{n}/comments");
    let all = body(h.get(&path).await).await;
    assert_eq!(ids(&all), [first, second, third]);
    let page1 = h.get(&format!("{path}?per_page=2")).await;
    let next = links(&page1)["next"].clone();
    let expected_next = format!("/repositories/{}/issues/{n}/comments?per_page=2&page=2", h.repo_id);
    assert_eq!(next, h.url(&expected_next));
    assert_eq!(ids(&body(h.get(&next).await).await), [third]);
    let since = super::super::wire::ts(h.gh.comments(REPO, n)[1].created_at);
    let recent = body(h.get(&format!("{path}?since={since}")).await).await;
    assert_eq!(ids(&recent), [second, third]);
}

#[tokio::test]
async fn repo_wide_comments_include_pull_requests_and_paginate() {
    let h = harness().await;
    let n = h.create_issue("issue").await;
    let pr = h.gh.add_pull_request(REPO, "pr");
    let on_issue = h.gh.add_comment(REPO, n, "alice", "on the issue");
    h.advance(60);
    let on_pr = h.gh.add_comment(REPO, pr, "bob", "on the PR");
    let path = format!("/repos/{REPO}/issues/comments");
    let all = body(h.get(&path).await).await;
    assert_eq!(ids(&all), [on_issue, on_pr]);
    let pr_issue_url = h.url(&format!("/repos/{REPO}/issues/{pr}"));
    assert_eq!(all[1]["issue_url"], pr_issue_url);
    let desc = body(h.get(&format!("{path}?sort=updated&direction=desc")).await).await;
    assert_eq!(ids(&desc), [on_pr, on_issue]);
    let since = super::super::wire::ts(h.gh.comments(REPO, pr)[0].created_at);
    let recent = body(h.get(&format!("{path}?since={since}")).await).await;
    assert_eq!(ids(&recent), [on_pr]);
    let page1 = h.get(&format!("{path}?per_page=1")).await;
    let next = links(&page1)["next"].clone();
    let expected = format!("/repositories/{}/issues/comments?per_page=1&page=2", h.repo_id);
    assert_eq!(next, h.url(&expected));
    let page2 = h.get(&next).await;
    let etag = header(&page2, "etag").unwrap();
    assert_eq!(ids(&body(page2).await), [on_pr]);
    let cached = h.req(Method::GET, &next).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    let bad = h.get(&format!("{path}?sort=comments")).await;
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn an_unpublished_comment_appears_later_with_its_own_id_and_time() {
    let h = harness().await;
    let n = h.create_issue("lag").await;
    h.advance(1);
    let late = h.gh.add_unpublished_comment(REPO, n, "alice", "written first");
    h.advance(1);
    let early = h.gh.add_comment(REPO, n, "bob", "shown first");
    let path = format!("/repos/{REPO}/issues/comments?sort=updated&direction=asc");
    assert_eq!(ids(&body(h.get(&path).await).await), [early]);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/comments/{late}")).await.status(), 404);
    h.advance(5);
    h.gh.publish_comment(REPO, late);
    let list = body(h.get(&path).await).await;
    assert_eq!(ids(&list), [late, early], "ordered by its own (earlier) update time");
    assert!(late < early);
    let created = h.gh.comments(REPO, n).into_iter().find(|c| c.id == late).unwrap().created_at;
    assert_eq!(list[0]["created_at"], json!(super::super::wire::ts(created)));
}
