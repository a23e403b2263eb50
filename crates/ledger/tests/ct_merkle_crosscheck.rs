//! Cross-check against an independent implementation, the `ct-merkle` crate (0.3).
//!
//! ct-merkle's proofs are the same RFC 6962 hash lists as ours (inclusion: siblings from
//! the leaf up; consistency: RFC 6962 `PROOF`, omitting the old root when the old tree is
//! a perfect tree), serialised as the concatenation of the 32-byte hashes. So the only
//! conversion needed is concatenating our hashes into its byte format (`from_digests`).

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use sha2::Sha256;
use sha2::digest::Output;
use truce_ledger::{
    Hash, MemoryTree, consistency_proof, inclusion_proof, tree_hash, verify_consistency,
    verify_inclusion,
};

fn entry(i: u64) -> Vec<u8> {
    format!("entry number {i}").into_bytes()
}

fn out(h: &Hash) -> Output<Sha256> {
    Output::<Sha256>::from(*h)
}

fn hash_of(o: &Output<Sha256>) -> Hash {
    o.as_slice().try_into().unwrap()
}

fn root_of(ours: &MemoryTree, size: u64) -> RootHash<Sha256> {
    RootHash::new(out(&tree_hash(size, ours).unwrap()), size)
}

const SIZES: &[u64] = &[1, 2, 3, 4, 5, 7, 8, 9, 31, 32, 33, 100, 255, 256, 257, 1000];

#[test]
fn roots_and_proofs_agree_with_ct_merkle() {
    for &size in SIZES {
        let mut theirs: MemoryBackedTree<Sha256, Vec<u8>> = MemoryBackedTree::new();
        let mut ours = MemoryTree::new();
        for i in 0..size {
            theirs.push(entry(i));
            ours.push(&entry(i));
        }
        let their_root = theirs.root();
        assert_eq!(
            hash_of(their_root.as_bytes()),
            ours.root(),
            "root of size {size}"
        );

        let step = (size / 40).max(1);
        for index in (0..size).step_by(step as usize).chain([size - 1]) {
            let proof = inclusion_proof(index, size, &ours).unwrap();
            // Our proof, verified by ct-merkle.
            let converted = InclusionProof::<Sha256>::from_digests(
                proof.iter().map(out).collect::<Vec<_>>().iter(),
            );
            their_root
                .verify_inclusion(&entry(index), index, &converted)
                .unwrap_or_else(|e| panic!("ct-merkle rejects our proof {index}/{size}: {e}"));
            // ct-merkle's proof, byte for byte equal, and verified by us.
            let their_proof = theirs.prove_inclusion(index as usize);
            assert_eq!(their_proof.as_bytes(), proof.concat().as_slice());
            let back: Vec<Hash> = their_proof
                .as_bytes()
                .chunks(32)
                .map(|c| c.try_into().unwrap())
                .collect();
            verify_inclusion(&ours.leaf(index).unwrap(), index, size, &back, &ours.root()).unwrap();
        }

        for from in (1..=size).step_by(step as usize).chain([size]) {
            let proof = consistency_proof(from, size, &ours).unwrap();
            let old_root = root_of(&ours, from);
            let converted = ConsistencyProof::<Sha256>::from_digests(
                proof.iter().map(out).collect::<Vec<_>>().iter(),
            );
            their_root
                .verify_consistency(&old_root, &converted)
                .unwrap_or_else(|e| panic!("ct-merkle rejects our proof {from}->{size}: {e}"));
            let their_proof = theirs.prove_consistency((size - from) as usize);
            assert_eq!(
                their_proof.as_bytes(),
                proof.concat().as_slice(),
                "{from}->{size}"
            );
            verify_consistency(
                from,
                size,
                &tree_hash(from, &ours).unwrap(),
                &ours.root(),
                &proof,
            )
            .unwrap();
        }
    }
}
