//! Tests of `GET …/issues/events`: close and reopen events from the API and the helpers,
//! newest first, `Link` pagination with `/repositories/{id}` URLs, and ETag / 304.

use serde_json::json;

use super::*;

/// FACTS.md, "Issue events", says the `issue-event` schema has no `state_reason`, but real
/// 2025 bodies of `closed` and `reopened` events carry the key, `null` on the events recorded
/// (docs/research/github-fixes.md §1, REC-PyGithub `IssueEvent.setUp.txt`): a client must tolerate the key and
/// cannot learn the reason from it. The issue object carries the last close's reason.
#[tokio::test]
async fn close_and_reopen_are_listed_newest_first_with_actor_and_a_null_reason() {
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
    let summary: Vec<(String, String)> = (items.iter())
        .map(|e| (e["event"].as_str().unwrap().to_string(), e["actor"]["login"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        summary,
        [("closed".into(), "bob".into()), ("reopened".into(), "alice".into()), ("closed".into(), h.gh.login().into())]
    );
    assert!(
        items.iter().all(|e| e.get("state_reason") == Some(&Value::Null)),
        "the key is there, saying nothing: {list}"
    );
    let ids: Vec<u64> = items.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert_eq!(items[0]["issue"]["number"], n);
    assert_eq!(items[0]["issue"]["state_reason"], "duplicate", "the issue says why it was last closed");
    let issue = body(h.get(&format!("/repos/{REPO}/issues/{n}")).await).await;
    assert_eq!(issue["state_reason"], "duplicate");
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

fn kinds(list: &Value) -> Vec<String> {
    (list.as_array().unwrap().iter()).map(|e| e["event"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn every_kind_of_change_is_an_event_in_both_lists() {
    let h = harness().await;
    let n = h.create_issue("bug").await;
    let path = format!("/repos/{REPO}/issues/{n}");
    let resp = h.patch(&path, json!({"title": "bug in export", "labels": ["p1"], "assignees": ["alice"]})).await;
    assert_eq!(resp.status(), 200);
    h.gh.add_comment(REPO, n, "carol", "@dana can you look? mail me at carol@example.com");
    h.gh.set_labels(REPO, n, &[], "alice");
    h.gh.close_issue(REPO, n, "completed", "alice");
    let repo_wide = body(h.get(&format!("/repos/{REPO}/issues/events")).await).await;
    let want = ["closed", "unlabeled", "subscribed", "mentioned", "assigned", "labeled", "renamed"];
    assert_eq!(kinds(&repo_wide), want, "newest first, every kind");
    assert!(repo_wide.as_array().unwrap().iter().all(|e| e["issue"]["number"] == n));
    let per_issue = body(h.get(&format!("{path}/events")).await).await;
    let mut oldest_first = want.map(String::from).to_vec();
    oldest_first.reverse();
    assert_eq!(kinds(&per_issue), oldest_first, "one issue's list is oldest first");
    let items = per_issue.as_array().unwrap();
    assert!(items.iter().all(|e| e.get("issue").is_none()), "the per-issue list does not embed the issue");
    assert_eq!(items[0]["rename"], json!({"from": "bug", "to": "bug in export"}));
    assert_eq!(items[1]["label"]["name"], "p1");
    assert_eq!(
        (items[2]["assignee"]["login"].clone(), items[2]["assigner"]["login"].clone()),
        (json!("alice"), json!(h.gh.login()))
    );
    assert_eq!(items[3]["actor"]["login"], "dana", "the mentioned user is the actor");
    for e in items {
        let want = if e["event"] == "closed" { Some(&Value::Null) } else { None };
        assert_eq!(e.get("state_reason"), want, "only state changes carry the (null) key: {e}");
    }
}

#[tokio::test]
async fn the_repository_event_list_refuses_pages_past_300_events_with_422() {
    let h = harness().await;
    let n = h.create_issue("noisy").await;
    h.gh.seed_events(REPO, n, 450, "alice", h.clock.now());
    let first = h.get(&format!("/repos/{REPO}/issues/events?per_page=100")).await;
    let page = |p: u32| h.url(&format!("/repositories/{}/issues/events?per_page=100&page={p}", h.repo_id));
    let rels = links(&first);
    assert_eq!((rels["next"].clone(), rels["last"].clone()), (page(2), page(3)), "rel=last: how far one can go");
    let kinds_seen = kinds(&body(first).await);
    for kind in ["labeled", "unlabeled", "mentioned", "subscribed", "assigned", "unassigned"] {
        assert!(kinds_seen.iter().any(|k| k == kind), "{kind} in {kinds_seen:?}");
    }
    let third = h.get(&page(3)).await;
    assert_eq!(third.status(), 200);
    assert_eq!(links(&third)["next"], page(4), "next still leads past the limit");
    let refused = h.get(&page(4)).await;
    assert_eq!(refused.status(), 422);
    let refusal = body(refused).await;
    assert!(refusal["message"].as_str().unwrap().contains("pagination is limited for this resource"), "{refusal}");
    assert!(refusal["message"].as_str().unwrap().contains("rel=last"), "{refusal}");
    assert_eq!(refusal["documentation_url"], "https://docs.github.com/v3/#pagination");
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/events?per_page=30&page=10")).await.status(), 200);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/events?per_page=30&page=11")).await.status(), 422);
}

#[tokio::test]
async fn one_issues_event_list_is_oldest_first_with_repositories_links_and_no_depth_limit() {
    let h = harness().await;
    let quiet = h.create_issue("quiet").await;
    let n = h.create_issue("long history").await;
    h.gh.seed_events(REPO, n, 450, "alice", h.clock.now());
    h.advance(1);
    h.gh.close_issue(REPO, n, "not_planned", "bob");
    let first = h.get(&format!("/repos/{REPO}/issues/{n}/events?per_page=100")).await;
    let page = |p: u32| h.url(&format!("/repositories/{}/issues/{n}/events?per_page=100&page={p}", h.repo_id));
    let rels = links(&first);
    assert_eq!((rels["next"].clone(), rels["last"].clone()), (page(2), page(5)));
    let first = body(first).await;
    let ids: Vec<u64> = first.as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    let last = body(h.get(&page(5)).await).await;
    let last = last.as_array().unwrap();
    assert_eq!(last.len(), 51);
    assert_eq!((last[50]["event"].clone(), last[50]["actor"]["login"].clone()), (json!("closed"), json!("bob")));
    assert_eq!(body(h.get(&format!("/repos/{REPO}/issues/{quiet}/events")).await).await, json!([]));
    h.gh.delete_issue(REPO, quiet);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/{quiet}/events")).await.status(), 410);
}

#[tokio::test]
async fn an_event_can_be_stamped_a_second_after_its_issues_update() {
    let h = harness().await;
    let n = h.create_issue("lagging").await;
    h.gh.set_event_lag(1);
    h.gh.close_issue(REPO, n, "completed", "alice");
    let issue = body(h.get(&format!("/repos/{REPO}/issues/{n}")).await).await;
    let events = body(h.get(&format!("/repos/{REPO}/issues/events")).await).await;
    let closed = events.as_array().unwrap().iter().find(|e| e["event"] == "closed").unwrap().clone();
    let at = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    assert_eq!((at(&closed["created_at"]) - at(&issue["updated_at"])).num_seconds(), 1);
}
