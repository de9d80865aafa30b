//! The event queue: events ordered by (time, insertion sequence), cancellation, and `run_until`.
//! It knows nothing of clusters or requests: the model supplies the event type and the handler.

use crate::time::{SimDuration, SimTime};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// Identifies a scheduled event so that it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(u64);

struct Entry<E> {
    time: SimTime,
    sequence: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.sequence == other.sequence
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest (time, sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.sequence).cmp(&(self.time, self.sequence))
    }
}

/// A future-event list. Events at the same instant come out in the order they were scheduled.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_sequence: u64,
    now: SimTime,
    cancelled: HashSet<u64>,
    processed: u64,
    peak_len: usize,
}

/// Reacts to events popped from an [`EventQueue`]; may schedule more.
pub trait Handler<E> {
    /// Handles `event` at the queue's current time (`queue.now()`).
    fn handle(&mut self, event: E, queue: &mut EventQueue<E>);
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("now", &self.now)
            .field("pending", &self.len())
            .field("processed", &self.processed)
            .finish()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time zero.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_sequence: 0,
            now: SimTime::ZERO,
            cancelled: HashSet::new(),
            processed: 0,
            peak_len: 0,
        }
    }

    /// The time of the event being handled (or of the last one handled).
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events still scheduled (cancelled ones not yet discarded included).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The most events ever scheduled at once (cancelled ones not yet discarded included).
    pub fn peak_len(&self) -> usize {
        self.peak_len
    }

    /// Events handed to a handler so far (cancelled ones excluded).
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Schedules `event` at `time`, which must not be in the past.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) -> EventId {
        debug_assert!(
            time >= self.now,
            "scheduled into the past: {time:?} < {:?}",
            self.now
        );
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.heap.push(Entry {
            time: time.max(self.now),
            sequence,
            event,
        });
        self.peak_len = self.peak_len.max(self.heap.len());
        EventId(sequence)
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) -> EventId {
        self.schedule_at(self.now + delay, event)
    }

    /// Cancels a scheduled event; cancelling one already handled or cancelled does nothing.
    pub fn cancel(&mut self, id: EventId) {
        if id.0 < self.next_sequence {
            self.cancelled.insert(id.0);
        }
    }

    /// The time of the next live event, if any.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.discard_cancelled_head();
        self.heap.peek().map(|entry| entry.time)
    }

    /// Removes the next live event and advances the clock to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.discard_cancelled_head();
        let entry = self.heap.pop()?;
        self.now = entry.time;
        self.processed += 1;
        Some((entry.time, entry.event))
    }

    #[inline]
    fn discard_cancelled_head(&mut self) {
        if self.cancelled.is_empty() {
            return;
        }
        while let Some(head) = self.heap.peek() {
            if self.cancelled.remove(&head.sequence) {
                self.heap.pop();
            } else {
                break;
            }
        }
    }

    /// Hands every event with time ≤ `until` to `handler`, in order, then sets the clock to `until`.
    pub fn run_until<H: Handler<E>>(&mut self, handler: &mut H, until: SimTime) {
        loop {
            self.discard_cancelled_head();
            match self.heap.peek() {
                Some(head) if head.time <= until => {}
                _ => break,
            }
            let entry = self.heap.pop().expect("peeked entry exists");
            self.now = entry.time;
            self.processed += 1;
            handler.handle(entry.event, self);
        }
        self.now = self.now.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        seen: Vec<(SimTime, u32)>,
    }

    impl Handler<u32> for Recorder {
        fn handle(&mut self, event: u32, queue: &mut EventQueue<u32>) {
            self.seen.push((queue.now(), event));
            if event == 1 {
                queue.schedule_in(SimDuration(5), 10);
                queue.schedule_in(SimDuration(0), 11);
            }
        }
    }

    #[test]
    fn same_time_events_keep_insertion_order() {
        let mut queue = EventQueue::new();
        for event in [3, 1, 4, 1, 5, 9, 2, 6] {
            queue.schedule_at(SimTime(100), event);
        }
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![3, 1, 4, 1, 5, 9, 2, 6]);
    }

    #[test]
    fn pops_in_time_order() {
        let mut queue = EventQueue::new();
        for (time, event) in [(30, 0), (10, 1), (20, 2), (10, 3)] {
            queue.schedule_at(SimTime(time), event);
        }
        let order: Vec<(u64, u32)> =
            std::iter::from_fn(|| queue.pop().map(|(t, e)| (t.0, e))).collect();
        assert_eq!(order, vec![(10, 1), (10, 3), (20, 2), (30, 0)]);
    }

    #[test]
    fn cancelled_events_never_fire() {
        let mut queue = EventQueue::new();
        let keep = queue.schedule_at(SimTime(1), 1);
        let drop = queue.schedule_at(SimTime(2), 2);
        queue.schedule_at(SimTime(3), 3);
        queue.cancel(drop);
        queue.cancel(drop);
        let _ = keep;
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![1, 3]);
        assert_eq!(queue.processed(), 2);
        assert_eq!(queue.peak_len(), 3);
    }

    #[test]
    fn run_until_stops_at_the_horizon_and_handles_new_events() {
        let mut queue = EventQueue::new();
        queue.schedule_at(SimTime(10), 1);
        queue.schedule_at(SimTime(100), 2);
        let mut recorder = Recorder { seen: Vec::new() };
        queue.run_until(&mut recorder, SimTime(50));
        assert_eq!(
            recorder.seen,
            vec![(SimTime(10), 1), (SimTime(10), 11), (SimTime(15), 10)]
        );
        assert_eq!(queue.now(), SimTime(50));
        assert_eq!(queue.len(), 1);
    }
}
