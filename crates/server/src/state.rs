//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Mutex;
use truce_ingest::IngestPolicy;
use truce_store::Store;

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::sequencer::{Registry, Sequencer};

/// The server's shared state.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub sequencer: Sequencer,
    pub registry: Registry,
    pub config: Arc<ServerConfig>,
    pub admin_token: Arc<str>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// The log's verifier key (C2SP vkey).
    pub vkey: Arc<str>,
    /// When the latest checkpoint was signed, with its size.
    pub checkpoint_signed: Arc<Mutex<(u64, Instant)>>,
    /// Events and findings of the log up to the latest checkpoint.
    pub results: crate::results::Latest,
    /// The id of the agreement findings are judged against, if any.
    pub agreement_id: Option<Arc<str>>,
    /// The agreement itself, if any (its line and title for bulletins).
    pub agreement: Option<Arc<truce_agreement::Agreement>>,
    /// The agreement as GeoJSON, drawn on first request.
    pub agreement_map: Arc<std::sync::OnceLock<Arc<str>>>,
    /// The Commission's state and the actions that change it.
    pub desk: Arc<crate::desk::Desk>,
    /// What the live feeds send, made once per results for every connection.
    pub views: Arc<crate::views::Views>,
    /// Turns true when the server starts shutting down: the live streams end then, so
    /// that the graceful shutdown is not kept waiting by a dashboard left open.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The request-body bytes all requests together may hold in memory
    /// (`body_budget_bytes`): a body's bytes are taken from it before they are read.
    pub body_budget: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn ingest_policy(&self) -> IngestPolicy {
        IngestPolicy {
            max_future_skew_ns: (self.config.max_future_skew_s * 1e9) as i64,
        }
    }
}
