//! Calls between services with timeouts, retries (jittered exponential backoff, retry budget),
//! circuit breakers, adaptive throttling and bulkheads. A timed-out attempt is abandoned, not cancelled: the callee
//! still does the work, which is how retries amplify load.

use super::{Event, NONE, World};
use crate::app::ComponentSpec;
use crate::engine::EventQueue;
use crate::metrics::FailReason;
use crate::policy::resilience::{AdaptiveThrottle, CircuitBreaker, RetryBudget, backoff};
use crate::time::SimTime;

/// Callers' state for calls to one component.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    breaker: Option<CircuitBreaker>,
    throttle: Option<AdaptiveThrottle>,
    budget: RetryBudget,
    /// Cumulative counters: first attempts, retries, timeouts, attempts refused by the breaker,
    /// by a full bulkhead, by adaptive throttling.
    pub(super) counters: [u64; COUNTERS],
}

impl Edge {
    /// The edge into `component`.
    pub(super) fn new(component: &ComponentSpec) -> Self {
        let resilience = component.resilience.as_ref();
        Edge {
            breaker: resilience
                .and_then(|r| r.circuit_breaker)
                .map(CircuitBreaker::new),
            throttle: resilience
                .and_then(|r| r.adaptive_throttling)
                .map(AdaptiveThrottle::new),
            budget: RetryBudget::default(),
            counters: [0; COUNTERS],
        }
    }
}

/// The remote calls of the app's call trees into components with a resilience policy, as caller →
/// callee component pairs: what retry amplification is measured on.
#[derive(Debug, Clone, Default)]
pub(super) struct CallPairs {
    /// (caller component, callee component), in order of first appearance in the classes' trees.
    pairs: Vec<(usize, usize)>,
    /// `caller->callee`, the pair's subject in the time series.
    pub(super) names: Vec<String>,
    /// Per class, per call-tree node: its pair's index (`NONE` for the entry and in-process calls).
    of_node: Vec<Vec<u32>>,
    /// Per pair: first attempts and retries sent, cumulative.
    counts: Vec<[u64; 2]>,
    /// The sampler's last view of `counts`.
    sampled: Vec<[u64; 2]>,
}

impl CallPairs {
    /// The remote caller → callee pairs of `app`'s trees whose callee has a resilience policy
    /// (the others never retry).
    pub(super) fn new(app: &crate::app::AppSpec) -> Self {
        let mut pairs = CallPairs::default();
        for class in &app.classes {
            let nodes = &class.tree.nodes;
            let mut of_node = vec![NONE; nodes.len()];
            for node in nodes {
                for &child in node.steps.iter().flatten() {
                    let pair = (node.component, nodes[child].component);
                    if !app.is_remote(pair.0, pair.1) || app.components[pair.1].resilience.is_none()
                    {
                        continue;
                    }
                    let index = match pairs.pairs.iter().position(|&p| p == pair) {
                        Some(index) => index,
                        None => {
                            pairs.pairs.push(pair);
                            pairs.names.push(format!(
                                "{}->{}",
                                app.components[pair.0].name, app.components[pair.1].name
                            ));
                            pairs.pairs.len() - 1
                        }
                    };
                    of_node[child] = index as u32;
                }
            }
            pairs.of_node.push(of_node);
        }
        pairs.counts = vec![[0; 2]; pairs.pairs.len()];
        pairs.sampled = pairs.counts.clone();
        pairs
    }
}

const FIRST: usize = 0;
const RETRIES: usize = 1;
const TIMEOUTS: usize = 2;
const REFUSED: usize = 3;
const BULKHEAD_FULL: usize = 4;
const THROTTLED: usize = 5;
/// How many counters an edge keeps.
pub(super) const COUNTERS: usize = 6;
/// The counters' names in `timeseries.csv`, in index order.
const COUNTER_METRICS: [&str; COUNTERS] = [
    "call_attempts",
    "call_retries",
    "call_timeouts",
    "breaker_refusals",
    "bulkhead_refusals",
    "throttled_calls",
];

