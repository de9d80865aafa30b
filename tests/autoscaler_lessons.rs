//! The lessons of `scenarios/hpa-vs-target-tracking.toml`, asserted from its outputs: the Kubernetes
//! HPA reacts to a load step within tens of seconds and target tracking only after minutes of
//! datapoints, so the HPA reaches capacity sooner and breaks the SLO for fewer minutes; both scale in
//! later than they scale out; and at steady load the HPA converges to ⌈current × utilization /
//! target⌉.

use fleetsim::experiment::run_replications;
use fleetsim::model::ReplicationResult;
use fleetsim::policy::autoscale::{
    AutoscalerSpec, HpaSpec, SCALE_IN_DATAPOINTS, SCALE_OUT_DATAPOINTS,
};
use fleetsim::scenario::{self, Scenario};
use fleetsim::time::SimDuration;
use fleetsim::workload::RateProfile;
use std::path::Path;
use std::sync::OnceLock;

const SCENARIO: &str = "scenarios/hpa-vs-target-tracking.toml";
const SERVICE: &str = "api";
const TARGET_TRACKING: &str = "app.components.api.autoscaling.policy=target_tracking";

/// A run of the scenario with `overrides`: the validated scenario and its one replication.
struct Run {
    scenario: Scenario,
    result: ReplicationResult,
}

fn run(overrides: &[&str]) -> Run {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = scenario::load(Path::new(SCENARIO), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds());
    Run {
        scenario: loaded.scenario,
        result,
    }
}

/// The scenario as written (the HPA), run once for every test that needs it.
fn hpa() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run(&[]))
}

/// The same with ECS target tracking, run once.
fn target_tracking() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| run(&[TARGET_TRACKING]))
}

/// The autoscaler of the scenario's service and its datapoints' publication delay.
fn autoscaler(run: &Run) -> (&AutoscalerSpec, SimDuration) {
    let service = run
        .scenario
        .app
        .services
        .iter()
        .find(|s| s.name == SERVICE)
        .expect("the service exists");
    let scaling = service.scaling.as_ref().expect("the service autoscales");
    (&scaling.autoscaler, scaling.publish_delay)
}

/// (step start, step end) in seconds, from the scenario's spike profile.
fn step(run: &Run) -> (f64, f64) {
    match &run.scenario.workload.profile {
        RateProfile::Spike {
            start,
            ramp_up,
            hold,
            ramp_down,
            peak_factor,
        } => {
            assert!(*peak_factor > 1.0, "a step up");
            assert_eq!(*ramp_up, SimDuration::ZERO, "a step, not a ramp");
            assert_eq!(*ramp_down, SimDuration::ZERO, "a step, not a ramp");
            let start = start.as_secs_f64();
            (start, start + hold.as_secs_f64())
        }
        other => panic!("expected a spike profile, got {other:?}"),
    }
}

/// A `scale_decision` event of the service: (time in seconds, from, to).
fn decisions(run: &Run) -> Vec<(f64, u32, u32)> {
    run.result
        .events
        .iter()
        .filter(|event| event.kind == "scale_decision" && event.subject == SERVICE)
        .map(|event| {
            let count = |key: &str| -> u32 {
                event
                    .detail
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix(key))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("`{key}` in {:?}", event.detail))
            };
            (event.time.as_secs_f64(), count("from="), count("to="))
        })
        .collect()
}

/// Seconds from `after` until the first decision of the service in `direction` ("out" or "in").
fn first_decision_after(run: &Run, direction: &str, after: f64) -> f64 {
    decisions(run)
        .into_iter()
        .filter(|&(time, from, to)| time >= after && (to > from) == (direction == "out"))
        .map(|(time, _, _)| time - after)
        .next()
        .unwrap_or_else(|| panic!("no scale-{direction} after {after} s"))
}

#[test]
fn the_runs_use_the_autoscalers_the_lesson_is_about() {
    let (hpa_spec, hpa_delay) = autoscaler(hpa());
    let (tt_spec, tt_delay) = autoscaler(target_tracking());
    assert!(matches!(hpa_spec, AutoscalerSpec::Hpa(_)), "{hpa_spec}");
    assert!(
        matches!(tt_spec, AutoscalerSpec::TargetTracking(_)),
        "{tt_spec}"
    );
    // 15 s datapoints published 15 s late against one-minute datapoints published a minute late.
    assert!(hpa_spec.metric() == tt_spec.metric() && hpa_spec.bounds() == tt_spec.bounds());
    assert!(hpa_delay < tt_delay, "{hpa_delay} vs {tt_delay}");
    // The same arrivals in both runs (common random numbers): only the autoscaler differs. (The
    // request digest also covers the demands of the hops that were served, and target tracking
    // rejects more requests, so it differs.)
    assert_eq!(
        hpa().result.conservation.offered,
        target_tracking().result.conservation.offered
    );
}

