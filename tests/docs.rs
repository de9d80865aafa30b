//! The scenario format reference stays true: its "every key in one valid scenario" example must
//! load as it is written, so a key renamed or added in code without the docs fails here.

use fleetsim::scenario;
use std::path::Path;

#[test]
fn the_every_key_example_of_the_format_reference_is_a_valid_scenario() {
    let reference = std::fs::read_to_string("scenarios/README.md").unwrap();
    let intro = reference
        .find("Every key in one valid scenario.")
        .expect("the reference has its every-key example");
    let start =
        intro + reference[intro..].find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + reference[start..].find("```").expect("the block ends");
    let example = &reference[start..end];
    let loaded = scenario::parse(Path::new("every-key.toml"), example, &[])
        .unwrap_or_else(|e| panic!("the every-key example is invalid: {e}"));
    assert_eq!(loaded.scenario.name, "every-key");
    // It shows the fault plan, a rollout with its alarm and a resilience table.
    assert!(!loaded.scenario.faults.is_empty());
    assert!(loaded.scenario.app.rollouts[0].alarm.is_some());
    assert!(
        loaded
            .scenario
            .app
            .components
            .iter()
            .any(|c| c.resilience.is_some())
    );
}
