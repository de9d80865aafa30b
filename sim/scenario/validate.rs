//! Raw scenario → validated `Scenario`: every value checked once, defaults filled in one place.

use super::raw::*;
use super::source::{Problem, did_you_mean};
use super::units::{cpu_millis_from_vcpus, parse_bytes, parse_cpu_millis, parse_rate_per_sec};
use super::{RunSpec, Scenario};
use crate::app::{
    AppSpec, CallNode, CallTree, ClassSpec, ComponentSpec, DeploymentMode, ServiceSpec, Slo,
};
use crate::dist::Distribution;
use crate::policy::balancer::BalancerKind;
use crate::time::{SimDuration, parse_duration};
use crate::workload::{RatePoint, RateProfile, WorkloadSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Defaults, in one place (scenarios/README.md lists the same).
pub mod defaults {
    /// `run.duration`.
    pub const DURATION: &str = "10m";
    /// `run.warmup`.
    pub const WARMUP: &str = "0s";
    /// `run.seed`.
    pub const SEED: u64 = 1;
    /// `run.replications`.
    pub const REPLICATIONS: u32 = 1;
    /// `run.metrics_interval`.
    pub const METRICS_INTERVAL: &str = "10s";
    /// `run.cascade_error_rate`.
    pub const CASCADE_ERROR_RATE: f64 = 0.05;
    /// `run.cascade_latency_factor`.
    pub const CASCADE_LATENCY_FACTOR: f64 = 2.0;
    /// `app.components[].cpu`, in millicores.
    pub const COMPONENT_CPU_MILLIS: u64 = 250;
    /// `app.components[].memory`.
    pub const COMPONENT_MEMORY: &str = "512MiB";
    /// `app.components[].image_size`.
    pub const COMPONENT_IMAGE: &str = "100MB";
    /// `app.components[].workers`.
    pub const WORKERS: u32 = 8;
    /// `app.components[].queue_limit`.
    pub const QUEUE_LIMIT: u32 = 100;
    /// `app.classes[].slo.latency`.
    pub const SLO_LATENCY: &str = "1s";
    /// `app.classes[].slo.percentile`.
    pub const SLO_PERCENTILE: f64 = 99.0;
    /// `app.classes[].slo.availability`.
    pub const SLO_AVAILABILITY: f64 = 0.999;
    /// `app.deployment.hop_latency`.
    pub const HOP_LATENCY: &str = "500us";
    /// `app.deployment.replicas`.
    pub const REPLICAS: u32 = 1;
    /// `app.deployment.monolith_name`.
    pub const MONOLITH_NAME: &str = "monolith";
    /// Largest replications accepted.
    pub const MAX_REPLICATIONS: u32 = 10_000;
    /// Largest number of nodes over all node groups.
    pub const MAX_NODES: u64 = 10_000;
    /// Largest number of replicas over all services.
    pub const MAX_REPLICAS: u64 = 100_000;
    /// Largest offered rate, in requests per second (base rate, profile points and trace rows alike).
    pub const MAX_RATE_PER_SEC: f64 = 1e9;
}

pub(super) type Checked<T> = Result<T, Problem>;

pub(super) fn require<T>(value: Option<T>, path: &str, help: &str) -> Checked<T> {
    value.ok_or_else(|| Problem::new(path, "is required but missing").with_help(help.to_string()))
}

pub(super) fn duration_at(text: &str, path: &str) -> Checked<SimDuration> {
    parse_duration(text).map_err(|e| {
        Problem::new(path, e.to_string())
            .with_help("durations are strings with a unit: \"250ms\", \"1.5s\", \"5m\", \"2h\"")
    })
}

pub(super) fn optional_duration(
    text: &Option<String>,
    path: &str,
    default: &str,
) -> Checked<SimDuration> {
    duration_at(text.as_deref().unwrap_or(default), path)
}

/// A required start time at `path` that falls inside the run; `what` names what starts
/// ("the fault"), `example` shows a valid value.
pub(super) fn start_within_run(
    text: &Option<String>,
    path: &str,
    example: &str,
    what: &str,
    run_duration: SimDuration,
) -> Checked<SimDuration> {
    let at = duration_at(&require(text.clone(), path, example)?, path)?;
    if at >= run_duration {
        return Err(Problem::new(
            path,
            format!("{what} starts at {at}, after the run ends ({run_duration})"),
        )
        .with_help("start it before run.duration, or lengthen the run"));
    }
    Ok(at)
}

pub(super) fn bytes_at(text: &Option<String>, path: &str, default: &str) -> Checked<u64> {
    parse_bytes(text.as_deref().unwrap_or(default)).map_err(|e| Problem::new(path, e))
}

pub(super) fn cpu_at(
    value: &Option<NumberOrText>,
    path: &str,
    default_millis: u64,
) -> Checked<u64> {
    let millis = match value {
        None => default_millis,
        Some(NumberOrText::Number(vcpus)) => cpu_millis_from_vcpus(*vcpus).map_err(|e| {
            Problem::new(path, e).with_help("vCPUs as a number (0.5) or millicores (\"500m\")")
        })?,
        Some(NumberOrText::Text(text)) => {
            parse_cpu_millis(text).map_err(|e| Problem::new(path, e))?
        }
    };
    Ok(millis)
}

/// "a" or "an" before a lower-case word ("an exponential", "a uniform").
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    }
}

pub(super) fn in_range(value: f64, path: &str, low: f64, high: f64, what: &str) -> Checked<f64> {
    if value.is_finite() && value >= low && value <= high {
        Ok(value)
    } else {
        Err(Problem::new(path, format!("{value} is out of range"))
            .with_help(format!("{what} must be in [{low}, {high}]")))
    }
}