#[test]
fn the_hpa_decides_to_scale_out_within_tens_of_seconds_target_tracking_after_minutes() {
    let (start, _) = step(hpa());
    let hpa_after = first_decision_after(hpa(), "out", start);
    let tt_after = first_decision_after(target_tracking(), "out", start);
    assert!(
        hpa_after < tt_after,
        "HPA after {hpa_after} s, target tracking after {tt_after} s"
    );
    // The HPA: the datapoint covering the step, its publication delay, then the next sync.
    let (spec, delay) = autoscaler(hpa());
    let AutoscalerSpec::Hpa(hpa_spec) = spec else {
        unreachable!()
    };
    let hpa_bound = (hpa_spec.metric_period + delay + hpa_spec.sync_period).as_secs_f64();
    assert!(hpa_after <= hpa_bound, "{hpa_after} s > {hpa_bound} s");
    assert!(hpa_after < 60.0, "tens of seconds, not {hpa_after} s");
    // Target tracking: 3 whole datapoints above the target, the last one published late.
    let (spec, delay) = autoscaler(target_tracking());
    let AutoscalerSpec::TargetTracking(tt_spec) = spec else {
        unreachable!()
    };
    let tt_bound =
        tt_spec.metric_period.as_secs_f64() * SCALE_OUT_DATAPOINTS as f64 + delay.as_secs_f64();
    assert!(tt_after >= tt_bound, "{tt_after} s < {tt_bound} s");
    assert!(tt_after >= 180.0, "minutes, not {tt_after} s");
}

#[test]
fn the_hpa_reaches_capacity_sooner() {
    let hpa_s = hpa().result.cluster.time_to_capacity_p50_s;
    let tt_s = target_tracking().result.cluster.time_to_capacity_p50_s;
    assert!(hpa_s.is_finite() && tt_s.is_finite(), "{hpa_s} / {tt_s}");
    assert!(hpa_s < tt_s, "HPA {hpa_s} s vs target tracking {tt_s} s");
    // And it holds the count the step needs sooner: the first time the desired count reaches the
    // largest it reaches during the step.
    let (start, end) = step(hpa());
    let peak_reached = |run: &Run| {
        let during: Vec<(f64, u32, u32)> = decisions(run)
            .into_iter()
            .filter(|&(time, _, _)| time >= start && time < end)
            .collect();
        let peak = during.iter().map(|&(_, _, to)| to).max().expect("scaled");
        during
            .iter()
            .find(|&&(_, _, to)| to == peak)
            .map(|&(time, _, _)| time - start)
            .unwrap()
    };
    let (hpa_peak, tt_peak) = (peak_reached(hpa()), peak_reached(target_tracking()));
    assert!(hpa_peak < tt_peak, "HPA {hpa_peak} s vs {tt_peak} s");
}

#[test]
fn the_hpa_breaks_the_slo_for_fewer_minutes() {
    let hpa_class = &hpa().result.classes[0];
    let tt_class = &target_tracking().result.classes[0];
    assert!(
        hpa_class.slo_violation_minutes <= tt_class.slo_violation_minutes,
        "HPA {} min vs target tracking {} min",
        hpa_class.slo_violation_minutes,
        tt_class.slo_violation_minutes
    );
    // Target tracking leaves 3 tasks overloaded for minutes: the SLO breaks.
    assert!(tt_class.slo_violation_minutes > 0.0);
    assert!(
        hpa_class.spike_absorption_s < tt_class.spike_absorption_s,
        "{} s vs {} s",
        hpa_class.spike_absorption_s,
        tt_class.spike_absorption_s
    );
}

