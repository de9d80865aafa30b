//! Service autoscalers: from published metric datapoints (never live state) to a desired task count.
//! One file per algorithm: ECS target tracking, ECS step scaling, Kubernetes HPA; custom ones by name.
//!
//! ```text
//! live service ─▶ model aggregates a datapoint per metric_period ─▶ published after a delay
//!                                                                     │
//!   every evaluation_interval: ScalingView { now, datapoints, desired, running, ready }
//!                                                                     │
//!   ServiceAutoscaler::evaluate ─▶ Option<ScaleDecision { desired, reason }> ─▶ model applies it
//! ```
//!
//! An [`AutoscalerSpec`] (validated with [`AutoscalerSpec::validate`]) is what a scenario says; the
//! [`Registry`] builds it into a fresh autoscaler, custom ones by the name they were registered under.
//! Autoscalers keep their own memory (cooldowns, stabilization windows, past scale events) in plain
//! vectors, ordered by time: no hash iteration, no clock, no randomness. Semantics and sources are in
//! each algorithm's file: `target_tracking.rs`, `step_scaling.rs`, `hpa.rs`.

mod hpa;
mod registry;
mod spec;
mod step_scaling;
mod target_tracking;

#[cfg(test)]
mod testkit;

pub use hpa::Hpa;
pub use registry::{AutoscalerFactory, Registry};
pub use spec::{
    AWS_COOLDOWN, AdjustmentType, AutoscalerSpec, CLOUDWATCH_PERIOD, Comparison, FieldError,
    HPA_LIMIT_PERIOD, HPA_METRIC_PERIOD, HPA_SCALE_DOWN_LIMIT_PERCENT,
    HPA_SCALE_DOWN_STABILIZATION, HPA_SCALE_UP_LIMIT_PERCENT, HPA_SCALE_UP_LIMIT_PODS,
    HPA_SCALE_UP_STABILIZATION, HPA_SYNC_PERIOD, HPA_TOLERANCE, HpaSpec, Step, StepAlarm,
    StepScalingSpec, TargetTrackingSpec,
};
pub use step_scaling::{StepScaling, capacity_change};
pub use target_tracking::{
    SCALE_IN_DATAPOINTS, SCALE_IN_FACTOR, SCALE_OUT_DATAPOINTS, TargetTracking,
};

use crate::time::{SimDuration, SimTime};
use serde::Serialize;
use std::fmt;

/// What an autoscaler watches, per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalingMetric {
    /// Busy workers / workers of healthy tasks, averaged over the period, as a fraction (0–1): the
    /// share of reserved cpu in use.
    CpuUtilization,
    /// Requests that reached the service in the period, per healthy task.
    RequestsPerTarget,
    /// Requests waiting for a worker, averaged over the period, summed over tasks.
    QueueDepth,
    /// Mean latency of the service's calls that completed in the period, in milliseconds.
    LatencyMs,
}

impl ScalingMetric {
    /// Every metric's scenario name.
    pub const NAMES: [&'static str; 4] = [
        "cpu_utilization",
        "requests_per_target",
        "queue_depth",
        "latency_ms",
    ];

    /// The scenario name.
    pub fn name(self) -> &'static str {
        match self {
            ScalingMetric::CpuUtilization => "cpu_utilization",
            ScalingMetric::RequestsPerTarget => "requests_per_target",
            ScalingMetric::QueueDepth => "queue_depth",
            ScalingMetric::LatencyMs => "latency_ms",
        }
    }

    /// Resolves a scenario name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| {
            [
                Self::CpuUtilization,
                Self::RequestsPerTarget,
                Self::QueueDepth,
                Self::LatencyMs,
            ][i]
        })
    }
}

/// One published datapoint: the metric's value over one period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Datapoint {
    /// End of the period it aggregates.
    #[serde(serialize_with = "nanos")]
    pub period_end: SimTime,
    /// When it became visible to autoscalers (period end + publication delay).
    #[serde(serialize_with = "nanos")]
    pub published: SimTime,
    /// The value; NaN when undefined (e.g. utilization with no healthy task: insufficient data).
    pub value: f64,
}

