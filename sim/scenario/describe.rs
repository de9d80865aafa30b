//! The human summary of a validated scenario that `fleetsim check` prints: what will run, with
//! names resolved and defaults filled in (`check --json` prints the whole resolved scenario).

use super::{Loaded, Scenario};
use crate::cluster::LostTaskCalls;
use crate::faults::FaultKind;
use crate::policy::cluster_autoscale::{
    CapacityProviderSpec, ClusterAutoscalerSpec, KubernetesAutoscalerSpec,
};
use std::fmt::Write as _;

/// A few lines per part of the scenario.
pub fn describe(loaded: &Loaded) -> String {
    let scenario = &loaded.scenario;
    let app = &scenario.app;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario `{}` is valid (sha256 {})",
        scenario.name,
        &loaded.file_sha256[..16]
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "  {}", scenario.description.trim());
    }
    let run = &scenario.run;
    let _ = writeln!(
        out,
        "run: duration {}, warmup {}, seed {}, {} replication(s), metrics every {}; a fault cascades to a service whose error share rises by {} or latency × {}",
        run.duration,
        run.warmup,
        run.seed,
        run.replications,
        run.metrics_interval,
        run.cascade_error_rate,
        run.cascade_latency_factor
    );
    let cluster = &scenario.cluster;
    let nodes: u32 = cluster.node_groups.iter().map(|g| g.count).sum();
    let _ = writeln!(
        out,
        "cluster: {} launch type, {} start, zones {}; {} node(s); default placement {}",
        format!("{:?}", cluster.launch_type).to_lowercase(),
        format!("{:?}", cluster.initial_state).to_lowercase(),
        cluster.zones.join(", "),
        nodes,
        cluster.placement
    );
    let tasks = &cluster.tasks;
    let _ = writeln!(
        out,
        "  tasks: start {}, health check grace {}; calls to a lost task {} until {} failed checks every {} find it",
        tasks.start_time,
        tasks.health_check_grace,
        match tasks.lost_task_calls {
            LostTaskCalls::Refused => "are refused",
            LostTaskCalls::Hang => "hang",
        },
        tasks.unhealthy_threshold,
        tasks.health_check_interval
    );
    for group in &cluster.node_groups {
        let _ = writeln!(
            out,
            "  {} × {} ({}, {}): {}m cpu, {} MiB each, ${}/h, zones {}",
            group.count,
            group.name,
            group.instance.name,
            group.os.name(),
            group.instance.cpu_millis,
            group.instance.memory_bytes / (1024 * 1024),
            group.instance.price_per_hour(group.os),
            group.zones.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "deployment: {}, hop latency {}",
        app.mode.name(),
        app.hop_latency
    );
    for service in &app.services {
        let members: Vec<&str> = service
            .components
            .iter()
            .map(|&c| app.components[c].name.as_str())
            .collect();
        let _ = writeln!(
            out,
            "  service {}: {} replica(s) × {} worker(s), queue {}, {}m cpu, {} MiB, image {} MB, {}; components {}",
            service.name,
            service.replicas,
            service.workers,
            service.queue_limit,
            service.cpu_millis,
            service.memory_bytes / (1024 * 1024),
            service.image_bytes / 1_000_000,
            service.balancer.name(),
            members.join(", ")
        );
        if let Some(limit) = service.max_queue_time {
            let _ = writeln!(out, "    load shedding: calls that waited over {limit}");
        }
        if let Some(outliers) = service.outlier_detection {
            let _ = writeln!(out, "    outlier ejection: {outliers}");
        }
        if let Some(scaling) = &service.scaling {
            let _ = writeln!(
                out,
                "    autoscaling: {} (datapoints published {} late)",
                scaling.autoscaler, scaling.publish_delay
            );
        }
    }
    for component in &app.components {
        if let Some(resilience) = &component.resilience {
            let _ = writeln!(out, "  calls to {}: {resilience}", component.name);
        }
    }
    for class in &app.classes {
        let calls = class.tree.nodes.len() - 1;
        let _ = writeln!(
            out,
            "  class {}: share {}, entry {}, {} call(s) in its tree, SLO p{} ≤ {} and availability ≥ {}",
            class.name,
            class.share,
            app.components[class.tree.nodes[0].component].name,
            calls,
            class.slo.percentile,
            class.slo.latency,
            class.slo.availability
        );
    }
    for (index, fault) in scenario.faults.iter().enumerate() {
        let when = match (&fault.every, &fault.duration_distribution) {
            (None, _) => format!("at {}", fault.at),
            (Some(every), None) => format!("from {}, every {every}", fault.at),
            (Some(every), Some(duration)) => {
                format!("from {}, every {every}, lasting {duration}", fault.at)
            }
        };
        let _ = writeln!(
            out,
            "fault {index} {when}: {}",
            fault_text(&fault.kind, scenario)
        );
    }
    if let Some(autoscaler) = &scenario.cluster_autoscaler {
        let text = match autoscaler {
            ClusterAutoscalerSpec::CapacityProvider(CapacityProviderSpec {
                node_group,
                target_capacity,
                evaluation_period,
                scale_in_periods,
                minimum_scaling_step_size,
                maximum_scaling_step_size,
            }) => format!(
                "ECS capacity provider on {}, target capacity {target_capacity} %, every {evaluation_period}, scale in after {scale_in_periods} periods below, steps of {minimum_scaling_step_size} to {maximum_scaling_step_size} instances",
                cluster.node_groups[*node_group].name
            ),
            ClusterAutoscalerSpec::ClusterAutoscaler(KubernetesAutoscalerSpec {
                scan_interval,
                scale_down_utilization_threshold,
                scale_down_unneeded_time,
                scale_down_delay_after_add,
            }) => format!(
                "Kubernetes cluster autoscaler, scans every {scan_interval}, removes nodes under {} % requested for {scale_down_unneeded_time}, not within {scale_down_delay_after_add} of a scale-up",
                scale_down_utilization_threshold * 100.0
            ),
        };
        let _ = writeln!(out, "cluster autoscaler: {text}");
    }
    for rollout in &app.rollouts {
        let _ = writeln!(
            out,
            "rollout: service {} at {} to a new version (image {} MB, slowdown {}, error rate {}{}), {}",
            app.services[rollout.service].name,
            rollout.at,
            rollout.version.image_bytes / 1_000_000,
            rollout.version.slowdown,
            rollout.version.error_rate,
            if rollout.version.fails_health_check {
                ", failing health checks"
            } else {
                ""
            },
            rollout.strategy
        );
        if let Some(alarm) = rollout.alarm {
            let _ = writeln!(out, "  deployment alarm: {alarm}");
        }
    }
    let _ = writeln!(
        out,
        "workload: base rate {}/s, profile {}",
        scenario.workload.base_rate_per_sec, scenario.workload.profile
    );
    out
}

