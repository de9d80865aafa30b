//! Scheduler placement: which node a pending task lands on, or why it must stay pending.
//!
//! Every policy sees the cluster read-only and an explicit rng, and returns a [`Decision`]; the model
//! reserves the node. The pipeline, as ECS and kube-scheduler run it (facts/domain.md §1, §2):
//!
//! ```text
//! every node ─▶ ready ─▶ task's OS / arch ─▶ room (cpu and memory) ─▶ constraints ─▶ strategies / scores ─▶ node
//!                 │             │                     │                      │
//!            NoReadyNode  OsOrArchMismatch  Insufficient{Cpu,Memory,..}  Constraint(text) / TopologySpread
//! ```
//!
//! Built-ins, one file each: the ECS chain (`chain.rs`, with `binpack.rs`, `spread.rs`, `random.rs`,
//! `constraints.rs` and the cluster query language in `expression.rs`), Kubernetes scoring
//! (`kubernetes.rs`), classic first / best / worst fit, and ECS-style scale-in (`scale_in.rs`). A
//! [`Registry`] resolves a [`PlacementSpec`] to a policy, including custom policies registered by name.
//!
//! Determinism: nodes are visited by index, ties go to the lowest node index, and the only randomness is
//! the rng passed in.

mod best_fit;
mod binpack;
mod chain;
mod constraints;
mod expression;
mod first_fit;
mod kubernetes;
mod random;
mod registry;
mod scale_in;
mod spread;
mod worst_fit;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use best_fit::BestFit;
pub use chain::EcsChain;
pub use constraints::{Constraint, parse_constraint};
pub use expression::Expression;
pub use first_fit::FirstFit;
pub use kubernetes::{KubernetesScoring, TOPOLOGY_SPREAD_WEIGHT};
pub use registry::{PolicyFactory, Registry};
pub use scale_in::select_task_to_stop;
pub use worst_fit::WorstFit;

use crate::cluster::state::{ClusterState, NodeState, TaskRequest};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Chooses the node for a pending task: a pure decision over a read-only cluster.
pub trait PlacementPolicy: Send + std::fmt::Debug {
    /// Chooses a node for `task`, or says why it must stay pending.
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        rng: &mut ChaCha8Rng,
    ) -> Decision;
}

/// What a placement policy decided for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Reserve the task on this node (an index into `ClusterState::nodes`).
    Place(usize),
    /// Leave the task pending, for this reason.
    Pending(PendingReason),
}

/// Why a task could not be placed.
///
/// Judged in pipeline order: no ready node at all; ready nodes, but none with the task's OS and
/// architecture; compatible nodes, but none with room (see the `Insufficient*` variants); nodes with
/// room, but a constraint (or a `DoNotSchedule` topology spread) excludes all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingReason {
    /// No node is ready.
    NoReadyNode,
    /// Nodes are ready, but none runs the task's OS and architecture.
    OsOrArchMismatch,
    /// Every compatible ready node lacks cpu, and at least one has the memory.
    InsufficientCpu,
    /// Every compatible ready node lacks memory, and at least one has the cpu.
    InsufficientMemory,
    /// Every compatible ready node lacks cpu, memory or both, and no single resource would suffice.
    InsufficientCpuAndMemory,
    /// The constraint (its text) that excluded the last nodes with room.
    Constraint(String),
    /// Every node with room would push the topology spread's skew beyond `max_skew`.
    TopologySpread,
}

impl PendingReason {
    /// Every reason's name, for documentation and metrics.
    pub const NAMES: [&'static str; 7] = [
        "no_ready_node",
        "os_or_arch_mismatch",
        "insufficient_cpu",
        "insufficient_memory",
        "insufficient_cpu_and_memory",
        "constraint",
        "topology_spread",
    ];

    /// The snake_case name used in events and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            PendingReason::NoReadyNode => "no_ready_node",
            PendingReason::OsOrArchMismatch => "os_or_arch_mismatch",
            PendingReason::InsufficientCpu => "insufficient_cpu",
            PendingReason::InsufficientMemory => "insufficient_memory",
            PendingReason::InsufficientCpuAndMemory => "insufficient_cpu_and_memory",
            PendingReason::Constraint(_) => "constraint",
            PendingReason::TopologySpread => "topology_spread",
        }
    }
}

