//! Replications in parallel (rayon), in a deterministic order, and confidence intervals over them.

use crate::model::{Registries, ReplicationResult, simulate_with};
use crate::scenario::Scenario;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Why an experiment could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The scenario names a placement policy the registry lacks.
    #[error("{message}")]
    Policy {
        /// Which, and the valid names.
        message: String,
    },
    /// The thread pool could not be built.
    #[error("cannot start {jobs} worker threads: {source}")]
    ThreadPool {
        /// Threads asked for.
        jobs: usize,
        /// Why.
        source: rayon::ThreadPoolBuildError,
    },
}

/// Runs every replication of `scenario` on `jobs` threads (all cores when `None`), with the built-in
/// policies.
///
/// Results come back in replication order and do not depend on `jobs`: each replication draws only
/// from its own streams.
pub fn run_replications(
    scenario: &Scenario,
    jobs: Option<usize>,
    progress: &(dyn Fn(u32, f64) + Sync),
) -> Result<Vec<ReplicationResult>, ExperimentError> {
    run_replications_with(scenario, &Registries::default(), jobs, progress)
}

/// Like [`run_replications`], resolving policies (custom ones too) from `registries`.
pub fn run_replications_with(
    scenario: &Scenario,
    registries: &Registries,
    jobs: Option<usize>,
    progress: &(dyn Fn(u32, f64) + Sync),
) -> Result<Vec<ReplicationResult>, ExperimentError> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = jobs {
        builder = builder.num_threads(jobs);
    }
    let pool = builder
        .build()
        .map_err(|source| ExperimentError::ThreadPool {
            jobs: jobs.unwrap_or(0),
            source,
        })?;
    pool.install(|| {
        (0..scenario.run.replications)
            .into_par_iter()
            .map(|replication| {
                simulate_with(scenario, replication, registries, &|fraction| {
                    progress(replication, fraction)
                })
                .map_err(|message| ExperimentError::Policy { message })
            })
            .collect()
    })
}

/// Mean and the half-width of its two-sided 95 % confidence interval (Student t with n − 1 degrees of
/// freedom). NaN values are skipped; the half-width is NaN with fewer than two values.
pub fn mean_with_ci95(values: &[f64]) -> (f64, f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let count = finite.len();
    if count == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = finite.iter().sum::<f64>() / count as f64;
    if count < 2 {
        return (mean, f64::NAN);
    }
    let variance = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1) as f64;
    let standard_error = (variance / count as f64).sqrt();
    (mean, t_quantile_975(count - 1) * standard_error)
}

/// The 0.975 quantile of Student's t with `degrees_of_freedom`.
pub fn t_quantile_975(degrees_of_freedom: usize) -> f64 {
    StudentsT::new(0.0, 1.0, degrees_of_freedom as f64)
        .expect("degrees of freedom ≥ 1")
        .inverse_cdf(0.975)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantile_matches_tables() {
        assert!((t_quantile_975(9) - 2.262157).abs() < 1e-5);
        assert!((t_quantile_975(1) - 12.7062).abs() < 1e-3);
    }

    #[test]
    fn confidence_interval_of_known_values() {
        let (mean, half) = mean_with_ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(mean, 3.0);
        // sd = 1.5811, se = 0.7071, t(0.975, 4) = 2.7764.
        assert!(
            (half - 2.7764 * std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-3,
            "{half}"
        );
        assert!(mean_with_ci95(&[7.0]).1.is_nan());
    }
}
