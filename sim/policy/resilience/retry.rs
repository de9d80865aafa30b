//! Retries: full-jitter exponential backoff and a retry budget over fixed 10-second windows.

use crate::time::{SimDuration, SimTime};

/// The wait before retry number `retry` (1 for the first retry): uniform in
/// [0, min(max, base × 2^(retry−1))], from a uniform draw `unit` in [0, 1).
pub fn backoff(base: SimDuration, max: SimDuration, retry: u32, unit: f64) -> SimDuration {
    let ceiling = (base.as_nanos() as f64 * 2f64.powi(retry.saturating_sub(1).min(62) as i32))
        .min(max.as_nanos() as f64);
    SimDuration::from_nanos((ceiling * unit) as u64)
}

/// Retries allowed as a share of first attempts, counted over fixed windows.
#[derive(Debug, Clone, Default)]
pub struct RetryBudget {
    window_start: SimTime,
    first_attempts: u64,
    retries: u64,
}

/// The window a budget counts over.
const WINDOW: SimDuration = SimDuration::from_secs(10);

impl RetryBudget {
    fn roll(&mut self, now: SimTime) {
        if now >= self.window_start + WINDOW {
            self.window_start = now;
            self.first_attempts = 0;
            self.retries = 0;
        }
    }

    /// Counts a first attempt.
    pub fn record_attempt(&mut self, now: SimTime) {
        self.roll(now);
        self.first_attempts += 1;
    }

    /// Whether one more retry fits `ratio` × first attempts in this window; counts it if so.
    pub fn try_retry(&mut self, now: SimTime, ratio: f64) -> bool {
        self.roll(now);
        if (self.retries + 1) as f64 <= ratio * self.first_attempts as f64 {
            self.retries += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let (base, max) = (SimDuration::from_millis(25), SimDuration::from_millis(250));
        assert_eq!(
            backoff(base, max, 1, 0.999_999_999),
            SimDuration::from_nanos(24_999_999)
        );
        assert_eq!(backoff(base, max, 3, 0.5), SimDuration::from_millis(50));
        assert_eq!(backoff(base, max, 10, 0.5), SimDuration::from_millis(125));
        assert_eq!(backoff(base, max, 2, 0.0), SimDuration::ZERO);
    }

    #[test]
    fn the_budget_allows_a_share_of_first_attempts_per_window() {
        let mut budget = RetryBudget::default();
        for _ in 0..10 {
            budget.record_attempt(SimTime(0));
        }
        assert!(budget.try_retry(SimTime(1), 0.2));
        assert!(budget.try_retry(SimTime(1), 0.2));
        assert!(!budget.try_retry(SimTime(1), 0.2), "20 % of 10");
        budget.record_attempt(SimTime(11_000_000_000));
        assert!(
            !budget.try_retry(SimTime(11_000_000_000), 0.2),
            "a new window: 20 % of 1 < 1"
        );
    }
}
