use truce_ledger::{MemoryTree, NodeReader, inclusion_proof, tree_hash, verify_inclusion};

use super::*;

fn entry(i: u64) -> NewEntry {
    NewEntry::new(
        format!("entry {i}").into_bytes(),
        SideEffect::Observation {
            sensor: "s".into(),
            seq: i,
            payload_sha256: [i as u8; 32],
        },
    )
}

#[test]
fn appends_survive_reopening_with_the_same_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut memory = MemoryTree::default();
    let root = {
        let (_store, mut writer) = Store::open(dir.path(), "test/log").unwrap();
        for chunk in (0..700u64).collect::<Vec<_>>().chunks(97) {
            let batch: Vec<_> = chunk.iter().map(|i| entry(*i)).collect();
            let placed = writer.append(&batch).unwrap();
            assert_eq!(placed[0].0, chunk[0]);
        }
        for i in 0..700u64 {
            memory.push(&entry(i).data);
        }
        assert_eq!(writer.root(), memory.root());
        writer.root()
    };
    let (store, writer) = Store::open(dir.path(), "test/log").unwrap();
    assert_eq!(writer.size(), 700);
    assert_eq!(writer.root(), root);
    store
        .read(|r| {
            assert_eq!(tree_hash(700, r).unwrap(), root);
            assert_eq!(r.node(9, 0).unwrap(), memory.node(9, 0).unwrap());
            let proof = inclusion_proof(300, 700, r).unwrap();
            let leaf = truce_ledger::leaf_hash(&entry(300).data);
            verify_inclusion(&leaf, 300, 700, &proof, &root).unwrap();
            assert_eq!(r.observation("s", 42).unwrap().unwrap().index, 42);
            assert_eq!(r.row(8, 0, 10).unwrap().len(), 2);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_failed_batch_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, mut writer) = Store::open(dir.path(), "test/log").unwrap();
    writer.append(&[entry(1)]).unwrap();
    let root = writer.root();
    // (sensor, seq) is a primary key: a second seq 1 fails the whole batch.
    assert!(writer.append(&[entry(2), entry(1)]).is_err());
    assert_eq!(writer.size(), 1);
    assert_eq!(writer.root(), root);
    assert_eq!(writer.reader().size().unwrap(), 1);
}

#[test]
fn refuses_another_logs_directory() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), "a/log").unwrap());
    assert!(matches!(
        Store::open(dir.path(), "b/log"),
        Err(StoreError::OriginMismatch { .. })
    ));
}
