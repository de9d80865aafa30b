//! Criterion benchmarks of the full model, scenario → run → report, in engine events/s and requests/s.
//!
//! One iteration = load the scenario file (with `--set`-style overrides), simulate one replication on
//! this thread (`model::simulate`), and render every report `fleetsim run` writes (summary, time
//! series, events, manifest) into memory; file I/O is left out. Scenarios: `validation/mmc.toml`
//! (M/M/4 at ρ = 0.9, 2 engine events per request) and `validation/tandem.toml` (5-station tandem,
//! 14 engine events per request), each over `SIM_DURATION` of simulated time (≈ 0.1–0.5 s of wall
//! time per iteration here).
//!
//! An untimed run first counts the engine events (`events_processed`) and requests
//! (`conservation.offered`, warmup included) of one iteration; the same iteration is then measured
//! under two ids, `<scenario>/events` and `<scenario>/requests`, so criterion prints both rates.
//! Every timed iteration checks it processed exactly those counts (the model is deterministic).
//!
//! Run: `cargo bench --bench model`; smoke test (each bench once): `cargo test --release --benches`.

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use fleetsim::model::simulate;
use fleetsim::report;
use fleetsim::scenario;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Simulated time per iteration.
const SIM_DURATION: &str = "3000s";

/// The scenarios measured: benchmark name and file under `scenarios/`.
const CASES: [(&str, &str); 2] = [
    ("mmc", "validation/mmc.toml"),
    ("tandem", "validation/tandem.toml"),
];

/// What one iteration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Work {
    events: u64,
    requests: u64,
}

/// The `--set` overrides: one replication over `SIM_DURATION`.
fn overrides() -> Vec<String> {
    [
        format!("run.duration={SIM_DURATION}"),
        "run.warmup=10s".to_string(),
        "run.replications=1".to_string(),
    ]
    .to_vec()
}

/// Scenario → run → report, all in memory; returns the work done.
fn scenario_to_report(path: &Path, overrides: &[String]) -> Work {
    let loaded = scenario::load(path, overrides).expect("the benchmark scenario is valid");
    let result = simulate(&loaded.scenario, 0, &|_| {});
    let work = Work {
        events: result.events_processed,
        requests: result.conservation.offered,
    };
    let results = [result];
    black_box(report::summary_csv(&results));
    black_box(report::timeseries_csv(&results));
    black_box(report::events_csv(&results));
    black_box(report::manifest_json(path, &loaded, &results));
    work
}

fn full_model(c: &mut Criterion) {
    let overrides = overrides();
    let mut group = c.benchmark_group("model");
    group.sampling_mode(SamplingMode::Flat);
    for (name, file) in CASES {
        let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "scenarios", file]
            .iter()
            .collect();
        let started = Instant::now();
        let expected = scenario_to_report(&path, &overrides);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "model/{name}: {SIM_DURATION} simulated = {} engine events, {} requests ({:.1} events/request); \
             untimed first run {seconds:.3} s = {:.2} M events/s, {:.3} M requests/s",
            expected.events,
            expected.requests,
            expected.events as f64 / expected.requests as f64,
            expected.events as f64 / seconds / 1e6,
            expected.requests as f64 / seconds / 1e6,
        );
        for (unit, elements) in [("events", expected.events), ("requests", expected.requests)] {
            group.throughput(Throughput::Elements(elements));
            group.bench_function(format!("{name}/{unit}"), |b| {
                b.iter(|| {
                    let work = scenario_to_report(&path, &overrides);
                    assert_eq!(work, expected, "the model is deterministic");
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = full_model
}
criterion_main!(benches);
