//! Probability distributions of durations (service times, latencies), sampled into integer nanoseconds.

use crate::time::SimDuration;
use rand_core::Rng;
use rand_distr::{Distribution as _, Gamma, LogNormal};
use serde::Serialize;
use std::fmt;

/// A distribution of durations. Means and bounds are in nanoseconds.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "dist", rename_all = "snake_case")]
pub enum Distribution {
    /// Always the same value.
    Constant {
        /// The value.
        value: SimDuration,
    },
    /// Exponential with the given mean.
    Exponential {
        /// The mean.
        mean: SimDuration,
    },
    /// Lognormal with the given mean and coefficient of variation.
    Lognormal {
        /// The mean.
        mean: SimDuration,
        /// Standard deviation / mean.
        cv: f64,
        /// The sampler built from mean and cv.
        #[serde(skip)]
        sampler: LogNormal<f64>,
    },
    /// Gamma with the given mean and coefficient of variation (shape = 1/cv²); Erlang-k is cv = 1/√k.
    Gamma {
        /// The mean.
        mean: SimDuration,
        /// Standard deviation / mean.
        cv: f64,
        /// The sampler built from mean and cv.
        #[serde(skip)]
        sampler: Gamma<f64>,
    },
    /// Uniform between two bounds.
    Uniform {
        /// The lower bound.
        min: SimDuration,
        /// The upper bound.
        max: SimDuration,
    },
    /// One of the listed values, each equally likely.
    Empirical {
        /// The values.
        values: Vec<SimDuration>,
    },
}

impl Distribution {
    /// A lognormal distribution by mean and cv (cv > 0).
    pub fn lognormal(mean: SimDuration, cv: f64) -> Result<Self, String> {
        let sigma_squared = (1.0 + cv * cv).ln();
        let mu = (mean.as_nanos() as f64).ln() - sigma_squared / 2.0;
        let sampler = LogNormal::new(mu, sigma_squared.sqrt()).map_err(|e| e.to_string())?;
        Ok(Distribution::Lognormal { mean, cv, sampler })
    }

    /// A gamma distribution by mean and cv (cv > 0).
    pub fn gamma(mean: SimDuration, cv: f64) -> Result<Self, String> {
        let shape = 1.0 / (cv * cv);
        let scale = mean.as_nanos() as f64 / shape;
        let sampler = Gamma::new(shape, scale).map_err(|e| e.to_string())?;
        Ok(Distribution::Gamma { mean, cv, sampler })
    }

    /// The mean of the distribution, in nanoseconds.
    pub fn mean_nanos(&self) -> f64 {
        match self {
            Distribution::Constant { value } => value.as_nanos() as f64,
            Distribution::Exponential { mean }
            | Distribution::Lognormal { mean, .. }
            | Distribution::Gamma { mean, .. } => mean.as_nanos() as f64,
            Distribution::Uniform { min, max } => {
                (min.as_nanos() as f64 + max.as_nanos() as f64) / 2.0
            }
            Distribution::Empirical { values } => {
                values.iter().map(|v| v.as_nanos() as f64).sum::<f64>() / values.len() as f64
            }
        }
    }

    /// Draws one duration.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SimDuration {
        let nanos = match self {
            Distribution::Constant { value } => return *value,
            Distribution::Exponential { mean } => -(mean.as_nanos() as f64) * open_unit(rng).ln(),
            Distribution::Lognormal { sampler, .. } => sampler.sample(rng),
            Distribution::Gamma { sampler, .. } => sampler.sample(rng),
            Distribution::Uniform { min, max } => {
                min.as_nanos() as f64 + (max.as_nanos() - min.as_nanos()) as f64 * unit(rng)
            }
            Distribution::Empirical { values } => {
                let index = ((unit(rng) * values.len() as f64) as usize).min(values.len() - 1);
                return values[index];
            }
        };
        SimDuration::from_nanos(nanos.round().max(0.0) as u64)
    }
}

/// A uniform draw in [0, 1).
#[inline]
pub fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform draw in (0, 1], safe for `ln`.
#[inline]
pub fn open_unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    1.0 - unit(rng)
}

impl fmt::Display for Distribution {
    /// As a scenario would write it, briefly: `exponential(mean 10ms)`, `constant(2s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distribution::Constant { value } => write!(f, "constant({value})"),
            Distribution::Exponential { mean } => write!(f, "exponential(mean {mean})"),
            Distribution::Lognormal { mean, cv, .. } => {
                write!(f, "lognormal(mean {mean}, cv {cv})")
            }
            Distribution::Gamma { mean, cv, .. } => write!(f, "gamma(mean {mean}, cv {cv})"),
            Distribution::Uniform { min, max } => write!(f, "uniform({min} to {max})"),
            Distribution::Empirical { values } => write!(f, "empirical({} values)", values.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::KeyedRng;

    fn moments(distribution: &Distribution, count: u64) -> (f64, f64) {
        let mut sum = 0.0;
        let mut sum_squares = 0.0;
        for key in 0..count {
            let value = distribution.sample(&mut KeyedRng::new(key)).as_nanos() as f64;
            sum += value;
            sum_squares += value * value;
        }
        let mean = sum / count as f64;
        (mean, (sum_squares / count as f64 - mean * mean).max(0.0))
    }

    #[test]
    fn sample_means_match_within_four_standard_errors() {
        let mean = SimDuration::from_millis(10);
        let cases = [
            Distribution::Exponential { mean },
            Distribution::lognormal(mean, 0.5).unwrap(),
            Distribution::gamma(mean, 0.5).unwrap(),
            Distribution::Uniform {
                min: SimDuration::from_millis(5),
                max: SimDuration::from_millis(15),
            },
            Distribution::Empirical {
                values: vec![SimDuration::from_millis(5), SimDuration::from_millis(15)],
            },
        ];
        for distribution in cases {
            let count = 200_000;
            let (sample_mean, variance) = moments(&distribution, count);
            let standard_error = (variance / count as f64).sqrt();
            assert!(
                (sample_mean - distribution.mean_nanos()).abs() < 4.0 * standard_error,
                "{distribution:?}: {sample_mean} vs {}",
                distribution.mean_nanos()
            );
        }
    }

    #[test]
    fn coefficient_of_variation_is_respected() {
        let distribution = Distribution::lognormal(SimDuration::from_millis(10), 2.0).unwrap();
        let (mean, variance) = moments(&distribution, 400_000);
        let cv = variance.sqrt() / mean;
        // Heavy-tailed: only a loose sanity check here; the M/G/1 test checks it through queueing.
        assert!((1.5..2.5).contains(&cv), "cv {cv}");
    }
}
