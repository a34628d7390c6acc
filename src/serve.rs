//! Serving HTTP/1 on an open port with the bounds such a port needs: at most so many
//! connections at once (one more is closed as soon as it is accepted, so it holds no file
//! descriptor, and the log says so at most once a minute), a time limit for a request's headers,
//! one request per connection, and a time limit for the whole connection. A sender that opens connections and never finishes them can
//! hold neither descriptors nor memory for long, and never the daemon's syncing: the API
//! clients keep their descriptors.
//!
//! Used by the webhook receiver and the `/healthz` + `/metrics` listener; knows nothing of
//! what they serve.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// The limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Connections served at once; one more is accepted and closed at once.
    pub max_connections: usize,
    /// A request's headers must have arrived this long after the connection opened.
    pub header_read: Duration,
    /// A connection is closed this long after it opened, whatever it is doing.
    pub lifetime: Duration,
}

/// How often an `accept` that failed (out of descriptors: `EMFILE`) is tried again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often a listener says, while it goes on, that it closes connections or cannot accept
/// them: a sender's flood of connections must not become a flood of log lines.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A warning said at most once per `WARN_EVERY`, with how often it happened in between.
#[derive(Default)]
struct Throttled {
    last: Option<tokio::time::Instant>,
    since: u64,
}

impl Throttled {
    /// Counts one more; when a line is due now, how many there were since the last one.
    fn due(&mut self) -> Option<u64> {
        self.since += 1;
        let now = tokio::time::Instant::now();
        if self.last.is_some_and(|last| now.duration_since(last) < WARN_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }
}
/// How long a connection in flight may finish its answer after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` within `bounds` until `shutdown`; `name` names it in the logs.
pub fn spawn(
    listener: TcpListener,
    app: axum::Router,
    bounds: Bounds,
    shutdown: CancellationToken,
    name: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(bounds.max_connections));
        let connections = TaskTracker::new();
        let (mut unaccepted, mut refused) = (Throttled::default(), Throttled::default());
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        if let Some(failures) = unaccepted.due() {
                            warn!(listener = name, error = %e, failures, "cannot accept a connection; trying again shortly (said at most once a minute)");
                        }
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                if let Some(closed) = refused.due() {
                    warn!(
                        listener = name,
                        max = bounds.max_connections,
                        closed,
                        "too many connections; new ones are closed at once (said at most once a minute, with how many were closed since)"
                    );
                }
                drop(stream);
                continue;
            };
            let service = TowerToHyperService::new(app.clone());
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                let _permit = permit;
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.timer(TokioTimer::new()).header_read_timeout(bounds.header_read).keep_alive(false);
                let connection = builder.serve_connection(TokioIo::new(stream), service);
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    result = &mut connection => {
                        if let Err(e) = result {
                            debug!(listener = name, error = %e, "connection ended with an error");
                        }
                    }
                    _ = tokio::time::sleep(bounds.lifetime) => {
                        debug!(listener = name, "connection closed at the end of its lifetime");
                    }
                    _ = shutdown.cancelled() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
                    }
                }
            });
        }
        connections.close();
        connections.wait().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_warning_is_said_once_a_minute_with_how_often_it_happened() {
        let mut w = Throttled::default();
        assert_eq!(w.due(), Some(1), "the first at once");
        assert!((0..10_000).all(|_| w.due().is_none()), "then nothing within the minute");
        tokio::time::advance(WARN_EVERY).await;
        assert_eq!(w.due(), Some(10_001), "a minute on: one line that counts them");
        assert_eq!(w.due(), None);
    }
}
