//! Each party's controlled area: given as polygons, or derived by cutting a country's border
//! along the contact line.

use geo::{Area, BooleanOps, BoundingRect, Coord, LineString, MultiPolygon, Polygon, Rect};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Line};

use crate::geodesy::{Earth, LonLat, Polyline};

/// One party's area, with indexes of its boundary's edges: an R-tree for the edges near a
/// point, and horizontal bands for point-in-area tests.
#[derive(Debug)]
pub struct PartyArea {
    pub party: String,
    pub shape: MultiPolygon,
    bbox: Option<Rect>,
    edges: RTree<GeomWithData<Line<[f64; 2]>, ()>>,
    bands: Bands,
}

/// The boundary's edges sorted into horizontal bands of equal height, so that the even-odd
/// ray test for a point looks only at the edges of the point's band.
#[derive(Debug, Default)]
struct Bands {
    y0: f64,
    height: f64,
    bands: Vec<Vec<[f64; 4]>>,
}

impl Bands {
    fn new(edges: &[[f64; 4]], y0: f64, y1: f64) -> Self {
        let count = (edges.len() / 2).clamp(16, 4096);
        let height = ((y1 - y0) / count as f64).max(f64::MIN_POSITIVE);
        let mut bands = vec![Vec::new(); count];
        for e in edges {
            let (lo, hi) = (e[1].min(e[3]), e[1].max(e[3]));
            let first = (((lo - y0) / height).floor().max(0.0) as usize).min(count - 1);
            let last = (((hi - y0) / height).floor().max(0.0) as usize).min(count - 1);
            for band in &mut bands[first..=last] {
                band.push(*e);
            }
        }
        Self { y0, height, bands }
    }

    /// Even-odd count of the edges crossed by the ray from (x, y) towards +x.
    fn contains(&self, x: f64, y: f64) -> bool {
        let index = ((y - self.y0) / self.height).floor();
        if index.is_nan() || index < 0.0 {
            return false;
        }
        let Some(band) = self.bands.get(index as usize) else {
            return false;
        };
        let mut inside = false;
        for e in band {
            if (e[1] > y) != (e[3] > y) && x < e[0] + (y - e[1]) * (e[2] - e[0]) / (e[3] - e[1]) {
                inside = !inside;
            }
        }
        inside
    }
}

impl PartyArea {
    pub fn new(party: String, shape: MultiPolygon) -> Self {
        let bbox = shape.bounding_rect();
        let edges: Vec<[f64; 4]> = shape
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|ring| ring.lines())
            .map(|l| [l.start.x, l.start.y, l.end.x, l.end.y])
            .collect();
        let bands = match bbox {
            Some(b) => Bands::new(&edges, b.min().y, b.max().y),
            None => Bands::default(),
        };
        let edges = edges
            .iter()
            .map(|e| GeomWithData::new(Line::new([e[0], e[1]], [e[2], e[3]]), ()))
            .collect();
        Self {
            party,
            shape,
            bbox,
            edges: RTree::bulk_load(edges),
            bands,
        }
    }

    /// Whether the area holds `p`. A point exactly on the boundary may fall either way.
    pub fn contains(&self, p: LonLat) -> bool {
        let Some(bbox) = self.bbox else { return false };
        if p[0] < bbox.min().x || p[0] > bbox.max().x || p[1] < bbox.min().y || p[1] > bbox.max().y
        {
            return false;
        }
        self.bands.contains(p[0], p[1])
    }

    /// Boundary edges whose bounding boxes meet the box `[min, max]` (longitude, latitude).
    pub fn edges_near(&self, min: LonLat, max: LonLat) -> impl Iterator<Item = (LonLat, LonLat)> {
        let envelope = rstar::AABB::from_corners(min, max);
        self.edges
            .locate_in_envelope_intersecting(&envelope)
            .map(|e| (e.geom().from, e.geom().to))
    }

    /// Geodesic area in m² (GeographicLib's polygon area).
    pub fn area_m2(&self) -> f64 {
        use geo::GeodesicArea;
        self.shape.geodesic_area_unsigned()
    }
}

/// All parties' areas.
#[derive(Debug, Default)]
pub struct Areas {
    pub parties: Vec<PartyArea>,
}

impl Areas {
    /// The party whose area holds `p`, if any (the first listed, on a shared boundary).
    pub fn party_at(&self, p: LonLat) -> Option<&str> {
        self.parties
            .iter()
            .find(|a| a.contains(p))
            .map(|a| a.party.as_str())
    }

    pub fn get(&self, party: &str) -> Option<&PartyArea> {
        self.parties.iter().find(|a| a.party == party)
    }
}

