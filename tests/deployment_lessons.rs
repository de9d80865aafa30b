//! The lessons of `scenarios/rolling-deploy.toml`, asserted from its outputs: a microservice deploy
//! cycles only its own tasks and spares unrelated classes; a monolith deploy cycles every replica
//! and every class feels the dip; a bad deploy trips the circuit breaker and rolls back.

use fleetsim::experiment::run_replications;
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
