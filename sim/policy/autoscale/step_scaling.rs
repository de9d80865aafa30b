//! ECS step scaling (Application Auto Scaling): M-of-N CloudWatch alarms whose step adjustments,
//! relative to the alarm threshold, change the desired count.
//!
//! Semantics (AAS user guide, step scaling policies; AAS API `StepScalingPolicyConfiguration`):
//!
//! - **Alarm.** In ALARM when at least `datapoints_to_alarm` of the latest `evaluation_periods`
//!   datapoints breach the threshold; NaN never breaches. While it holds it fires at every
//!   evaluation (once per metric period), as CloudWatch re-invokes Auto Scaling actions.
//! - **Step.** The step whose bounds contain latest − threshold: above the threshold the lower bound
//!   is inclusive and the upper exclusive, below it the reverse (exactly at the threshold, the
//!   alarm's direction decides). No step contains it → no action. A NaN latest datapoint → no action.
//! - **Adjustment** ([`capacity_change`]): ChangeInCapacity adds, ExactCapacity sets,
//!   PercentChangeInCapacity adds a percentage of the current count rounded as AWS documents —
//!   results above 1 round down (12.7 → 12), between 0 and 1 become 1 (0.67 → 1), between −1 and 0
//!   become −1 (−0.58 → −1), below −1 round up (−6.67 → −6) — with `min_adjustment_magnitude` as a
//!   floor of the absolute change (25 % of 4 with a minimum of 2 adds 2). Then clamp to min/max.
//! - **Cooldown** (default 300 s). Scale-out: "the scaling policy won't increase the desired capacity
//!   again unless either a larger scale out is triggered or the cooldown period ends; the capacity
//!   added by the initiating scale-out is calculated as part of the desired capacity for the next"
//!   (+2, then +3 during the cooldown, adds only 1): during the cooldown the adjustment applies to the
//!   count before the initiating scale-out, and acts only if it raises desired. Scale-in is blocked
//!   for the cooldown after the last scale activity of this policy; a scale-out during it happens at
//!   once. One cooldown serves both alarms (AWS has one per policy).
//! - The direction is the change's sign, whichever alarm fired. If the scale-out alarm is in ALARM,
//!   the scale-in alarm is not consulted (scale out if any says so).

use super::{
    AdjustmentType, AutoscalerSpec, ScaleDecision, ScalingMetric, ScalingView, ServiceAutoscaler,
    StepScalingSpec, clamp_count, enforce_bounds, latest_value, within_window,
};
use crate::time::{SimDuration, SimTime};

/// The change in task count a step makes from `current` (for ExactCapacity, `adjustment − current`).
///
/// PercentChangeInCapacity rounds toward zero, but never to zero (AWS's rules), and
/// `min_adjustment_magnitude` raises a smaller non-zero change (or a zero change from a non-zero
/// percentage, e.g. of 0 tasks) to that magnitude, keeping its sign.
pub fn capacity_change(
    adjustment_type: AdjustmentType,
    current: u32,
    adjustment: i64,
    min_adjustment_magnitude: Option<u32>,
) -> i64 {
    let current = i64::from(current);
    match adjustment_type {
        AdjustmentType::ChangeInCapacity => adjustment,
        AdjustmentType::ExactCapacity => adjustment - current,
        AdjustmentType::PercentChangeInCapacity => {
            let hundredths = current * adjustment;
            // Integer division truncates toward zero: 12.7 → 12, −6.67 → −6; exact otherwise.
            let mut change = hundredths / 100;
            if change == 0 && hundredths != 0 {
                change = hundredths.signum();
            }
            match min_adjustment_magnitude {
                Some(minimum) if change.abs() < i64::from(minimum) && adjustment != 0 => {
                    adjustment.signum() * i64::from(minimum)
                }
                _ => change,
            }
        }
    }
}

/// An ECS step scaling policy (one or two alarms) with its cooldown memory.
#[derive(Debug, Clone)]
pub struct StepScaling {
    /// The validated parameters.
    spec: StepScalingSpec,
    /// The running scale-out cooldown, if any.
    scale_out_cooldown: Option<ScaleOutCooldown>,
    /// The last scale-out or scale-in this policy decided.
    last_activity: Option<SimTime>,
}

/// A scale-out cooldown: when it started, the count before it, and the desired count it set.
#[derive(Debug, Clone, Copy)]
struct ScaleOutCooldown {
    started: SimTime,
    base: u32,
    set: u32,
}

