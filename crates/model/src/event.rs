//! Located events (the output of fusion, the input of the rules) and the weapon classes an
//! agreement's withdrawal zones are written for. DESIGN.md section 4a gives the event's wire
//! form; `weapon_class`, `object_class`, `fired_from` and `landed_at` are optional
//! extensions of it.

use serde::{Deserialize, Serialize};

use crate::{Position, Timestamp};

/// What a fused event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A weapon fired: the location is the firing position.
    Launch,
    /// A round landed and exploded on the ground.
    Impact,
    /// An explosion in the air.
    Airburst,
    /// An explosion of undetermined kind.
    Explosion,
    /// A fire (for example a satellite thermal detection).
    Fire,
    /// A weapon system seen at a place.
    WeaponPresence,
    /// Troops or vehicles seen moving.
    Movement,
    /// A drone or aircraft seen in the air.
    AirspaceEntry,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::Launch,
        EventType::Impact,
        EventType::Airburst,
        EventType::Explosion,
        EventType::Fire,
        EventType::WeaponPresence,
        EventType::Movement,
        EventType::AirspaceEntry,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::Launch => "launch",
            EventType::Impact => "impact",
            EventType::Airburst => "airburst",
            EventType::Explosion => "explosion",
            EventType::Fire => "fire",
            EventType::WeaponPresence => "weapon_presence",
            EventType::Movement => "movement",
            EventType::AirspaceEntry => "airspace_entry",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Whether the event is the use of a weapon: a launch, or an explosion of any kind.
    pub fn is_fire(&self) -> bool {
        matches!(
            self,
            EventType::Launch | EventType::Impact | EventType::Airburst | EventType::Explosion
        )
    }

    /// Whether the event is something landing: an impact, airburst or explosion.
    pub fn is_explosion(&self) -> bool {
        matches!(
            self,
            EventType::Impact | EventType::Airburst | EventType::Explosion
        )
    }
}

/// The weapon classes withdrawal zones are written for (after the Minsk II package: artillery
/// of 100 mm and more 50 km, MLRS 70 km, heavy MLRS and tactical missiles 140 km; tanks,
/// mortars and lighter artillery by the addendum of September 2015).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeaponClass {
    /// Tube artillery (howitzers, guns) of calibre 100 mm or more.
    #[serde(rename = "artillery_100mm_plus")]
    Artillery100mmPlus,
    /// Tube artillery under 100 mm.
    #[serde(rename = "artillery_under_100mm")]
    ArtilleryUnder100mm,
    Mortar,
    Tank,
    /// Multiple rocket launchers under 220 mm (Grad class).
    Mlrs,
    /// Multiple rocket launchers of 220 mm and more (Uragan, Smerch, Tornado-S).
    HeavyMlrs,
    /// Tactical ballistic missile systems (Tochka-U class).
    TacticalMissile,
}

