//! Autoscaler specs as a scenario describes them, their documented defaults, and their validation.
//!
//! Defaults and their sources (facts/domain.md §2):
//!
//! | default | value | source |
//! |---|---|---|
//! | target tracking / step scaling cooldowns (ECS services) | 300 s | AAS API `TargetTrackingScalingPolicyConfiguration`, `StepScalingPolicyConfiguration` |
//! | CloudWatch standard metric period | 60 s | ECS developer guide, cloudwatch-metrics |
//! | HPA tolerance | 0.1 | Kubernetes docs, horizontal-pod-autoscale |
//! | HPA sync period | 15 s | `--horizontal-pod-autoscaler-sync-period` |
//! | HPA scale-down stabilization | 300 s | HPA default behavior |
//! | HPA scale-up stabilization | 0 s | HPA default behavior |
//! | HPA scale-up limit | max(100 %, 4 pods) per 15 s | HPA default behavior |
//! | HPA scale-down limit | 100 % per 15 s | HPA default behavior |

use super::{Datapoint, ScalingMetric};
use crate::time::SimDuration;
use serde::{Serialize, Serializer};
use std::fmt;

/// Application Auto Scaling's cooldown default for ECS services (scale-out, scale-in, step): 300 s.
pub const AWS_COOLDOWN: SimDuration = SimDuration::from_secs(300);
/// CloudWatch's standard-resolution period: 60 s.
pub const CLOUDWATCH_PERIOD: SimDuration = SimDuration::from_secs(60);
/// HPA: no change while |metric / target − 1| is within this tolerance.
pub const HPA_TOLERANCE: f64 = 0.1;
/// HPA: how often the controller evaluates (`--horizontal-pod-autoscaler-sync-period`).
pub const HPA_SYNC_PERIOD: SimDuration = SimDuration::from_secs(15);
/// HPA: scale down to the highest recommendation of this window.
pub const HPA_SCALE_DOWN_STABILIZATION: SimDuration = SimDuration::from_secs(300);
/// HPA: scale up to the lowest recommendation of this window (none by default).
pub const HPA_SCALE_UP_STABILIZATION: SimDuration = SimDuration::ZERO;
/// HPA: the scale-up limit's percent policy (add up to 100 % per limit period).
pub const HPA_SCALE_UP_LIMIT_PERCENT: u32 = 100;
/// HPA: the scale-up limit's pods policy (add up to 4 pods per limit period).
pub const HPA_SCALE_UP_LIMIT_PODS: u32 = 4;
/// HPA: the scale-down limit's percent policy (remove up to 100 % per limit period).
pub const HPA_SCALE_DOWN_LIMIT_PERCENT: u32 = 100;
/// HPA: the period of the scale-up and scale-down limits.
pub const HPA_LIMIT_PERIOD: SimDuration = SimDuration::from_secs(15);
/// HPA: the period of the datapoints it reads (metrics-server's resolution).
pub const HPA_METRIC_PERIOD: SimDuration = SimDuration::from_secs(15);
/// Kubernetes' ceiling for a stabilization window (`stabilizationWindowSeconds` ≤ 3600).
const HPA_MAX_STABILIZATION: SimDuration = SimDuration::from_secs(3600);
/// Kubernetes' ceiling for a scaling policy's period (`periodSeconds` ≤ 1800).
const HPA_MAX_LIMIT_PERIOD: SimDuration = SimDuration::from_secs(1800);

/// A validation failure: (field path relative to the autoscaler, message), e.g.
/// `("scale_out.steps[1].lower", "...")`. The scenario layer prefixes the path and locates it.
pub type FieldError = (String, String);

/// How a step-scaling alarm compares the metric with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>` (CloudWatch `GreaterThanThreshold`).
    Greater,
    /// `>=` (CloudWatch `GreaterThanOrEqualToThreshold`).
    GreaterOrEqual,
    /// `<` (CloudWatch `LessThanThreshold`).
    Less,
    /// `<=` (CloudWatch `LessThanOrEqualToThreshold`).
    LessOrEqual,
}

impl Comparison {
    /// Every symbol a scenario may use.
    pub const SYMBOLS: [&'static str; 4] = [">", ">=", "<", "<="];

    /// The symbol: `>`, `>=`, `<` or `<=`.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }

    /// Resolves a symbol or a CloudWatch `ComparisonOperator` name.
    pub fn from_symbol(text: &str) -> Option<Self> {
        match text.trim() {
            ">" | "GreaterThanThreshold" => Some(Comparison::Greater),
            ">=" | "GreaterThanOrEqualToThreshold" => Some(Comparison::GreaterOrEqual),
            "<" | "LessThanThreshold" => Some(Comparison::Less),
            "<=" | "LessThanOrEqualToThreshold" => Some(Comparison::LessOrEqual),
            _ => None,
        }
    }

    /// True for `>` and `>=`: the alarm watches for the metric rising.
    pub fn is_upward(self) -> bool {
        matches!(self, Comparison::Greater | Comparison::GreaterOrEqual)
    }

    /// Whether `value` breaches `threshold` (a NaN value never does).
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Greater => value > threshold,
            Comparison::GreaterOrEqual => value >= threshold,
            Comparison::Less => value < threshold,
            Comparison::LessOrEqual => value <= threshold,
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One step adjustment: bounds relative to the alarm threshold, and the adjustment to apply.
///
/// Above the threshold the lower bound is inclusive and the upper exclusive; below it, the reverse
/// (AAS user guide, step adjustments). `None` is −∞ (lower) or +∞ (upper).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Lower bound of metric − threshold; `None` is −∞.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// Upper bound of metric − threshold; `None` is +∞.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<f64>,
    /// Tasks, percent or exact count, per the policy's [`AdjustmentType`]; a whole number.
    pub adjustment: f64,
}

impl Step {
    /// A step over `[lower, upper)` (above the threshold) or `(lower, upper]` (below it).
    pub fn new(lower: Option<f64>, upper: Option<f64>, adjustment: f64) -> Self {
        Step {
            lower,
            upper,
            adjustment,
        }
    }

