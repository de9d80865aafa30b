//! Fault injection: every request still ends exactly once; a crashed task's calls fail and it is
//! replaced; a slow dependency exhausts blocking callers (collateral failures) but not non-blocking
//! ones; spread across zones survives a zone outage.

use fleetsim::experiment::run_replications;
use fleetsim::model::ReplicationResult;
use fleetsim::scenario;
use std::path::Path;

const QUICKSTART: &str = "scenarios/quickstart.toml";

fn run(overrides: &[&str]) -> Vec<ReplicationResult> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(QUICKSTART), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let results = run_replications(&loaded.scenario, Some(2), &|_, _| {}).unwrap();
    for result in &results {
        assert!(result.conservation.holds(), "{:?}", result.conservation);
        for row in &result.classes {
            assert_eq!(
                row.offered,
                row.completed + row.failed + row.in_flight,
                "{row:?}"
            );
        }
    }
    results
}

const FAULTS: [&str; 5] = [
    "faults=[{ kind = \"container_crash\", service = \"payment\", at = \"2m\", count = 2 }]",
    "faults=[{ kind = \"node_crash\", node_group = \"general\", node = 0, at = \"2m\" }]",
    "faults=[{ kind = \"zone_outage\", zone = \"us-east-1a\", at = \"2m\", duration = \"1m\" }]",
    "faults=[{ kind = \"latency\", component = \"payment\", at = \"2m\", duration = \"1m\", multiplier = 10 }]",
    "faults=[{ kind = \"errors\", component = \"catalog\", at = \"2m\", duration = \"1m\", rate = 0.5 }]",
];

#[test]
fn every_request_ends_exactly_once_under_every_fault() {
    // The model asserts that no request ends twice; run() checks offered = completed + failed + in flight.
    for fault in FAULTS {
        let results = run(&[fault, "run.replications=2"]);
        assert_eq!(results[0].faults.len(), 1, "{fault}");
    }
}

#[test]
fn a_crashed_task_fails_its_calls_and_is_replaced() {
    let results = run(&[FAULTS[0]]);
    let result = &results[0];
    let (browse, checkout) = (&result.classes[0], &result.classes[2]);
    assert_eq!(browse.failed_crashed, 0, "browse never calls payment");
    assert!(
        checkout.failed_crashed > 0,
        "calls in flight on the crashed payment tasks fail"
    );
    let crashed = result
        .events
        .iter()
        .filter(|e| e.kind == "task_crashed")
        .count();
    assert_eq!(crashed, 2);
    // Two replacements become healthy after the crash.
    let replaced = result
        .events
        .iter()
        .filter(|e| {
            e.kind == "task_healthy"
                && e.subject.starts_with("payment/")
                && e.time.as_secs_f64() > 120.0
        })
        .count();
    assert_eq!(replaced, 2);
    assert_eq!(result.faults[0].tasks_crashed, 2);
    assert!(result.faults[0].detected.is_some());
}

#[test]
fn a_slow_dependency_exhausts_blocking_callers_but_not_non_blocking_ones() {
    let blocking = run(&[FAULTS[3]]);
    let non_blocking = run(&[FAULTS[3], "app.components.frontend.non_blocking=true"]);
    // Browse and cart never call payment; with a blocking frontend they still fail (collateral).
    let collateral = |results: &[ReplicationResult]| results[0].faults[0].collateral_failures;
    assert!(collateral(&blocking) > 1000.0, "{}", collateral(&blocking));
    assert_eq!(collateral(&non_blocking), 0.0);
    assert!(blocking[0].faults[0].blast_radius > non_blocking[0].faults[0].blast_radius);
}

#[test]
fn a_bulkhead_keeps_a_slow_dependency_from_taking_every_worker() {
    // Each frontend task may have 8 of its 32 workers waiting on checkout (which waits on the
    // slow payment): browse and cart keep the other 24 and never fail.
    let bulkhead = run(&[
        FAULTS[3],
        "app.components.checkout.resilience={ max_concurrent_calls = 8 }",
    ]);
    for result in &bulkhead {
        assert_eq!(result.faults[0].collateral_failures, 0.0);
        let classes = &result.classes;
        assert_eq!(classes[0].failed + classes[1].failed, 0, "browse and cart");
        assert_eq!(classes[2].failed, classes[2].failed_bulkhead_full);
        assert!(classes[2].failed_bulkhead_full > 0);
    }
}

