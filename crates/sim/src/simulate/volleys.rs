//! Many rounds at once: barrages (rounds at random times from several positions) and
//! salvos (rounds at a steady cadence from one position).

use truce_model::Position;

use super::{Engine, seconds_to_ns};
use crate::physics;
use crate::rng::Rng;
use crate::scenario::ScriptEvent;

impl Engine<'_> {
    /// A barrage: rounds at uniform random times, round-robin over the positions.
    pub(super) fn barrage(&mut self, label: &str, entry: &ScriptEvent) {
        let ScriptEvent::Barrage {
            start_s,
            duration_s,
            rounds,
            positions,
            targets,
            target_spread_m,
            flight_time_s,
            weapon_class,
        } = entry
        else {
            return;
        };
        let mut rng = Rng::stream(self.seed, label);
        let mut times: Vec<f64> = (0..*rounds)
            .map(|_| start_s + duration_s * rng.unit())
            .collect();
        times.sort_by(f64::total_cmp);
        for (r, time_s) in times.into_iter().enumerate() {
            let k = r % positions.len();
            let [lat, lon] = positions[k];
            let from = Position::new(lat, lon);
            let t = self.at(time_s);
            let id = format!("{label}-r{:03}", r + 1);
            let l = self.launch(format!("{id}-launch"), t, from, *weapon_class);
            let (e, n) = (rng.normal(), rng.normal());
            if !targets.is_empty() {
                let [tlat, tlon] = targets[k % targets.len()];
                let to = physics::offset(
                    &self.geodesic,
                    &Position::new(tlat, tlon),
                    e * target_spread_m,
                    n * target_spread_m,
                );
                let flight = self.flight_time_s(*flight_time_s, &from, &to);
                self.impact(
                    format!("{id}-impact"),
                    t + seconds_to_ns(flight),
                    to,
                    *weapon_class,
                    Some(l),
                    None,
                );
            }
        }
    }

    /// A salvo: `rounds` launches from one position, evenly spaced over the duration with
    /// a small uniform jitter; round k (from 0) at start + (k + ½) · spacing + jitter.
    pub(super) fn salvo(&mut self, label: &str, entry: &ScriptEvent) {
        let ScriptEvent::Salvo {
            start_s,
            duration_s,
            rounds,
            lat,
            lon,
            jitter_s,
            target,
            target_spread_m,
            flight_time_s,
            weapon_class,
        } = entry
        else {
            return;
        };
        let mut rng = Rng::stream(self.seed, label);
        let spacing = duration_s / f64::from((*rounds).max(1));
        let jitter = jitter_s.unwrap_or(spacing / 10.0);
        let from = Position::new(*lat, *lon);
        let mut times: Vec<f64> = (0..*rounds)
            .map(|k| start_s + (f64::from(k) + 0.5) * spacing + jitter * rng.uniform(-1.0, 1.0))
            .collect();
        times.sort_by(f64::total_cmp);
        for (r, time_s) in times.into_iter().enumerate() {
            let t = self.at(time_s);
            let id = format!("{label}-r{:03}", r + 1);
            let l = self.launch(format!("{id}-launch"), t, from, *weapon_class);
            let (e, n) = (rng.normal(), rng.normal());
            if let Some([tlat, tlon]) = target {
                let to = physics::offset(
                    &self.geodesic,
                    &Position::new(*tlat, *tlon),
                    e * target_spread_m,
                    n * target_spread_m,
                );
                let flight = self.flight_time_s(*flight_time_s, &from, &to);
                self.impact(
                    format!("{id}-impact"),
                    t + seconds_to_ns(flight),
                    to,
                    *weapon_class,
                    Some(l),
                    None,
                );
            }
        }
    }
}
