//! The fleet: nodes booting, tasks created, placed by the service's placement policy, pulling their
//! image (bandwidth shared on a node, cached afterwards; no cache on Fargate), starting and becoming
//! healthy — after which they receive traffic.

use super::{ActivePull, Event, NONE, NodeRuntime, Replica, Task, TaskPhase, World};
use crate::cluster::catalog::fargate_size_for;
use crate::cluster::state::{NodeLifecycle, Resources, TaskRequest};
use crate::cluster::{InitialState, LaunchType};
use crate::engine::EventQueue;
use crate::metrics::{Mark, TimeWeighted};
use crate::policy::placement::{Decision, select_task_to_stop};
use crate::rng::{KeyedRng, combine};
use crate::time::{SimDuration, SimTime};
use std::collections::VecDeque;

/// Draw-site tags for the lifecycle stream (combined with the entity index).
const PROVISION: u64 = 1;
const BOOT: u64 = 2;
const FARGATE_START: u64 = 3;
const CONTAINER_START: u64 = 4;

/// How `remove_and_replace` takes tasks away.
#[derive(Debug, Clone, Copy)]
pub(super) enum Removal {
    /// Gracefully: they leave their balancer and finish their calls.
    Stop,
    /// At once; `lost` when their node went down with them.
    Crash { lost: bool },
}

