//! Sensor health, judged from the log and acted on by fusion.
//!
//! For each sensor, the residuals of its arrivals in final events (the time it reported
//! less the time the event predicts at the sensor, before any correction of ours), kept
//! over a window of its latest [`WINDOW`] arrivals, and what they say:
//! - a constant clock offset shows as a median residual far from zero with a small spread
//!   about it: later arrivals are corrected by it (a station correction);
//! - a drifting clock as residuals on a line in time: corrected by the line;
//! - a misplaced sensor, or a clock too erratic to correct, as a spread about the line far
//!   beyond its timing σ: the sensor is quarantined.
//!
//! Apart from the residuals, a sensor that reports arrivals at several times the rate of
//! the sensors around it (a burst of false picks: a fault, a generator, a gun next to it)
//! is quarantined while it does.
//!
//! A quarantined sensor's arrivals stay in the log and are not used to form or grow
//! events; its residuals are still gathered (the arrival nearest to what each well placed
//! event predicts), so it returns once it is consistent again.
//!
//! Every decision is a pure function of the log prefix: residuals come from final events,
//! rates from the log, both in log order.

use std::collections::{BTreeMap, VecDeque};

/// How many of a sensor's latest residuals are kept.
pub const WINDOW: usize = 60;
/// The fewest residuals a judgement rests on.
pub const MIN_RESIDUALS: usize = 6;
/// A median residual further from zero than this many σ of the median (and than
/// [`MIN_OFFSET_S`]) is a clock offset.
const OFFSET_SIGMAS: f64 = 5.0;
const MIN_OFFSET_S: f64 = 0.01;
/// A drift is significant when the line's change over the window exceeds this many σ of
/// that change and [`MIN_DRIFT_S`].
const DRIFT_SIGMAS: f64 = 5.0;
const MIN_DRIFT_S: f64 = 0.02;
/// A spread is judged on at least this many residuals.
const SPREAD_MIN_RESIDUALS: usize = 10;
/// A line rests on at least this many residuals.
const DRIFT_MIN_RESIDUALS: usize = 20;
/// And when the spread about the line is below this fraction of the spread about the
/// median.
const DRIFT_TIGHTER: f64 = 0.75;
/// A spread about the fitted line (1.4826 × the median absolute deviation of the
/// residuals in units of their σ) above this is inconsistent.
pub const SPREAD_RATIO: f64 = 3.0;
/// A sensor reporting more than this many times the median count of the sensors around it
/// (over the same window), plus [`BURST_MARGIN`], is bursting.
pub const BURST_RATIO: f64 = 3.0;
pub const BURST_MARGIN: f64 = 6.0;

/// One residual: seconds after fusion's epoch, the residual before correction, and the
/// arrival's timing σ, seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Residual {
    time_s: f64,
    residual_s: f64,
    sigma_s: f64,
}

/// A sensor's arrival rate against the sensors around it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Rate {
    /// The sensor's arrivals over the window.
    pub count: usize,
    /// The median count of the sensors around it, scaled to the same window.
    pub neighbours_median: f64,
    pub neighbours: usize,
}

impl Rate {
    pub fn bursting(&self) -> bool {
        self.neighbours >= 2
            && self.count as f64 > BURST_RATIO * self.neighbours_median + BURST_MARGIN
    }
}

/// The correction subtracted from a sensor's reported times: `offset_s` + `drift` ×
/// (t − `at_s`), t in seconds after fusion's epoch.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Correction {
    pub offset_s: f64,
    /// Seconds per second (20 ppm is 2e-5).
    pub drift: f64,
    pub at_s: f64,
}

impl Correction {
    pub fn at(&self, time_s: f64) -> f64 {
        self.offset_s + self.drift * (time_s - self.at_s)
    }
}

/// A change of a sensor's state, with the sensor's arrival count when it happened.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Change {
    pub sensor: String,
    pub state: &'static str,
    /// How many arrivals the sensor had logged by then.
    pub after_arrivals: usize,
}

