//! Propagation learned from the data: the effective sound speed and wind, estimated jointly
//! with the sources that sound came from.
//!
//! A met report says what the weather is near the ground at one place; sound travels
//! through the air above and across the whole sector, and reports can be wrong, stale or
//! missing. Every located event carries information about the medium: with sensors around
//! it, a wind shows as arrivals early downwind and late upwind, a wrong sound speed as
//! residuals that grow with distance. [`estimate`] solves for the medium shared by a set of
//! events (three parameters: the still-air sound speed and the wind's east and north
//! components) together with each event's own position and origin time, by Gauss–Newton
//! on the picks' weighted residuals, with the prior (from the met report, or the standard
//! atmosphere with a wide uncertainty) as three more residuals. The events' own parameters
//! are eliminated block by block (Schur complement), so the cost is linear in the number
//! of events. One event alone with a prior is [`locate_in_uncertain_medium`]: a location
//! that does not take a wrong medium for a wrong position.
//!
//! Pure and deterministic: the same events in the same order give the same bits.

use nalgebra::{Matrix3, Vector3};
use truce_agreement::{Earth, LonLat};

use crate::locate::{Location, Pick, locate};
use crate::physics::Medium;

/// A medium with its uncertainty: the still-air sound speed and the wind (east, north),
/// and their 3×3 covariance in (m/s)², in that order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Propagation {
    pub medium: Medium,
    pub covariance: [[f64; 3]; 3],
    /// How many events the estimate rests on (0: the prior alone).
    pub events: usize,
    /// How many picks.
    pub picks: usize,
}

impl Propagation {
    /// A prior: `medium` with independent σ on the sound speed and on each wind component.
    pub fn prior(medium: Medium, sigma_speed: f64, sigma_wind: f64) -> Self {
        let (s, w) = (sigma_speed * sigma_speed, sigma_wind * sigma_wind);
        Self {
            medium,
            covariance: [[s, 0.0, 0.0], [0.0, w, 0.0], [0.0, 0.0, w]],
            events: 0,
            picks: 0,
        }
    }

    /// σ of the effective speed along the worst direction, m/s: how far a prediction of
    /// a travel time of `t` seconds may be off is about `t` times this over the speed.
    pub fn sigma_effective(&self) -> f64 {
        let c = &self.covariance;
        // Largest variance of speed + wind·u over unit u: the speed's variance plus the
        // larger eigenvalue of the wind block, with the cross terms bounded.
        let (a, b, d) = (c[1][1], c[1][2], c[2][2]);
        let wind = (a + d) / 2.0 + (((a - d) / 2.0).powi(2) + b * b).sqrt();
        let cross = (c[0][1].powi(2) + c[0][2].powi(2)).sqrt();
        (c[0][0] + wind + 2.0 * cross).max(0.0).sqrt()
    }

    /// σ of each wind component's estimate (the larger), m/s.
    pub fn sigma_wind(&self) -> f64 {
        self.covariance[1][1]
            .max(self.covariance[2][2])
            .max(0.0)
            .sqrt()
    }

    fn params(&self) -> Vector3<f64> {
        Vector3::new(self.medium.speed, self.medium.wind[0], self.medium.wind[1])
    }
}

fn medium_of(g: &Vector3<f64>) -> Medium {
    Medium {
        speed: g[0],
        wind: [g[1], g[2]],
    }
}

/// One event for the joint estimate: its picks and where it is believed to be.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    pub picks: Vec<Pick>,
    pub position: LonLat,
    pub origin_time: f64,
}

/// See [`pick_rows`].
type PickRows = ([f64; 3], [f64; 3], f64, Option<([f64; 3], f64)>);

/// Weighted rows of one pick: derivatives of the weighted time residual by the event's
/// (east, north, origin time) and by the medium's (speed, wind east, wind north), and the
/// weighted residual itself; a bearing row (event parameters only) when the pick has one.
fn pick_rows(earth: &Earth, pick: &Pick, source: LonLat, t0: f64, medium: &Medium) -> PickRows {
    let (d, az, az_sensor) = earth.inverse_both(source, pick.sensor);
    let (s, co) = az.to_radians().sin_cos();
    let c = medium.speed + medium.wind[0] * s + medium.wind[1] * co;
    let w = 1.0 / pick.sigma_s;
    let residual = (pick.time - t0 - d / c) * w;
    let local = [s / c * w, co / c * w, -w];
    let k = d / (c * c) * w;
    let global = [k, k * s, k * co];
    let bearing = pick.backazimuth.map(|(observed, sigma_deg)| {
        let predicted = (az_sensor + 180.0).rem_euclid(360.0);
        let r = ((observed - predicted + 540.0).rem_euclid(360.0) - 180.0).to_radians();
        let wb = 1.0 / sigma_deg.to_radians();
        let (sb, cb) = predicted.to_radians().sin_cos();
        let d = d.max(1.0);
        ([-cb / d * wb, sb / d * wb, 0.0], r * wb)
    });
    (local, global, residual, bearing)
}

