//! The virtual cluster as a scenario describes it: zones, launch type (EC2 or Fargate), node groups of
//! catalog or custom instance types, and the timings of nodes and tasks.

pub mod catalog;
pub mod state;

use crate::dist::Distribution;
use crate::policy::placement::PlacementSpec;
use crate::time::SimDuration;
use catalog::{Arch, InstanceType, OsFamily};
use serde::Serialize;
use state::{NodeLifecycle, NodeState, Resources};
use std::collections::BTreeMap;

/// Where tasks get their capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchType {
    /// Tasks are placed on the nodes of node groups.
    Ec2,
    /// Every task gets its own capacity of a valid Fargate size; there are no nodes.
    Fargate,
}

/// What a call sent to a task lost with its node gets, until the balancer finds the task dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LostTaskCalls {
    /// The connection is refused at once: the call fails with `crashed`.
    Refused,
    /// No answer: the call hangs (holding its caller) until the balancer drops the task, then
    /// fails with `crashed` — or until its caller's timeout.
    Hang,
}

impl LostTaskCalls {
    /// Every accepted name.
    pub const NAMES: [&'static str; 2] = ["refused", "hang"];

    /// The mode a scenario names.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "refused" => Some(LostTaskCalls::Refused),
            "hang" => Some(LostTaskCalls::Hang),
            _ => None,
        }
    }
}

/// How the run begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialState {
    /// Nodes are ready and the initial tasks placed and healthy at time zero.
    Warm,
    /// Nodes boot and the initial tasks go through placement, image pull and start at time zero.
    Cold,
}

/// A group of identical nodes.
#[derive(Debug, Clone, Serialize)]
pub struct NodeGroupSpec {
    /// Unique name.
    pub name: String,
    /// The instance type of every node.
    pub instance: InstanceType,
    /// The OS its nodes run.
    pub os: OsFamily,
    /// Nodes at the start (the desired count).
    pub count: u32,
    /// Fewest nodes an autoscaler may leave.
    pub min: u32,
    /// Most nodes an autoscaler may add up to.
    pub max: u32,
    /// Zones the nodes are spread over, round robin.
    pub zones: Vec<String>,
    /// Custom attributes for constraints and spread.
    pub attributes: BTreeMap<String, String>,
    /// Time from the request to the start of booting.
    pub provision_time: Distribution,
    /// Time from the start of booting until the node accepts tasks.
    pub boot_time: Distribution,
    /// Components whose images every node of the group has from the start (baked into the machine
    /// image, or pre-pulled by a daemon).
    pub cached_images: Vec<String>,
}

/// Fargate settings.
#[derive(Debug, Clone, Serialize)]
pub struct FargateSpec {
    /// Time from the task's request until its image pull starts (capacity provisioning, ENI).
    pub start_latency: Distribution,
    /// Image pull bandwidth of one Fargate task, bytes per second (no image cache on Fargate).
    pub pull_bandwidth_bytes_per_sec: f64,
    /// Run on Fargate Spot.
    pub spot: bool,
    /// Fargate Spot discount off the on-demand price, in [0, 1).
    pub spot_discount: f64,
    /// Architecture of Fargate tasks (prices differ).
    pub arch: Arch,
}

/// How long tasks take to start, and how long a lost one keeps its load balancer's traffic.
#[derive(Debug, Clone, Serialize)]
pub struct TaskTimings {
    /// Container start, from image ready to running (image pull excluded).
    pub start_time: Distribution,
    /// Time from running until the task counts as healthy and receives traffic.
    pub health_check_grace: SimDuration,
    /// Load balancer health checks: the time between two checks of a task.
    pub health_check_interval: SimDuration,
    /// Failed checks in a row after which the load balancer stops sending a task calls.
    pub unhealthy_threshold: u32,
    /// What calls sent to a lost task get meanwhile.
    pub lost_task_calls: LostTaskCalls,
    /// Image pull bandwidth of one node, bytes per second, shared by its concurrent pulls.
    pub node_pull_bandwidth_bytes_per_sec: f64,
}

/// The cluster as described in a scenario.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterSpec {
    /// Availability zones.
    pub zones: Vec<String>,
    /// EC2 (node groups) or Fargate.
    pub launch_type: LaunchType,
    /// Warm or cold start.
    pub initial_state: InitialState,
    /// Node groups, in file order (ignored on Fargate).
    pub node_groups: Vec<NodeGroupSpec>,
    /// Fargate settings (used on Fargate).
    pub fargate: FargateSpec,
    /// Task start timings.
    pub tasks: TaskTimings,
    /// The placement policy of services that set none of their own.
    pub placement: PlacementSpec,
}

impl ClusterSpec {
    /// True when tasks need nodes (EC2 with node groups); false on Fargate or without node groups,
    /// where capacity is not limited by nodes.
    pub fn has_nodes(&self) -> bool {
        self.launch_type == LaunchType::Ec2 && !self.node_groups.is_empty()
    }

    /// The nodes a group starts with, zones assigned round robin, in `lifecycle`.
    pub fn initial_nodes(&self, lifecycle: NodeLifecycle) -> Vec<NodeState> {
        let mut nodes = Vec::new();
        if !self.has_nodes() {
            return nodes;
        }
        for (group_index, group) in self.node_groups.iter().enumerate() {
            for index in 0..group.count as usize {
                nodes.push(self.new_node(group_index, index, lifecycle));
            }
        }
        nodes
    }

    /// The `index`-th node of group `group_index`, in `lifecycle`.
    pub fn new_node(
        &self,
        group_index: usize,
        index: usize,
        lifecycle: NodeLifecycle,
    ) -> NodeState {
        let group = &self.node_groups[group_index];
        let zone_name = &group.zones[index % group.zones.len()];
        let zone = self
            .zones
            .iter()
            .position(|z| z == zone_name)
            .expect("validated zone");
        let mut attributes = group.attributes.clone();
        attributes.insert("ecs.instance-type".into(), group.instance.name.clone());
        attributes.insert("ecs.availability-zone".into(), zone_name.clone());
        attributes.insert("ecs.os-type".into(), group.os.name().into());
        attributes.insert(
            "ecs.cpu-architecture".into(),
            group.instance.arch.name().into(),
        );
        attributes.insert("node-group".into(), group.name.clone());
        NodeState {
            name: format!("{}-{index}", group.name),
            group: group_index,
            zone,
            instance_type: group.instance.name.clone(),
            os: group.os,
            arch: group.instance.arch,
            capacity: Resources {
                cpu_millis: group.instance.cpu_millis,
                memory_bytes: group.instance.memory_bytes,
            },
            allocated: Resources::default(),
            lifecycle,
            attributes,
            tasks: 0,
        }
    }
}
