//! Validation of `[cluster]`: zones, launch type, instance types, node groups, Fargate and task
//! timings; and the check that every service's task can run somewhere.

use super::raw::{NumberOrText, RawCluster, RawDistribution, RawInstanceType};
use super::source::{Problem, did_you_mean};
use super::units::parse_bandwidth;
use super::validate::{
    Checked, bytes_at, check_name, cpu_at, in_range, optional_duration, require, unique_name,
    validate_distribution,
};
use crate::app::{AppSpec, ComponentSpec, DeploymentMode, ServiceSpec};
use crate::cluster::catalog::{
    Arch, InstanceType, OsFamily, builtin_instance_types, fargate_size_for,
};
use crate::cluster::state::NodeLifecycle;
use crate::cluster::{
    ClusterSpec, FargateSpec, InitialState, LaunchType, LostTaskCalls, NodeGroupSpec, TaskTimings,
};
use crate::dist::Distribution;
use crate::policy::placement::{Constraint, PlacementSpec};
use std::collections::{BTreeMap, BTreeSet};

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
    /// `cluster.tasks.health_check_interval` (ALB target group default 30 s).
    pub const HEALTH_CHECK_INTERVAL: &str = "30s";
    /// `cluster.tasks.unhealthy_threshold` (ALB target group default 2).
    pub const UNHEALTHY_THRESHOLD: u32 = 2;
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
    if let Some(same) = builtin.iter().find(|t| t.name == name) {
        return Err(Problem::new(
            format!("{path}.name"),
            format!(
                "`{name}` is a built-in instance type ({}, ${}/h)",
                describe_shape(same),
                dollars(same.linux_price_per_hour)
            ),
        )
        .with_help(format!(
            "to use the built-in one, drop this table and write instance_type = \"{name}\" in a node group; \
             for a different shape, give the custom type a name of its own, e.g. \"{name}-custom\""
        )));
    }
    if name.is_empty() || !seen.insert(name.clone()) {
        return Err(Problem::new(
            format!("{path}.name"),
            format!("instance type `{name}` is already defined"),
        )
        .with_help("custom instance types need names of their own"));
    }
    let cpu_millis = positive_cpu(&raw.cpu, &format!("{path}.cpu"))?;
    let memory_bytes = positive_memory(&raw.memory, &format!("{path}.memory"))?;
    let arch = arch_at(&raw.arch, &format!("{path}.arch"))?.unwrap_or(Arch::X86_64);
    if raw.windows == Some(true) && arch != Arch::X86_64 {
        return Err(Problem::new(
            format!("{path}.windows"),
            format!("an {} instance type cannot run Windows", arch.name()),
        )
        .with_help(
            "Windows runs only on x86_64: set arch = \"x86_64\", or drop `windows = true`",
        ));
    }
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
                format!(
                    "instance type `{}` ({}) cannot run Windows",
                    instance.name,
                    instance.arch.name()
                ),
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
        if min > max {
            return Err(Problem::new(
                format!("{path}.min"),
                format!("min {min} is above max {max}"),
            )
            .with_help("node groups need min ≤ count ≤ max"));
        }
        if min > count || count > max {
            let bound = if count > max {
                format!("above max {max}")
            } else {
                format!("below min {min}")
            };
            return Err(Problem::new(
                format!("{path}.count"),
                format!("count {count} is {bound} (valid: {min} to {max})"),
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
                return Err(Problem::new(format!("{path}.attributes.{key}"), format!("`{key}` is a built-in attribute: every node gets it from its node group"))
                    .with_help(format!("built-in: {}; custom attributes need other names (not starting with `ecs.`), e.g. team = \"web\"", BUILTIN_ATTRIBUTES.join(", "))));
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
            cached_images: group.cached_images.clone().unwrap_or_default(),
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
            health_check_interval: optional_duration(
                &raw_tasks.and_then(|t| t.health_check_interval.clone()),
                "cluster.tasks.health_check_interval",
                defaults::HEALTH_CHECK_INTERVAL,
            )?,
            unhealthy_threshold: match raw_tasks.and_then(|t| t.unhealthy_threshold) {
                None => defaults::UNHEALTHY_THRESHOLD,
                Some(threshold @ 1..=10) => threshold,
                Some(threshold) => {
                    return Err(Problem::new(
                        "cluster.tasks.unhealthy_threshold",
                        format!("{threshold} failed checks"),
                    )
                    .with_help("2 to 10 on an ALB target group; 1 to 10 here"));
                }
            },
            lost_task_calls: match raw_tasks.and_then(|t| t.lost_task_calls.as_deref()) {
                None => LostTaskCalls::Refused,
                Some(name) => LostTaskCalls::from_name(name).ok_or_else(|| {
                    Problem::new(
                        "cluster.tasks.lost_task_calls",
                        format!("unknown mode `{name}`"),
                    )
                    .with_help(did_you_mean(name, &LostTaskCalls::NAMES))
                })?,
            },
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

/// The attributes every node gets from its node group (`ClusterSpec::new_node` sets them).
const BUILTIN_ATTRIBUTES: [&str; 5] = [
    "ecs.instance-type",
    "ecs.availability-zone",
    "ecs.os-type",
    "ecs.cpu-architecture",
    "node-group",
];

/// The valid Fargate sizes, for messages (facts/domain.md §4).
const FARGATE_SIZES_TEXT: &str = "0.25 vCPU with 0.5–2 GiB, 0.5 vCPU with 1–4 GiB, 1 vCPU with 2–8 GiB, \
     2 vCPU with 4–16 GiB, 4 vCPU with 8–30 GiB, 8 vCPU with 16–60 GiB, 16 vCPU with 32–120 GiB";

/// `2 vCPU, 8 GiB`.
fn describe_shape(instance: &InstanceType) -> String {
    format!(
        "{} vCPU, {}",
        instance.cpu_millis as f64 / 1000.0,
        describe_memory(instance.memory_bytes)
    )
}

/// `general (m5.large: 2 vCPU, 8 GiB)`: a node group, its instance type and shape.
fn describe_group(group: &NodeGroupSpec) -> String {
    format!(
        "{} ({}: {})",
        group.name,
        group.instance.name,
        describe_shape(&group.instance)
    )
}

/// `0.188`: a price with at most four decimals.
fn dollars(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `8 GiB`, or `1536 MiB` when not a whole number of GiB.
fn describe_memory(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes % (1024 * MIB) == 0 {
        format!("{} GiB", bytes / (1024 * MIB))
    } else {
        format!("{} MiB", bytes.div_ceil(MIB))
    }
}

/// The key a problem with `key` (`cpu`, `memory`, `os` or `arch`) of `service` is best shown at: the
/// per-service setting when it overrides the components, else the component that sets it (or, for
/// a service of several components whose cpu or memory add up, the group or the deployment mode).
fn service_key(app: &AppSpec, service: &ServiceSpec, key: &str) -> String {
    let members = &service.components;
    let component = |index: usize| format!("app.components[{index}].{key}");
    let total = |value: fn(&ComponentSpec) -> u64| {
        members.iter().fold(0u64, |sum, &m| {
            sum.saturating_add(value(&app.components[m]))
        })
    };
    let (summed, actual) = match key {
        "cpu" => (total(|c| c.cpu_millis), service.cpu_millis),
        "memory" => (total(|c| c.memory_bytes), service.memory_bytes),
        "arch" => {
            let setter = members
                .iter()
                .copied()
                .find(|&m| app.components[m].arch.is_some());
            return component(setter.unwrap_or(members[0]));
        }
        _ => return component(members[0]),
    };
    if summed != actual {
        return format!("app.deployment.services.{}.{key}", service.name);
    }
    match app.mode {
        _ if members.len() == 1 => component(members[0]),
        DeploymentMode::Groups => format!("app.deployment.groups.{}", service.name),
        _ => "app.deployment.mode".to_string(),
    }
}

/// `cpu 500m, memory 24576 MiB`, and for a service of several components, where that comes from.
fn describe_task(service: &ServiceSpec) -> String {
    let shape = format!(
        "cpu {}m, memory {}",
        service.cpu_millis,
        describe_memory(service.memory_bytes)
    );
    if service.components.len() > 1 {
        format!(
            "{shape}: the sum of its {} components",
            service.components.len()
        )
    } else {
        shape
    }
}

/// Built-in instance types that could run `service`'s task on an empty node, cheapest first.
fn catalog_types_for(service: &ServiceSpec) -> Vec<InstanceType> {
    let mut types: Vec<InstanceType> = builtin_instance_types()
        .into_iter()
        .filter(|t| {
            service.arch.is_none_or(|arch| arch == t.arch)
                && (service.os != OsFamily::Windows || t.windows_capable)
                && t.cpu_millis >= service.cpu_millis
                && t.memory_bytes >= service.memory_bytes
        })
        .collect();
    types.sort_by(|a, b| {
        a.price_per_hour(service.os)
            .total_cmp(&b.price_per_hour(service.os))
    });
    types
}

/// What to do about a task too large for every compatible node group.
fn larger_instance_help(service: &ServiceSpec) -> String {
    match catalog_types_for(service).first() {
        Some(t) => format!(
            "use a larger instance type: the cheapest built-in one that fits is {} ({}, ${}/h on {}); or lower the service's cpu or memory",
            t.name,
            describe_shape(t),
            dollars(t.price_per_hour(service.os)),
            service.os.name()
        ),
        None => {
            let largest = builtin_instance_types()
                .into_iter()
                .max_by_key(|t| (t.memory_bytes, t.cpu_millis))
                .map(|t| format!("{}: {}", t.name, describe_shape(&t)))
                .unwrap_or_default();
            format!(
                "no built-in instance type is that large (the largest is {largest}): define one under \
                 [[cluster.instance_types]] with enough cpu and memory, or lower the service's cpu or memory"
            )
        }
    }
}

/// Every service's task must be able to run somewhere: on an empty node of some compatible node
/// group (EC2), or in a valid Fargate size. A task that merely finds no room at the moment stays
/// pending at run time instead. On EC2, every `memberOf` constraint a service is placed with must
/// also admit some node group that can run it: otherwise its tasks could never be placed.
pub(super) fn check_tasks_fit(cluster: &ClusterSpec, app: &AppSpec) -> Checked<()> {
    let component_names: Vec<&str> = app.components.iter().map(|c| c.name.as_str()).collect();
    for (group_index, group) in cluster.node_groups.iter().enumerate() {
        for (index, name) in group.cached_images.iter().enumerate() {
            if !component_names.contains(&name.as_str()) {
                return Err(Problem::new(
                    format!("cluster.node_groups[{group_index}].cached_images[{index}]"),
                    format!("unknown component `{name}`"),
                )
                .with_help(did_you_mean(name, &component_names)));
            }
        }
    }
    for service in &app.services {
        match cluster.launch_type {
            LaunchType::Fargate => check_fargate_task(cluster, app, service)?,
            LaunchType::Ec2 if cluster.node_groups.is_empty() => {}
            LaunchType::Ec2 => {
                let compatible = check_ec2_task(cluster, app, service)?;
                check_constraints_admit(cluster, service, &compatible)?;
            }
        }
    }
    Ok(())
}

fn check_fargate_task(cluster: &ClusterSpec, app: &AppSpec, service: &ServiceSpec) -> Checked<()> {
    let fargate = &cluster.fargate;
    if service.os == OsFamily::Windows {
        if fargate.arch != Arch::X86_64 {
            return Err(Problem::new(
                "cluster.fargate.arch",
                format!(
                    "Fargate runs Windows tasks only on x86_64, and service `{}` is a Windows service",
                    service.name
                ),
            )
            .with_help("set arch = \"x86_64\" (the default), or run the Windows service on EC2 (launch_type = \"ec2\")"));
        }
        if fargate.spot {
            return Err(Problem::new(
                "cluster.fargate.spot",
                format!(
                    "Fargate Spot does not run Windows tasks, and service `{}` is a Windows service",
                    service.name
                ),
            )
            .with_help("set spot = false, or run the Windows service on EC2 (launch_type = \"ec2\")"));
        }
    }
    if let Some(arch) = service.arch.filter(|&arch| arch != fargate.arch) {
        return Err(Problem::new(
            service_key(app, service, "arch"),
            format!(
                "service `{}` needs {} but Fargate tasks run on {} here",
                service.name,
                arch.name(),
                fargate.arch.name()
            ),
        )
        .with_help(format!(
            "set cluster.fargate.arch = \"{}\", or drop `arch` for a multi-arch image",
            arch.name()
        )));
    }
    if fargate_size_for(service.cpu_millis, service.memory_bytes).is_none() {
        let key = if service.cpu_millis > 16_000 {
            "cpu"
        } else {
            "memory"
        };
        return Err(Problem::new(
            service_key(app, service, key),
            format!(
                "service `{}` ({}) is larger than the largest Fargate task (16 vCPU, 120 GiB)",
                service.name,
                describe_task(service)
            ),
        )
        .with_help(format!(
            "valid Fargate sizes: {FARGATE_SIZES_TEXT}; lower cpu or memory, or use launch_type = \"ec2\""
        )));
    }
    Ok(())
}

/// Checks that some node group runs the service's OS and architecture and has room for one task on
/// an empty node; returns the compatible groups.
fn check_ec2_task<'a>(
    cluster: &'a ClusterSpec,
    app: &AppSpec,
    service: &ServiceSpec,
) -> Checked<Vec<&'a NodeGroupSpec>> {
    let same_os: Vec<&NodeGroupSpec> = cluster
        .node_groups
        .iter()
        .filter(|g| g.os == service.os)
        .collect();
    if same_os.is_empty() {
        let help = if service.os == OsFamily::Windows {
            "add a node group with os = \"windows\" on a Windows-capable (x86_64) instance type, e.g. m5.large"
                .to_string()
        } else {
            format!(
                "add a node group with os = \"{}\" (the default)",
                service.os.name()
            )
        };
        return Err(Problem::new(
            service_key(app, service, "os"),
            format!(
                "service `{}` needs {} nodes and no node group has them",
                service.name,
                service.os.name()
            ),
        )
        .with_help(help));
    }
    let compatible: Vec<&NodeGroupSpec> = same_os
        .into_iter()
        .filter(|g| service.arch.is_none_or(|arch| arch == g.instance.arch))
        .collect();
    if compatible.is_empty() {
        let arch = service.arch.unwrap_or(Arch::X86_64);
        let examples: Vec<String> = builtin_instance_types()
            .into_iter()
            .filter(|t| t.arch == arch && (service.os != OsFamily::Windows || t.windows_capable))
            .map(|t| t.name)
            .collect();
        return Err(Problem::new(
            service_key(app, service, "arch"),
            format!(
                "service `{}` needs {} nodes on {} and no node group has them",
                service.name,
                service.os.name(),
                arch.name()
            ),
        )
        .with_help(format!(
            "add a node group on an {} instance type ({}), or drop `arch` for a multi-arch image",
            arch.name(),
            examples.join(", ")
        )));
    }
    let fits = compatible.iter().any(|g| {
        g.instance.cpu_millis >= service.cpu_millis
            && g.instance.memory_bytes >= service.memory_bytes
    });
    if !fits {
        let max_cpu = compatible
            .iter()
            .map(|g| g.instance.cpu_millis)
            .max()
            .unwrap_or(0);
        let key = if service.cpu_millis > max_cpu {
            "cpu"
        } else {
            "memory"
        };
        let nodes: Vec<String> = compatible.iter().map(|g| describe_group(g)).collect();
        return Err(Problem::new(
            service_key(app, service, key),
            format!(
                "a task of service `{}` ({}) is larger than every node: {}",
                service.name,
                describe_task(service),
                nodes.join(", ")
            ),
        )
        .with_help(larger_instance_help(service)));
    }
    Ok(compatible)
}

/// Every `memberOf` constraint the service is placed with must admit some compatible node group
/// (in some of its zones) whose nodes are large enough for the task.
fn check_constraints_admit(
    cluster: &ClusterSpec,
    service: &ServiceSpec,
    compatible: &[&NodeGroupSpec],
) -> Checked<()> {
    let (placement, path) = match &service.placement {
        Some(own) => (
            own,
            format!("app.deployment.services.{}.placement", service.name),
        ),
        None => (&cluster.placement, "cluster.placement".to_string()),
    };
    let PlacementSpec::Ecs { constraints, .. } = placement else {
        return Ok(());
    };
    // Each compatible group, with the attributes of its nodes in each of its zones.
    let groups: Vec<(&NodeGroupSpec, Vec<BTreeMap<String, String>>)> = compatible
        .iter()
        .map(|&group| {
            let index = cluster
                .node_groups
                .iter()
                .position(|g| std::ptr::eq(g, group))
                .expect("a group of this cluster");
            let attributes = (0..group.zones.len())
                .map(|zone| {
                    cluster
                        .new_node(index, zone, NodeLifecycle::Ready)
                        .attributes
                })
                .collect();
            (group, attributes)
        })
        .collect();
    for (index, constraint) in constraints.iter().enumerate() {
        let Constraint::MemberOf(expression) = constraint else {
            continue;
        };
        let admitted: Vec<&NodeGroupSpec> = groups
            .iter()
            .filter(|(_, nodes)| nodes.iter().any(|a| expression.matches(a)))
            .map(|&(group, _)| group)
            .collect();
        let constraint_path = format!("{path}.constraints[{index}]");
        if admitted.is_empty() {
            return Err(Problem::new(
                constraint_path,
                format!(
                    "{constraint} admits no node that can run service `{}`, so its tasks could never be placed",
                    service.name
                ),
            )
            .with_help(format!(
                "the nodes that can run it have: {}",
                describe_attributes(&groups)
            )));
        }
        let fits = admitted.iter().any(|g| {
            g.instance.cpu_millis >= service.cpu_millis
                && g.instance.memory_bytes >= service.memory_bytes
        });
        if !fits {
            let names: Vec<String> = admitted.iter().map(|g| describe_group(g)).collect();
            return Err(Problem::new(
                constraint_path,
                format!(
                    "{constraint} admits only node groups too small for a task of service `{}` (cpu {}m, memory {}): {}",
                    service.name,
                    service.cpu_millis,
                    describe_memory(service.memory_bytes),
                    names.join(", ")
                ),
            )
            .with_help("admit a larger instance type in the expression, or lower the service's cpu or memory"));
        }
    }
    Ok(())
}

/// `ecs.instance-type = m5.large | c5.large; ecs.availability-zone = a | b; ...`: each attribute's
/// values over the nodes of `groups`.
fn describe_attributes(groups: &[(&NodeGroupSpec, Vec<BTreeMap<String, String>>)]) -> String {
    let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (_, nodes) in groups {
        for attributes in nodes {
            for (key, value) in attributes {
                values.entry(key).or_default().insert(value);
            }
        }
    }
    let mut keys: Vec<&str> = BUILTIN_ATTRIBUTES.to_vec();
    keys.extend(
        values
            .keys()
            .copied()
            .filter(|key| !BUILTIN_ATTRIBUTES.contains(key)),
    );
    keys.iter()
        .filter_map(|key| {
            let set = values.get(key)?;
            let listed: Vec<&str> = set.iter().copied().collect();
            Some(format!("attribute:{key} in [{}]", listed.join(", ")))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
