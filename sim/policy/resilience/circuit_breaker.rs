//! A count-based circuit breaker: closed → open when the failure rate over the last N outcomes
//! reaches the threshold → half-open after the open duration → closed after successful trial calls,
//! open again on a failed one.

use super::BreakerSpec;
use crate::time::SimTime;
use std::collections::VecDeque;

/// Where the breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; outcomes are counted.
    Closed,
    /// Calls fail at once until the given time.
    Open {
        /// When trial calls may start.
        until: SimTime,
    },
    /// Up to the configured number of trial calls go through.
    HalfOpen {
        /// Trial calls still allowed.
        trials_left: u32,
        /// Trial calls that succeeded.
        successes: u32,
    },
}

/// One breaker's state and window.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    spec: BreakerSpec,
    state: BreakerState,
    outcomes: VecDeque<bool>,
    failures: u32,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(spec: BreakerSpec) -> Self {
        CircuitBreaker {
            spec,
            state: BreakerState::Closed,
            outcomes: VecDeque::new(),
            failures: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a call may go out now (takes a trial slot in the half-open state).
    pub fn allow(&mut self, now: SimTime) -> bool {
        if let BreakerState::Open { until } = self.state {
            if now < until {
                return false;
            }
            self.state = BreakerState::HalfOpen {
                trials_left: self.spec.half_open_calls,
                successes: 0,
            };
        }
        match &mut self.state {
            BreakerState::HalfOpen { trials_left, .. } if *trials_left == 0 => false,
            BreakerState::HalfOpen { trials_left, .. } => {
                *trials_left -= 1;
                true
            }
            _ => true,
        }
    }

    /// Counts a call's outcome.
    pub fn record(&mut self, now: SimTime, success: bool) {
        match &mut self.state {
            BreakerState::Open { .. } => {}
            BreakerState::HalfOpen { successes, .. } => {
                if !success {
                    self.trip(now);
                } else {
                    *successes += 1;
                    if *successes >= self.spec.half_open_calls {
                        self.state = BreakerState::Closed;
                        self.outcomes.clear();
                        self.failures = 0;
                    }
                }
            }
            BreakerState::Closed => {
                self.outcomes.push_back(success);
                self.failures += u32::from(!success);
                if self.outcomes.len() > self.spec.window as usize {
                    let dropped = self.outcomes.pop_front().expect("non-empty");
                    self.failures -= u32::from(!dropped);
                }
                let calls = self.outcomes.len() as u32;
                if calls >= self.spec.minimum_calls
                    && f64::from(self.failures) >= self.spec.failure_rate * f64::from(calls)
                {
                    self.trip(now);
                }
            }
        }
    }

    fn trip(&mut self, now: SimTime) {
        self.state = BreakerState::Open {
            until: now + self.spec.open_for,
        };
        self.outcomes.clear();
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    fn spec() -> BreakerSpec {
        BreakerSpec {
            failure_rate: 0.5,
            window: 4,
            minimum_calls: 4,
            open_for: SimDuration::from_secs(5),
            half_open_calls: 2,
        }
    }

    #[test]
    fn opens_on_the_failure_rate_and_recovers_through_half_open() {
        let mut breaker = CircuitBreaker::new(spec());
        let t = |s: u64| SimTime(s * 1_000_000_000);
        for success in [true, false, true] {
            assert!(breaker.allow(t(0)));
            breaker.record(t(0), success);
        }
        assert_eq!(breaker.state(), BreakerState::Closed, "3 calls < minimum 4");
        breaker.record(t(1), false);
        assert_eq!(
            breaker.state(),
            BreakerState::Open { until: t(6) },
            "2 of 4 failed = 50 %"
        );
        assert!(!breaker.allow(t(5)));
        assert!(breaker.allow(t(6)) && breaker.allow(t(6)));
        assert!(!breaker.allow(t(6)), "only two trial calls");
        breaker.record(t(6), true);
        breaker.record(t(6), true);
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failed_trial_opens_it_again() {
        let mut breaker = CircuitBreaker::new(spec());
        for _ in 0..4 {
            breaker.record(SimTime(0), false);
        }
        assert!(breaker.allow(SimTime(5_000_000_000)));
        breaker.record(SimTime(5_000_000_000), false);
        assert!(matches!(breaker.state(), BreakerState::Open { .. }));
    }
}
