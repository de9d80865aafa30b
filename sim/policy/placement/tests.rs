//! Tests across the placement family: every built-in from one table, every pending reason, parsing,
//! the registry with a custom policy, and property tests (no over-commitment; the indexed ECS paths
//! decide exactly as the scan does).

use super::testkit::{ClusterBuilder, GIB, SERVICES, task};
use super::*;
use crate::cluster::catalog::{Arch, OsFamily};
use crate::cluster::state::{NodeLifecycle, Resources};
use proptest::prelude::{
    Just, ProptestConfig, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};

fn rng() -> ChaCha8Rng {
    crate::rng::stream(7, 0, "placement-test")
}

fn ecs(strategies: &[&str], constraints: &[&str]) -> PlacementSpec {
    PlacementSpec::ecs(strategies, constraints).unwrap()
}

fn kubernetes(
    least: f64,
    most: f64,
    balanced: f64,
    spread: Option<TopologySpread>,
) -> PlacementSpec {
    PlacementSpec::Kubernetes {
        least_allocated: least,
        most_allocated: most,
        balanced_allocation: balanced,
        topology_spread: spread,
    }
}

fn zone_spread(max_skew: u32, when_unsatisfiable: Unsatisfiable) -> Option<TopologySpread> {
    Some(TopologySpread {
        topology: SpreadField::Zone,
        max_skew,
        when_unsatisfiable,
    })
}

/// Every built-in spec with no constraint and no hard topology spread.
fn unconstrained_specs() -> Vec<PlacementSpec> {
    vec![
        PlacementSpec::FirstFit,
        PlacementSpec::BestFit,
        PlacementSpec::WorstFit,
        ecs(&[], &[]),
        ecs(&["binpack(memory)"], &[]),
        ecs(&["binpack(cpu)"], &[]),
        ecs(&["binpack(cpu)", "binpack(memory)"], &[]),
        ecs(&["spread(zone)"], &[]),
        ecs(&["spread(zone)", "binpack(memory)"], &[]),
        ecs(&["spread(zone)", "binpack(cpu)", "spread(node)"], &[]),
        ecs(&["spread(zone)", "spread(node)"], &[]),
        ecs(&["spread(node)", "binpack(memory)"], &[]),
        ecs(&["spread(attribute:team)", "random"], &[]),
        ecs(&["random"], &[]),
        PlacementSpec::kubernetes_default(),
        kubernetes(0.0, 1.0, 0.0, None),
        kubernetes(1.0, 0.0, 1.0, zone_spread(1, Unsatisfiable::ScheduleAnyway)),
    ]
}

/// Every built-in spec, including constraints and hard topology spreads.
fn all_specs() -> Vec<PlacementSpec> {
    let mut specs = unconstrained_specs();
    specs.extend([
        ecs(&["binpack(memory)"], &["distinctInstance"]),
        ecs(
            &["spread(zone)", "binpack(memory)"],
            &["memberOf(attribute:team != api)"],
        ),
        kubernetes(1.0, 0.0, 1.0, zone_spread(1, Unsatisfiable::DoNotSchedule)),
        kubernetes(
            0.0,
            1.0,
            0.0,
            Some(TopologySpread {
                topology: SpreadField::Node,
                max_skew: 2,
                when_unsatisfiable: Unsatisfiable::DoNotSchedule,
            }),
        ),
    ]);
    specs
}

fn place(spec: &PlacementSpec, task: &TaskRequest, cluster: &ClusterState) -> Decision {
    let mut policy = Registry::with_builtins().build(spec).unwrap();
    policy.place(task, cluster, &mut rng())
}

/// Zones a, b. Free (cpu millis / GiB), allocated cpu share: n0 a 3000/4 0.25 (one task of service
/// 0) · n1 b 1000/12 0.75 · n2 a 4000/16 0 · n3 b 500/7 (too little cpu for the task).
fn small_cluster() -> ClusterState {
    let mut builder = ClusterBuilder::new(&["a", "b"]);
    builder.node("a", 4, 16).load(1000, 12).tasks(0, 1);
    builder.node("b", 4, 16).load(3000, 4);
    builder.node("a", 4, 16);
    builder.node("b", 2, 8).load(1500, 1);
    builder.build()
}

