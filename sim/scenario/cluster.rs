//! Validation of `[cluster]`: zones, launch type, instance types, node groups, Fargate and task
//! timings; and the check that every service's task can run somewhere.

use super::raw::{NumberOrText, RawCluster, RawDistribution, RawInstanceType};
use super::source::{Problem, did_you_mean};
use super::units::parse_bandwidth;
use super::validate::{
    Checked, bytes_at, check_name, cpu_at, in_range, optional_duration, require, unique_name,
    validate_distribution,
};
use crate::app::{AppSpec, DeploymentMode};
use crate::cluster::catalog::{
    Arch, InstanceType, OsFamily, builtin_instance_types, fargate_size_for,
};
use crate::cluster::{
    ClusterSpec, FargateSpec, InitialState, LaunchType, NodeGroupSpec, TaskTimings,
};
use crate::dist::Distribution;
use crate::policy::placement::PlacementSpec;
use std::collections::BTreeSet;

/// Cluster defaults (scenarios/README.md lists the same).
pub mod defaults {
    /// `cluster.zones`.
    pub const ZONE: &str = "zone-1";
    /// `cluster.image_pull_bandwidth`: per node, shared by concurrent pulls (15–20 GB deep-learning
    /// images pull in 4–6 min, i.e. 50–80 MB/s: facts/domain.md §3).
    pub const IMAGE_PULL_BANDWIDTH: &str = "80MB/s";
    /// `cluster.node_groups[].provision_time`: constant.
    pub const NODE_PROVISION_TIME: &str = "5s";
    /// `cluster.node_groups[].boot_time`: lognormal mean (EKS nodes: 30–65 s to schedulable).
    pub const NODE_BOOT_TIME_MEAN: &str = "40s";
    /// `cluster.node_groups[].boot_time`: lognormal cv.
    pub const NODE_BOOT_TIME_CV: f64 = 0.25;
    /// `cluster.fargate.start_latency`: lognormal mean.
    pub const FARGATE_START_LATENCY_MEAN: &str = "15s";
    /// `cluster.fargate.start_latency`: lognormal cv.
    pub const FARGATE_START_LATENCY_CV: f64 = 0.3;
    /// `cluster.fargate.pull_bandwidth`: with the start latency and a 1 s container start, a 413 MB
    /// image starts in ~57 s, the mean measured without SOCI (facts/domain.md §3).
    pub const FARGATE_PULL_BANDWIDTH: &str = "10MB/s";
    /// `cluster.fargate.spot_discount` ("up to 70 %").
    pub const FARGATE_SPOT_DISCOUNT: f64 = 0.7;
    /// `cluster.tasks.start_time`: lognormal mean (container start excluding pull: sub-second to ~1 s).
    pub const TASK_START_TIME_MEAN: &str = "1s";
    /// `cluster.tasks.start_time`: lognormal cv.
    pub const TASK_START_TIME_CV: f64 = 0.5;
    /// `cluster.tasks.health_check_grace` (ECS healthCheckGracePeriodSeconds default 0).
    pub const HEALTH_CHECK_GRACE: &str = "0s";
}

fn lognormal_default(path: &str, mean: &str, cv: f64) -> Checked<Distribution> {
    let mean = optional_duration(&None, path, mean)?;
    Distribution::lognormal(mean, cv).map_err(|e| Problem::new(path, e))
}

fn distribution_or(
    raw: &Option<RawDistribution>,
    path: &str,
    default: impl FnOnce() -> Checked<Distribution>,
) -> Checked<Distribution> {
    match raw {
        Some(raw) => validate_distribution(raw, path),
        None => default(),
    }
}

fn bandwidth_at(text: &Option<String>, path: &str, default: &str) -> Checked<f64> {
    let bandwidth =
        parse_bandwidth(text.as_deref().unwrap_or(default)).map_err(|e| Problem::new(path, e))?;
    if bandwidth <= 0.0 || !bandwidth.is_finite() {
        return Err(Problem::new(path, "must be above zero").with_help("e.g. \"100MB/s\""));
    }
    Ok(bandwidth)
}

