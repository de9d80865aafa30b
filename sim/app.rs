//! The logical application: components, request classes with their call trees, and the deployment that
//! maps components onto services (monolith, microservices or explicit groups).

use crate::cluster::catalog::{Arch, OsFamily};
use crate::dist::Distribution;
use crate::policy::autoscale::AutoscalerSpec;
use crate::policy::balancer::BalancerKind;
use crate::policy::placement::PlacementSpec;
use crate::policy::resilience::{OutlierSpec, ResilienceSpec};
use crate::time::SimDuration;
use serde::Serialize;

/// One component of the application (a unit of code: frontend, cart, payment…).
#[derive(Debug, Clone, Serialize)]
pub struct ComponentSpec {
    /// Unique name.
    pub name: String,
    /// Cpu reserved by one replica, in millicores.
    pub cpu_millis: u64,
    /// Memory reserved by one replica, in bytes.
    pub memory_bytes: u64,
    /// Container image size, in bytes.
    pub image_bytes: u64,
    /// Concurrent requests one replica serves (its worker threads).
    pub workers: u32,
    /// Requests that may wait for a worker; one more is rejected.
    pub queue_limit: u32,
    /// Load shedding: a call that waited longer than this for a worker is dropped (fails with
    /// `shed`) instead of served; `None` serves every call however long it waited.
    pub max_queue_time: Option<SimDuration>,
    /// The time one call spends on a worker of this component (its own work, calls excluded).
    pub service_time: Distribution,
    /// True when the component releases its worker while it waits for downstream calls.
    pub non_blocking: bool,
    /// Replicas when this component is deployed as its own service, if set.
    pub replicas: Option<u32>,
    /// The OS its container needs.
    pub os: OsFamily,
    /// The architecture its image is built for; `None` for multi-arch images.
    pub arch: Option<Arch>,
    /// How callers treat calls to it (timeout, retries, circuit breaker), if set.
    pub resilience: Option<ResilienceSpec>,
}

/// A node of a call tree: a call to a component and what that component calls in turn.
#[derive(Debug, Clone, Serialize)]
pub struct CallNode {
    /// Index of the called component.
    pub component: usize,
    /// Probability that the call is made at all (1 for mandatory calls).
    pub probability: f64,
    /// Steps run one after another; the calls of one step run in parallel.
    pub steps: Vec<Vec<usize>>,
}

/// A flattened call tree; node 0 is the entry.
#[derive(Debug, Clone, Serialize)]
pub struct CallTree {
    /// All nodes, parents before children.
    pub nodes: Vec<CallNode>,
}

impl CallTree {
    /// True when some path in the tree calls `component`.
    pub fn touches(&self, component: usize) -> bool {
        self.nodes.iter().any(|node| node.component == component)
    }
}

/// A service-level objective of a request class.
#[derive(Debug, Clone, Serialize)]
pub struct Slo {
    /// Latency target.
    pub latency: SimDuration,
    /// Percentile the target applies to, in (0, 100).
    pub percentile: f64,
    /// Share of requests that must succeed, in (0, 1].
    pub availability: f64,
}

/// A kind of user request: how often it comes and what it calls.
#[derive(Debug, Clone, Serialize)]
pub struct ClassSpec {
    /// Unique name.
    pub name: String,
    /// Share of all arrivals.
    pub share: f64,
    /// The call tree; node 0 calls the entry component.
    pub tree: CallTree,
    /// The objective this class is judged by.
    pub slo: Slo,
}

/// How components map onto deployable services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentMode {
    /// All components in one service; calls between them are in-process.
    Monolith,
    /// One service per component; every call crosses the network.
    Microservices,
    /// Explicit groups of components, one service per group.
    Groups,
}

impl DeploymentMode {
    /// Every valid name, for messages.
    pub const NAMES: [&'static str; 3] = ["monolith", "microservices", "groups"];

    /// The name a scenario uses.
    pub fn name(self) -> &'static str {
        match self {
            DeploymentMode::Monolith => "monolith",
            DeploymentMode::Microservices => "microservices",
            DeploymentMode::Groups => "groups",
        }
    }

    /// Resolves a name from a scenario file.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "monolith" => Some(DeploymentMode::Monolith),
            "microservices" => Some(DeploymentMode::Microservices),
            "groups" => Some(DeploymentMode::Groups),
            _ => None,
        }
    }
}

/// One deployable service: the components it holds and how each replica is sized.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSpec {
    /// Unique name.
    pub name: String,
    /// Indices of the components it holds.
    pub components: Vec<usize>,
    /// Replicas.
    pub replicas: u32,
    /// Workers per replica.
    pub workers: u32,
    /// Queue limit per replica.
    pub queue_limit: u32,
    /// Load shedding per replica: the longest a call may wait for a worker.
    pub max_queue_time: Option<SimDuration>,
    /// Outlier ejection by its load balancer, if any.
    pub outlier_detection: Option<OutlierSpec>,
    /// Cpu per replica, in millicores.
    pub cpu_millis: u64,
    /// Memory per replica, in bytes.
    pub memory_bytes: u64,
    /// Image size, in bytes.
    pub image_bytes: u64,
    /// How calls to this service choose a replica.
    pub balancer: BalancerKind,
    /// The OS its tasks need (all its components share it).
    pub os: OsFamily,
    /// The architecture its tasks need, if any component is single-arch.
    pub arch: Option<Arch>,
    /// Its own placement policy; `None` uses the cluster's.
    pub placement: Option<PlacementSpec>,
    /// Its autoscaler, if any.
    pub scaling: Option<ScalingSpec>,
}

