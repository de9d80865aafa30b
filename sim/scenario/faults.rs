//! Validation of `[[faults]]`: each fault's kind, time (once, or a random process), target and
//! parameters; a `bad_deploy` becomes a rolling deployment validated as `[[app.rollouts]]` are.

use super::raw::{DurationOrDistribution, RawFault, RawRollout};
use super::source::{Problem, did_you_mean};
use super::validate::{
    Checked, duration_at, in_range, optional_duration, reject_inapplicable, require, service_at,
    start_within_run, validate_distribution,
};
use crate::app::{AppSpec, RolloutSpec};
use crate::cluster::{ClusterSpec, LaunchType};
use crate::dist::Distribution;
use crate::faults::{FaultKind, FaultSpec, MAX_EXPECTED_OCCURRENCES};
use crate::time::SimDuration;

const KINDS: [&str; 9] = [
    "container_crash",
    "node_crash",
    "spot_interruption",
    "zone_outage",
    "registry_outage",
    "latency",
    "memory_leak",
    "errors",
    "bad_deploy",
];

/// The keys of a `bad_deploy`: those of an `[[app.rollouts]]` table but `at`.
const BAD_DEPLOY_KEYS: [&str; 13] = [
    "service",
    "image_size",
    "slowdown",
    "error_rate",
    "fails_health_check",
    "strategy",
    "minimum_healthy_percent",
    "maximum_percent",
    "max_surge",
    "max_unavailable",
    "circuit_breaker",
    "rollback",
    "alarm",
];

/// A fixed duration or a distribution at `path`, with a mean above zero.
fn distribution_at(value: &DurationOrDistribution, path: &str) -> Checked<Distribution> {
    let distribution = match value {
        DurationOrDistribution::Fixed(text) => Distribution::Constant {
            value: duration_at(text, path)?,
        },
        DurationOrDistribution::Drawn(raw) => validate_distribution(raw, path)?,
    };
    if distribution.mean_nanos() <= 0.0 {
        return Err(Problem::new(path, "must be longer than zero on average")
            .with_help("e.g. \"2h\" or { dist = \"exponential\", mean = \"2h\" }"));
    }
    Ok(distribution)
}

/// A fault's rollout keys as a rollout's, to validate them with the rollouts' own code.
fn as_rollout(fault: &RawFault) -> RawRollout {
    RawRollout {
        service: fault.service.clone(),
        at: fault.at.clone(),
        image_size: fault.image_size.clone(),
        slowdown: fault.slowdown,
        error_rate: fault.error_rate,
        fails_health_check: fault.fails_health_check,
        strategy: fault.strategy.clone(),
        minimum_healthy_percent: fault.minimum_healthy_percent,
        maximum_percent: fault.maximum_percent,
        max_surge: fault.max_surge.clone(),
        max_unavailable: fault.max_unavailable.clone(),
        circuit_breaker: fault.circuit_breaker,
        rollback: fault.rollback,
        alarm: fault.alarm.clone(),
    }
}

/// When a fault happens: its start and, for a random fault, the time between failures; and its
/// duration distribution, if it is drawn.
struct Timing {
    at: SimDuration,
    every: Option<Distribution>,
    duration_distribution: Option<Distribution>,
}

/// Validates a fault's `at`, `every` and drawn `duration` (a fixed one is the kind's).
fn timing(fault: &RawFault, path: &str, duration: SimDuration) -> Checked<Timing> {
    let every = match &fault.every {
        None => None,
        Some(value) => {
            let every_path = format!("{path}.every");
            let every = distribution_at(value, &every_path)?;
            let expected = duration.as_nanos() as f64 / every.mean_nanos();
            if expected > MAX_EXPECTED_OCCURRENCES {
                return Err(Problem::new(
                    every_path,
                    format!(
                        "about {expected:.0} occurrences in a run of {duration}; at most {MAX_EXPECTED_OCCURRENCES} are allowed"
                    ),
                )
                .with_help("each occurrence is a row of faults.csv: lengthen the mean time between failures"));
            }
            Some(every)
        }
    };
    // A random process may start counting from time 0; a fault that happens once needs `at`.
    let at = if every.is_some() && fault.at.is_none() {
        SimDuration::ZERO
    } else {
        start_within_run(
            &fault.at,
            &format!("{path}.at"),
            "when it starts, e.g. at = \"5m\" (or a random process: every = \"2h\")",
            "the fault",
            duration,
        )?
    };
    let duration_distribution = match &fault.duration {
        Some(value @ DurationOrDistribution::Drawn(_)) => {
            Some(distribution_at(value, &format!("{path}.duration"))?)
        }
        _ => None,
    };
    Ok(Timing {
        at,
        every,
        duration_distribution,
    })
}

