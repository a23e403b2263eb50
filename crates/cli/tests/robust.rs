//! Fusion under the world's faults (examples/scenarios/robust/), through `truce bench
//! fusion`: each condition that fusion now handles, alone, on more than one seed where it
//! holds, with the accuracy thresholds of the robustness suite: F1 at least 0.95 and a
//! median location error at most 1.5 times the Cramér–Rao bound.
//!
//! Not yet here (the suite's table in docs/BENCHMARKS.md shows it): everything at once's
//! accuracy (its sensor health is tested).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// `truce bench fusion --scenario robust/NAME --seed SEED --json` (no live server).
fn bench(name: &str, seed: u64) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_truce"))
        .current_dir(&root)
        .args(["bench", "fusion", "--no-latency", "--json", "--scenario"])
        .arg(format!("examples/scenarios/robust/{name}.toml"))
        .args(["--seed", &seed.to_string()])
        .output()
        .expect("run truce bench fusion");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("a JSON report");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{name}: {e}: {last}"))
}

fn assert_accurate(name: &str, seed: u64) {
    let report = bench(name, seed);
    let f1 = report["f1"].as_f64().unwrap();
    let ratio = report["crb_ratio_median"].as_f64().unwrap();
    println!("{name} seed {seed}: F1 {f1:.3}, median error / bound {ratio:.3}");
    assert!(f1 >= 0.95, "{name} seed {seed}: F1 {f1}");
    assert!(ratio <= 1.5, "{name} seed {seed}: error / bound {ratio}");
}

#[test]
fn a_met_report_four_metres_per_second_off_is_corrected() {
    for seed in [1, 2] {
        assert_accurate("wrong-wind", seed);
    }
}

#[test]
fn no_met_report_in_a_strong_wind() {
    for seed in [1, 2] {
        assert_accurate("no-met", seed);
    }
}

#[test]
fn one_network_along_the_whole_line() {
    for seed in [1, 2] {
        assert_accurate("whole-line", seed);
    }
}

#[test]
fn four_batteries_firing_at_once() {
    for seed in [1, 2, 3] {
        assert_accurate("batteries", seed);
    }
}

#[test]
fn forty_rockets_in_twenty_seconds() {
    for seed in [1, 2, 3] {
        assert_accurate("salvo", seed);
    }
}

#[test]
fn half_the_arrivals_false() {
    assert_accurate("clutter", 1);
}

/// Every faulty sensor corrected or quarantined within `within` of its arrivals from its
/// fault's start, and no healthy sensor quarantined at any time in the run.
fn assert_caught(report: &Value, faulty: u64, within: u64) {
    assert_eq!(report["faulty_sensors"], faulty, "{report}");
    assert_eq!(report["faulty_flagged"], faulty, "{report}");
    assert!(
        report["faulty_most_arrivals"].as_u64().unwrap() <= within,
        "{report}"
    );
    assert_eq!(report["healthy_flagged"], 0, "{report}");
}

#[test]
fn clock_offsets_are_corrected_and_no_healthy_sensor_is_quarantined() {
    for seed in [1, 2] {
        assert_caught(&bench("clock-faults", seed), 4, 30);
    }
    // Nor on dense fire, where chance arrivals fall near every prediction, nor in a
    // salvo, where the sensors next to the launcher hear many more sounds than the rest.
    for name in ["batteries", "salvo", "no-met"] {
        assert_eq!(bench(name, 1)["healthy_flagged"], 0, "{name}");
    }
}

/// A burst shows only once the sensors around have had time to hear the same sounds (30 s,
/// see the fusion crate's health): the scenario's second burst, two false picks a second,
/// is caught after some 60-70 of its picks.
#[test]
fn a_misplaced_sensor_and_a_bursting_one_are_quarantined() {
    for seed in [1, 2] {
        assert_caught(&bench("misplaced", seed), 1, 30);
        assert_caught(&bench("false-bursts", seed), 1, 80);
    }
}

/// Every fault at once: health catches all six faulty sensors and quarantines no healthy
/// one. The drifting clock is caught late (its offset grows past the noise only after
/// some 200 of its arrivals), so the bound on arrivals is that drift's.
#[test]
fn every_fault_at_once_is_caught() {
    let report = bench("everything", 1);
    assert_caught(&report, 6, 250);
}

#[test]
fn faulty_sensors_do_not_spoil_the_events() {
    for name in ["clock-faults", "false-bursts", "misplaced"] {
        assert_accurate(name, 1);
    }
}
