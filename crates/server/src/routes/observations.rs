//! `POST /v1/observations`: one DSSE envelope (`application/json`) or many
//! (`application/x-ndjson`, one per line).

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use truce_ingest::{Accepted, SensorKey, check_batch};
use truce_model::{Problem, ProblemType};

use super::b64;
use crate::error::{ApiError, problem_response};
use crate::sequencer::Appended;
use crate::state::AppState;

/// Batches at least this long are checked on several threads.
const PARALLEL_FROM: usize = 64;

#[derive(Debug, Serialize)]
struct ItemResult {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    leaf_hash: Option<LeafHash>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

/// A leaf hash written as base64 without a string of its own: a batch answer has
/// thousands.
#[derive(Debug)]
struct LeafHash([u8; 32]);

impl Serialize for LeafHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        let mut text = [0u8; 44];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(self.0, &mut text)
            .map_err(serde::ser::Error::custom)?;
        let text = std::str::from_utf8(&text[..n]).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

/// The answer to an NDJSON batch.
#[derive(Debug, Serialize)]
struct BatchResponse {
    accepted: usize,
    rejected: usize,
    results: Vec<ItemResult>,
}

enum Shape {
    Single,
    Batch,
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let response = match receive(&state, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(kind) = e.0.kind() {
                state.metrics.rejected(kind);
            }
            e.into_response()
        }
    };
    state.metrics.ingest_latency(started.elapsed());
    response
}

async fn receive(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let shape = match media_type.as_str() {
        "application/json" => Shape::Single,
        "application/x-ndjson" => Shape::Batch,
        other => {
            return Err(ApiError::new(
                ProblemType::UnsupportedMediaType,
                format!(
                    "Content-Type {other:?}: send application/json (one envelope) or application/x-ndjson (one per line)"
                ),
            ));
        }
    };
    // The item count is kept as the body arrives: a body of more lines than a request may
    // carry is refused at the first line too many, before any is split off or parsed.
    let max_items = state.config.max_batch_items;
    let mut count = super::guard::LineCount::default();
    // One envelope longer than any that can be logged is not read at all.
    let limit = match shape {
        Shape::Single => state
            .config
            .max_body_bytes
            .min(truce_ingest::MAX_ENVELOPE_BYTES),
        Shape::Batch => state.config.max_body_bytes,
    };
    let body = super::guard::read_budgeted(state, headers, body, limit, |data| {
        if matches!(shape, Shape::Single) {
            return Ok(());
        }
        count.push(data);
        if count.items() > max_items {
            return Err(ApiError::new(
                ProblemType::TooManyItems,
                format!(
                    "more than {max_items} items; the most one request may carry is {max_items}"
                ),
            ));
        }
        Ok(())
    })
    .await?;
    let items: Vec<Bytes> = match shape {
        Shape::Single => vec![body.bytes.clone()],
        Shape::Batch => lines(&body.bytes),
    };
    let verdicts = check(state, &items).await?;
    let results = append(state, verdicts).await;
    Ok(match shape {
        Shape::Single => single_response(results.into_iter().next()),
        Shape::Batch => batch_response(results),
    })
}

/// Checks items on the blocking pool, split across threads for large batches.
pub(crate) async fn check(
    state: &AppState,
    items: &[Bytes],
) -> Result<Vec<Result<Accepted, Problem>>, ApiError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = if items.len() >= PARALLEL_FROM {
        items.len().div_ceil(threads)
    } else {
        items.len().max(1)
    };
    let now = state.clock.now();
    let policy = state.ingest_policy();
    let mut tasks = Vec::new();
    for (n, part) in items.chunks(chunk).enumerate() {
        let owned: Vec<Bytes> = part.to_vec();
        let registry = state.registry.clone();
        let offset = n * chunk;
        tasks.push(tokio::task::spawn_blocking(move || {
            let refs: Vec<&[u8]> = owned.iter().map(|b| &b[..]).collect();
            let lookup = |id: &str| -> Option<SensorKey> {
                registry.read().ok().and_then(|m| m.get(id).cloned())
            };
            let mut verdicts = check_batch(&refs, &lookup, now, &policy);
            for v in &mut verdicts {
                if let Err(p) = v {
                    p.index = p.index.map(|i| i + offset);
                }
            }
            verdicts
        }));
    }
    let mut verdicts = Vec::with_capacity(items.len());
    for task in tasks {
        verdicts.extend(task.await.map_err(ApiError::internal)?);
    }
    Ok(verdicts)
}

