//! kube-scheduler scoring: filter (room, OS / architecture, and a `DoNotSchedule` topology spread),
//! then a weighted sum of 0–100 plugin scores; the highest total wins, the lowest index on ties
//! (kube-scheduler draws among ties at random; we stay deterministic).
//!
//! The scores follow kube-scheduler's integer arithmetic (facts/domain.md §2; kubernetes
//! `pkg/scheduler/framework/plugins`), with `requested` = the node's reservations plus the task:
//! - LeastAllocated (`noderesources/least_allocated.go`): per resource `(cap − requested) × 100 / cap`,
//!   averaged over cpu and memory (integer division).
//! - MostAllocated (`most_allocated.go`): per resource `requested × 100 / cap`, averaged.
//! - BalancedAllocation (`balanced_allocation.go`): `(1 − std(f_cpu, f_mem)) × 100`, truncated, where
//!   `f = requested / cap` and the std of two values is `|f_cpu − f_mem| / 2`.
//! - PodTopologySpread (`podtopologyspread/`), over the tasks of the same service. Domains are the
//!   zones (or nodes) that hold a ready node running the task's OS and architecture; `skew` = the
//!   count in the node's domain after placement − the global minimum over domains. `DoNotSchedule`
//!   filters nodes whose skew would exceed `max_skew`. `ScheduleAnyway` scores
//!   `raw = round(count × ln(domains + 2) + max_skew − 1)` over the candidates, normalised as
//!   `100 × (max + min − raw) / max` (100 for all when `max` is 0): fewer tasks in the domain score
//!   higher; its weight is [`TOPOLOGY_SPREAD_WEIGHT`].

use super::{
    Decision, PendingReason, PlacementPolicy, SpreadField, TopologySpread, Unsatisfiable,
    compatible, nothing_fits, service_counts,
};
use crate::cluster::state::{ClusterState, NodeLifecycle, NodeState, TaskRequest};
use rand_chacha::ChaCha8Rng;

/// The weight of the PodTopologySpread score: kube-scheduler's default plugin weight.
pub const TOPOLOGY_SPREAD_WEIGHT: f64 = 2.0;

/// The highest score a plugin gives (kube-scheduler's `MaxNodeScore`).
const MAX_NODE_SCORE: u64 = 100;

/// Kubernetes-style placement: filter, then the weighted sum of scores.
#[derive(Debug, Clone)]
pub struct KubernetesScoring {
    least_allocated: f64,
    most_allocated: f64,
    balanced_allocation: f64,
    topology_spread: Option<TopologySpread>,
    /// The nodes that passed the filters so far, by ascending index.
    candidates: Vec<Candidate>,
    /// Ready nodes with the task's OS and architecture (node topology only).
    eligible: Vec<usize>,
    /// Per zone: (holds an eligible node, holds a candidate).
    zone_flags: Vec<(bool, bool)>,
    nodes: Vec<usize>,
    counts: Vec<u32>,
    raw: Vec<u64>,
}

/// A node that passed the filters so far, with its score and its domain's task count.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    node: usize,
    score: f64,
    count: u32,
}

impl KubernetesScoring {
    /// Validates the weights (finite, ≥ 0) and the spread (zone or node, `max_skew` ≥ 1).
    pub fn new(
        least_allocated: f64,
        most_allocated: f64,
        balanced_allocation: f64,
        topology_spread: Option<TopologySpread>,
    ) -> Result<Self, String> {
        for (name, weight) in [
            ("least_allocated", least_allocated),
            ("most_allocated", most_allocated),
            ("balanced_allocation", balanced_allocation),
        ] {
            if !weight.is_finite() || weight < 0.0 {
                return Err(format!(
                    "{name} weight must be a finite number ≥ 0, not {weight}"
                ));
            }
        }
        if let Some(spread) = &topology_spread {
            if let SpreadField::Attribute(name) = &spread.topology {
                return Err(format!(
                    "topology spread supports the topologies zone and node, not attribute:{name}"
                ));
            }
            if spread.max_skew == 0 {
                return Err("topology spread max_skew must be at least 1".to_string());
            }
        }
        Ok(KubernetesScoring {
            least_allocated,
            most_allocated,
            balanced_allocation,
            topology_spread,
            candidates: Vec::new(),
            eligible: Vec::new(),
            zone_flags: Vec::new(),
            nodes: Vec::new(),
            counts: Vec::new(),
            raw: Vec::new(),
        })
    }

