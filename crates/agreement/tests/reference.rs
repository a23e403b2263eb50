//! The sample agreement's geometry against independent reference values.
//!
//! The reference values below were NOT computed with truce's Rust code. They come from
//! `tools/reference/agreement_reference.py` (run on 2026-11-25 with Python 3.11.7,
//! geographiclib 2.1 (the Python port of GeographicLib) and shapely 2.2.0), which
//! implements the specification on its own:
//!
//! - distance: the minimum over the contact line's segments (straight in lon/lat,
//!   RFC 7946) of the WGS 84 geodesic distance (`Geodesic.WGS84.Inverse`), found by brute
//!   force (100 samples per segment on every segment, then golden-section refinement of
//!   each candidate minimum to < 0.1 mm along the segment); rechecked with 1000 samples per
//!   segment, which changed no value by more than 0.001 m;
//! - side: Ukraine's border (`ukraine-border-ne50m.geojson`) cut with shapely along the line
//!   extended from each end to the geodesically nearest point of the largest polygon's
//!   exterior ring; left of the line (walking from its first position to its last) is UA,
//!   right is RU; RU's area also holds the polygons of `ru-adjacent.geojson`, which are
//!   removed from UA's; containment is planar in lon/lat, boundary inclusive;
//! - zones: the zones of `agreement.toml` whose sides hold the point's side and whose
//!   distance is at least the point's distance to the line.
//!
//! The points are chosen at least 2 km from every area boundary other than the contact line
//! itself (the border, the connectors from the line's ends to the border, the ru-adjacent
//! polygons) and at least 100 m from every zone's distance, so that a small difference in
//! those boundaries' handling cannot flip an answer. Near-line points are offset
//! perpendicular to a segment's midpoint (named `seg<i>-<L|R>-<offset>`, L/R relative to
//! the line's direction); far points are offset until their distance is the named one.
//!
//! To regenerate the table: `python3 tools/reference/agreement_reference.py --rust` (the
//! script's docstring says how to set up its virtual environment).

use std::collections::BTreeSet;
use std::path::PathBuf;

use truce_agreement::Agreement;
use truce_model::Position;

/// All zones of the sample agreement; every zone applies to both parties.
const ALL_ZONES: &[&str] = &[
    "security-zone",
    "withdrawal-artillery",
    "withdrawal-mlrs",
    "withdrawal-heavy-mlrs",
    "withdrawal-tactical-missiles",
    "withdrawal-tanks",
    "withdrawal-light-artillery",
    "withdrawal-mortars",
    "drone-free",
];

/// Tolerance on the distance to the line, in metres.
const DISTANCE_TOLERANCE_M: f64 = 1.0;

/// (name, lat, lon, distance to the line in metres, side, zones).
type Row = (
    &'static str,
    f64,
    f64,
    f64,
    Option<&'static str>,
    &'static [&'static str],
);

