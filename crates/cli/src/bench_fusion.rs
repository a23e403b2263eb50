//! `truce bench fusion`: simulate a scenario, fuse its observations, evaluate against its
//! ground truth, and time the fusion.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use truce_agreement::Agreement;
use truce_fusion::eval::evaluate;
use truce_fusion::{FusionConfig, Logged, fuse};

use crate::fusion::{decode_envelope, evaluation_text};

/// Prints the figures and returns them as JSON.
pub fn run(
    scenario: PathBuf,
    seed: u64,
    agreement: PathBuf,
    min_heard: usize,
) -> anyhow::Result<serde_json::Value> {
    let (report, text) = measure(&scenario, seed, &agreement, min_heard)?;
    print!("{text}");
    Ok(report)
}

/// The figures of one scenario, as JSON and as the text `run` prints.
fn measure(
    scenario: &Path,
    seed: u64,
    agreement: &Path,
    min_heard: usize,
) -> anyhow::Result<(serde_json::Value, String)> {
    let loaded = truce_sim::Scenario::load(scenario)
        .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.display()))?;
    let agreement = Agreement::load(agreement).map_err(|e| anyhow::anyhow!("{e}"))?;
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
    let mut text = String::new();
    writeln!(
        text,
        "{}: seed {seed}, {} sensors, {} observations ({} arrivals); simulated in {:.2} s",
        scenario.display(),
        registry.len(),
        observations.len(),
        arrivals,
        simulated.as_secs_f64()
    )?;
    writeln!(
        text,
        "fusion: {} events in {:.2} s ({:.0} arrivals per second, one thread)",
        events.len(),
        fused.as_secs_f64(),
        arrivals as f64 / fused.as_secs_f64()
    )?;
    text.push_str(&evaluation_text(&e));
    let mut v = serde_json::to_value(&e)?;
    v["scenario"] = serde_json::json!(scenario.display().to_string());
    v["seed"] = serde_json::json!(seed);
    v["observations"] = serde_json::json!(observations.len());
    v["arrivals"] = serde_json::json!(arrivals);
    v["fusion_seconds"] = serde_json::json!(fused.as_secs_f64());
    v["cpu_us_per_arrival"] = serde_json::json!(fused.as_secs_f64() * 1e6 / arrivals.max(1) as f64);
    Ok((v, text))
}

/// `truce bench fusion --suite DIR`: every scenario of a directory, one row each.
pub async fn suite(
    dir: &Path,
    seed: u64,
    agreement: &Path,
    min_heard: usize,
    latency: bool,
    json: bool,
) -> anyhow::Result<()> {
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| truce_sim::Scenario::load(p).is_ok())
        .collect();
    scenarios.sort();
    anyhow::ensure!(!scenarios.is_empty(), "no scenario in {}", dir.display());
    println!(
        "| scenario | arrivals | F1 | precision | recall | median error / CRLB | median error m | p99 latency s | CPU µs per arrival |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut rows = Vec::new();
    for scenario in scenarios {
        let (s, a) = (scenario.clone(), agreement.to_path_buf());
        let (mut report, _) =
            tokio::task::spawn_blocking(move || measure(&s, seed, &a, min_heard)).await??;
        if latency {
            let args = crate::bench_latency::LatencyArgs::new(
                scenario.clone(),
                seed,
                agreement.to_path_buf(),
            );
            report["latency"] = crate::bench_latency::measure(&args).await?;
        }
        let f = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
        let name = scenario
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned());
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} |",
            report["arrivals"],
            f(&report["f1"]),
            f(&report["precision"]),
            f(&report["recall"]),
            f(&report["crb_ratio_median"]),
            report["error_median_m"]
                .as_f64()
                .map_or("-".into(), |x| format!("{x:.0}")),
            f(&report["latency"]["latency_p99_s"]),
            report["cpu_us_per_arrival"]
                .as_f64()
                .map_or("-".into(), |x| format!("{x:.0}")),
        );
        rows.push(report);
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
    }
    Ok(())
}
