//! Sensor health from the events: for each sensor, the residuals of its arrivals in the
//! final events (observed time less the time the event predicts at the sensor), kept over
//! a window of its latest [`WINDOW`] arrivals, and what they say: a constant clock offset
//! shows as a median residual far from zero with a small spread about it; a drifting clock
//! or a misplaced sensor as a spread far beyond its timing σ.
//!
//! Everything here is a pure function of the final events, so of the log prefix.

use std::collections::{BTreeMap, VecDeque};

/// How many of a sensor's latest residuals are kept.
pub const WINDOW: usize = 60;
/// The fewest residuals a judgement rests on.
pub const MIN_RESIDUALS: usize = 10;
/// A median residual further from zero than this many σ of the median (and than
/// [`MIN_OFFSET_S`]) is a clock offset.
const OFFSET_SIGMAS: f64 = 5.0;
const MIN_OFFSET_S: f64 = 0.01;
/// A spread (1.4826 × the median absolute deviation about the median) above this many
/// times the sensor's timing σ is inconsistent.
const SPREAD_RATIO: f64 = 3.0;

/// One residual: seconds, with the arrival's timing σ.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Residual {
    residual_s: f64,
    sigma_s: f64,
}

/// Residuals per sensor.
#[derive(Clone, Debug, Default)]
pub struct Health {
    residuals: BTreeMap<String, VecDeque<Residual>>,
}

/// What a sensor's residuals say.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SensorHealth {
    pub sensor: String,
    /// How many residuals (arrivals in final events) the figures rest on.
    pub residuals: usize,
    pub median_residual_s: f64,
    /// 1.4826 × the median absolute deviation about the median: the spread of the
    /// residuals, robust to a few wrong associations.
    pub spread_s: f64,
    /// The median timing σ the sensor declares.
    pub sigma_s: f64,
    /// `healthy`, `clock_offset` (a constant offset, `clock_offset_s`), `inconsistent`
    /// (a spread far beyond its σ: a drifting clock, a wrong position, false picks taken
    /// for true ones), or `unknown` (fewer than [`MIN_RESIDUALS`]).
    pub state: &'static str,
    /// The estimated constant clock offset, seconds (the sensor's clock ahead when
    /// positive), with its σ.
    pub clock_offset_s: Option<f64>,
    pub clock_offset_sigma_s: Option<f64>,
    /// Why, in words.
    pub reason: String,
}

impl Health {
    /// Records the residual of an arrival of `sensor` in a final event.
    pub fn record(&mut self, sensor: &str, residual_s: f64, sigma_s: f64) {
        let list = self.residuals.entry(sensor.to_string()).or_default();
        list.push_back(Residual {
            residual_s,
            sigma_s,
        });
        while list.len() > WINDOW {
            list.pop_front();
        }
    }

    /// Every sensor with residuals, by id.
    pub fn all(&self) -> Vec<SensorHealth> {
        self.residuals
            .iter()
            .map(|(sensor, list)| judge(sensor, list))
            .collect()
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

fn judge(sensor: &str, list: &VecDeque<Residual>) -> SensorHealth {
    let mut r: Vec<f64> = list.iter().map(|x| x.residual_s).collect();
    let mut s: Vec<f64> = list.iter().map(|x| x.sigma_s).collect();
    let n = r.len();
    let m = median(&mut r);
    let mut deviations: Vec<f64> = r.iter().map(|x| (x - m).abs()).collect();
    let spread = 1.4826 * median(&mut deviations);
    let sigma = median(&mut s);
    // The median's σ: about 1.25 σ/√n for normal residuals; the observed spread counts
    // where it is larger than declared.
    let sigma_median = 1.2533 * spread.max(sigma) / (n.max(1) as f64).sqrt();
    let (state, offset, reason) = if n < MIN_RESIDUALS {
        (
            "unknown",
            None,
            format!("{n} residuals, fewer than {MIN_RESIDUALS}"),
        )
    } else if spread > SPREAD_RATIO * sigma {
        (
            "inconsistent",
            None,
            format!(
                "residuals spread {:.1} ms about their median, {:.1} times the declared σ of {:.1} ms",
                spread * 1e3,
                spread / sigma,
                sigma * 1e3
            ),
        )
    } else if m.abs() > OFFSET_SIGMAS * sigma_median && m.abs() > MIN_OFFSET_S {
        (
            "clock_offset",
            Some(m),
            format!(
                "arrivals {:.1} ms {} on median over {n} residuals (σ of the median {:.1} ms)",
                m.abs() * 1e3,
                if m > 0.0 { "late" } else { "early" },
                sigma_median * 1e3
            ),
        )
    } else {
        (
            "healthy",
            None,
            format!("median residual {:.1} ms over {n}", m * 1e3),
        )
    };
    SensorHealth {
        sensor: sensor.to_string(),
        residuals: n,
        median_residual_s: m,
        spread_s: spread,
        sigma_s: sigma,
        state,
        clock_offset_s: offset,
        clock_offset_sigma_s: offset.map(|_| sigma_median),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic residuals: `offset` plus a spread of about `sigma`.
    fn feed(health: &mut Health, sensor: &str, n: usize, offset: f64, sigma: f64, drift: f64) {
        for k in 0..n {
            // A fixed pattern with mean zero and standard deviation about `sigma`.
            let noise = sigma * [0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 0.3, -0.3, 0.8][k % 10];
            health.record(sensor, offset + noise + drift * k as f64, sigma);
        }
    }

    #[test]
    fn a_constant_clock_offset_is_estimated_and_a_healthy_sensor_is_left_alone() {
        let mut health = Health::default();
        feed(&mut health, "late", 30, 0.06, 0.005, 0.0);
        feed(&mut health, "fine", 30, 0.0, 0.005, 0.0);
        feed(&mut health, "new", 5, 0.2, 0.005, 0.0);
        let all = health.all();
        let by = |id: &str| all.iter().find(|h| h.sensor == id).unwrap();
        assert_eq!(by("late").state, "clock_offset", "{:?}", by("late"));
        let offset = by("late").clock_offset_s.unwrap();
        assert!((offset - 0.06).abs() < 0.003, "{offset}");
        assert_eq!(by("fine").state, "healthy", "{:?}", by("fine"));
        assert_eq!(by("new").state, "unknown");
    }

    #[test]
    fn a_drifting_clock_is_inconsistent() {
        let mut health = Health::default();
        // 20 ppm over events a minute apart: 1.2 ms more each time.
        feed(&mut health, "drift", 60, 0.0, 0.005, 0.0012);
        let h = &health.all()[0];
        assert_eq!(h.state, "inconsistent", "{h:?}");
    }

    #[test]
    fn only_the_latest_residuals_count() {
        let mut health = Health::default();
        feed(&mut health, "fixed", 60, 0.06, 0.005, 0.0);
        feed(&mut health, "fixed", WINDOW, 0.0, 0.005, 0.0);
        assert_eq!(health.all()[0].state, "healthy");
    }
}
