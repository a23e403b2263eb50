//! `truce bench fusion`: simulate a scenario, fuse its observations, evaluate against its
//! ground truth, and time the fusion; with `--peer pyocto`, put the PyOcto associator beside
//! it on the same simulation (tools/pyocto_peer.py, run in a virtual environment of its own).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use truce_agreement::Agreement;
use truce_fusion::eval::evaluate;
use truce_fusion::{FusionConfig, Logged, fuser_of};

use crate::fusion::{decode_envelope, evaluation_text};

/// Prints the figures and returns them as JSON.
pub fn run(
    scenario: PathBuf,
    seed: u64,
    agreement: PathBuf,
    min_heard: usize,
) -> anyhow::Result<serde_json::Value> {
    let (report, text) = measure(&scenario, seed, &agreement, min_heard, None)?;
    print!("{text}");
    Ok(report)
}

/// The figures of one scenario, as JSON and as the text `run` prints. With `keep`, the
/// simulation is also written there as `truce sim` writes it (without the keys), for a peer
/// to read.
fn measure(
    scenario: &Path,
    seed: u64,
    agreement: &Path,
    min_heard: usize,
    keep: Option<&Path>,
) -> anyhow::Result<(serde_json::Value, String)> {
    let loaded = truce_sim::Scenario::load(scenario)
        .map_err(|e| anyhow::anyhow!("{}: {e}", scenario.display()))?;
    let agreement = Agreement::load(agreement).map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let simulation = truce_sim::simulate(&loaded, seed);
    let simulated = started.elapsed();
    if let Some(dir) = keep {
        crate::sim::write_outputs(&simulation, dir, false)?;
    }
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
    let fuser = fuser_of(&registry, &observations, &FusionConfig::default());
    let events = fuser.events();
    let fused = started.elapsed();
    let truth = crate::fusion::truth_of(&simulation)?;
    let e = evaluate(&truth, &events, Some(&agreement), min_heard);
    let wind = wind_error(&loaded, &simulation, fuser.propagation(), events.len());
    let caught = faults_caught(
        &simulation,
        &observations,
        fuser.health_changes(),
        &fuser.health(),
    );
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
    match wind {
        Some((mps, deg)) => writeln!(
            text,
            "the medium learned: wind off the true wind by {mps:.2} m/s, {deg:.1}°"
        )?,
        None => writeln!(
            text,
            "the medium learned: no estimate (fewer than 20 events)"
        )?,
    }
    writeln!(
        text,
        "sensor health: {} of {} faulty sensors corrected or quarantined{}; {} healthy ones quarantined, {} corrected",
        caught.caught,
        caught.faulty,
        caught
            .most_arrivals
            .map(|n| format!(", each within {n} of its arrivals from the fault's start"))
            .unwrap_or_default(),
        caught.healthy_quarantined,
        caught.healthy_corrected
    )?;
    for line in &caught.detail {
        writeln!(text, "  {line}")?;
    }
    let mut v = serde_json::to_value(&e)?;
    v["faulty_sensors"] = serde_json::json!(caught.faulty);
    v["faulty_flagged"] = serde_json::json!(caught.caught);
    v["faulty_most_arrivals"] = serde_json::json!(caught.most_arrivals);
    v["healthy_flagged"] = serde_json::json!(caught.healthy_quarantined);
    v["healthy_corrected"] = serde_json::json!(caught.healthy_corrected);
    v["wind_error_mps"] = serde_json::json!(wind.map(|w| w.0));
    v["wind_direction_error_deg"] = serde_json::json!(wind.map(|w| w.1));
    v["scenario"] = serde_json::json!(scenario.display().to_string());
    v["seed"] = serde_json::json!(seed);
    v["observations"] = serde_json::json!(observations.len());
    v["arrivals"] = serde_json::json!(arrivals);
    v["fusion_seconds"] = serde_json::json!(fused.as_secs_f64());
    v["cpu_us_per_arrival"] = serde_json::json!(fused.as_secs_f64() * 1e6 / arrivals.max(1) as f64);
    Ok((v, text))
}

