//! The world: the event enum and its handlers. Requests flow through call trees onto the healthy tasks
//! of services (FCFS queues with workers); tasks are placed on nodes by placement policies and go
//! through image pulls and starts. This is the only module that wires engine, cluster, app, workload,
//! policies and metrics together.

mod audit;
mod cluster_scaling;
mod containment;
mod faults;
mod fleet;
mod observe;
mod requests;
mod resilience;
mod rollouts;
mod rotation;
mod scaling;

pub use containment::{FaultRecord, FaultSpread};
pub use observe::{ClusterSummary, PlacementRow};
pub use rollouts::RolloutResult;
pub use scaling::{ScaleAction, ScalingRow};

use crate::app::VersionSpec;
use crate::cluster::catalog::FargateSize;
use crate::cluster::state::ClusterState;
use crate::engine::{EventId, EventQueue, Handler};
use crate::faults::{FaultOccurrence, expand_plan};
use crate::metrics::{ClassSummary, FailReason, LatencyStats, Mark, TimeWeighted};
use crate::policy::autoscale::{self, ServiceAutoscaler};
use crate::policy::balancer::Balancer;
use crate::policy::cluster_autoscale::ClusterAutoscaler;
use crate::policy::placement::{PlacementPolicy, Registry};
use crate::policy::resilience::OutlierSpec;
use crate::rng;
use crate::scenario::Scenario;
use crate::time::{SimDuration, SimTime};
use crate::workload::{ArrivalProcess, ClassMix};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, VecDeque};

const NONE: u32 = u32::MAX;

/// What can happen.
#[derive(Debug, Clone, Copy)]
enum Event {
    /// The next external request arrives.
    Arrival,
    /// A remote call reaches the service that serves it.
    CallArrives { frame: u32 },
    /// A frame's own work (its service demand) is done.
    WorkDone { frame: u32 },
    /// A remote call's response reaches the caller.
    ResponseArrives { frame: u32 },
    /// A node finished provisioning and starts booting.
    NodeBooting { node: u32 },
    /// A node finished booting and accepts tasks.
    NodeReady { node: u32 },
    /// The earliest image pull on a node may have finished.
    NodePullProgress { node: u32 },
    /// A Fargate task has its capacity and starts pulling its image.
    FargateCapacityReady { task: u32 },
    /// A Fargate task's image pull finished.
    FargatePullDone { task: u32 },
    /// A task's container is running.
    TaskRunning { task: u32 },
    /// A task passed its health check grace period and receives traffic.
    TaskHealthy { task: u32 },
    /// A service's autoscaler metric period ends.
    MetricPeriodEnd { service: u32 },
    /// A service's oldest unpublished datapoint becomes visible.
    DatapointPublished { service: u32 },
    /// A service's autoscaler evaluates.
    AutoscalerEvaluates { service: u32 },
    /// The cluster autoscaler evaluates.
    ClusterAutoscalerEvaluates,
    /// A rolling deployment starts.
    RolloutStarts { rollout: u32 },
    /// A rolling deployment's alarm evaluates its last period.
    DeploymentAlarmEvaluates { rollout: u32 },
    /// A task of a version that fails its health check is found unhealthy.
    TaskUnhealthy { task: u32 },
    /// A fault occurrence starts (an index in `fault_occurrences`).
    FaultStarts { fault: u32 },
    /// A fault occurrence's window ends.
    FaultEnds { fault: u32 },
    /// A call's timeout expires.
    CallTimeout { frame: u32 },
    /// A retry goes out after its backoff.
    RetrySend { frame: u32 },
    /// A leaking task's memory is full.
    OutOfMemory { task: u32 },
    /// The load balancer's health checks found a lost task dead: it leaves the rotation.
    LostTaskFound { task: u32 },
    /// A replica's outlier ejection ends.
    EjectionEnds { task: u32 },
    /// A metrics interval ends.
    Sample,
    /// The warmup ends: summaries start counting.
    WarmupEnd,
}

