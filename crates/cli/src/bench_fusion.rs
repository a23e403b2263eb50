//! `truce bench fusion`: simulate a scenario, fuse its observations, evaluate against its
//! ground truth, and time the fusion.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use truce_agreement::Agreement;
use truce_fusion::eval::evaluate;
use truce_fusion::{FusionConfig, Logged, fuse};

use crate::fusion::{decode_envelope, print_evaluation};

/// Prints the figures and returns them as JSON.
pub fn run(
    scenario: PathBuf,
    seed: u64,
    agreement: PathBuf,
    min_heard: usize,
) -> anyhow::Result<serde_json::Value> {
    let loaded = truce_sim::Scenario::load(&scenario)
        .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.display()))?;
    let agreement = Agreement::load(&agreement).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let simulation = truce_sim::simulate(&loaded, seed);
    let simulated = started.elapsed();
    let registry: Vec<_> = simulation
        .sensors
        .iter()
        .map(|s| s.registration.clone())
        .collect();
    let observations: Vec<Logged> = simulation
        .observations
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            Ok(Logged {
                index: i as u64,
                observation: decode_envelope(bytes).with_context(|| format!("observation {i}"))?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let arrivals = simulation
        .kinds
        .iter()
        .filter(|k| k.ends_with(".arrival"))
        .count();
    let started = Instant::now();
    let events = fuse(&registry, &observations, &FusionConfig::default());
    let fused = started.elapsed();
    let truth = crate::fusion::truth_of(&simulation)?;
    let e = evaluate(&truth, &events, Some(&agreement), min_heard);
    println!(
        "{}: seed {seed}, {} sensors, {} observations ({} arrivals); simulated in {:.2} s",
        scenario.display(),
        registry.len(),
        observations.len(),
        arrivals,
        simulated.as_secs_f64()
    );
    println!(
        "fusion: {} events in {:.2} s ({:.0} arrivals per second, one thread)",
        events.len(),
        fused.as_secs_f64(),
        arrivals as f64 / fused.as_secs_f64()
    );
    print_evaluation(&e);
    let mut v = serde_json::to_value(&e)?;
    v["scenario"] = serde_json::json!(scenario.display().to_string());
    v["seed"] = serde_json::json!(seed);
    v["observations"] = serde_json::json!(observations.len());
    v["arrivals"] = serde_json::json!(arrivals);
    v["fusion_seconds"] = serde_json::json!(fused.as_secs_f64());
    Ok(v)
}
