//! The live cluster: nodes with their lifecycle, capacity and reservations, tasks per service per node
//! and per zone, and free-capacity indexes. Placement policies read it (`&ClusterState`); only the
//! model changes it.

use super::catalog::{Arch, OsFamily};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// An amount of cpu and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    /// Cpu, in millicores.
    pub cpu_millis: u64,
    /// Memory, in bytes.
    pub memory_bytes: u64,
}

impl Resources {
    /// True when `self` is at least `other` in both dimensions.
    pub fn covers(&self, other: &Resources) -> bool {
        self.cpu_millis >= other.cpu_millis && self.memory_bytes >= other.memory_bytes
    }
}

/// Where a node is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeLifecycle {
    /// Requested from the provider, not yet booting.
    Provisioning,
    /// Booting the OS and the agent.
    Booting,
    /// Accepting tasks.
    Ready,
    /// Accepting no new tasks; its tasks are moving away.
    Draining,
    /// Gone.
    Terminated,
}

impl NodeLifecycle {
    /// Every state, in order.
    pub const ALL: [NodeLifecycle; 5] = [
        NodeLifecycle::Provisioning,
        NodeLifecycle::Booting,
        NodeLifecycle::Ready,
        NodeLifecycle::Draining,
        NodeLifecycle::Terminated,
    ];

    /// The name used in events and metrics.
    pub fn name(self) -> &'static str {
        match self {
            NodeLifecycle::Provisioning => "provisioning",
            NodeLifecycle::Booting => "booting",
            NodeLifecycle::Ready => "ready",
            NodeLifecycle::Draining => "draining",
            NodeLifecycle::Terminated => "terminated",
        }
    }
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeState {
    /// `group-index`, e.g. `general-3`.
    pub name: String,
    /// Index of its node group.
    pub group: usize,
    /// Index of its zone.
    pub zone: usize,
    /// Instance type name.
    pub instance_type: String,
    /// Operating system.
    pub os: OsFamily,
    /// Cpu architecture.
    pub arch: Arch,
    /// What the node offers.
    pub capacity: Resources,
    /// What its tasks reserve.
    pub allocated: Resources,
    /// Lifecycle state.
    pub lifecycle: NodeLifecycle,
    /// Attributes for constraints and spread: `ecs.instance-type`, `ecs.availability-zone`,
    /// `ecs.os-type`, `ecs.cpu-architecture`, `node-group`, plus the group's custom attributes.
    pub attributes: BTreeMap<String, String>,
    /// Tasks placed on it.
    pub tasks: u32,
}

impl NodeState {
    /// Capacity not reserved.
    pub fn free(&self) -> Resources {
        Resources {
            cpu_millis: self.capacity.cpu_millis - self.allocated.cpu_millis,
            memory_bytes: self.capacity.memory_bytes - self.allocated.memory_bytes,
        }
    }
}

/// What a task needs from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRequest {
    /// Index of the service the task belongs to.
    pub service: usize,
    /// Cpu and memory to reserve.
    pub resources: Resources,
    /// The OS its containers need.
    pub os: OsFamily,
    /// The architecture its image is built for; `None` for multi-arch images.
    pub arch: Option<Arch>,
}

/// The nodes of a cluster, their reservations, and indexes over them.
#[derive(Debug, Clone)]
pub struct ClusterState {
    zones: Vec<String>,
    nodes: Vec<NodeState>,
    tasks_by_service_node: BTreeMap<(usize, usize), u32>,
    tasks_by_service_zone: Vec<Vec<u32>>,
    /// Ready nodes by (free memory, index), per zone, then one set over all zones.
    ready_by_free_memory: Vec<BTreeSet<(u64, usize)>>,
    /// Ready nodes by (free cpu, index), per zone, then one set over all zones.
    ready_by_free_cpu: Vec<BTreeSet<(u64, usize)>>,
    nodes_by_state: [u32; 5],
}

impl ClusterState {
    /// An empty cluster over `zones` for `service_count` services.
    pub fn new(zones: Vec<String>, service_count: usize) -> Self {
        let zone_count = zones.len();
        ClusterState {
            zones,
            nodes: Vec::new(),
            tasks_by_service_node: BTreeMap::new(),
            tasks_by_service_zone: vec![vec![0; zone_count]; service_count],
            ready_by_free_memory: vec![BTreeSet::new(); zone_count + 1],
            ready_by_free_cpu: vec![BTreeSet::new(); zone_count + 1],
            nodes_by_state: [0; 5],
        }
    }