/// The two sides of a border cut along a line: `(left, right)` as seen walking the line from
/// its first position to its last.
///
/// The line is extended from each end to the nearest position on the border's largest
/// polygon; that polygon's ring, walked from the line's last end back to its first, closes
/// the line into a polygon on each side; the side whose closed ring turns clockwise lies on
/// the right. Each side is then the border clipped to that polygon, so a line that leaves
/// the border (over water, say) is cut back to it.
pub fn cut_border(
    earth: &Earth,
    border: &MultiPolygon,
    line: &[LonLat],
) -> Result<(MultiPolygon, MultiPolygon), String> {
    let main = border
        .iter()
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        .ok_or("the border has no polygon")?;
    let mut ring: Vec<LonLat> = main.exterior().coords().map(|c| [c.x, c.y]).collect();
    if ring.len() < 4 {
        return Err("the border's ring has fewer than 4 positions".into());
    }
    let (first, last) = (line[0], line[line.len() - 1]);
    let index = Polyline::new(ring.clone());
    let start = index.nearest(earth, first);
    let end = index.nearest(earth, last);
    ring.pop(); // the closing position repeats the first
    let n = ring.len();
    // Extended line: border foot at the start, the line, border foot at the end.
    let mut extended = vec![start.foot];
    extended.extend_from_slice(line);
    extended.push(end.foot);
    // Ring vertices from the end's segment to the start's segment, forwards and backwards.
    let forward: Vec<LonLat> = {
        let mut v = Vec::new();
        let mut i = (end.segment + 1) % n;
        while i != (start.segment + 1) % n {
            v.push(ring[i]);
            i = (i + 1) % n;
        }
        v
    };
    let backward: Vec<LonLat> = {
        let mut v = Vec::new();
        let mut i = end.segment % n;
        while i != start.segment % n {
            v.push(ring[i]);
            i = (i + n - 1) % n;
        }
        v
    };
    let close = |arc: &[LonLat]| -> Polygon {
        let mut coords: Vec<Coord> = extended
            .iter()
            .chain(arc.iter())
            .map(|p| Coord { x: p[0], y: p[1] })
            .collect();
        coords.push(coords[0]);
        Polygon::new(LineString::new(coords), vec![])
    };
    let (a, b) = (close(&forward), close(&backward));
    let right = if a.signed_area() < 0.0 { a } else { b };
    let right_side = border.intersection(&MultiPolygon::new(vec![right.clone()]));
    let left_side = border.difference(&MultiPolygon::new(vec![right]));
    if right_side.0.is_empty() || left_side.0.is_empty() {
        return Err("the line does not cut the border in two".into());
    }
    Ok((left_side, right_side))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Intersects, Point};
    use proptest::prelude::*;

    /// A star-shaped ring with a hole, and a second polygon: enough turns and parts to test
    /// the band index against geo's own point-in-polygon.
    fn star() -> MultiPolygon {
        let ring: Vec<(f64, f64)> = (0..37)
            .map(|k| {
                let a = k as f64 / 36.0 * std::f64::consts::TAU;
                let r = if k % 2 == 0 { 3.0 } else { 1.4 };
                (35.0 + r * a.cos(), 48.0 + r * a.sin())
            })
            .collect();
        let hole = LineString::from(vec![
            (34.8, 47.8),
            (35.2, 47.8),
            (35.2, 48.2),
            (34.8, 48.2),
            (34.8, 47.8),
        ]);
        let other = LineString::from(vec![(40.0, 40.0), (41.0, 40.0), (41.0, 41.0), (40.0, 40.0)]);
        MultiPolygon::new(vec![
            Polygon::new(LineString::from(ring), vec![hole]),
            Polygon::new(other, vec![]),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, rng_seed: proptest::test_runner::RngSeed::Fixed(11), ..ProptestConfig::default() })]
        #[test]
        fn bands_agree_with_geo(x in 31.0f64..42.0, y in 39.0f64..52.0) {
            let shape = star();
            let area = PartyArea::new("X".into(), shape.clone());
            let want = shape.intersects(&Point::new(x, y));
            prop_assert_eq!(area.contains([x, y]), want);
        }
    }

    fn square() -> MultiPolygon {
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(30.0, 45.0), (40.0, 45.0), (40.0, 52.0), (30.0, 52.0)]),
            vec![],
        )])
    }

    #[test]
    fn a_line_cuts_a_square_into_left_and_right() {
        let earth = Earth::default();
        // A line from south to north at 35° E, stopping 10 km short of the border.
        let line = [[35.0, 45.1], [35.2, 48.0], [35.0, 51.9]];
        let (left, right) = cut_border(&earth, &square(), &line).unwrap();
        let left = PartyArea::new("UA".into(), left);
        let right = PartyArea::new("RU".into(), right);
        assert!(left.contains([31.0, 48.0]));
        assert!(!left.contains([39.0, 48.0]));
        assert!(right.contains([39.0, 48.0]));
        assert!(
            right.contains([35.1, 45.01]),
            "the extension reaches the border"
        );
        assert!(!right.contains([41.0, 48.0]), "outside the border");
        let total = square().unsigned_area();
        let parts = left.shape.unsigned_area() + right.shape.unsigned_area();
        assert!((total - parts).abs() < 1e-9 * total);
    }
}
