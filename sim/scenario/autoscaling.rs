//! Validation of a service's `autoscaling` table into a `ScalingSpec`: policy kind, metric, target,
//! bounds, and the keys each kind takes.

use super::raw::{RawAutoscaling, RawStepAlarm};
use super::source::{Problem, did_you_mean};
use super::validate::defaults::MAX_REPLICAS;
use super::validate::{Checked, optional_duration, require};
use crate::app::ScalingSpec;
use crate::policy::autoscale::{
    AdjustmentType, AutoscalerSpec, Comparison, HpaSpec, ScalingMetric, Step, StepAlarm,
    StepScalingSpec, TargetTrackingSpec,
};
use crate::time::SimDuration;

/// Default delay before a datapoint is visible (CloudWatch ingestion is not documented; one period).
pub const PUBLISH_DELAY: &str = "60s";
/// Default publication delay for the HPA (metrics-server scrapes every 15 s).
pub const HPA_PUBLISH_DELAY: &str = "15s";

const COMMON: [&str; 6] = [
    "policy",
    "metric",
    "min",
    "max",
    "metric_period",
    "publish_delay",
];

/// Validates an `autoscaling` table at `path`; `custom` lists registered custom autoscalers.
pub(super) fn validate_autoscaling(
    raw: &RawAutoscaling,
    path: &str,
    custom: &[String],
) -> Checked<ScalingSpec> {
    let policy = require(
        raw.policy.clone(),
        &format!("{path}.policy"),
        "one of: target_tracking, step_scaling, hpa, or a registered custom name",
    )?;
    let own: &[&str] = match policy.as_str() {
        "target_tracking" => &[
            "target",
            "scale_out_cooldown",
            "scale_in_cooldown",
            "disable_scale_in",
        ],
        "step_scaling" => &[
            "cooldown",
            "adjustment_type",
            "min_adjustment_magnitude",
            "scale_out",
            "scale_in",
        ],
        "hpa" => &[
            "target",
            "tolerance",
            "sync_period",
            "scale_down_stabilization",
            "scale_up_stabilization",
            "scale_up_limit_percent",
            "scale_up_limit_pods",
            "scale_down_limit_percent",
            "limit_period",
        ],
        name if custom.iter().any(|c| c == name) => &[],
        other => {
            let mut valid: Vec<&str> = vec!["target_tracking", "step_scaling", "hpa"];
            valid.extend(custom.iter().map(String::as_str));
            return Err(Problem::new(
                format!("{path}.policy"),
                format!("unknown autoscaler `{other}`"),
            )
            .with_help(did_you_mean(other, &valid)));
        }
    };
    let present = [
        ("metric", raw.metric.is_some()),
        ("target", raw.target.is_some()),
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
        ("metric_period", raw.metric_period.is_some()),
        ("scale_out_cooldown", raw.scale_out_cooldown.is_some()),
        ("scale_in_cooldown", raw.scale_in_cooldown.is_some()),
        ("disable_scale_in", raw.disable_scale_in.is_some()),
        ("cooldown", raw.cooldown.is_some()),
        ("adjustment_type", raw.adjustment_type.is_some()),
        (
            "min_adjustment_magnitude",
            raw.min_adjustment_magnitude.is_some(),
        ),
        ("scale_out", raw.scale_out.is_some()),
        ("scale_in", raw.scale_in.is_some()),
        ("tolerance", raw.tolerance.is_some()),
        ("sync_period", raw.sync_period.is_some()),
        (
            "scale_down_stabilization",
            raw.scale_down_stabilization.is_some(),
        ),
        (
            "scale_up_stabilization",
            raw.scale_up_stabilization.is_some(),
        ),
        (
            "scale_up_limit_percent",
            raw.scale_up_limit_percent.is_some(),
        ),
        ("scale_up_limit_pods", raw.scale_up_limit_pods.is_some()),
        (
            "scale_down_limit_percent",
            raw.scale_down_limit_percent.is_some(),
        ),
        ("limit_period", raw.limit_period.is_some()),
    ];
    let is_custom = custom.contains(&policy);
    for (key, is_set) in present {
        let allowed = own.contains(&key) || (!is_custom && COMMON.contains(&key));
        if is_set && !allowed {
            // policy, then the common keys (a custom autoscaler takes only publish_delay), then
            // the kind's own keys.
            let mut takes: Vec<&str> = if is_custom {
                vec!["policy", "publish_delay"]
            } else {
                COMMON.to_vec()
            };
            takes.extend(own);
            return Err(Problem::new(
                format!("{path}.{key}"),
                format!("`{key}` does not apply to the {policy} autoscaler"),
            )
            .with_help(format!(
                "the {policy} autoscaler takes: {}",
                takes.join(", ")
            )));
        }
    }
    let default_delay = if policy == "hpa" {
        HPA_PUBLISH_DELAY
    } else {
        PUBLISH_DELAY
    };
    let publish_delay = optional_duration(
        &raw.publish_delay,
        &format!("{path}.publish_delay"),
        default_delay,
    )?;
    if is_custom {
        return Ok(ScalingSpec {
            autoscaler: AutoscalerSpec::custom(&policy),
            publish_delay,
        });
    }
    let metric_name = require(
        raw.metric.clone(),
        &format!("{path}.metric"),
        &format!("one of: {}", ScalingMetric::NAMES.join(", ")),
    )?;
    let metric = ScalingMetric::from_name(&metric_name).ok_or_else(|| {
        Problem::new(
            format!("{path}.metric"),
            format!("unknown metric `{metric_name}`"),
        )
        .with_help(did_you_mean(&metric_name, &ScalingMetric::NAMES))
    })?;
    let min = require(
        raw.min,
        &format!("{path}.min"),
        "the fewest tasks, e.g. min = 2",
    )?;
    let max = require(
        raw.max,
        &format!("{path}.max"),
        "the most tasks, e.g. max = 20",
    )?;
    let duration =
        |value: &Option<String>, key: &str, default: SimDuration| -> Checked<SimDuration> {
            match value {
                Some(text) => optional_duration(&Some(text.clone()), &format!("{path}.{key}"), ""),
                None => Ok(default),
            }
        };
    let target = || {
        require(
            raw.target,
            &format!("{path}.target"),
            "the value to hold the metric at, e.g. target = 0.6 for cpu_utilization",
        )
    };
    if u64::from(max) > MAX_REPLICAS {
        return Err(Problem::new(
            format!("{path}.max"),
            format!("max {max} is more tasks than the supported {MAX_REPLICAS} replicas"),
        )
        .with_help("use fewer, larger tasks (more workers, cpu and memory each)"));
    }
    let autoscaler = match policy.as_str() {
        "target_tracking" => {
            let defaults = TargetTrackingSpec::with_defaults(metric, target()?, min, max);
            AutoscalerSpec::TargetTracking(TargetTrackingSpec {
                scale_out_cooldown: duration(
                    &raw.scale_out_cooldown,
                    "scale_out_cooldown",
                    defaults.scale_out_cooldown,
                )?,
                scale_in_cooldown: duration(
                    &raw.scale_in_cooldown,
                    "scale_in_cooldown",
                    defaults.scale_in_cooldown,
                )?,
                disable_scale_in: raw.disable_scale_in.unwrap_or(defaults.disable_scale_in),
                metric_period: duration(
                    &raw.metric_period,
                    "metric_period",
                    defaults.metric_period,
                )?,
                ..defaults
            })
        }
        "step_scaling" => {
            let adjustment_type = match raw.adjustment_type.as_deref() {
                None => AdjustmentType::ChangeInCapacity,
                Some(name) => AdjustmentType::from_name(name).ok_or_else(|| {
                    Problem::new(
                        format!("{path}.adjustment_type"),
                        format!("unknown adjustment type `{name}`"),
                    )
                    .with_help(did_you_mean(name, &AdjustmentType::NAMES))
                })?,
            };
            let scale_out = raw
                .scale_out
                .as_ref()
                .map(|alarm| step_alarm(alarm, &format!("{path}.scale_out")))
                .transpose()?;
            let scale_in = raw
                .scale_in
                .as_ref()
                .map(|alarm| step_alarm(alarm, &format!("{path}.scale_in")))
                .transpose()?;
            let defaults = StepScalingSpec::with_defaults(
                metric,
                min,
                max,
                adjustment_type,
                scale_out,
                scale_in,
            );
            AutoscalerSpec::StepScaling(StepScalingSpec {
                cooldown: duration(&raw.cooldown, "cooldown", defaults.cooldown)?,
                metric_period: duration(
                    &raw.metric_period,
                    "metric_period",
                    defaults.metric_period,
                )?,
                min_adjustment_magnitude: raw.min_adjustment_magnitude,
                ..defaults
            })
        }
        _ => {
            let defaults = HpaSpec::with_defaults(metric, target()?, min, max);
            AutoscalerSpec::Hpa(HpaSpec {
                tolerance: raw.tolerance.unwrap_or(defaults.tolerance),
                sync_period: duration(&raw.sync_period, "sync_period", defaults.sync_period)?,
                scale_down_stabilization: duration(
                    &raw.scale_down_stabilization,
                    "scale_down_stabilization",
                    defaults.scale_down_stabilization,
                )?,
                scale_up_stabilization: duration(
                    &raw.scale_up_stabilization,
                    "scale_up_stabilization",
                    defaults.scale_up_stabilization,
                )?,
                scale_up_limit_percent: raw
                    .scale_up_limit_percent
                    .unwrap_or(defaults.scale_up_limit_percent),
                scale_up_limit_pods: raw
                    .scale_up_limit_pods
                    .unwrap_or(defaults.scale_up_limit_pods),
                scale_down_limit_percent: raw
                    .scale_down_limit_percent
                    .unwrap_or(defaults.scale_down_limit_percent),
                limit_period: duration(&raw.limit_period, "limit_period", defaults.limit_period)?,
                metric_period: duration(
                    &raw.metric_period,
                    "metric_period",
                    defaults.metric_period,
                )?,
                ..defaults
            })
        }
    };
    autoscaler.validate().map_err(|(field, message)| {
        let problem = Problem::new(format!("{path}.{field}"), message);
        if field == "scale_out" && raw.scale_out.is_none() && raw.scale_in.is_none() {
            problem.with_help(format!(
                "add an alarm, e.g. [{path}.scale_out] threshold = 0.7 and \
                 steps = [{{ lower = 0, adjustment = 2 }}]"
            ))
        } else {
            problem
        }
    })?;
    Ok(ScalingSpec {
        autoscaler,
        publish_delay,
    })
}

