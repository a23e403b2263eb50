//! `truce serve`: flags and environment variables over an optional TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use truce_server::{ServerConfig, SystemClock};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML file of settings (unknown keys are errors); flags and environment win over it.
    #[arg(long, env = "TRUCE_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory (log, keys, registry).
    #[arg(long, env = "TRUCE_DATA")]
    data: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, env = "TRUCE_LISTEN")]
    listen: Option<SocketAddr>,
    /// The admin token (default: generated once and kept in DATA/admin.token).
    #[arg(long, env = "TRUCE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The log's origin (name), fixed when the log is created.
    #[arg(long, env = "TRUCE_ORIGIN")]
    origin: Option<String>,
    /// How often to sign a checkpoint when the log grew, in milliseconds.
    #[arg(long, env = "TRUCE_CHECKPOINT_INTERVAL_MS")]
    checkpoint_interval_ms: Option<u64>,
    /// The most items one NDJSON request may carry.
    #[arg(long, env = "TRUCE_MAX_BATCH_ITEMS")]
    max_batch_items: Option<usize>,
    /// The largest request body in bytes.
    #[arg(long, env = "TRUCE_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// How far in the future observation times may lie, in seconds.
    #[arg(long, env = "TRUCE_MAX_FUTURE_SKEW_S")]
    max_future_skew_s: Option<f64>,
    /// The ceasefire agreement the findings are judged against (TOML).
    #[arg(long, env = "TRUCE_AGREEMENT")]
    agreement: Option<PathBuf>,
    /// The guarantees file: the Commission's quorum and the guarantors' commitments (TOML).
    #[arg(long, env = "TRUCE_GUARANTEES")]
    guarantees: Option<PathBuf>,
    /// How often the webhook outbox is looked at, in milliseconds (default 500).
    #[arg(long, env = "TRUCE_WEBHOOK_POLL_MS")]
    webhook_poll_ms: Option<u64>,
    /// The first retry's wait after a failed webhook delivery, doubling each time, in
    /// milliseconds (default 1000).
    #[arg(long, env = "TRUCE_WEBHOOK_RETRY_BASE_MS")]
    webhook_retry_base_ms: Option<u64>,
    /// Take observations from this MQTT broker too (`mqtt://host[:port]`).
    #[arg(long, env = "TRUCE_MQTT_URL")]
    mqtt_url: Option<String>,
    /// The MQTT topic filter (default `truce/+/observations`).
    #[arg(long, env = "TRUCE_MQTT_TOPIC")]
    mqtt_topic: Option<String>,
    /// The MQTT client id, which names the broker's persistent session (default
    /// `truce-ingest`).
    #[arg(long, env = "TRUCE_MQTT_CLIENT_ID")]
    mqtt_client_id: Option<String>,
    /// Serve Cursor-on-Target (events and findings, XML or TAK protobuf) to TAK clients on
    /// this TCP address (loopback only: clients send their token in the clear).
    #[arg(long, env = "TRUCE_COT_LISTEN")]
    cot_listen: Option<SocketAddr>,
    /// The CoT adapter's keys (JSON {sensor id: private key text}): detections from these
    /// registered drone, camera or radar sensors are signed and logged.
    #[arg(long, env = "TRUCE_COT_KEYS")]
    cot_keys: Option<PathBuf>,
    /// Serve CoT over TLS on this address too; clients present a certificate from
    /// `--cot-tls-client-ca` whose common name (CN) is their account id.
    #[arg(long, env = "TRUCE_COT_TLS_LISTEN")]
    cot_tls_listen: Option<SocketAddr>,
    /// The TLS listener's certificate chain (PEM).
    #[arg(long, env = "TRUCE_COT_TLS_CERT")]
    cot_tls_cert: Option<PathBuf>,
    /// The TLS listener's private key (PEM).
    #[arg(long, env = "TRUCE_COT_TLS_KEY")]
    cot_tls_key: Option<PathBuf>,
    /// The certificate authorities (PEM) whose client certificates are taken.
    #[arg(long, env = "TRUCE_COT_TLS_CLIENT_CA")]
    cot_tls_client_ca: Option<PathBuf>,
    /// Take CoT detections as UDP datagrams (XML or TAK mesh protobuf) on this address: a
    /// unicast address, or a multicast group such as 239.2.3.1:6969.
    #[arg(long, env = "TRUCE_COT_UDP")]
    cot_udp: Option<SocketAddr>,
    /// The interface (its IPv4 address) a multicast group is joined on (default 0.0.0.0:
    /// the system's choice).
    #[arg(long, env = "TRUCE_COT_UDP_INTERFACE")]
    cot_udp_interface: Option<std::net::Ipv4Addr>,
    /// The networks UDP datagrams are taken from, comma-separated (default loopback only).
    #[arg(long, env = "TRUCE_COT_UDP_ALLOW", value_delimiter = ',')]
    cot_udp_allow: Option<Vec<String>>,
}

