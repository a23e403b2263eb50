//! Locating a source from arrival times (origin time unknown) and optional back-azimuths:
//! weighted Levenberg–Marquardt in the azimuthal equidistant plane of a reference point,
//! exact geodesics for every predicted time, the covariance from the Jacobian, and the
//! Cramér–Rao bound for the same geometry.

use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{DVector, Dyn, Matrix3, OMatrix, Owned, U3, Vector3};
use truce_agreement::{Earth, LonLat};

use crate::physics::Medium;

/// One arrival as the locator sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pick {
    /// Where the sensor is.
    pub sensor: LonLat,
    /// Arrival time, seconds after the caller's reference instant.
    pub time: f64,
    pub sigma_s: f64,
    /// Back-azimuth (degrees from north, from the sensor towards the source) and its σ.
    pub backazimuth: Option<(f64, f64)>,
}

/// A located source.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub position: LonLat,
    /// Origin time, seconds after the caller's reference instant.
    pub origin_time: f64,
    pub origin_time_sigma_s: f64,
    /// 2×2 position covariance in the local east/north plane, m².
    pub covariance_m2: [[f64; 2]; 2],
    /// Root mean square of the time residuals, seconds.
    pub rms_residual_s: f64,
    /// Positions (in the caller's slice) of the picks used; outliers are left out.
    pub used: Vec<usize>,
    /// The largest angle between the directions from the source to consecutive sensors.
    pub azimuthal_gap_deg: f64,
}

impl Location {
    /// √trace of the position covariance: the expected location error, metres.
    pub fn sigma_m(&self) -> f64 {
        (self.covariance_m2[0][0] + self.covariance_m2[1][1]).sqrt()
    }
}

/// The 90 % error ellipse of a 2×2 covariance: semi-major and semi-minor axes in metres and
/// the azimuth of the major axis in degrees.
pub fn ellipse_90(cov: [[f64; 2]; 2]) -> (f64, f64, f64) {
    // χ² with 2 degrees of freedom at 0.90: −2 ln(0.1).
    let k = -2.0 * 0.1f64.ln();
    let [[a, b], [_, d]] = cov;
    let mean = (a + d) / 2.0;
    let half = (((a - d) / 2.0).powi(2) + b * b).sqrt();
    let (l1, l2) = (mean + half, (mean - half).max(0.0));
    // Angle of the major axis from east, counter-clockwise; azimuth is from north, clockwise.
    let theta = 0.5 * (2.0 * b).atan2(a - d);
    let azimuth = (90.0 - theta.to_degrees()).rem_euclid(180.0);
    ((k * l1).sqrt(), (k * l2).sqrt(), azimuth)
}

/// A weighted Jacobian row (east, north, origin time) and the weighted residual.
type Row = ([f64; 3], f64);

/// One row of the weighted Jacobian (east, north, origin time) and the weighted residual of
/// a pick for a source at `source` with origin time `t0`; a second row for its bearing.
fn rows(
    earth: &Earth,
    pick: &Pick,
    source: LonLat,
    t0: f64,
    medium: &Medium,
) -> (Row, Option<Row>) {
    let (d, az_source, az_sensor) = earth.inverse_both(source, pick.sensor);
    let c = medium.effective(az_source);
    let (s, co) = az_source.to_radians().sin_cos();
    let w = 1.0 / pick.sigma_s;
    let predicted = t0 + d / c;
    let time_row = [s / c * w, co / c * w, -w];
    let time_residual = (pick.time - predicted) * w;
    let bearing = pick.backazimuth.map(|(observed, sigma_deg)| {
        // The direction from the sensor towards the source.
        let predicted = (az_sensor + 180.0).rem_euclid(360.0);
        let residual = ((observed - predicted + 540.0).rem_euclid(360.0) - 180.0).to_radians();
        let wb = 1.0 / sigma_deg.to_radians();
        let (sb, cb) = predicted.to_radians().sin_cos();
        let d = d.max(1.0);
        ([-cb / d * wb, sb / d * wb, 0.0], residual * wb)
    });
    ((time_row, time_residual), bearing)
}

