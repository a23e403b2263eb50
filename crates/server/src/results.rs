//! Events and findings, computed live from the log: after every new checkpoint the whole
//! signed prefix goes through [`truce_pipeline::run`], the same computation `truce replay`
//! runs, so the server's digest for a checkpoint is the digest any auditor gets for it.
//!
//! Recomputing the prefix costs time in proportion to the log; processing it in closed
//! blocks of observed time is the next step for scale.

use std::sync::Arc;

use tokio::sync::watch;
use truce_agreement::Agreement;
use truce_pipeline::Results;
use truce_store::Store;

use crate::sequencer::SignedCheckpoint;

/// The latest results, `None` until the first computation finishes.
pub type Latest = watch::Receiver<Option<Arc<Results>>>;

/// Starts the worker; it stops when the checkpoints stop (the sequencer is gone).
pub fn spawn(
    store: Arc<Store>,
    agreement: Option<Arc<Agreement>>,
    mut checkpoints: watch::Receiver<SignedCheckpoint>,
) -> Latest {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut done: Option<u64> = None;
        loop {
            let size = checkpoints.borrow_and_update().size;
            if done != Some(size) {
                let store = store.clone();
                let agreement = agreement.clone();
                let taken = std::mem::take(&mut entries);
                let outcome = tokio::task::spawn_blocking(move || {
                    compute(&store, agreement.as_deref(), taken, size)
                })
                .await;
                match outcome {
                    Ok((kept, Ok(results))) => {
                        entries = kept;
                        done = Some(size);
                        tracing::debug!(size, digest = %results.digest, "results computed");
                        tx.send_replace(Some(Arc::new(results)));
                    }
                    Ok((kept, Err(e))) => {
                        entries = kept;
                        tracing::warn!(size, error = %e, "results not computed");
                    }
                    Err(e) => tracing::warn!(error = %e, "results worker failed"),
                }
            }
            if checkpoints.changed().await.is_err() {
                return;
            }
        }
    });
    rx
}

/// Reads the entries up to `size` (keeping those already read) and runs the pipeline.
fn compute(
    store: &Store,
    agreement: Option<&Agreement>,
    mut entries: Vec<Vec<u8>>,
    size: u64,
) -> (Vec<Vec<u8>>, Result<Results, String>) {
    entries.truncate(size as usize);
    while (entries.len() as u64) < size {
        let start = entries.len() as u64;
        let count = (size - start).min(4096);
        match store.read(|r| r.entries(start, count)) {
            Ok(chunk) if !chunk.is_empty() => entries.extend(chunk),
            Ok(_) => return (entries, Err(format!("entry {start} missing"))),
            Err(e) => return (entries, Err(e.to_string())),
        }
    }
    let results = truce_pipeline::run(&entries, agreement).map_err(|e| e.to_string());
    (entries, results)
}