    /// Whether `difference` (metric − threshold) falls in this step. Exactly at the threshold the
    /// alarm's direction decides: `upward` alarms (`>`, `>=`) read it as above, others as below.
    pub fn contains(&self, difference: f64, upward: bool) -> bool {
        let lower = self.lower.unwrap_or(f64::NEG_INFINITY);
        let upper = self.upper.unwrap_or(f64::INFINITY);
        let above = difference > 0.0 || (difference == 0.0 && upward);
        if above {
            lower <= difference && difference < upper
        } else {
            lower < difference && difference <= upper
        }
    }
}

/// A step-scaling CloudWatch alarm and the step adjustments its policy applies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepAlarm {
    /// The breach threshold, in the metric's unit.
    pub threshold: f64,
    /// How the metric is compared with the threshold.
    pub comparison: Comparison,
    /// N: how many of the latest datapoints the alarm looks at.
    pub evaluation_periods: u32,
    /// M: how many of those must breach for the alarm to fire (M out of N).
    pub datapoints_to_alarm: u32,
    /// The step adjustments; they may not overlap or leave gaps.
    pub steps: Vec<Step>,
}

impl StepAlarm {
    /// An alarm on one datapoint (1 out of 1) with these steps.
    pub fn new(comparison: Comparison, threshold: f64, steps: Vec<Step>) -> Self {
        StepAlarm {
            threshold,
            comparison,
            evaluation_periods: 1,
            datapoints_to_alarm: 1,
            steps,
        }
    }

    /// Whether the alarm is in ALARM: at least `datapoints_to_alarm` of the latest
    /// `evaluation_periods` datapoints breach (NaN, like missing data, never breaches; with fewer
    /// datapoints than N published, those that exist are counted).
    pub fn in_alarm(&self, datapoints: &[Datapoint]) -> bool {
        let window = &datapoints[datapoints
            .len()
            .saturating_sub(self.evaluation_periods as usize)..];
        let breaching = window
            .iter()
            .filter(|point| self.comparison.breaches(point.value, self.threshold))
            .count();
        breaching >= self.datapoints_to_alarm as usize
    }

    /// The step whose bounds contain `value − threshold`, if any.
    pub fn step_for(&self, value: f64) -> Option<&Step> {
        let difference = value - self.threshold;
        let upward = self.comparison.is_upward();
        self.steps
            .iter()
            .find(|step| step.contains(difference, upward))
    }
}

/// How a step's adjustment changes the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AdjustmentType {
    /// Add the adjustment (negative removes).
    ChangeInCapacity,
    /// Set the capacity to the adjustment.
    ExactCapacity,
    /// Add this percentage of the current capacity, rounded as AWS documents.
    PercentChangeInCapacity,
}

impl AdjustmentType {
    /// Every accepted name (AWS spelling; the snake_case forms are accepted too).
    pub const NAMES: [&'static str; 3] = [
        "ChangeInCapacity",
        "ExactCapacity",
        "PercentChangeInCapacity",
    ];

    /// The AWS spelling.
    pub fn name(self) -> &'static str {
        match self {
            AdjustmentType::ChangeInCapacity => "ChangeInCapacity",
            AdjustmentType::ExactCapacity => "ExactCapacity",
            AdjustmentType::PercentChangeInCapacity => "PercentChangeInCapacity",
        }
    }

    /// Resolves the AWS spelling or its snake_case form.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "ChangeInCapacity" | "change_in_capacity" => Some(AdjustmentType::ChangeInCapacity),
            "ExactCapacity" | "exact_capacity" => Some(AdjustmentType::ExactCapacity),
            "PercentChangeInCapacity" | "percent_change_in_capacity" => {
                Some(AdjustmentType::PercentChangeInCapacity)
            }
            _ => None,
        }
    }
}

/// A service autoscaler as a scenario describes it; `Registry::build` turns it into one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AutoscalerSpec {
    /// ECS target tracking: alarms at target (3 datapoints) and 0.9 × target (15), proportional step.
    TargetTracking(TargetTrackingSpec),
    /// ECS step scaling: M-of-N alarms with step adjustments relative to their thresholds.
    StepScaling(StepScalingSpec),
    /// Kubernetes HorizontalPodAutoscaler with its default behavior.
    Hpa(HpaSpec),
    /// An autoscaler registered by name in the registry.
    Custom {
        /// The registered name.
        name: String,
    },
}

