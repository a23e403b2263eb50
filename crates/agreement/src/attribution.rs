//! Attribution: the probability that a located point truly lies in each party's area.
//!
//! The location is a Gaussian with a 2×2 covariance in the local east/north plane. The
//! probability mass inside an area is integrated in polar coordinates around the mean in the
//! whitened plane (where the Gaussian is the standard normal): along a ray at angle θ the
//! mass between radii a and b is exp(−a²/2) − exp(−b²/2), so each ray is integrated exactly
//! from where it crosses the area's boundary, and the angles are integrated by the
//! trapezoid rule on `RAYS` equally spaced rays (spectrally accurate for the smooth
//! boundaries a located point sees). Boundary edges are placed in the azimuthal equidistant
//! plane of the mean; edges beyond `CUTOFF` standard deviations are left out (the mass there
//! is below 1e-15). Deterministic: no sampling.

use std::collections::BTreeMap;

use truce_model::Located;

use crate::areas::PartyArea;
use crate::geodesy::{Earth, LonLat};
use crate::model::Agreement;

/// Rays of the angular quadrature.
pub const RAYS: usize = 720;
/// Radius, in standard deviations, beyond which the mass is neglected.
pub const CUTOFF: f64 = 8.5;

/// The key for the mass outside every party's area.
pub const NONE: &str = "none";

/// A covariance that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("covariance must be symmetric and positive definite, with finite entries: {0:?}")]
pub struct BadCovariance(pub [[f64; 2]; 2]);

/// The whitening of a 2×2 covariance: z = W x maps the Gaussian to the standard normal.
#[derive(Clone, Copy, Debug)]
pub struct Whitening {
    w: [[f64; 2]; 2],
    /// The largest standard deviation, in metres.
    pub sigma_max: f64,
}

impl Whitening {
    pub fn new(cov: [[f64; 2]; 2]) -> Result<Self, BadCovariance> {
        let [[a, b], [c, d]] = cov;
        let finite = [a, b, c, d].iter().all(|v| v.is_finite());
        let symmetric = (b - c).abs() <= 1e-9 * (a.abs() + d.abs()).max(1e-300);
        let det = a * d - b * c;
        if !finite || !symmetric || a <= 0.0 || det <= 0.0 {
            return Err(BadCovariance(cov));
        }
        // Eigen-decomposition of the symmetric matrix [[a, b], [b, d]].
        let mean = (a + d) / 2.0;
        let half = (((a - d) / 2.0).powi(2) + b * b).sqrt();
        let (l1, l2) = (mean + half, mean - half);
        let theta = 0.5 * (2.0 * b).atan2(a - d);
        let (s, co) = theta.sin_cos();
        // Rows of W: eigenvectors divided by the square roots of their eigenvalues.
        let (r1, r2) = (l1.sqrt(), l2.max(f64::MIN_POSITIVE).sqrt());
        Ok(Self {
            w: [[co / r1, s / r1], [-s / r2, co / r2]],
            sigma_max: r1,
        })
    }

    pub fn apply(&self, x: [f64; 2]) -> [f64; 2] {
        [
            self.w[0][0] * x[0] + self.w[0][1] * x[1],
            self.w[1][0] * x[0] + self.w[1][1] * x[1],
        ]
    }
}

/// Probability mass of the standard normal inside a region whose boundary near the origin
/// is `edges` (whitened coordinates), given whether the origin is inside.
pub fn polar_mass(edges: &[([f64; 2], [f64; 2])], origin_inside: bool) -> f64 {
    if edges.is_empty() {
        return if origin_inside { 1.0 } else { 0.0 };
    }
    let mut crossings: Vec<f64> = Vec::with_capacity(8);
    let mut total = 0.0;
    for k in 0..RAYS {
        let angle = (k as f64 + 0.5) * std::f64::consts::TAU / RAYS as f64;
        let (dy, dx) = angle.sin_cos();
        crossings.clear();
        for (p, q) in edges {
            // Which side of the ray's line each end is on; an edge crosses when they differ
            // (half-open, so a ray through a vertex counts it once).
            let cp = dx * p[1] - dy * p[0];
            let cq = dx * q[1] - dy * q[0];
            if (cp > 0.0) == (cq > 0.0) {
                continue;
            }
            let s = cp / (cp - cq);
            let x = [p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1])];
            let r = dx * x[0] + dy * x[1];
            if r > 0.0 {
                crossings.push(r);
            }
        }
        crossings.sort_by(f64::total_cmp);
        let mut inside = origin_inside;
        let mut from = 0.0f64;
        let mut mass = 0.0;
        for &r in &crossings {
            if inside {
                mass += (-from * from / 2.0).exp() - (-r * r / 2.0).exp();
            }
            inside = !inside;
            from = r;
        }
        if inside {
            mass += (-from * from / 2.0).exp();
        }
        total += mass;
    }
    (total / RAYS as f64).clamp(0.0, 1.0)
}

