//! Golden outputs: the bundled quickstart, shortened, must keep producing exactly the committed
//! summary and event log. A change to the model, the random streams or the report format shows up
//! here; if it is intended, regenerate with `FLEETSIM_UPDATE_GOLDEN=1 cargo test --release --test golden`
//! and review the diff.

use std::path::Path;
use std::process::Command;

fn check_golden(name: &str, overrides: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetsim"));
    command
        .args(["run", "scenarios/quickstart.toml", "--quiet", "--out"])
        .arg(out.path());
    for flag in overrides {
        command.args(["--set", flag]);
    }
    assert!(command.status().expect("the binary runs").success());
    for file in ["summary.csv", "events.csv"] {
        let actual = std::fs::read_to_string(out.path().join(file)).unwrap();
        let golden = Path::new("tests/golden").join(format!("{name}-{file}"));
        if std::env::var_os("FLEETSIM_UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set FLEETSIM_UPDATE_GOLDEN=1 to create it)",
                golden.display()
            )
        });
        assert!(
            actual == expected,
            "{} drifted:\n--- expected\n{expected}\n--- actual\n{actual}",
            golden.display()
        );
    }
}

#[test]
fn quickstart_microservices() {
    check_golden(
        "quickstart-microservices",
        &["run.duration=60s", "run.warmup=10s", "run.replications=2"],
    );
}

#[test]
fn quickstart_monolith() {
    check_golden(
        "quickstart-monolith",
        &[
            "run.duration=60s",
            "run.warmup=10s",
            "run.replications=2",
            "app.deployment.mode=monolith",
        ],
    );
}
