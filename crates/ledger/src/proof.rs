//! Merkle tree hashes, inclusion proofs and consistency proofs (RFC 6962 section 2.1,
//! RFC 9162 section 2.1), computed from the hashes of perfect subtrees only.
//!
//! Every subtree hash that the RFC recursion asks for, `MTH(D[a:b])`, covers a range whose
//! start is aligned to the largest power of two not above its length. Such a range splits
//! into perfect, aligned subtrees (one per set bit of `b - a`, largest first) and its hash
//! is the right fold of theirs. A store therefore only has to keep perfect subtrees, which
//! never change once complete.

use crate::hash::{Hash, empty_root, fold_right, node_hash};

/// Source of hashes of *perfect* subtrees.
///
/// `node(height, index)` is the hash of the perfect subtree of `2^height` leaves that starts
/// at leaf `index << height`; at height 0 that is a leaf hash. Callers in this crate only ask
/// for subtrees that lie entirely inside the tree they work on.
pub trait NodeReader {
    /// The reader's failure (I/O, missing data, ...).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The hash of one perfect subtree.
    fn node(&self, height: u8, index: u64) -> Result<Hash, Self::Error>;

    /// The hashes of `count` consecutive perfect subtrees at `height`, starting at `start`.
    /// The default asks [`NodeReader::node`] once per node; database-backed readers should
    /// override it with a single range read.
    fn nodes(&self, height: u8, start: u64, count: u64) -> Result<Vec<Hash>, Self::Error> {
        (start..start + count)
            .map(|index| self.node(height, index))
            .collect()
    }
}

impl<R: NodeReader + ?Sized> NodeReader for &R {
    type Error = R::Error;

    fn node(&self, height: u8, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(height, index)
    }

    fn nodes(&self, height: u8, start: u64, count: u64) -> Result<Vec<Hash>, Self::Error> {
        (**self).nodes(height, start, count)
    }
}

/// Why a proof could not be produced or did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The older tree is larger than the newer one.
    #[error("tree size {from} is larger than tree size {to}")]
    BadSizes { from: u64, to: u64 },
    /// The proof has the wrong number of hashes for the sizes and index given.
    #[error("proof has {got} hashes, expected {expected}")]
    WrongProofLength { expected: usize, got: usize },
    /// The proof does not lead to the expected root hash (or, for consistency proofs with
    /// equal sizes, the two roots differ).
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// Failure of a proof computation: the reader failed or the arguments were invalid.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    /// The [`NodeReader`] failed.
    #[error(transparent)]
    Read(E),
    /// The request itself was invalid.
    #[error(transparent)]
    Proof(ProofError),
}

impl<E> From<ProofError> for ReadError<E> {
    fn from(e: ProofError) -> Self {
        ReadError::Proof(e)
    }
}

/// The perfect subtrees, as `(height, index)`, that make up the leaf range `[start, end)`,
/// largest first. `start` must be aligned to the largest of them (true for every range the
/// RFC 6962 recursion produces, and for `[0, size)`).
pub(crate) fn range_nodes(start: u64, end: u64) -> impl Iterator<Item = (u8, u64)> {
    let len = end - start;
    let mut pos = start;
    (0..64u8).rev().filter_map(move |h| {
        if len >> h & 1 == 1 {
            debug_assert_eq!(pos % (1u64 << h), 0, "unaligned range");
            let item = (h, pos >> h);
            pos = pos.wrapping_add(1u64 << h);
            Some(item)
        } else {
            None
        }
    })
}