    /// One pass over the nodes: the candidates (nodes that fit) with their resource scores and, for
    /// a zone spread, their zone's task count; and the topology domains (the zones, or nodes, that
    /// hold a ready node with the task's OS and architecture).
    fn scan(&mut self, task: &TaskRequest, cluster: &ClusterState, spread: Option<&SpreadField>) {
        self.candidates.clear();
        self.eligible.clear();
        self.zone_flags.clear();
        self.zone_flags
            .resize(cluster.zones().len(), (false, false));
        for (index, node) in cluster.nodes().iter().enumerate() {
            if node.lifecycle != NodeLifecycle::Ready || !compatible(node, task) {
                continue;
            }
            match spread {
                Some(SpreadField::Zone) => self.zone_flags[node.zone].0 = true,
                Some(_) => self.eligible.push(index),
                None => {}
            }
            if node.free().covers(&task.resources) {
                let count = match spread {
                    Some(SpreadField::Zone) => {
                        self.zone_flags[node.zone].1 = true;
                        cluster.tasks_in_zone(task.service, node.zone)
                    }
                    _ => 0,
                };
                self.candidates.push(Candidate {
                    node: index,
                    score: self.resource_score(node, task),
                    count,
                });
            }
        }
    }

    /// Sets each candidate's domain count (node topology; zone counts come from the scan); returns
    /// the global minimum over the domains and the number of domains among the candidates.
    fn domain_counts(
        &mut self,
        by_zone: bool,
        service: usize,
        cluster: &ClusterState,
    ) -> (u32, usize) {
        if by_zone {
            let minimum = (0..self.zone_flags.len())
                .filter(|&zone| self.zone_flags[zone].0)
                .map(|zone| cluster.tasks_in_zone(service, zone))
                .min()
                .unwrap_or(0);
            let domains = self.zone_flags.iter().filter(|flags| flags.1).count();
            (minimum, domains)
        } else {
            service_counts(cluster, service, &self.eligible, &mut self.counts);
            let minimum = self.counts.iter().copied().min().unwrap_or(0);
            self.nodes.clear();
            self.nodes
                .extend(self.candidates.iter().map(|candidate| candidate.node));
            service_counts(cluster, service, &self.nodes, &mut self.counts);
            for (candidate, &count) in self.candidates.iter_mut().zip(&self.counts) {
                candidate.count = count;
            }
            (minimum, self.candidates.len())
        }
    }

    /// Adds the weighted, normalised ScheduleAnyway score to each candidate.
    fn add_spread_scores(&mut self, spread: &TopologySpread, domains: usize) {
        let weight = ((domains + 2) as f64).ln();
        let offset = f64::from(spread.max_skew - 1);
        // Counts repeat (one per zone), so remember the last raw score rather than round each time.
        let mut last: Option<(u32, u64)> = None;
        let mut raw = |count: u32| match last {
            Some((seen, raw)) if seen == count => raw,
            _ => {
                let raw = (f64::from(count) * weight + offset).round() as u64;
                last = Some((count, raw));
                raw
            }
        };
        self.raw.clear();
        self.raw
            .extend(self.candidates.iter().map(|candidate| raw(candidate.count)));
        let max = self.raw.iter().copied().max().unwrap_or(0);
        let min = self.raw.iter().copied().min().unwrap_or(0);
        for (candidate, &raw) in self.candidates.iter_mut().zip(&self.raw) {
            let normalised = (MAX_NODE_SCORE * (max + min - raw))
                .checked_div(max)
                .unwrap_or(MAX_NODE_SCORE);
            candidate.score += TOPOLOGY_SPREAD_WEIGHT * normalised as f64;
        }
    }