fn arch_at(text: &Option<String>, path: &str) -> Checked<Option<Arch>> {
    text.as_deref()
        .map(|name| {
            Arch::from_name(name).ok_or_else(|| {
                Problem::new(path, format!("unknown architecture `{name}`"))
                    .with_help("valid: x86_64, arm64")
            })
        })
        .transpose()
}

/// Resolves an OS name; `None` means Linux.
pub(super) fn os_at(text: &Option<String>, path: &str) -> Checked<OsFamily> {
    match text.as_deref() {
        None => Ok(OsFamily::Linux),
        Some(name) => OsFamily::from_name(name).ok_or_else(|| {
            Problem::new(path, format!("unknown OS `{name}`"))
                .with_help(did_you_mean(name, &["linux", "windows"]))
        }),
    }
}

/// Resolves an architecture name, if given.
pub(super) fn optional_arch(text: &Option<String>, path: &str) -> Checked<Option<Arch>> {
    arch_at(text, path)
}

fn custom_instance_type(
    raw: &RawInstanceType,
    path: &str,
    seen: &mut BTreeSet<String>,
    builtin: &[InstanceType],
) -> Checked<InstanceType> {
    let name = require(
        raw.name.clone(),
        &format!("{path}.name"),
        "e.g. name = \"custom.large\"",
    )?;
    if name.is_empty() || !seen.insert(name.clone()) || builtin.iter().any(|t| t.name == name) {
        return Err(Problem::new(
            format!("{path}.name"),
            format!("instance type `{name}` is already defined"),
        )
        .with_help("custom instance types need names of their own"));
    }
    let cpu_millis = positive_cpu(&raw.cpu, &format!("{path}.cpu"))?;
    let memory_bytes = positive_memory(&raw.memory, &format!("{path}.memory"))?;
    let arch = arch_at(&raw.arch, &format!("{path}.arch"))?.unwrap_or(Arch::X86_64);
    Ok(InstanceType {
        name,
        cpu_millis,
        memory_bytes,
        linux_price_per_hour: price_at(raw.price_per_hour, &format!("{path}.price_per_hour"))?,
        arch,
        windows_capable: raw.windows.unwrap_or(arch == Arch::X86_64),
    })
}

fn positive_cpu(value: &Option<NumberOrText>, path: &str) -> Checked<u64> {
    let millis = cpu_at(value, path, 0)?;
    if millis == 0 {
        return Err(Problem::new(path, "is required and must be above zero")
            .with_help("vCPUs, e.g. cpu = 2"));
    }
    Ok(millis)
}

fn positive_memory(value: &Option<String>, path: &str) -> Checked<u64> {
    let text = require(value.clone(), path, "memory, e.g. memory = \"8GiB\"")?;
    let bytes = bytes_at(&Some(text), path, "")?;
    if bytes == 0 {
        return Err(Problem::new(path, "must be above zero"));
    }
    Ok(bytes)
}

fn price_at(value: Option<f64>, path: &str) -> Checked<f64> {
    in_range(
        value.unwrap_or(0.0),
        path,
        0.0,
        1000.0,
        "a price in dollars per hour",
    )
}

