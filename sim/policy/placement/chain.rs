//! The ECS placement chain: nodes with room, then the constraints, then the strategies in order, each
//! breaking the ties the earlier ones left; the lowest node index breaks what is still tied.
//!
//! Common chains skip the full scan (constraints are checked on the nodes they visit):
//! - any chain that starts with `binpack(r)` or with `[spread(zone), binpack(r)]` walks the cluster's
//!   free-capacity index from the task's request upwards and stops at the first node with more room
//!   than the best fit, then applies the remaining strategies to the tie group;
//! - `[spread(zone)]` (ECS's default) and `[spread(zone), spread(node)]` walk the nodes of the least
//!   loaded zones by index and stop at the first fitting node (that runs none of the service's tasks).
//!
//! They decide exactly what the scan would, draws included (a property test checks that). When they
//! find no node, the scan runs to say why the task stays pending.

use super::{
    Constraint, Decision, PendingReason, PlacementPolicy, SpreadField, Strategy, binpack,
    fitting_nodes, nothing_fits, random, spread,
};
use crate::cluster::state::{ClusterState, TaskRequest};
use rand_chacha::ChaCha8Rng;

/// ECS placement: constraints filter, strategies choose.
#[derive(Debug, Clone)]
pub struct EcsChain {
    strategies: Vec<Strategy>,
    constraints: Vec<Constraint>,
    indexed: bool,
    candidates: Vec<usize>,
    counts: Vec<u32>,
    zones: Vec<(u32, usize)>,
}

impl EcsChain {
    /// A chain of `strategies` (in order) under `constraints` (all must hold).
    pub fn new(strategies: Vec<Strategy>, constraints: Vec<Constraint>) -> Self {
        EcsChain {
            strategies,
            constraints,
            indexed: true,
            candidates: Vec::new(),
            counts: Vec::new(),
            zones: Vec::new(),
        }
    }

    /// The same chain, always deciding by a full scan (for tests and benchmarks of the fast paths).
    pub fn without_index(mut self) -> Self {
        self.indexed = false;
        self
    }

    /// Narrows `candidates` by the strategies, then takes the lowest index.
    fn choose(
        strategies: &[Strategy],
        task: &TaskRequest,
        cluster: &ClusterState,
        rng: &mut ChaCha8Rng,
        candidates: &mut Vec<usize>,
        counts: &mut Vec<u32>,
    ) -> Decision {
        for strategy in strategies {
            if candidates.len() <= 1 {
                break;
            }
            match strategy {
                Strategy::Binpack(resource) => binpack::narrow(*resource, cluster, candidates),
                Strategy::Spread(field) => {
                    spread::narrow(field, task.service, cluster, candidates, counts)
                }
                Strategy::Random => random::narrow(rng, candidates),
            }
        }
        Decision::Place(candidates[0])
    }

    /// The fast paths; `None` when the chain has none, or when they find no node (the scan then
    /// says why).
    fn place_indexed(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        rng: &mut ChaCha8Rng,
    ) -> Option<Decision> {
        let EcsChain {
            strategies,
            constraints,
            candidates,
            counts,
            zones,
            ..
        } = self;
        let allowed = |node: usize| {
            constraints
                .iter()
                .all(|constraint| constraint.allows(node, task.service, cluster))
        };
        let rest: &[Strategy] = match strategies.as_slice() {
            [Strategy::Binpack(resource), rest @ ..] => {
                candidates.clear();
                let mut best = None;
                binpack::tightest_fitting(
                    *resource, None, task, cluster, &allowed, &mut best, candidates,
                );
                rest
            }
            [
                Strategy::Spread(SpreadField::Zone),
                Strategy::Binpack(resource),
                rest @ ..,
            ] => {
                spread::least_loaded_zones_binpacked(
                    *resource, task, cluster, &allowed, zones, candidates,
                );
                rest
            }
            [Strategy::Spread(SpreadField::Zone)] => {
                spread::least_loaded_zones_first(false, task, cluster, &allowed, zones, candidates);
                &[]
            }
            [
                Strategy::Spread(SpreadField::Zone),
                Strategy::Spread(SpreadField::Node),
            ] => {
                spread::least_loaded_zones_first(true, task, cluster, &allowed, zones, candidates);
                &[]
            }
            _ => return None,
        };
        if candidates.is_empty() {
            return None;
        }
        Some(Self::choose(rest, task, cluster, rng, candidates, counts))
    }

