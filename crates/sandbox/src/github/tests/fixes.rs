//! Contract tests across issue 22's endpoints: the path from "fix in review" to "shipped in
//! TAG" as a client reads it, the `pull_request` and `release` webhook deliveries, and the
//! machinery every route honours (renamed repositories, GitHub Enterprise Server's prefix, an
//! App installation's permissions, rate limits, hidden repositories).

use serde_json::{json, Value};

use super::app::{app_harness, get_as, mint};
use super::*;
use crate::github::{MergeMethod, ReleaseSpec};
use crate::hooks::receiver::{Received, Receiver};

const DEV: &str = "dev-alice";
const SECRET: &str = "gh-webhook-secret";

#[tokio::test]
async fn the_path_from_review_to_release_reads_through_the_api() {
    let h = harness().await;
    let n = h.create_issue("Export fails").await;
    h.gh.create_release(REPO, ReleaseSpec::published("v2.3.0"), "release-manager");
    h.advance(60);
    let pr = h.gh.open_pull_request(REPO, "Fix export", &format!("Fixes #{n}"), DEV);

    // In review: the pull request list shows it, with the body to parse and its base.
    let repo = body(h.get(&format!("/repos/{REPO}")).await).await;
    let pulls = body(h.get(&format!("/repos/{REPO}/pulls?state=all&sort=updated&direction=desc")).await).await;
    assert_eq!(pulls[0]["number"], pr);
    assert_eq!(pulls[0]["body"], format!("Fixes #{n}"));
    assert_eq!(pulls[0]["base"]["ref"], repo["default_branch"], "the keyword counts: base is the default branch");
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(timeline[0]["source"]["issue"]["number"], pr);

    // Fixed: the close names the commit, the commit names the pull request.
    h.advance(60);
    let sha = h.gh.merge_pull_request(REPO, pr, MergeMethod::Squash, "maintainer");
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    let closed = timeline.as_array().unwrap().iter().find(|e| e["event"] == "closed").unwrap();
    assert_eq!(closed["commit_id"], sha);
    assert_eq!(h.numbers(&format!("/repos/{REPO}/commits/{sha}/pulls")).await, [pr]);
    assert_eq!(body(h.get(&format!("/repos/{REPO}/pulls/{pr}")).await).await["merge_commit_sha"], sha);

    // Shipped: a new release's tag contains the fix; the old one does not.
    h.advance(60);
    h.gh.create_release(REPO, ReleaseSpec::published("v2.4.0"), "release-manager");
    let releases = body(h.get(&format!("/repos/{REPO}/releases")).await).await;
    assert_eq!(releases[0]["tag_name"], "v2.4.0");
    let shipped = body(h.get(&format!("/repos/{REPO}/compare/v2.4.0...{sha}?per_page=1")).await).await;
    assert_eq!((shipped["status"].clone(), shipped["ahead_by"].clone()), (json!("identical"), json!(0)));
    let not_yet = body(h.get(&format!("/repos/{REPO}/compare/v2.3.0...{sha}?per_page=1")).await).await;
    assert_eq!((not_yet["status"].clone(), not_yet["ahead_by"].clone()), (json!("ahead"), json!(1)));
}

async fn hooked() -> (Harness, Receiver) {
    let h = harness().await;
    let rx = Receiver::start().await;
    h.gh.set_webhook(&rx.url("github"), SECRET);
    (h, rx)
}

