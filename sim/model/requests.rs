//! Request flow: arrivals, call trees, replicas as FCFS queues with workers, responses and failures.

use super::{Event, Frame, NONE, Request, TaskPhase, World};
use crate::app::CallNode;
use crate::cluster::LostTaskCalls;
use crate::engine::EventQueue;
use crate::metrics::{FailReason, LatencyStats};
use crate::rng::{KeyedRng, combine};
use crate::time::{SimDuration, SimTime};

impl<'s> World<'s> {
    pub(super) fn on_arrival(&mut self, queue: &mut EventQueue<Event>) {
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
            frames: 0,
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

    pub(super) fn new_frame(
        &mut self,
        request: u32,
        node: usize,
        parent: u32,
        remote: bool,
    ) -> u32 {
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
            arrived: SimTime::ZERO,
            alive: true,
            zombie: false,
            attempt: 1,
            abandoned: false,
            timer: None,
            responded: false,
            bulkhead_permit: false,
        };
        self.requests[request as usize].frames += 1;
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

    pub(super) fn free_frame(&mut self, frame: u32) {
        let state = &mut self.frames[frame as usize];
        state.alive = false;
        let request = state.request as usize;
        self.free_frames.push(frame);
        let owner = &mut self.requests[request];
        owner.frames -= 1;
        if owner.frames == 0 && !owner.open {
            self.free_requests.push(request as u32);
        }
    }

    pub(super) fn call_node(&self, frame: &Frame) -> &'s CallNode {
        let class = self.requests[frame.request as usize].class as usize;
        &self.scenario.app.classes[class].tree.nodes[frame.node as usize]
    }

    /// A remote call (or an external request) reaches its service: pick a replica, queue or reject.
    pub(super) fn arrive_at_service(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        let component = self.call_node(&frame).component;
        let service_index = self.scenario.app.service_of_component[component];
        if self.injected_error(&frame, component) {
            self.services[service_index].metrics.record_arrival();
            self.fail_frame(frame_index, FailReason::Error, queue);
            return;
        }
        let service = &mut self.services[service_index];
        service.metrics.record_arrival();
        self.frames[frame_index as usize].arrived = queue.now();
        if service.active.is_empty() {
            self.fail_frame(frame_index, FailReason::NoReplica, queue);
            return;
        }
        let local = service
            .balancer
            .pick(&service.outstanding, &mut service.balancer_rng);
        let replica_index = service.active[local];
        if self.tasks[replica_index as usize].phase == TaskPhase::Stopped {
            // A lost task its balancer has not found dead yet.
            match self.scenario.cluster.tasks.lost_task_calls {
                LostTaskCalls::Refused => {
                    self.replica_answered(replica_index, true, queue);
                    self.fail_frame(frame_index, FailReason::Crashed, queue);
                }
                LostTaskCalls::Hang => {
                    service.outstanding[local] += 1;
                    let replica = &mut self.replicas[replica_index as usize];
                    replica.outstanding += 1;
                    replica.hanging.push(frame_index);
                    self.frames[frame_index as usize].replica = replica_index;
                }
            }
            return;
        }
        let error_rate =
            service.versions[self.tasks[replica_index as usize].version as usize].error_rate;
        if error_rate > 0.0 && self.attempt_uniform(self.error_key, &frame) < error_rate {
            self.replica_answered(replica_index, true, queue);
            self.fail_frame(frame_index, FailReason::Error, queue);
            return;
        }
        if self.take_worker_or_queue(frame_index, replica_index, queue) {
            self.services[service_index].outstanding[local] += 1;
            self.replicas[replica_index as usize].outstanding += 1;
        } else {
            self.replica_answered(replica_index, true, queue);
            self.fail_frame(frame_index, FailReason::Rejected, queue);
        }
    }

    /// Starts the frame on a free worker of the replica, or queues it; false when the queue is full.
    pub(super) fn take_worker_or_queue(
        &mut self,
        frame_index: u32,
        replica_index: u32,
        queue: &mut EventQueue<Event>,
    ) -> bool {
        let now = queue.now();
        let replica = &mut self.replicas[replica_index as usize];
        let service = &mut self.services[replica.service as usize];
        if replica.busy.value() < u64::from(replica.workers) {
            replica.busy.change(now, 1);
            service.busy.change(now, 1);
            let frame = &mut self.frames[frame_index as usize];
            frame.replica = replica_index;
            frame.holds_worker = true;
            self.start_work(frame_index, queue);
            true
        } else if (replica.queue.len() as u32) < replica.queue_limit {
            replica.queue.push_back(frame_index);
            service.queued.change(now, 1);
            let frame = &mut self.frames[frame_index as usize];
            frame.replica = replica_index;
            frame.arrived = now;
            true
        } else {
            false
        }
    }