#[test]
fn calls_hanging_on_a_lost_zone_exhaust_blocking_callers_unless_they_time_out() {
    const HANG: &str = "cluster.tasks.lost_task_calls=hang";
    let refused = run(&[FAULTS[2]]);
    let hanging = run(&[FAULTS[2], HANG]);
    let timeouts: Vec<String> = ["catalog", "cart", "checkout", "payment"]
        .iter()
        .map(|c| {
            format!("app.components.{c}.resilience={{ timeout = \"200ms\", max_attempts = 3 }}")
        })
        .collect();
    let mut with_timeouts = vec![FAULTS[2], HANG];
    with_timeouts.extend(timeouts.iter().map(String::as_str));
    let timed_out = run(&with_timeouts);
    let all = |result: &ReplicationResult| result.classes.last().unwrap().clone();
    for replication in 0..2 {
        // Refused calls fail at once and hold nothing; hanging calls hold the frontend's workers
        // until its queues are full and it rejects every class.
        assert_eq!(all(&refused[replication]).failed_rejected, 0);
        assert!(all(&hanging[replication]).failed_rejected > 10_000);
        // A timeout frees the worker and the retry goes to a live task.
        let (hung, contained) = (
            hanging[replication].faults[0].availability_during,
            timed_out[replication].faults[0].availability_during,
        );
        assert!(contained > hung + 0.3, "{contained} vs {hung}");
        assert!(all(&timed_out[replication]).failed_timeout > 0);
    }
}

#[test]
fn a_zone_outage_is_survived_by_tasks_spread_over_zones() {
    let quickstart = scenario::load(Path::new(QUICKSTART), &[]).unwrap().scenario;
    let tasks = &quickstart.cluster.tasks;
    let detection_s =
        tasks.health_check_interval.as_secs_f64() * f64::from(tasks.unhealthy_threshold);
    let results = run(&[FAULTS[2]]);
    let fault = &results[0].faults[0];
    assert!(fault.tasks_crashed > 0);
    // The lost tasks refuse calls until health checks find them; then the other zone serves.
    assert!(
        fault.time_to_recover_s <= detection_s + quickstart.run.metrics_interval.as_secs_f64(),
        "{fault:?}"
    );
    // Outlier ejection takes them out of rotation after a few refused calls instead.
    let ejecting = run(&[
        FAULTS[2],
        "app.deployment.outlier_detection={ max_ejection_percent = 50 }",
    ]);
    let ejected = &ejecting[0].faults[0];
    assert!(ejected.availability_during > 0.9, "{ejected:?}");
    assert!(
        ejected.time_to_recover_s < fault.time_to_recover_s,
        "{ejected:?}"
    );
    // The zone's nodes are replaced when it comes back.
    let replaced = results[0]
        .events
        .iter()
        .filter(|e| e.kind == "node_provisioning" && e.detail.starts_with("replaces="))
        .count();
    assert_eq!(replaced, 2);
}

#[test]
fn injected_errors_fail_only_the_classes_that_call_the_component() {
    let results = run(&[FAULTS[4]]);
    let classes = &results[0].classes;
    assert!(classes[0].failed_error > 0, "browse calls catalog");
    assert_eq!(classes[2].failed_error, 0, "checkout never calls catalog");
    assert_eq!(results[0].faults[0].collateral_failures, 0.0);
}

#[test]
fn crashes_under_timeouts_and_retries_still_end_every_request_once() {
    // Timeouts, retries and a breaker on payment and catalog, while tasks crash and a zone fails.
    let resilience =
        "{ timeout = \"100ms\", max_attempts = 3, circuit_breaker = { failure_rate = 0.5 } }";
    let payment = format!("app.components.payment.resilience={resilience}");
    let catalog = format!("app.components.catalog.resilience={resilience}");
    for fault in FAULTS {
        let results = run(&[fault, &payment, &catalog]);
        let checkout = &results[0].classes[2];
        assert!(checkout.completed > 0, "{fault}");
    }
}

#[test]
fn a_spot_interruption_drains_gracefully_before_the_node_goes() {
    let results = run(&[
        "faults=[{ kind = \"spot_interruption\", node_group = \"general\", node = 0, at = \"2m\" }]",
    ]);
    let result = &results[0];
    // Tasks on the node stop gracefully at the notice: nothing crashes.
    assert!(result.classes.iter().all(|class| class.failed_crashed == 0));
    let stopping = result
        .events
        .iter()
        .filter(|e| e.kind == "task_stopping" && (e.time.as_secs_f64() - 120.0).abs() < 1e-9)
        .count();
    assert!(stopping > 0);
    assert!(
        result
            .events
            .iter()
            .any(|e| e.kind == "spot_interruption_notice")
    );
    // The group replaces the node when the two-minute notice runs out.
    let replacement = result
        .events
        .iter()
        .find(|e| e.kind == "node_provisioning" && e.detail.starts_with("replaces=general-0"))
        .expect("a replacement node");
    assert!((replacement.time.as_secs_f64() - 240.0).abs() < 1e-6);
}