/// One envelope from an adapter (MQTT, Cursor-on-Target) through the same checks as HTTP
/// and appended: `Err` when it could not be checked at all (the server is busy or failing),
/// else its log entry or the problem that refused it.
pub(crate) async fn check_and_append(
    state: &AppState,
    envelope: Bytes,
) -> Result<Result<Appended, Problem>, ApiError> {
    let verdicts = check(state, &[envelope]).await?;
    Ok(append(state, verdicts)
        .await
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(Problem::new(ProblemType::Internal, "nothing appended"))))
}

/// Sends the accepted items to the sequencer; one result per item.
pub(crate) async fn append(
    state: &AppState,
    verdicts: Vec<Result<Accepted, Problem>>,
) -> Vec<Result<Appended, Problem>> {
    let mut accepted = Vec::new();
    let mut positions = Vec::new();
    // `None` until the sequencer answers for the item.
    let mut results: Vec<Option<Result<Appended, Problem>>> = Vec::with_capacity(verdicts.len());
    for (i, v) in verdicts.into_iter().enumerate() {
        match v {
            Ok(a) => {
                positions.push(i);
                accepted.push(a);
                results.push(None);
            }
            Err(p) => results.push(Some(Err(p))),
        }
    }
    if !accepted.is_empty() {
        let appended = state.sequencer.append_observations(accepted).await;
        for (i, r) in positions.into_iter().zip(appended) {
            results[i] = Some(r.map_err(|p| p.with_index(i)));
        }
    }
    let results: Vec<Result<Appended, Problem>> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Problem::new(ProblemType::Internal, "no answer"))))
        .collect();
    let (mut new, mut duplicates) = (0, 0);
    for r in &results {
        match r {
            Ok(a) if a.duplicate => duplicates += 1,
            Ok(_) => new += 1,
            Err(p) => {
                if let Some(kind) = p.kind() {
                    state.metrics.rejected(kind);
                }
            }
        }
    }
    state.metrics.accepted(new, duplicates);
    results
}

fn single_response(result: Option<Result<Appended, Problem>>) -> Response {
    match result {
        Some(Ok(a)) => {
            let status = if a.duplicate {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let body = json!({"log_index": a.index, "leaf_hash": b64(&a.leaf_hash), "duplicate": a.duplicate});
            (status, axum::Json(body)).into_response()
        }
        Some(Err(mut p)) => {
            p.index = None;
            problem_response(&p)
        }
        None => problem_response(&Problem::new(ProblemType::MalformedJson, "empty body")),
    }
}

fn batch_response(results: Vec<Result<Appended, Problem>>) -> Response {
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let rejected = results.len() - accepted;
    let results: Vec<ItemResult> = results
        .into_iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok(a) => ItemResult {
                index,
                log_index: Some(a.index),
                leaf_hash: Some(LeafHash(a.leaf_hash)),
                duplicate: a.duplicate,
                problem: None,
            },
            Err(p) => ItemResult {
                index,
                log_index: None,
                leaf_hash: None,
                duplicate: false,
                problem: Some(p),
            },
        })
        .collect();
    let body = BatchResponse {
        accepted,
        rejected,
        results,
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// The non-blank lines of an NDJSON body (without `\n` or `\r\n`), sharing its buffer.
fn lines(body: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len())) {
        let mut line = &body[start..end];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            out.push(body.slice(start..start + line.len()));
        }
        start = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_leaf_hash_as_the_single_answer_does() {
        let hash: [u8; 32] = std::array::from_fn(|i| (i * 41) as u8);
        let written = serde_json::to_value(LeafHash(hash)).unwrap();
        assert_eq!(written, serde_json::Value::String(b64(&hash)));
    }

    #[test]
    fn splits_ndjson_lines_and_skips_blank_ones() {
        let body = Bytes::from_static(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}");
        let got: Vec<Bytes> = lines(&body);
        assert_eq!(
            got,
            vec![
                Bytes::from_static(b"{\"a\":1}"),
                Bytes::from_static(b"{\"b\":2}"),
                Bytes::from_static(b"{\"c\":3}"),
            ]
        );
        assert!(lines(&Bytes::new()).is_empty());
    }
}
