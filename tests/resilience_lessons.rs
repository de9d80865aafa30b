//! The lessons of `scenarios/retry-storm.toml`, asserted from its outputs: aggressive retries
//! without a budget keep the system failing after a short latency spike (a metastable failure);
//! a retry budget or a circuit breaker lets it recover. Every request still ends exactly once.

use fleetsim::experiment::run_replications;
use fleetsim::model::ReplicationResult;
use fleetsim::scenario;
use std::path::Path;

const RETRY_STORM: &str = "scenarios/retry-storm.toml";
/// The spike: 2 min to 2 min 20 s; the run lasts 8 min.
const SPIKE_END_S: f64 = 140.0;

fn run(overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(RETRY_STORM), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds(), "{:?}", result.conservation);
    result
}

/// The api's resilience policy as the scenario file (with `overrides`) has it.
fn api_resilience(overrides: &[&str]) -> fleetsim::policy::resilience::ResilienceSpec {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(RETRY_STORM), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let app = &loaded.scenario.app;
    let api = app.components.iter().position(|c| c.name == "api").unwrap();
    app.components[api].resilience.clone().unwrap()
}

/// Failed requests per second of all classes, averaged over the last `seconds` of the run.
fn late_failure_rate(result: &ReplicationResult, seconds: f64) -> f64 {
    let end = result
        .timeseries
        .iter()
        .map(|row| row.time_s)
        .fold(0.0, f64::max);
    let rows: Vec<f64> = result
        .timeseries
        .iter()
        .filter(|row| {
            row.subject == "all" && row.metric == "failed_rps" && row.time_s > end - seconds
        })
        .map(|row| row.value)
        .collect();
    rows.iter().sum::<f64>() / rows.len() as f64
}

/// Retries per first attempt to the api over the last `seconds`.
fn late_amplification(result: &ReplicationResult, seconds: f64) -> f64 {
    let end = result
        .timeseries
        .iter()
        .map(|row| row.time_s)
        .fold(0.0, f64::max);
    let total = |metric: &str| -> f64 {
        result
            .timeseries
            .iter()
            .filter(|row| {
                row.subject == "api" && row.metric == metric && row.time_s > end - seconds
            })
            .map(|row| row.value)
            .sum()
    };
    total("call_retries") / total("call_attempts")
}

#[test]
fn retries_without_a_budget_keep_failing_after_the_trigger_is_gone() {
    let storm = run(&[]);
    let fault = &storm.faults[0];
    assert!(
        fault.time_to_recover_s.is_nan(),
        "never recovers: {fault:?}"
    );
    // Five minutes after the 20-second spike ended, nearly every request still fails, and the api
    // serves about three retries per request: the sustaining effect.
    assert!(
        late_failure_rate(&storm, 120.0) > 500.0,
        "{}",
        late_failure_rate(&storm, 120.0)
    );
    assert!(
        late_amplification(&storm, 120.0) > 2.0,
        "{}",
        late_amplification(&storm, 120.0)
    );
    assert!(storm.classes[0].failed_timeout > 0);
    // faults.csv: over the fault's window (to the end of the run) nearly every call to the api is
    // tried `max_attempts` times; well over halfway from 1 to that cap.
    let max_attempts = f64::from(api_resilience(&[]).max_attempts);
    let spread = &storm.faults[0].spread;
    let amplification = spread.max_retry_amplification;
    assert!(
        amplification > (1.0 + max_attempts) / 2.0 && amplification <= max_attempts,
        "{spread:?}"
    );
    assert_eq!(
        spread.retry_amplification,
        [("gateway->api".to_string(), amplification)]
    );
}

#[test]
fn timeouts_and_retries_do_not_make_the_event_queue_grow_with_the_run() {
    // In the storm every call has a timer and most are retried; cancelled timers leave the queue
    // by their due time, so twice the run does not need a larger queue.
    let short = run(&[]);
    let long = run(&["run.duration=16m"]);
    assert!(long.events_processed > 2 * short.events_processed * 9 / 10);
    assert!(
        (long.peak_pending_events as f64) < 1.25 * short.peak_pending_events as f64,
        "{} vs {}",
        long.peak_pending_events,
        short.peak_pending_events
    );
}

/// Length of the windows a retry budget counts over (`sim/policy/resilience/retry.rs`).
const BUDGET_WINDOW_S: f64 = 10.0;

#[test]
fn a_retry_budget_a_circuit_breaker_or_load_shedding_recovers() {
    const BUDGET: &str = "app.components.api.resilience.retry_budget=0.1";
    let storm = scenario::load(Path::new(RETRY_STORM), &[])
        .unwrap()
        .scenario;
    let api = &storm.app.components[1];
    let timeout = api.resilience.as_ref().and_then(|r| r.timeout).unwrap();
    // Shedding calls that waited half the callers' timeout leaves the other half for the work:
    // the api serves only calls whose caller still waits for the answer.
    let shedding = format!(
        "app.components.api.max_queue_time={}ms",
        timeout.as_millis_f64() / 2.0
    );
    for fix in [
        BUDGET,
        "app.components.api.resilience.circuit_breaker={ failure_rate = 0.5 }",
        &shedding,
    ] {
        let result = run(&[fix]);
        if fix == BUDGET {
            // Retries stay within the budget over the fault's window, give or take the budget
            // windows at its two edges: their retries may be charged to first attempts outside
            // it. The window lasts at least until the recovery (first attempts are steady).
            let budget = api_resilience(&[fix]).retry_budget.unwrap();
            let fault = &result.faults[0];
            let window_s = fault
                .time_to_recover_s
                .max((fault.ended - fault.started).as_secs_f64());
            let bound = 1.0 + budget * (1.0 + 2.0 * BUDGET_WINDOW_S / window_s);
            let spread = &result.faults[0].spread;
            assert!(
                spread.max_retry_amplification > 1.0 && spread.max_retry_amplification <= bound,
                "{} > {bound}: {spread:?}",
                spread.max_retry_amplification
            );
        }
        let fault = &result.faults[0];
        assert!(fault.time_to_recover_s.is_finite(), "{fix}: {fault:?}");
        assert!(
            fault.started.as_secs_f64() + fault.time_to_recover_s < SPIKE_END_S + 120.0,
            "{fix}: {fault:?}"
        );
        assert_eq!(late_failure_rate(&result, 120.0), 0.0, "{fix}");
        assert!(late_amplification(&result, 120.0) < 0.01, "{fix}");
    }
    let breaker = run(&["app.components.api.resilience.circuit_breaker={ failure_rate = 0.5 }"]);
    assert!(
        breaker.classes[0].failed_circuit_open > 0,
        "the breaker refused calls while open"
    );
    assert!(run(&[&shedding]).classes[0].failed_shed > 0);
}

/// How far back adaptive throttling counts requests and accepts
/// (`sim/policy/resilience/throttle.rs`).
const THROTTLE_WINDOW_S: f64 = 120.0;

#[test]
fn adaptive_throttling_recovers_once_its_window_forgets_the_storm() {
    let result = run(&["app.components.api.resilience.adaptive_throttling=2"]);
    let fault = &result.faults[0];
    // The callers reject most attempts locally while the api fails most of what it gets, which
    // ends the storm; they keep rejecting until the failures have left their two-minute window.
    assert!(result.classes[0].failed_throttled > 0);
    let recovered_s = fault.started.as_secs_f64() + fault.time_to_recover_s;
    assert!(
        recovered_s <= SPIKE_END_S + 2.0 * THROTTLE_WINDOW_S,
        "{fault:?}"
    );
    assert_eq!(late_failure_rate(&result, 120.0), 0.0);
}