    /// Draws this frame's service demand (keyed by request and call node) and schedules its end.
    pub(super) fn start_work(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
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
        // The serving task's version may be slower; the drawn demand (the workload) is unchanged.
        let task = &self.tasks[frame.replica as usize];
        assert!(
            task.phase != TaskPhase::Stopped,
            "{} serves after it died",
            task.name
        );
        let slowdown =
            self.services[task.service as usize].versions[task.version as usize].slowdown;
        let demand = if slowdown == 1.0 {
            demand
        } else {
            SimDuration::from_secs_f64(demand.as_secs_f64() * slowdown)
        };
        // Injected latency on the component (a fault window).
        let injected = self.component_faults[self.call_node(&frame).component];
        let demand = if injected.multiplier == 1.0 && injected.added == SimDuration::ZERO {
            demand
        } else {
            SimDuration::from_secs_f64(demand.as_secs_f64() * injected.multiplier) + injected.added
        };
        queue.schedule_in(demand, Event::WorkDone { frame: frame_index });
    }

    pub(super) fn on_work_done(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        if frame.zombie {
            return;
        }
        if frame.holds_worker
            && self.scenario.app.components[self.call_node(&frame).component].non_blocking
        {
            self.release_worker(frame_index, queue);
        }
        self.advance(frame_index, queue);
    }

    /// Runs the frame's next steps: spawns the calls of the next step, or finishes the frame.
    pub(super) fn advance(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
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
    pub(super) fn call_is_made(&self, frame: &Frame, child: usize) -> bool {
        let request = self.requests[frame.request as usize];
        let probability =
            self.scenario.app.classes[request.class as usize].tree.nodes[child].probability;
        probability >= 1.0
            || KeyedRng::new(combine(combine(self.branch_key, request.id), child as u64)).uniform()
                < probability
    }

    /// Starts one call of `parent`: over the network, on the parent's worker, or on a worker of the
    /// parent's replica when the parent (non-blocking) holds none.
    pub(super) fn spawn_call(
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
            self.send_call(child_frame, queue);
        } else if self.injected_error(&self.frames[child_frame as usize].clone(), child_component) {
            // An in-process call into a component with injected errors fails at once.
            self.frames[child_frame as usize].replica = parent.replica;
            self.fail_frame(child_frame, FailReason::Error, queue);
        } else if parent.holds_worker || parent.on_lent_worker {
            let frame = &mut self.frames[child_frame as usize];
            frame.on_lent_worker = true;
            frame.replica = parent.replica;
            self.start_work(child_frame, queue);
        } else if !self.take_worker_or_queue(child_frame, parent.replica, queue) {
            self.fail_frame(child_frame, FailReason::Rejected, queue);
        }
    }

    /// Whether an error-injection fault on `component` fails this attempt (a coin keyed by request,
    /// call node and attempt, so the same attempts fail whatever else differs).
    fn injected_error(&self, frame: &Frame, component: usize) -> bool {
        let rate = self.component_faults[component].error_rate;
        rate > 0.0 && self.attempt_uniform(self.fault_key, frame) < rate
    }

    /// A uniform draw in [0, 1) of stream `key` for one attempt of a call: keyed by request,
    /// call-tree node and attempt, so the same attempt draws the same whatever else differs, and
    /// a retry draws afresh.
    pub(super) fn attempt_uniform(&self, key: u64, frame: &Frame) -> f64 {
        let request = self.requests[frame.request as usize].id;
        KeyedRng::new(combine(
            combine(combine(key, request), u64::from(frame.node)),
            u64::from(frame.attempt),
        ))
        .uniform()
    }

    pub(super) fn fail_frame(
        &mut self,
        frame_index: u32,
        reason: FailReason,
        queue: &mut EventQueue<Event>,
    ) {
        self.frames[frame_index as usize].failure = Some(reason);
        self.finish_frame(frame_index, queue);
    }