/// Rejects a key that is set but does not belong to the chosen kind: `present` lists (key, is set),
/// `allowed` the kind's keys, `kind` how messages name the kind (e.g. "a spike profile").
pub(super) fn reject_inapplicable(
    path: &str,
    kind: &str,
    present: &[(&str, bool)],
    allowed: &[&str],
) -> Checked<()> {
    match present
        .iter()
        .find(|(key, is_set)| *is_set && !allowed.contains(key))
    {
        None => Ok(()),
        Some((key, _)) => {
            let takes = if allowed.is_empty() {
                "no other keys".to_string()
            } else {
                allowed.join(", ")
            };
            Err(Problem::new(
                format!("{path}.{key}"),
                format!("`{key}` does not apply to {kind}"),
            )
            .with_help(format!("{kind} takes: {takes}")))
        }
    }
}

/// Names become output subjects and `--set` path segments: letters, digits, `-` and `_`, not all
/// digits (that would read as an array index).
pub(super) fn check_name(name: &str, path: &str) -> Checked<()> {
    let usable = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit());
    if usable {
        Ok(())
    } else {
        Err(Problem::new(path, format!("`{name}` is not a usable name"))
            .with_help("use letters, digits, `-` or `_` (not digits only), e.g. \"payment-api\""))
    }
}

pub(super) fn unique_name(
    name: Option<&String>,
    path: &str,
    seen: &mut BTreeSet<String>,
    what: &str,
) -> Checked<String> {
    let name = require(
        name.cloned(),
        &format!("{path}.name"),
        &format!("give every {what} a unique name"),
    )?;
    check_name(&name, &format!("{path}.name"))?;
    if !seen.insert(name.clone()) {
        return Err(Problem::new(
            format!("{path}.name"),
            format!("{what} `{name}` is defined twice"),
        )
        .with_help(format!("{what} names must be unique")));
    }
    Ok(name)
}

/// Validates a raw scenario. `file` is used for the default name and to resolve trace files.
pub fn validate(raw: RawScenario, file: &Path, custom: &super::CustomNames) -> Checked<Scenario> {
    let run = validate_run(&raw.run)?;
    let cluster = super::cluster::validate_cluster(&raw.cluster, &custom.placement)?;
    let cluster_autoscaler = match &raw.cluster.autoscaler {
        Some(raw_autoscaler) => Some(super::cluster_autoscaling::validate_cluster_autoscaler(
            raw_autoscaler,
            &cluster,
        )?),
        None => None,
    };
    let raw_app = require(
        raw.app,
        "app",
        "add an [app] table with [[app.components]] and [[app.classes]]",
    )?;
    let mut app = validate_app(&raw_app, custom)?;
    app.rollouts = super::rollouts::validate_rollouts(&raw_app.rollouts, &app, run.duration)?;
    let raw_workload = require(
        raw.workload,
        "workload",
        "add a [workload] table, e.g. rate = \"100/s\"",
    )?;
    let workload = validate_workload(&raw_workload, run.duration, file)?;
    let (faults, bad_deploys) = super::faults::validate_faults(
        &raw.faults,
        &cluster,
        &app,
        run.duration,
        app.rollouts.len(),
    )?;
    app.rollouts.extend(bad_deploys);
    super::cluster::check_tasks_fit(&cluster, &app)?;
    let name = raw.name.unwrap_or_else(|| {
        file.file_stem().map_or("scenario".to_string(), |stem| {
            stem.to_string_lossy().into_owned()
        })
    });
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(
            Problem::new("name", format!("`{name}` cannot name an output directory"))
                .with_help("use letters, digits, `-` or `_`"),
        );
    }
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default(),
        run,
        cluster,
        app,
        workload,
        cluster_autoscaler,
        faults,
    })
}

fn validate_run(raw: &RawRun) -> Checked<RunSpec> {
    let duration = optional_duration(&raw.duration, "run.duration", defaults::DURATION)?;
    if duration == SimDuration::ZERO {
        return Err(Problem::new("run.duration", "must be longer than zero")
            .with_help("e.g. duration = \"10m\""));
    }
    let warmup = optional_duration(&raw.warmup, "run.warmup", defaults::WARMUP)?;
    if warmup >= duration {
        return Err(Problem::new(
            "run.warmup",
            format!("warmup {warmup} is not shorter than the duration {duration}"),
        )
        .with_help("the warmup is excluded from summaries, so it must end before the run does"));
    }
    let replications = raw.replications.unwrap_or(defaults::REPLICATIONS);
    if replications == 0 || replications > defaults::MAX_REPLICATIONS {
        return Err(
            Problem::new("run.replications", format!("{replications} replications"))
                .with_help(format!("use between 1 and {}", defaults::MAX_REPLICATIONS)),
        );
    }
    let metrics_interval = optional_duration(
        &raw.metrics_interval,
        "run.metrics_interval",
        defaults::METRICS_INTERVAL,
    )?;
    if metrics_interval == SimDuration::ZERO || metrics_interval > duration {
        return Err(Problem::new(
            "run.metrics_interval",
            format!("{metrics_interval} is not in (0, duration]"),
        )
        .with_help(format!(
            "use a positive interval no longer than the run ({duration}), e.g. \"10s\""
        )));
    }
    if duration.as_nanos() / metrics_interval.as_nanos() > 1_000_000 {
        return Err(Problem::new(
            "run.metrics_interval",
            "would produce more than a million intervals",
        )
        .with_help("use a longer interval"));
    }
    let cascade_error_rate = in_range(
        raw.cascade_error_rate
            .unwrap_or(defaults::CASCADE_ERROR_RATE),
        "run.cascade_error_rate",
        0.0,
        1.0,
        "a rise of a service's error share (failed / finished calls)",
    )?;
    let cascade_latency_factor = in_range(
        raw.cascade_latency_factor
            .unwrap_or(defaults::CASCADE_LATENCY_FACTOR),
        "run.cascade_latency_factor",
        1.0,
        10_000.0,
        "a factor on a service's baseline latency",
    )?;
    Ok(RunSpec {
        duration,
        warmup,
        seed: raw.seed.unwrap_or(defaults::SEED),
        replications,
        metrics_interval,
        cascade_error_rate,
        cascade_latency_factor,
    })
}

