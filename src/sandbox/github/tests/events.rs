//! Tests of `GET …/issues/events`: close and reopen events from the API and the helpers,
//! newest first, `Link` pagination with `/repositories/{id}` URLs, and ETag / 304.

use serde_json::json;

use super::*;

#[tokio::test]
async fn close_and_reopen_are_listed_newest_first_with_actor_and_reason() {
    let h = harness().await;
    let n = h.create_issue("bug").await;
    let resp =
        h.patch(&format!("/repos/{REPO}/issues/{n}"), json!({"state": "closed", "state_reason": "not_planned"})).await;
    assert_eq!(resp.status(), 200);
    h.advance(2);
    h.gh.reopen_issue(REPO, n, "alice");
    h.gh.close_issue(REPO, n, "duplicate", "bob");
    h.gh.add_comment(REPO, n, "carol", "comments are not events here");
    let list = body(h.get(&format!("/repos/{REPO}/issues/events")).await).await;
    let items = list.as_array().unwrap();
    let summary: Vec<(String, String, Value)> = (items.iter())
        .map(|e| {
            let kind = e["event"].as_str().unwrap().to_string();
            let actor = e["actor"]["login"].as_str().unwrap().to_string();
            (kind, actor, e["state_reason"].clone())
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("closed".into(), "bob".into(), json!("duplicate")),
            ("reopened".into(), "alice".into(), Value::Null),
            ("closed".into(), h.gh.login().to_string(), json!("not_planned")),
        ]
    );
    let ids: Vec<u64> = items.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert_eq!(items[0]["issue"]["number"], n);
    assert!(is_github_timestamp(&items[0]["created_at"]));
}

#[tokio::test]
async fn event_list_paginates_with_repositories_links_and_answers_304() {
    let h = harness().await;
    let n = h.create_issue("flaky").await;
    for _ in 0..3 {
        h.gh.close_issue(REPO, n, "completed", "alice");
        h.gh.reopen_issue(REPO, n, "alice");
    }
    let first = h.get(&format!("/repos/{REPO}/issues/events?per_page=4")).await;
    let next = links(&first)["next"].clone();
    assert_eq!(next, h.url(&format!("/repositories/{}/issues/events?per_page=4&page=2", h.repo_id)));
    let etag = header(&first, "etag").unwrap();
    assert_eq!(body(first).await.as_array().unwrap().len(), 4);
    let second = body(h.get(&next).await).await;
    assert_eq!(second.as_array().unwrap().len(), 2);

    let path = format!("/repos/{REPO}/issues/events?per_page=4");
    let again = h.req(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    h.gh.close_issue(REPO, n, "completed", "alice");
    let changed = h.req(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), 200);
}
