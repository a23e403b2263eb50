//! Distances on the WGS 84 ellipsoid.
//!
//! Geometry follows GeoJSON (RFC 7946): a segment between two positions is the straight
//! line in longitude/latitude. Distances are geodesic (GeographicLib, via
//! `geographiclib-rs`): the distance from a point to a segment is the shortest geodesic from
//! the point to any position on that segment. See docs/adr/0005-geometry-on-the-ellipsoid.md.

use geographiclib_rs::{DirectGeodesic, Geodesic, InverseGeodesic};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

/// WGS 84 semi-major axis and flattening.
const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;
/// Radius used only to scale index distances, never as a result.
const INDEX_RADIUS: f64 = 6_371_008.8;

/// A position as (longitude, latitude) in degrees, the GeoJSON order.
pub type LonLat = [f64; 2];

/// The ellipsoid and its geodesic solver.
#[derive(Debug)]
pub struct Earth {
    geodesic: Geodesic,
}

impl Default for Earth {
    fn default() -> Self {
        Self {
            geodesic: Geodesic::wgs84(),
        }
    }
}

impl Earth {
    /// Geodesic distance in metres and the azimuth at `from` (degrees from north).
    pub fn inverse(&self, from: LonLat, to: LonLat) -> (f64, f64) {
        let (s12, azi1, _azi2, _a12): (f64, f64, f64, f64) =
            self.geodesic.inverse(from[1], from[0], to[1], to[0]);
        (s12, azi1)
    }

    /// Geodesic distance in metres, the azimuth at `from` and the azimuth at `to` (both the
    /// direction of travel along the geodesic from `from` to `to`).
    pub fn inverse_both(&self, from: LonLat, to: LonLat) -> (f64, f64, f64) {
        let (s12, azi1, azi2, _a12): (f64, f64, f64, f64) =
            self.geodesic.inverse(from[1], from[0], to[1], to[0]);
        (s12, azi1, azi2)
    }

    /// The position `distance_m` from `from` along the geodesic leaving at `azimuth` degrees.
    pub fn direct(&self, from: LonLat, azimuth: f64, distance_m: f64) -> LonLat {
        let (lat, lon): (f64, f64) = self.geodesic.direct(from[1], from[0], azimuth, distance_m);
        [lon, lat]
    }

    /// The inverse of [`Earth::local_xy`]: the position `xy` metres east and north of
    /// `centre` in its azimuthal equidistant plane.
    pub fn from_local_xy(&self, centre: LonLat, xy: [f64; 2]) -> LonLat {
        let distance = xy[0].hypot(xy[1]);
        if distance == 0.0 {
            return centre;
        }
        self.direct(centre, xy[0].atan2(xy[1]).to_degrees(), distance)
    }

    /// Geodesic distance in metres.
    pub fn distance(&self, from: LonLat, to: LonLat) -> f64 {
        self.geodesic.inverse(from[1], from[0], to[1], to[0])
    }

    /// `to` in the azimuthal equidistant plane centred on `centre`: metres east and north,
    /// exact in distance and azimuth from the centre.
    pub fn local_xy(&self, centre: LonLat, to: LonLat) -> [f64; 2] {
        let (s, azi) = self.inverse(centre, to);
        let azi = azi.to_radians();
        [s * azi.sin(), s * azi.cos()]
    }

    /// Metres per degree of longitude and of latitude at a latitude (the ellipsoid's
    /// parallel and meridian radii of curvature).
    pub fn metres_per_degree(latitude: f64) -> (f64, f64) {
        let e2 = F * (2.0 - F);
        let phi = latitude.to_radians();
        let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let n = A / w;
        let m = A * (1.0 - e2) / (w * w * w);
        (
            n * phi.cos() * std::f64::consts::PI / 180.0,
            m * std::f64::consts::PI / 180.0,
        )
    }
}

/// The nearest position of a polyline to a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nearest {
    /// Geodesic distance in metres.
    pub distance_m: f64,
    /// Index of the segment (from vertex `segment` to `segment + 1`).
    pub segment: usize,
    /// Position along the segment, 0 at its first vertex and 1 at its second.
    pub t: f64,
    /// The nearest position.
    pub foot: LonLat,
}

type Segment = GeomWithData<Line<[f64; 3]>, usize>;

/// A polyline with a spatial index of its segments, for nearest-position queries.
#[derive(Debug)]
pub struct Polyline {
    coords: Vec<LonLat>,
    index: RTree<Segment>,
}

