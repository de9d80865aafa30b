//! Containment metrics: what each injected fault did to the request classes (blast radius,
//! collateral failures, time to recover, availability) and how far it spread (cascaded services,
//! retry amplification), computed at the end of a run from the per-interval SLO record and the
//! time series.

use super::World;
use crate::app::AppSpec;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How far before a fault its baseline reaches back (after the warmup).
const BASELINE_SPAN: SimDuration = SimDuration::from_secs(300);

/// What one fault did.
#[derive(Debug, Clone)]
pub struct FaultRecord {
    /// Index in the fault plan.
    pub fault: usize,
    /// Its number among the occurrences of a random fault, from 0; `None` for a fault that
    /// happens once.
    pub occurrence: Option<u32>,
    /// The fault's kind, as in scenarios (`container_crash`, `zone_outage`, `bad_deploy`, …).
    pub kind: &'static str,
    /// What it hit (service, node, zone or component).
    pub target: String,
    /// When it started.
    pub started: SimTime,
    /// When it ended (start + duration; crashes are instants; a bad deploy when its deployment
    /// ended, or the run).
    pub ended: SimTime,
    /// Services it touched (whose tasks crashed, or that hold the faulty component).
    pub services: Vec<usize>,
    /// Tasks it crashed.
    pub tasks_crashed: u32,
    /// The first failed request at or after its start.
    pub detected: Option<SimTime>,
    /// Request classes that broke their SLO from the start until recovery.
    pub broken_classes: Vec<String>,
    /// Broken classes / all classes.
    pub blast_radius: f64,
    /// Failed requests, from the start until recovery, of classes whose call tree never touches
    /// the services the fault hit.
    pub collateral_failures: f64,
    /// Seconds from the start until every class is back within its SLO for good (0 if none broke;
    /// NaN if some class is still broken at the end).
    pub time_to_recover_s: f64,
    /// Completed / finished requests of all classes from the start until recovery (or the fault's
    /// end, whichever is later).
    pub availability_during: f64,
    /// How far it spread beyond the services it hit.
    pub spread: FaultSpread,
}

/// How far one fault spread beyond its own services.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpread {
    /// Services, other than those the fault hit, whose error share or mean latency rose beyond the
    /// `[run]` cascade thresholds in the fault's window: each with its hops from the nearest
    /// service the fault hit in the service call graph (`None`: no call path), nearest first.
    pub cascaded_services: Vec<(String, Option<u32>)>,
    /// The most hops among the cascaded services (0 when none cascaded).
    pub cascade_depth: u32,
    /// Per remote call edge `caller->callee` into a component with a `resilience` table, with first
    /// attempts in the window, in order of first appearance in the call trees: (first attempts +
    /// retries) / first attempts of its calls over the window.
    pub retry_amplification: Vec<(String, f64)>,
    /// The largest retry amplification (1 when no edge has one).
    pub max_retry_amplification: f64,
}

/// The calls a service finished (answered, successfully or not) in one metrics interval.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ServedCalls {
    finished: u64,
    failed: u64,
    completed_latency_sum_nanos: u128,
}

impl ServedCalls {
    /// Counts a finished call; `latency` (arrival at the service to its answer) counts only for a
    /// completed one.
    pub(super) fn record(&mut self, completed: bool, latency: SimDuration) {
        self.finished += 1;
        if completed {
            self.completed_latency_sum_nanos += u128::from(latency.as_nanos());
        } else {
            self.failed += 1;
        }
    }

    /// Failed / finished calls; NaN when none finished.
    pub(super) fn error_share(&self) -> f64 {
        if self.finished == 0 {
            f64::NAN
        } else {
            self.failed as f64 / self.finished as f64
        }
    }

    /// Mean latency of the completed calls, in milliseconds; NaN when none completed.
    pub(super) fn completed_latency_mean_ms(&self) -> f64 {
        let completed = self.finished - self.failed;
        if completed == 0 {
            f64::NAN
        } else {
            self.completed_latency_sum_nanos as f64 / completed as f64 / 1e6
        }
    }
}

