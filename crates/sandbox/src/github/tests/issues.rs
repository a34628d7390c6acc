//! Tests of single issues: create (and its 400/404/410/422 refusals), get, update, and the
//! 301 / 410 answers for transferred and deleted issues.

use serde_json::json;

use super::*;

fn issues_path() -> String {
    format!("/repos/{REPO}/issues")
}

#[tokio::test]
async fn create_issue_is_201_with_location_and_the_full_issue() {
    let h = harness().await;
    let request = json!({"title": "Printer on fire", "body": "Ticket #7", "labels": ["zendesk", "bug"]});
    let resp = h.post(&issues_path(), request).await;
    assert_eq!(resp.status(), 201);
    let location = header(&resp, "location").unwrap();
    assert_eq!(location, h.url(&format!("/repos/{REPO}/issues/1")));
    let issue = body(resp).await;
    assert_eq!((issue["number"].clone(), issue["state"].clone()), (json!(1), json!("open")));
    assert!(issue["id"].as_u64().unwrap() > 1_000_000, "ids are large int64 values");
    assert_eq!(issue["title"], "Printer on fire");
    assert_eq!(issue["body"], "Ticket #7");
    assert_eq!(issue["html_url"], h.url(&format!("/{REPO}/issues/1")));
    assert_eq!(issue["url"], location);
    assert_eq!(issue["repository_url"], h.url(&format!("/repos/{REPO}")));
    assert_eq!(issue["comments_url"], format!("{location}/comments"));
    assert_eq!(issue["user"]["login"], "ticket-sync-bot");
    assert_eq!(issue["state_reason"], json!(null));
    assert_eq!(issue["closed_at"], json!(null));
    assert_eq!((issue["locked"].clone(), issue["comments"].clone()), (json!(false), json!(0)));
    assert!(is_github_timestamp(&issue["created_at"]) && is_github_timestamp(&issue["updated_at"]));
    let labels: Vec<&str> = (issue["labels"].as_array().unwrap().iter()).map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(labels, ["zendesk", "bug"]);
    assert!(issue.get("pull_request").is_none());
    let fetched = body(h.get(&location).await).await;
    assert_eq!(fetched, issue);
}

#[tokio::test]
async fn create_issue_accepts_an_integer_title() {
    let h = harness().await;
    let resp = h.post(&issues_path(), json!({"title": 1234})).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(body(resp).await["title"], "1234");
}

#[tokio::test]
async fn create_issue_without_title_is_422_missing_field() {
    let h = harness().await;
    let expected = json!({
        "message": "Validation Failed",
        "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
        "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
        "status": "422",
    });
    for request in [json!({"body": "x"}), json!({"title": ""}), json!({"title": null})] {
        let resp = h.post(&issues_path(), request).await;
        assert_eq!(resp.status(), 422);
        assert_eq!(body(resp).await, expected);
    }
    let wrong_type = h.post(&issues_path(), json!({"title": ["a"]})).await;
    assert_eq!(wrong_type.status(), 422);
    assert!(h.gh.issues(REPO).is_empty());
}

#[tokio::test]
async fn create_issue_with_body_over_65536_chars_is_422() {
    let h = harness().await;
    let at_limit = json!({"title": "t", "body": "é".repeat(65_536)});
    assert_eq!(h.post(&issues_path(), at_limit).await.status(), 201);
    let over = h.post(&issues_path(), json!({"title": "t", "body": "x".repeat(65_537)})).await;
    assert_eq!(over.status(), 422);
    let error = body(over).await["errors"][0].clone();
    let expected = json!({"resource": "Issue", "code": "custom", "field": "body", "message": "body is too long (maximum is 65536 characters)"});
    assert_eq!(error, expected);
    assert_eq!(h.gh.issues(REPO).len(), 1);
}

#[tokio::test]
async fn create_issue_with_unparsable_json_is_400() {
    let h = harness().await;
    let resp = (h.req(Method::POST, &issues_path()))
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(body(resp).await["message"], "Problems parsing JSON");
}

#[tokio::test]
async fn create_issue_where_issues_are_disabled_is_410_and_unknown_repo_is_404() {
    let h = harness().await;
    h.gh.add_repo("acme/no-issues", Visibility::Private, false);
    let disabled = h.post("/repos/acme/no-issues/issues", json!({"title": "t"})).await;
    assert_eq!(disabled.status(), 410);
    let refusal = body(disabled).await;
    assert_eq!(refusal["message"], "Issues are disabled for this repo");
    assert_eq!(refusal["status"], "410");
    let unknown = h.post("/repos/acme/ghost/issues", json!({"title": "t"})).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(body(unknown).await["message"], "Not Found");
}

