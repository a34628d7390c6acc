//! Outgoing webhook deliveries, shared by both fakes: HMAC-SHA256 signing, a small sender
//! that posts each delivery on its own task (never blocking the fake's handler), and the
//! delivery log tests read.
//!
//! A delivery is recorded in the log once its attempt ended: with the answer's status, or
//! with `None` when no answer came (connection refused, timeout) or when the webhook was
//! paused (a lost delivery). Each fake builds the body and the headers; the sender only
//! knows the target, the pause switch and the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;

/// GitHub waits 10 s for an answer before it marks a delivery as failed.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One delivery attempt as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryView {
    /// GitHub: the `X-GitHub-Delivery` GUID (kept by a redelivery). Zendesk: the
    /// `X-Zendesk-Webhook-Invocation-Id`.
    pub id: String,
    /// GitHub: `issues` or `issue_comment`. Zendesk: the ticket event type
    /// (`zen:event-type:ticket.created`, `…ticket.status_changed`, …) whatever the body style.
    pub event: String,
    /// GitHub: the payload's `action`. Zendesk: the short form of the event (`created`,
    /// `status_changed`, `tags_changed`, `comment_added`, …).
    pub action: String,
    /// The answer's status; `None` if no answer came (connection failed, timeout, paused).
    pub status: Option<u16>,
}

/// HMAC-SHA256 of the parts, in order. The sandbox signs with its own implementation, not
/// the product's verifier: a bug in the receiver's check then shows in the webhook tests.
fn hmac_sha256(secret: &str, parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// GitHub's `X-Hub-Signature-256` value for `body`: `sha256=` and the lowercase hex of
/// HMAC-SHA256(secret, body), pinned to GitHub's documented test vector (tests below).
pub fn github_signature_256(secret: &str, body: &[u8]) -> String {
    let tag = hmac_sha256(secret, &[body]);
    format!("sha256={}", tag.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Zendesk's `X-Zendesk-Webhook-Signature` value: base64(HMAC-SHA256(key = the signing secret's
/// bytes as given, not decoded; message = timestamp + raw body)).
pub fn zendesk_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret, &[timestamp.as_bytes(), body]))
}