#[test]
fn a_registry_outage_stalls_scale_out_until_it_ends() {
    let overrides = |outage: bool| -> Vec<String> {
        let mut overrides = vec![];
        if outage {
            overrides.push(
                "faults=[{ kind = \"registry_outage\", at = \"5m\", duration = \"8m\" }]"
                    .to_string(),
            );
        }
        overrides
    };
    let run_flash = |outage: bool| {
        let loaded =
            scenario::load(Path::new("scenarios/flash-crowd.toml"), &overrides(outage)).unwrap();
        run_replications(&loaded.scenario, Some(1), &|_, _| {})
            .unwrap()
            .remove(0)
    };
    let (normal, outage) = (run_flash(false), run_flash(true));
    assert!(outage.events.iter().any(|e| e.kind == "task_pull_stalled"));
    // New tasks that need a pull wait until 13 min; absorption takes longer and more requests fail.
    assert!(outage.classes[0].spike_absorption_s > normal.classes[0].spike_absorption_s);
    assert!(outage.classes[0].failed > normal.classes[0].failed);
    for row in outage
        .scaling
        .iter()
        .filter(|row| row.pulled.is_some() && row.pulled != row.placed)
    {
        assert!(row.pulled.unwrap().as_secs_f64() >= 780.0 - 1e-6, "{row:?}");
    }
}

#[test]
fn retries_mask_injected_errors() {
    // Each attempt draws its own error coin: with up to 3 attempts, about 0.5³ of the calls fail.
    let plain = run(&[FAULTS[4]]);
    let retried = run(&[
        FAULTS[4],
        "app.components.catalog.resilience={ max_attempts = 3 }",
    ]);
    let errors = |results: &[ReplicationResult]| results[0].classes[0].failed_error as f64;
    assert!(
        errors(&retried) < 0.4 * errors(&plain),
        "{} vs {}",
        errors(&retried),
        errors(&plain)
    );
    assert!(errors(&retried) > 0.0);
}

#[test]
fn overlapping_faults_on_one_component_do_not_end_each_other() {
    // Latency from 2 min for 2 min; errors from 2 min 30 s for 30 s. When the errors end at 3 min,
    // the latency must go on until 4 min.
    let faults = "faults=[{ kind = \"latency\", component = \"payment\", at = \"2m\", duration = \"2m\", multiplier = 10 }, { kind = \"errors\", component = \"payment\", at = \"150s\", duration = \"30s\", rate = 0.2 }]";
    let both = run(&[faults, "run.replications=1"]);
    let latency_only = run(&[
        "faults=[{ kind = \"latency\", component = \"payment\", at = \"2m\", duration = \"2m\", multiplier = 10 }]",
        "run.replications=1",
    ]);
    let p50_at = |results: &[ReplicationResult], time: f64| {
        results[0]
            .timeseries
            .iter()
            .find(|row| {
                row.subject == "checkout"
                    && row.metric == "latency_p50_ms"
                    && (row.time_s - time).abs() < 1e-9
            })
            .map(|row| row.value)
            .unwrap()
    };
    // At 3 min 30 s only the latency fault is active in both runs: checkout is just as slow.
    let (a, b) = (p50_at(&both, 210.0), p50_at(&latency_only, 210.0));
    assert!(a > 100.0 && b > 100.0, "{a} {b}");
}

/// A recurring fault with fixed gaps and durations: from 0 s, 50 s up, 10 s down, over and over.
const PERIODIC_OUTAGE: &str = "faults=[{ kind = \"registry_outage\", every = { dist = \"constant\", value = \"50s\" }, duration = { dist = \"constant\", value = \"10s\" } }]";

#[test]
fn a_recurring_fault_is_injected_once_per_occurrence() {
    let results = run(&[PERIODIC_OUTAGE, "run.replications=2"]);
    let loaded = scenario::load(Path::new(QUICKSTART), &[]).unwrap();
    let run_s = loaded.scenario.run.duration.as_secs_f64();
    let (gap_s, down_s) = (50.0, 10.0);
    // Occurrence k starts at gap + k × (gap + down); those that start before the run ends count.
    let expected = ((run_s - gap_s) / (gap_s + down_s)).floor() as usize + 1;
    for result in &results {
        assert_eq!(result.faults.len(), expected);
        for (k, fault) in result.faults.iter().enumerate() {
            assert_eq!((fault.fault, fault.occurrence), (0, Some(k as u32)));
            let start = gap_s + k as f64 * (gap_s + down_s);
            assert!(
                (fault.started.as_secs_f64() - start).abs() < 1e-9,
                "{fault:?}"
            );
            assert!((fault.ended.as_secs_f64() - start - down_s).abs() < 1e-9);
        }
        let logged = |kind: &str| result.events.iter().filter(|e| e.kind == kind).count();
        assert_eq!(logged("fault_started"), expected);
        // An outage whose end falls at or after the end of the run logs no end.
        let ends_within = result
            .faults
            .iter()
            .filter(|f| f.ended.as_secs_f64() < run_s);
        assert_eq!(logged("fault_ended"), ends_within.count());
        assert!(result.events.iter().any(|e| e.subject == "fault/0/1"));
    }
}

