//! What the dashboard reads besides events and findings: the agreement as GeoJSON, the
//! log's identity, and who the caller is.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use truce_commission::roles::{Role, Scope};
use truce_model::ProblemType;

use super::commission::caller;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /v1/agreement`: the agreement the server judges against, as GeoJSON (its line,
/// areas, zones, sites and windows, with the clauses). Public, like the agreement itself.
pub async fn agreement(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(agreement) = state.agreement.clone() else {
        return Err(ApiError::new(
            ProblemType::NotFound,
            "this server judges against no agreement (truce serve --agreement FILE)",
        ));
    };
    let map = state.agreement_map.clone();
    let text: Arc<str> = tokio::task::spawn_blocking(move || {
        map.get_or_init(|| Arc::from(agreement.geojson().to_string()))
            .clone()
    })
    .await
    .map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/geo+json")],
        text.to_string(),
    )
        .into_response())
}

/// `GET /v1/log`: the log's origin and verifier key, for a client that checks checkpoints
/// and proofs (an auditor should take the key from elsewhere, as `truce verify` does).
pub async fn log(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "origin": state.sequencer.latest_checkpoint().note.lines().next(),
        "vkey": &*state.vkey,
    }))
}

/// `GET /v1/me`: the caller's account and what its role may do.
pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let account = caller(&state, &headers)?;
    let scopes: Vec<&str> = [
        (Scope::Read, "read"),
        (Scope::Administer, "administer"),
        (Scope::Review, "review"),
        (Scope::Allege, "allege"),
        (Scope::Rule, "rule"),
        (Scope::Answer, "answer"),
        (Scope::Report, "report"),
    ]
    .into_iter()
    .filter(|(scope, _)| account.role.may(*scope))
    .map(|(_, name)| name)
    .collect();
    Ok(Json(json!({
        "account": account,
        "admin": account.role == Role::Admin,
        "scopes": scopes,
    })))
}
