//! The right edge of the tree: enough state to append leaves and compute the root without
//! reading anything else.

use crate::hash::{Hash, empty_root, fold_right, node_hash};
use crate::proof::{NodeReader, range_nodes};

/// The right edge of the tree (a compact range over `[0, size)`): the hashes of the perfect
/// subtrees that make up a tree of `size` leaves, largest first. There is one per set bit of
/// `size`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree hashes, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The `(height, index)` of each perfect subtree in [`Frontier::hashes`], in the same
    /// order.
    pub fn node_ids(&self) -> Vec<(u8, u64)> {
        range_nodes(0, self.size).collect()
    }

    /// The RFC 6962 root of the tree; [`empty_root`] when the tree is empty.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes).unwrap_or_else(empty_root)
    }

    /// Rebuild the frontier of a tree of `size` leaves by reading its perfect subtrees.
    pub fn load<R: NodeReader>(size: u64, r: &R) -> Result<Self, R::Error> {
        let hashes = range_nodes(0, size)
            .map(|(h, i)| r.node(h, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }

    /// Append one leaf hash. `completed(height, index, hash)` is called for every perfect
    /// node of height >= 1 that this leaf completes, lowest first, so that a store can keep
    /// it.
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Hash, mut completed: impl FnMut(u8, u64, &Hash)) {
        let new_size = self.size.checked_add(1).expect("tree size overflow");
        let mut acc = leaf;
        let mut height = 0u8;
        // Each set low bit of the old size is a perfect subtree that merges with the new leaf.
        while self.size >> height & 1 == 1 {
            let left = self.hashes.pop().expect("one hash per set bit of the size");
            acc = node_hash(&left, &acc);
            height += 1;
            completed(height, (new_size >> height) - 1, &acc);
        }
        self.hashes.push(acc);
        self.size = new_size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::proof::MemoryTree;

    #[test]
    fn append_reports_completed_nodes() {
        let mut f = Frontier::new();
        let mut t = MemoryTree::new();
        for i in 0..300u32 {
            let leaf = leaf_hash(&i.to_le_bytes());
            t.push_hash(leaf);
            let mut seen = Vec::new();
            f.append(leaf, |h, idx, hash| seen.push((h, idx, *hash)));
            let expected_count = (i + 1).trailing_zeros() as u8;
            assert_eq!(seen.len(), usize::from(expected_count));
            for (k, (h, idx, hash)) in seen.iter().enumerate() {
                assert_eq!(usize::from(*h), k + 1);
                assert_eq!(t.node(*h, *idx).unwrap(), *hash);
            }
            assert_eq!(f.root(), t.root());
            assert_eq!(Frontier::load(f.size(), &t).unwrap(), f);
        }
    }

    #[test]
    fn empty() {
        assert_eq!(Frontier::new().root(), empty_root());
        assert_eq!(
            Frontier::load(0, &MemoryTree::new()).unwrap(),
            Frontier::new()
        );
    }
}
