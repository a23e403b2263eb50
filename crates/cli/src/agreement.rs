//! `truce agreement`: validate an agreement file, describe it, locate a point under it, and
//! judge events against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;
use truce_agreement::{Agreement, Earth, LoadError, SiteShape};
use truce_model::{Event, EventType, Located, Position, Timestamp};

#[derive(Debug, Subcommand)]
pub enum AgreementCommand {
    /// Validate an agreement file; list every problem with its file, line and field.
    Check {
        /// The agreement (TOML; GeoJSON files it references are read beside it).
        file: PathBuf,
    },
    /// Describe an agreement: line length, areas, zones, sites, windows, clauses, sectors.
    Show {
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Where a point is under the agreement: distance to the line, side, zones, monitoring
    /// sector, party probabilities, and the clauses an explosion there would breach.
    Locate {
        file: PathBuf,
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
        /// Circular location uncertainty: one standard deviation in metres.
        #[arg(long, conflicts_with = "cov")]
        sigma_m: Option<f64>,
        /// Location covariance in m² as `EE,EN,NN` (east/north plane).
        #[arg(long)]
        cov: Option<String>,
        /// When the explosion would happen (RFC 3339 UTC); default: entry into force.
        #[arg(long)]
        time: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Judge events (a JSON array or NDJSON of events) against the agreement; print the
    /// findings as NDJSON.
    Judge {
        file: PathBuf,
        /// Events file.
        #[arg(long)]
        events: PathBuf,
    },
}

pub fn run(command: AgreementCommand) -> anyhow::Result<()> {
    match command {
        AgreementCommand::Check { file } => check(&file),
        AgreementCommand::Show { file, json } => show(&load(&file)?, json),
        AgreementCommand::Locate {
            file,
            lat,
            lon,
            sigma_m,
            cov,
            time,
            json,
        } => {
            let agreement = load(&file)?;
            let covariance = match (sigma_m, cov) {
                (_, Some(text)) => parse_cov(&text)?,
                (Some(s), None) => [[s * s, 0.0], [0.0, s * s]],
                (None, None) => [[100.0 * 100.0, 0.0], [0.0, 100.0 * 100.0]],
            };
            let time = match time {
                Some(t) => Timestamp::parse(&t).with_context(|| format!("--time {t}"))?,
                None => agreement.entry_into_force,
            };
            locate(&agreement, Position::new(lat, lon), covariance, time, json)
        }
        AgreementCommand::Judge { file, events } => judge(&load(&file)?, &events),
    }
}

fn load(file: &Path) -> anyhow::Result<Agreement> {
    match Agreement::load(file) {
        Ok(a) => Ok(a),
        Err(LoadError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{p}");
            }
            bail!(
                "{} is not a valid agreement ({} problem(s)); run `truce agreement check`",
                file.display(),
                problems.len()
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn check(file: &Path) -> anyhow::Result<()> {
    match Agreement::load(file) {
        Ok(a) => {
            println!(
                "{}: ok — agreement {:?}, {} parties, {} zones, {} sites, {} windows, {} clauses, {} sectors",
                file.display(),
                a.id,
                a.parties.len(),
                a.zones.len(),
                a.sites.len(),
                a.windows.len(),
                a.clauses.len(),
                a.sectors.len()
            );
            Ok(())
        }
        Err(LoadError::Invalid(problems)) => {
            for p in &problems {
                println!("{p}");
            }
            bail!("{}: {} problem(s)", file.display(), problems.len())
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_cov(text: &str) -> anyhow::Result<[[f64; 2]; 2]> {
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--cov {text}: expected three numbers EE,EN,NN"))?;
    let [ee, en, nn] = parts[..] else {
        bail!("--cov {text}: expected three numbers EE,EN,NN");
    };
    Ok([[ee, en], [en, nn]])
}

/// Area of each zone on each side, by integrating over a longitude/latitude grid.
struct ZoneAreas {
    /// km² per (zone id, party).
    areas: BTreeMap<(String, String), f64>,
    cell_km: f64,
}

fn zone_areas(a: &Agreement) -> ZoneAreas {
    let reach_m = a.zones.iter().map(|z| z.distance_m).fold(0.0, f64::max);
    let (min, max) = a.line.bounds();
    let (kx, ky) = Earth::metres_per_degree((min[1] + max[1]) / 2.0);
    let (kx_min, _) = Earth::metres_per_degree(max[1].abs().max(min[1].abs()) + reach_m / ky);
    let pad = [reach_m / kx_min * 1.05, reach_m / ky * 1.05];
    let step = [2000.0 / kx, 2000.0 / ky];
    let mut areas = BTreeMap::new();
    let mut lat = min[1] - pad[1] + step[1] / 2.0;
    while lat < max[1] + pad[1] {
        let (cx, cy) = Earth::metres_per_degree(lat);
        let cell_km2 = step[0] * cx * step[1] * cy / 1e6;
        let mut lon = min[0] - pad[0] + step[0] / 2.0;
        while lon < max[0] + pad[0] {
            let place = a.place(&Position::new(lat, lon));
            if let Some(side) = &place.side {
                for zone in &place.zones {
                    *areas.entry((zone.clone(), side.clone())).or_insert(0.0) += cell_km2;
                }
            }
            lon += step[0];
        }
        lat += step[1];
    }
    ZoneAreas {
        areas,
        cell_km: 2.0,
    }
}

fn show(a: &Agreement, as_json: bool) -> anyhow::Result<()> {
    let line_km = a.line.length_m(&a.earth) / 1000.0;
    let zone_areas = zone_areas(a);
    let area_of = |zone: &str, party: &str| {
        zone_areas
            .areas
            .get(&(zone.to_string(), party.to_string()))
            .copied()
            .unwrap_or(0.0)
    };
    let parties: Vec<_> = a
        .parties
        .iter()
        .map(|p| {
            let km2 = a.areas.get(&p.id).map_or(0.0, |x| x.area_m2() / 1e6);
            json!({"id": p.id, "name": p.name, "area_km2": km2.round()})
        })
        .collect();
    let zones: Vec<_> = a
        .zones
        .iter()
        .map(|z| {
            let per_side: BTreeMap<&str, f64> = z
                .sides
                .iter()
                .map(|s| (s.as_str(), area_of(&z.id, s).round()))
                .collect();
            json!({"id": z.id, "kind": z.kind.as_str(),
                   "weapon_class": z.weapon_class.map(|c| c.as_str()),
                   "distance_km": z.distance_m / 1000.0, "sides": z.sides,
                   "area_km2": per_side})
        })
        .collect();
    let sites: Vec<_> = a
        .sites
        .iter()
        .map(|s| {
            let c = s.centre();
            let place = a.place(&Position::new(c[1], c[0]));
            let radius = match &s.shape {
                SiteShape::Circle { radius_m, .. } => Some(*radius_m),
                SiteShape::Polygon { .. } => None,
            };
            json!({"id": s.id, "name": s.name, "category": s.category,
                   "position": {"lat": c[1], "lon": c[0]}, "radius_m": radius,
                   "side": place.side, "distance_to_line_km": (place.distance_to_line_m / 100.0).round() / 10.0,
                   "source": s.source})
        })
        .collect();
    let windows: Vec<_> = a
        .windows
        .iter()
        .map(|w| json!({"id": w.id, "from": w.from, "until": w.until, "radius_km": w.radius_m / 1000.0, "note": w.note}))
        .collect();
    let clauses: Vec<_> = a
        .clauses
        .iter()
        .map(|c| json!({"id": c.id, "rule": c.rule.as_str(), "zones": c.zones, "sites": c.sites, "windows": c.windows, "text": c.text}))
        .collect();
    let km = |m: f64| (m / 100.0).round() / 10.0;
    let sectors: Vec<_> = a
        .sectors
        .iter()
        .map(|s| {
            json!({"id": s.id, "name": s.name,
                   "start": {"lat": s.start[1], "lon": s.start[0]},
                   "from_km": km(s.from_m), "until_km": km(s.until_m),
                   "length_km": km(s.length_m()), "note": s.note})
        })
        .collect();
    if as_json {
        let out = json!({"id": a.id, "title": a.title, "entry_into_force": a.entry_into_force,
            "attribution_threshold": a.attribution_threshold,
            "contact_line": {"positions": a.line.coords().len(), "length_km": (line_km * 10.0).round() / 10.0, "source": a.line_source},
            "parties": parties, "zones": zones, "zone_area_grid_km": zone_areas.cell_km,
            "sites": sites, "windows": windows, "clauses": clauses, "sectors": sectors});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!("{} — {}", a.id, a.title);
    println!("in force from {}", a.entry_into_force);
    println!("attribution threshold {}", a.attribution_threshold);
    println!(
        "contact line: {} positions, {:.1} km (geodesic)",
        a.line.coords().len(),
        line_km
    );
    println!("\nparties");
    for p in &parties {
        println!(
            "  {:<4} {:<28} area {:>9.0} km²",
            p["id"].as_str().unwrap_or(""),
            p["name"].as_str().unwrap_or(""),
            p["area_km2"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "\nzones (areas integrated on a {} km grid)",
        zone_areas.cell_km
    );
    for z in &a.zones {
        let class = z.weapon_class.map(|c| c.as_str()).unwrap_or("");
        let sides: Vec<String> = z
            .sides
            .iter()
            .map(|s| format!("{s} {:.0} km²", area_of(&z.id, s)))
            .collect();
        println!(
            "  {:<30} {:<10} {:<22} {:>5.0} km  {}",
            z.id,
            z.kind.as_str(),
            class,
            z.distance_m / 1000.0,
            sides.join(", ")
        );
    }
    println!("\nprotected sites");
    for s in &sites {
        println!(
            "  {:<22} {:<8} {:>8.4} {:>8.4}  r {:>5.0} m  {:<3} side, {:>6} km from the line",
            s["id"].as_str().unwrap_or(""),
            s["category"].as_str().unwrap_or(""),
            s["position"]["lat"].as_f64().unwrap_or(0.0),
            s["position"]["lon"].as_f64().unwrap_or(0.0),
            s["radius_m"].as_f64().unwrap_or(0.0),
            s["side"].as_str().unwrap_or("-"),
            s["distance_to_line_km"]
        );
    }
    if !a.windows.is_empty() {
        println!("\nwindows of silence");
        for w in &a.windows {
            println!(
                "  {:<22} {} – {}  radius {} km  {}",
                w.id,
                w.from,
                w.until,
                w.radius_m / 1000.0,
                w.note.as_deref().unwrap_or("")
            );
        }
    }
    println!("\nclauses");
    for c in &a.clauses {
        println!("  {:<5} {:<26} {}", c.id, c.rule.as_str(), c.text);
    }
    if !a.sectors.is_empty() {
        println!("\nmonitoring sectors (along the line from its first position)");
        for s in &a.sectors {
            println!(
                "  {:<16} {:<16} km {:>6.1} – {:>6.1}  {:>6.1} km  {}",
                s.id,
                s.name,
                s.from_m / 1000.0,
                s.until_m / 1000.0,
                s.length_m() / 1000.0,
                s.note.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn locate(
    a: &Agreement,
    position: Position,
    covariance: [[f64; 2]; 2],
    time: Timestamp,
    as_json: bool,
) -> anyhow::Result<()> {
    if !position.is_valid() {
        bail!(
            "--lat {} --lon {} is not a WGS 84 position",
            position.lat,
            position.lon
        );
    }
    let place = a.place(&position);
    let located = Located {
        location: position,
        covariance_m2: covariance,
    };
    let probabilities = a.party_probabilities(&located)?;
    let explosion = Event::new("locate", EventType::Explosion, time, position, covariance);
    let findings = truce_rules::evaluate(a, &explosion)?;
    let breaches: Vec<_> = findings
        .iter()
        .map(|f| {
            let text = a
                .clauses
                .iter()
                .find(|c| c.id == f.clause)
                .map(|c| c.text.as_str())
                .unwrap_or("");
            json!({"clause": f.clause, "rule": f.rule, "text": text})
        })
        .collect();
    // Attributed to the party whose area holds the threshold's share of the probability.
    let party = probabilities
        .iter()
        .find(|(k, v)| k.as_str() != truce_agreement::NONE && **v >= a.attribution_threshold)
        .map(|(k, _)| k.as_str());
    let attributed = party.unwrap_or("undetermined");
    let sector = place.sector.as_deref().and_then(|id| a.sector(id));
    if as_json {
        let out = json!({
            "attribution": {"party": party, "probabilities": probabilities,
                "threshold": a.attribution_threshold},
            "position": position,
            "covariance_m2": covariance,
            "time": time,
            "distance_to_line_m": place.distance_to_line_m,
            "nearest_on_line": place.nearest_on_line,
            "side": place.side,
            "zones": place.zones,
            "sites": place.sites,
            "sector": sector.map(|s| json!({"id": s.id, "name": s.name})),
            "party_probabilities": probabilities,
            "attribution_threshold": a.attribution_threshold,
            "explosion_breaches": breaches,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{:.5}, {:.5}: {:.1} m from the contact line (nearest point {:.5}, {:.5})",
        position.lat,
        position.lon,
        place.distance_to_line_m,
        place.nearest_on_line.lat,
        place.nearest_on_line.lon
    );
    println!(
        "side: {}",
        place
            .side
            .as_deref()
            .unwrap_or("none (outside every party's area)")
    );
    println!(
        "zones: {}",
        if place.zones.is_empty() {
            "none".to_string()
        } else {
            place.zones.join(", ")
        }
    );
    if let Some(s) = sector {
        println!("monitoring sector: {} ({})", s.name, s.id);
    }
    for s in &place.sites {
        println!(
            "protected site: {} ({}), {:.0} m from it",
            s.id, s.category, s.distance_m
        );
    }
    let probs: Vec<String> = probabilities
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect();
    println!(
        "party probabilities (covariance {:?} m²): {} → {attributed} at threshold {}",
        covariance,
        probs.join(", "),
        a.attribution_threshold
    );
    if breaches.is_empty() {
        println!("an explosion here at {time} would breach no clause");
    } else {
        println!("an explosion here at {time} would breach:");
        for b in &breaches {
            println!(
                "  clause {} ({}): {}",
                b["clause"].as_str().unwrap_or(""),
                b["rule"].as_str().unwrap_or(""),
                b["text"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}

fn judge(a: &Agreement, events: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(events)
        .with_context(|| format!("cannot read {}", events.display()))?;
    let parsed: Vec<Event> = if text.trim_start().starts_with('[') {
        serde_json::from_str(&text).with_context(|| format!("{}", events.display()))?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .with_context(|| format!("{} line {}", events.display(), i + 1))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let findings = truce_rules::evaluate_all(a, &parsed)?;
    for f in &findings {
        println!("{}", serde_json::to_string(f)?);
    }
    eprintln!("{} events, {} findings", parsed.len(), findings.len());
    Ok(())
}
