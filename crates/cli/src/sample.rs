//! The sample sensors `truce bench ingest` signs with, deterministic from a seed. (The demo
//! and the tests of fusion use the simulator, `truce-sim`.)

use sha2::{Digest, Sha256};
use truce_ledger::NoteSigner;
use truce_model::Position;

/// SplitMix64, shared with the simulator.
pub use truce_sim::Rng;

/// A sample sensor with its key.
#[derive(Debug)]
pub struct SampleSensor {
    pub id: String,
    pub operator: &'static str,
    pub position: Position,
    pub key: NoteSigner,
}

/// A key derived from the seed and the sensor id: reproducible sample data, not for real use.
fn sample_key(seed: u64, id: &str) -> NoteSigner {
    let digest: [u8; 32] = Sha256::new()
        .chain_update(seed.to_be_bytes())
        .chain_update(id.as_bytes())
        .finalize()
        .into();
    NoteSigner::new(id, digest).unwrap_or_else(|_| unreachable!("sample ids are valid key names"))
}

/// The sample network.
pub fn sensors(seed: u64) -> Vec<SampleSensor> {
    let specs: [(&str, &str, &str, f64, f64); 9] = [
        ("ua-ac-001", "acoustic", "UA", 48.33, 37.05),
        ("ua-ac-002", "acoustic", "UA", 48.22, 37.30),
        ("fr-ac-001", "acoustic", "FR", 48.45, 37.22),
        ("fr-ac-002", "acoustic", "FR", 48.10, 37.10),
        ("us-ac-001", "acoustic", "US", 48.38, 37.45),
        ("us-ac-002", "acoustic", "US", 48.05, 37.40),
        ("ua-met-001", "met", "UA", 48.28, 37.18),
        ("gb-dr-001", "drone", "GB", 48.30, 37.30),
        ("firms-viirs-noaa20", "satellite_feed", "NASA", 48.30, 37.30),
    ];
    specs
        .into_iter()
        .map(|(id, _kind, operator, lat, lon)| SampleSensor {
            id: id.to_string(),
            operator,
            position: Position::new(lat, lon),
            key: sample_key(seed, id),
        })
        .collect()
}
