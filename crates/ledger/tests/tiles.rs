//! C2SP tlog-tiles: paths, entry bundles and auditing a tree from its tiles.

use std::collections::HashMap;

use proptest::prelude::*;
use truce_ledger::{
    MAX_ENTRY_SIZE, MemoryTree, TileAuditError, TileError, TileKind, TilePath, decode_entry_bundle,
    encode_entry_bundle, encode_tile_index, read_hash_tile, recompute_root_from_tiles,
    tiles_for_size, tree_hash,
};

#[test]
fn spec_examples() {
    assert_eq!(encode_tile_index(1234067), "x001/x234/067");
    let p = TilePath::parse("tile/0/x001/x234/067").unwrap();
    assert_eq!(
        p,
        TilePath {
            kind: TileKind::Hash { level: 0 },
            index: 1234067,
            width: 256
        }
    );
    let p = TilePath::parse("tile/0/x001/234.p/5").unwrap();
    assert_eq!((p.index, p.width), (1234, 5));
    assert_eq!(p.to_string(), "tile/0/x001/234.p/5");
    let e = TilePath::parse("tile/entries/000").unwrap();
    assert_eq!((e.kind, e.index, e.width), (TileKind::Entries, 0, 256));
    assert_eq!(
        TilePath::parse("tile/entries/x001/234.p/255")
            .unwrap()
            .to_string(),
        "tile/entries/x001/234.p/255"
    );
    assert_eq!(
        TilePath::parse("tile/63/000").unwrap().kind,
        TileKind::Hash { level: 63 }
    );
}

#[test]
fn rejects_non_canonical_paths() {
    for bad in [
        "",
        "tile/",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "xtile/0/000",
        "tiles/0/000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/a/000",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/5",
        "tile/0/x000/123",
        "tile/0/x001",
        "tile/0/001/002",
        "tile/0/x01/002",
        "tile/0/x0001/002",
        "tile/0/X001/002",
        "tile/0/x001/x002",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/05",
        "tile/0/000.p/",
        "tile/0/000.p/5/",
        "tile/0/000.p/+5",
        "tile/0/000.p5",
        "tile/0/000/",
        "tile/0/000 ",
        "tile/0/x001/.p/5",
        "tile/entries/",
        "tile/entries/00",
        "tile/Entries/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x001/x018/x446/x744/x073/x709/x551/615",
        "tile/0/１２３",
    ] {
        assert!(
            matches!(TilePath::parse(bad), Err(TileError::InvalidPath { .. })),
            "accepted {bad:?}"
        );
    }
    // The largest index a u64 holds is refused: its first hash would be at index × 256,
    // past any position. The largest accepted is 2^56 - 1.
    assert!(TilePath::parse("tile/0/x018/x446/x744/x073/x709/x551/615").is_err());
    assert_eq!(
        TilePath::parse("tile/0/x072/x057/x594/x037/x927/935")
            .unwrap()
            .index,
        (1 << 56) - 1
    );
}

fn tile_path() -> impl Strategy<Value = TilePath> {
    (
        prop_oneof![
            (0u8..=63).prop_map(|level| TileKind::Hash { level }),
            Just(TileKind::Entries)
        ],
        prop_oneof![0u64..2000, 0u64..(1 << 56)],
        prop_oneof![Just(256u16), 1u16..=255],
    )
        .prop_map(|(kind, index, width)| TilePath { kind, index, width })
}

proptest! {
    #[test]
    fn path_round_trip(p in tile_path()) {
        let s = p.to_string();
        prop_assert_eq!(TilePath::parse(&s).unwrap(), p);
        prop_assert_eq!(s.ends_with(&format!(".p/{}", p.width)), p.width < 256);
    }

    #[test]
    fn index_encoding_round_trip(n in 0u64..(1 << 56)) {
        let s = format!("tile/1/{}", encode_tile_index(n));
        prop_assert_eq!(TilePath::parse(&s).unwrap().index, n);
    }

    #[test]
    fn bundle_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..40)) {
        let bundle = encode_entry_bundle(entries.iter().map(|e| e.as_slice())).unwrap();
        let decoded = decode_entry_bundle(&bundle).unwrap();
        prop_assert_eq!(decoded.len(), entries.len());
        for (a, b) in decoded.iter().zip(&entries) {
            prop_assert_eq!(*a, b.as_slice());
        }
    }
}

