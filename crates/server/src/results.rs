//! Events and findings, computed live from the log: as entries are committed (durable,
//! whether or not a checkpoint covers them yet), they go through the same [`Pipeline`]
//! that `truce replay` runs over the whole log, so the server's digest for a log size is
//! the digest any auditor gets for a checkpoint of that size. Fusion keeps its state
//! between computations (each arrival is fused once, as it is pushed), so the work follows
//! the new entries, not the size of the log. Computations are at least [`MIN_INTERVAL`]
//! apart, and when entries come faster than results, the worker goes straight to the
//! latest size. (Results used to wait for each signed checkpoint, up to a second; the
//! evidence of a result is proved against the checkpoint that follows.)

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use truce_agreement::Agreement;
use truce_model::Observation;
use truce_pipeline::{Pipeline, Results};
use truce_store::Store;

/// The least time from one computation's start to the next's.
pub const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// The latest results, `None` until the first computation finishes.
pub type Latest = watch::Receiver<Option<Arc<Results>>>;

/// Observations just committed, by log index, as ingest parsed them: the worker takes
/// them rather than read their entries back and parse them a second time (parsing was
/// about a tenth of the server's work under load). It is only a shortcut: what is not
/// here (other entries, or observations dropped because the worker fell behind) is read
/// from the store, and [`Pipeline::push_observation`] gives the same results as the entry.
#[derive(Debug, Default)]
pub struct Decoded(Mutex<Held>);

/// The observations held, each with the size of its entry, and the sum of those sizes.
#[derive(Debug, Default)]
struct Held {
    queue: VecDeque<(u64, Observation, usize)>,
    bytes: usize,
}

impl Held {
    fn pop_front(&mut self) -> Option<(u64, Observation)> {
        let (i, o, bytes) = self.queue.pop_front()?;
        self.bytes -= bytes;
        Some((i, o))
    }

    fn front(&self) -> Option<u64> {
        self.queue.front().map(|(i, _, _)| *i)
    }
}

impl Decoded {
    /// The most observations held: a few seconds of full-rate ingest.
    pub const CAPACITY: usize = 65_536;
    /// The most entry bytes their observations may stand for (parsed, they take a few
    /// times that): the oldest go first.
    pub const CAPACITY_BYTES: usize = 32 << 20;

    /// Adds committed observations (index, observation, size of its entry), in increasing
    /// index order after those held.
    pub fn put(&self, committed: impl IntoIterator<Item = (u64, Observation, usize)>) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for item in committed {
            held.bytes += item.2;
            held.queue.push_back(item);
        }
        while held.queue.len() > Self::CAPACITY || held.bytes > Self::CAPACITY_BYTES {
            held.pop_front();
        }
    }

    /// Forgets those below `from`, then takes those at `from`, `from + 1`, … while they
    /// are held and below `until`; also tells the lowest index still held after them.
    fn take(&self, from: u64, until: u64) -> (Vec<Observation>, Option<u64>) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while held.front().is_some_and(|i| i < from) {
            held.pop_front();
        }
        let mut run = Vec::new();
        while let Some(i) = held.front()
            && i == from + run.len() as u64
            && i < until
        {
            if let Some((_, o)) = held.pop_front() {
                run.push(o);
            }
        }
        (run, held.front())
    }
}

/// Starts the worker over the log's committed size; it stops when the sequencer is gone.
pub fn spawn(
    store: Arc<Store>,
    agreement: Option<Arc<Agreement>>,
    decoded: Arc<Decoded>,
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
                let decoded = decoded.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    let results = compute(&store, agreement.as_deref(), &decoded, &mut state, size);
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
    decoded: &Decoded,
    pipeline: &mut Pipeline,
    size: u64,
) -> Result<Results, String> {
    while pipeline.size() < size {
        let start = pipeline.size();
        let (run, next_held) = decoded.take(start, size);
        if !run.is_empty() {
            for observation in run {
                pipeline.push_observation(observation);
            }
            continue;
        }
        let count = (next_held.unwrap_or(size).min(size) - start).min(4096);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(seq: u64) -> Observation {
        let payload = serde_json::json!({"sensor": "ua-ac-1", "seq": seq,
            "observed_at": "2026-01-07T00:00:00Z", "kind": "acoustic.arrival",
            "data": {"arrival_time": "2026-01-07T00:00:00Z", "arrival_sigma_s": 0.01,
            "class": "launch"}});
        Observation::parse(&serde_json::to_vec(&payload).unwrap()).unwrap()
    }

    fn seqs(run: &[Observation]) -> Vec<u64> {
        run.iter().map(|o| o.seq).collect()
    }

    #[test]
    fn takes_consecutive_runs_and_skips_what_it_does_not_hold() {
        let decoded = Decoded::default();
        // Entries 3 and 6 are not observations (or were not decoded).
        decoded.put([0, 1, 2, 4, 5, 7].map(|i| (i, observation(i), 500)));
        let (run, next) = decoded.take(0, 10);
        assert_eq!((seqs(&run), next), (vec![0, 1, 2], Some(4)));
        // Entry 3 comes from the store; then 4 and 5, stopping below `until`.
        let (run, next) = decoded.take(3, 10);
        assert_eq!((seqs(&run), next), (vec![], Some(4)));
        let (run, next) = decoded.take(4, 6);
        assert_eq!((seqs(&run), next), (vec![4, 5], Some(7)));
        // A worker that starts again from 0 reads from the store up to what is held.
        assert_eq!(seqs(&decoded.take(0, 10).0), Vec::<u64>::new());
        // Past what is held, everything is forgotten.
        assert_eq!(decoded.take(8, 10).1, None);
    }

    #[test]
    fn holds_at_most_its_capacity_dropping_the_oldest() {
        let decoded = Decoded::default();
        let n = Decoded::CAPACITY as u64 + 10;
        let one = observation(1);
        decoded.put((0..n).map(|i| (i, one.clone(), 500)));
        let (run, next) = decoded.take(0, n);
        assert!(run.is_empty());
        assert_eq!(next, Some(10));
        assert_eq!(decoded.take(10, n).0.len(), Decoded::CAPACITY);
        // Large entries: by bytes, not count.
        let big = 60 * 1024;
        let fit = Decoded::CAPACITY_BYTES / big;
        decoded.put((n..n + fit as u64 + 3).map(|i| (i, one.clone(), big)));
        assert_eq!(decoded.take(n, n + 3).1, Some(n + 3));
        assert_eq!(decoded.take(n + 3, u64::MAX).0.len(), fit);
    }
}