/// A service's autoscaling: the policy and how its metrics reach it.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingSpec {
    /// The autoscaler.
    pub autoscaler: AutoscalerSpec,
    /// Delay between the end of a metric period and the datapoint being visible to the autoscaler.
    pub publish_delay: SimDuration,
}

/// The application: components, request classes and their deployment.
#[derive(Debug, Clone, Serialize)]
pub struct AppSpec {
    /// Components, in file order.
    pub components: Vec<ComponentSpec>,
    /// Request classes, in file order.
    pub classes: Vec<ClassSpec>,
    /// The deployment mode.
    pub mode: DeploymentMode,
    /// Network latency added each way to every call between different services.
    pub hop_latency: SimDuration,
    /// Deployed services.
    pub services: Vec<ServiceSpec>,
    /// For each component, the index of the service that holds it.
    pub service_of_component: Vec<usize>,
    /// Rolling deployments, in time order.
    pub rollouts: Vec<RolloutSpec>,
}

impl AppSpec {
    /// True when a call from `caller` to `callee` crosses the network.
    pub fn is_remote(&self, caller: usize, callee: usize) -> bool {
        self.service_of_component[caller] != self.service_of_component[callee]
    }

    /// A cycle of services that call each other while holding their workers (blocking callers), as
    /// service indices with the first repeated at the end; `None` if there is none. Such a cycle can
    /// deadlock: every worker of each service waits on a call queued behind the others.
    pub fn blocking_service_cycle(&self) -> Option<Vec<usize>> {
        let service_count = self.services.len();
        let mut calls = vec![std::collections::BTreeSet::new(); service_count];
        for class in &self.classes {
            let nodes = &class.tree.nodes;
            // Whether the node's work waits on a held worker: its own (blocking) or one lent by a
            // blocking caller in the same service. Parents come before children in `nodes`.
            let mut holds = vec![false; nodes.len()];
            holds[0] = !self.components[nodes[0].component].non_blocking;
            for (index, node) in nodes.iter().enumerate() {
                let caller = self.service_of_component[node.component];
                for &child in node.steps.iter().flatten() {
                    let child_component = nodes[child].component;
                    let callee = self.service_of_component[child_component];
                    let blocking_child = !self.components[child_component].non_blocking;
                    holds[child] = blocking_child || (callee == caller && holds[index]);
                    if callee != caller && holds[index] {
                        calls[caller].insert(callee);
                    }
                }
            }
        }
        // Depth-first search for a back edge; 0 = unvisited, 1 = on the path, 2 = done.
        fn visit(
            service: usize,
            calls: &[std::collections::BTreeSet<usize>],
            state: &mut [u8],
            path: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            state[service] = 1;
            path.push(service);
            for &next in &calls[service] {
                if state[next] == 1 {
                    let start = path.iter().position(|&s| s == next).expect("on the path");
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                if state[next] == 0
                    && let Some(cycle) = visit(next, calls, state, path)
                {
                    return Some(cycle);
                }
            }
            path.pop();
            state[service] = 2;
            None
        }
        let mut state = vec![0u8; service_count];
        (0..service_count).find_map(|service| {
            if state[service] == 0 {
                visit(service, &calls, &mut state, &mut Vec::new())
            } else {
                None
            }
        })
    }
}

/// What changes when a service moves to a new version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionSpec {
    /// Its image size, in bytes (a new image is pulled anew).
    pub image_bytes: u64,
    /// Multiplier on every component's service time (1 = unchanged).
    pub slowdown: f64,
    /// Fraction of calls its tasks answer with an error at once.
    pub error_rate: f64,
    /// True when its tasks never pass their health check (a bad deploy).
    pub fails_health_check: bool,
}

/// A task count given as a percent of the desired count or as a number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    /// Percent of the desired count.
    Percent(f64),
    /// Tasks.
    Count(u32),
}

impl std::fmt::Display for Amount {
    /// `25 %` or `1 task(s)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::Percent(percent) => write!(f, "{percent} %"),
            Amount::Count(tasks) => write!(f, "{tasks} task(s)"),
        }
    }
}

impl std::fmt::Display for RolloutStrategy {
    /// `ECS rolling update (minimum healthy 50 %, maximum 100 %)` or the Kubernetes equivalent.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolloutStrategy::Ecs {
                minimum_healthy_percent,
                maximum_percent,
            } => write!(
                f,
                "ECS rolling update (minimum healthy {minimum_healthy_percent} %, maximum {maximum_percent} %)"
            ),
            RolloutStrategy::Kubernetes {
                max_surge,
                max_unavailable,
            } => write!(
                f,
                "Kubernetes RollingUpdate (max surge {max_surge}, max unavailable {max_unavailable})"
            ),
        }
    }
}

