//! The lessons of `scenarios/rolling-deploy.toml`, asserted from its outputs: a microservice deploy
//! cycles only its own tasks and spares unrelated classes; a monolith deploy cycles every replica
//! and every class feels the dip; a bad deploy trips the circuit breaker and rolls back. And the
//! lesson of `scenarios/bad-deploy.toml`, a bad deploy injected as a fault: the breaker bounds the
//! damage to the deployment's window, without it the damage lasts until the end of the run.

use fleetsim::experiment::run_replications;
use fleetsim::faults::FaultKind;
use fleetsim::model::ReplicationResult;
use fleetsim::scenario;
use std::path::Path;

const ROLLING_DEPLOY: &str = "scenarios/rolling-deploy.toml";
const MONOLITH: [&str; 3] = [
    "app.deployment.mode=monolith",
    "app.rollouts[0].service=monolith",
    "app.deployment.services.monolith.workers=4",
];

fn run(overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(ROLLING_DEPLOY), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds());
    result
}

/// (worst p99 during the deployment, worst p99 in the minute before it) of a class, in ms.
fn p99_during_and_before(result: &ReplicationResult, class: &str) -> (f64, f64) {
    let rollout = &result.rollouts[0];
    let (start, end) = (
        rollout.started.as_secs_f64(),
        rollout.finished.expect("finished").as_secs_f64(),
    );
    let worst = |from: f64, to: f64| {
        result
            .timeseries
            .iter()
            .filter(|row| {
                row.subject == class
                    && row.metric == "latency_p99_ms"
                    && row.time_s > from
                    && row.time_s <= to
            })
            .map(|row| row.value)
            .fold(0.0, f64::max)
    };
    (worst(start, end + 10.0), worst(start - 60.0, start))
}

fn stopped_tasks(result: &ReplicationResult) -> Vec<String> {
    result
        .events
        .iter()
        .filter(|e| e.kind == "task_stopping")
        .map(|e| e.subject.clone())
        .collect()
}

#[test]
fn a_microservice_deploy_cycles_only_its_own_tasks_and_spares_other_classes() {
    let result = run(&[]);
    let rollout = &result.rollouts[0];
    assert_eq!(rollout.outcome, "completed");
    assert_eq!(
        rollout.min_healthy_tasks, 1,
        "minimumHealthyPercent 50 of 2"
    );
    let stopped = stopped_tasks(&result);
    assert_eq!(stopped.len(), 2);
    assert!(
        stopped.iter().all(|task| task.starts_with("cart/")),
        "{stopped:?}"
    );
    let (during, before) = p99_during_and_before(&result, "browse");
    assert!(
        during < 1.5 * before,
        "browse never calls the cart: {during} vs {before} ms"
    );
}

#[test]
fn a_monolith_deploy_cycles_every_replica_and_every_class_feels_it() {
    let result = run(&MONOLITH);
    assert_eq!(result.rollouts[0].outcome, "completed");
    let stopped = stopped_tasks(&result);
    assert_eq!(
        stopped.len(),
        4,
        "every replica of the monolith: {stopped:?}"
    );
    for class in ["browse", "cart", "checkout"] {
        let (during, before) = p99_during_and_before(&result, class);
        assert!(
            during > 2.0 * before,
            "{class}: p99 {during} ms during vs {before} ms before"
        );
    }
}

#[test]
fn a_bad_deploy_trips_the_circuit_breaker_and_rolls_back() {
    let result = run(&["app.rollouts[0].fails_health_check=true"]);
    let rollout = &result.rollouts[0];
    assert_eq!(rollout.outcome, "rolled_back");
    // ECS threshold: max(3, ⌈desired / 2⌉) = 3 for 2 tasks.
    assert_eq!(rollout.new_tasks_failed, 3);
    // The breaker trips on the third failure before a replacement of the bad version is started.
    assert_eq!(rollout.new_tasks_started, 3);
    let kinds: Vec<&str> = result.events.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"deployment_failed") && kinds.contains(&"deployment_rollback"));
    // Back on the old version, the cart serves again: the cart class completes after the rollback.
    let cart = &result.classes[1];
    assert_eq!(cart.class, "cart");
    assert!(cart.completed > 0 && cart.availability > 0.99, "{cart:?}");
    // Without rollback the deployment just fails.
    let failed = run(&[
        "app.rollouts[0].fails_health_check=true",
        "app.rollouts[0].rollback=false",
    ]);
    assert_eq!(failed.rollouts[0].outcome, "failed");
}

const BAD_DEPLOY: &str = "scenarios/bad-deploy.toml";

/// The bad deploy run and its scenario.
fn run_bad_deploy(overrides: &[&str]) -> (ReplicationResult, scenario::Scenario) {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(BAD_DEPLOY), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds());
    (result, loaded.scenario)
}

/// The values of `subject`'s `metric` in the time series, by interval end (seconds).
fn series(result: &ReplicationResult, subject: &str, metric: &str) -> Vec<(f64, f64)> {
    result
        .timeseries
        .iter()
        .filter(|row| row.subject == subject && row.metric == metric)
        .map(|row| (row.time_s, row.value))
        .collect()
}

