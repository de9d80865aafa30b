//! Validation against queueing theory: each bundled scenario in `scenarios/validation/` is run for
//! ten independent replications; the mean end-to-end latency (and, for the finite-capacity M/M/c/K,
//! the blocking probability) must lie within three standard errors (computed here from the
//! replications) of the analytic value, and the estimate must be precise
//! enough that a 5 % modelling error could not hide inside that band.

use fleetsim::experiment::run_replications;
use fleetsim::scenario;
use std::path::Path;

/// Runs a validation scenario; returns the per-replication mean latency (ms) of all requests.
fn replication_means(file: &str) -> Vec<f64> {
    let loaded = scenario::load(Path::new(file), &[]).unwrap_or_else(|e| panic!("{file}: {e}"));
    let results = run_replications(&loaded.scenario, None, &|_, _| {}).expect("thread pool");
    results
        .iter()
        .map(|result| {
            assert!(
                result.conservation.holds(),
                "{file}: {:?}",
                result.conservation
            );
            let all = result.classes.last().expect("the `all` row");
            assert_eq!(all.class, "all");
            assert_eq!(
                all.failed, 0,
                "{file}: validation scenarios must not reject"
            );
            all.latency_mean_ms
        })
        .collect()
}

/// Mean and standard error of the mean.
fn mean_and_standard_error(values: &[f64]) -> (f64, f64) {
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
    (mean, (variance / count).sqrt())
}

