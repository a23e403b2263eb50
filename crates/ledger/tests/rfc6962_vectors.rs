//! Published RFC 6962 test vectors from transparency-dev/merkle (see
//! tests/vectors/rfc6962-merkle.json for the exact source files).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use truce_ledger::{
    Hash, MemoryTree, NodeReader, ProofError, ReadError, consistency_proof, empty_root,
    inclusion_proof, leaf_hash, node_hash, tree_hash, verify_consistency, verify_inclusion,
};

#[derive(Deserialize)]
struct Vectors {
    leaves: Vec<String>,
    node_hashes: Vec<Vec<String>>,
    roots: Vec<String>,
    inclusion: Vec<Inclusion>,
    consistency: Vec<Consistency>,
    consistency_json_happy_path_base64: Base64Consistency,
    inclusion_node_ids: Vec<InclusionIds>,
    consistency_node_ids: Vec<ConsistencyIds>,
}

#[derive(Deserialize)]
struct Inclusion {
    index: u64,
    size: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Consistency {
    size1: u64,
    size2: u64,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Base64Consistency {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct InclusionIds {
    size: u64,
    index: u64,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    nodes: Vec<(u8, u64)>,
    rehash: Option<(usize, usize)>,
}

#[derive(Deserialize)]
struct ConsistencyIds {
    size1: u64,
    size2: u64,
    #[serde(default)]
    error: bool,
    #[serde(default)]
    nodes: Vec<(u8, u64)>,
    rehash: Option<(usize, usize)>,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("vectors/rfc6962-merkle.json")).unwrap()
}

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn hs(v: &[String]) -> Vec<Hash> {
    v.iter().map(|s| h(s)).collect()
}

fn reference_tree(v: &Vectors) -> MemoryTree {
    let mut t = MemoryTree::new();
    for l in &v.leaves {
        t.push(&hex::decode(l).unwrap());
    }
    t
}

#[test]
fn leaves_nodes_and_roots() {
    let v = vectors();
    let t = reference_tree(&v);
    assert_eq!(h(&v.roots[0]), empty_root());
    for (size, root) in v.roots.iter().enumerate() {
        assert_eq!(tree_hash(size as u64, &t).unwrap(), h(root), "size {size}");
    }
    for (height, level) in v.node_hashes.iter().enumerate() {
        for (index, hash) in level.iter().enumerate() {
            assert_eq!(t.node(height as u8, index as u64).unwrap(), h(hash));
        }
    }
    for (i, l) in v.leaves.iter().enumerate() {
        assert_eq!(leaf_hash(&hex::decode(l).unwrap()), h(&v.node_hashes[0][i]));
    }
}

#[test]
fn inclusion_vectors() {
    let v = vectors();
    let t = reference_tree(&v);
    for c in &v.inclusion {
        let want = hs(&c.proof);
        let got = inclusion_proof(c.index, c.size, &t).unwrap();
        assert_eq!(got, want, "index {} size {}", c.index, c.size);
        let leaf = t.leaf(c.index).unwrap();
        let root = h(&v.roots[c.size as usize]);
        verify_inclusion(&leaf, c.index, c.size, &want, &root).unwrap();
        // Corruptions from the same source's verifier tests.
        let mut probes: Vec<(u64, u64, Hash, Vec<Hash>, Hash)> = vec![
            (c.index, c.size, leaf, want.clone(), empty_root()),
            (c.index, c.size, leaf_hash(b"WrongLeaf"), want.clone(), root),
            (
                c.index,
                c.size,
                leaf,
                [want.clone(), vec![root]].concat(),
                root,
            ),
            (
                c.index,
                c.size,
                leaf,
                [vec![root], want.clone()].concat(),
                root,
            ),
            (c.index, c.size * 2, leaf, want.clone(), root),
            (c.index, c.size / 2, leaf, want.clone(), root),
            (c.index.wrapping_sub(1), c.size, leaf, want.clone(), root),
            (c.index + 1, c.size, leaf, want.clone(), root),
            (c.index ^ 2, c.size, leaf, want.clone(), root),
        ];
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i][0] ^= 8;
            probes.push((c.index, c.size, leaf, p, root));
        }
        if !want.is_empty() {
            probes.push((c.index, c.size, leaf, want[..want.len() - 1].to_vec(), root));
        }
        for (n, (index, size, leaf, proof, root)) in probes.into_iter().enumerate() {
            assert!(
                verify_inclusion(&leaf, index, size, &proof, &root).is_err(),
                "probe {n} for index {} size {}",
                c.index,
                c.size
            );
        }
    }
}

