//! Query and path extractors whose rejections are problem documents (RFC 9457), like every
//! other refusal of the API: axum's own answer with `text/plain`.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use truce_model::ProblemType;

use crate::error::ApiError;

/// `Query<T>`, refused as `invalid-field`.
pub struct ApiQuery<T>(pub T);

/// `Path<T>`, refused as `not-found` (a path that names nothing the API has).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| ApiQuery(t))
            .map_err(|e| ApiError::new(ProblemType::InvalidField, e.body_text()))
    }
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| ApiError::new(ProblemType::NotFound, e.body_text()))
    }
}