pub(super) fn validate_distribution(raw: &RawDistribution, path: &str) -> Checked<Distribution> {
    const KINDS: [&str; 7] = [
        "constant",
        "exponential",
        "lognormal",
        "gamma",
        "erlang",
        "uniform",
        "empirical",
    ];
    let kind = require(
        raw.dist.clone(),
        &format!("{path}.dist"),
        &format!("one of: {}", KINDS.join(", ")),
    )?;
    let allowed: &[&str] = match kind.as_str() {
        "constant" => &["value"],
        "exponential" => &["mean"],
        "lognormal" | "gamma" => &["mean", "cv"],
        "erlang" => &["mean", "k"],
        "uniform" => &["min", "max"],
        "empirical" => &["values"],
        other => {
            return Err(Problem::new(
                format!("{path}.dist"),
                format!("unknown distribution `{other}`"),
            )
            .with_help(did_you_mean(other, &KINDS)));
        }
    };
    let present = [
        ("value", raw.value.is_some()),
        ("mean", raw.mean.is_some()),
        ("cv", raw.cv.is_some()),
        ("k", raw.k.is_some()),
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
        ("values", raw.values.is_some()),
    ];
    reject_inapplicable(
        path,
        &format!("{} {kind} distribution", article(&kind)),
        &present,
        allowed,
    )?;
    let duration_key = |key: &str, value: &Option<String>| -> Checked<SimDuration> {
        let key_path = format!("{path}.{key}");
        let text = require(
            value.clone(),
            &key_path,
            &format!(
                "{} {kind} distribution takes: {}",
                article(&kind),
                allowed.join(", ")
            ),
        )?;
        duration_at(&text, &key_path)
    };
    let positive_mean = || -> Checked<SimDuration> {
        let mean = duration_key("mean", &raw.mean)?;
        if mean == SimDuration::ZERO {
            return Err(Problem::new(
                format!("{path}.mean"),
                "the mean must be above zero",
            ));
        }
        Ok(mean)
    };
    let cv = || -> Checked<f64> {
        let cv = require(
            raw.cv,
            &format!("{path}.cv"),
            "the coefficient of variation (std / mean), e.g. cv = 1.5",
        )?;
        if !(cv.is_finite() && cv > 0.0 && cv <= 100.0) {
            return Err(
                Problem::new(format!("{path}.cv"), format!("cv {cv} is out of range"))
                    .with_help("cv must be in (0, 100]"),
            );
        }
        Ok(cv)
    };
    Ok(match kind.as_str() {
        "constant" => Distribution::Constant {
            value: duration_key("value", &raw.value)?,
        },
        "exponential" => Distribution::Exponential {
            mean: positive_mean()?,
        },
        "lognormal" => {
            Distribution::lognormal(positive_mean()?, cv()?).map_err(|e| Problem::new(path, e))?
        }
        "gamma" => {
            Distribution::gamma(positive_mean()?, cv()?).map_err(|e| Problem::new(path, e))?
        }
        "erlang" => {
            let k = require(
                raw.k,
                &format!("{path}.k"),
                "the number of phases, e.g. k = 3",
            )?;
            if k == 0 || k > 1000 {
                return Err(Problem::new(format!("{path}.k"), format!("k = {k}"))
                    .with_help("k must be in [1, 1000]"));
            }
            Distribution::gamma(positive_mean()?, 1.0 / f64::from(k).sqrt())
                .map_err(|e| Problem::new(path, e))?
        }
        "uniform" => {
            let min = duration_key("min", &raw.min)?;
            let max = duration_key("max", &raw.max)?;
            if min > max {
                return Err(Problem::new(
                    format!("{path}.min"),
                    format!("min {min} is above max {max}"),
                ));
            }
            Distribution::Uniform { min, max }
        }
        _ => {
            let texts = require(
                raw.values.clone(),
                &format!("{path}.values"),
                "a list of durations, e.g. values = [\"5ms\", \"20ms\"]",
            )?;
            if texts.is_empty() {
                return Err(Problem::new(format!("{path}.values"), "is empty")
                    .with_help("list at least one duration"));
            }
            let values = texts
                .iter()
                .enumerate()
                .map(|(index, text)| duration_at(text, &format!("{path}.values[{index}]")))
                .collect::<Checked<Vec<_>>>()?;
            Distribution::Empirical { values }
        }
    })
}