/// The parameters of ECS target tracking ([`AutoscalerSpec::TargetTracking`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetTrackingSpec {
    /// The watched metric.
    pub metric: ScalingMetric,
    /// The value to hold the metric at (a fraction in (0, 1] for `cpu_utilization`).
    pub target: f64,
    /// Fewest tasks.
    pub min: u32,
    /// Most tasks.
    pub max: u32,
    /// After a scale-out, further scale-out only beyond what it set (default 300 s).
    pub scale_out_cooldown: SimDuration,
    /// No scale-in within this long after the last scale activity (default 300 s).
    pub scale_in_cooldown: SimDuration,
    /// Never remove tasks.
    pub disable_scale_in: bool,
    /// Datapoint period (default 60 s, CloudWatch standard resolution).
    pub metric_period: SimDuration,
}

/// The parameters of ECS step scaling ([`AutoscalerSpec::StepScaling`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepScalingSpec {
    /// The watched metric.
    pub metric: ScalingMetric,
    /// Fewest tasks.
    pub min: u32,
    /// Most tasks.
    pub max: u32,
    /// Scale-out beyond the last one only, and no scale-in, within this long (default 300 s).
    pub cooldown: SimDuration,
    /// Datapoint period (default 60 s).
    pub metric_period: SimDuration,
    /// The alarm whose steps add capacity, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_out: Option<StepAlarm>,
    /// The alarm whose steps remove capacity, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_in: Option<StepAlarm>,
    /// How step adjustments are read.
    pub adjustment_type: AdjustmentType,
    /// The smallest change a percent adjustment makes (`PercentChangeInCapacity` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<u32>,
}

/// The parameters of a Kubernetes HPA ([`AutoscalerSpec::Hpa`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaSpec {
    /// The watched metric.
    pub metric: ScalingMetric,
    /// The value to hold the metric at (a fraction in (0, 1] for `cpu_utilization`).
    pub target: f64,
    /// Fewest pods (≥ 1).
    pub min: u32,
    /// Most pods.
    pub max: u32,
    /// No change while |metric / target − 1| ≤ tolerance (default 0.1).
    pub tolerance: f64,
    /// Evaluation interval (default 15 s).
    pub sync_period: SimDuration,
    /// Scale down to the highest recommendation of this window (default 300 s).
    pub scale_down_stabilization: SimDuration,
    /// Scale up to the lowest recommendation of this window (default 0 s).
    pub scale_up_stabilization: SimDuration,
    /// Scale-up limit: this percent of the count at the period's start (default 100).
    pub scale_up_limit_percent: u32,
    /// Scale-up limit: this many pods (default 4); the larger of the two limits applies.
    pub scale_up_limit_pods: u32,
    /// Scale-down limit: this percent of the count at the period's start (default 100).
    pub scale_down_limit_percent: u32,
    /// The period of both limits (default 15 s).
    pub limit_period: SimDuration,
    /// Datapoint period (default 15 s).
    pub metric_period: SimDuration,
}

impl AutoscalerSpec {
    /// Every kind's name.
    pub const KINDS: [&'static str; 4] = ["target_tracking", "step_scaling", "hpa", "custom"];

    /// ECS target tracking with AWS's defaults: cooldowns 300 s, scale-in enabled, 60 s datapoints.
    pub fn target_tracking_default(metric: ScalingMetric, target: f64, min: u32, max: u32) -> Self {
        AutoscalerSpec::TargetTracking(TargetTrackingSpec::with_defaults(metric, target, min, max))
    }

    /// ECS step scaling with AWS's defaults: cooldown 300 s, 60 s datapoints, no minimum magnitude.
    pub fn step_scaling_default(
        metric: ScalingMetric,
        min: u32,
        max: u32,
        adjustment_type: AdjustmentType,
        scale_out: Option<StepAlarm>,
        scale_in: Option<StepAlarm>,
    ) -> Self {
        AutoscalerSpec::StepScaling(StepScalingSpec::with_defaults(
            metric,
            min,
            max,
            adjustment_type,
            scale_out,
            scale_in,
        ))
    }

    /// A Kubernetes HPA with the default behavior (see the module table).
    pub fn hpa_default(metric: ScalingMetric, target: f64, min: u32, max: u32) -> Self {
        AutoscalerSpec::Hpa(HpaSpec::with_defaults(metric, target, min, max))
    }

    /// An autoscaler registered under `name`.
    pub fn custom(name: &str) -> Self {
        AutoscalerSpec::Custom {
            name: name.to_string(),
        }
    }

    /// The kind's name: one of [`AutoscalerSpec::KINDS`].
    pub fn kind_name(&self) -> &'static str {
        match self {
            AutoscalerSpec::TargetTracking(_) => "target_tracking",
            AutoscalerSpec::StepScaling(_) => "step_scaling",
            AutoscalerSpec::Hpa(_) => "hpa",
            AutoscalerSpec::Custom { .. } => "custom",
        }
    }

    /// The watched metric (`None` for a custom autoscaler: ask the built autoscaler).
    pub fn metric(&self) -> Option<ScalingMetric> {
        match self {
            AutoscalerSpec::TargetTracking(spec) => Some(spec.metric),
            AutoscalerSpec::StepScaling(spec) => Some(spec.metric),
            AutoscalerSpec::Hpa(spec) => Some(spec.metric),
            AutoscalerSpec::Custom { .. } => None,
        }
    }

