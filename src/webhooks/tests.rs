//! The receiver over real HTTP on 127.0.0.1:0: answers, doorbells and counters.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{SecondsFormat, TimeDelta, Utc};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::*;
use ticket_sync_core::domain::TicketId;

const GH_SECRET: &str = "gh-hook-secret-for-tests";
const ZD_SECRET: &str = "zd-hook-secret-for-tests";

struct Rig {
    addr: SocketAddr,
    bell: Arc<Bell>,
    stats: Arc<WebhookStats>,
    http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn rig_with(secrets: WebhookSecrets, capacity: usize) -> Rig {
    let bell = Bell::new(capacity);
    let stats = Arc::new(WebhookStats::new());
    let shutdown = CancellationToken::new();
    let addr =
        serve("127.0.0.1:0".parse().unwrap(), secrets, bell.clone(), stats.clone(), shutdown.clone()).await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Rig { addr, bell, stats, http, shutdown }
}

async fn rig() -> Rig {
    let secrets = WebhookSecrets { github: Some(Secret::new(GH_SECRET)), zendesk: Some(Secret::new(ZD_SECRET)) };
    rig_with(secrets, DEFAULT_CAPACITY).await
}

fn issue_payload(repo: &str, sender: &str) -> String {
    serde_json::json!({
        "action": "closed",
        "issue": {"number": 1},
        "repository": {"full_name": repo},
        "sender": {"login": sender},
    })
    .to_string()
}

fn now_stamp(offset: TimeDelta) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Rig {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn github_signed(&self, event: &str, body: &str, signature: Option<&str>) -> u16 {
        let mut req = self
            .http
            .post(self.url("/webhooks/github"))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(sig) = signature {
            req = req.header("X-Hub-Signature-256", sig);
        }
        req.send().await.unwrap().status().as_u16()
    }

    async fn github(&self, event: &str, body: &str) -> u16 {
        let sig = github_signature(GH_SECRET.as_bytes(), body.as_bytes());
        self.github_signed(event, body, Some(&sig)).await
    }

    async fn zendesk_at(&self, body: &str, timestamp: &str) -> u16 {
        let sig = zendesk_signature(ZD_SECRET.as_bytes(), timestamp, body.as_bytes());
        self.zendesk_signed(body, Some(timestamp), Some(&sig)).await
    }

    async fn zendesk(&self, body: &str) -> u16 {
        self.zendesk_at(body, &now_stamp(TimeDelta::zero())).await
    }

    async fn zendesk_signed(&self, body: &str, timestamp: Option<&str>, signature: Option<&str>) -> u16 {
        let mut req = self.http.post(self.url("/webhooks/zendesk")).body(body.to_string());
        if let Some(ts) = timestamp {
            req = req.header("X-Zendesk-Webhook-Signature-Timestamp", ts);
        }
        if let Some(sig) = signature {
            req = req.header("X-Zendesk-Webhook-Signature", sig);
        }
        req.send().await.unwrap().status().as_u16()
    }

    fn refused(&self, source: Source, reason: Refusal) -> u64 {
        self.stats.snapshot().source(source).refused[reason.as_str()]
    }

    /// Sends `head` and then `body` over a plain connection and returns the status code of the
    /// answer, which may come before the body is sent.
    async fn raw(&self, head: String, body: Vec<u8>) -> u16 {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        write.write_all(head.as_bytes()).await.unwrap();
        // Written on the side: the server may stop reading (that is the point).
        let writer = tokio::spawn(async move {
            let _ = write.write_all(&body).await;
            write
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = read.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        writer.abort();
        let line = String::from_utf8_lossy(&answer);
        line.split(' ').nth(1).unwrap().parse().unwrap()
    }
}

#[tokio::test]
async fn a_signed_github_issue_delivery_rings_for_its_repository() {
    let rig = rig().await;
    assert_eq!(rig.github("issues", &issue_payload("acme/backend", "alice")).await, 202);
    assert_eq!(rig.github("issue_comment", &issue_payload("acme/backend", "ticket-sync-bot")).await, 202);
    let senders = BTreeSet::from(["alice".to_string(), "ticket-sync-bot".to_string()]);
    assert_eq!(rig.bell.take(), vec![Doorbell::Repo { repo: "acme/backend".parse().unwrap(), senders }]);
    let snap = rig.stats.snapshot();
    assert_eq!((snap.github.received, snap.github.accepted, snap.github.rung), (2, 2, 2));
    assert!(snap.github.last_delivery.is_some());
    assert_eq!(snap.zendesk.received, 0);
}

#[tokio::test]
async fn ping_and_other_github_events_are_acknowledged_without_a_doorbell() {
    let rig = rig().await;
    assert_eq!(rig.github("ping", r#"{"zen":"Keep it logically awesome.","hook_id":1}"#).await, 200);
    assert_eq!(rig.github("push", &issue_payload("acme/backend", "alice")).await, 200);
    assert_eq!(rig.github("issues", r#"{"action":"opened"}"#).await, 200);
    assert!(rig.bell.is_empty());
    let snap = rig.stats.snapshot();
    assert_eq!((snap.github.accepted, snap.github.ignored, snap.github.rung), (3, 2, 0));
}

#[tokio::test]
async fn forged_or_missing_github_signatures_are_refused_with_nothing_queued() {
    let rig = rig().await;
    let body = issue_payload("acme/backend", "mallory");
    let forged = github_signature(b"not the secret", body.as_bytes());
    assert_eq!(rig.github_signed("issues", &body, Some(&forged)).await, 401);
    assert_eq!(rig.github_signed("issues", &body, None).await, 401);
    assert_eq!(rig.github_signed("issues", &body, Some("sha256=")).await, 401);
    assert_eq!(rig.github_signed("ping", "{}", None).await, 401);
    assert!(rig.bell.is_empty());
    assert_eq!(rig.refused(Source::Github, Refusal::BadSignature), 4);
    let snap = rig.stats.snapshot();
    assert_eq!((snap.github.received, snap.github.accepted), (4, 0));
    assert!(snap.github.last_delivery.is_none());
}

#[tokio::test]
async fn signed_bad_json_is_a_400_and_unsigned_bad_json_a_401() {
    let rig = rig().await;
    assert_eq!(rig.github("issues", "{not json").await, 400);
    assert_eq!(rig.github_signed("issues", "{not json", None).await, 401);
    assert_eq!(rig.zendesk("ticket_id=5").await, 400);
    assert_eq!(rig.refused(Source::Github, Refusal::BadJson), 1);
    assert_eq!(rig.refused(Source::Zendesk, Refusal::BadJson), 1);
    assert!(rig.bell.is_empty());
}

#[tokio::test]
async fn a_signed_zendesk_delivery_rings_for_its_ticket() {
    let rig = rig().await;
    assert_eq!(rig.zendesk(r#"{"ticket_id": "123"}"#).await, 202);
    assert_eq!(rig.zendesk(r#"{"ticket_id": 123}"#).await, 202);
    let event = r#"{"type":"zen:event-type:ticket.status_changed","account_id":1,"detail":{"id":"456","status":"SOLVED"},"event":{}}"#;
    assert_eq!(rig.zendesk(event).await, 202);
    assert_eq!(rig.zendesk(r#"{"hello": "world"}"#).await, 200);
    assert_eq!(rig.bell.take(), vec![Doorbell::Ticket(TicketId(123)), Doorbell::Ticket(TicketId(456))]);
    let snap = rig.stats.snapshot();
    assert_eq!((snap.zendesk.accepted, snap.zendesk.rung, snap.zendesk.ignored), (4, 3, 1));
}

#[tokio::test]
async fn zendesk_signatures_must_match_and_timestamps_be_within_five_minutes() {
    let rig = rig().await;
    let body = r#"{"ticket_id": "9"}"#;
    let ts = now_stamp(TimeDelta::zero());
    let forged = zendesk_signature(b"not the secret", &ts, body.as_bytes());
    assert_eq!(rig.zendesk_signed(body, Some(&ts), Some(&forged)).await, 401);
    assert_eq!(rig.zendesk_signed(body, Some(&ts), None).await, 401);
    let good = zendesk_signature(ZD_SECRET.as_bytes(), &ts, body.as_bytes());
    assert_eq!(rig.zendesk_signed(body, None, Some(&good)).await, 401);
    assert_eq!(rig.refused(Source::Zendesk, Refusal::BadSignature), 3);
    assert_eq!(rig.zendesk_at(body, &now_stamp(TimeDelta::minutes(-6))).await, 401);
    assert_eq!(rig.zendesk_at(body, &now_stamp(TimeDelta::minutes(6))).await, 401);
    assert_eq!(rig.zendesk_at(body, "not a time").await, 401);
    assert_eq!(rig.refused(Source::Zendesk, Refusal::StaleTimestamp), 3);
    assert!(rig.bell.is_empty());
    assert_eq!(rig.zendesk_at(body, &now_stamp(TimeDelta::minutes(-4))).await, 202);
    assert_eq!(rig.zendesk_at(body, &now_stamp(TimeDelta::minutes(4))).await, 202);
    assert_eq!(rig.bell.take(), vec![Doorbell::Ticket(TicketId(9))]);
}

#[tokio::test]
async fn a_source_without_a_secret_refuses_every_delivery() {
    let rig = rig_with(WebhookSecrets { github: Some(Secret::new(GH_SECRET)), zendesk: None }, 10).await;
    let body = r#"{"ticket_id": "9"}"#;
    let ts = now_stamp(TimeDelta::zero());
    let sig = zendesk_signature(b"", &ts, body.as_bytes());
    assert_eq!(rig.zendesk_signed(body, Some(&ts), Some(&sig)).await, 401);
    let answer = rig.http.post(rig.url("/webhooks/zendesk")).body(body).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    assert_eq!(answer.text().await.unwrap(), "no secret configured");
    assert_eq!(rig.refused(Source::Zendesk, Refusal::NoSecret), 2);
    assert_eq!(rig.github("issues", &issue_payload("acme/backend", "alice")).await, 202);
}

#[tokio::test]
async fn other_paths_and_methods_are_404_and_405() {
    let rig = rig().await;
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(rig.http.get(rig.url("/webhooks/github")).send().await.unwrap()), 405);
    assert_eq!(status(rig.http.put(rig.url("/webhooks/zendesk")).send().await.unwrap()), 405);
    assert_eq!(status(rig.http.post(rig.url("/webhooks/gitlab")).send().await.unwrap()), 404);
    assert_eq!(status(rig.http.post(rig.url("/")).send().await.unwrap()), 404);
    assert_eq!(rig.stats.snapshot().github.received, 0);
}

#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_it_is_sent() {
    let rig = rig().await;
    let ts = now_stamp(TimeDelta::zero());
    let head = |path: &str, len: usize| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\nX-Hub-Signature-256: sha256=00\r\n\
             X-Zendesk-Webhook-Signature: AA==\r\nX-Zendesk-Webhook-Signature-Timestamp: {ts}\r\n\r\n"
        )
    };
    // Nothing of the body is sent: the answer can only come from the declared length.
    assert_eq!(rig.raw(head("/webhooks/zendesk", ZENDESK_BODY_LIMIT + 1), Vec::new()).await, 413);
    assert_eq!(rig.raw(head("/webhooks/github", GITHUB_BODY_LIMIT + 1), Vec::new()).await, 413);
    // At the limit it is read (and then refused for its signature).
    let body = vec![b' '; ZENDESK_BODY_LIMIT];
    assert_eq!(rig.raw(head("/webhooks/zendesk", ZENDESK_BODY_LIMIT), body).await, 401);
    assert_eq!(rig.refused(Source::Zendesk, Refusal::TooLarge), 1);
    assert_eq!(rig.refused(Source::Github, Refusal::TooLarge), 1);
    assert!(rig.bell.is_empty());
}

#[tokio::test]
async fn an_oversized_chunked_body_is_refused_at_the_limit() {
    let rig = rig().await;
    let body = r#"{"ticket_id": "9"}"#;
    let ts = now_stamp(TimeDelta::zero());
    let sig = zendesk_signature(ZD_SECRET.as_bytes(), &ts, body.as_bytes());
    let head = format!(
        "POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         X-Zendesk-Webhook-Signature: {sig}\r\nX-Zendesk-Webhook-Signature-Timestamp: {ts}\r\n\r\n"
    );
    // 17 chunks of 64 KiB and no end: the server must answer without waiting for the end.
    let mut chunks = Vec::new();
    for _ in 0..17 {
        chunks.extend_from_slice(b"10000\r\n");
        chunks.extend(std::iter::repeat_n(b' ', 0x10000));
        chunks.extend_from_slice(b"\r\n");
    }
    assert_eq!(rig.raw(head, chunks).await, 413);
    assert_eq!(rig.refused(Source::Zendesk, Refusal::TooLarge), 1);
    assert!(rig.bell.is_empty());
}

#[tokio::test]
async fn hostile_headers_and_bodies_get_an_answer_not_a_panic() {
    let rig = rig().await;
    let heads = [
        "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: \u{ff}\r\nX-Hub-Signature-256: sha256=\u{e9}\r\nContent-Length: 2\r\n\r\n",
        "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: \r\nContent-Length: 2\r\n\r\n",
        "POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nX-Zendesk-Webhook-Signature: \u{ff}\r\nX-Zendesk-Webhook-Signature-Timestamp: \u{ff}\r\nContent-Length: 2\r\n\r\n",
        "POST /webhooks/zendesk HTTP/1.1\r\nHost: x\r\nX-Zendesk-Webhook-Signature: ====\r\nX-Zendesk-Webhook-Signature-Timestamp: 9999-99-99T99:99:99Z\r\nContent-Length: 2\r\n\r\n",
    ];
    for head in heads {
        assert_eq!(rig.raw(head.to_string(), b"{}".to_vec()).await, 401, "{head:?}");
    }
    // A signed body of every byte value, and signed deeply nested JSON.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let sig = github_signature(GH_SECRET.as_bytes(), &bytes);
    let answer = rig
        .http
        .post(rig.url("/webhooks/github"))
        .header("X-GitHub-Event", "issues")
        .header("X-Hub-Signature-256", sig)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(rig.github("issues", &nested).await, 400);
    assert_eq!(rig.zendesk(&nested).await, 400);
    assert_eq!(rig.github("issues", "{\"repository\": {\"full_name\": 5}, \"sender\": []}").await, 200);
    assert!(rig.bell.is_empty());
}

#[tokio::test]
async fn a_full_queue_still_answers_2xx_and_counts_the_drop() {
    let secrets = WebhookSecrets { github: Some(Secret::new(GH_SECRET)), zendesk: Some(Secret::new(ZD_SECRET)) };
    let rig = rig_with(secrets, 1).await;
    assert_eq!(rig.zendesk(r#"{"ticket_id": 1}"#).await, 202);
    assert_eq!(rig.zendesk(r#"{"ticket_id": 2}"#).await, 202);
    assert_eq!(rig.zendesk(r#"{"ticket_id": 1}"#).await, 202);
    assert_eq!(rig.github("issues", &issue_payload("acme/backend", "alice")).await, 202);
    assert_eq!(rig.bell.take(), vec![Doorbell::Ticket(TicketId(1))]);
    let snap = rig.stats.snapshot();
    assert_eq!((snap.zendesk.dropped, snap.zendesk.rung, snap.github.dropped), (1, 2, 1));
}

#[tokio::test]
async fn a_burst_of_a_thousand_deliveries_is_answered_and_coalesced() {
    let rig = rig().await;
    let answers: Vec<u16> = futures_util::stream::iter(0..1000)
        .map(|i| {
            let rig = &rig;
            async move {
                if i % 2 == 0 {
                    rig.github("issues", &issue_payload(&format!("acme/repo{}", i % 6), "alice")).await
                } else {
                    rig.zendesk(&format!(r#"{{"ticket_id": {}}}"#, i % 10)).await
                }
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(answers.iter().all(|&s| s == 202), "{answers:?}");
    let taken = rig.bell.take();
    // Three repositories (0, 2, 4) and five tickets (1, 3, 5, 7, 9).
    assert_eq!(taken.len(), 8, "{taken:?}");
    let snap = rig.stats.snapshot();
    assert_eq!(snap.github.received + snap.zendesk.received, 1000);
    assert_eq!(snap.github.rung + snap.zendesk.rung, 1000);
}

#[tokio::test]
async fn the_server_stops_on_shutdown() {
    let rig = rig().await;
    assert_eq!(rig.github("ping", "{}").await, 200);
    rig.shutdown.cancel();
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(rig.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "still listening after shutdown");
}

#[test]
fn secrets_load_from_the_named_source_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zd");
    std::fs::write(&file, "zd-file-secret-value\n").unwrap();
    std::env::set_var("TS_TEST_WEBHOOK_GH_SECRET", "gh-env-secret-value");
    let rules = ticket_sync_core::rules::WebhookRules {
        listen: "127.0.0.1:0".parse().unwrap(),
        github_secret: Some(TokenSource::Env {
            var: "TS_TEST_WEBHOOK_GH_SECRET".into(),
            credential: "github-webhook-secret".into(),
        }),
        zendesk_secret: Some(TokenSource::File(file)),
    };
    let secrets = WebhookSecrets::load(&rules).unwrap();
    assert_eq!(secrets.github.as_ref().unwrap().expose(), "gh-env-secret-value");
    assert_eq!(secrets.zendesk.as_ref().unwrap().expose(), "zd-file-secret-value");
    let shown = format!("{secrets:?}");
    assert!(!shown.contains("secret-value"), "{shown}");
}

/// A source that is on needs its secret, named or found by default; only a source the rules
/// turn off has none (a source without one would refuse every delivery, silently).
#[test]
fn a_source_that_is_on_without_its_secret_is_an_error_and_one_turned_off_has_none() {
    let nothing = || TokenSource::Default {
        env: "TS_TEST_WEBHOOK_UNSET_1".into(),
        credential: "ts-test-no-such-credential".into(),
    };
    let missing = ticket_sync_core::rules::WebhookRules {
        listen: "127.0.0.1:0".parse().unwrap(),
        github_secret: None,
        zendesk_secret: Some(TokenSource::Env {
            var: "TS_TEST_WEBHOOK_UNSET_2".into(),
            credential: "zendesk-webhook-secret".into(),
        }),
    };
    let err = WebhookSecrets::load(&missing).unwrap_err().to_string();
    assert!(err.contains("webhooks.zendesk_secret_env") && err.contains("TS_TEST_WEBHOOK_UNSET_2"), "{err}");
    assert!(err.contains("systemd credential zendesk-webhook-secret"), "says how to use the credential: {err}");
    let by_default = ticket_sync_core::rules::WebhookRules { zendesk_secret: Some(nothing()), ..missing.clone() };
    let err = WebhookSecrets::load(&by_default).unwrap_err().to_string();
    assert!(err.contains("none found") && err.contains("`zendesk = false`"), "{err}");
    let off = ticket_sync_core::rules::WebhookRules { zendesk_secret: None, github_secret: None, ..missing.clone() };
    let secrets = WebhookSecrets::load(&off).unwrap();
    assert!(secrets.github.is_none() && secrets.zendesk.is_none());
    let file = ticket_sync_core::rules::WebhookRules {
        github_secret: Some(TokenSource::File("/nonexistent/gh".into())),
        ..off
    };
    let err = WebhookSecrets::load(&file).unwrap_err().to_string();
    assert!(err.contains("webhooks.github_secret_file") && err.contains("/nonexistent/gh"), "{err}");
}
