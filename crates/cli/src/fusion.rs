//! `truce fuse` and `truce eval`: fusion over a file of logged observations (for example a
//! simulator's output) and its evaluation against ground truth.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use truce_agreement::Agreement;
use truce_fusion::eval::{Evaluation, Truth, TruthEvent, evaluate};
use truce_fusion::{FusedEvent, FusionConfig, Logged, fuse};
use truce_model::{Observation, SensorRegistration};

#[derive(Debug, Args)]
pub struct FuseArgs {
    /// Sensor registrations: a JSON array (the simulator's sensors.json).
    #[arg(long)]
    pub sensors: PathBuf,
    /// Observations: NDJSON of DSSE envelopes; line N (from 0) stands for log index N.
    #[arg(long)]
    pub observations: PathBuf,
    /// Where to write the events (NDJSON); default: standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Ground truth (the simulator's truth.json).
    #[arg(long)]
    pub truth: PathBuf,
    /// Events from `truce fuse` (NDJSON).
    #[arg(long)]
    pub events: PathBuf,
    /// The agreement, for attribution accuracy.
    #[arg(long)]
    pub agreement: Option<PathBuf>,
    /// True events heard by fewer sensors do not count against recall.
    #[arg(long, default_value_t = 6)]
    pub min_heard: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Reads a registry file: a JSON array of registrations.
pub fn read_registry(path: &Path) -> anyhow::Result<Vec<SensorRegistration>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not an array of registrations", path.display()))
}

/// Decodes one logged envelope into its observation.
pub fn decode_envelope(bytes: &[u8]) -> anyhow::Result<Observation> {
    truce_pipeline::decode_envelope(bytes).map_err(|e| anyhow::anyhow!(e))
}

/// Reads NDJSON envelopes; line N becomes log index N. Lines that are not valid
/// observation envelopes are errors (the log holds only valid ones).
pub fn read_observations(path: &Path) -> anyhow::Result<Vec<Logged>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let observation = decode_envelope(line.as_bytes())
            .with_context(|| format!("{} line {}", path.display(), i + 1))?;
        out.push(Logged {
            index: i as u64,
            observation,
        });
    }
    Ok(out)
}

pub fn run_fuse(args: FuseArgs) -> anyhow::Result<()> {
    let registry = read_registry(&args.sensors)?;
    let observations = read_observations(&args.observations)?;
    let started = Instant::now();
    let events = fuse(&registry, &observations, &FusionConfig::default());
    let took = started.elapsed();
    let mut text = String::new();
    for e in &events {
        text.push_str(&serde_json::to_string(e)?);
        text.push('\n');
    }
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    eprintln!(
        "{} observations, {} events in {:.2} s",
        observations.len(),
        events.len(),
        took.as_secs_f64()
    );
    Ok(())
}

pub fn read_events(path: &Path) -> anyhow::Result<Vec<FusedEvent>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not an event", path.display(), i + 1))
        })
        .collect()
}

/// A simulation's ground truth as the evaluation reads it.
pub fn truth_of(simulation: &truce_sim::Simulation) -> anyhow::Result<Vec<TruthEvent>> {
    serde_json::from_value(serde_json::to_value(&simulation.truth.events)?)
        .context("reading the simulator's truth")
}

pub fn read_truth(path: &Path) -> anyhow::Result<Truth> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a truth file", path.display()))
}

/// The evaluation as the commands print it.
pub fn evaluation_text(e: &Evaluation) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "true acoustic events {} ({} heard by at least {} sensors); fused {}; matched {}",
        e.truth_events, e.truth_locatable, e.min_heard, e.fused_events, e.matched
    );
    let _ = writeln!(
        text,
        "precision {:.4}  recall {:.4}  F1 {:.4}  (recall over every true event {:.4})",
        e.precision, e.recall, e.f1, e.recall_all
    );
    let _ = writeln!(
        text,
        "location error median {:.1} m, p90 {:.1} m; median error / Cramér–Rao bound {:.2}",
        e.error_median_m, e.error_p90_m, e.crb_ratio_median
    );
    let _ = writeln!(
        text,
        "attribution of the location: {} of {} matched events more than 3σ from the line placed in the right party's area ({:.4})",
        e.attribution_correct, e.attribution_eligible, e.attribution_accuracy
    );
    let _ = writeln!(
        text,
        "attribution of responsibility: of {} matched events whose firing position is more than 3σ from the line, {} named the party that fired, {} another party, {} undetermined ({:.4})",
        e.responsibility_eligible,
        e.responsibility_correct,
        e.responsibility_wrong,
        e.responsibility_undetermined,
        e.responsibility_accuracy
    );
    text
}

pub fn run_eval(args: EvalArgs) -> anyhow::Result<()> {
    let truth = read_truth(&args.truth)?;
    let events = read_events(&args.events)?;
    let agreement = match &args.agreement {
        Some(path) => Some(Agreement::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    if truth.events.is_empty() {
        bail!("{}: no true events", args.truth.display());
    }
    let e = evaluate(&truth.events, &events, agreement.as_ref(), args.min_heard);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{}", evaluation_text(&e));
    }
    Ok(())
}
