//! Contract tests of `GET …/issues/{n}/timeline` and of the issue events issue 22 reads:
//! `cross-referenced` (timeline only, no id, the source pull request with `merged_at`),
//! `closed` with `commit_id` and `state_reason`, `referenced`, `connected`,
//! `marked_as_duplicate`, their place in the events API, and the timeline's pages and 304s
//! (docs/research/github-fixes.md §1).

use serde_json::{json, Value};

use super::*;
use crate::github::MergeMethod;

const DEV: &str = "dev-alice";

fn kinds(list: &Value) -> Vec<String> {
    (list.as_array().unwrap().iter()).map(|e| e["event"].as_str().unwrap().to_string()).collect()
}

fn find<'a>(list: &'a Value, kind: &str) -> &'a Value {
    list.as_array().unwrap().iter().find(|e| e["event"] == kind).unwrap_or_else(|| panic!("no {kind} in {list}"))
}

#[tokio::test]
async fn a_pull_request_naming_an_issue_is_cross_referenced_without_an_id_and_without_touching_updated_at() {
    let h = harness().await;
    let n = h.create_issue("Crash on save").await;
    let updated_at = h.gh.issue(REPO, n).unwrap().updated_at;
    h.advance(60);
    let pr = h.gh.open_pull_request(REPO, "Fix crash", &format!("Fixes #{n}"), DEV);
    h.gh.edit_pull_request_body(REPO, pr, &format!("Fixes #{n} for good"), DEV);
    assert_eq!(h.gh.issue(REPO, n).unwrap().updated_at, updated_at, "a cross-reference does not bump updated_at");
    let since = super::super::wire::ts(updated_at + chrono::Duration::seconds(1));
    let listed = h.numbers(&format!("/repos/{REPO}/issues?since={since}")).await;
    assert!(!listed.contains(&n), "so a `since` poll of the issue list never sees it: {listed:?}");

    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(kinds(&timeline), ["cross-referenced"], "one item per source, however often it says it");
    let item = &timeline[0];
    for key in ["id", "node_id", "url"] {
        assert!(item.get(key).is_none(), "cross-referenced has no {key}: {item}");
    }
    assert_eq!(item["actor"]["login"], DEV);
    assert!(is_github_timestamp(&item["created_at"]) && is_github_timestamp(&item["updated_at"]));
    assert_eq!(item["source"]["type"], "issue");
    let source = &item["source"]["issue"];
    assert_eq!((source["number"].clone(), source["state"].clone()), (json!(pr), json!("open")));
    assert_eq!(source["body"], format!("Fixes #{n} for good"));
    assert_eq!(source["repository"]["full_name"], REPO);
    assert_eq!(source["user"]["login"], DEV);
    assert_eq!(source["pull_request"]["merged_at"], Value::Null);
    assert_eq!(source["html_url"], format!("{}/{REPO}/pull/{pr}", h.gh.web_url()));
    let events = body(h.get(&format!("/repos/{REPO}/issues/{n}/events")).await).await;
    assert_eq!(events, json!([]), "the events API has no cross-references");

    h.advance(60);
    let sha = h.gh.merge_pull_request(REPO, pr, MergeMethod::Merge, "maintainer");
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(kinds(&timeline), ["cross-referenced", "closed"]);
    let source = &timeline[0]["source"]["issue"];
    assert_eq!(source["state"], "closed", "the source as it is now");
    assert!(is_github_timestamp(&source["pull_request"]["merged_at"]));
    let closed = &timeline[1];
    assert_eq!((closed["commit_id"].clone(), closed["state_reason"].clone()), (json!(sha), json!("completed")));
    assert_eq!(closed["commit_url"], h.url(&format!("/repos/{REPO}/commits/{sha}")));
    assert!(closed["id"].is_u64() && closed["node_id"].is_string());
    let events = body(h.get(&format!("/repos/{REPO}/issues/{n}/events")).await).await;
    assert_eq!(kinds(&events), ["closed"]);
    assert_eq!((events[0]["commit_id"].clone(), events[0]["state_reason"].clone()), (json!(sha), Value::Null));
}