    /// The weighted resource scores of placing `task` on `node`.
    fn resource_score(&self, node: &NodeState, task: &TaskRequest) -> f64 {
        let requested = [
            node.allocated.cpu_millis + task.resources.cpu_millis,
            node.allocated.memory_bytes + task.resources.memory_bytes,
        ];
        let capacity = [node.capacity.cpu_millis, node.capacity.memory_bytes];
        let mut total = 0.0;
        if self.least_allocated > 0.0 {
            total += self.least_allocated * average(requested, capacity, least_requested) as f64;
        }
        if self.most_allocated > 0.0 {
            total += self.most_allocated * average(requested, capacity, most_requested) as f64;
        }
        if self.balanced_allocation > 0.0 {
            total += self.balanced_allocation * balanced(requested, capacity) as f64;
        }
        total
    }
}

/// `amount × 100 / capacity` (capacity > 0), exact: in u64 unless that would overflow.
fn percent(amount: u64, capacity: u64) -> u64 {
    match amount.checked_mul(MAX_NODE_SCORE) {
        Some(scaled) => scaled / capacity,
        None => (u128::from(amount) * u128::from(MAX_NODE_SCORE) / u128::from(capacity)) as u64,
    }
}

/// `(cap − requested) × 100 / cap`, 0 when over capacity.
fn least_requested(requested: u64, capacity: u64) -> u64 {
    percent(capacity.saturating_sub(requested), capacity)
}

/// `requested × 100 / cap`, capped at 100.
fn most_requested(requested: u64, capacity: u64) -> u64 {
    percent(requested.min(capacity), capacity)
}

/// The integer average of a per-resource score over the resources with capacity.
fn average(requested: [u64; 2], capacity: [u64; 2], score: fn(u64, u64) -> u64) -> u64 {
    let (mut sum, mut count) = (0, 0);
    for (requested, capacity) in requested.into_iter().zip(capacity) {
        if capacity > 0 {
            sum += score(requested, capacity);
            count += 1;
        }
    }
    sum.checked_div(count).unwrap_or(0)
}

/// `(1 − |f_cpu − f_mem| / 2) × 100`, truncated; 100 when fewer than two resources have capacity.
fn balanced(requested: [u64; 2], capacity: [u64; 2]) -> u64 {
    if capacity.contains(&0) {
        return MAX_NODE_SCORE;
    }
    let fraction = |i: usize| (requested[i] as f64 / capacity[i] as f64).min(1.0);
    let std = ((fraction(0) - fraction(1)) / 2.0).abs();
    ((1.0 - std) * MAX_NODE_SCORE as f64) as u64
}

