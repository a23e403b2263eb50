//! The sensor registry: register and revoke (admin; the entry names the account that did
//! it), list and show (public).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use truce_commission::roles::Scope;
use truce_model::{Problem, ProblemType, SensorRecord, SensorRegistration};

use super::commission::allowed;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(ProblemType::MalformedJson, format!("not JSON: {e}")))?;
    let registration = SensorRegistration::from_value(&value)
        .map_err(|errors| ApiError(Problem::fields(ProblemType::InvalidField, &errors)))?;
    let (record, existed) = state
        .sequencer
        .register(registration, state.clock.now(), &admin.id)
        .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({"log_index": record.registered_index, "sensor": record})),
    )
        .into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let admin = allowed(&state, &headers, Scope::Administer)?;
    let reason = if body.is_empty() {
        None
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ProblemType::MalformedJson, format!("not JSON: {e}")))?;
        value
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (record, _) = state
        .sequencer
        .revoke(id, reason, state.clock.now(), &admin.id)
        .await?;
    Ok(Json(json!({"log_index": record.revoked_index, "sensor": record})).into_response())
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<SensorRecord>>, ApiError> {
    let store = state.store.clone();
    let sensors = tokio::task::spawn_blocking(move || store.read(|r| r.sensors()))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(sensors))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SensorRecord>, ApiError> {
    let store = state.store.clone();
    let lookup = id.clone();
    let sensor = tokio::task::spawn_blocking(move || store.read(|r| r.sensor(&lookup)))
        .await
        .map_err(ApiError::internal)??;
    sensor
        .map(Json)
        .ok_or_else(|| ApiError::new(ProblemType::NotFound, format!("no sensor {id}")))
}
