//! Tests of the fake in GitHub Enterprise Server's layout: the API under `/api/v3`, every URL
//! it hands out (fields, `Link`, `Location`) under that prefix, web pages on the host without
//! it, and nothing of the API outside it.

use serde_json::json;

use super::{body, harness_with_prefix, header, links, Harness, REPO};

// FACT: GHES's REST endpoints are prefixed with `http(s)://HOSTNAME/api/v3`
// (docs.github.com/en/enterprise-server@3.10/rest/enterprise-admin, "Endpoint URLs").
const PREFIX: &str = "/api/v3";

async fn ghes() -> Harness {
    harness_with_prefix(PREFIX).await
}

#[tokio::test]
async fn the_api_base_carries_the_prefix_and_the_web_base_does_not() {
    let h = ghes().await;
    let web = h.gh.web_url();
    assert!(web.starts_with("http://127.0.0.1:") && !web.ends_with('/'), "{web}");
    assert_eq!(h.gh.base_url(), format!("{web}{PREFIX}"));
}

#[tokio::test]
async fn issue_urls_are_under_the_prefix_and_its_page_on_the_web_host() {
    let h = ghes().await;
    let (api, web) = (h.gh.base_url(), h.gh.web_url());
    let number = h.create_issue("On the server").await;
    let issue = body(h.get(&format!("/repos/{REPO}/issues/{number}")).await).await;
    assert_eq!(issue["url"], json!(format!("{api}/repos/{REPO}/issues/{number}")));
    assert_eq!(issue["repository_url"], json!(format!("{api}/repos/{REPO}")));
    assert_eq!(issue["comments_url"], json!(format!("{api}/repos/{REPO}/issues/{number}/comments")));
    assert_eq!(issue["html_url"], json!(format!("{web}/{REPO}/issues/{number}")));
    assert_eq!(issue["user"]["url"], json!(format!("{api}/users/{}", h.gh.login())));
    assert_eq!(issue["user"]["html_url"], json!(format!("{web}/{}", h.gh.login())));
    assert_eq!(h.gh.issue(REPO, number).unwrap().html_url, format!("{web}/{REPO}/issues/{number}"));

    let comment = h.post(&format!("/repos/{REPO}/issues/{number}/comments"), json!({"body": "hi"})).await;
    assert_eq!(comment.status(), 201);
    let comment = body(comment).await;
    let id = comment["id"].as_u64().unwrap();
    assert_eq!(comment["issue_url"], json!(format!("{api}/repos/{REPO}/issues/{number}")));
    assert_eq!(comment["html_url"], json!(format!("{web}/{REPO}/issues/{number}#issuecomment-{id}")));
    let repo = body(h.get(&format!("/repos/{REPO}")).await).await;
    assert_eq!(repo["url"], json!(format!("{api}/repos/{REPO}")));
    assert_eq!(repo["html_url"], json!(format!("{web}/{REPO}")));
}

#[tokio::test]
async fn pagination_links_are_under_the_prefix_and_work_when_followed() {
    let h = ghes().await;
    for i in 0..3 {
        h.create_issue(&format!("Issue {i}")).await;
    }
    let first = h.get(&format!("/repos/{REPO}/issues?per_page=1")).await;
    assert_eq!(first.status(), 200);
    let next = links(&first)["next"].clone();
    let want = format!("{}/repositories/{}/issues?", h.gh.base_url(), h.repo_id);
    assert!(next.starts_with(&want), "{next}");
    let second = h.get(&next).await;
    assert_eq!(second.status(), 200);
    assert_eq!(body(second).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_renamed_repository_redirects_under_the_prefix() {
    let h = ghes().await;
    let number = h.create_issue("Before the rename").await;
    h.gh.rename_repo(REPO, "helpdesk");
    let old = h.get(&format!("/repos/{REPO}/issues/{number}/comments")).await;
    assert_eq!(old.status(), 301);
    let location = header(&old, "location").unwrap();
    let want = format!("{}/repositories/{}/issues/{number}/comments", h.gh.base_url(), h.repo_id);
    assert_eq!(location, want);
    assert_eq!(h.get(&location).await.status(), 200, "the redirect works when followed");

    h.gh.add_repo("acme/other", super::Visibility::Private, true);
    let moved = h.gh.transfer_issue("acme/helpdesk", number, "acme/other");
    let gone = h.get(&format!("/repos/acme/helpdesk/issues/{number}")).await;
    assert_eq!(gone.status(), 301);
    let to = header(&gone, "location").unwrap();
    assert!(to.starts_with(&format!("{}/repositories/", h.gh.base_url())) && to.ends_with(&format!("/issues/{moved}")));
    assert_eq!(body(h.get(&to).await).await["repository_url"], json!(format!("{}/repos/acme/other", h.gh.base_url())));
}

#[tokio::test]
async fn requests_outside_the_prefix_are_not_the_api() {
    let h = ghes().await;
    let number = h.create_issue("Only under the prefix").await;
    let web = h.gh.web_url();
    for path in [format!("/repos/{REPO}/issues/{number}"), "/user".to_string(), format!("/{REPO}/issues/{number}")] {
        let resp = h.get(&format!("{web}{path}")).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(header(&resp, "x-ratelimit-remaining").is_none(), "{path} reached the API");
    }
    assert_eq!(h.get(&format!("/repos/{REPO}/issues/{number}")).await.status(), 200);
    assert_eq!(h.get("/user").await.status(), 200);
}

#[tokio::test]
async fn the_front_door_logs_and_faults_paths_without_the_prefix() {
    let h = ghes().await;
    h.get("/user").await;
    let logged = h.gh.door.log.entries();
    assert_eq!(logged.last().map(|r| r.path.as_str()), Some("/user"));
}