#[derive(Clone, Debug, Default)]
struct Record {
    residuals: VecDeque<Residual>,
    arrivals: usize,
    rate: Option<Rate>,
    judgement: Option<SensorHealth>,
}

/// Residuals, rates and decisions per sensor (by fusion's sensor number).
#[derive(Clone, Debug, Default)]
pub struct Health {
    records: BTreeMap<u32, Record>,
    changes: Vec<Change>,
}

/// What a sensor's residuals and rate say, and what fusion does about it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SensorHealth {
    pub sensor: String,
    /// How many residuals (arrivals in final events) the figures rest on.
    pub residuals: usize,
    pub median_residual_s: f64,
    /// 1.4826 × the median absolute deviation about the fitted line (a constant, or a
    /// line in time for a drifting clock): the spread, robust to a few wrong associations.
    pub spread_s: f64,
    /// The same in units of each residual's σ: above [`SPREAD_RATIO`], inconsistent.
    pub spread_ratio: f64,
    /// The median σ of its residuals: the timing σ the sensor declares and the σ of the
    /// time predicted at it, together.
    pub sigma_s: f64,
    /// `healthy`; `clock_offset` (a constant offset, corrected); `clock_drift` (an offset
    /// changing in time, corrected); `inconsistent` (a spread far beyond its σ: a wrong
    /// position, an erratic clock; quarantined); `bursting` (arrivals at several times the
    /// rate around it; quarantined); or `unknown` (fewer than [`MIN_RESIDUALS`]).
    pub state: &'static str,
    /// Its arrivals are not used to form or grow events.
    pub quarantined: bool,
    /// The estimated clock offset, seconds (the sensor's clock ahead when positive),
    /// with its σ, at the latest residual's time.
    pub clock_offset_s: Option<f64>,
    pub clock_offset_sigma_s: Option<f64>,
    /// The estimated drift, parts per million, when significant.
    pub clock_drift_ppm: Option<f64>,
    /// What is subtracted from its reported times.
    pub correction: Option<Correction>,
    /// Its arrival rate against the sensors around it, when last measured.
    pub rate: Option<Rate>,
    /// How many arrivals it had logged when it entered its current state.
    pub since_arrivals: usize,
    /// How many arrivals it has logged.
    pub arrivals: usize,
    /// Why, in words.
    pub reason: String,
}

impl Health {
    /// Counts an arrival of `sensor` (before it is used).
    pub fn arrival(&mut self, sensor: u32) {
        self.records.entry(sensor).or_default().arrivals += 1;
    }

    /// Records the residual of an arrival of `sensor` in a final event, uncorrected.
    pub fn record(&mut self, sensor: u32, time_s: f64, residual_s: f64, sigma_s: f64) {
        let list = &mut self.records.entry(sensor).or_default().residuals;
        list.push_back(Residual {
            time_s,
            residual_s,
            sigma_s,
        });
        while list.len() > WINDOW {
            list.pop_front();
        }
    }

    /// Records `sensor`'s latest rate against its neighbours' (`name` is its id); judges
    /// it again when that changes whether it is bursting.
    pub fn rate(&mut self, sensor: u32, name: &str, rate: Rate) {
        let record = self.records.entry(sensor).or_default();
        let was = record.rate.is_some_and(|r| r.bursting());
        record.rate = Some(rate);
        match &mut record.judgement {
            Some(h) if was == rate.bursting() => h.rate = Some(rate),
            _ if was == rate.bursting() => {}
            _ => self.judge(sensor, name),
        }
    }

    /// Judges `sensor` again from what has been recorded; `name` is its id.
    pub fn judge(&mut self, sensor: u32, name: &str) {
        let record = self.records.entry(sensor).or_default();
        let mut h = judge(name, record);
        let previous = record.judgement.as_ref();
        if previous.is_none_or(|p| p.state != h.state) {
            h.since_arrivals = record.arrivals;
            if previous.is_some() || h.state != "unknown" {
                self.changes.push(Change {
                    sensor: name.to_string(),
                    state: h.state,
                    after_arrivals: record.arrivals,
                });
            }
        } else if let Some(p) = previous {
            h.since_arrivals = p.since_arrivals;
        }
        record.judgement = Some(h);
    }

