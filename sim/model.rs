//! The world: the event enum and its handlers. Requests flow through call trees onto replicas (FCFS
//! queues with workers); this is the only module that wires engine, app, workload, policies and metrics.

use crate::app::CallNode;
use crate::engine::{EventQueue, Handler};
use crate::metrics::{ClassSummary, FailReason, LatencyStats, TimeWeighted};
use crate::policy::balancer::Balancer;
use crate::rng::{self, KeyedRng, combine};
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};
use crate::workload::{ArrivalProcess, ClassMix};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::VecDeque;

const NONE: u32 = u32::MAX;

/// What can happen.
#[derive(Debug, Clone, Copy)]
enum Event {
    /// The next external request arrives.
    Arrival,
    /// A remote call reaches the service that serves it.
    CallArrives { frame: u32 },
    /// A frame's own work (its service demand) is done.
    WorkDone { frame: u32 },
    /// A remote call's response reaches the caller.
    ResponseArrives { frame: u32 },
    /// A metrics interval ends.
    Sample,
    /// The warmup ends: summaries start counting.
    WarmupEnd,
}

/// One request in flight.
#[derive(Debug, Clone, Copy)]
struct Request {
    id: u64,
    class: u16,
    arrival: SimTime,
    counted: bool,
    /// False once the request has completed or failed: a second ending is a bug.
    open: bool,
}

/// The activation of one call-tree node for one request.
#[derive(Debug, Clone, Copy)]
struct Frame {
    request: u32,
    node: u16,
    step: u16,
    pending: u16,
    /// True when this frame arrived over the network (it sends a response back over it too).
    remote: bool,
    /// True while the frame owns a worker of `replica`.
    holds_worker: bool,
    /// True when the frame runs on a worker an ancestor in the same service holds (blocking caller).
    on_lent_worker: bool,
    failure: Option<FailReason>,
    parent: u32,
    /// Global index of the replica the frame runs on (in-process frames share their caller's);
    /// `NONE` until a replica is chosen.
    replica: u32,
}

/// One running replica: a FCFS queue in front of `workers` servers.
#[derive(Debug)]
struct Replica {
    busy: u32,
    workers: u32,
    queue_limit: u32,
    queue: VecDeque<u32>,
}

/// A deployed service: its replicas, balancer and gauges.
#[derive(Debug)]
struct Service {
    first_replica: u32,
    /// Outstanding (queued + in service + awaiting downstream) calls per replica, for the balancer.
    outstanding: Vec<u32>,
    balancer: Box<dyn Balancer>,
    balancer_rng: ChaCha8Rng,
    busy: TimeWeighted,
    queued: TimeWeighted,
    total_workers: u64,
}

/// Totals over all requests of a replication, warmup included: the conservation check.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Conservation {
    /// Requests that arrived.
    pub offered: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests still in flight at the end.
    pub in_flight: u64,
}

impl Conservation {
    /// True when every request is accounted for exactly once.
    pub fn holds(&self) -> bool {
        self.offered == self.completed + self.failed + self.in_flight
    }
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesRow {
    /// End of the interval, in seconds.
    pub time_s: f64,
    /// A class, a service, or `all`.
    pub subject: String,
    /// The metric's name.
    pub metric: &'static str,
    /// Its value (NaN when undefined, e.g. a percentile of no requests).
    pub value: f64,
}

/// One row of `events.csv`.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// When.
    pub time: SimTime,
    /// What kind of event.
    pub kind: &'static str,
    /// What it happened to.
    pub subject: String,
    /// Details.
    pub detail: String,
}

/// Everything one replication produced.
#[derive(Debug, Clone)]
pub struct ReplicationResult {
    /// Replication index.
    pub replication: u32,
    /// Per-class summaries, then `all`.
    pub classes: Vec<ClassSummary>,
    /// The time series.
    pub timeseries: Vec<SeriesRow>,
    /// The event log.
    pub events: Vec<EventRow>,
    /// Request accounting over the whole run.
    pub conservation: Conservation,
    /// An order-independent digest of every request's arrival time, class and drawn service demands:
    /// equal digests mean the same request stream (common random numbers).
    pub request_digest: u64,
    /// Events the engine handled.
    pub events_processed: u64,
}