/// What an autoscaler may read when it evaluates: published datapoints and task counts.
#[derive(Debug, Clone, Copy)]
pub struct ScalingView<'a> {
    /// Now.
    pub now: SimTime,
    /// Published datapoints of the autoscaler's metric, oldest first (at most the last few hundred).
    pub datapoints: &'a [Datapoint],
    /// The service's desired task count now.
    pub desired: u32,
    /// Tasks that exist (pending, starting or healthy; not stopping).
    pub running: u32,
    /// Healthy tasks (receiving traffic).
    pub ready: u32,
}

/// A change of the desired count and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleDecision {
    /// The new desired task count (already clamped to the autoscaler's min and max).
    pub desired: u32,
    /// Human-readable: which rule fired on which datapoints.
    pub reason: String,
}

/// A service autoscaler: a pure decision over a [`ScalingView`]. It may keep its own memory
/// (cooldowns, stabilization windows) between evaluations.
pub trait ServiceAutoscaler: Send + fmt::Debug {
    /// The metric it watches.
    fn metric(&self) -> ScalingMetric;
    /// The period of the datapoints it wants.
    fn metric_period(&self) -> SimDuration;
    /// How often the model calls [`ServiceAutoscaler::evaluate`].
    fn evaluation_interval(&self) -> SimDuration;
    /// Returns a new desired count, or `None` to leave it.
    fn evaluate(&mut self, view: &ScalingView<'_>) -> Option<ScaleDecision>;
}

/// Slack for float noise in ceilings and tolerance checks (e.g. 0.7 × 10 / 0.7 must give 10, not 11).
const EPSILON: f64 = 1e-9;

/// ⌈x⌉ as a task count, forgiving float noise just above a whole number; negative → 0.
fn ceil_count(x: f64) -> u64 {
    let rounded = (x - EPSILON * x.abs().max(1.0)).ceil();
    if rounded <= 0.0 {
        0
    } else if rounded >= u32::MAX as f64 {
        u64::from(u32::MAX)
    } else {
        rounded as u64
    }
}

/// `count` clamped to `[min, max]`.
fn clamp_count(count: i64, min: u32, max: u32) -> u32 {
    count.clamp(i64::from(min), i64::from(max)) as u32
}

/// A decision that brings a desired count outside `[min, max]` back inside (AAS and the HPA both
/// correct it before anything else), or `None` when it is inside.
fn enforce_bounds(view: &ScalingView<'_>, min: u32, max: u32, who: &str) -> Option<ScaleDecision> {
    let desired = clamp_count(i64::from(view.desired), min, max);
    (desired != view.desired).then(|| ScaleDecision {
        desired,
        reason: format!(
            "{who}: desired {} is outside min {min} / max {max}",
            view.desired
        ),
    })
}

/// The latest published datapoint's value, `None` when there is none or it is NaN (insufficient data).
fn latest_value(datapoints: &[Datapoint]) -> Option<f64> {
    datapoints
        .last()
        .map(|point| point.value)
        .filter(|value| !value.is_nan())
}

/// True when there are at least `count` datapoints and the latest `count` all satisfy `breach`
/// (write `breach` so that NaN fails it).
fn latest_all(datapoints: &[Datapoint], count: usize, breach: impl Fn(f64) -> bool) -> bool {
    datapoints.len() >= count
        && datapoints[datapoints.len() - count..]
            .iter()
            .all(|point| breach(point.value))
}

/// True when `time` lies within the `window` that ends at `now` (strictly after `now − window`, as
/// Kubernetes' `timestamp.After(cutoff)`).
fn within_window(time: SimTime, now: SimTime, window: SimDuration) -> bool {
    time + window > now
}

/// Serializes an instant as its nanoseconds since the start of the run (`SimTime` has no serde form).
fn nanos<S: serde::Serializer>(time: &SimTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(time.as_nanos())
}