/// (spec, expected node) for a 1-cpu, 2-GiB task of service 0 on `small_cluster`.
#[test]
fn every_builtin_picks_from_the_table() {
    let table = [
        (PlacementSpec::FirstFit, 0),
        (PlacementSpec::BestFit, 1),
        (PlacementSpec::WorstFit, 2),
        (ecs(&["binpack(memory)"], &[]), 0),
        (ecs(&["binpack(cpu)"], &[]), 1),
        (ecs(&["spread(zone)"], &[]), 1),
        (ecs(&["spread(node)"], &[]), 1),
        (ecs(&["spread(zone)", "binpack(memory)"], &[]), 1),
        (ecs(&["binpack(memory)"], &["distinctInstance"]), 1),
        // LeastAllocated + BalancedAllocation + zone spread: n0 31 + 81 + 2 × 80, n1 31 + 68 + 2 ×
        // 100, n2 81 + 93 + 2 × 80.
        (PlacementSpec::kubernetes_default(), 2),
        // MostAllocated: n0 (50 + 87) / 2 = 68, n1 (100 + 37) / 2 = 68: the lowest index.
        (kubernetes(0.0, 1.0, 0.0, None), 0),
        (kubernetes(0.0, 0.0, 1.0, None), 2),
    ];
    let cluster = small_cluster();
    for (spec, expected) in table {
        assert_eq!(
            place(&spec, &task(0, 1000, 2 * GIB), &cluster),
            Decision::Place(expected),
            "{spec}"
        );
    }
}

/// (what the cluster looks like, task, expected reason): every built-in must agree.
#[test]
fn every_pending_reason_from_every_builtin() {
    let linux = |cpu, gib| task(1, cpu, gib * GIB);
    let mut cases: Vec<(&str, ClusterState, TaskRequest, PendingReason)> = Vec::new();

    cases.push((
        "empty cluster",
        ClusterBuilder::new(&["a"]).build(),
        linux(100, 1),
        PendingReason::NoReadyNode,
    ));
    let mut builder = ClusterBuilder::new(&["a"]);
    builder.node("a", 4, 16).lifecycle(NodeLifecycle::Booting);
    builder.node("a", 4, 16).lifecycle(NodeLifecycle::Draining);
    builder
        .node("a", 4, 16)
        .lifecycle(NodeLifecycle::Terminated);
    cases.push((
        "nodes, none ready",
        builder.build(),
        linux(100, 1),
        PendingReason::NoReadyNode,
    ));

    let mut builder = ClusterBuilder::new(&["a"]);
    builder.node("a", 4, 16);
    let mut windows = linux(100, 1);
    windows.os = OsFamily::Windows;
    cases.push((
        "windows task, linux nodes",
        builder.build(),
        windows,
        PendingReason::OsOrArchMismatch,
    ));
    let mut arm = linux(100, 1);
    arm.arch = Some(Arch::Arm64);
    cases.push((
        "arm64 task, x86 nodes",
        builder.build(),
        arm,
        PendingReason::OsOrArchMismatch,
    ));

    let mut builder = ClusterBuilder::new(&["a", "b"]);
    builder.node("a", 4, 16).load(3500, 0);
    builder.node("b", 4, 16).load(4000, 15);
    // A booting node and a Windows node with room do not count.
    builder.node("a", 8, 32).lifecycle(NodeLifecycle::Booting);
    builder
        .node("b", 8, 32)
        .platform(OsFamily::Windows, Arch::X86_64);
    cases.push((
        "cpu short everywhere, memory on n0",
        builder.build(),
        linux(1000, 2),
        PendingReason::InsufficientCpu,
    ));
    cases.push((
        "memory short everywhere, cpu on n0",
        builder.build(),
        linux(100, 20),
        PendingReason::InsufficientMemory,
    ));
    cases.push((
        "both short everywhere",
        builder.build(),
        linux(4000, 17),
        PendingReason::InsufficientCpuAndMemory,
    ));
    let mut builder = ClusterBuilder::new(&["a"]);
    builder.node("a", 4, 16).load(3500, 0);
    builder.node("a", 4, 16).load(0, 15);
    cases.push((
        "n0 lacks cpu, n1 lacks memory",
        builder.build(),
        linux(1000, 2),
        PendingReason::InsufficientCpuAndMemory,
    ));

    for (what, cluster, task, expected) in cases {
        assert_eq!(
            why_nothing_fits(&task, &cluster),
            Some(expected.clone()),
            "{what}"
        );
        for spec in all_specs() {
            assert_eq!(
                place(&spec, &task, &cluster),
                Decision::Pending(expected.clone()),
                "{what}: {spec}"
            );
        }
        let mut scan =
            EcsChain::new(vec![Strategy::Binpack(Resource::Memory)], Vec::new()).without_index();
        assert_eq!(
            scan.place(&task, &cluster, &mut rng()),
            Decision::Pending(expected),
            "{what}: scan"
        );
    }
}