/// One fault in words, with names instead of indices.
fn fault_text(kind: &FaultKind, scenario: &Scenario) -> String {
    let app = &scenario.app;
    let cluster = &scenario.cluster;
    let node = |group: usize, node: Option<u32>| match node {
        Some(ordinal) => format!("node {}-{ordinal}", cluster.node_groups[group].name),
        None => format!("a random ready node of {}", cluster.node_groups[group].name),
    };
    match kind {
        FaultKind::ContainerCrash { service, count } => {
            format!("{count} task(s) of {} crash", app.services[*service].name)
        }
        FaultKind::NodeCrash {
            node_group,
            node: ordinal,
        } => {
            format!("{} crashes", node(*node_group, *ordinal))
        }
        FaultKind::SpotInterruption {
            node_group,
            node: ordinal,
            notice,
        } => format!(
            "{} gets a Spot interruption notice, terminated {notice} later",
            node(*node_group, *ordinal)
        ),
        FaultKind::ZoneOutage { zone, duration } => {
            format!("zone {} is down for {duration}", cluster.zones[*zone])
        }
        FaultKind::RegistryOutage { duration } => {
            format!("the image registry is down for {duration}")
        }
        FaultKind::Latency {
            component,
            duration,
            multiplier,
            added,
        } => format!(
            "{}'s service time × {multiplier} + {added} for {duration}",
            app.components[*component].name
        ),
        FaultKind::Errors {
            component,
            duration,
            rate,
        } => format!(
            "{} % of the calls to {} fail for {duration}",
            rate * 100.0,
            app.components[*component].name
        ),
        FaultKind::MemoryLeak {
            component,
            duration,
            bytes_per_sec,
        } => format!(
            "{} leaks {:.1} MB/s for {duration}",
            app.components[*component].name,
            bytes_per_sec / 1e6
        ),
        FaultKind::BadDeploy { service, rollout } => format!(
            "a bad deploy of {} (rollout {rollout} below)",
            app.services[*service].name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn names_faults_and_resilience_in_words() {
        let overrides = [
            "app.components.api.max_queue_time=100ms".to_string(),
            "app.components.api.resilience.max_concurrent_calls=8".to_string(),
            "app.deployment.outlier_detection={ max_ejection_percent = 50 }".to_string(),
        ];
        let loaded = super::super::load(Path::new("scenarios/retry-storm.toml"), &overrides)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = describe(&loaded);
        for line in [
            "calls to api: timeout 200ms, 4 attempts (backoff 25ms to 250ms), bulkhead of 8 calls per caller task",
            "    load shedding: calls that waited over 100ms",
            "at most 50 % of the replicas",
            "fault 0 at 2m: api's service time × 4 + 0s for 20s",
            "workload: base rate 640/s, profile constant",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }
    }
}
