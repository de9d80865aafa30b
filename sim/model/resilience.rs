//! Calls between services with timeouts, retries (jittered exponential backoff, retry budget) and
//! circuit breakers. A timed-out attempt is abandoned, not cancelled: the callee still does the
//! work, which is how retries amplify load.

use super::{Event, NONE, World};
use crate::app::ComponentSpec;
use crate::engine::EventQueue;
use crate::metrics::FailReason;
use crate::policy::resilience::{CircuitBreaker, RetryBudget, backoff};
use crate::rng::{KeyedRng, combine};

/// Callers' state for calls to one component.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    breaker: Option<CircuitBreaker>,
    budget: RetryBudget,
    /// Cumulative counters: first attempts, retries, timeouts, calls refused by the breaker.
    pub(super) counters: [u64; 4],
}

impl Edge {
    /// The edge into `component`.
    pub(super) fn new(component: &ComponentSpec) -> Self {
        let breaker = component
            .resilience
            .as_ref()
            .and_then(|r| r.circuit_breaker)
            .map(CircuitBreaker::new);
        Edge {
            breaker,
            budget: RetryBudget::default(),
            counters: [0; 4],
        }
    }
}

const FIRST: usize = 0;
const RETRIES: usize = 1;
const TIMEOUTS: usize = 2;
const REFUSED: usize = 3;

impl World<'_> {
    /// Sends one attempt of a remote call: refused at once by an open breaker, or on its way with
    /// its timeout armed.
    pub(super) fn send_call(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let frame = self.frames[frame_index as usize];
        let component = self.call_node(&frame).component;
        let edge = &mut self.edges[component];
        if frame.attempt <= 1 {
            edge.counters[FIRST] += 1;
            edge.budget.record_attempt(now);
        } else {
            edge.counters[RETRIES] += 1;
        }
        if let Some(breaker) = &mut edge.breaker
            && !breaker.allow(now)
        {
            edge.counters[REFUSED] += 1;
            self.frames[frame_index as usize].failure = Some(FailReason::CircuitOpen);
            queue.schedule_in(
                crate::time::SimDuration::ZERO,
                Event::ResponseArrives { frame: frame_index },
            );
            return;
        }
        queue.schedule_in(
            self.scenario.app.hop_latency,
            Event::CallArrives { frame: frame_index },
        );
        if let Some(timeout) = self.scenario.app.components[component]
            .resilience
            .as_ref()
            .and_then(|r| r.timeout)
        {
            let timer = queue.schedule_in(timeout, Event::CallTimeout { frame: frame_index });
            self.frames[frame_index as usize].timer = Some(timer);
        }
    }

    /// An attempt's answer reached the caller.
    pub(super) fn on_response(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = self.frames[frame_index as usize];
        if frame.abandoned {
            // The caller timed out long ago; the late answer is dropped.
            self.free_frame(frame_index);
            return;
        }
        if let Some(timer) = frame.timer {
            queue.cancel(timer);
        }
        self.call_outcome(frame_index, frame.failure, true, queue);
    }

    /// An attempt took too long: the caller gives up on it (the callee works on).
    pub(super) fn on_call_timeout(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let frame = &mut self.frames[frame_index as usize];
        if !frame.alive || frame.zombie || frame.abandoned || frame.timer.is_none() {
            return;
        }
        frame.abandoned = true;
        frame.timer = None;
        let component = self.call_node(&self.frames[frame_index as usize]).component;
        self.edges[component].counters[TIMEOUTS] += 1;
        self.call_outcome(frame_index, Some(FailReason::Timeout), false, queue);
    }

    /// Counts the outcome for the breaker, then retries the call or reports it to the caller.
    fn call_outcome(
        &mut self,
        frame_index: u32,
        failure: Option<FailReason>,
        free: bool,
        queue: &mut EventQueue<Event>,
    ) {
        let now = queue.now();
        let frame = self.frames[frame_index as usize];
        let component = self.call_node(&frame).component;
        let edge = &mut self.edges[component];
        if failure != Some(FailReason::CircuitOpen)
            && let Some(breaker) = &mut edge.breaker
        {
            breaker.record(now, failure.is_none());
        }
        // A refusal by the open breaker is not retried: the breaker is there to stop the calls.
        let caller_alive = frame.parent != NONE
            && !self.frames[frame.parent as usize].zombie
            && failure != Some(FailReason::CircuitOpen);
        if let (Some(_), Some(spec), true) = (
            failure,
            &self.scenario.app.components[component].resilience,
            caller_alive,
        ) && u32::from(frame.attempt.max(1)) < spec.max_attempts
            && spec
                .retry_budget
                .is_none_or(|ratio| edge.budget.try_retry(now, ratio))
        {
            let retry = self.new_frame(frame.request, frame.node as usize, frame.parent, true);
            self.frames[retry as usize].attempt = frame.attempt.max(1) + 1;
            let request = self.requests[frame.request as usize].id;
            let unit = KeyedRng::new(combine(
                combine(combine(self.retry_key, request), u64::from(frame.node)),
                u64::from(frame.attempt),
            ))
            .uniform();
            let wait = backoff(
                spec.backoff_base,
                spec.backoff_max,
                u32::from(frame.attempt.max(1)),
                unit,
            );
            queue.schedule_in(wait, Event::RetrySend { frame: retry });
            if free {
                self.free_frame(frame_index);
            }
            return;
        }
        if free {
            self.free_frame(frame_index);
        }
        self.child_done(frame.parent, failure, queue);
    }

    /// Per-interval call counters of components with a resilience policy, for the time series.
    pub(super) fn sample_edges(&mut self, now: crate::time::SimTime) {
        let names = [
            "call_attempts",
            "call_retries",
            "call_timeouts",
            "breaker_refusals",
        ];
        for (component, spec) in self.scenario.app.components.iter().enumerate() {
            if spec.resilience.is_none() {
                continue;
            }
            let counters = self.edges[component].counters;
            let previous = std::mem::replace(&mut self.edge_sampled[component], counters);
            for (index, metric) in names.into_iter().enumerate() {
                let value = (counters[index] - previous[index]) as f64;
                self.timeseries.push(super::SeriesRow {
                    time_s: now.as_secs_f64(),
                    subject: spec.name.clone(),
                    metric,
                    value,
                });
            }
        }
    }
}
