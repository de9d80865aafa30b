//! Validation of `[cluster.autoscaler]`: ECS capacity provider managed scaling or the Kubernetes
//! cluster autoscaler, with their documented defaults.

use super::raw::RawClusterAutoscaler;
use super::source::{Problem, did_you_mean};
use super::validate::{Checked, optional_duration, require};
use crate::cluster::{ClusterSpec, LaunchType};
use crate::policy::cluster_autoscale::{
    CapacityProviderSpec, ClusterAutoscalerSpec, KubernetesAutoscalerSpec,
};

/// ECS's bounds of a capacity provider's scaling step sizes (1 to 10,000 instances).
const MAX_STEP_SIZE: u32 = 10_000;

/// Validates the cluster autoscaler at `cluster.autoscaler` against the validated cluster.
pub(super) fn validate_cluster_autoscaler(
    raw: &RawClusterAutoscaler,
    cluster: &ClusterSpec,
) -> Checked<ClusterAutoscalerSpec> {
    let path = "cluster.autoscaler";
    const POLICIES: [&str; 2] = ["capacity_provider", "cluster_autoscaler"];
    let policy = require(
        raw.policy.clone(),
        &format!("{path}.policy"),
        "one of: capacity_provider, cluster_autoscaler",
    )?;
    let own: &[&str] = match policy.as_str() {
        "capacity_provider" => &[
            "node_group",
            "target_capacity",
            "evaluation_period",
            "scale_in_periods",
            "minimum_scaling_step_size",
            "maximum_scaling_step_size",
        ],
        "cluster_autoscaler" => &[
            "scan_interval",
            "scale_down_utilization_threshold",
            "scale_down_unneeded_time",
            "scale_down_delay_after_add",
        ],
        other => {
            return Err(Problem::new(
                format!("{path}.policy"),
                format!("unknown cluster autoscaler `{other}`"),
            )
            .with_help(did_you_mean(other, &POLICIES)));
        }
    };
    let present = [
        ("node_group", raw.node_group.is_some()),
        ("target_capacity", raw.target_capacity.is_some()),
        ("evaluation_period", raw.evaluation_period.is_some()),
        ("scale_in_periods", raw.scale_in_periods.is_some()),
        (
            "minimum_scaling_step_size",
            raw.minimum_scaling_step_size.is_some(),
        ),
        (
            "maximum_scaling_step_size",
            raw.maximum_scaling_step_size.is_some(),
        ),
        ("scan_interval", raw.scan_interval.is_some()),
        (
            "scale_down_utilization_threshold",
            raw.scale_down_utilization_threshold.is_some(),
        ),
        (
            "scale_down_unneeded_time",
            raw.scale_down_unneeded_time.is_some(),
        ),
        (
            "scale_down_delay_after_add",
            raw.scale_down_delay_after_add.is_some(),
        ),
    ];
    for (key, is_set) in present {
        if is_set && !own.contains(&key) {
            return Err(Problem::new(
                format!("{path}.{key}"),
                format!("`{key}` does not apply to the {policy}"),
            )
            .with_help(format!("the {policy} takes: policy, {}", own.join(", "))));
        }
    }
    if cluster.launch_type == LaunchType::Fargate {
        return Err(Problem::new(
            format!("{path}.policy"),
            format!(
                "the cluster's launch_type is fargate: there are no nodes for the {policy} to scale"
            ),
        )
        .with_help(
            "Fargate needs no cluster scaling (each task gets its own capacity); remove \
             [cluster.autoscaler], or use launch_type = \"ec2\" with node groups",
        ));
    }
    if cluster.node_groups.is_empty() {
        return Err(Problem::new(
            format!("{path}.policy"),
            format!("the cluster has no node groups for the {policy} to scale"),
        )
        .with_help(
            "add a [[cluster.node_groups]] with min and max, or remove [cluster.autoscaler]",
        ));
    }
    let positive = |value: &Option<String>, key: &str, default: &str| -> Checked<_> {
        let duration = optional_duration(value, &format!("{path}.{key}"), default)?;
        if duration.as_nanos() == 0 {
            return Err(Problem::new(
                format!("{path}.{key}"),
                "must be longer than zero",
            ));
        }
        Ok(duration)
    };
    Ok(match policy.as_str() {
        "capacity_provider" => {
            let group_names: Vec<&str> = cluster
                .node_groups
                .iter()
                .map(|g| g.name.as_str())
                .collect();
            let node_group = match &raw.node_group {
                None => 0,
                Some(name) => group_names.iter().position(|g| g == name).ok_or_else(|| {
                    Problem::new(
                        format!("{path}.node_group"),
                        format!("unknown node group `{name}`"),
                    )
                    .with_help(did_you_mean(name, &group_names))
                })?,
            };
            let minimum = raw.minimum_scaling_step_size.unwrap_or(1);
            let maximum = raw.maximum_scaling_step_size.unwrap_or(MAX_STEP_SIZE);
            if maximum > MAX_STEP_SIZE {
                return Err(Problem::new(
                    format!("{path}.maximum_scaling_step_size"),
                    format!("must be at most {MAX_STEP_SIZE} (the ECS limit); got {maximum}"),
                ));
            }
            if minimum == 0 || minimum > maximum {
                return Err(Problem::new(
                    format!("{path}.minimum_scaling_step_size"),
                    format!("step sizes {minimum}..{maximum} are not 1 ≤ minimum ≤ maximum"),
                ));
            }
            let scale_in_periods = raw.scale_in_periods.unwrap_or(15);
            if scale_in_periods == 0 {
                return Err(Problem::new(
                    format!("{path}.scale_in_periods"),
                    "must be at least 1",
                ));
            }
            ClusterAutoscalerSpec::CapacityProvider(CapacityProviderSpec {
                node_group,
                target_capacity: target_capacity(raw.target_capacity, path)?,
                evaluation_period: positive(&raw.evaluation_period, "evaluation_period", "60s")?,
                scale_in_periods,
                minimum_scaling_step_size: minimum,
                maximum_scaling_step_size: maximum,
            })
        }
        _ => ClusterAutoscalerSpec::ClusterAutoscaler(KubernetesAutoscalerSpec {
            scan_interval: positive(&raw.scan_interval, "scan_interval", "10s")?,
            scale_down_utilization_threshold: utilization_threshold(
                raw.scale_down_utilization_threshold,
                path,
            )?,
            scale_down_unneeded_time: positive(
                &raw.scale_down_unneeded_time,
                "scale_down_unneeded_time",
                "10m",
            )?,
            scale_down_delay_after_add: optional_duration(
                &raw.scale_down_delay_after_add,
                &format!("{path}.scale_down_delay_after_add"),
                "10m",
            )?,
        }),
    })
}

