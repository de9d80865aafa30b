//! Autoscaling: per-service metrics aggregated into datapoints, published after a delay, evaluated
//! by the service's autoscaler (which sees only published datapoints), and applied by the service
//! scheduler; each scale action and the phases of the tasks it started are recorded.

use super::{Event, World};
use crate::engine::EventQueue;
use crate::metrics::Mark;
use crate::policy::autoscale::{AutoscalerSpec, Datapoint, ScalingMetric, ScalingView};
use crate::time::SimTime;
use serde::Serialize;

/// How many published datapoints an autoscaler can look back on.
const DATAPOINT_HISTORY: usize = 512;

/// One scale action, for `scaling.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleAction {
    /// The service.
    pub service: String,
    /// `out` or `in`.
    pub direction: &'static str,
    /// Desired count before.
    pub from: u32,
    /// Desired count after.
    pub to: u32,
    /// Start of the first datapoint period of the breach that led to it.
    pub trigger: SimTime,
    /// When the newest datapoint the decision used was published (the alarm).
    pub alarm: SimTime,
    /// When the autoscaler decided.
    pub decision: SimTime,
    /// The autoscaler's reason.
    pub reason: String,
}

/// Per-service state of the metric pipeline.
#[derive(Debug, Default)]
pub(super) struct MetricPipeline {
    /// Start of the period being aggregated.
    period_start: SimTime,
    marks: [Mark; 3],
    arrivals: u64,
    latency_sum_nanos: u128,
    completions: u64,
    /// Aggregated but not yet published, oldest first.
    unpublished: std::collections::VecDeque<Datapoint>,
    /// Published, oldest first.
    pub(super) published: Vec<Datapoint>,
}

impl MetricPipeline {
    /// Counts a call reaching the service.
    pub(super) fn record_arrival(&mut self) {
        self.arrivals += 1;
    }

    /// Counts a call the service finished, with its latency at the service.
    pub(super) fn record_completion(&mut self, latency_nanos: u64) {
        self.latency_sum_nanos += u128::from(latency_nanos);
        self.completions += 1;
    }
}

