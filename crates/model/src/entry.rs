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
    /// A sensor registration: the record `{"sensor": <registration>, "registered_at": ..,
    /// "registered_by": <account>}`, as the body (version 1) or as the payload of a DSSE
    /// envelope signed by the log's key on the administrator's behalf (version 2). See
    /// [`Entry::sensor_record`]. `registered_by` is absent from entries logged before it
    /// was recorded.
    SensorRegistration,
    /// A key revocation: the record [`crate::SensorRevocation`], as the body (version 1)
    /// or signed as a registration is (version 2).
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

    /// The `payloadType` of this kind's signed record (entry version 2), for the sensor
    /// registry's kinds.
    pub fn sensor_payload_type(&self) -> Option<&'static str> {
        match self {
            Self::SensorRegistration => Some(SENSOR_REGISTRATION_PAYLOAD_TYPE),
            Self::KeyRevocation => Some(KEY_REVOCATION_PAYLOAD_TYPE),
            _ => None,
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

/// The `payloadType` of a signed sensor registration (entry version 2).
pub const SENSOR_REGISTRATION_PAYLOAD_TYPE: &str =
    "application/vnd.truce.sensor-registration.v1+json";
/// The `payloadType` of a signed key revocation (entry version 2).
pub const KEY_REVOCATION_PAYLOAD_TYPE: &str = "application/vnd.truce.key-revocation.v1+json";

/// The record of a sensor-registration or key-revocation entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorEntry {
    /// The record's JSON bytes.
    pub record: Vec<u8>,
    /// How it is signed: `None` for version 1, which is not signed on its own.
    pub signed: Option<SignedRecord>,
}

/// The one signature of a version 2 sensor entry, and the message it signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRecord {
    /// Who signed: `truce`, the log's key, on behalf of the account the record names.
    pub keyid: String,
    pub signature: [u8; 64],
    /// The DSSE pre-authentication encoding of the record.
    pub message: Vec<u8>,
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

    /// Version 2 of a sensor registration or key revocation: the record signed as a DSSE
    /// envelope by `sign` (over the PAE), with `keyid`; `None` for any other kind.
    pub fn signed_sensor_record(
        kind: EntryKind,
        record: &[u8],
        keyid: &str,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Option<Result<Vec<u8>, EntryError>> {
        let payload_type = kind.sensor_payload_type()?;
        let envelope = crate::Envelope::signed(payload_type, record, keyid, sign);
        let body = serde_json::to_vec(&envelope).expect("an envelope is JSON");
        Some(
            Entry {
                kind,
                version: 2,
                body: &body,
            }
            .encode(),
        )
    }

    /// The record of a sensor-registration or key-revocation entry of version 1 or 2, with
    /// its signature for version 2 (not yet checked: that needs the log's key).
    pub fn sensor_record(&self) -> Result<SensorEntry, String> {
        let payload_type = self
            .kind
            .sensor_payload_type()
            .ok_or_else(|| format!("a {} entry holds no sensor record", self.kind))?;
        match self.version {
            1 => Ok(SensorEntry {
                record: self.body.to_vec(),
                signed: None,
            }),
            2 => {
                let envelope: crate::Envelope = serde_json::from_slice(self.body)
                    .map_err(|e| format!("not a DSSE envelope: {e}"))?;
                if envelope.payload_type != payload_type {
                    return Err(format!("payloadType must be {payload_type}"));
                }
                let record = crate::envelope::decode_base64(&envelope.payload)
                    .map_err(|e| format!("payload: {e}"))?;
                let [signature] = envelope.signatures.as_slice() else {
                    return Err("a sensor record has exactly one signature".into());
                };
                let signature_bytes = crate::envelope::decode_signature(&signature.sig)
                    .map_err(|e| format!("signature: {e}"))?;
                Ok(SensorEntry {
                    signed: Some(SignedRecord {
                        keyid: signature.keyid.clone(),
                        signature: signature_bytes,
                        message: crate::pae(payload_type, &record),
                    }),
                    record,
                })
            }
            v => Err(format!("{} entries of version {v} are unknown", self.kind)),
        }
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
    fn sensor_records_read_alike_from_either_version() {
        let record = br#"{"sensor":"ua-ac-1","revoked_at":"2026-01-07T00:00:00Z"}"#;
        let v1 = Entry::v1(EntryKind::KeyRevocation, record)
            .encode()
            .unwrap();
        let v1 = Entry::decode(&v1).unwrap().sensor_record().unwrap();
        assert_eq!((v1.record.as_slice(), v1.signed), (&record[..], None));

        let mut signed_message = Vec::new();
        let v2 = Entry::signed_sensor_record(EntryKind::KeyRevocation, record, "truce", |m| {
            signed_message = m.to_vec();
            [7; 64]
        })
        .unwrap()
        .unwrap();
        assert!(v2.starts_with(b"truce.key-revocation.v2\n"));
        let read = Entry::decode(&v2).unwrap().sensor_record().unwrap();
        assert_eq!(read.record, record);
        let by = read.signed.unwrap();
        assert_eq!((by.keyid.as_str(), by.signature), ("truce", [7; 64]));
        assert_eq!(by.message, signed_message);
        assert_eq!(by.message, crate::pae(KEY_REVOCATION_PAYLOAD_TYPE, record));

        // An envelope of another payload type is not a revocation, even when signed.
        let mut wrong: crate::Envelope =
            serde_json::from_slice(&v2["truce.key-revocation.v2\n".len()..]).unwrap();
        wrong.payload_type = SENSOR_REGISTRATION_PAYLOAD_TYPE.into();
        let body = serde_json::to_vec(&wrong).unwrap();
        let entry = Entry {
            kind: EntryKind::KeyRevocation,
            version: 2,
            body: &body,
        };
        assert!(entry.sensor_record().unwrap_err().contains("payloadType"));
        assert!(Entry::signed_sensor_record(EntryKind::Action, record, "x", |_| [0; 64]).is_none());
    }

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