/// One request in flight.
#[derive(Debug, Clone, Copy)]
struct Request {
    id: u64,
    class: u16,
    arrival: SimTime,
    counted: bool,
    /// False once the request has completed or failed: a second ending is a bug.
    open: bool,
    /// Frames of this request still allocated: its slot is reused only once it has ended and
    /// none is left (abandoned attempts and crashed frames may outlive the request).
    frames: u32,
}

/// The activation of one call-tree node for one request.
#[derive(Debug, Clone, Copy)]
struct Frame {
    request: u32,
    node: u16,
    step: u16,
    pending: u16,
    /// True when this frame arrived over the network (it sends a response back over it too).
    remote: bool,
    /// True while the frame owns a worker of `replica`.
    holds_worker: bool,
    /// True when the frame runs on a worker an ancestor in the same service holds (blocking caller).
    on_lent_worker: bool,
    failure: Option<FailReason>,
    parent: u32,
    /// Index of the replica the frame runs on (in-process frames share their caller's); `NONE`
    /// until a replica is chosen.
    replica: u32,
    /// When the call reached its service (remote frames) or its replica's queue.
    arrived: SimTime,
    /// In use (not on the free list).
    alive: bool,
    /// Its task crashed under it: it answers nobody and is never reused (its pending events are
    /// ignored when they fire).
    zombie: bool,
    /// Which attempt of the call this is (1 = the first).
    attempt: u8,
    /// The caller gave up on it (timeout): its answer, when it comes, is dropped.
    abandoned: bool,
    /// Its pending timeout, if any.
    timer: Option<EventId>,
    /// Its answer is on its way to the caller (the frame waits only for that event).
    responded: bool,
    /// The attempt holds a permit of its caller's bulkhead for the callee.
    bulkhead_permit: bool,
}

