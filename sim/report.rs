//! Pure exporters (summary, time series, events, manifest → bytes) and the one writer that puts files
//! on disk atomically.

use crate::model::{FaultSpread, ReplicationResult};
use crate::scenario::Loaded;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// The `summary.csv` columns, in order (part of the public contract).
pub const SUMMARY_COLUMNS: [&str; 52] = [
    "replication",
    "class",
    "offered",
    "completed",
    "failed",
    "failed_rejected",
    "failed_no_replica",
    "failed_error",
    "failed_crashed",
    "failed_timeout",
    "failed_circuit_open",
    "failed_bulkhead_full",
    "failed_shed",
    "failed_throttled",
    "in_flight",
    "throughput_rps",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_p999_ms",
    "slo_attainment",
    "availability",
    "slo_latency_ms",
    "slo_percentile",
    "slo_availability",
    "latency_at_slo_percentile_ms",
    "slo_met",
    "slo_violation_minutes",
    "spike_absorption_s",
    "request_digest",
    "events_processed",
    "nodes_used",
    "nodes_lower_bound",
    "task_pending_p50_s",
    "task_pending_p99_s",
    "task_ready_p50_s",
    "task_ready_p99_s",
    "tasks_pending",
    "unschedulable_decisions",
    "fragmentation_cpu",
    "fragmentation_memory",
    "zone_imbalance_max",
    "cpu_allocated_fraction",
    "cpu_used_fraction",
    "cost_usd",
    "cost_per_million_requests_usd",
    "scale_outs",
    "scale_ins",
    "time_to_capacity_p50_s",
    "time_to_capacity_p95_s",
    "spike_cost_usd",
];

