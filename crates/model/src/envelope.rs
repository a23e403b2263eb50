//! DSSE envelopes (the Dead Simple Signing Envelope) carrying observation payloads.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The `payloadType` of a truce observation, version 1.
pub const OBSERVATION_PAYLOAD_TYPE: &str = "application/vnd.truce.observation.v1+json";

/// A DSSE envelope as it travels on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the payload bytes.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope: the signer's key id (for truce, the sensor id) and the
/// base64 Ed25519 signature over the PAE.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    pub sig: String,
}

/// A DSSE envelope read without copying: strings borrow from the input unless they hold
/// escapes. What ingest parses for every observation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct EnvelopeRef<'a> {
    #[serde(rename = "payloadType", borrow)]
    pub payload_type: Cow<'a, str>,
    #[serde(borrow)]
    pub payload: Cow<'a, str>,
    #[serde(borrow)]
    pub signatures: Vec<SignatureRef<'a>>,
}

/// One signature of an [`EnvelopeRef`].
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SignatureRef<'a> {
    #[serde(default, borrow)]
    pub keyid: Cow<'a, str>,
    #[serde(borrow)]
    pub sig: Cow<'a, str>,
}

/// DSSE pre-authentication encoding: `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    pae_into(&mut out, payload_type, payload);
    out
}

/// [`pae`] written into `out` (cleared first), so that one buffer serves many messages.
pub fn pae_into(out: &mut Vec<u8>, payload_type: &str, payload: &[u8]) {
    out.clear();
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
}

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes base64 as DSSE allows it: standard or URL-safe alphabet, padded or not.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
}

/// Why text is not a base64 Ed25519 signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureTextError {
    #[error("{0}")]
    Base64(base64::DecodeError),
    #[error("an Ed25519 signature has 64 bytes, not {0}")]
    Length(usize),
}

/// The 64 bytes of an Ed25519 signature written in base64 as DSSE allows it (see
/// [`decode_base64`]), decoded without allocating when it is one.
pub fn decode_signature(text: &str) -> Result<[u8; 64], SignatureTextError> {
    // Room for what 88 characters of base64 could hold: the decoder asks for that much.
    let mut buffer = [0u8; 66];
    let decoded = STANDARD_LENIENT
        .decode_slice(text, &mut buffer)
        .or_else(|_| URL_SAFE_LENIENT.decode_slice(text, &mut buffer));
    let raw = match decoded {
        Ok(64) => {
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&buffer[..64]);
            return Ok(signature);
        }
        Ok(n) => buffer[..n].to_vec(),
        // Too long for the buffer, or not base64: decode it whole to say what it is.
        Err(_) => decode_base64(text).map_err(SignatureTextError::Base64)?,
    };
    <[u8; 64]>::try_from(raw.as_slice()).map_err(|_| SignatureTextError::Length(raw.len()))
}

/// Encodes bytes as standard, padded base64.
pub fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

impl Envelope {
    /// An envelope of `payload` with one signature produced by `sign` over the PAE.
    pub fn signed(
        payload_type: &str,
        payload: &[u8],
        keyid: &str,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Self {
        let sig = sign(&pae(payload_type, payload));
        Self {
            payload_type: payload_type.to_string(),
            payload: encode_base64(payload),
            signatures: vec![EnvelopeSignature {
                keyid: keyid.to_string(),
                sig: encode_base64(&sig),
            }],
        }
    }
}

/// The `(sensor, seq)` of a logged observation envelope: the key of the log's
/// `(sensor, seq)` index. `None` when the bytes are not an envelope of a payload with
/// those fields.
pub fn observation_key(envelope: &[u8]) -> Option<(String, u64)> {
    #[derive(Deserialize)]
    struct Key {
        sensor: String,
        seq: u64,
    }
    let envelope: Envelope = serde_json::from_slice(envelope).ok()?;
    let payload = decode_base64(&envelope.payload).ok()?;
    let key: Key = serde_json::from_slice(&payload).ok()?;
    Some((key.sensor, key.seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // The DSSE protocol document's worked example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn base64_accepts_both_alphabets_and_missing_padding() {
        assert_eq!(decode_base64("+/8=").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(decode_base64("-_8").unwrap(), vec![0xfb, 0xff]);
        assert!(decode_base64("not base64!").is_err());
    }
}