/// The request-serving side of a task: a FCFS queue in front of `workers` servers.
#[derive(Debug)]
struct Replica {
    service: u16,
    /// Position in its service's `active` list, `NONE` while it receives no traffic.
    slot: u32,
    /// Busy workers (the gauge's value) and their time integral.
    busy: TimeWeighted,
    /// The sampler's position in `busy`.
    busy_sampled: Mark,
    workers: u32,
    queue_limit: u32,
    /// Calls that waited longer than this for a worker are shed.
    max_queue_time: Option<SimDuration>,
    queue: VecDeque<u32>,
    /// Calls hanging on it while it is lost (its node is down) and still in rotation.
    hanging: Vec<u32>,
    /// Calls it accepted from the network and has not answered yet (the balancer's view).
    outstanding: u32,
    /// Failed answers in a row, for outlier detection.
    consecutive_errors: u32,
    /// Outlier detection's ejection count (the multiplier of its next ejection time).
    ejections: u32,
    /// When its last ejection ended.
    returned: SimTime,
    /// Out of rotation until its ejection ends.
    ejected: bool,
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskPhase {
    Pending,
    Pulling,
    Starting,
    Running,
    Healthy,
    /// Receives no new traffic; finishing what it has.
    Stopping,
    Stopped,
}

impl TaskPhase {
    /// True for a task that counts towards its service's desired count.
    fn is_live(self) -> bool {
        !matches!(self, TaskPhase::Stopping | TaskPhase::Stopped)
    }
}

/// One task (a replica of a service) as the cluster sees it; same index as its `Replica`.
#[derive(Debug, Clone)]
struct Task {
    service: u16,
    /// Its service's version (0 = as deployed at the start).
    version: u16,
    /// The task's number within its service.
    ordinal: u32,
    /// `service/ordinal`, for events.
    name: String,
    phase: TaskPhase,
    /// Node index on EC2, `NONE` on Fargate or while pending.
    node: u32,
    zone: u32,
    fargate: Option<FargateSize>,
    created: SimTime,
    placed: Option<SimTime>,
    /// When billing starts (Fargate: the image pull).
    billed_from: Option<SimTime>,
    /// When it stopped (billing ends).
    stopped: Option<SimTime>,
    /// The last pending reason logged, to log a change only once.
    pending_reason: Option<&'static str>,
    /// The scale action that created it, if any.
    action: Option<u32>,
    /// When its image was on the node.
    pulled: Option<SimTime>,
    /// When its container was running.
    running: Option<SimTime>,
    /// When it became healthy.
    healthy: Option<SimTime>,
    /// When the node it was placed on was requested, if that node was launched for it.
    node_requested: Option<SimTime>,
    /// When that node became ready.
    node_ready: Option<SimTime>,
}

/// An image pull in progress on a node, shared bandwidth among all of the node's pulls.
#[derive(Debug, Clone)]
struct ActivePull {
    /// Service index in the low 16 bits, version above.
    image: u32,
    remaining_bytes: f64,
    /// Tasks waiting for this image on this node.
    waiters: Vec<u32>,
}

/// What the model tracks per node beyond `ClusterState`.
#[derive(Debug, Clone, Default)]
struct NodeRuntime {
    pulls: Vec<ActivePull>,
    pulls_updated: SimTime,
    next_pull_event: Option<EventId>,
    cached_images: BTreeSet<u32>,
    launched: SimTime,
    /// When it became ready, if it has.
    ready: Option<SimTime>,
    /// When it was terminated (billing ends).
    terminated: Option<SimTime>,
    /// True when a cluster autoscaler launched it.
    autoscaled: bool,
}

/// A deployed service: its active replicas, balancer, placement policy and gauges.
#[derive(Debug)]
struct Service {
    /// Replica indices receiving traffic (healthy tasks).
    active: Vec<u32>,
    /// Outstanding calls per active replica (same order), for the balancer.
    outstanding: Vec<u32>,
    balancer: Box<dyn Balancer>,
    balancer_rng: ChaCha8Rng,
    placement: Box<dyn PlacementPolicy>,
    placement_rng: ChaCha8Rng,
    busy: TimeWeighted,
    queued: TimeWeighted,
    healthy: TimeWeighted,
    /// The sampler's positions in `busy`, `queued` and `healthy`.
    sampled: [Mark; 3],
    next_ordinal: u32,
    /// Its autoscaler, if any, and the metric pipeline feeding it.
    autoscaler: Option<Box<dyn ServiceAutoscaler>>,
    metrics: scaling::MetricPipeline,
    /// Calls it finished in the current metrics interval, for the time series.
    served: containment::ServedCalls,
    /// Its calls finished in the current period of its deployment alarm.
    alarm_calls: containment::ServedCalls,
    /// Its versions: 0 as deployed at the start, then one per rollout.
    versions: Vec<VersionSpec>,
    /// The version new tasks get.
    version: u16,
    /// The rolling deployment in progress, if any.
    rollout: Option<rollouts::ActiveRollout>,
    /// Re-entrancy guard of the rollout reconciler, and whether it must run again.
    reconciling: bool,
    reconcile_again: bool,
    /// Its balancer's outlier detection, if any.
    outlier_detection: Option<OutlierSpec>,
    /// Replicas currently ejected by outlier detection.
    ejected: u32,
    /// Tasks the service scheduler keeps running.
    desired: u32,
    /// Live tasks (not stopping or stopped).
    live: u32,
}

/// Totals over all requests of a replication, warmup included: the conservation check.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Conservation {
    /// Requests that arrived.
    pub offered: u64,
    /// Requests that completed.
    pub completed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests still in flight at the end.
    pub in_flight: u64,
}

