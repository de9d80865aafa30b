//! The scenario file as written: serde structs with every field optional, before validation.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// A number or a string: cpu may be `0.5` or `"500m"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    /// A bare number.
    Number(f64),
    /// A string with a unit.
    Text(String),
}

/// A duration that is fixed or drawn: `"5m"` or `{ dist = "exponential", mean = "5m" }`.
#[derive(Debug, Clone)]
pub enum DurationOrDistribution {
    /// A duration string.
    Fixed(String),
    /// A distribution table, as `service_time` takes.
    Drawn(RawDistribution),
}

impl<'de> Deserialize<'de> for DurationOrDistribution {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Dispatch on the value's type by hand (not `untagged`), so that a mistake inside the
        // table keeps its own message and position (`unknown key`, the key's path).
        struct Expect;
        impl<'de> Visitor<'de> for Expect {
            type Value = DurationOrDistribution;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string or a distribution table")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(DurationOrDistribution::Fixed(text.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawDistribution::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(DurationOrDistribution::Drawn)
            }
        }
        deserializer.deserialize_any(Expect)
    }
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub run: RawRun,
    #[serde(default)]
    pub cluster: RawCluster,
    pub app: Option<RawApp>,
    pub workload: Option<RawWorkload>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
}

/// `[[faults]]`: one fault of the plan (once, or a random process with `every`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub kind: Option<String>,
    pub at: Option<String>,
    pub every: Option<DurationOrDistribution>,
    pub duration: Option<DurationOrDistribution>,
    pub service: Option<String>,
    pub count: Option<u32>,
    pub node_group: Option<String>,
    pub node: Option<u32>,
    pub zone: Option<String>,
    pub component: Option<String>,
    pub multiplier: Option<f64>,
    pub added: Option<String>,
    pub rate: Option<f64>,
    pub leak_rate: Option<String>,
    pub notice: Option<String>,
    // bad_deploy: the keys of a rollout's version and strategy (see `RawRollout`).
    pub image_size: Option<String>,
    pub slowdown: Option<f64>,
    pub error_rate: Option<f64>,
    pub fails_health_check: Option<bool>,
    pub strategy: Option<String>,
    pub minimum_healthy_percent: Option<u32>,
    pub maximum_percent: Option<u32>,
    pub max_surge: Option<NumberOrText>,
    pub max_unavailable: Option<NumberOrText>,
    pub circuit_breaker: Option<bool>,
    pub rollback: Option<bool>,
    pub alarm: Option<RawAlarm>,
}

/// `[run]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub duration: Option<String>,
    pub warmup: Option<String>,
    pub seed: Option<u64>,
    pub replications: Option<u32>,
    pub metrics_interval: Option<String>,
    pub cascade_error_rate: Option<f64>,
    pub cascade_latency_factor: Option<f64>,
}

/// `[cluster]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub zones: Option<Vec<String>>,
    pub launch_type: Option<String>,
    pub initial_state: Option<String>,
    pub image_pull_bandwidth: Option<String>,
    #[serde(default)]
    pub instance_types: Vec<RawInstanceType>,
    #[serde(default)]
    pub node_groups: Vec<RawNodeGroup>,
    pub fargate: Option<RawFargate>,
    pub tasks: Option<RawTasks>,
    pub placement: Option<RawPlacement>,
    pub autoscaler: Option<RawClusterAutoscaler>,
}

/// `[cluster.autoscaler]`: ECS capacity provider or Kubernetes cluster autoscaler.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClusterAutoscaler {
    pub policy: Option<String>,
    pub node_group: Option<String>,
    pub target_capacity: Option<f64>,
    pub evaluation_period: Option<String>,
    pub scale_in_periods: Option<u32>,
    pub minimum_scaling_step_size: Option<u32>,
    pub maximum_scaling_step_size: Option<u32>,
    pub scan_interval: Option<String>,
    pub scale_down_utilization_threshold: Option<f64>,
    pub scale_down_unneeded_time: Option<String>,
    pub scale_down_delay_after_add: Option<String>,
}

/// `[cluster.placement]` or `app.deployment.services.NAME.placement`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlacement {
    pub policy: Option<String>,
    pub strategy: Option<Vec<String>>,
    pub constraints: Option<Vec<String>>,
    pub least_allocated: Option<f64>,
    pub most_allocated: Option<f64>,
    pub balanced_allocation: Option<f64>,
    pub topology_spread: Option<RawTopologySpread>,
}