/// The Fisher information of the picks for a source at `source` (east, north, origin time).
pub fn fisher(earth: &Earth, picks: &[Pick], source: LonLat, medium: &Medium) -> Matrix3<f64> {
    let mut f = Matrix3::zeros();
    for pick in picks {
        let ((row, _), bearing) = rows(earth, pick, source, 0.0, medium);
        let g = Vector3::from(row);
        f += g * g.transpose();
        if let Some((row, _)) = bearing {
            let g = Vector3::from(row);
            f += g * g.transpose();
        }
    }
    f
}

/// The position block of the inverse of a Fisher matrix: the covariance in m².
fn position_covariance(f: &Matrix3<f64>) -> Option<[[f64; 2]; 2]> {
    let inv = f.try_inverse()?;
    let cov = [[inv[(0, 0)], inv[(0, 1)]], [inv[(1, 0)], inv[(1, 1)]]];
    let det = cov[0][0] * cov[1][1] - cov[0][1] * cov[1][0];
    (cov[0][0] > 0.0 && cov[1][1] > 0.0 && det > 0.0 && cov.iter().flatten().all(|v| v.is_finite()))
        .then_some(cov)
}

/// The Cramér–Rao bound on the position error for these sensors and a source at `source`:
/// √trace of the position block of the inverse Fisher matrix, metres. `None` when the
/// geometry cannot locate (fewer than three independent sensors).
pub fn cramer_rao_m(earth: &Earth, picks: &[Pick], source: LonLat, medium: &Medium) -> Option<f64> {
    let cov = position_covariance(&fisher(earth, picks, source, medium))?;
    Some((cov[0][0] + cov[1][1]).sqrt())
}

struct Problem<'a> {
    earth: &'a Earth,
    picks: &'a [Pick],
    medium: &'a Medium,
    reference: LonLat,
    params: Vector3<f64>,
}

impl Problem<'_> {
    fn source(&self) -> LonLat {
        self.earth
            .from_local_xy(self.reference, [self.params[0], self.params[1]])
    }

    fn count(&self) -> usize {
        self.picks.len()
            + self
                .picks
                .iter()
                .filter(|p| p.backazimuth.is_some())
                .count()
    }
}

impl LeastSquaresProblem<f64, Dyn, U3> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, U3>;
    type ParameterStorage = Owned<f64, U3>;

    fn set_params(&mut self, x: &Vector3<f64>) {
        self.params = *x;
    }

    fn params(&self) -> Vector3<f64> {
        self.params
    }

    fn residuals(&self) -> Option<DVector<f64>> {
        let source = self.source();
        let mut out = Vec::with_capacity(self.count());
        for pick in self.picks {
            let ((_, r), bearing) = rows(self.earth, pick, source, self.params[2], self.medium);
            out.push(r);
            if let Some((_, r)) = bearing {
                out.push(r);
            }
        }
        Some(DVector::from_vec(out))
    }

    fn jacobian(&self) -> Option<OMatrix<f64, Dyn, U3>> {
        let source = self.source();
        let mut j = OMatrix::<f64, Dyn, U3>::zeros(self.count());
        let mut i = 0;
        for pick in self.picks {
            // rows() gives each weighted residual's derivatives.
            let ((row, _), bearing) = rows(self.earth, pick, source, self.params[2], self.medium);
            for (k, v) in row.into_iter().enumerate() {
                j[(i, k)] = v;
            }
            i += 1;
            if let Some((row, _)) = bearing {
                for (k, v) in row.into_iter().enumerate() {
                    j[(i, k)] = v;
                }
                i += 1;
            }
        }
        Some(j)
    }
}

