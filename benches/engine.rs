//! Criterion benchmarks of the event queue alone: the classic hold model at 10^3–10^6 pending events,
//! and a cancel-heavy timeout pattern.
//!
//! Hold model: prefill the queue with `pending` events at exponential times, then every hold pops the
//! earliest event and schedules one at `now + Exp(mean 1 s)`, so the queue size stays at `pending`.
//! One criterion iteration is `HOLDS_PER_ITER` holds; throughput is reported in events (holds) per
//! second. The queue is kept across iterations, so criterion's warm-up also lets the distribution of
//! pending times settle into its steady state. Increments are drawn inline from a ChaCha8 stream
//! (`fleetsim::rng::stream`), as the model does; `rng_only` measures that draw alone, to subtract.
//!
//! Run: `cargo bench --bench engine`; smoke test (each bench once): `cargo test --release --benches`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fleetsim::dist::open_unit;
use fleetsim::engine::EventQueue;
use fleetsim::rng::stream;
use fleetsim::time::{SimDuration, SimTime};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Duration;

/// Holds per criterion iteration: amortizes the timer read over enough work to be measured well.
const HOLDS_PER_ITER: u64 = 1_000;
/// Mean of the exponential hold increment, in nanoseconds (1 s: ties are practically impossible).
const MEAN_INCREMENT_NS: f64 = 1e9;
/// The timeout of the cancel-heavy pattern: far behind the live events, as timeouts usually are.
const TIMEOUT: SimDuration = SimDuration::from_secs(10);
/// Marks a timeout event; live events carry a counter below it.
const TIMEOUT_EVENT: u64 = u64::MAX;
/// Every bench draws from the same deterministic stream.
const SEED: u64 = 2025;

/// An exponential increment (mean 1 s) in integer nanoseconds.
#[inline]
fn increment(rng: &mut ChaCha8Rng) -> SimDuration {
    SimDuration::from_nanos((-MEAN_INCREMENT_NS * open_unit(rng).ln()) as u64)
}

/// A queue holding `pending` events at exponential times from zero.
fn prefilled(pending: usize, rng: &mut ChaCha8Rng) -> EventQueue<u64> {
    let mut queue = EventQueue::new();
    for event in 0..pending as u64 {
        queue.schedule_at(SimTime::ZERO + increment(rng), event);
    }
    queue
}

/// One hold: pop the earliest event, schedule its successor at now + a random increment.
#[inline]
fn hold(queue: &mut EventQueue<u64>, rng: &mut ChaCha8Rng) {
    let (now, event) = queue.pop().expect("the hold model never drains the queue");
    queue.schedule_at(now + increment(rng), black_box(event));
}

fn hold_model(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/hold");
    group.throughput(Throughput::Elements(HOLDS_PER_ITER));
    for pending in [1_000usize, 10_000, 100_000, 1_000_000] {
        group.bench_with_input(
            BenchmarkId::from_parameter(pending),
            &pending,
            |b, &pending| {
                let mut rng = stream(SEED, 0, "bench");
                let mut queue = prefilled(pending, &mut rng);
                b.iter(|| {
                    for _ in 0..HOLDS_PER_ITER {
                        hold(&mut queue, &mut rng);
                    }
                });
                assert_eq!(queue.len(), pending, "a hold keeps the queue size");
            },
        );
    }
    group.bench_function("rng_only", |b| {
        let mut rng = stream(SEED, 0, "bench");
        b.iter(|| {
            for _ in 0..HOLDS_PER_ITER {
                black_box(increment(&mut rng));
            }
        });
    });
    group.finish();
}

/// The request-with-timeout pattern: every hold first arms a timeout (`now + 10 s`, ten mean
/// increments away), then the hold completes and cancels it. Cancelled timeouts stay in the queue
/// until they reach its head, so at steady state about 10 × `pending` dead entries ride along.
fn cancel_heavy(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine/timeout_cancel");
    group.throughput(Throughput::Elements(HOLDS_PER_ITER));
    for pending in [1_000usize, 10_000] {
        group.bench_with_input(
            BenchmarkId::from_parameter(pending),
            &pending,
            |b, &pending| {
                let mut rng = stream(SEED, 0, "bench");
                let mut queue = prefilled(pending, &mut rng);
                b.iter(|| {
                    for _ in 0..HOLDS_PER_ITER {
                        let timeout = queue.schedule_in(TIMEOUT, TIMEOUT_EVENT);
                        hold(&mut queue, &mut rng);
                        queue.cancel(timeout);
                    }
                });
                // A timeout that fired would have been popped by `hold` and rescheduled, uncancelled.
                let mut live = 0;
                while let Some((_, event)) = queue.pop() {
                    assert_ne!(
                        event, TIMEOUT_EVENT,
                        "a timeout fired before it was cancelled"
                    );
                    live += 1;
                }
                assert_eq!(live, pending, "a hold keeps the number of live events");
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = hold_model, cancel_heavy
}
criterion_main!(benches);