fn validate_components(raw: &[RawComponent]) -> Checked<Vec<ComponentSpec>> {
    if raw.is_empty() {
        return Err(Problem::new("app.components", "no components")
            .with_help("add at least one [[app.components]] with a name and a service_time"));
    }
    let mut seen = BTreeSet::new();
    let mut components = Vec::new();
    for (index, component) in raw.iter().enumerate() {
        let path = format!("app.components[{index}]");
        let name = unique_name(component.name.as_ref(), &path, &mut seen, "component")?;
        let workers = component.workers.unwrap_or(defaults::WORKERS);
        if workers == 0 {
            return Err(Problem::new(
                format!("{path}.workers"),
                "a replica needs at least one worker",
            ));
        }
        let service_time = validate_distribution(
            component.service_time.as_ref().ok_or_else(|| {
                Problem::new(format!("{path}.service_time"), "is required but missing")
                    .with_help("e.g. service_time = { dist = \"exponential\", mean = \"10ms\" }")
            })?,
            &format!("{path}.service_time"),
        )?;
        components.push(ComponentSpec {
            name,
            cpu_millis: cpu_at(
                &component.cpu,
                &format!("{path}.cpu"),
                defaults::COMPONENT_CPU_MILLIS,
            )?,
            memory_bytes: bytes_at(
                &component.memory,
                &format!("{path}.memory"),
                defaults::COMPONENT_MEMORY,
            )?,
            image_bytes: bytes_at(
                &component.image_size,
                &format!("{path}.image_size"),
                defaults::COMPONENT_IMAGE,
            )?,
            workers,
            queue_limit: component.queue_limit.unwrap_or(defaults::QUEUE_LIMIT),
            max_queue_time: max_queue_time_at(
                &component.max_queue_time,
                &format!("{path}.max_queue_time"),
            )?,
            service_time,
            non_blocking: component.non_blocking.unwrap_or(false),
            replicas: component.replicas,
            os: super::cluster::os_at(&component.os, &format!("{path}.os"))?,
            arch: super::cluster::optional_arch(&component.arch, &format!("{path}.arch"))?,
            resilience: component
                .resilience
                .as_ref()
                .map(|raw| {
                    super::resilience::validate_resilience(raw, &format!("{path}.resilience"))
                })
                .transpose()?,
        });
    }
    Ok(components)
}

struct TreeBuilder<'a> {
    names: &'a [&'a str],
    nodes: Vec<CallNode>,
}

impl TreeBuilder<'_> {
    fn component(&self, name: &str, path: &str) -> Checked<usize> {
        self.names
            .iter()
            .position(|known| *known == name)
            .ok_or_else(|| {
                Problem::new(path, format!("unknown component `{name}`"))
                    .with_help(did_you_mean(name, self.names))
            })
    }

    /// Adds the node for `call` (a `to` call) with its subtree; `ancestors` are the components above.
    fn add_call(
        &mut self,
        call: &RawCall,
        path: &str,
        ancestors: &mut Vec<usize>,
    ) -> Checked<usize> {
        if call.parallel.is_some() {
            return Err(Problem::new(
                format!("{path}.parallel"),
                "a parallel group cannot sit directly inside another one",
            )
            .with_help("give each parallel branch a `to`; nest further calls under its `calls`"));
        }
        let to_path = format!("{path}.to");
        let name = require(
            call.to.as_ref(),
            &to_path,
            "name the called component: { to = \"cart\" }, or fan out: { parallel = [...] }",
        )?;
        let component = self.component(name, &to_path)?;
        let probability = in_range(
            call.probability.unwrap_or(1.0),
            &format!("{path}.probability"),
            0.0,
            1.0,
            "a probability",
        )?;
        self.add_node(component, probability, &call.calls, path, ancestors)
    }

    fn add_node(
        &mut self,
        component: usize,
        probability: f64,
        calls: &[RawCall],
        path: &str,
        ancestors: &mut Vec<usize>,
    ) -> Checked<usize> {
        if ancestors.contains(&component) {
            let cycle: Vec<&str> = ancestors
                .iter()
                .chain(std::iter::once(&component))
                .map(|&c| self.names[c])
                .collect();
            return Err(Problem::new(path, format!("call cycle: {}", cycle.join(" → ")))
                .with_help("a component may not call itself, directly or through others (thread-per-request would deadlock)"));
        }
        if self.nodes.len() >= 10_000 {
            return Err(Problem::new(path, "call tree has more than 10,000 calls"));
        }
        let node = self.nodes.len();
        self.nodes.push(CallNode {
            component,
            probability,
            steps: Vec::new(),
        });
        ancestors.push(component);
        let mut steps = Vec::new();
        for (index, call) in calls.iter().enumerate() {
            let call_path = format!("{path}.calls[{index}]");
            let step = match &call.parallel {
                Some(branches) => {
                    if call.to.is_some() || call.probability.is_some() || !call.calls.is_empty() {
                        return Err(Problem::new(
                            &call_path,
                            "a call is either { to = ... } or { parallel = [...] }, not both",
                        )
                        .with_help(
                            "put `to`, `probability` and `calls` on the branches inside `parallel`",
                        ));
                    }
                    if branches.is_empty() {
                        return Err(Problem::new(format!("{call_path}.parallel"), "is empty")
                            .with_help("list at least one branch"));
                    }
                    branches
                        .iter()
                        .enumerate()
                        .map(|(branch, raw)| {
                            self.add_call(
                                raw,
                                &format!("{call_path}.parallel[{branch}]"),
                                ancestors,
                            )
                        })
                        .collect::<Checked<Vec<_>>>()?
                }
                None => vec![self.add_call(call, &call_path, ancestors)?],
            };
            steps.push(step);
        }
        ancestors.pop();
        self.nodes[node].steps = steps;
        Ok(node)
    }
}