/// `topology_spread = { topology = "zone", max_skew = 1, when_unsatisfiable = "DoNotSchedule" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopologySpread {
    pub topology: Option<String>,
    pub max_skew: Option<u32>,
    pub when_unsatisfiable: Option<String>,
}

/// `[[cluster.instance_types]]`: a custom instance type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstanceType {
    pub name: Option<String>,
    pub cpu: Option<NumberOrText>,
    pub memory: Option<String>,
    pub price_per_hour: Option<f64>,
    pub arch: Option<String>,
    pub windows: Option<bool>,
}

/// `[[cluster.node_groups]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNodeGroup {
    pub name: Option<String>,
    pub instance_type: Option<String>,
    pub cpu: Option<NumberOrText>,
    pub memory: Option<String>,
    pub price_per_hour: Option<f64>,
    pub arch: Option<String>,
    pub os: Option<String>,
    pub count: Option<u32>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub zones: Option<Vec<String>>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    pub provision_time: Option<RawDistribution>,
    pub boot_time: Option<RawDistribution>,
    pub cached_images: Option<Vec<String>>,
}

/// `[cluster.fargate]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFargate {
    pub start_latency: Option<RawDistribution>,
    pub pull_bandwidth: Option<String>,
    pub spot: Option<bool>,
    pub spot_discount: Option<f64>,
    pub arch: Option<String>,
}

/// `[cluster.tasks]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTasks {
    pub start_time: Option<RawDistribution>,
    pub health_check_grace: Option<String>,
    pub health_check_interval: Option<String>,
    pub unhealthy_threshold: Option<u32>,
    pub lost_task_calls: Option<String>,
}

/// `[app]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    #[serde(default)]
    pub components: Vec<RawComponent>,
    #[serde(default)]
    pub classes: Vec<RawClass>,
    #[serde(default)]
    pub deployment: RawDeployment,
    #[serde(default)]
    pub rollouts: Vec<RawRollout>,
}

/// `[[app.rollouts]]`: a rolling deployment of one service to a new version.
/// `alarm = { error_rate = 0.05, latency = "500ms", period = "1m", evaluation_periods = 1 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlarm {
    pub error_rate: Option<f64>,
    pub latency: Option<String>,
    pub period: Option<String>,
    pub evaluation_periods: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollout {
    pub service: Option<String>,
    pub at: Option<String>,
    pub image_size: Option<String>,
    pub slowdown: Option<f64>,
    pub error_rate: Option<f64>,
    pub fails_health_check: Option<bool>,
    pub strategy: Option<String>,
    pub minimum_healthy_percent: Option<u32>,
    pub maximum_percent: Option<u32>,
    pub max_surge: Option<NumberOrText>,
    pub max_unavailable: Option<NumberOrText>,
    pub circuit_breaker: Option<bool>,
    pub rollback: Option<bool>,
    pub alarm: Option<RawAlarm>,
}

/// `[[app.components]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComponent {
    pub name: Option<String>,
    pub cpu: Option<NumberOrText>,
    pub memory: Option<String>,
    pub image_size: Option<String>,
    pub workers: Option<u32>,
    pub queue_limit: Option<u32>,
    pub max_queue_time: Option<String>,
    pub service_time: Option<RawDistribution>,
    pub non_blocking: Option<bool>,
    pub replicas: Option<u32>,
    pub os: Option<String>,
    pub arch: Option<String>,
    pub autoscaling: Option<RawAutoscaling>,
    pub resilience: Option<RawResilience>,
}

/// `resilience = { timeout = "1s", max_attempts = 3, ... }`: how callers treat calls to a component.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResilience {
    pub timeout: Option<String>,
    pub max_attempts: Option<u32>,
    pub backoff_base: Option<String>,
    pub backoff_max: Option<String>,
    pub retry_budget: Option<f64>,
    pub circuit_breaker: Option<RawBreaker>,
    pub max_concurrent_calls: Option<u32>,
    pub adaptive_throttling: Option<f64>,
}

/// `circuit_breaker = { failure_rate = 0.5, window = 20, minimum_calls = 10, open_for = "5s" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failure_rate: Option<f64>,
    pub window: Option<u32>,
    pub minimum_calls: Option<u32>,
    pub open_for: Option<String>,
    pub half_open_calls: Option<u32>,
}

/// A distribution table: `{ dist = "lognormal", mean = "10ms", cv = 2 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    pub dist: Option<String>,
    pub value: Option<String>,
    pub mean: Option<String>,
    pub cv: Option<f64>,
    pub k: Option<u32>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub values: Option<Vec<String>>,
}

