//! The lessons of `scenarios/flash-crowd.toml`, asserted from its outputs: where the scale-out time
//! goes, what a bigger image and Fargate change, and that scale-in is slower than scale-out.

use fleetsim::experiment::run_replications;
use fleetsim::model::{ReplicationResult, ScalingRow};
use fleetsim::scenario;
use fleetsim::time::SimTime;
use std::path::Path;

const FLASH_CROWD: &str = "scenarios/flash-crowd.toml";
/// The spike starts at 6 min and ramps down from 17 min to 18 min.
const SPIKE_START_S: f64 = 360.0;
const SPIKE_END_S: f64 = 1080.0;

fn run(overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(FLASH_CROWD), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    let result = results.remove(0);
    assert!(result.conservation.holds());
    result
}

fn seconds(time: Option<SimTime>) -> f64 {
    time.expect("phase happened").as_secs_f64()
}

/// The first scale-out of `service` and the rows of the tasks it started.
fn first_scale_out<'a>(result: &'a ReplicationResult, service: &str) -> Vec<&'a ScalingRow> {
    let first = result
        .scaling
        .iter()
        .find(|row| row.scale.service == service && row.scale.direction == "out")
        .expect("a scale-out")
        .action;
    result
        .scaling
        .iter()
        .filter(|row| row.action == first)
        .collect()
}

#[test]
fn the_metric_pipeline_is_most_of_the_scale_out_time() {
    let result = run(&[]);
    for row in first_scale_out(&result, "api") {
        let scale = &row.scale;
        let detection = (scale.decision - scale.trigger).as_secs_f64();
        let provisioning = seconds(row.healthy) - scale.decision.as_secs_f64();
        // Three one-minute datapoints plus a one-minute publication delay.
        assert!(detection >= 180.0, "{detection}");
        assert!(
            detection > provisioning,
            "detection {detection} s vs provisioning {provisioning} s"
        );
        assert!(scale.trigger.as_secs_f64() >= SPIKE_START_S - 60.0);
    }
}

fn api_pull_seconds(result: &ReplicationResult) -> f64 {
    first_scale_out(result, "api")
        .iter()
        .map(|row| seconds(row.pulled) - seconds(row.placed))
        .fold(0.0, f64::max)
}

fn absorption(result: &ReplicationResult) -> f64 {
    result.classes[0].spike_absorption_s
}

#[test]
fn a_bigger_image_lengthens_the_pull_and_the_absorption() {
    let small = run(&[]);
    let big = run(&["app.components.api.image_size=4GB"]);
    // 400 MB vs 4 GB at 80 MB/s per node.
    assert!(
        api_pull_seconds(&big) > 5.0 * api_pull_seconds(&small),
        "{} vs {}",
        api_pull_seconds(&big),
        api_pull_seconds(&small)
    );
    assert!(
        absorption(&big) > absorption(&small),
        "{} vs {}",
        absorption(&big),
        absorption(&small)
    );
    assert!(big.classes[0].slo_violation_minutes >= small.classes[0].slo_violation_minutes);
}

#[test]
fn fargate_needs_no_node_but_starts_tasks_slower() {
    let ec2 = run(&[]);
    let fargate = run(&["cluster.launch_type=fargate"]);
    let start = |result: &ReplicationResult| {
        first_scale_out(result, "api")
            .iter()
            .map(|row| seconds(row.healthy) - row.scale.decision.as_secs_f64())
            .fold(0.0, f64::max)
    };
    assert!(
        start(&fargate) > start(&ec2),
        "fargate {} vs ec2 {}",
        start(&fargate),
        start(&ec2)
    );
    assert!(fargate.cluster.nodes_used == 0 && ec2.cluster.nodes_used > 0);
    assert!(
        !fargate
            .events
            .iter()
            .any(|event| event.kind.starts_with("node_"))
    );
}

#[test]
fn scale_in_is_slower_than_scale_out() {
    let result = run(&[]);
    let first = |direction: &str, after: f64| {
        result
            .scaling
            .iter()
            .filter(|row| {
                row.scale.direction == direction && row.scale.decision.as_secs_f64() > after
            })
            .map(|row| row.scale.decision.as_secs_f64() - after)
            .fold(f64::INFINITY, f64::min)
    };
    let scale_out_after = first("out", SPIKE_START_S);
    let scale_in_after = first("in", SPIKE_END_S);
    assert!(scale_out_after.is_finite() && scale_in_after.is_finite());
    assert!(
        scale_in_after > scale_out_after,
        "in after {scale_in_after} s, out after {scale_out_after} s"
    );
}

#[test]
fn without_spare_capacity_a_node_boots_first_and_absorption_takes_longer() {
    let spare = run(&[]);
    for policy in ["capacity_provider", "cluster_autoscaler"] {
        let autoscaler = format!("cluster.autoscaler={{ policy = \"{policy}\" }}");
        let tight = run(&[
            &autoscaler,
            "cluster.node_groups.spare.count=1",
            "cluster.node_groups.spare.min=1",
            "cluster.node_groups.spare.max=20",
        ]);
        let booted: Vec<&ScalingRow> = tight
            .scaling
            .iter()
            .filter(|row| row.node_ready.is_some())
            .collect();
        assert!(
            !booted.is_empty(),
            "{policy}: some new task waited for a new node"
        );
        for row in &booted {
            let boot = (row.node_ready.unwrap() - row.node_requested.unwrap()).as_secs_f64();
            assert!(boot > 20.0, "{policy}: node boot {boot} s");
            assert!(
                seconds(row.placed) >= seconds(row.node_ready),
                "{policy}: placed only once the node was ready"
            );
        }
        assert!(
            tight
                .events
                .iter()
                .any(|event| event.kind == "cluster_scale_out")
        );
        assert!(
            absorption(&tight) > absorption(&spare),
            "{policy}: {} vs {}",
            absorption(&tight),
            absorption(&spare)
        );
    }
}

const ML_INFERENCE: &str = "scenarios/ml-inference.toml";

fn run_ml(overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded =
        scenario::load(Path::new(ML_INFERENCE), &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    results.remove(0)
}

#[test]
fn the_image_pull_dominates_a_model_servers_scale_out_and_a_cached_image_cuts_it() {
    let pulled = run_ml(&[]);
    let new_tasks: Vec<&ScalingRow> = pulled
        .scaling
        .iter()
        .filter(|row| row.healthy.is_some())
        .collect();
    assert!(!new_tasks.is_empty());
    for row in &new_tasks {
        let pull = seconds(row.pulled) - seconds(row.placed);
        let start = seconds(row.running) - seconds(row.pulled);
        let boot = match (row.node_requested, row.node_ready) {
            (Some(requested), Some(ready)) => (ready - requested).as_secs_f64(),
            _ => 0.0,
        };
        assert!(
            pull > boot + start,
            "pull {pull} s vs boot {boot} s + start {start} s"
        );
    }
    let cached = run_ml(&["cluster.node_groups.gpu.cached_images=[\"inference\"]"]);
    for row in cached.scaling.iter().filter(|row| row.healthy.is_some()) {
        assert_eq!(row.pulled, row.placed, "a cached image needs no pull");
    }
    let (slow, fast) = (
        pulled.cluster.time_to_capacity_p50_s,
        cached.cluster.time_to_capacity_p50_s,
    );
    // 12 GB at 80 MB/s is 150 s of pull saved.
    assert!(slow - fast > 100.0, "time to capacity {slow} s vs {fast} s");
    assert!(cached.classes[0].failed < pulled.classes[0].failed);
}