/// One event's normal-equation blocks at its current parameters.
struct Blocks {
    /// JᵀJ of the event's own parameters, the cross block, and the medium block.
    a: Matrix3<f64>,
    b: Matrix3<f64>,
    c: Matrix3<f64>,
    /// Jᵀr for the event's own parameters and for the medium's.
    ra: Vector3<f64>,
    rb: Vector3<f64>,
    chi2: f64,
}

fn blocks(earth: &Earth, e: &Calibration, medium: &Medium) -> Blocks {
    let mut out = Blocks {
        a: Matrix3::zeros(),
        b: Matrix3::zeros(),
        c: Matrix3::zeros(),
        ra: Vector3::zeros(),
        rb: Vector3::zeros(),
        chi2: 0.0,
    };
    for pick in &e.picks {
        let (local, global, r, bearing) = pick_rows(earth, pick, e.position, e.origin_time, medium);
        let (l, g) = (Vector3::from(local), Vector3::from(global));
        out.a += l * l.transpose();
        out.b += l * g.transpose();
        out.c += g * g.transpose();
        out.ra += l * r;
        out.rb += g * r;
        out.chi2 += r * r;
        if let Some((row, r)) = bearing {
            let l = Vector3::from(row);
            out.a += l * l.transpose();
            out.ra += l * r;
            out.chi2 += r * r;
        }
    }
    out
}

/// The medium shared by `events`, starting from (and regularised by) `prior`, and each
/// event's position and origin time under it. Events the solution cannot use (a singular
/// geometry) keep their parameters and add nothing. Gauss–Newton, at most `iterations`
/// steps, stopping once the medium moves by less than a millimetre per second.
pub fn estimate(
    earth: &Earth,
    events: &mut [Calibration],
    prior: &Propagation,
    iterations: usize,
) -> Propagation {
    let prior_g = prior.params();
    let prior_precision = Matrix3::from_fn(|i, j| prior.covariance[i][j])
        .try_inverse()
        .unwrap_or_else(Matrix3::zeros);
    let mut g = prior_g;
    let mut information = prior_precision;
    for _ in 0..iterations.max(1) {
        let medium = medium_of(&g);
        let mut s = prior_precision;
        let mut rhs = -(prior_precision * (g - prior_g));
        let mut solved = Vec::with_capacity(events.len());
        for e in events.iter() {
            let k = blocks(earth, e, &medium);
            let Some(a_inv) = k.a.try_inverse() else {
                solved.push(None);
                continue;
            };
            let bt_ainv = k.b.transpose() * a_inv;
            s += k.c - bt_ainv * k.b;
            rhs -= k.rb - bt_ainv * k.ra;
            solved.push(Some((a_inv, k.b, k.ra)));
        }
        information = s;
        let Some(step) = s.try_inverse().map(|inv| inv * rhs) else {
            break;
        };
        g += step;
        for (e, blocks) in events.iter_mut().zip(solved) {
            let Some((a_inv, b, ra)) = blocks else {
                continue;
            };
            let local = -(a_inv * (ra + b * step));
            e.position = earth.from_local_xy(e.position, [local[0], local[1]]);
            e.origin_time += local[2];
        }
        if step.norm() < 1e-3 {
            break;
        }
    }
    let covariance = information
        .try_inverse()
        .unwrap_or_else(|| Matrix3::from_fn(|i, j| prior.covariance[i][j]));
    Propagation {
        medium: medium_of(&g),
        covariance: std::array::from_fn(|i| std::array::from_fn(|j| covariance[(i, j)])),
        events: prior.events + events.len(),
        picks: prior.picks + events.iter().map(|e| e.picks.len()).sum::<usize>(),
    }
}