/// Sensor health against the truth, over the whole run (every change of state fusion
/// made, not only the last).
struct Caught {
    faulty: usize,
    /// Faulty sensors corrected or quarantined after their fault began.
    caught: usize,
    /// The most arrivals any caught sensor logged from its fault's start until then.
    most_arrivals: Option<usize>,
    /// Healthy sensors ever quarantined, and ever corrected.
    healthy_quarantined: usize,
    healthy_corrected: usize,
    /// Per faulty sensor, in words.
    detail: Vec<String>,
}

fn faults_caught(
    simulation: &truce_sim::Simulation,
    observations: &[Logged],
    changes: &[truce_fusion::health::Change],
    health: &[truce_fusion::health::SensorHealth],
) -> Caught {
    let arrival_of = |l: &Logged| {
        matches!(
            l.observation.data,
            truce_model::ObservationData::Arrival { .. }
        )
    };
    let mut c = Caught {
        faulty: 0,
        caught: 0,
        most_arrivals: None,
        healthy_quarantined: 0,
        healthy_corrected: 0,
        detail: Vec::new(),
    };
    let mut faulty = std::collections::BTreeSet::new();
    for f in simulation
        .truth
        .sensor_faults
        .iter()
        .filter(|f| !f.faults.is_empty())
    {
        faulty.insert(f.sensor.as_str());
        c.faulty += 1;
        // A burst begins at its first pick, and each burst is to be caught; every other
        // fault is there from the start.
        let starts: Vec<usize> = if f.faults.iter().all(|&k| k == "false_bursts") {
            f.false_bursts
                .iter()
                .filter_map(|b| b.observations.iter().copied().min())
                .collect()
        } else {
            vec![0]
        };
        let mut all_caught = !starts.is_empty();
        for begins_at in starts {
            let before = observations[..begins_at.min(observations.len())]
                .iter()
                .filter(|l| l.observation.sensor == f.sensor && arrival_of(l))
                .count();
            let first = changes.iter().find(|ch| {
                ch.sensor == f.sensor
                    && ch.after_arrivals > before
                    && !matches!(ch.state, "healthy" | "unknown")
            });
            match first {
                Some(ch) => {
                    let n = ch.after_arrivals - before;
                    c.most_arrivals = Some(c.most_arrivals.map_or(n, |m| m.max(n)));
                    let now = health
                        .iter()
                        .find(|h| h.sensor == f.sensor)
                        .map_or("", |h| h.state);
                    c.detail.push(format!(
                        "{} ({}): {} after {n} of its arrivals from the fault's start ({now} at the end)",
                        f.sensor,
                        f.faults.join(", "),
                        ch.state
                    ));
                }
                None => {
                    all_caught = false;
                    let now = health
                        .iter()
                        .find(|h| h.sensor == f.sensor)
                        .map_or("no residuals".to_string(), |h| {
                            format!("{} on {} residuals: {}", h.state, h.residuals, h.reason)
                        });
                    c.detail.push(format!(
                        "{} ({}): not caught ({now})",
                        f.sensor,
                        f.faults.join(", ")
                    ));
                }
            }
        }
        if all_caught {
            c.caught += 1;
        }
    }
    let ever = |states: &[&str]| {
        changes
            .iter()
            .filter(|ch| !faulty.contains(ch.sensor.as_str()) && states.contains(&ch.state))
            .map(|ch| ch.sensor.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    c.healthy_quarantined = ever(&["inconsistent", "bursting"]);
    for ch in changes {
        if !faulty.contains(ch.sensor.as_str()) && !matches!(ch.state, "healthy" | "unknown") {
            c.detail.push(format!(
                "{} (healthy): {} after {} of its arrivals",
                ch.sensor, ch.state, ch.after_arrivals
            ));
        }
    }
    c.healthy_corrected = ever(&["clock_offset", "clock_drift"]);
    c
}

/// How far the wind fusion learned is from the true wind at the time of the last true
/// event: the length of the difference, m/s, and the angle between them, degrees; none
/// before 20 events are located or when there is no estimate.
fn wind_error(
    scenario: &truce_sim::Scenario,
    simulation: &truce_sim::Simulation,
    learned: Option<&truce_fusion::propagation::Propagation>,
    located: usize,
) -> Option<(f64, f64)> {
    let learned = learned?;
    if located < 20 || learned.events == 0 {
        return None;
    }
    let last = simulation.truth.events.iter().map(|e| e.time).max()?;
    let t_s = (last.unix_nanos() - scenario.start.unix_nanos()) as f64 * 1e-9;
    let truth = scenario.weather_model().at_time(t_s).wind_mps;
    let [e, n] = learned.medium.wind;
    let off = (e - truth[0]).hypot(n - truth[1]);
    let angle = if truth[0].hypot(truth[1]) < 1.0 || e.hypot(n) < 1.0 {
        0.0
    } else {
        let d = (e.atan2(n) - truth[0].atan2(truth[1])).to_degrees();
        (d + 540.0).rem_euclid(360.0) - 180.0
    };
    Some((off, angle.abs()))
}

/// `truce bench fusion --suite DIR`: every scenario of a directory, one row each; with a
/// peer, its figures on the same simulation in extra columns.
pub async fn suite(
    dir: &Path,
    seed: u64,
    agreement: &Path,
    min_heard: usize,
    latency: bool,
    json: bool,
    peer: Option<&PeerRun>,
) -> anyhow::Result<()> {
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| truce_sim::Scenario::load(p).is_ok())
        .collect();
    scenarios.sort();
    anyhow::ensure!(!scenarios.is_empty(), "no scenario in {}", dir.display());
    // Before the first row: a peer that cannot run fails the bench at once.
    let python = match peer.map(|p| p.peer) {
        Some(Peer::Pyocto) => Some(tokio::task::spawn_blocking(pyocto_python).await??),
        None => None,
    }
    .zip(peer);
    let (peer_head, peer_rule) = if python.is_some() {
        (
            " PyOcto F1 | PyOcto median error m | PyOcto CPU µs per pick |",
            " ---: | ---: | ---: |",
        )
    } else {
        ("", "")
    };
    println!(
        "| scenario | arrivals | F1 | precision | recall | median error / CRLB | median error m | wind error m/s, ° | faulty sensors caught (most arrivals until then), healthy quarantined | p99 latency s | replay digest | CPU µs per arrival |{peer_head}"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |{peer_rule}"
    );
    let mut rows = Vec::new();
    for scenario in scenarios {
        let work = match python {
            Some(_) => Some(tempfile::tempdir().context("a temporary directory for the peer")?),
            None => None,
        };
        let keep = work.as_ref().map(|w| w.path().to_path_buf());
        let (s, a) = (scenario.clone(), agreement.to_path_buf());
        let (mut report, _) =
            tokio::task::spawn_blocking(move || measure(&s, seed, &a, min_heard, keep.as_deref()))
                .await??;
        if latency {
            let args = crate::bench_latency::LatencyArgs::new(
                scenario.clone(),
                seed,
                agreement.to_path_buf(),
            );
            report["latency"] = crate::bench_latency::measure(&args).await?;
        }
        let mut peer_cells = String::new();
        if let (Some((python, run)), Some(work)) = (&python, &work) {
            let figures = run_pyocto(python, work.path(), run, min_heard)
                .await
                .with_context(|| format!("the PyOcto peer on {}", scenario.display()))?;
            peer_cells = peer_row(&figures);
            report["peer"] = figures;
        }
        let f = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.3}"));
        let name = scenario
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned());
        let wind = match (
            report["wind_error_mps"].as_f64(),
            report["wind_direction_error_deg"].as_f64(),
        ) {
            (Some(mps), Some(deg)) => format!("{mps:.2}, {deg:.0}"),
            _ => "-".into(),
        };
        let within = report["faulty_most_arrivals"]
            .as_u64()
            .map_or(String::new(), |n| format!(" (≤ {n})"));
        let health = format!(
            "{}/{}{within}, {}",
            report["faulty_flagged"], report["faulty_sensors"], report["healthy_flagged"]
        );
        // Whether `truce replay` of the live server's log gave the server's digest.
        let replay = match report["latency"]["replay_matches"].as_bool() {
            Some(true) => "same",
            Some(false) => "DIFFERENT",
            None => "-",
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {wind} | {health} | {} | {replay} | {} |{peer_cells}",
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

/// A benchmark peer: another locator run on the same simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// The PyOcto phase associator (PyPI `pyocto`), one sound speed, P picks only.
    Pyocto,
}

/// How to run the peer.
#[derive(Clone, Debug)]
pub struct PeerRun {
    pub peer: Peer,
    /// Seconds its association may take on one scenario; past it the row says "no answer".
    pub time_limit_s: u64,
}

/// What the peer's environment installs: its pinned version (numpy, pandas and pyproj come
/// with it, at the versions pip resolves; the peer reports them).
const PYOCTO_REQUIREMENT: &str = "pyocto==0.2.2";

/// The peer program, carried in the binary so that it runs wherever truce does.
const PYOCTO_PEER: &str = include_str!("../../../tools/pyocto_peer.py");

/// The Python of the peer's virtual environment, `<target>/peers/pyocto-venv` (the target
/// directory: `CARGO_TARGET_DIR`, else `target` here), made on first use with `python3 -m
/// venv` and pip, which needs the package index then. One maker at a time (a lock file);
/// a marker written once pip has finished, so an environment cut short is made again.
fn pyocto_python() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|t| !t.is_empty())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let peers = target.join("peers");
    std::fs::create_dir_all(&peers)
        .with_context(|| format!("cannot create {}", peers.display()))?;
    let venv = peers.join("pyocto-venv");
    let lock_path = peers.join("pyocto-venv.lock");
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let python = venv.join("bin").join("python");
    let marker = venv.join("truce-installed");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == PYOCTO_REQUIREMENT) {
        return Ok(python);
    }
    eprintln!(
        "making the PyOcto peer's environment in {} (once; pip needs the package index)",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    let failed = |what: &str, hint: &str, out: &std::process::Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(12)..].join("\n");
        anyhow::anyhow!(
            "cannot make the PyOcto peer's environment in {}: {what} failed ({}); {hint}\n{tail}",
            venv.display(),
            out.status,
        )
    };
    let made = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .context("cannot run python3 (the PyOcto peer needs Python 3.10 or later with venv)")?;
    if !made.status.success() {
        let hint = "the peer needs Python 3.10 or later with its venv module";
        return Err(failed("python3 -m venv", hint, &made));
    }
    let pip = std::process::Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(PYOCTO_REQUIREMENT)
        .output()
        .context("cannot run the environment's pip")?;
    if !pip.status.success() {
        let _ = std::fs::remove_dir_all(&venv);
        let what = format!("pip install {PYOCTO_REQUIREMENT}");
        let hint = "the package index must be reachable the first time";
        return Err(failed(&what, hint, &pip));
    }
    std::fs::write(&marker, PYOCTO_REQUIREMENT)
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(python)
}