    /// (min, max) task counts (`None` for a custom autoscaler).
    pub fn bounds(&self) -> Option<(u32, u32)> {
        match self {
            AutoscalerSpec::TargetTracking(spec) => Some((spec.min, spec.max)),
            AutoscalerSpec::StepScaling(spec) => Some((spec.min, spec.max)),
            AutoscalerSpec::Hpa(spec) => Some((spec.min, spec.max)),
            AutoscalerSpec::Custom { .. } => None,
        }
    }

    /// How many of the latest datapoints the autoscaler reads at most (the model may keep only
    /// these): 15 for target tracking, the longest alarm for step scaling, 1 for HPA; `None` for
    /// a custom autoscaler.
    pub fn datapoints_needed(&self) -> Option<usize> {
        match self {
            AutoscalerSpec::TargetTracking(_) => Some(super::target_tracking::SCALE_IN_DATAPOINTS),
            AutoscalerSpec::StepScaling(spec) => Some(
                [&spec.scale_out, &spec.scale_in]
                    .into_iter()
                    .flatten()
                    .map(|alarm| alarm.evaluation_periods as usize)
                    .max()
                    .unwrap_or(1),
            ),
            AutoscalerSpec::Hpa(_) => Some(1),
            AutoscalerSpec::Custom { .. } => None,
        }
    }

    /// Checks every parameter; the error names the offending field (relative path) and why.
    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            AutoscalerSpec::TargetTracking(spec) => spec.validate(),
            AutoscalerSpec::StepScaling(spec) => spec.validate(),
            AutoscalerSpec::Hpa(spec) => spec.validate(),
            AutoscalerSpec::Custom { name } => {
                if name.trim().is_empty() {
                    Err(field(
                        "name",
                        "a custom autoscaler needs its registered name",
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl TargetTrackingSpec {
    /// Target tracking with AWS's defaults: cooldowns 300 s, scale-in enabled, 60 s datapoints.
    pub fn with_defaults(metric: ScalingMetric, target: f64, min: u32, max: u32) -> Self {
        TargetTrackingSpec {
            metric,
            target,
            min,
            max,
            scale_out_cooldown: AWS_COOLDOWN,
            scale_in_cooldown: AWS_COOLDOWN,
            disable_scale_in: false,
            metric_period: CLOUDWATCH_PERIOD,
        }
    }

    /// Checks every parameter; the error names the offending field (relative path) and why.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_bounds(self.min, self.max)?;
        check_target(self.metric, self.target)?;
        check_positive(self.metric_period, "metric_period")
    }
}

impl StepScalingSpec {
    /// Step scaling with AWS's defaults: cooldown 300 s, 60 s datapoints, no minimum magnitude.
    pub fn with_defaults(
        metric: ScalingMetric,
        min: u32,
        max: u32,
        adjustment_type: AdjustmentType,
        scale_out: Option<StepAlarm>,
        scale_in: Option<StepAlarm>,
    ) -> Self {
        StepScalingSpec {
            metric,
            min,
            max,
            cooldown: AWS_COOLDOWN,
            metric_period: CLOUDWATCH_PERIOD,
            scale_out,
            scale_in,
            adjustment_type,
            min_adjustment_magnitude: None,
        }
    }

    /// Checks every parameter; the error names the offending field (relative path) and why.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_bounds(self.min, self.max)?;
        check_positive(self.metric_period, "metric_period")?;
        if self.scale_out.is_none() && self.scale_in.is_none() {
            return Err(field(
                "scale_out",
                "step scaling needs a scale_out alarm, a scale_in alarm, or both",
            ));
        }
        for (path, alarm) in [("scale_out", &self.scale_out), ("scale_in", &self.scale_in)] {
            if let Some(alarm) = alarm {
                check_alarm(alarm, path, self.metric, self.adjustment_type)?;
            }
        }
        match (self.min_adjustment_magnitude, self.adjustment_type) {
            (None, _) => Ok(()),
            (Some(0), _) => Err(field(
                "min_adjustment_magnitude",
                "must be at least 1 (leave it out for no minimum)",
            )),
            (Some(_), AdjustmentType::PercentChangeInCapacity) => Ok(()),
            (Some(_), other) => Err(field(
                "min_adjustment_magnitude",
                &format!(
                    "applies only to PercentChangeInCapacity, not {}",
                    other.name()
                ),
            )),
        }
    }
}

impl HpaSpec {
    /// An HPA with the default behavior (see the module table).
    pub fn with_defaults(metric: ScalingMetric, target: f64, min: u32, max: u32) -> Self {
        HpaSpec {
            metric,
            target,
            min,
            max,
            tolerance: HPA_TOLERANCE,
            sync_period: HPA_SYNC_PERIOD,
            scale_down_stabilization: HPA_SCALE_DOWN_STABILIZATION,
            scale_up_stabilization: HPA_SCALE_UP_STABILIZATION,
            scale_up_limit_percent: HPA_SCALE_UP_LIMIT_PERCENT,
            scale_up_limit_pods: HPA_SCALE_UP_LIMIT_PODS,
            scale_down_limit_percent: HPA_SCALE_DOWN_LIMIT_PERCENT,
            limit_period: HPA_LIMIT_PERIOD,
            metric_period: HPA_METRIC_PERIOD,
        }
    }

    /// Checks every parameter; the error names the offending field (relative path) and why.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.min == 0 {
            return Err(field(
                "min",
                "an HPA needs at least 1 pod (scaling to zero is Kubernetes' alpha \
                 HPAScaleToZero feature)",
            ));
        }
        check_bounds(self.min, self.max)?;
        check_target(self.metric, self.target)?;
        let tolerance = self.tolerance;
        if !(tolerance.is_finite() && (0.0..1.0).contains(&tolerance)) {
            return Err(field(
                "tolerance",
                &format!("must be in [0, 1), e.g. 0.1 for 10 %; got {tolerance}"),
            ));
        }
        check_positive(self.sync_period, "sync_period")?;
        check_positive(self.metric_period, "metric_period")?;
        check_positive(self.limit_period, "limit_period")?;
        let limit_period = self.limit_period;
        if limit_period > HPA_MAX_LIMIT_PERIOD {
            return Err(field(
                "limit_period",
                &format!(
                    "must be at most 30m (Kubernetes periodSeconds ≤ 1800); got {limit_period}"
                ),
            ));
        }
        for (window, path) in [
            (self.scale_down_stabilization, "scale_down_stabilization"),
            (self.scale_up_stabilization, "scale_up_stabilization"),
        ] {
            if window > HPA_MAX_STABILIZATION {
                return Err(field(
                    path,
                    &format!(
                        "must be at most 1h (Kubernetes stabilizationWindowSeconds ≤ 3600); got {window}"
                    ),
                ));
            }
        }
        if self.scale_up_limit_percent == 0 && self.scale_up_limit_pods == 0 {
            return Err(field(
                "scale_up_limit_percent",
                "scale_up_limit_percent and scale_up_limit_pods are both 0: the HPA could \
                 never scale up",
            ));
        }
        let scale_down_limit_percent = self.scale_down_limit_percent;
        if !(1..=100).contains(&scale_down_limit_percent) {
            return Err(field(
                "scale_down_limit_percent",
                &format!("must be in 1..=100; got {scale_down_limit_percent}"),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for AutoscalerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoscalerSpec::TargetTracking(spec) => fmt::Display::fmt(spec, f),
            AutoscalerSpec::StepScaling(spec) => fmt::Display::fmt(spec, f),
            AutoscalerSpec::Hpa(spec) => fmt::Display::fmt(spec, f),
            AutoscalerSpec::Custom { name } => write!(f, "custom {name}"),
        }
    }
}

impl fmt::Display for TargetTrackingSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target_tracking {}={} tasks {}..{} cooldown out {} in {} period {}",
            self.metric.name(),
            self.target,
            self.min,
            self.max,
            self.scale_out_cooldown,
            self.scale_in_cooldown,
            self.metric_period
        )?;
        if self.disable_scale_in {
            write!(f, " (scale-in disabled)")?;
        }
        Ok(())
    }
}

