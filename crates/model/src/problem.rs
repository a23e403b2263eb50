//! RFC 9457 problem details with truce's stable problem types.

use serde::{Deserialize, Serialize};

use crate::fields::FieldError;

/// Every problem truce reports. The `type` URI (`urn:truce:problem:<slug>`) is stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemType {
    MalformedJson,
    BadBase64,
    BadPayloadType,
    InvalidField,
    TimeInFuture,
    UnknownSensor,
    KindNotAllowed,
    BadSignature,
    KeyRevoked,
    Replay,
    BodyTooLarge,
    TooManyItems,
    EntryTooLarge,
    UnsupportedMediaType,
    Unauthorized,
    NotFound,
    BadRequest,
    SensorExists,
    /// The caller's role or binding does not allow the action.
    Forbidden,
    /// The action contradicts the state (already done, not yet possible).
    Conflict,
    Unavailable,
    Internal,
}

impl ProblemType {
    pub const ALL: [ProblemType; 22] = [
        Self::MalformedJson,
        Self::BadBase64,
        Self::BadPayloadType,
        Self::InvalidField,
        Self::TimeInFuture,
        Self::UnknownSensor,
        Self::KindNotAllowed,
        Self::BadSignature,
        Self::KeyRevoked,
        Self::Replay,
        Self::BodyTooLarge,
        Self::TooManyItems,
        Self::EntryTooLarge,
        Self::UnsupportedMediaType,
        Self::Unauthorized,
        Self::NotFound,
        Self::BadRequest,
        Self::SensorExists,
        Self::Forbidden,
        Self::Conflict,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The short name, used in the type URI and as a metrics label.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed-json",
            Self::BadBase64 => "bad-base64",
            Self::BadPayloadType => "bad-payload-type",
            Self::InvalidField => "invalid-field",
            Self::TimeInFuture => "time-in-future",
            Self::UnknownSensor => "unknown-sensor",
            Self::KindNotAllowed => "kind-not-allowed",
            Self::BadSignature => "bad-signature",
            Self::KeyRevoked => "key-revoked",
            Self::Replay => "replay",
            Self::BodyTooLarge => "body-too-large",
            Self::TooManyItems => "too-many-items",
            Self::EntryTooLarge => "entry-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not-found",
            Self::BadRequest => "bad-request",
            Self::SensorExists => "sensor-exists",
            Self::Forbidden => "forbidden",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn uri(&self) -> String {
        format!("urn:truce:problem:{}", self.slug())
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        let slug = uri.strip_prefix("urn:truce:problem:")?;
        Self::ALL.into_iter().find(|t| t.slug() == slug)
    }

    /// The HTTP status this problem carries.
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedJson | Self::BadBase64 | Self::BadPayloadType | Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::KeyRevoked | Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::Replay | Self::SensorExists | Self::Conflict => 409,
            Self::BodyTooLarge | Self::TooManyItems | Self::EntryTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::InvalidField
            | Self::TimeInFuture
            | Self::UnknownSensor
            | Self::KindNotAllowed
            | Self::BadSignature => 422,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Self::MalformedJson => "Malformed JSON",
            Self::BadBase64 => "Bad base64",
            Self::BadPayloadType => "Unsupported DSSE payload type",
            Self::InvalidField => "Invalid field",
            Self::TimeInFuture => "Time too far in the future",
            Self::UnknownSensor => "Unknown sensor",
            Self::KindNotAllowed => "Observation kind not allowed for this sensor",
            Self::BadSignature => "Bad signature",
            Self::KeyRevoked => "Sensor key revoked",
            Self::Replay => "Sequence number reused",
            Self::BodyTooLarge => "Request body too large",
            Self::TooManyItems => "Too many items in batch",
            Self::EntryTooLarge => "Entry too large for the log",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "Not found",
            Self::BadRequest => "Bad request",
            Self::SensorExists => "Sensor already registered",
            Self::Forbidden => "Forbidden for this account",
            Self::Conflict => "Conflicts with the current state",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal error",
        }
    }
}

/// An RFC 9457 problem details object, with truce's extension members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The JSON path of the field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// In a batch: the zero-based index of the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Every invalid field, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One invalid field inside a problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            type_uri: kind.uri(),
            title: kind.title().to_string(),
            status: kind.status(),
            detail: detail.into(),
            field: None,
            index: None,
            errors: Vec::new(),
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// A problem for a list of invalid fields: the first is the field at fault, all are listed.
    pub fn fields(kind: ProblemType, errors: &[FieldError]) -> Self {
        let first = errors
            .first()
            .cloned()
            .unwrap_or_else(|| FieldError::new("", "invalid"));
        let mut problem =
            Self::new(kind, format!("{} {}", first.field, first.message)).with_field(first.field);
        if errors.len() > 1 {
            problem.errors = errors
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect();
        }
        problem
    }

    /// The problem type, when it is one of truce's.
    pub fn kind(&self) -> Option<ProblemType> {
        ProblemType::from_uri(&self.type_uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_uris_round_trip_and_are_unique() {
        let mut slugs: Vec<_> = ProblemType::ALL.iter().map(|t| t.slug()).collect();
        for t in ProblemType::ALL {
            assert_eq!(ProblemType::from_uri(&t.uri()), Some(t));
        }
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), ProblemType::ALL.len());
    }
}
