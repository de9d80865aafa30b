//! Validation of `[[faults]]`: each fault's kind, time, target and parameters.

use super::raw::RawFault;
use super::source::{Problem, did_you_mean};
use super::validate::{
    Checked, in_range, optional_duration, reject_inapplicable, require, start_within_run,
};
use crate::app::AppSpec;
use crate::cluster::{ClusterSpec, LaunchType};
use crate::faults::{FaultKind, FaultSpec};
use crate::time::SimDuration;

const KINDS: [&str; 8] = [
    "container_crash",
    "node_crash",
    "spot_interruption",
    "zone_outage",
    "registry_outage",
    "latency",
    "memory_leak",
    "errors",
];

/// Validates the fault plan against the cluster, the app and the run's duration.
pub(super) fn validate_faults(
    raw: &[RawFault],
    cluster: &ClusterSpec,
    app: &AppSpec,
    duration: SimDuration,
) -> Checked<Vec<FaultSpec>> {
    let mut faults = Vec::new();
    for (index, fault) in raw.iter().enumerate() {
        let path = format!("faults[{index}]");
        let kind = require(
            fault.kind.clone(),
            &format!("{path}.kind"),
            &format!("one of: {}", KINDS.join(", ")),
        )?;
        let allowed: &[&str] = match kind.as_str() {
            "container_crash" => &["service", "count"],
            "node_crash" => &["node_group", "node"],
            "spot_interruption" => &["node_group", "node", "notice"],
            "zone_outage" => &["zone", "duration"],
            "registry_outage" => &["duration"],
            "latency" => &["component", "duration", "multiplier", "added"],
            "memory_leak" => &["component", "duration", "leak_rate"],
            "errors" => &["component", "duration", "rate"],
            other => {
                return Err(Problem::new(
                    format!("{path}.kind"),
                    format!("unknown fault kind `{other}`"),
                )
                .with_help(did_you_mean(other, &KINDS)));
            }
        };
        let present = [
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
        ];
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        reject_inapplicable(&path, &format!("{article} {kind} fault"), &present, allowed)?;
        let at = start_within_run(
            &fault.at,
            &format!("{path}.at"),
            "when it starts, e.g. at = \"5m\"",
            "the fault",
            duration,
        )?;
        let window = |default: &str| -> Checked<SimDuration> {
            let value = optional_duration(&fault.duration, &format!("{path}.duration"), default)?;
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
                let names: Vec<&str> = app.services.iter().map(|s| s.name.as_str()).collect();
                let name = require(
                    fault.service.clone(),
                    &format!("{path}.service"),
                    &format!("one of: {}", names.join(", ")),
                )?;
                let service = names.iter().position(|n| *n == name).ok_or_else(|| {
                    Problem::new(
                        format!("{path}.service"),
                        format!("no service `{name}` in {} mode", app.mode.name()),
                    )
                    .with_help(did_you_mean(&name, &names))
                })?;
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
            _ => {
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
        };
        faults.push(FaultSpec { at, kind });
    }
    faults.sort_by_key(|fault| fault.at);
    Ok(faults)
}
