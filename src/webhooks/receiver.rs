//! The two delivery endpoints: refuse what is too large, unsigned, stale or not JSON; turn a
//! valid delivery into a doorbell and answer at once. Nothing here calls an API.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;
use tracing::{debug, warn};

use super::bell::{Bell, Doorbell};
use super::stats::{Refusal, Source, WebhookStats};
use super::verify;
use super::WebhookSecrets;
use ticket_sync_core::clock;
use ticket_sync_core::domain::{RepoName, TicketId};

/// GitHub caps its payloads at 25 MB; anything larger is not GitHub's.
pub const GITHUB_BODY_LIMIT: usize = 25 * 1024 * 1024;
/// A trigger's JSON body or a ticket event is a few KiB; 1 MiB is generous.
pub const ZENDESK_BODY_LIMIT: usize = 1024 * 1024;
/// A body still arriving after this long is given up (GitHub itself waits 10 s for an answer).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The most the bodies being read may hold together (KiB), whatever the number of connections:
/// a signature can only be checked once the whole body is in, so a sender without the secret
/// could otherwise make the receiver hold 25 MiB per connection. One of GitHub's largest
/// payloads fits; a body that finds the budget spent is answered 503 at once (the sender may
/// try again; polling catches up on the change either way).
pub const BODY_BUDGET_KIB: usize = 32 * 1024;

struct Receiver {
    secrets: WebhookSecrets,
    bell: Arc<Bell>,
    stats: Arc<WebhookStats>,
    /// Bytes of bodies held, in KiB: taken as a body arrives, given back when it is dropped.
    budget: Arc<tokio::sync::Semaphore>,
}

pub(super) fn router(secrets: WebhookSecrets, bell: Arc<Bell>, stats: Arc<WebhookStats>) -> Router {
    let budget = Arc::new(tokio::sync::Semaphore::new(BODY_BUDGET_KIB));
    let rx = Arc::new(Receiver { secrets, bell, stats, budget });
    Router::new().route("/webhooks/github", post(github)).route("/webhooks/zendesk", post(zendesk)).with_state(rx)
}

/// What a signed GitHub delivery asks for.
#[derive(Debug, PartialEq, Eq)]
enum GithubAction {
    Ping,
    Ring(Doorbell),
    Ignore,
}

async fn github(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Body) -> Response {
    let src = Source::Github;
    rx.stats.received(src);
    let Some(secret) = rx.secrets.github.as_ref() else { return rx.refuse(src, Refusal::NoSecret) };
    let Some(signature) = headers.get("x-hub-signature-256") else { return rx.refuse(src, Refusal::BadSignature) };
    let (body, _held) = match rx.read(src, &headers, body, GITHUB_BODY_LIMIT).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    if !verify::github_signature_ok(secret.expose().as_bytes(), &body, signature.as_bytes()) {
        return rx.refuse(src, Refusal::BadSignature);
    }
    let Some(json) = parse(&body) else { return rx.refuse(src, Refusal::BadJson) };
    let delivery = text(&headers, "x-github-delivery");
    let event = text(&headers, "x-github-event");
    rx.stats.accepted(src, clock::now());
    debug!(source = src.as_str(), delivery, event, "webhook delivery accepted");
    match github_action(event, &json) {
        GithubAction::Ping => (StatusCode::OK, "pong").into_response(),
        GithubAction::Ring(d) => rx.ring(src, d, delivery),
        GithubAction::Ignore => rx.ignore(src, delivery),
    }
}

/// A signed delivery's JSON. Broken text inside a string (invalid UTF-8, a lone surrogate
/// escape, as a customer's pasted comment can carry) is read lossily, as the APIs' answers are:
/// such a delivery is genuine, and refusing it would only delay its change until the next poll.
fn parse(body: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(&ticket_sync_clients::lenient::sanitize_json(body)).ok()
}

async fn zendesk(State(rx): State<Arc<Receiver>>, headers: HeaderMap, body: Body) -> Response {
    let src = Source::Zendesk;
    rx.stats.received(src);
    let Some(secret) = rx.secrets.zendesk.as_ref() else { return rx.refuse(src, Refusal::NoSecret) };
    let (Some(signature), Some(timestamp)) =
        (headers.get("x-zendesk-webhook-signature"), headers.get("x-zendesk-webhook-signature-timestamp"))
    else {
        return rx.refuse(src, Refusal::BadSignature);
    };
    let (body, _held) = match rx.read(src, &headers, body, ZENDESK_BODY_LIMIT).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let key = secret.expose().as_bytes();
    if !verify::zendesk_signature_ok(key, timestamp.as_bytes(), &body, signature.as_bytes()) {
        return rx.refuse(src, Refusal::BadSignature);
    }
    // Checked after the signature, so a stale timestamp means a genuine delivery replayed or
    // held up (or a clock off), not a forgery.
    if !verify::zendesk_timestamp_fresh(timestamp.as_bytes(), clock::now()) {
        return rx.refuse(src, Refusal::StaleTimestamp);
    }
    let Some(json) = parse(&body) else { return rx.refuse(src, Refusal::BadJson) };
    let delivery = text(&headers, "x-zendesk-webhook-invocation-id");
    rx.stats.accepted(src, clock::now());
    debug!(source = src.as_str(), delivery, "webhook delivery accepted");
    match zendesk_ticket(&json) {
        Some(id) => rx.ring(src, Doorbell::Ticket(id), delivery),
        None => rx.ignore(src, delivery),
    }
}

