//! Contract tests of `GET …/compare/{base}...{head}`: the four statuses and their counts,
//! the 250-commit cap without paging, `Link` pages with `files` on the first page only, and
//! the 404s and 500 of a bad day (docs/research/github-fixes.md §4).

use serde_json::{json, Value};

use super::*;
use crate::github::MergeMethod;

const DEV: &str = "dev-alice";

fn shas(list: &Value) -> Vec<String> {
    (list["commits"].as_array().unwrap().iter()).map(|c| c["sha"].as_str().unwrap().to_string()).collect()
}

async fn compare(h: &Harness, basehead: &str) -> Value {
    let resp = h.get(&format!("/repos/{REPO}/compare/{basehead}")).await;
    assert_eq!(resp.status(), 200, "{basehead}");
    body(resp).await
}

#[tokio::test]
async fn compare_tells_whether_a_tag_contains_a_fix_by_its_status_and_counts() {
    let h = harness().await;
    let n = h.create_issue("Crash").await;
    h.gh.create_tag(REPO, "v1.0.0", "main");
    let pr = h.gh.open_pull_request(REPO, "Fix crash", &format!("Fixes #{n}"), DEV);
    let fix = h.gh.merge_pull_request(REPO, pr, MergeMethod::Squash, "maintainer");
    h.gh.create_tag(REPO, "v1.0.1", "main");
    h.gh.push_commit(REPO, "main", "after the fix", DEV);
    h.gh.create_tag(REPO, "v1.1.0", "main");
    h.gh.create_branch(REPO, "release-0.9", "v1.0.0");
    h.gh.push_commit(REPO, "release-0.9", "backported by hand", DEV);
    h.gh.create_tag(REPO, "v0.9.9", "release-0.9");

    let behind = compare(&h, &format!("v1.1.0...{fix}")).await;
    assert_eq!(
        (behind["status"].clone(), behind["ahead_by"].clone(), behind["behind_by"].clone()),
        (json!("behind"), json!(0), json!(1))
    );
    assert_eq!(
        (behind["total_commits"].clone(), behind["commits"].clone(), behind["files"].clone()),
        (json!(0), json!([]), json!([]))
    );
    assert_eq!(behind["merge_base_commit"]["sha"], fix, "contained: the merge base is the fix");
    assert_eq!(behind["base_commit"]["sha"], h.gh.resolve_ref(REPO, "v1.1.0").unwrap(), "the tag's commit");
    let identical = compare(&h, &format!("v1.0.1...{fix}")).await;
    assert_eq!((identical["status"].clone(), identical["ahead_by"].clone()), (json!("identical"), json!(0)));
    let ahead = compare(&h, &format!("v1.0.0...{fix}")).await;
    assert_eq!(
        (ahead["status"].clone(), ahead["ahead_by"].clone(), ahead["behind_by"].clone()),
        (json!("ahead"), json!(1), json!(0))
    );
    assert_eq!(shas(&ahead), std::slice::from_ref(&fix));
    assert_eq!(ahead["files"][0]["filename"], format!("src/change_{pr}.rs"));
    let diverged = compare(&h, &format!("v0.9.9...{fix}")).await;
    assert_eq!(
        (diverged["status"].clone(), diverged["ahead_by"].clone(), diverged["behind_by"].clone()),
        (json!("diverged"), json!(1), json!(1))
    );
    assert_eq!(diverged["merge_base_commit"]["sha"], h.gh.resolve_ref(REPO, "v1.0.0").unwrap());

    let short = &fix[..7];
    let by_short = compare(&h, &format!("acme:v1.1.0...acme:{short}")).await;
    assert_eq!(by_short["status"], "behind", "abbreviated shas and OWNER: prefixes resolve");
    let commit = &ahead["commits"][0];
    assert_eq!(commit["commit"]["message"], format!("Fix crash (#{pr})"));
    assert_eq!(commit["author"]["login"], "maintainer");
    assert!(is_github_timestamp(&commit["commit"]["committer"]["date"]));
    assert_eq!(commit["html_url"], format!("{}/{REPO}/commit/{fix}", h.gh.web_url()));
    assert_eq!(ahead["html_url"], format!("{}/{REPO}/compare/v1.0.0...{fix}", h.gh.web_url()));
    let base = h.gh.resolve_ref(REPO, "v1.0.0").unwrap();
    let permalink = format!("{}/{REPO}/compare/acme:{}...acme:{}", h.gh.web_url(), &base[..7], short);
    assert_eq!(ahead["permalink_url"], permalink);
}