/// Locates a source from `picks` (at least three) starting at `start`. No outlier
/// removal; see [`locate_robust`].
pub fn locate(earth: &Earth, picks: &[Pick], medium: &Medium, start: LonLat) -> Option<Location> {
    if picks.len() < 3 {
        return None;
    }
    let t0 = initial_origin_time(earth, picks, medium, start);
    let problem = Problem {
        earth,
        picks,
        medium,
        reference: start,
        params: Vector3::new(0.0, 0.0, t0),
    };
    let (solved, report) = LevenbergMarquardt::new()
        .with_patience(200)
        .minimize(problem);
    if !report.termination.was_successful() || !report.objective_function.is_finite() {
        return None;
    }
    let position = solved.source();
    let origin_time = solved.params[2];
    // Covariance in the east/north plane at the solution itself.
    let f = fisher(earth, picks, position, medium);
    let inv = f.try_inverse()?;
    let covariance_m2 = position_covariance(&f)?;
    let mut sum = 0.0;
    let mut azimuths = Vec::with_capacity(picks.len());
    for pick in picks {
        let (d, az, _) = earth.inverse_both(position, pick.sensor);
        let predicted = origin_time + d / medium.effective(az);
        sum += (pick.time - predicted).powi(2);
        azimuths.push(az.rem_euclid(360.0));
    }
    Some(Location {
        position,
        origin_time,
        origin_time_sigma_s: inv[(2, 2)].max(0.0).sqrt(),
        covariance_m2,
        rms_residual_s: (sum / picks.len() as f64).sqrt(),
        used: (0..picks.len()).collect(),
        azimuthal_gap_deg: azimuthal_gap(&mut azimuths),
    })
}

/// Locates, then drops the pick with the largest normalised time residual while it exceeds
/// `max_residual` (in σ) and more than `min_picks` remain, relocating each time.
pub fn locate_robust(
    earth: &Earth,
    picks: &[Pick],
    medium: &Medium,
    start: LonLat,
    min_picks: usize,
    max_residual: f64,
) -> Option<Location> {
    locate_robust_with(
        earth,
        picks,
        start,
        min_picks,
        max_residual,
        &|subset, at| Some((locate(earth, subset, medium, at)?, *medium)),
    )
    .map(|(location, _)| location)
}

/// A locator: picks and a starting point to a location and the medium it holds in.
pub type Locator<'a> = dyn Fn(&[Pick], LonLat) -> Option<(Location, Medium)> + 'a;

/// [`locate_robust`] with a locator of the caller's, which also gives the medium its
/// location holds in (the residuals are judged in it).
pub fn locate_robust_with(
    earth: &Earth,
    picks: &[Pick],
    start: LonLat,
    min_picks: usize,
    max_residual: f64,
    locate: &Locator<'_>,
) -> Option<(Location, Medium)> {
    let mut keep: Vec<usize> = (0..picks.len()).collect();
    let mut start = start;
    loop {
        let subset: Vec<Pick> = keep.iter().map(|&i| picks[i]).collect();
        let (mut found, medium) = locate(&subset, start)?;
        let worst = subset
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let (d, az, _) = earth.inverse_both(found.position, p.sensor);
                let r = (p.time - found.origin_time - d / medium.effective(az)) / p.sigma_s;
                (k, r.abs())
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match worst {
            Some((k, r)) if r > max_residual && keep.len() > min_picks => {
                keep.remove(k);
                start = found.position;
            }
            Some((_, r)) if r > max_residual => return None,
            _ => {
                found.used = keep;
                return Some((found, medium));
            }
        }
    }
}

