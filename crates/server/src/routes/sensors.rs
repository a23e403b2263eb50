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

/// `GET /v1/sensors/{id}/health`: what the residuals of the sensor's arrivals in final
/// events say (healthy, a clock offset and its estimate, inconsistent, or unknown), at the
/// size of the latest results.
pub async fn health(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = allowed(&state, &headers, Scope::Read) {
        return e.into_response();
    }
    let results = state.results.borrow().clone();
    let size = results.as_ref().map_or(0, |r| r.size);
    if let Some(h) = results
        .as_ref()
        .and_then(|r| r.health.iter().find(|h| h.sensor == id))
    {
        let mut body = json!(h);
        body["size"] = json!(size);
        return Json(body).into_response();
    }
    let store = state.store.clone();
    let lookup = id.clone();
    let known = match tokio::task::spawn_blocking(move || store.read(|r| r.sensor(&lookup))).await {
        Ok(Ok(found)) => found.is_some(),
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    if !known {
        return ApiError::new(ProblemType::NotFound, format!("no sensor {id}")).into_response();
    }
    Json(json!({
        "sensor": id,
        "size": size,
        "residuals": 0,
        "state": "unknown",
        "reason": "no arrival of this sensor in a final event yet",
    }))
    .into_response()
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
