//! Field-by-field validation of JSON objects that reports every problem with its path.

use serde_json::{Map, Value};

use crate::position::Position;
use crate::time::Timestamp;

/// One problem with one field, named by its JSON path (`data.position.lat`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Reads the fields of one JSON object, collecting a [`FieldError`] for each bad one.
pub(crate) struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    pub(crate) errors: &'a mut Vec<FieldError>,
}

/// A parser of one field's value; the error is a message without the field name.
pub(crate) type Parse<T> = fn(&Value) -> Result<T, String>;

impl<'a> Fields<'a> {
    /// Fields of `value` at `path`; records an error and yields `None` when it is not an object.
    pub(crate) fn object(
        value: &'a Value,
        path: &str,
        errors: &'a mut Vec<FieldError>,
    ) -> Option<Self> {
        match value.as_object() {
            Some(map) => Some(Self {
                map,
                prefix: if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}.")
                },
                errors,
            }),
            None => {
                errors.push(FieldError::new(path, "must be a JSON object"));
                None
            }
        }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub(crate) fn fail(&mut self, name: &str, message: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(FieldError::new(field, message));
    }

    pub(crate) fn required<T>(&mut self, name: &str, parse: Parse<T>) -> Option<T> {
        match self.map.get(name) {
            None | Some(Value::Null) => {
                self.fail(name, "is required");
                None
            }
            Some(value) => self.parse(name, value, parse),
        }
    }

    pub(crate) fn optional<T>(&mut self, name: &str, parse: Parse<T>) -> Option<T> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(value) => self.parse(name, value, parse),
        }
    }

    fn parse<T>(&mut self, name: &str, value: &Value, parse: Parse<T>) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.fail(name, message);
                None
            }
        }
    }

    /// A nested position object, validated field by field.
    pub(crate) fn position(&mut self, name: &str, required: bool) -> Option<Position> {
        let value = match self.map.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(name, "is required");
                }
                return None;
            }
            Some(v) => v,
        };
        let path = self.path(name);
        let mut inner = Fields::object(value, &path, self.errors)?;
        let lat = inner.required("lat", |v| number_in(v, -90.0, 90.0));
        let lon = inner.required("lon", |v| number_in(v, -180.0, 180.0));
        let alt_m = inner.optional("alt_m", |v| number_in(v, -12_000.0, 1.0e8));
        Some(Position {
            lat: lat?,
            lon: lon?,
            alt_m,
        })
    }
}

pub(crate) fn number(value: &Value) -> Result<f64, String> {
    value
        .as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| "must be a number".to_string())
}

pub(crate) fn number_in(value: &Value, min: f64, max: f64) -> Result<f64, String> {
    let n = number(value)?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between {min} and {max}, got {n}"))
    }
}

pub(crate) fn non_negative(value: &Value) -> Result<f64, String> {
    number_in(value, 0.0, f64::MAX)
}

pub(crate) fn positive(value: &Value) -> Result<f64, String> {
    let n = number(value)?;
    if n > 0.0 {
        Ok(n)
    } else {
        Err(format!("must be greater than 0, got {n}"))
    }
}

pub(crate) fn unit_interval(value: &Value) -> Result<f64, String> {
    number_in(value, 0.0, 1.0)
}

pub(crate) fn degrees(value: &Value) -> Result<f64, String> {
    number_in(value, 0.0, 360.0)
}

pub(crate) fn count(value: &Value) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| "must be a non-negative integer".to_string())
}

pub(crate) fn text(value: &Value) -> Result<String, String> {
    match value.as_str() {
        Some(s) if s.trim().is_empty() => Err("must not be empty".into()),
        Some(s) if s.len() > 4096 => Err("must be at most 4096 bytes".into()),
        Some(s) => Ok(s.to_string()),
        None => Err("must be a string".into()),
    }
}

pub(crate) fn timestamp(value: &Value) -> Result<Timestamp, String> {
    let s = value.as_str().ok_or("must be an RFC 3339 string")?;
    Timestamp::parse(s).map_err(|e| e.to_string())
}

pub(crate) fn sha256_hex(value: &Value) -> Result<String, String> {
    match value.as_str() {
        Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(s.to_ascii_lowercase())
        }
        _ => Err("must be a SHA-256 digest as 64 hex digits".into()),
    }
}

/// One of a fixed set of strings.
pub(crate) fn one_of<'v>(value: &'v Value, allowed: &[&str]) -> Result<&'v str, String> {
    match value.as_str() {
        Some(s) if allowed.contains(&s) => Ok(s),
        _ => Err(format!("must be one of: {}", allowed.join(", "))),
    }
}