impl Conservation {
    /// True when every request is accounted for exactly once.
    pub fn holds(&self) -> bool {
        self.offered == self.completed + self.failed + self.in_flight
    }
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesRow {
    /// End of the interval, in seconds.
    pub time_s: f64,
    /// A class, a service, `cluster`, or `all`.
    pub subject: String,
    /// The metric's name.
    pub metric: &'static str,
    /// Its value (NaN when undefined, e.g. a percentile of no requests).
    pub value: f64,
}

/// One row of `events.csv`.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// When.
    pub time: SimTime,
    /// What kind of event.
    pub kind: &'static str,
    /// What it happened to.
    pub subject: String,
    /// Details.
    pub detail: String,
}

/// Everything one replication produced.
#[derive(Debug, Clone)]
pub struct ReplicationResult {
    /// Replication index.
    pub replication: u32,
    /// Per-class summaries, then `all`.
    pub classes: Vec<ClassSummary>,
    /// Cluster-level results: placement quality and cost.
    pub cluster: ClusterSummary,
    /// The time series.
    pub timeseries: Vec<SeriesRow>,
    /// The event log.
    pub events: Vec<EventRow>,
    /// Per-node samples for `placement.csv`.
    pub placement: Vec<PlacementRow>,
    /// Scale actions and the tasks they started, for `scaling.csv`.
    pub scaling: Vec<ScalingRow>,
    /// Rolling deployments, for `deployments.csv`.
    pub rollouts: Vec<RolloutResult>,
    /// Injected faults and what they did, for `faults.csv`.
    pub faults: Vec<FaultRecord>,
    /// Request accounting over the whole run.
    pub conservation: Conservation,
    /// An order-independent digest of every request's arrival time, class and drawn service demands:
    /// equal digests mean the same request stream (common random numbers).
    pub request_digest: u64,
    /// Events the engine handled.
    pub events_processed: u64,
    /// The most events ever pending at once: bounded whatever the run's length (timeouts are
    /// cancelled when their answer comes).
    pub peak_pending_events: u64,
}

struct World<'s> {
    scenario: &'s Scenario,
    end: SimTime,
    warmup_end: SimTime,
    arrivals: ArrivalProcess,
    mix: ClassMix,
    demand_key: u64,
    branch_key: u64,
    error_key: u64,
    fault_key: u64,
    /// Injected latency and errors per component.
    component_faults: Vec<faults::ComponentFault>,
    /// Zones in an outage.
    zone_down: Vec<bool>,
    /// Nodes each zone's outage took down (replaced when it ends).
    outage_nodes: Vec<Vec<usize>>,
    fault_records: Vec<FaultRecord>,
    /// Records before this index have their first failure (`note_failure`).
    faults_detected: usize,
    /// Every fault occurrence of this replication, in order of start: what `FaultStarts` and
    /// `FaultEnds` index.
    fault_occurrences: Vec<FaultOccurrence>,
    /// The image registry is down: pulls wait in `stalled_pulls`.
    registry_down: bool,
    stalled_pulls: Vec<u32>,
    /// Per fault occurrence: the node a Spot interruption is draining.
    spot_nodes: Vec<Option<usize>>,
    /// Per service: a memory leak (bytes per second, until when), if one is active.
    leaks: Vec<Option<(f64, SimTime)>>,
    retry_key: u64,
    throttle_key: u64,
    /// Per component: callers' view of calls to it (breaker, budget, counters).
    edges: Vec<resilience::Edge>,
    /// The sampler's last view of each edge's counters.
    edge_sampled: Vec<[u64; resilience::COUNTERS]>,
    /// The remote caller → callee pairs and their call counters.
    call_pairs: resilience::CallPairs,
    /// Attempts in flight per (calling replica, callee component) with a bulkhead.
    bulkheads: HashMap<(u32, u32), u32>,
    lifecycle_key: u64,
    next_request_id: u64,
    requests: Vec<Request>,
    free_requests: Vec<u32>,
    frames: Vec<Frame>,
    free_frames: Vec<u32>,
    replicas: Vec<Replica>,
    tasks: Vec<Task>,
    pending_tasks: VecDeque<u32>,
    services: Vec<Service>,
    cluster: ClusterState,
    nodes: Vec<NodeRuntime>,
    /// Time each task waited to be placed, in nanoseconds.
    pending_times: Vec<u64>,
    /// Time from creation to healthy of each task, in nanoseconds.
    ready_times: Vec<u64>,
    unschedulable_decisions: u64,
    /// Post-warmup stats per class, then `all`.
    class_stats: Vec<LatencyStats>,
    class_offered: Vec<u64>,
    /// Per-interval stats per class, then `all`.
    interval_stats: Vec<LatencyStats>,
    interval_offered: Vec<u64>,
    interval_start: SimTime,
    conservation: Conservation,
    digest: u64,
    timeseries: Vec<SeriesRow>,
    events: Vec<EventRow>,
    placement_rows: Vec<PlacementRow>,
    scale_actions: Vec<ScaleAction>,
    cluster_autoscaler: Option<Box<dyn ClusterAutoscaler>>,
    rollout_results: Vec<RolloutResult>,
    /// Per class, each metrics interval's end and whether the class broke its SLO in it.
    slo_intervals: Vec<Vec<(SimTime, bool)>>,
}

