//! Rolling deployments: at a given time a service moves to a new version; old tasks give way to new
//! ones within the strategy's bounds (ECS minimumHealthyPercent / maximumPercent, Kubernetes
//! maxSurge / maxUnavailable); the ECS deployment circuit breaker fails a deployment whose new tasks
//! keep failing, and a deployment alarm one whose service errors or slows down (watched through a
//! bake time after the last task was replaced); either rolls it back.

use super::{Event, TaskPhase, World};
use crate::app::RolloutStrategy;
use crate::engine::EventQueue;
use crate::time::{SimDuration, SimTime};
use serde::Serialize;

/// A deployment in progress on a service.
#[derive(Debug, Clone)]
pub(super) struct ActiveRollout {
    index: usize,
    /// The version being replaced.
    from: u16,
    /// The version being rolled out (the old one again after a rollback).
    to: u16,
    failures: u32,
    threshold: u32,
    tripped: bool,
    /// Breaching periods in a row of its deployment alarm.
    alarm_breaching: u32,
    /// With an alarm: when the bake time after the last task was replaced ends.
    bake_until: Option<SimTime>,
}

/// The outcome of one rolling deployment, for `deployments.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutResult {
    /// Index in `app.rollouts`.
    pub rollout: usize,
    /// The service.
    pub service: String,
    /// `ecs` or `kubernetes`.
    pub strategy: &'static str,
    /// When it started.
    pub started: SimTime,
    /// When every task ran the final version, if that happened before the end.
    pub finished: Option<SimTime>,
    /// `completed`, `rolled_back`, `failed`, `superseded` (a later rollout of the same service
    /// started first) or `in_progress`.
    pub outcome: &'static str,
    /// Desired tasks when it started.
    pub desired: u32,
    /// Fewest healthy tasks during it.
    pub min_healthy_tasks: u32,
    /// Tasks of the new version started.
    pub new_tasks_started: u32,
    /// Tasks of the new version that failed their health check.
    pub new_tasks_failed: u32,
}

