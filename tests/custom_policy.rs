//! A user-written placement policy, registered by name and used from a scenario file.

use fleetsim::cluster::state::{ClusterState, TaskRequest};
use fleetsim::experiment::run_replications_with;
use fleetsim::model::Registries;
use fleetsim::policy::placement::{Decision, PendingReason, PlacementPolicy};
use fleetsim::scenario;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

// ---- the custom policy (12 lines) ----
/// Puts each task on the fitting node with the fewest tasks of any service (ties: lowest index).
#[derive(Debug)]
struct FewestTasks;

impl PlacementPolicy for FewestTasks {
    fn place(
        &mut self,
        task: &TaskRequest,
        cluster: &ClusterState,
        _rng: &mut ChaCha8Rng,
    ) -> Decision {
        (0..cluster.nodes().len())
            .filter(|&node| cluster.fits(node, task))
            .min_by_key(|&node| (cluster.nodes()[node].tasks, node))
            .map_or(
                Decision::Pending(PendingReason::NoReadyNode),
                Decision::Place,
            )
    }
}
// ---- end of the custom policy ----

const SCENARIO: &str = r#"
[run]
duration = "30s"

[cluster]
zones = ["a", "b"]
placement = { policy = "fewest_tasks" }

[[cluster.node_groups]]
name = "pool"
instance_type = "m5.large"
count = 4

[[app.components]]
name = "api"
cpu = "250m"
memory = "256MiB"
replicas = 6
service_time = { dist = "exponential", mean = "5ms" }

[[app.classes]]
name = "get"
entry = "api"

[workload]
rate = "50/s"
"#;

#[test]
fn a_custom_policy_is_used_from_a_scenario() {
    let mut registries = Registries::default();
    registries
        .placement
        .register("fewest_tasks", || Box::new(FewestTasks));
    let loaded = scenario::parse_with(Path::new("custom.toml"), SCENARIO, &[], &registries)
        .unwrap_or_else(|e| panic!("{e}"));
    let results =
        run_replications_with(&loaded.scenario, &registries, Some(1), &|_, _| {}).unwrap();
    let placed: Vec<&str> = results[0]
        .events
        .iter()
        .filter(|event| event.kind == "task_placed")
        .map(|event| event.detail.as_str())
        .collect();
    // Six tasks over four empty nodes, fewest tasks first: 0, 1, 2, 3, then 0, 1 again.
    assert_eq!(
        placed,
        [
            "node=pool-0",
            "node=pool-1",
            "node=pool-2",
            "node=pool-3",
            "node=pool-0",
            "node=pool-1"
        ]
    );
    assert_eq!(results[0].cluster.nodes_used, 4);
}

#[test]
fn without_registration_the_name_is_a_located_error() {
    let error = scenario::parse(Path::new("custom.toml"), SCENARIO, &[])
        .unwrap_err()
        .to_string();
    assert!(error.contains("custom.toml:7:"), "{error}");
    assert!(
        error.contains("unknown placement policy `fewest_tasks`"),
        "{error}"
    );
    assert!(
        error.contains("first_fit"),
        "lists the valid names: {error}"
    );
}