fn validate_classes(raw: &[RawClass], components: &[ComponentSpec]) -> Checked<Vec<ClassSpec>> {
    if raw.is_empty() {
        return Err(Problem::new("app.classes", "no request classes")
            .with_help("add at least one [[app.classes]] with a name, share and entry"));
    }
    let names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    let mut classes = Vec::new();
    for (index, class) in raw.iter().enumerate() {
        let path = format!("app.classes[{index}]");
        let name = unique_name(class.name.as_ref(), &path, &mut seen, "request class")?;
        if name == "all" {
            return Err(Problem::new(
                format!("{path}.name"),
                "`all` is reserved for the total over classes",
            ));
        }
        let share = match class.share {
            Some(share) => in_range(share, &format!("{path}.share"), 0.0, 1.0, "a share")?,
            None if raw.len() == 1 => 1.0,
            None => {
                return Err(Problem::new(
                    format!("{path}.share"),
                    "is required when there are several classes",
                )
                .with_help("the class's fraction of arrivals, e.g. share = 0.3"));
            }
        };
        let entry_path = format!("{path}.entry");
        let entry_name = require(
            class.entry.as_ref(),
            &entry_path,
            "the component the request enters at, e.g. entry = \"frontend\"",
        )?;
        let mut builder = TreeBuilder {
            names: &names,
            nodes: Vec::new(),
        };
        let entry = builder.component(entry_name, &entry_path)?;
        builder.add_node(entry, 1.0, &class.calls, &path, &mut Vec::new())?;
        let slo = match &class.slo {
            None => Slo {
                latency: duration_at(defaults::SLO_LATENCY, &path)?,
                percentile: defaults::SLO_PERCENTILE,
                availability: defaults::SLO_AVAILABILITY,
            },
            Some(raw_slo) => {
                let slo_path = format!("{path}.slo");
                let latency = optional_duration(
                    &raw_slo.latency,
                    &format!("{slo_path}.latency"),
                    defaults::SLO_LATENCY,
                )?;
                let percentile = raw_slo.percentile.unwrap_or(defaults::SLO_PERCENTILE);
                if !(percentile > 0.0 && percentile < 100.0) {
                    return Err(Problem::new(
                        format!("{slo_path}.percentile"),
                        format!("{percentile} is not a percentile"),
                    )
                    .with_help("use a value in (0, 100), e.g. 99 or 99.9"));
                }
                let availability = raw_slo.availability.unwrap_or(defaults::SLO_AVAILABILITY);
                if !(availability > 0.0 && availability <= 1.0) {
                    return Err(Problem::new(
                        format!("{slo_path}.availability"),
                        format!("{availability} is not in (0, 1]"),
                    )
                    .with_help("a fraction of requests, e.g. 0.999"));
                }
                Slo {
                    latency,
                    percentile,
                    availability,
                }
            }
        };
        classes.push(ClassSpec {
            name,
            share,
            tree: CallTree {
                nodes: builder.nodes,
            },
            slo,
        });
    }
    let total: f64 = classes.iter().map(|c| c.share).sum();
    if (total - 1.0).abs() > 1e-6 {
        let listed: Vec<String> = classes
            .iter()
            .map(|c| format!("{} {}", c.name, c.share))
            .collect();
        return Err(Problem::new(
            "app.classes",
            format!("shares sum to {total}, not 1 ({})", listed.join(", ")),
        )
        .with_help("make the shares of all classes add up to 1"));
    }
    Ok(classes)
}

/// The index of the service a required key at `path` names (`what` it is for, in the message when
/// it is missing); an error listing the current mode's services otherwise.
pub(super) fn service_at(
    raw: &Option<String>,
    path: &str,
    what: &str,
    app: &AppSpec,
) -> Checked<usize> {
    let names: Vec<&str> = app.services.iter().map(|s| s.name.as_str()).collect();
    let name = require(
        raw.clone(),
        path,
        &format!("{what}, one of: {}", names.join(", ")),
    )?;
    names.iter().position(|n| *n == name).ok_or_else(|| {
        Problem::new(
            path,
            format!("no service `{name}` in {} mode", app.mode.name()),
        )
        .with_help(did_you_mean(&name, &names))
    })
}

/// An optional load-shedding limit: a duration above zero.
fn max_queue_time_at(raw: &Option<String>, path: &str) -> Checked<Option<SimDuration>> {
    if raw.is_none() {
        return Ok(None);
    }
    let limit = optional_duration(raw, path, "")?;
    if limit == SimDuration::ZERO {
        return Err(Problem::new(path, "must be longer than zero")
            .with_help("a call that waited longer is shed; e.g. max_queue_time = \"200ms\""));
    }
    Ok(Some(limit))
}

fn balancer_at(name: &Option<String>, path: &str, default: BalancerKind) -> Checked<BalancerKind> {
    match name {
        None => Ok(default),
        Some(name) => BalancerKind::from_name(name).ok_or_else(|| {
            Problem::new(path, format!("unknown balancer `{name}`"))
                .with_help(did_you_mean(name, &BalancerKind::NAMES))
        }),
    }
}