/// Locates one source when the medium is uncertain: first in the prior's medium, then
/// jointly with the medium regularised by the prior. The location is returned with the
/// medium that explains its picks best; its covariance is that of the joint solution's
/// position (wider than a known medium would give).
pub fn locate_in_uncertain_medium(
    earth: &Earth,
    picks: &[Pick],
    prior: &Propagation,
    start: LonLat,
) -> Option<(Location, Medium)> {
    let first = locate(earth, picks, &prior.medium, start)?;
    let mut event = [Calibration {
        picks: picks.to_vec(),
        position: first.position,
        origin_time: first.origin_time,
    }];
    let solved = estimate(
        earth,
        &mut event,
        &Propagation {
            events: 0,
            picks: 0,
            ..*prior
        },
        8,
    );
    let [e] = event;
    let medium = solved.medium;
    // The final position and its covariance from the locator in the solved medium.
    let mut located = locate(earth, picks, &medium, e.position)?;
    located.used = first.used;
    Some((located, medium))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::sound_speed;

    struct Gen(u64);
    impl Gen {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.unit(), self.unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// Twelve sensors on a 40 × 30 km patch, sources inside, 5 ms timing noise.
    fn scene(true_medium: &Medium, n: usize, seed: u64) -> (Vec<Calibration>, Vec<LonLat>) {
        let earth = Earth::default();
        let centre = [37.5, 48.4];
        let sensors: Vec<LonLat> = (0..12)
            .map(|i| {
                let x = -20_000.0 + 40_000.0 * f64::from(i % 4) / 3.0;
                let y = -15_000.0 + 30_000.0 * f64::from(i / 4) / 2.0;
                earth.from_local_xy(centre, [x, y])
            })
            .collect();
        let mut r = Gen(seed);
        let mut events = Vec::new();
        let mut truths = Vec::new();
        for k in 0..n {
            let source = earth.from_local_xy(
                centre,
                [
                    -15_000.0 + 30_000.0 * r.unit(),
                    -10_000.0 + 20_000.0 * r.unit(),
                ],
            );
            let t0 = 100.0 * k as f64;
            let picks = sensors
                .iter()
                .map(|s| {
                    let (d, az, _) = earth.inverse_both(source, *s);
                    Pick {
                        sensor: *s,
                        time: t0 + d / true_medium.effective(az) + 0.005 * r.normal(),
                        sigma_s: 0.005,
                        backazimuth: None,
                    }
                })
                .collect();
            events.push(Calibration {
                picks,
                // Believed where a wrong medium would put it: start 300 m off.
                position: earth.from_local_xy(source, [300.0, -200.0]),
                origin_time: t0 + 0.3,
            });
            truths.push(source);
        }
        (events, truths)
    }

    #[test]
    fn a_wrong_wind_report_is_corrected_by_twenty_events() {
        let earth = Earth::default();
        let truth = Medium::from_weather(5.0, 6.0, 250.0);
        // The report: 4 m/s off the true wind, 3 °C off in temperature.
        let reported = Medium {
            speed: sound_speed(8.0),
            wind: [truth.wind[0] + 2.4, truth.wind[1] - 3.2],
        };
        let prior = Propagation::prior(reported, 3.0, 3.0);
        let (mut events, truths) = scene(&truth, 20, 7);
        let solved = estimate(&earth, &mut events, &prior, 10);
        let wind_error =
            (solved.medium.wind[0] - truth.wind[0]).hypot(solved.medium.wind[1] - truth.wind[1]);
        assert!(wind_error < 0.3, "wind off by {wind_error} m/s");
        assert!((solved.medium.speed - truth.speed).abs() < 0.5);
        assert!(solved.sigma_wind() < 0.3, "σ {}", solved.sigma_wind());
        assert_eq!(solved.events, 20);
        for (e, t) in events.iter().zip(&truths) {
            assert!(earth.distance(e.position, *t) < 30.0);
        }
    }

    #[test]
    fn no_report_at_all_is_learned_too() {
        let earth = Earth::default();
        let truth = Medium::from_weather(-5.0, 9.0, 20.0);
        let prior = Propagation::prior(Medium::standard(), 8.0, 10.0);
        let (mut events, _) = scene(&truth, 25, 11);
        let solved = estimate(&earth, &mut events, &prior, 12);
        let wind_error =
            (solved.medium.wind[0] - truth.wind[0]).hypot(solved.medium.wind[1] - truth.wind[1]);
        assert!(wind_error < 0.3, "wind off by {wind_error} m/s");
    }

    #[test]
    fn one_event_in_a_wrong_medium_is_located_near_its_source() {
        let earth = Earth::default();
        let truth = Medium::from_weather(5.0, 6.0, 250.0);
        let reported = Medium {
            speed: truth.speed,
            wind: [truth.wind[0] + 2.4, truth.wind[1] - 3.2],
        };
        let (events, truths) = scene(&truth, 5, 3);
        for (e, t) in events.iter().zip(&truths) {
            let wrong = locate(&earth, &e.picks, &reported, e.position).unwrap();
            let prior = Propagation::prior(reported, 3.0, 4.0);
            let (free, _) =
                locate_in_uncertain_medium(&earth, &e.picks, &prior, e.position).unwrap();
            let (d_wrong, d_free) = (
                earth.distance(wrong.position, *t),
                earth.distance(free.position, *t),
            );
            assert!(
                d_free < 60.0 && d_free < d_wrong,
                "{d_free} m against {d_wrong} m"
            );
        }
    }

    #[test]
    fn the_prior_alone_is_kept_without_events() {
        let earth = Earth::default();
        let prior = Propagation::prior(Medium::standard(), 3.0, 3.0);
        let solved = estimate(&earth, &mut [], &prior, 3);
        assert_eq!(solved.medium, prior.medium);
        assert!((solved.sigma_wind() - 3.0).abs() < 1e-9);
        assert!(solved.sigma_effective() >= 3.0);
    }
}
