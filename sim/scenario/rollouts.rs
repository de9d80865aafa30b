//! Validation of `[[app.rollouts]]`: which service moves to what new version, when, and how its
//! tasks are replaced (ECS rolling update or Kubernetes RollingUpdate, circuit breaker, rollback).

use super::raw::{NumberOrText, RawAlarm, RawRollout};
use super::source::{Problem, did_you_mean};
use super::validate::{
    Checked, bytes_at, in_range, optional_duration, service_at, start_within_run,
};
use crate::app::{Amount, AppSpec, DeploymentAlarm, RolloutSpec, RolloutStrategy, VersionSpec};
use crate::time::SimDuration;

fn amount(value: &Option<NumberOrText>, path: &str, default: Amount) -> Checked<Amount> {
    match value {
        None => Ok(default),
        Some(NumberOrText::Number(count))
            if *count >= 0.0 && count.fract() == 0.0 && *count <= 100_000.0 =>
        {
            Ok(Amount::Count(*count as u32))
        }
        Some(NumberOrText::Text(text)) if text.trim().ends_with('%') => {
            let percent: f64 = text
                .trim()
                .trim_end_matches('%')
                .trim()
                .parse()
                .map_err(|_| {
                    Problem::new(path, format!("`{text}` is not a percent"))
                        .with_help("e.g. \"25%\" or a task count such as 1")
                })?;
            Ok(Amount::Percent(in_range(
                percent,
                path,
                0.0,
                100.0,
                "a percent",
            )?))
        }
        Some(_) => Err(Problem::new(path, "expected a task count or a percent")
            .with_help("e.g. max_surge = 1 or max_surge = \"25%\"")),
    }
}

/// Validates every rollout against the app and the run's duration.
pub(super) fn validate_rollouts(
    raw: &[RawRollout],
    app: &AppSpec,
    duration: SimDuration,
) -> Checked<Vec<RolloutSpec>> {
    let mut rollouts = Vec::new();
    for (index, rollout) in raw.iter().enumerate() {
        let path = format!("app.rollouts[{index}]");
        let at = start_within_run(
            &rollout.at,
            &format!("{path}.at"),
            "when it starts, e.g. at = \"10m\"",
            "the rollout",
            duration,
        )?;
        rollouts.push(rollout_spec(rollout, &path, at, app)?);
    }
    rollouts.sort_by_key(|rollout| rollout.at);
    Ok(rollouts)
}