    /// Adds a node (in any state) and returns its index.
    pub fn add_node(&mut self, node: NodeState) -> usize {
        let index = self.nodes.len();
        self.nodes_by_state[node.lifecycle as usize] += 1;
        let ready = node.lifecycle == NodeLifecycle::Ready;
        self.nodes.push(node);
        if ready {
            self.index_insert(index);
        }
        index
    }

    /// Moves a node to another lifecycle state.
    pub fn set_lifecycle(&mut self, node: usize, lifecycle: NodeLifecycle) {
        let was_ready = self.nodes[node].lifecycle == NodeLifecycle::Ready;
        if was_ready {
            self.index_remove(node);
        }
        self.nodes_by_state[self.nodes[node].lifecycle as usize] -= 1;
        self.nodes_by_state[lifecycle as usize] += 1;
        self.nodes[node].lifecycle = lifecycle;
        if lifecycle == NodeLifecycle::Ready {
            self.index_insert(node);
        }
    }

    /// Every node ever added, terminated ones included, in order of addition.
    pub fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// The zones, by index.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// Nodes currently in `state`.
    pub fn count_in(&self, state: NodeLifecycle) -> u32 {
        self.nodes_by_state[state as usize]
    }

    /// Tasks of `service` on `node`.
    pub fn tasks_on(&self, service: usize, node: usize) -> u32 {
        self.tasks_by_service_node
            .get(&(service, node))
            .copied()
            .unwrap_or(0)
    }

    /// Tasks of `service` in `zone`.
    pub fn tasks_in_zone(&self, service: usize, zone: usize) -> u32 {
        self.tasks_by_service_zone[service][zone]
    }

    /// The nodes running tasks of `service`, with how many each, by ascending node index.
    pub fn service_nodes(&self, service: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.tasks_by_service_node
            .range((service, 0)..=(service, usize::MAX))
            .map(|(&(_, node), &count)| (node, count))
    }