#[test]
fn entry_bundle_format_and_limits() {
    let bundle = encode_entry_bundle([&b"ab"[..], b"", b"c"]).unwrap();
    assert_eq!(bundle, [0, 2, b'a', b'b', 0, 0, 0, 1, b'c']);
    assert_eq!(MAX_ENTRY_SIZE, 65535);
    let max = vec![7u8; MAX_ENTRY_SIZE];
    let b = encode_entry_bundle([max.as_slice()]).unwrap();
    assert_eq!(decode_entry_bundle(&b).unwrap(), [max.as_slice()]);
    let too_big = vec![7u8; MAX_ENTRY_SIZE + 1];
    assert_eq!(
        encode_entry_bundle([too_big.as_slice()]),
        Err(TileError::EntryTooLarge { len: 65536 })
    );
    for truncated in [&bundle[..1], &bundle[..3], &bundle[..8]] {
        assert!(matches!(
            decode_entry_bundle(truncated),
            Err(TileError::TruncatedBundle { .. })
        ));
    }
    assert!(decode_entry_bundle(&[]).unwrap().is_empty());
}

/// All hash tiles of a tree of `size` leaves, keyed by path.
fn publish(t: &MemoryTree, size: u64) -> HashMap<String, Vec<u8>> {
    tiles_for_size(size)
        .into_iter()
        .filter_map(|p| match p.kind {
            TileKind::Hash { level } => Some((
                p.to_string(),
                read_hash_tile(level, p.index, p.width, t).unwrap(),
            )),
            TileKind::Entries => None,
        })
        .collect()
}

fn fetch_from(
    tiles: &HashMap<String, Vec<u8>>,
) -> impl FnMut(&TilePath) -> Result<Vec<u8>, String> + '_ {
    |p: &TilePath| {
        tiles
            .get(&p.to_string())
            .cloned()
            .ok_or_else(|| "not found".to_owned())
    }
}

fn tree(size: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..size {
        t.push(&i.to_le_bytes());
    }
    t
}

#[test]
fn recompute_root_matches_tree_hash() {
    let big = tree(65536 + 3);
    for size in [
        0u64,
        1,
        2,
        255,
        256,
        257,
        511,
        512,
        1000,
        65535,
        65536,
        65536 + 3,
    ] {
        let tiles = publish(&big, size);
        let mut fetched = 0;
        let mut fetch = fetch_from(&tiles);
        let root = recompute_root_from_tiles(size, |p| {
            fetched += 1;
            fetch(p)
        })
        .unwrap();
        assert_eq!(root, tree_hash(size, &big).unwrap(), "size {size}");
        assert_eq!(
            fetched,
            tiles.len(),
            "every hash tile is read once for size {size}"
        );
    }
}

#[test]
fn audit_names_the_bad_tile() {
    let size = 65536 + 3;
    let t = tree(size);
    let tiles = publish(&t, size);

    // A flipped byte in a full level-0 tile.
    let mut bad = tiles.clone();
    bad.get_mut("tile/0/017").unwrap()[100] ^= 1;
    let err = recompute_root_from_tiles(size, fetch_from(&bad)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("tile/0/017") && msg.contains("tile/1/000"),
        "{msg}"
    );
    assert!(matches!(
        err,
        TileAuditError::Inconsistent { position: 17, .. }
    ));

    // A flipped byte in the level-1 tile: the tile below no longer matches it.
    let mut bad = tiles.clone();
    bad.get_mut("tile/1/000").unwrap()[32 * 200] ^= 0x80;
    let msg = recompute_root_from_tiles(size, fetch_from(&bad))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("tile/0/200") && msg.contains("tile/1/000"),
        "{msg}"
    );

    // A flipped byte in the right-edge partial level-0 tile only changes the root.
    let mut bad = tiles.clone();
    bad.get_mut("tile/0/256.p/3").unwrap()[0] ^= 1;
    let root = recompute_root_from_tiles(size, fetch_from(&bad)).unwrap();
    assert_ne!(root, t.root());

    // Short and missing tiles.
    let mut bad = tiles.clone();
    bad.get_mut("tile/0/255").unwrap().pop();
    let err = recompute_root_from_tiles(size, fetch_from(&bad)).unwrap_err();
    assert!(matches!(
        err,
        TileAuditError::WrongSize {
            expected: 8192,
            got: 8191,
            ..
        }
    ));
    assert!(err.to_string().contains("tile/0/255"), "{err}");
    let mut bad = tiles.clone();
    bad.remove("tile/2/000.p/1");
    let err = recompute_root_from_tiles(size, fetch_from(&bad)).unwrap_err();
    assert!(matches!(err, TileAuditError::Fetch { .. }));
    assert!(err.to_string().contains("tile/2/000.p/1"), "{err}");
}
