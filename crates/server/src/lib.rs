//! truce's server: the only crate that knows HTTP.
//!
//! [`start`] opens the store in the data directory, loads (or creates) the log's signing
//! key, starts the [`sequencer`], the checkpoint publisher and the HTTP API ([`router`]).

pub mod blobs;
pub mod clock;
pub mod config;
pub mod cot;
pub mod desk;
pub mod edge;
pub mod error;
pub mod extract;
pub mod lapses;
pub mod metrics;
pub mod mqtt;
pub mod notify;
pub mod policy;
pub mod results;
pub mod routes;
pub mod sequencer;
pub mod state;
pub mod views;
pub mod web;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;
use truce_ledger::NoteSigner;
use truce_store::Store;

pub use clock::{Clock, FixedClock, SystemClock};
pub use config::{ConfigError, ServerConfig};
pub use state::AppState;

/// The origin a new log gets when none is configured.
pub const DEFAULT_ORIGIN: &str = "truce.local/log";

/// Why the server could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] truce_store::StoreError),
    #[error(transparent)]
    Sequencer(#[from] sequencer::SequencerError),
    #[error("log key {path}: {message}")]
    Key { path: String, message: String },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("agreement: {0}")]
    Agreement(String),
    #[error("guarantees: {0}")]
    Guarantees(String),
    #[error("commission: {0}")]
    Commission(String),
}

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/app/{name}", get(web::asset))
        .route("/v1/agreement", get(routes::dashboard::agreement))
        .route("/v1/log", get(routes::dashboard::log))
        .route("/v1/me", get(routes::dashboard::me))
        .route("/checkpoint", get(routes::log::checkpoint))
        .route("/tile/{*path}", get(routes::log::tile))
        .route("/v1/proof/inclusion", get(routes::log::inclusion))
        .route("/v1/proof/consistency", get(routes::log::consistency))
        .route("/v1/entries/{index}", get(routes::log::entry))
        .route(
            "/v1/observations",
            post(routes::observations::submit).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/sensors",
            get(routes::sensors::list).post(routes::sensors::register),
        )
        .route(
            "/v1/sensors/{id}",
            get(routes::sensors::show).delete(routes::sensors::revoke),
        )
        .route("/v1/sensors/{id}/health", get(routes::sensors::health))
        .route(
            "/v1/accounts",
            get(routes::commission::accounts).post(routes::commission::create_account),
        )
        .route(
            "/v1/accounts/{id}",
            axum::routing::delete(routes::commission::disable_account),
        )
        .route(
            "/v1/accounts/{id}/tokens",
            post(routes::commission::create_token),
        )
        .route("/v1/actions", post(routes::commission::submit))
        .route("/v1/bulletins", post(routes::bulletins::publish))
        .route("/v1/bulletins/{date}", get(routes::bulletins::show))
        .route(
            "/v1/blobs",
            post(routes::commission::put_blob).layer(DefaultBodyLimit::disable()),
        )
        .route("/v1/blobs/{sha256}", get(routes::commission::get_blob))
        .route(
            "/v1/policy",
            axum::routing::put(routes::commission::set_policy),
        )
        .route("/v1/review/queue", get(routes::commission::queue))
        .route("/v1/findings/{id}/review", post(routes::commission::review))
        .route(
            "/v1/incidents/{id}/review",
            post(routes::commission::review_incident),
        )
        .route(
            "/v1/allegations/{index}/review",
            post(routes::commission::review_allegation),
        )
        .route(
            "/v1/allegations",
            get(routes::commission::allegations).post(routes::commission::allege),
        )
        .route(
            "/v1/rulings",
            get(routes::commission::rulings).post(routes::commission::propose),
        )
        .route("/v1/rulings/{index}/votes", post(routes::commission::vote))
        .route("/v1/escalations", get(routes::commission::escalations))
        .route(
            "/v1/escalations/{index}/ack",
            post(routes::commission::acknowledge),
        )
        .route(
            "/v1/escalations/{index}/respond",
            post(routes::commission::respond),
        )
        .route("/v1/results", get(routes::results::summary))
        .route("/v1/events", get(routes::results::events))
        .route("/v1/findings", get(routes::results::findings))
        .route("/v1/incidents", get(routes::results::incidents))
        .route("/v1/incidents/{id}", get(routes::results::incident))
        .route("/v1/stream", get(routes::results::stream))
        .route("/metrics", get(routes::ops::metrics))
        .route("/v1/openapi.json", get(routes::ops::openapi))
        .route("/healthz", get(routes::ops::health))
        .fallback(|| async {
            error::ApiError::new(truce_model::ProblemType::NotFound, "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(state.config.max_json_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::guard::guard,
        ))
        .with_state(state)
}

