//! Cluster autoscalers: from the cluster's state and its pending tasks to node groups to grow and
//! nodes to remove. One file per algorithm: ECS capacity provider managed scaling, and the
//! Kubernetes cluster autoscaler.

mod capacity_provider;
mod kubernetes;

pub use capacity_provider::CapacityProvider;
pub use kubernetes::KubernetesClusterAutoscaler;

use crate::cluster::NodeGroupSpec;
use crate::cluster::state::{ClusterState, NodeLifecycle, Resources, TaskRequest};
use crate::time::{SimDuration, SimTime};
use serde::Serialize;

/// A cluster autoscaler as a scenario describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum ClusterAutoscalerSpec {
    /// ECS capacity provider managed scaling on one node group.
    CapacityProvider(CapacityProviderSpec),
    /// The Kubernetes cluster autoscaler over every node group.
    ClusterAutoscaler(KubernetesAutoscalerSpec),
}

/// ECS capacity provider managed scaling, as a scenario sets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityProviderSpec {
    /// The node group it manages (index).
    pub node_group: usize,
    /// Target capacity, percent in [1, 100]: 100 keeps no spare instance.
    pub target_capacity: f64,
    /// How often CapacityProviderReservation is computed (60 s).
    pub evaluation_period: SimDuration,
    /// Consecutive periods below target before scaling in (15).
    pub scale_in_periods: u32,
    /// Fewest instances added or removed at once (1).
    pub minimum_scaling_step_size: u32,
    /// Most instances added or removed at once (10,000).
    pub maximum_scaling_step_size: u32,
}

/// The Kubernetes cluster autoscaler, as a scenario sets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KubernetesAutoscalerSpec {
    /// How often it scans (10 s).
    pub scan_interval: SimDuration,
    /// A node is underused below this share of cpu and memory requested (0.5).
    pub scale_down_utilization_threshold: f64,
    /// How long a node must be underused before removal (10 min).
    pub scale_down_unneeded_time: SimDuration,
    /// No scale-down this long after a scale-up (10 min).
    pub scale_down_delay_after_add: SimDuration,
}

impl ClusterAutoscalerSpec {
    /// How often the model asks it.
    pub fn interval(&self) -> SimDuration {
        match self {
            ClusterAutoscalerSpec::CapacityProvider(spec) => spec.evaluation_period,
            ClusterAutoscalerSpec::ClusterAutoscaler(spec) => spec.scan_interval,
        }
    }

    /// A fresh autoscaler of this spec.
    pub fn build(&self) -> Box<dyn ClusterAutoscaler> {
        match self {
            ClusterAutoscalerSpec::CapacityProvider(spec) => {
                Box::new(CapacityProvider::new(spec.clone()))
            }
            ClusterAutoscalerSpec::ClusterAutoscaler(spec) => {
                Box::new(KubernetesClusterAutoscaler::new(spec.clone()))
            }
        }
    }
}

/// What a cluster autoscaler decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterAction {
    /// Launch `count` nodes in a node group.
    AddNodes {
        /// Node group index.
        group: usize,
        /// How many.
        count: u32,
    },
    /// Drain and terminate a node (its tasks are rescheduled elsewhere).
    RemoveNode {
        /// Node index.
        node: usize,
    },
}

/// What a cluster autoscaler may read.
#[derive(Debug, Clone, Copy)]
pub struct ClusterScalingView<'a> {
    /// Now.
    pub now: SimTime,
    /// Nodes, reservations and indexes.
    pub cluster: &'a ClusterState,
    /// Node groups (templates, min, max).
    pub groups: &'a [NodeGroupSpec],
    /// Tasks waiting for a node.
    pub pending: &'a [TaskRequest],
    /// Shapes of every service's tasks (to judge whether a node's tasks fit elsewhere).
    pub task_shapes: &'a [TaskRequest],
}

impl ClusterScalingView<'_> {
    /// Nodes of `group` that are not draining or terminated.
    pub fn active_nodes(&self, group: usize) -> u32 {
        self.cluster
            .nodes()
            .iter()
            .filter(|node| {
                node.group == group
                    && matches!(
                        node.lifecycle,
                        NodeLifecycle::Provisioning | NodeLifecycle::Booting | NodeLifecycle::Ready
                    )
            })
            .count() as u32
    }
}

/// A cluster autoscaler: a decision over a [`ClusterScalingView`], with its own memory.
pub trait ClusterAutoscaler: Send + std::fmt::Debug {
    /// Returns what to do now (possibly nothing).
    fn evaluate(&mut self, view: &ClusterScalingView<'_>) -> Vec<ClusterAction>;
}

/// Nodes of `group`'s type needed to hold `tasks` (first-fit decreasing by memory), counting only
/// tasks whose OS and architecture the group runs and that fit an empty node.
pub fn nodes_needed(group: &NodeGroupSpec, tasks: &[TaskRequest]) -> u32 {
    let capacity = Resources {
        cpu_millis: group.instance.cpu_millis,
        memory_bytes: group.instance.memory_bytes,
    };
    let mut shapes: Vec<Resources> = tasks
        .iter()
        .filter(|task| fits_template(group, task))
        .map(|task| task.resources)
        .collect();
    shapes.sort_by_key(|shape| std::cmp::Reverse((shape.memory_bytes, shape.cpu_millis)));
    let mut bins: Vec<Resources> = Vec::new();
    for shape in shapes {
        match bins.iter_mut().find(|free| free.covers(&shape)) {
            Some(free) => {
                free.cpu_millis -= shape.cpu_millis;
                free.memory_bytes -= shape.memory_bytes;
            }
            None => bins.push(Resources {
                cpu_millis: capacity.cpu_millis - shape.cpu_millis,
                memory_bytes: capacity.memory_bytes - shape.memory_bytes,
            }),
        }
    }
    bins.len() as u32
}

/// True when a task would fit an empty node of the group.
pub fn fits_template(group: &NodeGroupSpec, task: &TaskRequest) -> bool {
    group.os == task.os
        && task.arch.is_none_or(|arch| arch == group.instance.arch)
        && group.instance.cpu_millis >= task.resources.cpu_millis
        && group.instance.memory_bytes >= task.resources.memory_bytes
}
