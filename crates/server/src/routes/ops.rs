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

#[cfg(test)]
mod tests {
    use super::OPENAPI;

    /// Every path the router serves (read from its source) is in the OpenAPI document.
    #[test]
    fn every_route_is_documented() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let source = include_str!("../lib.rs");
        let routes: Vec<&str> = source
            .split(".route(")
            .skip(1)
            .filter_map(|rest| rest.trim_start().strip_prefix('"')?.split('"').next())
            .collect();
        assert!(routes.len() >= 10, "found only {routes:?}");
        for route in routes {
            let documented = match route {
                "/tile/{*path}" => {
                    paths.contains_key("/tile/{level}/{index}")
                        && paths.contains_key("/tile/entries/{index}")
                }
                other => paths.contains_key(other),
            };
            assert!(documented, "{route} is not in openapi.json");
        }
    }
}
