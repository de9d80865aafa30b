//! The workload: open-loop arrivals whose rate follows a profile, and the request-class mix.

use crate::dist::{open_unit, unit};
use crate::time::{SimDuration, SimTime};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// A rate at an instant, for steps, ramps and traces.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RatePoint {
    /// When.
    pub at: SimDuration,
    /// Requests per second from then on (steps) or at that instant (ramps, traces).
    pub rate_per_sec: f64,
}

/// How the arrival rate changes over the run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RateProfile {
    /// The base rate throughout.
    Constant,
    /// The base rate until the first point, then each point's rate until the next.
    Steps {
        /// Points in time order.
        points: Vec<RatePoint>,
    },
    /// Linear interpolation between points; the first rate before the first point, the last after.
    Ramp {
        /// Points in time order.
        points: Vec<RatePoint>,
    },
    /// A flash crowd on top of the base rate: up to `peak_factor` × base and back.
    Spike {
        /// When the ramp up starts.
        start: SimDuration,
        /// How long the rate takes to climb to the peak.
        ramp_up: SimDuration,
        /// How long the peak lasts.
        hold: SimDuration,
        /// How long the rate takes to fall back to the base.
        ramp_down: SimDuration,
        /// Peak rate / base rate.
        peak_factor: f64,
    },
    /// base × (1 + amplitude × cos(2π (t − peak_at) / period)).
    Diurnal {
        /// Length of one cycle.
        period: SimDuration,
        /// Relative swing, in [0, 1].
        amplitude: f64,
        /// When in the cycle the rate peaks.
        peak_at: SimDuration,
    },
    /// A recorded trace of (time, rate), linearly interpolated like a ramp.
    Trace {
        /// The file it came from.
        file: String,
        /// Its points.
        points: Vec<RatePoint>,
    },
}

impl std::fmt::Display for RateProfile {
    /// In words: `constant`, `steps (3 points)`, `spike from 5m: up 1m, hold 2m, down 1m, × 4`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateProfile::Constant => write!(f, "constant"),
            RateProfile::Steps { points } => write!(f, "steps ({} points)", points.len()),
            RateProfile::Ramp { points } => write!(f, "ramp ({} points)", points.len()),
            RateProfile::Spike {
                start,
                ramp_up,
                hold,
                ramp_down,
                peak_factor,
            } => write!(
                f,
                "spike from {start}: up {ramp_up}, hold {hold}, down {ramp_down}, × {peak_factor}"
            ),
            RateProfile::Diurnal {
                period,
                amplitude,
                peak_at,
            } => write!(
                f,
                "diurnal: period {period}, amplitude {amplitude}, peak at {peak_at}"
            ),
            RateProfile::Trace { file, points } => {
                write!(f, "trace {file} ({} points)", points.len())
            }
        }
    }
}

/// The workload: a base rate shaped by a profile.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpec {
    /// Requests per second before any profile applies.
    pub base_rate_per_sec: f64,
    /// The shape over time.
    pub profile: RateProfile,
}

impl WorkloadSpec {
    /// The arrival rate at `at`, in requests per second.
    pub fn rate_at(&self, at: SimTime) -> f64 {
        let t = at.as_nanos();
        match &self.profile {
            RateProfile::Constant => self.base_rate_per_sec,
            RateProfile::Steps { points } => points
                .iter()
                .take_while(|point| point.at.as_nanos() <= t)
                .last()
                .map_or(self.base_rate_per_sec, |point| point.rate_per_sec),
            RateProfile::Ramp { points } | RateProfile::Trace { points, .. } => {
                interpolate(points, t)
            }
            RateProfile::Spike {
                start,
                ramp_up,
                hold,
                ramp_down,
                peak_factor,
            } => {
                let extra = peak_factor - 1.0;
                let up_end = start.as_nanos() + ramp_up.as_nanos();
                let hold_end = up_end + hold.as_nanos();
                let down_end = hold_end + ramp_down.as_nanos();
                let factor = if t < start.as_nanos() || t >= down_end {
                    1.0
                } else if t < up_end {
                    1.0 + extra * (t - start.as_nanos()) as f64 / ramp_up.as_nanos() as f64
                } else if t < hold_end {
                    *peak_factor
                } else {
                    1.0 + extra * (down_end - t) as f64 / ramp_down.as_nanos() as f64
                };
                self.base_rate_per_sec * factor
            }
            RateProfile::Diurnal {
                period,
                amplitude,
                peak_at,
            } => {
                let phase = (t as f64 - peak_at.as_nanos() as f64) / period.as_nanos() as f64;
                self.base_rate_per_sec * (1.0 + amplitude * (std::f64::consts::TAU * phase).cos())
            }
        }
        .max(0.0)
    }