    /// The general path: a scan of every node.
    fn place_scanned(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        rng: &mut ChaCha8Rng,
    ) -> Decision {
        fitting_nodes(task, cluster, &mut self.candidates);
        if self.candidates.is_empty() {
            return nothing_fits(task, cluster);
        }
        for constraint in &self.constraints {
            constraint.retain(
                task.service,
                cluster,
                &mut self.candidates,
                &mut self.counts,
            );
            if self.candidates.is_empty() {
                return Decision::Pending(PendingReason::Constraint(constraint.to_string()));
            }
        }
        Self::choose(
            &self.strategies,
            task,
            cluster,
            rng,
            &mut self.candidates,
            &mut self.counts,
        )
    }
}

impl PlacementPolicy for EcsChain {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        rng: &mut ChaCha8Rng,
    ) -> Decision {
        if self.indexed
            && let Some(decision) = self.place_indexed(task, cluster, rng)
        {
            return decision;
        }
        self.place_scanned(task, cluster, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{ClusterBuilder, GIB, task};
    use super::super::{PlacementSpec, Registry, parse_constraint, parse_strategy};
    use super::*;

    fn chain(strategies: &[&str], constraints: &[&str]) -> PlacementSpec {
        PlacementSpec::ecs(strategies, constraints).unwrap()
    }

    /// Zones a, b, c; every node 4 vCPU / 16 GiB. Free (cpu millis / GiB), tasks of service 0, team:
    /// n0 a 1000/4 1 · n1 b 1000/12 1 · n2 c 3000/6 1 · n3 a 3000/6 1 web · n4 a 3000/10 0 ·
    /// n5 c 3000/6 0 api. Tasks of service 0 per zone: a 2, b 1, c 1.
    fn cluster() -> ClusterState {
        let mut builder = ClusterBuilder::new(&["a", "b", "c"]);
        builder.node("a", 4, 16).load(3000, 12).tasks(0, 1);
        builder.node("b", 4, 16).load(3000, 4).tasks(0, 1);
        builder.node("c", 4, 16).load(1000, 10).tasks(0, 1);
        builder
            .node("a", 4, 16)
            .load(1000, 10)
            .tasks(0, 1)
            .attr("team", "web");
        builder.node("a", 4, 16).load(1000, 6);
        builder.node("c", 4, 16).load(1000, 10).attr("team", "api");
        builder.build()
    }

    /// (strategies, constraints, expected node) for a 1-cpu, 2-GiB task of service 0 (every node fits).
    #[test]
    fn chains_break_ties_in_order() {
        let table: &[(&[&str], &[&str], usize)] = &[
            (&[], &[], 0),
            (&["binpack(memory)"], &[], 0),
            // n0 and n1 tie on cpu: the lowest index, or the next strategy, decides.
            (&["binpack(cpu)"], &[], 0),
            (&["binpack(cpu)", "binpack(memory)"], &[], 0),
            (&["binpack(cpu)", "spread(zone)"], &[], 1),
            // b and c have the fewest tasks: n1, n2, n5.
            (&["spread(zone)"], &[], 1),
            (&["spread(zone)", "binpack(memory)"], &[], 2),
            (&["spread(zone)", "binpack(cpu)"], &[], 1),
            (&["spread(zone)", "binpack(memory)", "spread(node)"], &[], 5),
            (
                &["spread(attribute:ecs.availability-zone)", "binpack(memory)"],
                &[],
                2,
            ),
            (&["spread(zone)", "spread(node)"], &[], 5),
            (&["spread(node)"], &[], 4),
            (&["spread(node)", "binpack(memory)"], &[], 5),
            (&["spread(instanceId)", "binpack(memory)"], &[], 5),
            (&["spread(host)", "spread(zone)"], &[], 5),
            // team: none has 3 tasks (n0, n1, n2), web 1 (n3), api 0 (n5).
            (&["spread(attribute:team)", "binpack(memory)"], &[], 5),
            (&["binpack(memory)"], &["distinctInstance"], 5),
            (&["spread(zone)"], &["distinctInstance"], 5),
            (
                &["binpack(memory)", "spread(zone)"],
                &["memberOf(attribute:ecs.availability-zone != a)"],
                2,
            ),
            (
                &["binpack(memory)"],
                &[
                    "memberOf(attribute:ecs.availability-zone in [b, c])",
                    "distinctInstance",
                ],
                5,
            ),
            (
                &["binpack(memory)"],
                &["memberOf(attribute:team == web)"],
                3,
            ),
            (&["random"], &["memberOf(attribute:team == web)"], 3),
        ];
        for &(strategies, constraints, expected) in table {
            let spec = chain(strategies, constraints);
            let cluster = cluster();
            for indexed in [true, false] {
                let mut policy = EcsChain::new(
                    strategies
                        .iter()
                        .map(|s| parse_strategy(s).unwrap())
                        .collect(),
                    constraints
                        .iter()
                        .map(|c| parse_constraint(c).unwrap())
                        .collect(),
                );
                if !indexed {
                    policy = policy.without_index();
                }
                let mut rng = crate::rng::stream(1, 0, "placement-test");
                let decision = policy.place(&task(0, 1000, 2 * GIB), &cluster, &mut rng);
                assert_eq!(
                    decision,
                    Decision::Place(expected),
                    "{spec} (indexed: {indexed})"
                );
            }
            // The registry builds the same chain.
            let mut built = Registry::with_builtins().build(&spec).unwrap();
            let mut rng = crate::rng::stream(1, 0, "placement-test");
            assert_eq!(
                built.place(&task(0, 1000, 2 * GIB), &cluster, &mut rng),
                Decision::Place(expected),
                "{spec}"
            );
        }
    }

    #[test]
    fn a_constraint_that_excludes_every_node_with_room_is_named() {
        let cluster = cluster();
        let mut rng = crate::rng::stream(1, 0, "placement-test");
        let mut policy = EcsChain::new(
            vec![parse_strategy("binpack(memory)").unwrap()],
            vec![
                parse_constraint("memberOf(attribute:ecs.availability-zone == a)").unwrap(),
                parse_constraint("distinctInstance").unwrap(),
                parse_constraint("memberOf(attribute:team exists)").unwrap(),
            ],
        );
        // Zone a keeps n0, n3, n4; distinctInstance keeps n4; n4 has no team attribute.
        assert_eq!(
            policy.place(&task(0, 1000, 2 * GIB), &cluster, &mut rng),
            Decision::Pending(PendingReason::Constraint(
                "memberOf(attribute:team exists)".into()
            ))
        );
    }

    #[test]
    fn random_draws_every_tied_node_from_the_rng() {
        let cluster = cluster();
        let mut policy = EcsChain::new(vec![Strategy::Random], Vec::new());
        let mut rng = crate::rng::stream(1, 0, "placement-test");
        let mut seen = [0u32; 6];
        for _ in 0..600 {
            match policy.place(&task(0, 1000, 2 * GIB), &cluster, &mut rng) {
                Decision::Place(node) => seen[node] += 1,
                other => panic!("{other:?}"),
            }
        }
        // Every node fits a 1-cpu, 2-GiB task.
        assert!(seen.iter().all(|&count| count > 60), "{seen:?}");
        // After spread(zone) only b's n1 and c's n2, n5 tie; random picks among them.
        let mut policy = EcsChain::new(
            vec![Strategy::Spread(SpreadField::Zone), Strategy::Random],
            Vec::new(),
        );
        let mut seen = [0u32; 6];
        for _ in 0..300 {
            if let Decision::Place(node) = policy.place(&task(0, 1000, 2 * GIB), &cluster, &mut rng)
            {
                seen[node] += 1;
            }
        }
        assert_eq!((seen[0], seen[3], seen[4]), (0, 0, 0), "{seen:?}");
        assert!(seen[1] > 50 && seen[2] > 50 && seen[5] > 50, "{seen:?}");
    }
}