impl fmt::Display for PendingReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PendingReason::NoReadyNode => write!(f, "no node is ready"),
            PendingReason::OsOrArchMismatch => write!(
                f,
                "no ready node runs the task's operating system and cpu architecture"
            ),
            PendingReason::InsufficientCpu => {
                write!(f, "no compatible ready node has enough free cpu")
            }
            PendingReason::InsufficientMemory => {
                write!(f, "no compatible ready node has enough free memory")
            }
            PendingReason::InsufficientCpuAndMemory => write!(
                f,
                "no compatible ready node has enough free cpu and memory at once"
            ),
            PendingReason::Constraint(text) => {
                write!(f, "constraint {text} excludes every node with room")
            }
            PendingReason::TopologySpread => write!(
                f,
                "every node with room would exceed the topology spread's max skew"
            ),
        }
    }
}

/// A resource that binpack packs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// Cpu (millicores).
    Cpu,
    /// Memory (bytes).
    Memory,
}

impl Resource {
    /// The name used in strategy text.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
        }
    }

    /// The node's free amount of this resource.
    pub fn free(self, node: &NodeState) -> u64 {
        match self {
            Resource::Cpu => node.capacity.cpu_millis - node.allocated.cpu_millis,
            Resource::Memory => node.capacity.memory_bytes - node.allocated.memory_bytes,
        }
    }

    /// The task's request of this resource.
    pub fn requested(self, task: &TaskRequest) -> u64 {
        match self {
            Resource::Cpu => task.resources.cpu_millis,
            Resource::Memory => task.resources.memory_bytes,
        }
    }
}

/// What spread balances over: the tasks of the same service per value of this field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpreadField {
    /// The availability zone (ECS `attribute:ecs.availability-zone`).
    Zone,
    /// The node itself (ECS `instanceId` / `host`).
    Node,
    /// Any node attribute, by name; nodes without it share one value of their own.
    Attribute(String),
}

impl fmt::Display for SpreadField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpreadField::Zone => write!(f, "zone"),
            SpreadField::Node => write!(f, "node"),
            SpreadField::Attribute(name) => write!(f, "attribute:{name}"),
        }
    }
}

/// Parses a spread field: `zone`, `node`, the ECS spellings `attribute:ecs.availability-zone`,
/// `instanceId` and `host`, or `attribute:NAME`.
pub fn parse_spread_field(text: &str) -> Result<SpreadField, String> {
    match text.trim() {
        "zone" | "attribute:ecs.availability-zone" => Ok(SpreadField::Zone),
        "node" | "instanceId" | "host" => Ok(SpreadField::Node),
        other => match other.strip_prefix("attribute:") {
            Some(name) if !name.trim().is_empty() => {
                Ok(SpreadField::Attribute(name.trim().to_string()))
            }
            Some(_) => Err("spread(attribute:NAME) needs an attribute name".to_string()),
            None => Err(format!(
                "unknown spread field '{other}': expected zone, node, instanceId, host, \
                 attribute:ecs.availability-zone or attribute:NAME"
            )),
        },
    }
}

/// One ECS placement strategy; a list of them is applied in order, later ones breaking ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// The node with the least remaining amount of the resource that still fits the task.
    Binpack(Resource),
    /// The node whose field value has the fewest tasks of the same service.
    Spread(SpreadField),
    /// A uniformly random node (from the rng passed to `place`).
    Random,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Binpack(resource) => write!(f, "binpack({})", resource.name()),
            Strategy::Spread(field) => write!(f, "spread({field})"),
            Strategy::Random => write!(f, "random"),
        }
    }
}

/// The valid strategy forms, for error messages.
const STRATEGY_FORMS: &str = "binpack(cpu), binpack(memory), spread(zone), spread(node), \
     spread(attribute:NAME) (also spread(attribute:ecs.availability-zone), spread(instanceId), \
     spread(host)), random";