#[test]
fn constraints_and_topology_spread_name_their_reasons() {
    let cluster = small_cluster();
    let constrained = ecs(
        &["binpack(memory)"],
        &[
            "memberOf(attribute:ecs.availability-zone == a)",
            "distinctInstance",
            "memberOf(attribute:ecs.instance-type =~ m5.*)",
        ],
    );
    assert_eq!(
        place(&constrained, &task(0, 1000, 2 * GIB), &cluster),
        Decision::Pending(PendingReason::Constraint(
            "memberOf(attribute:ecs.instance-type =~ m5.*)".into()
        ))
    );
    // Resources filter first: n3 is in zone b but lacks cpu, so it never reaches the constraint.
    let zone_b = ecs(&[], &["memberOf(attribute:ecs.availability-zone == b)"]);
    assert_eq!(
        place(&zone_b, &task(0, 2000, GIB), &cluster),
        Decision::Pending(PendingReason::Constraint(
            "memberOf(attribute:ecs.availability-zone == b)".into()
        ))
    );
    // Zone a holds the service's only task; b's n1 lacks cpu for a 2-cpu task: skew would be 2.
    let strict = kubernetes(1.0, 0.0, 0.0, zone_spread(1, Unsatisfiable::DoNotSchedule));
    assert_eq!(
        place(&strict, &task(0, 2000, GIB), &cluster),
        Decision::Pending(PendingReason::TopologySpread)
    );
    let soft = kubernetes(1.0, 0.0, 0.0, zone_spread(1, Unsatisfiable::ScheduleAnyway));
    assert_eq!(
        place(&soft, &task(0, 2000, GIB), &cluster),
        Decision::Place(2)
    );
}

#[test]
fn pending_reasons_have_names_and_details() {
    let reasons = [
        PendingReason::NoReadyNode,
        PendingReason::OsOrArchMismatch,
        PendingReason::InsufficientCpu,
        PendingReason::InsufficientMemory,
        PendingReason::InsufficientCpuAndMemory,
        PendingReason::Constraint("distinctInstance".into()),
        PendingReason::TopologySpread,
    ];
    for (reason, name) in reasons.iter().zip(PendingReason::NAMES) {
        assert_eq!(reason.name(), name);
        assert!(!reason.to_string().is_empty());
    }
    assert_eq!(
        PendingReason::Constraint("distinctInstance".into()).to_string(),
        "constraint distinctInstance excludes every node with room"
    );
}

/// (text, parsed) for every accepted spelling.
#[test]
fn strategies_parse_in_every_spelling() {
    let attribute = |name: &str| Strategy::Spread(SpreadField::Attribute(name.into()));
    let table = [
        ("binpack(cpu)", Strategy::Binpack(Resource::Cpu)),
        ("binpack(memory)", Strategy::Binpack(Resource::Memory)),
        (" binpack( memory ) ", Strategy::Binpack(Resource::Memory)),
        ("spread(zone)", Strategy::Spread(SpreadField::Zone)),
        (
            "spread(attribute:ecs.availability-zone)",
            Strategy::Spread(SpreadField::Zone),
        ),
        ("spread(node)", Strategy::Spread(SpreadField::Node)),
        ("spread(instanceId)", Strategy::Spread(SpreadField::Node)),
        ("spread(host)", Strategy::Spread(SpreadField::Node)),
        ("spread(attribute:rack)", attribute("rack")),
        (
            "spread(attribute:ecs.instance-type)",
            attribute("ecs.instance-type"),
        ),
        ("random", Strategy::Random),
        ("random()", Strategy::Random),
    ];
    for (text, expected) in table {
        let parsed = parse_strategy(text).unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(parsed, expected, "{text}");
        assert_eq!(parse_strategy(&parsed.to_string()).unwrap(), parsed);
    }
}