impl PlacementPolicy for KubernetesScoring {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        _rng: &mut ChaCha8Rng,
    ) -> Decision {
        let spread = self.topology_spread.clone();
        self.scan(
            task,
            cluster,
            spread.as_ref().map(|spread| &spread.topology),
        );
        if self.candidates.is_empty() {
            return nothing_fits(task, cluster);
        }
        if let Some(spread) = spread {
            let by_zone = spread.topology == SpreadField::Zone;
            let (minimum, domains) = self.domain_counts(by_zone, task.service, cluster);
            match spread.when_unsatisfiable {
                Unsatisfiable::DoNotSchedule => {
                    // Keep skew = count + 1 − minimum ≤ max_skew, i.e. count < minimum + max_skew.
                    let limit = u64::from(minimum) + u64::from(spread.max_skew);
                    self.candidates
                        .retain(|candidate| u64::from(candidate.count) < limit);
                    if self.candidates.is_empty() {
                        return Decision::Pending(PendingReason::TopologySpread);
                    }
                }
                Unsatisfiable::ScheduleAnyway => self.add_spread_scores(&spread, domains),
            }
        }
        // The highest total; the lowest index on ties (candidates are in index order).
        let mut best = self.candidates[0];
        for candidate in &self.candidates[1..] {
            if candidate.score > best.score {
                best = *candidate;
            }
        }
        Decision::Place(best.node)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{ClusterBuilder, GIB, task};
    use super::*;

    #[test]
    fn scores_follow_kube_scheduler_arithmetic() {
        // 4 cpu / 16 GiB, 1 cpu and 10 GiB reserved; the task asks 1 cpu and 4 GiB.
        let requested = [2000, 14 * GIB];
        let capacity = [4000, 16 * GIB];
        // cpu (4000 − 2000) × 100 / 4000 = 50; memory 2 × 100 / 16 = 12 (12.5 truncated) → 31.
        assert_eq!(average(requested, capacity, least_requested), 31);
        // 50 and 87 (87.5 truncated) → 68.
        assert_eq!(average(requested, capacity, most_requested), 68);
        // f = 0.5 and 0.875 → std 0.1875 → 81.25 → 81.
        assert_eq!(balanced(requested, capacity), 81);
        assert_eq!(balanced([0, 0], capacity), 100);
    }

    #[test]
    fn topology_spread_is_validated() {
        let spread = |topology, max_skew| {
            Some(TopologySpread {
                topology,
                max_skew,
                when_unsatisfiable: Unsatisfiable::DoNotSchedule,
            })
        };
        assert!(KubernetesScoring::new(1.0, 0.0, 1.0, spread(SpreadField::Zone, 1)).is_ok());
        let error = KubernetesScoring::new(1.0, 0.0, 1.0, spread(SpreadField::Zone, 0));
        assert!(error.unwrap_err().contains("max_skew"));
        let error =
            KubernetesScoring::new(1.0, 0.0, 1.0, spread(SpreadField::Attribute("x".into()), 1));
        assert!(error.unwrap_err().contains("zone and node"));
        let error = KubernetesScoring::new(-1.0, 0.0, 1.0, None);
        assert!(error.unwrap_err().contains("least_allocated"));
        let error = KubernetesScoring::new(1.0, f64::NAN, 1.0, None);
        assert!(error.unwrap_err().contains("most_allocated"));
    }

    /// Zones a, b. Service 0 has 3 tasks in a (n0), none in b (n1, which has less room).
    fn skewed() -> ClusterState {
        let mut builder = ClusterBuilder::new(&["a", "b"]);
        builder.node("a", 4, 16).tasks(0, 3);
        builder.node("b", 4, 16).load(2000, 8);
        builder.build()
    }

    /// (spread, expected decision) for a 1-cpu, 2-GiB task of service 0 under LeastAllocated.
    #[test]
    fn topology_spread_filters_or_scores() {
        let spread = |topology, max_skew, when_unsatisfiable| {
            Some(TopologySpread {
                topology,
                max_skew,
                when_unsatisfiable,
            })
        };
        use Unsatisfiable::{DoNotSchedule, ScheduleAnyway};
        let table = [
            // LeastAllocated alone prefers the empty n0.
            (None, Decision::Place(0)),
            // a holds 3, b 0: placing in a gives skew 4.
            (
                spread(SpreadField::Zone, 3, DoNotSchedule),
                Decision::Place(1),
            ),
            (
                spread(SpreadField::Zone, 4, DoNotSchedule),
                Decision::Place(0),
            ),
            (
                spread(SpreadField::Node, 3, DoNotSchedule),
                Decision::Place(1),
            ),
            // ScheduleAnyway: raw a = round(3 ln 4 + 0) = 4, b = 0 → n0 scores 0, n1 100 (× 2).
            (
                spread(SpreadField::Zone, 1, ScheduleAnyway),
                Decision::Place(1),
            ),
        ];
        for (topology_spread, expected) in table {
            let mut policy =
                KubernetesScoring::new(1.0, 0.0, 0.0, topology_spread.clone()).unwrap();
            let mut rng = crate::rng::stream(1, 0, "placement-test");
            let decision = policy.place(&task(0, 1000, 2 * GIB), &skewed(), &mut rng);
            assert_eq!(decision, expected, "{topology_spread:?}");
        }
    }

    #[test]
    fn do_not_schedule_leaves_the_task_pending_and_schedule_anyway_places_it() {
        // b's only node is full for this task: DoNotSchedule cannot put it in a (skew 2 > 1).
        let mut builder = ClusterBuilder::new(&["a", "b"]);
        builder.node("a", 4, 16).tasks(0, 1);
        builder.node("b", 4, 16).load(4000, 0);
        let cluster = builder.build();
        let mut rng = crate::rng::stream(1, 0, "placement-test");
        let spread = |when_unsatisfiable| {
            Some(TopologySpread {
                topology: SpreadField::Zone,
                max_skew: 1,
                when_unsatisfiable,
            })
        };
        let mut strict =
            KubernetesScoring::new(1.0, 0.0, 1.0, spread(Unsatisfiable::DoNotSchedule)).unwrap();
        assert_eq!(
            strict.place(&task(0, 1000, GIB), &cluster, &mut rng),
            Decision::Pending(PendingReason::TopologySpread)
        );
        let mut soft =
            KubernetesScoring::new(1.0, 0.0, 1.0, spread(Unsatisfiable::ScheduleAnyway)).unwrap();
        assert_eq!(
            soft.place(&task(0, 1000, GIB), &cluster, &mut rng),
            Decision::Place(0)
        );
        // A zone with no ready node is no domain: with b draining, a's count is the minimum.
        let mut builder = ClusterBuilder::new(&["a", "b"]);
        builder.node("a", 4, 16).tasks(0, 1);
        builder.node("b", 4, 16).lifecycle(NodeLifecycle::Draining);
        let cluster = builder.build();
        assert_eq!(
            strict.place(&task(0, 1000, GIB), &cluster, &mut rng),
            Decision::Place(0)
        );
    }

    /// (least, most, balanced, expected node): n0 is half full with memory-heavy load, n1 nearly
    /// empty, n2 evenly loaded; the task asks 1 cpu and 2 GiB.
    #[test]
    fn weights_pick_from_the_table() {
        let mut builder = ClusterBuilder::new(&["a"]);
        builder.node("a", 4, 16).load(1000, 12); // requested 2000 / 14 GiB
        builder.node("a", 4, 16).load(0, 0); // 1000 / 2 GiB
        builder.node("a", 4, 16).load(2000, 6); // 3000 / 8 GiB
        let cluster = builder.build();
        // least: n0 (50 + 12) / 2 = 31, n1 (75 + 87) / 2 = 81, n2 (25 + 50) / 2 = 37.
        // most: n0 (50 + 87) / 2 = 68, n1 (25 + 12) / 2 = 18, n2 (75 + 50) / 2 = 62.
        // balanced: n0 f 0.5 / 0.875 → 81, n1 0.25 / 0.125 → 93, n2 0.75 / 0.5 → 87.
        let table = [
            (1.0, 0.0, 0.0, 1),
            (0.0, 1.0, 0.0, 0),
            (0.0, 0.0, 1.0, 1),
            (0.0, 1.0, 1.0, 0), // n0 149, n1 111, n2 149: the lowest index wins the tie.
            (0.0, 1.0, 2.0, 2), // n0 230, n2 236.
            (0.0, 0.0, 0.0, 0), // all tie.
        ];
        for (least, most, balanced, expected) in table {
            let mut policy = KubernetesScoring::new(least, most, balanced, None).unwrap();
            let mut rng = crate::rng::stream(1, 0, "placement-test");
            assert_eq!(
                policy.place(&task(0, 1000, 2 * GIB), &cluster, &mut rng),
                Decision::Place(expected),
                "least {least} most {most} balanced {balanced}"
            );
        }
    }
}
