//! A user-written autoscaler — a schedule: 6 tasks during a known busy window, 2 otherwise —
//! registered by name and used from a scenario file.

use fleetsim::experiment::run_replications_with;
use fleetsim::model::Registries;
use fleetsim::policy::autoscale::{ScaleDecision, ScalingMetric, ScalingView, ServiceAutoscaler};
use fleetsim::scenario;
use fleetsim::time::{SimDuration, SimTime};
use std::path::Path;

// ---- the custom autoscaler (23 lines) ----
/// Scales ahead of a known busy window instead of reacting to metrics.
#[derive(Debug)]
struct Scheduled;

impl ServiceAutoscaler for Scheduled {
    fn metric(&self) -> ScalingMetric {
        ScalingMetric::CpuUtilization
    }
    fn metric_period(&self) -> SimDuration {
        SimDuration::from_secs(60)
    }
    fn evaluation_interval(&self) -> SimDuration {
        SimDuration::from_secs(30)
    }
    fn evaluate(&mut self, view: &ScalingView<'_>) -> Option<ScaleDecision> {
        let busy = (SimTime(600_000_000_000)..SimTime(1_200_000_000_000)).contains(&view.now);
        let desired = if busy { 6 } else { 2 };
        (desired != view.desired).then(|| ScaleDecision {
            desired,
            reason: format!("schedule: busy={busy}"),
        })
    }
}
// ---- end of the custom autoscaler ----

const SCENARIO: &str = r#"
[run]
duration = "30m"

[[app.components]]
name = "api"
replicas = 2
workers = 4
service_time = { dist = "exponential", mean = "20ms" }
autoscaling = { policy = "scheduled" }

[[app.classes]]
name = "get"
entry = "api"

[workload]
rate = "100/s"
"#;

#[test]
fn a_scheduled_autoscaler_from_a_scenario_scales_ahead_of_the_window() {
    let mut registries = Registries::default();
    registries
        .autoscale
        .register("scheduled", || Box::new(Scheduled));
    let loaded = scenario::parse_with(Path::new("scheduled.toml"), SCENARIO, &[], &registries)
        .unwrap_or_else(|e| panic!("{e}"));
    let results =
        run_replications_with(&loaded.scenario, &registries, Some(1), &|_, _| {}).unwrap();
    // One row per new task for scale-outs: keep one per action.
    let mut decisions: Vec<(f64, u32, u32)> = results[0]
        .scaling
        .iter()
        .map(|row| {
            (
                row.scale.decision.as_secs_f64(),
                row.scale.from,
                row.scale.to,
            )
        })
        .collect();
    decisions.dedup();
    assert_eq!(decisions, vec![(600.0, 2, 6), (1200.0, 6, 2)]);
}

#[test]
fn an_unregistered_autoscaler_is_a_located_error() {
    let error = scenario::parse(Path::new("scheduled.toml"), SCENARIO, &[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("scheduled.toml:10:"), "{error}");
    assert!(error.contains("unknown autoscaler `scheduled`"), "{error}");
}