#[test]
fn both_scale_in_later_than_they_scale_out() {
    let (start, end) = step(hpa());
    for (name, run) in [("hpa", hpa()), ("target tracking", target_tracking())] {
        let out = first_decision_after(run, "out", start);
        let inward = first_decision_after(run, "in", end);
        assert!(
            inward > out,
            "{name}: scale-in {inward} s after the step ends, scale-out {out} s after it starts"
        );
    }
    // The HPA waits out its stabilization window; target tracking its 15 low datapoints.
    let (spec, _) = autoscaler(hpa());
    let AutoscalerSpec::Hpa(hpa_spec) = spec else {
        unreachable!()
    };
    let hpa_in = first_decision_after(hpa(), "in", end);
    assert!(
        hpa_in >= hpa_spec.scale_down_stabilization.as_secs_f64(),
        "HPA scale-in {hpa_in} s after the step"
    );
    let (spec, delay) = autoscaler(target_tracking());
    let AutoscalerSpec::TargetTracking(tt_spec) = spec else {
        unreachable!()
    };
    let tt_in = first_decision_after(target_tracking(), "in", end);
    let low_datapoints =
        tt_spec.metric_period.as_secs_f64() * SCALE_IN_DATAPOINTS as f64 + delay.as_secs_f64();
    assert!(
        tt_in >= low_datapoints,
        "target tracking scale-in {tt_in} s after the step, < {low_datapoints} s"
    );
    assert!(
        hpa_in < tt_in,
        "HPA {hpa_in} s vs target tracking {tt_in} s"
    );
    // Both give back what the step needed: back to ⌈busy workers at the base load / (workers ×
    // target)⌉ tasks.
    for (name, run) in [("hpa", hpa()), ("target tracking", target_tracking())] {
        let (spec, _) = autoscaler(run);
        let target = match spec {
            AutoscalerSpec::Hpa(spec) => spec.target,
            AutoscalerSpec::TargetTracking(spec) => spec.target,
            _ => unreachable!(),
        };
        let (busy_workers, workers) = load(&run.scenario);
        let base_needs = (busy_workers / (workers * target)).ceil() as u32;
        let last = decisions(run).last().map(|&(_, _, to)| to).unwrap();
        assert_eq!(last, base_needs, "{name}: {:?}", decisions(run));
    }
}

/// (busy workers the base load keeps, workers per task) of the service: offered load × mean
/// service time, and its workers.
fn load(scenario: &Scenario) -> (f64, f64) {
    let service = &scenario.app.services[0];
    assert_eq!(service.name, SERVICE);
    let component = &scenario.app.components[service.components[0]];
    let busy_workers =
        scenario.workload.base_rate_per_sec * component.service_time.mean_nanos() / 1e9;
    (busy_workers, f64::from(service.workers))
}

#[test]
fn at_steady_load_the_hpa_converges_to_current_times_utilization_over_target() {
    // A constant load that keeps 4 tasks 70 % busy, no step.
    let steady = run(&[
        "workload.profile={ kind = \"constant\" }",
        "workload.rate=560/s",
        "app.components.api.replicas=4",
        "run.duration=12m",
    ]);
    let scenario = &steady.scenario;
    let (spec, _) = autoscaler(&steady);
    let AutoscalerSpec::Hpa(HpaSpec {
        target, tolerance, ..
    }) = *spec
    else {
        panic!("the scenario scales with an HPA: {spec}")
    };
    // Offered load × service time = busy workers; over all the workers of `current` tasks.
    let (busy_workers, workers) = load(scenario);
    let current = scenario.app.services[0].replicas;
    let utilization = busy_workers / (f64::from(current) * workers);
    assert!(
        utilization < 1.0 && (utilization / target - 1.0).abs() > tolerance,
        "the load must be served and call for a change: {utilization}"
    );
    let expected = (f64::from(current) * utilization / target).ceil() as u32;
    assert_ne!(expected, current);
    // At the expected count the ratio is within the tolerance: nothing moves it from there.
    let settled = busy_workers / (f64::from(expected) * workers) / target;
    assert!((settled - 1.0).abs() <= tolerance, "ratio {settled}");

    let decisions = decisions(&steady);
    let &(first_at, from, to) = decisions.first().expect("the HPA acts");
    assert_eq!((from, to), (current, expected), "{decisions:?}");
    assert!(first_at <= 60.0, "first decision at {first_at} s");
    let &(last_at, _, last) = decisions.last().unwrap();
    assert_eq!(last, expected, "{decisions:?}");
    let end = scenario.run.duration.as_secs_f64();
    assert!(
        end - last_at >= 180.0,
        "settled for the last minutes: last decision at {last_at} s of {end} s"
    );
    // The datapoints the HPA read at the end agree: utilization within the tolerance of the target.
    let tail: Vec<f64> = steady
        .result
        .timeseries
        .iter()
        .filter(|row| {
            row.metric == "autoscaler_metric"
                && row.subject == SERVICE
                && row.time_s > last_at + 60.0
        })
        .map(|row| row.value)
        .collect();
    assert!(tail.len() >= 4, "{} datapoints", tail.len());
    let mean = tail.iter().sum::<f64>() / tail.len() as f64;
    assert!(
        (mean / target - 1.0).abs() <= tolerance,
        "measured {mean} vs target {target}"
    );
}
