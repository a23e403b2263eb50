//! Operations: metrics, the OpenAPI document, health.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The OpenAPI 3.1 document of every endpoint.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn metrics(State(state): State<AppState>) -> Response {
    let (size, signed_at) = *state.checkpoint_signed.lock().await;
    let body = state
        .metrics
        .render(state.sequencer.size(), size, signed_at.elapsed());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn health(State(state): State<AppState>) -> Response {
    axum::Json(serde_json::json!({
        "status": "ok",
        "log_size": state.sequencer.size(),
        "checkpoint_size": state.sequencer.latest_checkpoint().size,
    }))
    .into_response()
}