impl fmt::Display for StepScalingSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step_scaling {} tasks {}..{} {} cooldown {} period {}",
            self.metric.name(),
            self.min,
            self.max,
            self.adjustment_type.name(),
            self.cooldown,
            self.metric_period
        )?;
        for (name, alarm) in [("out", &self.scale_out), ("in", &self.scale_in)] {
            if let Some(alarm) = alarm {
                write!(
                    f,
                    " {name} when {} {} ({}/{}, {} steps)",
                    alarm.comparison,
                    alarm.threshold,
                    alarm.datapoints_to_alarm,
                    alarm.evaluation_periods,
                    alarm.steps.len()
                )?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for HpaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hpa {}={} pods {}..{} tolerance {} sync {} scale-down stabilization {}",
            self.metric.name(),
            self.target,
            self.min,
            self.max,
            self.tolerance,
            self.sync_period,
            self.scale_down_stabilization
        )
    }
}

/// A [`FieldError`] for `path`.
fn field(path: &str, message: &str) -> FieldError {
    (path.to_string(), message.to_string())
}

/// min ≤ max and max ≥ 1.
fn check_bounds(min: u32, max: u32) -> Result<(), FieldError> {
    if max == 0 {
        return Err(field("max", "must be at least 1"));
    }
    if min > max {
        return Err(field(
            "min",
            &format!("min ({min}) is greater than max ({max})"),
        ));
    }
    Ok(())
}

/// The target is positive and finite; a cpu_utilization target is a fraction in (0, 1].
fn check_target(metric: ScalingMetric, target: f64) -> Result<(), FieldError> {
    if !(target.is_finite() && target > 0.0) {
        return Err(field(
            "target",
            &format!("must be a positive number; got {target}"),
        ));
    }
    if metric == ScalingMetric::CpuUtilization && target > 1.0 {
        return Err(field(
            "target",
            &format!(
                "cpu_utilization is a fraction: the target must be in (0, 1], e.g. 0.7 for 70 %; \
                 got {target}"
            ),
        ));
    }
    Ok(())
}

/// A period that must not be zero.
fn check_positive(period: SimDuration, path: &str) -> Result<(), FieldError> {
    if period == SimDuration::ZERO {
        Err(field(path, "must be longer than zero"))
    } else {
        Ok(())
    }
}