/// (text, expected error fragment); every error lists the valid forms.
#[test]
fn strategy_errors_say_what_is_wrong() {
    let table = [
        ("binpack(disk)", "binpack takes cpu or memory, not 'disk'"),
        ("binpack()", "binpack takes cpu or memory, not ''"),
        ("spread(rack)", "unknown spread field 'rack'"),
        ("spread(attribute:)", "needs an attribute name"),
        ("random(zone)", "random takes no field"),
        ("pack(cpu)", "unknown placement strategy 'pack(cpu)'"),
        ("binpack", "unknown placement strategy 'binpack'"),
        ("", "unknown placement strategy ''"),
    ];
    for (text, fragment) in table {
        let error = parse_strategy(text).expect_err(text);
        assert!(error.contains(fragment), "{text}: {error}");
        assert!(
            error.contains("binpack(cpu), binpack(memory), spread(zone)"),
            "{error}"
        );
    }
}

#[test]
fn specs_serialize_and_print() {
    let spec = ecs(
        &["spread(attribute:ecs.availability-zone)", "binpack(memory)"],
        &["distinctInstance", "memberOf(attribute:team in [a, b])"],
    );
    assert_eq!(
        serde_json::to_string(&spec).unwrap(),
        r#"{"kind":"ecs","strategies":["spread(zone)","binpack(memory)"],"constraints":["distinctInstance","memberOf(attribute:team in [a, b])"]}"#
    );
    assert_eq!(
        spec.to_string(),
        "ecs [spread(zone), binpack(memory)] constraints [distinctInstance, memberOf(attribute:team in [a, b])]"
    );
    assert_eq!(
        serde_json::to_string(&PlacementSpec::kubernetes_default()).unwrap(),
        r#"{"kind":"kubernetes","least_allocated":1.0,"most_allocated":0.0,"balanced_allocation":1.0,"topology_spread":{"topology":"zone","max_skew":5,"when_unsatisfiable":"ScheduleAnyway"}}"#
    );
    assert_eq!(
        serde_json::to_string(&PlacementSpec::BestFit).unwrap(),
        r#"{"kind":"best_fit"}"#
    );
    assert_eq!(PlacementSpec::WorstFit.to_string(), "worst_fit");
    let strategies: Vec<Strategy> = serde_json::from_str(r#"["spread(zone)", "random"]"#).unwrap();
    assert_eq!(
        strategies,
        vec![Strategy::Spread(SpreadField::Zone), Strategy::Random]
    );
    let error = serde_json::from_str::<Vec<Constraint>>(r#"["memberOf(x)"]"#).unwrap_err();
    assert!(error.to_string().contains("column 10"), "{error}");
}

/// A custom policy in a few lines: the fitting node running the fewest tasks.
#[derive(Debug)]
struct LeastTasks;

impl PlacementPolicy for LeastTasks {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        _: &mut ChaCha8Rng,
    ) -> Decision {
        let fitting = (0..cluster.nodes().len()).filter(|&node| cluster.fits(node, task));
        match fitting.min_by_key(|&node| (cluster.nodes()[node].tasks, node)) {
            Some(node) => Decision::Place(node),
            None => Decision::Pending(why_nothing_fits(task, cluster).expect("nothing fits")),
        }
    }
}

#[test]
fn the_registry_resolves_custom_policies_by_name() {
    let mut registry = Registry::with_builtins();
    registry.register("least_tasks", || Box::new(LeastTasks));
    assert_eq!(
        registry.names(),
        [
            "best_fit",
            "ecs",
            "first_fit",
            "kubernetes",
            "least_tasks",
            "worst_fit"
        ]
    );
    let custom = |name: &str| PlacementSpec::Custom { name: name.into() };
    let cluster = small_cluster();
    // n0 runs two tasks (background load and one of service 0), n1 and n3 one, n2 none.
    let mut policy = registry.build(&custom("least_tasks")).unwrap();
    assert_eq!(
        policy.place(&task(0, 1000, GIB), &cluster, &mut rng()),
        Decision::Place(2)
    );
    // Built-ins resolve by name too.
    let mut best = registry.build(&custom("best_fit")).unwrap();
    assert_eq!(
        best.place(&task(0, 1000, GIB), &cluster, &mut rng()),
        Decision::Place(1)
    );
    let error = registry.build(&custom("fastest")).unwrap_err();
    assert_eq!(
        error,
        "unknown placement policy 'fastest'; valid names: best_fit, ecs, first_fit, kubernetes, least_tasks, worst_fit"
    );
    let invalid = kubernetes(1.0, -2.0, 0.0, None);
    assert!(
        registry
            .build(&invalid)
            .unwrap_err()
            .contains("most_allocated")
    );
    // Registries are shared across the threads that run replications.
    fn shareable<T: Send + Sync>(_: &T) {}
    shareable(&registry);
}

/// One random node: zone, (cpus, GiB), load shares in eighths, lifecycle, platform, team, tasks of
/// services 0..3.
type NodeSeed = (usize, (u64, u64), (u64, u64), u8, u8, u8, [u32; 3]);

fn node_seed() -> impl proptest::strategy::Strategy<Value = NodeSeed> {
    (
        0..3usize,
        prop_oneof![
            Just((2u64, 4u64)),
            Just((2, 8)),
            Just((4, 16)),
            Just((8, 32))
        ],
        (0..=8u64, 0..=8u64),
        0..10u8,
        0..10u8,
        0..3u8,
        [0..3u32, 0..3u32, 0..3u32],
    )
}

fn seeded_cluster(seeds: &[NodeSeed]) -> ClusterState {
    let mut builder = ClusterBuilder::new(&["a", "b", "c"]);
    for &(zone, (cpus, gib), (cpu_eighths, memory_eighths), lifecycle, platform, team, tasks) in
        seeds
    {
        let node = builder.node(["a", "b", "c"][zone], cpus, gib);
        node.load(cpus * 1000 * cpu_eighths / 8, gib * memory_eighths / 8);
        match lifecycle {
            0 => node.lifecycle(NodeLifecycle::Booting),
            1 => node.lifecycle(NodeLifecycle::Draining),
            _ => node,
        };
        match platform {
            0 => node.platform(OsFamily::Windows, Arch::X86_64),
            1 | 2 => node.platform(OsFamily::Linux, Arch::Arm64),
            _ => node,
        };
        match team {
            0 => node.attr("team", "api"),
            1 => node.attr("team", "web"),
            _ => node,
        };
        for (service, &count) in tasks.iter().enumerate() {
            node.tasks(service, count);
        }
    }
    builder.build()
}

fn seeded_task(service: usize, quarter_cpus: u64, half_gib: u64, platform: u8) -> TaskRequest {
    let mut task = task(service, quarter_cpus * 250, half_gib * GIB / 2);
    match platform {
        0 => task.os = OsFamily::Windows,
        1 => task.arch = Some(Arch::Arm64),
        2 => task.arch = Some(Arch::X86_64),
        _ => {}
    }
    task
}

/// True when `node` satisfies every constraint of an ECS spec.
fn satisfies(
    spec: &PlacementSpec,
    node: usize,
    task: &TaskRequest,
    cluster: &ClusterState,
) -> bool {
    match spec {
        PlacementSpec::Ecs { constraints, .. } => constraints
            .iter()
            .all(|constraint| constraint.allows(node, task.service, cluster)),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Placing a stream of tasks and reserving each decision never over-commits a node (`reserve`
    /// would panic), never picks a node that does not fit or breaks a constraint, and a policy
    /// without constraints leaves a task pending only when nothing fits, for the reason
    /// `why_nothing_fits` gives.
    #[test]
    fn placements_always_fit(
        seeds in prop::collection::vec(node_seed(), 0..24),
        tasks in prop::collection::vec((0..3usize, 0..12u64, 0..16u64, 0..8u8), 1..24),
        seed in 0..1000u64,
    ) {
        let unconstrained = unconstrained_specs();
        for spec in all_specs() {
            let mut cluster = seeded_cluster(&seeds);
            let mut policy = Registry::with_builtins().build(&spec).unwrap();
            let mut rng = crate::rng::stream(seed, 0, "placement-property");
            for &(service, quarter_cpus, half_gib, platform) in &tasks {
                let task = seeded_task(service, quarter_cpus, half_gib, platform);
                match policy.place(&task, &cluster, &mut rng) {
                    Decision::Place(node) => {
                        prop_assert!(cluster.fits(node, &task), "{spec}: node {node} does not fit");
                        prop_assert!(satisfies(&spec, node, &task, &cluster), "{spec}: constraint");
                        cluster.reserve(node, task.service, task.resources);
                    }
                    Decision::Pending(reason) => {
                        if unconstrained.contains(&spec) {
                            prop_assert_eq!(Some(reason), why_nothing_fits(&task, &cluster), "{}", spec);
                        }
                    }
                }
            }
        }
    }

    /// The indexed ECS chains decide exactly what a full scan decides, draws included.
    #[test]
    fn indexed_chains_match_the_scan(
        seeds in prop::collection::vec(node_seed(), 0..24),
        tasks in prop::collection::vec((0..3usize, 0..12u64, 0..16u64, 0..8u8), 1..24),
        seed in 0..1000u64,
    ) {
        let no_api = "memberOf(attribute:team != api)";
        let chains: [(&[&str], &[&str]); 12] = [
            (&["binpack(memory)"], &[]),
            (&["binpack(cpu)", "spread(node)"], &[]),
            (&["binpack(memory)", "random"], &[]),
            (&["binpack(memory)"], &["distinctInstance", no_api]),
            (&["spread(zone)", "binpack(memory)"], &[]),
            (&["spread(zone)", "binpack(cpu)", "spread(attribute:team)"], &[]),
            (&["spread(zone)", "binpack(memory)", "random"], &[no_api]),
            (&["spread(zone)"], &[]),
            (&["spread(zone)"], &["distinctInstance"]),
            (&["spread(zone)", "spread(node)"], &[]),
            (&["spread(zone)", "spread(node)"], &[no_api]),
            (&["spread(zone)", "spread(node)", "binpack(memory)"], &[]),
        ];
        for (strategies, constraints) in chains {
            let strategies: Vec<Strategy> =
                strategies.iter().map(|s| parse_strategy(s).unwrap()).collect();
            let constraints: Vec<Constraint> =
                constraints.iter().map(|c| parse_constraint(c).unwrap()).collect();
            let mut indexed = EcsChain::new(strategies.clone(), constraints.clone());
            let mut scanned = EcsChain::new(strategies.clone(), constraints).without_index();
            let mut cluster = seeded_cluster(&seeds);
            let mut rng_indexed = crate::rng::stream(seed, 0, "placement-property");
            let mut rng_scanned = rng_indexed.clone();
            for &(service, quarter_cpus, half_gib, platform) in &tasks {
                let task = seeded_task(service, quarter_cpus, half_gib, platform);
                let decision = indexed.place(&task, &cluster, &mut rng_indexed);
                prop_assert_eq!(&decision, &scanned.place(&task, &cluster, &mut rng_scanned), "{:?}", strategies);
                if let Decision::Place(node) = decision {
                    cluster.reserve(node, task.service, task.resources);
                }
            }
        }
    }
}

#[test]
fn the_test_services_cover_the_seeds() {
    // seeded_cluster places tasks of services 0..3 and the background load of the last service.
    const { assert!(SERVICES > 3) };
    let cluster = seeded_cluster(&[(0, (2, 4), (8, 8), 2, 9, 2, [2, 2, 2])]);
    assert_eq!(cluster.nodes()[0].free(), Resources::default());
}

#[test]
fn an_ecs_spec_from_text_reports_the_first_part_that_does_not_parse() {
    assert!(
        PlacementSpec::ecs(&["spread(zone)", "binpack(memory)"], &["distinctInstance"]).is_ok()
    );
    assert!(PlacementSpec::ecs(&["spred(zone)"], &[]).is_err());
    assert!(PlacementSpec::ecs(&[], &["distinct"]).is_err());
}
