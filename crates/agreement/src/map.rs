//! The agreement drawn as GeoJSON, for maps: the contact line, each party's area, each
//! zone's outer boundary on each of its sides, the protected sites and the windows of
//! silence, with the clauses' texts beside them.
//!
//! A zone is every point of a side within its distance of the line, so its outer boundary
//! is the line's offset curve on that side: points at the zone's distance from the line,
//! found by stepping along the line and going out perpendicular to it, keeping the points
//! whose nearest position on the whole line is as far as the zone reaches (where the line
//! bends, a perpendicular point can be nearer to another part of it; it is left out, which
//! breaks the boundary there rather than drawing a wrong one).

use geo::{Coord, LineString, MultiPolygon};
use serde_json::{Value, json};

use crate::geodesy::LonLat;
use crate::model::{Agreement, SiteShape};

/// Spacing of the points of a zone's boundary along the line, in metres.
const STEP_M: f64 = 2_000.0;

fn ring(ls: &LineString<f64>) -> Vec<[f64; 2]> {
    ls.0.iter().map(|c: &Coord<f64>| [c.x, c.y]).collect()
}

fn multipolygon(shape: &MultiPolygon<f64>) -> Value {
    let polygons: Vec<Vec<Vec<[f64; 2]>>> = shape
        .0
        .iter()
        .map(|p| {
            std::iter::once(ring(p.exterior()))
                .chain(p.interiors().iter().map(ring))
                .collect()
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": polygons})
}

fn feature(geometry: Value, properties: Value) -> Value {
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

impl Agreement {
    /// Points along the line every [`STEP_M`] metres.
    fn samples(&self) -> Vec<LonLat> {
        let mut out = Vec::new();
        for pair in self.line.coords().windows(2) {
            let (length, azimuth) = self.earth.inverse(pair[0], pair[1]);
            let steps = (length / STEP_M).ceil().max(1.0) as usize;
            out.extend((0..steps).map(|k| {
                self.earth
                    .direct(pair[0], azimuth, length * k as f64 / steps as f64)
            }));
        }
        out.extend(self.line.coords().last());
        out
    }

    /// The outer boundary of a zone `distance_m` wide on `party`'s side: for each point
    /// along the line, a point out on that side, moved onto the curve of points
    /// `distance_m` from the line (by going out from its nearest position on the line by
    /// exactly that distance, a few times); runs of such points, broken where none is found.
    pub fn zone_boundary(&self, party: &str, distance_m: f64) -> Vec<Vec<LonLat>> {
        let tolerance = 0.01 * distance_m + 100.0;
        let samples = self.samples();
        // The line's direction over a stretch as long as the zone is wide, so that its
        // small bends do not turn the perpendicular.
        let reach = ((distance_m / STEP_M) as usize).clamp(1, 25);
        let mut runs: Vec<Vec<LonLat>> = Vec::new();
        let mut run: Vec<LonLat> = Vec::new();
        for (i, at) in samples.iter().enumerate() {
            let before = samples[i.saturating_sub(reach)];
            let after = samples[(i + reach).min(samples.len() - 1)];
            let (_, azimuth) = self.earth.inverse(before, after);
            let point = [azimuth + 90.0, azimuth - 90.0]
                .into_iter()
                .map(|a| self.earth.direct(*at, a, distance_m))
                .find(|p| self.areas.party_at(*p) == Some(party))
                .map(|mut p| {
                    for _ in 0..4 {
                        let foot = self.line.nearest(&self.earth, p).foot;
                        let (_, out) = self.earth.inverse(foot, p);
                        p = self.earth.direct(foot, out, distance_m);
                    }
                    p
                })
                .filter(|p| {
                    self.areas.party_at(*p) == Some(party)
                        && (self.line.nearest(&self.earth, *p).distance_m - distance_m).abs()
                            <= tolerance
                });
            match point {
                Some(p) => run.push(p),
                None if run.len() >= 2 => runs.push(std::mem::take(&mut run)),
                None => run.clear(),
            }
        }
        if run.len() >= 2 {
            runs.push(run);
        }
        runs
    }

    /// The agreement as a GeoJSON FeatureCollection. Each feature's `layer` property says
    /// what it is: `line`, `area`, `zone`, `site` or `window`. Beside the features:
    /// `agreement` (id, title, entry into force, attribution threshold), `parties` and
    /// `clauses`.
    pub fn geojson(&self) -> Value {
        let mut features = vec![feature(
            json!({"type": "LineString", "coordinates": self.line.coords()}),
            json!({"layer": "line", "source": self.line_source}),
        )];
        for area in &self.areas.parties {
            features.push(feature(
                multipolygon(&area.shape),
                json!({"layer": "area", "party": area.party}),
            ));
        }
        for zone in &self.zones {
            for side in &zone.sides {
                features.push(feature(
                    json!({"type": "MultiLineString",
                           "coordinates": self.zone_boundary(side, zone.distance_m)}),
                    json!({"layer": "zone", "id": zone.id, "kind": zone.kind.as_str(),
                           "weapon_class": zone.weapon_class, "distance_m": zone.distance_m,
                           "side": side}),
                ));
            }
        }
        for site in &self.sites {
            let (geometry, radius) = match &site.shape {
                SiteShape::Circle { centre, radius_m } => (
                    json!({"type": "Point", "coordinates": centre}),
                    Some(*radius_m),
                ),
                SiteShape::Polygon { shape, .. } => (multipolygon(shape), None),
            };
            features.push(feature(
                geometry,
                json!({"layer": "site", "id": site.id, "name": site.name,
                       "category": site.category, "radius_m": radius, "source": site.source}),
            ));
        }
        for window in &self.windows {
            features.push(feature(
                json!({"type": "MultiPoint", "coordinates": window.centres}),
                json!({"layer": "window", "id": window.id, "from": window.from,
                       "until": window.until, "radius_m": window.radius_m, "note": window.note}),
            ));
        }
        for sector in &self.sectors {
            features.push(feature(
                json!({"type": "Point", "coordinates": sector.begins.foot}),
                json!({"layer": "sector", "id": sector.id, "name": sector.name,
                       "from_m": sector.from_m, "until_m": sector.until_m}),
            ));
        }
        let clauses: Vec<Value> = self
            .clauses
            .iter()
            .map(|c| {
                json!({"id": c.id, "text": c.text, "rule": c.rule.as_str(),
                       "zones": c.zones, "sites": c.sites, "windows": c.windows})
            })
            .collect();
        let parties: Vec<Value> = self
            .parties
            .iter()
            .map(|p| json!({"id": p.id, "name": p.name}))
            .collect();
        json!({
            "type": "FeatureCollection",
            "agreement": {"id": self.id, "title": self.title,
                          "entry_into_force": self.entry_into_force,
                          "attribution_threshold": self.attribution_threshold},
            "parties": parties,
            "clauses": clauses,
            "features": features,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Agreement {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/agreement/agreement.toml"
        );
        Agreement::load(std::path::Path::new(path)).expect("the sample agreement loads")
    }

    #[test]
    fn zone_boundaries_lie_at_the_zone_distance_on_their_side() {
        let a = sample();
        let zone = a
            .zones
            .iter()
            .max_by(|x, y| x.distance_m.total_cmp(&y.distance_m))
            .unwrap();
        let side = &zone.sides[0];
        let runs = a.zone_boundary(side, zone.distance_m);
        let points: Vec<LonLat> = runs.iter().flatten().copied().collect();
        // Most of a 1,000 km line has a boundary beside it.
        assert!(points.len() > 100, "{} points", points.len());
        for p in points {
            let d = a.line.nearest(&a.earth, p).distance_m;
            assert!((d - zone.distance_m).abs() <= 0.01 * zone.distance_m + 100.0);
            assert_eq!(a.areas.party_at(p), Some(side.as_str()));
        }
    }

    #[test]
    fn the_map_has_every_layer_and_clause() {
        let a = sample();
        let map = a.geojson();
        let features = map["features"].as_array().unwrap();
        let count = |layer: &str| {
            features
                .iter()
                .filter(|f| f["properties"]["layer"] == layer)
                .count()
        };
        assert_eq!(count("line"), 1);
        assert_eq!(count("area"), a.areas.parties.len());
        assert_eq!(
            count("zone"),
            a.zones.iter().map(|z| z.sides.len()).sum::<usize>()
        );
        assert_eq!(count("site"), a.sites.len());
        assert_eq!(count("sector"), a.sectors.len());
        assert!(!a.sectors.is_empty());
        assert_eq!(map["clauses"].as_array().unwrap().len(), a.clauses.len());
    }
}
