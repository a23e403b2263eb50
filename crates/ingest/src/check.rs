//! From envelope bytes to an entry ready for the log, or a problem.

use truce_model::envelope::{
    EnvelopeRef, SignatureTextError, decode_base64, decode_signature, pae_into,
};
use truce_model::observation::ObservationError;
use truce_model::{
    Entry, EntryKind, OBSERVATION_PAYLOAD_TYPE, Observation, Problem, ProblemType, SensorKind,
    Timestamp,
};

use crate::signature::{SignatureCheck, verify_prepared};

/// What ingest needs to know about a sensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorKey {
    pub public_key: [u8; 32],
    pub kind: SensorKind,
    /// Whether the key is revoked. Ingest checks what a revoked key signed like anything
    /// else: the sequencer, which knows what is logged, refuses it unless it is an
    /// identical re-send of an observation logged before, answered with its index.
    pub revoked: bool,
}

/// The sensor registry as ingest sees it.
pub trait SensorDirectory {
    fn lookup(&self, sensor: &str) -> Option<SensorKey>;
}

impl<F: Fn(&str) -> Option<SensorKey>> SensorDirectory for F {
    fn lookup(&self, sensor: &str) -> Option<SensorKey> {
        self(sensor)
    }
}

/// The earliest time an observation may name: a clock that says 1970 (or year 1) is
/// unset, not an observation of the past.
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";

/// Limits applied to every observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestPolicy {
    /// How far in the future of `now` an observation's times may lie, in nanoseconds.
    pub max_future_skew_ns: i64,
}

impl Default for IngestPolicy {
    fn default() -> Self {
        Self {
            max_future_skew_ns: 5_000_000_000,
        }
    }
}

/// An observation that passed every check, ready for the sequencer.
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// The payload, parsed: what `truce_pipeline::decode_envelope` reads from the entry
    /// again, handed on so that live fusion need not parse it twice.
    pub observation: Observation,
    /// The key that signed it: the sequencer re-checks it is still the sensor's active key.
    pub public_key: [u8; 32],
    /// The log entry: the envelope bytes as received, under the observation header.
    pub entry: Vec<u8>,
    /// The entry's RFC 6962 leaf hash. It also identifies the envelope: re-sending the
    /// identical envelope gives the same leaf hash, any other envelope another one.
    pub leaf_hash: [u8; 32],
}

impl Accepted {
    pub fn sensor(&self) -> &str {
        &self.observation.sensor
    }

    pub fn seq(&self) -> u64 {
        self.observation.seq
    }
}

/// An item that passed the cheap checks and waits for its signature verdict.
struct Pending {
    accepted: Accepted,
    payload: Vec<u8>,
    signature: [u8; 64],
    signature_index: usize,
}

/// Checks one envelope.
pub fn check_one(
    bytes: &[u8],
    directory: &impl SensorDirectory,
    now: Timestamp,
    policy: &IngestPolicy,
) -> Result<Accepted, Problem> {
    check_batch(&[bytes], directory, now, policy)
        .pop()
        .unwrap_or_else(|| Err(Problem::new(ProblemType::Internal, "no verdict")))
}

/// Checks a batch of envelopes; one verdict per item, in order. Problems carry the item's
/// index. Signatures of the items that pass every other check are verified as one batch.
pub fn check_batch(
    items: &[&[u8]],
    directory: &impl SensorDirectory,
    now: Timestamp,
    policy: &IngestPolicy,
) -> Vec<Result<Accepted, Problem>> {
    // `None` until the item's signature is verified.
    let mut verdicts: Vec<Option<Result<Accepted, Problem>>> = Vec::with_capacity(items.len());
    let mut pending = Vec::new();
    for (index, bytes) in items.iter().enumerate() {
        match precheck(bytes, directory, now, policy) {
            Ok(p) => {
                pending.push((index, p));
                verdicts.push(None);
            }
            Err(problem) => verdicts.push(Some(Err(problem.with_index(index)))),
        }
    }
    // One buffer for every item's signed message: preparing hashes it at once.
    let mut message = Vec::new();
    let prepared = pending
        .iter()
        .map(|(_, p)| {
            pae_into(&mut message, OBSERVATION_PAYLOAD_TYPE, &p.payload);
            SignatureCheck {
                public_key: p.accepted.public_key,
                signature: p.signature,
                message: &message,
            }
            .prepare()
        })
        .collect();
    let ok = verify_prepared(prepared);
    for ((index, p), good) in pending.into_iter().zip(ok) {
        verdicts[index] = Some(if good {
            Ok(p.accepted)
        } else {
            Err(Problem::new(
                ProblemType::BadSignature,
                format!(
                    "signature does not verify with the registered key of sensor {}",
                    p.accepted.sensor()
                ),
            )
            .with_field(signature_field(p.signature_index))
            .with_index(index))
        });
    }
    verdicts
        .into_iter()
        .map(|v| v.unwrap_or_else(|| Err(Problem::new(ProblemType::Internal, "unverified"))))
        .collect()
}

