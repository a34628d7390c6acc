//! `[daemon] listen`: `GET /healthz` and `GET /metrics` (Prometheus text format, via prometheus-client).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use ticket_sync_clients::http::StatsInner;

use crate::sync::PassReport;
use ticket_sync_core::clock;
use ticket_sync_core::domain::{PassOutcome, Service};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    source: String,
    /// `received`, `acted`, `ignored`, `dropped`, or `refused_<reason>`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthLabels {
    service: String,
    /// Zendesk: `oauth` or `api_token`; GitHub: `token` or `app`.
    mode: String,
}

/// The last outcome of each pass kind, for `/healthz`.
#[derive(Debug, Clone)]
struct PassHealth {
    outcome: PassOutcome,
    detail: String,
    at: DateTime<Utc>,
}

/// Metric families and health, updated by the daemon after each pass.
pub struct Metrics {
    registry: Registry,
    passes: Family<PassLabels, Counter>,
    synced: Family<KindLabels, Counter>,
    failed: Family<KindLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    rate_remaining: Family<ServiceLabels, Gauge>,
    durations: Family<KindLabels, Histogram>,
    last_success: Family<KindLabels, Gauge>,
    deliveries: Family<DeliveryLabels, Gauge>,
    last_delivery: Family<ServiceLabels, Gauge>,
    auth: Family<AuthLabels, Gauge>,
    seen_requests: Mutex<BTreeMap<(Service, u16), u64>>,
    health: Mutex<BTreeMap<&'static str, PassHealth>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ticket_sync");
        let passes = Family::<PassLabels, Counter>::default();
        let synced = Family::<KindLabels, Counter>::default();
        let failed = Family::<KindLabels, Counter>::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let rate_remaining = Family::<ServiceLabels, Gauge>::default();
        let last_success = Family::<KindLabels, Gauge>::default();
        let deliveries = Family::<DeliveryLabels, Gauge>::default();
        let last_delivery = Family::<ServiceLabels, Gauge>::default();
        let auth = Family::<AuthLabels, Gauge>::default();
        let durations = Family::<KindLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 14))
        });
        registry.register("passes", "Passes run, by kind and outcome", passes.clone());
        registry.register("items_synced", "Items written (issues created or recovered, notes pushed)", synced.clone());
        registry.register("items_failed", "Items that failed in a pass", failed.clone());
        registry.register("api_requests", "API requests by service and HTTP status (0 = no answer)", requests.clone());
        registry.register("rate_limit_remaining", "Rate-limit budget left, as last reported", rate_remaining.clone());
        registry.register("pass_duration_seconds", "Duration of passes", durations.clone());
        registry.register(
            "last_success_timestamp_seconds",
            "When a pass of this kind last finished without failing (Unix seconds); alert on its age",
            last_success.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries since the start, by source and outcome (received, acted, ignored, dropped, refused_<reason>)",
            deliveries.clone(),
        );
        registry.register(
            "webhook_last_delivery_timestamp_seconds",
            "When the last valid webhook delivery of this source arrived (Unix seconds)",
            last_delivery.clone(),
        );
        registry.register(
            "auth_mode",
            "How ticket-sync authenticates to each service: 1 for the mode in use (zendesk: oauth or api_token; github: token or app)",
            auth.clone(),
        );
        Metrics {
            auth,
            registry,
            passes,
            synced,
            failed,
            requests,
            rate_remaining,
            durations,
            last_success,
            deliveries,
            last_delivery,
            seen_requests: Mutex::new(BTreeMap::new()),
            health: Mutex::new(BTreeMap::new()),
        }
    }

    /// Shows `mode` as the way ticket-sync authenticates to `service` (the other modes 0).
    pub fn set_auth_mode(&self, service: &str, mode: &str, modes: &[&str]) {
        for m in modes {
            let labels = AuthLabels { service: service.to_string(), mode: m.to_string() };
            self.auth.get_or_create(&labels).set(i64::from(*m == mode));
        }
    }

    /// Records a finished pass (or its error) and the API counters since the last call.
    pub fn record_pass(
        &self,
        kind: ticket_sync_core::domain::PassKind,
        result: Result<&PassReport, String>,
        seconds: f64,
        stats: &StatsInner,
    ) {
        let kind_label = KindLabels { kind: kind.as_str().to_string() };
        let (outcome, health) = match result {
            Ok(r) => {
                let synced = r.created + r.recovered + r.notes + r.pushed;
                self.synced.get_or_create(&kind_label).inc_by(synced);
                self.failed.get_or_create(&kind_label).inc_by(r.failed);
                // Single failing items are retried and shown by `status`; a pass where every
                // attempted item failed points at a cause the operator must fix.
                let ok = r.failed == 0 || synced > 0;
                let detail = if ok {
                    "ok".to_string()
                } else {
                    format!("all {} attempted item(s) failed; see `ticket-sync status`", r.failed)
                };
                let outcome = if ok { PassOutcome::Ok } else { PassOutcome::Partial };
                (outcome, PassHealth { outcome, detail, at: clock::now() })
            }
            Err(e) => (PassOutcome::Failed, PassHealth { outcome: PassOutcome::Failed, detail: e, at: clock::now() }),
        };
        self.passes.get_or_create(&PassLabels { kind: kind.to_string(), outcome: outcome.to_string() }).inc();
        if outcome != PassOutcome::Failed {
            self.last_success.get_or_create(&kind_label).set(clock::now().timestamp());
        }
        self.durations.get_or_create(&kind_label).observe(seconds);
        self.health.lock().unwrap().insert(kind.as_str(), health);
        let mut seen = self.seen_requests.lock().unwrap();
        for (&(service, status), &count) in &stats.requests {
            let before = seen.insert((service, status), count).unwrap_or(0);
            let labels = RequestLabels { service: service.as_str().to_string(), status: status.to_string() };
            self.requests.get_or_create(&labels).inc_by(count.saturating_sub(before));
        }
        for (service, budget) in &stats.budgets {
            if let Some(left) = budget.remaining {
                let labels = ServiceLabels { service: service.as_str().to_string() };
                self.rate_remaining.get_or_create(&labels).set(left as i64);
            }
        }
    }

    /// The webhook receiver's counters of one source, as its snapshot (JSON) gives them.
    pub fn record_webhooks(&self, source: &str, snapshot: &serde_json::Value) {
        let set = |outcome: String, n: u64| {
            let labels = DeliveryLabels { source: source.to_string(), outcome };
            self.deliveries.get_or_create(&labels).set(n as i64);
        };
        for key in ["received", "acted", "ignored", "dropped"] {
            set(key.to_string(), snapshot.get(key).and_then(|v| v.as_u64()).unwrap_or(0));
        }
        if let Some(refused) = snapshot.get("refused").and_then(|v| v.as_object()) {
            for (reason, n) in refused {
                set(format!("refused_{reason}"), n.as_u64().unwrap_or(0));
            }
        }
        let last = snapshot.get("last_delivery").and_then(|v| v.as_str()).and_then(|s| s.parse::<DateTime<Utc>>().ok());
        if let Some(at) = last {
            self.last_delivery.get_or_create(&ServiceLabels { service: source.to_string() }).set(at.timestamp());
        }
    }

    /// `Ok` when every pass kind's last run succeeded (or none ran yet); otherwise the reasons.
    pub fn health(&self) -> Result<String, String> {
        let health = self.health.lock().unwrap();
        let bad: Vec<String> = health
            .iter()
            .filter(|(_, h)| h.outcome != PassOutcome::Ok)
            .map(|(kind, h)| format!("{kind} pass at {}: {}", h.at.format("%Y-%m-%dT%H:%M:%SZ"), h.detail))
            .collect();
        if bad.is_empty() {
            Ok("ok".into())
        } else {
            Err(bad.join("; "))
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Serves `/healthz` and `/metrics` on `addr` until `shutdown`. The listener is bound before returning.
/// `/healthz` and `/metrics` are read by a monitor now and then: a few connections at once,
/// each answered at once.
pub const BOUNDS: crate::serve::Bounds = crate::serve::Bounds {
    max_connections: 32,
    header_read: std::time::Duration::from_secs(10),
    lifetime: std::time::Duration::from_secs(30),
};

pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app: axum::Router = axum::Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/metrics",
            get(|State(m): State<Arc<Metrics>>| async move {
                ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], m.encode())
            }),
        )
        .with_state(metrics);
    Ok(crate::serve::spawn(listener, app, BOUNDS, shutdown, "healthz"))
}

async fn healthz(State(m): State<Arc<Metrics>>) -> impl IntoResponse {
    match m.health() {
        Ok(text) => (StatusCode::OK, format!("{text}\n")),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("unhealthy: {reason}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_that_does_not_fail_sets_its_last_success_time_and_a_failed_one_does_not() {
        let m = Metrics::new();
        let stats = StatsInner::default();
        m.record_pass(ticket_sync_core::domain::PassKind::Push, Err("refused".into()), 1.0, &stats);
        assert!(!m.encode().contains("ticket_sync_last_success_timestamp_seconds{kind=\"push\"}"), "{}", m.encode());
        m.record_pass(ticket_sync_core::domain::PassKind::Push, Ok(&PassReport::default()), 1.0, &stats);
        let text = m.encode();
        let line =
            text.lines().find(|l| l.starts_with("ticket_sync_last_success_timestamp_seconds{kind=\"push\"}")).unwrap();
        let at: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((Utc::now().timestamp() - at).abs() < 60, "{line}");
    }
}
