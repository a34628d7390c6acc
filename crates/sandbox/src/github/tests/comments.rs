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

#[tokio::test]
async fn editing_a_comment_is_200_keeps_id_and_created_at_and_shows_in_since_again() {
    let h = harness().await;
    let n = h.create_issue("typo").await;
    let created = body(h.post(&format!("/repos/{REPO}/issues/{n}/comments"), json!({"body": "Fixd"})).await).await;
    let id = created["id"].as_u64().unwrap();
    let events_before = body(h.get(&format!("/repos/{REPO}/issues/{n}/events")).await).await;
    let issue_before = h.gh.issue(REPO, n).unwrap();
    h.advance(120);
    let since = super::super::wire::ts(h.clock.now() - chrono::Duration::seconds(10));
    let since_path = format!("/repos/{REPO}/issues/comments?since={since}");
    assert!(ids(&body(h.get(&since_path).await).await).is_empty());

    let url = format!("/repos/{REPO}/issues/comments/{id}");
    let resp = h.patch(&url, json!({"body": "Fixed"})).await;
    assert_eq!(resp.status(), 200);
    let edited = body(resp).await;
    assert_eq!(edited["id"], json!(id));
    assert_eq!(edited["body"], json!("Fixed"));
    assert_eq!(edited["created_at"], created["created_at"]);
    assert_ne!(edited["updated_at"], created["updated_at"]);
    assert!(is_github_timestamp(&edited["updated_at"]));
    let same_shape = ["node_id", "url", "html_url", "issue_url", "user", "author_association"];
    for key in same_shape {
        assert_eq!(edited[key], created[key], "{key}");
    }
    assert_eq!(body(h.get(&url).await).await, edited, "GET shows the edit");
    assert_eq!(ids(&body(h.get(&since_path).await).await), [id], "the edit re-enters the since list");
    assert_eq!(body(h.get(&format!("/repos/{REPO}/issues/{n}/events")).await).await, events_before, "no event");
    let stored = h.gh.comments(REPO, n);
    assert_eq!((stored.len(), stored[0].body.as_str()), (1, "Fixed"));
    assert_eq!(h.gh.issue(REPO, n).unwrap().comments, issue_before.comments);
    let by_id = h.patch(&format!("/repositories/{}/issues/comments/{id}", h.repo_id), json!({"body": "Fixed!"})).await;
    assert_eq!(by_id.status(), 200, "the repository-id form answers too");
    let logged = h.gh.door.log.count(|e| e.method == Method::PATCH && e.path == url && e.status == 200);
    assert_eq!(logged, 1, "the request log records the edit");
}

#[tokio::test]
async fn editing_an_unknown_or_unpublished_comment_is_404_basic_error() {
    let h = harness().await;
    let n = h.create_issue("x").await;
    let hidden = h.gh.add_unpublished_comment(REPO, n, "alice", "lagging");
    for path in [
        format!("/repos/{REPO}/issues/comments/999999999"),
        format!("/repos/{REPO}/issues/comments/{hidden}"),
        format!("/repos/{REPO}/issues/comments/abc"),
        format!("/repos/acme/nope/issues/comments/{hidden}"),
    ] {
        let resp = h.patch(&path, json!({"body": "edit"})).await;
        assert_eq!(resp.status(), 404, "{path}");
        let expected = json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/issues/comments#update-an-issue-comment",
            "status": "404",
        });
        assert_eq!(body(resp).await, expected, "{path}");
    }
    assert_eq!(h.gh.comments(REPO, n)[0].body, "lagging");
}

#[tokio::test]
async fn editing_a_comment_without_a_string_body_or_over_65536_chars_is_422() {
    let h = harness().await;
    let n = h.create_issue("x").await;
    let id = h.gh.add_comment(REPO, n, "ticket-sync-bot", "original");
    let path = format!("/repos/{REPO}/issues/comments/{id}");
    let expected = json!([{"resource": "IssueComment", "code": "missing_field", "field": "body"}]);
    for missing in [json!({}), json!({"body": null}), json!({"body": "  "})] {
        let resp = h.patch(&path, missing.clone()).await;
        assert_eq!(resp.status(), 422, "{missing}");
        let answer = body(resp).await;
        assert_eq!(answer["message"], "Validation Failed");
        assert_eq!(answer["errors"], expected, "{missing}");
    }
    let not_string = h.patch(&path, json!({"body": 42})).await;
    assert_eq!(not_string.status(), 422);
    let message = body(not_string).await["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("Invalid request."), "{message}");
    let long = h.patch(&path, json!({"body": "y".repeat(65_537)})).await;
    assert_eq!(long.status(), 422);
    assert_eq!(body(long).await["errors"][0]["code"], "custom");
    let at_cap = h.patch(&path, json!({"body": "y".repeat(65_536)})).await;
    assert_eq!(at_cap.status(), 200, "65536 characters are allowed");
    assert_eq!(h.gh.comments(REPO, n)[0].body.len(), 65_536);
}

#[tokio::test]
async fn editing_a_comment_meets_the_same_refusals_as_creating_one() {
    let h = harness().await;
    let n = h.create_issue("x").await;
    let id = h.gh.add_comment(REPO, n, "ticket-sync-bot", "original");
    let path = format!("/repos/{REPO}/issues/comments/{id}");
    let edit = || h.patch(&path, json!({"body": "changed"}));

    h.gh.set_archived(REPO, true);
    let archived = edit().await;
    assert_eq!(archived.status(), 403);
    assert_eq!(body(archived).await["message"], "Repository was archived so is read-only.");
    h.gh.set_archived(REPO, false);

    h.gh.set_writes_denied(REPO, true);
    let denied = edit().await;
    assert_eq!(denied.status(), 403);
    assert_eq!(body(denied).await["message"], "Resource not accessible by personal access token");
    h.gh.set_writes_denied(REPO, false);

    h.gh.set_write_limit_per_minute(Some(0));
    let limited = edit().await;
    assert_eq!(limited.status(), 403);
    assert_eq!(header(&limited, "retry-after").as_deref(), Some("60"));
    h.gh.set_write_limit_per_minute(None);

    h.gh.set_rate_limit_remaining(0);
    let exhausted = edit().await;
    assert_eq!(exhausted.status(), 403);
    assert!(body(exhausted).await["message"].as_str().unwrap().starts_with("API rate limit exceeded"));
    h.advance(3601);

    h.gh.lock_issue(REPO, n);
    let locked = edit().await;
    assert_eq!(locked.status(), 403);
    assert!(header(&locked, "retry-after").is_none());
    assert_eq!(h.gh.comments(REPO, n)[0].body, "original", "no refused edit was applied");
}