/// One alarm: its threshold, M of N, and steps that neither overlap nor leave gaps (AWS's rules).
fn check_alarm(
    alarm: &StepAlarm,
    path: &str,
    metric: ScalingMetric,
    adjustment_type: AdjustmentType,
) -> Result<(), FieldError> {
    let at = |key: &str| format!("{path}.{key}");
    if !alarm.threshold.is_finite() {
        return Err((at("threshold"), "must be a finite number".to_string()));
    }
    if metric == ScalingMetric::CpuUtilization && !(0.0..=1.0).contains(&alarm.threshold) {
        return Err((
            at("threshold"),
            format!(
                "cpu_utilization is a fraction: the threshold must be in [0, 1], e.g. 0.7 for \
                 70 %; got {}",
                alarm.threshold
            ),
        ));
    }
    if alarm.evaluation_periods == 0 {
        return Err((at("evaluation_periods"), "must be at least 1".to_string()));
    }
    if alarm.datapoints_to_alarm == 0 || alarm.datapoints_to_alarm > alarm.evaluation_periods {
        return Err((
            at("datapoints_to_alarm"),
            format!(
                "must be in 1..={} (evaluation_periods); got {}",
                alarm.evaluation_periods, alarm.datapoints_to_alarm
            ),
        ));
    }
    check_steps(&alarm.steps, path, adjustment_type)
}