/// The metrics intervals a fault is measured over: those ending from `start` to `end`.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: SimTime,
    end: SimTime,
}

impl Window {
    /// Whether the interval ending at `time_s` is in the window.
    fn contains(&self, time_s: f64) -> bool {
        time_s >= self.start.as_secs_f64() && time_s <= self.end.as_secs_f64() + 1e-9
    }

    /// The sum of the finite values of the intervals in the window.
    fn sum(&self, values: &[(f64, f64)]) -> f64 {
        values
            .iter()
            .filter(|(time_s, value)| self.contains(*time_s) && value.is_finite())
            .map(|(_, value)| value)
            .sum()
    }
}

/// Time series rows by (subject, metric): (end of interval in seconds, value), in time order.
type Series<'a> = BTreeMap<(&'a str, &'static str), Vec<(f64, f64)>>;

impl World<'_> {
    /// Each fault's containment metrics and spread, from the per-interval SLO record and the time
    /// series.
    pub(super) fn fault_results(&self) -> Vec<FaultRecord> {
        let app = &self.scenario.app;
        let series = self.interval_series(&[
            "throughput_rps",
            "failed_rps",
            "served_error_share",
            "served_latency_mean_ms",
            "pair_attempts",
            "pair_retries",
        ]);
        let mut records = self.fault_records.clone();
        let graph = service_graph(app);
        for record in &mut records {
            let start = record.started;
            // Only classes within their SLO just before the fault can be broken by it (a class that
            // was already failing its SLO is not the fault's doing).
            let healthy_before = |intervals: &Vec<(SimTime, bool)>| {
                intervals
                    .iter()
                    .rev()
                    .find(|(at, _)| *at < start)
                    .is_none_or(|(_, violated)| !violated)
            };
            // Recovery: the end of the last interval after the start in which such a class broke
            // its SLO; NaN when the run ends with one still broken.
            let mut last_violation: Option<SimTime> = None;
            let mut still_broken = false;
            let mut broken = Vec::new();
            for (class, intervals) in app.classes.iter().zip(&self.slo_intervals) {
                if !healthy_before(intervals) {
                    continue;
                }
                let violations: Vec<SimTime> = intervals
                    .iter()
                    .filter(|(at, violated)| *violated && *at >= start)
                    .map(|(at, _)| *at)
                    .collect();
                if let Some(&last) = violations.last() {
                    broken.push(class.name.clone());
                    last_violation =
                        Some(last_violation.map_or(last, |seen: SimTime| seen.max(last)));
                    if intervals
                        .last()
                        .is_some_and(|(at, violated)| *violated && *at >= self.end)
                    {
                        still_broken = true;
                    }
                }
            }
            record.time_to_recover_s = if still_broken {
                f64::NAN
            } else {
                last_violation.map_or(0.0, |at| (at - start).as_secs_f64())
            };
            // At least one metrics interval, so an instant fault still has a window to measure.
            let at_least = start + self.scenario.run.metrics_interval;
            let window_end = if still_broken {
                self.end
            } else {
                record
                    .ended
                    .max(last_violation.unwrap_or(start))
                    .max(at_least)
                    .min(self.end)
            };
            // The interval ending exactly at the start holds the fault's instant effects (a fault
            // runs before a sample at the same instant), so it counts as during.
            let window = Window {
                start,
                end: window_end,
            };
            record.broken_classes = broken;
            record.blast_radius =
                record.broken_classes.len() as f64 / app.classes.len().max(1) as f64;
            let interval = self.scenario.run.metrics_interval.as_secs_f64();
            let total = |subject: &str, metric: &'static str| -> f64 {
                window.sum(values_of(&series, subject, metric)) * interval
            };
            let touches = |class: &crate::app::ClassSpec| {
                class.tree.nodes.iter().any(|node| {
                    record
                        .services
                        .contains(&app.service_of_component[node.component])
                })
            };
            record.collateral_failures = app
                .classes
                .iter()
                .filter(|class| !touches(class))
                .map(|class| total(&class.name, "failed_rps"))
                .sum::<f64>()
                .round()
                .max(0.0);
            let (completed, failed) = (total("all", "throughput_rps"), total("all", "failed_rps"));
            record.availability_during = if completed + failed > 0.0 {
                completed / (completed + failed)
            } else {
                f64::NAN
            };
            record.spread = self.fault_spread(record, &window, &series, &graph);
        }
        records
    }

    /// How far a fault spread: the services whose error share or latency rose in its window above
    /// their baseline, and the retry amplification on each edge.
    fn fault_spread(
        &self,
        record: &FaultRecord,
        window: &Window,
        series: &Series,
        graph: &[BTreeSet<usize>],
    ) -> FaultSpread {
        let app = &self.scenario.app;
        let run = &self.scenario.run;
        // Baseline: the intervals after the warmup, ending before the start and at most
        // `BASELINE_SPAN` earlier.
        let until = window.start.as_secs_f64();
        let from = (until - BASELINE_SPAN.as_secs_f64()).max(self.warmup_end.as_secs_f64());
        let in_baseline = |time_s: f64| time_s > from && time_s < until;
        let hops = hops_from(graph, &record.services);
        let mut cascaded: Vec<(String, Option<u32>)> = app
            .services
            .iter()
            .enumerate()
            .filter(|(service, _)| !record.services.contains(service))
            .filter(|(_, spec)| {
                let errors = values_of(series, &spec.name, "served_error_share");
                let latency = values_of(series, &spec.name, "served_latency_mean_ms");
                rose(errors, in_baseline, window, |base, peak| {
                    peak - base > run.cascade_error_rate
                }) || rose(latency, in_baseline, window, |base, peak| {
                    peak > base * run.cascade_latency_factor
                })
            })
            .map(|(service, spec)| (spec.name.clone(), hops[service]))
            .collect();
        cascaded.sort_by_key(|(name, hops)| (hops.unwrap_or(u32::MAX), name.clone()));
        let window_total = |subject, metric| window.sum(values_of(series, subject, metric));
        let amplification: Vec<(String, f64)> = self
            .call_pairs
            .names
            .iter()
            .filter_map(|name| {
                retry_amplification(
                    window_total(name, "pair_attempts"),
                    window_total(name, "pair_retries"),
                )
                .map(|value| (name.clone(), value))
            })
            .collect();
        FaultSpread {
            cascade_depth: cascaded
                .iter()
                .filter_map(|(_, hops)| *hops)
                .max()
                .unwrap_or(0),
            cascaded_services: cascaded,
            max_retry_amplification: amplification
                .iter()
                .map(|(_, value)| *value)
                .fold(1.0, f64::max),
            retry_amplification: amplification,
        }
    }

    /// The rows of `metrics` in the time series, per (subject, metric), in time order.
    fn interval_series(&self, metrics: &[&'static str]) -> Series<'_> {
        let mut series = Series::new();
        for row in &self.timeseries {
            if metrics.contains(&row.metric) {
                series
                    .entry((row.subject.as_str(), row.metric))
                    .or_default()
                    .push((row.time_s, row.value));
            }
        }
        series
    }
}

/// The (interval end in seconds, value) rows of one subject's metric; empty when it has none.
fn values_of<'a>(
    series: &'a Series<'a>,
    subject: &'a str,
    metric: &'static str,
) -> &'a [(f64, f64)] {
    series.get(&(subject, metric)).map_or(&[], Vec::as_slice)
}

