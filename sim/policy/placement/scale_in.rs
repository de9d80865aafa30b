//! Scale-in: which running task of a service to stop.
//!
//! - ECS (facts/domain.md §1): the strategies apply in order, each narrowing the tasks the earlier
//!   ones left: `binpack(r)` keeps the tasks on the nodes with the most free `r` (the most left
//!   afterwards); `spread(field)` keeps the tasks whose field value (zone, node, attribute) holds the
//!   most of the service's tasks, so the service stays balanced; `random` draws one. Whatever is still
//!   tied at the end is drawn at random (ECS: "random within the zone"); no strategy means random.
//! - Kubernetes (the ReplicaSet controller's ranking, reduced to what the model knows): the task on
//!   the node running the most tasks of the service ("doubled-up" pods go first), the most recently
//!   started among those. No draw.
//! - First, best and worst fit, and custom policies: the most recently started task (last in, first
//!   out). No draw.
//!
//! "Most recently started" means the last in `candidates`: pass them in start order, oldest first.
//! Counts for spread and for Kubernetes are taken over `candidates` (the tasks that may be stopped).

use super::{PlacementSpec, Strategy, binpack, spread, uniform_index};
use crate::cluster::state::ClusterState;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Chooses the task of `service` to stop: an index into `candidates`, which holds the node index of
/// each running task in start order (oldest first). See the module docs for each kind of spec.
///
/// # Panics
/// If `candidates` is empty (the model only scales in a service that runs tasks).
pub fn select_task_to_stop(
    spec: &PlacementSpec,
    service: usize,
    candidates: &[usize],
    cluster: &ClusterState,
    rng: &mut ChaCha8Rng,
) -> usize {
    assert!(
        !candidates.is_empty(),
        "no task of service {service} to stop"
    );
    match spec {
        PlacementSpec::Ecs { strategies, .. } => {
            let mut kept: Vec<usize> = (0..candidates.len()).collect();
            for strategy in strategies {
                if kept.len() <= 1 {
                    break;
                }
                match strategy {
                    Strategy::Binpack(resource) => {
                        binpack::narrow_for_stop(*resource, cluster, candidates, &mut kept)
                    }
                    Strategy::Spread(field) => {
                        spread::narrow_for_stop(field, cluster, candidates, &mut kept)
                    }
                    Strategy::Random => break,
                }
            }
            kept[uniform_index_if_needed(rng, kept.len())]
        }
        PlacementSpec::Kubernetes { .. } => {
            let mut per_node: BTreeMap<usize, u32> = BTreeMap::new();
            for &node in candidates {
                *per_node.entry(node).or_insert(0) += 1;
            }
            let most = per_node.values().copied().max().unwrap_or(0);
            (0..candidates.len())
                .rev()
                .find(|&task| per_node[&candidates[task]] == most)
                .expect("some node holds the most tasks")
        }
        PlacementSpec::FirstFit
        | PlacementSpec::BestFit
        | PlacementSpec::WorstFit
        | PlacementSpec::Custom { .. } => candidates.len() - 1,
    }
}

/// A uniform index below `bound`, drawing only when there is a choice.
fn uniform_index_if_needed(rng: &mut ChaCha8Rng, bound: usize) -> usize {
    if bound > 1 {
        uniform_index(rng, bound)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::ClusterBuilder;
    use super::super::{SpreadField, TopologySpread, Unsatisfiable};
    use super::*;

    fn ecs(strategies: &[&str]) -> PlacementSpec {
        PlacementSpec::ecs(strategies, &[]).unwrap()
    }

    /// Zones a, b. Free (cpu millis / GiB): n0 a 3000/4 · n1 a 1000/12 · n2 b 2000/8.
    /// The service's tasks, oldest first, run on n0, n1, n1, n2.
    fn cluster() -> ClusterState {
        let mut builder = ClusterBuilder::new(&["a", "b"]);
        builder.node("a", 4, 16).load(1000, 12);
        builder.node("a", 4, 16).load(3000, 4);
        builder.node("b", 4, 16).load(2000, 8).attr("rack", "r1");
        builder.build()
    }
    const TASKS: [usize; 4] = [0, 1, 1, 2];

    /// (spec, the tasks it may choose): deterministic ones name one task; random ones a set.
    #[test]
    fn scale_in_picks_from_the_table() {
        let kubernetes = PlacementSpec::Kubernetes {
            least_allocated: 1.0,
            most_allocated: 0.0,
            balanced_allocation: 1.0,
            topology_spread: Some(TopologySpread {
                topology: SpreadField::Zone,
                max_skew: 1,
                when_unsatisfiable: Unsatisfiable::DoNotSchedule,
            }),
        };
        let table: Vec<(PlacementSpec, &[usize])> = vec![
            // The most memory left afterwards: n1 (12 GiB) holds tasks 1 and 2.
            (ecs(&["binpack(memory)"]), &[1, 2]),
            // The most cpu left: n0.
            (ecs(&["binpack(cpu)"]), &[0]),
            // Zone a holds 3 tasks, b one: a task in a, at random.
            (ecs(&["spread(zone)"]), &[0, 1, 2]),
            (ecs(&["spread(zone)", "binpack(cpu)"]), &[0]),
            // n1 holds 2.
            (ecs(&["spread(node)"]), &[1, 2]),
            (ecs(&["spread(instanceId)"]), &[1, 2]),
            // rack: n2 has r1 (1 task), the others none (3 tasks).
            (ecs(&["spread(attribute:rack)"]), &[0, 1, 2]),
            (ecs(&["random"]), &[0, 1, 2, 3]),
            (ecs(&[]), &[0, 1, 2, 3]),
            // Doubled-up on n1, the most recent of the two.
            (kubernetes, &[2]),
            (PlacementSpec::FirstFit, &[3]),
            (PlacementSpec::BestFit, &[3]),
            (PlacementSpec::WorstFit, &[3]),
            (PlacementSpec::Custom { name: "x".into() }, &[3]),
        ];
        let cluster = cluster();
        for (spec, allowed) in table {
            let mut rng = crate::rng::stream(1, 0, "scale-in-test");
            let mut seen = Vec::new();
            for _ in 0..200 {
                let chosen = select_task_to_stop(&spec, 0, &TASKS, &cluster, &mut rng);
                assert!(allowed.contains(&chosen), "{spec}: chose {chosen}");
                if !seen.contains(&chosen) {
                    seen.push(chosen);
                }
            }
            seen.sort_unstable();
            assert_eq!(
                seen, allowed,
                "{spec}: every allowed task is chosen sometimes"
            );
        }
    }

    #[test]
    fn a_single_task_is_stopped_without_a_draw() {
        let cluster = cluster();
        let mut rng = crate::rng::stream(1, 0, "scale-in-test");
        let before = rng.clone();
        assert_eq!(
            select_task_to_stop(&ecs(&["random"]), 0, &[2], &cluster, &mut rng),
            0
        );
        assert_eq!(rng, before);
    }
}