fn validate_app(raw: &RawApp, custom: &super::CustomNames) -> Checked<AppSpec> {
    let components = validate_components(&raw.components)?;
    let classes = validate_classes(&raw.classes, &components)?;
    let deployment = &raw.deployment;
    let mode_name = deployment.mode.as_deref().unwrap_or("microservices");
    let mode = DeploymentMode::from_name(mode_name).ok_or_else(|| {
        Problem::new(
            "app.deployment.mode",
            format!("unknown deployment mode `{mode_name}`"),
        )
        .with_help(did_you_mean(mode_name, &DeploymentMode::NAMES))
    })?;
    let hop_latency = optional_duration(
        &deployment.hop_latency,
        "app.deployment.hop_latency",
        defaults::HOP_LATENCY,
    )?;
    let default_replicas = deployment.replicas.unwrap_or(defaults::REPLICAS);
    let default_balancer = balancer_at(
        &deployment.balancer,
        "app.deployment.balancer",
        BalancerKind::RoundRobin,
    )?;
    let default_outlier = deployment
        .outlier_detection
        .as_ref()
        .map(|raw| super::resilience::validate_outlier(raw, "app.deployment.outlier_detection"))
        .transpose()?;
    let component_names: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();

    // Which components each service holds.
    let groups: Vec<(String, Vec<usize>)> = match mode {
        DeploymentMode::Microservices => components
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), vec![i]))
            .collect(),
        DeploymentMode::Monolith => {
            let name = deployment
                .monolith_name
                .clone()
                .unwrap_or_else(|| defaults::MONOLITH_NAME.to_string());
            check_name(&name, "app.deployment.monolith_name")?;
            vec![(name, (0..components.len()).collect())]
        }
        DeploymentMode::Groups => {
            let raw_groups = deployment.groups.as_ref().ok_or_else(|| {
                Problem::new("app.deployment.groups", "is required when mode = \"groups\"")
                    .with_help("map each service to its components, e.g. groups = { web = [\"frontend\", \"catalog\"], orders = [\"cart\"] }")
            })?;
            let mut owner: BTreeMap<usize, &str> = BTreeMap::new();
            let mut groups = Vec::new();
            for (group, members) in raw_groups {
                let group_path = format!("app.deployment.groups.{group}");
                check_name(group, &group_path)?;
                if members.is_empty() {
                    return Err(Problem::new(&group_path, "is empty")
                        .with_help("list the components this service holds"));
                }
                let mut indices = Vec::new();
                for (index, member) in members.iter().enumerate() {
                    let member_path = format!("{group_path}[{index}]");
                    let component = component_names
                        .iter()
                        .position(|n| n == member)
                        .ok_or_else(|| {
                            Problem::new(&member_path, format!("unknown component `{member}`"))
                                .with_help(did_you_mean(member, &component_names))
                        })?;
                    if let Some(previous) = owner.insert(component, group) {
                        return Err(Problem::new(
                            &member_path,
                            format!("component `{member}` is in both `{previous}` and `{group}`"),
                        )
                        .with_help("each component belongs to exactly one group"));
                    }
                    indices.push(component);
                }
                groups.push((group.clone(), indices));
            }
            if let Some(missing) = (0..components.len()).find(|c| !owner.contains_key(c)) {
                return Err(Problem::new(
                    "app.deployment.groups",
                    format!("component `{}` is in no group", components[missing].name),
                )
                .with_help("every component must belong to exactly one group"));
            }
            groups
        }
    };
    let service_names: Vec<&str> = groups.iter().map(|(name, _)| name.as_str()).collect();
    for name in deployment.services.keys() {
        if !service_names.contains(&name.as_str()) {
            return Err(Problem::new(
                format!("app.deployment.services.{name}"),
                format!("no service `{name}` in {mode_name} mode"),
            )
            .with_help(did_you_mean(name, &service_names)));
        }
    }
    let mut service_of_component = vec![0; components.len()];
    let mut services = Vec::new();
    let mut total_replicas: u64 = 0;
    for (service_index, (name, members)) in groups.into_iter().enumerate() {
        for &member in &members {
            service_of_component[member] = service_index;
        }
        let settings = deployment.services.get(&name);
        let path = format!("app.deployment.services.{name}");
        let member_specs: Vec<&ComponentSpec> = members.iter().map(|&m| &components[m]).collect();
        let single_replicas = if member_specs.len() == 1 {
            member_specs[0].replicas
        } else {
            None
        };
        let replicas = settings
            .and_then(|s| s.replicas)
            .or(single_replicas)
            .unwrap_or(default_replicas);
        total_replicas += u64::from(replicas);
        if total_replicas > defaults::MAX_REPLICAS {
            let replicas_path = if settings.and_then(|s| s.replicas).is_some() {
                format!("{path}.replicas")
            } else if single_replicas.is_some() {
                format!("app.components[{}].replicas", members[0])
            } else {
                "app.deployment.replicas".to_string()
            };
            return Err(Problem::new(
                replicas_path,
                if total_replicas == u64::from(replicas) {
                    format!(
                        "{replicas} replicas of service `{name}` are more than the supported {}",
                        defaults::MAX_REPLICAS
                    )
                } else {
                    format!(
                        "{replicas} replicas of service `{name}` bring the app to {total_replicas}, more than the supported {}",
                        defaults::MAX_REPLICAS
                    )
                },
            )
            .with_help("use fewer, larger replicas (more workers, cpu and memory each)"));
        }
        let workers = settings
            .and_then(|s| s.workers)
            .unwrap_or_else(|| member_specs.iter().map(|c| c.workers).max().unwrap_or(1));
        if workers == 0 {
            return Err(Problem::new(
                format!("{path}.workers"),
                "a replica needs at least one worker",
            ));
        }
        let queue_limit = settings.and_then(|s| s.queue_limit).unwrap_or_else(|| {
            member_specs
                .iter()
                .map(|c| c.queue_limit)
                .max()
                .unwrap_or(0)
        });
        // A service sheds only when every member does: it waits as long as the most patient one.
        let max_queue_time = match settings.and_then(|s| s.max_queue_time.as_ref()) {
            Some(_) => max_queue_time_at(
                &settings.and_then(|s| s.max_queue_time.clone()),
                &format!("{path}.max_queue_time"),
            )?,
            None => member_specs
                .iter()
                .map(|c| c.max_queue_time)
                .collect::<Option<Vec<_>>>()
                .and_then(|limits| limits.into_iter().max()),
        };
        let outlier_detection = match settings.and_then(|s| s.outlier_detection.as_ref()) {
            Some(raw_outlier) => Some(super::resilience::validate_outlier(
                raw_outlier,
                &format!("{path}.outlier_detection"),
            )?),
            None => default_outlier,
        };
        // Each value is capped far below u64::MAX, so saturation never bites in practice.
        let summed_cpu = member_specs
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.cpu_millis));
        let summed_memory = member_specs
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.memory_bytes));
        let summed_image = member_specs
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.image_bytes));
        let cpu_millis = match settings.and_then(|s| s.cpu.as_ref()) {
            Some(cpu) => cpu_at(&Some(cpu.clone()), &format!("{path}.cpu"), 0)?,
            None => summed_cpu,
        };
        let memory_bytes = match settings.and_then(|s| s.memory.clone()) {
            Some(memory) => bytes_at(&Some(memory), &format!("{path}.memory"), "")?,
            None => summed_memory,
        };
        let image_bytes = match settings.and_then(|s| s.image_size.clone()) {
            Some(image) => bytes_at(&Some(image), &format!("{path}.image_size"), "")?,
            None => summed_image,
        };
        let balancer = balancer_at(
            &settings.and_then(|s| s.balancer.clone()),
            &format!("{path}.balancer"),
            default_balancer,
        )?;
        let os = member_specs[0].os;
        if let Some(other) = member_specs.iter().find(|c| c.os != os) {
            return Err(Problem::new(
                format!("app.components[{}].os", members[member_specs.iter().position(|c| c.os != os).unwrap_or(0)]),
                format!("service `{name}` mixes {} and {} components (`{}`)", os.name(), other.os.name(), other.name),
            )
            .with_help("one container image runs on one OS: deploy them as separate services (groups or microservices)"));
        }
        let arches: BTreeSet<_> = member_specs.iter().filter_map(|c| c.arch).collect();
        if arches.len() > 1 {
            return Err(Problem::new(&path, format!("service `{name}` mixes x86_64 and arm64 components"))
                .with_help("build the service's image for one architecture, or leave `arch` unset for multi-arch images"));
        }
        let arch = arches.into_iter().next();
        let placement = match settings.and_then(|s| s.placement.as_ref()) {
            Some(raw_placement) => Some(super::placement::validate_placement(
                raw_placement,
                &format!("{path}.placement"),
                &custom.placement,
            )?),
            None => None,
        };
        let single_component = if members.len() == 1 {
            Some(members[0])
        } else {
            None
        };
        let scaling = match (
            settings.and_then(|s| s.autoscaling.as_ref()),
            single_component,
        ) {
            (Some(raw_scaling), _) => Some(super::autoscaling::validate_autoscaling(
                raw_scaling,
                &format!("{path}.autoscaling"),
                &custom.autoscale,
            )?),
            (None, Some(component)) => match &raw.components[component].autoscaling {
                Some(raw_scaling) => Some(super::autoscaling::validate_autoscaling(
                    raw_scaling,
                    &format!("app.components[{component}].autoscaling"),
                    &custom.autoscale,
                )?),
                None => None,
            },
            (None, None) => None,
        };
        // A component's own table is checked even where it does not apply (a component sharing a
        // service uses the service's settings), so a typo never hides behind a deployment mode.
        for &member in &members {
            if single_component.is_none()
                && let Some(raw_scaling) = &raw.components[member].autoscaling
            {
                super::autoscaling::validate_autoscaling(
                    raw_scaling,
                    &format!("app.components[{member}].autoscaling"),
                    &custom.autoscale,
                )?;
            }
        }
        services.push(ServiceSpec {
            placement,
            scaling,
            name,
            components: members,
            replicas,
            workers,
            queue_limit,
            max_queue_time,
            outlier_detection,
            cpu_millis,
            memory_bytes,
            image_bytes,
            balancer,
            os,
            arch,
        });
    }
    Ok(AppSpec {
        components,
        classes,
        mode,
        hop_latency,
        services,
        service_of_component,
        rollouts: Vec::new(),
    })
}

