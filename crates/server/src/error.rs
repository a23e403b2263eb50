//! One error type for every handler: an RFC 9457 problem, sent as `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use truce_model::{Problem, ProblemType};

/// A handler's failure, answered as problem details.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self(Problem::new(kind, detail))
    }

    /// Names the field (or query parameter) at fault.
    pub fn field(self, field: impl Into<String>) -> Self {
        Self(self.0.with_field(field))
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            ProblemType::Internal,
            "internal error; see the server's log",
        )
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        Self(p)
    }
}

impl From<truce_store::StoreError> for ApiError {
    fn from(e: truce_store::StoreError) -> Self {
        Self::internal(e)
    }
}

/// The problem+json response for a problem.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_response(&self.0)
    }
}