impl World<'_> {
    /// Creates the initial nodes and tasks: warm (ready and healthy at time zero) or cold (booting
    /// nodes, tasks through the whole lifecycle).
    pub(super) fn start_fleet(&mut self, queue: &mut EventQueue<Event>) {
        let cluster = &self.scenario.cluster;
        let cold = cluster.initial_state == InitialState::Cold;
        let lifecycle = if cold {
            NodeLifecycle::Provisioning
        } else {
            NodeLifecycle::Ready
        };
        for node in cluster.initial_nodes(lifecycle) {
            let group = node.group;
            let index = self.cluster.add_node(node);
            self.nodes.push(NodeRuntime {
                ready: (!cold).then_some(SimTime::ZERO),
                cached_images: self.baked_images(group),
                ..NodeRuntime::default()
            });
            let state = &self.cluster.nodes()[index];
            let detail = format!(
                "group={} zone={} instance_type={}",
                self.scenario.cluster.node_groups[state.group].name,
                self.cluster.zones()[state.zone],
                state.instance_type
            );
            let name = state.name.clone();
            self.log(
                SimTime::ZERO,
                if cold {
                    "node_provisioning"
                } else {
                    "node_ready"
                },
                &name,
                detail,
            );
            if cold {
                let delay = self.draw_node_provision(index, self.cluster.nodes()[index].group);
                queue.schedule_in(delay, Event::NodeBooting { node: index as u32 });
            }
        }
        for service in 0..self.scenario.app.services.len() {
            for _ in 0..self.services[service].desired {
                self.create_task(service, queue.now());
            }
        }
        if cold {
            self.place_pending(queue);
        } else {
            self.place_warm(queue);
        }
    }

    /// Warm start: place every initial task now and make it healthy at once, image cached.
    fn place_warm(&mut self, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let initial: Vec<u32> = self.pending_tasks.drain(..).collect();
        for task in initial {
            if self.try_place(task, now) {
                let task_state = &self.tasks[task as usize];
                if task_state.node != NONE {
                    let image = image_key(task_state.service, task_state.version);
                    self.nodes[task_state.node as usize]
                        .cached_images
                        .insert(image);
                }
                self.tasks[task as usize].billed_from = Some(now);
                self.on_task_healthy(task, now);
            } else {
                self.pending_tasks.push_back(task);
            }
        }
    }

    /// What a task of `service` needs from a node.
    pub(super) fn task_request(&self, service: usize) -> TaskRequest {
        let spec = &self.scenario.app.services[service];
        TaskRequest {
            service,
            resources: Resources {
                cpu_millis: spec.cpu_millis,
                memory_bytes: spec.memory_bytes,
            },
            os: spec.os,
            arch: spec.arch,
        }
    }

    /// The images (service indices) a node of `group` has from the start.
    pub(super) fn baked_images(&self, group: usize) -> std::collections::BTreeSet<u32> {
        let app = &self.scenario.app;
        self.scenario.cluster.node_groups[group]
            .cached_images
            .iter()
            .filter_map(|name| app.components.iter().position(|c| &c.name == name))
            .map(|component| image_key(app.service_of_component[component] as u16, 0))
            .collect()
    }

    /// The provisioning time of node `index` of `group`.
    pub(super) fn draw_node_provision(&self, index: usize, group: usize) -> SimDuration {
        self.draw(
            PROVISION,
            index as u64,
            &self.scenario.cluster.node_groups[group].provision_time,
        )
    }

    fn draw(
        &self,
        site: u64,
        entity: u64,
        distribution: &crate::dist::Distribution,
    ) -> SimDuration {
        distribution.sample(&mut KeyedRng::new(combine(
            combine(self.lifecycle_key, site),
            entity,
        )))
    }

    /// Adds a pending task (and its replica) for `service`.
    pub(super) fn create_task(&mut self, service: usize, now: SimTime) -> u32 {
        let spec = &self.scenario.app.services[service];
        let index = self.tasks.len() as u32;
        let ordinal = self.services[service].next_ordinal;
        self.services[service].next_ordinal += 1;
        let name = format!("{}/{ordinal}", spec.name);
        let version = self.services[service].version;
        self.tasks.push(Task {
            service: service as u16,
            version,
            ordinal,
            name,
            phase: TaskPhase::Pending,
            node: NONE,
            zone: 0,
            fargate: None,
            created: now,
            placed: None,
            billed_from: None,
            stopped: None,
            pending_reason: None,
            action: None,
            pulled: None,
            running: None,
            healthy: None,
            node_requested: None,
            node_ready: None,
        });
        self.replicas.push(Replica {
            service: service as u16,
            slot: NONE,
            busy: TimeWeighted::default(),
            busy_sampled: Mark::default(),
            workers: spec.workers,
            queue_limit: spec.queue_limit,
            max_queue_time: spec.max_queue_time,
            queue: VecDeque::new(),
            hanging: Vec::new(),
            outstanding: 0,
            consecutive_errors: 0,
            ejections: 0,
            returned: SimTime::ZERO,
            ejected: false,
        });
        self.pending_tasks.push_back(index);
        self.services[service].live += 1;
        index
    }

    /// Takes `tasks` away — each stopped gracefully, or crashed (`lost`: with its node) — then
    /// brings each of their services (in index order, once each) back to its desired count.
    pub(super) fn remove_and_replace(
        &mut self,
        tasks: Vec<u32>,
        removal: Removal,
        queue: &mut EventQueue<Event>,
    ) {
        let mut services: Vec<usize> = tasks
            .iter()
            .map(|&t| self.tasks[t as usize].service as usize)
            .collect();
        for task in tasks {
            match removal {
                Removal::Stop => self.stop_task(task, queue.now(), queue),
                Removal::Crash { lost } => self.crash_task(task, lost, queue),
            }
        }
        services.sort_unstable();
        services.dedup();
        for service in services {
            let desired = self.services[service].desired;
            self.set_desired(service, desired, queue);
        }
    }

    /// Sets a service's desired count and creates or stops tasks to match it.
    pub(super) fn set_desired(
        &mut self,
        service: usize,
        desired: u32,
        queue: &mut EventQueue<Event>,
    ) {
        let now = queue.now();
        self.services[service].desired = desired;
        if self.services[service].rollout.is_some() {
            self.reconcile_rollout(service, queue);
            return;
        }
        while self.services[service].live < desired {
            self.create_task(service, now);
        }
        while self.services[service].live > desired {
            let task = self.choose_task_to_stop(service);
            self.stop_task(task, now, queue);
        }
        self.place_pending(queue);
    }

    /// Which task to stop first: a pending one (newest first), then one still starting, then a
    /// healthy one chosen by the placement policy's scale-in rule (ECS), else the newest.
    fn choose_task_to_stop(&mut self, service: usize) -> u32 {
        let live: Vec<u32> = (0..self.tasks.len() as u32)
            .filter(|&t| {
                self.tasks[t as usize].service as usize == service
                    && self.tasks[t as usize].phase.is_live()
            })
            .collect();
        let newest_in = |phases: &[TaskPhase]| {
            live.iter()
                .rev()
                .copied()
                .find(|&t| phases.contains(&self.tasks[t as usize].phase))
        };
        if let Some(task) = newest_in(&[TaskPhase::Pending])
            .or_else(|| newest_in(&[TaskPhase::Pulling, TaskPhase::Starting, TaskPhase::Running]))
        {
            return task;
        }
        let on_nodes: Vec<u32> = live
            .iter()
            .copied()
            .filter(|&t| self.tasks[t as usize].node != NONE)
            .collect();
        if on_nodes.len() == live.len() && !on_nodes.is_empty() {
            let nodes: Vec<usize> = on_nodes
                .iter()
                .map(|&t| self.tasks[t as usize].node as usize)
                .collect();
            let spec = self.scenario.app.services[service]
                .placement
                .as_ref()
                .unwrap_or(&self.scenario.cluster.placement);
            let state = &mut self.services[service];
            let chosen = select_task_to_stop(
                spec,
                service,
                &nodes,
                &self.cluster,
                &mut state.placement_rng,
            );
            return on_nodes[chosen];
        }
        *live.last().expect("a live task to stop")
    }

    /// Stops a task: a pending or starting one at once; a healthy one stops receiving traffic and
    /// finishes what it has first.
    pub(super) fn stop_task(&mut self, task: u32, now: SimTime, queue: &mut EventQueue<Event>) {
        let phase = self.tasks[task as usize].phase;
        if !phase.is_live() {
            return;
        }
        let service = self.tasks[task as usize].service as usize;
        self.services[service].live -= 1;
        let subject = self.tasks[task as usize].name.clone();
        self.log(
            now,
            "task_stopping",
            &subject,
            format!("phase={phase:?}").to_lowercase(),
        );
        match phase {
            TaskPhase::Pending => {
                self.pending_tasks.retain(|&t| t != task);
                self.tasks[task as usize].phase = TaskPhase::Stopping;
                self.finish_stop(task, now, queue);
            }
            TaskPhase::Healthy => {
                self.count_unhealthy(task, now);
                self.leave_rotation(task);
                self.tasks[task as usize].phase = TaskPhase::Stopping;
                let replica = &self.replicas[task as usize];
                if replica.busy.value() == 0 && replica.queue.is_empty() {
                    self.finish_stop(task, now, queue);
                }
            }
            _ => {
                // Pulling or starting: its pending events find it stopped and do nothing.
                self.tasks[task as usize].phase = TaskPhase::Stopping;
                self.finish_stop(task, now, queue);
            }
        }
    }

    /// A healthy task stops counting as healthy (it stops or dies).
    pub(super) fn count_unhealthy(&mut self, task: u32, now: SimTime) {
        let service = &mut self.services[self.tasks[task as usize].service as usize];
        service.healthy.change(now, -1);
    }

    /// Called when a replica's last worker frees up: a stopping task is now idle and stops.
    pub(super) fn replica_idle(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        if self.tasks[task as usize].phase == TaskPhase::Stopping
            && self.replicas[task as usize].queue.is_empty()
        {
            self.finish_stop(task, queue.now(), queue);
        }
    }

    fn finish_stop(&mut self, task: u32, now: SimTime, queue: &mut EventQueue<Event>) {
        let state = &mut self.tasks[task as usize];
        state.phase = TaskPhase::Stopped;
        state.stopped = Some(now);
        let service = state.service as usize;
        let subject = state.name.clone();
        if state.node != NONE {
            let node = state.node as usize;
            let resources = self.task_request(service).resources;
            self.cluster.release(node, service, resources);
            self.terminate_if_drained(node, now);
        }
        self.log(now, "task_stopped", &subject, String::new());
        self.place_pending(queue);
        self.reconcile_rollout(service, queue);
    }

    /// Tries to place every pending task, in arrival order; those that fit nowhere stay pending.
    pub(super) fn place_pending(&mut self, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let waiting: Vec<u32> = self.pending_tasks.drain(..).collect();
        for task in waiting {
            if self.try_place(task, now) {
                self.start_task(task, queue);
            } else {
                self.pending_tasks.push_back(task);
            }
        }
    }

    /// Gives the task capacity: a node chosen by the service's policy (EC2), its own Fargate size,
    /// or nothing to reserve when capacity is not modelled. False when it must stay pending.
    fn try_place(&mut self, task: u32, now: SimTime) -> bool {
        let service = self.tasks[task as usize].service as usize;
        let spec = &self.scenario.app.services[service];
        let cluster = &self.scenario.cluster;
        let detail = match cluster.launch_type {
            LaunchType::Fargate => {
                let size = fargate_size_for(spec.cpu_millis, spec.memory_bytes)
                    .expect("validated Fargate size");
                // Fargate spreads a service's tasks over the zones (those not in an outage).
                let ordinal = self.tasks[task as usize].ordinal as usize;
                let zones = cluster.zones.len();
                let Some(zone) = (0..zones)
                    .map(|step| (ordinal + step) % zones)
                    .find(|&zone| !self.zone_down[zone])
                else {
                    return false;
                };
                let state = &mut self.tasks[task as usize];
                state.fargate = Some(size);
                state.zone = zone as u32;
                format!(
                    "fargate zone={} size={}vCPU/{}GiB",
                    cluster.zones[zone],
                    size.cpu_millis as f64 / 1000.0,
                    size.memory_bytes as f64 / (1u64 << 30) as f64
                )
            }
            LaunchType::Ec2 if !cluster.has_nodes() => "capacity not modelled".to_string(),
            LaunchType::Ec2 => {
                let request = self.task_request(service);
                let service_state = &mut self.services[service];
                match service_state.placement.place(
                    &request,
                    &self.cluster,
                    &mut service_state.placement_rng,
                ) {
                    Decision::Place(node) => {
                        assert!(
                            self.cluster.fits(node, &request),
                            "policy chose node {node}, which does not fit"
                        );
                        self.cluster.reserve(node, service, request.resources);
                        let state = &mut self.tasks[task as usize];
                        state.node = node as u32;
                        state.zone = self.cluster.nodes()[node].zone as u32;
                        format!("node={}", self.cluster.nodes()[node].name)
                    }
                    Decision::Pending(reason) => {
                        self.unschedulable_decisions += 1;
                        let name = reason.name();
                        if self.tasks[task as usize].pending_reason != Some(name) {
                            self.tasks[task as usize].pending_reason = Some(name);
                            let subject = self.tasks[task as usize].name.clone();
                            self.log(
                                now,
                                "task_pending",
                                &subject,
                                format!("reason={name} {reason}"),
                            );
                        }
                        return false;
                    }
                }
            }
        };
        self.note_node_wait(task);
        let state = &mut self.tasks[task as usize];
        state.placed = Some(now);
        self.pending_times.push((now - state.created).as_nanos());
        let subject = state.name.clone();
        self.log(now, "task_placed", &subject, detail);
        true
    }

    /// A placed task gets its image: from the node's cache, by a pull on the node, or on Fargate.
    pub(super) fn start_task(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let state = &self.tasks[task as usize];
        if state.fargate.is_some() {
            let latency = self.draw(
                FARGATE_START,
                u64::from(task),
                &self.scenario.cluster.fargate.start_latency,
            );
            queue.schedule_in(latency, Event::FargateCapacityReady { task });
            return;
        }
        if state.node == NONE {
            self.start_container(task, queue);
            return;
        }
        let node = state.node as usize;
        let image = image_key(state.service, state.version);
        let image_bytes =
            self.services[state.service as usize].versions[state.version as usize].image_bytes;
        let subject = state.name.clone();
        if self.nodes[node].cached_images.contains(&image) {
            self.log(
                now,
                "task_pulling",
                &subject,
                format!("image_mb={} cached=true", image_bytes / 1_000_000),
            );
            self.start_container(task, queue);
            return;
        }
        if self.registry_down {
            // The registry is down: the pull waits for it.
            self.tasks[task as usize].phase = TaskPhase::Pulling;
            self.stalled_pulls.push(task);
            self.log(now, "task_pull_stalled", &subject, "registry down".into());
            return;
        }
        self.tasks[task as usize].phase = TaskPhase::Pulling;
        self.log(
            now,
            "task_pulling",
            &subject,
            format!("image_mb={} cached=false", image_bytes / 1_000_000),
        );
        self.advance_pulls(node, now);
        let pulls = &mut self.nodes[node].pulls;
        match pulls.iter_mut().find(|pull| pull.image == image) {
            Some(pull) => pull.waiters.push(task),
            None => pulls.push(ActivePull {
                image,
                remaining_bytes: image_bytes as f64,
                waiters: vec![task],
            }),
        }
        self.schedule_next_pull(node, queue);
    }

    /// Credits every pull on `node` with its share of the bandwidth since the last update.
    fn advance_pulls(&mut self, node: usize, now: SimTime) {
        let bandwidth = self
            .scenario
            .cluster
            .tasks
            .node_pull_bandwidth_bytes_per_sec;
        let runtime = &mut self.nodes[node];
        let elapsed = (now - runtime.pulls_updated).as_secs_f64();
        runtime.pulls_updated = now;
        if runtime.pulls.is_empty() {
            return;
        }
        let share = bandwidth / runtime.pulls.len() as f64 * elapsed;
        for pull in &mut runtime.pulls {
            pull.remaining_bytes = (pull.remaining_bytes - share).max(0.0);
        }
    }

    /// (Re)schedules the node's next pull completion under processor sharing of its bandwidth.
    fn schedule_next_pull(&mut self, node: usize, queue: &mut EventQueue<Event>) {
        let bandwidth = self
            .scenario
            .cluster
            .tasks
            .node_pull_bandwidth_bytes_per_sec;
        let runtime = &mut self.nodes[node];
        if let Some(previous) = runtime.next_pull_event.take() {
            queue.cancel(previous);
        }
        let Some(smallest) = runtime
            .pulls
            .iter()
            .map(|pull| pull.remaining_bytes)
            .reduce(f64::min)
        else {
            return;
        };
        let seconds = smallest * runtime.pulls.len() as f64 / bandwidth;
        let delay = SimDuration::from_nanos((seconds * 1e9).ceil() as u64);
        runtime.next_pull_event =
            Some(queue.schedule_in(delay, Event::NodePullProgress { node: node as u32 }));
    }

    pub(super) fn on_pull_progress(&mut self, node: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        self.nodes[node].next_pull_event = None;
        self.advance_pulls(node, now);
        // Finished: less than one byte left (the event time was rounded up to the nanosecond).
        let (done, still): (Vec<ActivePull>, Vec<ActivePull>) =
            std::mem::take(&mut self.nodes[node].pulls)
                .into_iter()
                .partition(|pull| pull.remaining_bytes < 1.0);
        self.nodes[node].pulls = still;
        for pull in done {
            self.nodes[node].cached_images.insert(pull.image);
            for task in pull.waiters {
                self.start_container(task, queue);
            }
        }
        self.schedule_next_pull(node, queue);
    }

    pub(super) fn on_fargate_capacity(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        if !self.tasks[task as usize].phase.is_live() {
            return;
        }
        if self.registry_down {
            self.tasks[task as usize].phase = TaskPhase::Pulling;
            self.stalled_pulls.push(task);
            let subject = self.tasks[task as usize].name.clone();
            self.log(
                queue.now(),
                "task_pull_stalled",
                &subject,
                "registry down".into(),
            );
            return;
        }
        let now = queue.now();
        let service = self.tasks[task as usize].service as usize;
        let version = self.tasks[task as usize].version as usize;
        let image_bytes = self.services[service].versions[version].image_bytes;
        let state = &mut self.tasks[task as usize];
        state.phase = TaskPhase::Pulling;
        state.billed_from = Some(now);
        let subject = state.name.clone();
        self.log(
            now,
            "task_pulling",
            &subject,
            format!("image_mb={} cached=false", image_bytes / 1_000_000),
        );
        let seconds =
            image_bytes as f64 / self.scenario.cluster.fargate.pull_bandwidth_bytes_per_sec;
        queue.schedule_in(
            SimDuration::from_secs_f64(seconds),
            Event::FargatePullDone { task },
        );
    }

    /// The image is on the node: start the container.
    pub(super) fn start_container(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        if !self.tasks[task as usize].phase.is_live() {
            return;
        }
        let now = queue.now();
        let state = &mut self.tasks[task as usize];
        state.phase = TaskPhase::Starting;
        state.pulled = Some(now);
        if state.billed_from.is_none() {
            state.billed_from = Some(now);
        }
        let subject = state.name.clone();
        self.log(now, "task_starting", &subject, String::new());
        let start = self.draw(
            CONTAINER_START,
            u64::from(task),
            &self.scenario.cluster.tasks.start_time,
        );
        queue.schedule_in(start, Event::TaskRunning { task });
    }

    pub(super) fn on_task_running(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        if !self.tasks[task as usize].phase.is_live() {
            return;
        }
        let now = queue.now();
        self.tasks[task as usize].phase = TaskPhase::Running;
        self.tasks[task as usize].running = Some(now);
        let subject = self.tasks[task as usize].name.clone();
        self.log(now, "task_running", &subject, String::new());
        let state = &self.tasks[task as usize];
        let fails = self.services[state.service as usize].versions[state.version as usize]
            .fails_health_check;
        let event = if fails {
            Event::TaskUnhealthy { task }
        } else {
            Event::TaskHealthy { task }
        };
        queue.schedule_in(self.scenario.cluster.tasks.health_check_grace, event);
    }

    /// The task passed its health checks: the balancer may send it traffic.
    pub(super) fn on_task_healthy(&mut self, task: u32, now: SimTime) {
        if !self.tasks[task as usize].phase.is_live() {
            return;
        }
        let state = &mut self.tasks[task as usize];
        state.phase = TaskPhase::Healthy;
        state.healthy = Some(now);
        self.ready_times.push((now - state.created).as_nanos());
        let subject = state.name.clone();
        let service_index = state.service as usize;
        self.log(now, "task_healthy", &subject, String::new());
        self.services[service_index].healthy.change(now, 1);
        self.join_rotation(task);
    }

    pub(super) fn on_node_booting(&mut self, node: usize, queue: &mut EventQueue<Event>) {
        if self.nodes[node].terminated.is_some() {
            return;
        }
        self.cluster.set_lifecycle(node, NodeLifecycle::Booting);
        let name = self.cluster.nodes()[node].name.clone();
        self.log(queue.now(), "node_booting", &name, String::new());
        let group = self.cluster.nodes()[node].group;
        let boot = self.draw(
            BOOT,
            node as u64,
            &self.scenario.cluster.node_groups[group].boot_time,
        );
        queue.schedule_in(boot, Event::NodeReady { node: node as u32 });
    }

    pub(super) fn on_node_ready(&mut self, node: usize, queue: &mut EventQueue<Event>) {
        if self.nodes[node].terminated.is_some() {
            return;
        }
        self.cluster.set_lifecycle(node, NodeLifecycle::Ready);
        self.nodes[node].ready = Some(queue.now());
        let name = self.cluster.nodes()[node].name.clone();
        self.log(queue.now(), "node_ready", &name, String::new());
        self.place_pending(queue);
    }
}

/// The cache key of a service's image at a version.
pub(super) fn image_key(service: u16, version: u16) -> u32 {
    u32::from(service) | (u32::from(version) << 16)
}
