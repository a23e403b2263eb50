//! C2SP signed notes with Ed25519 signatures (signature type 0x01).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_consensus::{Signature, SigningKey, VerificationKey};
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 signed-note keys.
const ED25519_TYPE: u8 = 0x01;
/// Prefix of the private key encoding.
const SKEY_PREFIX: &str = "PRIVATE+KEY+";
/// Prefix of a signature line: em dash and space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Most signature lines a note may carry before it is rejected (the spec asks for at least
/// 16).
pub const MAX_SIGNATURES: usize = 100;

/// Errors from keys and signed notes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Key names must be non-empty and contain no '+' and no Unicode spaces.
    #[error("invalid key name {0:?}")]
    InvalidKeyName(String),
    /// A private or public key string is malformed.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// The key ID written in a key string is not the one its name and key give.
    #[error("key ID in the key string does not match the key")]
    KeyIdMismatch,
    /// Note text to sign must be non-empty, end in a newline and hold no control characters
    /// other than newline.
    #[error("invalid note text: {0}")]
    InvalidText(&'static str),
    /// The signed note is not well formed.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// The note carries no signature by the verifier's key.
    #[error("note has no signature by key {name}+{key_id}")]
    NoSignature { name: String, key_id: String },
    /// A signature by the verifier's key does not verify.
    #[error("bad signature by key {name}+{key_id}")]
    BadSignature { name: String, key_id: String },
}

/// Whether `name` is a valid key name.
fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName(name.to_owned()))
    }
}

/// Note text rules: ends in a newline, no control characters other than newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::InvalidText("must end with a newline"));
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::InvalidText("contains a control character"));
    }
    Ok(())
}

/// The key ID of an Ed25519 key: the first 4 bytes of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519_TYPE]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Split `<name>+<8 hex key ID>+<base64 key>` and decode it into `(name, id, 0x01 || key)`.
fn split_key(text: &str) -> Result<(&str, [u8; 4], [u8; 32]), NoteError> {
    // The name has no '+'; the base64 key may contain some.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(NoteError::MalformedKey("expected name+keyid+key"));
    };
    check_key_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("key ID must be 8 hex digits"));
    }
    let mut id = [0u8; 4];
    hex::decode_to_slice(id_hex, &mut id)
        .map_err(|_| NoteError::MalformedKey("key ID must be 8 hex digits"))?;
    let raw = B64
        .decode(key_b64)
        .map_err(|_| NoteError::MalformedKey("key is not valid base64"))?;
    let (&kind, key) = raw
        .split_first()
        .ok_or(NoteError::MalformedKey("empty key"))?;
    if kind != ED25519_TYPE {
        return Err(NoteError::MalformedKey("not an Ed25519 key"));
    }
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| NoteError::MalformedKey("Ed25519 key must be 32 bytes"))?;
    Ok((name, id, key))
}

/// Signs notes with one Ed25519 key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    public_key: [u8; 32],
    key_id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer named `name` with the Ed25519 private key `seed` (RFC 8032 private key).
    pub fn new(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key = SigningKey::from(seed);
        let public_key = key.verification_key().to_bytes();
        Ok(NoteSigner {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            key,
            public_key,
        })
    }

    /// Parse `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    pub fn from_skey(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .strip_prefix(SKEY_PREFIX)
            .ok_or(NoteError::MalformedKey(
                "private key must start with PRIVATE+KEY+",
            ))?;
        let (name, id, seed) = split_key(rest)?;
        let signer = Self::new(name, seed)?;
        if signer.key_id != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The private key encoding, `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>`.
    pub fn skey(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{SKEY_PREFIX}{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            B64.encode(raw)
        )
    }

    /// The public key encoding, `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn vkey(&self) -> String {
        let mut raw = vec![ED25519_TYPE];
        raw.extend_from_slice(&self.public_key);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            B64.encode(raw)
        )
    }

    /// A verifier for this signer's key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verification_key(),
            key_id: self.key_id,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// A plain Ed25519 signature of `message` with this key (for DSSE envelopes, say).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The signature line for `text`: `— <name> <base64(key ID || signature)>\n`.
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes()).to_bytes();
        let mut raw = Vec::with_capacity(4 + sig.len());
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&sig);
        Ok(format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw)))
    }

    /// The signed note: `text`, a blank line, and this key's signature line.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        let line = self.signature_line(text)?;
        Ok(format!("{text}\n{line}"))
    }
}