impl World<'_> {
    /// Sends one attempt of a remote call: refused at once by an open breaker or a full bulkhead,
    /// or on its way with its timeout armed.
    pub(super) fn send_call(&mut self, frame_index: u32, queue: &mut EventQueue<Event>) {
        let now = queue.now();
        let frame = self.frames[frame_index as usize];
        let component = self.call_node(&frame).component;
        let edge = &mut self.edges[component];
        let first = frame.attempt <= 1;
        if first {
            edge.counters[FIRST] += 1;
            edge.budget.record_attempt(now);
        } else {
            edge.counters[RETRIES] += 1;
        }
        if !self.call_pairs.names.is_empty() {
            let class = self.requests[frame.request as usize].class as usize;
            let pair = self.call_pairs.of_node[class][frame.node as usize];
            if pair != NONE {
                self.call_pairs.counts[pair as usize][usize::from(!first)] += 1;
            }
        }
        let edge = &mut self.edges[component];
        let refusal = if let Some(breaker) = &mut edge.breaker
            && !breaker.allow(now)
        {
            Some((REFUSED, FailReason::CircuitOpen))
        } else if self.throttles(frame_index, component, now) {
            Some((THROTTLED, FailReason::Throttled))
        } else if !self.take_bulkhead_permit(frame_index, component) {
            Some((BULKHEAD_FULL, FailReason::BulkheadFull))
        } else {
            None
        };
        if let Some((counter, reason)) = refusal {
            self.edges[component].counters[counter] += 1;
            self.frames[frame_index as usize].failure = Some(reason);
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

    /// Whether adaptive throttling on `component` rejects this attempt (a coin keyed by request,
    /// call-tree node and attempt); the attempt counts as a request either way.
    fn throttles(&mut self, frame_index: u32, component: usize, now: SimTime) -> bool {
        let Some(throttle) = &mut self.edges[component].throttle else {
            return false;
        };
        let probability = throttle.rejection_probability(now);
        throttle.record_request(now);
        probability > 0.0
            && self.attempt_uniform(self.throttle_key, &self.frames[frame_index as usize])
                < probability
    }

    /// Takes a permit of the caller's bulkhead for `component`, if the component has one; false
    /// when the calling replica already has the most attempts in flight to it.
    fn take_bulkhead_permit(&mut self, frame_index: u32, component: usize) -> bool {
        let Some(limit) = self.scenario.app.components[component]
            .resilience
            .as_ref()
            .and_then(|r| r.max_concurrent_calls)
        else {
            return true;
        };
        let frame = self.frames[frame_index as usize];
        if frame.parent == NONE {
            return true;
        }
        let caller = self.frames[frame.parent as usize].replica;
        let in_flight = self
            .bulkheads
            .entry((caller, component as u32))
            .or_insert(0);
        if *in_flight >= limit {
            return false;
        }
        *in_flight += 1;
        self.frames[frame_index as usize].bulkhead_permit = true;
        true
    }

    /// The attempt's outcome is known to its caller: its bulkhead permit, if any, is free again.
    fn return_bulkhead_permit(&mut self, frame_index: u32) {
        let frame = self.frames[frame_index as usize];
        if !frame.bulkhead_permit {
            return;
        }
        self.frames[frame_index as usize].bulkhead_permit = false;
        let caller = self.frames[frame.parent as usize].replica;
        let component = self.call_node(&frame).component as u32;
        let in_flight = self
            .bulkheads
            .get_mut(&(caller, component))
            .expect("a permit taken is counted");
        *in_flight -= 1;
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
        self.return_bulkhead_permit(frame_index);
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
        self.return_bulkhead_permit(frame_index);
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
        // Refusals on the caller's side (breaker, throttling, bulkhead) say nothing of the callee's
        // health.
        let refused = matches!(
            failure,
            Some(FailReason::CircuitOpen | FailReason::Throttled | FailReason::BulkheadFull)
        );
        if !refused && let Some(breaker) = &mut edge.breaker {
            breaker.record(now, failure.is_none());
        }
        if failure.is_none()
            && let Some(throttle) = &mut edge.throttle
        {
            throttle.record_accept(now);
        }
        // A refusal by the open breaker or by throttling is not retried: both are there to cut
        // the calls.
        let caller_alive = frame.parent != NONE
            && !self.frames[frame.parent as usize].zombie
            && !matches!(
                failure,
                Some(FailReason::CircuitOpen | FailReason::Throttled)
            );
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
            let unit = self.attempt_uniform(self.retry_key, &frame);
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

    /// Per-interval call counters of components with a resilience policy, and of the caller →
    /// callee pairs into them, for the time series.
    pub(super) fn sample_edges(&mut self, now: crate::time::SimTime) {
        for pair in 0..self.call_pairs.names.len() {
            let counts = self.call_pairs.counts[pair];
            let previous = std::mem::replace(&mut self.call_pairs.sampled[pair], counts);
            for (index, metric) in ["pair_attempts", "pair_retries"].into_iter().enumerate() {
                self.timeseries.push(super::SeriesRow {
                    time_s: now.as_secs_f64(),
                    subject: self.call_pairs.names[pair].clone(),
                    metric,
                    value: (counts[index] - previous[index]) as f64,
                });
            }
        }
        for (component, spec) in self.scenario.app.components.iter().enumerate() {
            if spec.resilience.is_none() {
                continue;
            }
            let counters = self.edges[component].counters;
            let previous = std::mem::replace(&mut self.edge_sampled[component], counters);
            for (index, metric) in COUNTER_METRICS.into_iter().enumerate() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn quickstart_pairs(mode: &str) -> Vec<String> {
        let mut overrides = vec![format!("app.deployment.mode={mode}")];
        for component in ["catalog", "cart", "checkout", "payment"] {
            overrides.push(format!("app.components.{component}.resilience={{}}"));
        }
        let loaded = crate::scenario::load(Path::new("scenarios/quickstart.toml"), &overrides)
            .unwrap_or_else(|e| panic!("{e}"));
        CallPairs::new(&loaded.scenario.app).names
    }

    #[test]
    fn each_remote_caller_callee_pair_is_an_edge_of_its_own() {
        // browse: frontend → catalog; cart: frontend → cart → catalog (half of the time);
        // checkout: frontend → checkout → { cart ‖ payment }.
        assert_eq!(
            quickstart_pairs("microservices"),
            [
                "frontend->catalog",
                "frontend->cart",
                "cart->catalog",
                "frontend->checkout",
                "checkout->cart",
                "checkout->payment",
            ]
        );
        // In a monolith every call is in-process: no edge.
        assert!(quickstart_pairs("monolith").is_empty());
        // Only calls into components with a resilience policy can retry.
        let loaded = crate::scenario::load(Path::new("scenarios/quickstart.toml"), &[]).unwrap();
        assert!(CallPairs::new(&loaded.scenario.app).names.is_empty());
    }
}
