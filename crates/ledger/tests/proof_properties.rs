//! Property tests: every proof verifies, every alteration is rejected, the frontier agrees
//! with the tree.

use proptest::prelude::*;
use truce_ledger::{
    Frontier, Hash, MemoryTree, NodeReader, consistency_proof, inclusion_proof, tree_hash,
    verify_consistency, verify_inclusion,
};

/// Leaf data derived from a random seed: varying lengths (including empty) and contents.
fn build_tree(size: u64, seed: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..size {
        let len = ((seed ^ i).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|j| (seed.rotate_left((i as u32 + j as u32) % 64) ^ i ^ j as u64) as u8)
            .collect();
        t.push(&bytes);
    }
    t
}

fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Left/right position of each inclusion-proof hash (true: sibling on the left), from the
/// RFC 6962 recursion. Two (index, size) pairs with the same shape are indistinguishable to
/// any RFC 9162 verifier: the proof does not bind the size beyond its shape.
fn inclusion_shape(i: u64, lo: u64, hi: u64) -> Vec<bool> {
    if hi - lo <= 1 {
        return vec![];
    }
    let mid = lo + split(hi - lo);
    let (mut v, side) = if i < mid {
        (inclusion_shape(i, lo, mid), false)
    } else {
        (inclusion_shape(i, mid, hi), true)
    };
    v.push(side);
    v
}

