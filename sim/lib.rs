//! fleetsim: a discrete-event simulator of container fleets.
//!
//! The same application, deployed as a monolith or as microservices on a virtual cluster, driven by
//! open-loop load; fleetsim measures latency, throughput, failures and SLO attainment, and is validated
//! against queueing theory.
//!
//! ```text
//! scenario.toml ──load──▶ Scenario ──experiment::run──▶ [ReplicationResult] ──report──▶ CSV / JSON
//!                            │                  │
//!                            └── model::simulate(scenario, replication) on an engine::EventQueue
//! ```
#![warn(missing_docs, missing_debug_implementations)]

pub mod app;
pub mod cluster;
pub mod dist;
pub mod engine;
pub mod experiment;
pub mod faults;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod time;
pub mod workload;