/// The median origin time the picks imply for a source at `at`.
fn initial_origin_time(earth: &Earth, picks: &[Pick], medium: &Medium, at: LonLat) -> f64 {
    let mut t: Vec<f64> = picks
        .iter()
        .map(|p| {
            let (d, az, _) = earth.inverse_both(at, p.sensor);
            p.time - d / medium.effective(az)
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn azimuthal_gap(azimuths: &mut [f64]) -> f64 {
    if azimuths.len() < 2 {
        return 360.0;
    }
    azimuths.sort_by(f64::total_cmp);
    let mut gap = 360.0 - azimuths[azimuths.len() - 1] + azimuths[0];
    for w in azimuths.windows(2) {
        gap = f64::max(gap, w[1] - w[0]);
    }
    gap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::sound_speed;

    /// Picks for a source at `source` firing at time 0, exact times (no noise) unless
    /// `noise` gives each sensor's error in seconds.
    fn picks(
        earth: &Earth,
        sensors: &[LonLat],
        source: LonLat,
        medium: &Medium,
        sigma: f64,
        noise: &[f64],
    ) -> Vec<Pick> {
        sensors
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (d, az, _) = earth.inverse_both(source, *s);
                Pick {
                    sensor: *s,
                    time: d / medium.effective(az) + noise.get(i).copied().unwrap_or(0.0),
                    sigma_s: sigma,
                    backazimuth: None,
                }
            })
            .collect()
    }

    fn square(earth: &Earth, centre: LonLat, half_m: f64) -> Vec<LonLat> {
        [[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]
            .iter()
            .map(|[x, y]| earth.from_local_xy(centre, [x * half_m, y * half_m]))
            .collect()
    }

    #[test]
    fn a_source_inside_a_square_is_found_exactly() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let sensors = square(&earth, centre, 10_000.0);
        let source = earth.from_local_xy(centre, [2_000.0, -3_000.0]);
        let medium = Medium::standard();
        let p = picks(&earth, &sensors, source, &medium, 0.002, &[]);
        let found = locate(&earth, &p, &medium, centre).unwrap();
        assert!(earth.distance(found.position, source) < 0.01, "{found:?}");
        assert!(found.origin_time.abs() < 1e-6);
        assert!(found.rms_residual_s < 1e-6);
        // Inside a square the error is small and nearly round.
        let (major, minor, _) = ellipse_90(found.covariance_m2);
        assert!(major < 5.0 && minor > 0.3 * major, "{major} {minor}");
        assert!(found.azimuthal_gap_deg < 180.0);
        let crb = cramer_rao_m(&earth, &p, source, &medium).unwrap();
        assert!((crb - found.sigma_m()).abs() < 0.01 * crb);
        // Sound speed at 15 °C.
        assert!((medium.speed - sound_speed(15.0)).abs() < 1e-12);
    }

    #[test]
    fn a_nearly_collinear_array_gives_an_elongated_ellipse() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        // Five sensors along a north–south line, one slightly off it.
        let sensors: Vec<LonLat> = [-20_000.0, -10_000.0, 0.0, 10_000.0, 20_000.0]
            .iter()
            .enumerate()
            .map(|(i, y)| earth.from_local_xy(centre, [if i == 2 { 500.0 } else { 0.0 }, *y]))
            .collect();
        // A source broadside and well away: its range is poorly constrained.
        let source = earth.from_local_xy(centre, [40_000.0, 3_000.0]);
        let medium = Medium::standard();
        let p = picks(&earth, &sensors, source, &medium, 0.005, &[]);
        let found = locate(
            &earth,
            &p,
            &medium,
            earth.from_local_xy(centre, [30_000.0, 0.0]),
        )
        .unwrap();
        assert!(earth.distance(found.position, source) < 0.5, "{found:?}");
        let (major, minor, azimuth) = ellipse_90(found.covariance_m2);
        assert!(major > 4.0 * minor, "elongated: {major} vs {minor}");
        // The poorly constrained direction is across the array, roughly east–west.
        assert!((azimuth - 90.0).abs() < 30.0, "azimuth {azimuth}");
    }

    #[test]
    fn a_source_outside_the_array_is_found_with_a_larger_error() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let sensors = square(&earth, centre, 5_000.0);
        let inside = earth.from_local_xy(centre, [1_000.0, 1_000.0]);
        let outside = earth.from_local_xy(centre, [25_000.0, 4_000.0]);
        let medium = Medium::standard();
        let p_out = picks(&earth, &sensors, outside, &medium, 0.002, &[]);
        let found = locate(&earth, &p_out, &medium, centre).unwrap();
        assert!(earth.distance(found.position, outside) < 1.0, "{found:?}");
        assert!(
            found.azimuthal_gap_deg > 250.0,
            "{}",
            found.azimuthal_gap_deg
        );
        let p_in = picks(&earth, &sensors, inside, &medium, 0.002, &[]);
        let crb_in = cramer_rao_m(&earth, &p_in, inside, &medium).unwrap();
        assert!(
            found.sigma_m() > 10.0 * crb_in,
            "{} vs {crb_in}",
            found.sigma_m()
        );
    }

    #[test]
    fn back_azimuths_tighten_the_location() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let sensors = square(&earth, centre, 2_000.0);
        let source = earth.from_local_xy(centre, [20_000.0, 2_000.0]);
        let medium = Medium::standard();
        let mut p = picks(&earth, &sensors, source, &medium, 0.05, &[]);
        let without = cramer_rao_m(&earth, &p, source, &medium).unwrap();
        for pick in &mut p {
            let (_, _, az_sensor) = earth.inverse_both(source, pick.sensor);
            pick.backazimuth = Some(((az_sensor + 180.0).rem_euclid(360.0), 1.0));
        }
        let with = cramer_rao_m(&earth, &p, source, &medium).unwrap();
        assert!(with < 0.8 * without, "{with} vs {without}");
        let found = locate(&earth, &p, &medium, centre).unwrap();
        assert!(earth.distance(found.position, source) < 1.0);
    }

    #[test]
    fn a_false_arrival_is_rejected() {
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let mut sensors = square(&earth, centre, 10_000.0);
        sensors.extend(square(&earth, centre, 4_000.0));
        let source = earth.from_local_xy(centre, [1_500.0, 2_500.0]);
        let medium = Medium::standard();
        let mut noise = vec![0.0; sensors.len()];
        noise[5] = 0.8; // one arrival 0.8 s late: a false or mis-picked arrival
        let p = picks(&earth, &sensors, source, &medium, 0.005, &noise);
        let found = locate_robust(&earth, &p, &medium, centre, 4, 4.0).unwrap();
        assert_eq!(found.used, vec![0, 1, 2, 3, 4, 6, 7]);
        assert!(earth.distance(found.position, source) < 0.5, "{found:?}");
    }

    #[test]
    fn the_cramer_rao_bound_matches_the_solver_error() {
        // Monte Carlo: 300 noisy relocations; the RMS position error should be the bound.
        let earth = Earth::default();
        let centre = [37.5, 48.3];
        let mut sensors = square(&earth, centre, 12_000.0);
        sensors.push(earth.from_local_xy(centre, [0.0, 15_000.0]));
        sensors.push(earth.from_local_xy(centre, [-3_000.0, 2_000.0]));
        let source = earth.from_local_xy(centre, [4_000.0, 1_000.0]);
        let medium = Medium::from_weather(5.0, 0.0, 0.0);
        let sigma = 0.01;
        let exact = picks(&earth, &sensors, source, &medium, sigma, &[]);
        let crb = cramer_rao_m(&earth, &exact, source, &medium).unwrap();
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut normal = || {
            // Box–Muller from a xorshift generator: seeded, no clock.
            let mut unit = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
            };
            let (u, v) = (unit(), unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        };
        let runs = 300;
        let mut sum2 = 0.0;
        for _ in 0..runs {
            let noise: Vec<f64> = (0..sensors.len()).map(|_| sigma * normal()).collect();
            let p = picks(&earth, &sensors, source, &medium, sigma, &noise);
            let found = locate(&earth, &p, &medium, centre).unwrap();
            sum2 += earth.distance(found.position, source).powi(2);
        }
        let rms = (sum2 / runs as f64).sqrt();
        assert!(
            (rms / crb - 1.0).abs() < 0.15,
            "RMS error {rms:.2} m vs bound {crb:.2} m"
        );
    }

    #[test]
    fn ellipse_axes() {
        let (major, minor, azimuth) = ellipse_90([[4.0, 0.0], [0.0, 1.0]]);
        let k = -2.0 * 0.1f64.ln();
        assert!((major - (4.0 * k).sqrt()).abs() < 1e-12 && (minor - k.sqrt()).abs() < 1e-12);
        assert!((azimuth - 90.0).abs() < 1e-9, "the major axis points east");
    }
}