/// Formats a float for CSV: empty for NaN, at most 6 decimals, no trailing zeros.
pub fn format_float(value: f64) -> String {
    if !value.is_finite() {
        return String::new();
    }
    let mut text = format!("{value:.6}");
    if text.contains('.') {
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    if text == "-0" { "0".to_string() } else { text }
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(header)
        .expect("writing to memory cannot fail");
    for row in rows {
        writer
            .write_record(&row)
            .expect("writing to memory cannot fail");
    }
    writer.into_inner().expect("flushing memory cannot fail")
}

/// `summary.csv`: one row per replication × class, plus class `all`.
pub fn summary_csv(results: &[ReplicationResult]) -> Vec<u8> {
    let rows = results.iter().flat_map(|result| {
        let cluster = &result.cluster;
        result.classes.iter().map(move |row| {
            vec![
                row.replication.to_string(),
                row.class.clone(),
                row.offered.to_string(),
                row.completed.to_string(),
                row.failed.to_string(),
                row.failed_rejected.to_string(),
                row.failed_no_replica.to_string(),
                row.failed_error.to_string(),
                row.failed_crashed.to_string(),
                row.failed_timeout.to_string(),
                row.failed_circuit_open.to_string(),
                row.failed_bulkhead_full.to_string(),
                row.failed_shed.to_string(),
                row.failed_throttled.to_string(),
                row.in_flight.to_string(),
                format_float(row.throughput_rps),
                format_float(row.latency_mean_ms),
                format_float(row.latency_p50_ms),
                format_float(row.latency_p90_ms),
                format_float(row.latency_p99_ms),
                format_float(row.latency_p999_ms),
                format_float(row.slo_attainment),
                format_float(row.availability),
                format_float(row.slo_latency_ms),
                format_float(row.slo_percentile),
                format_float(row.slo_availability),
                format_float(row.latency_at_slo_percentile_ms),
                row.slo_met.to_string(),
                format_float(row.slo_violation_minutes),
                format_float(row.spike_absorption_s),
                format!("{:016x}", result.request_digest),
                result.events_processed.to_string(),
                cluster.nodes_used.to_string(),
                cluster.nodes_lower_bound.to_string(),
                format_float(cluster.task_pending_p50_s),
                format_float(cluster.task_pending_p99_s),
                format_float(cluster.task_ready_p50_s),
                format_float(cluster.task_ready_p99_s),
                cluster.tasks_pending.to_string(),
                cluster.unschedulable_decisions.to_string(),
                format_float(cluster.fragmentation_cpu),
                format_float(cluster.fragmentation_memory),
                cluster.zone_imbalance_max.to_string(),
                format_float(cluster.cpu_allocated_fraction),
                format_float(cluster.cpu_used_fraction),
                format_float(cluster.cost_usd),
                format_float(cluster.cost_per_million_requests_usd),
                cluster.scale_outs.to_string(),
                cluster.scale_ins.to_string(),
                format_float(cluster.time_to_capacity_p50_s),
                format_float(cluster.time_to_capacity_p95_s),
                format_float(cluster.spike_cost_usd),
            ]
        })
    });
    csv_bytes(&SUMMARY_COLUMNS, rows)
}

/// `timeseries.csv`: long format, one row per replication × interval × subject × metric.
pub fn timeseries_csv(results: &[ReplicationResult]) -> Vec<u8> {
    let rows = results.iter().flat_map(|result| {
        result.timeseries.iter().map(move |row| {
            vec![
                result.replication.to_string(),
                format_float(row.time_s),
                row.subject.clone(),
                row.metric.to_string(),
                format_float(row.value),
            ]
        })
    });
    csv_bytes(
        &["replication", "time_s", "subject", "metric", "value"],
        rows,
    )
}

/// The `placement.csv` columns, in order.
pub const PLACEMENT_COLUMNS: [&str; 15] = [
    "replication",
    "time_s",
    "node",
    "group",
    "zone",
    "instance_type",
    "state",
    "cpu_capacity_millis",
    "cpu_allocated_millis",
    "cpu_used_millis",
    "memory_capacity_bytes",
    "memory_allocated_bytes",
    "tasks",
    "tasks_by_service",
    "memory_allocated_fraction",
];

/// `placement.csv`: one row per node (or Fargate task) per sample.
pub fn placement_csv(results: &[ReplicationResult]) -> Vec<u8> {
    let rows = results.iter().flat_map(|result| {
        result.placement.iter().map(move |row| {
            vec![
                result.replication.to_string(),
                format_float(row.time_s),
                row.node.clone(),
                row.group.clone(),
                row.zone.clone(),
                row.instance_type.clone(),
                row.state.to_string(),
                row.cpu_capacity_millis.to_string(),
                row.cpu_allocated_millis.to_string(),
                format_float(row.cpu_used_millis),
                row.memory_capacity_bytes.to_string(),
                row.memory_allocated_bytes.to_string(),
                row.tasks.to_string(),
                row.tasks_by_service.clone(),
                format_float(
                    row.memory_allocated_bytes as f64 / row.memory_capacity_bytes.max(1) as f64,
                ),
            ]
        })
    });
    csv_bytes(&PLACEMENT_COLUMNS, rows)
}

/// The `scaling.csv` columns, in order.
pub const SCALING_COLUMNS: [&str; 26] = [
    "replication",
    "action",
    "service",
    "direction",
    "from",
    "to",
    "trigger_s",
    "alarm_s",
    "decision_s",
    "task",
    "placed_s",
    "node_requested_s",
    "node_ready_s",
    "pulled_s",
    "running_s",
    "healthy_s",
    "metric_delay_s",
    "decision_delay_s",
    "pending_s",
    "node_boot_s",
    "pull_s",
    "start_s",
    "health_check_s",
    "total_s",
    "reason",
    "complete",
];

/// `scaling.csv`: one row per scale action and task it started, with timestamps and phase durations.
pub fn scaling_csv(results: &[ReplicationResult]) -> Vec<u8> {
    use crate::time::SimTime;
    let at = |time: Option<SimTime>| time.map_or(String::new(), |t| format_float(t.as_secs_f64()));
    let span = |from: Option<SimTime>, to: Option<SimTime>| match (from, to) {
        (Some(from), Some(to)) => format_float(to.saturating_since(from).as_secs_f64()),
        _ => String::new(),
    };
    let rows = results.iter().flat_map(|result| {
        result.scaling.iter().map(move |row| {
            let scale = &row.scale;
            let decision = Some(scale.decision);
            vec![
                result.replication.to_string(),
                row.action.to_string(),
                scale.service.clone(),
                scale.direction.to_string(),
                scale.from.to_string(),
                scale.to.to_string(),
                at(Some(scale.trigger)),
                at(Some(scale.alarm)),
                at(decision),
                row.task.clone().unwrap_or_default(),
                at(row.placed),
                at(row.node_requested),
                at(row.node_ready),
                at(row.pulled),
                at(row.running),
                at(row.healthy),
                span(Some(scale.trigger), Some(scale.alarm)),
                span(Some(scale.alarm), decision),
                span(decision, row.placed),
                span(row.node_requested, row.node_ready),
                span(row.placed, row.pulled),
                span(row.pulled, row.running),
                span(row.running, row.healthy),
                span(Some(scale.trigger), row.healthy),
                scale.reason.clone(),
                (row.task.is_none() || row.healthy.is_some()).to_string(),
            ]
        })
    });
    csv_bytes(&SCALING_COLUMNS, rows)
}

/// The `deployments.csv` columns, in order.
pub const DEPLOYMENT_COLUMNS: [&str; 16] = [
    "replication",
    "rollout",
    "service",
    "strategy",
    "started_s",
    "finished_s",
    "duration_s",
    "outcome",
    "desired",
    "min_healthy_tasks",
    "capacity_dip",
    "new_tasks_started",
    "new_tasks_failed",
    "failed_requests_during",
    "latency_p99_max_ms_during",
    "latency_p99_before_ms",
];

/// `deployments.csv`: one row per rolling deployment with its duration, capacity dip and effect on
/// requests (from the `all` time series over the deployment's window and the interval before it).
pub fn deployments_csv(results: &[ReplicationResult]) -> Vec<u8> {
    let rows = results.iter().flat_map(|result| {
        result.rollouts.iter().map(move |rollout| {
            let start = rollout.started.as_secs_f64();
            let end = rollout.finished.map_or(f64::INFINITY, |t| t.as_secs_f64());
            let series = |metric: &'static str| {
                result
                    .timeseries
                    .iter()
                    .filter(move |row| row.subject == "all" && row.metric == metric)
            };
            // The intervals (from, to, value) overlapping the deployment's window; each interval runs
            // from the previous sample (the last one may be shorter than the others).
            let overlapping = |metric: &'static str| {
                let rows: Vec<&crate::model::SeriesRow> = series(metric).collect();
                let mut spans = Vec::new();
                for (index, row) in rows.iter().enumerate() {
                    let from = if index == 0 {
                        0.0
                    } else {
                        rows[index - 1].time_s
                    };
                    if row.time_s > start && from < end {
                        spans.push((from, row.time_s, row.value));
                    }
                }
                spans
            };
            // Failed requests: each interval's rate over the part of it inside the window.
            let failed: f64 = overlapping("failed_rps")
                .into_iter()
                .map(|(from, to, rate)| rate * (to.min(end) - from.max(start)).max(0.0))
                .sum();
            let p99_max = overlapping("latency_p99_ms")
                .into_iter()
                .map(|(_, _, value)| value)
                .filter(|v| v.is_finite())
                .fold(f64::NAN, f64::max);
            let p99_before = series("latency_p99_ms")
                .rfind(|row| row.time_s <= start)
                .map_or(f64::NAN, |row| row.value);
            let dip = if rollout.desired == 0 {
                f64::NAN
            } else {
                1.0 - f64::from(rollout.min_healthy_tasks) / f64::from(rollout.desired)
            };
            vec![
                result.replication.to_string(),
                rollout.rollout.to_string(),
                rollout.service.clone(),
                rollout.strategy.to_string(),
                format_float(start),
                rollout
                    .finished
                    .map_or(String::new(), |t| format_float(t.as_secs_f64())),
                rollout
                    .finished
                    .map_or(String::new(), |t| format_float(t.as_secs_f64() - start)),
                rollout.outcome.to_string(),
                rollout.desired.to_string(),
                rollout.min_healthy_tasks.to_string(),
                format_float(dip.max(0.0)),
                rollout.new_tasks_started.to_string(),
                rollout.new_tasks_failed.to_string(),
                format_float(failed.round()),
                format_float(p99_max),
                format_float(p99_before),
            ]
        })
    });
    csv_bytes(&DEPLOYMENT_COLUMNS, rows)
}

