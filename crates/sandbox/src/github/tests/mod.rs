//! Tests of the fake GitHub through its HTTP surface, with reqwest as the client, plus the
//! harness they share (a started fake, one repository, an authenticated client).

mod app;
mod comments;
mod compare;
mod events;
mod fixes;
mod gatekeeping;
mod ghes;
mod graphql;
mod issues;
mod lists;
mod pulls;
mod releases;
mod timeline;
mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use super::{FakeGithub, Visibility};
use crate::common::Clock;

const TOKEN: &str = "ghp_sandboxtoken0001";
const REPO: &str = "acme/support";

struct Harness {
    gh: Arc<FakeGithub>,
    clock: Arc<Clock>,
    http: reqwest::Client,
    repo_id: u64,
}

async fn harness() -> Harness {
    harness_with_prefix("").await
}

/// The harness with the fake's API under `prefix` (`"/api/v3"`: GitHub Enterprise Server).
async fn harness_with_prefix(prefix: &str) -> Harness {
    let clock = Arc::new(Clock::default());
    let gh = FakeGithub::start_with_prefix(TOKEN, clock.clone(), prefix).await.unwrap();
    let repo_id = gh.add_repo(REPO, Visibility::Public, true);
    // Redirects are not followed so the tests can see GitHub's 301s.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Harness { gh, clock, http, repo_id }
}

impl Harness {
    /// `path` is either absolute (a URL the fake handed out) or relative to the base URL.
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.gh.base_url())
        }
    }

    /// A request as a well-behaved client sends it: User-Agent and token.
    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("user-agent", "ticket-sync-tests")
            .header("accept", "application/vnd.github+json")
            .header("authorization", format!("token {TOKEN}"))
    }

    async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        self.req(Method::POST, path).json(&body).send().await.unwrap()
    }

    async fn patch(&self, path: &str, body: Value) -> Response {
        self.req(Method::PATCH, path).json(&body).send().await.unwrap()
    }

    /// Creates an issue through the API and returns its number.
    async fn create_issue(&self, title: &str) -> u64 {
        let resp = self.post(&format!("/repos/{REPO}/issues"), json!({ "title": title })).await;
        assert_eq!(resp.status(), 201);
        body(resp).await["number"].as_u64().unwrap()
    }

    /// The `number`s of a list answer.
    async fn numbers(&self, path: &str) -> Vec<u64> {
        numbers(&body(self.get(path).await).await)
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

async fn body(resp: Response) -> Value {
    resp.json().await.unwrap()
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

fn remaining(resp: &Response) -> u32 {
    header(resp, "x-ratelimit-remaining").unwrap().parse().unwrap()
}

/// The `Link` header as rel → URL.
fn links(resp: &Response) -> HashMap<String, String> {
    let Some(link) = header(resp, "link") else {
        return HashMap::new();
    };
    link.split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").unwrap();
            let url = url.trim_start_matches('<').trim_end_matches('>');
            (rel.trim_matches('"').to_string(), url.to_string())
        })
        .collect()
}

fn numbers(list: &Value) -> Vec<u64> {
    (list.as_array().unwrap().iter()).map(|i| i["number"].as_u64().unwrap()).collect()
}

fn is_github_timestamp(value: &Value) -> bool {
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").unwrap();
    value.as_str().is_some_and(|s| re.is_match(s))
}
