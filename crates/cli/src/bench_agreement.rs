//! `truce bench agreement`: zone membership, distance to the contact line and attribution
//! for many points against an agreement, with the geodesic solver's own rate as the floor
//! each point pays at least once.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use truce_agreement::{Agreement, Earth};
use truce_model::{Located, Position};

use crate::sample::Rng;

/// Seeded points spread over the contact line's surroundings: half within 20 km of the
/// line (where the work is), half anywhere in the box 150 km around it.
fn points(a: &Agreement, n: usize, seed: u64) -> Vec<Position> {
    let coords = a.line.coords();
    let (min, max) = a.line.bounds();
    let (kx, ky) = Earth::metres_per_degree((min[1] + max[1]) / 2.0);
    let pad = [150_000.0 / kx, 150_000.0 / ky];
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let c = coords[(rng.next_u64() % coords.len() as u64) as usize];
                Position::new(
                    c[1] + rng.normal() * 10_000.0 / ky,
                    c[0] + rng.normal() * 10_000.0 / kx,
                )
            } else {
                Position::new(
                    min[1] - pad[1] + rng.unit() * (max[1] - min[1] + 2.0 * pad[1]),
                    min[0] - pad[0] + rng.unit() * (max[0] - min[0] + 2.0 * pad[0]),
                )
            }
        })
        .collect()
}

/// Runs `f` over the points on `threads` threads; returns points per second.
fn rate<F: Fn(&Position) -> usize + Sync>(
    points: &[Position],
    threads: usize,
    f: F,
) -> (f64, usize) {
    let started = Instant::now();
    let chunk = points.len().div_ceil(threads);
    let total: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = points
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).sum::<usize>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    (points.len() as f64 / started.elapsed().as_secs_f64(), total)
}

pub fn run(file: PathBuf, n: usize, seed: u64, sigma_m: f64, as_json: bool) -> anyhow::Result<()> {
    let a = Agreement::load(&file).with_context(|| format!("loading {}", file.display()))?;
    let pts = points(&a, n, seed);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let cov = [[sigma_m * sigma_m, 0.0], [0.0, sigma_m * sigma_m]];
    eprintln!(
        "{} points (seed {seed}) against {} ({} line positions, {} zones); σ = {sigma_m} m; {cores} cores",
        n,
        a.id,
        a.line.coords().len(),
        a.zones.len()
    );
    // The floor: one geodesic inverse per point (every distance needs at least one).
    let earth = Earth::default();
    let (inverse_1, _) = rate(&pts, 1, |p| {
        usize::from(earth.distance([p.lon, p.lat], [36.0, 48.0]) > 1.0)
    });
    // Membership and distance: side, zones (which need the distance) and sites.
    let (place_1, in_zone) = rate(&pts, 1, |p| a.place(p).zones.len().min(1));
    let (place_all, _) = rate(&pts, cores, |p| a.place(p).zones.len().min(1));
    // Its parts: the distance alone and the side alone.
    let (distance_1, _) = rate(&pts, 1, |p| {
        usize::from(a.line.nearest(&a.earth, [p.lon, p.lat]).distance_m < 50_000.0)
    });
    let (side_1, _) = rate(&pts, 1, |p| {
        usize::from(a.areas.party_at([p.lon, p.lat]).is_some())
    });
    let attribute = |p: &Position| {
        let probabilities = a
            .party_probabilities(&Located {
                location: *p,
                covariance_m2: cov,
            })
            .unwrap_or_default();
        usize::from(
            probabilities
                .iter()
                .any(|(k, v)| k != truce_agreement::NONE && *v >= a.attribution_threshold),
        )
    };
    let (attr_1, attributed) = rate(&pts, 1, attribute);
    let (attr_all, _) = rate(&pts, cores, attribute);
    println!("agreement geometry, {n} points, one core unless noted");
    println!("  geodesic inverse (the floor)     {:>10.0} /s", inverse_1);
    println!(
        "  membership + distance            {:>10.0} /s per core   {:>10.0} /s on {cores} cores   ({:.1} inverses' worth each; {} in a zone)",
        place_1,
        place_all,
        inverse_1 / place_1,
        in_zone
    );
    println!(
        "    of which distance to the line   {:>10.0} /s per core",
        distance_1
    );
    println!(
        "    of which side (area membership) {:>10.0} /s per core",
        side_1
    );
    println!(
        "  attribution (σ {sigma_m} m)           {:>10.0} /s per core   {:>10.0} /s on {cores} cores   ({} attributed at {})",
        attr_1, attr_all, attributed, a.attribution_threshold
    );
    println!(
        "  target: membership + distance ≥ 200,000 /s per core: {}",
        if place_1 >= 200_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    if as_json {
        println!(
            "{}",
            json!({"points": n, "seed": seed, "sigma_m": sigma_m, "cores": cores,
                   "inverse_per_s": inverse_1, "place_per_s_per_core": place_1,
                   "place_per_s_all_cores": place_all, "distance_per_s_per_core": distance_1,
                   "side_per_s_per_core": side_1, "attribution_per_s_per_core": attr_1,
                   "attribution_per_s_all_cores": attr_all, "in_zone": in_zone,
                   "attributed": attributed})
        );
    }
    Ok(())
}