    /// An upper bound of the rate over the whole run (for thinning).
    pub fn max_rate(&self) -> f64 {
        match &self.profile {
            RateProfile::Constant => self.base_rate_per_sec,
            RateProfile::Steps { points } => points
                .iter()
                .map(|point| point.rate_per_sec)
                .fold(self.base_rate_per_sec, f64::max),
            RateProfile::Ramp { points } | RateProfile::Trace { points, .. } => points
                .iter()
                .map(|point| point.rate_per_sec)
                .fold(0.0, f64::max),
            RateProfile::Spike { peak_factor, .. } => self.base_rate_per_sec * peak_factor.max(1.0),
            RateProfile::Diurnal { amplitude, .. } => self.base_rate_per_sec * (1.0 + amplitude),
        }
    }
}

fn interpolate(points: &[RatePoint], t: u64) -> f64 {
    let after = points.partition_point(|point| point.at.as_nanos() <= t);
    match (after.checked_sub(1).map(|i| points[i]), points.get(after)) {
        (None, Some(first)) => first.rate_per_sec,
        (Some(last), None) => last.rate_per_sec,
        (Some(before), Some(next)) => {
            let span = (next.at.as_nanos() - before.at.as_nanos()) as f64;
            let weight = (t - before.at.as_nanos()) as f64 / span;
            before.rate_per_sec + (next.rate_per_sec - before.rate_per_sec) * weight
        }
        (None, None) => 0.0,
    }
}

/// A non-homogeneous Poisson arrival process, sampled by thinning (Lewis & Shedler 1979).
#[derive(Debug)]
pub struct ArrivalProcess {
    rng: ChaCha8Rng,
    max_rate_per_nano: f64,
    constant: bool,
    last: SimTime,
}

impl ArrivalProcess {
    /// Arrivals for `workload`, drawing from `rng` (the "arrivals" stream).
    pub fn new(workload: &WorkloadSpec, rng: ChaCha8Rng) -> Self {
        ArrivalProcess {
            rng,
            max_rate_per_nano: workload.max_rate() / 1e9,
            constant: matches!(workload.profile, RateProfile::Constant),
            last: SimTime::ZERO,
        }
    }

    /// The next arrival before `horizon`, or `None` if there is none.
    pub fn next_arrival(&mut self, workload: &WorkloadSpec, horizon: SimTime) -> Option<SimTime> {
        if self.max_rate_per_nano <= 0.0 {
            return None;
        }
        loop {
            let gap = -open_unit(&mut self.rng).ln() / self.max_rate_per_nano;
            let candidate = self.last + SimDuration::from_nanos(gap.round() as u64);
            self.last = candidate;
            if candidate >= horizon {
                return None;
            }
            if self.constant
                || unit(&mut self.rng) * self.max_rate_per_nano * 1e9 < workload.rate_at(candidate)
            {
                return Some(candidate);
            }
        }
    }
}

/// Picks the class of each request from the shares.
#[derive(Debug)]
pub struct ClassMix {
    cumulative: Vec<f64>,
    rng: ChaCha8Rng,
}

