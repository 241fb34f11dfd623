//! Health probes and Prometheus metrics, served over plain HTTP on one port.
//!
//! No secret value is ever a label or a metric: labels are bounded reasons and results.

mod health;
mod metrics;
mod requests;
mod server;

pub use health::{HEARTBEAT, Health, STALE_AFTER};
pub use metrics::{Metrics, ResultLabels};
pub use requests::Timed;
pub use server::{router, serve};
