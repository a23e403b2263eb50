//! The log's mathematics for truce: RFC 6962 / RFC 9162 Merkle tree hashing and proofs,
//! the tree's right edge (frontier), C2SP tlog-tiles paths and entry bundles, C2SP signed
//! notes (Ed25519) and C2SP checkpoints.
//!
//! Everything here is pure: no I/O, no clock, no randomness. Storage is reached through the
//! [`NodeReader`] trait, which only ever asks for hashes of perfect subtrees.

pub mod checkpoint;
pub mod frontier;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tile;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use frontier::Frontier;
pub use hash::{HASH_SIZE, Hash, empty_root, leaf_hash, node_hash};
pub use note::{MAX_SIGNATURES, NoteError, NoteSigner, NoteVerifier, key_id};
pub use proof::{
    MemoryTree, MissingNode, NodeReader, ProofError, ReadError, consistency_proof, inclusion_proof,
    tree_hash, verify_consistency, verify_inclusion,
};
pub use tile::{
    MAX_ENTRY_SIZE, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, TileAuditError, TileError, TileKind,
    TilePath, decode_entry_bundle, encode_entry_bundle, encode_tile_index, read_hash_tile,
    recompute_root_from_tiles, tiles_for_size,
};
