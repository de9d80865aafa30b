//! Containment metrics: what each injected fault did to the request classes (blast radius,
//! collateral failures, time to recover, availability), computed at the end of a run from the
//! per-interval SLO record and the time series.

use super::World;
use crate::time::SimTime;

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
}

impl World<'_> {
    /// Fills in each fault's containment metrics from the per-interval SLO record and time series.
    pub(super) fn fault_results(&self) -> Vec<FaultRecord> {
        let app = &self.scenario.app;
        let mut records = self.fault_records.clone();
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
            let in_window =
                |at: f64| at >= start.as_secs_f64() && at <= window_end.as_secs_f64() + 1e-9;
            record.broken_classes = broken;
            record.blast_radius =
                record.broken_classes.len() as f64 / app.classes.len().max(1) as f64;
            let interval = self.scenario.run.metrics_interval.as_secs_f64();
            let total = |subject: &str, metric: &str| -> f64 {
                self.timeseries
                    .iter()
                    .filter(|row| {
                        row.subject == subject
                            && row.metric == metric
                            && in_window(row.time_s)
                            && row.value.is_finite()
                    })
                    .map(|row| row.value * interval)
                    .sum()
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
        }
        records
    }
}
