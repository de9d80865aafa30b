//! Task and node lifecycle semantics: image pulls share a node's bandwidth and are cached, Windows
//! tasks land only on Windows nodes, and a task that finds no room stays pending with a reason.

use fleetsim::experiment::run_replications;
use fleetsim::model::{EventRow, ReplicationResult};
use fleetsim::scenario;
use std::path::Path;

const BASE: &str = r#"
[run]
duration = "60s"
metrics_interval = "10s"

[cluster]
zones = ["a"]
initial_state = "cold"
image_pull_bandwidth = "80MB/s"
tasks = { start_time = { dist = "constant", value = "1s" } }

[[cluster.node_groups]]
name = "pool"
instance_type = "m5.xlarge"
count = 1
provision_time = { dist = "constant", value = "0s" }
boot_time = { dist = "constant", value = "10s" }

[[app.components]]
name = "a"
image_size = "400MB"
service_time = { dist = "constant", value = "1ms" }
replicas = 2

[[app.components]]
name = "b"
image_size = "400MB"
service_time = { dist = "constant", value = "1ms" }
replicas = 1

[[app.classes]]
name = "get"
entry = "a"

[workload]
rate = "10/s"
"#;

fn run(text: &str, overrides: &[&str]) -> ReplicationResult {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let loaded = scenario::parse(Path::new("lifecycle.toml"), text, &overrides)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut results = run_replications(&loaded.scenario, Some(1), &|_, _| {}).unwrap();
    results.remove(0)
}

fn times(result: &ReplicationResult, kind: &str) -> Vec<(String, f64)> {
    result
        .events
        .iter()
        .filter(|event: &&EventRow| event.kind == kind)
        .map(|event| (event.subject.clone(), event.time.as_secs_f64()))
        .collect()
}

#[test]
fn concurrent_pulls_share_the_node_bandwidth_and_one_pull_serves_a_whole_image() {
    let result = run(BASE, &[]);
    // The node is ready at 10 s. Images a and b (400 MB each) pull together at 40 MB/s each: both
    // finish at 20 s. The second task of `a` joins the first one's pull instead of pulling again.
    let starting = times(&result, "task_starting");
    assert_eq!(starting.len(), 3, "{starting:?}");
    for (task, at) in &starting {
        assert!((at - 20.0).abs() < 1e-6, "{task} started at {at}");
    }
    // Alone, one 400 MB image takes 5 s.
    let alone = run(
        BASE,
        &["app.components.b.replicas=0", "app.components.a.replicas=1"],
    );
    let (_, at) = &times(&alone, "task_starting")[0];
    assert!((at - 15.0).abs() < 1e-6, "{at}");
    // Healthy after the 1 s container start.
    for (_, at) in times(&result, "task_healthy") {
        assert!((at - 21.0).abs() < 1e-6);
    }
}

#[test]
fn requests_fail_until_a_task_is_healthy() {
    let result = run(BASE, &["run.warmup=0s"]);
    let get = &result.classes[0];
    // Arrivals before 21 s find no healthy task of `a` (about 10/s × 21 s of them).
    assert!(
        get.failed_no_replica > 150 && get.failed_no_replica < 270,
        "{get:?}"
    );
    assert!(get.completed > 300);
}

#[test]
fn windows_tasks_land_only_on_windows_nodes() {
    let text = BASE.replace("initial_state = \"cold\"", "initial_state = \"warm\"").replace(
        "[[app.components]]\nname = \"a\"",
        "[[cluster.node_groups]]\nname = \"win\"\ninstance_type = \"m5.large\"\nos = \"windows\"\ncount = 2\n\n[[app.components]]\nname = \"a\"",
    );
    let result = run(
        &text,
        &[
            "app.components.a.os=windows",
            "app.components.a.image_size=8GB",
        ],
    );
    for (task, detail) in result
        .events
        .iter()
        .filter(|e| e.kind == "task_placed")
        .map(|e| (&e.subject, &e.detail))
    {
        let on_windows = detail.contains("win-");
        assert_eq!(task.starts_with("a/"), on_windows, "{task} placed {detail}");
    }
    // A Windows m5.large costs its Linux price plus $0.046 per vCPU-hour.
    assert!(result.cluster.cost_usd > 0.0);
}

#[test]
fn a_task_without_room_stays_pending_with_its_reason() {
    let result = run(
        BASE,
        &[
            "app.components.a.replicas=3",
            "app.components.a.memory=6GiB",
            "cluster.initial_state=warm",
        ],
    );
    let pending: Vec<&EventRow> = result
        .events
        .iter()
        .filter(|e| e.kind == "task_pending")
        .collect();
    assert_eq!(
        pending.len(),
        1,
        "a 16 GiB node holds two 6 GiB tasks: {pending:?}"
    );
    assert!(
        pending
            .iter()
            .all(|e| e.detail.contains("insufficient_memory")),
        "{pending:?}"
    );
    assert_eq!(result.cluster.tasks_pending, 1);
}
