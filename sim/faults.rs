//! The fault plan: what fails, when, and for how long.

use crate::time::SimDuration;
use serde::Serialize;

/// One injected fault.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSpec {
    /// When it starts.
    pub at: SimDuration,
    /// What fails.
    pub kind: FaultKind,
}

/// What fails.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// `count` healthy tasks of a service crash; its scheduler replaces them.
    ContainerCrash {
        /// Service index.
        service: usize,
        /// How many tasks.
        count: u32,
    },
    /// A node crashes with every task on it; its node group replaces it after its boot time.
    NodeCrash {
        /// Node group index.
        node_group: usize,
        /// Ordinal of the node within the group; `None` for a random ready node.
        node: Option<u32>,
    },
    /// A Spot node gets its interruption notice: it drains (its tasks stop gracefully and are
    /// replaced elsewhere) and is terminated when the notice runs out; its group replaces it.
    SpotInterruption {
        /// Node group index.
        node_group: usize,
        /// Ordinal of the node within the group; `None` for a random ready node.
        node: Option<u32>,
        /// Time from the notice to termination (two minutes on EC2).
        notice: SimDuration,
    },
    /// Every node (and Fargate task) in a zone is down for the duration; the zone's nodes are
    /// replaced when it comes back.
    ZoneOutage {
        /// Zone index.
        zone: usize,
        /// How long.
        duration: SimDuration,
    },
    /// The image registry is down for the duration: image pulls wait for it (cached images still
    /// start), so scaling and restarts stall.
    RegistryOutage {
        /// How long.
        duration: SimDuration,
    },
    /// A component's calls take longer for the duration.
    Latency {
        /// Component index.
        component: usize,
        /// How long.
        duration: SimDuration,
        /// Multiplier on its service time.
        multiplier: f64,
        /// Delay added to each of its calls.
        added: SimDuration,
    },
    /// A component leaks memory for the duration: every task of its service fills its memory
    /// reservation (from half full) at `bytes_per_sec` and is killed out of memory, then replaced —
    /// and its replacements leak too.
    MemoryLeak {
        /// Component index.
        component: usize,
        /// How long the leaking version runs.
        duration: SimDuration,
        /// Leak rate, bytes per second.
        bytes_per_sec: f64,
    },
    /// A fraction of a component's calls fail at once for the duration.
    Errors {
        /// Component index.
        component: usize,
        /// How long.
        duration: SimDuration,
        /// Fraction of calls that fail.
        rate: f64,
    },
}

impl FaultKind {
    /// The name used in scenarios and outputs.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::ContainerCrash { .. } => "container_crash",
            FaultKind::NodeCrash { .. } => "node_crash",
            FaultKind::SpotInterruption { .. } => "spot_interruption",
            FaultKind::ZoneOutage { .. } => "zone_outage",
            FaultKind::RegistryOutage { .. } => "registry_outage",
            FaultKind::Latency { .. } => "latency",
            FaultKind::MemoryLeak { .. } => "memory_leak",
            FaultKind::Errors { .. } => "errors",
        }
    }

    /// How long the fault itself lasts (instant faults: zero).
    pub fn duration(&self) -> SimDuration {
        match self {
            FaultKind::ZoneOutage { duration, .. }
            | FaultKind::RegistryOutage { duration }
            | FaultKind::Latency { duration, .. }
            | FaultKind::MemoryLeak { duration, .. }
            | FaultKind::Errors { duration, .. } => *duration,
            FaultKind::SpotInterruption { notice, .. } => *notice,
            _ => SimDuration::ZERO,
        }
    }
}
