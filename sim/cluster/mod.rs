//! The virtual cluster: zones, node groups and their nodes, and what each node has left to give.

pub mod catalog;
pub mod state;

use serde::Serialize;

/// A group of identical nodes.
#[derive(Debug, Clone, Serialize)]
pub struct NodeGroupSpec {
    /// Unique name.
    pub name: String,
    /// Nodes in the group.
    pub count: u32,
    /// Cpu per node, in millicores.
    pub cpu_millis: u64,
    /// Memory per node, in bytes.
    pub memory_bytes: u64,
    /// Zones the nodes are spread over, round robin.
    pub zones: Vec<String>,
}

/// The cluster as described in a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSpec {
    /// Availability zones.
    pub zones: Vec<String>,
    /// Node groups, in file order.
    pub node_groups: Vec<NodeGroupSpec>,
}

/// One node and its remaining capacity.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// `group-index`, e.g. `general-3`.
    pub name: String,
    /// Index of its node group.
    pub group: usize,
    /// Its zone.
    pub zone: String,
    /// Cpu not yet reserved, in millicores.
    pub free_cpu_millis: u64,
    /// Memory not yet reserved, in bytes.
    pub free_memory_bytes: u64,
}

/// A request for capacity: one task of a service.
#[derive(Debug, Clone, Copy)]
pub struct TaskShape {
    /// Cpu to reserve, in millicores.
    pub cpu_millis: u64,
    /// Memory to reserve, in bytes.
    pub memory_bytes: u64,
}

/// The nodes of a cluster and their reservations.
#[derive(Debug, Clone)]
pub struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// All nodes of `spec`, group by group, zones assigned round robin within each group.
    pub fn new(spec: &ClusterSpec) -> Self {
        let mut nodes = Vec::new();
        for (group_index, group) in spec.node_groups.iter().enumerate() {
            for index in 0..group.count as usize {
                nodes.push(Node {
                    name: format!("{}-{index}", group.name),
                    group: group_index,
                    zone: group.zones[index % group.zones.len()].clone(),
                    free_cpu_millis: group.cpu_millis,
                    free_memory_bytes: group.memory_bytes,
                });
            }
        }
        Cluster { nodes }
    }

    /// Read-only view of every node.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// First fit: reserves `task` on the first node with room and returns its index.
    pub fn place_first_fit(&mut self, task: TaskShape) -> Option<usize> {
        let index = self.nodes.iter().position(|node| {
            node.free_cpu_millis >= task.cpu_millis && node.free_memory_bytes >= task.memory_bytes
        })?;
        let node = &mut self.nodes[index];
        node.free_cpu_millis -= task.cpu_millis;
        node.free_memory_bytes -= task.memory_bytes;
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_fills_nodes_in_order_and_never_overcommits() {
        let spec = ClusterSpec {
            zones: vec!["a".into(), "b".into()],
            node_groups: vec![NodeGroupSpec {
                name: "g".into(),
                count: 2,
                cpu_millis: 1000,
                memory_bytes: 1000,
                zones: vec!["a".into(), "b".into()],
            }],
        };
        let mut cluster = Cluster::new(&spec);
        let task = TaskShape {
            cpu_millis: 400,
            memory_bytes: 100,
        };
        let placed: Vec<Option<usize>> = (0..5).map(|_| cluster.place_first_fit(task)).collect();
        assert_eq!(placed, vec![Some(0), Some(0), Some(1), Some(1), None]);
        assert_eq!(cluster.nodes()[1].zone, "b");
        assert!(cluster.nodes().iter().all(|n| n.free_cpu_millis <= 1000));
    }
}