#[tokio::test]
async fn closing_records_reason_and_closer_and_reopening_clears_them() {
    let h = harness().await;
    let n = h.create_issue("close me").await;
    let path = format!("{}/{n}", issues_path());
    let invalid = h.patch(&path, json!({"state": "done"})).await;
    assert_eq!(invalid.status(), 422);
    h.advance(10);
    let closed = body(h.patch(&path, json!({"state": "closed"})).await).await;
    assert_eq!((closed["state"].clone(), closed["state_reason"].clone()), (json!("closed"), json!("completed")));
    assert!(is_github_timestamp(&closed["closed_at"]));
    assert_eq!(closed["closed_by"]["login"], "ticket-sync-bot");
    assert_ne!(closed["updated_at"], closed["created_at"]);
    let ignored = body(h.patch(&path, json!({"state_reason": "not_planned"})).await).await;
    assert_eq!(ignored["state_reason"], "completed");
    let reopened = body(h.patch(&path, json!({"state": "open"})).await).await;
    assert_eq!(reopened["state_reason"], "reopened");
    assert_eq!((reopened["closed_at"].clone(), reopened["closed_by"].clone()), (json!(null), json!(null)));
    let patch = json!({"state": "closed", "state_reason": "not_planned"});
    assert_eq!(body(h.patch(&path, patch).await).await["state_reason"], "not_planned");
}

#[tokio::test]
async fn edits_replace_labels_and_no_op_edits_keep_updated_at() {
    let h = harness().await;
    let n = h.create_issue("labels").await;
    let path = format!("{}/{n}", issues_path());
    let set = json!({"labels": ["a", "b"], "title": "labels"});
    let first = body(h.patch(&path, set.clone()).await).await;
    h.advance(30);
    let same = body(h.patch(&path, set).await).await;
    assert_eq!(same["updated_at"], first["updated_at"]);
    let replaced = body(h.patch(&path, json!({"labels": ["c"], "body": "new"})).await).await;
    assert_ne!(replaced["updated_at"], first["updated_at"]);
    assert_eq!(replaced["labels"][0]["name"], "c");
    assert_eq!(replaced["labels"].as_array().unwrap().len(), 1);
    assert_eq!(h.gh.issue(REPO, n).unwrap().labels, ["c"]);
}

#[tokio::test]
async fn transferred_issue_answers_301_to_its_new_home_and_leaves_the_list() {
    let h = harness().await;
    let other_id = h.gh.add_repo("acme/other", Visibility::Public, true);
    let n = h.create_issue("moving").await;
    h.gh.add_comment(REPO, n, "alice", "a comment travels along");
    let new_number = h.gh.transfer_issue(REPO, n, "acme/other");
    // Real transfer redirects name the new repository by id.
    let new_url = h.url(&format!("/repositories/{other_id}/issues/{new_number}"));
    let old_path = format!("{}/{n}", issues_path());
    let moved = h.get(&old_path).await;
    assert_eq!(moved.status(), 301);
    assert_eq!(header(&moved, "location").unwrap(), new_url);
    let expected = json!({"message": "Moved Permanently", "url": new_url, "documentation_url": "https://docs.github.com/v3/#http-redirects"});
    assert_eq!(body(moved).await, expected);
    assert_eq!(h.patch(&old_path, json!({"state": "closed"})).await.status(), 301);
    let followed = body(h.get(&new_url).await).await;
    assert_eq!((followed["title"].clone(), followed["comments"].clone()), (json!("moving"), json!(1)));
    let listed = body(h.get(&format!("{}?state=all", issues_path())).await).await;
    assert!(listed.as_array().unwrap().is_empty());
    assert!(h.gh.issues(REPO).is_empty());
    assert_eq!(h.gh.comments("acme/other", new_number).len(), 1);
}

#[tokio::test]
async fn deleted_issue_answers_410_and_leaves_the_list() {
    let h = harness().await;
    let n = h.create_issue("doomed").await;
    h.gh.delete_issue(REPO, n);
    let path = format!("{}/{n}", issues_path());
    let gone = h.get(&path).await;
    assert_eq!(gone.status(), 410);
    let refusal = body(gone).await;
    assert_eq!(
        (refusal["message"].clone(), refusal["status"].clone()),
        (json!("This issue was deleted"), json!("410"))
    );
    assert_eq!(h.patch(&path, json!({"title": "x"})).await.status(), 410);
    let comment = h.post(&format!("{path}/comments"), json!({"body": "hi"})).await;
    assert_eq!(comment.status(), 410);
    let listed = body(h.get(&format!("{}?state=all", issues_path())).await).await;
    assert!(listed.as_array().unwrap().is_empty());
    assert_eq!(h.get(&format!("{}/999", issues_path())).await.status(), 404);
}

