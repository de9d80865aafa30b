//! ECS target tracking (Application Auto Scaling): two CloudWatch-style alarms around the target and
//! a proportional step.
//!
//! Semantics (facts/domain.md §2; AAS API `TargetTrackingScalingPolicyConfiguration`):
//!
//! - **Alarms.** Scale out when the latest [`SCALE_OUT_DATAPOINTS`] (3) published datapoints are all
//!   above the target — the alarm AWS creates, "metric > target for 3 datapoints within 3 minutes".
//!   Scale in when the latest [`SCALE_IN_DATAPOINTS`] (15) are all below [`SCALE_IN_FACTOR`] (0.9) ×
//!   target ("15 datapoints within 15 minutes"; target 30 scales in below 27). The counts are
//!   datapoints, whatever the metric period. A NaN datapoint (no healthy task) breaches neither alarm:
//!   insufficient data, no action. While an alarm holds, it fires at every evaluation (CloudWatch
//!   re-invokes Auto Scaling actions each period while in ALARM); the cooldowns limit the effect.
//! - **Proportional step.** desired = ⌈capacity × latest / target⌉, clamped to min/max. For scale-in
//!   the same formula is the fewest tasks that keep the metric under the target (assuming it scales
//!   inversely with the task count), so scale-in never goes below it.
//! - **Scale-out cooldown** (default 300 s). AWS: "the capacity added by the previous scale-out that
//!   initiated the cooldown is calculated as part of the desired capacity for the next scale-out".
//!   Here: during the cooldown the capacity in the formula stays the count *before* the initiating
//!   scale-out (the capacity the metric still largely reflects, since new tasks take time to become
//!   healthy), and a further scale-out happens only if it raises desired above what the previous one
//!   set. A top-up does not restart the cooldown; the next scale-out after it ends starts a new one.
//! - **Scale-in cooldown** (default 300 s): no scale-in within it after the last scale activity of
//!   this policy, scale-out or scale-in. (AWS words it after a scale-in; waiting after a scale-out
//!   too keeps a stale low alarm from undoing it.) A scale-out is never delayed by it, as AWS says.
//! - `disable_scale_in`: the policy never removes tasks.
//! - Cooldowns start at the decision (AWS starts them when the activity completes; the model's
//!   activity latency is measured separately in `scaling.csv`).
//! - Evaluated once per metric period.

use super::{
    AutoscalerSpec, Datapoint, ScaleDecision, ScalingMetric, ScalingView, ServiceAutoscaler,
    TargetTrackingSpec, ceil_count, clamp_count, enforce_bounds, latest_all, latest_value,
    within_window,
};
use crate::time::{SimDuration, SimTime};

/// Datapoints that must all be above the target to scale out (the high alarm's 3 of 3).
pub const SCALE_OUT_DATAPOINTS: usize = 3;
/// Datapoints that must all be below the scale-in threshold to scale in (the low alarm's 15 of 15).
pub const SCALE_IN_DATAPOINTS: usize = 15;
/// The low alarm's threshold as a fraction of the target.
pub const SCALE_IN_FACTOR: f64 = 0.9;

/// An ECS target tracking scaling policy with its cooldown memory.
#[derive(Debug, Clone)]
pub struct TargetTracking {
    /// The validated parameters.
    spec: TargetTrackingSpec,
    /// The running scale-out cooldown, if any.
    cooldown: Option<ScaleOutCooldown>,
    /// The last scale-out or scale-in this policy decided.
    last_activity: Option<SimTime>,
}

/// A scale-out cooldown: when it started, the capacity before it, and the desired count it set.
#[derive(Debug, Clone, Copy)]
struct ScaleOutCooldown {
    started: SimTime,
    base: u32,
    set: u32,
}

impl TargetTracking {
    /// The policy for a valid `TargetTracking` spec; an error for another kind or an invalid spec.
    pub fn from_spec(spec: &AutoscalerSpec) -> Result<Self, String> {
        spec.validate()
            .map_err(|(field, message)| format!("{field}: {message}"))?;
        match spec {
            AutoscalerSpec::TargetTracking(spec) => Ok(TargetTracking {
                spec: spec.clone(),
                cooldown: None,
                last_activity: None,
            }),
            _ => Err(format!(
                "a {} spec is not target tracking",
                spec.kind_name()
            )),
        }
    }