/// Parses one strategy: `binpack(cpu)`, `binpack(memory)`, `spread(zone)`, `spread(node)`,
/// `spread(attribute:NAME)` (ECS spellings accepted), or `random`.
pub fn parse_strategy(text: &str) -> Result<Strategy, String> {
    let trimmed = text.trim();
    if trimmed == "random" || trimmed == "random()" {
        return Ok(Strategy::Random);
    }
    if holds_several(trimmed) {
        return Err(format!(
            "'{trimmed}' holds more than one strategy: write each as a string of its own, e.g. \
             strategy = [\"spread(zone)\", \"binpack(memory)\"]; valid strategies: {STRATEGY_FORMS}"
        ));
    }
    let (name, argument) = match trimmed.split_once('(') {
        None => (trimmed, None),
        Some((name, rest)) => match rest.strip_suffix(')') {
            Some(argument) => (name.trim(), Some(argument.trim())),
            None => {
                return Err(format!(
                    "unknown placement strategy '{trimmed}': its '(' is never closed; \
                     valid strategies: {STRATEGY_FORMS}"
                ));
            }
        },
    };
    match (name, argument) {
        ("binpack", Some("cpu")) => Ok(Strategy::Binpack(Resource::Cpu)),
        ("binpack", Some("memory")) => Ok(Strategy::Binpack(Resource::Memory)),
        ("binpack", Some(other)) => Err(format!(
            "binpack takes cpu or memory, not '{other}'{}; valid strategies: {STRATEGY_FORMS}",
            suggest(other, &["cpu", "memory"])
                .map(|best| format!(" (did you mean binpack({best})?)"))
                .unwrap_or_default()
        )),
        ("spread", Some(field)) => {
            parse_spread_field(field)
                .map(Strategy::Spread)
                .map_err(|error| {
                    let hint = suggest(field, &["zone", "node", "instanceId", "host"])
                        .map(|best| format!(" (did you mean spread({best})?)"))
                        .unwrap_or_default();
                    format!("{error}{hint}; valid strategies: {STRATEGY_FORMS}")
                })
        }
        ("random", Some(_)) => Err(format!(
            "random takes no field; valid strategies: {STRATEGY_FORMS}"
        )),
        ("binpack", None) => Err(format!(
            "unknown placement strategy 'binpack': binpack needs a resource in parentheses, \
             binpack(cpu) or binpack(memory); valid strategies: {STRATEGY_FORMS}"
        )),
        ("spread", None) => Err(format!(
            "unknown placement strategy 'spread': spread needs a field in parentheses, \
             e.g. spread(zone); valid strategies: {STRATEGY_FORMS}"
        )),
        _ => {
            let hint = suggest(name, &["binpack", "spread", "random"])
                .map(|best| {
                    let guess = argument.map_or(best.to_string(), |a| format!("{best}({a})"));
                    let lower = guess.to_ascii_lowercase();
                    match (parse_strategy(&guess), parse_strategy(&lower)) {
                        (Err(_), Ok(_)) => format!(" (did you mean '{lower}'?)"),
                        _ => format!(" (did you mean '{guess}'?)"),
                    }
                })
                .unwrap_or_default();
            Err(format!(
                "unknown placement strategy '{trimmed}'{hint}: valid strategies: {STRATEGY_FORMS}"
            ))
        }
    }
}

/// True when `text` holds several strategies or constraints, as in `binpack(cpu), spread(zone)`:
/// a comma outside parentheses, or text after the first top-level closing parenthesis.
fn holds_several(text: &str) -> bool {
    let mut depth = 0usize;
    let mut closed = false;
    for c in text.chars() {
        if closed && !c.is_whitespace() {
            return true;
        }
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => {
                depth -= 1;
                closed = depth == 0;
            }
            ',' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// The valid spelling `word` most plausibly meant (ignoring case, allowing a few typos), if any.
fn suggest<'a>(word: &str, valid: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let lowered: Vec<String> = valid.iter().map(|v| v.to_ascii_lowercase()).collect();
    let best = crate::scenario::source::closest(&lower, lowered.iter().map(String::as_str))?;
    valid
        .iter()
        .zip(&lowered)
        .find(|(_, candidate)| candidate.as_str() == best)
        .map(|(original, _)| *original)
}

impl Serialize for Strategy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_strategy(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SpreadField {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What the Kubernetes scheduler does when a topology spread cannot be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub enum Unsatisfiable {
    /// Filter: a node that would push the skew beyond `max_skew` is not a candidate.
    DoNotSchedule,
    /// Score: lower skew scores higher, but any node with room may win.
    ScheduleAnyway,
}

impl Unsatisfiable {
    /// The Kubernetes spelling.
    pub fn name(self) -> &'static str {
        match self {
            Unsatisfiable::DoNotSchedule => "DoNotSchedule",
            Unsatisfiable::ScheduleAnyway => "ScheduleAnyway",
        }
    }

    /// Resolves the Kubernetes spelling or its snake_case form.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "DoNotSchedule" | "do_not_schedule" => Some(Unsatisfiable::DoNotSchedule),
            "ScheduleAnyway" | "schedule_anyway" => Some(Unsatisfiable::ScheduleAnyway),
            _ => None,
        }
    }
}