impl WeaponClass {
    pub const ALL: [WeaponClass; 7] = [
        WeaponClass::Artillery100mmPlus,
        WeaponClass::ArtilleryUnder100mm,
        WeaponClass::Mortar,
        WeaponClass::Tank,
        WeaponClass::Mlrs,
        WeaponClass::HeavyMlrs,
        WeaponClass::TacticalMissile,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            WeaponClass::Artillery100mmPlus => "artillery_100mm_plus",
            WeaponClass::ArtilleryUnder100mm => "artillery_under_100mm",
            WeaponClass::Mortar => "mortar",
            WeaponClass::Tank => "tank",
            WeaponClass::Mlrs => "mlrs",
            WeaponClass::HeavyMlrs => "heavy_mlrs",
            WeaponClass::TacticalMissile => "tactical_missile",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The class of a detected object (`object_class` and `calibre_mm` of a drone, camera or
    /// radar detection), when it is a weapon an agreement classes; `None` for other objects
    /// and for a gun whose calibre is unknown.
    pub fn assess(object_class: &str, calibre_mm: Option<f64>) -> Option<Self> {
        match (object_class, calibre_mm) {
            ("howitzer", Some(c)) | ("gun", Some(c)) if c < 100.0 => {
                Some(WeaponClass::ArtilleryUnder100mm)
            }
            ("howitzer", _) | ("gun", Some(_)) => Some(WeaponClass::Artillery100mmPlus),
            ("mlrs", Some(c)) if c >= 220.0 => Some(WeaponClass::HeavyMlrs),
            ("mlrs", _) => Some(WeaponClass::Mlrs),
            ("mortar", _) => Some(WeaponClass::Mortar),
            ("tank", _) => Some(WeaponClass::Tank),
            _ => None,
        }
    }
}

/// A located point with its 2×2 covariance in the local east/north plane, in m².
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Located {
    pub location: Position,
    pub covariance_m2: [[f64; 2]; 2],
}

/// How well an event is located.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub sensors: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rms_residual_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azimuthal_gap_deg: Option<f64>,
}

/// A fused event (DESIGN.md section 4a).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub origin_time: Timestamp,
    #[serde(default)]
    pub origin_time_sigma_s: f64,
    pub location: Position,
    pub covariance_m2: [[f64; 2]; 2],
    /// Log indices of the observations the event rests on.
    #[serde(default)]
    pub observations: Vec<u64>,
    #[serde(default)]
    pub operators: Vec<String>,
    #[serde(default)]
    pub modalities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<Quality>,
    /// The weapon class, when assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weapon_class: Option<WeaponClass>,
    /// The object seen (`object_class` vocabulary of detections), for presence, movement and
    /// airspace events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_class: Option<String>,
    /// Where the round or aircraft came from, when located (impacts, explosions, airspace
    /// entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_from: Option<Located>,
    /// Where a launched round landed, when located.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed_at: Option<Located>,
    /// True while the event may still change as the log grows: observations may still
    /// join it, and then its id (drawn from its evidence) and location change too. Absent
    /// once the event is final. Nobody reviews a provisional event's findings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

impl Event {
    /// An event with no evidence, quality, classes or links yet.
    pub fn new(
        id: impl Into<String>,
        kind: EventType,
        origin_time: Timestamp,
        location: Position,
        covariance_m2: [[f64; 2]; 2],
    ) -> Self {
        Self {
            id: id.into(),
            kind,
            origin_time,
            origin_time_sigma_s: 0.0,
            location,
            covariance_m2,
            observations: Vec::new(),
            operators: Vec::new(),
            modalities: Vec::new(),
            quality: None,
            weapon_class: None,
            object_class: None,
            fired_from: None,
            landed_at: None,
            provisional: false,
        }
    }

    /// The event's own location with its covariance.
    pub fn located(&self) -> Located {
        Located {
            location: self.location,
            covariance_m2: self.covariance_m2,
        }
    }

    /// Where the event's shot or flight came from: the event itself for a launch, else
    /// `fired_from` when known.
    pub fn origin(&self) -> Option<Located> {
        if self.kind == EventType::Launch {
            Some(self.located())
        } else {
            self.fired_from
        }
    }

    /// Where the event's round landed: the event itself for an explosion, else `landed_at`.
    pub fn destination(&self) -> Option<Located> {
        if self.kind.is_explosion() {
            Some(self.located())
        } else {
            self.landed_at
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weapon_classes_follow_calibre() {
        assert_eq!(
            WeaponClass::assess("howitzer", None),
            Some(WeaponClass::Artillery100mmPlus)
        );
        assert_eq!(
            WeaponClass::assess("gun", Some(85.0)),
            Some(WeaponClass::ArtilleryUnder100mm)
        );
        assert_eq!(
            WeaponClass::assess("gun", Some(100.0)),
            Some(WeaponClass::Artillery100mmPlus)
        );
        assert_eq!(WeaponClass::assess("gun", None), None);
        assert_eq!(
            WeaponClass::assess("mlrs", Some(122.0)),
            Some(WeaponClass::Mlrs)
        );
        assert_eq!(
            WeaponClass::assess("mlrs", Some(300.0)),
            Some(WeaponClass::HeavyMlrs)
        );
        assert_eq!(WeaponClass::assess("vehicle", None), None);
        for class in WeaponClass::ALL {
            assert_eq!(WeaponClass::parse(class.as_str()), Some(class));
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn event_reads_the_design_example() {
        let text = r#"{"id": "e1", "type": "launch", "origin_time": "2026-01-07T03:04:05Z",
            "origin_time_sigma_s": 0.01, "location": {"lat": 48.1, "lon": 37.5},
            "covariance_m2": [[2500, 100], [100, 1600]], "observations": [17, 18, 25],
            "operators": ["FR", "UA", "US"], "modalities": ["acoustic"],
            "quality": {"sensors": 9, "rms_residual_s": 0.002, "azimuthal_gap_deg": 80}}"#;
        let event: Event = serde_json::from_str(text).unwrap();
        assert_eq!(event.kind, EventType::Launch);
        assert_eq!(event.origin().unwrap().location, event.location);
        assert!(event.destination().is_none());
        assert_eq!(event.quality.as_ref().unwrap().sensors, 9);
    }
}
