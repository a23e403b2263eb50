//! The HTTP API. Handlers are thin: parse, call the domain, map the result.

pub mod bulletins;
pub mod commission;
pub mod dashboard;
pub mod guard;
pub mod log;
pub mod observations;
pub mod ops;
pub mod results;
pub mod sensors;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// The bearer token of a request (empty when there is none).
pub fn bearer(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

/// Whether `token` is the configured admin token, compared in constant time.
pub fn is_admin_token(state: &AppState, token: &str) -> bool {
    bool::from(token.as_bytes().ct_eq(state.admin_token.as_bytes()))
}

/// Base64 (standard, padded) of a hash, as the API writes hashes.
pub fn b64(bytes: &[u8]) -> String {
    truce_model::envelope::encode_base64(bytes)
}