    /// The frame is done (or failed): free its worker, then answer its caller.
    pub(super) fn finish_frame(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        if frame.holds_worker {
            self.release_worker(frame_index, queue);
        }
        if frame.remote {
            self.record_answer(&frame, queue);
        }
        if frame.parent == NONE {
            self.free_frame(frame_index);
            self.finish_request(frame.request, frame.failure, queue.now());
        } else if frame.remote {
            self.frames[frame_index as usize].responded = true;
            queue.schedule_in(
                self.scenario.app.hop_latency,
                Event::ResponseArrives { frame: frame_index },
            );
        } else {
            self.free_frame(frame_index);
            self.child_done(frame.parent, frame.failure, queue);
        }
    }

    /// A remote call's service answers it: the balancer's and the metrics' counts, and the
    /// replica's record for outlier detection.
    fn record_answer(&mut self, frame: &Frame, queue: &mut EventQueue<Event>) {
        let latency = queue.now() - frame.arrived;
        let completed = frame.failure.is_none();
        let service_index = if frame.replica == NONE {
            // Failed before a replica took it (no replica, rejected, an error).
            self.scenario.app.service_of_component[self.call_node(frame).component]
        } else {
            let replica = &mut self.replicas[frame.replica as usize];
            replica.outstanding -= 1;
            let service = &mut self.services[replica.service as usize];
            if replica.slot != NONE {
                service.outstanding[replica.slot as usize] -= 1;
            }
            service.metrics.record_completion(latency.as_nanos());
            replica.service as usize
        };
        let service = &mut self.services[service_index];
        service.served.record(completed, latency);
        if service.rollout.is_some() {
            service.alarm_calls.record(completed, latency);
        }
        // Outlier detection judges the replica by its own answers: a success, or a call it shed;
        // a failure passed up from its own callees says nothing about it.
        if frame.replica != NONE && service.outlier_detection.is_some() {
            match frame.failure {
                None => self.replica_answered(frame.replica, false, queue),
                Some(FailReason::Shed) => self.replica_answered(frame.replica, true, queue),
                Some(_) => {}
            }
        }
    }

    pub(super) fn child_done(
        &mut self,
        parent: u32,
        failure: Option<FailReason>,
        queue: &mut EventQueue<Event>,
    ) {
        let frame = &mut self.frames[parent as usize];
        if frame.failure.is_none() {
            frame.failure = failure;
        }
        assert!(frame.pending > 0, "a call answered twice");
        frame.pending -= 1;
        if frame.zombie {
            return;
        }
        if frame.pending == 0 {
            frame.step += 1;
            self.advance(parent, queue);
        }
    }

    /// Frees the frame's worker; the next queued call (if any) takes it, once calls that waited
    /// longer than the replica's `max_queue_time` are shed.
    pub(super) fn release_worker(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let frame = &mut self.frames[frame_index as usize];
        frame.holds_worker = false;
        let replica_index = frame.replica;
        loop {
            let replica = &mut self.replicas[replica_index as usize];
            let service = &mut self.services[replica.service as usize];
            let Some(next) = replica.queue.pop_front() else {
                replica.busy.change(now, -1);
                service.busy.change(now, -1);
                if replica.busy.value() == 0 {
                    self.replica_idle(replica_index, queue);
                }
                return;
            };
            service.queued.change(now, -1);
            if replica
                .max_queue_time
                .is_some_and(|limit| now - self.frames[next as usize].arrived > limit)
            {
                // Shedding may start new calls on this replica (a caller's next step): they
                // queue behind the worker being handed over.
                self.fail_frame(next, FailReason::Shed, queue);
                continue;
            }
            self.frames[next as usize].holds_worker = true;
            self.start_work(next, queue);
            return;
        }
    }

    pub(super) fn finish_request(
        &mut self,
        request_index: u32,
        failure: Option<FailReason>,
        now: SimTime,
    ) {
        let request = self.requests[request_index as usize];
        assert!(request.open, "request {} ended twice", request.id);
        self.requests[request_index as usize].open = false;
        if request.frames == 0 {
            self.free_requests.push(request_index);
        }
        if failure.is_some() && !self.fault_records.is_empty() {
            self.note_failure(now);
        }
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
}
