//! Webhook deliveries of the fake GitHub, received by a tiny local server: one signed delivery
//! per change (the token's own API writes included), the payload's shape, redelivery, pauses.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::{harness, Harness, REPO};
use crate::hooks::receiver::{logged, Received, Receiver};

const SECRET: &str = "gh-webhook-secret";

/// The signature a receiver computes: HMAC-SHA256 of the raw body under the secret, hex.
fn expected_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn hooked() -> (Harness, Receiver) {
    let h = harness().await;
    let rx = Receiver::start().await;
    h.gh.set_webhook(&rx.url("github"), SECRET);
    (h, rx)
}

fn is_guid(s: &str) -> bool {
    regex::Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").unwrap().is_match(s)
}

fn assert_github_delivery(r: &Received, event: &str) {
    assert_eq!(r.path, "/webhooks/github");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("user-agent").starts_with("GitHub-Hookshot/"), "{}", r.header("user-agent"));
    assert_eq!(r.header("x-github-event"), event);
    assert!(is_guid(r.header("x-github-delivery")), "{}", r.header("x-github-delivery"));
    assert!(r.header("x-github-hook-id").parse::<u64>().is_ok());
    assert_eq!(r.header("x-hub-signature-256"), expected_signature(SECRET, &r.body));
}

#[tokio::test]
async fn an_issue_created_through_the_api_sends_one_signed_opened_delivery() {
    let (h, rx) = hooked().await;
    let number = h.create_issue("Printer on fire").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "exactly one delivery");
    assert_github_delivery(&got[0], "issues");
    let p = got[0].json();
    assert_eq!(p["action"], "opened");
    assert_eq!(p["issue"]["number"], number);
    assert_eq!(p["issue"]["title"], "Printer on fire");
    assert_eq!(p["issue"]["state"], "open");
    assert_eq!(p["issue"]["user"]["login"], h.gh.login());
    assert!(p["issue"]["html_url"].as_str().unwrap().ends_with(&format!("/{REPO}/issues/{number}")));
    assert_eq!(p["repository"]["full_name"], REPO);
    assert_eq!(p["repository"]["id"], h.repo_id);
    assert_eq!(p["repository"]["owner"]["login"], "acme");
    assert_eq!(p["repository"]["private"], false);
    assert!(p["repository"].get("permissions").is_none());
    assert_eq!(p["sender"]["login"], h.gh.login());
    assert_eq!(p["sender"]["type"], "User");
    assert!(p.get("comment").is_none());
    let log = logged(|| h.gh.deliveries(), 1).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].id, got[0].header("x-github-delivery"));
    assert_eq!((log[0].event.as_str(), log[0].action.as_str(), log[0].status), ("issues", "opened", Some(200)));
}

#[tokio::test]
async fn api_updates_send_closed_reopened_edited_and_labeled() {
    let (h, rx) = hooked().await;
    let n = h.create_issue("Bug").await;
    let path = format!("/repos/{REPO}/issues/{n}");
    assert_eq!(h.patch(&path, json!({"state": "closed", "state_reason": "not_planned"})).await.status(), 200);
    assert_eq!(h.patch(&path, json!({"state": "open"})).await.status(), 200);
    assert_eq!(h.patch(&path, json!({"title": "Bug (renamed)"})).await.status(), 200);
    assert_eq!(h.patch(&path, json!({"labels": ["escalated"]})).await.status(), 200);
    // A no-op update changes nothing and sends nothing.
    assert_eq!(h.patch(&path, json!({"labels": ["escalated"]})).await.status(), 200);
    let log = logged(|| h.gh.deliveries(), 5).await;
    let got = rx.wait_for(5).await;
    assert_eq!(got.len(), 5);
    let mut actions: Vec<String> = log.iter().map(|d| d.action.clone()).collect();
    actions.sort();
    assert_eq!(actions, ["closed", "edited", "labeled", "opened", "reopened"]);
    for r in &got {
        assert_github_delivery(r, "issues");
        let p = r.json();
        assert_eq!(p["sender"]["login"], h.gh.login());
        match p["action"].as_str().unwrap() {
            "closed" => {
                assert_eq!(p["issue"]["state"], "closed");
                assert_eq!(p["issue"]["state_reason"], "not_planned");
                assert!(p["issue"]["closed_at"].is_string());
            }
            "reopened" => assert_eq!(p["issue"]["state"], "open"),
            "edited" => assert_eq!(p["changes"]["title"]["from"], "Bug"),
            "labeled" => assert_eq!(p["label"]["name"], "escalated"),
            "opened" => {}
            other => panic!("unexpected action {other}"),
        }
    }
}

#[tokio::test]
async fn changes_by_people_name_them_as_sender() {
    let (h, rx) = hooked().await;
    let n = h.gh.add_issue(REPO, "From a human", "details", "octocat");
    h.gh.close_issue(REPO, n, "completed", "hubot");
    h.gh.reopen_issue(REPO, n, "octocat");
    h.gh.set_labels(REPO, n, &["bug"], "hubot");
    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let mut seen: Vec<(String, String)> = (got.iter())
        .map(|r| {
            let p = r.json();
            assert_eq!(p["issue"]["number"], n);
            assert_eq!(p["repository"]["full_name"], REPO);
            (p["action"].as_str().unwrap().to_string(), p["sender"]["login"].as_str().unwrap().to_string())
        })
        .collect();
    seen.sort();
    let expected = [("closed", "hubot"), ("labeled", "hubot"), ("opened", "octocat"), ("reopened", "octocat")];
    assert_eq!(seen, expected.map(|(a, s)| (a.to_string(), s.to_string())));
}

