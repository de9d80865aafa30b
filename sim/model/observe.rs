//! Observation: the per-interval time series, per-node placement samples, and the end-of-run
//! summaries — per request class, and for the cluster (placement quality and cost).

use super::{Event, NONE, SeriesRow, TaskPhase, World};
use crate::cluster::LaunchType;
use crate::cluster::catalog::{OsFamily, fargate_task_cost};
use crate::cluster::state::{NodeLifecycle, Resources};
use crate::engine::EventQueue;
use crate::metrics::ClassSummary;
use crate::time::{SimDuration, SimTime};
use serde::Serialize;

/// One row of `placement.csv`: a node (or a Fargate task) at a sample time.
#[derive(Debug, Clone, Serialize)]
pub struct PlacementRow {
    /// Sample time, in seconds.
    pub time_s: f64,
    /// Node name, or the task name on Fargate.
    pub node: String,
    /// Node group, or `fargate`.
    pub group: String,
    /// Zone.
    pub zone: String,
    /// Instance type, or `fargate`.
    pub instance_type: String,
    /// Lifecycle state.
    pub state: &'static str,
    /// Cpu capacity, millicores.
    pub cpu_capacity_millis: u64,
    /// Cpu reserved by tasks, millicores.
    pub cpu_allocated_millis: u64,
    /// Cpu in use (busy workers' share of each task's reservation, averaged over the interval).
    pub cpu_used_millis: f64,
    /// Memory capacity, bytes.
    pub memory_capacity_bytes: u64,
    /// Memory reserved by tasks, bytes.
    pub memory_allocated_bytes: u64,
    /// Tasks placed on it.
    pub tasks: u32,
    /// Tasks per service, `name=count` joined by `;`.
    pub tasks_by_service: String,
}

/// Cluster-level results of one replication: placement quality and cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterSummary {
    /// Nodes with at least one task at the end.
    pub nodes_used: u64,
    /// ⌈max(Σ task cpu / node cpu, Σ task memory / node memory)⌉ with the largest node of the cluster.
    pub nodes_lower_bound: u64,
    /// Median time tasks waited to be placed, seconds.
    pub task_pending_p50_s: f64,
    /// 99th percentile of that wait, seconds.
    pub task_pending_p99_s: f64,
    /// Median time from a task's creation to healthy, seconds.
    pub task_ready_p50_s: f64,
    /// 99th percentile of that time, seconds.
    pub task_ready_p99_s: f64,
    /// Tasks still pending at the end.
    pub tasks_pending: u64,
    /// Placement attempts that left a task pending.
    pub unschedulable_decisions: u64,
    /// Share of free cpu on ready nodes that no task of the scenario could use, at the end.
    pub fragmentation_cpu: f64,
    /// The same for memory.
    pub fragmentation_memory: f64,
    /// Largest (max − min tasks per zone) over services, at the end.
    pub zone_imbalance_max: u64,
    /// Mean reserved share of ready nodes' cpu over the measured samples.
    pub cpu_allocated_fraction: f64,
    /// Mean used share of ready nodes' cpu over the measured samples.
    pub cpu_used_fraction: f64,
    /// Dollars spent over the whole run: EC2 instance-seconds, or Fargate vCPU- and GB-seconds.
    pub cost_usd: f64,
    /// Dollars per million completed requests (whole run).
    pub cost_per_million_requests_usd: f64,
    /// Scale-out actions taken.
    pub scale_outs: u64,
    /// Scale-in actions taken.
    pub scale_ins: u64,
    /// Median time from a scale-out's trigger until all its tasks were healthy, seconds.
    pub time_to_capacity_p50_s: f64,
    /// 95th percentile of that time, seconds.
    pub time_to_capacity_p95_s: f64,
    /// With a spike profile: dollars spent from the spike's start to the end of the run beyond what
    /// the pre-spike spending rate would have cost (scale-in lag included); NaN without a spike.
    pub spike_cost_usd: f64,
}

