//! Invalid input never panics: every malformed scenario in `tests/malformed/` and every bad flag makes
//! `fleetsim` exit with code 2 and a message naming the file, line and column, the key and the fix.
//!
//! Each `tests/malformed/NN-name.toml` is a near-valid scenario with exactly one defect; its first line
//! is `# expect: <text>`, a substring the error message must contain. An optional second line
//! `# at: LINE:COLUMN` is where the message must point (the defect itself, not a parent table).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Exit code of invalid input (scenario, flags, missing file).
const INVALID_INPUT: i32 = 2;

fn fleetsim(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(arguments)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the fleetsim binary runs")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed")
}

/// The malformed scenarios, in name order.
fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/malformed exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// The `# expect:` text on the first line of a corpus file (read as bytes: one file is not UTF-8).
fn expectation(file: &Path) -> String {
    let bytes = std::fs::read(file).expect("a corpus file is readable");
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect:")
        .map(|rest| rest.trim().to_string())
        .filter(|expected| !expected.is_empty())
        .unwrap_or_else(|| panic!("{} must start with `# expect: <text>`", file.display()))
}

/// The `# at: LINE:COLUMN` on the second line of a corpus file, if it has one.
fn expected_position(file: &Path) -> Option<(usize, usize)> {
    let bytes = std::fs::read(file).expect("a corpus file is readable");
    let text = String::from_utf8_lossy(&bytes);
    let second = text.lines().nth(1)?;
    let at = second.strip_prefix("# at:")?.trim();
    let parsed = at
        .split_once(':')
        .and_then(|(line, column)| Some((line.parse().ok()?, column.parse().ok()?)));
    Some(parsed.unwrap_or_else(|| {
        panic!(
            "{}: `# at: {at}` is not `# at: LINE:COLUMN`",
            file.display()
        )
    }))
}

/// The (line, column) of the first `NAME:LINE:COLUMN:` in `text`, if any.
fn position_after(text: &str, name: &str) -> Option<(usize, usize)> {
    text.match_indices(name).find_map(|(at, _)| {
        let mut parts = text[at + name.len()..].splitn(4, ':');
        let (empty, line, column) = (parts.next()?, parts.next()?, parts.next()?);
        parts.next()?;
        if !empty.is_empty() {
            return None;
        }
        Some((line.parse().ok()?, column.parse().ok()?))
    })
}

/// Checks the common promises of an invalid-input failure; returns the problems found.
fn problems_with(
    output: &Output,
    file: &Path,
    expected: &str,
    at: Option<(usize, usize)>,
    what: &str,
) -> Vec<String> {
    let stderr = stderr_of(output);
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name");
    let mut problems = Vec::new();
    if output.status.code() != Some(INVALID_INPUT) {
        problems.push(format!(
            "{what}: exit code {:?}, expected {INVALID_INPUT}",
            output.status.code()
        ));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push(format!("{what}: panicked"));
    }
    match position_after(&stderr, name) {
        Some((line, column)) if line >= 1 && column >= 1 => {
            if let Some((want_line, want_column)) = at
                && (line, column) != (want_line, want_column)
            {
                problems.push(format!(
                    "{what}: points at {line}:{column}, expected {want_line}:{want_column}"
                ));
            }
        }
        other => problems.push(format!(
            "{what}: no `{name}:LINE:COLUMN:` position (found {other:?})"
        )),
    }
    if !stderr.contains(expected) {
        problems.push(format!("{what}: message lacks `{expected}`"));
    }
    if !problems.is_empty() {
        problems.push(format!("{what} stderr was:\n{stderr}"));
    }
    problems
}

#[test]
fn the_corpus_is_large_enough() {
    let files = corpus();
    assert!(
        files.len() >= 30,
        "only {} malformed scenarios in tests/malformed",
        files.len()
    );
}

