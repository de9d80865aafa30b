//! Scenario files: TOML text → raw structs → one validation → a `Scenario` the model can build from.
//! Every error names the file, line, column and key, what is wrong and what would be right.

mod autoscaling;
mod cluster;
mod cluster_autoscaling;
mod describe;
mod faults;
mod placement;
mod raw;
mod resilience;
mod rollouts;
pub mod source;
pub mod units;
mod validate;

pub use describe::describe;
pub use source::{Diagnostic, Problem};
pub use validate::defaults;

use crate::app::AppSpec;
use crate::cluster::ClusterSpec;
use crate::model::Registries;
use crate::policy::cluster_autoscale::ClusterAutoscalerSpec;
use crate::time::SimDuration;
use crate::workload::WorkloadSpec;
use serde::Serialize;
use sha2::{Digest, Sha256};
use source::{SourceMap, apply_override, did_you_mean};
use std::path::Path;

/// How long to run, what to exclude, how often to sample, and the randomness.
#[derive(Debug, Clone, Serialize)]
pub struct RunSpec {
    /// Simulated time of one replication.
    pub duration: SimDuration,
    /// Initial time excluded from summaries.
    pub warmup: SimDuration,
    /// Master seed; replication `r` derives its streams from (seed, r).
    pub seed: u64,
    /// Independent replications.
    pub replications: u32,
    /// Period of the time series.
    pub metrics_interval: SimDuration,
    /// A service cascaded in a fault when its error share rose by more than this (absolute, 0–1).
    pub cascade_error_rate: f64,
    /// A service cascaded in a fault when its mean latency rose above its baseline × this.
    pub cascade_latency_factor: f64,
}

/// A validated scenario: nothing in it can be invalid.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Name, used for the default output directory.
    pub name: String,
    /// Free text from the file.
    pub description: String,
    /// Run settings.
    pub run: RunSpec,
    /// The cluster.
    pub cluster: ClusterSpec,
    /// The application and its deployment.
    pub app: AppSpec,
    /// The offered load.
    pub workload: WorkloadSpec,
    /// The cluster autoscaler, if any.
    pub cluster_autoscaler: Option<ClusterAutoscalerSpec>,
    /// Injected faults, in time order.
    pub faults: Vec<crate::faults::FaultSpec>,
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

/// A loaded scenario and facts about where it came from (for the manifest).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated scenario.
    pub scenario: Scenario,
    /// SHA-256 of the scenario file's bytes, hex.
    pub file_sha256: String,
    /// The `--set` flags applied, in order.
    pub overrides: Vec<String>,
}

/// Reads, overrides and validates the scenario at `path`, with the built-in policies.
pub fn load(path: &Path, overrides: &[String]) -> Result<Loaded, ScenarioError> {
    load_with(path, overrides, &Registries::default())
}

/// Like [`load`], also accepting the custom policies registered in `registries`.
pub fn load_with(
    path: &Path,
    overrides: &[String],
    registries: &Registries,
) -> Result<Loaded, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        // Point at the first byte that is not UTF-8, counting lines in the valid text before it.
        let valid = error.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&error.as_bytes()[..valid]).into_owned();
        let map = SourceMap::new(path, &prefix);
        ScenarioError::Invalid(Box::new(
            map.at_span(
                valid..valid,
                &Problem::new("", format!("byte {valid} is not UTF-8 text"))
                    .with_help("save the scenario as UTF-8"),
            ),
        ))
    })?;
    parse_with(path, &text, overrides, registries)
}

/// Validates scenario `text` as if read from `path` (which also anchors relative trace files).
pub fn parse(path: &Path, text: &str, overrides: &[String]) -> Result<Loaded, ScenarioError> {
    parse_with(path, text, overrides, &Registries::default())
}

/// Like [`parse`], also accepting the custom policies registered in `registries`.
pub fn parse_with(
    path: &Path,
    text: &str,
    overrides: &[String],
    registries: &Registries,
) -> Result<Loaded, ScenarioError> {
    let invalid = |diagnostic: Diagnostic| ScenarioError::Invalid(Box::new(diagnostic));
    let mut map = SourceMap::new(path, text);
    let mut table: toml::Table = match toml::de::DeTable::parse(text) {
        Ok(_) => text
            .parse()
            .map_err(|e: toml::de::Error| invalid(syntax_error(&map, text, &e)))?,
        Err(e) => return Err(invalid(syntax_error(&map, text, &e))),
    };
    for flag in overrides {
        match apply_override(&mut table, flag) {
            Ok(canonical) => map.add_override(canonical, flag.clone()),
            Err(problem) => {
                let mut diagnostic = map.locate(&problem);
                diagnostic.origin = format!("--set {flag} (command line)");
                diagnostic.line = 1;
                diagnostic.column = 1;
                diagnostic.snippet = None;
                return Err(invalid(diagnostic));
            }
        }
    }
    let raw: raw::RawScenario = serde_path_to_error::deserialize(toml::Value::Table(table))
        .map_err(|e| {
            invalid(match serde_problem(&e) {
                (problem, Anchor::Key) => map.locate_key(&problem),
                (problem, Anchor::Value) => map.locate(&problem),
            })
        })?;
    let scenario = validate::validate(raw, path, &CustomNames::of(registries))
        .map_err(|problem| invalid(map.locate(&problem)))?;
    Ok(Loaded {
        scenario,
        file_sha256: hex(&Sha256::digest(text.as_bytes())),
        overrides: overrides.to_vec(),
    })
}