fn validate_rate(text: &Option<String>, path: &str) -> Checked<f64> {
    let text = require(text.clone(), path, "a rate such as \"200/s\"")?;
    let rate = parse_rate_per_sec(&text).map_err(|e| Problem::new(path, e))?;
    if rate > defaults::MAX_RATE_PER_SEC {
        return Err(Problem::new(
            path,
            format!(
                "{rate}/s is above the supported {}/s",
                defaults::MAX_RATE_PER_SEC
            ),
        ));
    }
    Ok(rate)
}

fn validate_points(
    points: &Option<Vec<RawRatePoint>>,
    path: &str,
    kind: &str,
) -> Checked<Vec<RatePoint>> {
    let raw_points = require(
        points.as_ref(),
        &format!("{path}.points"),
        &format!("a {kind} profile needs points = [{{ at = \"0s\", rate = \"100/s\" }}, ...]"),
    )?;
    if raw_points.is_empty() {
        return Err(Problem::new(format!("{path}.points"), "is empty")
            .with_help("list at least one { at, rate } point"));
    }
    let mut points: Vec<RatePoint> = Vec::new();
    for (index, point) in raw_points.iter().enumerate() {
        let point_path = format!("{path}.points[{index}]");
        let at_path = format!("{point_path}.at");
        let at = duration_at(
            &require(point.at.clone(), &at_path, "when, e.g. at = \"5m\"")?,
            &at_path,
        )?;
        if let Some(previous) = points.last()
            && at <= previous.at
        {
            return Err(Problem::new(
                at_path,
                format!("{at} is not after the previous point ({})", previous.at),
            )
            .with_help("list points in increasing time order"));
        }
        let rate_per_sec = validate_rate(&point.rate, &format!("{point_path}.rate"))?;
        points.push(RatePoint { at, rate_per_sec });
    }
    Ok(points)
}

