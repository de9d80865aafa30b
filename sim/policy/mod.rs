//! Pluggable decisions, one file per algorithm: each gets a read-only view and returns a decision.

pub mod autoscale;
pub mod balancer;
pub mod cluster_autoscale;
pub mod named;
pub mod placement;
pub mod resilience;