/// The names of the custom policies a scenario may use.
#[derive(Debug, Default)]
pub struct CustomNames {
    /// Custom placement policies.
    pub placement: Vec<String>,
    /// Custom autoscalers.
    pub autoscale: Vec<String>,
}

impl CustomNames {
    /// The registered names that are not built-in kinds.
    fn of(registries: &Registries) -> Self {
        CustomNames {
            placement: registries
                .placement
                .names()
                .into_iter()
                .filter(|name| !placement::BUILTIN_POLICIES.contains(&name.as_str()))
                .collect(),
            autoscale: registries
                .autoscale
                .names()
                .into_iter()
                .filter(|name| !["target_tracking", "step_scaling", "hpa"].contains(&name.as_str()))
                .collect(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A TOML syntax error, located at its span; a duplicate key is named.
fn syntax_error(map: &SourceMap, text: &str, error: &toml::de::Error) -> Diagnostic {
    let span = error.span().unwrap_or(0..0);
    let message = error.message().trim();
    let problem = if message == "duplicate key" {
        let key = text.get(span.clone()).unwrap_or_default().trim();
        Problem::new("", format!("TOML syntax error: duplicate key `{key}`")).with_help(
            "a key may appear only once in a table (and a [table] header only once); remove or rename one",
        )
    } else {
        Problem::new("", format!("TOML syntax error: {message}"))
            .with_help("see https://toml.io for the syntax; scenarios/README.md for the keys")
    };
    map.at_span(span, &problem)
}

/// Where a serde problem points: at the key as written (unknown keys) or at its value.
enum Anchor {
    Key,
    Value,
}

/// Serde's names for what it expected, in scenario-file words, with help on writing it.
const EXPECTED: [(&str, &str, &str); 7] = [
    (
        "u32",
        "a whole number from 0 to 4294967295",
        "write a whole number without quotes, e.g. 8",
    ),
    (
        "u64",
        "a whole number, 0 or more",
        "write a whole number without quotes, e.g. 42",
    ),
    (
        "f64",
        "a number",
        "write a number without quotes, e.g. 0.5 or 99",
    ),
    (
        "a boolean",
        "true or false",
        "write true or false without quotes",
    ),
    (
        "a sequence",
        "an array",
        "write a list in brackets, e.g. [\"a\", \"b\"], or repeat a [[double-bracket]] table header once per element",
    ),
    (
        "a string",
        "a string",
        "write it as a quoted string with a unit, e.g. \"250ms\", \"512MiB\", \"200/s\"",
    ),
    (
        "a borrowed string",
        "a string",
        "write it as a quoted string with a unit, e.g. \"250ms\", \"512MiB\", \"200/s\"",
    ),
];

/// Rewrites serde's "invalid type: map, expected struct RawApp" into "... table, expected a table".
fn plain_type_message(message: &str) -> (String, Option<&'static str>) {
    let (found, expected) = match message.split_once(", expected ") {
        Some((found, expected)) => (found, expected.trim()),
        None => return (message.to_string(), None),
    };
    let found = found
        .replace(": map", ": table")
        .replace(": sequence", ": array");
    if expected.starts_with("struct ") || expected == "a map" {
        return (
            format!("{found}, expected a table"),
            Some("write a table: a [name] header with keys below it, or { key = value, ... }"),
        );
    }
    match EXPECTED.iter().find(|(name, _, _)| *name == expected) {
        Some((_, plain, help)) => (format!("{found}, expected {plain}"), Some(help)),
        None => (format!("{found}, expected {expected}"), None),
    }
}

/// Turns a serde error (unknown key, wrong type) into a problem at its key path, with "did you mean".
fn serde_problem(error: &serde_path_to_error::Error<toml::de::Error>) -> (Problem, Anchor) {
    let path = error.path().to_string().replace("?", "");
    let path = if path == "." { String::new() } else { path };
    let message = error.inner().message().trim().to_string();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest
            .split_once("expected")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        let full_path = if path.ends_with(unknown) {
            path.clone()
        } else if path.is_empty() {
            unknown.to_string()
        } else {
            format!("{path}.{unknown}")
        };
        let help = if expected.is_empty() {
            "this table takes no keys".to_string()
        } else {
            did_you_mean(unknown, &expected)
        };
        return (
            Problem::new(full_path, format!("unknown key `{unknown}`")).with_help(help),
            Anchor::Key,
        );
    }
    if message.contains("did not match any variant of untagged enum NumberOrText") {
        return (
            Problem::new(
                path,
                "expected a number of vCPUs or a string such as \"500m\"",
            )
            .with_help("e.g. cpu = 0.5 or cpu = \"500m\""),
            Anchor::Value,
        );
    }
    let (message, type_help) = plain_type_message(&message);
    let help = match type_help {
        Some(help) => help,
        None if message.contains("invalid type") => {
            "check the value's type: numbers unquoted, durations and sizes quoted with a unit"
        }
        None if message.contains("missing field") => "add the missing key",
        None => "see scenarios/README.md for every key",
    };
    (Problem::new(path, message).with_help(help), Anchor::Value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[run]
duration = "1m"

[[app.components]]
name = "api"
service_time = { dist = "exponential", mean = "10ms" }

[[app.classes]]
name = "get"
entry = "api"

[workload]
rate = "10/s"
"#;

    fn error_of(text: &str, overrides: &[&str]) -> Diagnostic {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        match parse(Path::new("t.toml"), text, &overrides) {
            Err(ScenarioError::Invalid(diagnostic)) => *diagnostic,
            other => panic!("expected an invalid scenario, got {other:?}"),
        }
    }

    #[test]
    fn minimal_scenario_fills_defaults() {
        let loaded = parse(Path::new("t.toml"), MINIMAL, &[]).unwrap();
        let scenario = loaded.scenario;
        assert_eq!(scenario.name, "t");
        assert_eq!(scenario.app.services.len(), 1);
        assert_eq!(scenario.app.services[0].workers, defaults::WORKERS);
        assert_eq!(scenario.app.classes[0].share, 1.0);
        assert_eq!(scenario.run.seed, defaults::SEED);
        assert_eq!(scenario.run.cascade_error_rate, 0.05);
        assert_eq!(scenario.run.cascade_latency_factor, 2.0);
    }

    #[test]
    fn unknown_keys_suggest_the_right_one() {
        let diagnostic = error_of(&MINIMAL.replace("duration =", "durration ="), &[]);
        assert_eq!(diagnostic.path, "run.durration");
        assert_eq!(diagnostic.line, 3);
        assert!(
            diagnostic
                .help
                .as_deref()
                .unwrap()
                .contains("did you mean `duration`"),
            "{diagnostic}"
        );
    }

    #[test]
    fn wrong_units_point_at_the_value() {
        let diagnostic = error_of(&MINIMAL.replace("\"1m\"", "\"1 fortnight\""), &[]);
        assert_eq!((diagnostic.line, diagnostic.column), (3, 12));
        assert_eq!(diagnostic.path, "run.duration");
    }

    #[test]
    fn overrides_apply_and_their_errors_name_the_flag() {
        let overrides = vec![
            "run.seed=99".to_string(),
            "app.components.api.workers=3".to_string(),
        ];
        let loaded = parse(Path::new("t.toml"), MINIMAL, &overrides).unwrap();
        assert_eq!(loaded.scenario.run.seed, 99);
        assert_eq!(loaded.scenario.app.services[0].workers, 3);
        let diagnostic = error_of(MINIMAL, &["run.duration=forever"]);
        assert!(diagnostic.origin.contains("--set"), "{diagnostic}");
    }

    #[test]
    fn type_errors_speak_the_file_s_language() {
        let diagnostic = error_of(&MINIMAL.replace("rate = \"10/s\"", "rate = 10"), &[]);
        assert_eq!(diagnostic.path, "workload.rate");
        assert!(
            diagnostic.message.contains("expected a string"),
            "{diagnostic}"
        );
        let diagnostic = error_of(MINIMAL, &["app.components.api.workers=-1"]);
        assert!(
            diagnostic.message.contains("expected a whole number"),
            "{diagnostic}"
        );
        let diagnostic = error_of(MINIMAL, &["app=5"]);
        assert!(
            diagnostic.message.contains("expected a table"),
            "{diagnostic}"
        );
        assert!(!diagnostic.message.contains("Raw"), "{diagnostic}");
        let diagnostic = error_of(&MINIMAL.replace("[[app.classes]]", "[app.classes]"), &[]);
        assert!(
            diagnostic.message.contains("table, expected an array"),
            "{diagnostic}"
        );
    }

    #[test]
    fn duplicate_keys_are_named() {
        let diagnostic = error_of(
            &MINIMAL.replace("duration = \"1m\"", "duration = \"1m\"\nduration = \"2m\""),
            &[],
        );
        assert_eq!((diagnostic.line, diagnostic.column), (4, 1));
        assert!(
            diagnostic.message.contains("duplicate key `duration`"),
            "{diagnostic}"
        );
    }

    #[test]
    fn files_that_are_not_utf8_are_located() {
        let directory = tempfile::tempdir().unwrap();
        let file = directory.path().join("latin1.toml");
        std::fs::write(&file, b"[run]\nduration = \"1m\"\nname = \"caf\xe9\"\n").unwrap();
        match load(&file, &[]) {
            Err(ScenarioError::Invalid(diagnostic)) => {
                assert_eq!(
                    (diagnostic.line, diagnostic.column),
                    (3, 12),
                    "{diagnostic}"
                );
                assert!(diagnostic.message.contains("UTF-8"), "{diagnostic}");
            }
            other => panic!("expected an invalid scenario, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let diagnostic = error_of("[run\nduration = 1", &[]);
        assert_eq!(diagnostic.line, 1);
        assert!(diagnostic.message.contains("syntax"));
    }
}