/// Runs the peer program on the simulation in `work` and returns its figures (JSON).
async fn run_pyocto(
    python: &Path,
    work: &Path,
    run: &PeerRun,
    min_heard: usize,
) -> anyhow::Result<serde_json::Value> {
    let script = work.join("pyocto_peer.py");
    std::fs::write(&script, PYOCTO_PEER)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let child = tokio::process::Command::new(python)
        .arg(&script)
        .arg(work)
        .arg("--time-limit")
        .arg(run.time_limit_s.to_string())
        .args(["--threads", "1"])
        .arg("--min-heard")
        .arg(min_heard.to_string())
        .arg("--out")
        .arg(work.join("pyocto-events.json"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", python.display()))?;
    // The program keeps its own limit on the association; this one is for the rest
    // (reading, projecting, scoring), generously.
    let limit = std::time::Duration::from_secs(run.time_limit_s + 300);
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| anyhow::anyhow!("no output after {} s", limit.as_secs()))??;
    anyhow::ensure!(
        out.status.success(),
        "the peer program failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("the peer program printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("the peer program printed {line:?}"))
}

/// The peer's cells of a row: F1, median error, CPU per pick; "no answer" when it ran out
/// of time.
fn peer_row(figures: &serde_json::Value) -> String {
    if figures["answered"] != serde_json::Value::Bool(true) {
        return " no answer | no answer | no answer |".to_string();
    }
    let number = |key: &str, decimals: usize| {
        figures[key]
            .as_f64()
            .map_or("-".to_string(), |x| format!("{x:.decimals$}"))
    };
    format!(
        " {} | {} | {} |",
        number("f1", 3),
        number("error_median_m", 0),
        number("cpu_us_per_pick", 0)
    )
}
