//! binpack(cpu | memory): the node with the least remaining amount of the resource that still fits.

use super::{Resource, keep_max_by_key, keep_min_by_key};
use crate::cluster::state::{ClusterState, TaskRequest};

/// Keeps the candidates with the least free `resource` (the request is the same for all of them, so
/// they are also the ones with the least left after placement).
pub(super) fn narrow(resource: Resource, cluster: &ClusterState, candidates: &mut Vec<usize>) {
    let nodes = cluster.nodes();
    keep_min_by_key(candidates, |node| resource.free(&nodes[node]));
}

/// Scale-in: keeps the tasks on the nodes with the most free `resource` (most left afterwards).
pub(super) fn narrow_for_stop(
    resource: Resource,
    cluster: &ClusterState,
    task_nodes: &[usize],
    kept: &mut Vec<usize>,
) {
    let nodes = cluster.nodes();
    keep_max_by_key(kept, |task| resource.free(&nodes[task_nodes[task]]));
}

/// The indexed fast path: walks the ready nodes of `zone` (all zones when `None`) by ascending free
/// `resource`, starting at the task's request, and collects the nodes that fit and are `allowed` with
/// the least free amount into `ties`, merging with ties already found (`best` is their free amount).
/// It stops at the first node with more free than the best, so it costs O(log n + nodes skipped for
/// cpu, OS, architecture or constraints).
pub(super) fn tightest_fitting(
    resource: Resource,
    zone: Option<usize>,
    task: &TaskRequest,
    cluster: &ClusterState,
    allowed: &impl Fn(usize) -> bool,
    best: &mut Option<u64>,
    ties: &mut Vec<usize>,
) {
    let requested = resource.requested(task);
    match resource {
        Resource::Memory => collect(
            cluster.ready_by_free_memory(zone, requested),
            resource,
            task,
            cluster,
            allowed,
            best,
            ties,
        ),
        Resource::Cpu => collect(
            cluster.ready_by_free_cpu(zone, requested),
            resource,
            task,
            cluster,
            allowed,
            best,
            ties,
        ),
    }
}

fn collect(
    by_free: impl Iterator<Item = usize>,
    resource: Resource,
    task: &TaskRequest,
    cluster: &ClusterState,
    allowed: &impl Fn(usize) -> bool,
    best: &mut Option<u64>,
    ties: &mut Vec<usize>,
) {
    let nodes = cluster.nodes();
    for node in by_free {
        let free = resource.free(&nodes[node]);
        if best.is_some_and(|best| free > best) {
            break;
        }
        if cluster.fits(node, task) && allowed(node) {
            if best.is_none_or(|best| free < best) {
                ties.clear();
                *best = Some(free);
            }
            ties.push(node);
        }
    }
}