/// How old tasks give way to new ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RolloutStrategy {
    /// ECS rolling update: healthy tasks stay ≥ ⌈desired × minimum_healthy_percent⌉, all tasks
    /// ≤ ⌊desired × maximum_percent⌋.
    Ecs {
        /// minimumHealthyPercent (default 100).
        minimum_healthy_percent: u32,
        /// maximumPercent (default 200).
        maximum_percent: u32,
    },
    /// Kubernetes Deployment RollingUpdate: maxSurge (rounded up), maxUnavailable (rounded down).
    Kubernetes {
        /// Extra pods allowed (default 25 %).
        max_surge: Amount,
        /// Pods that may be unavailable (default 25 %).
        max_unavailable: Amount,
    },
}

impl RolloutStrategy {
    /// (fewest healthy tasks, most tasks in all) for `desired` tasks.
    pub fn bounds(&self, desired: u32) -> (u32, u32) {
        let of = |amount: Amount, round_up: bool| match amount {
            Amount::Count(count) => count,
            Amount::Percent(percent) => {
                let exact = f64::from(desired) * percent / 100.0;
                (if round_up {
                    exact.ceil()
                } else {
                    exact.floor()
                }) as u32
            }
        };
        match *self {
            RolloutStrategy::Ecs {
                minimum_healthy_percent,
                maximum_percent,
            } => (
                of(Amount::Percent(f64::from(minimum_healthy_percent)), true),
                of(Amount::Percent(f64::from(maximum_percent)), false),
            ),
            RolloutStrategy::Kubernetes {
                max_surge,
                max_unavailable,
            } => {
                let surge = of(max_surge, true);
                let mut unavailable = of(max_unavailable, false);
                if surge == 0 && unavailable == 0 {
                    unavailable = 1;
                }
                (desired.saturating_sub(unavailable), desired + surge)
            }
        }
    }
}

/// A rolling deployment: at `at`, `service` moves to a new version.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutSpec {
    /// Index of the service.
    pub service: usize,
    /// When it starts.
    pub at: SimDuration,
    /// The new version.
    pub version: VersionSpec,
    /// How tasks are replaced.
    pub strategy: RolloutStrategy,
    /// ECS deployment circuit breaker: fail the deployment after too many failed new tasks.
    pub circuit_breaker: bool,
    /// Roll back to the previous version when the circuit breaker trips or the alarm goes off.
    pub rollback: bool,
    /// An ECS deployment alarm on the service's calls, if any.
    pub alarm: Option<DeploymentAlarm>,
}

impl std::fmt::Display for DeploymentAlarm {
    /// `errors above 5 % or mean latency above 1s in 1 period(s) of 1m in a row`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut watched = Vec::new();
        if let Some(rate) = self.error_rate {
            watched.push(format!("errors above {} %", rate * 100.0));
        }
        if let Some(latency) = self.latency {
            watched.push(format!("mean latency above {latency}"));
        }
        write!(
            f,
            "{} in {} period(s) of {} in a row",
            watched.join(" or "),
            self.evaluation_periods,
            self.period
        )
    }
}

/// An ECS deployment alarm (a CloudWatch alarm on the service's errors or latency): when it goes
/// off during the deployment, the deployment fails (and rolls back with `rollback`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeploymentAlarm {
    /// Breaching when failed / finished calls of the service in a period exceed this.
    pub error_rate: Option<f64>,
    /// Breaching when the mean latency of the service's completed calls in a period exceeds this.
    pub latency: Option<SimDuration>,
    /// The alarm's period.
    pub period: SimDuration,
    /// Breaching periods in a row that set it off.
    pub evaluation_periods: u32,
}

#[cfg(test)]
mod rollout_tests {
    use super::*;

    /// (strategy, desired) → (min healthy, max total), per the ECS and Kubernetes docs.
    #[test]
    fn rollout_bounds_round_as_documented() {
        let ecs = |min, max| RolloutStrategy::Ecs {
            minimum_healthy_percent: min,
            maximum_percent: max,
        };
        let k8s = |surge, unavailable| RolloutStrategy::Kubernetes {
            max_surge: surge,
            max_unavailable: unavailable,
        };
        let table = [
            (ecs(100, 200), 4, (4, 8)),
            (ecs(50, 100), 4, (2, 4)), // "desired 4 at min 50 % → may stop 2 before starting 2"
            (ecs(50, 150), 3, (2, 4)), // min rounds up, max rounds down
            (
                k8s(Amount::Percent(25.0), Amount::Percent(25.0)),
                10,
                (8, 13),
            ), // surge 2.5 → 3, unavailable 2.5 → 2
            (k8s(Amount::Count(0), Amount::Count(0)), 3, (2, 3)),
            (k8s(Amount::Count(1), Amount::Count(0)), 3, (3, 4)),
        ];
        for (strategy, desired, expected) in table {
            assert_eq!(
                strategy.bounds(desired),
                expected,
                "{strategy:?} at {desired}"
            );
        }
    }
}
