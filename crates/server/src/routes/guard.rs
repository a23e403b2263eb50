//! What every request passes before a handler reads its body: the caller is authenticated
//! and the declared size checked first, so that nobody without a token can make the server
//! read (or hold) a byte of a body; and rejections of axum's own extractors (bad JSON, a
//! missing content type) are answered as problem+json like every other refusal.
//!
//! Two routes read their bodies themselves, under the shared body budget:
//! `POST /v1/observations`, which sensors sign rather than authenticate with a token, and
//! `POST /v1/blobs`, which authenticates and then streams to disk.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use truce_model::ProblemType;

use crate::error::ApiError;
use crate::state::AppState;

/// Routes that read their own bodies (see the module's documentation).
fn reads_own_body(path: &str) -> bool {
    path == "/v1/observations" || path == "/v1/blobs"
}

/// The declared length of a request's body, if any.
pub fn declared_length(request_headers: &axum::http::HeaderMap) -> Option<u64> {
    request_headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The middleware: see the module's documentation.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if !safe && !reads_own_body(request.uri().path()) {
        if let Err(e) = super::commission::caller(&state, request.headers()) {
            return e.into_response();
        }
        let limit = state.config.max_json_body_bytes;
        if declared_length(request.headers()).is_some_and(|n| n > limit as u64) {
            return ApiError::new(
                ProblemType::BodyTooLarge,
                format!("the body exceeds {limit} bytes"),
            )
            .into_response();
        }
    }
    as_problem(next.run(request).await).await
}

/// A plain-text refusal (from an extractor) rewritten as problem+json.
async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !status.is_client_error() || !plain {
        return response;
    }
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ProblemType::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemType::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ProblemType::InvalidField,
        StatusCode::NOT_FOUND => ProblemType::NotFound,
        StatusCode::UNAUTHORIZED => ProblemType::Unauthorized,
        StatusCode::FORBIDDEN => ProblemType::Forbidden,
        StatusCode::CONFLICT => ProblemType::Conflict,
        StatusCode::BAD_REQUEST => ProblemType::BadRequest,
        _ => return response,
    };
    // Extractor messages are short; a longer body is cut rather than read whole.
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        kind.title().to_string()
    } else {
        text
    };
    ApiError::new(kind, detail).into_response()
}

/// A body's bytes counted against the shared budget as they arrive, and refused past
/// `limit`. The permits are held until the returned value is dropped.
pub struct Budgeted {
    pub bytes: axum::body::Bytes,
    _permits: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// How long a request that holds part of the body budget waits for more.
const BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads a whole body under `limit` and the shared budget, showing `on_data` each piece as
/// it arrives (it may refuse early, as the NDJSON item count does).
pub async fn read_budgeted(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
    mut on_data: impl FnMut(&[u8]) -> Result<(), ApiError>,
) -> Result<Budgeted, ApiError> {
    use futures_util::StreamExt;
    let too_large = || {
        ApiError::new(
            ProblemType::BodyTooLarge,
            format!("the body exceeds {limit} bytes"),
        )
    };
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // Allocated as the bytes come, never ahead on a client's word.
    let mut buffer: Vec<u8> = Vec::new();
    let mut permits: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut stream = body.into_data_stream();
    while let Some(data) = stream.next().await {
        let data = data.map_err(|e| ApiError::new(ProblemType::BadRequest, e.to_string()))?;
        if buffer.len() + data.len() > limit {
            return Err(too_large());
        }
        let needed = buffer.len() + data.len();
        if needed > buffer.capacity() {
            // Grown by doubling as the bytes come (never ahead on a declared length, which
            // a slow client could hold without sending), every byte of capacity taken from
            // the budget before it is allocated.
            let capacity = needed.max(buffer.capacity() * 2).min(limit).max(needed);
            let held = permits.as_ref().map_or(0, |p| p.num_permits());
            let extra = u32::try_from(capacity.saturating_sub(held)).map_err(|_| too_large())?;
            // Holding nothing, a request waits its turn (within the connection's idle
            // timeout, since its client is kept waiting); holding some, it waits only a
            // moment for more, since two requests that each hold part of the budget could
            // otherwise wait for each other until their timeouts.
            let idle = std::time::Duration::from_secs_f64(state.config.idle_timeout_s / 2.0);
            let wait = if permits.is_none() {
                idle
            } else {
                BUDGET_WAIT.min(idle)
            };
            let more = state.body_budget.clone().acquire_many_owned(extra);
            let more = match tokio::time::timeout(wait, more).await {
                Ok(permits) => permits.map_err(ApiError::internal)?,
                Err(_) => {
                    return Err(ApiError::new(
                        ProblemType::Unavailable,
                        "the server holds as many request bodies as it may; send again shortly",
                    ));
                }
            };
            match permits.as_mut() {
                Some(p) => p.merge(more),
                None => permits = Some(more),
            }
            buffer.reserve_exact(capacity - buffer.len());
        }
        on_data(&data)?;
        buffer.extend_from_slice(&data);
    }
    Ok(Budgeted {
        bytes: axum::body::Bytes::from(buffer),
        _permits: permits,
    })
}

/// Counts the non-blank lines of an NDJSON body as it arrives, piece by piece.
#[derive(Debug, Default)]
pub struct LineCount {
    /// Complete non-blank lines so far.
    complete: usize,
    /// Whether the line under way has a non-blank byte.
    open_has_content: bool,
}

impl LineCount {
    pub fn push(&mut self, data: &[u8]) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            if self.open_has_content || !data[start..end].iter().all(u8::is_ascii_whitespace) {
                self.complete += 1;
            }
            self.open_has_content = false;
            start = end + 1;
        }
        if !data[start..].iter().all(u8::is_ascii_whitespace) {
            self.open_has_content = true;
        }
    }

    /// The items so far, counting a last line without its newline.
    pub fn items(&self) -> usize {
        self.complete + usize::from(self.open_has_content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_non_blank_lines_across_pieces() {
        let body = b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}";
        for split in 0..body.len() {
            let mut count = LineCount::default();
            count.push(&body[..split]);
            count.push(&body[split..]);
            assert_eq!(count.items(), 3, "split at {split}");
        }
        let mut count = LineCount::default();
        count.push(b"\n \r\n\t\n");
        assert_eq!(count.items(), 0);
    }
}