#[test]
fn consistency_vectors() {
    let v = vectors();
    let t = reference_tree(&v);
    for c in &v.consistency {
        let want = hs(&c.proof);
        let got = consistency_proof(c.size1, c.size2, &t).unwrap();
        assert_eq!(got, want, "{} -> {}", c.size1, c.size2);
        let r1 = h(&v.roots[c.size1 as usize]);
        let r2 = h(&v.roots[c.size2 as usize]);
        verify_consistency(c.size1, c.size2, &r1, &r2, &want).unwrap();
        if want.is_empty() {
            continue;
        }
        let mut probes: Vec<(u64, u64, Hash, Hash, Vec<Hash>)> = vec![
            (c.size1 - 1, c.size2, r1, r2, want.clone()),
            (c.size1 + 1, c.size2, r1, r2, want.clone()),
            (c.size1 ^ 2, c.size2, r1, r2, want.clone()),
            (c.size1, c.size2 * 2, r1, r2, want.clone()),
            (c.size1, c.size2 / 2, r1, r2, want.clone()),
            (c.size1, c.size2, leaf_hash(b"WrongRoot"), r2, want.clone()),
            (c.size1, c.size2, r1, leaf_hash(b"WrongRoot"), want.clone()),
            (c.size1, c.size2, r2, r1, want.clone()),
            (c.size1, c.size2, r1, r2, vec![]),
            (c.size1, c.size2, r1, r2, [want.clone(), vec![r1]].concat()),
            (c.size1, c.size2, r1, r2, [want.clone(), vec![r2]].concat()),
            (c.size1, c.size2, r1, r2, [vec![r1], want.clone()].concat()),
            (c.size1, c.size2, r1, r2, [vec![r2], want.clone()].concat()),
            (
                c.size1,
                c.size2,
                r1,
                r2,
                [vec![want[0]], want.clone()].concat(),
            ),
            (c.size1, c.size2, r1, r2, want[..want.len() - 1].to_vec()),
        ];
        for i in 0..want.len() {
            let mut p = want.clone();
            p[i][0] ^= 16;
            probes.push((c.size1, c.size2, r1, r2, p));
        }
        for (n, (s1, s2, r1, r2, proof)) in probes.into_iter().enumerate() {
            assert!(
                verify_consistency(s1, s2, &r1, &r2, &proof).is_err(),
                "probe {n} for {} -> {}",
                c.size1,
                c.size2
            );
        }
    }
}

#[test]
fn consistency_json_happy_path() {
    let v = vectors();
    let c = &v.consistency_json_happy_path_base64;
    let b = |s: &String| -> Hash { B64.decode(s).unwrap().try_into().unwrap() };
    let proof: Vec<Hash> = c.proof.iter().map(b).collect();
    verify_consistency(c.size1, c.size2, &b(&c.root1), &b(&c.root2), &proof).unwrap();
    let t = reference_tree(&v);
    assert_eq!(consistency_proof(c.size1, c.size2, &t).unwrap(), proof);
}

#[test]
fn verifier_edge_cases() {
    // From proof/verify_test.go TestVerifyConsistency / TestVerifyInclusion.
    let (a, b) = (leaf_hash(b"don't care 1"), leaf_hash(b"don't care 2"));
    let e = empty_root();
    // Equal sizes need equal roots, even for the empty tree.
    assert!(verify_consistency(0, 0, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 1, &a, &b, &[]).is_err());
    assert!(verify_consistency(0, 0, &a, &a, &[]).is_ok());
    assert!(verify_consistency(0, 1, &a, &b, &[]).is_ok());
    assert!(verify_consistency(1, 1, &b, &b, &[]).is_ok());
    assert!(matches!(
        verify_consistency(1, 0, &a, &b, &[]),
        Err(ProofError::BadSizes { from: 1, to: 0 })
    ));
    assert!(verify_consistency(2, 1, &a, &b, &[]).is_err());
    assert!(verify_consistency(1, 2, &a, &b, &[]).is_err());
    assert!(verify_consistency(0, 0, &e, &e, &[e]).is_err());
    assert!(verify_consistency(0, 1, &e, &e, &[e]).is_err());
    assert!(verify_consistency(1, 1, &e, &e, &[e]).is_err());
    for (index, size) in [(0, 0), (1, 0), (2, 1)] {
        assert!(matches!(
            verify_inclusion(&a, index, size, &[], &e),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }
    let data = leaf_hash(b"data");
    assert!(verify_inclusion(&data, 0, 1, &[], &data).is_ok());
    assert!(verify_inclusion(&data, 0, 1, &[], &e).is_err());
}

/// Expected proof from node IDs, hashing the `rehash` group into one element (lowest first).
fn expected_from_ids(
    t: &MemoryTree,
    nodes: &[(u8, u64)],
    rehash: Option<(usize, usize)>,
) -> Vec<Hash> {
    let hashes: Vec<Hash> = nodes.iter().map(|&(l, i)| t.node(l, i).unwrap()).collect();
    let Some((begin, end)) = rehash else {
        return hashes;
    };
    let folded = hashes[begin + 1..end]
        .iter()
        .fold(hashes[begin], |acc, h| node_hash(h, &acc));
    [&hashes[..begin], &[folded][..], &hashes[end..]].concat()
}

#[test]
fn proof_structure_node_ids() {
    let v = vectors();
    // The node-ID vectors are structural; any leaves do. Use 128 arbitrary ones.
    let mut t = MemoryTree::new();
    for i in 0..128u32 {
        t.push(format!("leaf {i}").as_bytes());
    }
    for c in &v.inclusion_node_ids {
        let got = inclusion_proof(c.index, c.size, &t);
        if c.error {
            assert!(
                matches!(got, Err(ReadError::Proof(_))),
                "{}:{}",
                c.size,
                c.index
            );
            continue;
        }
        let want = expected_from_ids(&t, &c.nodes, c.rehash);
        assert_eq!(got.unwrap(), want, "inclusion {}:{}", c.size, c.index);
    }
    for c in &v.consistency_node_ids {
        let got = consistency_proof(c.size1, c.size2, &t);
        if c.error {
            assert!(
                matches!(got, Err(ReadError::Proof(_))),
                "{}:{}",
                c.size1,
                c.size2
            );
            continue;
        }
        let want = expected_from_ids(&t, &c.nodes, c.rehash);
        assert_eq!(got.unwrap(), want, "consistency {}:{}", c.size1, c.size2);
    }
}