impl Receiver {
    /// The body, at most `limit` bytes, with the share of the body budget it holds (give it
    /// back by dropping it with the body): a declared length over the limit is refused before a
    /// byte is read, and a chunked body is read only up to it; a body that finds the budget
    /// spent is answered 503 at once.
    async fn read(
        &self,
        src: Source,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
    ) -> Result<(Bytes, Held), Response> {
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(self.refuse(src, Refusal::TooLarge));
        }
        let mut held = Held { budget: self.budget.clone(), permit: None, kib: 0 };
        if let Some(n) = declared {
            if !held.take(n as usize) {
                return Err(self.busy(src));
            }
        }
        match tokio::time::timeout(BODY_READ_TIMEOUT, read_capped(body, limit, declared, &mut held)).await {
            Ok(Ok(body)) => Ok((body, held)),
            Ok(Err(Unread::Busy)) => Err(self.busy(src)),
            Ok(Err(Unread::TooLarge)) => Err(self.refuse(src, Refusal::TooLarge)),
            Ok(Err(Unread::Broken)) => {
                debug!(source = src.as_str(), "webhook delivery body could not be read");
                Err((StatusCode::BAD_REQUEST, "the body could not be read").into_response())
            }
            Err(_) => {
                debug!(source = src.as_str(), "webhook delivery body took too long");
                Err((StatusCode::REQUEST_TIMEOUT, [(header::CONNECTION, "close")], "the body took too long")
                    .into_response())
            }
        }
    }

    /// The body budget is spent by bodies being read: answered at once, the connection closed
    /// (the rest of this body is not read).
    fn busy(&self, src: Source) -> Response {
        self.stats.dropped(src);
        warn!(source = src.as_str(), "webhook bodies in flight fill the receiver's budget: delivery refused with 503");
        let headers = [(header::CONNECTION, "close"), (header::RETRY_AFTER, "10")];
        (StatusCode::SERVICE_UNAVAILABLE, headers, "busy; try again").into_response()
    }

    fn refuse(&self, src: Source, reason: Refusal) -> Response {
        warn!(source = src.as_str(), reason = reason.as_str(), "webhook delivery refused");
        self.stats.refused(src, reason);
        let (status, message) = match reason {
            Refusal::BadSignature => (StatusCode::UNAUTHORIZED, "bad or missing signature"),
            Refusal::StaleTimestamp => (StatusCode::UNAUTHORIZED, "timestamp more than 5 minutes from now"),
            Refusal::NoSecret => (StatusCode::UNAUTHORIZED, "no secret configured"),
            Refusal::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            Refusal::BadJson => (StatusCode::BAD_REQUEST, "body is not JSON"),
        };
        if reason == Refusal::TooLarge {
            // The rest of the body is left unread on the connection: say it closes, or the
            // sender's next delivery on it (a pooled connection) is cut off and lost.
            return (status, [(header::CONNECTION, "close")], message).into_response();
        }
        (status, message).into_response()
    }

    fn ring(&self, src: Source, d: Doorbell, delivery: &str) -> Response {
        if self.bell.ring(d) {
            self.stats.rung(src);
            (StatusCode::ACCEPTED, "queued").into_response()
        } else {
            // Still a success for the sender: the next poll picks the change up.
            self.stats.dropped(src);
            warn!(source = src.as_str(), delivery, "webhook queue full: delivery left to the next poll");
            (StatusCode::ACCEPTED, "queue full; left to the next poll").into_response()
        }
    }

    fn ignore(&self, src: Source, delivery: &str) -> Response {
        self.stats.ignored(src);
        debug!(source = src.as_str(), delivery, "webhook delivery names nothing to look at");
        (StatusCode::OK, "ignored").into_response()
    }
}

enum Unread {
    TooLarge,
    Broken,
    /// The body budget is spent.
    Busy,
}

/// A body's share of the receiver's body budget, given back when dropped.
pub(super) struct Held {
    budget: Arc<tokio::sync::Semaphore>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    /// KiB held.
    kib: usize,
}

impl Held {
    /// Holds enough of the budget for `bytes` in all; false when the budget cannot give it now.
    fn take(&mut self, bytes: usize) -> bool {
        let want = bytes.div_ceil(1024);
        if want <= self.kib {
            return true;
        }
        let more = u32::try_from(want - self.kib).unwrap_or(u32::MAX);
        match self.budget.clone().try_acquire_many_owned(more) {
            Ok(permit) => {
                match &mut self.permit {
                    Some(held) => held.merge(permit),
                    None => self.permit = Some(permit),
                }
                self.kib = want;
                true
            }
            Err(_) => false,
        }
    }
}

