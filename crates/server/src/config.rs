//! Server settings: defaults, an optional TOML file (unknown keys are errors), then
//! environment variables and flags (applied by the binary) on top.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every setting of `truce serve`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Where the log, its key and the registry live.
    pub data: PathBuf,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The admin token; when absent, one is generated and kept in `DATA/admin.token`.
    pub admin_token: Option<String>,
    /// The log's origin line (and its key's name), fixed when the log is created; by default
    /// the stored one, or `truce.local/log` for a new log.
    pub origin: Option<String>,
    /// How often a new checkpoint is signed when the log has grown, in milliseconds.
    pub checkpoint_interval_ms: u64,
    /// The most items one NDJSON request may carry.
    pub max_batch_items: usize,
    /// The largest request body, in bytes (observations and blobs).
    pub max_body_bytes: usize,
    /// The largest body of any other request (accounts, actions, registrations), in bytes.
    pub max_json_body_bytes: usize,
    /// The request bodies held in memory at once, all requests together, in bytes: a
    /// request whose body would pass it waits (and its client with it) until others are done.
    pub body_budget_bytes: usize,
    /// The most HTTP connections open at once (lowered to what the file-descriptor limit
    /// allows); at the cap, the oldest connection waiting for a request is closed.
    pub max_connections: usize,
    /// Seconds a connection may take to send a request's headers, counted from when it
    /// starts waiting for them (so idle keep-alive connections close after as long).
    pub header_timeout_s: f64,
    /// Seconds without a byte moving either way after which a connection is closed.
    pub idle_timeout_s: f64,
    /// Seconds within which a request must be answered (a live stream, once started, runs on).
    pub request_timeout_s: f64,
    /// Seconds in-flight requests get to finish once a shutdown begins.
    pub shutdown_grace_s: f64,
    /// How far in the future an observation's times may lie, in seconds.
    pub max_future_skew_s: f64,
    /// The most entries the sequencer commits in one transaction.
    pub max_commit_entries: usize,
    /// The ceasefire agreement (TOML) findings are judged against; without one, the server
    /// computes events only.
    pub agreement: Option<PathBuf>,
    /// The guarantees file (TOML: the Commission's quorum, the guarantors' commitments and
    /// their triggers); without one, a ruling needs one vote and nothing escalates.
    pub guarantees: Option<PathBuf>,
    /// How often the outbox of webhook notifications is looked at, in milliseconds.
    pub webhook_poll_ms: u64,
    /// The wait before the first retry of a failed delivery (doubling each time, at most
    /// ten minutes), in milliseconds.
    pub webhook_retry_base_ms: u64,
    /// An MQTT broker to take observations from (`mqtt://host[:port]`); none by default.
    pub mqtt_url: Option<String>,
    /// The topic filter to subscribe to.
    pub mqtt_topic: String,
    /// The MQTT client id: the broker keeps this session's unacknowledged messages.
    pub mqtt_client_id: String,
    /// Where to serve Cursor-on-Target to TAK clients (TCP); nowhere by default.
    pub cot_listen: Option<SocketAddr>,
    /// The CoT adapter's keys, `{sensor id: private key text}`: detections from these
    /// (registered drone, camera and radar) sensors are signed with them and logged.
    pub cot_keys: Option<PathBuf>,
    /// Where to serve CoT over TLS with client certificates (the certificate's CN names the
    /// account); needs `cot_tls_cert`, `cot_tls_key` and `cot_tls_client_ca`.
    pub cot_tls_listen: Option<SocketAddr>,
    /// The TLS listener's certificate chain (PEM).
    pub cot_tls_cert: Option<PathBuf>,
    /// The TLS listener's private key (PEM).
    pub cot_tls_key: Option<PathBuf>,
    /// The certificate authorities (PEM) whose client certificates the TLS listener takes.
    pub cot_tls_client_ca: Option<PathBuf>,
    /// Where to take CoT detections as UDP datagrams (XML or TAK mesh protobuf): a unicast
    /// address, or a multicast group such as TAK's 239.2.3.1:6969; nowhere by default.
    pub cot_udp: Option<SocketAddr>,
    /// The local interface (its IPv4 address) a multicast `cot_udp` group is joined on.
    pub cot_udp_interface: Ipv4Addr,
    /// The networks UDP datagrams are taken from (`10.0.0.0/8`, or one address).
    pub cot_udp_allow: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("truce-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            admin_token: None,
            origin: None,
            checkpoint_interval_ms: 1000,
            max_batch_items: 10_000,
            max_body_bytes: 32 * 1024 * 1024,
            max_json_body_bytes: 1024 * 1024,
            body_budget_bytes: 96 * 1024 * 1024,
            max_connections: 1024,
            header_timeout_s: 10.0,
            idle_timeout_s: 60.0,
            request_timeout_s: 120.0,
            shutdown_grace_s: 10.0,
            max_future_skew_s: 5.0,
            max_commit_entries: 50_000,
            agreement: None,
            guarantees: None,
            webhook_poll_ms: 500,
            webhook_retry_base_ms: 1000,
            mqtt_url: None,
            mqtt_topic: "truce/+/observations".into(),
            mqtt_client_id: "truce-ingest".into(),
            cot_listen: None,
            cot_keys: None,
            cot_tls_listen: None,
            cot_tls_cert: None,
            cot_tls_key: None,
            cot_tls_client_ca: None,
            cot_udp: None,
            cot_udp_interface: Ipv4Addr::UNSPECIFIED,
            cot_udp_allow: crate::cot::udp::DEFAULT_ALLOW
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl ServerConfig {
    /// The HTTP edge's limits.
    pub fn edge_limits(&self) -> crate::edge::Limits {
        crate::edge::Limits {
            max_connections: self.max_connections,
            header_timeout: std::time::Duration::from_secs_f64(self.header_timeout_s),
            idle_timeout: std::time::Duration::from_secs_f64(self.idle_timeout_s),
            request_timeout: std::time::Duration::from_secs_f64(self.request_timeout_s),
            shutdown_grace: std::time::Duration::from_secs_f64(self.shutdown_grace_s),
        }
    }

    /// Reads a TOML file; unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks the settings make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, message: &str| {
            Err(ConfigError::Invalid {
                field,
                message: message.to_string(),
            })
        };
        if self.checkpoint_interval_ms == 0 {
            return invalid("checkpoint_interval_ms", "must be at least 1");
        }
        if self.max_batch_items == 0 {
            return invalid("max_batch_items", "must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            return invalid("max_body_bytes", "must be at least 1024");
        }
        if self.max_json_body_bytes < 1024 {
            return invalid("max_json_body_bytes", "must be at least 1024");
        }
        if self.body_budget_bytes < self.max_body_bytes {
            return invalid(
                "body_budget_bytes",
                "must be at least max_body_bytes (one largest body must fit)",
            );
        }
        if self.max_connections == 0 {
            return invalid("max_connections", "must be at least 1");
        }
        for (field, value) in [
            ("header_timeout_s", self.header_timeout_s),
            ("idle_timeout_s", self.idle_timeout_s),
            ("request_timeout_s", self.request_timeout_s),
            ("shutdown_grace_s", self.shutdown_grace_s),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
                return invalid(field, "must be a number of seconds above 0, at most a day");
            }
        }
        if !(self.max_future_skew_s.is_finite() && self.max_future_skew_s >= 0.0) {
            return invalid("max_future_skew_s", "must be a non-negative number");
        }
        if self.max_commit_entries == 0 {
            return invalid("max_commit_entries", "must be at least 1");
        }
        if let Some(token) = &self.admin_token
            && token.len() < 16
        {
            return invalid("admin_token", "must be at least 16 characters");
        }
        if let Some(origin) = &self.origin
            && truce_ledger::NoteSigner::new(origin, [0; 32]).is_err()
        {
            return invalid("origin", "must be a valid note key name (no spaces or '+')");
        }
        if let Some(addr) = self.cot_listen
            && !addr.ip().is_loopback()
        {
            return invalid(
                "cot_listen",
                "plain TCP, where a token is sent in the clear, is for loopback only \
                 (127.0.0.1 or ::1); serve other networks over TLS (cot_tls_listen)",
            );
        }
        if self.cot_tls_listen.is_some() {
            for (field, value) in [
                ("cot_tls_cert", &self.cot_tls_cert),
                ("cot_tls_key", &self.cot_tls_key),
                ("cot_tls_client_ca", &self.cot_tls_client_ca),
            ] {
                if value.is_none() {
                    return invalid(field, "is needed by cot_tls_listen");
                }
            }
        }
        if self.cot_udp.is_some() && self.cot_keys.is_none() {
            return invalid(
                "cot_udp",
                "takes detections only for sensors whose keys the adapter holds: set cot_keys",
            );
        }
        if let Err(message) = crate::cot::udp::allowed_networks(&self.cot_udp_allow) {
            return invalid("cot_udp_allow", &message);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors() {
        let err = ServerConfig::from_toml("listen = \"127.0.0.1:1\"\nlisten_port = 3").unwrap_err();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn file_values_override_defaults() {
        let c =
            ServerConfig::from_toml("checkpoint_interval_ms = 250\norigin = \"example.org/log\"")
                .unwrap();
        assert_eq!(c.checkpoint_interval_ms, 250);
        assert_eq!(c.origin.as_deref(), Some("example.org/log"));
        assert_eq!(c.max_batch_items, ServerConfig::default().max_batch_items);
        c.validate().unwrap();
    }

    #[test]
    fn the_tls_listener_needs_its_files_and_udp_its_networks() {
        let c = ServerConfig::from_toml("cot_listen = \"0.0.0.0:8087\"").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("loopback only"), "{err}");
        let c = ServerConfig::from_toml("cot_listen = \"[::1]:8087\"").unwrap();
        c.validate().unwrap();
        let c = ServerConfig::from_toml(
            "cot_tls_listen = \"127.0.0.1:8089\"\ncot_tls_cert = \"s.pem\"",
        )
        .unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("cot_tls_key"), "{err}");
        let c = ServerConfig::from_toml("cot_udp = \"127.0.0.1:4242\"").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("cot_keys"), "{err}");
        let c = ServerConfig::from_toml("cot_udp_allow = [\"10.0.0.0/8\", \"lan\"]").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("\"lan\""), "{err}");
    }
}