#[test]
fn every_malformed_scenario_is_rejected_with_a_located_message() {
    let mut failures = Vec::new();
    for file in corpus() {
        let mut problems = Vec::new();
        let expected = expectation(&file);
        let at = expected_position(&file);
        let path = file.to_str().expect("a UTF-8 path");

        let check = fleetsim(&["check", path]);
        problems.extend(problems_with(&check, &file, &expected, at, "check"));

        let out = tempfile::tempdir().expect("a temporary directory");
        let out_dir = out.path().join("out");
        let run = fleetsim(&[
            "run",
            path,
            "--out",
            out_dir.to_str().expect("a UTF-8 path"),
            "--quiet",
        ]);
        problems.extend(problems_with(&run, &file, &expected, at, "run"));
        for written in ["summary.csv", "manifest.json"] {
            if out_dir.join(written).exists() {
                problems.push(format!("run: wrote {written} for an invalid scenario"));
            }
        }

        if !problems.is_empty() {
            failures.push(format!("== {}", file.display()));
            failures.extend(problems);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_missing_scenario_file_is_invalid_input() {
    let output = fleetsim(&["check", "tests/malformed/does-not-exist.toml"]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(INVALID_INPUT), "{stderr}");
    assert!(stderr.contains("does-not-exist.toml"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let out = tempfile::tempdir().expect("a temporary directory");
    let output = fleetsim(&[
        "run",
        "tests/malformed/does-not-exist.toml",
        "--out",
        out.path().to_str().expect("a UTF-8 path"),
    ]);
    assert_eq!(
        output.status.code(),
        Some(INVALID_INPUT),
        "{}",
        stderr_of(&output)
    );
}

/// `fleetsim check quickstart --set FLAG` must fail with exit 2, naming `--set` and `expected`.
fn assert_bad_set(flag: &str, expected: &str) {
    let output = fleetsim(&["check", "scenarios/quickstart.toml", "--set", flag]);
    let stderr = stderr_of(&output);
    assert_eq!(
        output.status.code(),
        Some(INVALID_INPUT),
        "--set {flag}: {stderr}"
    );
    assert!(stderr.contains("--set"), "--set {flag}: {stderr}");
    assert!(stderr.contains(expected), "--set {flag}: {stderr}");
    assert!(!stderr.contains("panicked"), "--set {flag}: {stderr}");
}

#[test]
fn bad_set_flags_are_invalid_input_naming_the_flag() {
    assert_bad_set("run.duration", "has no `=`");
    assert_bad_set(
        "app.components.nosuch.workers=4",
        "no element named `nosuch`",
    );
    assert_bad_set("app.components.nosuch.workers=4", "frontend");
    assert_bad_set("app.components[99].workers=4", "past the end");
    assert_bad_set("run..duration=1m", "is not a key path");
    assert_bad_set("run.duration.unit=s", "plain value");
    assert_bad_set("run.duration=forever", "run.duration");
    assert_bad_set("app.components.cart.workers=-1", "whole number");
    assert_bad_set("app.deployment.mode=monolit", "did you mean `monolith`");
    assert_bad_set("run.durration=5m", "did you mean `duration`");
    // A key only the flag creates is blamed on the flag, not on the file.
    assert_bad_set(
        "app.deployment.services.nosuch.workers=3",
        "no service `nosuch`",
    );
}

/// Autoscaling switched or broken from the command line: the message points at the flag.
#[test]
fn bad_autoscaling_set_flags_are_located_at_the_flag() {
    let cases = [
        (
            "scenarios/hpa-vs-target-tracking.toml",
            "app.components.api.autoscaling.policy=hpaa",
            "did you mean `hpa`",
        ),
        (
            "scenarios/hpa-vs-target-tracking.toml",
            "app.components.api.autoscaling.target=1.5",
            "the target must be in (0, 1]",
        ),
        (
            "scenarios/hpa-vs-target-tracking.toml",
            "app.deployment.services.nosuch.autoscaling.min=3",
            "no service `nosuch`",
        ),
        (
            "scenarios/flash-crowd.toml",
            "cluster.autoscaler={ policy = \"capacity_provider\", target_capacity = 150 }",
            "target capacity must be a percent in [1, 100]; got 150",
        ),
        (
            "scenarios/flash-crowd.toml",
            "cluster.autoscaler={ policy = \"cluster_autoscaler\", scale_down_utilization_threshold = 50 }",
            "for 50 % write 0.5",
        ),
    ];
    for (scenario, flag, expected) in cases {
        let output = fleetsim(&["check", scenario, "--set", flag]);
        let stderr = stderr_of(&output);
        assert_eq!(
            output.status.code(),
            Some(INVALID_INPUT),
            "--set {flag}: {stderr}"
        );
        assert!(
            stderr.contains("--set #1 (command line):1:"),
            "--set {flag}: {stderr}"
        );
        assert!(stderr.contains(expected), "--set {flag}: {stderr}");
        assert!(!stderr.contains("panicked"), "--set {flag}: {stderr}");
    }
    // Switching the autoscaler from the command line is valid.
    let output = fleetsim(&[
        "check",
        "scenarios/hpa-vs-target-tracking.toml",
        "--set",
        "app.components.api.autoscaling.policy=target_tracking",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
}

#[test]
fn bad_values_from_run_flags_are_invalid_input() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let out_dir = out.path().join("out");
    let output = fleetsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--replications",
        "0",
        "--out",
        out_dir.to_str().expect("a UTF-8 path"),
    ]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(INVALID_INPUT), "{stderr}");
    assert!(stderr.contains("--replications"), "{stderr}");
    assert!(!out_dir.join("summary.csv").exists());
}

#[test]
fn jobs_zero_is_a_usage_error() {
    let output = fleetsim(&["run", "scenarios/quickstart.toml", "--jobs", "0"]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(INVALID_INPUT), "{stderr}");
    assert!(stderr.contains("--jobs"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_quickstart_scenario_checks_clean() {
    let output = fleetsim(&["check", "scenarios/quickstart.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("is valid"));
}

#[test]
fn positions_are_parsed_only_after_the_file_name() {
    assert_eq!(
        position_after("error: a/b.toml:12:7: key `x`", "b.toml"),
        Some((12, 7))
    );
    assert_eq!(position_after("error: b.toml: cannot read", "b.toml"), None);
    assert_eq!(position_after("error: b.toml:12 oops", "b.toml"), None);
}
