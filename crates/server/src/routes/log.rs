//! The log's public face: checkpoint, tiles (C2SP tlog-tiles), proofs and entries.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use truce_ledger::{
    TILE_HEIGHT, TILE_WIDTH, TileKind, TilePath, consistency_proof, inclusion_proof, leaf_hash,
};
use truce_model::envelope::decode_base64;
use truce_model::{Entry, EntryKind, Envelope, ProblemType};
use truce_store::Store;

use super::b64;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// Runs a read on the blocking pool.
async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(ApiError::internal)?
}

pub async fn checkpoint(State(state): State<AppState>) -> Response {
    let signed = state.sequencer.latest_checkpoint();
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        signed.note,
    )
        .into_response()
}

pub async fn tile(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    let path = format!("tile/{rest}");
    let tile = TilePath::parse(&path)
        .map_err(|e| ApiError::new(ProblemType::NotFound, format!("{path}: {e}")))?;
    let not_found = move || {
        ApiError::new(
            ProblemType::NotFound,
            format!("{path} is not in the log yet"),
        )
    };
    let width = u64::from(tile.width);
    let start = tile.index * TILE_WIDTH;
    let body = read(&state, move |store| {
        store
            .read(|r| {
                Ok(match tile.kind {
                    TileKind::Hash { level } => {
                        let height = u32::from(level) * u32::from(TILE_HEIGHT);
                        match u8::try_from(height) {
                            Ok(h) => {
                                let row = r.row(h, start, width)?;
                                (row.len() as u64 == width).then(|| row.concat())
                            }
                            Err(_) => None,
                        }
                    }
                    TileKind::Entries => r.entry_bundle(tile.index, width)?,
                })
            })
            .map_err(ApiError::from)
    })
    .await?
    .ok_or_else(not_found)?;
    let cache = if tile.is_full() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct InclusionQuery {
    index: u64,
    tree_size: u64,
}

pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Json<Value>, ApiError> {
    let size = state.sequencer.size();
    if q.tree_size > size || q.index >= q.tree_size {
        return Err(ApiError::new(
            ProblemType::BadRequest,
            format!(
                "need index < tree_size <= {size} (the log's size); got index {} and tree_size {}",
                q.index, q.tree_size
            ),
        ));
    }
    let (leaf, proof) = read(&state, move |store| {
        store
            .read(|r| {
                let leaf = r.row(0, q.index, 1)?;
                let proof = inclusion_proof(q.index, q.tree_size, r)
                    .map_err(|e| truce_store::StoreError::Corrupt(e.to_string()))?;
                Ok((leaf, proof))
            })
            .map_err(ApiError::from)
    })
    .await?;
    let leaf = leaf
        .first()
        .ok_or_else(|| ApiError::internal("leaf missing"))?;
    Ok(Json(json!({
        "index": q.index,
        "tree_size": q.tree_size,
        "leaf_hash": b64(leaf),
        "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    let size = state.sequencer.size();
    if q.from > q.to || q.to > size {
        return Err(ApiError::new(
            ProblemType::BadRequest,
            format!(
                "need from <= to <= {size} (the log's size); got from {} and to {}",
                q.from, q.to
            ),
        ));
    }
    let proof = read(&state, move |store| {
        store
            .read(|r| {
                consistency_proof(q.from, q.to, r)
                    .map_err(|e| truce_store::StoreError::Corrupt(e.to_string()))
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({
        "from": q.from,
        "to": q.to,
        "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
    })))
}

pub async fn entry(
    State(state): State<AppState>,
    ApiPath(index): ApiPath<u64>,
) -> Result<Json<Value>, ApiError> {
    let data = read(&state, move |store| {
        store.read(|r| r.entry(index)).map_err(ApiError::from)
    })
    .await?
    .ok_or_else(|| ApiError::new(ProblemType::NotFound, format!("no entry {index}")))?;
    Ok(Json(entry_view(index, &data)))
}

/// The JSON view of an entry: its raw bytes and what they decode to.
pub fn entry_view(index: u64, data: &[u8]) -> Value {
    let mut view = json!({
        "index": index,
        "leaf_hash": b64(&leaf_hash(data)),
        "entry": b64(data),
    });
    let Ok(entry) = Entry::decode(data) else {
        return view;
    };
    view["kind"] = json!(entry.kind.tag());
    view["version"] = json!(entry.version);
    match entry.kind {
        EntryKind::Observation | EntryKind::Action => {
            if let Ok(envelope) = serde_json::from_slice::<Envelope>(entry.body) {
                let payload = decode_base64(&envelope.payload)
                    .ok()
                    .and_then(|p| serde_json::from_slice::<Value>(&p).ok());
                view["envelope"] = json!(envelope);
                let key = if entry.kind == EntryKind::Action {
                    "action"
                } else {
                    "observation"
                };
                view[key] = payload.unwrap_or(Value::Null);
            }
        }
        EntryKind::SensorRegistration | EntryKind::KeyRevocation => {
            if entry.version >= 2 {
                view["envelope"] = serde_json::from_slice(entry.body).unwrap_or(Value::Null);
            }
            view["record"] = entry
                .sensor_record()
                .ok()
                .and_then(|e| serde_json::from_slice(&e.record).ok())
                .unwrap_or(Value::Null);
        }
    }
    view
}