/// Percentile (0–100) of durations in nanoseconds, in seconds (nearest rank); NaN when empty.
fn percentile_s(values: &[u64], percentile: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((percentile / 100.0 * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1e9
}

impl World<'_> {
    pub(super) fn on_sample(&mut self, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let window = now - self.interval_start;
        self.sample_requests(now, window);
        self.sample_services(now, window);
        self.sample_edges(now);
        self.sample_cluster(now, window);
        for stats in &mut self.interval_stats {
            stats.reset();
        }
        self.interval_offered
            .iter_mut()
            .for_each(|count| *count = 0);
        self.interval_start = now;
        let next = now + self.scenario.run.metrics_interval;
        if next <= self.end {
            queue.schedule_at(next, Event::Sample);
        } else if now < self.end {
            queue.schedule_at(self.end, Event::Sample);
        }
    }

    fn push(&mut self, now: SimTime, subject: &str, metric: &'static str, value: f64) {
        self.timeseries.push(SeriesRow {
            time_s: now.as_secs_f64(),
            subject: subject.to_string(),
            metric,
            value,
        });
    }

    fn sample_requests(&mut self, now: SimTime, window: SimDuration) {
        let seconds = window.as_secs_f64();
        let app = &self.scenario.app;
        let names: Vec<&str> = app
            .classes
            .iter()
            .map(|c| c.name.as_str())
            .chain(std::iter::once("all"))
            .collect();
        for (index, name) in names.into_iter().enumerate() {
            let stats = &self.interval_stats[index];
            if let Some(class) = app.classes.get(index) {
                let finished = stats.completed() + stats.failed();
                let violated = finished > 0
                    && (stats.percentile_ms(class.slo.percentile)
                        > class.slo.latency.as_millis_f64()
                        || stats.availability() < class.slo.availability);
                self.slo_intervals[index].push((now, violated));
            }
            let values = [
                ("offered_rps", self.interval_offered[index] as f64 / seconds),
                ("throughput_rps", stats.completed() as f64 / seconds),
                ("failed_rps", stats.failed() as f64 / seconds),
                ("latency_p50_ms", stats.percentile_ms(50.0)),
                ("latency_p99_ms", stats.percentile_ms(99.0)),
            ];
            for (metric, value) in values {
                self.push(now, name, metric, value);
            }
        }
    }

    fn sample_services(&mut self, now: SimTime, window: SimDuration) {
        let app = &self.scenario.app;
        for (index, spec) in app.services.iter().enumerate() {
            let imbalance = self.zone_imbalance(index);
            let service = &mut self.services[index];
            let [busy_mark, queued_mark, healthy_mark] = &mut service.sampled;
            let busy = busy_mark.take_mean(&service.busy, now, window);
            let queued = queued_mark.take_mean(&service.queued, now, window);
            let healthy = healthy_mark.take_mean(&service.healthy, now, window);
            let capacity = healthy * f64::from(spec.workers);
            let utilization = if capacity > 0.0 {
                busy / capacity
            } else {
                f64::NAN
            };
            let current = service.active.len() as f64;
            let served = std::mem::take(&mut service.served);
            for (metric, value) in [
                ("replicas", current),
                ("busy_workers", busy),
                ("utilization", utilization),
                ("queue_length", queued),
                ("zone_imbalance", imbalance as f64),
                ("served_error_share", served.error_share()),
                ("served_latency_mean_ms", served.completed_latency_mean_ms()),
            ] {
                self.push(now, &spec.name, metric, value);
            }
        }
    }

    /// Max − min tasks of a service over the zones it can use: zones with a node of its OS and
    /// architecture (EC2), every zone (Fargate); 0 when capacity is not modelled.
    fn zone_imbalance(&self, service: usize) -> u64 {
        let cluster = &self.scenario.cluster;
        let spec = &self.scenario.app.services[service];
        let usable: Vec<bool> = match cluster.launch_type {
            LaunchType::Fargate => vec![true; cluster.zones.len()],
            LaunchType::Ec2 if !cluster.has_nodes() => return 0,
            LaunchType::Ec2 => {
                let mut usable = vec![false; cluster.zones.len()];
                for node in self.cluster.nodes() {
                    if node.os == spec.os
                        && spec.arch.is_none_or(|arch| arch == node.arch)
                        && node.lifecycle != NodeLifecycle::Terminated
                    {
                        usable[node.zone] = true;
                    }
                }
                usable
            }
        };
        let mut counts = vec![0u64; cluster.zones.len()];
        for task in &self.tasks {
            if task.service as usize == service && task.placed.is_some() && task.phase.is_live() {
                counts[task.zone as usize] += 1;
            }
        }
        let considered: Vec<u64> = counts
            .iter()
            .zip(&usable)
            .filter(|(_, usable)| **usable)
            .map(|(count, _)| *count)
            .collect();
        considered.iter().max().unwrap_or(&0) - considered.iter().min().unwrap_or(&0)
    }

    /// Cpu each task uses on average over the window: its busy share of its reservation.
    fn task_used_cpu(&mut self, now: SimTime, window: SimDuration) -> Vec<f64> {
        let services = &self.scenario.app.services;
        self.replicas
            .iter_mut()
            .map(|replica| {
                let spec = &services[replica.service as usize];
                replica.busy_sampled.take_mean(&replica.busy, now, window) / f64::from(spec.workers)
                    * spec.cpu_millis as f64
            })
            .collect()
    }

    fn sample_cluster(&mut self, now: SimTime, window: SimDuration) {
        let used = self.task_used_cpu(now, window);
        let time_s = now.as_secs_f64();
        let services = &self.scenario.app.services;
        let mut rows = Vec::new();
        let (
            mut capacity_cpu,
            mut allocated_cpu,
            mut used_cpu,
            mut capacity_memory,
            mut allocated_memory,
        ) = (0u64, 0u64, 0.0, 0u64, 0u64);
        let mut used_by_node = vec![0.0; self.cluster.nodes().len()];
        for (task, state) in self.tasks.iter().enumerate() {
            if state.node != NONE {
                used_by_node[state.node as usize] += used[task];
            }
        }
        for (index, node) in self.cluster.nodes().iter().enumerate() {
            if node.lifecycle == NodeLifecycle::Terminated {
                continue;
            }
            let per_service: Vec<u32> = (0..services.len())
                .map(|service| self.cluster.tasks_on(service, index))
                .collect();
            let node_used = used_by_node[index];
            if node.lifecycle == NodeLifecycle::Ready {
                capacity_cpu += node.capacity.cpu_millis;
                allocated_cpu += node.allocated.cpu_millis;
                used_cpu += node_used;
                capacity_memory += node.capacity.memory_bytes;
                allocated_memory += node.allocated.memory_bytes;
            }
            rows.push(super::PlacementRow {
                time_s,
                node: node.name.clone(),
                group: self.scenario.cluster.node_groups[node.group].name.clone(),
                zone: self.cluster.zones()[node.zone].clone(),
                instance_type: node.instance_type.clone(),
                state: node.lifecycle.name(),
                cpu_capacity_millis: node.capacity.cpu_millis,
                cpu_allocated_millis: node.allocated.cpu_millis,
                cpu_used_millis: node_used,
                memory_capacity_bytes: node.capacity.memory_bytes,
                memory_allocated_bytes: node.allocated.memory_bytes,
                tasks: node.tasks,
                tasks_by_service: join_counts(
                    services.iter().map(|s| s.name.as_str()),
                    &per_service,
                ),
            });
        }
        for (task, state) in self.tasks.iter().enumerate() {
            let Some(size) = state.fargate else { continue };
            if matches!(state.phase, TaskPhase::Pending | TaskPhase::Stopped) {
                continue;
            }
            let spec = &services[state.service as usize];
            capacity_cpu += size.cpu_millis;
            allocated_cpu += spec.cpu_millis;
            used_cpu += used[task];
            capacity_memory += size.memory_bytes;
            allocated_memory += spec.memory_bytes;
            let mut per_service = vec![0u32; services.len()];
            per_service[state.service as usize] = 1;
            rows.push(super::PlacementRow {
                time_s,
                node: state.name.clone(),
                group: "fargate".into(),
                zone: self.scenario.cluster.zones[state.zone as usize].clone(),
                instance_type: "fargate".into(),
                state: "fargate",
                cpu_capacity_millis: size.cpu_millis,
                cpu_allocated_millis: spec.cpu_millis,
                cpu_used_millis: used[task],
                memory_capacity_bytes: size.memory_bytes,
                memory_allocated_bytes: spec.memory_bytes,
                tasks: 1,
                tasks_by_service: join_counts(
                    services.iter().map(|s| s.name.as_str()),
                    &per_service,
                ),
            });
        }
        self.placement_rows.extend(rows);
        let fraction = |part: f64, whole: u64| {
            if whole == 0 {
                f64::NAN
            } else {
                part / whole as f64
            }
        };
        let cost = self.cost_until(now);
        let pending = self.pending_tasks.len() as f64;
        let mut values: Vec<(&'static str, f64)> = NodeLifecycle::ALL
            .iter()
            .filter(|state| **state != NodeLifecycle::Terminated)
            .map(|state| {
                (
                    node_metric(*state),
                    f64::from(self.cluster.count_in(*state)),
                )
            })
            .collect();
        values.extend([
            ("tasks_pending", pending),
            (
                "cpu_allocated_fraction",
                fraction(allocated_cpu as f64, capacity_cpu),
            ),
            ("cpu_used_fraction", fraction(used_cpu, capacity_cpu)),
            (
                "memory_allocated_fraction",
                fraction(allocated_memory as f64, capacity_memory),
            ),
            ("cost_usd", cost),
        ]);
        for (metric, value) in values {
            self.push(now, "cluster", metric, value);
        }
    }

    /// Dollars spent from the start until `now`.
    fn cost_until(&self, now: SimTime) -> f64 {
        let cluster = &self.scenario.cluster;
        match cluster.launch_type {
            LaunchType::Fargate => self
                .tasks
                .iter()
                .filter_map(|task| {
                    let start = task.billed_from?;
                    let size = task.fargate?;
                    let os = self.scenario.app.services[task.service as usize].os;
                    let discount = if cluster.fargate.spot {
                        cluster.fargate.spot_discount
                    } else {
                        0.0
                    };
                    // Billing ends when the task stops.
                    let end = task.stopped.unwrap_or(now).min(now);
                    Some(fargate_task_cost(
                        size,
                        os,
                        cluster.fargate.arch,
                        end.saturating_since(start).as_secs_f64(),
                        discount,
                    ))
                })
                .sum(),
            LaunchType::Ec2 => self
                .cluster
                .nodes()
                .iter()
                .zip(&self.nodes)
                .map(|(node, runtime)| {
                    let group = &cluster.node_groups[node.group];
                    // Per-second billing with a one-minute minimum (Linux and Windows on-demand).
                    let until = runtime.terminated.unwrap_or(now).min(now);
                    let seconds = until
                        .saturating_since(runtime.launched)
                        .as_secs_f64()
                        .max(60.0);
                    group.instance.price_per_hour(group.os) * seconds / 3600.0
                })
                .sum(),
        }
    }

    /// Extra dollars a spike cost: spending after its start beyond the pre-spike rate.
    fn spike_cost(&self) -> f64 {
        let crate::workload::RateProfile::Spike { start, .. } = self.scenario.workload.profile
        else {
            return f64::NAN;
        };
        let start = SimTime::ZERO + start;
        // After the warmup, and after the first minute (one-minute billing minimums distort it).
        let settled = self.scenario.run.warmup.max(SimDuration::from_secs(60));
        let baseline_from = SimTime::ZERO + settled.min(start - SimTime::ZERO);
        if start <= baseline_from {
            return f64::NAN;
        }
        let rate = (self.cost_until(start) - self.cost_until(baseline_from))
            / (start - baseline_from).as_secs_f64();
        let after = self.cost_until(self.end) - self.cost_until(start);
        after - rate * (self.end - start).as_secs_f64()
    }

    fn cluster_summary(&self) -> ClusterSummary {
        let services = &self.scenario.app.services;
        let nodes = self.cluster.nodes();
        let ready: Vec<_> = nodes
            .iter()
            .filter(|n| n.lifecycle == NodeLifecycle::Ready)
            .collect();
        // Lower bound over every task (placed or pending), with the largest node per dimension.
        let (mut total_cpu, mut total_memory) = (0u64, 0u64);
        for task in self.tasks.iter().filter(|task| task.phase.is_live()) {
            let spec = &services[task.service as usize];
            total_cpu += spec.cpu_millis;
            total_memory += spec.memory_bytes;
        }
        let largest = nodes
            .iter()
            .fold(Resources::default(), |largest, node| Resources {
                cpu_millis: largest.cpu_millis.max(node.capacity.cpu_millis),
                memory_bytes: largest.memory_bytes.max(node.capacity.memory_bytes),
            });
        let nodes_lower_bound = if largest.cpu_millis == 0 || largest.memory_bytes == 0 {
            0
        } else {
            total_cpu
                .div_ceil(largest.cpu_millis)
                .max(total_memory.div_ceil(largest.memory_bytes))
        };
        // Fragmentation: free capacity on ready nodes where no service's task would fit.
        let shapes: Vec<(Resources, OsFamily)> = services
            .iter()
            .map(|s| {
                (
                    Resources {
                        cpu_millis: s.cpu_millis,
                        memory_bytes: s.memory_bytes,
                    },
                    s.os,
                )
            })
            .collect();
        let (mut free_cpu, mut free_memory, mut stranded_cpu, mut stranded_memory) =
            (0u64, 0u64, 0u64, 0u64);
        for node in &ready {
            let free = node.free();
            free_cpu += free.cpu_millis;
            free_memory += free.memory_bytes;
            if !shapes
                .iter()
                .any(|(shape, os)| *os == node.os && free.covers(shape))
            {
                stranded_cpu += free.cpu_millis;
                stranded_memory += free.memory_bytes;
            }
        }
        let share = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        // Means of the cluster samples taken after the warmup.
        let measured = |metric: &str| {
            let values: Vec<f64> = self
                .timeseries
                .iter()
                .filter(|row| {
                    row.subject == "cluster"
                        && row.metric == metric
                        && row.time_s > self.warmup_end.as_secs_f64()
                        && row.value.is_finite()
                })
                .map(|row| row.value)
                .collect();
            if values.is_empty() {
                f64::NAN
            } else {
                values.iter().sum::<f64>() / values.len() as f64
            }
        };
        let cost_usd = self.cost_until(self.end);
        let completed = self.conservation.completed;
        ClusterSummary {
            nodes_used: nodes.iter().filter(|n| n.tasks > 0).count() as u64,
            nodes_lower_bound,
            task_pending_p50_s: percentile_s(&self.pending_times, 50.0),
            task_pending_p99_s: percentile_s(&self.pending_times, 99.0),
            task_ready_p50_s: percentile_s(&self.ready_times, 50.0),
            task_ready_p99_s: percentile_s(&self.ready_times, 99.0),
            tasks_pending: self.pending_tasks.len() as u64,
            unschedulable_decisions: self.unschedulable_decisions,
            fragmentation_cpu: share(stranded_cpu, free_cpu),
            fragmentation_memory: share(stranded_memory, free_memory),
            zone_imbalance_max: (0..services.len())
                .map(|s| self.zone_imbalance(s))
                .max()
                .unwrap_or(0),
            cpu_allocated_fraction: measured("cpu_allocated_fraction"),
            cpu_used_fraction: measured("cpu_used_fraction"),
            cost_usd,
            cost_per_million_requests_usd: if completed == 0 {
                f64::NAN
            } else {
                cost_usd / completed as f64 * 1e6
            },
            scale_outs: self
                .scale_actions
                .iter()
                .filter(|a| a.direction == "out")
                .count() as u64,
            scale_ins: self
                .scale_actions
                .iter()
                .filter(|a| a.direction == "in")
                .count() as u64,
            time_to_capacity_p50_s: percentile_s(&self.times_to_capacity(), 50.0),
            time_to_capacity_p95_s: percentile_s(&self.times_to_capacity(), 95.0),
            spike_cost_usd: self.spike_cost(),
        }
    }

    pub(super) fn finish(
        mut self,
        events_processed: u64,
        replication: u32,
    ) -> super::ReplicationResult {
        self.audit();
        self.conservation.in_flight =
            self.conservation.offered - self.conservation.completed - self.conservation.failed;
        assert_eq!(
            self.requests.iter().filter(|r| r.open).count() as u64,
            self.conservation.in_flight,
            "requests still open"
        );
        self.log(
            self.end,
            "run_end",
            &self.scenario.name.clone(),
            format!("in_flight={}", self.conservation.in_flight),
        );
        let measured = SimDuration::from_nanos(
            self.scenario.run.duration.as_nanos() - self.scenario.run.warmup.as_nanos(),
        );
        let app = &self.scenario.app;
        let mut classes: Vec<ClassSummary> = app
            .classes
            .iter()
            .enumerate()
            .map(|(index, class)| {
                ClassSummary::new(
                    replication,
                    &class.name,
                    self.class_offered[index],
                    &self.class_stats[index],
                    Some(&class.slo),
                    measured,
                )
            })
            .collect();
        let all = app.classes.len();
        let mut all_row = ClassSummary::new(
            replication,
            "all",
            self.class_offered[all],
            &self.class_stats[all],
            None,
            measured,
        );
        // Requests of every class are judged by their own class's SLO; `all` meets its SLO when
        // every class does.
        all_row.slo_met = classes.iter().all(|row| row.slo_met);
        let interval_minutes = self.scenario.run.metrics_interval.as_secs_f64() / 60.0;
        let spike_start = match self.scenario.workload.profile {
            crate::workload::RateProfile::Spike { start, .. } => Some(SimTime::ZERO + start),
            _ => None,
        };
        for (row, intervals) in classes.iter_mut().zip(&self.slo_intervals) {
            let measured_violations = intervals
                .iter()
                .filter(|(end, violated)| *violated && *end > self.warmup_end)
                .count();
            row.slo_violation_minutes = measured_violations as f64 * interval_minutes;
            row.spike_absorption_s = spike_start.map_or(f64::NAN, |start| {
                absorption_seconds(intervals, start, self.end)
            });
        }
        let any_violated = (0..self.slo_intervals.first().map_or(0, Vec::len))
            .filter(|&i| {
                self.slo_intervals
                    .iter()
                    .any(|class| class[i].1 && class[i].0 > self.warmup_end)
            })
            .count();
        all_row.slo_violation_minutes = any_violated as f64 * interval_minutes;
        // The slowest class; NaN (never recovered) if any class never recovered from the spike.
        all_row.spike_absorption_s =
            if spike_start.is_some() && classes.iter().any(|row| row.spike_absorption_s.is_nan()) {
                f64::NAN
            } else {
                classes
                    .iter()
                    .map(|row| row.spike_absorption_s)
                    .fold(f64::NAN, f64::max)
            };
        classes.push(all_row);
        let cluster = self.cluster_summary();
        let scaling = self.scaling_rows();
        let rollouts = self.rollout_results();
        let faults = self.fault_results();
        super::ReplicationResult {
            faults,
            rollouts,
            replication,
            classes,
            cluster,
            scaling,
            timeseries: self.timeseries,
            events: self.events,
            placement: self.placement_rows,
            conservation: self.conservation,
            request_digest: self.digest,
            events_processed,
            peak_pending_events: 0,
        }
    }
}

/// Seconds from `start` until the class is back within its SLO for good: the end of the last violated
/// interval after `start` (0 if none); NaN if the last interval of the run is still violated.
fn absorption_seconds(intervals: &[(SimTime, bool)], start: SimTime, end: SimTime) -> f64 {
    if intervals
        .last()
        .is_some_and(|(at, violated)| *violated && *at >= end)
    {
        return f64::NAN;
    }
    let last_violation = intervals
        .iter()
        .filter(|(at, violated)| *violated && *at > start)
        .map(|(at, _)| *at)
        .max();
    last_violation.map_or(0.0, |at| (at - start).as_secs_f64())
}

fn node_metric(state: NodeLifecycle) -> &'static str {
    match state {
        NodeLifecycle::Provisioning => "nodes_provisioning",
        NodeLifecycle::Booting => "nodes_booting",
        NodeLifecycle::Ready => "nodes_ready",
        NodeLifecycle::Draining => "nodes_draining",
        NodeLifecycle::Terminated => "nodes_terminated",
    }
}

fn join_counts<'a>(names: impl Iterator<Item = &'a str>, counts: &[u32]) -> String {
    names
        .zip(counts)
        .filter(|(_, count)| **count > 0)
        .map(|(name, count)| format!("{name}={count}"))
        .collect::<Vec<_>>()
        .join(";")
}
