//! `[webhooks]`: the receiver of signed deliveries from GitHub and Zendesk. A delivery is a
//! doorbell, not the truth: a valid one only queues *which* ticket or repository to look at
//! (`Bell`); the daemon then reads the current state through the API as a poll would.
//!
//! `serve` binds the listener and runs the server until shutdown; `receiver.rs` checks each
//! delivery (size, signature, timestamp, JSON) and answers at once; `verify.rs` holds the
//! signature arithmetic; `stats.rs` the counters shown by `status` and `/metrics`.

mod bell;
mod receiver;
mod stats;
mod verify;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use bell::{Bell, Doorbell, DEFAULT_CAPACITY};
pub use receiver::{GITHUB_BODY_LIMIT, ZENDESK_BODY_LIMIT};
pub use stats::{Refusal, Source, SourceSnapshot, WebhookSnapshot, WebhookStats};
pub use verify::{
    github_signature, github_signature_ok, zendesk_signature, zendesk_signature_ok, zendesk_timestamp_fresh,
    ZENDESK_MAX_SKEW,
};

use crate::credentials;
use ticket_sync_clients::secret::Secret;
use ticket_sync_core::rules::{TokenSource, WebhookRules};

/// Each source's signing secret; a source without one refuses every delivery (401).
/// `Debug` prints `Secret(***)`.
#[derive(Debug, Clone, Default)]
pub struct WebhookSecrets {
    pub github: Option<Secret>,
    pub zendesk: Option<Secret>,
}

/// Why a webhook secret named in the rules could not be read; names the key to fix and never
/// contains the secret.
#[derive(Debug, thiserror::Error)]
#[error("{service} webhook secret: {reason}")]
pub struct WebhookSecretError {
    pub service: &'static str,
    pub reason: String,
}

impl WebhookSecrets {
    /// Reads the secret of each source that is on. A variable or file the rules name must be
    /// readable; with nothing named, the default variable and then the systemd credential are
    /// tried, and finding neither is an error too: a source without its secret would refuse
    /// every delivery. A source the rules turn off (`github = false`) has none (`None`).
    pub fn load(rules: &WebhookRules) -> Result<WebhookSecrets, WebhookSecretError> {
        Self::load_all(rules).map_err(|mut errors| errors.remove(0))
    }

    /// Like `load`, with every source's error, not only the first (what `check` reports).
    pub fn load_all(rules: &WebhookRules) -> Result<WebhookSecrets, Vec<WebhookSecretError>> {
        match (load_one(Source::Github, &rules.github_secret), load_one(Source::Zendesk, &rules.zendesk_secret)) {
            (Ok(github), Ok(zendesk)) => Ok(WebhookSecrets { github, zendesk }),
            (github, zendesk) => Err(github.err().into_iter().chain(zendesk.err()).collect()),
        }
    }
}

fn load_one(source: Source, from: &Option<TokenSource>) -> Result<Option<Secret>, WebhookSecretError> {
    let Some(from) = from else { return Ok(None) };
    let service = source.as_str();
    let keys = (format!("webhooks.{service}_secret_env"), format!("webhooks.{service}_secret_file"));
    credentials::read_required(from, (&keys.0, &keys.1)).map(Some).map_err(|reason| WebhookSecretError {
        service,
        reason: format!(
            "{reason}; if {} sends no webhooks here, set `{service} = false` under [webhooks]",
            source.vendor()
        ),
    })
}

/// The receiver's limits: 128 connections at once (GitHub and Zendesk deliver one request per
/// event; more at once is no sender of theirs), headers within 10 s, a connection closed 60 s
/// after it opened (a body may take 30 s, `receiver::BODY_READ_TIMEOUT`). With the `/healthz`
/// listener's 32 this stays far below the unit's descriptor limit, leaving the rest to the API
/// clients and the database.
pub const BOUNDS: crate::serve::Bounds = crate::serve::Bounds {
    max_connections: 128,
    header_read: std::time::Duration::from_secs(10),
    lifetime: std::time::Duration::from_secs(60),
};

/// Binds `addr` (port 0 picks a free port) and spawns the receiver; returns the bound address.
/// The server stops when `shutdown` is cancelled.
pub async fn serve(
    addr: SocketAddr,
    secrets: WebhookSecrets,
    bell: Arc<Bell>,
    stats: Arc<WebhookStats>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    for source in Source::ALL {
        let configured = match source {
            Source::Github => secrets.github.is_some(),
            Source::Zendesk => secrets.zendesk.is_some(),
        };
        // A source that is on has its secret (`WebhookSecrets::load` refuses one without), so
        // a source without one is one the rules turned off.
        if !configured {
            tracing::info!(
                source = source.as_str(),
                "this source is turned off in the rules ({} = false): its deliveries are refused",
                source.as_str()
            );
        }
    }
    let app = receiver::router(secrets, bell, stats);
    tracing::info!(%bound, max_connections = BOUNDS.max_connections, "webhook receiver listening");
    crate::serve::spawn(listener, app, BOUNDS, shutdown, "webhooks");
    Ok(bound)
}

#[cfg(test)]
mod tests;