/// A running server.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The log's verifier key (C2SP vkey text).
    pub vkey: String,
    pub admin_token: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// Stops accepting connections, finishes in-flight requests, signs a last checkpoint
    /// and waits for the sequencer to finish.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait().await
    }

    /// Waits until the server stops.
    pub async fn wait(self) -> Result<(), ServerError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(ServerError::Io(std::io::Error::other(e))),
        }
    }

    /// A sender that stops the server (for signal handlers).
    pub fn take_shutdown(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

/// Loads the log's key from `DIR/log.key`, creating it on first start.
fn load_or_create_key(dir: &Path, origin: &str) -> Result<NoteSigner, ServerError> {
    let path = dir.join("log.key");
    let key_error = |message: String| ServerError::Key {
        path: path.display().to_string(),
        message,
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let signer = NoteSigner::from_skey(text.trim()).map_err(|e| key_error(e.to_string()))?;
        if signer.name() != origin {
            return Err(key_error(format!(
                "the key is for log {:?}, not {origin:?}",
                signer.name()
            )));
        }
        return Ok(signer);
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| key_error(e.to_string()))?;
    let signer = NoteSigner::new(origin, seed).map_err(|e| key_error(e.to_string()))?;
    write_private(&path, &format!("{}\n", signer.skey()))?;
    Ok(signer)
}

/// Writes a secret file readable only by its owner.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn load_or_create_admin_token(config: &ServerConfig) -> Result<String, ServerError> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    let path = config.data.join("admin.token");
    if path.exists() {
        return Ok(std::fs::read_to_string(&path)?.trim().to_string());
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?;
    let token = hex::encode(bytes);
    write_private(&path, &format!("{token}\n"))?;
    Ok(token)
}

/// Starts the server on `config.listen` with the given clock.
pub async fn start(
    config: ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, ServerError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data)?;
    // The data directory holds the log's key, the admin token, the private store and the
    // blobs: only its owner may enter it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.data, std::fs::Permissions::from_mode(0o700))?;
    }
    let origin = match (&config.origin, Store::stored_origin(&config.data)?) {
        (Some(o), _) => o.clone(),
        (None, Some(stored)) => stored,
        (None, None) => DEFAULT_ORIGIN.to_string(),
    };
    let signer = load_or_create_key(&config.data, &origin)?;
    let vkey = signer.vkey();
    std::fs::write(config.data.join("log.vkey"), format!("{vkey}\n"))?;
    let admin_token = load_or_create_admin_token(&config)?;
    let (store, writer) = Store::open(&config.data, &origin)?;
    let metrics = Arc::new(metrics::Metrics::default());
    let registry: sequencer::Registry = Arc::new(RwLock::new(Default::default()));
    let copy_key = || {
        NoteSigner::from_skey(&signer.skey()).map_err(|e| ServerError::Key {
            path: config.data.join("log.key").display().to_string(),
            message: e.to_string(),
        })
    };
    let desk_signer = copy_key()?;
    let webhook_signer = Arc::new(copy_key()?);
    let decoded = Arc::new(results::Decoded::default());
    let (sequencer, sequencer_thread) = sequencer::Sequencer::start(
        writer,
        signer,
        registry.clone(),
        config.max_commit_entries,
        metrics.clone(),
        decoded.clone(),
    )?;
    let agreement = match &config.agreement {
        Some(path) => Some(Arc::new(
            truce_agreement::Agreement::load(path)
                .map_err(|e| ServerError::Agreement(e.to_string()))?,
        )),
        None => None,
    };
    let agreement_id = agreement.as_ref().map(|a| Arc::from(a.id.as_str()));
    // The guarantees file's text is logged (below) whenever it differs from the last logged.
    let guarantees_text = match &config.guarantees {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            ServerError::Guarantees(format!("cannot read {}: {e}", path.display()))
        })?),
        None => None,
    };
    let guarantees = match &guarantees_text {
        Some(text) => truce_commission::Guarantees::from_toml(text)
            .map_err(|e| ServerError::Guarantees(e.to_string()))?,
        None => truce_commission::Guarantees::none(agreement_id.as_deref().unwrap_or("")),
    };
    let desk = Arc::new(desk::Desk::open(
        &store,
        truce_store::Private::open(&config.data)?,
        guarantees,
        desk_signer,
        agreement.as_deref(),
    )?);
    let store = Arc::new(store);
    let results = results::spawn(
        store.clone(),
        agreement.clone(),
        decoded,
        sequencer.watch_size(),
    );
    let listener = edge::bind(config.listen)?;
    let addr = listener.local_addr()?;
    let interval = Duration::from_millis(config.checkpoint_interval_ms);
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let body_budget = Arc::new(tokio::sync::Semaphore::new(config.body_budget_bytes));
    let edge_limits = config.edge_limits();
    let state = AppState {
        body_budget,
        stopping,
        store,
        results,
        agreement_id,
        agreement,
        agreement_map: Default::default(),
        views: Arc::new(views::Views::new(desk.clone())),
        desk,
        checkpoint_signed: Arc::new(Mutex::new((
            sequencer.latest_checkpoint().size,
            Instant::now(),
        ))),
        sequencer,
        registry,
        config: Arc::new(config),
        admin_token: admin_token.clone().into(),
        clock,
        metrics,
        vkey: vkey.clone().into(),
    };
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let (stop_publisher, publisher_stopped) = oneshot::channel::<()>();
    let publisher = tokio::spawn(publish_checkpoints(
        state.clone(),
        interval,
        publisher_stopped,
    ));
    // The field adapters run until the shutdown aborts them, letting go of the state.
    let mut adapters = Vec::new();
    if let Some(url) = &state.config.mqtt_url {
        let settings = mqtt::MqttSettings::from_url(
            url,
            &state.config.mqtt_topic,
            &state.config.mqtt_client_id,
        )
        .map_err(|e| {
            ServerError::Config(ConfigError::Invalid {
                field: "mqtt_url",
                message: e,
            })
        })?;
        adapters.push(tokio::spawn(mqtt::run(state.clone(), settings)));
    }
    adapters.extend(cot::start(&state).await?);
    if let Some(text) = guarantees_text
        && state
            .desk
            .read(|c| c.logged_guarantees() != Some(text.as_str()))
    {
        let what = truce_commission::What::GuaranteesLoad { guarantees: text };
        let system = truce_commission::roles::SYSTEM;
        let index = state
            .desk
            .act(&state.sequencer, state.clock.as_ref(), system, what)
            .await
            .map_err(|e| ServerError::Guarantees(e.0.detail))?;
        tracing::info!(index, "guarantees logged");
    }
    // Escalations logged before a crash but never queued are queued now.
    notify::enqueue(&state, None).map_err(|e| ServerError::Commission(e.0.detail))?;
    let (stop_notifier, notifier_stopped) = oneshot::channel::<()>();
    let notifier = tokio::spawn(notify::run(
        state.clone(),
        webhook_signer,
        Duration::from_millis(state.config.webhook_poll_ms.max(1)),
        Duration::from_millis(state.config.webhook_retry_base_ms),
        notifier_stopped,
    ));
    let (stop_policy, policy_stopped) = oneshot::channel::<()>();
    let policy_worker = tokio::spawn(policy::run(state.clone(), policy_stopped));
    let (stop_lapses, lapses_stopped) = oneshot::channel::<()>();
    let lapse_worker = tokio::spawn(lapses::run(state.clone(), lapses_stopped));
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        tracing::info!(%addr, "listening");
        let metrics = state.metrics.clone();
        let served = edge::serve(
            listener,
            app,
            edge_limits,
            async move {
                let _ = shutdown_rx.await;
                let _ = stopping_tx.send(true);
            },
            move |open| metrics.http_connections(open),
        )
        .await;
        // No more input from the field. What MQTT had already queued is still logged and
        // acknowledged, or, cut off, delivered again by the broker (QoS 1).
        for adapter in &adapters {
            adapter.abort();
        }
        for adapter in adapters {
            let _ = adapter.await;
        }
        let _ = stop_publisher.send(());
        let _ = publisher.await;
        let _ = stop_notifier.send(());
        let _ = notifier.await;
        let _ = stop_policy.send(());
        let _ = policy_worker.await;
        let _ = stop_lapses.send(());
        let _ = lapse_worker.await;
        // In-flight requests are done: sign what they appended, then let the sequencer go.
        if let Err(p) = state.sequencer.checkpoint().await {
            tracing::warn!(detail = %p.detail, "final checkpoint failed");
        }
        drop(state);
        let _ = tokio::task::spawn_blocking(move || sequencer_thread.join()).await;
        tracing::info!("stopped");
        served.map_err(ServerError::Io)
    });
    Ok(RunningServer {
        addr,
        vkey,
        admin_token,
        shutdown: Some(shutdown_tx),
        task,
    })
}

/// Signs a checkpoint every `interval` while the log grows.
async fn publish_checkpoints(state: AppState, interval: Duration, mut stop: oneshot::Receiver<()>) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = ticker.tick() => {}
        }
        if state.sequencer.size() == state.sequencer.latest_checkpoint().size {
            continue;
        }
        match state.sequencer.checkpoint().await {
            Ok(signed) => {
                *state.checkpoint_signed.lock().await = (signed.size, Instant::now());
                tracing::debug!(size = signed.size, "checkpoint signed");
            }
            Err(p) => tracing::warn!(detail = %p.detail, "checkpoint failed"),
        }
    }
}
