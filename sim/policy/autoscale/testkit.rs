//! Test helpers: datapoint series, views, and a small closed loop (a service with a fixed demand
//! whose tasks become ready after a delay) for convergence tests.

use super::{Comparison, Datapoint, ScalingView, ServiceAutoscaler, Step, StepAlarm};
use crate::time::{SimDuration, SimTime};

/// The AAS user guide's step scaling example, threshold 50: (scale-out alarm: [0, 10) 0 %,
/// [10, 20) +10 %, [20, ∞) +30 %; scale-in alarm: (−10, 0] 0 %, (−20, −10] −10 %, (−∞, −20] −30 %).
pub(super) fn aws_step_alarms() -> (StepAlarm, StepAlarm) {
    let step = Step::new;
    (
        StepAlarm::new(
            Comparison::Greater,
            50.0,
            vec![
                step(Some(0.0), Some(10.0), 0.0),
                step(Some(10.0), Some(20.0), 10.0),
                step(Some(20.0), None, 30.0),
            ],
        ),
        StepAlarm::new(
            Comparison::Less,
            50.0,
            vec![
                step(Some(-10.0), Some(0.0), 0.0),
                step(Some(-20.0), Some(-10.0), -10.0),
                step(None, Some(-20.0), -30.0),
            ],
        ),
    )
}

/// The instant `s` seconds into the run.
pub(super) fn secs(s: u64) -> SimTime {
    SimTime(s * 1_000_000_000)
}

/// Datapoints with these values, `period` apart, the last one ending (and published) at `end`.
pub(super) fn series(values: &[f64], period: SimDuration, end: SimTime) -> Vec<Datapoint> {
    let count = values.len() as u64;
    values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            let period_end = SimTime(end.0 - (count - 1 - index as u64) * period.0);
            Datapoint {
                period_end,
                published: period_end,
                value,
            }
        })
        .collect()
}

/// A view at `now` over `datapoints` with these task counts.
pub(super) fn view(
    now: SimTime,
    datapoints: &[Datapoint],
    desired: u32,
    running: u32,
    ready: u32,
) -> ScalingView<'_> {
    ScalingView {
        now,
        datapoints,
        desired,
        running,
        ready,
    }
}

/// A service under a fixed load, for convergence tests.
pub(super) struct ClosedLoop {
    /// Tasks start this long before they are ready (healthy).
    pub ready_delay: SimDuration,
    /// Datapoints are published this long after their period ends.
    pub publish_delay: SimDuration,
    /// The metric as a function of the ready task count (e.g. demand / ready).
    pub metric: Box<dyn Fn(f64) -> f64>,
}

impl ClosedLoop {
    /// Runs `autoscaler` from `start` tasks (all ready) for `horizon`, in one-second ticks, and
    /// returns the desired count after every evaluation.
    pub(super) fn run(
        &self,
        autoscaler: &mut dyn ServiceAutoscaler,
        start: u32,
        horizon: SimDuration,
    ) -> Vec<(SimTime, u32)> {
        let period = autoscaler.metric_period().0 / 1_000_000_000;
        let interval = autoscaler.evaluation_interval().0 / 1_000_000_000;
        // Creation time of each task, oldest first; the initial tasks are ready at once.
        let mut tasks: Vec<SimTime> = vec![SimTime::ZERO; start as usize];
        let ready_at = |created: SimTime| {
            if created == SimTime::ZERO {
                created
            } else {
                created + self.ready_delay
            }
        };
        let (mut samples, mut published, mut history) = (Vec::new(), Vec::new(), Vec::new());
        let mut pending: Vec<Datapoint> = Vec::new();
        for second in 1..=horizon.0 / 1_000_000_000 {
            let now = secs(second);
            let ready = tasks.iter().filter(|&&t| ready_at(t) <= now).count() as u32;
            samples.push(if ready == 0 {
                f64::NAN
            } else {
                (self.metric)(f64::from(ready))
            });
            if second % period == 0 {
                let value = samples.iter().sum::<f64>() / samples.len() as f64;
                samples.clear();
                pending.push(Datapoint {
                    period_end: now,
                    published: now + self.publish_delay,
                    value,
                });
            }
            while pending.first().is_some_and(|point| point.published <= now) {
                published.push(pending.remove(0));
            }
            if second % interval == 0 {
                let count = tasks.len() as u32;
                let decision = autoscaler.evaluate(&view(now, &published, count, count, ready));
                if let Some(decision) = decision {
                    // New tasks start now; scale-in stops the newest (least ready) first.
                    tasks.resize(decision.desired as usize, now);
                }
                history.push((now, tasks.len() as u32));
            }
        }
        history
    }
}