impl World<'_> {
    /// Schedules every rollout's start.
    pub(super) fn start_rollouts(&mut self, queue: &mut EventQueue<Event>) {
        for (index, rollout) in self.scenario.app.rollouts.iter().enumerate() {
            queue.schedule_at(
                SimTime::ZERO + rollout.at,
                Event::RolloutStarts {
                    rollout: index as u32,
                },
            );
        }
    }

    pub(super) fn on_rollout_starts(&mut self, index: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let spec = &self.scenario.app.rollouts[index];
        let service = spec.service;
        if let Some(previous) = self.services[service].rollout.take() {
            self.close_rollout(service, previous.index, now, "superseded");
        }
        let state = &mut self.services[service];
        state.versions.push(spec.version.clone());
        let from = state.version;
        let to = (state.versions.len() - 1) as u16;
        state.version = to;
        let desired = state.desired;
        let threshold = desired.div_ceil(2).clamp(3, 200);
        state.rollout = Some(ActiveRollout {
            index,
            from,
            to,
            failures: 0,
            threshold,
            tripped: false,
            alarm_breaching: 0,
            bake_until: None,
        });
        if let Some(alarm) = spec.alarm {
            self.services[service].alarm_calls = Default::default();
            queue.schedule_in(
                alarm.period,
                Event::DeploymentAlarmEvaluates {
                    rollout: index as u32,
                },
            );
        }
        let strategy = strategy_name(&spec.strategy);
        self.rollout_results.push(RolloutResult {
            rollout: index,
            service: self.scenario.app.services[service].name.clone(),
            strategy,
            started: now,
            finished: None,
            outcome: "in_progress",
            desired,
            min_healthy_tasks: self.services[service].healthy.value() as u32,
            new_tasks_started: 0,
            new_tasks_failed: 0,
        });
        let name = self.scenario.app.services[service].name.clone();
        self.log(
            now,
            "deployment_started",
            &name,
            format!("version={to} strategy={strategy} desired={desired}"),
        );
        self.reconcile_rollout(service, queue);
    }

    fn result_of(&mut self, rollout: usize) -> &mut RolloutResult {
        self.rollout_results
            .iter_mut()
            .rev()
            .find(|r| r.rollout == rollout)
            .expect("started rollouts have results")
    }

    fn close_rollout(
        &mut self,
        service: usize,
        rollout: usize,
        now: SimTime,
        outcome: &'static str,
    ) {
        let result = self.result_of(rollout);
        result.finished = Some(now);
        result.outcome = outcome;
        let name = self.scenario.app.services[service].name.clone();
        self.log(
            now,
            "deployment_finished",
            &name,
            format!("outcome={outcome}"),
        );
        self.end_bad_deploy(rollout, now);
    }

    /// Moves a deployment forward: starts tasks of the target version within the maximum, stops old
    /// ones while the healthy count stays at or above the minimum, and finishes when only target
    /// tasks remain and enough of them are healthy.
    pub(super) fn reconcile_rollout(&mut self, service: usize, queue: &mut EventQueue<Event>) {
        // Stopping and starting tasks calls back here; run passes until nothing changes instead.
        if self.services[service].reconciling {
            self.services[service].reconcile_again = true;
            return;
        }
        self.services[service].reconciling = true;
        loop {
            self.services[service].reconcile_again = false;
            self.reconcile_pass(service, queue);
            if !self.services[service].reconcile_again {
                break;
            }
        }
        self.services[service].reconciling = false;
    }

    fn reconcile_pass(&mut self, service: usize, queue: &mut EventQueue<Event>) {
        let Some(mut active) = self.services[service].rollout.clone() else {
            return;
        };
        let now = queue.now();
        let spec = &self.scenario.app.rollouts[active.index];
        let desired = self.services[service].desired;
        let (min_healthy, max_total) = spec.strategy.bounds(desired);
        let live: Vec<u32> = (0..self.tasks.len() as u32)
            .filter(|&t| {
                self.tasks[t as usize].service as usize == service
                    && self.tasks[t as usize].phase.is_live()
            })
            .collect();
        let (new, old): (Vec<u32>, Vec<u32>) = live
            .iter()
            .partition(|&&t| self.tasks[t as usize].version == active.to);
        let healthy = live
            .iter()
            .filter(|&&t| self.tasks[t as usize].phase == TaskPhase::Healthy)
            .count() as u32;
        let new_healthy = new
            .iter()
            .filter(|&&t| self.tasks[t as usize].phase == TaskPhase::Healthy)
            .count() as u32;
        let result = self.result_of(active.index);
        result.min_healthy_tasks = result.min_healthy_tasks.min(healthy);
        if old.is_empty() && new_healthy >= desired {
            // With an alarm, ECS keeps the deployment in progress for a bake time, watching it.
            if let Some(alarm) = spec.alarm
                && !active.tripped
            {
                let bake = SimDuration::from_nanos(
                    alarm.period.as_nanos() * u64::from(alarm.evaluation_periods),
                );
                let until = *active.bake_until.get_or_insert(now + bake);
                if now < until {
                    self.services[service].rollout = Some(active);
                    return;
                }
            }
            self.services[service].rollout = None;
            let outcome = if active.tripped {
                "rolled_back"
            } else {
                "completed"
            };
            self.close_rollout(service, active.index, now, outcome);
            return;
        }
        // Tasks still stopping count against the maximum, as ECS counts STOPPING tasks.
        let stopping = self
            .tasks
            .iter()
            .filter(|t| t.service as usize == service && t.phase == TaskPhase::Stopping)
            .count() as u32;
        let to_start = max_total
            .saturating_sub(live.len() as u32 + stopping)
            .min(desired.saturating_sub(new.len() as u32));
        for _ in 0..to_start {
            self.create_task(service, now);
        }
        if !active.tripped {
            self.result_of(active.index).new_tasks_started += to_start;
        }
        // Old tasks not yet serving go first (no capacity lost), then healthy ones down to the minimum.
        let (old_healthy, old_starting): (Vec<u32>, Vec<u32>) = old
            .iter()
            .partition(|&&t| self.tasks[t as usize].phase == TaskPhase::Healthy);
        let surplus = (live.len() as u32 + to_start).saturating_sub(desired);
        let mut budget = healthy.saturating_sub(min_healthy);
        let mut stops = Vec::new();
        for task in old_starting.into_iter().rev().take(surplus as usize) {
            stops.push(task);
        }
        for task in old_healthy.into_iter().rev() {
            if budget == 0 || stops.len() as u32 >= old.len() as u32 {
                break;
            }
            budget -= 1;
            stops.push(task);
        }
        for task in stops {
            self.stop_task(task, now, queue);
        }
        self.place_pending(queue);
    }

    /// A new-version task failed its health check: stop it, count it for the circuit breaker.
    pub(super) fn on_task_unhealthy(&mut self, task: u32, queue: &mut EventQueue<Event>) {
        if !self.tasks[task as usize].phase.is_live() {
            return;
        }
        let now = queue.now();
        let service = self.tasks[task as usize].service as usize;
        let subject = self.tasks[task as usize].name.clone();
        self.log(
            now,
            "task_unhealthy",
            &subject,
            "health check failed".into(),
        );
        // Count the failure (and maybe trip the breaker) before stopping the task: stopping it
        // lets the deployment start a replacement, which must already be of the right version.
        if let Some(mut active) = self.services[service].rollout.clone()
            && self.tasks[task as usize].version == active.to
            && !active.tripped
        {
            active.failures += 1;
            self.result_of(active.index).new_tasks_failed += 1;
            let spec = &self.scenario.app.rollouts[active.index];
            self.services[service].rollout =
                if spec.circuit_breaker && active.failures >= active.threshold {
                    let detail = format!(
                        "failed_tasks={} threshold={}",
                        active.failures, active.threshold
                    );
                    self.fail_deployment(service, active, detail, now)
                } else {
                    Some(active)
                };
        }
        self.stop_task(task, now, queue);
        self.carry_on(service, queue);
    }

    /// The end of a period of a deployment's alarm: it goes off after `evaluation_periods`
    /// breaching periods in a row, failing the deployment; it watches until the deployment ends
    /// or fails.
    pub(super) fn on_deployment_alarm(&mut self, index: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let spec = &self.scenario.app.rollouts[index];
        let alarm = spec.alarm.expect("only rollouts with an alarm schedule it");
        let service = spec.service;
        let Some(mut active) = self.services[service].rollout.clone() else {
            return;
        };
        if active.index != index || active.tripped {
            return;
        }
        let calls = std::mem::take(&mut self.services[service].alarm_calls);
        let (error_share, latency_ms) = (calls.error_share(), calls.completed_latency_mean_ms());
        // A period without calls (NaN) does not breach, as CloudWatch's default for missing data.
        let breaching = alarm.error_rate.is_some_and(|rate| error_share > rate)
            || alarm
                .latency
                .is_some_and(|latency| latency_ms > latency.as_millis_f64());
        active.alarm_breaching = if breaching {
            active.alarm_breaching + 1
        } else {
            0
        };
        if active.alarm_breaching < alarm.evaluation_periods {
            let baked = active.bake_until.is_some_and(|until| until <= now);
            self.services[service].rollout = Some(active);
            if baked {
                // The bake time is over and the alarm stayed quiet: the deployment completes.
                self.reconcile_rollout(service, queue);
                return;
            }
            queue.schedule_in(
                alarm.period,
                Event::DeploymentAlarmEvaluates {
                    rollout: index as u32,
                },
            );
            return;
        }
        let detail = format!("alarm error_share={error_share:.3} latency_ms={latency_ms:.1}");
        self.services[service].rollout = self.fail_deployment(service, active, detail, now);
        self.carry_on(service, queue);
    }

    /// A deployment failed (its circuit breaker tripped or its alarm went off): it rolls back to
    /// the version it replaces, or ends as failed. Returns the deployment still in progress, if
    /// any.
    fn fail_deployment(
        &mut self,
        service: usize,
        mut active: ActiveRollout,
        detail: String,
        now: SimTime,
    ) -> Option<ActiveRollout> {
        let name = self.scenario.app.services[service].name.clone();
        self.log(now, "deployment_failed", &name, detail);
        if !self.scenario.app.rollouts[active.index].rollback {
            self.close_rollout(service, active.index, now, "failed");
            return None;
        }
        active.tripped = true;
        std::mem::swap(&mut active.from, &mut active.to);
        self.services[service].version = active.to;
        self.log(
            now,
            "deployment_rollback",
            &name,
            format!("to_version={}", active.to),
        );
        Some(active)
    }

    /// After a change to a service's deployment: the deployment in progress moves on, or the
    /// service scheduler restores the desired count.
    fn carry_on(&mut self, service: usize, queue: &mut EventQueue<Event>) {
        if self.services[service].rollout.is_some() {
            self.reconcile_rollout(service, queue);
        } else {
            let desired = self.services[service].desired;
            self.set_desired(service, desired, queue);
        }
    }

    /// Fills in what the rollouts still in progress at the end look like.
    pub(super) fn rollout_results(&self) -> Vec<RolloutResult> {
        self.rollout_results.clone()
    }
}

fn strategy_name(strategy: &RolloutStrategy) -> &'static str {
    match strategy {
        RolloutStrategy::Ecs { .. } => "ecs",
        RolloutStrategy::Kubernetes { .. } => "kubernetes",
    }
}
