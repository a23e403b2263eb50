//! The weather stations' reports: the true weather at each station, or what `[met_report]`
//! makes a misreporting station say.

use truce_model::Position;

use super::{Data, Draft, Engine, MetData, Owner};
use crate::physics::Weather;
use crate::scenario::MetSensorSpec;
use crate::scenario::weather_rounding;

impl Engine<'_> {
    /// Weather reports: every interval from the start (until `[met_report] stop_after_s`
    /// for a misreporting station).
    pub(super) fn met(&mut self) {
        let net = &self.scenario.file.network;
        let duration = self.scenario.file.scenario.duration_s;
        let report = self.scenario.file.met_report.as_ref();
        for (m, met) in net.met_sensors.iter().enumerate() {
            let faulty = report.filter(|r| r.applies_to(&met.id));
            let end = faulty
                .and_then(|r| r.stop_after_s)
                .map_or(duration, |stop| stop.min(duration));
            let mut k = 0u32;
            loop {
                let t = f64::from(k) * met.interval_s;
                if t > end {
                    break;
                }
                k += 1;
                let w = self.met_report(met, t);
                self.drafts.push(Draft {
                    sensor: self.met_base + m,
                    observed_ns: self.at(t),
                    kind: "met.surface",
                    data: Data::Met(MetData {
                        temperature_c: w.temperature_c,
                        wind_speed_mps: w.wind_speed_mps,
                        wind_from_deg: w.wind_from_deg,
                    }),
                    owner: Owner::Unlinked,
                });
            }
        }
    }

    /// What station `met` reports at `t_s`: the constant `[weather]` as given when the
    /// weather is constant and the station honest; otherwise the true weather at the
    /// station (`stale_s` earlier for a misreporting one), misreported as `[met_report]`
    /// says, rounded as a station sends it.
    fn met_report(&self, met: &MetSensorSpec, t_s: f64) -> Weather {
        let faulty = self
            .scenario
            .file
            .met_report
            .as_ref()
            .filter(|r| r.applies_to(&met.id));
        let at = Position::new(met.lat, met.lon);
        match faulty {
            None if self.model.is_uniform() => self.weather,
            None => weather_rounding(self.model.at(&self.geodesic, t_s, &at).weather()),
            Some(r) => r.report(&self.model.at(&self.geodesic, t_s - r.stale_s, &at)),
        }
    }
}