#[test]
fn random_faults_draw_from_their_own_stream_and_do_not_shift_the_workload() {
    // Arrivals stop at 60 s and the run lasts 90 s, so every request finishes: the digest then
    // covers every drawn service demand too. Neither fault fails a request (a warm cluster pulls
    // no image; 1 ms more on the catalog), so both runs draw the same demands.
    let drained = [
        "run.duration=90s",
        "workload.profile={ kind = \"steps\", points = [{ at = \"60s\", rate = \"0/s\" }] }",
        "run.replications=2",
    ];
    let random = "faults=[{ kind = \"registry_outage\", every = { dist = \"exponential\", mean = \"15s\" }, duration = { dist = \"lognormal\", mean = \"5s\", cv = 1 } }, { kind = \"latency\", component = \"catalog\", added = \"1ms\", every = { dist = \"exponential\", mean = \"20s\" }, duration = { dist = \"exponential\", mean = \"5s\" } }]";
    let digests = |results: &[ReplicationResult]| -> Vec<(u64, u64)> {
        results
            .iter()
            .map(|r| {
                assert_eq!(r.conservation.failed, 0);
                assert_eq!(r.conservation.in_flight, 0);
                (r.conservation.offered, r.request_digest)
            })
            .collect()
    };
    let without = run(&drained);
    let mut with_faults = drained.to_vec();
    with_faults.push(random);
    let with = run(&with_faults);
    assert!(
        with.iter().all(|r| r.faults.len() >= 3),
        "a few occurrences each"
    );
    assert_eq!(digests(&without), digests(&with));
    // The draws are per replication: the two replications see different processes, and a rerun
    // sees the same ones.
    let starts = |result: &ReplicationResult| -> Vec<u64> {
        result.faults.iter().map(|f| f.started.as_nanos()).collect()
    };
    assert_ne!(starts(&with[0]), starts(&with[1]));
    assert_eq!(starts(&with[0]), starts(&run(&with_faults)[0]));
}

#[test]
fn retry_amplification_is_measured_on_each_caller_callee_edge() {
    // The catalog is called by the frontend (browse) and by the cart (cart); while the fault lasts
    // half its calls fail and each failed attempt is retried up to twice, so a first attempt brings
    // X retries with P(X = 0) = 0.5, P(X = 1) = 0.25, P(X = 2) = 0.25: E[X] = 0.75, Var[X] = 0.6875.
    let results = run(&[
        FAULTS[4],
        "app.components.catalog.resilience={ max_attempts = 3 }",
    ]);
    let result = &results[0];
    let fault = &result.faults[0];
    let spread = &fault.spread;
    let edges: Vec<&str> = spread
        .retry_amplification
        .iter()
        .map(|(edge, _)| edge.as_str())
        .collect();
    assert_eq!(edges, ["frontend->catalog", "cart->catalog"]);
    // The window also holds the interval ending at the start and any after the fault's end, whose
    // first attempts bring no retries: between (fault length / window length) × E[X] and E[X] per
    // first attempt, within 3 standard errors of the mean of that many first attempts.
    let quickstart = scenario::load(Path::new(QUICKSTART), &[]).unwrap().scenario;
    let interval_s = quickstart.run.metrics_interval.as_secs_f64();
    let start_s = fault.started.as_secs_f64();
    let fault_s = (fault.ended - fault.started).as_secs_f64();
    let window_end_s = start_s + fault_s.max(fault.time_to_recover_s);
    for (edge, amplification) in &spread.retry_amplification {
        let first_attempts: f64 = result
            .timeseries
            .iter()
            .filter(|row| {
                row.subject == *edge
                    && row.metric == "pair_attempts"
                    && row.time_s >= start_s
                    && row.time_s <= window_end_s + 1e-9
            })
            .map(|row| row.value)
            .sum();
        let tolerance = 3.0 * (0.6875 / first_attempts).sqrt();
        let share = fault_s / (window_end_s - start_s + interval_s);
        assert!(
            *amplification >= 1.0 + share * 0.75 - tolerance && *amplification <= 1.75 + tolerance,
            "{edge}: {amplification} (share {share}, ± {tolerance})"
        );
    }
}
