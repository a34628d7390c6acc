//! Contract tests of the pull-request endpoints (`…/pulls`, `…/pulls/{n}`,
//! `…/commits/{sha}/pulls`) and of what merging and closing a pull request does to the issues
//! it names (docs/research/github-fixes.md §1, §2).

use serde_json::{json, Value};

use super::*;
use crate::github::MergeMethod;

const DEV: &str = "dev-alice";

fn events_of(list: &Value) -> Vec<String> {
    (list.as_array().unwrap().iter()).map(|e| e["event"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_pull_request_is_an_issue_numbered_in_the_same_sequence_with_its_own_id() {
    let h = harness().await;
    let issue = h.create_issue("Crash on save").await;
    let pr = h.gh.open_pull_request(REPO, "Fix crash on save", &format!("Fixes #{issue}"), DEV);
    assert_eq!(pr, issue + 1);
    let resp = h.get(&format!("/repos/{REPO}/pulls/{pr}")).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "etag").is_some());
    let pull = body(resp).await;
    let as_issue = body(h.get(&format!("/repos/{REPO}/issues/{pr}")).await).await;
    assert_eq!(pull["number"], pr);
    assert_ne!(pull["id"], as_issue["id"], "a pull request has an id of its own");
    assert_eq!(as_issue["pull_request"]["url"], pull["url"]);
    assert_eq!(as_issue["pull_request"]["merged_at"], Value::Null);
    assert_eq!(
        (pull["state"].clone(), pull["merged"].clone(), pull["merged_at"].clone()),
        (json!("open"), json!(false), Value::Null)
    );
    assert_eq!((pull["user"]["login"].clone(), pull["title"].clone()), (json!(DEV), json!("Fix crash on save")));
    assert_eq!(pull["body"], format!("Fixes #{issue}"));
    assert_eq!(pull["base"]["ref"], "main");
    assert_eq!(pull["base"]["repo"]["full_name"], REPO);
    let view = h.gh.pull_request(REPO, pr).unwrap();
    assert_eq!(pull["head"]["sha"], view.head_sha);
    assert_eq!(pull["html_url"], format!("{}/{REPO}/pull/{pr}", h.gh.web_url()));
    let test_merge = pull["merge_commit_sha"].as_str().unwrap();
    assert!(h.gh.resolve_ref(REPO, test_merge).is_some(), "the test merge commit exists");
    assert!(!h.gh.ref_contains(REPO, "main", test_merge), "…but is on no branch: never use it before the merge");

    let plain = h.get(&format!("/repos/{REPO}/pulls/{issue}")).await;
    assert_eq!(plain.status(), 404, "a plain issue is no pull request");
    let expected = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", "status": "404"});
    assert_eq!(body(plain).await, expected);
    assert_eq!(h.get(&format!("/repos/{REPO}/pulls/999")).await.status(), 404);
    assert_eq!(h.get("/repos/acme/nope/pulls/1").await.status(), 404);
}

#[tokio::test]
async fn merging_onto_the_default_branch_closes_keyword_and_linked_issues_with_the_merge_commit() {
    let h = harness().await;
    let fixed = h.create_issue("Fixed by keyword").await;
    let mentioned = h.create_issue("Only mentioned").await;
    let linked = h.create_issue("Linked by hand").await;
    let body_text = format!("Fixes #{fixed}, see #{mentioned}");
    let pr = h.gh.open_pull_request(REPO, "The fix", &body_text, DEV);
    h.gh.link_pull_request(REPO, linked, REPO, pr, "maintainer");
    h.advance(30);
    let sha = h.gh.merge_pull_request(REPO, pr, MergeMethod::Squash, "maintainer");
    assert!(h.gh.ref_contains(REPO, "main", &sha), "the squash commit is on the default branch");

    let pull = body(h.get(&format!("/repos/{REPO}/pulls/{pr}")).await).await;
    assert_eq!((pull["state"].clone(), pull["merged"].clone()), (json!("closed"), json!(true)));
    assert_eq!(pull["merge_commit_sha"], sha);
    assert_eq!(pull["merged_by"]["login"], "maintainer");
    assert!(is_github_timestamp(&pull["merged_at"]));
    let pr_events = body(h.get(&format!("/repos/{REPO}/issues/{pr}/events")).await).await;
    assert_eq!(events_of(&pr_events), ["connected", "merged", "closed"]);
    let merged = &pr_events[1];
    assert_eq!(merged["commit_id"], pull["head"]["sha"], "merged names the head commit that was merged");
    assert_eq!(pr_events[2]["commit_id"], Value::Null, "the pull request's own close names no commit");

    for closed in [fixed, linked] {
        let issue = body(h.get(&format!("/repos/{REPO}/issues/{closed}")).await).await;
        assert_eq!((issue["state"].clone(), issue["state_reason"].clone()), (json!("closed"), json!("completed")));
        assert_eq!(issue["closed_by"]["login"], "maintainer");
        let events = body(h.get(&format!("/repos/{REPO}/issues/{closed}/events")).await).await;
        let close = events.as_array().unwrap().iter().find(|e| e["event"] == "closed").unwrap().clone();
        assert_eq!(close["commit_id"], sha, "#{closed}: the commit that closed it");
        assert_eq!(close["commit_url"], h.url(&format!("/repos/{REPO}/commits/{sha}")));
        assert_eq!(close["actor"]["login"], "maintainer");
    }
    let open = body(h.get(&format!("/repos/{REPO}/issues/{mentioned}")).await).await;
    assert_eq!(open["state"], "open", "a mention without a keyword closes nothing");
}

#[tokio::test]
async fn keywords_on_a_non_default_base_close_nothing() {
    let h = harness().await;
    let issue = h.create_issue("Backport me").await;
    h.gh.create_branch(REPO, "release-1.x", "main");
    let pr = h.gh.open_pull_request_onto(REPO, "release-1.x", "Backport", &format!("Fixes #{issue}"), DEV);
    let sha = h.gh.merge_pull_request(REPO, pr, MergeMethod::Merge, "maintainer");
    assert!(h.gh.ref_contains(REPO, "release-1.x", &sha));
    assert!(!h.gh.ref_contains(REPO, "main", &sha));
    let issue = body(h.get(&format!("/repos/{REPO}/issues/{issue}")).await).await;
    assert_eq!(issue["state"], "open");
    let pull = body(h.get(&format!("/repos/{REPO}/pulls/{pr}")).await).await;
    assert_eq!((pull["merged"].clone(), pull["base"]["ref"].clone()), (json!(true), json!("release-1.x")));
}

#[tokio::test]
async fn a_pull_request_closed_without_merging_closes_nothing_and_says_merged_false() {
    let h = harness().await;
    let issue = h.create_issue("Still broken").await;
    let pr = h.gh.open_pull_request(REPO, "Attempt", &format!("Closes #{issue}"), DEV);
    h.gh.close_pull_request(REPO, pr, DEV);
    let pull = body(h.get(&format!("/repos/{REPO}/pulls/{pr}")).await).await;
    assert_eq!(
        (pull["state"].clone(), pull["merged"].clone(), pull["merged_at"].clone()),
        (json!("closed"), json!(false), Value::Null)
    );
    assert!(is_github_timestamp(&pull["closed_at"]));
    assert_eq!(body(h.get(&format!("/repos/{REPO}/issues/{issue}")).await).await["state"], "open");
    let before = h.gh.pull_request(REPO, pr).unwrap();
    h.gh.push_commit(REPO, &before.head_ref, "pushed after the close", DEV);
    assert_eq!(h.gh.pull_request(REPO, pr).unwrap().head_sha, before.head_sha, "ASSUMED: a closed one keeps its head");
}

#[tokio::test]
async fn the_pull_list_filters_sorts_and_pages_with_links_and_answers_304() {
    let h = harness().await;
    let first = h.gh.open_pull_request(REPO, "first", "", DEV);
    h.advance(10);
    let second = h.gh.open_pull_request(REPO, "second", "", DEV);
    h.advance(10);
    h.gh.create_branch(REPO, "release-1.x", "main");
    let third = h.gh.open_pull_request_onto(REPO, "release-1.x", "third", "", DEV);
    h.gh.add_issue(REPO, "a plain issue is not listed", "", DEV);
    h.advance(10);
    h.gh.close_pull_request(REPO, second, DEV);
    let path = format!("/repos/{REPO}/pulls");
    assert_eq!(h.numbers(&path).await, [third, first], "open ones, newest first");
    assert_eq!(h.numbers(&format!("{path}?state=all")).await, [third, second, first]);
    assert_eq!(h.numbers(&format!("{path}?state=closed")).await, [second]);
    assert_eq!(h.numbers(&format!("{path}?state=all&base=release-1.x")).await, [third]);
    let head = h.gh.pull_request(REPO, first).unwrap().head_ref;
    assert_eq!(h.numbers(&format!("{path}?state=all&head=acme:{head}")).await, [first]);
    assert_eq!(h.numbers(&format!("{path}?state=all&sort=updated")).await, [first, third, second], "asc unless told");
    assert_eq!(h.numbers(&format!("{path}?state=all&sort=updated&direction=desc")).await, [second, third, first]);

    let paged = h.get(&format!("{path}?state=all&sort=updated&direction=desc&per_page=1")).await;
    let page = |n: u32| {
        h.url(&format!("/repositories/{}/pulls?state=all&sort=updated&direction=desc&per_page=1&page={n}", h.repo_id))
    };
    let rels = links(&paged);
    assert_eq!((rels["next"].clone(), rels["last"].clone()), (page(2), page(3)));
    let etag = header(&paged, "etag").unwrap();
    assert_eq!(numbers(&body(paged).await), [second]);
    assert_eq!(h.numbers(&page(3)).await, [first]);
    let again = h
        .req(Method::GET, &format!("{path}?state=all&sort=updated&direction=desc&per_page=1"))
        .header("if-none-match", &etag);
    let again = again.send().await.unwrap();
    assert_eq!(again.status(), 304);
    h.advance(5);
    h.gh.edit_pull_request_body(REPO, first, "now with a description", DEV);
    let changed = h
        .req(Method::GET, &format!("{path}?state=all&sort=updated&direction=desc&per_page=1"))
        .header("if-none-match", &etag);
    assert_eq!(changed.send().await.unwrap().status(), 200, "an edit moves the newest-updated pull request");

    for query in ["state=merged", "sort=title", "direction=up"] {
        let resp = h.get(&format!("{path}?{query}")).await;
        assert_eq!(resp.status(), 422, "{query}");
        let refusal = body(resp).await;
        assert_eq!(refusal["message"], "Validation Failed");
        assert_eq!(refusal["errors"][0]["resource"], "PullRequest");
    }
}

#[tokio::test]
async fn a_commits_pull_requests_are_the_merged_one_on_main_and_open_ones_elsewhere() {
    let h = harness().await;
    let merged = h.gh.open_pull_request(REPO, "merged one", "", DEV);
    let merged_head = h.gh.pull_request(REPO, merged).unwrap().head_sha;
    let merge_sha = h.gh.merge_pull_request(REPO, merged, MergeMethod::Merge, "maintainer");
    let open = h.gh.open_pull_request(REPO, "open one", "", DEV);
    let open_head = h.gh.push_to_pull_request(REPO, open, "second commit", DEV);
    let direct = h.gh.push_commit(REPO, "main", "Straight to main", "maintainer");
    let pulls_of = |sha: &str| format!("/repos/{REPO}/commits/{sha}/pulls");
    assert_eq!(h.numbers(&pulls_of(&merge_sha)).await, [merged], "the merged pull request that introduced it");
    assert_eq!(
        h.numbers(&pulls_of(&merged_head)).await,
        [merged],
        "merged with a merge commit: its commits are on main"
    );
    assert_eq!(h.numbers(&pulls_of(&open_head)).await, [open], "not on main: open pull requests only");
    assert_eq!(h.numbers(&pulls_of(&direct)).await, Vec::<u64>::new(), "pushed without a pull request");
    let list = body(h.get(&pulls_of(&merge_sha)).await).await;
    assert_eq!(list[0]["merge_commit_sha"], merge_sha);
    assert!(list[0].get("merged").is_none(), "the list has the simple shape");

    let squashed = h.gh.open_pull_request(REPO, "squashed", "", DEV);
    let squashed_head = h.gh.pull_request(REPO, squashed).unwrap().head_sha;
    let squash_sha = h.gh.merge_pull_request(REPO, squashed, MergeMethod::Squash, "maintainer");
    assert_eq!(h.numbers(&pulls_of(&squash_sha)).await, [squashed]);
    assert_eq!(
        h.numbers(&pulls_of(&squashed_head)).await,
        Vec::<u64>::new(),
        "a squashed branch's commit is not on main and its pull request is closed"
    );

    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let resp = h.get(&pulls_of(unknown)).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(body(resp).await["message"], format!("No commit found for SHA: {unknown}"));
}
