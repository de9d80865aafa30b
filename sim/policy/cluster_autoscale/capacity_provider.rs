//! ECS capacity provider managed scaling: CapacityProviderReservation = M / N × 100 held at the
//! target capacity, where M is the instances needed (non-empty instances plus a binpack estimate for
//! pending tasks) and N the instances running; scale-in only after 15 periods below target, and only
//! of empty instances (facts/domain.md §2).

use super::{
    CapacityProviderSpec, ClusterAction, ClusterAutoscaler, ClusterScalingView, nodes_needed,
};
use crate::cluster::state::NodeLifecycle;

/// Managed scaling of one node group.
#[derive(Debug)]
pub struct CapacityProvider {
    spec: CapacityProviderSpec,
    periods_below: u32,
}

impl CapacityProvider {
    /// A capacity provider with these settings.
    pub fn new(spec: CapacityProviderSpec) -> Self {
        CapacityProvider {
            spec,
            periods_below: 0,
        }
    }
}

impl ClusterAutoscaler for CapacityProvider {
    fn evaluate(&mut self, view: &ClusterScalingView<'_>) -> Vec<ClusterAction> {
        let CapacityProviderSpec {
            node_group,
            target_capacity,
            scale_in_periods,
            minimum_scaling_step_size,
            maximum_scaling_step_size,
            ..
        } = self.spec;
        let group = &view.groups[node_group];
        let nodes = view.cluster.nodes();
        let running = view.active_nodes(node_group);
        let non_empty = nodes
            .iter()
            .filter(|n| n.group == node_group && n.tasks > 0 && n.lifecycle == NodeLifecycle::Ready)
            .count() as u32;
        let booting = nodes
            .iter()
            .filter(|n| {
                n.group == node_group
                    && matches!(
                        n.lifecycle,
                        NodeLifecycle::Provisioning | NodeLifecycle::Booting
                    )
            })
            .count() as u32;
        // Pending tasks are expected to land on booting instances first.
        let needed = non_empty + nodes_needed(group, view.pending).max(booting);
        let reservation = if running == 0 {
            if needed > 0 { 200.0 } else { 100.0 }
        } else {
            f64::from(needed) / f64::from(running) * 100.0
        };
        let mut desired = (f64::from(needed) * 100.0 / target_capacity).ceil() as u32;
        if running == 0 && needed > 0 {
            // From zero instances the first scale-out goes to 200 %, i.e. two instances.
            desired = desired.max(2);
        }
        let desired = desired.clamp(group.min, group.max);
        if reservation > target_capacity && desired > running {
            self.periods_below = 0;
            let step =
                (desired - running).clamp(minimum_scaling_step_size, maximum_scaling_step_size);
            let count = step.min(group.max.saturating_sub(running));
            return if count > 0 {
                vec![ClusterAction::AddNodes {
                    group: node_group,
                    count,
                }]
            } else {
                Vec::new()
            };
        }
        if reservation < target_capacity {
            self.periods_below += 1;
        } else {
            self.periods_below = 0;
        }
        if self.periods_below < scale_in_periods || desired >= running {
            return Vec::new();
        }
        self.periods_below = 0;
        let removable =
            (running - desired).clamp(minimum_scaling_step_size, maximum_scaling_step_size);
        // Managed termination protection: only empty instances are removed.
        nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                n.group == node_group && n.tasks == 0 && n.lifecycle == NodeLifecycle::Ready
            })
            .map(|(index, _)| ClusterAction::RemoveNode { node: index })
            .take(removable.min(running - group.min) as usize)
            .collect()
    }
}