/// A Kubernetes pod topology spread constraint over the tasks of the same service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopologySpread {
    /// The domain: `Zone` or `Node` (attributes are not supported here).
    pub topology: SpreadField,
    /// The largest allowed difference between a domain's count and the global minimum (≥ 1).
    pub max_skew: u32,
    /// Filter (`DoNotSchedule`) or score (`ScheduleAnyway`).
    pub when_unsatisfiable: Unsatisfiable,
}

/// A placement policy as a scenario describes it; [`Registry::build`] turns it into a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlacementSpec {
    /// ECS: constraints filter, then the strategies in order, each breaking the previous one's ties.
    Ecs {
        /// Applied in order; an empty list leaves the lowest-index node that passes.
        strategies: Vec<Strategy>,
        /// All must hold.
        constraints: Vec<Constraint>,
    },
    /// kube-scheduler: a weighted sum of 0–100 scores; the highest total wins.
    Kubernetes {
        /// Weight of NodeResourcesFit LeastAllocated (prefers empty nodes).
        least_allocated: f64,
        /// Weight of NodeResourcesFit MostAllocated (prefers full nodes).
        most_allocated: f64,
        /// Weight of NodeResourcesBalancedAllocation (prefers equal cpu and memory shares).
        balanced_allocation: f64,
        /// An optional topology spread constraint over the service's tasks.
        #[serde(skip_serializing_if = "Option::is_none")]
        topology_spread: Option<TopologySpread>,
    },
    /// The lowest-index node that fits.
    FirstFit,
    /// The most loaded node that fits (allocated cpu share, then memory share).
    BestFit,
    /// The least loaded node that fits (allocated cpu share, then memory share).
    WorstFit,
    /// A policy registered by name in the [`Registry`].
    Custom {
        /// The registered name.
        name: String,
    },
}

impl PlacementSpec {
    /// An ECS chain from strategies and constraints as a scenario writes them, e.g.
    /// `ecs(&["spread(zone)", "binpack(memory)"], &["distinctInstance"])`; the first that does not
    /// parse is the error.
    pub fn ecs(strategies: &[&str], constraints: &[&str]) -> Result<Self, String> {
        Ok(PlacementSpec::Ecs {
            strategies: strategies
                .iter()
                .map(|s| parse_strategy(s))
                .collect::<Result<_, _>>()?,
            constraints: constraints
                .iter()
                .map(|c| parse_constraint(c))
                .collect::<Result<_, _>>()?,
        })
    }

    /// ECS's default for a service with no strategy: `spread(attribute:ecs.availability-zone)`.
    pub fn ecs_default() -> Self {
        PlacementSpec::Ecs {
            strategies: vec![Strategy::Spread(SpreadField::Zone)],
            constraints: Vec::new(),
        }
    }

    /// kube-scheduler's defaults: LeastAllocated and BalancedAllocation at weight 1, and the built-in
    /// zone spread (maxSkew 5, ScheduleAnyway; its weight is [`TOPOLOGY_SPREAD_WEIGHT`]).
    pub fn kubernetes_default() -> Self {
        PlacementSpec::Kubernetes {
            least_allocated: 1.0,
            most_allocated: 0.0,
            balanced_allocation: 1.0,
            topology_spread: Some(TopologySpread {
                topology: SpreadField::Zone,
                max_skew: 5,
                when_unsatisfiable: Unsatisfiable::ScheduleAnyway,
            }),
        }
    }

    /// The kind's name: `ecs`, `kubernetes`, `first_fit`, `best_fit`, `worst_fit` or `custom`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            PlacementSpec::Ecs { .. } => "ecs",
            PlacementSpec::Kubernetes { .. } => "kubernetes",
            PlacementSpec::FirstFit => "first_fit",
            PlacementSpec::BestFit => "best_fit",
            PlacementSpec::WorstFit => "worst_fit",
            PlacementSpec::Custom { .. } => "custom",
        }
    }
}

impl fmt::Display for PlacementSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementSpec::Ecs {
                strategies,
                constraints,
            } => {
                let join = |items: Vec<String>| items.join(", ");
                write!(
                    f,
                    "ecs [{}]",
                    join(strategies.iter().map(ToString::to_string).collect())
                )?;
                if !constraints.is_empty() {
                    write!(
                        f,
                        " constraints [{}]",
                        join(constraints.iter().map(ToString::to_string).collect())
                    )?;
                }
                Ok(())
            }
            PlacementSpec::Kubernetes {
                least_allocated,
                most_allocated,
                balanced_allocation,
                topology_spread,
            } => {
                write!(
                    f,
                    "kubernetes least_allocated={least_allocated} most_allocated={most_allocated} \
                     balanced_allocation={balanced_allocation}"
                )?;
                if let Some(spread) = topology_spread {
                    write!(
                        f,
                        " topology_spread={}/max_skew={}/{}",
                        spread.topology,
                        spread.max_skew,
                        spread.when_unsatisfiable.name()
                    )?;
                }
                Ok(())
            }
            PlacementSpec::Custom { name } => write!(f, "{name}"),
            other => write!(f, "{}", other.kind_name()),
        }
    }
}

