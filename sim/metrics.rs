//! Measurement without per-request records: HDR latency histograms, counters, time-weighted gauges, and
//! the per-class summary they produce.

use crate::app::Slo;
use crate::time::{NANOS_PER_MILLI, SimDuration, SimTime};
use hdrhistogram::Histogram;
use serde::Serialize;

/// The largest latency a histogram resolves (one day); longer ones are recorded as one day.
const MAX_RECORDED_NANOS: u64 = 86_400 * 1_000_000_000;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// A replica's queue was full.
    Rejected,
    /// The called service had no replica to serve it.
    NoReplica,
    /// The serving task's version answered with an error.
    Error,
    /// The task serving it crashed (container, node or zone failure).
    Crashed,
    /// A call was not answered within its timeout.
    Timeout,
    /// A circuit breaker refused the call.
    CircuitOpen,
    /// The caller's bulkhead for the callee was full.
    BulkheadFull,
    /// The call waited in a queue longer than its service's `max_queue_time` and was dropped.
    Shed,
    /// Adaptive throttling rejected the call on the caller's side.
    Throttled,
}

impl FailReason {
    /// Every reason, in column order.
    pub const ALL: [FailReason; 9] = [
        FailReason::Rejected,
        FailReason::NoReplica,
        FailReason::Error,
        FailReason::Crashed,
        FailReason::Timeout,
        FailReason::CircuitOpen,
        FailReason::BulkheadFull,
        FailReason::Shed,
        FailReason::Throttled,
    ];

    /// The name used in columns and events.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::Rejected => "rejected",
            FailReason::NoReplica => "no_replica",
            FailReason::Error => "error",
            FailReason::Crashed => "crashed",
            FailReason::Timeout => "timeout",
            FailReason::CircuitOpen => "circuit_open",
            FailReason::BulkheadFull => "bulkhead_full",
            FailReason::Shed => "shed",
            FailReason::Throttled => "throttled",
        }
    }
}

/// Latency distribution and outcome counts of a set of requests.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    histogram: Histogram<u64>,
    sum_nanos: u128,
    completed: u64,
    failed_by_reason: [u64; FailReason::ALL.len()],
    within_target: u64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyStats {
    /// Empty stats.
    pub fn new() -> Self {
        LatencyStats {
            histogram: Histogram::new_with_bounds(1, MAX_RECORDED_NANOS, 3)
                .expect("bounds and 3 significant figures are valid"),
            sum_nanos: 0,
            completed: 0,
            failed_by_reason: [0; FailReason::ALL.len()],
            within_target: 0,
        }
    }

    /// Records a completed request and whether it met its class's latency target.
    #[inline]
    pub fn record_completion(&mut self, latency: SimDuration, within_target: bool) {
        self.histogram.saturating_record(latency.as_nanos().max(1));
        self.sum_nanos += u128::from(latency.as_nanos());
        self.completed += 1;
        self.within_target += u64::from(within_target);
    }

    /// Records a failed request.
    #[inline]
    pub fn record_failure(&mut self, reason: FailReason) {
        self.failed_by_reason[reason as usize] += 1;
    }

    /// Completed requests.
    pub fn completed(&self) -> u64 {
        self.completed
    }

    /// Failed requests, all reasons.
    pub fn failed(&self) -> u64 {
        self.failed_by_reason.iter().sum()
    }

    /// Failed requests for one reason.
    pub fn failed_for(&self, reason: FailReason) -> u64 {
        self.failed_by_reason[reason as usize]
    }

    /// Mean latency of completed requests, in milliseconds (NaN if none).
    pub fn mean_ms(&self) -> f64 {
        if self.completed == 0 {
            return f64::NAN;
        }
        self.sum_nanos as f64 / self.completed as f64 / NANOS_PER_MILLI as f64
    }

    /// A latency percentile of completed requests, in milliseconds (NaN if none).
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        if self.completed == 0 {
            return f64::NAN;
        }
        self.histogram.value_at_quantile(percentile / 100.0) as f64 / NANOS_PER_MILLI as f64
    }

    /// Share of finished requests that completed within the latency target (NaN if none finished).
    pub fn slo_attainment(&self) -> f64 {
        let finished = self.completed + self.failed();
        if finished == 0 {
            return f64::NAN;
        }
        self.within_target as f64 / finished as f64
    }

    /// Share of finished requests that completed (NaN if none finished).
    pub fn availability(&self) -> f64 {
        let finished = self.completed + self.failed();
        if finished == 0 {
            return f64::NAN;
        }
        self.completed as f64 / finished as f64
    }

    /// Forgets everything (for per-interval stats).
    pub fn reset(&mut self) {
        self.histogram.reset();
        self.sum_nanos = 0;
        self.completed = 0;
        self.failed_by_reason = [0; FailReason::ALL.len()];
        self.within_target = 0;
    }
}