struct World<'s> {
    scenario: &'s Scenario,
    end: SimTime,
    warmup_end: SimTime,
    arrivals: ArrivalProcess,
    mix: ClassMix,
    demand_key: u64,
    branch_key: u64,
    next_request_id: u64,
    requests: Vec<Request>,
    free_requests: Vec<u32>,
    frames: Vec<Frame>,
    free_frames: Vec<u32>,
    replicas: Vec<Replica>,
    services: Vec<Service>,
    replica_service: Vec<u16>,
    /// Post-warmup stats per class, then `all`.
    class_stats: Vec<LatencyStats>,
    class_offered: Vec<u64>,
    /// Per-interval stats per class, then `all`.
    interval_stats: Vec<LatencyStats>,
    interval_offered: Vec<u64>,
    interval_start: SimTime,
    conservation: Conservation,
    digest: u64,
    timeseries: Vec<SeriesRow>,
    events: Vec<EventRow>,
}

impl Handler<Event> for World<'_> {
    fn handle(&mut self, event: Event, queue: &mut EventQueue<Event>) {
        match event {
            Event::Arrival => self.on_arrival(queue),
            Event::CallArrives { frame } => self.arrive_at_service(frame, queue),
            Event::WorkDone { frame } => self.on_work_done(frame, queue),
            Event::ResponseArrives { frame } => {
                let finished = self.frames[frame as usize];
                self.free_frame(frame);
                self.child_done(finished.parent, finished.failure, queue);
            }
            Event::Sample => self.on_sample(queue),
            Event::WarmupEnd => self.log(queue.now(), "warmup_end", "run", String::new()),
        }
    }
}

impl<'s> World<'s> {
    fn new(scenario: &'s Scenario, replication: u32) -> Self {
        let seed = scenario.run.seed;
        let app = &scenario.app;
        let mut replicas = Vec::new();
        let mut services = Vec::new();
        let mut replica_service = Vec::new();
        for (index, spec) in app.services.iter().enumerate() {
            let first_replica = replicas.len() as u32;
            for _ in 0..spec.replicas {
                replicas.push(Replica {
                    busy: 0,
                    workers: spec.workers,
                    queue_limit: spec.queue_limit,
                    queue: VecDeque::new(),
                });
                replica_service.push(index as u16);
            }
            services.push(Service {
                first_replica,
                outstanding: vec![0; spec.replicas as usize],
                balancer: spec.balancer.build(),
                balancer_rng: rng::stream(seed, replication, &format!("balancer/{}", spec.name)),
                busy: TimeWeighted::default(),
                queued: TimeWeighted::default(),
                total_workers: u64::from(spec.workers) * u64::from(spec.replicas),
            });
        }
        let class_count = app.classes.len();
        World {
            scenario,
            end: SimTime::ZERO + scenario.run.duration,
            warmup_end: SimTime::ZERO + scenario.run.warmup,
            arrivals: ArrivalProcess::new(
                &scenario.workload,
                rng::stream(seed, replication, "arrivals"),
            ),
            mix: ClassMix::new(
                app.classes.iter().map(|c| c.share),
                rng::stream(seed, replication, "classes"),
            ),
            demand_key: rng::stream_key(seed, replication, "demand"),
            branch_key: rng::stream_key(seed, replication, "branch"),
            next_request_id: 0,
            requests: Vec::new(),
            free_requests: Vec::new(),
            frames: Vec::new(),
            free_frames: Vec::new(),
            replicas,
            services,
            replica_service,
            class_stats: vec![LatencyStats::new(); class_count + 1],
            class_offered: vec![0; class_count + 1],
            interval_stats: vec![LatencyStats::new(); class_count + 1],
            interval_offered: vec![0; class_count + 1],
            interval_start: SimTime::ZERO,
            conservation: Conservation::default(),
            digest: 0,
            timeseries: Vec::new(),
            events: Vec::new(),
        }
    }

