//! The HTTP API. Handlers are thin: parse, call the domain, map the result.

pub mod commission;
pub mod log;
pub mod observations;
pub mod ops;
pub mod results;
pub mod sensors;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;
use truce_model::ProblemType;

use crate::error::ApiError;
use crate::state::AppState;

/// Requires `Authorization: Bearer <admin token>`, compared in constant time.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = state.admin_token.as_bytes();
    if bool::from(presented.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(ApiError::new(
            ProblemType::Unauthorized,
            "this operation needs the admin token as `Authorization: Bearer <token>`",
        ))
    }
}

/// Base64 (standard, padded) of a hash, as the API writes hashes.
pub fn b64(bytes: &[u8]) -> String {
    truce_model::envelope::encode_base64(bytes)
}
