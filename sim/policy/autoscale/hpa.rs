//! Kubernetes HorizontalPodAutoscaler (autoscaling/v2 with the default behavior).
//!
//! Semantics (Kubernetes docs, horizontal-pod-autoscale; `pkg/controller/podautoscaler`
//! `horizontal.go` and `replica_calculator.go`):
//!
//! - Every sync period (15 s) it reads the latest published datapoint; none or NaN → no action (and
//!   no recommendation recorded), as when the metrics API fails.
//! - "Current" is the desired count (the workload's `spec.replicas`); ready and running tasks are its
//!   pods. With current 0 the HPA does nothing (scaling is disabled at zero); outside min/max it
//!   first moves to the nearest bound.
//! - **Recommendation.** ratio = metric / target, the metric being an average over the ready tasks.
//!   If |ratio − 1| ≤ tolerance: current. Otherwise ⌈ratio × ready⌉ — which is the documented
//!   ⌈current × metric / target⌉ when every pod is ready. Unready pods (running − ready: starting,
//!   not yet healthy) count as 0 % of the target when scaling up: the ratio is recomputed as
//!   ratio × ready / running, and if that is within the tolerance or no longer above 1, current is
//!   kept; else ⌈new ratio × running⌉ (= ⌈ratio × ready⌉). For a scale-down unready pods are ignored.
//!   A ratio above 1 never recommends fewer than current, nor one below 1 more (the controller's
//!   guard, applied to both branches here).
//! - **Stabilization.** Recommendations are kept with their time. Scaling down, the highest
//!   recommendation of the last `scale_down_stabilization` (300 s) is used; scaling up, the lowest of
//!   the last `scale_up_stabilization` (0 s: just this one). "The last W" is strictly newer than
//!   now − W, as the controller's `After(cutoff)`.
//! - **Rate limits** per `limit_period` (15 s), from the count at the period's start (current minus
//!   what was added plus what was removed within the period): up to max(⌈start × (1 + percent/100)⌉,
//!   start + pods) — by default max(100 %, 4 pods) — and down to ⌊start × (1 − percent/100)⌋. Then
//!   min/max.
//! - **Readiness.** A task is ready once healthy (the model's health check plays the role of
//!   initial-readiness-delay). As the controller does for cpu within cpu-initialization-period — a
//!   pod counts as ready only if its metric window started after it became ready — a pod counts as
//!   ready here only if it was ready for the whole datapoint: ready = min(ready now, ready at the
//!   last sync at or before the datapoint's period start). The others count as unready (0 % on
//!   scale-up). This keeps a datapoint averaged over few pods from being multiplied by the many
//!   that became ready since. The model's metrics average over healthy tasks only, so the rule
//!   applies to every metric.

use super::{
    AutoscalerSpec, EPSILON, HpaSpec, ScaleDecision, ScalingMetric, ScalingView, ServiceAutoscaler,
    ceil_count, clamp_count, latest_value, within_window,
};
use crate::time::{SimDuration, SimTime};

/// A Kubernetes HPA with its memory: recent recommendations and scale events.
#[derive(Debug, Clone)]
pub struct Hpa {
    /// The validated parameters.
    spec: HpaSpec,
    /// (time, recommended count), oldest first, within the longer stabilization window.
    recommendations: Vec<(SimTime, u32)>,
    /// (time, pods added), oldest first, within the limit period.
    scale_ups: Vec<(SimTime, u32)>,
    /// (time, pods removed), oldest first, within the limit period.
    scale_downs: Vec<(SimTime, u32)>,
    /// (sync time, ready count then), oldest first, back to the latest datapoint's period start.
    ready_history: Vec<(SimTime, u32)>,
}

impl Hpa {
    /// The HPA for a valid `Hpa` spec; an error for another kind or an invalid spec.
    pub fn from_spec(spec: &AutoscalerSpec) -> Result<Self, String> {
        spec.validate()
            .map_err(|(field, message)| format!("{field}: {message}"))?;
        match spec {
            AutoscalerSpec::Hpa(spec) => Ok(Hpa {
                spec: spec.clone(),
                recommendations: Vec::new(),
                scale_ups: Vec::new(),
                scale_downs: Vec::new(),
                ready_history: Vec::new(),
            }),
            _ => Err(format!("a {} spec is not an HPA", spec.kind_name())),
        }
    }