/// AWS's step rules: bounds finite, lower < upper, not both open; at most one open end each way;
/// no overlap, no gap; a negative lowest bound needs an open lower end, a positive highest bound an
/// open upper end; whole-number adjustments (exact ≥ 0, percent ≥ −100).
fn check_steps(
    steps: &[Step],
    path: &str,
    adjustment_type: AdjustmentType,
) -> Result<(), FieldError> {
    if steps.is_empty() {
        return Err((
            format!("{path}.steps"),
            "needs at least one step".to_string(),
        ));
    }
    let at = |index: usize, key: &str| format!("{path}.steps[{index}].{key}");
    for (index, step) in steps.iter().enumerate() {
        for (bound, key) in [(step.lower, "lower"), (step.upper, "upper")] {
            if bound.is_some_and(|value| !value.is_finite()) {
                return Err((
                    at(index, key),
                    "must be a finite number (leave it out for an open end)".to_string(),
                ));
            }
        }
        match (step.lower, step.upper) {
            (None, None) => {
                return Err((
                    at(index, "lower"),
                    "a step needs a lower or an upper bound".to_string(),
                ));
            }
            (Some(lower), Some(upper)) if lower >= upper => {
                return Err((
                    at(index, "upper"),
                    format!("the upper bound ({upper}) must be above the lower bound ({lower})"),
                ));
            }
            _ => {}
        }
        let adjustment = step.adjustment;
        if !(adjustment.is_finite() && adjustment.fract() == 0.0 && adjustment.abs() <= 1e9) {
            return Err((
                at(index, "adjustment"),
                format!("must be a whole number; got {adjustment}"),
            ));
        }
        match adjustment_type {
            AdjustmentType::ExactCapacity if adjustment < 0.0 => {
                return Err((
                    at(index, "adjustment"),
                    format!("an ExactCapacity adjustment is a task count (≥ 0); got {adjustment}"),
                ));
            }
            AdjustmentType::PercentChangeInCapacity if adjustment < -100.0 => {
                return Err((
                    at(index, "adjustment"),
                    format!("a percent change cannot remove more than 100 %; got {adjustment}"),
                ));
            }
            _ => {}
        }
    }
    // Sorted by lower bound (−∞ first); ties cannot pass the contiguity check below.
    let mut order: Vec<usize> = (0..steps.len()).collect();
    let lower = |index: usize| steps[index].lower.unwrap_or(f64::NEG_INFINITY);
    let upper = |index: usize| steps[index].upper.unwrap_or(f64::INFINITY);
    order.sort_by(|&a, &b| lower(a).total_cmp(&lower(b)).then(a.cmp(&b)));
    for pair in order.windows(2) {
        let (below, above) = (pair[0], pair[1]);
        if steps[above].lower.is_none() {
            return Err((
                at(above, "lower"),
                format!("only one step may leave its lower bound open; steps[{below}] does too"),
            ));
        }
        if steps[below].upper.is_none() {
            return Err((
                at(below, "upper"),
                format!(
                    "only the highest step may leave its upper bound open; steps[{above}] lies above it"
                ),
            ));
        }
        let (top, bottom) = (upper(below), lower(above));
        if top > bottom {
            return Err((
                at(above, "lower"),
                format!("steps[{below}] and steps[{above}] overlap: {top} > {bottom}"),
            ));
        }
        if top < bottom {
            return Err((
                at(above, "lower"),
                format!(
                    "gap between steps[{below}] (upper {top}) and steps[{above}] (lower {bottom})"
                ),
            ));
        }
    }
    let (first, last) = (order[0], order[order.len() - 1]);
    if steps[first].lower.is_some_and(|value| value < 0.0) {
        return Err((
            at(first, "lower"),
            "the lowest step has a negative lower bound, so a step must leave its lower bound \
             open (AWS's rule)"
                .to_string(),
        ));
    }
    if steps[last].upper.is_some_and(|value| value > 0.0) {
        return Err((
            at(last, "upper"),
            "the highest step has a positive upper bound, so a step must leave its upper bound \
             open (AWS's rule)"
                .to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScalingMetric::{CpuUtilization, RequestsPerTarget};

    /// The AAS user guide's example: threshold 50, PercentChangeInCapacity.
    fn aws_example() -> StepScalingSpec {
        let (out, inward) = super::super::testkit::aws_step_alarms();
        StepScalingSpec::with_defaults(
            RequestsPerTarget,
            1,
            100,
            AdjustmentType::PercentChangeInCapacity,
            Some(out),
            Some(inward),
        )
    }

    /// The scale-out alarm of a case being edited.
    fn out(spec: &mut StepScalingSpec) -> &mut StepAlarm {
        spec.scale_out.as_mut().unwrap()
    }

    /// The scale-in alarm of a case being edited.
    fn inward(spec: &mut StepScalingSpec) -> &mut StepAlarm {
        spec.scale_in.as_mut().unwrap()
    }

    /// (case, edit of the AWS example, expected error field or None)
    #[test]
    fn step_validation_table() {
        type Case = (&'static str, fn(&mut StepScalingSpec), Option<&'static str>);
        let table: [Case; 16] = [
            ("the AWS example", |_| {}, None),
            ("min > max", |p| p.min = 101, Some("min")),
            ("max 0", |p| (p.min, p.max) = (0, 0), Some("max")),
            (
                "zero period",
                |p| p.metric_period = SimDuration::ZERO,
                Some("metric_period"),
            ),
            (
                "no alarm",
                |p| (p.scale_out, p.scale_in) = (None, None),
                Some("scale_out"),
            ),
            ("scale-out only", |p| p.scale_in = None, None),
            (
                "overlap",
                |p| out(p).steps[1].lower = Some(5.0),
                Some("scale_out.steps[1].lower"),
            ),
            (
                "gap",
                |p| out(p).steps[2].lower = Some(25.0),
                Some("scale_out.steps[2].lower"),
            ),
            (
                "two open tops",
                |p| out(p).steps[1].upper = None,
                Some("scale_out.steps[1].upper"),
            ),
            (
                "closed top > 0",
                |p| out(p).steps[2].upper = Some(40.0),
                Some("scale_out.steps[2].upper"),
            ),
            (
                "closed bottom < 0",
                |p| inward(p).steps[2].lower = Some(-40.0),
                Some("scale_in.steps[2].lower"),
            ),
            (
                "lower ≥ upper",
                |p| out(p).steps[0].upper = Some(-1.0),
                Some("scale_out.steps[0].upper"),
            ),
            (
                "fractional",
                |p| out(p).steps[1].adjustment = 2.5,
                Some("scale_out.steps[1].adjustment"),
            ),
            (
                "below −100 %",
                |p| inward(p).steps[2].adjustment = -150.0,
                Some("scale_in.steps[2].adjustment"),
            ),
            (
                "M > N",
                |p| out(p).datapoints_to_alarm = 2,
                Some("scale_out.datapoints_to_alarm"),
            ),
            (
                "magnitude without percent",
                |p| {
                    (p.adjustment_type, p.min_adjustment_magnitude) =
                        (AdjustmentType::ChangeInCapacity, Some(2))
                },
                Some("min_adjustment_magnitude"),
            ),
        ];
        for (case, edit, expected) in table {
            let mut spec = aws_example();
            edit(&mut spec);
            let got = AutoscalerSpec::StepScaling(spec).validate().err();
            assert_eq!(
                got.as_ref().map(|(field, _)| field.as_str()),
                expected,
                "{case}: {got:?}"
            );
        }
    }

    /// (spec, expected error field or None) for target tracking and HPA.
    #[test]
    fn target_and_hpa_validation_table() {
        let tt = AutoscalerSpec::target_tracking_default;
        let hpa = AutoscalerSpec::hpa_default;
        let defaults = HpaSpec::with_defaults(CpuUtilization, 0.5, 1, 10);
        let zero_sync = AutoscalerSpec::Hpa(HpaSpec {
            sync_period: SimDuration::ZERO,
            ..defaults.clone()
        });
        let wide_tolerance = AutoscalerSpec::Hpa(HpaSpec {
            tolerance: 1.5,
            ..defaults.clone()
        });
        let long_window = AutoscalerSpec::Hpa(HpaSpec {
            scale_down_stabilization: SimDuration::from_secs(7200),
            ..defaults
        });
        let table = [
            (tt(CpuUtilization, 0.7, 1, 10), None),
            (tt(CpuUtilization, 70.0, 1, 10), Some("target")),
            (tt(CpuUtilization, 0.0, 1, 10), Some("target")),
            (tt(RequestsPerTarget, -5.0, 1, 10), Some("target")),
            (tt(RequestsPerTarget, f64::NAN, 1, 10), Some("target")),
            (tt(RequestsPerTarget, 1000.0, 1, 10), None),
            (tt(CpuUtilization, 0.5, 11, 10), Some("min")),
            (hpa(CpuUtilization, 0.5, 1, 10), None),
            (hpa(CpuUtilization, 0.5, 0, 10), Some("min")),
            (hpa(CpuUtilization, 1.5, 1, 10), Some("target")),
            (zero_sync, Some("sync_period")),
            (wide_tolerance, Some("tolerance")),
            (long_window, Some("scale_down_stabilization")),
            (AutoscalerSpec::custom("scheduled"), None),
            (AutoscalerSpec::custom(" "), Some("name")),
        ];
        for (spec, expected) in table {
            let got = spec.validate().err();
            assert_eq!(
                got.as_ref().map(|(field, _)| field.as_str()),
                expected,
                "{spec}: {got:?}"
            );
        }
    }

    /// (metric, expected adjustment) over the AWS example's bounds: at 60 the +10 % step starts,
    /// at 40 the −10 % step (AAS user guide); exactly 50 is "unchanged" on both sides.
    #[test]
    fn steps_follow_the_documented_bounds() {
        let StepScalingSpec {
            scale_out: Some(out),
            scale_in: Some(inward),
            ..
        } = aws_example()
        else {
            unreachable!()
        };
        let table = [
            (&out, 50.0, Some(0.0)),
            (&out, 59.99, Some(0.0)),
            (&out, 60.0, Some(10.0)),
            (&out, 69.99, Some(10.0)),
            (&out, 70.0, Some(30.0)),
            (&out, 1e6, Some(30.0)),
            (&out, 49.0, None),
            (&inward, 50.0, Some(0.0)),
            (&inward, 40.01, Some(0.0)),
            (&inward, 40.0, Some(-10.0)),
            (&inward, 30.01, Some(-10.0)),
            (&inward, 30.0, Some(-30.0)),
            (&inward, 0.0, Some(-30.0)),
            (&inward, 51.0, None),
        ];
        for (alarm, metric, expected) in table {
            assert_eq!(
                alarm.step_for(metric).map(|step| step.adjustment),
                expected,
                "{} {} at {metric}",
                alarm.comparison,
                alarm.threshold
            );
        }
        // The API reference's two examples with threshold 50: [0, 10) is 50 ≤ m < 60 and
        // (−10, 0] is 40 < m ≤ 50.
        let above = Step::new(Some(0.0), Some(10.0), 1.0);
        let below = Step::new(Some(-10.0), Some(0.0), -1.0);
        assert!(above.contains(0.0, true) && !above.contains(10.0, true));
        assert!(below.contains(0.0, false) && !below.contains(-10.0, false));
    }

    /// (spec, one-line summary, datapoints needed)
    #[test]
    fn summaries_and_datapoints_needed() {
        let table = [
            (
                AutoscalerSpec::target_tracking_default(CpuUtilization, 0.7, 2, 20),
                "target_tracking cpu_utilization=0.7 tasks 2..20 cooldown out 5m in 5m period 1m",
                Some(15),
            ),
            (
                AutoscalerSpec::StepScaling(aws_example()),
                "step_scaling requests_per_target tasks 1..100 PercentChangeInCapacity cooldown 5m \
                 period 1m out when > 50 (1/1, 3 steps) in when < 50 (1/1, 3 steps)",
                Some(1),
            ),
            (
                AutoscalerSpec::hpa_default(CpuUtilization, 0.5, 1, 10),
                "hpa cpu_utilization=0.5 pods 1..10 tolerance 0.1 sync 15s scale-down \
                 stabilization 5m",
                Some(1),
            ),
            (AutoscalerSpec::custom("nightly"), "custom nightly", None),
        ];
        for (spec, summary, needed) in table {
            assert_eq!(spec.to_string(), summary);
            assert_eq!(spec.datapoints_needed(), needed, "{summary}");
            assert_eq!(spec.bounds().is_some(), spec.metric().is_some());
            assert!(AutoscalerSpec::KINDS.contains(&spec.kind_name()));
        }
    }

    #[test]
    fn names_resolve_and_serialize() {
        for symbol in Comparison::SYMBOLS {
            assert_eq!(Comparison::from_symbol(symbol).unwrap().symbol(), symbol);
        }
        for name in AdjustmentType::NAMES {
            assert_eq!(AdjustmentType::from_name(name).unwrap().name(), name);
        }
        assert_eq!(
            AdjustmentType::from_name("percent_change_in_capacity"),
            Some(AdjustmentType::PercentChangeInCapacity)
        );
        let json = serde_json::to_string(&AutoscalerSpec::StepScaling(aws_example())).unwrap();
        assert!(json.starts_with(r#"{"kind":"step_scaling","metric":"requests_per_target""#));
        assert!(json.contains(r#""comparison":">""#), "{json}");
        assert!(json.contains(r#""cooldown":"5m""#), "{json}");
        let hpa = serde_json::to_string(&AutoscalerSpec::hpa_default(CpuUtilization, 0.5, 1, 10))
            .unwrap();
        assert!(hpa.contains(r#""kind":"hpa""#) && hpa.contains(r#""tolerance":0.1"#));
        // Newtype variants serialize their spec's fields inline, after the tag.
        assert!(
            hpa.starts_with(r#"{"kind":"hpa","metric":"cpu_utilization","target":0.5,"min":1,"#),
            "{hpa}"
        );
        let tt = serde_json::to_string(&AutoscalerSpec::target_tracking_default(
            CpuUtilization,
            0.7,
            2,
            20,
        ))
        .unwrap();
        assert!(
            tt.starts_with(r#"{"kind":"target_tracking","metric":"cpu_utilization","target":0.7,"#),
            "{tt}"
        );
        let custom = serde_json::to_string(&AutoscalerSpec::custom("nightly")).unwrap();
        assert_eq!(custom, r#"{"kind":"custom","name":"nightly"}"#);
    }
}
