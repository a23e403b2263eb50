//! Log entries: every record truce appends to its log is tagged and versioned.
//!
//! An entry is an ASCII header line `truce.<tag>.v<version>` followed by a newline and the
//! body bytes. For an observation the body is the DSSE envelope exactly as received, so the
//! signed bytes are the logged bytes. Other bodies are JSON objects. Auditors in any
//! language can split an entry at its first newline.

use std::fmt;

/// The most bytes an entry may have (the tlog-tiles entry-bundle limit).
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A signed observation envelope (body: the DSSE JSON as received).
    Observation,
    /// A sensor registration (body: JSON `{"sensor": <registration>, "registered_at": ..,
    /// "registered_by": <account>}`; `registered_by` is absent from entries logged before
    /// it was recorded).
    SensorRegistration,
    /// A key revocation (body: JSON [`crate::SensorRevocation`]).
    KeyRevocation,
    /// A person's or the server's action in the Commission's process (body: a DSSE
    /// envelope of payload type `application/vnd.truce.action.v1+json`; see
    /// `truce-commission`).
    Action,
}

impl EntryKind {
    pub fn tag(&self) -> &'static str {
        match self {
            Self::Observation => "observation",
            Self::SensorRegistration => "sensor-registration",
            Self::KeyRevocation => "key-revocation",
            Self::Action => "action",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        [
            Self::Observation,
            Self::SensorRegistration,
            Self::KeyRevocation,
            Self::Action,
        ]
        .into_iter()
        .find(|k| k.tag() == tag)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// A decoded entry, borrowing its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub kind: EntryKind,
    pub version: u32,
    pub body: &'a [u8],
}

/// Why bytes are not a truce entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("entry has no header line")]
    NoHeader,
    #[error("entry header {0:?} is not `truce.<tag>.v<version>`")]
    BadHeader(String),
    #[error("unknown entry tag {0:?}")]
    UnknownTag(String),
    #[error("entry of {0} bytes exceeds the limit of {MAX_ENTRY_BYTES}")]
    TooLarge(usize),
}

impl<'a> Entry<'a> {
    /// Version 1 of `kind` with this body.
    pub fn v1(kind: EntryKind, body: &'a [u8]) -> Self {
        Self {
            kind,
            version: 1,
            body,
        }
    }

    /// The entry's bytes, or an error when they exceed [`MAX_ENTRY_BYTES`].
    pub fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let header = format!("truce.{}.v{}\n", self.kind.tag(), self.version);
        let len = header.len() + self.body.len();
        if len > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(len));
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(self.body);
        Ok(out)
    }

    pub fn decode(bytes: &'a [u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let newline = bytes
            .iter()
            .take(64)
            .position(|b| *b == b'\n')
            .ok_or(EntryError::NoHeader)?;
        let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| {
            EntryError::BadHeader(String::from_utf8_lossy(&bytes[..newline]).into())
        })?;
        let bad = || EntryError::BadHeader(header.to_string());
        let rest = header.strip_prefix("truce.").ok_or_else(bad)?;
        let (tag, version) = rest.rsplit_once(".v").ok_or_else(bad)?;
        if version.is_empty()
            || version.starts_with('0')
            || !version.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let version: u32 = version.parse().map_err(|_| bad())?;
        let kind = EntryKind::from_tag(tag).ok_or_else(|| EntryError::UnknownTag(tag.into()))?;
        Ok(Self {
            kind,
            version,
            body: &bytes[newline + 1..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let bytes = Entry::v1(EntryKind::Observation, b"{\"payloadType\":1}")
            .encode()
            .unwrap();
        assert!(bytes.starts_with(b"truce.observation.v1\n"));
        let entry = Entry::decode(&bytes).unwrap();
        assert_eq!(entry.kind, EntryKind::Observation);
        assert_eq!(entry.version, 1);
        assert_eq!(entry.body, b"{\"payloadType\":1}");
        let action = Entry::v1(EntryKind::Action, b"{}").encode().unwrap();
        assert!(action.starts_with(b"truce.action.v1\n"));
        assert_eq!(Entry::decode(&action).unwrap().kind, EntryKind::Action);
    }

    #[test]
    fn rejects_bad_headers_and_oversize() {
        assert_eq!(Entry::decode(b"no header"), Err(EntryError::NoHeader));
        assert!(matches!(
            Entry::decode(b"truce.observation.v01\n{}"),
            Err(EntryError::BadHeader(_))
        ));
        assert!(matches!(
            Entry::decode(b"truce.bulletin.v1\n{}"),
            Err(EntryError::UnknownTag(_))
        ));
        let big = vec![b'x'; MAX_ENTRY_BYTES];
        assert!(matches!(
            Entry::v1(EntryKind::Observation, &big).encode(),
            Err(EntryError::TooLarge(_))
        ));
    }
}
