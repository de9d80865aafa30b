//! Which replicas a service's load balancer sends calls to. A task joins the rotation when it
//! becomes healthy and leaves it when it stops, when the balancer's health checks find it dead
//! (a lost task stays in rotation for the detection delay, refusing its calls), or for a while
//! when outlier detection ejects it after a run of failed answers.

use super::{Event, NONE, TaskPhase, World};
use crate::engine::EventQueue;
use crate::metrics::FailReason;
use crate::rng::{KeyedRng, combine};
use crate::time::{SimDuration, SimTime};

/// Keys the phase of a lost task's first failed health check.
const HEALTH_CHECK_PHASE: u64 = 0x4845_414c_5448;

impl World<'_> {
    /// Puts a replica into its service's rotation (nothing if it is in).
    pub(super) fn join_rotation(&mut self, task: u32) {
        let replica = &mut self.replicas[task as usize];
        if replica.slot != NONE {
            return;
        }
        let service = &mut self.services[replica.service as usize];
        replica.slot = service.active.len() as u32;
        service.active.push(task);
        service.outstanding.push(replica.outstanding);
    }

    /// Takes a replica out of its service's rotation (nothing if it is out).
    pub(super) fn leave_rotation(&mut self, task: u32) {
        let slot = self.replicas[task as usize].slot;
        if slot == NONE {
            return;
        }
        let service = &mut self.services[self.replicas[task as usize].service as usize];
        service.active.swap_remove(slot as usize);
        service.outstanding.swap_remove(slot as usize);
        if let Some(&moved) = service.active.get(slot as usize) {
            self.replicas[moved as usize].slot = slot;
        }
        self.replicas[task as usize].slot = NONE;
    }

    /// A task died without telling its load balancer (its node or zone went down): calls keep
    /// reaching it, and are refused, until health checks find it dead — after the first failed
    /// check (a uniform phase within the interval) and `unhealthy_threshold − 1` more.
    pub(super) fn lose_task(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        let replica = &mut self.replicas[task as usize];
        // Refused connections answer at once: the balancer sees nothing outstanding on it.
        replica.outstanding = 0;
        if replica.slot == NONE {
            return;
        }
        self.services[replica.service as usize].outstanding[replica.slot as usize] = 0;
        let checks = &self.scenario.cluster.tasks;
        let phase = KeyedRng::new(combine(
            combine(self.lifecycle_key, HEALTH_CHECK_PHASE),
            u64::from(task),
        ))
        .uniform();
        let interval = checks.health_check_interval.as_secs_f64();
        let delay = SimDuration::from_secs_f64(
            interval * (phase + f64::from(checks.unhealthy_threshold.saturating_sub(1))),
        );
        queue.schedule_in(delay, Event::LostTaskFound { task });
    }

    /// Health checks found a lost task dead: the balancer stops sending it calls, and the calls
    /// hanging on it fail (their connections are reset).
    pub(super) fn on_lost_task_found(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        for frame in std::mem::take(&mut self.replicas[task as usize].hanging) {
            self.fail_frame(frame, FailReason::Crashed, queue);
        }
        if self.replicas[task as usize].slot == NONE {
            return;
        }
        self.leave_rotation(task);
        let subject = self.tasks[task as usize].name.clone();
        self.log(
            now,
            "target_unhealthy",
            &subject,
            "health checks failed".into(),
        );
    }

    /// A replica answered a call (or refused it): outlier detection counts failures in a row and
    /// ejects the replica when they reach the service's threshold.
    pub(super) fn replica_answered(
        &mut self,
        task: u32,
        failed: bool,
        queue: &mut EventQueue<Event>,
    ) {
        let replica = &mut self.replicas[task as usize];
        let service_index = replica.service as usize;
        let Some(spec) = self.services[service_index].outlier_detection else {
            return;
        };
        if !failed {
            replica.consecutive_errors = 0;
            return;
        }
        replica.consecutive_errors += 1;
        let service = &self.services[service_index];
        if replica.consecutive_errors < spec.consecutive_errors
            || replica.slot == NONE
            || !spec.may_eject(
                service.ejected,
                service.active.len() as u32 + service.ejected,
            )
        {
            return;
        }
        replica.consecutive_errors = 0;
        replica.ejected = true;
        replica.ejections = spec.decayed(replica.ejections, queue.now() - replica.returned) + 1;
        let ejection = spec.ejection_time(replica.ejections);
        self.services[service_index].ejected += 1;
        self.leave_rotation(task);
        queue.schedule_in(ejection, Event::EjectionEnds { task });
        let subject = self.tasks[task as usize].name.clone();
        self.log(
            queue.now(),
            "replica_ejected",
            &subject,
            format!("for={ejection}"),
        );
    }

    /// An ejection ran out: the replica returns to the rotation if it is still healthy.
    pub(super) fn on_ejection_ends(&mut self, task: u32, now: SimTime) {
        let replica = &mut self.replicas[task as usize];
        replica.ejected = false;
        replica.returned = now;
        self.services[replica.service as usize].ejected -= 1;
        if self.tasks[task as usize].phase == TaskPhase::Healthy {
            self.join_rotation(task);
            let subject = self.tasks[task as usize].name.clone();
            self.log(now, "replica_returned", &subject, String::new());
        }
    }
}
