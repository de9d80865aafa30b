//! spread(zone | node | attribute:NAME): the node whose field value has the fewest tasks of the same
//! service. Nodes without the attribute share one value of their own.

use super::{Resource, TaskRequest};
use super::{SpreadField, binpack, keep_max_by_key, keep_min_by_key, service_counts};
use crate::cluster::state::ClusterState;
use std::collections::BTreeMap;

/// Keeps the candidates (ascending indexes) whose `field` value has the fewest tasks of `service`,
/// counted over every node. `counts` is scratch space.
pub(super) fn narrow(
    field: &SpreadField,
    service: usize,
    cluster: &ClusterState,
    candidates: &mut Vec<usize>,
    counts: &mut Vec<u32>,
) {
    let nodes = cluster.nodes();
    match field {
        SpreadField::Zone => {
            keep_min_by_key(candidates, |node| {
                cluster.tasks_in_zone(service, nodes[node].zone)
            });
        }
        SpreadField::Node => {
            service_counts(cluster, service, candidates, counts);
            let least = counts.iter().copied().min().unwrap_or(0);
            let mut position = 0;
            candidates.retain(|_| {
                position += 1;
                counts[position - 1] == least
            });
        }
        SpreadField::Attribute(name) => {
            let mut per_value: BTreeMap<Option<&str>, u64> = BTreeMap::new();
            for (node, count) in cluster.service_nodes(service) {
                let value = nodes[node].attributes.get(name).map(String::as_str);
                *per_value.entry(value).or_insert(0) += u64::from(count);
            }
            keep_min_by_key(candidates, |node| {
                let value = nodes[node].attributes.get(name).map(String::as_str);
                per_value.get(&value).copied().unwrap_or(0)
            });
        }
    }
}

/// Fills `zones` with (tasks of the service, zone) for every zone, ascending.
fn zones_by_load(service: usize, cluster: &ClusterState, zones: &mut Vec<(u32, usize)>) {
    zones.clear();
    zones.extend(
        (0..cluster.zones().len()).map(|zone| (cluster.tasks_in_zone(service, zone), zone)),
    );
    zones.sort_unstable();
}

/// The indexed fast path of `[spread(zone), binpack(resource), ..]`: zones by ascending task count of
/// the service; in the first group of equally loaded zones that has a node that fits and is
/// `allowed`, those nodes with the least free `resource` across the group, into `ties` by ascending
/// index. `zones` is scratch space. O(zones × log n) plus the nodes skipped.
pub(super) fn least_loaded_zones_binpacked(
    resource: Resource,
    task: &TaskRequest,
    cluster: &ClusterState,
    allowed: &impl Fn(usize) -> bool,
    zones: &mut Vec<(u32, usize)>,
    ties: &mut Vec<usize>,
) {
    ties.clear();
    zones_by_load(task.service, cluster, zones);
    for group in zones.chunk_by(|a, b| a.0 == b.0) {
        let mut best = None;
        for &(_, zone) in group {
            binpack::tightest_fitting(
                resource,
                Some(zone),
                task,
                cluster,
                allowed,
                &mut best,
                ties,
            );
        }
        if !ties.is_empty() {
            ties.sort_unstable();
            return;
        }
    }
}

/// The early-exit fast path of `[spread(zone)]` and `[spread(zone), spread(node)]` (`by_node`): in the
/// first group of equally loaded zones that has a node that fits and is `allowed`, the lowest-index
/// such node (with `by_node`, the lowest-index one among those running the fewest tasks of the
/// service), into `chosen`. Walks nodes by index and stops at the first hit (with `by_node`, at the
/// first node running none of the service's tasks), so a roomy cluster answers after a few nodes.
pub(super) fn least_loaded_zones_first(
    by_node: bool,
    task: &TaskRequest,
    cluster: &ClusterState,
    allowed: &impl Fn(usize) -> bool,
    zones: &mut Vec<(u32, usize)>,
    chosen: &mut Vec<usize>,
) {
    chosen.clear();
    zones_by_load(task.service, cluster, zones);
    let nodes = cluster.nodes();
    for group in zones.chunk_by(|a, b| a.0 == b.0) {
        let mut least = u32::MAX;
        for (node, state) in nodes.iter().enumerate() {
            if !group.iter().any(|&(_, member)| member == state.zone)
                || !cluster.fits(node, task)
                || !allowed(node)
            {
                continue;
            }
            let count = if by_node {
                cluster.tasks_on(task.service, node)
            } else {
                0
            };
            if count < least {
                least = count;
                chosen.clear();
                chosen.push(node);
                if count == 0 {
                    return;
                }
            }
        }
        if !chosen.is_empty() {
            return;
        }
    }
}

/// Scale-in: keeps the tasks (positions in `task_nodes`) whose `field` value has the most tasks
/// among `task_nodes`, so stopping one of them moves the service towards balance.
pub(super) fn narrow_for_stop(
    field: &SpreadField,
    cluster: &ClusterState,
    task_nodes: &[usize],
    kept: &mut Vec<usize>,
) {
    let nodes = cluster.nodes();
    let value = |task: usize| -> (usize, Option<&str>) {
        let node = &nodes[task_nodes[task]];
        match field {
            SpreadField::Zone => (node.zone, None),
            SpreadField::Node => (task_nodes[task], None),
            SpreadField::Attribute(name) => (0, node.attributes.get(name).map(String::as_str)),
        }
    };
    let mut per_value: BTreeMap<(usize, Option<&str>), u32> = BTreeMap::new();
    for task in 0..task_nodes.len() {
        *per_value.entry(value(task)).or_insert(0) += 1;
    }
    keep_max_by_key(kept, |task| per_value[&value(task)]);
}