    fn log(&mut self, time: SimTime, kind: &'static str, subject: &str, detail: String) {
        self.events.push(EventRow {
            time,
            kind,
            subject: subject.to_string(),
            detail,
        });
    }

    fn start(&mut self, queue: &mut EventQueue<Event>) {
        self.log(
            SimTime::ZERO,
            "run_start",
            &self.scenario.name.clone(),
            format!("mode={}", self.scenario.app.mode.name()),
        );
        for (service_index, service) in self.scenario.app.services.iter().enumerate() {
            for (replica, node) in self.scenario.placements[service_index].iter().enumerate() {
                let detail = match node {
                    Some(node) => format!("node={}", self.scenario_node_name(*node)),
                    None => "node=unmodelled".to_string(),
                };
                self.log(
                    SimTime::ZERO,
                    "replica_running",
                    &format!("{}/{replica}", service.name),
                    detail,
                );
            }
        }
        if let Some(first) = self
            .arrivals
            .next_arrival(&self.scenario.workload, self.end)
        {
            queue.schedule_at(first, Event::Arrival);
        }
        queue.schedule_at(
            SimTime::ZERO + self.scenario.run.metrics_interval,
            Event::Sample,
        );
        if self.warmup_end > SimTime::ZERO {
            queue.schedule_at(self.warmup_end, Event::WarmupEnd);
        }
    }

    fn scenario_node_name(&self, node: usize) -> String {
        let mut remaining = node;
        for group in &self.scenario.cluster.node_groups {
            if remaining < group.count as usize {
                return format!("{}-{remaining}", group.name);
            }
            remaining -= group.count as usize;
        }
        format!("node-{node}")
    }

    fn on_arrival(&mut self, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        if let Some(next) = self
            .arrivals
            .next_arrival(&self.scenario.workload, self.end)
        {
            queue.schedule_at(next, Event::Arrival);
        }
        let id = self.next_request_id;
        self.next_request_id += 1;
        let class = self.mix.next_class();
        self.digest = self
            .digest
            .wrapping_add(combine(combine(id, now.as_nanos()), class as u64));
        let counted = now >= self.warmup_end;
        self.conservation.offered += 1;
        if counted {
            self.class_offered[class] += 1;
            *self.class_offered.last_mut().expect("all") += 1;
        }
        self.interval_offered[class] += 1;
        *self.interval_offered.last_mut().expect("all") += 1;
        let request = Request {
            id,
            class: class as u16,
            arrival: now,
            counted,
            open: true,
        };
        let request_index = match self.free_requests.pop() {
            Some(index) => {
                self.requests[index as usize] = request;
                index
            }
            None => {
                self.requests.push(request);
                (self.requests.len() - 1) as u32
            }
        };
        let root = self.new_frame(request_index, 0, NONE, true);
        self.arrive_at_service(root, queue);
    }

    fn new_frame(&mut self, request: u32, node: usize, parent: u32, remote: bool) -> u32 {
        let frame = Frame {
            request,
            node: node as u16,
            step: 0,
            pending: 0,
            remote,
            holds_worker: false,
            on_lent_worker: false,
            failure: None,
            parent,
            replica: NONE,
        };
        match self.free_frames.pop() {
            Some(index) => {
                self.frames[index as usize] = frame;
                index
            }
            None => {
                self.frames.push(frame);
                (self.frames.len() - 1) as u32
            }
        }
    }

    fn free_frame(&mut self, frame: u32) {
        self.free_frames.push(frame);
    }