fn assert_matches_theory(file: &str, theory_ms: f64) {
    let means = replication_means(file);
    assert!(
        means.len() >= 5,
        "{file}: need replications to estimate the standard error"
    );
    let (mean, standard_error) = mean_and_standard_error(&means);
    let deviation = (mean - theory_ms).abs();
    eprintln!(
        "{file}: simulated {mean:.3} ms ± {standard_error:.3} (SE), theory {theory_ms:.3} ms"
    );
    assert!(
        deviation < 3.0 * standard_error,
        "{file}: simulated mean {mean:.4} ms is {:.1} standard errors from theory {theory_ms:.4} ms",
        deviation / standard_error
    );
    assert!(
        3.0 * standard_error < 0.05 * theory_ms,
        "{file}: too imprecise to validate anything (3 SE = {:.3} ms); run longer",
        3.0 * standard_error
    );
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load `a` = λ/μ.
fn erlang_c(servers: u32, offered_load: f64) -> f64 {
    let mut term = 1.0;
    let mut below = 0.0;
    for k in 0..servers {
        below += term;
        term *= offered_load / f64::from(k + 1);
    }
    let top = term * f64::from(servers) / (f64::from(servers) - offered_load);
    top / (below + top)
}

/// M/M/c/K with offered load `a` = λ/μ: (blocking probability P_K, mean number in the system L).
fn mmck(servers: u32, capacity: u32, offered_load: f64) -> (f64, f64) {
    let rho = offered_load / f64::from(servers);
    // Unnormalized probabilities of n = 0..=K in the system.
    let mut weights = vec![1.0];
    for n in 1..=capacity {
        let previous = weights[n as usize - 1];
        weights.push(if n <= servers {
            previous * offered_load / f64::from(n)
        } else {
            previous * rho
        });
    }
    let total: f64 = weights.iter().sum();
    let blocking = weights[capacity as usize] / total;
    let in_system = weights
        .iter()
        .enumerate()
        .map(|(n, w)| n as f64 * w / total)
        .sum();
    (blocking, in_system)
}

/// Pollaczek–Khinchine: mean sojourn of M/G/1 with utilization ρ, mean service s, squared cv c².
fn pollaczek_khinchine_sojourn(rho: f64, mean_service: f64, cv_squared: f64) -> f64 {
    rho * mean_service * (1.0 + cv_squared) / (2.0 * (1.0 - rho)) + mean_service
}

#[test]
fn erlang_c_matches_published_values() {
    // facts/domain.md §6: c=2, a=1.5 → 0.6429; c=3, a=2 → 0.4444; c=10, a=8 → 0.4092.
    assert!((erlang_c(2, 1.5) - 0.6429).abs() < 1e-4);
    assert!((erlang_c(3, 2.0) - 0.4444).abs() < 1e-4);
    assert!((erlang_c(10, 8.0) - 0.4092).abs() < 1e-4);
}

#[test]
fn mm1_at_rho_0_8() {
    // μ = 100/s, λ = 80/s: W = 1/(μ − λ).
    assert_matches_theory("scenarios/validation/mm1.toml", 1000.0 / (100.0 - 80.0));
}

#[test]
fn mmc_with_four_servers_at_rho_0_9_matches_erlang_c() {
    let (servers, mu, lambda) = (4, 100.0, 360.0);
    let waiting = erlang_c(servers, lambda / mu) / (f64::from(servers) * mu - lambda);
    assert_matches_theory(
        "scenarios/validation/mmc.toml",
        1000.0 * (waiting + 1.0 / mu),
    );
}

#[test]
fn md1_matches_pollaczek_khinchine() {
    assert_matches_theory(
        "scenarios/validation/md1.toml",
        pollaczek_khinchine_sojourn(0.8, 10.0, 0.0),
    );
}

#[test]
fn mg1_lognormal_cv2_matches_pollaczek_khinchine() {
    assert_matches_theory(
        "scenarios/validation/mg1-lognormal.toml",
        pollaczek_khinchine_sojourn(0.8, 10.0, 4.0),
    );
}

#[test]
fn mmck_matches_the_mm1k_closed_form() {
    // M/M/1/K: P_K = (1 − ρ) ρ^K / (1 − ρ^(K+1)); L = ρ/(1 − ρ) − (K + 1) ρ^(K+1) / (1 − ρ^(K+1)).
    let (rho, capacity) = (0.5_f64, 3);
    let (blocking, in_system) = mmck(1, capacity, rho);
    let top = rho.powi(capacity as i32 + 1);
    assert!((blocking - (1.0 - rho) * rho.powi(capacity as i32) / (1.0 - top)).abs() < 1e-12);
    let expected = rho / (1.0 - rho) - f64::from(capacity + 1) * top / (1.0 - top);
    assert!((in_system - expected).abs() < 1e-12);
}

#[test]
fn mmck_blocking_and_sojourn_match_the_finite_capacity_formulas() {
    // The validation scenario: 2 workers, a queue of 3, λ = 150/s, μ = 100/s per worker.
    let file = "scenarios/validation/mmck.toml";
    let (servers, capacity, arrival_rate, service_rate) = (2, 5, 150.0, 100.0);
    let (blocking, in_system) = mmck(servers, capacity, arrival_rate / service_rate);
    let sojourn_ms = 1000.0 * in_system / (arrival_rate * (1.0 - blocking));
    let loaded = scenario::load(Path::new(file), &[]).unwrap();
    let results = run_replications(&loaded.scenario, None, &|_, _| {}).expect("thread pool");
    let all: Vec<_> = results
        .iter()
        .map(|result| result.classes.last().expect("the `all` row").clone())
        .collect();
    for row in &all {
        // Every failure is a rejection at the full queue.
        assert_eq!(row.failed, row.failed_rejected);
    }
    let blocked: Vec<f64> = all
        .iter()
        .map(|row| row.failed_rejected as f64 / row.offered as f64)
        .collect();
    let sojourns: Vec<f64> = all.iter().map(|row| row.latency_mean_ms).collect();
    for (what, values, theory) in [
        ("blocking probability", blocked, blocking),
        ("mean sojourn (ms)", sojourns, sojourn_ms),
    ] {
        let (mean, standard_error) = mean_and_standard_error(&values);
        eprintln!(
            "{file}: {what} simulated {mean:.5} ± {standard_error:.5} (SE), theory {theory:.5}"
        );
        assert!(
            (mean - theory).abs() < 3.0 * standard_error,
            "{what}: {mean} is {:.1} standard errors from {theory}",
            (mean - theory).abs() / standard_error
        );
        assert!(
            3.0 * standard_error < 0.05 * theory,
            "{what}: too imprecise"
        );
    }
}

#[test]
fn tandem_of_five_matches_jackson() {
    // Five independent M/M/1 stations at λ = 80/s, μ = 100/s: the sojourns add up.
    assert_matches_theory(
        "scenarios/validation/tandem.toml",
        5.0 * 1000.0 / (100.0 - 80.0),
    );
}

#[test]
fn parallel_fan_out_matches_expected_maximum() {
    // E[max of N independent exponentials with rate μ] = H_N / μ.
    let children = 4;
    let harmonic: f64 = (1..=children).map(|k| 1.0 / f64::from(k)).sum();
    assert_matches_theory("scenarios/validation/fanout.toml", harmonic * 10.0);
}

#[test]
fn the_band_is_tight_enough_to_reject_a_wrong_model() {
    // The M/D/1 simulation must be told apart from the M/M/1 formula it would match if the constant
    // distribution were ignored: the checks above have power, not just a wide band.
    let means = replication_means("scenarios/validation/md1.toml");
    let (mean, standard_error) = mean_and_standard_error(&means);
    let wrong_theory = pollaczek_khinchine_sojourn(0.8, 10.0, 1.0);
    assert!((mean - wrong_theory).abs() > 3.0 * standard_error);
}