    /// True when `ratio` is within the tolerance of 1.
    fn within_tolerance(&self, ratio: f64) -> bool {
        (ratio - 1.0).abs() <= self.spec.tolerance + EPSILON
    }

    /// The replica calculator's recommendation, before stabilization and limits.
    fn recommend(&self, current: u32, ratio: f64, ready: u32, running: u32) -> u32 {
        let running = running.max(ready);
        if running > ready && ratio > 1.0 {
            // Unready pods at 0 %: does the scale-up survive?
            let dampened = ratio * f64::from(ready) / f64::from(running);
            if self.within_tolerance(dampened) || dampened < 1.0 {
                return current;
            }
            let count = ceil_count(dampened * f64::from(running));
            return (count.max(u64::from(current))) as u32;
        }
        if self.within_tolerance(ratio) {
            return current;
        }
        let count = ceil_count(ratio * f64::from(ready)).min(u64::from(u32::MAX)) as u32;
        match ratio > 1.0 {
            true => count.max(current),
            false => count.min(current),
        }
    }

    /// The pods ready for the whole period that ends at `period_end`: the ready count at the last
    /// sync at or before its start, capped by `ready_now` (now's count if no sync was that early).
    fn ready_throughout(&mut self, period_end: SimTime, ready_now: u32) -> u32 {
        let start = SimTime(period_end.0.saturating_sub(self.spec.metric_period.0));
        let before = self
            .ready_history
            .partition_point(|&(time, _)| time <= start);
        match before.checked_sub(1) {
            Some(index) => {
                self.ready_history.drain(..index);
                self.ready_history[0].1.min(ready_now)
            }
            None => ready_now,
        }
    }

    /// Stabilizes `proposal` over the recent recommendations, then records it.
    fn stabilize(&mut self, now: SimTime, current: u32, proposal: u32) -> u32 {
        let scaling_up = proposal >= current;
        let window = if scaling_up {
            self.spec.scale_up_stabilization
        } else {
            self.spec.scale_down_stabilization
        };
        let recent = self
            .recommendations
            .iter()
            .filter(|&&(time, _)| within_window(time, now, window))
            .map(|&(_, count)| count);
        let stabilized = if scaling_up {
            recent.fold(proposal, u32::min)
        } else {
            recent.fold(proposal, u32::max)
        };
        let keep = self
            .spec
            .scale_up_stabilization
            .max(self.spec.scale_down_stabilization);
        self.recommendations
            .retain(|&(time, _)| within_window(time, now, keep));
        self.recommendations.push((now, proposal));
        stabilized
    }

    /// Applies the scale-up and scale-down rate limits and min/max.
    fn limit(&mut self, now: SimTime, current: u32, wanted: u32) -> u32 {
        let period = self.spec.limit_period;
        self.scale_ups
            .retain(|&(time, _)| within_window(time, now, period));
        self.scale_downs
            .retain(|&(time, _)| within_window(time, now, period));
        let added: i64 = self.scale_ups.iter().map(|&(_, n)| i64::from(n)).sum();
        let removed: i64 = self.scale_downs.iter().map(|&(_, n)| i64::from(n)).sum();
        let start = (i64::from(current) - added + removed).max(0);
        if wanted > current {
            let percent = i64::from(self.spec.scale_up_limit_percent);
            let by_percent = (start * (100 + percent) + 99) / 100;
            let by_pods = start + i64::from(self.spec.scale_up_limit_pods);
            let limit = by_percent.max(by_pods).max(i64::from(current));
            clamp_count(
                i64::from(wanted),
                self.spec.min,
                self.spec.max.min(clamp_count(limit, 0, u32::MAX)),
            )
        } else if wanted < current {
            let percent = i64::from(self.spec.scale_down_limit_percent);
            let limit = (start * (100 - percent) / 100).min(i64::from(current));
            clamp_count(
                i64::from(wanted),
                self.spec.min.max(clamp_count(limit, 0, u32::MAX)),
                self.spec.max,
            )
        } else {
            wanted
        }
    }