impl ClassMix {
    /// A mix over `shares` (summing to 1), drawing from `rng` (the "classes" stream).
    pub fn new(shares: impl IntoIterator<Item = f64>, rng: ChaCha8Rng) -> Self {
        let mut total = 0.0;
        let cumulative = shares
            .into_iter()
            .map(|share| {
                total += share;
                total
            })
            .collect();
        ClassMix { cumulative, rng }
    }

    /// The class index of the next request.
    pub fn next_class(&mut self) -> usize {
        let total = *self.cumulative.last().expect("at least one class");
        let draw = unit(&mut self.rng) * total;
        self.cumulative
            .iter()
            .position(|&bound| draw < bound)
            .unwrap_or(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(profile: RateProfile) -> WorkloadSpec {
        WorkloadSpec {
            base_rate_per_sec: 100.0,
            profile,
        }
    }

    fn point(secs: u64, rate_per_sec: f64) -> RatePoint {
        RatePoint {
            at: SimDuration::from_secs(secs),
            rate_per_sec,
        }
    }

    fn at(secs: u64) -> SimTime {
        SimTime(secs * 1_000_000_000)
    }

    #[test]
    fn profiles_give_the_documented_rates() {
        let steps = workload(RateProfile::Steps {
            points: vec![point(10, 300.0), point(20, 50.0)],
        });
        assert_eq!(
            [
                steps.rate_at(at(5)),
                steps.rate_at(at(10)),
                steps.rate_at(at(25))
            ],
            [100.0, 300.0, 50.0]
        );
        let ramp = workload(RateProfile::Ramp {
            points: vec![point(10, 100.0), point(20, 300.0)],
        });
        assert_eq!(
            [
                ramp.rate_at(at(0)),
                ramp.rate_at(at(15)),
                ramp.rate_at(at(30))
            ],
            [100.0, 200.0, 300.0]
        );
        let spike = workload(RateProfile::Spike {
            start: SimDuration::from_secs(10),
            ramp_up: SimDuration::from_secs(10),
            hold: SimDuration::from_secs(10),
            ramp_down: SimDuration::from_secs(10),
            peak_factor: 5.0,
        });
        let rates: Vec<f64> = [0, 15, 25, 35, 45].map(|s| spike.rate_at(at(s))).to_vec();
        assert_eq!(rates, vec![100.0, 300.0, 500.0, 300.0, 100.0]);
        assert_eq!(spike.max_rate(), 500.0);
        let diurnal = workload(RateProfile::Diurnal {
            period: SimDuration::from_secs(100),
            amplitude: 0.5,
            peak_at: SimDuration::from_secs(25),
        });
        assert!((diurnal.rate_at(at(25)) - 150.0).abs() < 1e-9);
        assert!((diurnal.rate_at(at(75)) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn thinning_reproduces_the_integrated_rate() {
        let spec = workload(RateProfile::Ramp {
            points: vec![point(0, 0.0), point(1000, 200.0)],
        });
        let mut arrivals = ArrivalProcess::new(&spec, crate::rng::stream(3, 0, "arrivals"));
        let mut count = 0u64;
        while arrivals.next_arrival(&spec, at(1000)).is_some() {
            count += 1;
        }
        // Expected count = ∫ rate = 100,000; Poisson standard deviation = √100,000 ≈ 316.
        assert!((count as f64 - 100_000.0).abs() < 4.0 * 316.3, "{count}");
    }

    #[test]
    fn class_mix_follows_shares() {
        let mut mix = ClassMix::new([0.2, 0.8], crate::rng::stream(3, 0, "classes"));
        let first = (0..10_000).filter(|_| mix.next_class() == 0).count();
        // Binomial(10000, 0.2): standard deviation 40.
        assert!((first as f64 - 2000.0).abs() < 160.0, "{first}");
    }
}
