//! The loaded agreement: parties, the contact line, areas, zones, sites, windows and clauses.

use geo::MultiPolygon;
use truce_model::{Timestamp, WeaponClass};

use crate::areas::Areas;
use crate::geodesy::{Earth, LonLat, Nearest, Polyline};

/// The default probability an attribution must reach.
pub const DEFAULT_ATTRIBUTION_THRESHOLD: f64 = 0.95;

/// How far from the contact line a sector's start may be given.
pub const MAX_SECTOR_START_M: f64 = 5_000.0;

/// A ceasefire agreement, validated and ready for evaluation.
#[derive(Debug)]
pub struct Agreement {
    pub id: String,
    pub title: String,
    pub entry_into_force: Timestamp,
    /// Probability an attribution must reach to name a party.
    pub attribution_threshold: f64,
    pub parties: Vec<Party>,
    pub line: Polyline,
    pub line_source: Option<String>,
    pub areas: Areas,
    pub zones: Vec<Zone>,
    pub sites: Vec<Site>,
    pub windows: Vec<Window>,
    pub clauses: Vec<Clause>,
    /// Monitoring sectors, in order along the line (possibly none).
    pub sectors: Vec<Sector>,
    pub earth: Earth,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Party {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneKind {
    /// A buffer or security zone: no troops or weapons may enter.
    Buffer,
    /// A withdrawal zone for one weapon class.
    Withdrawal,
    /// No drone or aircraft may fly in it.
    DroneFree,
}

impl ZoneKind {
    pub const ALL: [ZoneKind; 3] = [ZoneKind::Buffer, ZoneKind::Withdrawal, ZoneKind::DroneFree];

    pub fn as_str(&self) -> &'static str {
        match self {
            ZoneKind::Buffer => "buffer",
            ZoneKind::Withdrawal => "withdrawal",
            ZoneKind::DroneFree => "drone_free",
        }
    }
}

/// A zone measured from the contact line: the part of each listed side's area within
/// `distance_m` of the line.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    pub id: String,
    pub kind: ZoneKind,
    pub weapon_class: Option<WeaponClass>,
    pub distance_m: f64,
    /// Parties whose side of the line the zone lies on.
    pub sides: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum SiteShape {
    Circle { centre: LonLat, radius_m: f64 },
    Polygon { shape: MultiPolygon, centre: LonLat },
}

/// A protected site: a power plant, substation, water works, heating plant or hospital.
#[derive(Clone, Debug)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub category: String,
    pub shape: SiteShape,
    pub source: Option<String>,
}

impl Site {
    pub const CATEGORIES: [&'static str; 7] = [
        "power",
        "substation",
        "water",
        "heating",
        "gas",
        "hospital",
        "other",
    ];

    pub fn centre(&self) -> LonLat {
        match &self.shape {
            SiteShape::Circle { centre, .. } | SiteShape::Polygon { centre, .. } => *centre,
        }
    }
}

/// A local window of silence: no fire within `radius_m` of its centres between `from` and
/// `until` (for example to let crews repair a power line).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub id: String,
    pub from: Timestamp,
    pub until: Timestamp,
    pub centres: Vec<LonLat>,
    pub radius_m: f64,
    pub note: Option<String>,
}

/// A monitoring sector: a stretch of the contact line, from where its start falls on the
/// line to where the next sector's does (the first sector also takes the line before its
/// start, the last the line to its end), and every point whose nearest position of the line
/// lies on that stretch.
#[derive(Clone, Debug, PartialEq)]
pub struct Sector {
    pub id: String,
    pub name: String,
    /// The start as the file gives it.
    pub start: LonLat,
    /// The start's nearest position of the line: where the sector begins.
    pub begins: Nearest,
    /// Where the sector begins and ends along the line, in metres from the line's first
    /// position (the first begins at 0, the last ends at the line's length).
    pub from_m: f64,
    pub until_m: f64,
    pub note: Option<String>,
}

impl Sector {
    /// Its length along the contact line, in metres.
    pub fn length_m(&self) -> f64 {
        self.until_m - self.from_m
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    NoFire,
    CrossLineFire,
    WeaponInWithdrawalZone,
    EntryIntoBufferZone,
    ProtectedSiteStrike,
    AirspaceCrossing,
}

impl Rule {
    pub const ALL: [Rule; 6] = [
        Rule::NoFire,
        Rule::CrossLineFire,
        Rule::WeaponInWithdrawalZone,
        Rule::EntryIntoBufferZone,
        Rule::ProtectedSiteStrike,
        Rule::AirspaceCrossing,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Rule::NoFire => "no_fire",
            Rule::CrossLineFire => "cross_line_fire",
            Rule::WeaponInWithdrawalZone => "weapon_in_withdrawal_zone",
            Rule::EntryIntoBufferZone => "entry_into_buffer_zone",
            Rule::ProtectedSiteStrike => "protected_site_strike",
            Rule::AirspaceCrossing => "airspace_crossing",
        }
    }

    /// The zone kind a clause of this rule may name, if it names zones.
    pub fn zone_kind(&self) -> Option<ZoneKind> {
        match self {
            Rule::WeaponInWithdrawalZone => Some(ZoneKind::Withdrawal),
            Rule::EntryIntoBufferZone => Some(ZoneKind::Buffer),
            Rule::AirspaceCrossing => Some(ZoneKind::DroneFree),
            _ => None,
        }
    }
}

/// A clause: a stable id, its text, and the rule that decides a breach.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub id: String,
    pub text: String,
    pub rule: Rule,
    /// Zones the rule applies to (empty: every zone of the rule's kind).
    pub zones: Vec<String>,
    /// Sites the rule protects (empty: every site).
    pub sites: Vec<String>,
    /// When not empty, the clause applies only inside these windows (in time and place),
    /// whether or not the agreement is in force; otherwise from entry into force, everywhere.
    pub windows: Vec<String>,
}

impl Agreement {
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    pub fn window(&self, id: &str) -> Option<&Window> {
        self.windows.iter().find(|w| w.id == id)
    }

    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    pub fn sector(&self, id: &str) -> Option<&Sector> {
        self.sectors.iter().find(|s| s.id == id)
    }

    /// The sector of the point `p`: the sector of the line's position nearest to it; `None`
    /// only when the agreement has no sectors.
    pub fn sector_at(&self, p: LonLat) -> Option<&Sector> {
        if self.sectors.is_empty() {
            return None;
        }
        self.sector_on_line(&self.line.nearest(&self.earth, p))
    }

    /// The sector that holds a position of the line (as [`Polyline::nearest`] gives it): the
    /// last whose beginning is not after it, or the first. A binary search over the sectors.
    pub fn sector_on_line(&self, on_line: &Nearest) -> Option<&Sector> {
        let at = self.line.along(on_line);
        let after = self
            .sectors
            .partition_point(|s| self.line.along(&s.begins) <= at);
        self.sectors.get(after.saturating_sub(1))
    }
}