/// Validates the fault plan against the cluster, the app and the run's duration: the faults in
/// order of `at`, and the rolling deployments the `bad_deploy` faults become, which join
/// `app.rollouts` from index `first_rollout` on.
pub(super) fn validate_faults(
    raw: &[RawFault],
    cluster: &ClusterSpec,
    app: &AppSpec,
    duration: SimDuration,
    first_rollout: usize,
) -> Checked<(Vec<FaultSpec>, Vec<RolloutSpec>)> {
    let mut faults = Vec::new();
    let mut rollouts = Vec::new();
    for (index, fault) in raw.iter().enumerate() {
        let path = format!("faults[{index}]");
        let kind = require(
            fault.kind.clone(),
            &format!("{path}.kind"),
            &format!("one of: {}", KINDS.join(", ")),
        )?;
        let allowed: &[&str] = match kind.as_str() {
            "container_crash" => &["every", "service", "count"],
            "node_crash" => &["every", "node_group", "node"],
            "spot_interruption" => &["every", "node_group", "node", "notice"],
            "zone_outage" => &["every", "zone", "duration"],
            "registry_outage" => &["every", "duration"],
            "latency" => &["every", "component", "duration", "multiplier", "added"],
            "memory_leak" => &["every", "component", "duration", "leak_rate"],
            "errors" => &["every", "component", "duration", "rate"],
            "bad_deploy" => &BAD_DEPLOY_KEYS,
            other => {
                return Err(Problem::new(
                    format!("{path}.kind"),
                    format!("unknown fault kind `{other}`"),
                )
                .with_help(did_you_mean(other, &KINDS)));
            }
        };
        let present = [
            ("every", fault.every.is_some()),
            ("duration", fault.duration.is_some()),
            ("service", fault.service.is_some()),
            ("count", fault.count.is_some()),
            ("node_group", fault.node_group.is_some()),
            ("node", fault.node.is_some()),
            ("zone", fault.zone.is_some()),
            ("component", fault.component.is_some()),
            ("multiplier", fault.multiplier.is_some()),
            ("added", fault.added.is_some()),
            ("rate", fault.rate.is_some()),
            ("leak_rate", fault.leak_rate.is_some()),
            ("notice", fault.notice.is_some()),
            ("image_size", fault.image_size.is_some()),
            ("slowdown", fault.slowdown.is_some()),
            ("error_rate", fault.error_rate.is_some()),
            ("fails_health_check", fault.fails_health_check.is_some()),
            ("strategy", fault.strategy.is_some()),
            (
                "minimum_healthy_percent",
                fault.minimum_healthy_percent.is_some(),
            ),
            ("maximum_percent", fault.maximum_percent.is_some()),
            ("max_surge", fault.max_surge.is_some()),
            ("max_unavailable", fault.max_unavailable.is_some()),
            ("circuit_breaker", fault.circuit_breaker.is_some()),
            ("rollback", fault.rollback.is_some()),
            ("alarm", fault.alarm.is_some()),
        ];
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        reject_inapplicable(&path, &format!("{article} {kind} fault"), &present, allowed)?;
        let Timing {
            at,
            every,
            duration_distribution,
        } = timing(fault, &path, duration)?;
        // The window of a kind that has one: fixed, or the mean of the drawn durations.
        let window = |default: &str| -> Checked<SimDuration> {
            if let Some(distribution) = &duration_distribution {
                return Ok(SimDuration::from_nanos(
                    distribution.mean_nanos().round() as u64
                ));
            }
            let text = match &fault.duration {
                Some(DurationOrDistribution::Fixed(text)) => text.as_str(),
                _ => default,
            };
            let value = duration_at(text, &format!("{path}.duration"))?;
            if value == SimDuration::ZERO {
                return Err(Problem::new(
                    format!("{path}.duration"),
                    "must be longer than zero",
                ));
            }
            Ok(value)
        };
        let component = || -> Checked<usize> {
            let names: Vec<&str> = app.components.iter().map(|c| c.name.as_str()).collect();
            let name = require(
                fault.component.clone(),
                &format!("{path}.component"),
                &format!("one of: {}", names.join(", ")),
            )?;
            names.iter().position(|n| *n == name).ok_or_else(|| {
                Problem::new(
                    format!("{path}.component"),
                    format!("unknown component `{name}`"),
                )
                .with_help(did_you_mean(&name, &names))
            })
        };
        let needs_nodes = || -> Checked<()> {
            if cluster.launch_type == LaunchType::Fargate || cluster.node_groups.is_empty() {
                return Err(Problem::new(
                    format!("{path}.kind"),
                    format!("a {kind} fault needs EC2 node groups"),
                )
                .with_help("on Fargate, use container_crash or zone_outage"));
            }
            Ok(())
        };
        let kind = match kind.as_str() {
            "container_crash" => {
                let service = service_at(
                    &fault.service,
                    &format!("{path}.service"),
                    "the service whose tasks crash",
                    app,
                )?;
                let count = fault.count.unwrap_or(1);
                if count == 0 {
                    return Err(Problem::new(format!("{path}.count"), "must be at least 1"));
                }
                FaultKind::ContainerCrash { service, count }
            }
            "node_crash" | "spot_interruption" => {
                needs_nodes()?;
                let names: Vec<&str> = cluster
                    .node_groups
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect();
                let node_group = match &fault.node_group {
                    None => 0,
                    Some(name) => names.iter().position(|n| n == name).ok_or_else(|| {
                        Problem::new(
                            format!("{path}.node_group"),
                            format!("unknown node group `{name}`"),
                        )
                        .with_help(did_you_mean(name, &names))
                    })?,
                };
                if let Some(node) = fault.node
                    && node >= cluster.node_groups[node_group].count
                {
                    return Err(Problem::new(
                        format!("{path}.node"),
                        format!(
                            "node group `{}` starts with {} nodes (0..{})",
                            names[node_group],
                            cluster.node_groups[node_group].count,
                            cluster.node_groups[node_group].count
                        ),
                    ));
                }
                if kind == "spot_interruption" {
                    let notice = optional_duration(&fault.notice, &format!("{path}.notice"), "2m")?;
                    FaultKind::SpotInterruption {
                        node_group,
                        node: fault.node,
                        notice,
                    }
                } else {
                    FaultKind::NodeCrash {
                        node_group,
                        node: fault.node,
                    }
                }
            }
            "registry_outage" => FaultKind::RegistryOutage {
                duration: window("5m")?,
            },
            "zone_outage" => {
                let zones: Vec<&str> = cluster.zones.iter().map(String::as_str).collect();
                let name = require(
                    fault.zone.clone(),
                    &format!("{path}.zone"),
                    &format!("one of: {}", zones.join(", ")),
                )?;
                let zone = zones.iter().position(|z| *z == name).ok_or_else(|| {
                    Problem::new(format!("{path}.zone"), format!("unknown zone `{name}`"))
                        .with_help(did_you_mean(&name, &zones))
                })?;
                FaultKind::ZoneOutage {
                    zone,
                    duration: window("10m")?,
                }
            }
            "latency" => {
                let component = component()?;
                let multiplier = in_range(
                    fault.multiplier.unwrap_or(1.0),
                    &format!("{path}.multiplier"),
                    1.0,
                    10_000.0,
                    "a service-time multiplier",
                )?;
                let added = optional_duration(&fault.added, &format!("{path}.added"), "0s")?;
                if multiplier == 1.0 && added == SimDuration::ZERO {
                    return Err(Problem::new(
                        format!("{path}.multiplier"),
                        "the fault changes nothing",
                    )
                    .with_help("set multiplier > 1 or added > 0s"));
                }
                FaultKind::Latency {
                    component,
                    duration: window("5m")?,
                    multiplier,
                    added,
                }
            }
            "memory_leak" => {
                let component = component()?;
                let rate_path = format!("{path}.leak_rate");
                let text = require(
                    fault.leak_rate.clone(),
                    &rate_path,
                    "how fast memory grows, e.g. leak_rate = \"10MB/s\"",
                )?;
                let bytes_per_sec = super::units::parse_bandwidth(&text)
                    .map_err(|e| Problem::new(&rate_path, e))?;
                if bytes_per_sec <= 0.0 {
                    return Err(Problem::new(rate_path, "must be above zero"));
                }
                FaultKind::MemoryLeak {
                    component,
                    duration: window("10m")?,
                    bytes_per_sec,
                }
            }
            "errors" => {
                let component = component()?;
                let rate = in_range(
                    require(
                        fault.rate,
                        &format!("{path}.rate"),
                        "the fraction of calls that fail, e.g. rate = 0.5",
                    )?,
                    &format!("{path}.rate"),
                    0.0,
                    1.0,
                    "a probability",
                )?;
                FaultKind::Errors {
                    component,
                    duration: window("5m")?,
                    rate,
                }
            }
            _ => {
                let spec = super::rollouts::rollout_spec(&as_rollout(fault), &path, at, app)?;
                let version = &spec.version;
                if !(version.fails_health_check
                    || version.error_rate > 0.0
                    || version.slowdown > 1.0)
                {
                    return Err(Problem::new(
                        format!("{path}.kind"),
                        "the bad deploy's version is not bad",
                    )
                    .with_help("set error_rate > 0, slowdown > 1 or fails_health_check = true"));
                }
                let kind = FaultKind::BadDeploy {
                    service: spec.service,
                    rollout: first_rollout + rollouts.len(),
                };
                rollouts.push(spec);
                kind
            }
        };
        faults.push(FaultSpec {
            at,
            kind,
            every,
            duration_distribution,
        });
    }
    faults.sort_by_key(|fault| fault.at);
    Ok((faults, rollouts))
}

