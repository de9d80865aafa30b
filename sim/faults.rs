//! The fault plan: what fails, when, and for how long — once, or as a random process whose
//! occurrences are drawn per replication.

use crate::dist::Distribution;
use crate::rng::{KeyedRng, combine};
use crate::time::SimDuration;
use serde::Serialize;

/// Most occurrences a random fault may be expected to have in one run (run duration / mean time
/// between failures): each is a row of `faults.csv` with its own containment metrics.
pub const MAX_EXPECTED_OCCURRENCES: f64 = 1_000.0;

/// One fault of the plan: injected once at `at`, or, with `every`, over and over.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSpec {
    /// When it starts; for a random process, the earliest time its first gap is counted from.
    pub at: SimDuration,
    /// What fails. With `duration_distribution`, its duration is that distribution's mean (each
    /// occurrence draws its own).
    pub kind: FaultKind,
    /// Time between failures: from `at` to the first start, then from each end to the next start;
    /// `None` for a fault that happens once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<Distribution>,
    /// The duration (repair time) each occurrence draws; `None` for the kind's fixed duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_distribution: Option<Distribution>,
}

/// One injected fault: an occurrence of a fault of the plan, with its own start and duration.
#[derive(Debug, Clone)]
pub struct FaultOccurrence {
    /// Index of its fault in the plan.
    pub fault: usize,
    /// Its number among its fault's occurrences, from 0; `None` for a fault that happens once.
    pub occurrence: Option<u32>,
    /// When it starts, from time 0.
    pub start: SimDuration,
    /// What fails, with this occurrence's duration.
    pub kind: FaultKind,
}

impl FaultOccurrence {
    /// `N` for a fault that happens once, `N/K` for occurrence K of a random fault N: the
    /// `fault/…` subject in `events.csv` and the label `fleetsim run` prints.
    pub fn label(fault: usize, occurrence: Option<u32>) -> String {
        match occurrence {
            None => fault.to_string(),
            Some(number) => format!("{fault}/{number}"),
        }
    }
}

/// Which draw of an occurrence a generator is keyed for.
const DRAW_GAP: u64 = 0;
const DRAW_DURATION: u64 = 1;

impl FaultSpec {
    /// The occurrences that start before `run_end`. Every draw comes from a generator keyed by
    /// `key` (the replication's fault-process stream), the fault's index, the occurrence and the
    /// draw (gap or duration), so nothing else in the run shifts them, nor they anything else.
    pub fn occurrences(
        &self,
        fault: usize,
        key: u64,
        run_end: SimDuration,
    ) -> Vec<FaultOccurrence> {
        let draw = |occurrence: u32, which: u64, distribution: &Distribution| {
            let entity = combine(combine(key, fault as u64), u64::from(occurrence));
            distribution.sample(&mut KeyedRng::new(combine(entity, which)))
        };
        let kind_of = |occurrence: u32| match &self.duration_distribution {
            // A window of zero would never end: a draw is at least a nanosecond.
            Some(distribution) => self.kind.with_duration(
                draw(occurrence, DRAW_DURATION, distribution).max(SimDuration::from_nanos(1)),
            ),
            None => self.kind.clone(),
        };
        let Some(every) = &self.every else {
            return vec![FaultOccurrence {
                fault,
                occurrence: None,
                start: self.at,
                kind: kind_of(0),
            }];
        };
        let mut occurrences = Vec::new();
        let mut clock = self.at;
        for number in 0u32.. {
            let start = clock + draw(number, DRAW_GAP, every);
            if start >= run_end {
                break;
            }
            let kind = kind_of(number);
            clock = start + kind.duration();
            occurrences.push(FaultOccurrence {
                fault,
                occurrence: Some(number),
                start,
                kind,
            });
        }
        occurrences
    }
}