    /// Whether `sensor`'s arrivals are to be left out.
    pub fn quarantined(&self, sensor: u32) -> bool {
        self.records
            .get(&sensor)
            .and_then(|r| r.judgement.as_ref())
            .is_some_and(|h| h.quarantined)
    }

    /// The correction for `sensor`'s arrival reported at `time_s`, seconds.
    pub fn correction_s(&self, sensor: u32, time_s: f64) -> f64 {
        self.records
            .get(&sensor)
            .and_then(|r| r.judgement.as_ref())
            .and_then(|h| h.correction)
            .map_or(0.0, |c| c.at(time_s))
    }

    /// Every sensor judged, by id.
    pub fn all(&self) -> Vec<SensorHealth> {
        let mut all: Vec<SensorHealth> = self
            .records
            .values()
            .filter_map(|r| r.judgement.clone())
            .collect();
        all.sort_by(|a, b| a.sensor.cmp(&b.sensor));
        all
    }

    /// Every change of state so far, in order.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }
}

fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

/// Theil–Sen: the median of the slopes between pairs of points (pairs closer in time than
/// a second are skipped), and the median intercept at `at`.
fn theil_sen(points: &[(f64, f64)], at: f64) -> (f64, f64) {
    let mut slopes = Vec::with_capacity(points.len() * points.len() / 2);
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            let dt = b.0 - a.0;
            if dt.abs() >= 1.0 {
                slopes.push((b.1 - a.1) / dt);
            }
        }
    }
    let slope = if slopes.is_empty() {
        0.0
    } else {
        median(&mut slopes)
    };
    let mut intercepts: Vec<f64> = points.iter().map(|p| p.1 - slope * (p.0 - at)).collect();
    (slope, median(&mut intercepts))
}