/// The same for consistency proofs: 0 = the old tree's last subtree, 1 = right sibling only
/// in the new tree, 2 = left sibling in both trees.
fn consistency_shape(m: u64, lo: u64, hi: u64, whole: bool) -> Vec<u8> {
    if m == hi {
        return if whole { vec![] } else { vec![0] };
    }
    let mid = lo + split(hi - lo);
    let (mut v, role) = if m <= mid {
        (consistency_shape(m, lo, mid, whole), 1)
    } else {
        (consistency_shape(m, mid, hi, false), 2)
    };
    v.push(role);
    v
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

fn check_inclusion(t: &MemoryTree, size: u64, index: u64, root: &Hash, thorough: bool) {
    let leaf = t.leaf(index).unwrap();
    let proof = inclusion_proof(index, size, t).unwrap();
    verify_inclusion(&leaf, index, size, &proof, root).unwrap();
    if !thorough {
        return;
    }
    for i in 0..proof.len() {
        for bit in [0, 77, 255] {
            let mut p = proof.clone();
            p[i] = flip(&p[i], bit);
            assert!(verify_inclusion(&leaf, index, size, &p, root).is_err());
        }
    }
    assert!(verify_inclusion(&flip(&leaf, 3), index, size, &proof, root).is_err());
    assert!(verify_inclusion(&leaf, index, size, &proof, &flip(root, 200)).is_err());
    let mut longer = proof.clone();
    longer.push(*root);
    assert!(verify_inclusion(&leaf, index, size, &longer, root).is_err());
    if !proof.is_empty() {
        assert!(verify_inclusion(&leaf, index, size, &proof[1..], root).is_err());
    }
    for wrong in [index ^ 1, index + 1, index.wrapping_sub(1), index ^ 4] {
        if wrong != index && size > 1 {
            assert!(
                verify_inclusion(&leaf, wrong, size, &proof, root).is_err(),
                "index {index} accepted as {wrong} in size {size}"
            );
        }
    }
    for wrong in [size + 1, size - 1, size * 2, size / 2, size + 100] {
        if wrong == size {
            continue;
        }
        let accepted = verify_inclusion(&leaf, index, wrong, &proof, root).is_ok();
        let same_shape =
            wrong > index && inclusion_shape(index, 0, wrong) == inclusion_shape(index, 0, size);
        assert_eq!(
            accepted, same_shape,
            "index {index}, size {size} vs {wrong}"
        );
    }
}

fn check_consistency(t: &MemoryTree, from: u64, to: u64) {
    let r1 = tree_hash(from, t).unwrap();
    let r2 = tree_hash(to, t).unwrap();
    let proof = consistency_proof(from, to, t).unwrap();
    verify_consistency(from, to, &r1, &r2, &proof).unwrap();
    if from == 0 || from == to {
        assert!(proof.is_empty());
        return;
    }
    for i in 0..proof.len() {
        let mut p = proof.clone();
        p[i] = flip(&p[i], 5);
        assert!(verify_consistency(from, to, &r1, &r2, &p).is_err());
    }
    assert!(verify_consistency(from, to, &flip(&r1, 9), &r2, &proof).is_err());
    assert!(verify_consistency(from, to, &r1, &flip(&r2, 9), &proof).is_err());
    assert!(verify_consistency(from, to, &r2, &r1, &proof).is_err());
    assert!(verify_consistency(from, to, &r1, &r2, &proof[1..]).is_err());
    let mut longer = proof.clone();
    longer.push(r2);
    assert!(verify_consistency(from, to, &r1, &r2, &longer).is_err());
    for wrong in [from + 1, from - 1, from ^ 2, from / 2] {
        if wrong != from && wrong <= to && wrong > 0 {
            assert!(
                verify_consistency(wrong, to, &r1, &r2, &proof).is_err(),
                "{from} -> {to} accepted as {wrong} -> {to}"
            );
        }
    }
    for wrong in [to + 1, to - 1, to * 2, to / 2] {
        if wrong == to || wrong < from {
            continue;
        }
        let accepted = verify_consistency(from, wrong, &r1, &r2, &proof).is_ok();
        let same_shape = wrong > from
            && consistency_shape(from, 0, wrong, true) == consistency_shape(from, 0, to, true);
        assert_eq!(accepted, same_shape, "{from} -> {to} vs {from} -> {wrong}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn proofs_verify_and_alterations_fail(
        size in 1u64..2000,
        seed in any::<u64>(),
        pairs in prop::collection::vec((any::<u64>(), any::<u64>()), 40),
        picks in prop::collection::vec(any::<u64>(), 40),
    ) {
        let t = build_tree(size, seed);
        let root = t.root();
        // Every inclusion proof verifies; a random selection is also attacked.
        for index in 0..size {
            check_inclusion(&t, size, index, &root, false);
        }
        for p in &picks {
            check_inclusion(&t, size, p % size, &root, true);
        }
        check_inclusion(&t, size, size - 1, &root, true);
        for &(a, b) in &pairs {
            let (x, y) = (a % (size + 1), b % (size + 1));
            check_consistency(&t, x.min(y), x.max(y));
        }
        check_consistency(&t, size / 2 + 1, size);
    }

    #[test]
    fn frontier_tracks_the_tree(size in 0u64..2000, seed in any::<u64>()) {
        let t = build_tree(size, seed);
        let mut f = Frontier::new();
        prop_assert_eq!(f.root(), tree_hash(0, &t).unwrap());
        for i in 0..size {
            let mut reported = Vec::new();
            f.append(t.leaf(i).unwrap(), |h, idx, hash| reported.push((h, idx, *hash)));
            for (h, idx, hash) in reported {
                prop_assert_eq!(t.node(h, idx).unwrap(), hash);
            }
            prop_assert_eq!(f.size(), i + 1);
            prop_assert_eq!(f.root(), tree_hash(i + 1, &t).unwrap());
            let loaded = Frontier::load(i + 1, &t).unwrap();
            prop_assert_eq!(&loaded, &f);
        }
        prop_assert_eq!(f.root(), t.root());
    }
}

#[test]
fn every_pair_in_small_trees() {
    let t = build_tree(70, 42);
    for to in 0..=70 {
        for from in 0..=to {
            check_consistency(&t, from, to);
        }
        for index in 0..to {
            check_inclusion(&t, to, index, &tree_hash(to, &t).unwrap(), true);
        }
    }
}