/// Every occurrence of the plan's faults that starts before `run_end`, in order of start (ties in
/// plan order, then occurrence order).
pub fn expand_plan(plan: &[FaultSpec], key: u64, run_end: SimDuration) -> Vec<FaultOccurrence> {
    let mut occurrences: Vec<FaultOccurrence> = plan
        .iter()
        .enumerate()
        .flat_map(|(fault, spec)| spec.occurrences(fault, key, run_end))
        .collect();
    occurrences.sort_by_key(|occurrence| occurrence.start);
    occurrences
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
    /// A rolling deployment of a service to a bad version (erroring, slow or failing its health
    /// check), through the rollout machinery: the deployment circuit breaker may roll it back.
    BadDeploy {
        /// Service index.
        service: usize,
        /// Index of the rolling deployment it becomes, in `app.rollouts`.
        rollout: usize,
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
            FaultKind::BadDeploy { .. } => "bad_deploy",
        }
    }

    /// The same fault lasting `value` instead (kinds without a window are unchanged).
    pub fn with_duration(&self, value: SimDuration) -> FaultKind {
        let mut kind = self.clone();
        match &mut kind {
            FaultKind::ZoneOutage { duration, .. }
            | FaultKind::RegistryOutage { duration }
            | FaultKind::Latency { duration, .. }
            | FaultKind::MemoryLeak { duration, .. }
            | FaultKind::Errors { duration, .. } => *duration = value,
            _ => {}
        }
        kind
    }

    /// How long the fault itself lasts (instant faults and bad deploys, whose window is their
    /// deployment's: zero).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn outage(duration_s: u64) -> FaultKind {
        FaultKind::RegistryOutage {
            duration: SimDuration::from_secs(duration_s),
        }
    }

    fn constant(secs: u64) -> Distribution {
        Distribution::Constant {
            value: SimDuration::from_secs(secs),
        }
    }

    #[test]
    fn a_fault_without_every_happens_once_at_its_time() {
        let spec = FaultSpec {
            at: SimDuration::from_secs(30),
            kind: outage(10),
            every: None,
            duration_distribution: None,
        };
        let occurrences = spec.occurrences(3, 7, SimDuration::from_secs(600));
        assert_eq!(occurrences.len(), 1);
        assert_eq!(occurrences[0].fault, 3);
        assert_eq!(occurrences[0].occurrence, None);
        assert_eq!(occurrences[0].start, SimDuration::from_secs(30));
        assert_eq!(occurrences[0].kind.duration(), SimDuration::from_secs(10));
    }

    #[test]
    fn gaps_count_from_at_then_from_each_end() {
        // Starts at 60 + 100 = 160, ends 170; next at 270, ends 280; next at 380 … 590; 700 is out.
        let spec = FaultSpec {
            at: SimDuration::from_secs(60),
            kind: outage(10),
            every: Some(constant(100)),
            duration_distribution: None,
        };
        let starts: Vec<u64> = spec
            .occurrences(0, 7, SimDuration::from_secs(700))
            .iter()
            .map(|o| o.start.as_nanos() / 1_000_000_000)
            .collect();
        assert_eq!(starts, [160, 270, 380, 490, 600]);
        let numbers: Vec<Option<u32>> = spec
            .occurrences(0, 7, SimDuration::from_secs(700))
            .iter()
            .map(|o| o.occurrence)
            .collect();
        assert_eq!(numbers, [Some(0), Some(1), Some(2), Some(3), Some(4)]);
    }

    #[test]
    fn drawn_durations_are_per_occurrence_and_reproducible() {
        let spec = FaultSpec {
            at: SimDuration::ZERO,
            kind: outage(10),
            every: Some(Distribution::Exponential {
                mean: SimDuration::from_secs(300),
            }),
            duration_distribution: Some(Distribution::Exponential {
                mean: SimDuration::from_secs(60),
            }),
        };
        let run_end = SimDuration::from_secs(86_400);
        let first = spec.occurrences(1, 42, run_end);
        assert_eq!(
            format!("{first:?}"),
            format!("{:?}", spec.occurrences(1, 42, run_end))
        );
        assert_ne!(
            format!("{first:?}"),
            format!("{:?}", spec.occurrences(1, 43, run_end)),
            "another replication's key draws another process"
        );
        let durations: Vec<SimDuration> = first.iter().map(|o| o.kind.duration()).collect();
        assert!(durations.windows(2).any(|w| w[0] != w[1]));
        // A day of 5-minute gaps and 1-minute outages: about 86400 / 360 = 240 occurrences.
        assert!((180..300).contains(&first.len()), "{}", first.len());
        for pair in first.windows(2) {
            assert!(pair[1].start >= pair[0].start + pair[0].kind.duration());
        }
    }

    #[test]
    fn the_plan_expands_in_order_of_start() {
        let once = FaultSpec {
            at: SimDuration::from_secs(250),
            kind: FaultKind::ContainerCrash {
                service: 0,
                count: 1,
            },
            every: None,
            duration_distribution: None,
        };
        let recurring = FaultSpec {
            at: SimDuration::ZERO,
            kind: outage(50),
            every: Some(constant(100)),
            duration_distribution: None,
        };
        let plan = expand_plan(&[once, recurring], 1, SimDuration::from_secs(500));
        let order: Vec<(usize, Option<u32>)> =
            plan.iter().map(|o| (o.fault, o.occurrence)).collect();
        // The outage starts at 100 and 250 (a tie with the crash: plan order), then 400.
        assert_eq!(order, [(1, Some(0)), (0, None), (1, Some(1)), (1, Some(2))]);
        assert_eq!(FaultOccurrence::label(1, Some(2)), "1/2");
        assert_eq!(FaultOccurrence::label(0, None), "0");
    }
}