#[tokio::test]
async fn without_paging_compare_lists_the_newest_250_commits_and_counts_them_all() {
    let h = harness().await;
    h.gh.create_tag(REPO, "v0", "main");
    let pushed: Vec<String> = (0..260).map(|i| h.gh.push_commit(REPO, "main", &format!("commit {i}"), DEV)).collect();
    let cmp = compare(&h, "v0...main").await;
    assert_eq!((cmp["ahead_by"].clone(), cmp["total_commits"].clone()), (json!(260), json!(260)));
    let listed = shas(&cmp);
    assert_eq!(listed.len(), 250);
    assert_eq!(listed.last(), pushed.last(), "the last commit listed is the most recent");
    assert_eq!(listed, pushed[10..], "oldest first, cut from the start");
    assert_eq!(cmp["files"].as_array().unwrap().len(), 260);
}

#[tokio::test]
async fn paged_compare_links_its_pages_and_lists_files_on_the_first_one_only() {
    let h = harness().await;
    h.gh.create_tag(REPO, "v0", "main");
    let pushed: Vec<String> = (0..5).map(|i| h.gh.push_commit(REPO, "main", &format!("commit {i}"), DEV)).collect();
    let path = format!("/repos/{REPO}/compare/v0...main?per_page=2");
    let first = h.get(&path).await;
    let page = |n: u32| h.url(&format!("/repositories/{}/compare/v0...main?per_page=2&page={n}", h.repo_id));
    let rels = links(&first);
    assert_eq!((rels["next"].clone(), rels["last"].clone()), (page(2), page(3)));
    let etag1 = header(&first, "etag").unwrap();
    let first = body(first).await;
    assert_eq!(shas(&first), pushed[..2]);
    assert_eq!(first["files"].as_array().unwrap().len(), 5, "the whole comparison's files, on page 1");
    assert_eq!(first["total_commits"], 5);
    let second = h.get(&page(2)).await;
    assert_ne!(header(&second, "etag").unwrap(), etag1, "each page has its own ETag");
    let second = body(second).await;
    assert_eq!(shas(&second), pushed[2..4]);
    assert!(second.get("files").is_none(), "no files key at all past page 1");
    assert_eq!(second["status"], "ahead");
    let one = body(h.get(&format!("/repos/{REPO}/compare/main...v0?per_page=1")).await).await;
    assert_eq!(
        (one["status"].clone(), one["commits"].clone(), one["files"].clone()),
        (json!("behind"), json!([]), json!([]))
    );
    let again = h.req(Method::GET, &path).header("if-none-match", &etag1).send().await.unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn unknown_refs_deleted_tags_two_dots_and_unrelated_histories_are_404() {
    let h = harness().await;
    h.gh.create_tag(REPO, "v1", "main");
    h.gh.create_orphan_branch(REPO, "rewritten", "history rewritten", DEV);
    let not_found = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/commits/commits#compare-two-commits", "status": "404"});
    for basehead in [
        "v1...nope",
        "nope...main",
        "v1..main",
        "v1",
        "other:v1...main",
        "v1...0123456789abcdef0123456789abcdef01234567",
    ] {
        let resp = h.get(&format!("/repos/{REPO}/compare/{basehead}")).await;
        assert_eq!(resp.status(), 404, "{basehead}");
        assert_eq!(body(resp).await, not_found, "{basehead}");
    }
    h.gh.delete_tag(REPO, "v1");
    assert_eq!(h.get(&format!("/repos/{REPO}/compare/v1...main")).await.status(), 404, "a deleted tag");
    let unrelated = h.get(&format!("/repos/{REPO}/compare/main...rewritten")).await;
    assert_eq!(unrelated.status(), 404);
    assert_eq!(body(unrelated).await["message"], "No common ancestor between main and rewritten.");
    assert_eq!(h.get("/repos/acme/nope/compare/main...main").await.status(), 404);
}

#[tokio::test]
async fn a_huge_diff_answers_500_while_a_contained_commit_still_answers() {
    let h = harness().await;
    h.gh.create_tag(REPO, "v1", "main");
    let fix = h.gh.push_commit(REPO, "main", "the fix", DEV);
    h.gh.create_tag(REPO, "v2", "main");
    h.gh.set_slow_diffs(REPO, true);
    let slow = h.get(&format!("/repos/{REPO}/compare/v1...{fix}?per_page=1")).await;
    assert_eq!(slow.status(), 500, "per_page=1 does not drop the files part");
    let refusal = body(slow).await;
    assert_eq!(refusal["message"], "Server Error: Sorry, this diff is taking too long to generate.");
    assert_eq!(refusal["status"], "500");
    assert_eq!(compare(&h, &format!("v2...{fix}")).await["status"], "identical");
    h.gh.set_slow_diffs(REPO, false);
    assert_eq!(compare(&h, &format!("v1...{fix}")).await["status"], "ahead");
}
