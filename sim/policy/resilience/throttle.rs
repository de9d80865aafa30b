//! Adaptive throttling (Google SRE book, "Handling Overload"): callers reject attempts locally with
//! probability max(0, (requests − K × accepts) / (requests + 1)) over the last two minutes, so a
//! backend that fails most of what it gets is sent little more than it can accept.

use crate::time::{SimDuration, SimTime};

/// The window the counts cover: the last two minutes, in 10-second buckets.
const BUCKET: SimDuration = SimDuration::from_secs(10);
const BUCKETS: usize = 12;

/// Requests and accepts over a sliding two-minute window.
#[derive(Debug, Clone)]
pub struct AdaptiveThrottle {
    /// Accepts multiplier K: 2 lets through about twice what the backend accepts.
    k: f64,
    /// (requests, accepts) per bucket, a ring; `current` is the bucket `current_start` begins.
    buckets: [(u64, u64); BUCKETS],
    current: usize,
    current_start: SimTime,
}

impl AdaptiveThrottle {
    /// A throttle with multiplier `k` and empty counts.
    pub fn new(k: f64) -> Self {
        AdaptiveThrottle {
            k,
            buckets: [(0, 0); BUCKETS],
            current: 0,
            current_start: SimTime::ZERO,
        }
    }

    /// Moves the window to `now`, clearing the buckets it leaves behind.
    fn roll(&mut self, now: SimTime) {
        let elapsed = (now - self.current_start).as_nanos() / BUCKET.as_nanos();
        if elapsed == 0 {
            return;
        }
        for step in 1..=elapsed.min(BUCKETS as u64) {
            self.buckets[(self.current + step as usize) % BUCKETS] = (0, 0);
        }
        self.current = (self.current + (elapsed % BUCKETS as u64) as usize) % BUCKETS;
        self.current_start += SimDuration::from_nanos(elapsed * BUCKET.as_nanos());
    }

    /// The probability of rejecting the next attempt locally.
    pub fn rejection_probability(&mut self, now: SimTime) -> f64 {
        self.roll(now);
        let (requests, accepts) = self
            .buckets
            .iter()
            .fold((0u64, 0u64), |(r, a), &(br, ba)| (r + br, a + ba));
        ((requests as f64 - self.k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
    }

    /// Counts an attempt the caller made (sent or rejected locally).
    pub fn record_request(&mut self, now: SimTime) {
        self.roll(now);
        self.buckets[self.current].0 += 1;
    }

    /// Counts an attempt the backend accepted (answered with success).
    pub fn record_accept(&mut self, now: SimTime) {
        self.roll(now);
        self.buckets[self.current].1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(seconds)
    }

    fn throttle_with(k: f64, requests: u64, accepts: u64) -> AdaptiveThrottle {
        let mut throttle = AdaptiveThrottle::new(k);
        for _ in 0..requests {
            throttle.record_request(at(5));
        }
        for _ in 0..accepts {
            throttle.record_accept(at(5));
        }
        throttle
    }

    #[test]
    fn the_sre_formula() {
        // (K, requests, accepts, probability)
        for (k, requests, accepts, expected) in [
            (2.0, 0, 0, 0.0),
            (2.0, 100, 100, 0.0),
            (2.0, 100, 50, 0.0),
            (2.0, 100, 40, 20.0 / 101.0),
            (2.0, 100, 0, 100.0 / 101.0),
            (1.1, 100, 50, 45.0 / 101.0),
        ] {
            let probability = throttle_with(k, requests, accepts).rejection_probability(at(6));
            assert!(
                (probability - expected).abs() < 1e-12,
                "K={k} {requests}/{accepts}: {probability}"
            );
        }
    }

    #[test]
    fn counts_leave_the_window_after_two_minutes() {
        let mut throttle = throttle_with(2.0, 100, 0);
        assert!(throttle.rejection_probability(at(60)) > 0.9);
        // At 119 s the bucket of 0–10 s is still in the window; at 120 s it has left.
        assert!(throttle.rejection_probability(at(119)) > 0.9);
        assert_eq!(throttle.rejection_probability(at(120)), 0.0);
        // A long silence clears everything, and counting starts again.
        let mut quiet = throttle_with(2.0, 100, 0);
        assert_eq!(quiet.rejection_probability(at(10_000)), 0.0);
        quiet.record_request(at(10_001));
        assert!((quiet.rejection_probability(at(10_002)) - 0.5).abs() < 1e-12);
    }
}
