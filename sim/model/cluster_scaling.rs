//! Cluster autoscaling in the model: asks the cluster autoscaler on its interval, launches the nodes
//! it wants, and drains the nodes it removes (their tasks are stopped and rescheduled elsewhere).

use super::fleet::Removal;
use super::{Event, NONE, NodeRuntime, TaskPhase, World};
use crate::cluster::state::{NodeLifecycle, TaskRequest};
use crate::engine::EventQueue;
use crate::policy::cluster_autoscale::{ClusterAction, ClusterScalingView};
use crate::time::SimTime;

impl World<'_> {
    /// Schedules the first evaluation of the cluster autoscaler, if any.
    pub(super) fn start_cluster_scaling(&mut self, queue: &mut EventQueue<Event>) {
        if let Some(spec) = &self.scenario.cluster_autoscaler {
            queue.schedule_in(spec.interval(), Event::ClusterAutoscalerEvaluates);
        }
    }

    pub(super) fn on_cluster_autoscaler_evaluates(&mut self, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let Some(spec) = &self.scenario.cluster_autoscaler else {
            return;
        };
        let interval = spec.interval();
        let pending: Vec<TaskRequest> = self
            .pending_tasks
            .iter()
            .map(|&task| self.task_request(self.tasks[task as usize].service as usize))
            .collect();
        let shapes: Vec<TaskRequest> = (0..self.scenario.app.services.len())
            .map(|service| self.task_request(service))
            .collect();
        let view = ClusterScalingView {
            now,
            cluster: &self.cluster,
            groups: &self.scenario.cluster.node_groups,
            pending: &pending,
            task_shapes: &shapes,
        };
        let actions = self
            .cluster_autoscaler
            .as_mut()
            .map(|autoscaler| autoscaler.evaluate(&view))
            .unwrap_or_default();
        for action in actions {
            match action {
                ClusterAction::AddNodes { group, count } => self.add_nodes(group, count, queue),
                ClusterAction::RemoveNode { node } => self.drain_node(node, queue),
            }
        }
        if now + interval <= self.end {
            queue.schedule_in(interval, Event::ClusterAutoscalerEvaluates);
        }
    }

    fn add_nodes(&mut self, group: usize, count: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let name = self.scenario.cluster.node_groups[group].name.clone();
        self.log(now, "cluster_scale_out", &name, format!("nodes={count}"));
        for _ in 0..count {
            let ordinal = self
                .cluster
                .nodes()
                .iter()
                .filter(|n| n.group == group)
                .count();
            let node = self
                .scenario
                .cluster
                .new_node(group, ordinal, NodeLifecycle::Provisioning);
            let detail = format!(
                "group={name} zone={} instance_type={}",
                self.cluster.zones()[node.zone],
                node.instance_type
            );
            let node_name = node.name.clone();
            let index = self.cluster.add_node(node);
            self.nodes.push(NodeRuntime {
                launched: now,
                autoscaled: true,
                cached_images: self.baked_images(group),
                ..NodeRuntime::default()
            });
            self.log(now, "node_provisioning", &node_name, detail);
            let delay = self.draw_node_provision(index, group);
            queue.schedule_in(delay, Event::NodeBooting { node: index as u32 });
        }
    }

    /// Stops placing on the node, stops its tasks (the service scheduler replaces them elsewhere),
    /// and terminates it once empty.
    fn drain_node(&mut self, node: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        self.cluster.set_lifecycle(node, NodeLifecycle::Draining);
        let name = self.cluster.nodes()[node].name.clone();
        self.log(now, "node_draining", &name, String::new());
        let on_node: Vec<u32> = (0..self.tasks.len() as u32)
            .filter(|&t| {
                self.tasks[t as usize].node == node as u32 && self.tasks[t as usize].phase.is_live()
            })
            .collect();
        self.remove_and_replace(on_node, Removal::Stop, queue);
        self.terminate_if_drained(node, now);
    }

    /// A draining node with no task left is terminated (its billing ends).
    pub(super) fn terminate_if_drained(&mut self, node: usize, now: SimTime) {
        let state = &self.cluster.nodes()[node];
        if state.lifecycle == NodeLifecycle::Draining && state.tasks == 0 {
            let name = state.name.clone();
            self.cluster.set_lifecycle(node, NodeLifecycle::Terminated);
            self.nodes[node].terminated = Some(now);
            self.log(now, "node_terminated", &name, String::new());
        }
    }

    /// Records, for a task placed on a node launched after the task was created, when that node was
    /// requested and became ready.
    pub(super) fn note_node_wait(&mut self, task: u32) {
        let state = &self.tasks[task as usize];
        if state.node == NONE || state.phase == TaskPhase::Stopped {
            return;
        }
        let runtime = &self.nodes[state.node as usize];
        if runtime.autoscaled && runtime.launched >= state.created {
            let (requested, ready) = (runtime.launched, runtime.ready);
            let state = &mut self.tasks[task as usize];
            state.node_requested = Some(requested);
            state.node_ready = ready;
        }
    }
}
