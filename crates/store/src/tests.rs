use truce_ledger::{MemoryTree, NodeReader, inclusion_proof, tree_hash, verify_inclusion};

use super::*;

fn entry(i: u64) -> NewEntry {
    observation("s", i)
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
    let (store, mut writer) = Store::open(dir.path(), "test/log").unwrap();
    assert_eq!(writer.size(), 700);
    assert_eq!(writer.root(), root);
    assert_eq!(writer.find_observation("s", 42).unwrap().unwrap().index, 42);
    store
        .read(|r| {
            assert_eq!(tree_hash(700, r).unwrap(), root);
            assert_eq!(r.node(9, 0).unwrap(), memory.node(9, 0).unwrap());
            let proof = inclusion_proof(300, 700, r).unwrap();
            let leaf = truce_ledger::leaf_hash(&entry(300).data);
            verify_inclusion(&leaf, 300, 700, &proof, &root).unwrap();
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
    // (sensor, seq) is unique: a second seq 1 fails the whole batch, as does a repeat inside it.
    assert!(matches!(
        writer.append(&[entry(2), entry(1)]),
        Err(StoreError::Duplicate { seq: 1, .. })
    ));
    assert!(writer.append(&[entry(3), entry(3)]).is_err());
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

/// Observation entries as the server logs them: an envelope whose payload has sensor and seq.
fn observation(sensor: &str, seq: u64) -> NewEntry {
    padded_observation(sensor, seq, 0)
}

/// An observation entry whose payload carries `padding` bytes more.
fn padded_observation(sensor: &str, seq: u64, padding: usize) -> NewEntry {
    let pad = "x".repeat(padding);
    let payload = format!("{{\"sensor\":\"{sensor}\",\"seq\":{seq},\"pad\":\"{pad}\"}}");
    let envelope = format!(
        "{{\"payloadType\":\"t\",\"payload\":\"{}\",\"signatures\":[]}}",
        truce_model::envelope::encode_base64(payload.as_bytes())
    );
    let data = truce_model::Entry::v1(truce_model::EntryKind::Observation, envelope.as_bytes())
        .encode()
        .unwrap();
    NewEntry::new(
        data.clone(),
        SideEffect::Observation {
            sensor: sensor.into(),
            seq,
            leaf_hash: truce_ledger::leaf_hash(&data),
        },
    )
}

#[test]
fn the_seq_index_is_flushed_in_bulk_and_rebuilt_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_store, mut writer) = Store::open(dir.path(), "test/log").unwrap();
        writer.set_index_flush_at(100);
        for seq in 0..130u64 {
            let sensor = ["a", "b", "c"][(seq % 3) as usize];
            writer.append(&[observation(sensor, seq)]).unwrap();
        }
        // 99 rows flushed with the 100th append; the rest wait in memory.
        assert_eq!(writer.pending_index_rows(), 31);
        assert_eq!(writer.find_observation("a", 3).unwrap().unwrap().index, 3);
        assert_eq!(
            writer.find_observation("b", 127).unwrap().unwrap().index,
            127
        );
        assert!(writer.find_observation("a", 4).unwrap().is_none());
    }
    // A crash loses the in-memory rows; opening re-reads them from the entries.
    let (_store, mut writer) = Store::open(dir.path(), "test/log").unwrap();
    assert_eq!(writer.pending_index_rows(), 31);
    for seq in [0u64, 50, 98, 99, 129] {
        let sensor = ["a", "b", "c"][(seq % 3) as usize];
        let found = writer.find_observation(sensor, seq).unwrap().unwrap();
        assert_eq!(found.index, seq, "{sensor} {seq}");
    }
    assert!(matches!(
        writer.append(&[observation("c", 128)]),
        Err(StoreError::Duplicate { .. })
    ));
    writer.append(&[observation("c", 131)]).unwrap();
}

/// Under steady appends the WAL stays bounded: the checkpointer restarts it once it holds
/// more than its limit, and the writer then writes it from its start again. The test
/// writes 48 MiB through a WAL restarted past 2 MiB; left to PASSIVE checkpoints alone,
/// which a commit keeps interrupting, the WAL would grow towards all of it.
#[test]
fn the_wal_stays_bounded_under_steady_appends() {
    let dir = tempfile::tempdir().unwrap();
    let restart_frames = 128; // 2 MiB of 16 KiB pages
    let (_store, mut writer) =
        Store::open_with_wal_restart(dir.path(), "test/log", restart_frames).unwrap();
    let wal = dir.path().join("log.sqlite-wal");
    let mut largest = 0;
    let mut seq = 0;
    // 96 commits of 128 entries of about 4 KiB (512 KiB a commit), one every 10 ms.
    for _ in 0..96 {
        let batch: Vec<_> = (0..128)
            .map(|_| {
                seq += 1;
                padded_observation("s", seq, 3000)
            })
            .collect();
        writer.append(&batch).unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(writer.size(), 96 * 128);
    eprintln!("the WAL's largest size: {largest} bytes");
    // Between two checkpointer passes (200 ms) commits add up to 10 MiB; allow two passes.
    assert!(
        largest < 24 << 20,
        "the WAL reached {largest} bytes with a restart past 2 MiB"
    );
}