impl Handler<Event> for World<'_> {
    fn handle(&mut self, event: Event, queue: &mut EventQueue<Event>) {
        match event {
            Event::Arrival => self.on_arrival(queue),
            Event::CallArrives { frame } => self.arrive_at_service(frame, queue),
            Event::WorkDone { frame } => self.on_work_done(frame, queue),
            Event::ResponseArrives { frame } => self.on_response(frame, queue),
            Event::CallTimeout { frame } => self.on_call_timeout(frame, queue),
            Event::RetrySend { frame } => self.send_call(frame, queue),
            Event::OutOfMemory { task } => self.on_out_of_memory(task, queue),
            Event::LostTaskFound { task } => self.on_lost_task_found(task, queue),
            Event::EjectionEnds { task } => self.on_ejection_ends(task, queue.now()),
            Event::NodeBooting { node } => self.on_node_booting(node as usize, queue),
            Event::NodeReady { node } => self.on_node_ready(node as usize, queue),
            Event::NodePullProgress { node } => self.on_pull_progress(node as usize, queue),
            Event::FargateCapacityReady { task } => self.on_fargate_capacity(task, queue),
            Event::FargatePullDone { task } => self.start_container(task, queue),
            Event::TaskRunning { task } => self.on_task_running(task, queue),
            Event::TaskHealthy { task } => {
                self.on_task_healthy(task, queue.now());
                self.schedule_oom(task, queue);
                let service = self.tasks[task as usize].service as usize;
                self.reconcile_rollout(service, queue);
            }
            Event::MetricPeriodEnd { service } => {
                self.on_metric_period_end(service as usize, queue)
            }
            Event::DatapointPublished { service } => self.on_datapoint_published(service as usize),
            Event::AutoscalerEvaluates { service } => {
                self.on_autoscaler_evaluates(service as usize, queue)
            }
            Event::ClusterAutoscalerEvaluates => self.on_cluster_autoscaler_evaluates(queue),
            Event::RolloutStarts { rollout } => self.on_rollout_starts(rollout as usize, queue),
            Event::DeploymentAlarmEvaluates { rollout } => {
                self.on_deployment_alarm(rollout as usize, queue)
            }
            Event::FaultStarts { fault } => self.on_fault_starts(fault as usize, queue),
            Event::FaultEnds { fault } => self.on_fault_ends(fault as usize, queue),
            Event::TaskUnhealthy { task } => self.on_task_unhealthy(task, queue),
            Event::Sample => self.on_sample(queue),
            Event::WarmupEnd => self.log(queue.now(), "warmup_end", "run", String::new()),
        }
    }
}