/// A deleted repository answers GitHub's plain 404 to everything under it, by name and by id,
/// writes included; a deleted issue's 410 is the issue's alone. Restored, it answers as before.
#[tokio::test]
async fn a_deleted_repository_answers_404_everywhere_until_restored() {
    let h = harness().await;
    let n = h.create_issue("in a doomed repository").await;
    h.gh.set_deleted(REPO, true);
    for path in [
        format!("/repos/{REPO}"),
        issues_path(),
        format!("{}/{n}", issues_path()),
        format!("{}/{n}/comments", issues_path()),
        format!("/repositories/{}/issues/{n}", h.repo_id),
    ] {
        let resp = h.get(&path).await;
        assert_eq!(resp.status(), 404, "{path}");
        let refusal = body(resp).await;
        assert_eq!(
            (refusal["message"].clone(), refusal["status"].clone()),
            (json!("Not Found"), json!("404")),
            "{path}"
        );
        assert!(refusal["documentation_url"].as_str().is_some_and(|d| d.starts_with("https://docs.github.com/")));
    }
    assert_eq!(h.post(&issues_path(), json!({"title": "x"})).await.status(), 404);
    assert_eq!(h.post(&format!("{}/{n}/comments", issues_path()), json!({"body": "hi"})).await.status(), 404);
    h.gh.set_deleted(REPO, false);
    let restored = body(h.get(&format!("{}/{n}", issues_path())).await).await;
    assert_eq!(restored["title"], "in a doomed repository");
}

#[tokio::test]
async fn human_actions_through_helpers_show_in_the_api() {
    let h = harness().await;
    let n = h.gh.add_issue(REPO, "filed by a human", "details", "alice");
    h.advance(5);
    h.gh.close_issue(REPO, n, "not_planned", "bob");
    let issue = body(h.get(&format!("{}/{n}", issues_path())).await).await;
    assert_eq!(issue["user"]["login"], "alice");
    assert_eq!(issue["closed_by"]["login"], "bob");
    assert_eq!(issue["state_reason"], "not_planned");
    h.gh.reopen_issue(REPO, n, "bob");
    let view = h.gh.issue(REPO, n).unwrap();
    assert_eq!((view.state.as_str(), view.state_reason.as_deref()), ("open", Some("reopened")));
    assert_eq!(view.closed_by, None);
    assert!(view.updated_at > view.created_at);
}

#[tokio::test]
async fn per_resource_refusals_are_403_without_rate_limit_signs_and_reads_still_work() {
    let h = harness().await;
    let number = h.create_issue("Locked soon").await;
    let comments = format!("/repos/{REPO}/issues/{number}/comments");

    h.gh.lock_issue(REPO, number);
    let locked = h.post(&comments, json!({"body": "hi"})).await;
    assert_eq!(locked.status(), 403);
    assert!(header(&locked, "retry-after").is_none());
    assert_ne!(header(&locked, "x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(body(locked).await["message"], "Unable to create comment because issue is locked.");
    assert_eq!(body(h.get(&format!("/repos/{REPO}/issues/{number}")).await).await["locked"], json!(true));

    h.gh.set_writes_denied(REPO, true);
    let denied = h.post(&format!("/repos/{REPO}/issues"), json!({"title": "x"})).await;
    assert_eq!(denied.status(), 403);
    assert_eq!(body(denied).await["message"], "Resource not accessible by personal access token");
    h.gh.set_writes_denied(REPO, false);

    h.gh.set_archived(REPO, true);
    let archived = h.patch(&format!("/repos/{REPO}/issues/{number}"), json!({"state": "closed"})).await;
    assert_eq!(archived.status(), 403);
    assert_eq!(body(archived).await["message"], "Repository was archived so is read-only.");
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/{number}")).await.status(), 200, "reads still work");
    assert_eq!(body(h.get(&format!("/repos/{REPO}")).await).await["archived"], json!(true));
}

#[tokio::test]
async fn a_renamed_repository_redirects_its_old_name_by_id_and_transfers_redirect_by_id() {
    let h = harness().await;
    let number = h.create_issue("Before the rename").await;
    h.gh.rename_repo(REPO, "helpdesk");
    let old = h.get(&format!("/repos/{REPO}/issues?state=all")).await;
    assert_eq!(old.status(), 301);
    let location = header(&old, "location").unwrap();
    assert_eq!(location, h.url(&format!("/repositories/{}/issues?state=all", h.repo_id)));
    assert_eq!(h.numbers(&location).await, vec![number]);
    assert_eq!(h.get("/repos/acme/helpdesk").await.status(), 200, "the new name answers");

    h.gh.add_repo("acme/other", Visibility::Private, true);
    let moved = h.gh.transfer_issue("acme/helpdesk", number, "acme/other");
    let gone = h.get(&format!("/repos/acme/helpdesk/issues/{number}")).await;
    assert_eq!(gone.status(), 301);
    let to = header(&gone, "location").unwrap();
    assert!(to.contains("/repositories/") && to.ends_with(&format!("/issues/{moved}")), "{to}");
    assert_eq!(body(h.get(&to).await).await["repository_url"], h.url("/repos/acme/other"));
}

#[tokio::test]
async fn a_repository_hidden_from_the_token_answers_404_everywhere() {
    let h = harness().await;
    let number = h.create_issue("Secret").await;
    h.gh.set_hidden(REPO, true);
    for path in [
        format!("/repos/{REPO}"),
        format!("/repos/{REPO}/issues/{number}"),
        format!("/repositories/{}/issues", h.repo_id),
    ] {
        let resp = h.get(&path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(body(resp).await["message"], "Not Found");
    }
    h.gh.set_hidden(REPO, false);
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/{number}")).await.status(), 200);
}
