//! C2SP tlog-tiles: tile paths, the set of tiles a tree publishes, entry bundles, and a
//! full audit of a tree from its hash tiles.
//!
//! A hash tile at level `L` holds up to 256 consecutive hashes of perfect subtrees of height
//! `8 * L`; a full tile is therefore itself a perfect tree of height 8 over those hashes,
//! and its root is one hash in the tile at level `L + 1`.

use std::fmt;

use crate::hash::{HASH_SIZE, Hash, empty_root, fold_right, perfect_root};
use crate::proof::NodeReader;

/// Height, in tree levels, of one tile.
pub const TILE_HEIGHT: u8 = 8;
/// Number of hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Largest entry an entry bundle can hold (its length prefix is a big-endian `u16`).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;
/// Highest tile level a path may name.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Errors from tile paths and entry bundles.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// The path is not a canonical tile path.
    #[error("invalid tile path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// An entry is longer than [`MAX_ENTRY_SIZE`].
    #[error("entry of {len} bytes exceeds the {MAX_ENTRY_SIZE}-byte limit of entry bundles")]
    EntryTooLarge { len: usize },
    /// An entry bundle ends in the middle of a length prefix or of an entry.
    #[error("entry bundle is truncated at byte {offset}")]
    TruncatedBundle { offset: usize },
}

/// What a tile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileKind {
    /// Merkle tree hashes at tile level `level`.
    Hash { level: u8 },
    /// An entry bundle.
    Entries,
}

/// One tile resource, as named under `<prefix>/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TilePath {
    pub kind: TileKind,
    /// Index of the tile within its level.
    pub index: u64,
    /// Number of hashes or entries: 1..=256, 256 for a full tile.
    pub width: u16,
}

/// Encode a tile index as zero-padded 3-digit path elements, all but the last prefixed with
/// `x`: `1234067` becomes `x001/x234/067`, `5` becomes `005`.
pub fn encode_tile_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::with_capacity(groups.len() * 5);
    for (i, g) in groups.iter().rev().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i + 1 < groups.len() {
            out.push('x');
        }
        out.push_str(&format!("{g:03}"));
    }
    out
}

/// Parse a decimal number with no sign and no leading zeros (other than "0" itself).
fn parse_canonical_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn three_digits(s: &str) -> Option<u64> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_tile_index(s: &str) -> Result<u64, &'static str> {
    let elements: Vec<&str> = s.split('/').collect();
    let (last, prefix) = elements.split_last().ok_or("empty index")?;
    let mut n: u64 = 0;
    for (i, e) in prefix.iter().enumerate() {
        let digits = e
            .strip_prefix('x')
            .ok_or("index element must start with 'x'")?;
        let v = three_digits(digits).ok_or("index element must be 'x' and 3 digits")?;
        if i == 0 && v == 0 {
            return Err("index has a leading zero element");
        }
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(v))
            .ok_or("index overflows")?;
    }
    let v = three_digits(last).ok_or("last index element must be 3 digits")?;
    n.checked_mul(1000)
        .and_then(|n| n.checked_add(v))
        .ok_or("index overflows")
}

impl TilePath {
    /// A full hash tile.
    pub fn hash(level: u8, index: u64) -> Self {
        TilePath {
            kind: TileKind::Hash { level },
            index,
            width: TILE_WIDTH as u16,
        }
    }

