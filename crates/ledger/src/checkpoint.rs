//! C2SP tlog-checkpoint: the note text of a signed tree head.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::hash::Hash;
use crate::note::{NoteError, NoteSigner, NoteVerifier};

/// Why a checkpoint was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text does not end with a newline.
    #[error("checkpoint text must end with a newline")]
    MissingNewline,
    /// Fewer than the three mandatory lines.
    #[error("checkpoint has fewer than three lines")]
    TooFewLines,
    /// The origin line is empty.
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    /// The size is not a canonical decimal `u64`.
    #[error("invalid tree size {0:?}")]
    BadSize(String),
    /// The root hash is not the base64 encoding of 32 bytes.
    #[error("invalid root hash {0:?}")]
    BadRootHash(String),
    /// An extension line is empty.
    #[error("checkpoint has an empty extension line")]
    EmptyExtension,
    /// The text holds a control character other than newline.
    #[error("checkpoint contains a control character")]
    ControlCharacter,
    /// The signed note around the checkpoint did not verify.
    #[error(transparent)]
    Note(#[from] NoteError),
}

/// A checkpoint: the log's origin, tree size and root hash, and optional extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n` followed by one line per extension.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Parse checkpoint note text (without signatures), strictly.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingNewline)?;
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(CheckpointError::ControlCharacter);
        }
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::TooFewLines);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let bad_size = || CheckpointError::BadSize(size.to_owned());
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad_size());
        }
        let size_value: u64 = size.parse().map_err(|_| bad_size())?;
        let root_value: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| CheckpointError::BadRootHash(root.to_owned()))?;
        let extensions = lines
            .map(|l| {
                if l.is_empty() {
                    Err(CheckpointError::EmptyExtension)
                } else {
                    Ok(l.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size: size_value,
            root: root_value,
            extensions,
        })
    }

    /// The checkpoint as a signed note carrying `signer`'s signature.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, NoteError> {
        signer.sign(&self.to_text())
    }

    /// Verify a signed checkpoint note with `verifier` and parse its text. Whether the
    /// origin is the expected one is left to the caller.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, CheckpointError> {
        Self::parse(verifier.verify(note)?)
    }
}