/// `MTH(D[start:end])` for an aligned, non-empty range.
fn range_hash<R: NodeReader>(start: u64, end: u64, r: &R) -> Result<Hash, R::Error> {
    let hashes = range_nodes(start, end)
        .map(|(h, i)| r.node(h, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(fold_right(&hashes).unwrap_or_else(empty_root))
}

/// The largest power of two strictly below `n` (`n >= 2`): the RFC's split point `k`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `log2` of a power of two.
fn height_of(k: u64) -> u8 {
    k.trailing_zeros() as u8
}

/// The RFC 6962 Merkle Tree Hash of the first `size` leaves.
pub fn tree_hash<R: NodeReader>(size: u64, r: &R) -> Result<Hash, R::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(0, size, r)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 6962 `PATH`,
/// RFC 9162 section 2.1.3.1): sibling hashes from the leaf up to the root.
pub fn inclusion_proof<R: NodeReader>(
    index: u64,
    size: u64,
    r: &R,
) -> Result<Vec<Hash>, ReadError<R::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size }.into());
    }
    // Walk down from the root; the RFC emits the deepest sibling first, so collect the
    // siblings top-down and reverse at the end.
    let (mut lo, mut hi) = (0u64, size);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        let mid = lo + k;
        if index < mid {
            path.push(range_hash(mid, hi, r).map_err(ReadError::Read)?);
            hi = mid;
        } else {
            let left = r.node(height_of(k), lo >> height_of(k));
            path.push(left.map_err(ReadError::Read)?);
            lo = mid;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof between the trees of `from` and `to` leaves (RFC 6962 `PROOF`,
/// RFC 9162 section 2.1.4.1). Empty when `from` is 0 or equal to `to`.
pub fn consistency_proof<R: NodeReader>(
    from: u64,
    to: u64,
    r: &R,
) -> Result<Vec<Hash>, ReadError<R::Error>> {
    if from > to {
        return Err(ProofError::BadSizes { from, to }.into());
    }
    if from == 0 || from == to {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled. Each step appends one hash after the proof of the
    // sub-range, so collect top-down, then reverse; the terminal hash (when b is false) goes
    // first.
    let (mut lo, mut hi) = (0u64, to);
    let mut whole_old_tree = true; // the RFC's `b`
    let mut tail = Vec::new();
    let head = loop {
        if from == hi {
            if whole_old_tree {
                break None;
            }
            break Some(range_hash(lo, hi, r).map_err(ReadError::Read)?);
        }
        let k = split_point(hi - lo);
        let mid = lo + k;
        if from <= mid {
            tail.push(range_hash(mid, hi, r).map_err(ReadError::Read)?);
            hi = mid;
        } else {
            let left = r.node(height_of(k), lo >> height_of(k));
            tail.push(left.map_err(ReadError::Read)?);
            lo = mid;
            whole_old_tree = false;
        }
    };
    let mut proof = Vec::with_capacity(tail.len() + 1);
    proof.extend(head);
    proof.extend(tail.into_iter().rev());
    Ok(proof)
}

/// Number of bits needed to write `x`.
fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Length of the inclusion proof of node `index` in a tree whose last node at the same
/// height is `last`: one hash per level below the point where the two paths meet, plus one
/// per left sibling on the right border above it.
fn path_len(index: u64, last: u64) -> usize {
    let inner = bit_len(index ^ last);
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Verify an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = path_len(index, size - 1);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut acc = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            acc = node_hash(p, &acc);
            // Skip the levels where this node is a lone right-border node (no sibling).
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            acc = node_hash(&acc, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 || acc != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verify a consistency proof between the trees of `from` and `to` leaves
/// (RFC 9162 section 2.1.4.2).
///
/// A tree of size 0 is consistent with every tree, with an empty proof. Equal sizes need an
/// empty proof and equal roots.
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofError::BadSizes { from, to });
    }
    if from == 0 || from == to {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if from == to && from_root != to_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }

    // The old tree's smallest perfect subtree, at height `level`, is where the proof starts;
    // the rest of the proof is that node's inclusion path in the new tree.
    let level = from.trailing_zeros();
    let old_is_perfect = from.is_power_of_two();
    let expected = usize::from(!old_is_perfect) + path_len((from - 1) >> level, (to - 1) >> level);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }

    let (first, rest) = if old_is_perfect {
        (from_root, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    let (mut f, mut s) = ((from - 1) >> level, (to - 1) >> level);
    let (mut old_acc, mut new_acc) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongProofLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            old_acc = node_hash(c, &old_acc);
            new_acc = node_hash(c, &new_acc);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            new_acc = node_hash(&new_acc, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 || old_acc != *from_root || new_acc != *to_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// A node that a [`MemoryTree`] was asked for but does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no perfect subtree at height {height}, index {index}")]
pub struct MissingNode {
    pub height: u8,
    pub index: u64,
}

/// An in-memory tree that keeps every perfect subtree hash. Meant for tests and small tools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[h][i]` is `node(h, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree holding `entries`, in order.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut t = Self::new();
        for e in entries {
            t.push(e);
        }
        t
    }

    /// Append an entry (it is hashed with [`crate::leaf_hash`]); returns its index.
    pub fn push(&mut self, entry: &[u8]) -> u64 {
        self.push_hash(crate::hash::leaf_hash(entry))
    }

    /// Append a leaf hash; returns its index.
    pub fn push_hash(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let index = self.levels[0].len() as u64 - 1;
        let mut h = 0;
        while self.levels[h].len().is_multiple_of(2) {
            let n = self.levels[h].len();
            let parent = node_hash(&self.levels[h][n - 2], &self.levels[h][n - 1]);
            if self.levels.len() == h + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[h + 1].push(parent);
            h += 1;
        }
        index
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.len())
            .expect("a memory tree holds every node of its own size")
    }

    /// The root of the tree made of the first `size` leaves, if `size <= len()`.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.len() {
            return None;
        }
        tree_hash(size, self).ok()
    }
}