impl StepScaling {
    /// The policy for a valid `StepScaling` spec; an error for another kind or an invalid spec.
    pub fn from_spec(spec: &AutoscalerSpec) -> Result<Self, String> {
        spec.validate()
            .map_err(|(field, message)| format!("{field}: {message}"))?;
        match spec {
            AutoscalerSpec::StepScaling(spec) => Ok(StepScaling {
                spec: spec.clone(),
                scale_out_cooldown: None,
                last_activity: None,
            }),
            _ => Err(format!("a {} spec is not step scaling", spec.kind_name())),
        }
    }

    /// The change `adjustment` makes from `current`.
    fn change(&self, current: u32, adjustment: i64) -> i64 {
        capacity_change(
            self.spec.adjustment_type,
            current,
            adjustment,
            self.spec.min_adjustment_magnitude,
        )
    }

    /// Applies a step's adjustment, subject to the cooldown.
    fn apply(
        &mut self,
        view: &ScalingView<'_>,
        adjustment: i64,
        alarm: &str,
    ) -> Option<ScaleDecision> {
        let now = view.now;
        let change = self.change(view.desired, adjustment);
        let desired = if change > 0 {
            let base = self
                .scale_out_cooldown
                .map_or(view.desired, |cooldown| cooldown.base);
            let proposal = clamp_count(
                i64::from(base) + self.change(base, adjustment),
                self.spec.min,
                self.spec.max,
            );
            let floor = self
                .scale_out_cooldown
                .map_or(view.desired, |cooldown| cooldown.set.max(view.desired));
            if proposal <= floor {
                return None;
            }
            match &mut self.scale_out_cooldown {
                Some(cooldown) => cooldown.set = proposal,
                None => {
                    self.scale_out_cooldown = Some(ScaleOutCooldown {
                        started: now,
                        base: view.desired,
                        set: proposal,
                    })
                }
            }
            proposal
        } else if change < 0 {
            if self
                .last_activity
                .is_some_and(|last| within_window(last, now, self.spec.cooldown))
            {
                return None;
            }
            let proposal = clamp_count(
                i64::from(view.desired) + change,
                self.spec.min,
                self.spec.max,
            );
            if proposal >= view.desired {
                return None;
            }
            self.scale_out_cooldown = None;
            proposal
        } else {
            return None;
        };
        self.last_activity = Some(now);
        Some(ScaleDecision {
            desired,
            reason: format!(
                "step scaling: alarm {} {alarm}, step {adjustment} ({}): {} → {desired}",
                self.spec.metric.name(),
                self.spec.adjustment_type.name(),
                view.desired
            ),
        })
    }
}

impl ServiceAutoscaler for StepScaling {
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
        if let Some(decision) = enforce_bounds(view, self.spec.min, self.spec.max, "step scaling") {
            return Some(decision);
        }
        if self
            .scale_out_cooldown
            .is_some_and(|cooldown| !within_window(cooldown.started, view.now, self.spec.cooldown))
        {
            self.scale_out_cooldown = None;
        }
        let value = latest_value(view.datapoints)?;
        let fired = [&self.spec.scale_out, &self.spec.scale_in]
            .into_iter()
            .flatten()
            .find(|alarm| alarm.in_alarm(view.datapoints))?;
        let adjustment = fired.step_for(value)?.adjustment as i64;
        let label = format!(
            "{} {} ({}/{}; latest {value})",
            fired.comparison, fired.threshold, fired.datapoints_to_alarm, fired.evaluation_periods
        );
        self.apply(view, adjustment, &label)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{secs, series, view};
    use super::super::{Comparison, Step, StepAlarm};
    use super::*;
    use AdjustmentType::{ChangeInCapacity, ExactCapacity, PercentChangeInCapacity};

    const MINUTE: SimDuration = SimDuration::from_secs(60);

    fn step(lower: Option<f64>, upper: Option<f64>, adjustment: f64) -> Step {
        Step::new(lower, upper, adjustment)
    }

    fn policy(
        adjustment_type: AdjustmentType,
        min: u32,
        max: u32,
        out: Option<StepAlarm>,
        inward: Option<StepAlarm>,
    ) -> StepScaling {
        StepScaling::from_spec(&AutoscalerSpec::step_scaling_default(
            ScalingMetric::RequestsPerTarget,
            min,
            max,
            adjustment_type,
            out,
            inward,
        ))
        .unwrap()
    }

    /// The AAS user guide's example (`testkit::aws_step_alarms`) with these bounds.
    fn aws_example(min: u32, max: u32) -> StepScaling {
        let (out, inward) = super::super::testkit::aws_step_alarms();
        policy(PercentChangeInCapacity, min, max, Some(out), Some(inward))
    }