impl World<'_> {
    /// Schedules the first metric period and evaluation of every autoscaled service.
    pub(super) fn start_scaling(&mut self, queue: &mut EventQueue<Event>) {
        for service in 0..self.services.len() {
            let Some(autoscaler) = &self.services[service].autoscaler else {
                continue;
            };
            let period = autoscaler.metric_period();
            let interval = autoscaler.evaluation_interval();
            queue.schedule_in(
                period,
                Event::MetricPeriodEnd {
                    service: service as u32,
                },
            );
            queue.schedule_in(
                interval,
                Event::AutoscalerEvaluates {
                    service: service as u32,
                },
            );
        }
    }

    /// Closes a metric period: computes the datapoint and queues it for publication.
    pub(super) fn on_metric_period_end(&mut self, service: usize, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let workers = f64::from(self.scenario.app.services[service].workers);
        let state = &mut self.services[service];
        let Some(autoscaler) = &state.autoscaler else {
            return;
        };
        let metric = autoscaler.metric();
        let period = autoscaler.metric_period();
        let pipeline = &mut state.metrics;
        let window = now - pipeline.period_start;
        let [busy_mark, queued_mark, healthy_mark] = &mut pipeline.marks;
        let busy = busy_mark.take_mean(&state.busy, now, window);
        let queued = queued_mark.take_mean(&state.queued, now, window);
        let healthy = healthy_mark.take_mean(&state.healthy, now, window);
        let value = match metric {
            ScalingMetric::CpuUtilization if healthy > 0.0 => busy / (healthy * workers),
            ScalingMetric::RequestsPerTarget if healthy > 0.0 => pipeline.arrivals as f64 / healthy,
            ScalingMetric::QueueDepth => queued,
            ScalingMetric::LatencyMs if pipeline.completions > 0 => {
                pipeline.latency_sum_nanos as f64 / pipeline.completions as f64 / 1e6
            }
            _ => f64::NAN,
        };
        pipeline.arrivals = 0;
        pipeline.latency_sum_nanos = 0;
        pipeline.completions = 0;
        pipeline.period_start = now;
        let delay = self.scenario.app.services[service]
            .scaling
            .as_ref()
            .map_or(crate::time::SimDuration::ZERO, |s| s.publish_delay);
        pipeline.unpublished.push_back(Datapoint {
            period_end: now,
            published: now + delay,
            value,
        });
        if delay == crate::time::SimDuration::ZERO {
            // Visible at once, before an evaluation at this same instant.
            self.on_datapoint_published(service);
        } else {
            queue.schedule_in(
                delay,
                Event::DatapointPublished {
                    service: service as u32,
                },
            );
        }
        if now + period <= self.end {
            queue.schedule_in(
                period,
                Event::MetricPeriodEnd {
                    service: service as u32,
                },
            );
        }
    }

    pub(super) fn on_datapoint_published(&mut self, service: usize) {
        let pipeline = &mut self.services[service].metrics;
        let datapoint = pipeline
            .unpublished
            .pop_front()
            .expect("published in the order aggregated");
        pipeline.published.push(datapoint);
        if pipeline.published.len() > 2 * DATAPOINT_HISTORY {
            pipeline.published.drain(..DATAPOINT_HISTORY);
        }
        let value = datapoint.value;
        let name = self.scenario.app.services[service].name.clone();
        let time_s = datapoint.period_end.as_secs_f64();
        self.timeseries.push(super::SeriesRow {
            time_s,
            subject: name,
            metric: "autoscaler_metric",
            value,
        });
    }

    /// Lets the service's autoscaler look at the published datapoints and act on its decision.
    pub(super) fn on_autoscaler_evaluates(
        &mut self,
        service: usize,
        queue: &mut EventQueue<Event>,
    ) {
        let now = queue.now();
        let state = &mut self.services[service];
        let Some(autoscaler) = state.autoscaler.as_mut() else {
            return;
        };
        let interval = autoscaler.evaluation_interval();
        let published = &state.metrics.published;
        let start = published.len().saturating_sub(DATAPOINT_HISTORY);
        let ready = state.active.len() as u32;
        let view = ScalingView {
            now,
            datapoints: &published[start..],
            desired: state.desired,
            running: state.live,
            ready,
        };
        let decision = autoscaler.evaluate(&view);
        let alarm = published.last().map_or(now, |d| d.published);
        let from = state.desired;
        if now + interval <= self.end {
            queue.schedule_in(
                interval,
                Event::AutoscalerEvaluates {
                    service: service as u32,
                },
            );
        }
        let Some(decision) = decision else { return };
        if decision.desired == from {
            return;
        }
        let direction = if decision.desired > from { "out" } else { "in" };
        let trigger = self
            .trigger_of(service, direction == "out")
            .unwrap_or(alarm);
        let name = self.scenario.app.services[service].name.clone();
        self.log(
            now,
            "scale_decision",
            &name,
            format!("from={from} to={} {}", decision.desired, decision.reason),
        );
        let action = self.scale_actions.len() as u32;
        self.scale_actions.push(ScaleAction {
            service: name,
            direction,
            from,
            to: decision.desired,
            trigger,
            alarm,
            decision: now,
            reason: decision.reason,
        });
        let first_new_task = self.tasks.len();
        self.set_desired(service, decision.desired, queue);
        for task in &mut self.tasks[first_new_task..] {
            task.action = Some(action);
        }
    }

    /// The start of the trailing run of published datapoints beyond the autoscaler's threshold
    /// (above it for a scale-out, below for a scale-in), if the threshold is known.
    fn trigger_of(&self, service: usize, scale_out: bool) -> Option<SimTime> {
        let scaling = self.scenario.app.services[service].scaling.as_ref()?;
        let threshold = trigger_threshold(&scaling.autoscaler, scale_out)?;
        let published = &self.services[service].metrics.published;
        let period = self.services[service].autoscaler.as_ref()?.metric_period();
        let breaching = |d: &&Datapoint| {
            if scale_out {
                d.value > threshold
            } else {
                d.value < threshold
            }
        };
        let run = published.iter().rev().take_while(breaching).count();
        let first = published.get(published.len() - run)?;
        Some(SimTime(
            first
                .period_end
                .as_nanos()
                .saturating_sub(period.as_nanos()),
        ))
    }
}

