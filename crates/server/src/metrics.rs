//! The server's own telemetry, exposed at `GET /metrics` in the Prometheus text format.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use truce_model::ProblemType;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProblemLabel {
    problem: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    accepted: Counter,
    duplicates: Counter,
    rejected: Family<ProblemLabel, Counter>,
    log_size: Gauge,
    checkpoint_size: Gauge,
    checkpoint_age: Gauge<f64, AtomicU64>,
    ingest_latency: Histogram,
    commit_entries: Histogram,
    cot_datagrams: Family<OutcomeLabel, Counter>,
    http_connections: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("truce");
        let accepted = Counter::default();
        let duplicates = Counter::default();
        let rejected = Family::<ProblemLabel, Counter>::default();
        let log_size = Gauge::default();
        let checkpoint_size = Gauge::default();
        let checkpoint_age = Gauge::<f64, AtomicU64>::default();
        let ingest_latency = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let commit_entries = Histogram::new(exponential_buckets(1.0, 4.0, 9));
        registry.register(
            "observations_accepted",
            "Observations newly appended to the log",
            accepted.clone(),
        );
        registry.register(
            "observations_duplicate",
            "Observations re-sent identically, answered with their original index",
            duplicates.clone(),
        );
        registry.register(
            "observations_rejected",
            "Observations refused, by problem type",
            rejected.clone(),
        );
        registry.register("log_size", "Entries in the log", log_size.clone());
        registry.register(
            "checkpoint_size",
            "Tree size of the latest signed checkpoint",
            checkpoint_size.clone(),
        );
        registry.register(
            "checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            checkpoint_age.clone(),
        );
        registry.register(
            "ingest_latency_seconds",
            "Time from receiving an observation request to its durable acknowledgement",
            ingest_latency.clone(),
        );
        registry.register(
            "commit_entries",
            "Entries per durable commit (group commit size)",
            commit_entries.clone(),
        );
        let cot_datagrams = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "cot_datagrams",
            "CoT UDP datagrams received, by outcome (logged, refused, ignored, not_allowed)",
            cot_datagrams.clone(),
        );
        let http_connections = Gauge::default();
        registry.register(
            "http_connections",
            "HTTP connections open",
            http_connections.clone(),
        );
        Self {
            registry,
            accepted,
            duplicates,
            rejected,
            log_size,
            checkpoint_size,
            checkpoint_age,
            ingest_latency,
            commit_entries,
            cot_datagrams,
            http_connections,
        }
    }
}

impl Metrics {
    pub fn http_connections(&self, open: usize) {
        self.http_connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    pub fn accepted(&self, n: u64, duplicates: u64) {
        self.accepted.inc_by(n);
        self.duplicates.inc_by(duplicates);
    }

    pub fn rejected(&self, kind: ProblemType) {
        self.rejected
            .get_or_create(&ProblemLabel {
                problem: kind.slug().to_string(),
            })
            .inc();
    }

    pub fn cot_datagram(&self, outcome: &str) {
        self.cot_datagrams
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn ingest_latency(&self, elapsed: Duration) {
        self.ingest_latency.observe(elapsed.as_secs_f64());
    }

    pub fn committed(&self, entries: u64) {
        self.commit_entries.observe(entries as f64);
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, log_size: u64, checkpoint_size: u64, checkpoint_age: Duration) -> String {
        self.log_size.set(log_size as i64);
        self.checkpoint_size.set(checkpoint_size as i64);
        self.checkpoint_age.set(checkpoint_age.as_secs_f64());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
