//! End-to-end properties of the request model: determinism across thread counts, common random
//! numbers across deployments and policies, and request conservation under random configurations.

use fleetsim::experiment::run_replications;
use fleetsim::model::ReplicationResult;
use fleetsim::scenario::{self, Loaded};
use proptest::prelude::*;
use std::path::Path;
use std::process::Command;

const QUICKSTART: &str = "scenarios/quickstart.toml";

fn load(file: &str, overrides: &[&str]) -> Loaded {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    scenario::load(Path::new(file), &overrides).unwrap_or_else(|e| panic!("{e}"))
}

fn run(loaded: &Loaded) -> Vec<ReplicationResult> {
    let results = run_replications(&loaded.scenario, Some(2), &|_, _| {}).expect("thread pool");
    for result in &results {
        assert!(result.conservation.holds(), "{:?}", result.conservation);
    }
    results
}

fn run_binary(scenario: &str, out: &Path, jobs: &str, overrides: &[&str]) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetsim"));
    command
        .args(["run", scenario, "--quiet", "--jobs", jobs, "--out"])
        .arg(out);
    for flag in overrides {
        command.args(["--set", flag]);
    }
    assert!(command.status().expect("the binary runs").success());
}

const OUTPUT_FILES: [&str; 8] = [
    "summary.csv",
    "timeseries.csv",
    "events.csv",
    "placement.csv",
    "scaling.csv",
    "deployments.csv",
    "faults.csv",
    "manifest.json",
];

fn assert_identical_across_thread_counts(scenario: &str, overrides: &[&str]) {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    run_binary(scenario, first.path(), "1", overrides);
    run_binary(scenario, second.path(), "2", overrides);
    for file in OUTPUT_FILES {
        let a = std::fs::read(first.path().join(file)).unwrap();
        let b = std::fs::read(second.path().join(file)).unwrap();
        assert!(!a.is_empty(), "{scenario}: {file} is empty");
        assert!(
            a == b,
            "{scenario}: {file} differs between --jobs 1 and --jobs 2"
        );
    }
}

#[test]
fn quickstart_outputs_are_byte_identical_across_runs_and_thread_counts() {
    assert_identical_across_thread_counts(QUICKSTART, &[]);
}

#[test]
fn scaling_and_deployment_outputs_are_byte_identical_across_thread_counts() {
    // Service and cluster autoscaling, node boots, pulls and drains, in two replications.
    assert_identical_across_thread_counts(
        "scenarios/flash-crowd.toml",
        &[
            "run.replications=2",
            "cluster.autoscaler={ policy = \"cluster_autoscaler\" }",
            "cluster.node_groups.spare.count=1",
            "cluster.node_groups.spare.min=1",
        ],
    );
    // A bad deploy's circuit breaker and rollback.
    assert_identical_across_thread_counts(
        "scenarios/rolling-deploy.toml",
        &[
            "run.replications=2",
            "app.rollouts[0].fails_health_check=true",
        ],
    );
}

#[test]
fn fault_and_resilience_outputs_are_byte_identical_across_thread_counts() {
    // Random crashes and zone outages (drawn per replication), lost tasks that hang, outlier
    // ejection, throttling, a bulkhead, shedding and retries, in three replications.
    assert_identical_across_thread_counts(
        QUICKSTART,
        &[
            "run.replications=3",
            "faults=[{ kind = \"container_crash\", service = \"payment\", every = { dist = \"exponential\", mean = \"40s\" } }, { kind = \"zone_outage\", zone = \"us-east-1a\", every = \"2m\", duration = { dist = \"exponential\", mean = \"20s\" } }]",
            "cluster.tasks.lost_task_calls=hang",
            "app.deployment.outlier_detection={ max_ejection_percent = 50 }",
            "app.components.checkout.resilience={ timeout = \"300ms\", max_attempts = 3, max_concurrent_calls = 8, adaptive_throttling = 2 }",
            "app.components.catalog.max_queue_time=50ms",
        ],
    );
}