/// `target_capacity`: a percent in [1, 100] as ECS accepts it (default 100).
fn target_capacity(value: Option<f64>, path: &str) -> Checked<f64> {
    let value = value.unwrap_or(100.0);
    if value.is_finite() && (1.0..=100.0).contains(&value) {
        return Ok(value);
    }
    let problem = Problem::new(
        format!("{path}.target_capacity"),
        format!("target capacity must be a percent in [1, 100]; got {value}"),
    );
    Err(if value > 0.0 && value < 1.0 {
        let percent = (value * 100.0 * 1e6).round() / 1e6;
        problem.with_help(format!(
            "it is a percent, not a fraction: for {percent} % write {percent}"
        ))
    } else {
        problem.with_help(
            "the share of the node group's instances the tasks should use: 100 keeps no spare \
             instance, 90 about one in ten spare",
        )
    })
}

/// `scale_down_utilization_threshold`: a fraction in [0, 1] (default 0.5).
fn utilization_threshold(value: Option<f64>, path: &str) -> Checked<f64> {
    let value = value.unwrap_or(0.5);
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        return Ok(value);
    }
    let problem = Problem::new(
        format!("{path}.scale_down_utilization_threshold"),
        format!("must be a fraction in [0, 1]; got {value}"),
    );
    Err(if value > 1.0 && value <= 100.0 {
        let fraction = (value / 100.0 * 1e9).round() / 1e9;
        problem.with_help(format!(
            "it is a fraction of the node's cpu and memory requested, not a percent: for \
             {value} % write {fraction}"
        ))
    } else {
        problem.with_help(
            "a node whose tasks request less than this share of its cpu and memory is a \
             scale-down candidate, e.g. 0.5",
        )
    })
}