    /// ⌈capacity × value / target⌉ clamped to min/max.
    fn proportional(&self, capacity: u32, value: f64) -> u32 {
        let wanted = ceil_count(f64::from(capacity) * value / self.spec.target);
        clamp_count(wanted as i64, self.spec.min, self.spec.max)
    }

    fn scale_out(&mut self, view: &ScalingView<'_>, value: f64) -> Option<ScaleDecision> {
        let base = self.cooldown.map_or(view.desired, |cooldown| cooldown.base);
        let proposal = self.proportional(base, value);
        let floor = self
            .cooldown
            .map_or(view.desired, |cooldown| cooldown.set.max(view.desired));
        if proposal <= floor {
            return None;
        }
        let reason = format!(
            "target tracking: last {SCALE_OUT_DATAPOINTS} {} datapoints above target {}; \
             ceil({base} × {value} / {}) = {proposal}{}",
            self.spec.metric.name(),
            self.spec.target,
            self.spec.target,
            if self.cooldown.is_some() {
                " (top-up within the scale-out cooldown)"
            } else {
                ""
            }
        );
        match &mut self.cooldown {
            Some(cooldown) => cooldown.set = proposal,
            None => {
                self.cooldown = Some(ScaleOutCooldown {
                    started: view.now,
                    base: view.desired,
                    set: proposal,
                })
            }
        }
        self.last_activity = Some(view.now);
        Some(ScaleDecision {
            desired: proposal,
            reason,
        })
    }

    fn scale_in(&mut self, view: &ScalingView<'_>, value: f64) -> Option<ScaleDecision> {
        if self.spec.disable_scale_in
            || self
                .last_activity
                .is_some_and(|last| within_window(last, view.now, self.spec.scale_in_cooldown))
        {
            return None;
        }
        let proposal = self.proportional(view.desired, value);
        if proposal >= view.desired {
            return None;
        }
        self.last_activity = Some(view.now);
        self.cooldown = None;
        Some(ScaleDecision {
            desired: proposal,
            reason: format!(
                "target tracking: last {SCALE_IN_DATAPOINTS} {} datapoints below {SCALE_IN_FACTOR} × \
                 target {}; ceil({} × {value} / {}) = {proposal}",
                self.spec.metric.name(),
                self.spec.target,
                view.desired,
                self.spec.target
            ),
        })
    }

    /// Whether the high (scale-out) alarm holds.
    fn high_alarm(&self, datapoints: &[Datapoint]) -> bool {
        latest_all(datapoints, SCALE_OUT_DATAPOINTS, |value| {
            value > self.spec.target
        })
    }

    /// Whether the low (scale-in) alarm holds.
    fn low_alarm(&self, datapoints: &[Datapoint]) -> bool {
        let threshold = SCALE_IN_FACTOR * self.spec.target;
        latest_all(datapoints, SCALE_IN_DATAPOINTS, |value| value < threshold)
    }
}

impl ServiceAutoscaler for TargetTracking {
    fn metric(&self) -> ScalingMetric {
        self.spec.metric
    }

    fn metric_period(&self) -> SimDuration {
        self.spec.metric_period
    }

    fn evaluation_interval(&self) -> SimDuration {
        self.spec.metric_period
    }