/// A point on the unit sphere: the index's space, where chord length orders distances.
fn unit(p: LonLat) -> [f64; 3] {
    let (lon, lat) = (p[0].to_radians(), p[1].to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

impl Polyline {
    /// A polyline through `coords` (at least two positions).
    pub fn new(coords: Vec<LonLat>) -> Self {
        let segments = coords
            .windows(2)
            .enumerate()
            .map(|(i, w)| GeomWithData::new(Line::new(unit(w[0]), unit(w[1])), i))
            .collect();
        Self {
            coords,
            index: RTree::bulk_load(segments),
        }
    }

    pub fn coords(&self) -> &[LonLat] {
        &self.coords
    }

    /// The smallest and largest longitude and latitude of the positions.
    pub fn bounds(&self) -> (LonLat, LonLat) {
        let mut min = [f64::MAX; 2];
        let mut max = [f64::MIN; 2];
        for c in &self.coords {
            for k in 0..2 {
                min[k] = min[k].min(c[k]);
                max[k] = max[k].max(c[k]);
            }
        }
        (min, max)
    }

    /// Length of the polyline in metres, summed over its segments' geodesics.
    pub fn length_m(&self, earth: &Earth) -> f64 {
        self.coords
            .windows(2)
            .map(|w| earth.distance(w[0], w[1]))
            .sum()
    }

    /// Where a position of the polyline lies along it, as (segment, position along the
    /// segment): ordered from the first position to the last. A vertex counts as the start of
    /// the segment it begins, so that the end of one segment and the start of the next give
    /// the same place.
    pub fn along(&self, n: &Nearest) -> (usize, f64) {
        if n.t >= 1.0 && n.segment + 2 < self.coords.len() {
            (n.segment + 1, 0.0)
        } else {
            (n.segment, n.t)
        }
    }

    /// The distance along the polyline from its first position to a position of it, in
    /// metres: the geodesic lengths of the segments before it, and its segment's pro rata.
    pub fn along_m(&self, earth: &Earth, n: &Nearest) -> f64 {
        let before: f64 = self.coords[..=n.segment]
            .windows(2)
            .map(|w| earth.distance(w[0], w[1]))
            .sum();
        let segment = earth.distance(self.coords[n.segment], self.coords[n.segment + 1]);
        before + n.t * segment
    }

    /// The position of the polyline nearest to `p`, by geodesic distance.
    ///
    /// Segments are visited in order of their distance in the index (chords on the unit
    /// sphere); the visit stops when no further segment can be nearer, allowing 0.6 % for the
    /// sphere against the ellipsoid (whose radii of curvature stay within 0.6 % of the
    /// index's radius at every latitude) and 50 m for chords against segments (a chord and its
    /// segment part by metres at most for segments of tens of kilometres).
    pub fn nearest(&self, earth: &Earth, p: LonLat) -> Nearest {
        let q = unit(p);
        let mut best: Option<Nearest> = None;
        for (segment, d2) in self.index.nearest_neighbor_iter_with_distance_2(&q) {
            let chord_m = d2.sqrt() * INDEX_RADIUS;
            if let Some(b) = &best
                && chord_m > b.distance_m * 1.006 + 50.0
            {
                break;
            }
            let candidate = self.nearest_on_segment(earth, segment.data, p);
            if best.is_none_or(|b| candidate.distance_m < b.distance_m) {
                best = Some(candidate);
            }
        }
        best.unwrap_or(Nearest {
            distance_m: f64::INFINITY,
            segment: 0,
            t: 0.0,
            foot: p,
        })
    }

    /// The nearest position to `p` on segment `i`.
    ///
    /// Starts from the nearest position in a plane tangent at `p`, then moves along the
    /// segment by the projection of the geodesic to `p` on the segment's direction until the
    /// distance it would gain is under 0.1 mm: the geodesic from the nearest position meets the segment at a
    /// right angle, where the projection vanishes.
    pub fn nearest_on_segment(&self, earth: &Earth, i: usize, p: LonLat) -> Nearest {
        let (a, b) = (self.coords[i], self.coords[i + 1]);
        let d = [b[0] - a[0], b[1] - a[1]];
        let (kx, ky) = Earth::metres_per_degree(p[1]);
        let (ax, ay) = ((a[0] - p[0]) * kx, (a[1] - p[1]) * ky);
        let (dx, dy) = (d[0] * kx, d[1] * ky);
        let len2 = dx * dx + dy * dy;
        let mut t = if len2 > 0.0 {
            (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let at = |t: f64| [a[0] + t * d[0], a[1] + t * d[1]];
        let mut foot = at(t);
        let (mut s, mut azi) = earth.inverse(foot, p);
        for _ in 0..12 {
            let (kx, ky) = Earth::metres_per_degree(foot[1]);
            let (ve, vn) = (d[0] * kx, d[1] * ky);
            let v2 = ve * ve + vn * vn;
            if v2 == 0.0 || s == 0.0 {
                break;
            }
            let azi_r = azi.to_radians();
            let step = s * (ve * azi_r.sin() + vn * azi_r.cos()) / v2;
            let next = (t + step).clamp(0.0, 1.0);
            let moved_m = (next - t).abs() * v2.sqrt();
            // Moving the foot by `moved_m` along the segment shortens the distance by about
            // moved²/(2s) (Pythagoras in the tangent plane); stop when that is under 0.1 mm.
            if moved_m < 1e-4 || moved_m * moved_m < 2e-4 * s {
                break;
            }
            t = next;
            foot = at(t);
            (s, azi) = earth.inverse(foot, p);
        }
        Nearest {
            distance_m: s,
            segment: i,
            t,
            foot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nearest position by brute force: a fine scan of every segment, then golden-section
    /// search around the best sample.
    fn brute_force(earth: &Earth, coords: &[LonLat], p: LonLat) -> f64 {
        let mut best = f64::INFINITY;
        for w in coords.windows(2) {
            let at = |t: f64| {
                [
                    w[0][0] + t * (w[1][0] - w[0][0]),
                    w[0][1] + t * (w[1][1] - w[0][1]),
                ]
            };
            let f = |t: f64| earth.distance(at(t), p);
            let n = 200;
            let (mut k_best, mut f_best) = (0usize, f64::INFINITY);
            for k in 0..=n {
                let v = f(k as f64 / n as f64);
                if v < f_best {
                    (k_best, f_best) = (k, v);
                }
            }
            let (mut lo, mut hi) = (
                (k_best.saturating_sub(1)) as f64 / n as f64,
                ((k_best + 1).min(n)) as f64 / n as f64,
            );
            let g = (5f64.sqrt() - 1.0) / 2.0;
            for _ in 0..80 {
                let (m1, m2) = (hi - g * (hi - lo), lo + g * (hi - lo));
                if f(m1) < f(m2) {
                    hi = m2;
                } else {
                    lo = m1;
                }
            }
            best = best.min(f((lo + hi) / 2.0)).min(f_best);
        }
        best
    }

    #[test]
    fn the_indexed_search_finds_the_nearest_of_all_segments() {
        // The real contact line (387 positions); points from on it to 400 km away, seeded.
        let text = include_str!("../../../examples/agreement/contact-line-2026-01-06.geojson");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let coords: Vec<LonLat> = value["features"][0]["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
            .collect();
        let earth = Earth::default();
        let line = Polyline::new(coords.clone());
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for k in 0..3000 {
            let p = [29.0 + 14.0 * next(), 43.5 + 10.0 * next()];
            let got = line.nearest(&earth, p);
            // Every segment refined with geodesics: the search through the index stops
            // at none that is nearer.
            let want = (0..coords.len() - 1)
                .map(|i| line.nearest_on_segment(&earth, i, p))
                .min_by(|a, b| a.distance_m.total_cmp(&b.distance_m))
                .unwrap();
            assert!(
                (got.distance_m - want.distance_m).abs() < 1e-6,
                "point {k} {p:?}: {} vs {} m",
                got.distance_m,
                want.distance_m
            );
        }
    }

    #[test]
    fn nearest_matches_brute_force() {
        let earth = Earth::default();
        let coords = vec![
            [32.60, 46.56],
            [33.40, 46.80],
            [35.10, 47.40],
            [35.30, 47.45],
            [37.20, 48.00],
            [37.90, 49.20],
            [37.78, 50.00],
        ];
        let line = Polyline::new(coords.clone());
        let mut worst: f64 = 0.0;
        for (i, p) in [
            [34.0, 47.0],
            [36.0, 49.5],
            [30.0, 50.0],
            [37.21, 48.001],
            [35.2, 47.425],
            [38.5, 46.0],
            [32.0, 46.0],
            [37.85, 50.5],
        ]
        .into_iter()
        .enumerate()
        {
            let got = line.nearest(&earth, p).distance_m;
            let want = brute_force(&earth, &coords, p);
            worst = worst.max((got - want).abs());
            assert!((got - want).abs() < 1e-3, "point {i}: {got} vs {want}");
        }
        assert!(worst < 1e-3);
    }

    #[test]
    fn local_plane_round_trips() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        for xy in [[0.0, 0.0], [12_345.0, -6_789.0], [-40_000.0, 25_000.0]] {
            let p = earth.from_local_xy(centre, xy);
            let back = earth.local_xy(centre, p);
            assert!(
                (back[0] - xy[0]).abs() < 1e-6 && (back[1] - xy[1]).abs() < 1e-6,
                "{back:?}"
            );
        }
    }

    #[test]
    fn metres_per_degree_matches_geodesics() {
        let earth = Earth::default();
        let (kx, ky) = Earth::metres_per_degree(48.0);
        let dx = earth.distance([35.0, 48.0], [35.001, 48.0]) * 1000.0;
        let dy = earth.distance([35.0, 47.9995], [35.0, 48.0005]) * 1000.0;
        assert!((kx - dx).abs() / kx < 1e-6, "{kx} {dx}");
        assert!((ky - dy).abs() / ky < 1e-6, "{ky} {dy}");
    }
}
