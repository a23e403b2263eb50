//! Fusion: from sensor arrivals and detections to located, corroborated events. Pure and
//! deterministic: no I/O, no clock.

pub mod associate;
pub mod eval;
pub mod fuser;
pub mod health;
pub mod locate;
pub mod physics;
pub mod pipeline;
pub mod propagation;

pub use associate::{Arrival, Associated, Config, Plane, Station, associate, form};
pub use fuser::Fuser;
pub use locate::{Location, Pick, cramer_rao_m, ellipse_90, locate, locate_robust};
pub use physics::{Medium, sound_speed};
pub use pipeline::{FusedEvent, FusionConfig, Logged, fuse, fuser_of};
