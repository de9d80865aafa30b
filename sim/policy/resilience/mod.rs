//! Resilience patterns on calls to a component: timeouts, retries with jittered exponential backoff
//! and a retry budget, a circuit breaker, a bulkhead, adaptive throttling; and on a service's
//! replicas: outlier ejection. Defaults follow Envoy and resilience4j (facts/domain.md §5).

mod circuit_breaker;
mod outlier;
mod retry;
mod throttle;

pub use circuit_breaker::{BreakerState, CircuitBreaker};
pub use outlier::OutlierSpec;
pub use retry::{RetryBudget, backoff};
pub use throttle::AdaptiveThrottle;

use crate::time::SimDuration;
use serde::Serialize;
use std::fmt;

/// How callers treat calls to one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResilienceSpec {
    /// A call not answered within this fails with `timeout` (the callee's work goes on).
    pub timeout: Option<SimDuration>,
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Backoff base: attempt k waits a uniform draw in [0, min(cap, base × 2^(k−1))] (full jitter).
    pub backoff_base: SimDuration,
    /// Backoff cap.
    pub backoff_max: SimDuration,
    /// Retries allowed per first attempt, over 10-second windows (`None`: unlimited).
    pub retry_budget: Option<f64>,
    /// The circuit breaker, if any.
    pub circuit_breaker: Option<BreakerSpec>,
    /// Bulkhead: the most attempts one calling task may have in flight to the component at once
    /// (`None`: unlimited); one more fails at once with `bulkhead_full`.
    pub max_concurrent_calls: Option<u32>,
    /// Adaptive throttling's accepts multiplier K (`None`: no throttling): callers reject attempts
    /// locally, with `throttled`, as requests outgrow K × accepts over two minutes.
    pub adaptive_throttling: Option<f64>,
}

/// A count-based circuit breaker (resilience4j semantics).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreakerSpec {
    /// Opens when the failure rate over the window reaches this (0–1).
    pub failure_rate: f64,
    /// Outcomes in the sliding window.
    pub window: u32,
    /// Fewest outcomes before the rate is judged.
    pub minimum_calls: u32,
    /// How long it stays open before letting trial calls through.
    pub open_for: SimDuration,
    /// Trial calls in the half-open state.
    pub half_open_calls: u32,
}

impl fmt::Display for ResilienceSpec {
    /// Briefly, the parts that are set: `timeout 200ms, 4 attempts (backoff 25ms to 250ms), …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = vec![match self.timeout {
            Some(timeout) => format!("timeout {timeout}"),
            None => "no timeout".to_string(),
        }];
        parts.push(if self.max_attempts > 1 {
            format!(
                "{} attempts (backoff {} to {})",
                self.max_attempts, self.backoff_base, self.backoff_max
            )
        } else {
            "no retries".to_string()
        });
        if let Some(budget) = self.retry_budget {
            parts.push(format!("retry budget {budget}"));
        }
        if let Some(breaker) = self.circuit_breaker {
            parts.push(format!(
                "circuit breaker at {} % failed of {} calls (at least {}), open {}, {} trial calls",
                breaker.failure_rate * 100.0,
                breaker.window,
                breaker.minimum_calls,
                breaker.open_for,
                breaker.half_open_calls
            ));
        }
        if let Some(k) = self.adaptive_throttling {
            parts.push(format!("adaptive throttling K = {k}"));
        }
        if let Some(limit) = self.max_concurrent_calls {
            parts.push(format!("bulkhead of {limit} calls per caller task"));
        }
        write!(f, "{}", parts.join(", "))
    }
}