/// Arrivals stop at 60 s and the run lasts 90 s, so every request finishes whatever the deployment:
/// the digests then cover the whole request stream, every drawn service demand included.
const DRAINED: [&str; 2] = [
    "run.duration=90s",
    "workload.profile={ kind = \"steps\", points = [{ at = \"60s\", rate = \"0/s\" }] }",
];

fn digests(extra: &[&str]) -> Vec<(u64, u64)> {
    let overrides: Vec<&str> = DRAINED.iter().chain(extra).copied().collect();
    run(&load(QUICKSTART, &overrides))
        .iter()
        .map(|result| {
            assert_eq!(result.conservation.in_flight, 0, "the run must drain");
            assert_eq!(
                result.conservation.failed, 0,
                "a failed call skips the demands below it"
            );
            (result.conservation.offered, result.request_digest)
        })
        .collect()
}

#[test]
fn monolith_and_microservices_see_the_same_request_stream() {
    let microservices = digests(&["app.deployment.mode=microservices"]);
    let monolith = digests(&["app.deployment.mode=monolith"]);
    let groups = digests(&[
        "app.deployment.mode=groups",
        // No service-level cycle: web → shop only (a cycle such as web → orders → web can deadlock
        // blocking workers, which is the model working as specified, not what this test is about).
        "app.deployment.groups={ web = [\"frontend\"], shop = [\"catalog\", \"cart\", \"checkout\", \"payment\"] }",
        // Enough workers that nothing is rejected: a rejected call draws no further demands.
        "app.deployment.services.shop.workers=64",
    ]);
    assert_eq!(microservices, monolith);
    assert_eq!(microservices, groups);
}

#[test]
fn policy_and_replica_changes_do_not_shift_the_workload() {
    let baseline = digests(&[]);
    assert_eq!(
        baseline,
        digests(&["app.deployment.balancer=power_of_two_choices"])
    );
    assert_eq!(
        baseline,
        digests(&[
            "app.deployment.balancer=random",
            "app.components.catalog.replicas=5"
        ])
    );
}

#[test]
fn the_digest_does_see_a_different_stream() {
    assert_ne!(digests(&[]), digests(&["run.seed=43"]));
    assert_ne!(
        digests(&[]),
        digests(&["app.components.payment.service_time.mean=41ms"])
    );
}

#[test]
fn monolith_latency_saves_the_hops() {
    // Same requests; the monolith makes no remote calls, so browse (one remote call as microservices)
    // is faster by about two hop latencies at the median.
    let micro = run(&load(QUICKSTART, &[]));
    let mono = run(&load(QUICKSTART, &["app.deployment.mode=monolith"]));
    let p50 = |results: &[ReplicationResult]| results[0].classes[0].latency_p50_ms;
    assert!(p50(&mono) < p50(&micro));
}

#[test]
fn overload_rejects_and_still_accounts_for_every_request() {
    let results = run(&load(
        QUICKSTART,
        &[
            "app.components.payment.replicas=1",
            "app.components.payment.queue_limit=5",
        ],
    ));
    let checkout = &results[0].classes[2];
    assert_eq!(checkout.class, "checkout");
    assert!(checkout.failed_rejected > 0, "payment must overflow");
    for row in &results[0].classes {
        assert_eq!(
            row.offered,
            row.completed + row.failed + row.in_flight,
            "{row:?}"
        );
    }
}

#[test]
fn a_service_without_replicas_fails_its_callers_only() {
    let results = run(&load(QUICKSTART, &["app.components.payment.replicas=0"]));
    let classes = &results[0].classes;
    assert_eq!(classes[0].failed, 0, "browse never calls payment");
    assert_eq!(classes[2].completed, 0, "checkout always calls payment");
    assert_eq!(classes[2].failed_no_replica, classes[2].failed);
}