/// Validates `[cluster]`.
pub(super) fn validate_cluster(
    raw: &RawCluster,
    custom_policies: &[String],
) -> Checked<ClusterSpec> {
    let zones = raw
        .zones
        .clone()
        .unwrap_or_else(|| vec![defaults::ZONE.to_string()]);
    if zones.is_empty() {
        return Err(Problem::new("cluster.zones", "is empty")
            .with_help("list at least one zone, e.g. zones = [\"us-east-1a\"]"));
    }
    let mut seen_zones = BTreeSet::new();
    for (index, zone) in zones.iter().enumerate() {
        check_name(zone, &format!("cluster.zones[{index}]"))?;
        if !seen_zones.insert(zone.as_str()) {
            return Err(Problem::new(
                format!("cluster.zones[{index}]"),
                format!("zone `{zone}` is listed twice"),
            ));
        }
    }
    let zone_names: Vec<&str> = zones.iter().map(String::as_str).collect();
    let launch_type = match raw.launch_type.as_deref() {
        None | Some("ec2") => LaunchType::Ec2,
        Some("fargate") => LaunchType::Fargate,
        Some(other) => {
            return Err(Problem::new(
                "cluster.launch_type",
                format!("unknown launch type `{other}`"),
            )
            .with_help(did_you_mean(other, &["ec2", "fargate"])));
        }
    };
    let initial_state = match raw.initial_state.as_deref() {
        None | Some("warm") => InitialState::Warm,
        Some("cold") => InitialState::Cold,
        Some(other) => {
            return Err(Problem::new(
                "cluster.initial_state",
                format!("unknown initial state `{other}`"),
            )
            .with_help(did_you_mean(other, &["warm", "cold"])));
        }
    };
    let builtin = builtin_instance_types();
    let mut custom_names = BTreeSet::new();
    let mut instance_types = builtin.clone();
    for (index, raw_type) in raw.instance_types.iter().enumerate() {
        let custom = custom_instance_type(
            raw_type,
            &format!("cluster.instance_types[{index}]"),
            &mut custom_names,
            &builtin,
        )?;
        instance_types.push(custom);
    }
    let type_names: Vec<&str> = instance_types.iter().map(|t| t.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    let mut node_groups = Vec::new();
    let mut total_nodes: u64 = 0;
    for (index, group) in raw.node_groups.iter().enumerate() {
        let path = format!("cluster.node_groups[{index}]");
        let name = unique_name(group.name.as_ref(), &path, &mut seen, "node group")?;
        let instance = match &group.instance_type {
            Some(type_name) => {
                for (key, is_set) in [
                    ("cpu", group.cpu.is_some()),
                    ("memory", group.memory.is_some()),
                    ("price_per_hour", group.price_per_hour.is_some()),
                    ("arch", group.arch.is_some()),
                ] {
                    if is_set {
                        return Err(Problem::new(format!("{path}.{key}"), format!("`{key}` comes from the instance type `{type_name}`"))
                            .with_help("either name an instance_type or give cpu and memory (and price_per_hour, arch) for a custom one"));
                    }
                }
                instance_types
                    .iter()
                    .find(|t| &t.name == type_name)
                    .cloned()
                    .ok_or_else(|| {
                        Problem::new(
                            format!("{path}.instance_type"),
                            format!("unknown instance type `{type_name}`"),
                        )
                        .with_help(did_you_mean(type_name, &type_names))
                    })?
            }
            None => {
                if group.cpu.is_none() && group.memory.is_none() {
                    return Err(Problem::new(
                        format!("{path}.instance_type"),
                        "is required but missing",
                    )
                    .with_help(format!(
                        "name one ({}), or give cpu and memory",
                        type_names.join(", ")
                    )));
                }
                let arch = arch_at(&group.arch, &format!("{path}.arch"))?.unwrap_or(Arch::X86_64);
                InstanceType {
                    name: format!("{name}-custom"),
                    cpu_millis: positive_cpu(&group.cpu, &format!("{path}.cpu"))?,
                    memory_bytes: positive_memory(&group.memory, &format!("{path}.memory"))?,
                    linux_price_per_hour: price_at(
                        group.price_per_hour,
                        &format!("{path}.price_per_hour"),
                    )?,
                    arch,
                    windows_capable: arch == Arch::X86_64,
                }
            }
        };
        let os = os_at(&group.os, &format!("{path}.os"))?;
        if os == OsFamily::Windows && !instance.windows_capable {
            return Err(Problem::new(
                format!("{path}.os"),
                format!("instance type `{}` cannot run Windows", instance.name),
            )
            .with_help("Windows needs an x86_64 instance type such as m5.large or c5.xlarge"));
        }
        let count = require(
            group.count,
            &format!("{path}.count"),
            "how many nodes, e.g. count = 3",
        )?;
        let min = group.min.unwrap_or(count);
        let max = group.max.unwrap_or(count);
        if min > count || count > max {
            return Err(Problem::new(
                format!("{path}.count"),
                format!("count {count} is not within min {min} and max {max}"),
            )
            .with_help("node groups need min ≤ count ≤ max"));
        }
        total_nodes += u64::from(max);
        if total_nodes > super::validate::defaults::MAX_NODES {
            let key = if group.max.is_some() { "max" } else { "count" };
            return Err(Problem::new(
                format!("{path}.{key}"),
                format!(
                    "the cluster could grow to {total_nodes} nodes, more than the supported {}",
                    super::validate::defaults::MAX_NODES
                ),
            )
            .with_help("use fewer, larger nodes"));
        }
        let group_zones = group.zones.clone().unwrap_or_else(|| zones.clone());
        if group_zones.is_empty() {
            return Err(Problem::new(format!("{path}.zones"), "is empty")
                .with_help(format!("valid zones: {}", zone_names.join(", "))));
        }
        for (zone_index, zone) in group_zones.iter().enumerate() {
            if !zones.contains(zone) {
                return Err(Problem::new(
                    format!("{path}.zones[{zone_index}]"),
                    format!("unknown zone `{zone}`"),
                )
                .with_help(did_you_mean(zone, &zone_names)));
            }
        }
        for key in group.attributes.keys() {
            if key.starts_with("ecs.") || key == "node-group" {
                return Err(Problem::new(format!("{path}.attributes.{key}"), format!("`{key}` is a built-in attribute"))
                    .with_help("built-in: ecs.instance-type, ecs.availability-zone, ecs.os-type, ecs.cpu-architecture, node-group"));
            }
        }
        let provision_path = format!("{path}.provision_time");
        let boot_path = format!("{path}.boot_time");
        node_groups.push(NodeGroupSpec {
            name,
            instance,
            os,
            count,
            min,
            max,
            zones: group_zones,
            attributes: group.attributes.clone(),
            provision_time: distribution_or(&group.provision_time, &provision_path, || {
                Ok(Distribution::Constant {
                    value: optional_duration(
                        &None,
                        &provision_path,
                        defaults::NODE_PROVISION_TIME,
                    )?,
                })
            })?,
            boot_time: distribution_or(&group.boot_time, &boot_path, || {
                lognormal_default(
                    &boot_path,
                    defaults::NODE_BOOT_TIME_MEAN,
                    defaults::NODE_BOOT_TIME_CV,
                )
            })?,
        });
    }
    let fargate = {
        let raw_fargate = raw.fargate.as_ref();
        let path = "cluster.fargate";
        let latency_path = format!("{path}.start_latency");
        FargateSpec {
            start_latency: distribution_or(
                &raw_fargate.and_then(|f| f.start_latency.clone()),
                &latency_path,
                || {
                    lognormal_default(
                        &latency_path,
                        defaults::FARGATE_START_LATENCY_MEAN,
                        defaults::FARGATE_START_LATENCY_CV,
                    )
                },
            )?,
            pull_bandwidth_bytes_per_sec: bandwidth_at(
                &raw_fargate.and_then(|f| f.pull_bandwidth.clone()),
                &format!("{path}.pull_bandwidth"),
                defaults::FARGATE_PULL_BANDWIDTH,
            )?,
            spot: raw_fargate.and_then(|f| f.spot).unwrap_or(false),
            spot_discount: in_range(
                raw_fargate
                    .and_then(|f| f.spot_discount)
                    .unwrap_or(defaults::FARGATE_SPOT_DISCOUNT),
                &format!("{path}.spot_discount"),
                0.0,
                0.99,
                "a discount",
            )?,
            arch: arch_at(
                &raw_fargate.and_then(|f| f.arch.clone()),
                &format!("{path}.arch"),
            )?
            .unwrap_or(Arch::X86_64),
        }
    };
    let tasks = {
        let raw_tasks = raw.tasks.as_ref();
        let start_path = "cluster.tasks.start_time".to_string();
        TaskTimings {
            start_time: distribution_or(
                &raw_tasks.and_then(|t| t.start_time.clone()),
                &start_path,
                || {
                    lognormal_default(
                        &start_path,
                        defaults::TASK_START_TIME_MEAN,
                        defaults::TASK_START_TIME_CV,
                    )
                },
            )?,
            health_check_grace: optional_duration(
                &raw_tasks.and_then(|t| t.health_check_grace.clone()),
                "cluster.tasks.health_check_grace",
                defaults::HEALTH_CHECK_GRACE,
            )?,
            node_pull_bandwidth_bytes_per_sec: bandwidth_at(
                &raw.image_pull_bandwidth,
                "cluster.image_pull_bandwidth",
                defaults::IMAGE_PULL_BANDWIDTH,
            )?,
        }
    };
    let placement = match &raw.placement {
        Some(raw_placement) => super::placement::validate_placement(
            raw_placement,
            "cluster.placement",
            custom_policies,
        )?,
        None => PlacementSpec::ecs_default(),
    };
    Ok(ClusterSpec {
        zones,
        launch_type,
        initial_state,
        node_groups,
        fargate,
        tasks,
        placement,
    })
}

/// Every service's task must be able to run somewhere: on an empty node of some compatible node
/// group (EC2), or in a valid Fargate size. A task that merely finds no room at the moment stays
/// pending at run time instead.
pub(super) fn check_tasks_fit(cluster: &ClusterSpec, app: &AppSpec) -> Checked<()> {
    for service in &app.services {
        let path = match app.mode {
            DeploymentMode::Microservices => format!("app.components[{}]", service.components[0]),
            _ => format!("app.deployment.services.{}", service.name),
        };
        let shape = format!(
            "cpu {}m, memory {} MiB",
            service.cpu_millis,
            service.memory_bytes / (1024 * 1024)
        );
        match cluster.launch_type {
            LaunchType::Fargate => {
                if fargate_size_for(service.cpu_millis, service.memory_bytes).is_none() {
                    return Err(Problem::new(path, format!("service `{}` ({shape}) is larger than the largest Fargate task (16 vCPU, 120 GiB)", service.name))
                        .with_help("Fargate sizes go up to 16 vCPU with 32–120 GiB; lower cpu or memory, or use launch_type = \"ec2\""));
                }
            }
            LaunchType::Ec2 if cluster.node_groups.is_empty() => {}
            LaunchType::Ec2 => {
                let compatible: Vec<&NodeGroupSpec> = cluster
                    .node_groups
                    .iter()
                    .filter(|g| {
                        g.os == service.os
                            && service.arch.is_none_or(|arch| arch == g.instance.arch)
                    })
                    .collect();
                if compatible.is_empty() {
                    let wants = match service.arch {
                        Some(arch) => format!("{} on {}", service.os.name(), arch.name()),
                        None => service.os.name().to_string(),
                    };
                    return Err(Problem::new(
                        path,
                        format!(
                            "service `{}` needs {wants} nodes and no node group has them",
                            service.name
                        ),
                    )
                    .with_help(format!(
                        "add a node group with os = \"{}\"{}",
                        service.os.name(),
                        if service.os == OsFamily::Windows {
                            " on a Windows-capable instance type (e.g. m5.large)"
                        } else {
                            ""
                        }
                    )));
                }
                let fits = compatible.iter().any(|g| {
                    g.instance.cpu_millis >= service.cpu_millis
                        && g.instance.memory_bytes >= service.memory_bytes
                });
                if !fits {
                    let largest: Vec<String> = compatible
                        .iter()
                        .map(|g| {
                            format!(
                                "{} ({}: {}m, {} MiB)",
                                g.name,
                                g.instance.name,
                                g.instance.cpu_millis,
                                g.instance.memory_bytes / (1024 * 1024)
                            )
                        })
                        .collect();
                    return Err(Problem::new(path, format!("a task of service `{}` ({shape}) is larger than every node: {}", service.name, largest.join(", ")))
                        .with_help("use a larger instance type (e.g. m5.xlarge: 4 vCPU, 16 GiB) or lower the service's cpu or memory"));
                }
            }
        }
    }
    Ok(())
}
