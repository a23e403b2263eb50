//! Field-by-field validation of JSON objects that reports every problem with its path.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

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

/// A JSON value not yet parsed: fields are parsed one by one, straight from the bytes.
pub(crate) use serde_json::value::RawValue as Raw;

/// The members of one JSON object, borrowed from the input (keys with escapes are copied).
/// An object that repeats a member is refused: JSON parsers differ on which of the two
/// they keep, and a sensor must not be able to say one thing to truce and another to an
/// auditor's parser.
struct Members<'a>(BTreeMap<Cow<'a, str>, &'a Raw>);

/// Why a value is not an object truce reads.
enum NotMembers {
    NotAnObject,
    Repeated(String),
}

impl<'a> Members<'a> {
    fn parse(raw: &'a Raw) -> Result<Self, NotMembers> {
        use serde::de::{Deserializer, Error, MapAccess, Visitor};

        #[derive(serde::Deserialize)]
        struct Key<'k>(#[serde(borrow)] Cow<'k, str>);

        /// Collects the members; the first repeated one is kept in `.0`.
        struct Unique<'r>(&'r mut Option<String>);
        impl<'de> Visitor<'de> for Unique<'_> {
            type Value = BTreeMap<Cow<'de, str>, &'de Raw>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((Key(key), value)) = map.next_entry::<Key<'de>, &'de Raw>()? {
                    if out.contains_key(&key) {
                        *self.0 = Some(key.into_owned());
                        return Err(A::Error::custom("a repeated member"));
                    }
                    out.insert(key, value);
                }
                Ok(out)
            }
        }
        let mut repeated = None;
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let members = (&mut de).deserialize_map(Unique(&mut repeated));
        match (members, repeated) {
            (Ok(map), _) => Ok(Members(map)),
            (Err(_), Some(name)) => Err(NotMembers::Repeated(name)),
            (Err(_), None) => Err(NotMembers::NotAnObject),
        }
    }

    /// The member `name`, unless absent or `null`.
    fn get(&self, name: &str) -> Option<&'a Raw> {
        let raw = self.0.get(name)?;
        (raw.get() != "null").then_some(*raw)
    }
}

/// Reads the fields of one JSON object, collecting a [`FieldError`] for each bad one.
pub(crate) struct Fields<'a, 'e> {
    members: Members<'a>,
    prefix: String,
    pub(crate) errors: &'e mut Vec<FieldError>,
}

/// A parser of one field's value; the error is a message without the field name.
pub(crate) type Parse<T> = fn(&Raw) -> Result<T, String>;

impl<'a, 'e> Fields<'a, 'e> {
    /// Fields of `value` at `path`; records an error and yields `None` when it is not an object.
    pub(crate) fn object(
        value: &'a Raw,
        path: &str,
        errors: &'e mut Vec<FieldError>,
    ) -> Option<Self> {
        match Members::parse(value) {
            Ok(members) => Some(Self {
                members,
                prefix: if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}.")
                },
                errors,
            }),
            Err(NotMembers::NotAnObject) => {
                errors.push(FieldError::new(path, "must be a JSON object"));
                None
            }
            Err(NotMembers::Repeated(name)) => {
                let field = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                errors.push(FieldError::new(
                    field,
                    "appears more than once in its object (JSON parsers differ on which they keep)",
                ));
                None
            }
        }
    }

    /// The raw member `name`, unless absent or `null`.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a Raw> {
        self.members.get(name)
    }

    pub(crate) fn path(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    pub(crate) fn fail(&mut self, name: &str, message: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(FieldError::new(field, message));
    }

    pub(crate) fn required<T>(&mut self, name: &str, parse: Parse<T>) -> Option<T> {
        match self.members.get(name) {
            None => {
                self.fail(name, "is required");
                None
            }
            Some(value) => self.parse(name, value, parse),
        }
    }

    pub(crate) fn optional<T>(&mut self, name: &str, parse: Parse<T>) -> Option<T> {
        let value = self.members.get(name)?;
        self.parse(name, value, parse)
    }

    fn parse<T>(&mut self, name: &str, value: &Raw, parse: Parse<T>) -> Option<T> {
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
        let Some(value) = self.members.get(name) else {
            if required {
                self.fail(name, "is required");
            }
            return None;
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

/// A JSON string's contents, borrowed when it has no escapes.
pub(crate) fn string(value: &Raw) -> Option<Cow<'_, str>> {
    serde_json::from_str::<&str>(value.get())
        .map(Cow::Borrowed)
        .or_else(|_| serde_json::from_str::<String>(value.get()).map(Cow::Owned))
        .ok()
}

/// The whole value, parsed (for the rare structured fields).
pub(crate) fn tree(value: &Raw) -> Result<Value, String> {
    serde_json::from_str(value.get()).map_err(|e| e.to_string())
}

pub(crate) fn number(value: &Raw) -> Result<f64, String> {
    serde_json::from_str::<f64>(value.get())
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| "must be a number".to_string())
}

pub(crate) fn number_in(value: &Raw, min: f64, max: f64) -> Result<f64, String> {
    let n = number(value)?;
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between {min} and {max}, got {n}"))
    }
}

pub(crate) fn non_negative(value: &Raw) -> Result<f64, String> {
    number_in(value, 0.0, f64::MAX)
}

pub(crate) fn positive(value: &Raw) -> Result<f64, String> {
    let n = number(value)?;
    if n > 0.0 {
        Ok(n)
    } else {
        Err(format!("must be greater than 0, got {n}"))
    }
}

pub(crate) fn unit_interval(value: &Raw) -> Result<f64, String> {
    number_in(value, 0.0, 1.0)
}

pub(crate) fn degrees(value: &Raw) -> Result<f64, String> {
    number_in(value, 0.0, 360.0)
}

pub(crate) fn count(value: &Raw) -> Result<u64, String> {
    serde_json::from_str::<u64>(value.get())
        .map_err(|_| "must be a non-negative integer".to_string())
}

pub(crate) fn text(value: &Raw) -> Result<String, String> {
    match string(value) {
        Some(s) if s.trim().is_empty() => Err("must not be empty".into()),
        Some(s) if s.len() > 4096 => Err("must be at most 4096 bytes".into()),
        Some(s) => Ok(s.into_owned()),
        None => Err("must be a string".into()),
    }
}

pub(crate) fn timestamp(value: &Raw) -> Result<Timestamp, String> {
    let s = string(value).ok_or("must be an RFC 3339 string")?;
    Timestamp::parse(&s).map_err(|e| e.to_string())
}

pub(crate) fn sha256_hex(value: &Raw) -> Result<String, String> {
    match string(value) {
        Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(s.to_ascii_lowercase())
        }
        _ => Err("must be a SHA-256 digest as 64 hex digits".into()),
    }
}

/// One of a fixed set of strings.
pub(crate) fn one_of(value: &Raw, allowed: &[&'static str]) -> Result<&'static str, String> {
    string(value)
        .and_then(|s| allowed.iter().find(|a| **a == s).copied())
        .ok_or_else(|| format!("must be one of: {}", allowed.join(", ")))
}
