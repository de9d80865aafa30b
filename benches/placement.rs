//! Criterion benchmarks of the placement policies: decisions per second at 100, 1,000 and 10,000 nodes.
//!
//! The cluster: nodes of four instance types (2–4 vCPU, 8–16 GiB) spread round robin over three
//! zones, each with a random background reservation of 0–60 % of its cpu and memory, and about two
//! tasks per node of ten services (250m–1000m, 0.5–2 GiB) placed before timing starts. Every
//! decision is one step of a steady churn: place the next task (services in turn) with the policy,
//! reserve it, and release the oldest running task, so the load, and the index sizes, stay put.
//! One criterion iteration is `DECISIONS` decisions; throughput is reported in decisions per second.
//! `reserve_release_only` measures the churn bookkeeping without a decision, to subtract.
//!
//! Run: `cargo bench --bench placement`; smoke test (each bench once): `cargo test --release --benches`.

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use fleetsim::cluster::catalog::{Arch, OsFamily};
use fleetsim::cluster::state::{ClusterState, NodeLifecycle, NodeState, Resources, TaskRequest};
use fleetsim::policy::placement::{
    Decision, EcsChain, PlacementPolicy, PlacementSpec, Registry, parse_strategy,
};
use fleetsim::rng::stream;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::time::Duration;

/// Decisions per criterion iteration.
const DECISIONS: u64 = 100;
/// Cluster sizes measured.
const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Services placing tasks, in turn.
const SERVICES: usize = 10;
/// The service that carries the background load.
const BACKGROUND: usize = SERVICES;
/// Tasks per node placed before timing starts (and kept running by the churn).
const TASKS_PER_NODE: usize = 2;
const GIB: u64 = 1 << 30;
const SEED: u64 = 2025;
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
/// (instance type, millicores, GiB).
const TYPES: [(&str, u64, u64); 4] = [
    ("m5.large", 2000, 8),
    ("m5.xlarge", 4000, 16),
    ("c5.xlarge", 4000, 8),
    ("r5.large", 2000, 16),
];

/// The task of `service`: 250m / 0.5 GiB, 500m / 1 GiB or 1000m / 2 GiB.
fn task(service: usize) -> TaskRequest {
    let scale = 1 << (service % 3);
    TaskRequest {
        service,
        resources: Resources {
            cpu_millis: 250 * scale,
            memory_bytes: GIB / 2 * scale,
        },
        os: OsFamily::Linux,
        arch: None,
    }
}

/// A uniform draw below `bound`.
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

/// The churn: a cluster and its running tasks, oldest first.
struct Churn {
    cluster: ClusterState,
    running: VecDeque<(usize, TaskRequest)>,
    next_service: usize,
}

impl Churn {
    /// `nodes` nodes with background load and about `TASKS_PER_NODE` tasks each, placed round robin.
    fn new(nodes: usize) -> Self {
        let mut rng = stream(SEED, 0, "placement-bench");
        let zones = ZONES.iter().map(|zone| zone.to_string()).collect();
        let mut cluster = ClusterState::new(zones, SERVICES + 1);
        for index in 0..nodes {
            let (instance_type, cpu_millis, gib) = TYPES[index % TYPES.len()];
            let zone = index % ZONES.len();
            let attributes: BTreeMap<String, String> = [
                ("ecs.instance-type", instance_type),
                ("ecs.availability-zone", ZONES[zone]),
                ("ecs.os-type", "linux"),
                ("ecs.cpu-architecture", "x86_64"),
                (
                    "node-group",
                    if index % 2 == 0 { "general" } else { "memory" },
                ),
            ]
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
            let node = cluster.add_node(NodeState {
                name: format!("node-{index}"),
                group: index % 2,
                zone,
                instance_type: instance_type.to_string(),
                os: OsFamily::Linux,
                arch: Arch::X86_64,
                capacity: Resources {
                    cpu_millis,
                    memory_bytes: gib * GIB,
                },
                allocated: Resources::default(),
                lifecycle: NodeLifecycle::Ready,
                attributes,
                tasks: 0,
            });
            // Background: 0–60 % of each resource, in 5 % steps.
            let background = Resources {
                cpu_millis: cpu_millis * 5 * below(&mut rng, 13) / 100,
                memory_bytes: gib * GIB / 100 * 5 * below(&mut rng, 13),
            };
            cluster.reserve(node, BACKGROUND, background);
        }
        let mut churn = Churn {
            cluster,
            running: VecDeque::new(),
            next_service: 0,
        };
        let mut node = 0;
        for _ in 0..nodes * TASKS_PER_NODE {
            let task = churn.next_task();
            // Round robin over the nodes that fit: cheap, and independent of the policy measured.
            for _ in 0..nodes {
                node = (node + 1) % nodes;
                if churn.cluster.fits(node, &task) {
                    churn.start(node, task);
                    break;
                }
            }
        }
        churn
    }

    fn next_task(&mut self) -> TaskRequest {
        let task = task(self.next_service);
        self.next_service = (self.next_service + 1) % SERVICES;
        task
    }