    fn call_node(&self, frame: &Frame) -> &'s CallNode {
        let class = self.requests[frame.request as usize].class as usize;
        &self.scenario.app.classes[class].tree.nodes[frame.node as usize]
    }

    /// A remote call (or an external request) reaches its service: pick a replica, queue or reject.
    fn arrive_at_service(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        let component = self.call_node(&frame).component;
        let service_index = self.scenario.app.service_of_component[component];
        let service = &mut self.services[service_index];
        if service.outstanding.is_empty() {
            self.fail_frame(frame_index, FailReason::NoReplica, queue);
            return;
        }
        let local = service
            .balancer
            .pick(&service.outstanding, &mut service.balancer_rng);
        let replica_index = service.first_replica + local as u32;
        if self.take_worker_or_queue(frame_index, replica_index, queue) {
            self.services[service_index].outstanding[local] += 1;
        } else {
            self.fail_frame(frame_index, FailReason::Rejected, queue);
        }
    }

    /// Starts the frame on a free worker of the replica, or queues it; false when the queue is full.
    fn take_worker_or_queue(
        &mut self,
        frame_index: u32,
        replica_index: u32,
        queue: &mut EventQueue<Event>,
    ) -> bool {
        let now = queue.now();
        let service = &mut self.services[self.replica_service[replica_index as usize] as usize];
        let replica = &mut self.replicas[replica_index as usize];
        if replica.busy < replica.workers {
            replica.busy += 1;
            service.busy.change(now, 1);
            let frame = &mut self.frames[frame_index as usize];
            frame.replica = replica_index;
            frame.holds_worker = true;
            self.start_work(frame_index, queue);
            true
        } else if (replica.queue.len() as u32) < replica.queue_limit {
            replica.queue.push_back(frame_index);
            service.queued.change(now, 1);
            self.frames[frame_index as usize].replica = replica_index;
            true
        } else {
            false
        }
    }

    /// Draws this frame's service demand (keyed by request and call node) and schedules its end.
    fn start_work(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        let request = self.requests[frame.request as usize];
        let component = &self.scenario.app.components[self.call_node(&frame).component];
        let mut draw = KeyedRng::new(combine(
            combine(self.demand_key, request.id),
            u64::from(frame.node),
        ));
        let demand = component.service_time.sample(&mut draw);
        self.digest = self.digest.wrapping_add(combine(
            combine(request.id, u64::from(frame.node)),
            demand.as_nanos(),
        ));
        queue.schedule_in(demand, Event::WorkDone { frame: frame_index });
    }

    fn on_work_done(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        if frame.holds_worker
            && self.scenario.app.components[self.call_node(&frame).component].non_blocking
        {
            self.release_worker(frame_index, queue);
        }
        self.advance(frame_index, queue);
    }

    /// Runs the frame's next steps: spawns the calls of the next step, or finishes the frame.
    fn advance(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        loop {
            let frame = self.frames[frame_index as usize];
            let node = self.call_node(&frame);
            if frame.failure.is_some() || frame.step as usize == node.steps.len() {
                self.finish_frame(frame_index, queue);
                return;
            }
            let step = &node.steps[frame.step as usize];
            let spawned = step
                .iter()
                .filter(|&&child| self.call_is_made(&frame, child))
                .count();
            if spawned == 0 {
                self.frames[frame_index as usize].step += 1;
                continue;
            }
            // Set before any child starts: an in-process child may fail at once and report back.
            self.frames[frame_index as usize].pending = spawned as u16;
            let tree = &self.scenario.app.classes
                [self.requests[frame.request as usize].class as usize]
                .tree;
            for &child in step {
                if self.call_is_made(&frame, child) {
                    self.spawn_call(
                        frame_index,
                        node.component,
                        child,
                        tree.nodes[child].component,
                        queue,
                    );
                }
            }
            return;
        }
    }

    /// Whether an optional call is made: a coin keyed by (request, call node), so the same in every
    /// deployment and policy.
    fn call_is_made(&self, frame: &Frame, child: usize) -> bool {
        let request = self.requests[frame.request as usize];
        let probability =
            self.scenario.app.classes[request.class as usize].tree.nodes[child].probability;
        probability >= 1.0
            || KeyedRng::new(combine(combine(self.branch_key, request.id), child as u64)).uniform()
                < probability
    }

    /// Starts one call of `parent`: over the network, on the parent's worker, or on a worker of the
    /// parent's replica when the parent (non-blocking) holds none.
    fn spawn_call(
        &mut self,
        parent_index: u32,
        parent_component: usize,
        child: usize,
        child_component: usize,
        queue: &mut EventQueue<Event>,
    ) {
        let parent = self.frames[parent_index as usize];
        let remote = self
            .scenario
            .app
            .is_remote(parent_component, child_component);
        let child_frame = self.new_frame(parent.request, child, parent_index, remote);
        if remote {
            queue.schedule_in(
                self.scenario.app.hop_latency,
                Event::CallArrives { frame: child_frame },
            );
        } else if parent.holds_worker || parent.on_lent_worker {
            let frame = &mut self.frames[child_frame as usize];
            frame.on_lent_worker = true;
            frame.replica = parent.replica;
            self.start_work(child_frame, queue);
        } else if !self.take_worker_or_queue(child_frame, parent.replica, queue) {
            self.fail_frame(child_frame, FailReason::Rejected, queue);
        }
    }

    fn fail_frame(&mut self, frame_index: u32, reason: FailReason, queue: &mut EventQueue<Event>) {
        self.frames[frame_index as usize].failure = Some(reason);
        self.finish_frame(frame_index, queue);
    }

    /// The frame is done (or failed): free its worker, then answer its caller.
    fn finish_frame(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        if frame.holds_worker {
            self.release_worker(frame_index, queue);
        }
        if frame.remote && frame.replica != NONE {
            let service = self.replica_service[frame.replica as usize] as usize;
            let local = (frame.replica - self.services[service].first_replica) as usize;
            self.services[service].outstanding[local] -= 1;
        }
        if frame.parent == NONE {
            self.free_frame(frame_index);
            self.finish_request(frame.request, frame.failure, queue.now());
        } else if frame.remote {
            queue.schedule_in(
                self.scenario.app.hop_latency,
                Event::ResponseArrives { frame: frame_index },
            );
        } else {
            self.free_frame(frame_index);
            self.child_done(frame.parent, frame.failure, queue);
        }
    }

    fn child_done(
        &mut self,
        parent: u32,
        failure: Option<FailReason>,
        queue: &mut EventQueue<Event>,
    ) {
        let frame = &mut self.frames[parent as usize];
        if frame.failure.is_none() {
            frame.failure = failure;
        }
        frame.pending -= 1;
        if frame.pending == 0 {
            frame.step += 1;
            self.advance(parent, queue);
        }
    }

    /// Frees the frame's worker; the next queued call (if any) takes it.
    fn release_worker(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let frame = &mut self.frames[frame_index as usize];
        frame.holds_worker = false;
        let replica_index = frame.replica;
        let service = &mut self.services[self.replica_service[replica_index as usize] as usize];
        let replica = &mut self.replicas[replica_index as usize];
        match replica.queue.pop_front() {
            Some(next) => {
                service.queued.change(now, -1);
                self.frames[next as usize].holds_worker = true;
                self.start_work(next, queue);
            }
            None => {
                replica.busy -= 1;
                service.busy.change(now, -1);
            }
        }
    }

    fn finish_request(&mut self, request_index: u32, failure: Option<FailReason>, now: SimTime) {
        let request = self.requests[request_index as usize];
        assert!(request.open, "request {} ended twice", request.id);
        self.requests[request_index as usize].open = false;
        self.free_requests.push(request_index);
        let class = request.class as usize;
        let all = self.class_stats.len() - 1;
        let latency = now - request.arrival;
        let within_target = latency <= self.scenario.app.classes[class].slo.latency;
        let sets: [&mut Vec<LatencyStats>; 2] = [&mut self.class_stats, &mut self.interval_stats];
        for (which, stats) in sets.into_iter().enumerate() {
            if which == 0 && !request.counted {
                continue;
            }
            for index in [class, all] {
                match failure {
                    None => stats[index].record_completion(latency, within_target),
                    Some(reason) => stats[index].record_failure(reason),
                }
            }
        }
        match failure {
            None => self.conservation.completed += 1,
            Some(_) => self.conservation.failed += 1,
        }
    }

    fn on_sample(&mut self, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let window = now - self.interval_start;
        let seconds = window.as_secs_f64();
        let time_s = now.as_secs_f64();
        let app = &self.scenario.app;
        let class_names = app
            .classes
            .iter()
            .map(|c| c.name.as_str())
            .chain(std::iter::once("all"));
        for (index, name) in class_names.enumerate() {
            let stats = &self.interval_stats[index];
            for (metric, value) in [
                ("offered_rps", self.interval_offered[index] as f64 / seconds),
                ("throughput_rps", stats.completed() as f64 / seconds),
                ("failed_rps", stats.failed() as f64 / seconds),
                ("latency_p50_ms", stats.percentile_ms(50.0)),
                ("latency_p99_ms", stats.percentile_ms(99.0)),
            ] {
                self.timeseries.push(SeriesRow {
                    time_s,
                    subject: name.to_string(),
                    metric,
                    value,
                });
            }
        }
        for (spec, service) in app.services.iter().zip(self.services.iter_mut()) {
            let busy = service.busy.take_mean(now, window);
            let queued = service.queued.take_mean(now, window);
            let utilization = if service.total_workers == 0 {
                f64::NAN
            } else {
                busy / service.total_workers as f64
            };
            for (metric, value) in [
                ("replicas", f64::from(spec.replicas)),
                ("busy_workers", busy),
                ("utilization", utilization),
                ("queue_length", queued),
            ] {
                self.timeseries.push(SeriesRow {
                    time_s,
                    subject: spec.name.clone(),
                    metric,
                    value,
                });
            }
        }
        for stats in &mut self.interval_stats {
            stats.reset();
        }
        self.interval_offered
            .iter_mut()
            .for_each(|count| *count = 0);
        self.interval_start = now;
        let next = now + self.scenario.run.metrics_interval;
        if next <= self.end {
            queue.schedule_at(next, Event::Sample);
        } else if now < self.end {
            queue.schedule_at(self.end, Event::Sample);
        }
    }

    fn finish(mut self, events_processed: u64, replication: u32) -> ReplicationResult {
        self.conservation.in_flight =
            self.conservation.offered - self.conservation.completed - self.conservation.failed;
        let in_flight_requests = self.requests.len() - self.free_requests.len();
        debug_assert_eq!(in_flight_requests as u64, self.conservation.in_flight);
        self.log(
            self.end,
            "run_end",
            &self.scenario.name.clone(),
            format!("in_flight={}", self.conservation.in_flight),
        );
        let measured = self.scenario.run.duration.as_nanos() - self.scenario.run.warmup.as_nanos();
        let measured = SimDuration::from_nanos(measured);
        let app = &self.scenario.app;
        let mut classes: Vec<ClassSummary> = app
            .classes
            .iter()
            .enumerate()
            .map(|(index, class)| {
                ClassSummary::new(
                    replication,
                    &class.name,
                    self.class_offered[index],
                    &self.class_stats[index],
                    Some(&class.slo),
                    measured,
                )
            })
            .collect();
        let all = app.classes.len();
        let mut all_row = ClassSummary::new(
            replication,
            "all",
            self.class_offered[all],
            &self.class_stats[all],
            None,
            measured,
        );
        // Requests of every class are judged by their own class's SLO; `all` meets its SLO when
        // every class does.
        all_row.slo_met = classes.iter().all(|row| row.slo_met);
        classes.push(all_row);
        ReplicationResult {
            replication,
            classes,
            timeseries: self.timeseries,
            events: self.events,
            conservation: self.conservation,
            request_digest: self.digest,
            events_processed,
        }
    }
}

/// Runs replication `replication` of `scenario`; `progress` receives the simulated fraction done (0–1).
pub fn simulate(
    scenario: &Scenario,
    replication: u32,
    progress: &dyn Fn(f64),
) -> ReplicationResult {
    let mut world = World::new(scenario, replication);
    let mut queue = EventQueue::new();
    world.start(&mut queue);
    const CHUNKS: u64 = 100;
    let end = world.end;
    for chunk in 1..=CHUNKS {
        let until = if chunk == CHUNKS {
            end
        } else {
            SimTime(end.as_nanos() / CHUNKS * chunk)
        };
        queue.run_until(&mut world, until);
        progress(chunk as f64 / CHUNKS as f64);
    }
    let processed = queue.processed();
    world.finish(processed, replication)
}