    /// Whether the tile holds 256 hashes or entries.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// Parse a tile path relative to the log prefix, such as `tile/0/x001/234.p/5` or
    /// `tile/entries/000`. Only canonical encodings are accepted.
    pub fn parse(path: &str) -> Result<Self, TileError> {
        let invalid = |reason| TileError::InvalidPath {
            path: path.to_owned(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| invalid("must start with \"tile/\""))?;
        let (kind_str, rest) = rest
            .split_once('/')
            .ok_or_else(|| invalid("missing tile index"))?;
        let kind = if kind_str == "entries" {
            TileKind::Entries
        } else {
            let level = parse_canonical_decimal(kind_str)
                .ok_or_else(|| invalid("level must be a canonical decimal number"))?;
            if level > u64::from(MAX_TILE_LEVEL) {
                return Err(invalid("level above 63"));
            }
            TileKind::Hash { level: level as u8 }
        };
        let (index_str, width) = match rest.split_once(".p/") {
            None => (rest, TILE_WIDTH as u16),
            Some((index_str, w)) => {
                let w = parse_canonical_decimal(w)
                    .ok_or_else(|| invalid("partial width must be a canonical decimal number"))?;
                if !(1..TILE_WIDTH).contains(&w) {
                    return Err(invalid("partial width must be between 1 and 255"));
                }
                (index_str, w as u16)
            }
        };
        let index = parse_tile_index(index_str).map_err(invalid)?;
        // Its first hash or entry must have a position: past 2^56 tiles, index × 256
        // would wrap (to tile 0, served as immutable).
        if index.checked_mul(TILE_WIDTH).is_none() {
            return Err(invalid("index beyond any log (2^56 tiles or more)"));
        }
        Ok(TilePath { kind, index, width })
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hash { level } => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        f.write_str(&encode_tile_index(self.index))?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for TilePath {
    type Err = TileError;

    fn from_str(s: &str) -> Result<Self, TileError> {
        TilePath::parse(s)
    }
}

/// Number of hashes at tile level `level` in a tree of `size` leaves.
fn hashes_at_level(size: u64, level: u8) -> u64 {
    size.checked_shr(u32::from(level) * u32::from(TILE_HEIGHT))
        .unwrap_or(0)
}

/// The tiles at one level (hash tiles, or entry bundles for `Entries`) of a tree holding
/// `count` items at that level: full tiles, then the partial one if any.
fn tiles_at(kind: TileKind, count: u64) -> impl Iterator<Item = TilePath> {
    let full = count / TILE_WIDTH;
    let partial = (count % TILE_WIDTH) as u16;
    (0..full)
        .map(move |index| TilePath {
            kind,
            index,
            width: TILE_WIDTH as u16,
        })
        .chain((partial > 0).then_some(TilePath {
            kind,
            index: full,
            width: partial,
        }))
}

/// Every hash tile (all levels, lowest first) and then every entry bundle that a tree of
/// `size` leaves publishes, each with its width.
pub fn tiles_for_size(size: u64) -> Vec<TilePath> {
    let mut out = Vec::new();
    let mut level = 0u8;
    loop {
        let count = hashes_at_level(size, level);
        if count == 0 {
            break;
        }
        out.extend(tiles_at(TileKind::Hash { level }, count));
        level += 1;
    }
    out.extend(tiles_at(TileKind::Entries, size));
    out
}

/// The bytes of a hash tile (`width` hashes at tile level `level`), read from `r`.
///
/// # Panics
/// If `level` is above 31 (its hashes would sit above tree height 255).
pub fn read_hash_tile<R: NodeReader>(
    level: u8,
    index: u64,
    width: u16,
    r: &R,
) -> Result<Vec<u8>, R::Error> {
    let height = u8::try_from(u16::from(level) * u16::from(TILE_HEIGHT))
        .expect("tile level too high for a 64-bit tree");
    let hashes = r.nodes(height, index * TILE_WIDTH, u64::from(width))?;
    Ok(hashes.concat())
}

/// Serialise entries as an entry bundle: each entry preceded by its length as a big-endian
/// `u16`.
pub fn encode_entry_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge { len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Split an entry bundle into its entries.
pub fn decode_entry_bundle(data: &[u8]) -> Result<Vec<&[u8]>, TileError> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < data.len() {
        let prefix = data
            .get(offset..offset + 2)
            .ok_or(TileError::TruncatedBundle { offset })?;
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        let entry = data
            .get(offset + 2..offset + 2 + len)
            .ok_or(TileError::TruncatedBundle { offset })?;
        out.push(entry);
        offset += 2 + len;
    }
    Ok(out)
}

/// A failure found while auditing a tree from its hash tiles.
#[derive(Debug, thiserror::Error)]
pub enum TileAuditError<E> {
    /// The tile could not be fetched.
    #[error("could not fetch {tile}: {error}")]
    Fetch { tile: TilePath, error: E },
    /// The tile does not hold exactly its width of hashes.
    #[error("{tile} is {got} bytes long, expected {expected}")]
    WrongSize {
        tile: TilePath,
        expected: usize,
        got: usize,
    },
    /// The root of a full tile differs from the hash recorded for it one level up.
    #[error("{tile} does not match hash {position} of {parent}")]
    Inconsistent {
        tile: TilePath,
        parent: TilePath,
        position: u16,
    },
}

/// Fetch one hash tile, check its size and, recursively, that every hash in it is the root
/// of the corresponding full tile one level down. Returns the tile's hashes.
fn audit_tile<E, F>(tile: TilePath, fetch: &mut F) -> Result<Vec<Hash>, TileAuditError<E>>
where
    F: FnMut(&TilePath) -> Result<Vec<u8>, E>,
{
    let bytes = fetch(&tile).map_err(|error| TileAuditError::Fetch { tile, error })?;
    let expected = usize::from(tile.width) * HASH_SIZE;
    if bytes.len() != expected {
        return Err(TileAuditError::WrongSize {
            tile,
            expected,
            got: bytes.len(),
        });
    }
    let hashes: Vec<Hash> = bytes
        .chunks_exact(HASH_SIZE)
        .map(|c| c.try_into().expect("chunk of HASH_SIZE bytes"))
        .collect();
    if let TileKind::Hash { level } = tile.kind
        && level > 0
    {
        for (position, recorded) in hashes.iter().enumerate() {
            let child = TilePath::hash(level - 1, tile.index * TILE_WIDTH + position as u64);
            let child_hashes = audit_tile(child, fetch)?;
            if perfect_root(&child_hashes) != *recorded {
                return Err(TileAuditError::Inconsistent {
                    tile: child,
                    parent: tile,
                    position: position as u16,
                });
            }
        }
    }
    Ok(hashes)
}

/// Recompute the root of the tree of `size` leaves from its hash tiles, fetching every hash
/// tile the tree publishes and checking each one's size and its agreement with the level
/// above. Errors name the offending tile. The caller compares the result with the
/// checkpoint's root hash (a corrupt right-edge tile only shows up there).
pub fn recompute_root_from_tiles<E>(
    size: u64,
    mut fetch: impl FnMut(&TilePath) -> Result<Vec<u8>, E>,
) -> Result<Hash, TileAuditError<E>> {
    // The partial tile at each level covers the part of the tree right of the full tiles
    // of that level; taken top-down, they tile [0, size) left to right. Auditing them
    // recursively reaches every full tile.
    let mut subtrees = Vec::new();
    let levels = (0u8..8).filter(|&l| hashes_at_level(size, l) > 0).count() as u8;
    for level in (0..levels).rev() {
        let count = hashes_at_level(size, level);
        let width = (count % TILE_WIDTH) as u16;
        if width == 0 {
            continue;
        }
        let tile = TilePath {
            kind: TileKind::Hash { level },
            index: count / TILE_WIDTH,
            width,
        };
        let hashes = audit_tile(tile, &mut fetch)?;
        // Group the tile's hashes into perfect subtrees, one per set bit of its width.
        let mut start = 0usize;
        for bit in (0..8).rev() {
            let n = 1usize << bit;
            if usize::from(width) & n != 0 {
                subtrees.push(perfect_root(&hashes[start..start + n]));
                start += n;
            }
        }
    }
    Ok(fold_right(&subtrees).unwrap_or_else(empty_root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_whose_start_overflows_is_refused() {
        // 2^56 = 72057594037927936: index × 256 would wrap to 0.
        for path in [
            "tile/0/x072/x057/x594/x037/x927/936",
            "tile/entries/x072/x057/x594/x037/x927/936",
        ] {
            assert!(TilePath::parse(path).is_err(), "{path}");
        }
        let last = "tile/0/x072/x057/x594/x037/x927/935";
        assert_eq!(TilePath::parse(last).unwrap().index, (1 << 56) - 1);
    }

    #[test]
    fn spec_index_examples() {
        assert_eq!(encode_tile_index(1234067), "x001/x234/067");
        assert_eq!(encode_tile_index(5), "005");
        assert_eq!(encode_tile_index(0), "000");
        assert_eq!(encode_tile_index(1000), "x001/000");
        assert_eq!(
            encode_tile_index(u64::MAX),
            "x018/x446/x744/x073/x709/x551/615"
        );
    }

    #[test]
    fn spec_size_70000() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
        // level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
        // 17, and one partial level 2 tile of width 1."
        let tiles = tiles_for_size(70_000);
        let hash_tiles: Vec<_> = tiles
            .iter()
            .filter(|t| matches!(t.kind, TileKind::Hash { .. }))
            .collect();
        let at = |l: u8| {
            hash_tiles
                .iter()
                .filter(move |t| t.kind == TileKind::Hash { level: l })
        };
        assert_eq!(at(0).filter(|t| t.is_full()).count(), 273);
        assert_eq!(
            at(0)
                .filter(|t| !t.is_full())
                .map(|t| t.width)
                .collect::<Vec<_>>(),
            [112]
        );
        assert_eq!(at(1).filter(|t| t.is_full()).count(), 1);
        assert_eq!(
            at(1)
                .filter(|t| !t.is_full())
                .map(|t| t.width)
                .collect::<Vec<_>>(),
            [17]
        );
        assert_eq!(at(2).map(|t| t.width).collect::<Vec<_>>(), [1]);
        assert_eq!(hash_tiles.len(), 273 + 1 + 1 + 1 + 1);
        assert_eq!(tiles.len() - hash_tiles.len(), 274);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level
        // 1 tile of width 1."
        let t256: Vec<String> = tiles_for_size(256).iter().map(|t| t.to_string()).collect();
        assert_eq!(t256, ["tile/0/000", "tile/1/000.p/1", "tile/entries/000"]);
        assert!(tiles_for_size(0).is_empty());
    }
}