/// `[[app.classes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClass {
    pub name: Option<String>,
    pub share: Option<f64>,
    pub entry: Option<String>,
    #[serde(default)]
    pub calls: Vec<RawCall>,
    pub slo: Option<RawSlo>,
}

/// One call in a call tree: `{ to = "cart", probability = 0.5, calls = [...] }` or `{ parallel = [...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    pub to: Option<String>,
    pub probability: Option<f64>,
    #[serde(default)]
    pub calls: Vec<RawCall>,
    pub parallel: Option<Vec<RawCall>>,
}

/// `slo = { latency = "200ms", percentile = 99, availability = 0.999 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub latency: Option<String>,
    pub percentile: Option<f64>,
    pub availability: Option<f64>,
}

/// `[app.deployment]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeployment {
    pub mode: Option<String>,
    pub hop_latency: Option<String>,
    pub replicas: Option<u32>,
    pub balancer: Option<String>,
    pub outlier_detection: Option<RawOutlier>,
    pub monolith_name: Option<String>,
    pub groups: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub services: BTreeMap<String, RawServiceSettings>,
}

/// `outlier_detection = { consecutive_errors = 5, base_ejection_time = "30s", ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutlier {
    pub consecutive_errors: Option<u32>,
    pub base_ejection_time: Option<String>,
    pub max_ejection_time: Option<String>,
    pub max_ejection_percent: Option<u32>,
    pub interval: Option<String>,
}

/// `[app.deployment.services.NAME]`: settings of one deployed service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceSettings {
    pub replicas: Option<u32>,
    pub workers: Option<u32>,
    pub queue_limit: Option<u32>,
    pub max_queue_time: Option<String>,
    pub cpu: Option<NumberOrText>,
    pub memory: Option<String>,
    pub image_size: Option<String>,
    pub balancer: Option<String>,
    pub outlier_detection: Option<RawOutlier>,
    pub placement: Option<RawPlacement>,
    pub autoscaling: Option<RawAutoscaling>,
}

/// `autoscaling = { policy = "target_tracking", metric = "cpu_utilization", target = 0.6, ... }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoscaling {
    pub policy: Option<String>,
    pub metric: Option<String>,
    pub target: Option<f64>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub metric_period: Option<String>,
    pub publish_delay: Option<String>,
    pub scale_out_cooldown: Option<String>,
    pub scale_in_cooldown: Option<String>,
    pub disable_scale_in: Option<bool>,
    pub cooldown: Option<String>,
    pub adjustment_type: Option<String>,
    pub min_adjustment_magnitude: Option<u32>,
    pub scale_out: Option<RawStepAlarm>,
    pub scale_in: Option<RawStepAlarm>,
    pub tolerance: Option<f64>,
    pub sync_period: Option<String>,
    pub scale_down_stabilization: Option<String>,
    pub scale_up_stabilization: Option<String>,
    pub scale_up_limit_percent: Option<u32>,
    pub scale_up_limit_pods: Option<u32>,
    pub scale_down_limit_percent: Option<u32>,
    pub limit_period: Option<String>,
}

/// A step-scaling alarm: `{ threshold = 0.7, comparison = ">", steps = [{ lower = 0, adjustment = 2 }] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepAlarm {
    pub threshold: Option<f64>,
    pub comparison: Option<String>,
    pub evaluation_periods: Option<u32>,
    pub datapoints_to_alarm: Option<u32>,
    #[serde(default)]
    pub steps: Vec<RawStep>,
}

/// One step: bounds relative to the alarm threshold and an adjustment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub adjustment: Option<f64>,
}

/// `[workload]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub rate: Option<String>,
    pub profile: Option<RawProfile>,
}

/// `[workload.profile]`: one kind and the keys that kind takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub kind: Option<String>,
    pub points: Option<Vec<RawRatePoint>>,
    pub start: Option<String>,
    pub ramp_up: Option<String>,
    pub hold: Option<String>,
    pub ramp_down: Option<String>,
    pub peak_factor: Option<f64>,
    pub period: Option<String>,
    pub amplitude: Option<f64>,
    pub peak_at: Option<String>,
    pub file: Option<String>,
}

/// `{ at = "5m", rate = "300/s" }` in a steps or ramp profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRatePoint {
    pub at: Option<String>,
    pub rate: Option<String>,
}
