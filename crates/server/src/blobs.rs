//! Evidence blobs (images, video, documents), stored by their SHA-256 in `DATA/blobs/`:
//! only the hash goes into the log (an allegation's `evidence`, a detection's), the bytes
//! stay here, where anyone holding the hash can fetch and check them.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The blob directory of a data directory.
#[derive(Clone, Debug)]
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    pub fn new(data: &Path) -> Self {
        Self {
            dir: data.join("blobs"),
        }
    }

    fn path(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| self.dir.join(sha256))
    }

    /// Stores `bytes` durably (written, synced, then renamed into place); their SHA-256
    /// as lowercase hex.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let path = self.dir.join(&sha256);
        if path.exists() {
            return Ok(sha256);
        }
        std::fs::create_dir_all(&self.dir)?;
        let temp = self.dir.join(format!(".{sha256}.tmp"));
        {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(sha256)
    }

    /// The bytes of a blob, if stored.
    pub fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path(sha256) else {
            return Ok(None);
        };
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn has(&self, sha256: &str) -> bool {
        self.path(sha256).is_some_and(|p| p.is_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_kept_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let sha = blobs.put(b"crater photo").unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(b"crater photo")));
        assert_eq!(blobs.put(b"crater photo").unwrap(), sha);
        assert!(blobs.has(&sha));
        assert_eq!(blobs.get(&sha).unwrap().unwrap(), b"crater photo");
        assert_eq!(blobs.get(&"0".repeat(64)).unwrap(), None);
        assert_eq!(blobs.get("../log.key").unwrap(), None);
        assert!(!blobs.has("../log.key"));
    }
}