    /// Tasks per service on `node`, as (service, count), by service index.
    pub fn service_tasks_on(&self, node: usize) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.tasks_by_service_node
            .iter()
            .filter(move |((_, on), _)| *on == node)
            .map(|(&(service, _), &count)| (service, count))
    }

    /// True when `node` is ready, runs the task's OS and architecture, and has room for it.
    pub fn fits(&self, node: usize, task: &TaskRequest) -> bool {
        let state = &self.nodes[node];
        state.lifecycle == NodeLifecycle::Ready
            && state.os == task.os
            && task.arch.is_none_or(|arch| arch == state.arch)
            && state.free().covers(&task.resources)
    }

    /// Ready nodes of `zone` (all zones when `None`) with at least `min_free_memory` bytes free, by
    /// ascending free memory (ties by index). Cpu, OS and architecture are not checked.
    pub fn ready_by_free_memory(
        &self,
        zone: Option<usize>,
        min_free_memory: u64,
    ) -> impl Iterator<Item = usize> + '_ {
        let set = &self.ready_by_free_memory[zone.unwrap_or(self.zones.len())];
        set.range((Bound::Included((min_free_memory, 0)), Bound::Unbounded))
            .map(|&(_, node)| node)
    }

    /// Ready nodes of `zone` (all zones when `None`) with at least `min_free_cpu` millicores free, by
    /// ascending free cpu (ties by index). Memory, OS and architecture are not checked.
    pub fn ready_by_free_cpu(
        &self,
        zone: Option<usize>,
        min_free_cpu: u64,
    ) -> impl Iterator<Item = usize> + '_ {
        let set = &self.ready_by_free_cpu[zone.unwrap_or(self.zones.len())];
        set.range((Bound::Included((min_free_cpu, 0)), Bound::Unbounded))
            .map(|&(_, node)| node)
    }

    /// Reserves `resources` for a task of `service` on `node`.
    ///
    /// # Panics
    /// If the node lacks the room: placement must check first (a programmer error, not user input).
    pub fn reserve(&mut self, node: usize, service: usize, resources: Resources) {
        assert!(
            self.nodes[node].free().covers(&resources),
            "over-committing node {}: free {:?}, asked {:?}",
            self.nodes[node].name,
            self.nodes[node].free(),
            resources
        );
        self.update(node, |state| {
            state.allocated.cpu_millis += resources.cpu_millis;
            state.allocated.memory_bytes += resources.memory_bytes;
            state.tasks += 1;
        });
        *self
            .tasks_by_service_node
            .entry((service, node))
            .or_insert(0) += 1;
        let zone = self.nodes[node].zone;
        self.tasks_by_service_zone[service][zone] += 1;
    }

    /// Returns a task's reservation.
    pub fn release(&mut self, node: usize, service: usize, resources: Resources) {
        self.update(node, |state| {
            state.allocated.cpu_millis -= resources.cpu_millis;
            state.allocated.memory_bytes -= resources.memory_bytes;
            state.tasks -= 1;
        });
        let count = self
            .tasks_by_service_node
            .get_mut(&(service, node))
            .expect("the task was reserved");
        *count -= 1;
        if *count == 0 {
            self.tasks_by_service_node.remove(&(service, node));
        }
        let zone = self.nodes[node].zone;
        self.tasks_by_service_zone[service][zone] -= 1;
    }

    fn update(&mut self, node: usize, change: impl FnOnce(&mut NodeState)) {
        let ready = self.nodes[node].lifecycle == NodeLifecycle::Ready;
        if ready {
            self.index_remove(node);
        }
        change(&mut self.nodes[node]);
        if ready {
            self.index_insert(node);
        }
    }

    fn index_insert(&mut self, node: usize) {
        let state = &self.nodes[node];
        let free = state.free();
        let all = self.zones.len();
        for set in [state.zone, all] {
            self.ready_by_free_memory[set].insert((free.memory_bytes, node));
            self.ready_by_free_cpu[set].insert((free.cpu_millis, node));
        }
    }

    fn index_remove(&mut self, node: usize) {
        let state = &self.nodes[node];
        let free = state.free();
        let all = self.zones.len();
        for set in [state.zone, all] {
            self.ready_by_free_memory[set].remove(&(free.memory_bytes, node));
            self.ready_by_free_cpu[set].remove(&(free.cpu_millis, node));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, zone: usize, cpu: u64, memory: u64) -> NodeState {
        NodeState {
            name: name.into(),
            group: 0,
            zone,
            instance_type: "test".into(),
            os: OsFamily::Linux,
            arch: Arch::X86_64,
            capacity: Resources {
                cpu_millis: cpu,
                memory_bytes: memory,
            },
            allocated: Resources::default(),
            lifecycle: NodeLifecycle::Ready,
            attributes: BTreeMap::new(),
            tasks: 0,
        }
    }

    #[test]
    fn reservations_update_counts_and_indexes() {
        let mut cluster = ClusterState::new(vec!["a".into(), "b".into()], 2);
        let first = cluster.add_node(node("n0", 0, 2000, 8000));
        let second = cluster.add_node(node("n1", 1, 2000, 4000));
        let task = Resources {
            cpu_millis: 500,
            memory_bytes: 3000,
        };
        cluster.reserve(first, 1, task);
        assert_eq!(cluster.tasks_on(1, first), 1);
        assert_eq!(cluster.tasks_in_zone(1, 0), 1);
        let by_memory: Vec<usize> = cluster.ready_by_free_memory(None, 4000).collect();
        assert_eq!(by_memory, vec![second, first], "n0 has 5000 free, n1 4000");
        let in_zone: Vec<usize> = cluster.ready_by_free_memory(Some(0), 0).collect();
        assert_eq!(in_zone, vec![first]);
        cluster.set_lifecycle(second, NodeLifecycle::Draining);
        assert_eq!(cluster.ready_by_free_cpu(None, 0).count(), 1);
        assert_eq!(cluster.count_in(NodeLifecycle::Draining), 1);
        cluster.release(first, 1, task);
        assert_eq!(cluster.tasks_on(1, first), 0);
        assert_eq!(cluster.ready_by_free_memory(None, 8000).next(), Some(first));
    }

    #[test]
    fn service_nodes_lists_a_services_nodes_in_index_order() {
        let mut cluster = ClusterState::new(vec!["a".into()], 3);
        for index in 0..3 {
            cluster.add_node(node(&format!("n{index}"), 0, 1000, 1000));
        }
        let none = Resources::default();
        for (node, service) in [(2, 1), (0, 1), (2, 1), (1, 0), (1, 2)] {
            cluster.reserve(node, service, none);
        }
        assert_eq!(
            cluster.service_nodes(1).collect::<Vec<_>>(),
            vec![(0, 1), (2, 2)]
        );
        assert_eq!(cluster.service_nodes(0).collect::<Vec<_>>(), vec![(1, 1)]);
        cluster.release(0, 1, none);
        assert_eq!(cluster.service_nodes(1).collect::<Vec<_>>(), vec![(2, 2)]);
    }

    #[test]
    #[should_panic(expected = "over-committing")]
    fn over_commitment_is_a_bug() {
        let mut cluster = ClusterState::new(vec!["a".into()], 1);
        let only = cluster.add_node(node("n0", 0, 1000, 1000));
        cluster.reserve(
            only,
            0,
            Resources {
                cpu_millis: 1001,
                memory_bytes: 1,
            },
        );
    }
}
