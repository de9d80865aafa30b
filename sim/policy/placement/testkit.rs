//! Small clusters for the placement tests: nodes by zone, size, load and tasks per service.

use crate::cluster::catalog::{Arch, OsFamily};
use crate::cluster::state::{ClusterState, NodeLifecycle, NodeState, Resources, TaskRequest};
use std::collections::BTreeMap;

/// One GiB in bytes.
pub const GIB: u64 = 1 << 30;
/// Services 0..SERVICES exist; the last one carries the background load.
pub const SERVICES: usize = 4;
const LOAD_SERVICE: usize = SERVICES - 1;

/// A Linux task of `service` (any architecture).
pub fn task(service: usize, cpu_millis: u64, memory_bytes: u64) -> TaskRequest {
    TaskRequest {
        service,
        resources: Resources {
            cpu_millis,
            memory_bytes,
        },
        os: OsFamily::Linux,
        arch: None,
    }
}

/// One node under construction.
#[derive(Debug)]
pub struct NodeSpec {
    state: NodeState,
    load: Resources,
    tasks: Vec<(usize, u32)>,
}

impl NodeSpec {
    /// Reserves `cpu_millis` and `memory_gib` for the background service.
    pub fn load(&mut self, cpu_millis: u64, memory_gib: u64) -> &mut Self {
        self.load = Resources {
            cpu_millis,
            memory_bytes: memory_gib * GIB,
        };
        self
    }

    /// Places `count` (zero-size) tasks of `service` on the node.
    pub fn tasks(&mut self, service: usize, count: u32) -> &mut Self {
        self.tasks.push((service, count));
        self
    }

    /// Sets an attribute.
    pub fn attr(&mut self, key: &str, value: &str) -> &mut Self {
        self.state.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the lifecycle state (applied after the reservations).
    pub fn lifecycle(&mut self, lifecycle: NodeLifecycle) -> &mut Self {
        self.state.lifecycle = lifecycle;
        self
    }

    /// Sets the OS and architecture.
    pub fn platform(&mut self, os: OsFamily, arch: Arch) -> &mut Self {
        self.state.os = os;
        self.state.arch = arch;
        self.state
            .attributes
            .insert("ecs.os-type".into(), os.name().into());
        self.state
            .attributes
            .insert("ecs.cpu-architecture".into(), arch.name().into());
        self
    }
}

/// Builds a `ClusterState` node by node.
#[derive(Debug)]
pub struct ClusterBuilder {
    zones: Vec<String>,
    nodes: Vec<NodeSpec>,
}

impl ClusterBuilder {
    /// A cluster over these zones.
    pub fn new(zones: &[&str]) -> Self {
        ClusterBuilder {
            zones: zones.iter().map(|zone| zone.to_string()).collect(),
            nodes: Vec::new(),
        }
    }

    /// Adds a ready Linux x86_64 node of `cpus` vCPU and `memory_gib` GiB in `zone`.
    pub fn node(&mut self, zone: &str, cpus: u64, memory_gib: u64) -> &mut NodeSpec {
        let index = self.nodes.len();
        let zone_index = self
            .zones
            .iter()
            .position(|name| name == zone)
            .expect("a known zone");
        let instance_type = format!("test.{cpus}x{memory_gib}");
        let attributes: BTreeMap<String, String> = [
            ("ecs.instance-type", instance_type.as_str()),
            ("ecs.availability-zone", zone),
            ("ecs.os-type", "linux"),
            ("ecs.cpu-architecture", "x86_64"),
            ("node-group", "test"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        self.nodes.push(NodeSpec {
            state: NodeState {
                name: format!("test-{index}"),
                group: 0,
                zone: zone_index,
                instance_type,
                os: OsFamily::Linux,
                arch: Arch::X86_64,
                capacity: Resources {
                    cpu_millis: cpus * 1000,
                    memory_bytes: memory_gib * GIB,
                },
                allocated: Resources::default(),
                lifecycle: NodeLifecycle::Ready,
                attributes,
                tasks: 0,
            },
            load: Resources::default(),
            tasks: Vec::new(),
        });
        self.nodes.last_mut().expect("just pushed")
    }

    /// The cluster.
    pub fn build(&self) -> ClusterState {
        let mut cluster = ClusterState::new(self.zones.clone(), SERVICES);
        for spec in &self.nodes {
            let lifecycle = spec.state.lifecycle;
            let mut state = spec.state.clone();
            state.lifecycle = NodeLifecycle::Ready;
            let node = cluster.add_node(state);
            if spec.load != Resources::default() {
                cluster.reserve(node, LOAD_SERVICE, spec.load);
            }
            for &(service, count) in &spec.tasks {
                for _ in 0..count {
                    cluster.reserve(node, service, Resources::default());
                }
            }
            if lifecycle != NodeLifecycle::Ready {
                cluster.set_lifecycle(node, lifecycle);
            }
        }
        cluster
    }
}