#[tokio::test]
async fn the_timeline_interleaves_comments_and_events_oldest_first_in_pages_with_304() {
    let h = harness().await;
    let n = h.create_issue("Busy").await;
    h.gh.set_labels(REPO, n, &["bug"], "alice");
    let comment = h.gh.add_comment(REPO, n, "bob", "me too");
    h.gh.close_issue(REPO, n, "not_planned", "alice");
    h.gh.reopen_issue(REPO, n, "carol");
    let all = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(kinds(&all), ["labeled", "commented", "closed", "reopened"], "same second: creation order");
    let said = find(&all, "commented");
    assert_eq!((said["id"].clone(), said["body"].clone()), (json!(comment), json!("me too")));
    assert_eq!((said["actor"]["login"].clone(), said["user"]["login"].clone()), (json!("bob"), json!("bob")));
    assert_eq!(find(&all, "closed")["state_reason"], "not_planned", "the timeline says why");
    assert_eq!(find(&all, "reopened")["state_reason"], "reopened");

    let path = format!("/repos/{REPO}/issues/{n}/timeline?per_page=3");
    let first = h.get(&path).await;
    let page2 = h.url(&format!("/repositories/{}/issues/{n}/timeline?per_page=3&page=2", h.repo_id));
    assert_eq!(links(&first)["last"], page2);
    let etag = header(&first, "etag").unwrap();
    assert_eq!(kinds(&body(first).await), ["labeled", "commented", "closed"]);
    let last = h.get(&page2).await;
    let last_etag = header(&last, "etag").unwrap();
    assert_eq!(kinds(&body(last).await), ["reopened"], "new items land on the last page");
    let again = h.req(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    h.gh.add_comment(REPO, n, "dana", "any news?");
    let first_again = h.req(Method::GET, &path).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(first_again.status(), 304, "earlier pages do not change");
    let last_again = h.req(Method::GET, &page2).header("if-none-match", &last_etag).send().await.unwrap();
    assert_eq!(last_again.status(), 200);
    assert_eq!(kinds(&body(last_again).await), ["reopened", "commented"]);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/{n}/timeline?per_page=500")).await.status(), 200);
    let capped = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline?per_page=500")).await).await;
    assert_eq!(capped.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn connected_and_duplicate_events_carry_only_the_common_properties() {
    let h = harness().await;
    let n = h.create_issue("Linked").await;
    let survivor = h.create_issue("The original").await;
    let pr = h.gh.open_pull_request(REPO, "Unrelated wording", "no keywords here", DEV);
    h.gh.link_pull_request(REPO, n, REPO, pr, "maintainer");
    h.gh.close_as_duplicate(REPO, n, REPO, survivor, "maintainer");
    let common =
        ["actor", "commit_id", "commit_url", "created_at", "event", "id", "node_id", "performed_via_github_app", "url"];
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(kinds(&timeline), ["connected", "marked_as_duplicate", "closed"]);
    for kind in ["connected", "marked_as_duplicate"] {
        let item = find(&timeline, kind);
        let mut keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, common, "{kind} names neither the pull request nor the survivor");
    }
    assert_eq!(find(&timeline, "closed")["state_reason"], "duplicate");
    let issue = body(h.get(&format!("/repos/{REPO}/issues/{n}")).await).await;
    assert_eq!(issue["state_reason"], "duplicate");
    assert_eq!(h.gh.duplicate_of(REPO, n), Some((REPO.to_string(), survivor)));
    let on_survivor = body(h.get(&format!("/repos/{REPO}/issues/{survivor}/timeline")).await).await;
    assert_eq!(on_survivor, json!([]), "ASSUMED: the survivor's timeline says nothing");
    let events = body(h.get(&format!("/repos/{REPO}/issues/{n}/events")).await).await;
    assert_eq!(kinds(&events), ["connected", "marked_as_duplicate", "closed"], "all three are in the events API");
    let repo_wide = body(h.get(&format!("/repos/{REPO}/issues/events")).await).await;
    assert_eq!(find(&repo_wide, "marked_as_duplicate")["issue"]["number"], n, "the duplicate itself is its issue");
    h.gh.unmark_duplicate(REPO, n, "maintainer");
    let events = body(h.get(&format!("/repos/{REPO}/issues/{n}/events")).await).await;
    assert_eq!(kinds(&events).last().unwrap(), "unmarked_as_duplicate");
    assert_eq!(h.gh.duplicate_of(REPO, n), None);
}

#[tokio::test]
async fn a_commit_message_closes_an_issue_with_referenced_and_closed_naming_the_commit() {
    let h = harness().await;
    let n = h.create_issue("Fixed without a pull request").await;
    let m = h.create_issue("Fixed on a branch").await;
    let sha = h.gh.close_issue_by_commit(REPO, n, "maintainer");
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(kinds(&timeline), ["referenced", "closed"]);
    for item in timeline.as_array().unwrap() {
        assert_eq!(item["commit_id"], sha, "{item}");
        assert_eq!(item["commit_url"], h.url(&format!("/repos/{REPO}/commits/{sha}")));
    }
    assert_eq!(
        h.numbers(&format!("/repos/{REPO}/commits/{sha}/pulls")).await,
        Vec::<u64>::new(),
        "no pull request to name"
    );
    let repo_wide = body(h.get(&format!("/repos/{REPO}/issues/events")).await).await;
    assert_eq!(kinds(&repo_wide), ["closed", "referenced"]);

    h.gh.create_branch(REPO, "topic", "main");
    let branch_sha = h.gh.push_commit(REPO, "topic", &format!("Fixes #{m}"), DEV);
    let issue = body(h.get(&format!("/repos/{REPO}/issues/{m}")).await).await;
    assert_eq!(issue["state"], "open", "keywords close only from the default branch");
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{m}/timeline")).await).await;
    assert_eq!(kinds(&timeline), ["referenced"]);
    assert_eq!(timeline[0]["commit_id"], branch_sha);
}

#[tokio::test]
async fn a_pull_request_in_another_repository_closes_an_issue_with_its_own_repositorys_commit() {
    let h = harness().await;
    let app_repo = "acme/app";
    h.gh.add_repo(app_repo, Visibility::Public, true);
    let n = h.create_issue("Reported in support").await;
    let pr = h.gh.open_pull_request(app_repo, "Fix", &format!("Fixes {REPO}#{n}"), DEV);
    let sha = h.gh.merge_pull_request(app_repo, pr, MergeMethod::Squash, "maintainer");
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(kinds(&timeline), ["cross-referenced", "closed"]);
    assert_eq!(timeline[0]["source"]["issue"]["repository"]["full_name"], app_repo);
    assert_eq!(timeline[1]["commit_id"], sha);
    assert_eq!(
        timeline[1]["commit_url"],
        h.url(&format!("/repos/{app_repo}/commits/{sha}")),
        "ASSUMED: the pull request's repository"
    );
    assert!(h.gh.resolve_ref(REPO, &sha).is_none(), "the commit is not in the issue's repository");
}

#[tokio::test]
async fn the_timeline_of_a_deleted_issue_is_410_a_transferred_one_301_an_unknown_one_404() {
    let h = harness().await;
    let deleted = h.create_issue("to delete").await;
    let moved = h.create_issue("to move").await;
    h.gh.add_repo("acme/other", Visibility::Public, true);
    h.gh.delete_issue(REPO, deleted);
    let gone = h.get(&format!("/repos/{REPO}/issues/{deleted}/timeline")).await;
    assert_eq!(gone.status(), 410);
    assert_eq!(body(gone).await["message"], "This issue was deleted");
    let new_number = h.gh.transfer_issue(REPO, moved, "acme/other");
    let redirect = h.get(&format!("/repos/{REPO}/issues/{moved}/timeline")).await;
    assert_eq!(redirect.status(), 301);
    let location = header(&redirect, "location").unwrap();
    assert!(location.ends_with(&format!("/issues/{new_number}/timeline")), "{location}");
    assert_eq!(h.get(&location).await.status(), 200);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/999/timeline")).await.status(), 404);
    assert_eq!(h.get("/repos/acme/nope/issues/1/timeline").await.status(), 404);
}

#[tokio::test]
async fn closing_as_duplicate_through_the_api_takes_the_survivors_database_id() {
    let h = harness().await;
    let survivor = h.create_issue("Original").await;
    let dup = h.create_issue("Duplicate").await;
    let other = h.create_issue("Closed as duplicate without naming one").await;
    let survivor_id = h.gh.issue(REPO, survivor).unwrap().id;
    let path = format!("/repos/{REPO}/issues/{dup}");
    let by_number =
        h.patch(&path, json!({"state": "closed", "state_reason": "duplicate", "duplicate_issue_id": survivor})).await;
    assert_eq!(by_number.status(), 422, "a number is not a database id");
    let refusal = body(by_number).await;
    assert_eq!(refusal["message"], "Validation Failed");
    assert_eq!(refusal["errors"][0]["field"], "duplicate_issue_id");
    let not_a_number =
        h.patch(&path, json!({"state": "closed", "state_reason": "duplicate", "duplicate_issue_id": "x"})).await;
    assert_eq!(not_a_number.status(), 422);
    assert_eq!(h.gh.issue(REPO, dup).unwrap().state, "open", "a refused update changes nothing");

    let ok = h
        .patch(&path, json!({"state": "closed", "state_reason": "duplicate", "duplicate_issue_id": survivor_id}))
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(body(ok).await["state_reason"], "duplicate");
    let events = body(h.get(&format!("{path}/events")).await).await;
    assert_eq!(kinds(&events), ["marked_as_duplicate", "closed"]);
    assert_eq!(h.gh.duplicate_of(REPO, dup), Some((REPO.to_string(), survivor)));

    let without = h
        .patch(&format!("/repos/{REPO}/issues/{other}"), json!({"state": "closed", "state_reason": "duplicate"}))
        .await;
    assert_eq!(without.status(), 200);
    let events = body(h.get(&format!("/repos/{REPO}/issues/{other}/events")).await).await;
    assert_eq!(kinds(&events), ["closed"], "ASSUMED: no survivor, no marked_as_duplicate");
    let ignored = h
        .patch(
            &format!("/repos/{REPO}/issues/{survivor}"),
            json!({"state": "closed", "state_reason": "completed", "duplicate_issue_id": 1}),
        )
        .await;
    assert_eq!(ignored.status(), 200, "duplicate_issue_id counts only with the duplicate reason");
}