#[test]
fn the_deployment_circuit_breaker_bounds_a_bad_deploy_and_rolls_it_back() {
    let (with, scenario) = run_bad_deploy(&[]);
    let (without, _) = run_bad_deploy(&["faults[0].circuit_breaker=false"]);
    let FaultKind::BadDeploy { service, rollout } = scenario.faults[0].kind else {
        panic!("the scenario's fault is a bad deploy");
    };
    let name = &scenario.app.services[service].name;
    let desired = scenario.app.services[service].replicas;
    // What the scenario implies: ECS keeps ⌈desired × minimum_healthy_percent⌉ healthy tasks, and
    // the breaker trips at 50 % of the desired count, at least 3 (at most 200) failed tasks.
    let (min_healthy, _) = scenario.app.rollouts[rollout].strategy.bounds(desired);
    let threshold = desired.div_ceil(2).clamp(3, 200);
    let interval_s = scenario.run.metrics_interval.as_secs_f64();
    let end_s = scenario.run.duration.as_secs_f64();
    let healthy_at_end = |result: &ReplicationResult| {
        series(result, name, "replicas").last().expect("samples").1 as u32
    };
    for result in [&with, &without] {
        assert_eq!(result.rollouts[0].min_healthy_tasks, min_healthy);
        let fault = &result.faults[0];
        assert_eq!(
            (fault.kind, fault.target.as_str()),
            ("bad_deploy", name.as_str())
        );
        // Only the class that calls the service breaks: browse goes on (the gateway does not block).
        assert_eq!(fault.broken_classes, ["order"]);
        assert_eq!(fault.collateral_failures, 0.0);
        assert_eq!(result.classes[0].failed, 0, "browse");
        assert!(result.classes[1].failed > 0, "order");
    }
    // With the breaker: the deployment fails at the threshold and rolls back; the fault's window is
    // the deployment's; after it, no order fails and the service is back to its desired count.
    let deployment = &with.rollouts[0];
    assert_eq!(deployment.outcome, "rolled_back");
    assert_eq!(deployment.new_tasks_failed, threshold);
    let fault = &with.faults[0];
    assert_eq!(Some(fault.ended), deployment.finished);
    assert!(fault.time_to_recover_s.is_finite(), "{fault:?}");
    let after_window = fault.ended.as_secs_f64() + interval_s;
    for (at, failed) in series(&with, "order", "failed_rps") {
        assert!(
            at < after_window || failed == 0.0,
            "{failed} failed/s at {at} s"
        );
    }
    assert_eq!(healthy_at_end(&with), desired);
    // Without it: the rollout stalls on the minimum, overloaded, until the end of the run.
    assert_eq!(without.rollouts[0].outcome, "in_progress");
    assert!(without.rollouts[0].new_tasks_failed > threshold);
    let fault = &without.faults[0];
    assert_eq!(fault.ended.as_secs_f64(), end_s);
    assert!(
        fault.time_to_recover_s.is_nan(),
        "never recovers: {fault:?}"
    );
    let last_failures = series(&without, "order", "failed_rps").last().unwrap().1;
    assert!(last_failures > 0.0, "still failing at the end");
    assert_eq!(healthy_at_end(&without), min_healthy);
    assert!(with.classes[1].failed < without.classes[1].failed);
}

#[test]
fn an_erroring_deploy_passes_the_breaker_and_a_deployment_alarm_rolls_it_back() {
    // The version answers 30 % of its calls with an error but passes its health checks.
    const ERRORING: [&str; 2] = [
        "faults[0].fails_health_check=false",
        "faults[0].error_rate=0.3",
    ];
    const ALARM: &str = "faults[0].alarm={ error_rate = 0.05 }";
    let (unwatched, _) = run_bad_deploy(&ERRORING);
    let (watched, scenario) = run_bad_deploy(&[ERRORING[0], ERRORING[1], ALARM]);
    // The circuit breaker counts failed tasks only: the erroring version completes and the order
    // class never recovers.
    assert_eq!(unwatched.rollouts[0].outcome, "completed");
    assert!(unwatched.faults[0].time_to_recover_s.is_nan());
    // The alarm (error share above 5 % in a one-minute period) goes off at the end of the first
    // period and the deployment rolls back.
    let alarm = scenario.app.rollouts[0].alarm.expect("the alarm is set");
    let start = watched.rollouts[0].started;
    let failed_at = watched
        .events
        .iter()
        .find(|e| e.kind == "deployment_failed")
        .expect("the alarm fails the deployment")
        .time;
    assert_eq!(failed_at, start + alarm.period);
    assert_eq!(watched.rollouts[0].outcome, "rolled_back");
    assert!(watched.faults[0].time_to_recover_s.is_finite());
    assert!(watched.classes[1].failed * 5 < unwatched.classes[1].failed);
}

#[test]
fn with_an_alarm_a_good_deployment_bakes_before_it_completes() {
    let plain = run(&[]);
    let watched = run(&[
        "app.rollouts[0].alarm={ error_rate = 0.5, period = \"30s\", evaluation_periods = 2 }",
    ]);
    // The same tasks are replaced; then the deployment stays in progress for period × evaluation
    // periods, and completes at the first evaluation after that.
    let (bake_s, period_s) = (60.0, 30.0);
    let done = |result: &ReplicationResult| result.rollouts[0].finished.unwrap().as_secs_f64();
    assert_eq!(watched.rollouts[0].outcome, "completed");
    assert!(done(&watched) >= done(&plain) + bake_s);
    assert!(done(&watched) < done(&plain) + bake_s + period_s);
}