/// The time integral of a piecewise-constant quantity (busy workers, queue length), accumulated
/// from the start; readers keep a [`Mark`] each, so several can take their own windows.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeWeighted {
    value: u64,
    since: SimTime,
    area: u128,
}

impl TimeWeighted {
    /// Adds `delta` (may be negative) at `now`.
    #[inline]
    pub fn change(&mut self, now: SimTime, delta: i64) {
        self.area += u128::from(self.value) * u128::from((now - self.since).as_nanos());
        self.since = now;
        self.value = self
            .value
            .checked_add_signed(delta)
            .expect("gauge went below zero");
    }

    /// The current value.
    pub fn value(&self) -> u64 {
        self.value
    }

    /// The integral from the start up to `now` (value × nanoseconds).
    pub fn area_at(&self, now: SimTime) -> u128 {
        self.area + u128::from(self.value) * u128::from((now - self.since).as_nanos())
    }
}

/// A reader's position in a [`TimeWeighted`] integral.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mark(u128);

impl Mark {
    /// The gauge's mean over the `window` ending at `now` (since this mark), then moves the mark.
    pub fn take_mean(&mut self, gauge: &TimeWeighted, now: SimTime, window: SimDuration) -> f64 {
        let area = gauge.area_at(now);
        let mean = if window.as_nanos() == 0 {
            gauge.value() as f64
        } else {
            (area - self.0) as f64 / window.as_nanos() as f64
        };
        self.0 = area;
        mean
    }
}

/// One row of `summary.csv`: one request class (or `all`) in one replication.
#[derive(Debug, Clone, Serialize)]
pub struct ClassSummary {
    /// Replication index, from 0.
    pub replication: u32,
    /// Class name, or `all`.
    pub class: String,
    /// Requests that arrived after the warmup.
    pub offered: u64,
    /// Of those, completed.
    pub completed: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Of those, failed because a queue was full.
    pub failed_rejected: u64,
    /// Of those, failed because a service had no replica.
    pub failed_no_replica: u64,
    /// Of those, failed because a task answered with an error.
    pub failed_error: u64,
    /// Of those, failed because the task serving them crashed.
    pub failed_crashed: u64,
    /// Of those, failed because a call timed out (after any retries).
    pub failed_timeout: u64,
    /// Of those, failed because a circuit breaker refused a call.
    pub failed_circuit_open: u64,
    /// Of those, failed because a caller's bulkhead for a called component was full.
    pub failed_bulkhead_full: u64,
    /// Of those, failed because a call waited longer than its service's `max_queue_time`.
    pub failed_shed: u64,
    /// Of those, failed because adaptive throttling rejected a call on the caller's side.
    pub failed_throttled: u64,
    /// Of those, still in flight when the run ended.
    pub in_flight: u64,
    /// Completions per second of measured time.
    pub throughput_rps: f64,
    /// Mean latency of completed requests.
    pub latency_mean_ms: f64,
    /// Median latency.
    pub latency_p50_ms: f64,
    /// 90th percentile latency.
    pub latency_p90_ms: f64,
    /// 99th percentile latency.
    pub latency_p99_ms: f64,
    /// 99.9th percentile latency.
    pub latency_p999_ms: f64,
    /// Share of finished requests completed within the SLO latency.
    pub slo_attainment: f64,
    /// Share of finished requests that completed.
    pub availability: f64,
    /// The SLO's latency target.
    pub slo_latency_ms: f64,
    /// The SLO's percentile.
    pub slo_percentile: f64,
    /// The SLO's availability target.
    pub slo_availability: f64,
    /// Latency at the SLO's percentile.
    pub latency_at_slo_percentile_ms: f64,
    /// True when both the latency percentile and the availability meet the SLO.
    pub slo_met: bool,
    /// Minutes of measured metrics intervals in which the class broke its SLO (for `all`: any class).
    pub slo_violation_minutes: f64,
    /// With a spike profile: seconds from the spike's start until the class is back within its SLO
    /// for good (NaN without a spike, or if it never recovers; for `all`: the slowest class).
    pub spike_absorption_s: f64,
}

