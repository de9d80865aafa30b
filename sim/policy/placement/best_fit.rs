//! Best fit: the most loaded node that fits, by allocated cpu share, then allocated memory share
//! (as dslab's BestFit: "uses the most loaded (by allocated CPU) suitable host").

use super::{Decision, PlacementPolicy, nothing_fits};
use crate::cluster::state::{ClusterState, NodeState, TaskRequest};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;

/// Places each task on the fitting node with the highest allocated cpu share (allocated / capacity,
/// before placement), ties by the higher allocated memory share, then the lowest index.
#[derive(Debug, Clone, Copy, Default)]
pub struct BestFit;

/// Compares two nodes' load: allocated cpu share, then allocated memory share, exactly (no floats).
pub(super) fn compare_load(a: &NodeState, b: &NodeState) -> Ordering {
    let share =
        |allocated: u64, capacity: u64| (u128::from(allocated), u128::from(capacity.max(1)));
    let compare = |(a_used, a_cap): (u128, u128), (b_used, b_cap): (u128, u128)| {
        (a_used * b_cap).cmp(&(b_used * a_cap))
    };
    compare(
        share(a.allocated.cpu_millis, a.capacity.cpu_millis),
        share(b.allocated.cpu_millis, b.capacity.cpu_millis),
    )
    .then_with(|| {
        compare(
            share(a.allocated.memory_bytes, a.capacity.memory_bytes),
            share(b.allocated.memory_bytes, b.capacity.memory_bytes),
        )
    })
}

/// The fitting node that `better` prefers over every other, the lowest index among equals.
pub(super) fn best_by(
    task: &TaskRequest,
    cluster: &ClusterState,
    better: impl Fn(&NodeState, &NodeState) -> bool,
) -> Decision {
    let nodes = cluster.nodes();
    let mut best: Option<usize> = None;
    for node in 0..nodes.len() {
        if cluster.fits(node, task) && best.is_none_or(|best| better(&nodes[node], &nodes[best])) {
            best = Some(node);
        }
    }
    match best {
        Some(node) => Decision::Place(node),
        None => nothing_fits(task, cluster),
    }
}

impl PlacementPolicy for BestFit {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        _rng: &mut ChaCha8Rng,
    ) -> Decision {
        best_by(task, cluster, |node, best| {
            compare_load(node, best) == Ordering::Greater
        })
    }
}