/// Whether a per-interval metric rose in `window`: its peak there against the mean of its
/// baseline intervals, judged by `exceeds(baseline, peak)`; false when either has no value.
fn rose(
    values: &[(f64, f64)],
    in_baseline: impl Fn(f64) -> bool,
    window: &Window,
    exceeds: impl Fn(f64, f64) -> bool,
) -> bool {
    let (mut baseline_sum, mut baseline_count, mut peak) = (0.0, 0u32, f64::NAN);
    for &(time_s, value) in values.iter().filter(|(_, value)| value.is_finite()) {
        if in_baseline(time_s) {
            baseline_sum += value;
            baseline_count += 1;
        } else if window.contains(time_s) {
            peak = peak.max(value);
        }
    }
    baseline_count > 0
        && peak.is_finite()
        && exceeds(baseline_sum / f64::from(baseline_count), peak)
}

/// (first attempts + retries) / first attempts; `None` without first attempts.
fn retry_amplification(first_attempts: f64, retries: f64) -> Option<f64> {
    (first_attempts > 0.0).then(|| (first_attempts + retries) / first_attempts)
}

/// The service call graph, undirected: per service, the services it calls or is called by over
/// the network in any class's call tree.
fn service_graph(app: &AppSpec) -> Vec<BTreeSet<usize>> {
    let mut neighbours = vec![BTreeSet::new(); app.services.len()];
    for class in &app.classes {
        let nodes = &class.tree.nodes;
        for node in nodes {
            let caller = app.service_of_component[node.component];
            for &child in node.steps.iter().flatten() {
                let callee = app.service_of_component[nodes[child].component];
                if callee != caller {
                    neighbours[caller].insert(callee);
                    neighbours[callee].insert(caller);
                }
            }
        }
    }
    neighbours
}