/// A random GUID in the 8-4-4-4-12 form (version 4 bits set), like GitHub's delivery ids.
pub fn guid() -> String {
    let mut n: u128 = rand::random();
    n = (n & !(0xf << 76)) | (0x4 << 76);
    n = (n & !(0x3 << 62)) | (0x2 << 62);
    let h = format!("{n:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Where deliveries go.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub secret: String,
    /// The webhook's own id (`X-GitHub-Hook-ID`, `X-Zendesk-Webhook-Id`), fixed when it is set.
    pub id: String,
}

/// A built delivery: what is posted, and how the log names it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub event: String,
    pub action: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Log {
    /// Every delivery built, by first attempt, for redelivery.
    built: Vec<Delivery>,
    /// Ended attempts, in the order they ended.
    attempts: Vec<DeliveryView>,
}

/// The webhook of one fake: its target, the pause switch, the log and the HTTP client.
pub struct Outbox {
    target: Mutex<Option<Target>>,
    paused: AtomicBool,
    log: Arc<Mutex<Log>>,
    client: reqwest::Client,
    runtime: Handle,
}

impl Outbox {
    /// Must be called on a tokio runtime (the fakes' `start`); deliveries are spawned on it.
    pub fn new() -> Self {
        Outbox {
            target: Mutex::new(None),
            paused: AtomicBool::new(false),
            log: Arc::default(),
            client: reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build().expect("a plain HTTP client"),
            runtime: Handle::current(),
        }
    }

    pub fn set(&self, url: &str, secret: &str, id: &str) {
        let target = Target { url: url.to_string(), secret: secret.to_string(), id: id.to_string() };
        *self.target.lock().unwrap() = Some(target);
    }

    pub fn clear(&self) {
        *self.target.lock().unwrap() = None;
    }

    /// The configured webhook, if any; without one nothing is built or sent.
    pub fn target(&self) -> Option<Target> {
        self.target.lock().unwrap().clone()
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub fn deliveries(&self) -> Vec<DeliveryView> {
        self.log.lock().unwrap().attempts.clone()
    }

    /// Records the delivery and posts it on its own task (or logs it lost while paused).
    pub fn dispatch(&self, delivery: Delivery) {
        self.log.lock().unwrap().built.push(delivery.clone());
        self.attempt(delivery);
    }

    /// Sends the delivery with this id again, byte for byte (same id, body and signature), as
    /// GitHub's "Redeliver" does. Returns false if no such delivery was ever built.
    pub fn redeliver(&self, id: &str) -> bool {
        let found = self.log.lock().unwrap().built.iter().find(|d| d.id == id).cloned();
        match found {
            Some(delivery) => {
                self.attempt(delivery);
                true
            }
            None => false,
        }
    }

    fn attempt(&self, delivery: Delivery) {
        let view = |status| DeliveryView {
            id: delivery.id.clone(),
            event: delivery.event.clone(),
            action: delivery.action.clone(),
            status,
        };
        if self.paused.load(Ordering::SeqCst) {
            self.log.lock().unwrap().attempts.push(view(None));
            return;
        }
        let view = view(None);
        let log = self.log.clone();
        let client = self.client.clone();
        self.runtime.spawn(async move {
            let mut request = client.post(&delivery.url).body(delivery.body);
            for (name, value) in &delivery.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let status = request.send().await.ok().map(|r| r.status().as_u16());
            log.lock().unwrap().attempts.push(DeliveryView { status, ..view });
        });
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's published example (`github/webhooks/signature-test-vector.json`).
    #[test]
    fn github_signature_matches_the_published_vector() {
        assert_eq!(
            github_signature_256("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    /// The vector computed from Zendesk's documented construction and its static test secret
    /// (`zendesk/webhook-signature.test-vector.computed.json`): the secret is used verbatim.
    #[test]
    fn zendesk_signature_matches_the_vector() {
        let secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==";
        let body = br#"{"event":"ticket.updated","id":123}"#;
        assert_eq!(
            zendesk_signature(secret, "2021-03-25T05:09:27Z", body),
            "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="
        );
    }

    #[test]
    fn guids_are_unique_and_shaped() {
        let (a, b) = (guid(), guid());
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
    }
}

/// A tiny webhook receiver for the fakes' contract tests: records every request it gets.
#[cfg(test)]
pub(crate) mod receiver {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU16, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::routing::post;
    use axum::Router;
    use serde_json::Value;
    use tokio::task::JoinHandle;

    /// One request as received: path, headers (lower-case names) and the raw body.
    #[derive(Debug, Clone)]
    pub struct Received {
        pub path: String,
        pub headers: HashMap<String, String>,
        pub body: Vec<u8>,
    }

    impl Received {
        pub fn header(&self, name: &str) -> &str {
            self.headers.get(&name.to_ascii_lowercase()).map(String::as_str).unwrap_or_else(|| panic!("no {name}"))
        }

        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    #[derive(Default)]
    struct Inner {
        got: Mutex<Vec<Received>>,
        status: AtomicU16,
    }

    pub struct Receiver {
        pub base: String,
        inner: Arc<Inner>,
        server: JoinHandle<()>,
    }

    impl Drop for Receiver {
        fn drop(&mut self) {
            self.server.abort();
        }
    }

    async fn record(State(inner): State<Arc<Inner>>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
        let headers =
            (headers.iter()).map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
        inner.got.lock().unwrap().push(Received { path: uri.path().to_string(), headers, body: body.to_vec() });
        StatusCode::from_u16(inner.status.load(Ordering::SeqCst)).unwrap()
    }

    impl Receiver {
        /// Listens on 127.0.0.1:0 and answers every POST under `/webhooks/` with 200.
        pub async fn start() -> Receiver {
            let inner = Arc::new(Inner { got: Mutex::default(), status: AtomicU16::new(200) });
            let app = Router::new().route("/webhooks/{service}", post(record)).with_state(inner.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let server = tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Receiver { base, inner, server }
        }

        pub fn url(&self, service: &str) -> String {
            format!("{}/webhooks/{service}", self.base)
        }

        /// The status later requests are answered with.
        pub fn answer(&self, status: u16) {
            self.inner.status.store(status, Ordering::SeqCst);
        }

        pub fn received(&self) -> Vec<Received> {
            self.inner.got.lock().unwrap().clone()
        }

        /// What came within 300 ms: for checking that nothing (more) is sent.
        pub async fn settle(&self) -> Vec<Received> {
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.received()
        }

        /// Waits (up to 5 s) until `n` requests came, then a little more so extra ones would
        /// show; returns all of them.
        pub async fn wait_for(&self, n: usize) -> Vec<Received> {
            for _ in 0..500 {
                if self.received().len() >= n {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.received()
        }
    }

    /// Polls `log` (a fake's `deliveries`) until it holds `n` entries (up to 5 s).
    pub async fn logged<T>(log: impl Fn() -> Vec<T>, n: usize) -> Vec<T> {
        for _ in 0..500 {
            if log().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        log()
    }
}
