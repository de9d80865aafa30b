//! The lessons of the bundled placement scenarios, asserted from their outputs: binpack uses fewer
//! nodes and spread keeps zones balanced; the Fargate/EC2 cost crossover follows utilization as
//! the scenario's header states; a cold start goes through the whole task lifecycle.

use fleetsim::experiment::run_replications;
use fleetsim::model::ReplicationResult;
use fleetsim::scenario;
use std::path::Path;

fn run(file: &str, overrides: &[&str]) -> Vec<ReplicationResult> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = scenario::load(Path::new(file), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let results = run_replications(&loaded.scenario, None, &|_, _| {}).expect("thread pool");
    for result in &results {
        assert!(result.conservation.holds());
    }
    results
}

const BINPACK_VS_SPREAD: &str = "scenarios/binpack-vs-spread.toml";

#[test]
fn binpack_uses_fewer_nodes_and_spread_balances_zones() {
    let spread = run(BINPACK_VS_SPREAD, &[]);
    let binpack = run(
        BINPACK_VS_SPREAD,
        &["cluster.placement.strategy=[\"binpack(memory)\"]"],
    );
    for (spread, binpack) in spread.iter().zip(&binpack) {
        let (s, b) = (&spread.cluster, &binpack.cluster);
        assert!(
            b.nodes_used < s.nodes_used,
            "binpack {} vs spread {} nodes",
            b.nodes_used,
            s.nodes_used
        );
        assert!(
            b.nodes_used >= b.nodes_lower_bound,
            "no placement beats the lower bound"
        );
        assert_eq!(
            b.nodes_used, b.nodes_lower_bound,
            "here binpack reaches the bound"
        );
        assert!(
            s.zone_imbalance_max <= 1,
            "spread(zone) keeps zones within one task"
        );
        assert!(b.zone_imbalance_max > s.zone_imbalance_max);
        assert_eq!(s.tasks_pending + b.tasks_pending, 0);
        // Same requests either way (placement does not touch the workload's random draws).
        assert_eq!(spread.request_digest, binpack.request_digest);
    }
}

const FARGATE_VS_EC2: &str = "scenarios/fargate-vs-ec2.toml";

fn cost(overrides: &[&str]) -> f64 {
    run(FARGATE_VS_EC2, overrides)[0].cluster.cost_usd
}

#[test]
fn fargate_is_cheaper_below_the_break_even_utilization_and_ec2_above_it() {
    // The header's arithmetic: six c5.large at $0.085/h against tasks at 1 × $0.04048 + 2 × $0.004445.
    let ec2_per_hour = 6.0 * 0.085;
    let fargate_task_per_hour = 0.04048 + 2.0 * 0.004445;
    let break_even_tasks = ec2_per_hour / fargate_task_per_hour;
    assert!((10.0..11.0).contains(&break_even_tasks));
    for tasks in [4_u32, 8, 10, 11, 12] {
        let replicas = format!("app.components.api.replicas={tasks}");
        let ec2 = cost(&[&replicas]);
        let fargate = cost(&[&replicas, "cluster.launch_type=fargate"]);
        // One simulated hour: the costs are the hourly prices (EC2 per node, Fargate per task).
        assert!(
            (ec2 - ec2_per_hour).abs() < 1e-6,
            "EC2 costs the nodes, full or not: {ec2}"
        );
        assert!(
            (fargate - f64::from(tasks) * fargate_task_per_hour).abs() < 1e-6,
            "{fargate}"
        );
        assert_eq!(
            fargate < ec2,
            f64::from(tasks) < break_even_tasks,
            "{tasks} tasks: fargate {fargate} ec2 {ec2}"
        );
    }
}

#[test]
fn fargate_spot_moves_the_break_even_up() {
    let full = "app.components.api.replicas=12";
    assert!(
        cost(&[
            full,
            "cluster.launch_type=fargate",
            "cluster.fargate.spot=true"
        ]) < cost(&[full])
    );
}

#[test]
fn a_cold_start_goes_through_the_whole_task_lifecycle() {
    let results = run(
        FARGATE_VS_EC2,
        &["cluster.initial_state=cold", "run.duration=10m"],
    );
    let kinds: Vec<&str> = results[0].events.iter().map(|e| e.kind).collect();
    for kind in [
        "node_provisioning",
        "node_booting",
        "node_ready",
        "task_placed",
        "task_pulling",
        "task_starting",
        "task_running",
        "task_healthy",
    ] {
        assert!(kinds.contains(&kind), "missing {kind}");
    }
    let cluster = &results[0].cluster;
    // Tasks wait for nodes to boot (~45 s) before placement, then pull 400 MB at 80 MB/s shared.
    assert!(cluster.task_pending_p50_s > 20.0, "{cluster:?}");
    assert!(
        cluster.task_ready_p50_s > cluster.task_pending_p50_s + 5.0,
        "{cluster:?}"
    );
    // Requests before the first healthy task fail; afterwards the service runs.
    let call = &results[0].classes[0];
    assert!(call.completed > 0);
    let fargate = run(
        FARGATE_VS_EC2,
        &[
            "cluster.initial_state=cold",
            "run.duration=10m",
            "cluster.launch_type=fargate",
        ],
    );
    let fargate_cluster = &fargate[0].cluster;
    assert_eq!(
        fargate_cluster.task_pending_p50_s, 0.0,
        "Fargate places at once"
    );
    // No node boot, but a 15 s start latency and a 400 MB pull at 10 MB/s.
    assert!(
        fargate_cluster.task_ready_p50_s > 40.0,
        "{fargate_cluster:?}"
    );
}
