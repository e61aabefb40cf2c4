//! Bounded stores the components read: plain Rust, no DOM, tested natively.

pub mod sensors;
pub mod series;

pub use sensors::{Metric, Presence, SensorStore, STATUS_FILTER};
pub use series::TimeSeries;