impl Agreement {
    /// Probability, per party, that the true position lies in the party's area, and under
    /// [`NONE`] the mass outside every area.
    pub fn party_probabilities(
        &self,
        located: &Located,
    ) -> Result<BTreeMap<String, f64>, BadCovariance> {
        let whitening = Whitening::new(located.covariance_m2)?;
        let centre: LonLat = [located.location.lon, located.location.lat];
        let reach = CUTOFF * whitening.sigma_max;
        let (kx, ky) = Earth::metres_per_degree(centre[1]);
        // A box comfortably larger than the cut-off circle (longitude scale shrinks
        // poleward across the box, so pad by a quarter).
        let pad = [1.25 * reach / kx.max(1.0), 1.25 * reach / ky];
        let min = [centre[0] - pad[0], centre[1] - pad[1]];
        let max = [centre[0] + pad[0], centre[1] + pad[1]];
        let mut out = BTreeMap::new();
        let mut sum = 0.0;
        for area in &self.areas.parties {
            let p = mass_in_area(&self.earth, area, centre, &whitening, min, max);
            sum += p;
            out.insert(area.party.clone(), p);
        }
        // Areas do not overlap, so the masses sum to at most 1; quadrature error along a
        // shared boundary can push the sum a hair above, which is scaled away.
        if sum > 1.0 {
            for p in out.values_mut() {
                *p /= sum;
            }
        }
        out.insert(NONE.to_string(), (1.0 - sum).max(0.0));
        Ok(out)
    }
}

fn mass_in_area(
    earth: &Earth,
    area: &PartyArea,
    centre: LonLat,
    whitening: &Whitening,
    min: LonLat,
    max: LonLat,
) -> f64 {
    let edges: Vec<([f64; 2], [f64; 2])> = area
        .edges_near(min, max)
        .map(|(a, b)| {
            (
                whitening.apply(earth.local_xy(centre, a)),
                whitening.apply(earth.local_xy(centre, b)),
            )
        })
        .collect();
    polar_mass(&edges, area.contains(centre))
}

/// The standard normal cumulative distribution function Φ, from the complementary error
/// function of Numerical Recipes (fractional error under 1.2e-7 everywhere).
pub fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let tail = t * poly.exp() / 2.0;
    if x >= 0.0 { 1.0 - tail } else { tail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_plane_mass_is_the_normal_cdf() {
        for d in [-3.0, -1.0, -0.2, -1e-9, 1e-9, 0.5, 1.7, 4.0] {
            // The half-plane x > -d holds mass Φ(d); its boundary is the line x = -d.
            let edges = vec![([-d, -50.0], [-d, 50.0])];
            let got = polar_mass(&edges, d > 0.0);
            assert!(
                (got - normal_cdf(d)).abs() < 1e-6,
                "d={d}: {got} vs {}",
                normal_cdf(d)
            );
        }
    }

    #[test]
    fn whitening_maps_the_covariance_to_the_identity() {
        let cov = [[4.0e6, 1.2e6], [1.2e6, 1.0e6]];
        let w = Whitening::new(cov).unwrap();
        // W Σ Wᵀ = I
        let ws = |i: usize, j: usize| w.w[i][0] * cov[0][j] + w.w[i][1] * cov[1][j];
        for i in 0..2 {
            for j in 0..2 {
                let v = ws(i, 0) * w.w[j][0] + ws(i, 1) * w.w[j][1];
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12, "{i}{j}: {v}");
            }
        }
        assert!(Whitening::new([[1.0, 2.0], [2.0, 1.0]]).is_err());
        assert!(Whitening::new([[1.0, 0.0], [0.5, 1.0]]).is_err());
        assert!(Whitening::new([[f64::NAN, 0.0], [0.0, 1.0]]).is_err());
    }
}