/// Hops from the nearest of `sources` to every service (breadth-first); `None` when unreachable.
fn hops_from(graph: &[BTreeSet<usize>], sources: &[usize]) -> Vec<Option<u32>> {
    let mut hops = vec![None; graph.len()];
    let mut queue = VecDeque::new();
    for &source in sources {
        if hops[source].is_none() {
            hops[source] = Some(0);
            queue.push_back(source);
        }
    }
    while let Some(service) = queue.pop_front() {
        let next = hops[service].map(|h: u32| h + 1);
        for &neighbour in &graph[service] {
            if hops[neighbour].is_none() {
                hops[neighbour] = next;
                queue.push_back(neighbour);
            }
        }
    }
    hops
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The quickstart's shop: browse frontend → catalog; cart frontend → cart → catalog;
    /// checkout frontend → checkout → { cart ‖ payment }; plus an `audit` component nobody calls.
    const SHOP: &str = r#"
[[app.components]]
name = "frontend"
service_time = { dist = "constant", value = "1ms" }
[[app.components]]
name = "catalog"
service_time = { dist = "constant", value = "1ms" }
[[app.components]]
name = "cart"
service_time = { dist = "constant", value = "1ms" }
[[app.components]]
name = "checkout"
service_time = { dist = "constant", value = "1ms" }
[[app.components]]
name = "payment"
service_time = { dist = "constant", value = "1ms" }
[[app.components]]
name = "audit"
service_time = { dist = "constant", value = "1ms" }

[[app.classes]]
name = "browse"
share = 0.6
entry = "frontend"
calls = [{ to = "catalog" }]
[[app.classes]]
name = "cart"
share = 0.2
entry = "frontend"
calls = [{ to = "cart", calls = [{ to = "catalog", probability = 0.5 }] }]
[[app.classes]]
name = "checkout"
share = 0.1
entry = "frontend"
calls = [{ to = "checkout", calls = [{ parallel = [{ to = "cart" }, { to = "payment" }] }] }]
[[app.classes]]
name = "audit"
share = 0.1
entry = "audit"

[workload]
rate = "10/s"
"#;

    fn shop(overrides: &[&str]) -> AppSpec {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        crate::scenario::parse(Path::new("shop.toml"), SHOP, &overrides)
            .unwrap()
            .scenario
            .app
    }

    fn service(app: &AppSpec, name: &str) -> usize {
        app.services.iter().position(|s| s.name == name).unwrap()
    }

    #[test]
    fn the_call_graph_links_callers_and_callees_either_way() {
        let app = shop(&[]);
        let graph = service_graph(&app);
        let names = |name: &str| -> Vec<&str> {
            graph[service(&app, name)]
                .iter()
                .map(|&s| app.services[s].name.as_str())
                .collect()
        };
        assert_eq!(names("frontend"), ["catalog", "cart", "checkout"]);
        assert_eq!(names("cart"), ["frontend", "catalog", "checkout"]);
        assert_eq!(names("payment"), ["checkout"]);
        assert!(names("audit").is_empty());
    }

    #[test]
    fn hops_count_from_the_nearest_source_and_unreachable_services_have_none() {
        let app = shop(&[]);
        let graph = service_graph(&app);
        let hops = hops_from(&graph, &[service(&app, "payment")]);
        let at = |name: &str| hops[service(&app, name)];
        assert_eq!(at("payment"), Some(0));
        assert_eq!(at("checkout"), Some(1));
        assert_eq!(at("frontend"), Some(2));
        assert_eq!(at("cart"), Some(2));
        assert_eq!(at("catalog"), Some(3));
        assert_eq!(at("audit"), None);
        // Two sources: each service counts from the nearer one.
        let hops = hops_from(
            &graph,
            &[service(&app, "payment"), service(&app, "catalog")],
        );
        assert_eq!(hops[service(&app, "frontend")], Some(1));
        assert_eq!(hops[service(&app, "checkout")], Some(1));
    }

    #[test]
    fn a_monolith_has_no_edges() {
        let app = shop(&["app.deployment.mode=\"monolith\""]);
        assert_eq!(app.services.len(), 1);
        let graph = service_graph(&app);
        assert!(graph[0].is_empty());
        assert_eq!(hops_from(&graph, &[0]), [Some(0)]);
    }

    #[test]
    fn retry_amplification_is_attempts_over_first_attempts() {
        assert_eq!(retry_amplification(100.0, 0.0), Some(1.0));
        assert_eq!(retry_amplification(100.0, 300.0), Some(4.0));
        assert_eq!(retry_amplification(640.0, 64.0), Some(1.1));
        assert_eq!(retry_amplification(0.0, 5.0), None);
    }

    #[test]
    fn a_metric_rose_when_its_peak_in_the_window_passes_its_baseline_mean() {
        let window = Window {
            start: SimTime::ZERO + SimDuration::from_secs(30),
            end: SimTime::ZERO + SimDuration::from_secs(50),
        };
        let before = |time_s: f64| time_s < 30.0;
        let doubled = |base: f64, peak: f64| peak > base * 2.0;
        // Baseline mean 10 (NaN intervals skipped), peak 25 at 40 s.
        let values = [
            (10.0, 8.0),
            (20.0, 12.0),
            (25.0, f64::NAN),
            (30.0, 15.0),
            (40.0, 25.0),
            (50.0, 11.0),
            (60.0, 99.0),
        ];
        assert!(rose(&values, before, &window, doubled));
        // The interval after the window does not count.
        assert!(!rose(&values[..4], before, &window, doubled));
        // No baseline, no judgement.
        assert!(!rose(&values[3..], before, &window, |_, _| true));
    }

    #[test]
    fn served_calls_share_failures_and_average_completed_latency() {
        let mut served = ServedCalls::default();
        assert!(served.error_share().is_nan());
        assert!(served.completed_latency_mean_ms().is_nan());
        served.record(true, SimDuration::from_millis(10));
        served.record(true, SimDuration::from_millis(30));
        served.record(false, SimDuration::from_secs(100));
        served.record(false, SimDuration::ZERO);
        assert_eq!(served.error_share(), 0.5);
        assert_eq!(served.completed_latency_mean_ms(), 20.0);
    }
}