fn step_alarm(raw: &RawStepAlarm, path: &str) -> Checked<StepAlarm> {
    let threshold = require(
        raw.threshold,
        &format!("{path}.threshold"),
        "the alarm threshold, in the metric's unit",
    )?;
    let comparison_text = raw.comparison.clone().unwrap_or_else(|| ">".into());
    let comparison = Comparison::from_symbol(&comparison_text).ok_or_else(|| {
        Problem::new(
            format!("{path}.comparison"),
            format!("unknown comparison `{comparison_text}`"),
        )
        .with_help(comparison_help(&comparison_text))
    })?;
    if raw.steps.is_empty() {
        return Err(Problem::new(
            format!("{path}.steps"),
            "a step-scaling alarm needs at least one step",
        )
        .with_help("e.g. steps = [{ lower = 0, adjustment = 2 }]"));
    }
    let steps = raw
        .steps
        .iter()
        .enumerate()
        .map(|(index, step)| {
            let adjustment = require(
                step.adjustment,
                &format!("{path}.steps[{index}].adjustment"),
                "how much to change, e.g. adjustment = 2",
            )?;
            Ok(Step::new(step.lower, step.upper, adjustment))
        })
        .collect::<Checked<Vec<_>>>()?;
    let mut alarm = StepAlarm::new(comparison, threshold, steps);
    alarm.evaluation_periods = raw.evaluation_periods.unwrap_or(1);
    alarm.datapoints_to_alarm = raw.datapoints_to_alarm.unwrap_or(alarm.evaluation_periods);
    Ok(alarm)
}

/// What to write instead of an unknown comparison: a symbol written backwards (`=>`) is read as the
/// symbol it was meant to be; otherwise every symbol and CloudWatch name.
fn comparison_help(text: &str) -> String {
    let reversed: String = text.trim().chars().rev().collect();
    let all = format!(
        "one of: {} (or CloudWatch's GreaterThanThreshold, GreaterThanOrEqualToThreshold, \
         LessThanThreshold, LessThanOrEqualToThreshold)",
        Comparison::SYMBOLS.join(", ")
    );
    if Comparison::SYMBOLS.contains(&reversed.as_str()) {
        format!("did you mean `{reversed}`? {all}")
    } else {
        all
    }
}