fn read_trace(file: &str, path: &str, scenario_file: &Path) -> Checked<Vec<RatePoint>> {
    let location = super::source::scenario_dir(scenario_file).join(file);
    let text = std::fs::read_to_string(&location).map_err(|e| {
        Problem::new(
            path,
            format!("cannot read trace file {}: {e}", location.display()),
        )
        .with_help(
            "the path is relative to the scenario file; the file holds `time_s,rate_per_s` rows",
        )
    })?;
    let mut points: Vec<RatePoint> = Vec::new();
    for (line_index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || (line_index == 0 && line.chars().any(|c| c.is_ascii_alphabetic()))
        {
            continue;
        }
        let bad = |what: &str| {
            Problem::new(
                path,
                format!("{}:{}: {what}", location.display(), line_index + 1),
            )
            .with_help("each row is `time_s,rate_per_s` with increasing times, e.g. `60,250`")
        };
        let (time, rate) = line
            .split_once(',')
            .ok_or_else(|| bad("expected two comma-separated numbers"))?;
        let seconds: f64 = time
            .trim()
            .parse()
            .map_err(|_| bad("the time is not a number of seconds"))?;
        let rate_per_sec: f64 = rate
            .trim()
            .parse()
            .map_err(|_| bad("the rate is not a number"))?;
        if !(seconds.is_finite()
            && seconds >= 0.0
            && rate_per_sec.is_finite()
            && rate_per_sec >= 0.0)
        {
            return Err(bad("time and rate must be zero or positive"));
        }
        if rate_per_sec > defaults::MAX_RATE_PER_SEC {
            return Err(bad(&format!(
                "the rate is above the supported {}/s",
                defaults::MAX_RATE_PER_SEC
            )));
        }
        let at = SimDuration::from_secs_f64(seconds);
        if points.last().is_some_and(|previous| at <= previous.at) {
            return Err(bad("times must increase from row to row"));
        }
        points.push(RatePoint { at, rate_per_sec });
    }
    if points.is_empty() {
        return Err(Problem::new(
            path,
            format!("trace file {} has no rows", location.display()),
        ));
    }
    Ok(points)
}

fn validate_workload(
    raw: &RawWorkload,
    duration: SimDuration,
    file: &Path,
) -> Checked<WorkloadSpec> {
    const KINDS: [&str; 6] = ["constant", "steps", "ramp", "spike", "diurnal", "trace"];
    let kind_name = raw.profile.as_ref().and_then(|p| p.kind.as_deref());
    // Ramps and traces give every rate in their points: the base rate is optional (and unused).
    let base_rate_per_sec = if matches!(kind_name, Some("ramp" | "trace")) && raw.rate.is_none() {
        0.0
    } else {
        validate_rate(&raw.rate, "workload.rate")?
    };
    let Some(profile) = &raw.profile else {
        return Ok(WorkloadSpec {
            base_rate_per_sec,
            profile: RateProfile::Constant,
        });
    };
    let path = "workload.profile";
    let kind = require(
        profile.kind.clone(),
        &format!("{path}.kind"),
        &format!("one of: {}", KINDS.join(", ")),
    )?;
    let allowed: &[&str] = match kind.as_str() {
        "constant" => &[],
        "steps" | "ramp" => &["points"],
        "spike" => &["start", "ramp_up", "hold", "ramp_down", "peak_factor"],
        "diurnal" => &["period", "amplitude", "peak_at"],
        "trace" => &["file"],
        other => {
            return Err(Problem::new(
                format!("{path}.kind"),
                format!("unknown profile kind `{other}`"),
            )
            .with_help(did_you_mean(other, &KINDS)));
        }
    };
    let present = [
        ("points", profile.points.is_some()),
        ("start", profile.start.is_some()),
        ("ramp_up", profile.ramp_up.is_some()),
        ("hold", profile.hold.is_some()),
        ("ramp_down", profile.ramp_down.is_some()),
        ("peak_factor", profile.peak_factor.is_some()),
        ("period", profile.period.is_some()),
        ("amplitude", profile.amplitude.is_some()),
        ("peak_at", profile.peak_at.is_some()),
        ("file", profile.file.is_some()),
    ];
    reject_inapplicable(path, &format!("a {kind} profile"), &present, allowed)?;
    let profile = match kind.as_str() {
        "constant" => RateProfile::Constant,
        "steps" => RateProfile::Steps {
            points: validate_points(&profile.points, path, &kind)?,
        },
        "ramp" => RateProfile::Ramp {
            points: validate_points(&profile.points, path, &kind)?,
        },
        "spike" => {
            let start = optional_duration(&profile.start, &format!("{path}.start"), "0s")?;
            if start >= duration {
                return Err(Problem::new(
                    format!("{path}.start"),
                    format!("the spike starts at {start}, after the run ends ({duration})"),
                ));
            }
            let ramp_up = optional_duration(&profile.ramp_up, &format!("{path}.ramp_up"), "0s")?;
            let hold = optional_duration(&profile.hold, &format!("{path}.hold"), "0s")?;
            let ramp_down =
                optional_duration(&profile.ramp_down, &format!("{path}.ramp_down"), "0s")?;
            let peak_factor = require(
                profile.peak_factor,
                &format!("{path}.peak_factor"),
                "peak rate / base rate, e.g. peak_factor = 5",
            )?;
            let peak_factor = in_range(
                peak_factor,
                &format!("{path}.peak_factor"),
                0.0,
                10_000.0,
                "peak_factor",
            )?;
            RateProfile::Spike {
                start,
                ramp_up,
                hold,
                ramp_down,
                peak_factor,
            }
        }
        "diurnal" => {
            let period = optional_duration(&profile.period, &format!("{path}.period"), "24h")?;
            if period == SimDuration::ZERO {
                return Err(Problem::new(
                    format!("{path}.period"),
                    "must be longer than zero",
                ));
            }
            let amplitude = in_range(
                profile.amplitude.unwrap_or(0.5),
                &format!("{path}.amplitude"),
                0.0,
                1.0,
                "amplitude",
            )?;
            let peak_at = optional_duration(&profile.peak_at, &format!("{path}.peak_at"), "0s")?;
            RateProfile::Diurnal {
                period,
                amplitude,
                peak_at,
            }
        }
        _ => {
            let file_path = format!("{path}.file");
            let file_name = require(
                profile.file.clone(),
                &file_path,
                "a CSV file of `time_s,rate_per_s` rows, relative to the scenario",
            )?;
            let points = read_trace(&file_name, &file_path, file)?;
            RateProfile::Trace {
                file: file_name,
                points,
            }
        }
    };
    Ok(WorkloadSpec {
        base_rate_per_sec,
        profile,
    })
}