fn judge(sensor: &str, record: &Record) -> SensorHealth {
    let list = &record.residuals;
    let mut r: Vec<f64> = list.iter().map(|x| x.residual_s).collect();
    let mut s: Vec<f64> = list.iter().map(|x| x.sigma_s).collect();
    let n = r.len();
    let m = median(&mut r);
    let sigma = median(&mut s);
    let mut deviations: Vec<f64> = list.iter().map(|x| (x.residual_s - m).abs()).collect();
    let flat_spread = 1.4826 * median(&mut deviations);
    // The line through the residuals in time, about the latest one.
    let points: Vec<(f64, f64)> = list.iter().map(|x| (x.time_s, x.residual_s)).collect();
    let last = points.last().map_or(0.0, |p| p.0);
    let first = points.first().map_or(0.0, |p| p.0);
    let (slope, at_last) = theil_sen(&points, last);
    let mut about_line: Vec<f64> = points
        .iter()
        .map(|p| (p.1 - at_last - slope * (p.0 - last)).abs())
        .collect();
    let line_spread = 1.4826 * median(&mut about_line);
    // The change of the line over the window, and its σ: about that of a least-squares
    // slope, σ √12 / √n over the span.
    let span = (last - first).max(1.0);
    let change = slope * span;
    let change_sigma = 3.4641 * line_spread.max(sigma) / (n.max(1) as f64).sqrt();
    // A line must explain the residuals clearly better than a constant: a few events
    // located with a slightly wrong medium late in the window tilt a line without making
    // the residuals about it any tighter.
    let drifting = n >= DRIFT_MIN_RESIDUALS
        && change.abs() > DRIFT_SIGMAS * change_sigma
        && change.abs() > MIN_DRIFT_S
        && line_spread < DRIFT_TIGHTER * flat_spread;
    let spread = if drifting { line_spread } else { flat_spread };
    // The same in units of each residual's σ (an arrival's own and its prediction's):
    // residuals of events well located by the others weigh more than those of events
    // resting on few.
    let mut normalised: Vec<f64> = list
        .iter()
        .map(|x| {
            let fit = if drifting {
                at_last + slope * (x.time_s - last)
            } else {
                m
            };
            (x.residual_s - fit).abs() / x.sigma_s.max(1e-4)
        })
        .collect();
    let spread_ratio = 1.4826 * median(&mut normalised);
    // The median's σ: about 1.25 σ/√n for normal residuals; the observed spread counts
    // where it is larger than declared.
    let sigma_median = 1.2533 * spread.max(sigma) / (n.max(1) as f64).sqrt();
    let rate = record.rate;
    let mut h = SensorHealth {
        sensor: sensor.to_string(),
        residuals: n,
        median_residual_s: m,
        spread_s: spread,
        spread_ratio,
        sigma_s: sigma,
        state: "healthy",
        quarantined: false,
        clock_offset_s: None,
        clock_offset_sigma_s: None,
        clock_drift_ppm: None,
        correction: None,
        rate,
        since_arrivals: 0,
        arrivals: record.arrivals,
        reason: String::new(),
    };
    if let Some(rate) = rate.filter(Rate::bursting) {
        h.state = "bursting";
        h.quarantined = true;
        h.reason = format!(
            "{} arrivals in the window, against a median of {:.0} for the {} sensors around it",
            rate.count, rate.neighbours_median, rate.neighbours
        );
    } else if n < MIN_RESIDUALS {
        h.state = "unknown";
        h.reason = format!("{n} residuals, fewer than {MIN_RESIDUALS}");
    } else if spread_ratio > SPREAD_RATIO && n >= SPREAD_MIN_RESIDUALS {
        h.state = "inconsistent";
        h.quarantined = true;
        h.reason = format!(
            "residuals spread {:.1} ms about {}, {:.1} times their σ (median {:.1} ms)",
            spread * 1e3,
            if drifting {
                "a line in time"
            } else {
                "their median"
            },
            spread_ratio,
            sigma * 1e3
        );
    } else if drifting {
        h.state = "clock_drift";
        h.clock_offset_s = Some(at_last);
        h.clock_offset_sigma_s = Some(sigma_median);
        h.clock_drift_ppm = Some(slope * 1e6);
        h.correction = Some(Correction {
            offset_s: at_last,
            drift: slope,
            at_s: last,
        });
        h.reason = format!(
            "arrivals drifting {:.1} ppm ({:.1} ms over {n} residuals in {:.0} s), {:.1} ms {} at the latest",
            slope * 1e6,
            change.abs() * 1e3,
            span,
            at_last.abs() * 1e3,
            if at_last > 0.0 { "late" } else { "early" },
        );
    } else if m.abs() > OFFSET_SIGMAS * sigma_median && m.abs() > MIN_OFFSET_S {
        h.state = "clock_offset";
        h.clock_offset_s = Some(m);
        h.clock_offset_sigma_s = Some(sigma_median);
        h.correction = Some(Correction {
            offset_s: m,
            drift: 0.0,
            at_s: last,
        });
        h.reason = format!(
            "arrivals {:.1} ms {} on median over {n} residuals (σ of the median {:.1} ms)",
            m.abs() * 1e3,
            if m > 0.0 { "late" } else { "early" },
            sigma_median * 1e3
        );
    } else {
        h.reason = format!("median residual {:.1} ms over {n}", m * 1e3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic residuals a minute apart: `offset` plus a spread of about `sigma`,
    /// plus `drift` seconds per second.
    fn feed(health: &mut Health, sensor: u32, n: usize, offset: f64, sigma: f64, drift: f64) {
        for k in 0..n {
            // A fixed pattern with mean zero and standard deviation about `sigma`.
            let noise = sigma * [0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 0.3, -0.3, 0.8][k % 10];
            let t = 60.0 * k as f64;
            health.arrival(sensor);
            health.record(sensor, t, offset + noise + drift * t, sigma);
        }
        health.judge(sensor, &format!("s{sensor}"));
    }

    fn state(health: &Health, sensor: u32) -> SensorHealth {
        health
            .all()
            .into_iter()
            .find(|h| h.sensor == format!("s{sensor}"))
            .unwrap()
    }

    #[test]
    fn a_constant_clock_offset_is_estimated_and_corrected_and_a_healthy_sensor_is_left_alone() {
        let mut health = Health::default();
        feed(&mut health, 1, 30, 0.06, 0.005, 0.0);
        feed(&mut health, 2, 30, 0.0, 0.005, 0.0);
        feed(&mut health, 3, 5, 0.2, 0.005, 0.0);
        let late = state(&health, 1);
        assert_eq!(late.state, "clock_offset", "{late:?}");
        assert!(
            (late.clock_offset_s.unwrap() - 0.06).abs() < 0.003,
            "{late:?}"
        );
        assert!((health.correction_s(1, 5000.0) - 0.06).abs() < 0.003);
        assert!(!health.quarantined(1));
        assert_eq!(state(&health, 2).state, "healthy");
        assert_eq!(health.correction_s(2, 5000.0), 0.0);
        assert_eq!(state(&health, 3).state, "unknown");
        // Only the flagged sensor's change is recorded; unknown is where every sensor starts.
        let changes: Vec<(&str, &str)> = health
            .changes()
            .iter()
            .map(|c| (c.sensor.as_str(), c.state))
            .collect();
        assert_eq!(changes, vec![("s1", "clock_offset"), ("s2", "healthy")]);
    }

    #[test]
    fn a_drifting_clock_is_corrected_along_its_line() {
        let mut health = Health::default();
        // 20 ppm over residuals a minute apart: 1.2 ms more each time.
        feed(&mut health, 7, 60, 0.0, 0.005, 20e-6);
        let h = state(&health, 7);
        assert_eq!(h.state, "clock_drift", "{h:?}");
        assert!((h.clock_drift_ppm.unwrap() - 20.0).abs() < 2.0, "{h:?}");
        // The line extrapolated to a later arrival.
        let t = 3600.0;
        assert!((health.correction_s(7, t) - 20e-6 * t).abs() < 0.005);
        assert!(!health.quarantined(7));
    }

    #[test]
    fn a_scattered_sensor_is_quarantined_until_it_is_consistent_again() {
        let mut health = Health::default();
        // A misplaced sensor: residuals from ±0.5 s depending on the event's direction.
        for k in 0..30 {
            let angle = k as f64 * 2.4;
            health.arrival(4);
            health.record(4, 60.0 * k as f64, 0.5 * angle.cos(), 0.005);
        }
        health.judge(4, "s4");
        assert_eq!(state(&health, 4).state, "inconsistent");
        assert!(health.quarantined(4));
        assert_eq!(health.correction_s(4, 0.0), 0.0);
        // Registered again where it is: its residuals are good again, and once they fill
        // the window it is back.
        feed(&mut health, 4, WINDOW, 0.0, 0.005, 0.0);
        assert_eq!(state(&health, 4).state, "healthy");
        assert!(!health.quarantined(4));
        let h = state(&health, 4);
        assert_eq!(h.since_arrivals, 30 + WINDOW);
    }

    #[test]
    fn a_sensor_far_above_the_rate_around_it_is_bursting_and_its_rate_alone_decides() {
        let mut health = Health::default();
        feed(&mut health, 5, 30, 0.0, 0.005, 0.0);
        let normal = Rate {
            count: 12,
            neighbours_median: 8.0,
            neighbours: 6,
        };
        let burst = Rate {
            count: 40,
            neighbours_median: 8.0,
            neighbours: 6,
        };
        let alone = Rate {
            count: 40,
            neighbours_median: 8.0,
            neighbours: 1,
        };
        for (rate, expected) in [(normal, "healthy"), (burst, "bursting"), (alone, "healthy")] {
            health.rate(5, "s5", rate);
            let h = state(&health, 5);
            assert_eq!(h.state, expected, "{rate:?}");
            assert_eq!(h.quarantined, expected == "bursting");
        }
    }

    #[test]
    fn only_the_latest_residuals_count() {
        let mut health = Health::default();
        feed(&mut health, 1, 60, 0.06, 0.005, 0.0);
        feed(&mut health, 1, WINDOW, 0.0, 0.005, 0.0);
        assert_eq!(state(&health, 1).state, "healthy");
    }
}