fn signature_field(index: usize) -> String {
    format!("signatures[{index}].sig")
}

/// The 64 bytes of a base64 Ed25519 signature, or the problem with them.
fn signature_bytes(text: &str) -> Result<[u8; 64], Problem> {
    decode_signature(text).map_err(|e| match e {
        SignatureTextError::Base64(e) => {
            Problem::new(ProblemType::BadBase64, format!("signature: {e}"))
        }
        SignatureTextError::Length(_) => Problem::new(ProblemType::BadSignature, e.to_string()),
    })
}

/// The longest envelope looked at: its payload, base64-encoded, must fit in a log entry of
/// at most [`truce_model::entry::MAX_ENTRY_BYTES`], so anything four times as long can never
/// be logged and is refused before it is parsed.
pub const MAX_ENVELOPE_BYTES: usize = 4 * truce_model::entry::MAX_ENTRY_BYTES;

fn precheck(
    bytes: &[u8],
    directory: &impl SensorDirectory,
    now: Timestamp,
    policy: &IngestPolicy,
) -> Result<Pending, Problem> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Problem::new(
            ProblemType::EntryTooLarge,
            format!(
                "an envelope of {} bytes; the longest that can be logged is {MAX_ENVELOPE_BYTES}",
                bytes.len()
            ),
        ));
    }
    let envelope: EnvelopeRef<'_> = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            ProblemType::MalformedJson,
            format!("not a DSSE envelope: {e}"),
        )
    })?;
    if envelope.payload_type != OBSERVATION_PAYLOAD_TYPE {
        return Err(Problem::new(
            ProblemType::BadPayloadType,
            format!("payloadType must be {OBSERVATION_PAYLOAD_TYPE}"),
        )
        .with_field("payloadType"));
    }
    let payload = decode_base64(&envelope.payload).map_err(|e| {
        Problem::new(ProblemType::BadBase64, format!("payload: {e}")).with_field("payload")
    })?;
    let observation = Observation::parse(&payload).map_err(|e| match e {
        ObservationError::Json(message) => Problem::new(
            ProblemType::MalformedJson,
            format!("payload is not JSON: {message}"),
        )
        .with_field("payload"),
        ObservationError::Fields(mut errors) => {
            for e in &mut errors {
                e.field = format!("payload.{}", e.field);
            }
            Problem::fields(ProblemType::InvalidField, &errors)
        }
    })?;
    let key = directory.lookup(&observation.sensor).ok_or_else(|| {
        Problem::new(
            ProblemType::UnknownSensor,
            format!("sensor {} is not registered", observation.sensor),
        )
        .with_field("payload.sensor")
    })?;
    if !key.kind.may_report(observation.kind) {
        return Err(Problem::new(
            ProblemType::KindNotAllowed,
            format!(
                "a {} sensor may not report {}",
                key.kind.as_str(),
                observation.kind
            ),
        )
        .with_field("payload.kind"));
    }
    let limit = now.plus_nanos(policy.max_future_skew_ns);
    let floor = Timestamp::parse(EARLIEST).expect("a valid constant");
    for (field, at) in observation.times() {
        if at < floor {
            return Err(Problem::new(
                ProblemType::InvalidField,
                format!("{at} is before {EARLIEST}: no observation of truce's is that old"),
            )
            .with_field(format!("payload.{field}")));
        }
        if at > limit {
            return Err(Problem::new(
                ProblemType::TimeInFuture,
                format!("{at} is after the server's time {now} plus the allowed skew"),
            )
            .with_field(format!("payload.{field}")));
        }
    }
    let (signature_index, signature) = envelope
        .signatures
        .iter()
        .enumerate()
        .find(|(_, s)| s.keyid == observation.sensor)
        .or_else(|| {
            envelope
                .signatures
                .iter()
                .enumerate()
                .find(|(_, s)| s.keyid.is_empty())
        })
        .ok_or_else(|| {
            Problem::new(
                ProblemType::BadSignature,
                format!("no signature with keyid {}", observation.sensor),
            )
            .with_field("signatures")
        })?;
    let signature = signature_bytes(&signature.sig)
        .map_err(|problem| problem.with_field(signature_field(signature_index)))?;
    let entry = Entry::v1(EntryKind::Observation, bytes)
        .encode()
        .map_err(|e| Problem::new(ProblemType::EntryTooLarge, e.to_string()))?;
    Ok(Pending {
        accepted: Accepted {
            observation,
            public_key: key.public_key,
            leaf_hash: truce_ledger::leaf_hash(&entry),
            entry,
        },
        payload,
        signature,
        signature_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_consensus::SigningKey;
    use serde_json::json;
    use truce_model::Envelope;

    fn key() -> SigningKey {
        SigningKey::from([9; 32])
    }

    fn directory(sensor: &str) -> Option<SensorKey> {
        (sensor == "ua-ac-1").then(|| SensorKey {
            public_key: key().verification_key().to_bytes(),
            kind: SensorKind::Acoustic,
            revoked: false,
        })
    }

    fn envelope(seq: u64) -> Vec<u8> {
        envelope_at(seq, "2026-01-07T00:00:00Z")
    }

    fn envelope_at(seq: u64, at: &str) -> Vec<u8> {
        let payload = json!({"sensor": "ua-ac-1", "seq": seq, "observed_at": at,
            "kind": "acoustic.arrival", "data": {"arrival_time": "2026-01-07T00:00:00Z",
            "arrival_sigma_s": 0.01, "class": "launch"}});
        let payload = serde_json::to_vec(&payload).unwrap();
        let env = Envelope::signed(OBSERVATION_PAYLOAD_TYPE, &payload, "ua-ac-1", |m| {
            key().sign(m).to_bytes()
        });
        serde_json::to_vec(&env).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::parse("2026-01-07T00:00:01Z").unwrap()
    }

    #[test]
    fn accepts_a_good_envelope_and_logs_its_bytes() {
        let bytes = envelope(1);
        let accepted = check_one(&bytes, &directory, now(), &IngestPolicy::default()).unwrap();
        assert_eq!(accepted.seq(), 1);
        assert!(accepted.entry.ends_with(&bytes));
    }

    #[test]
    fn reports_each_bad_item_by_index() {
        let good = envelope(1);
        let mut tampered: Envelope = serde_json::from_slice(&envelope(2)).unwrap();
        tampered.signatures[0].sig = truce_model::envelope::encode_base64(&[1; 64]);
        let tampered = serde_json::to_vec(&tampered).unwrap();
        let items: Vec<&[u8]> = vec![&good, b"{not json", &tampered, &good];
        let verdicts = check_batch(&items, &directory, now(), &IngestPolicy::default());
        assert!(verdicts[0].is_ok() && verdicts[3].is_ok());
        let p1 = verdicts[1].as_ref().unwrap_err();
        assert_eq!(
            (p1.kind(), p1.index),
            (Some(ProblemType::MalformedJson), Some(1))
        );
        let p2 = verdicts[2].as_ref().unwrap_err();
        assert_eq!(
            (p2.kind(), p2.index, p2.field.as_deref()),
            (
                Some(ProblemType::BadSignature),
                Some(2),
                Some("signatures[0].sig")
            )
        );
    }

    #[test]
    fn reads_signatures_in_either_alphabet_and_says_what_is_wrong() {
        let signature: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
        let standard = truce_model::envelope::encode_base64(&signature);
        assert!(standard.contains('+') || standard.contains('/'));
        let url_safe = standard.replace('+', "-").replace('/', "_");
        for text in [&standard, standard.trim_end_matches('='), &url_safe] {
            assert_eq!(signature_bytes(text).unwrap().to_vec(), signature);
        }
        let short = signature_bytes(&truce_model::envelope::encode_base64(&[1; 63])).unwrap_err();
        assert!(short.detail.contains("not 63"), "{}", short.detail);
        let long = signature_bytes(&truce_model::envelope::encode_base64(&[1; 90])).unwrap_err();
        assert!(long.detail.contains("not 90"), "{}", long.detail);
        let junk = signature_bytes("not base64!").unwrap_err();
        assert_eq!(junk.kind(), Some(ProblemType::BadBase64));
    }

    #[test]
    fn refuses_times_beyond_the_skew() {
        let early = Timestamp::parse("2026-01-06T23:59:50Z").unwrap();
        let p = check_one(&envelope(1), &directory, early, &IngestPolicy::default()).unwrap_err();
        assert_eq!(p.kind(), Some(ProblemType::TimeInFuture));
        assert_eq!(p.field.as_deref(), Some("payload.observed_at"));
    }

    #[test]
    fn refuses_times_before_2000() {
        // An unset clock: the epoch, and year 1.
        for at in [
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "1999-12-31T23:59:59Z",
        ] {
            let p = check_one(
                &envelope_at(1, at),
                &directory,
                now(),
                &IngestPolicy::default(),
            )
            .unwrap_err();
            assert_eq!(p.kind(), Some(ProblemType::InvalidField), "{at}");
            assert_eq!(p.field.as_deref(), Some("payload.observed_at"), "{at}");
        }
    }

    #[test]
    fn accepts_json_escapes_in_envelope_strings() {
        // JSON may write "/" as "\/": the envelope means the same, and its bytes are logged.
        let bytes = envelope(3);
        let escaped = String::from_utf8(bytes.clone())
            .unwrap()
            .replace('/', "\\/")
            .into_bytes();
        assert_ne!(escaped, bytes, "the sample has a '/' to escape");
        let accepted = check_one(&escaped, &directory, now(), &IngestPolicy::default()).unwrap();
        assert!(accepted.entry.ends_with(&escaped));
    }
}