    /// (adjustment type, current, adjustment, min magnitude, expected change): the AAS user guide's
    /// rounding examples and the API reference's MinAdjustmentMagnitude example.
    #[test]
    fn percent_change_rounds_as_aws_documents() {
        let table = [
            (PercentChangeInCapacity, 10, 10, None, 1),   // 10 % of 10
            (PercentChangeInCapacity, 11, 30, None, 3),   // 3.3 → 3
            (PercentChangeInCapacity, 14, -10, None, -1), // −1.4 → −1
            (PercentChangeInCapacity, 13, -30, None, -3), // −3.9 → −3
            (PercentChangeInCapacity, 127, 10, None, 12), // 12.7 → 12
            (PercentChangeInCapacity, 67, 1, None, 1),    // 0.67 → 1
            (PercentChangeInCapacity, 58, -1, None, -1),  // −0.58 → −1
            (PercentChangeInCapacity, 667, -1, None, -6), // −6.67 → −6
            (PercentChangeInCapacity, 20, 10, None, 2),   // exact
            (PercentChangeInCapacity, 10, 0, None, 0),
            (PercentChangeInCapacity, 4, 25, Some(2), 2), // 1, raised to 2
            (PercentChangeInCapacity, 20, 25, Some(2), 5), // already above
            (PercentChangeInCapacity, 4, -25, Some(2), -2),
            (PercentChangeInCapacity, 0, 50, Some(2), 2), // from zero tasks
            (PercentChangeInCapacity, 0, 50, None, 0),
            (ChangeInCapacity, 3, 5, None, 5), // 3 + 5 = 8
            (ExactCapacity, 3, 5, None, 2),    // set to 5
            (ExactCapacity, 8, 5, None, -3),
        ];
        for (kind, current, adjustment, minimum, expected) in table {
            assert_eq!(
                capacity_change(kind, current, adjustment, minimum),
                expected,
                "{} {adjustment} of {current} (min {minimum:?})",
                kind.name()
            );
        }
    }

