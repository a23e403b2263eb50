//! The ceasefire agreement as data.
pub mod areas;
pub mod attribution;
pub mod geodesy;
pub mod load;
pub mod map;
pub mod model;
pub mod place;
pub mod source;

pub use attribution::{BadCovariance, NONE};
pub use geodesy::{Earth, LonLat, Nearest, Polyline};
pub use load::LoadError;
pub use model::{Agreement, Clause, Party, Rule, Sector, Site, SiteShape, Window, Zone, ZoneKind};
pub use place::Place;
pub use source::Problem;
