//! The lesson of `scenarios/monolith-vs-microservices.toml`, asserted from its outputs: the same
//! memory leak in one component takes down every request class of a monolith, but only the classes
//! that call the component when it runs as its own service — on the same request stream.

use fleetsim::experiment::run_replications;
use fleetsim::model::ReplicationResult;
use fleetsim::scenario;
use std::path::Path;

const SCENARIO: &str = "scenarios/monolith-vs-microservices.toml";

fn run(overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = scenario::load(Path::new(SCENARIO), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds());
    result
}

#[test]
fn a_leak_in_one_component_is_contained_by_microservices_but_not_by_a_monolith() {
    let micro = run(&[]);
    let mono = run(&[
        "app.deployment.mode=monolith",
        "app.deployment.services.monolith.workers=4",
    ]);
    // The same requests arrive in both (common random numbers).
    assert_eq!(micro.conservation.offered, mono.conservation.offered);
    let failed = |result: &ReplicationResult, class: usize| result.classes[class].failed;
    // Microservices: browse never touches the cart and never fails; cart and checkout do.
    assert_eq!(failed(&micro, 0), 0, "browse is contained");
    assert!(failed(&micro, 1) > 0 && failed(&micro, 2) > 0);
    assert_eq!(micro.faults[0].collateral_failures, 0.0);
    // Monolith: every class fails while leaking replicas restart.
    for class in 0..3 {
        assert!(
            failed(&mono, class) > 100,
            "class {class}: {}",
            failed(&mono, class)
        );
    }
    assert!(mono.classes[0].failed_crashed + mono.classes[0].failed_no_replica > 0);
    assert!(mono.faults[0].blast_radius >= micro.faults[0].blast_radius);
    assert!(micro.faults[0].tasks_crashed > 0 && mono.faults[0].tasks_crashed > 0);
    // Cascades: as microservices, only the cart's direct callers (the frontend for cart requests,
    // checkout) see their errors rise; a monolith is one service, so nothing is "elsewhere".
    let cascaded = |result: &ReplicationResult| result.faults[0].spread.cascaded_services.clone();
    assert_eq!(
        cascaded(&micro),
        [
            ("checkout".to_string(), Some(1)),
            ("frontend".to_string(), Some(1))
        ]
    );
    assert_eq!(micro.faults[0].spread.cascade_depth, 1);
    assert!(cascaded(&mono).is_empty());
    assert_eq!(mono.faults[0].spread.cascade_depth, 0);
}

#[test]
fn a_slow_leaf_cascades_up_through_its_blocking_callers() {
    // The quickstart's payment ten times slower for a minute: checkout's workers wait on it, the
    // frontend's wait on checkout. Catalog and cart (never waiting on payment) do not cascade.
    let overrides: Vec<String> = [
        "run.replications=1",
        "faults=[{ kind = \"latency\", component = \"payment\", at = \"125s\", duration = \"1m\", multiplier = 10 }]",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let loaded = scenario::load(Path::new("scenarios/quickstart.toml"), &overrides)
        .unwrap_or_else(|e| panic!("{e}"));
    let result = run_replications(&loaded.scenario, Some(1), &|_, _| {})
        .unwrap()
        .remove(0);
    let spread = &result.faults[0].spread;
    assert_eq!(
        spread.cascaded_services,
        [
            ("checkout".to_string(), Some(1)),
            ("frontend".to_string(), Some(2))
        ],
        "{spread:?}"
    );
    assert_eq!(spread.cascade_depth, 2);
    // No component has a resilience policy: nothing retries.
    assert!(spread.retry_amplification.is_empty());
    assert_eq!(spread.max_retry_amplification, 1.0);
}

const ZONE_OUTAGE: &str = "scenarios/zone-outage.toml";

fn run_zone(overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(ZONE_OUTAGE), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds());
    result
}

#[test]
fn spread_across_zones_survives_a_zone_outage_and_binpack_does_not() {
    let loaded = scenario::load(Path::new(ZONE_OUTAGE), &[]).unwrap();
    let (run, tasks) = (&loaded.scenario.run, &loaded.scenario.cluster.tasks);
    // The balancer finds a lost task dead within unhealthy_threshold health-check intervals.
    let detection_s =
        tasks.health_check_interval.as_secs_f64() * f64::from(tasks.unhealthy_threshold);
    let spread = run_zone(&[]);
    let binpack = run_zone(&["cluster.placement.strategy=[\"binpack(memory)\"]"]);
    let (s, b) = (&spread.faults[0], &binpack.faults[0]);
    // Spread: a third of the tasks die, the rest carry the load. Calls the balancer still sends
    // to the dead tasks are refused until its health checks find them: a bounded error burst.
    assert_eq!(s.tasks_crashed, 2);
    assert!(
        s.time_to_recover_s <= detection_s + run.metrics_interval.as_secs_f64(),
        "{s:?}"
    );
    let only_refusals = &spread.classes[0];
    assert_eq!(only_refusals.failed, only_refusals.failed_crashed);
    // Outlier detection ejects each dead task after a few refused calls: no SLO breaks.
    let ejecting = run_zone(&["app.deployment.outlier_detection={ max_ejection_percent = 50 }"]);
    let e = &ejecting.faults[0];
    assert!(e.broken_classes.is_empty(), "{e:?}");
    assert!(e.availability_during > 0.999, "{e:?}");
    assert!(ejecting.classes[0].failed * 100 < spread.classes[0].failed);
    // Binpack: every task was on one node of the zone; the service is down until replacements
    // are placed elsewhere and have pulled the 1 GB image.
    assert_eq!(b.tasks_crashed, 6);
    assert_eq!(b.blast_radius, 1.0);
    assert!(b.time_to_recover_s > s.time_to_recover_s, "{b:?}");
    // Every call fails while the service is down, against a third of the calls (refused by the
    // dead tasks) until detection with spread, and nearly none with outlier ejection.
    let failed = |result: &ReplicationResult| result.classes[0].failed;
    assert!(
        failed(&binpack) > 2 * failed(&spread),
        "{} vs {}",
        failed(&binpack),
        failed(&spread)
    );
    assert!(failed(&binpack) > 100 * failed(&ejecting).max(1));
}