/// One row of `scaling.csv`: a scale action, and one of the tasks it started (scale-outs have a row
/// per task; scale-ins one row). Times in seconds from the start; phases in seconds; empty when the
/// phase did not happen (yet).
#[derive(Debug, Clone, Serialize)]
pub struct ScalingRow {
    /// Index of the action in the replication.
    pub action: u32,
    /// The action.
    pub scale: ScaleAction,
    /// The task it started, if any.
    pub task: Option<String>,
    /// When the task was placed.
    pub placed: Option<SimTime>,
    /// When the node it landed on was requested, if one was launched for it.
    pub node_requested: Option<SimTime>,
    /// When that node was ready.
    pub node_ready: Option<SimTime>,
    /// When its image was on the node.
    pub pulled: Option<SimTime>,
    /// When its container was running.
    pub running: Option<SimTime>,
    /// When it became healthy.
    pub healthy: Option<SimTime>,
}

impl World<'_> {
    /// The rows of `scaling.csv`.
    pub(super) fn scaling_rows(&self) -> Vec<ScalingRow> {
        let mut rows = Vec::new();
        for (index, action) in self.scale_actions.iter().enumerate() {
            let tasks: Vec<&super::Task> = self
                .tasks
                .iter()
                .filter(|t| t.action == Some(index as u32))
                .collect();
            let base = ScalingRow {
                action: index as u32,
                scale: action.clone(),
                task: None,
                placed: None,
                node_requested: None,
                node_ready: None,
                pulled: None,
                running: None,
                healthy: None,
            };
            if tasks.is_empty() {
                rows.push(base);
                continue;
            }
            for task in tasks {
                rows.push(ScalingRow {
                    task: Some(task.name.clone()),
                    placed: task.placed,
                    node_requested: task.node_requested,
                    node_ready: task.node_ready,
                    pulled: task.pulled,
                    running: task.running,
                    healthy: task.healthy,
                    ..base.clone()
                });
            }
        }
        rows
    }

    /// Seconds from each scale-out's trigger until every task it started was healthy (actions whose
    /// tasks never all became healthy are left out).
    pub(super) fn times_to_capacity(&self) -> Vec<u64> {
        self.scale_actions
            .iter()
            .enumerate()
            .filter(|(_, action)| action.direction == "out")
            .filter_map(|(index, action)| {
                let healthy: Option<Vec<SimTime>> = self
                    .tasks
                    .iter()
                    .filter(|t| t.action == Some(index as u32))
                    .map(|t| t.healthy)
                    .collect();
                let last = healthy?.into_iter().max()?;
                Some((last - action.trigger).as_nanos())
            })
            .collect()
    }
}

/// The metric value beyond which a datapoint counts towards a scale-out (above) or scale-in (below).
fn trigger_threshold(spec: &AutoscalerSpec, scale_out: bool) -> Option<f64> {
    match spec {
        AutoscalerSpec::TargetTracking(spec) => Some(if scale_out {
            spec.target
        } else {
            0.9 * spec.target
        }),
        AutoscalerSpec::Hpa(spec) => Some(if scale_out {
            spec.target * (1.0 + spec.tolerance)
        } else {
            spec.target * (1.0 - spec.tolerance)
        }),
        AutoscalerSpec::StepScaling(spec) => {
            let alarm = if scale_out {
                spec.scale_out.as_ref()
            } else {
                spec.scale_in.as_ref()
            };
            alarm.map(|alarm| alarm.threshold)
        }
        AutoscalerSpec::Custom { .. } => None,
    }
}