    /// The AAS user guide's walk-through, one alarm evaluation per row, more than a cooldown apart:
    /// (time s, metric, desired before, expected).
    #[test]
    fn aws_walkthrough() {
        let table: [(u64, f64, u32, Option<u32>); 8] = [
            (60, 55.0, 10, None),       // 40 < m < 60: unchanged
            (120, 45.0, 10, None),      // unchanged below too
            (180, 60.0, 10, Some(11)),  // +10 % of 10
            (540, 70.0, 11, Some(14)),  // +30 % of 11 = 3.3 → 3
            (900, 40.0, 14, Some(13)),  // −10 % of 14 = 1.4 → 1
            (1260, 30.0, 13, Some(10)), // −30 % of 13 = 3.9 → 3
            (1620, 50.0, 10, None),     // exactly at the threshold: the 0 % steps
            (1680, f64::NAN, 10, None), // insufficient data
        ];
        let mut policy = aws_example(1, 100);
        for (time, value, desired, expected) in table {
            let points = series(&[value], MINUTE, secs(time));
            let decision = policy.evaluate(&view(secs(time), &points, desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "{value} at {time} s");
        }
    }

    /// The cooldown, with ChangeInCapacity steps out [0, 10) +2, [10, ∞) +3 and in (−∞, 0] −1 around
    /// 50, cooldown 300 s: (time s, metric, desired before, expected).
    #[test]
    fn cooldown_counts_the_previous_scale_out() {
        let table: [(u64, f64, u32, Option<u32>); 8] = [
            (60, 55.0, 10, Some(12)),  // +2; cooldown until 360 s
            (120, 65.0, 12, Some(13)), // +3 on the 10 before it: only 1 more (the API reference's example)
            (180, 55.0, 13, None),     // +2 again: 12 is no larger scale-out
            (240, 40.0, 13, None),     // scale-in blocked until 420 s (last activity at 120 s)
            (300, 65.0, 13, None),     // +3 again: 13, nothing new
            (400, 55.0, 13, Some(15)), // cooldown over: +2 on 13
            (800, 40.0, 15, Some(14)), // scale-in after the cooldown
            (820, 65.0, 14, Some(17)), // scale-out right after a scale-in: at once
        ];
        let mut policy = policy(
            ChangeInCapacity,
            1,
            100,
            Some(StepAlarm::new(
                Comparison::GreaterOrEqual,
                50.0,
                vec![
                    step(Some(0.0), Some(10.0), 2.0),
                    step(Some(10.0), None, 3.0),
                ],
            )),
            Some(StepAlarm::new(
                Comparison::Less,
                50.0,
                vec![step(None, Some(0.0), -1.0)],
            )),
        );
        for (time, value, desired, expected) in table {
            let points = series(&[value], MINUTE, secs(time));
            let decision = policy.evaluate(&view(secs(time), &points, desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "{value} at {time} s");
        }
    }

    /// M out of N: an alarm on 2 of 3 datapoints above 50, +1 task: (datapoints, expected from 10).
    #[test]
    fn alarm_needs_m_of_the_last_n() {
        let table: [(&[f64], Option<u32>); 7] = [
            (&[60.0, 40.0, 60.0], Some(11)),
            (&[40.0, 60.0, 60.0], Some(11)),
            (&[60.0, 60.0, 40.0], None), // in ALARM, but 40 is in no step
            (&[60.0, 40.0, 40.0, 60.0], None),
            (&[f64::NAN, 60.0, 60.0], Some(11)),
            (&[60.0, 60.0, f64::NAN], None),
            (&[60.0], None), // 1 of the 1 published: not 2
        ];
        for (values, expected) in table {
            let mut alarm =
                StepAlarm::new(Comparison::Greater, 50.0, vec![step(Some(0.0), None, 1.0)]);
            (alarm.evaluation_periods, alarm.datapoints_to_alarm) = (3, 2);
            let mut policy = policy(ChangeInCapacity, 1, 100, Some(alarm), None);
            let points = series(values, MINUTE, secs(600));
            let decision = policy.evaluate(&view(secs(600), &points, 10, 10, 10));
            assert_eq!(decision.map(|d| d.desired), expected, "{values:?}");
        }
    }

    /// (adjustment type, min, max, metric, desired before, expected): the other adjustment types,
    /// min/max clamps and the minimum magnitude, one evaluation each.
    #[test]
    fn adjustment_types_and_bounds() {
        let out = |adjustment| {
            Some(StepAlarm::new(
                Comparison::Greater,
                50.0,
                vec![step(Some(0.0), None, adjustment)],
            ))
        };
        let inward = |adjustment| {
            Some(StepAlarm::new(
                Comparison::Less,
                50.0,
                vec![step(None, Some(0.0), adjustment)],
            ))
        };
        let table = [
            (
                "ChangeInCapacity 3 + 5",
                policy(ChangeInCapacity, 1, 20, out(5.0), None),
                60.0,
                3,
                Some(8),
            ),
            (
                "ExactCapacity 5 from 3",
                policy(ExactCapacity, 1, 20, out(5.0), None),
                60.0,
                3,
                Some(5),
            ),
            (
                "ExactCapacity 5 from 8 scales in",
                policy(ExactCapacity, 1, 20, out(5.0), None),
                60.0,
                8,
                Some(5),
            ),
            (
                "clamped to max",
                policy(ChangeInCapacity, 1, 12, out(5.0), None),
                60.0,
                10,
                Some(12),
            ),
            (
                "already at max",
                policy(ChangeInCapacity, 1, 10, out(5.0), None),
                60.0,
                10,
                None,
            ),
            (
                "clamped to min",
                policy(PercentChangeInCapacity, 11, 20, None, inward(-30.0)),
                10.0,
                13,
                Some(11),
            ),
            (
                "above max first",
                policy(ChangeInCapacity, 1, 10, out(1.0), None),
                10.0,
                14,
                Some(10),
            ),
        ];
        for (case, mut policy, value, desired, expected) in table {
            let points = series(&[value], MINUTE, secs(600));
            let decision = policy.evaluate(&view(secs(600), &points, desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "{case}");
        }
        let mut minimum = StepScaling::from_spec(&AutoscalerSpec::StepScaling(StepScalingSpec {
            cooldown: MINUTE,
            metric_period: MINUTE,
            min_adjustment_magnitude: Some(2),
            ..StepScalingSpec::with_defaults(
                ScalingMetric::RequestsPerTarget,
                1,
                20,
                PercentChangeInCapacity,
                out(25.0),
                None,
            )
        }))
        .unwrap();
        let points = series(&[60.0], MINUTE, secs(600));
        let decision = minimum.evaluate(&view(secs(600), &points, 4, 4, 4));
        assert_eq!(
            decision.map(|d| d.desired),
            Some(6),
            "25 % of 4 with a minimum of 2"
        );
    }

    /// Both alarms in ALARM (overlapping thresholds): scale-out wins.
    #[test]
    fn scale_out_wins_over_scale_in() {
        let mut policy = policy(
            ChangeInCapacity,
            1,
            20,
            Some(StepAlarm::new(
                Comparison::Greater,
                40.0,
                vec![step(Some(0.0), None, 1.0)],
            )),
            Some(StepAlarm::new(
                Comparison::Less,
                60.0,
                vec![step(None, Some(0.0), -1.0)],
            )),
        );
        let points = series(&[50.0], MINUTE, secs(60));
        let decision = policy.evaluate(&view(secs(60), &points, 5, 5, 5));
        assert_eq!(decision.map(|d| d.desired), Some(6));
    }
}