/// Validates one rolling deployment starting at `at` (its service, new version and strategy) with
/// its keys under `path`: an `[[app.rollouts]]` table, or a `bad_deploy` fault's.
pub(super) fn rollout_spec(
    rollout: &RawRollout,
    path: &str,
    at: SimDuration,
    app: &AppSpec,
) -> Checked<RolloutSpec> {
    let service = service_at(
        &rollout.service,
        &format!("{path}.service"),
        "the service to deploy",
        app,
    )?;
    let spec = &app.services[service];
    let image_bytes = match &rollout.image_size {
        Some(_) => bytes_at(&rollout.image_size, &format!("{path}.image_size"), "")?,
        None => spec.image_bytes,
    };
    let slowdown = in_range(
        rollout.slowdown.unwrap_or(1.0),
        &format!("{path}.slowdown"),
        0.01,
        1000.0,
        "a service-time multiplier",
    )?;
    let error_rate = in_range(
        rollout.error_rate.unwrap_or(0.0),
        &format!("{path}.error_rate"),
        0.0,
        1.0,
        "a probability",
    )?;
    let strategy_name = rollout.strategy.as_deref().unwrap_or("ecs");
    let (own, other): (&[&str], &[(&str, bool)]) = match strategy_name {
        "ecs" => (
            &["minimum_healthy_percent", "maximum_percent"],
            &[
                ("max_surge", rollout.max_surge.is_some()),
                ("max_unavailable", rollout.max_unavailable.is_some()),
            ],
        ),
        "kubernetes" => (
            &["max_surge", "max_unavailable"],
            &[
                (
                    "minimum_healthy_percent",
                    rollout.minimum_healthy_percent.is_some(),
                ),
                ("maximum_percent", rollout.maximum_percent.is_some()),
            ],
        ),
        other => {
            return Err(Problem::new(
                format!("{path}.strategy"),
                format!("unknown rollout strategy `{other}`"),
            )
            .with_help(did_you_mean(other, &["ecs", "kubernetes"])));
        }
    };
    if let Some((key, _)) = other.iter().find(|(_, set)| *set) {
        return Err(Problem::new(
            format!("{path}.{key}"),
            format!("`{key}` does not apply to the {strategy_name} strategy"),
        )
        .with_help(format!(
            "the {strategy_name} strategy takes: {}",
            own.join(", ")
        )));
    }
    let strategy = match strategy_name {
        "ecs" => {
            let minimum_healthy_percent = rollout.minimum_healthy_percent.unwrap_or(100);
            let maximum_percent = rollout.maximum_percent.unwrap_or(200);
            if minimum_healthy_percent > 100 {
                return Err(Problem::new(
                    format!("{path}.minimum_healthy_percent"),
                    format!("{minimum_healthy_percent} is above 100"),
                )
                .with_help("a percent of the desired count in [0, 100]"));
            }
            if !(100..=1000).contains(&maximum_percent) {
                return Err(Problem::new(
                    format!("{path}.maximum_percent"),
                    format!("{maximum_percent} is not in [100, 1000]"),
                ));
            }
            let (min_healthy, max_total) = RolloutStrategy::Ecs {
                minimum_healthy_percent,
                maximum_percent,
            }
            .bounds(spec.replicas.max(1));
            if min_healthy >= max_total && min_healthy > 0 {
                return Err(Problem::new(format!("{path}.maximum_percent"), format!("with {} tasks, minimum_healthy_percent {minimum_healthy_percent} and maximum_percent {maximum_percent} allow no task to be replaced", spec.replicas))
                    .with_help("raise maximum_percent (e.g. 200) or lower minimum_healthy_percent (e.g. 50)"));
            }
            RolloutStrategy::Ecs {
                minimum_healthy_percent,
                maximum_percent,
            }
        }
        _ => {
            let max_surge = amount(
                &rollout.max_surge,
                &format!("{path}.max_surge"),
                Amount::Percent(25.0),
            )?;
            let max_unavailable = amount(
                &rollout.max_unavailable,
                &format!("{path}.max_unavailable"),
                Amount::Percent(25.0),
            )?;
            let zero = |amount: Amount| {
                matches!(amount, Amount::Count(0)) || amount == Amount::Percent(0.0)
            };
            if zero(max_surge) && zero(max_unavailable) {
                return Err(Problem::new(format!("{path}.max_unavailable"), "max_surge and max_unavailable are both 0: no pod could ever be replaced")
                    .with_help("Kubernetes rejects this too; allow a surge (e.g. max_surge = 1) or some unavailability"));
            }
            RolloutStrategy::Kubernetes {
                max_surge,
                max_unavailable,
            }
        }
    };
    Ok(RolloutSpec {
        service,
        at,
        version: VersionSpec {
            image_bytes,
            slowdown,
            error_rate,
            fails_health_check: rollout.fails_health_check.unwrap_or(false),
        },
        strategy,
        circuit_breaker: rollout.circuit_breaker.unwrap_or(true),
        rollback: rollout.rollback.unwrap_or(true),
        alarm: rollout
            .alarm
            .as_ref()
            .map(|alarm| validate_alarm(alarm, &format!("{path}.alarm")))
            .transpose()?,
    })
}

/// Validates a deployment alarm: a threshold on errors, on latency or both, over periods.
fn validate_alarm(raw: &RawAlarm, path: &str) -> Checked<DeploymentAlarm> {
    if raw.error_rate.is_none() && raw.latency.is_none() {
        return Err(Problem::new(path, "the alarm watches nothing")
            .with_help("set error_rate (e.g. 0.05), latency (e.g. \"500ms\") or both"));
    }
    let error_rate = raw
        .error_rate
        .map(|rate| {
            in_range(
                rate,
                &format!("{path}.error_rate"),
                0.0,
                1.0,
                "a share of failed calls",
            )
        })
        .transpose()?;
    let latency = match &raw.latency {
        None => None,
        Some(_) => Some(optional_duration(
            &raw.latency,
            &format!("{path}.latency"),
            "",
        )?),
    };
    let period = optional_duration(&raw.period, &format!("{path}.period"), "1m")?;
    if period == SimDuration::ZERO {
        return Err(
            Problem::new(format!("{path}.period"), "must be longer than zero")
                .with_help("CloudWatch alarms evaluate periods of 10s, 30s or a multiple of 1m"),
        );
    }
    let evaluation_periods = raw.evaluation_periods.unwrap_or(1);
    if evaluation_periods == 0 {
        return Err(Problem::new(
            format!("{path}.evaluation_periods"),
            "must be at least 1",
        ));
    }
    Ok(DeploymentAlarm {
        error_rate,
        latency,
        period,
        evaluation_periods,
    })
}
