//! A small HTTP client for truce's API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::Value;

/// A client of one truce server, or of a directory mirroring a log's checkpoint and tiles.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Sent as `Authorization: Bearer` with every GET, when set.
    token: Option<String>,
    /// Reads come from this directory instead (`checkpoint` and `tile/...` files).
    mirror: Option<PathBuf>,
}

impl Client {
    /// A client of `url`; a path to a directory (not `http://` or `https://`) is read as a
    /// mirror of the log: its `checkpoint` and tiles, as `truce verify --save` writes them.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .context("cannot build the HTTP client")?;
        let remote = url.starts_with("http://") || url.starts_with("https://");
        let mirror = (!remote).then(|| PathBuf::from(url));
        if let Some(dir) = &mirror
            && !dir.is_dir()
        {
            bail!("{url} is neither an http(s) URL nor a directory");
        }
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_string(),
            token: None,
            mirror,
        })
    }

    /// The same client, reading with an account's token (the Commission's routes and the
    /// results need one).
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// GETs `path`; `None` on 404 (in a mirror: no such file).
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(dir) = &self.mirror {
            let relative = path.trim_start_matches('/');
            if !(relative == "checkpoint" || relative.starts_with("tile/")) {
                bail!(
                    "{}: a mirror holds the checkpoint and the tiles only, not {path} (use the log's URL)",
                    dir.display()
                );
            }
            return match tokio::fs::read(dir.join(relative)).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => {
                    Err(e).with_context(|| format!("reading {relative} in {}", dir.display()))
                }
            };
        }
        let url = self.url(path);
        let mut request = self.http.get(&url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = response.status();
        let body = response.bytes().await?.to_vec();
        if !status.is_success() {
            bail!("GET {url}: {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(Some(body))
    }

    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let bytes = self
            .get_bytes(path)
            .await?
            .with_context(|| format!("GET {}: not found", self.url(path)))?;
        String::from_utf8(bytes).context("response is not UTF-8")
    }

    pub async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        let text = self.get_text(path).await?;
        serde_json::from_str(&text).with_context(|| format!("GET {}: not JSON", self.url(path)))
    }

    /// Sends a request body and returns the status and the JSON answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        token: Option<&str>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let url = self.url(path);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// An admin request with a JSON body; the JSON answer, or an error naming the status.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        token: &str,
    ) -> anyhow::Result<Value> {
        let (status, value) = self
            .send(method.clone(), path, "application/json", body, Some(token))
            .await?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {value}");
        }
        Ok(value)
    }

    /// POSTs a ready NDJSON body of envelopes; the status and the answer's bytes, unparsed.
    pub async fn submit_body(&self, body: Vec<u8>) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let url = self.url("/v1/observations");
        let response = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status();
        Ok((status, response.bytes().await?.to_vec()))
    }

    /// POSTs envelopes as NDJSON and returns the per-item results.
    pub async fn submit(&self, envelopes: &[Vec<u8>]) -> anyhow::Result<Value> {
        let mut body = Vec::with_capacity(envelopes.iter().map(|e| e.len() + 1).sum());
        for e in envelopes {
            body.extend_from_slice(e);
            body.push(b'\n');
        }
        // A 503 (the server at its limits, or restarting) is sent again after a growing
        // wait: a batch is idempotent, each item answered with its index if already logged.
        let mut wait = std::time::Duration::from_millis(250);
        let (status, value) = loop {
            let (status, value) = self
                .send(
                    reqwest::Method::POST,
                    "/v1/observations",
                    "application/x-ndjson",
                    body.clone(),
                    None,
                )
                .await?;
            if status != StatusCode::SERVICE_UNAVAILABLE
                || wait > std::time::Duration::from_secs(16)
            {
                break (status, value);
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        };
        if status != StatusCode::OK {
            bail!("POST /v1/observations: {status}: {value}");
        }
        Ok(value)
    }
}