fn random_scenario(
    mode: &str,
    workers: u32,
    queue_limit: u32,
    replicas: u32,
    rate: u32,
    balancer: &str,
    non_blocking: bool,
) -> Vec<String> {
    vec![
        "run.duration=20s".into(),
        "run.warmup=2s".into(),
        "run.replications=2".into(),
        format!("app.deployment.mode={mode}"),
        format!("app.deployment.balancer={balancer}"),
        format!("app.deployment.replicas={replicas}"),
        format!("app.components.frontend.non_blocking={non_blocking}"),
        format!("app.components.payment.workers={workers}"),
        format!("app.components.payment.queue_limit={queue_limit}"),
        format!("app.components.catalog.workers={workers}"),
        format!("app.components.catalog.queue_limit={queue_limit}"),
        format!("workload.rate=\"{rate}/s\""),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every request ends exactly once (the model asserts no double ending), a dead task never
    /// serves (asserted where work starts), and offered = completed + failed + in flight, overall
    /// and per class, whatever the configuration.
    #[test]
    fn every_request_is_accounted_for(
        mode in prop::sample::select(vec!["monolith", "microservices"]),
        workers in 1u32..6,
        queue_limit in 0u32..20,
        replicas in 0u32..3,
        rate in 50u32..3000,
        balancer in prop::sample::select(vec!["round_robin", "random", "least_outstanding", "power_of_two_choices"]),
        non_blocking in any::<bool>(),
        timeout_ms in prop::option::of(5u32..300),
        max_attempts in 1u32..4,
        breaker in any::<bool>(),
        crash_at_s in prop::option::of(3u32..18),
        (bulkhead, shed_ms, outlier, node_crash, throttling, hang) in (
            prop::option::of(1u32..5),
            prop::option::of(1u32..100),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
    ) {
        let mut overrides = random_scenario(mode, workers, queue_limit, replicas, rate, balancer, non_blocking);
        // Timeouts, retries and a breaker on calls to payment; a crash of a payment task.
        let timeout = timeout_ms.map_or(String::new(), |ms| format!("timeout = \"{ms}ms\", "));
        let breaker = if breaker { ", circuit_breaker = { failure_rate = 0.5, window = 10 }" } else { "" };
        let bulkhead = bulkhead.map_or(String::new(), |limit| format!(", max_concurrent_calls = {limit}"));
        let throttling = if throttling { ", adaptive_throttling = 1.5" } else { "" };
        overrides.push(format!("app.components.payment.resilience={{ {timeout}max_attempts = {max_attempts}{breaker}{bulkhead}{throttling} }}"));
        // Load shedding on the catalog, outlier ejection everywhere.
        if let Some(ms) = shed_ms {
            overrides.push(format!("app.components.catalog.max_queue_time=\"{ms}ms\""));
        }
        if outlier {
            overrides.push("app.deployment.outlier_detection={ consecutive_errors = 2, base_ejection_time = \"1s\", max_ejection_percent = 50 }".into());
        }
        // A crashed payment task, or a lost node (its tasks stay in rotation until found).
        match (crash_at_s, mode, node_crash) {
            (Some(at), _, true) => overrides.push(format!("faults=[{{ kind = \"node_crash\", node = 0, at = \"{at}s\" }}]")),
            (Some(at), "microservices", false) => overrides.push(format!("faults=[{{ kind = \"container_crash\", service = \"payment\", at = \"{at}s\" }}]")),
            _ => {}
        }
        overrides.push("cluster.tasks.health_check_interval=\"2s\"".into());
        if hang {
            overrides.push("cluster.tasks.lost_task_calls=hang".into());
        }
        // Drop the per-component replicas so the deployment default applies to every service.
        for component in ["frontend", "catalog", "cart", "checkout", "payment"] {
            overrides.push(format!("app.deployment.services.{}.replicas={replicas}", if mode == "monolith" { "monolith" } else { component }));
            if mode == "monolith" { break; }
        }
        let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
        let loaded = scenario::parse(Path::new(QUICKSTART), &std::fs::read_to_string(QUICKSTART).unwrap(), &overrides.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let loaded = match loaded {
            Ok(loaded) => loaded,
            // Too many replicas for the cluster is a validation error, not a model failure.
            Err(error) => { prop_assert!(error.to_string().contains("fits on no node"), "{error}"); return Ok(()); }
        };
        for result in run(&loaded) {
            prop_assert!(result.conservation.holds());
            for row in &result.classes {
                prop_assert_eq!(row.offered, row.completed + row.failed + row.in_flight);
            }
        }
    }
}

/// One replica with one worker; every request needs 1 ms of `api` work and then an in-process call
/// to `slow` (1 s). However `api` waits, the single worker can finish at most one request per 1.001 s.
fn single_worker_monolith(non_blocking: bool) -> ReplicationResult {
    let text = format!(
        r#"
[run]
duration = "100s"

[[app.components]]
name = "api"
workers = 1
queue_limit = 5
non_blocking = {non_blocking}
service_time = {{ dist = "constant", value = "1ms" }}

[[app.components]]
name = "slow"
service_time = {{ dist = "constant", value = "1s" }}

[[app.classes]]
name = "get"
entry = "api"
calls = [{{ to = "slow" }}]

[app.deployment]
mode = "monolith"
services.monolith.workers = 1
services.monolith.queue_limit = 5

[workload]
rate = "10/s"
"#
    );
    let loaded = scenario::parse(Path::new("single-worker.toml"), &text, &[])
        .unwrap_or_else(|e| panic!("{e}"));
    run(&loaded).remove(0)
}

#[test]
fn in_process_work_always_needs_a_worker() {
    for non_blocking in [false, true] {
        let result = single_worker_monolith(non_blocking);
        let all = result.classes.last().unwrap();
        let capacity = (100.0 / 1.001_f64).floor() as u64 + 1;
        assert!(
            all.completed <= capacity,
            "non_blocking={non_blocking}: {} completed > {capacity}",
            all.completed
        );
        assert!(
            all.completed >= capacity - 2,
            "non_blocking={non_blocking}: the worker should stay busy"
        );
        assert!(
            all.failed_rejected > 800,
            "non_blocking={non_blocking}: the overload must be rejected"
        );
    }
}

#[test]
fn blocking_service_cycles_are_detected() {
    let cyclic = load(
        QUICKSTART,
        &[
            "app.deployment.mode=groups",
            "app.deployment.groups={ web = [\"frontend\", \"catalog\"], orders = [\"cart\", \"checkout\", \"payment\"] }",
        ],
    );
    let cycle = cyclic
        .scenario
        .app
        .blocking_service_cycle()
        .expect("web → orders → web");
    let names: Vec<&str> = cycle
        .iter()
        .map(|&s| cyclic.scenario.app.services[s].name.as_str())
        .collect();
    assert_eq!(names.first(), names.last());
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        load(QUICKSTART, &[])
            .scenario
            .app
            .blocking_service_cycle()
            .is_none()
    );
    assert!(
        load(QUICKSTART, &["app.deployment.mode=monolith"])
            .scenario
            .app
            .blocking_service_cycle()
            .is_none()
    );
}

#[test]
fn a_non_blocking_component_on_a_blocking_callers_worker_still_blocks() {
    // web = {frontend, catalog}; orders = {cart (non-blocking), checkout, payment}. Checkout calls
    // cart in-process, so cart runs on checkout's held worker and its call to catalog (in web) holds
    // that worker: orders → web. With frontend → checkout (web → orders) that closes a cycle.
    let cyclic = load(
        QUICKSTART,
        &[
            "app.deployment.mode=groups",
            "app.deployment.groups={ web = [\"frontend\", \"catalog\"], orders = [\"cart\", \"checkout\", \"payment\"] }",
            "app.components.cart.non_blocking=true",
            "app.classes.checkout.calls=[{ to = \"checkout\", calls = [{ to = \"cart\", calls = [{ to = \"catalog\" }] }] }]",
            "app.classes.cart.calls=[{ to = \"catalog\" }]",
        ],
    );
    // web → orders (frontend → checkout) and orders → web (cart on checkout's worker → catalog).
    assert!(cyclic.scenario.app.blocking_service_cycle().is_some());
}
