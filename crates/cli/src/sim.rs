//! `truce sim`: run a scenario and write the sensors, their keys, the signed observations and
//! the ground truth.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use truce_sim::{Scenario, simulate};

#[derive(Debug, Args)]
pub struct SimArgs {
    /// The scenario (TOML; its agreement and network files are read relative to it).
    #[arg(long)]
    scenario: PathBuf,
    /// The seed: the same scenario and seed give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write sensors.json, keys.json, truth.json and observations.ndjson.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let scenario = Scenario::load(&args.scenario)
        .with_context(|| format!("scenario {}", args.scenario.display()))?;
    let sim = simulate(&scenario, args.seed);
    let out = &args.out;
    write_outputs(&sim, out, true)?;

    println!("{}", sim.summary());
    println!(
        "wrote {}/{{sensors.json, keys.json, truth.json, observations.ndjson}}",
        out.display()
    );
    Ok(())
}

/// Writes a simulation's files into `out` (created if missing): `sensors.json`,
/// `truth.json`, `observations.ndjson`, and with `keys` the secret `keys.json`.
pub fn write_outputs(sim: &truce_sim::Simulation, out: &Path, keys: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let registrations: Vec<_> = sim.sensors.iter().map(|s| &s.registration).collect();
    write(&out.join("sensors.json"), &pretty(&registrations)?, false)?;
    if keys {
        write(&out.join("keys.json"), &pretty(&sim.keys())?, true)?;
    }
    write(&out.join("truth.json"), &pretty(&sim.truth)?, false)?;
    let mut ndjson = Vec::with_capacity(sim.observations.iter().map(|o| o.len() + 1).sum());
    for envelope in &sim.observations {
        ndjson.extend_from_slice(envelope);
        ndjson.push(b'\n');
    }
    write(&out.join("observations.ndjson"), &ndjson, false)
}

fn pretty(value: &impl serde::Serialize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes (replacing) a file; `secret` files are readable by their owner only.
fn write(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