#[rustfmt::skip]
const REFERENCE: &[Row] = &[
    ("seg25-L-5m", 46.9106646, 33.6832379, 5.002, Some("UA"), ALL_ZONES),
    ("seg25-R-5m", 46.9106354, 33.6833621, 5.002, Some("RU"), ALL_ZONES),
    ("seg300-L-5m", 49.1329741, 37.7503922, 4.998, Some("UA"), ALL_ZONES),
    ("seg300-R-5m", 49.1329259, 37.7505078, 4.998, Some("RU"), ALL_ZONES),
    ("seg140-L-50m", 47.9600781, 36.5389852, 50.004, Some("UA"), ALL_ZONES),
    ("seg140-R-50m", 47.9597219, 36.5402148, 50.004, Some("RU"), ALL_ZONES),
    ("seg230-L-500m", 48.5657162, 37.8443448, 500.001, Some("UA"), ALL_ZONES),
    ("seg230-R-500m", 48.5743838, 37.8479555, 500.004, Some("RU"), ALL_ZONES),
    ("seg6-L-3000m", 46.6942271, 32.8332405, 3000.005, Some("UA"), ALL_ZONES),
    ("seg6-R-3000m", 46.6561661, 32.8888399, 2999.999, Some("RU"), ALL_ZONES),
    ("seg250-L-40km", 48.9308590, 37.2001631, 39999.887, Some("UA"), &["withdrawal-artillery", "withdrawal-mlrs", "withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg200-R-49km", 48.0018887, 38.0852463, 49000.031, Some("RU"), &["withdrawal-artillery", "withdrawal-mlrs", "withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg120-L-51km", 48.0581886, 35.6953270, 51000.000, Some("UA"), &["withdrawal-mlrs", "withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg170-R-69km", 50.2182039, 38.6842895, 69000.001, Some("RU"), &["withdrawal-mlrs", "withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg150-L-71km", 48.6545316, 36.2121838, 70999.544, Some("UA"), &["withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg210-R-100km", 45.9870191, 34.0782994, 99999.680, Some("RU"), &["withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg130-L-139km", 48.6461577, 33.5961634, 138999.994, Some("UA"), &["withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("seg300-R-141km", 48.2456834, 39.7963445, 140999.357, Some("RU"), &[]),
    ("seg200-L-250km", 49.9255331, 34.1270357, 249999.999, Some("UA"), &[]),
    ("near-first-end-L", 46.5871118, 32.6424876, 1248.574, Some("UA"), ALL_ZONES),
    ("near-first-end-R", 46.5953863, 32.7382663, 3620.617, Some("RU"), ALL_ZONES),
    ("near-last-end-L", 49.9972530, 37.7240208, 3380.279, Some("UA"), ALL_ZONES),
    ("near-last-end-R", 49.9912035, 37.8190602, 3000.002, Some("RU"), ALL_ZONES),
    ("crimea-simferopol", 44.9500000, 34.1000000, 209344.275, Some("RU"), &[]),
    ("russia-belgorod", 50.6000000, 36.5900000, 107515.378, Some("RU"), &["withdrawal-heavy-mlrs", "withdrawal-tactical-missiles"]),
    ("kyiv", 50.4500000, 30.5200000, 424729.303, Some("UA"), &[]),
    ("black-sea", 44.0000000, 32.0000000, 288566.033, None, &[]),
    ("poland-warsaw", 52.2000000, 21.0000000, 1048163.731, None, &[]),
];

fn sample_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/agreement/agreement.toml")
}

#[test]
fn place_matches_the_independent_reference() {
    let agreement = match Agreement::load(&sample_path()) {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    let mut worst = (0.0_f64, "");
    let mut failures = Vec::new();
    for &(name, lat, lon, distance_m, side, zones) in REFERENCE {
        let place = agreement.place(&Position::new(lat, lon));
        let diff = (place.distance_to_line_m - distance_m).abs();
        if diff.is_nan() || diff > worst.0 {
            worst = (diff, name);
        }
        if diff.is_nan() || diff >= DISTANCE_TOLERANCE_M {
            failures.push(format!(
                "{name} ({lat}, {lon}): distance {:.3} m, reference {distance_m:.3} m \
                 (difference {diff:.3} m)",
                place.distance_to_line_m
            ));
        }
        if place.side.as_deref() != side {
            failures.push(format!(
                "{name} ({lat}, {lon}): side {:?}, reference {side:?}",
                place.side
            ));
        }
        let got: BTreeSet<&str> = place.zones.iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = zones.iter().copied().collect();
        if got != want {
            failures.push(format!(
                "{name} ({lat}, {lon}): zones {got:?}, reference {want:?}"
            ));
        }
    }
    eprintln!(
        "{} reference points; worst distance difference {:.6} m at {}",
        REFERENCE.len(),
        worst.0,
        worst.1
    );
    assert!(
        failures.is_empty(),
        "{} disagreement(s) with the reference (worst distance difference {:.6} m at {}):\n{}",
        failures.len(),
        worst.0,
        worst.1,
        failures.join("\n")
    );
}