impl<'s> World<'s> {
    fn new(
        scenario: &'s Scenario,
        replication: u32,
        registries: &Registries,
    ) -> Result<Self, String> {
        let (registry, autoscalers) = (&registries.placement, &registries.autoscale);
        let seed = scenario.run.seed;
        let app = &scenario.app;
        let mut services = Vec::new();
        for spec in &app.services {
            let placement_spec = spec
                .placement
                .as_ref()
                .unwrap_or(&scenario.cluster.placement);
            services.push(Service {
                active: Vec::new(),
                outstanding: Vec::new(),
                balancer: spec.balancer.build(),
                balancer_rng: rng::stream(seed, replication, &format!("balancer/{}", spec.name)),
                placement: registry.build(placement_spec)?,
                placement_rng: rng::stream(seed, replication, &format!("placement/{}", spec.name)),
                busy: TimeWeighted::default(),
                queued: TimeWeighted::default(),
                healthy: TimeWeighted::default(),
                sampled: [Mark::default(); 3],
                next_ordinal: 0,
                autoscaler: match &spec.scaling {
                    Some(scaling) => Some(autoscalers.build(&scaling.autoscaler)?),
                    None => None,
                },
                metrics: scaling::MetricPipeline::default(),
                served: containment::ServedCalls::default(),
                alarm_calls: containment::ServedCalls::default(),
                versions: vec![VersionSpec {
                    image_bytes: spec.image_bytes,
                    slowdown: 1.0,
                    error_rate: 0.0,
                    fails_health_check: false,
                }],
                version: 0,
                rollout: None,
                reconciling: false,
                reconcile_again: false,
                outlier_detection: spec.outlier_detection,
                ejected: 0,
                desired: match spec.scaling.as_ref().and_then(|s| s.autoscaler.bounds()) {
                    Some((min, max)) => spec.replicas.clamp(min, max),
                    None => spec.replicas,
                },
                live: 0,
            });
        }
        let class_count = app.classes.len();
        let fault_occurrences = expand_plan(
            &scenario.faults,
            rng::stream_key(seed, replication, "fault_process"),
            scenario.run.duration,
        );
        Ok(World {
            scenario,
            end: SimTime::ZERO + scenario.run.duration,
            warmup_end: SimTime::ZERO + scenario.run.warmup,
            arrivals: ArrivalProcess::new(
                &scenario.workload,
                rng::stream(seed, replication, "arrivals"),
            ),
            mix: ClassMix::new(
                app.classes.iter().map(|c| c.share),
                rng::stream(seed, replication, "classes"),
            ),
            demand_key: rng::stream_key(seed, replication, "demand"),
            branch_key: rng::stream_key(seed, replication, "branch"),
            error_key: rng::stream_key(seed, replication, "error"),
            fault_key: rng::stream_key(seed, replication, "faults"),
            component_faults: vec![faults::ComponentFault::default(); app.components.len()],
            zone_down: vec![false; scenario.cluster.zones.len()],
            outage_nodes: vec![Vec::new(); scenario.cluster.zones.len()],
            fault_records: Vec::new(),
            faults_detected: 0,
            spot_nodes: vec![None; fault_occurrences.len()],
            fault_occurrences,
            leaks: vec![None; app.services.len()],
            registry_down: false,
            stalled_pulls: Vec::new(),
            retry_key: rng::stream_key(seed, replication, "retry"),
            throttle_key: rng::stream_key(seed, replication, "throttle"),
            edges: app.components.iter().map(resilience::Edge::new).collect(),
            edge_sampled: vec![[0; resilience::COUNTERS]; app.components.len()],
            bulkheads: HashMap::new(),
            call_pairs: resilience::CallPairs::new(app),
            lifecycle_key: rng::stream_key(seed, replication, "lifecycle"),
            next_request_id: 0,
            requests: Vec::new(),
            free_requests: Vec::new(),
            frames: Vec::new(),
            free_frames: Vec::new(),
            replicas: Vec::new(),
            tasks: Vec::new(),
            pending_tasks: VecDeque::new(),
            services,
            cluster: ClusterState::new(scenario.cluster.zones.clone(), app.services.len()),
            nodes: Vec::new(),
            pending_times: Vec::new(),
            ready_times: Vec::new(),
            unschedulable_decisions: 0,
            class_stats: vec![LatencyStats::new(); class_count + 1],
            class_offered: vec![0; class_count + 1],
            interval_stats: vec![LatencyStats::new(); class_count + 1],
            interval_offered: vec![0; class_count + 1],
            interval_start: SimTime::ZERO,
            conservation: Conservation::default(),
            digest: 0,
            timeseries: Vec::new(),
            events: Vec::new(),
            placement_rows: Vec::new(),
            scale_actions: Vec::new(),
            cluster_autoscaler: scenario
                .cluster_autoscaler
                .as_ref()
                .map(|spec| spec.build()),
            rollout_results: Vec::new(),
            slo_intervals: vec![Vec::new(); class_count],
        })
    }

