//! Fault injection in the model: crashing tasks (their in-flight calls fail, the scheduler replaces
//! them), crashing nodes and zones (their groups replace them), and latency or error injection on a
//! component for a window; memory leaks to OOM kills; registry outages; bad deploys (a rolling
//! deployment, see `rollouts.rs`). Each occurrence of the plan — a fault that happens once, or one
//! occurrence of a random process — is injected on its own. `containment.rs` measures what they did.

use super::fleet::Removal;
use super::{Event, NONE, NodeRuntime, TaskPhase, World};
use crate::cluster::state::NodeLifecycle;
use crate::engine::EventQueue;
use crate::faults::{FaultKind, FaultOccurrence};
use crate::metrics::FailReason;
use crate::rng::{KeyedRng, combine};
use crate::time::{SimDuration, SimTime};

/// A component's injected latency and errors (neutral when no fault is active).
#[derive(Debug, Clone, Copy)]
pub(super) struct ComponentFault {
    pub(super) multiplier: f64,
    pub(super) added: SimDuration,
    pub(super) error_rate: f64,
}

impl Default for ComponentFault {
    fn default() -> Self {
        ComponentFault {
            multiplier: 1.0,
            added: SimDuration::ZERO,
            error_rate: 0.0,
        }
    }
}

impl World<'_> {
    /// Schedules every fault occurrence's start and end.
    pub(super) fn start_faults(&mut self, queue: &mut EventQueue<Event>) {
        for (index, occurrence) in self.fault_occurrences.iter().enumerate() {
            let start = SimTime::ZERO + occurrence.start;
            queue.schedule_at(
                start,
                Event::FaultStarts {
                    fault: index as u32,
                },
            );
            let duration = occurrence.kind.duration();
            if duration > SimDuration::ZERO && start + duration < self.end {
                queue.schedule_at(
                    start + duration,
                    Event::FaultEnds {
                        fault: index as u32,
                    },
                );
            }
        }
    }

    /// The `fault/…` subject of occurrence `index` in `events.csv`.
    fn fault_subject(&self, index: usize) -> String {
        let occurrence = &self.fault_occurrences[index];
        format!(
            "fault/{}",
            FaultOccurrence::label(occurrence.fault, occurrence.occurrence)
        )
    }

    /// The record of occurrence `index`, once it has started.
    fn record_of(&mut self, index: usize) -> Option<&mut super::FaultRecord> {
        let occurrence = &self.fault_occurrences[index];
        let (fault, number) = (occurrence.fault, occurrence.occurrence);
        self.fault_records
            .iter_mut()
            .find(|r| r.fault == fault && r.occurrence == number)
    }

    pub(super) fn on_fault_starts(&mut self, index: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let occurrence = &self.fault_occurrences[index];
        let kind = occurrence.kind.clone();
        // Random choices (which task, which node) are keyed by the fault and the occurrence (a
        // fault that happens once keys as occurrence 0).
        let choice_key = combine(
            self.fault_key,
            occurrence.fault as u64 | u64::from(occurrence.occurrence.unwrap_or(0)) << 32,
        );
        let mut record = super::FaultRecord {
            fault: occurrence.fault,
            occurrence: occurrence.occurrence,
            kind: kind.name(),
            target: String::new(),
            started: now,
            ended: now + kind.duration(),
            services: Vec::new(),
            tasks_crashed: 0,
            detected: None,
            broken_classes: Vec::new(),
            blast_radius: 0.0,
            collateral_failures: 0.0,
            time_to_recover_s: 0.0,
            availability_during: f64::NAN,
            spread: super::FaultSpread::default(),
        };
        let mut victims: Vec<u32> = Vec::new();
        // A node or zone going down takes its tasks' agents with it: no one deregisters them.
        let lost = matches!(
            kind,
            FaultKind::NodeCrash { .. } | FaultKind::ZoneOutage { .. }
        );
        match kind {
            FaultKind::ContainerCrash { service, count } => {
                record.target = self.scenario.app.services[service].name.clone();
                let mut healthy: Vec<u32> = (0..self.tasks.len() as u32)
                    .filter(|&t| {
                        self.tasks[t as usize].service as usize == service
                            && self.tasks[t as usize].phase == TaskPhase::Healthy
                    })
                    .collect();
                // A deterministic random choice, keyed by the fault.
                let mut draw = KeyedRng::new(choice_key);
                for _ in 0..count.min(healthy.len() as u32) {
                    let pick =
                        ((draw.uniform() * healthy.len() as f64) as usize).min(healthy.len() - 1);
                    victims.push(healthy.swap_remove(pick));
                }
            }
            FaultKind::NodeCrash { node_group, node } => {
                match self.choose_node(choice_key, node_group, node) {
                    Some(node) => {
                        record.target = self.cluster.nodes()[node].name.clone();
                        victims.extend(self.live_tasks_on(node));
                        self.crash_node(node, queue);
                        // The node group replaces it.
                        self.launch_replacement(node, None, queue);
                    }
                    None => {
                        record.target = format!(
                            "{} (no ready node)",
                            self.scenario.cluster.node_groups[node_group].name
                        );
                    }
                }
            }
            FaultKind::SpotInterruption {
                node_group,
                node,
                notice,
            } => match self.choose_node(choice_key, node_group, node) {
                Some(node) => {
                    // The notice: the node drains; its tasks stop gracefully and are replaced.
                    record.target = self.cluster.nodes()[node].name.clone();
                    let name = record.target.clone();
                    self.log(
                        now,
                        "spot_interruption_notice",
                        &name,
                        format!("terminates_in={notice}"),
                    );
                    self.cluster.set_lifecycle(node, NodeLifecycle::Draining);
                    let draining = self.live_tasks_on(node);
                    for &task in &draining {
                        let service = self.tasks[task as usize].service as usize;
                        if !record.services.contains(&service) {
                            record.services.push(service);
                        }
                    }
                    self.remove_and_replace(draining, Removal::Stop, queue);
                    self.spot_nodes[index] = Some(node);
                }
                None => {
                    record.target = format!(
                        "{} (no ready node)",
                        self.scenario.cluster.node_groups[node_group].name
                    );
                }
            },
            FaultKind::RegistryOutage { .. } => {
                // Every service pulls from the registry: none of their failures is collateral.
                record.target = "registry".into();
                record.services = (0..self.scenario.app.services.len()).collect();
                self.registry_down = true;
            }
            FaultKind::ZoneOutage { zone, .. } => {
                record.target = self.scenario.cluster.zones[zone].clone();
                self.zone_down[zone] = true;
                for node in 0..self.cluster.nodes().len() {
                    let state = &self.cluster.nodes()[node];
                    if state.zone == zone && state.lifecycle != NodeLifecycle::Terminated {
                        victims.extend(self.live_tasks_on(node));
                        self.crash_node(node, queue);
                        self.outage_nodes[zone].push(node);
                    }
                }
                victims.extend((0..self.tasks.len() as u32).filter(|&t| {
                    let task = &self.tasks[t as usize];
                    task.fargate.is_some() && task.zone as usize == zone && task.phase.is_live()
                }));
            }
            FaultKind::Latency {
                component,
                multiplier,
                added,
                ..
            } => {
                record.target = self.scenario.app.components[component].name.clone();
                record
                    .services
                    .push(self.scenario.app.service_of_component[component]);
                let fault = &mut self.component_faults[component];
                fault.multiplier = multiplier;
                fault.added = added;
            }
            FaultKind::MemoryLeak {
                component,
                bytes_per_sec,
                duration,
            } => {
                let service = self.scenario.app.service_of_component[component];
                record.target = self.scenario.app.components[component].name.clone();
                record.services.push(service);
                self.leaks[service] = Some((bytes_per_sec, now + duration));
                let healthy: Vec<u32> = (0..self.tasks.len() as u32)
                    .filter(|&t| {
                        self.tasks[t as usize].service as usize == service
                            && self.tasks[t as usize].phase == TaskPhase::Healthy
                    })
                    .collect();
                for task in healthy {
                    self.schedule_oom(task, queue);
                }
            }
            FaultKind::Errors {
                component, rate, ..
            } => {
                record.target = self.scenario.app.components[component].name.clone();
                record
                    .services
                    .push(self.scenario.app.service_of_component[component]);
                self.component_faults[component].error_rate = rate;
            }
            FaultKind::BadDeploy { service, rollout } => {
                // Its deployment started at this instant (`RolloutStarts`); the window lasts until
                // that deployment ends (`end_bad_deploy`; at once for a service with no task), or
                // the run does.
                record.target = self.scenario.app.services[service].name.clone();
                record.services.push(service);
                record.ended = self
                    .rollout_results
                    .iter()
                    .rev()
                    .find(|r| r.rollout == rollout)
                    .and_then(|r| r.finished)
                    .unwrap_or(self.end);
            }
        }
        victims.sort_unstable();
        victims.dedup();
        for &task in &victims {
            let service = self.tasks[task as usize].service as usize;
            if !record.services.contains(&service) {
                record.services.push(service);
            }
        }
        record.tasks_crashed = victims.len() as u32;
        let detail = format!(
            "kind={} target={} tasks={}",
            record.kind,
            record.target,
            victims.len()
        );
        let subject = self.fault_subject(index);
        self.log(now, "fault_started", &subject, detail);
        self.fault_records.push(record);
        self.remove_and_replace(victims, Removal::Crash { lost }, queue);
    }

    pub(super) fn on_fault_ends(&mut self, index: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        match self.fault_occurrences[index].kind {
            FaultKind::ZoneOutage { zone, .. } => {
                self.zone_down[zone] = false;
                for node in std::mem::take(&mut self.outage_nodes[zone]) {
                    self.launch_replacement(node, Some(zone), queue);
                }
                // Fargate tasks left pending while the zone was down can be placed again.
                self.place_pending(queue);
            }
            FaultKind::Latency { component, .. } | FaultKind::Errors { component, .. } => {
                // Back to normal, except for other latency or error faults still active on it.
                let mut state = ComponentFault::default();
                for (other, fault) in self.fault_occurrences.iter().enumerate() {
                    let start = SimTime::ZERO + fault.start;
                    let active =
                        other != index && start <= now && now < start + fault.kind.duration();
                    match fault.kind {
                        FaultKind::Latency {
                            component: c,
                            multiplier,
                            added,
                            ..
                        } if active && c == component => {
                            state.multiplier = multiplier;
                            state.added = added;
                        }
                        FaultKind::Errors {
                            component: c, rate, ..
                        } if active && c == component => {
                            state.error_rate = rate;
                        }
                        _ => {}
                    }
                }
                self.component_faults[component] = state;
            }
            FaultKind::MemoryLeak { component, .. } => {
                self.leaks[self.scenario.app.service_of_component[component]] = None;
            }
            FaultKind::RegistryOutage { .. } => {
                self.registry_down = false;
                for task in std::mem::take(&mut self.stalled_pulls) {
                    if self.tasks[task as usize].phase == TaskPhase::Pulling {
                        self.start_task(task, queue);
                    }
                }
            }
            FaultKind::SpotInterruption { .. } => {
                // The notice ran out: whatever still runs there dies with the node.
                if let Some(node) = self.spot_nodes[index].take() {
                    let remaining = self.live_tasks_on(node);
                    if let Some(record) = self.record_of(index) {
                        record.tasks_crashed += remaining.len() as u32;
                    }
                    self.crash_node(node, queue);
                    self.remove_and_replace(remaining, Removal::Crash { lost: true }, queue);
                    self.launch_replacement(node, None, queue);
                }
            }
            _ => {}
        }
        let subject = self.fault_subject(index);
        self.log(now, "fault_ended", &subject, String::new());
    }

    /// Rolling deployment `rollout` ended (completed, failed, rolled back or superseded): if a
    /// bad deploy started it, that fault's window ends now.
    pub(super) fn end_bad_deploy(&mut self, rollout: usize, now: SimTime) {
        let Some(index) = self.fault_occurrences.iter().position(
            |o| matches!(o.kind, FaultKind::BadDeploy { rollout: r, .. } if r == rollout),
        ) else {
            return;
        };
        if let Some(record) = self.record_of(index) {
            record.ended = now;
            let subject = self.fault_subject(index);
            self.log(now, "fault_ended", &subject, String::new());
        }
    }

    /// With its service leaking, a healthy task is killed when its memory reservation fills up
    /// (from half full at the leak rate).
    pub(super) fn schedule_oom(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        let service = self.tasks[task as usize].service as usize;
        let Some((bytes_per_sec, until)) = self.leaks[service] else {
            return;
        };
        let memory = self.scenario.app.services[service].memory_bytes as f64;
        let at = queue.now() + SimDuration::from_secs_f64(memory * 0.5 / bytes_per_sec);
        if at < until {
            queue.schedule_at(at, Event::OutOfMemory { task });
        }
    }

    /// A leaking task ran out of memory: it is killed (a crash) and replaced.
    pub(super) fn on_out_of_memory(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        if self.tasks[task as usize].phase != TaskPhase::Healthy {
            return;
        }
        let now = queue.now();
        let service = self.tasks[task as usize].service as usize;
        let subject = self.tasks[task as usize].name.clone();
        self.log(now, "task_oom_killed", &subject, String::new());
        if let Some(record) = self
            .fault_records
            .iter_mut()
            .rev()
            .find(|r| r.kind == "memory_leak" && r.services.contains(&service))
        {
            record.tasks_crashed += 1;
        }
        self.crash_task(task, false, queue);
        let desired = self.services[service].desired;
        self.set_desired(service, desired, queue);
    }

    /// The node a node fault hits: the group's node with that ordinal, or a random ready one
    /// (drawn with `choice_key`).
    fn choose_node(
        &self,
        choice_key: u64,
        node_group: usize,
        ordinal: Option<u32>,
    ) -> Option<usize> {
        let ready: Vec<usize> = (0..self.cluster.nodes().len())
            .filter(|&n| {
                let state = &self.cluster.nodes()[n];
                state.group == node_group && state.lifecycle == NodeLifecycle::Ready
            })
            .collect();
        match ordinal {
            Some(ordinal) => {
                let name = format!(
                    "{}-{ordinal}",
                    self.scenario.cluster.node_groups[node_group].name
                );
                ready
                    .iter()
                    .copied()
                    .find(|&n| self.cluster.nodes()[n].name == name)
            }
            None if ready.is_empty() => None,
            None => {
                let mut draw = KeyedRng::new(choice_key);
                Some(ready[((draw.uniform() * ready.len() as f64) as usize).min(ready.len() - 1)])
            }
        }
    }

    fn live_tasks_on(&self, node: usize) -> Vec<u32> {
        (0..self.tasks.len() as u32)
            .filter(|&t| {
                // Stopping tasks (still finishing calls) die with the node too.
                self.tasks[t as usize].node == node as u32
                    && self.tasks[t as usize].phase != TaskPhase::Stopped
            })
            .collect()
    }

    /// Takes a node down at once: it accepts nothing more and stops billing.
    fn crash_node(&mut self, node: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        if self.cluster.nodes()[node].lifecycle == NodeLifecycle::Ready {
            self.cluster.set_lifecycle(node, NodeLifecycle::Draining);
        }
        self.nodes[node].terminated = Some(now);
        let name = self.cluster.nodes()[node].name.clone();
        self.log(now, "node_crashed", &name, String::new());
        self.finish_node_crash(node);
    }

    /// Once a crashed node's tasks are gone, marks it terminated.
    fn finish_node_crash(&mut self, node: usize) {
        let state = &self.cluster.nodes()[node];
        if state.lifecycle != NodeLifecycle::Terminated
            && state.tasks == 0
            && self.nodes[node].terminated.is_some()
        {
            self.cluster.set_lifecycle(node, NodeLifecycle::Terminated);
        }
    }

    /// The node group launches a node like `node` (in `zone`, or the group's round-robin zone).
    fn launch_replacement(
        &mut self,
        node: usize,
        zone: Option<usize>,
        queue: &mut EventQueue<Event>,
    ) {
        let now = queue.now();
        let group = self.cluster.nodes()[node].group;
        let ordinal = self
            .cluster
            .nodes()
            .iter()
            .filter(|n| n.group == group)
            .count();
        let mut replacement =
            self.scenario
                .cluster
                .new_node(group, ordinal, NodeLifecycle::Provisioning);
        let zone = zone.unwrap_or(self.cluster.nodes()[node].zone);
        replacement.zone = zone;
        replacement.attributes.insert(
            "ecs.availability-zone".into(),
            self.cluster.zones()[zone].clone(),
        );
        let name = replacement.name.clone();
        let index = self.cluster.add_node(replacement);
        self.nodes.push(NodeRuntime {
            launched: now,
            cached_images: self.baked_images(group),
            ..NodeRuntime::default()
        });
        self.log(
            now,
            "node_provisioning",
            &name,
            format!("replaces={}", self.cluster.nodes()[node].name),
        );
        let delay = self.draw_node_provision(index, group);
        queue.schedule_in(delay, Event::NodeBooting { node: index as u32 });
    }

    /// A task dies at once: calls queued on it fail, calls in service fail (their frames become
    /// zombies whose pending events are ignored), its node capacity is released. Its container's
    /// exit is seen at once and it leaves its load balancer; a `lost` task (its node went down)
    /// stays in rotation, refusing calls, until health checks find it.
    pub(super) fn crash_task(&mut self, task: u32, lost: bool, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let phase = self.tasks[task as usize].phase;
        if !phase.is_live() && phase != TaskPhase::Stopping {
            return;
        }
        let service = self.tasks[task as usize].service as usize;
        if phase.is_live() {
            self.services[service].live -= 1;
        }
        if phase == TaskPhase::Healthy {
            self.count_unhealthy(task, now);
        }
        if !lost {
            self.leave_rotation(task);
        }
        // Calls waiting in its queue.
        while let Some(frame) = self.replicas[task as usize].queue.pop_front() {
            self.services[service].queued.change(now, -1);
            self.fail_frame(frame, FailReason::Crashed, queue);
        }
        // Calls in service on it: answer their callers with a failure now.
        let affected: Vec<u32> = (0..self.frames.len() as u32)
            .filter(|&f| {
                let frame = &self.frames[f as usize];
                // Frames whose answer is already on its way are done with the task.
                frame.alive && !frame.zombie && !frame.responded && frame.replica == task
            })
            .collect();
        for frame_index in affected {
            let frame = self.frames[frame_index as usize];
            let state = &mut self.frames[frame_index as usize];
            state.zombie = true;
            state.holds_worker = false;
            if !frame.remote {
                continue;
            }
            if frame.parent == NONE {
                self.finish_request(frame.request, Some(FailReason::Crashed), now);
            } else {
                // A stand-in frame carries the failure back; the zombie stays for its events.
                let proxy = self.new_frame(frame.request, frame.node as usize, frame.parent, true);
                let stand_in = &mut self.frames[proxy as usize];
                stand_in.failure = Some(FailReason::Crashed);
                stand_in.responded = true;
                stand_in.attempt = frame.attempt;
                stand_in.abandoned = frame.abandoned;
                // Its timer (on the zombie) is ignored; the stand-in's answer settles the attempt,
                // and takes over its bulkhead permit.
                stand_in.bulkhead_permit = frame.bulkhead_permit;
                self.frames[frame_index as usize].bulkhead_permit = false;
                if let Some(timer) = frame.timer {
                    queue.cancel(timer);
                }
                queue.schedule_in(
                    self.scenario.app.hop_latency,
                    Event::ResponseArrives { frame: proxy },
                );
            }
        }
        if lost {
            self.lose_task(task, queue);
        }
        let busy = self.replicas[task as usize].busy.value() as i64;
        self.replicas[task as usize].busy.change(now, -busy);
        self.services[service].busy.change(now, -busy);
        let state = &mut self.tasks[task as usize];
        state.phase = TaskPhase::Stopped;
        state.stopped = Some(now);
        let node = state.node;
        let subject = state.name.clone();
        self.pending_tasks.retain(|&t| t != task);
        if node != NONE {
            let resources = self.task_request(service).resources;
            self.cluster.release(node as usize, service, resources);
            self.finish_node_crash(node as usize);
        }
        self.log(now, "task_crashed", &subject, String::new());
    }

    /// Records the first failure after each fault's start. Records start in time order and a
    /// failure detects every record started by then, so the undetected ones are a suffix.
    pub(super) fn note_failure(&mut self, now: SimTime) {
        for record in &mut self.fault_records[self.faults_detected..] {
            record.detected = Some(now);
        }
        self.faults_detected = self.fault_records.len();
    }
}
