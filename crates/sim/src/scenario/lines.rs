//! `[[sensor_lines]]`: arrays placed along the agreement's contact line, at a regular
//! spacing and a given distance on each side of it.
//!
//! Walking the line from its first position to its last, station k (from 1) of a line is
//! at `from_km + (k − ½) · spacing_km` along it. From there one array walks out to the
//! left and one to the right, perpendicular to the line's direction (that of the chord
//! between the positions 2.5 km before and after, so that small wiggles do not swing it),
//! until the line is `offset_km` away (its nearest point, which where the line winds is
//! not always the station). Where the line winds so much that the walk would cross it
//! again, walks slanted up to 75° from the perpendicular are tried in turn. The left
//! array's id is `{id_prefix}-l{k:03}`, the right one's `{id_prefix}-r{k:03}`; each belongs
//! to the operator that `operators` names for the party whose area holds it. A side where
//! no walk gets `offset_km` clear of the line within three times that distance while
//! staying in one party's area has no array, nor has one in the area of a party
//! `operators` does not name.

use std::collections::BTreeMap;

use serde::Deserialize;
use truce_agreement::{Agreement, LonLat};
use truce_model::Position;

use super::sensors::{ArrayKind, ArraySensor, one};

/// `[[sensor_lines]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorLineSpec {
    pub id_prefix: String,
    pub kind: ArrayKind,
    /// Party (of the agreement) → the operator of the arrays in its area.
    pub operators: BTreeMap<String, String>,
    pub spacing_km: f64,
    pub offset_km: f64,
    /// The stretch of the line, km from its first position; default the whole line.
    #[serde(default)]
    pub from_km: f64,
    #[serde(default)]
    pub until_km: Option<f64>,
    pub timing_sigma_s: f64,
    #[serde(default)]
    pub backazimuth_sigma_deg: Option<f64>,
    pub detection_range_km: f64,
    #[serde(default = "one")]
    pub detection_probability: f64,
}

/// Half the chord that gives the line's direction at a station, metres.
const DIRECTION_HALF_CHORD_M: f64 = 2_500.0;

/// The most stations one line may have (a spacing typo should not make a million arrays).
pub const MAX_STATIONS: usize = 5_000;

impl SensorLineSpec {
    /// Every problem of line `i`.
    pub(super) fn validate(
        &self,
        i: usize,
        agreement: &Agreement,
        p: &mut dyn FnMut(String, &str),
    ) {
        let field = format!("sensor_lines[{i}]");
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.spacing_km) {
            p(format!("{field}.spacing_km"), "must be greater than 0");
        }
        if !(self.offset_km.is_finite() && self.offset_km > 0.0 && self.offset_km <= 200.0) {
            p(
                format!("{field}.offset_km"),
                "must be greater than 0 and at most 200",
            );
        }
        if !(self.from_km.is_finite() && self.from_km >= 0.0)
            || self
                .until_km
                .is_some_and(|u| !(u.is_finite() && u > self.from_km))
        {
            p(
                format!("{field}.from_km"),
                "from_km must not be negative and until_km must be greater",
            );
        }
        if positive(self.spacing_km) {
            let length_km = self
                .until_km
                .unwrap_or(f64::MAX)
                .min(agreement.line.length_m(&agreement.earth) / 1000.0)
                - self.from_km;
            if length_km / self.spacing_km > MAX_STATIONS as f64 {
                p(
                    format!("{field}.spacing_km"),
                    &format!("would place more than {MAX_STATIONS} stations"),
                );
            }
        }
        if self.operators.is_empty() {
            p(format!("{field}.operators"), "must name at least one party");
        }
        for (party, operator) in &self.operators {
            if !super::validate::valid_operator(operator) {
                p(
                    format!("{field}.operators"),
                    &format!("{operator} is not a valid operator"),
                );
            }
            if !agreement.parties.iter().any(|x| &x.id == party) {
                p(
                    format!("{field}.operators"),
                    &format!("the agreement has no party {party}"),
                );
            }
        }
        if !positive(self.timing_sigma_s) {
            p(format!("{field}.timing_sigma_s"), "must be greater than 0");
        }
        if !positive(self.detection_range_km) {
            p(
                format!("{field}.detection_range_km"),
                "must be greater than 0",
            );
        }
    }

    /// The arrays of the line (none when the spacing is unusable).
    pub(super) fn arrays(&self, agreement: &Agreement) -> Vec<ArraySensor> {
        let earth = &agreement.earth;
        let line = agreement.line.coords();
        let mut along = vec![0.0];
        for w in line.windows(2) {
            along.push(along.last().copied().unwrap_or(0.0) + earth.distance(w[0], w[1]));
        }
        let total = along.last().copied().unwrap_or(0.0);
        let spacing = self.spacing_km * 1000.0;
        if !(spacing.is_finite() && spacing > 0.0) || line.len() < 2 {
            return Vec::new();
        }
        let until = self.until_km.map_or(total, |u| (u * 1000.0).min(total));
        let offset = self.offset_km * 1000.0;
        let mut out = Vec::new();
        for k in 1..=MAX_STATIONS {
            let s = self.from_km * 1000.0 + (k as f64 - 0.5) * spacing;
            if s > until {
                break;
            }
            let here = point_at(line, &along, s);
            let before = point_at(line, &along, s - DIRECTION_HALF_CHORD_M);
            let after = point_at(line, &along, s + DIRECTION_HALF_CHORD_M);
            let (_, azimuth) = earth.inverse(before, after);
            for (side, turn) in [('l', -90.0), ('r', 90.0)] {
                if let Some((position, party)) = place_out(agreement, here, azimuth + turn, offset)
                    && let Some(operator) = self.operators.get(&party)
                {
                    let id = format!("{}-{side}{k:03}", self.id_prefix);
                    out.push(self.array(id, operator, position));
                }
            }
        }
        out
    }

    fn array(&self, id: String, operator: &str, position: Position) -> ArraySensor {
        ArraySensor {
            id,
            kind: self.kind,
            operator: operator.to_string(),
            position,
            timing_sigma_s: self.timing_sigma_s,
            backazimuth_sigma_deg: self.backazimuth_sigma_deg,
            detection_range_m: self.detection_range_km * 1000.0,
            clock_offset_s: 0.0,
            outages: Vec::new(),
            clock_drift_ppm: 0.0,
            detection_probability: self.detection_probability,
            false_bursts: Vec::new(),
            registered_offset_m: [0.0, 0.0],
        }
    }
}