    fn start(&mut self, node: usize, task: TaskRequest) {
        self.cluster.reserve(node, task.service, task.resources);
        self.running.push_back((node, task));
    }

    fn stop_oldest(&mut self) {
        if let Some((node, task)) = self.running.pop_front() {
            self.cluster.release(node, task.service, task.resources);
        }
    }

    /// One churn step with a decision: returns true when the task was placed.
    fn step(&mut self, policy: &mut dyn PlacementPolicy, rng: &mut ChaCha8Rng) -> bool {
        let task = self.next_task();
        let placed = match policy.place(&task, &self.cluster, rng) {
            Decision::Place(node) => {
                self.start(node, task);
                true
            }
            Decision::Pending(_) => false,
        };
        self.stop_oldest();
        placed
    }

    /// One churn step without a decision: the oldest task restarts where it was.
    fn bookkeeping_only(&mut self) {
        if let Some((node, task)) = self.running.pop_front() {
            self.cluster.release(node, task.service, task.resources);
            self.start(node, task);
        }
    }
}

fn ecs(strategies: &[&str], constraints: &[&str]) -> PlacementSpec {
    PlacementSpec::ecs(strategies, constraints).unwrap()
}

/// Makes a fresh policy for one benchmark.
type MakePolicy = Box<dyn Fn() -> Box<dyn PlacementPolicy>>;

/// The policies measured, by benchmark name.
fn policies() -> Vec<(&'static str, MakePolicy)> {
    let registry = std::sync::Arc::new(Registry::with_builtins());
    let spec = |spec: PlacementSpec| -> MakePolicy {
        let registry = registry.clone();
        Box::new(move || registry.build(&spec).expect("a valid spec"))
    };
    let binpack_memory = || vec![parse_strategy("binpack(memory)").unwrap()];
    vec![
        ("first_fit", spec(PlacementSpec::FirstFit)),
        ("best_fit", spec(PlacementSpec::BestFit)),
        ("worst_fit", spec(PlacementSpec::WorstFit)),
        ("binpack_memory", spec(ecs(&["binpack(memory)"], &[]))),
        (
            "binpack_memory_scan",
            Box::new(move || Box::new(EcsChain::new(binpack_memory(), Vec::new()).without_index())),
        ),
        ("binpack_cpu", spec(ecs(&["binpack(cpu)"], &[]))),
        (
            "spread_zone_binpack_memory",
            spec(ecs(&["spread(zone)", "binpack(memory)"], &[])),
        ),
        ("spread_zone", spec(ecs(&["spread(zone)"], &[]))),
        (
            "spread_zone_spread_node",
            spec(ecs(&["spread(zone)", "spread(node)"], &[])),
        ),
        ("random", spec(ecs(&["random"], &[]))),
        (
            "binpack_memory_constrained",
            spec(ecs(
                &["binpack(memory)"],
                &[
                    "distinctInstance",
                    "memberOf(attribute:ecs.instance-type =~ m5.* or attribute:node-group == memory)",
                ],
            )),
        ),
        (
            "kubernetes_default",
            spec(PlacementSpec::kubernetes_default()),
        ),
        (
            "kubernetes_most_allocated_zone_strict",
            spec(PlacementSpec::Kubernetes {
                least_allocated: 0.0,
                most_allocated: 1.0,
                balanced_allocation: 0.0,
                topology_spread: Some(fleetsim::policy::placement::TopologySpread {
                    topology: fleetsim::policy::placement::SpreadField::Zone,
                    max_skew: 1,
                    when_unsatisfiable: fleetsim::policy::placement::Unsatisfiable::DoNotSchedule,
                }),
            }),
        ),
    ]
}

fn decisions(c: &mut Criterion) {
    for &nodes in &SIZES {
        let mut group = c.benchmark_group(format!("placement/{nodes}"));
        group
            .throughput(Throughput::Elements(DECISIONS))
            .sampling_mode(SamplingMode::Flat);
        let base = Churn::new(nodes);
        for (name, make) in policies() {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                let mut churn = Churn {
                    cluster: base.cluster.clone(),
                    running: base.running.clone(),
                    next_service: base.next_service,
                };
                let mut policy = make();
                let mut rng = stream(SEED, 0, "placement-bench-policy");
                let mut placed = 0u64;
                let mut total = 0u64;
                b.iter(|| {
                    for _ in 0..DECISIONS {
                        placed += u64::from(churn.step(policy.as_mut(), &mut rng));
                    }
                    total += DECISIONS;
                });
                // Strict policies (a hard zone spread, distinctInstance) may leave tasks pending;
                // the others must place almost every task on this half-empty cluster.
                assert!(placed > 0, "{name}: nothing placed at {nodes} nodes");
                black_box((placed, total));
            });
        }
        group.bench_function(BenchmarkId::from_parameter("reserve_release_only"), |b| {
            let mut churn = Churn {
                cluster: base.cluster.clone(),
                running: base.running.clone(),
                next_service: base.next_service,
            };
            b.iter(|| {
                for _ in 0..DECISIONS {
                    churn.bookkeeping_only();
                }
            });
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200));
    targets = decisions
}
criterion_main!(benches);