/// True when `node` runs the task's OS and architecture (readiness and room not checked).
pub fn compatible(node: &NodeState, task: &TaskRequest) -> bool {
    node.os == task.os && task.arch.is_none_or(|arch| arch == node.arch)
}

/// Why no node fits `task`, judged in pipeline order over the ready nodes (see [`PendingReason`]);
/// `None` when some node fits. Custom policies use it for their pending decisions.
pub fn why_nothing_fits(task: &TaskRequest, cluster: &ClusterState) -> Option<PendingReason> {
    let (mut any_ready, mut any_compatible) = (false, false);
    let (mut some_cpu, mut some_memory) = (false, false);
    for node in cluster.nodes() {
        if node.lifecycle != crate::cluster::state::NodeLifecycle::Ready {
            continue;
        }
        any_ready = true;
        if !compatible(node, task) {
            continue;
        }
        any_compatible = true;
        let free = node.free();
        let cpu = free.cpu_millis >= task.resources.cpu_millis;
        let memory = free.memory_bytes >= task.resources.memory_bytes;
        if cpu && memory {
            return None;
        }
        some_cpu |= cpu;
        some_memory |= memory;
    }
    Some(match (any_ready, any_compatible, some_cpu, some_memory) {
        (false, ..) => PendingReason::NoReadyNode,
        (true, false, ..) => PendingReason::OsOrArchMismatch,
        (_, _, false, true) => PendingReason::InsufficientCpu,
        (_, _, true, false) => PendingReason::InsufficientMemory,
        _ => PendingReason::InsufficientCpuAndMemory,
    })
}

/// The pending decision for a task that no node fits (policies call it after their scan found none).
fn nothing_fits(task: &TaskRequest, cluster: &ClusterState) -> Decision {
    // A scan that found nothing agrees with `why_nothing_fits`; the fallback is never reached.
    Decision::Pending(
        why_nothing_fits(task, cluster).unwrap_or(PendingReason::InsufficientCpuAndMemory),
    )
}

/// Fills `out` with every node that fits `task`, by ascending index.
fn fitting_nodes(task: &TaskRequest, cluster: &ClusterState, out: &mut Vec<usize>) {
    out.clear();
    out.extend((0..cluster.nodes().len()).filter(|&node| cluster.fits(node, task)));
}

/// Keeps the candidates with the smallest key, in their order.
fn keep_min_by_key<K: Ord>(candidates: &mut Vec<usize>, key: impl Fn(usize) -> K) {
    if let Some(best) = candidates.iter().map(|&node| key(node)).min() {
        candidates.retain(|&node| key(node) == best);
    }
}

/// Keeps the candidates with the largest key, in their order.
fn keep_max_by_key<K: Ord>(candidates: &mut Vec<usize>, key: impl Fn(usize) -> K) {
    if let Some(best) = candidates.iter().map(|&node| key(node)).max() {
        candidates.retain(|&node| key(node) == best);
    }
}

/// The count of `service`'s tasks on each of `sorted_nodes` (ascending indexes), into `out`: a merge
/// with the cluster's per-service index, O(candidates + nodes running the service).
fn service_counts(
    cluster: &ClusterState,
    service: usize,
    sorted_nodes: &[usize],
    out: &mut Vec<u32>,
) {
    out.clear();
    let mut running = cluster.service_nodes(service).peekable();
    for &node in sorted_nodes {
        while running.next_if(|&(other, _)| other < node).is_some() {}
        out.push(match running.peek() {
            Some(&(other, count)) if other == node => count,
            _ => 0,
        });
    }
}

/// A uniform index below `bound` (> 0), by Lemire's multiply-shift (one draw, negligible bias).
fn uniform_index(rng: &mut ChaCha8Rng, bound: usize) -> usize {
    use rand_core::Rng;
    ((u128::from(rng.next_u64()) * bound as u128) >> 64) as usize
}
