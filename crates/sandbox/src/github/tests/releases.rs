//! Contract tests of the release endpoints (`…/releases`, `…/releases/latest`,
//! `…/releases/tags/{tag}`, `…/releases/{id}`): the order by the tagged commit's date, drafts
//! only with push access, `published_at` null, ETags that churn with download counts, and
//! `Last-Modified` on single releases only (docs/research/github-fixes.md §3).

use serde_json::{json, Value};

use super::*;
use crate::github::ReleaseSpec;

const DEV: &str = "release-manager";

fn tags(list: &Value) -> Vec<String> {
    (list.as_array().unwrap().iter()).map(|r| r["tag_name"].as_str().unwrap().to_string()).collect()
}

fn spec(tag: &str, target: &str) -> ReleaseSpec {
    ReleaseSpec { target: target.to_string(), ..ReleaseSpec::published(tag) }
}

#[tokio::test]
async fn releases_are_listed_by_their_commits_date_newest_first_and_drafts_only_with_push_access() {
    let h = harness().await;
    let old = h.gh.push_commit(REPO, "main", "old work", DEV);
    h.advance(3600);
    h.gh.push_commit(REPO, "main", "new work", DEV);
    h.gh.create_release(REPO, spec("v1.1.0", "main"), DEV);
    h.advance(3600);
    // Published last, on an older commit: a backport sorts below newer commits' releases.
    let backport = h.gh.create_release(REPO, spec("v1.0.1", &old), DEV);
    let draft = h.gh.create_release(REPO, ReleaseSpec { draft: true, ..spec("v2.0.0", "main") }, DEV);
    let resp = h.get(&format!("/repos/{REPO}/releases")).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "last-modified").is_none(), "the list sends no Last-Modified");
    let list = body(resp).await;
    assert_eq!(tags(&list), ["v2.0.0", "v1.1.0", "v1.0.1"], "by created_at, the commit's date");
    let backport_json = list.as_array().unwrap().iter().find(|r| r["id"] == backport).unwrap();
    let old_date = h.gh.commit_date(REPO, &old);
    assert_eq!(backport_json["created_at"], super::super::wire::ts(old_date), "created_at is the commit's date");
    assert!(is_github_timestamp(&backport_json["published_at"]));
    assert_ne!(backport_json["created_at"], backport_json["published_at"]);
    assert_eq!(backport_json["html_url"], format!("{}/{REPO}/releases/tag/v1.0.1", h.gh.web_url()));
    assert_eq!(backport_json["target_commitish"], old);
    assert_eq!(backport_json["assets"], json!([]));
    let draft_json = &list[0];
    assert_eq!((draft_json["id"].clone(), draft_json["draft"].clone()), (json!(draft), json!(true)));
    assert_eq!(draft_json["published_at"], Value::Null);
    assert!(draft_json["html_url"].as_str().unwrap().contains("/releases/tag/untagged-"));
    assert!(h.gh.resolve_ref(REPO, "refs/tags/v2.0.0").is_none(), "a draft has no tag yet");

    h.gh.set_push_access(REPO, false);
    let list = body(h.get(&format!("/repos/{REPO}/releases")).await).await;
    assert_eq!(tags(&list), ["v1.1.0", "v1.0.1"], "no drafts without push access");
    assert_eq!(h.get(&format!("/repos/{REPO}/releases/{draft}")).await.status(), 404);
    let repo = body(h.get(&format!("/repos/{REPO}")).await).await;
    assert_eq!(repo["permissions"]["push"], false);

    let paged = h.get(&format!("/repos/{REPO}/releases?per_page=1")).await;
    let rels = links(&paged);
    assert_eq!(rels["next"], h.url(&format!("/repositories/{}/releases?per_page=1&page=2", h.repo_id)));
    assert_eq!(h.get("/repos/acme/nope/releases").await.status(), 404);
}

#[tokio::test]
async fn latest_is_the_newest_full_release_and_by_tag_finds_published_ones_only() {
    let h = harness().await;
    let latest = format!("/repos/{REPO}/releases/latest");
    let none = h.get(&latest).await;
    assert_eq!(none.status(), 404, "no release yet");
    let expected = json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/releases/releases#get-the-latest-release", "status": "404"});
    assert_eq!(body(none).await, expected);
    h.gh.create_release(REPO, spec("v1.0.0", "main"), DEV);
    h.advance(60);
    h.gh.push_commit(REPO, "main", "more", DEV);
    h.gh.create_release(REPO, ReleaseSpec { prerelease: true, ..spec("v1.1.0-rc.1", "main") }, DEV);
    let draft = h.gh.create_release(REPO, ReleaseSpec { draft: true, ..spec("v1.1.0", "main") }, DEV);
    assert_eq!(body(h.get(&latest).await).await["tag_name"], "v1.0.0", "not a prerelease, not a draft");
    let rc = body(h.get(&format!("/repos/{REPO}/releases/tags/v1.1.0-rc.1")).await).await;
    assert_eq!(rc["prerelease"], true);
    assert_eq!(
        h.get(&format!("/repos/{REPO}/releases/tags/v1.1.0")).await.status(),
        404,
        "a draft is not found by tag"
    );
    assert_eq!(h.get(&format!("/repos/{REPO}/releases/{draft}")).await.status(), 200, "…but by id, with push access");
    assert_eq!(h.get(&format!("/repos/{REPO}/releases/tags/v9")).await.status(), 404);
    assert_eq!(h.get(&format!("/repos/{REPO}/releases/12345")).await.status(), 404);
}