    /// Records a change from `current` to `desired` for the rate limits.
    fn record(&mut self, now: SimTime, current: u32, desired: u32) {
        if desired > current {
            self.scale_ups.push((now, desired - current));
        } else if desired < current {
            self.scale_downs.push((now, current - desired));
        }
    }
}

impl ServiceAutoscaler for Hpa {
    fn metric(&self) -> ScalingMetric {
        self.spec.metric
    }

    fn metric_period(&self) -> SimDuration {
        self.spec.metric_period
    }

    fn evaluation_interval(&self) -> SimDuration {
        self.spec.sync_period
    }

    fn evaluate(&mut self, view: &ScalingView<'_>) -> Option<ScaleDecision> {
        let (now, current) = (view.now, view.desired);
        // Record the ready count at every sync, also those that decide nothing: a later datapoint's
        // window must be judged by who was ready then.
        if self
            .ready_history
            .last()
            .is_none_or(|&(time, _)| time < now)
        {
            self.ready_history.push((now, view.ready));
        }
        if current == 0 {
            return None;
        }
        let bounded = current.clamp(self.spec.min, self.spec.max);
        if bounded != current {
            self.record(now, current, bounded);
            return Some(ScaleDecision {
                desired: bounded,
                reason: format!(
                    "hpa: current {current} is outside min {} / max {}",
                    self.spec.min, self.spec.max
                ),
            });
        }
        let ready = match view.datapoints.last() {
            Some(point) => self.ready_throughout(point.period_end, view.ready),
            None => return None,
        };
        let value = latest_value(view.datapoints)?;
        if ready == 0 {
            return None;
        }
        let ratio = value / self.spec.target;
        let proposal = self.recommend(current, ratio, ready, view.running);
        let stabilized = self.stabilize(now, current, proposal);
        let desired = self.limit(now, current, stabilized);
        if desired == current {
            return None;
        }
        self.record(now, current, desired);
        let mut reason = format!(
            "hpa: {} {value} / target {} = ratio {ratio:.3} over {ready} ready of {} running → {proposal}",
            self.spec.metric.name(),
            self.spec.target,
            view.running
        );
        if stabilized != proposal {
            reason += &format!(", stabilized to {stabilized}");
        }
        if desired != stabilized {
            reason += &format!(", limited to {desired}");
        }
        Some(ScaleDecision { desired, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{ClosedLoop, secs, series, view};
    use super::*;

    const SYNC: SimDuration = SimDuration::from_secs(15);

    fn hpa(target: f64, min: u32, max: u32) -> Hpa {
        Hpa::from_spec(&AutoscalerSpec::hpa_default(
            ScalingMetric::RequestsPerTarget,
            target,
            min,
            max,
        ))
        .unwrap()
    }

    /// (case, metric, desired, running, ready, expected desired).
    type Sync = (&'static str, f64, u32, u32, u32, Option<u32>);

    /// One sync of a fresh HPA (target 100, min 1, max 100).
    #[test]
    fn single_syncs_follow_the_documented_algorithm() {
        let table: [Sync; 16] = [
            ("200m vs 100m doubles: 1 → 2", 200.0, 1, 1, 1, Some(2)),
            ("50m vs 100m halves: 4 → 2", 50.0, 4, 4, 4, Some(2)),
            ("ratio 1.05 is within tolerance", 105.0, 10, 10, 10, None),
            ("ratio 0.95 is within tolerance", 95.0, 10, 10, 10, None),
            ("ratio 1.1 is still within", 110.0, 10, 10, 10, None),
            ("ratio 1.11: ceil(11.1) = 12", 111.0, 10, 10, 10, Some(12)),
            ("ratio 0.85: ceil(8.5) = 9", 85.0, 10, 10, 10, Some(9)),
            (
                "unready at 0 %: 1.5 × 2/4 = 0.75, no scale-up",
                150.0,
                4,
                4,
                2,
                None,
            ),
            (
                "unready at 0 %: 2.1 × 2/4 = 1.05, within",
                210.0,
                4,
                4,
                2,
                None,
            ),
            (
                "unready at 0 %: 3 × 2/4 = 1.5 → ceil(1.5 × 4) = 6",
                300.0,
                4,
                4,
                2,
                Some(6),
            ),
            (
                "unready ignored scaling down: ceil(0.5 × 2) = 1",
                50.0,
                4,
                4,
                2,
                Some(1),
            ),
            (
                "scale-up limit max(2 × 2, 2 + 4) = 6",
                1000.0,
                2,
                2,
                2,
                Some(6),
            ),
            (
                "scale-up limit max(2 × 10, 10 + 4) = 20",
                500.0,
                10,
                10,
                10,
                Some(20),
            ),
            ("NaN: no action", f64::NAN, 4, 4, 4, None),
            ("current 0: scaling disabled", 500.0, 0, 0, 0, None),
            ("above max first", 100.0, 150, 150, 150, Some(100)),
        ];
        for (case, value, desired, running, ready, expected) in table {
            let points = series(&[value], SYNC, secs(15));
            let decision =
                hpa(100.0, 1, 100).evaluate(&view(secs(15), &points, desired, running, ready));
            assert_eq!(decision.map(|d| d.desired), expected, "{case}");
        }
        let mut fresh = hpa(100.0, 1, 100);
        assert_eq!(
            fresh.evaluate(&view(secs(15), &[], 4, 4, 4)),
            None,
            "no datapoint"
        );
    }

    /// One HPA over a sequence of syncs (target 100, min 1, max 100), every pod ready: (time s,
    /// metric, desired before, expected). The scale-down stabilization keeps the highest
    /// recommendation of the last 300 s; the scale-up limit counts what was added in the last 15 s.
    #[test]
    fn stabilization_and_limits_follow_the_table() {
        let table: [(u64, f64, u32, Option<u32>); 13] = [
            (0, 100.0, 10, None),       // recommends 10
            (15, 80.0, 10, None),       // recommends 8; the window holds 10
            (30, 60.0, 10, None),       // recommends 6; still 10
            (285, 40.0, 10, None),      // recommends 4; 10 (t = 0) is 285 s old
            (300, 40.0, 10, Some(8)),   // 10 left the window (not newer than now − 300 s)
            (315, 40.0, 8, Some(6)),    // 8 (t = 15) left
            (330, 40.0, 6, Some(4)),    // 6 (t = 30) left: only the 4s of 285 s and on remain
            (600, 1000.0, 4, Some(8)),  // up: max(4 × 2, 4 + 4) = 8
            (605, 1000.0, 8, None),     // within 15 s of the +4: the period started at 4
            (615, 1000.0, 8, Some(16)), // the +4 at 600 s is 15 s old: the limit starts from 8
            (645, 100.0, 16, None),     // all 16 ready now
            (660, 120.0, 16, Some(20)), // ratio 1.2 → ceil(19.2) = 20
            (675, 110.0, 20, None),     // within tolerance
        ];
        let mut hpa = hpa(100.0, 1, 100);
        for (time, value, desired, expected) in table {
            let points = series(&[value], SYNC, secs(time));
            let decision = hpa.evaluate(&view(secs(time), &points, desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "{value} at {time} s");
        }
    }

    /// A pod counts as ready only if it was ready at the sync before the datapoint's window: the
    /// 6 that became ready between two syncs count at 0 % until a whole datapoint covers them.
    #[test]
    fn pods_ready_mid_window_count_as_unready() {
        let mut hpa = hpa(100.0, 1, 100);
        let first = series(&[100.0], SYNC, secs(15));
        assert_eq!(hpa.evaluate(&view(secs(15), &first, 8, 8, 2)), None);
        // At 30 s 8 are ready, but the datapoint of 15–30 s averaged over the 2 ready at 15 s:
        // ratio 3 × 2 / 8 = 0.75, no scale-up (not ceil(3 × 8) = 24).
        let second = series(&[100.0, 300.0], SYNC, secs(30));
        assert_eq!(hpa.evaluate(&view(secs(30), &second, 8, 8, 8)), None);
        // The next datapoint covers all 8: ratio 1.5 → 12.
        let third = series(&[100.0, 300.0, 150.0], SYNC, secs(45));
        let decision = hpa.evaluate(&view(secs(45), &third, 8, 8, 8));
        assert_eq!(decision.map(|d| d.desired), Some(12));
    }

    /// The scale-down limit percent per period: at 50 % (no stabilization), 10 → 5, nothing more
    /// within 15 s, then 5 → 2.
    #[test]
    fn scale_down_limit_percent() {
        let spec = HpaSpec {
            scale_down_stabilization: SimDuration::ZERO,
            scale_down_limit_percent: 50,
            ..HpaSpec::with_defaults(ScalingMetric::RequestsPerTarget, 100.0, 1, 100)
        };
        let mut hpa = Hpa::from_spec(&AutoscalerSpec::Hpa(spec)).unwrap();
        let table: [(u64, f64, u32, Option<u32>); 3] = [
            (15, 20.0, 10, Some(5)), // wants 2; ⌊10 × 0.5⌋ = 5
            (20, 20.0, 5, None),     // the period started at 10: ⌊10 × 0.5⌋ = 5
            (30, 20.0, 5, Some(2)),  // wants 1; ⌊5 × 0.5⌋ = 2
        ];
        for (time, value, desired, expected) in table {
            let points = series(&[value], SYNC, secs(time));
            let decision = hpa.evaluate(&view(secs(time), &points, desired, desired, desired));
            assert_eq!(decision.map(|d| d.desired), expected, "{value} at {time} s");
        }
    }

    /// A fixed demand D spread over the ready pods (metric = D / ready), pods ready 30 s after they
    /// start: (metric, target, D, start, expected). The HPA settles at ⌈D / target⌉ and stays —
    /// unless the tolerance band holds it one pod short on the way up: 1234 / 12 = 102.8 is within
    /// 10 % of 100, so from below it stops at 12 (from above, at 13). Only below ⌈D / target⌉ = 11
    /// is that band too narrow to hold a count short of it.
    #[test]
    fn converges_to_demand_over_target() {
        use ScalingMetric::{CpuUtilization, RequestsPerTarget};
        let cases: [(ScalingMetric, f64, f64, u32, u32); 8] = [
            (RequestsPerTarget, 100.0, 450.0, 1, 5),    // ⌈4.5⌉
            (RequestsPerTarget, 100.0, 995.0, 1, 10),   // ⌈9.95⌉
            (RequestsPerTarget, 100.0, 995.0, 45, 10),  // from above
            (RequestsPerTarget, 100.0, 99.0, 8, 1),     // down to min
            (RequestsPerTarget, 100.0, 1234.0, 40, 13), // ⌈12.34⌉ from above
            (RequestsPerTarget, 100.0, 1234.0, 1, 12),  // the tolerance band
            (RequestsPerTarget, 100.0, 3650.0, 2, 36),  // 2 → 6 → 12 → 24 → 36: 3650 / 3600 = 1.014
            // cpu_utilization saturates at 1: it still doubles until the demand fits, ⌈8.9⌉.
            (CpuUtilization, 0.5, 4.45, 1, 9),
        ];
        for (metric, target, demand, start, expected) in cases {
            let closed = ClosedLoop {
                ready_delay: SimDuration::from_secs(30),
                publish_delay: SimDuration::ZERO,
                metric: match metric {
                    CpuUtilization => Box::new(move |ready| (demand / ready).min(1.0)),
                    _ => Box::new(move |ready| demand / ready),
                },
            };
            let mut hpa =
                Hpa::from_spec(&AutoscalerSpec::hpa_default(metric, target, 1, 50)).unwrap();
            let history = closed.run(&mut hpa, start, SimDuration::from_secs(3600));
            let settled = &history[history.len() - 120..];
            let ceiling = (demand / target).ceil() as u32;
            let within = |n: u32| (demand / (f64::from(n) * target) - 1.0).abs() <= 0.1 + 1e-9;
            assert!(
                expected == ceiling || within(expected),
                "the table's {expected} is neither ⌈D/T⌉ nor within the tolerance"
            );
            assert!(
                settled.iter().all(|&(_, desired)| desired == expected),
                "D {demand} from {start}, expected {expected}: {:?}",
                &history[..history.len().min(40)]
            );
        }
    }
}
