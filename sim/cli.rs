//! The command line: argument parsing (clap) and orchestration of load → run → report → write.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use fleetsim::experiment;
use fleetsim::report;
use fleetsim::scenario::{self, Loaded, ScenarioError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// fleetsim: simulate container fleets — placement, scaling, faults — and measure them.
#[derive(Debug, Parser)]
#[command(name = "fleetsim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario and write summary.csv, timeseries.csv, events.csv, placement.csv, scaling.csv,
    /// deployments.csv, faults.csv and manifest.json.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Output directory [default: reports/<scenario name>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Master seed (same as --set run.seed=N).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
        seed: Option<u64>,
        /// Replications (same as --set run.replications=N).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(scenario::defaults::MAX_REPLICATIONS)))]
        replications: Option<u32>,
        /// Override any scenario key: --set app.components.cart.workers=16 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Worker threads for replications [default: all cores]. Results do not depend on it.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
        jobs: Option<u16>,
        /// Print nothing but errors.
        #[arg(long)]
        quiet: bool,
    },
    /// Validate a scenario and print what it resolves to.
    Check {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Override any scenario key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print the fully resolved scenario as JSON instead.
        #[arg(long)]
        json: bool,
    },
}

/// How the program ends: success, invalid input (exit 2) or a runtime failure (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The scenario or a flag is invalid; the message says where and why.
    Invalid(String),
    /// Something went wrong while running or writing.
    Runtime(anyhow::Error),
}

impl From<ScenarioError> for Failure {
    fn from(error: ScenarioError) -> Self {
        match error {
            ScenarioError::Invalid(diagnostic) => Failure::Invalid(diagnostic.to_string()),
            read @ ScenarioError::Read { .. } => Failure::Invalid(read.to_string()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Runtime(error)
    }
}

/// Runs the parsed command.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run {
            scenario,
            out,
            seed,
            replications,
            mut overrides,
            jobs,
            quiet,
        } => {
            if let Some(seed) = seed {
                overrides.push(format!("run.seed={seed}"));
            }
            if let Some(replications) = replications {
                overrides.push(format!("run.replications={replications}"));
            }
            let loaded = scenario::load(&scenario, &overrides)?;
            warn_about(&loaded);
            run(&scenario, &loaded, out, jobs.map(usize::from), quiet)
        }
        Command::Check {
            scenario,
            overrides,
            json,
        } => {
            let loaded = scenario::load(&scenario, &overrides)?;
            warn_about(&loaded);
            if json {
                let text = serde_json::to_string_pretty(&loaded.scenario)
                    .context("serialising the scenario")?;
                println!("{text}");
            } else {
                print!("{}", scenario::describe(&loaded));
            }
            Ok(())
        }
    }
}

/// Valid but risky scenarios: say so on stderr.
fn warn_about(loaded: &Loaded) {
    let app = &loaded.scenario.app;
    let cluster = &loaded.scenario.cluster;
    if cluster.has_nodes() {
        for group in cluster
            .node_groups
            .iter()
            .filter(|g| g.instance.linux_price_per_hour == 0.0)
        {
            eprintln!(
                "warning: node group `{}` ({}) has no price: its nodes cost $0 in cost_usd; set price_per_hour",
                group.name, group.instance.name
            );
        }
    }
    if let Some(cycle) = app.blocking_service_cycle() {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&s| app.services[s].name.as_str())
            .collect();
        eprintln!(
            "warning: services {} call each other while holding their workers; under load they can \
             deadlock (every worker waiting on a call queued behind the others). Group components \
             so services do not call back, or mark a component non_blocking.",
            names.join(" → ")
        );
    }
}

fn run(
    file: &Path,
    loaded: &Loaded,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    quiet: bool,
) -> Result<(), Failure> {
    let scenario = &loaded.scenario;
    let directory = out.unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    let chunks = u64::from(scenario.run.replications) * 100;
    let bar = if quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(chunks), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:40}] {percent}% ({elapsed}, eta {eta})",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_message(format!(
            "{} × {} replication(s)",
            scenario.name, scenario.run.replications
        ));
        bar
    };
    let results = experiment::run_replications(scenario, jobs, &|_, _| bar.inc(1))
        .context("running replications")?;
    bar.finish_and_clear();
    if let Some(broken) = results.iter().find(|r| !r.conservation.holds()) {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "internal error: request conservation failed in replication {}: {:?}",
            broken.replication,
            broken.conservation
        )));
    }
    let files = [
        ("summary.csv", report::summary_csv(&results)),
        ("timeseries.csv", report::timeseries_csv(&results)),
        ("events.csv", report::events_csv(&results)),
        ("placement.csv", report::placement_csv(&results)),
        ("scaling.csv", report::scaling_csv(&results)),
        ("deployments.csv", report::deployments_csv(&results)),
        ("faults.csv", report::faults_csv(&results)),
        (
            "manifest.json",
            report::manifest_json(file, loaded, &results),
        ),
    ];
    report::write_outputs(&directory, &files)
        .with_context(|| format!("writing results to {}", directory.display()))?;
    if !quiet {
        print!("{}", report::human_summary(loaded, &results));
        println!("results: {}", directory.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
