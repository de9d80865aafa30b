//! Outlier ejection (Envoy's `consecutive_5xx` detection): a replica that answers with a run of
//! errors leaves its load balancer's rotation for a while, longer each time it is ejected again —
//! unless it stayed healthy in between, which brings the multiplier back down.

use crate::time::SimDuration;
use serde::Serialize;
use std::fmt;

/// A service's outlier detection (Envoy defaults: 5 consecutive errors, 30 s base ejection, 300 s
/// cap, at most 10 % of the replicas ejected but always at least one, a 10 s interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OutlierSpec {
    /// Consecutive failed answers that eject a replica.
    pub consecutive_errors: u32,
    /// Ejection time of a first ejection; the k-th ejection lasts k times as long.
    pub base_ejection_time: SimDuration,
    /// The longest an ejection lasts.
    pub max_ejection_time: SimDuration,
    /// The most replicas ejected at once, in percent of the service's replicas in rotation or
    /// ejected (rounded down, but one may always be ejected).
    pub max_ejection_percent: u32,
    /// Each full interval a replica spends back in rotation takes one off its ejection count.
    pub interval: SimDuration,
}

impl OutlierSpec {
    /// How long the `ejection`-th ejection (1 for the first) of a replica lasts.
    pub fn ejection_time(&self, ejection: u32) -> SimDuration {
        let nanos = self
            .base_ejection_time
            .as_nanos()
            .saturating_mul(u64::from(ejection.max(1)));
        SimDuration::from_nanos(nanos.min(self.max_ejection_time.as_nanos()))
    }

    /// The ejection count of a replica ejected `ejections` times, after `healthy_for` back in
    /// rotation: one less per full `interval` (Envoy decrements the multiplier each interval in
    /// which the host is not ejected).
    pub fn decayed(&self, ejections: u32, healthy_for: SimDuration) -> u32 {
        let intervals = healthy_for.as_nanos() / self.interval.as_nanos().max(1);
        ejections.saturating_sub(u32::try_from(intervals).unwrap_or(u32::MAX))
    }

    /// Whether one more replica may be ejected when `ejected` of `replicas` already are.
    pub fn may_eject(&self, ejected: u32, replicas: u32) -> bool {
        let allowed = (u64::from(replicas) * u64::from(self.max_ejection_percent) / 100).max(1);
        u64::from(ejected) < allowed
    }
}

impl fmt::Display for OutlierSpec {
    /// `after 5 failed answers in a row, for 30s × ejections (at most 300s), at most 10 %`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "after {} failed answers in a row, for {} × ejections (at most {}, one less per {} back), at most {} % of the replicas",
            self.consecutive_errors,
            self.base_ejection_time,
            self.max_ejection_time,
            self.interval,
            self.max_ejection_percent
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envoy_defaults() -> OutlierSpec {
        OutlierSpec {
            consecutive_errors: 5,
            base_ejection_time: SimDuration::from_secs(30),
            max_ejection_time: SimDuration::from_secs(300),
            max_ejection_percent: 10,
            interval: SimDuration::from_secs(10),
        }
    }

    #[test]
    fn the_multiplier_comes_down_one_per_healthy_interval() {
        let spec = envoy_defaults();
        // (ejections, seconds back in rotation, ejection count then)
        for (ejections, healthy_s, expected) in
            [(3, 0, 3), (3, 9, 3), (3, 10, 2), (3, 25, 1), (3, 600, 0)]
        {
            assert_eq!(
                spec.decayed(ejections, SimDuration::from_secs(healthy_s)),
                expected,
                "{ejections} ejections, {healthy_s} s healthy"
            );
        }
    }

    #[test]
    fn ejection_time_grows_with_each_ejection_up_to_the_cap() {
        let spec = envoy_defaults();
        for (ejection, seconds) in [(1, 30), (2, 60), (3, 90), (10, 300), (11, 300), (0, 30)] {
            assert_eq!(
                spec.ejection_time(ejection),
                SimDuration::from_secs(seconds),
                "ejection {ejection}"
            );
        }
    }

    #[test]
    fn at_most_the_percent_but_always_one() {
        let spec = envoy_defaults();
        // (already ejected, replicas, may eject one more)
        for (ejected, replicas, expected) in [
            (0, 1, true),
            (0, 3, true),
            (1, 3, false),
            (1, 19, false),
            (1, 20, true),
            (2, 20, false),
            (0, 0, true),
        ] {
            assert_eq!(
                spec.may_eject(ejected, replicas),
                expected,
                "{ejected} of {replicas}"
            );
        }
        let half = OutlierSpec {
            max_ejection_percent: 50,
            ..spec
        };
        assert!(half.may_eject(1, 4));
        assert!(!half.may_eject(2, 4));
        assert!(!half.may_eject(2, 5));
    }
}