impl NodeReader for MemoryTree {
    type Error = MissingNode;

    fn node(&self, height: u8, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(usize::from(height))
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode { height, index })
    }

    fn nodes(&self, height: u8, start: u64, count: u64) -> Result<Vec<Hash>, MissingNode> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let level = self.levels.get(usize::from(height));
        let range = usize::try_from(start)
            .ok()
            .zip(usize::try_from(start.saturating_add(count)).ok());
        match (level, range) {
            (Some(level), Some((a, b))) if b <= level.len() => Ok(level[a..b].to_vec()),
            _ => Err(MissingNode {
                height,
                index: start.saturating_add(count).saturating_sub(1),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    /// Straight transcription of the RFC 6962 MTH recursion over leaf hashes.
    fn reference_mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_mth(&leaves[..k]), &reference_mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn tree_hash_matches_recursive_definition() {
        let mut t = MemoryTree::new();
        let mut leaves = Vec::new();
        for i in 0..70u32 {
            assert_eq!(t.root(), reference_mth(&leaves), "size {i}");
            let h = leaf_hash(&i.to_be_bytes());
            leaves.push(h);
            t.push_hash(h);
        }
    }

    #[test]
    fn bad_arguments() {
        let t = MemoryTree::from_entries([&b"a"[..], b"b"]);
        assert!(matches!(
            inclusion_proof(2, 2, &t),
            Err(ReadError::Proof(ProofError::IndexOutOfRange {
                index: 2,
                size: 2
            }))
        ));
        assert!(matches!(
            consistency_proof(2, 1, &t),
            Err(ReadError::Proof(ProofError::BadSizes { from: 2, to: 1 }))
        ));
        assert!(matches!(
            tree_hash(3, &t),
            Err(MissingNode {
                height: 0,
                index: 2
            })
        ));
    }

    #[test]
    fn nodes_range_read() {
        let t = MemoryTree::from_entries([&b"a"[..], b"b", b"c"]);
        assert_eq!(
            t.nodes(0, 1, 2).unwrap(),
            vec![t.leaf(1).unwrap(), t.leaf(2).unwrap()]
        );
        assert!(t.nodes(0, 2, 2).is_err());
        assert!(t.nodes(1, 0, 1).is_ok());
        assert!(t.nodes(5, 0, 1).is_err());
    }
}