#[cfg(test)]
mod tests {
    use crate::dist::Distribution;
    use crate::faults::FaultKind;
    use crate::scenario::{Scenario, parse};
    use crate::time::SimDuration;
    use std::path::Path;

    const APP: &str = r#"
[run]
duration = "1h"

[[app.components]]
name = "api"
service_time = { dist = "exponential", mean = "10ms" }
replicas = 4

[[app.classes]]
name = "get"
entry = "api"

[workload]
rate = "10/s"

[[app.rollouts]]
service = "api"
at = "50m"
"#;

    fn scenario(faults: &str) -> Scenario {
        parse(Path::new("t.toml"), &format!("{APP}\n{faults}"), &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .scenario
    }

    #[test]
    fn every_takes_a_duration_or_a_distribution_and_at_is_optional() {
        let scenario = scenario(
            r#"
[[faults]]
kind = "container_crash"
service = "api"
every = "10m"

[[faults]]
kind = "errors"
component = "api"
rate = 0.1
at = "5m"
every = { dist = "exponential", mean = "20m" }
duration = { dist = "lognormal", mean = "2m", cv = 0.5 }
"#,
        );
        let (crash, errors) = (&scenario.faults[0], &scenario.faults[1]);
        assert_eq!(crash.at, SimDuration::ZERO);
        assert!(matches!(
            crash.every,
            Some(Distribution::Constant { value }) if value == SimDuration::from_secs(600)
        ));
        assert!(crash.duration_distribution.is_none());
        assert_eq!(errors.at, SimDuration::from_secs(300));
        assert!(matches!(
            errors.every,
            Some(Distribution::Exponential { .. })
        ));
        // The kind's duration is the mean of the drawn ones.
        assert_eq!(errors.kind.duration(), SimDuration::from_secs(120));
        assert!(matches!(
            errors.duration_distribution,
            Some(Distribution::Lognormal { .. })
        ));
    }

    #[test]
    fn a_bad_deploy_becomes_a_rollout_after_the_files_own() {
        let scenario = scenario(
            r#"
[[faults]]
kind = "bad_deploy"
service = "api"
at = "10m"
error_rate = 0.3
minimum_healthy_percent = 50
maximum_percent = 100
circuit_breaker = false
"#,
        );
        let rollouts = &scenario.app.rollouts;
        assert_eq!(rollouts.len(), 2);
        assert_eq!(rollouts[0].at, SimDuration::from_secs(3000));
        let bad = &rollouts[1];
        assert_eq!(bad.at, SimDuration::from_secs(600));
        assert_eq!(bad.version.error_rate, 0.3);
        assert!(!bad.circuit_breaker && bad.rollback);
        assert!(matches!(
            scenario.faults[0].kind,
            FaultKind::BadDeploy {
                service: 0,
                rollout: 1
            }
        ));
    }
}