impl ClassSummary {
    /// Builds a summary row from stats over `measured` time. Without an SLO (the `all` row) the SLO
    /// columns are empty and `slo_met` is false: the caller decides it from the classes.
    pub fn new(
        replication: u32,
        class: &str,
        offered: u64,
        stats: &LatencyStats,
        slo: Option<&Slo>,
        measured: SimDuration,
    ) -> Self {
        let failed = stats.failed();
        let availability = stats.availability();
        let latency_at_slo_percentile_ms =
            slo.map_or(f64::NAN, |slo| stats.percentile_ms(slo.percentile));
        ClassSummary {
            replication,
            class: class.to_string(),
            offered,
            completed: stats.completed(),
            failed,
            failed_rejected: stats.failed_for(FailReason::Rejected),
            failed_no_replica: stats.failed_for(FailReason::NoReplica),
            failed_error: stats.failed_for(FailReason::Error),
            failed_crashed: stats.failed_for(FailReason::Crashed),
            failed_timeout: stats.failed_for(FailReason::Timeout),
            failed_circuit_open: stats.failed_for(FailReason::CircuitOpen),
            failed_bulkhead_full: stats.failed_for(FailReason::BulkheadFull),
            failed_shed: stats.failed_for(FailReason::Shed),
            failed_throttled: stats.failed_for(FailReason::Throttled),
            in_flight: offered - stats.completed() - failed,
            throughput_rps: stats.completed() as f64 / measured.as_secs_f64(),
            latency_mean_ms: stats.mean_ms(),
            latency_p50_ms: stats.percentile_ms(50.0),
            latency_p90_ms: stats.percentile_ms(90.0),
            latency_p99_ms: stats.percentile_ms(99.0),
            latency_p999_ms: stats.percentile_ms(99.9),
            slo_attainment: stats.slo_attainment(),
            availability,
            slo_latency_ms: slo.map_or(f64::NAN, |slo| slo.latency.as_millis_f64()),
            slo_percentile: slo.map_or(f64::NAN, |slo| slo.percentile),
            slo_availability: slo.map_or(f64::NAN, |slo| slo.availability),
            latency_at_slo_percentile_ms,
            slo_violation_minutes: 0.0,
            spike_absorption_s: f64::NAN,
            slo_met: slo.is_some_and(|slo| {
                latency_at_slo_percentile_ms <= slo.latency.as_millis_f64()
                    && availability >= slo.availability
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_stats_summarise_exactly() {
        let mut stats = LatencyStats::new();
        for millis in [10, 20, 30] {
            stats.record_completion(SimDuration::from_millis(millis), millis <= 15);
        }
        stats.record_failure(FailReason::Rejected);
        assert_eq!(stats.mean_ms(), 20.0);
        assert_eq!(stats.failed(), 1);
        assert_eq!(stats.slo_attainment(), 0.25);
        assert_eq!(stats.availability(), 0.75);
        assert!((stats.percentile_ms(50.0) - 20.0).abs() < 0.02);
        stats.reset();
        assert!(stats.mean_ms().is_nan());
    }

    #[test]
    fn time_weighted_mean() {
        let mut gauge = TimeWeighted::default();
        gauge.change(SimTime(0), 2);
        gauge.change(SimTime(50), -1);
        let (mut sampler, mut other) = (Mark::default(), Mark::default());
        assert_eq!(
            sampler.take_mean(&gauge, SimTime(100), SimDuration(100)),
            1.5
        );
        assert_eq!(
            sampler.take_mean(&gauge, SimTime(200), SimDuration(100)),
            1.0
        );
        assert_eq!(
            other.take_mean(&gauge, SimTime(200), SimDuration(200)),
            1.25
        );
    }
}