/// The (event, action) of each delivery from `from` on, sorted (deliveries travel on their
/// own tasks, so their arrival order is not the order they were made in).
fn actions(got: &[Received], from: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = (got[from..].iter())
        .map(|r| (r.header("x-github-event").to_string(), r.json()["action"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list.iter().map(|(e, a)| (e.to_string(), a.to_string())).collect();
    out.sort();
    out
}

#[tokio::test]
async fn pull_request_deliveries_say_opened_edited_and_closed_with_merged() {
    let (h, rx) = hooked().await;
    let n = h.create_issue("Bug").await;
    let pr = h.gh.open_pull_request(REPO, "Fix", "work in progress", DEV);
    h.gh.edit_pull_request_body(REPO, pr, &format!("Fixes #{n}"), DEV);
    let got = rx.wait_for(3).await;
    assert_eq!(actions(&got, 1), pairs(&[("pull_request", "opened"), ("pull_request", "edited")]));
    let edited = got.iter().map(Received::json).find(|p| p["action"] == "edited").unwrap();
    assert_eq!(edited["changes"]["body"]["from"], "work in progress");
    assert_eq!(edited["number"], pr);
    assert_eq!(edited["pull_request"]["body"], format!("Fixes #{n}"));
    assert_eq!(edited["repository"]["full_name"], REPO);
    assert_eq!(edited["sender"]["login"], DEV);

    h.gh.merge_pull_request(REPO, pr, MergeMethod::Merge, "maintainer");
    let got = rx.wait_for(5).await;
    assert_eq!(actions(&got, 3), pairs(&[("pull_request", "closed"), ("issues", "closed")]));
    let merged =
        got.iter().map(Received::json).find(|p| p["action"] == "closed" && p.get("pull_request").is_some()).unwrap();
    assert_eq!(merged["pull_request"]["merged"], true);
    let issue_closed =
        got.iter().map(Received::json).find(|p| p["action"] == "closed" && p.get("issue").is_some()).unwrap();
    assert_eq!(
        (issue_closed["issue"]["number"].clone(), issue_closed["sender"]["login"].clone()),
        (json!(n), json!("maintainer"))
    );

    let other = h.gh.open_pull_request(REPO, "Abandoned", "", DEV);
    h.gh.close_pull_request(REPO, other, DEV);
    let got = rx.wait_for(7).await;
    let abandoned = got.iter().map(Received::json).find(|p| p["number"] == other && p["action"] == "closed").unwrap();
    assert_eq!(abandoned["pull_request"]["merged"], false);
    for r in &got {
        assert_eq!(r.header("x-hub-signature-256"), crate::hooks::github_signature_256(SECRET, &r.body));
    }
}

#[tokio::test]
async fn release_deliveries_follow_the_actions_official_meanings() {
    let (h, rx) = hooked().await;
    let mut seen = 0;
    let mut expect = |got: Vec<Received>, want: &[(&str, &str)]| {
        let want = pairs(want);
        assert_eq!(actions(&got, seen), want);
        seen = got.len();
    };
    h.gh.create_release(REPO, ReleaseSpec::published("v1.0.0"), DEV);
    expect(rx.wait_for(3).await, &[("release", "created"), ("release", "published"), ("release", "released")]);
    let rc = ReleaseSpec { prerelease: true, ..ReleaseSpec::published("v1.1.0-rc.1") };
    let rc = h.gh.create_release(REPO, rc, DEV);
    expect(rx.wait_for(6).await, &[("release", "created"), ("release", "published"), ("release", "prereleased")]);
    let draft = h.gh.create_release(REPO, ReleaseSpec { draft: true, ..ReleaseSpec::published("v1.1.0") }, DEV);
    expect(rx.wait_for(7).await, &[("release", "created")]);
    h.gh.publish_release(REPO, draft, DEV);
    expect(rx.wait_for(9).await, &[("release", "published"), ("release", "released")]);
    h.gh.set_prerelease(REPO, rc, false, DEV);
    expect(rx.wait_for(11).await, &[("release", "edited"), ("release", "released")]);
    h.gh.edit_release(REPO, rc, Some("Release candidate 1"), None, DEV);
    let got = rx.wait_for(12).await;
    let edited = got.last().unwrap().json();
    assert_eq!(edited["changes"], json!({"name": {"from": "v1.1.0-rc.1"}}));
    expect(got, &[("release", "edited")]);
    h.gh.delete_release(REPO, rc, DEV);
    let got = rx.wait_for(13).await;
    let deleted = got.last().unwrap().json();
    assert_eq!((deleted["release"]["id"].clone(), deleted["sender"]["login"].clone()), (json!(rc), json!(DEV)));
    expect(got, &[("release", "deleted")]);
    let payload = rx.received()[0].json();
    assert_eq!(payload["release"]["tag_name"], "v1.0.0");
    assert_eq!(payload["repository"]["full_name"], REPO);
    assert!(payload["repository"].get("permissions").is_none());
}

#[tokio::test]
async fn the_new_endpoints_follow_a_renamed_repository_and_honour_rate_limits_and_hidden_repositories() {
    let h = harness().await;
    h.gh.open_pull_request(REPO, "A change", "", DEV);
    h.gh.create_release(REPO, ReleaseSpec::published("v1"), DEV);
    h.gh.rename_repo(REPO, "helpdesk");
    for tail in
        ["/pulls?state=all", "/pulls/1", "/issues/1/timeline", "/releases", "/releases/latest", "/compare/v1...main"]
    {
        let old = h.get(&format!("/repos/{REPO}{tail}")).await;
        assert_eq!(old.status(), 301, "{tail}");
        let location = header(&old, "location").unwrap();
        assert_eq!(location, h.url(&format!("/repositories/{}{tail}", h.repo_id)));
        assert_eq!(h.get(&location).await.status(), 200, "{tail}: the redirect works when followed");
        assert_eq!(h.get(&format!("/repos/acme/helpdesk{tail}")).await.status(), 200, "{tail}");
    }
    h.gh.set_hidden("acme/helpdesk", true);
    assert_eq!(h.get("/repos/acme/helpdesk/compare/v1...main").await.status(), 404);
    h.gh.set_hidden("acme/helpdesk", false);
    h.gh.set_rate_limit_remaining(0);
    let spent = h.get("/repos/acme/helpdesk/releases").await;
    assert_eq!(spent.status(), 403);
    assert!(body(spent).await["message"].as_str().unwrap().starts_with("API rate limit exceeded"));
}

#[tokio::test]
async fn under_the_ghes_prefix_the_new_endpoints_hand_out_prefixed_urls() {
    let h = harness_with_prefix("/api/v3").await;
    let (api, web) = (h.gh.base_url(), h.gh.web_url());
    let n = h.create_issue("On the server").await;
    let pr = h.gh.open_pull_request(REPO, "Fix", &format!("Fixes #{n}"), DEV);
    let sha = h.gh.merge_pull_request(REPO, pr, MergeMethod::Squash, DEV);
    h.gh.create_release(REPO, ReleaseSpec::published("v1"), DEV);
    h.gh.create_release(REPO, ReleaseSpec::published("v2"), DEV);
    let pull = body(h.get(&format!("/repos/{REPO}/pulls/{pr}")).await).await;
    assert_eq!(pull["url"], format!("{api}/repos/{REPO}/pulls/{pr}"));
    assert_eq!(pull["html_url"], format!("{web}/{REPO}/pull/{pr}"));
    let timeline = body(h.get(&format!("/repos/{REPO}/issues/{n}/timeline")).await).await;
    assert_eq!(timeline[1]["commit_url"], format!("{api}/repos/{REPO}/commits/{sha}"));
    let releases = h.get(&format!("/repos/{REPO}/releases?per_page=1")).await;
    assert!(links(&releases)["next"].starts_with(&format!("{api}/repositories/")));
    let release = &body(releases).await[0];
    assert_eq!(release["html_url"], format!("{web}/{REPO}/releases/tag/v2"));
    let cmp = body(h.get(&format!("/repos/{REPO}/compare/v1...{sha}")).await).await;
    assert_eq!(cmp["url"], format!("{api}/repos/{REPO}/compare/v1...{sha}"));
    assert_eq!(h.get(&format!("{web}/repos/{REPO}/releases")).await.status(), 404, "nothing outside the prefix");
}

#[tokio::test]
async fn an_installation_reads_each_new_endpoint_only_with_the_permission_it_takes() {
    let (h, installation) = app_harness(Some("write")).await;
    h.gh.create_release(REPO, ReleaseSpec::published("v1"), "release-manager");
    h.gh.create_release(REPO, ReleaseSpec { draft: true, ..ReleaseSpec::published("v2") }, "release-manager");
    let pr = h.gh.open_pull_request(REPO, "Fix", "", DEV);
    let token = mint(&h, installation).await;
    let refused = |resp: &Response, wanted: &str| {
        assert_eq!(resp.status(), 403);
        assert_eq!(header(resp, "x-accepted-github-permissions").as_deref(), Some(wanted));
    };
    refused(&get_as(&h, &format!("/repos/{REPO}/releases"), &token).await, "contents=read");
    refused(&get_as(&h, &format!("/repos/{REPO}/compare/v1...main"), &token).await, "contents=read");
    refused(&get_as(&h, &format!("/repos/{REPO}/pulls/{pr}"), &token).await, "pull_requests=read");
    assert_eq!(
        get_as(&h, &format!("/repos/{REPO}/issues/{pr}/timeline"), &token).await.status(),
        200,
        "issues: read is enough"
    );

    h.gh.set_installation_permission(installation, "contents", Some("read"));
    h.gh.set_installation_permission(installation, "pull_requests", Some("read"));
    h.gh.set_installation_permission(installation, "issues", None);
    let tags = |list: Value| -> Vec<String> {
        list.as_array().unwrap().iter().map(|r| r["tag_name"].as_str().unwrap().to_string()).collect()
    };
    let listed = get_as(&h, &format!("/repos/{REPO}/releases"), &token).await;
    assert_eq!(tags(body(listed).await), ["v1"], "ASSUMED: contents: read sees no drafts");
    assert_eq!(get_as(&h, &format!("/repos/{REPO}/pulls/{pr}"), &token).await.status(), 200);
    assert_eq!(
        get_as(&h, &format!("/repos/{REPO}/issues/{pr}/timeline"), &token).await.status(),
        200,
        "…or pull_requests: read"
    );
    refused(&get_as(&h, &format!("/repos/{REPO}/issues/{pr}"), &token).await, "issues=read");
    h.gh.set_installation_permission(installation, "contents", Some("write"));
    let listed = get_as(&h, &format!("/repos/{REPO}/releases"), &token).await;
    assert_eq!(tags(body(listed).await), ["v2", "v1"], "contents: write is push access");
    let minted = body(get_as(&h, &format!("/repos/{REPO}/installation"), &super::app::good_jwt(&h)).await).await;
    assert_eq!(minted["permissions"], json!({"metadata": "read", "contents": "write", "pull_requests": "read"}));
}