#[tokio::test]
async fn comments_send_issue_comment_deliveries() {
    let (h, rx) = hooked().await;
    let n = h.gh.add_issue(REPO, "Question", "", "octocat");
    rx.wait_for(1).await;
    let resp = h.post(&format!("/repos/{REPO}/issues/{n}/comments"), json!({"body": "From the bot"})).await;
    assert_eq!(resp.status(), 201);
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_github_delivery(&got[1], "issue_comment");
    let p = got[1].json();
    assert_eq!(p["action"], "created");
    assert_eq!(p["comment"]["body"], "From the bot");
    assert_eq!(p["comment"]["user"]["login"], h.gh.login());
    assert_eq!(p["issue"]["number"], n);
    assert_eq!(p["sender"]["login"], h.gh.login());

    let id = h.gh.add_comment(REPO, n, "octocat", "A human reply");
    h.gh.edit_comment(REPO, id, "A human reply, edited");
    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let edited = got.iter().map(Received::json).find(|p| p["action"] == "edited").expect("an edited delivery");
    assert_eq!(edited["comment"]["id"], id);
    assert_eq!(edited["comment"]["body"], "A human reply, edited");
    assert_eq!(edited["changes"]["body"]["from"], "A human reply");
    assert_eq!(edited["sender"]["login"], "octocat");
}

#[tokio::test]
async fn transfers_and_deletions_send_their_actions() {
    let (h, rx) = hooked().await;
    h.gh.add_repo("acme/other", crate::Visibility::Public, true);
    let a = h.gh.add_issue(REPO, "Moving", "", "octocat");
    let b = h.gh.add_issue(REPO, "Going", "", "octocat");
    rx.wait_for(2).await;
    let new_number = h.gh.transfer_issue(REPO, a, "acme/other");
    h.gh.delete_issue(REPO, b);
    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let payloads: Vec<_> = got.iter().map(Received::json).collect();
    let moved = payloads.iter().find(|p| p["action"] == "transferred").expect("transferred");
    assert_eq!(moved["issue"]["number"], a);
    assert_eq!(moved["repository"]["full_name"], REPO);
    assert_eq!(moved["changes"]["new_issue"]["number"], new_number);
    assert_eq!(moved["changes"]["new_repository"]["full_name"], "acme/other");
    let deleted = payloads.iter().find(|p| p["action"] == "deleted").expect("deleted");
    assert_eq!(deleted["issue"]["number"], b);
}

#[tokio::test]
async fn redelivery_sends_the_same_delivery_again() {
    let (h, rx) = hooked().await;
    h.create_issue("Once").await;
    let first = rx.wait_for(1).await.remove(0);
    let id = first.header("x-github-delivery").to_string();
    h.gh.redeliver(&id);
    let got = rx.wait_for(2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].header("x-github-delivery"), id);
    assert_eq!(got[1].body, first.body);
    assert_eq!(got[1].header("x-hub-signature-256"), first.header("x-hub-signature-256"));
    let log = logged(|| h.gh.deliveries(), 2).await;
    assert!(log.iter().all(|d| d.id == id && d.status == Some(200)), "{log:?}");
}

#[tokio::test]
async fn paused_deliveries_are_lost_until_redelivered() {
    let (h, rx) = hooked().await;
    h.gh.set_webhook_paused(true);
    h.create_issue("Lost").await;
    let log = h.gh.deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, None);
    assert!(rx.settle().await.is_empty(), "a paused webhook sends nothing");
    h.gh.set_webhook_paused(false);
    h.gh.redeliver(&log[0].id);
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("x-github-delivery"), log[0].id);
    assert_eq!(got[0].json()["action"], "opened");
}

#[tokio::test]
async fn failed_answers_are_logged_with_their_status() {
    let (h, rx) = hooked().await;
    rx.answer(500);
    h.create_issue("Refused").await;
    let log = logged(|| h.gh.deliveries(), 1).await;
    assert_eq!(log[0].status, Some(500));
    // Nobody listening: the delivery gets no answer at all.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/github", closed.local_addr().unwrap());
    drop(closed);
    h.gh.set_webhook(&url, SECRET);
    h.create_issue("Unheard").await;
    let log = logged(|| h.gh.deliveries(), 2).await;
    assert_eq!(log[1].status, None);
}

#[tokio::test]
async fn without_a_webhook_nothing_is_sent() {
    let (h, rx) = hooked().await;
    h.gh.clear_webhook();
    h.create_issue("Quiet").await;
    h.gh.add_issue(REPO, "Quiet too", "", "octocat");
    assert!(rx.settle().await.is_empty());
    assert!(h.gh.deliveries().is_empty());
}
