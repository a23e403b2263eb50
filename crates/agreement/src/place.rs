//! Where a point is under the agreement: distance to the contact line, side, zones, sites,
//! monitoring sector and windows of silence.

use geo::{Coord, Intersects, Point};
use serde::Serialize;
use truce_model::{Position, SiteHit, Timestamp};

use crate::geodesy::LonLat;
use crate::model::{Agreement, SiteShape, Window};

/// A point's place under the agreement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Place {
    /// Geodesic distance to the nearest position of the contact line, in metres.
    pub distance_to_line_m: f64,
    /// The nearest position of the contact line.
    pub nearest_on_line: Position,
    /// The party whose area holds the point, if any.
    pub side: Option<String>,
    /// Zones (by id) that hold the point: zones of its side within their distance.
    pub zones: Vec<String>,
    /// Protected sites the point falls on.
    pub sites: Vec<SiteHit>,
    /// The monitoring sector (by id) of the line's position nearest to the point; none when
    /// the agreement has no sectors.
    pub sector: Option<String>,
}

pub fn lon_lat(p: &Position) -> LonLat {
    [p.lon, p.lat]
}

impl Agreement {
    /// The point's place: distance, side, zones, sites and sector.
    pub fn place(&self, position: &Position) -> Place {
        let p = lon_lat(position);
        let nearest = self.line.nearest(&self.earth, p);
        let side = self.areas.party_at(p).map(str::to_string);
        let zones = match &side {
            Some(party) => self
                .zones
                .iter()
                .filter(|z| nearest.distance_m <= z.distance_m && z.sides.contains(party))
                .map(|z| z.id.clone())
                .collect(),
            None => Vec::new(),
        };
        Place {
            distance_to_line_m: nearest.distance_m,
            nearest_on_line: Position::new(nearest.foot[1], nearest.foot[0]),
            side,
            zones,
            sites: self.sites_at(p),
            sector: self.sector_on_line(&nearest).map(|s| s.id.clone()),
        }
    }

    /// Protected sites that hold `p`: within a circular site's radius, or inside a site's
    /// polygon.
    pub fn sites_at(&self, p: LonLat) -> Vec<SiteHit> {
        let (kx, ky) = crate::geodesy::Earth::metres_per_degree(p[1]);
        let mut hits = Vec::new();
        for site in &self.sites {
            let centre = site.centre();
            let hit = match &site.shape {
                SiteShape::Circle { radius_m, .. } => {
                    // Cheap rejection well outside the radius (the local plane errs by far
                    // less than 10 % at these distances), then the exact geodesic.
                    let rough = (((p[0] - centre[0]) * kx).powi(2)
                        + ((p[1] - centre[1]) * ky).powi(2))
                    .sqrt();
                    if rough > radius_m * 1.1 + 100.0 {
                        None
                    } else {
                        let d = self.earth.distance(centre, p);
                        (d <= *radius_m).then_some(d)
                    }
                }
                SiteShape::Polygon { shape, .. } => shape
                    .intersects(&Point::from(Coord { x: p[0], y: p[1] }))
                    .then_some(0.0),
            };
            if let Some(distance_m) = hit {
                hits.push(SiteHit {
                    id: site.id.clone(),
                    category: site.category.clone(),
                    distance_m,
                });
            }
        }
        hits
    }

    /// Whether `window` holds the point at the instant.
    pub fn in_window(&self, window: &Window, p: LonLat, at: Timestamp) -> bool {
        at >= window.from
            && at < window.until
            && window
                .centres
                .iter()
                .any(|c| self.earth.distance(*c, p) <= window.radius_m)
    }
}
