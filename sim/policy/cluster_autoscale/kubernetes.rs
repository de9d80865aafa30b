//! The Kubernetes cluster autoscaler: every scan, grow the first node group whose template fits the
//! pending pods by the nodes they need; remove a node whose requests stay below the utilization
//! threshold for the unneeded time and whose pods fit on other nodes (facts/domain.md §2, CA FAQ).

use super::{
    ClusterAction, ClusterAutoscaler, ClusterScalingView, KubernetesAutoscalerSpec, fits_template,
    nodes_needed,
};
use crate::cluster::state::{NodeLifecycle, Resources};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// The cluster autoscaler's memory: when each node became unneeded, and the last scale-up.
#[derive(Debug)]
pub struct KubernetesClusterAutoscaler {
    spec: KubernetesAutoscalerSpec,
    unneeded_since: BTreeMap<usize, SimTime>,
    last_scale_up: Option<SimTime>,
}

impl KubernetesClusterAutoscaler {
    /// A cluster autoscaler with these settings.
    pub fn new(spec: KubernetesAutoscalerSpec) -> Self {
        KubernetesClusterAutoscaler {
            spec,
            unneeded_since: BTreeMap::new(),
            last_scale_up: None,
        }
    }
}

impl ClusterAutoscaler for KubernetesClusterAutoscaler {
    fn evaluate(&mut self, view: &ClusterScalingView<'_>) -> Vec<ClusterAction> {
        let KubernetesAutoscalerSpec {
            scale_down_utilization_threshold,
            scale_down_unneeded_time,
            scale_down_delay_after_add,
            ..
        } = self.spec;
        let nodes = view.cluster.nodes();
        // Scale up: pods pending that a new node would fit; nodes already booting absorb some.
        if !view.pending.is_empty() {
            for (index, group) in view.groups.iter().enumerate() {
                if !view.pending.iter().any(|task| fits_template(group, task)) {
                    continue;
                }
                let booting = nodes
                    .iter()
                    .filter(|n| {
                        n.group == index
                            && matches!(
                                n.lifecycle,
                                NodeLifecycle::Provisioning | NodeLifecycle::Booting
                            )
                    })
                    .count() as u32;
                let needed = nodes_needed(group, view.pending).saturating_sub(booting);
                let room = group.max.saturating_sub(view.active_nodes(index));
                let count = needed.min(room);
                if count == 0 && needed == 0 {
                    // This group's booting nodes will take the pods: grow no other group for them.
                    return Vec::new();
                }
                if count > 0 {
                    self.last_scale_up = Some(view.now);
                    self.unneeded_since.clear();
                    return vec![ClusterAction::AddNodes {
                        group: index,
                        count,
                    }];
                }
            }
        }
        if self
            .last_scale_up
            .is_some_and(|at| view.now < at + scale_down_delay_after_add)
            || !view.pending.is_empty()
        {
            return Vec::new();
        }
        // Scale down: underused ready nodes whose tasks fit on the other ready nodes. Empty nodes go
        // in bulk (up to 10), non-empty ones one at a time (CA FAQ).
        let mut empty = Vec::new();
        let mut non_empty = None;
        for (index, node) in nodes.iter().enumerate() {
            let utilization = |used: u64, capacity: u64| used as f64 / capacity.max(1) as f64;
            let used = utilization(node.allocated.cpu_millis, node.capacity.cpu_millis).max(
                utilization(node.allocated.memory_bytes, node.capacity.memory_bytes),
            );
            let group = &view.groups[node.group];
            let removable = node.lifecycle == NodeLifecycle::Ready
                && used < scale_down_utilization_threshold
                && view.active_nodes(node.group) > group.min
                && tasks_fit_elsewhere(view, index);
            if !removable {
                self.unneeded_since.remove(&index);
                continue;
            }
            let since = *self.unneeded_since.entry(index).or_insert(view.now);
            if view.now >= since + scale_down_unneeded_time {
                if node.tasks == 0 {
                    empty.push(index);
                } else if non_empty.is_none() {
                    non_empty = Some(index);
                }
            }
        }
        let chosen: Vec<usize> = if empty.is_empty() {
            non_empty.into_iter().collect()
        } else {
            empty.into_iter().take(MAX_EMPTY_BULK_DELETE).collect()
        };
        for node in &chosen {
            self.unneeded_since.remove(node);
        }
        chosen
            .into_iter()
            .map(|node| ClusterAction::RemoveNode { node })
            .collect()
    }
}

/// Empty nodes the cluster autoscaler deletes at once (`--max-empty-bulk-delete`, default 10).
const MAX_EMPTY_BULK_DELETE: usize = 10;

/// True when every task on `node` would fit (first fit) on the other ready nodes.
fn tasks_fit_elsewhere(view: &ClusterScalingView<'_>, node: usize) -> bool {
    let nodes = view.cluster.nodes();
    let mut free: Vec<(usize, Resources)> = nodes
        .iter()
        .enumerate()
        .filter(|(index, other)| *index != node && other.lifecycle == NodeLifecycle::Ready)
        .map(|(index, other)| (index, other.free()))
        .collect();
    for (service, count) in view.cluster.service_tasks_on(node) {
        let shape = view.task_shapes[service];
        for _ in 0..count {
            let Some((_, room)) = free.iter_mut().find(|(other, room)| {
                let state = &nodes[*other];
                state.os == shape.os
                    && shape.arch.is_none_or(|arch| arch == state.arch)
                    && room.covers(&shape.resources)
            }) else {
                return false;
            };
            room.cpu_millis -= shape.resources.cpu_millis;
            room.memory_bytes -= shape.resources.memory_bytes;
        }
    }
    true
}