/// The `faults.csv` columns, in order.
pub const FAULT_COLUMNS: [&str; 19] = [
    "replication",
    "fault",
    "occurrence",
    "kind",
    "target",
    "start_s",
    "end_s",
    "tasks_crashed",
    "broken_classes",
    "blast_radius",
    "collateral_failures",
    "time_to_detect_s",
    "time_to_recover_s",
    "availability_during",
    "services_hit",
    "cascaded_services",
    "cascade_depth",
    "retry_amplification",
    "max_retry_amplification",
];

/// `faults.csv`: one row per injected fault with its containment metrics.
pub fn faults_csv(results: &[ReplicationResult]) -> Vec<u8> {
    let rows = results.iter().flat_map(|result| {
        result.faults.iter().map(move |fault| {
            let spread = &fault.spread;
            vec![
                result.replication.to_string(),
                fault.fault.to_string(),
                fault
                    .occurrence
                    .map_or(String::new(), |number| number.to_string()),
                fault.kind.to_string(),
                fault.target.clone(),
                format_float(fault.started.as_secs_f64()),
                format_float(fault.ended.as_secs_f64()),
                fault.tasks_crashed.to_string(),
                fault.broken_classes.join(";"),
                format_float(fault.blast_radius),
                format_float(fault.collateral_failures),
                fault.detected.map_or(String::new(), |at| {
                    format_float((at - fault.started).as_secs_f64())
                }),
                format_float(fault.time_to_recover_s),
                format_float(fault.availability_during),
                fault.services.len().to_string(),
                cascaded_services(spread, ";"),
                spread.cascade_depth.to_string(),
                retry_amplification(spread),
                format_float(spread.max_retry_amplification),
            ]
        })
    });
    csv_bytes(&FAULT_COLUMNS, rows)
}