    fn log(&mut self, time: SimTime, kind: &'static str, subject: &str, detail: String) {
        self.events.push(EventRow {
            time,
            kind,
            subject: subject.to_string(),
            detail,
        });
    }

    fn start(&mut self, queue: &mut EventQueue<Event>) {
        let detail = format!(
            "mode={} launch_type={:?} start={:?}",
            self.scenario.app.mode.name(),
            self.scenario.cluster.launch_type,
            self.scenario.cluster.initial_state
        )
        .to_lowercase();
        self.log(
            SimTime::ZERO,
            "run_start",
            &self.scenario.name.clone(),
            detail,
        );
        self.start_fleet(queue);
        self.start_scaling(queue);
        self.start_cluster_scaling(queue);
        self.start_rollouts(queue);
        self.start_faults(queue);
        if let Some(first) = self
            .arrivals
            .next_arrival(&self.scenario.workload, self.end)
        {
            queue.schedule_at(first, Event::Arrival);
        }
        queue.schedule_at(
            SimTime::ZERO + self.scenario.run.metrics_interval,
            Event::Sample,
        );
        if self.warmup_end > SimTime::ZERO {
            queue.schedule_at(self.warmup_end, Event::WarmupEnd);
        }
    }
}

/// The policies a run may name: built-in ones and those a user registered.
#[derive(Debug, Default)]
pub struct Registries {
    /// Placement policies.
    pub placement: Registry,
    /// Service autoscalers.
    pub autoscale: autoscale::Registry,
}

/// Runs replication `replication` of `scenario` with the built-in policies; `progress` receives the
/// simulated fraction done (0–1).
pub fn simulate(
    scenario: &Scenario,
    replication: u32,
    progress: &dyn Fn(f64),
) -> ReplicationResult {
    simulate_with(scenario, replication, &Registries::default(), progress)
        .expect("a validated scenario names only built-in policies")
}

/// Runs replication `replication` of `scenario`, resolving policies (built-in and custom) from
/// `registries`. Fails only when the scenario names a policy a registry lacks.
pub fn simulate_with(
    scenario: &Scenario,
    replication: u32,
    registries: &Registries,
    progress: &dyn Fn(f64),
) -> Result<ReplicationResult, String> {
    let mut world = World::new(scenario, replication, registries)?;
    let mut queue = EventQueue::new();
    world.start(&mut queue);
    const CHUNKS: u64 = 100;
    let end = world.end;
    for chunk in 1..=CHUNKS {
        let until = if chunk == CHUNKS {
            end
        } else {
            SimTime(end.as_nanos() / CHUNKS * chunk)
        };
        queue.run_until(&mut world, until);
        progress(chunk as f64 / CHUNKS as f64);
    }
    let mut result = world.finish(queue.processed(), replication);
    result.peak_pending_events = queue.peak_len() as u64;
    Ok(result)
}