    fn evaluate(&mut self, view: &ScalingView<'_>) -> Option<ScaleDecision> {
        if let Some(decision) =
            enforce_bounds(view, self.spec.min, self.spec.max, "target tracking")
        {
            return Some(decision);
        }
        if self.cooldown.is_some_and(|cooldown| {
            !within_window(cooldown.started, view.now, self.spec.scale_out_cooldown)
        }) {
            self.cooldown = None;
        }
        let value = latest_value(view.datapoints)?;
        if self.high_alarm(view.datapoints) {
            self.scale_out(view, value)
        } else if self.low_alarm(view.datapoints) {
            self.scale_in(view, value)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{ClosedLoop, secs, series, view};
    use super::*;
    use crate::time::SimDuration;

    const MINUTE: SimDuration = SimDuration::from_secs(60);

    fn policy(target: f64, min: u32, max: u32) -> TargetTracking {
        TargetTracking::from_spec(&AutoscalerSpec::target_tracking_default(
            ScalingMetric::CpuUtilization,
            target,
            min,
            max,
        ))
        .unwrap()
    }

    /// One evaluation: (case, datapoints oldest first, desired, expected desired or None), target 0.5
    /// (scale-in below 0.45), min 1, max 10, fresh policy (no cooldown running).
    #[test]
    fn single_evaluations_follow_the_alarms() {
        let low15 = [0.3; 15];
        let mut almost_low = [0.3; 15];
        almost_low[0] = 0.45;
        let table: [(&str, &[f64], u32, Option<u32>); 14] = [
            ("2 high datapoints are not an alarm", &[0.8, 0.8], 4, None),
            (
                "3 high: ceil(4 × 0.8 / 0.5) = 7",
                &[0.8, 0.8, 0.8],
                4,
                Some(7),
            ),
            (
                "uses the latest: ceil(4 × 1.0 / 0.5)",
                &[0.6, 0.7, 1.0],
                4,
                Some(8),
            ),
            ("not consecutive", &[0.8, 0.4, 0.8], 4, None),
            ("exactly at target is not above", &[0.5, 0.5, 0.5], 4, None),
            (
                "latest NaN: insufficient data",
                &[0.8, 0.8, f64::NAN],
                4,
                None,
            ),
            ("NaN inside the 3", &[0.8, f64::NAN, 0.8], 4, None),
            ("clamped to max", &[1.0, 1.0, 1.0], 8, Some(10)),
            ("15 low: ceil(10 × 0.3 / 0.5) = 6", &low15, 10, Some(6)),
            ("14 low are not enough", &low15[1..], 10, None),
            ("one at 0.9 × target is not below", &almost_low, 10, None),
            ("keeps the metric under target", &[0.44; 15], 5, None),
            ("clamped to min", &[0.01; 15], 10, Some(1)),
            ("below min first", &[0.3; 15], 0, Some(1)),
        ];
        for (case, values, desired, expected) in table {
            let points = series(values, MINUTE, secs(60 * 20));
            let decision = policy(0.5, 1, 10).evaluate(&view(
                secs(60 * 20),
                &points,
                desired,
                desired,
                desired,
            ));
            assert_eq!(decision.map(|d| d.desired), expected, "{case}");
        }
    }

    /// The domain example: target 30, scale-in below 27 (facts/domain.md §2).
    #[test]
    fn scale_in_threshold_is_ninety_percent_of_target() {
        let table = [(27.0, None), (26.9, Some(9))];
        for (value, expected) in table {
            let mut policy = TargetTracking::from_spec(&AutoscalerSpec::target_tracking_default(
                ScalingMetric::RequestsPerTarget,
                30.0,
                1,
                20,
            ))
            .unwrap();
            let points = series(&[value; 15], MINUTE, secs(900));
            let decision = policy.evaluate(&view(secs(900), &points, 10, 10, 10));
            assert_eq!(decision.map(|d| d.desired), expected, "at {value}");
        }
        let mut disabled =
            TargetTracking::from_spec(&AutoscalerSpec::TargetTracking(TargetTrackingSpec {
                scale_out_cooldown: MINUTE,
                scale_in_cooldown: MINUTE,
                disable_scale_in: true,
                metric_period: MINUTE,
                ..TargetTrackingSpec::with_defaults(ScalingMetric::RequestsPerTarget, 30.0, 1, 20)
            }))
            .unwrap();
        let points = series(&[1.0; 15], MINUTE, secs(900));
        assert_eq!(
            disabled.evaluate(&view(secs(900), &points, 10, 10, 10)),
            None
        );
    }

    /// A sequence on one policy (target 0.5, cooldowns 300 s): (time s, new datapoint, desired
    /// before, expected). Datapoints accumulate, one per minute.
    #[test]
    fn cooldowns_follow_the_table() {
        let table: [(u64, f64, u32, Option<u32>); 12] = [
            (60, 1.0, 2, None),
            (120, 1.0, 2, None),
            // 3 high: ceil(2 × 1.0 / 0.5) = 4; the scale-out cooldown runs until 480 s.
            (180, 1.0, 2, Some(4)),
            // Still high (new tasks not healthy yet): base stays 2 → 4, nothing new.
            (240, 1.0, 4, None),
            // Demand rose: ceil(2 × 1.5 / 0.5) = 6 > 4, a top-up within the cooldown.
            (300, 1.5, 4, Some(6)),
            (360, 0.6, 6, None),
            (420, 0.6, 6, None),
            // Cooldown over at 480 s: base is the desired count again, ceil(6 × 0.6 / 0.5) = 8.
            (480, 0.6, 6, Some(8)),
            // Low datapoints from here on, but scale-in waits for 15 of them.
            (540, 0.1, 8, None),
            (1320, 0.1, 8, None),
            // 15 low (540 … 1380): ceil(8 × 0.1 / 0.5) = 2; the last activity was at 480 s.
            (1380, 0.1, 8, Some(2)),
            (1560, 0.9, 2, None),
        ];
        let mut policy = policy(0.5, 1, 10);
        let mut values = Vec::new();
        for (time, value, desired, expected) in table {
            while values.len() < (time / 60) as usize - 1 {
                values.push(*values.last().unwrap_or(&value));
            }
            values.push(value);
            let points = series(&values, MINUTE, secs(time));
            let decision = policy.evaluate(&view(secs(time), &points, desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "at {time} s");
        }
        // Two more high datapoints make the alarm: a scale-out right after a scale-in is not
        // delayed by the scale-in cooldown.
        for time in [1620, 1680] {
            values.push(0.9);
            let points = series(&values, MINUTE, secs(time));
            let decision = policy.evaluate(&view(secs(time), &points, 2, 2, 2));
            let expected = (time == 1680).then_some(4);
            assert_eq!(decision.map(|d| d.desired), expected, "at {time} s");
        }
    }

    /// No scale-in within the scale-in cooldown after a scale-out.
    #[test]
    fn scale_in_waits_for_the_cooldown_after_any_activity() {
        let mut policy =
            TargetTracking::from_spec(&AutoscalerSpec::TargetTracking(TargetTrackingSpec {
                scale_out_cooldown: MINUTE,
                scale_in_cooldown: SimDuration::from_secs(1200),
                metric_period: MINUTE,
                ..TargetTrackingSpec::with_defaults(ScalingMetric::CpuUtilization, 0.5, 1, 10)
            }))
            .unwrap();
        let high = series(&[0.9; 3], MINUTE, secs(180));
        assert_eq!(
            policy
                .evaluate(&view(secs(180), &high, 2, 2, 2))
                .map(|d| d.desired),
            Some(4)
        );
        let low = series(&[0.1; 15], MINUTE, secs(1200));
        assert_eq!(policy.evaluate(&view(secs(1200), &low, 4, 4, 4)), None);
        let low = series(&[0.1; 15], MINUTE, secs(1380));
        assert_eq!(
            policy
                .evaluate(&view(secs(1380), &low, 4, 4, 4))
                .map(|d| d.desired),
            Some(1)
        );
    }

    /// A fixed demand D (in busy workers, spread over the ready tasks, utilization capped at 1) with
    /// tasks healthy 90 s after
    /// they start and datapoints published 60 s late: the policy settles at ⌈D / target⌉ (or, from
    /// above, at any count whose metric is within the 0.9 × target scale-in margin), never
    /// overshoots, and stays.
    #[test]
    fn converges_to_demand_over_target() {
        // (demand D, start, expected)
        let cases = [
            (4.2, 1, 9),   // ⌈4.2 / 0.5⌉ = 9
            (6.0, 2, 12),  // ⌈6 / 0.5⌉ = 12
            (2.6, 30, 6),  // from above: ⌈2.6 / 0.5⌉ = 6
            (9.6, 21, 21), // ⌈19.2⌉ = 20, but 9.6 / 21 = 0.457 ≥ 0.45: the scale-in margin holds
        ];
        for (demand, start, expected) in cases {
            let mut policy = policy(0.5, 1, 40);
            let closed = ClosedLoop {
                ready_delay: SimDuration::from_secs(90),
                publish_delay: MINUTE,
                // cpu_utilization saturates at 1: the proportional step is then at most ×2.
                metric: Box::new(move |ready| (demand / ready).min(1.0)),
            };
            let history = closed.run(&mut policy, start, SimDuration::from_secs(4 * 3600));
            let peak = history.iter().map(|&(_, desired)| desired).max().unwrap();
            assert!(
                peak <= expected.max(start),
                "overshoot to {peak}: {history:?}"
            );
            let settled = &history[history.len() - 60..];
            assert!(
                settled.iter().all(|&(_, desired)| desired == expected),
                "start {start}, expected {expected}: {settled:?}"
            );
        }
    }
}