/// The cascaded services as `name:hops` (just `name` without a call path), joined by `separator`.
fn cascaded_services(spread: &FaultSpread, separator: &str) -> String {
    spread
        .cascaded_services
        .iter()
        .map(|(service, hops)| match hops {
            Some(hops) => format!("{service}:{hops}"),
            None => service.clone(),
        })
        .collect::<Vec<_>>()
        .join(separator)
}

/// The retry amplification per component as `name:value` (two decimals), joined by `;`.
fn retry_amplification(spread: &FaultSpread) -> String {
    spread
        .retry_amplification
        .iter()
        .map(|(component, value)| format!("{component}:{value:.2}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// `events.csv`: the event log.
pub fn events_csv(results: &[ReplicationResult]) -> Vec<u8> {
    let rows = results.iter().flat_map(|result| {
        result.events.iter().map(move |row| {
            vec![
                result.replication.to_string(),
                format_float(row.time.as_secs_f64()),
                row.kind.to_string(),
                row.subject.clone(),
                row.detail.clone(),
            ]
        })
    });
    csv_bytes(
        &["replication", "time_s", "kind", "subject", "detail"],
        rows,
    )
}

/// `manifest.json`: version, scenario hash, overrides, seeds and the fully resolved scenario.
pub fn manifest_json(
    scenario_file: &Path,
    loaded: &Loaded,
    results: &[ReplicationResult],
) -> Vec<u8> {
    let replications: Vec<serde_json::Value> = results
        .iter()
        .map(|result| {
            serde_json::json!({
                "replication": result.replication,
                "streams": format!("derived from (seed {}, replication {})", loaded.scenario.run.seed, result.replication),
                "request_digest": format!("{:016x}", result.request_digest),
                "events_processed": result.events_processed,
                "conservation": result.conservation,
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "fleetsim_version": env!("CARGO_PKG_VERSION"),
        "scenario_file": scenario_file.display().to_string(),
        "scenario_sha256": loaded.file_sha256,
        "overrides": loaded.overrides,
        "seed": loaded.scenario.run.seed,
        "replications": replications,
        "files": ["summary.csv", "timeseries.csv", "events.csv", "placement.csv", "scaling.csv", "deployments.csv", "faults.csv"],
        "scenario": loaded.scenario,
    });
    let mut bytes = serde_json::to_vec_pretty(&manifest).expect("the manifest is plain data");
    bytes.push(b'\n');
    bytes
}

/// A short human summary of the run: per class throughput, p50/p99, failures, SLO; with replications,
/// means and 95 % confidence intervals.
pub fn human_summary(loaded: &Loaded, results: &[ReplicationResult]) -> String {
    use crate::experiment::mean_with_ci95;
    let scenario = &loaded.scenario;
    let mut out = String::new();
    let replications = results.len();
    let _ = writeln!(
        out,
        "{}: {} mode, {} replication(s) of {} (warmup {}), seed {}",
        scenario.name,
        scenario.app.mode.name(),
        replications,
        scenario.run.duration,
        scenario.run.warmup,
        scenario.run.seed
    );
    let _ = writeln!(
        out,
        "{:<16} {:>18} {:>18} {:>18} {:>10} {:>8}",
        "class", "throughput (rps)", "p50 (ms)", "p99 (ms)", "failed", "SLO"
    );
    let class_count = results.first().map_or(0, |r| r.classes.len());
    for index in 0..class_count {
        let rows: Vec<_> = results.iter().map(|r| &r.classes[index]).collect();
        let column = |pick: &dyn Fn(&crate::metrics::ClassSummary) -> f64| {
            let (mean, half) = mean_with_ci95(&rows.iter().map(|r| pick(r)).collect::<Vec<_>>());
            if half.is_finite() {
                format!("{mean:.2} ± {half:.2}")
            } else {
                format!("{mean:.2}")
            }
        };
        let failed: u64 = rows.iter().map(|r| r.failed).sum();
        let met = rows.iter().filter(|r| r.slo_met).count();
        let slo = if met == replications {
            "met".to_string()
        } else if met == 0 {
            "MISSED".to_string()
        } else {
            format!("{met}/{replications}")
        };
        let _ = writeln!(
            out,
            "{:<16} {:>18} {:>18} {:>18} {:>10} {:>8}",
            rows[0].class,
            column(&|r| r.throughput_rps),
            column(&|r| r.latency_p50_ms),
            column(&|r| r.latency_p99_ms),
            failed,
            slo
        );
    }
    if replications > 1 {
        let _ = writeln!(
            out,
            "(± is the half-width of a 95 % confidence interval over replications, Student t)"
        );
    }
    if let Some(line) = median_scale_out(results) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(first) = results.first() {
        for fault in first.faults.iter().take(MAX_FAULT_LINES) {
            let spread = &fault.spread;
            let broken = if fault.broken_classes.is_empty() {
                "none".to_string()
            } else {
                fault.broken_classes.join(", ")
            };
            let _ = writeln!(
                out,
                "fault {} {} {} at {:.0}s (replication 0): broke {broken} (blast radius {:.2}), detected after {}, recovered after {}, {} collateral failures, availability {:.2} %, cascade depth {}{}, max retry amplification {:.2}",
                crate::faults::FaultOccurrence::label(fault.fault, fault.occurrence),
                fault.kind,
                fault.target,
                fault.started.as_secs_f64(),
                fault.blast_radius,
                fault.detected.map_or("–".to_string(), |at| format!(
                    "{:.1}s",
                    (at - fault.started).as_secs_f64()
                )),
                if fault.time_to_recover_s.is_nan() {
                    "never".to_string()
                } else {
                    format!("{:.0}s", fault.time_to_recover_s)
                },
                fault.collateral_failures,
                fault.availability_during * 100.0,
                spread.cascade_depth,
                if spread.cascaded_services.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", cascaded_services(spread, ", "))
                },
                spread.max_retry_amplification,
            );
        }
        if first.faults.len() > MAX_FAULT_LINES {
            let rest = &first.faults[MAX_FAULT_LINES..];
            let broke = rest.iter().filter(|f| !f.broken_classes.is_empty()).count();
            let _ = writeln!(
                out,
                "… and {} more faults (replication 0), {broke} of which broke a class: every one is in faults.csv",
                rest.len()
            );
        }
    }
    out
}

/// Faults of replication 0 that `fleetsim run` prints a line for; a summary line counts the rest.
const MAX_FAULT_LINES: usize = 20;

/// The phase breakdown of the median scale-out (by time from trigger to healthy) over all
/// replications' completed scale-out tasks.
fn median_scale_out(results: &[ReplicationResult]) -> Option<String> {
    let mut rows: Vec<&crate::model::ScalingRow> = results
        .iter()
        .flat_map(|result| &result.scaling)
        .filter(|row| row.scale.direction == "out" && row.healthy.is_some())
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_key(|row| row.healthy.expect("filtered") - row.scale.trigger);
    let row = rows[rows.len() / 2];
    let scale = &row.scale;
    let seconds = |from: crate::time::SimTime, to: Option<crate::time::SimTime>| {
        to.map_or("–".to_string(), |to| {
            format!("{:.1}s", to.saturating_since(from).as_secs_f64())
        })
    };
    let placed = row.placed.unwrap_or(scale.decision);
    let pulled = row.pulled.unwrap_or(placed);
    let running = row.running.unwrap_or(pulled);
    // With a node launched for the task, the wait for placement splits into waiting for the
    // node request, the node boot, and placement once it is ready.
    let placement = match (row.node_requested, row.node_ready) {
        (Some(requested), Some(ready)) => format!(
            "node request {} → node boot {} → placement {}",
            seconds(scale.decision, Some(requested)),
            seconds(requested, Some(ready)),
            seconds(ready, row.placed)
        ),
        _ => format!("placement {}", seconds(scale.decision, row.placed)),
    };
    Some(format!(
        "median scale-out ({} {}→{} at {:.0}s): metric {} → decision {} → {placement} → image pull {} → start {} → healthy {}; total {}",
        scale.service,
        scale.from,
        scale.to,
        scale.decision.as_secs_f64(),
        seconds(scale.trigger, Some(scale.alarm)),
        seconds(scale.alarm, Some(scale.decision)),
        seconds(placed, row.pulled),
        seconds(pulled, row.running),
        seconds(running, row.healthy),
        seconds(scale.trigger, row.healthy),
    ))
}

/// Writes `files` into `directory` so that a killed run never leaves a set that looks complete:
/// every file goes to a temporary name first and is renamed into place; `manifest.json` is removed
/// first and renamed in last, so its presence marks a complete result.
pub fn write_outputs(directory: &Path, files: &[(&str, Vec<u8>)]) -> io::Result<()> {
    std::fs::create_dir_all(directory)?;
    let temporary = |name: &str| directory.join(format!(".{name}.tmp-{}", std::process::id()));
    for (name, bytes) in files {
        std::fs::write(temporary(name), bytes)?;
    }
    let manifest = directory.join("manifest.json");
    if manifest.exists() {
        std::fs::remove_file(&manifest)?;
    }
    let (manifests, data): (Vec<_>, Vec<_>) =
        files.iter().partition(|(name, _)| *name == "manifest.json");
    for (name, _) in data.iter().chain(manifests.iter()) {
        std::fs::rename(temporary(name), directory.join(name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_short_and_stable() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(format_float(1.0 / 3.0), "0.333333");
        assert_eq!(format_float(f64::NAN), "");
        assert_eq!(format_float(-0.0000001), "0");
    }

    #[test]
    fn spread_columns_name_services_with_hops_and_components_with_amplification() {
        let spread = FaultSpread {
            cascaded_services: vec![
                ("checkout".into(), Some(1)),
                ("frontend".into(), Some(2)),
                ("audit".into(), None),
            ],
            cascade_depth: 2,
            retry_amplification: vec![("gateway->api".into(), 3.117), ("api->db".into(), 1.0)],
            max_retry_amplification: 3.117,
        };
        assert_eq!(
            cascaded_services(&spread, ";"),
            "checkout:1;frontend:2;audit"
        );
        assert_eq!(
            retry_amplification(&spread),
            "gateway->api:3.12;api->db:1.00"
        );
    }

    #[test]
    fn atomic_writer_leaves_no_temporaries() {
        let directory = tempfile::tempdir().unwrap();
        write_outputs(
            directory.path(),
            &[
                ("a.csv", b"x\n".to_vec()),
                ("manifest.json", b"{}".to_vec()),
            ],
        )
        .unwrap();
        let mut names: Vec<String> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["a.csv", "manifest.json"]);
    }
}
