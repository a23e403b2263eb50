//! RFC 3339 UTC timestamps with up to nanosecond precision.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant on the UTC time line, written as an RFC 3339 string in UTC (`Z` or `+00:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

/// Why a string is not a truce timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("not an RFC 3339 date-time: {0}")]
    Syntax(String),
    #[error("not in UTC: use a `Z` (or `+00:00`) offset")]
    NotUtc,
}

impl Timestamp {
    /// Parses an RFC 3339 string whose offset is UTC.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let parsed =
            DateTime::parse_from_rfc3339(text).map_err(|e| TimeError::Syntax(e.to_string()))?;
        if parsed.offset().local_minus_utc() != 0 || text.ends_with("-00:00") {
            return Err(TimeError::NotUtc);
        }
        Ok(Self(parsed.with_timezone(&Utc)))
    }

    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Self(DateTime::from_timestamp_nanos(nanos))
    }

    /// Nanoseconds since the Unix epoch (saturating outside 1677–2262).
    pub fn unix_nanos(&self) -> i64 {
        self.0
            .timestamp_nanos_opt()
            .unwrap_or(if self.0.timestamp() < 0 {
                i64::MIN
            } else {
                i64::MAX
            })
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Self {
        Self(at)
    }

    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// This instant plus a signed number of nanoseconds.
    pub fn plus_nanos(&self, nanos: i64) -> Self {
        Self(self.0 + chrono::Duration::nanoseconds(nanos))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_nanoseconds() {
        let t = Timestamp::parse("2026-01-07T03:04:05.123456789Z").unwrap();
        assert_eq!(t.to_string(), "2026-01-07T03:04:05.123456789Z");
        assert_eq!(t.unix_nanos() % 1_000_000_000, 123_456_789);
        assert_eq!(Timestamp::from_unix_nanos(t.unix_nanos()), t);
    }

    #[test]
    fn accepts_utc_offsets_only() {
        assert!(Timestamp::parse("2026-01-07T03:04:05+00:00").is_ok());
        assert_eq!(
            Timestamp::parse("2026-01-07T03:04:05+02:00"),
            Err(TimeError::NotUtc)
        );
        assert!(matches!(
            Timestamp::parse("2026-01-07 03:04"),
            Err(TimeError::Syntax(_))
        ));
    }
}
