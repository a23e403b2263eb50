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
        let temp = self.temp_path()?;
        {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        std::fs::rename(&temp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(sha256)
    }

    /// A new temporary file's path in the blob directory, unique to this writer (two
    /// uploads of the same bytes at once do not share one).
    fn temp_path(&self) -> std::io::Result<PathBuf> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(self.dir.join(format!(".upload-{}.tmp", hex::encode(nonce))))
    }

    /// Starts storing a blob that arrives in pieces: written to a temporary file and hashed
    /// as it comes, renamed into place by [`Upload::finish`], removed if dropped unfinished.
    pub async fn upload(&self) -> std::io::Result<Upload> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let temp = self.temp_path()?;
        let file = tokio::fs::File::create(&temp).await?;
        Ok(Upload {
            dir: self.dir.clone(),
            temp: Some(temp),
            file,
            hasher: Sha256::new(),
            size: 0,
        })
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

/// A blob being stored piece by piece (see [`Blobs::upload`]).
pub struct Upload {
    dir: PathBuf,
    /// The temporary file, until it is renamed into place.
    temp: Option<PathBuf>,
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
}

impl Upload {
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.hasher.update(data);
        self.size += data.len() as u64;
        self.file.write_all(data).await
    }

    /// The bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Syncs the file and renames it to its hash; the hash (lowercase hex) and the size.
    pub async fn finish(mut self) -> std::io::Result<(String, u64)> {
        use tokio::io::AsyncWriteExt;
        self.file.flush().await?;
        self.file.sync_all().await?;
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let path = self.dir.join(&sha256);
        let temp = self.temp.take().unwrap_or_default();
        if tokio::fs::try_exists(&path).await? {
            tokio::fs::remove_file(&temp).await?;
        } else {
            tokio::fs::rename(&temp, &path).await?;
            tokio::fs::File::open(&self.dir).await?.sync_all().await?;
        }
        Ok((sha256, self.size))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
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

    #[tokio::test]
    async fn uploads_of_the_same_bytes_at_once_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let mut a = blobs.upload().await.unwrap();
        let mut b = blobs.upload().await.unwrap();
        for piece in [&b"crater "[..], b"photo"] {
            a.write(piece).await.unwrap();
            b.write(piece).await.unwrap();
        }
        let (sha_a, size) = a.finish().await.unwrap();
        let (sha_b, _) = b.finish().await.unwrap();
        assert_eq!(sha_a, sha_b);
        assert_eq!(size, 12);
        assert_eq!(blobs.get(&sha_a).unwrap().unwrap(), b"crater photo");
        // An upload dropped unfinished leaves nothing behind.
        let mut c = blobs.upload().await.unwrap();
        c.write(b"half").await.unwrap();
        drop(c);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
