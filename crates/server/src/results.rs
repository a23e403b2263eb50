//! Events and findings, computed live from the log: as entries are committed (durable,
//! whether or not a checkpoint covers them yet), they go through the same [`Pipeline`]
//! that `truce replay` runs over the whole log, so the server's digest for a log size is
//! the digest any auditor gets for a checkpoint of that size. Fusion keeps its state
//! between computations (each arrival is fused once, as it is pushed), so the work follows
//! the new entries, not the size of the log. Computations are at least [`MIN_INTERVAL`]
//! apart, and when entries come faster than results, the worker goes straight to the
//! latest size. (Results used to wait for each signed checkpoint, up to a second; the
//! evidence of a result is proved against the checkpoint that follows.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use truce_agreement::Agreement;
use truce_pipeline::{Pipeline, Results};
use truce_store::Store;

/// The least time from one computation's start to the next's.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The latest results, `None` until the first computation finishes.
pub type Latest = watch::Receiver<Option<Arc<Results>>>;

/// Starts the worker over the log's committed size; it stops when the sequencer is gone.
pub fn spawn(
    store: Arc<Store>,
    agreement: Option<Arc<Agreement>>,
    mut sizes: watch::Receiver<u64>,
) -> Latest {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let mut pipeline = Some(Pipeline::default());
        let mut done: Option<u64> = None;
        loop {
            let size = *sizes.borrow_and_update();
            let started = Instant::now();
            if done != Some(size)
                && let Some(mut state) = pipeline.take()
            {
                let store = store.clone();
                let agreement = agreement.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    let results = compute(&store, agreement.as_deref(), &mut state, size);
                    (state, results)
                })
                .await;
                match outcome {
                    Ok((state, Ok(results))) => {
                        pipeline = Some(state);
                        done = Some(size);
                        tracing::debug!(size, digest = %results.digest, "results computed");
                        tx.send_replace(Some(Arc::new(results)));
                    }
                    Ok((state, Err(e))) => {
                        pipeline = Some(state);
                        tracing::warn!(size, error = %e, "results not computed");
                    }
                    Err(e) => {
                        // The state may be half-updated: start again from the log.
                        pipeline = Some(Pipeline::default());
                        tracing::warn!(error = %e, "results worker failed");
                    }
                }
            }
            if sizes.changed().await.is_err() {
                return;
            }
            if let Some(rest) = MIN_INTERVAL.checked_sub(started.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
    });
    rx
}

/// Pushes the entries from the pipeline's size up to `size`, then computes the results.
fn compute(
    store: &Store,
    agreement: Option<&Agreement>,
    pipeline: &mut Pipeline,
    size: u64,
) -> Result<Results, String> {
    while pipeline.size() < size {
        let start = pipeline.size();
        let count = (size - start).min(4096);
        let chunk = store
            .read(|r| r.entries(start, count))
            .map_err(|e| e.to_string())?;
        if chunk.is_empty() {
            return Err(format!("entry {start} missing"));
        }
        for entry in &chunk {
            pipeline.push(entry).map_err(|e| e.to_string())?;
        }
    }
    pipeline.results(agreement).map_err(|e| e.to_string())
}
