//! `truce bench ingest` as a person runs it, made small: the load reaches a real server,
//! every item comes back logged, and the report carries the figures BENCHMARKS.md quotes.
//! (How fast is the benchmark's business, not a test's: nothing here is timed.)

mod common;

use common::run;

#[test]
fn bench_ingest_logs_every_observation_and_reports_the_ratio() {
    let out = run(&[
        "bench",
        "ingest",
        "--observations",
        "3000",
        "--sensors",
        "20",
        "--clients",
        "3",
        "--batch",
        "250",
        "--verify-seconds",
        "0.05",
        "--json",
    ]);
    let report: serde_json::Value =
        serde_json::from_str(out.lines().last().expect("a JSON line")).expect("JSON");
    assert_eq!(report["observations"], 3000);
    // Every observation committed, plus the 20 sensor registrations.
    assert_eq!(report["committed"], 3020.0);
    let limits = report["batch_all_cores_runs"].as_array().expect("runs");
    assert_eq!(limits.len(), 4, "two limit runs before the load, two after");
    let figures = [
        "end_to_end",
        "batch_all_cores",
        "ratio",
        "single_1core",
        "batch_1core",
    ];
    for figure in figures {
        let value = report[figure].as_f64().unwrap_or(0.0);
        assert!(value > 0.0 && value.is_finite(), "{figure}: {value}");
    }
    let ratio =
        report["end_to_end"].as_f64().unwrap() / report["batch_all_cores"].as_f64().unwrap();
    assert!((ratio - report["ratio"].as_f64().unwrap()).abs() < 1e-9);
}