impl ServeArgs {
    /// The settings: defaults, then the file, then environment and flags.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let mut c = match &self.config {
            Some(path) => ServerConfig::from_file(path)?,
            None => ServerConfig::default(),
        };
        if let Some(v) = &self.data {
            c.data = v.clone();
        }
        if let Some(v) = self.listen {
            c.listen = v;
        }
        if let Some(v) = &self.admin_token {
            c.admin_token = Some(v.clone());
        }
        if let Some(v) = &self.origin {
            c.origin = Some(v.clone());
        }
        if let Some(v) = self.checkpoint_interval_ms {
            c.checkpoint_interval_ms = v;
        }
        if let Some(v) = self.max_batch_items {
            c.max_batch_items = v;
        }
        if let Some(v) = self.max_body_bytes {
            c.max_body_bytes = v;
        }
        if let Some(v) = self.max_future_skew_s {
            c.max_future_skew_s = v;
        }
        if let Some(v) = &self.agreement {
            c.agreement = Some(v.clone());
        }
        if let Some(v) = &self.guarantees {
            c.guarantees = Some(v.clone());
        }
        if let Some(v) = self.webhook_poll_ms {
            c.webhook_poll_ms = v;
        }
        if let Some(v) = self.webhook_retry_base_ms {
            c.webhook_retry_base_ms = v;
        }
        if let Some(v) = &self.mqtt_url {
            c.mqtt_url = Some(v.clone());
        }
        if let Some(v) = &self.mqtt_topic {
            c.mqtt_topic = v.clone();
        }
        if let Some(v) = &self.mqtt_client_id {
            c.mqtt_client_id = v.clone();
        }
        if let Some(v) = self.cot_listen {
            c.cot_listen = Some(v);
        }
        if let Some(v) = &self.cot_keys {
            c.cot_keys = Some(v.clone());
        }
        if let Some(v) = self.cot_tls_listen {
            c.cot_tls_listen = Some(v);
        }
        for (value, setting) in [
            (&self.cot_tls_cert, &mut c.cot_tls_cert),
            (&self.cot_tls_key, &mut c.cot_tls_key),
            (&self.cot_tls_client_ca, &mut c.cot_tls_client_ca),
        ] {
            if let Some(v) = value {
                *setting = Some(v.clone());
            }
        }
        if let Some(v) = self.cot_udp {
            c.cot_udp = Some(v);
        }
        if let Some(v) = self.cot_udp_interface {
            c.cot_udp_interface = v;
        }
        if let Some(v) = &self.cot_udp_allow {
            c.cot_udp_allow = v.clone();
        }
        Ok(c)
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let data = config.data.clone();
    let mut server = truce_server::start(config, Arc::new(SystemClock))
        .await
        .context("cannot start the server")?;
    println!("truce log verifier key: {}", server.vkey);
    println!("  (also written to {})", data.join("log.vkey").display());
    println!("listening on http://{}", server.addr);
    if let Some(stop) = server.take_shutdown() {
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop.send(());
        });
    }
    server.wait().await?;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