async fn read_capped(body: Body, limit: usize, declared: Option<u64>, held: &mut Held) -> Result<Bytes, Unread> {
    let mut stream = body.into_data_stream();
    // A declared length is allocated once (it is within the limit and the budget holds it).
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Unread::Broken)?;
        if buf.len() + chunk.len() > limit {
            return Err(Unread::TooLarge);
        }
        // The buffer grows by doubling, and the budget holds what it allocates, not only what
        // it fills.
        let needed = buf.len() + chunk.len();
        if needed > buf.capacity() {
            let grown = needed.max(buf.capacity() * 2).min(limit);
            if !held.take(grown) {
                return Err(Unread::Busy);
            }
            buf.reserve(grown - buf.len());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// A header's text; empty when absent or not visible ASCII.
fn text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// `issues`, `issue_comment`, `pull_request` and `release` (`[fixes]`: a pull request in
/// review, merged or closed; a release published) ring for their repository with the sender's
/// login (empty when the payload has none: treated as someone other than ticket-sync); `ping`
/// is answered;
/// anything else, or a payload without a valid `repository.full_name`, is ignored.
fn github_action(event: &str, json: &Value) -> GithubAction {
    match event {
        "ping" => GithubAction::Ping,
        "issues" | "issue_comment" | "pull_request" | "release" => {
            let repo = json.pointer("/repository/full_name").and_then(Value::as_str);
            let Some(repo) = repo.and_then(|r| r.parse::<RepoName>().ok()) else { return GithubAction::Ignore };
            let sender = json.pointer("/sender/login").and_then(Value::as_str).unwrap_or("");
            GithubAction::Ring(Doorbell::Repo { repo, senders: BTreeSet::from([sender.to_string()]) })
        }
        _ => GithubAction::Ignore,
    }
}

/// The ticket a Zendesk delivery names: a trigger's `{"ticket_id": …}` or a ticket event's
/// `detail.id` (`type` = `zen:event-type:ticket.…`), as a string or a number.
fn zendesk_ticket(json: &Value) -> Option<TicketId> {
    let id = match json.get("ticket_id") {
        Some(id) => id,
        None => {
            let kind = json.get("type").and_then(Value::as_str)?;
            if !kind.starts_with("zen:event-type:ticket.") {
                return None;
            }
            json.pointer("/detail/id")?
        }
    };
    let id = match id {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        _ => return None,
    };
    (id > 0).then_some(TicketId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn github_events_map_to_ping_doorbell_or_nothing() {
        let payload =
            json!({"action": "closed", "repository": {"full_name": "acme/backend"}, "sender": {"login": "alice"}});
        let ring = GithubAction::Ring(Doorbell::Repo {
            repo: "acme/backend".parse().unwrap(),
            senders: BTreeSet::from(["alice".to_string()]),
        });
        assert_eq!(github_action("issues", &payload), ring);
        assert_eq!(github_action("issue_comment", &payload), ring);
        assert_eq!(github_action("pull_request", &payload), ring);
        assert_eq!(github_action("release", &payload), ring);
        assert_eq!(github_action("ping", &json!({"zen": "Design for failure."})), GithubAction::Ping);
        assert_eq!(github_action("push", &payload), GithubAction::Ignore);
        assert_eq!(github_action("", &payload), GithubAction::Ignore);
        assert_eq!(github_action("issues", &json!({"repository": {"full_name": "not a repo"}})), GithubAction::Ignore);
        assert_eq!(github_action("issues", &json!([1, 2])), GithubAction::Ignore);
        let anonymous = github_action("issues", &json!({"repository": {"full_name": "acme/backend"}}));
        let GithubAction::Ring(Doorbell::Repo { senders, .. }) = anonymous else { panic!("{anonymous:?}") };
        assert_eq!(senders, BTreeSet::from([String::new()]));
    }

    #[test]
    fn zendesk_bodies_name_a_ticket_by_string_or_number() {
        let cases = [
            (json!({"ticket_id": "123"}), Some(123)),
            (json!({"ticket_id": 123}), Some(123)),
            (json!({"ticket_id": " 42 "}), Some(42)),
            (json!({"type": "zen:event-type:ticket.status_changed", "detail": {"id": "35436"}}), Some(35436)),
            (json!({"type": "zen:event-type:ticket.comment_added", "detail": {"id": 7}}), Some(7)),
            (json!({"type": "zen:event-type:user.created", "detail": {"id": "7"}}), None),
            (json!({"ticket_id": "{{ticket.id}}"}), None),
            (json!({"ticket_id": 0}), None),
            (json!({"ticket_id": -3}), None),
            (json!({"ticket_id": 1.5}), None),
            (json!({"ticket_id": null}), None),
            (json!({"event": "ticket.updated", "id": 123}), None),
            (json!("123"), None),
            (json!(null), None),
        ];
        for (body, want) in cases {
            assert_eq!(zendesk_ticket(&body), want.map(TicketId), "{body}");
        }
    }
}