/// The deviations from the perpendicular tried in turn, degrees: where the line winds, a
/// walk straight out may cross it again while a slanted one gets clear.
const FAN_DEG: [f64; 11] = [
    0.0, 15.0, -15.0, 30.0, -30.0, 45.0, -45.0, 60.0, -60.0, 75.0, -75.0,
];

/// An array's position on one side of the line: the party whose area holds the position
/// 100 m out along `azimuth` is the side's; the first walk of [`FAN_DEG`] that gets
/// `offset` from the line without leaving that party's area gives the position.
fn place_out(
    agreement: &Agreement,
    from: LonLat,
    azimuth: f64,
    offset: f64,
) -> Option<(Position, String)> {
    let first = agreement.earth.direct(from, azimuth, 100.0);
    let party = agreement.place(&Position::new(first[1], first[0])).side?;
    FAN_DEG
        .iter()
        .find_map(|turn| walk_out(agreement, from, azimuth + turn, offset, &party))
        .map(|position| (position, party))
}

/// Walks from `from` along `azimuth` in steps of a twentieth of `offset` (at least 100 m)
/// until the nearest point of the line is `offset` away; the position (rounded to 1e-5
/// degrees), or `None` if the walk leaves `party`'s area or has not got that far after
/// three times `offset`.
fn walk_out(
    agreement: &Agreement,
    from: LonLat,
    azimuth: f64,
    offset: f64,
    party: &str,
) -> Option<Position> {
    let step = (offset / 20.0).max(100.0);
    let mut d = step;
    while d <= 3.0 * offset {
        let at = agreement.earth.direct(from, azimuth, d);
        let position = Position::new(round5(at[1]), round5(at[0]));
        let place = agreement.place(&position);
        if place.side.as_deref() != Some(party) {
            return None;
        }
        if place.distance_to_line_m >= offset {
            return Some(position);
        }
        d += step;
    }
    None
}

fn round5(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// The position `s` metres along the polyline (clamped to its ends); `along` holds the
/// distance of each vertex from the first. A segment is straight in longitude and latitude.
fn point_at(line: &[LonLat], along: &[f64], s: f64) -> LonLat {
    let i = along.partition_point(|d| *d <= s).clamp(1, line.len() - 1);
    let (a, b) = (line[i - 1], line[i]);
    let length = along[i] - along[i - 1];
    let t = if length > 0.0 {
        ((s - along[i - 1]) / length).clamp(0.0, 1.0)
    } else {
        0.0
    };
    [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
}