#[tokio::test]
async fn download_counts_churn_the_list_etag_while_single_releases_answer_if_modified_since() {
    let h = harness().await;
    let id = h.gh.create_release(REPO, spec("v1.0.0", "main"), DEV);
    h.gh.add_release_asset(REPO, id, "tool-linux.tar.gz");
    let path = format!("/repos/{REPO}/releases");
    let first = h.get(&path).await;
    let etag = header(&first, "etag").unwrap();
    let cond = |p: &str, name: &'static str, value: &str| h.req(Method::GET, p).header(name, value.to_string()).send();
    assert_eq!(cond(&path, "if-none-match", &etag).await.unwrap().status(), 304);
    h.gh.bump_download_counts(REPO, id, 3);
    let churned = cond(&path, "if-none-match", &etag).await.unwrap();
    assert_eq!(churned.status(), 200, "a download changes the body, so the ETag");
    assert_eq!(body(churned).await[0]["assets"][0]["download_count"], 3);
    let far_future = "Fri, 01 Jan 2100 00:00:00 GMT";
    assert_eq!(cond(&path, "if-modified-since", far_future).await.unwrap().status(), 200, "the list ignores dates");

    let latest = format!("/repos/{REPO}/releases/latest");
    let one = h.get(&latest).await;
    let last_modified = header(&one, "last-modified").unwrap();
    let one_etag = header(&one, "etag").unwrap();
    let before = remaining(&one);
    let unchanged = cond(&latest, "if-modified-since", &last_modified).await.unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(remaining(&unchanged), before, "a 304 is free");
    h.gh.bump_download_counts(REPO, id, 1);
    assert_eq!(
        cond(&latest, "if-modified-since", &last_modified).await.unwrap().status(),
        304,
        "downloads do not move Last-Modified"
    );
    let both =
        h.req(Method::GET, &latest).header("if-modified-since", &last_modified).header("if-none-match", &one_etag);
    assert_eq!(both.send().await.unwrap().status(), 200, "with If-None-Match the date is ignored");
    let by_tag = format!("/repos/{REPO}/releases/tags/v1.0.0");
    assert_eq!(cond(&by_tag, "if-modified-since", &last_modified).await.unwrap().status(), 304);
    h.advance(5);
    h.gh.edit_release(REPO, id, None, Some("Release notes"), DEV);
    assert_eq!(cond(&by_tag, "if-modified-since", &last_modified).await.unwrap().status(), 200, "an edit does");
}

#[tokio::test]
async fn a_draft_is_tagged_when_published_and_a_prerelease_can_become_the_latest() {
    let h = harness().await;
    let draft = h.gh.create_release(REPO, ReleaseSpec { draft: true, prerelease: true, ..spec("v3.0.0", "main") }, DEV);
    let compare = format!("/repos/{REPO}/compare/v3.0.0...main");
    assert_eq!(h.get(&compare).await.status(), 404, "ASSUMED: no tag until published");
    h.advance(60);
    let head = h.gh.push_commit(REPO, "main", "last fix before the release", DEV);
    h.advance(60);
    h.gh.publish_release(REPO, draft, DEV);
    assert_eq!(h.gh.resolve_ref(REPO, "refs/tags/v3.0.0"), Some(head.clone()), "tagged at the target as it is now");
    let release = body(h.get(&format!("/repos/{REPO}/releases/tags/v3.0.0")).await).await;
    assert_eq!((release["draft"].clone(), release["prerelease"].clone()), (json!(false), json!(true)));
    assert_eq!(release["created_at"], super::super::wire::ts(h.gh.commit_date(REPO, &head)));
    assert!(is_github_timestamp(&release["published_at"]));
    assert_eq!(h.get(&format!("/repos/{REPO}/releases/latest")).await.status(), 404, "a prerelease is never latest");
    h.gh.set_prerelease(REPO, draft, false, DEV);
    assert_eq!(body(h.get(&format!("/repos/{REPO}/releases/latest")).await).await["id"], draft);
    assert_eq!(body(h.get(&compare).await).await["status"], "identical");
    h.gh.delete_release(REPO, draft, DEV);
    assert_eq!(h.get(&format!("/repos/{REPO}/releases/tags/v3.0.0")).await.status(), 404);
    assert_eq!(h.gh.resolve_ref(REPO, "v3.0.0"), Some(head), "ASSUMED: deleting a release keeps its tag");
}
