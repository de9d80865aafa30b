//! Validation of a component's `resilience` table (timeout, retries, backoff, retry budget,
//! circuit breaker, bulkhead) and of a service's `outlier_detection`, with Envoy / resilience4j
//! defaults.

use super::raw::{RawOutlier, RawResilience};
use super::source::Problem;
use super::validate::{Checked, in_range, optional_duration};
use crate::policy::resilience::{BreakerSpec, OutlierSpec, ResilienceSpec};
use crate::time::SimDuration;

/// Validates a service's `outlier_detection` at `path` (Envoy's defaults).
pub(super) fn validate_outlier(raw: &RawOutlier, path: &str) -> Checked<OutlierSpec> {
    let consecutive_errors = raw.consecutive_errors.unwrap_or(5);
    if consecutive_errors == 0 {
        return Err(
            Problem::new(format!("{path}.consecutive_errors"), "must be at least 1")
                .with_help("Envoy's consecutive_5xx default is 5"),
        );
    }
    let base_ejection_time = optional_duration(
        &raw.base_ejection_time,
        &format!("{path}.base_ejection_time"),
        "30s",
    )?;
    if base_ejection_time == SimDuration::ZERO {
        return Err(Problem::new(
            format!("{path}.base_ejection_time"),
            "must be longer than zero",
        )
        .with_help("Envoy's default is 30s"));
    }
    let max_ejection_time = optional_duration(
        &raw.max_ejection_time,
        &format!("{path}.max_ejection_time"),
        "300s",
    )?;
    if max_ejection_time < base_ejection_time {
        return Err(Problem::new(
            format!("{path}.max_ejection_time"),
            format!("{max_ejection_time} is below base_ejection_time {base_ejection_time}"),
        ));
    }
    let max_ejection_percent = raw.max_ejection_percent.unwrap_or(10);
    if max_ejection_percent > 100 {
        return Err(Problem::new(
            format!("{path}.max_ejection_percent"),
            format!("{max_ejection_percent} % of the replicas"),
        )
        .with_help("0 to 100 (one replica may always be ejected)"));
    }
    let interval = optional_duration(&raw.interval, &format!("{path}.interval"), "10s")?;
    if interval == SimDuration::ZERO {
        return Err(
            Problem::new(format!("{path}.interval"), "must be longer than zero")
                .with_help("Envoy's default is 10s"),
        );
    }
    Ok(OutlierSpec {
        consecutive_errors,
        base_ejection_time,
        max_ejection_time,
        max_ejection_percent,
        interval,
    })
}

/// Validates `resilience` at `path`.
pub(super) fn validate_resilience(raw: &RawResilience, path: &str) -> Checked<ResilienceSpec> {
    let timeout = match &raw.timeout {
        None => None,
        Some(_) => {
            let timeout = optional_duration(&raw.timeout, &format!("{path}.timeout"), "")?;
            if timeout == SimDuration::ZERO {
                return Err(
                    Problem::new(format!("{path}.timeout"), "must be longer than zero")
                        .with_help("e.g. timeout = \"1s\""),
                );
            }
            Some(timeout)
        }
    };
    let max_attempts = raw.max_attempts.unwrap_or(1);
    if max_attempts == 0 || max_attempts > 100 {
        return Err(Problem::new(
            format!("{path}.max_attempts"),
            format!("{max_attempts} attempts"),
        )
        .with_help(
            "attempts in all, the first included: 1 (no retries) to 100; Envoy's default allows 3",
        ));
    }
    // Envoy: fully jittered exponential backoff, 25 ms base, 250 ms cap.
    let backoff_base =
        optional_duration(&raw.backoff_base, &format!("{path}.backoff_base"), "25ms")?;
    let backoff_max = optional_duration(&raw.backoff_max, &format!("{path}.backoff_max"), "250ms")?;
    if backoff_max < backoff_base {
        return Err(Problem::new(
            format!("{path}.backoff_max"),
            format!("{backoff_max} is below backoff_base {backoff_base}"),
        ));
    }
    let retry_budget = raw
        .retry_budget
        .map(|ratio| {
            in_range(
                ratio,
                &format!("{path}.retry_budget"),
                0.0,
                10.0,
                "retries per first attempt",
            )
        })
        .transpose()?;
    let circuit_breaker = match &raw.circuit_breaker {
        None => None,
        Some(breaker) => {
            let breaker_path = format!("{path}.circuit_breaker");
            let window = breaker.window.unwrap_or(20);
            if window == 0 {
                return Err(Problem::new(
                    format!("{breaker_path}.window"),
                    "an empty window can never judge a failure rate",
                )
                .with_help("count the last N calls, e.g. window = 20"));
            }
            let minimum_calls = breaker.minimum_calls.unwrap_or(window.min(10));
            if minimum_calls == 0 || minimum_calls > window {
                return Err(Problem::new(
                    format!("{breaker_path}.minimum_calls"),
                    format!("{minimum_calls} is not in 1..={window} (the window)"),
                ));
            }
            let half_open_calls = breaker.half_open_calls.unwrap_or(3);
            if half_open_calls == 0 {
                return Err(Problem::new(
                    format!("{breaker_path}.half_open_calls"),
                    "must be at least 1",
                ));
            }
            Some(BreakerSpec {
                failure_rate: in_range(
                    breaker.failure_rate.unwrap_or(0.5),
                    &format!("{breaker_path}.failure_rate"),
                    0.01,
                    1.0,
                    "a failure rate",
                )?,
                window,
                minimum_calls,
                open_for: optional_duration(
                    &breaker.open_for,
                    &format!("{breaker_path}.open_for"),
                    "5s",
                )?,
                half_open_calls,
            })
        }
    };
    Ok(ResilienceSpec {
        timeout,
        max_attempts,
        backoff_base,
        backoff_max,
        retry_budget,
        circuit_breaker,
        max_concurrent_calls: match raw.max_concurrent_calls {
            Some(0) => {
                return Err(Problem::new(
                    format!("{path}.max_concurrent_calls"),
                    "a bulkhead of 0 lets no call through",
                )
                .with_help("at least 1, e.g. max_concurrent_calls = 25 (resilience4j's default)"));
            }
            limit => limit,
        },
        adaptive_throttling: raw
            .adaptive_throttling
            .map(|k| {
                in_range(
                    k,
                    &format!("{path}.adaptive_throttling"),
                    1.0,
                    100.0,
                    "the accepts multiplier K (the SRE book suggests 2)",
                )
            })
            .transpose()?,
    })
}