/// Verifies notes signed by one Ed25519 key.
#[derive(Clone, Debug)]
pub struct NoteVerifier {
    name: String,
    key: VerificationKey,
    key_id: [u8; 4],
}

/// One parsed signature line.
struct SigLine<'a> {
    name: &'a str,
    key_id: [u8; 4],
    signature: Vec<u8>,
}

/// Split a signed note into its text and signature lines, checking the format.
fn parse_note(note: &str) -> Result<(&str, Vec<SigLine<'_>>), NoteError> {
    if note.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::MalformedNote("contains a control character"));
    }
    if !note.ends_with('\n') {
        return Err(NoteError::MalformedNote("does not end with a newline"));
    }
    // The text is separated from the signatures by the last blank line.
    let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote(
        "no blank line before the signatures",
    ))?;
    let text = &note[..split + 1];
    let sig_block = &note[split + 2..];
    let lines: Vec<&str> = sig_block
        .strip_suffix('\n')
        .ok_or(NoteError::MalformedNote("no signatures"))?
        .split('\n')
        .collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::MalformedNote("too many signatures"));
    }
    let mut sigs = Vec::with_capacity(lines.len());
    for line in lines {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::MalformedNote(
                "signature line must start with an em dash",
            ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::MalformedNote("signature line has no signature"))?;
        if !valid_key_name(name) {
            return Err(NoteError::MalformedNote(
                "invalid key name in a signature line",
            ));
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::MalformedNote("signature is not valid base64"))?;
        if raw.len() < 5 {
            return Err(NoteError::MalformedNote("signature too short"));
        }
        sigs.push(SigLine {
            name,
            key_id: [raw[0], raw[1], raw[2], raw[3]],
            signature: raw[4..].to_vec(),
        });
    }
    Ok((text, sigs))
}

impl NoteVerifier {
    /// Parse `<name>+<hex key ID>+<base64(0x01 || public key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, id, pk) = split_key(vkey)?;
        let key = VerificationKey::try_from(pk)
            .map_err(|_| NoteError::MalformedKey("not a valid Ed25519 public key"))?;
        if key_id(name, &pk) != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key,
            key_id: id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Parse a signed note and return its text if it carries a valid signature by this key.
    /// Signatures by other keys (different name or key ID) are ignored; any signature by
    /// this key that fails to verify rejects the note.
    pub fn verify<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let (text, sigs) = parse_note(note)?;
        let mut verified = false;
        for sig in sigs
            .iter()
            .filter(|s| s.name == self.name && s.key_id == self.key_id)
        {
            let ok = Signature::try_from(sig.signature.as_slice())
                .is_ok_and(|s| self.key.verify(&s, text.as_bytes()).is_ok());
            if !ok {
                return Err(NoteError::BadSignature {
                    name: self.name.clone(),
                    key_id: hex::encode(self.key_id),
                });
            }
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::NoSignature {
                name: self.name.clone(),
                key_id: hex::encode(self.key_id),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(NoteSigner::new("example.com/log", [7; 32]).is_ok());
        for bad in ["", "a+b", "a b", "a\tb", "a\u{00a0}b", "a\u{2003}b"] {
            assert!(
                matches!(
                    NoteSigner::new(bad, [7; 32]),
                    Err(NoteError::InvalidKeyName(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let s = NoteSigner::new("example.com/log", [1; 32]).unwrap();
        let v = NoteVerifier::from_vkey(&s.vkey()).unwrap();
        let note = s.sign("hello\nworld\n").unwrap();
        assert_eq!(v.verify(&note).unwrap(), "hello\nworld\n");
        assert_eq!(NoteSigner::from_skey(&s.skey()).unwrap().vkey(), s.vkey());
        assert!(matches!(
            s.sign("no newline"),
            Err(NoteError::InvalidText(_))
        ));
        assert!(matches!(s.sign("a\rb\n"), Err(NoteError::InvalidText(_))));
    }
}
