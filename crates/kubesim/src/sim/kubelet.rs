//! The kubelet's decisions for one pod bound to a simulated node.
//!
//! A bound pod starts after a short start delay: Pending with containers `ContainerCreating`,
//! then Running with every container running and ready. The annotation
//! `kubesim.dev/exit-after: "<seconds>"` makes the containers exit by themselves with
//! `kubesim.dev/exit-code` (default 0), and `kubesim.dev/start-after` overrides the start
//! delay of one pod. Graceful deletion: once the pod has a `deletionTimestamp`, its
//! containers get SIGTERM and answer as `kubesim.dev/on-sigterm` says (`exit`, the default:
//! stop at once with 143; `ignore`: SIGKILL at the end of the grace period, 137;
//! `exit-code:N`: stop at once with N; `delay:S`: stop after S seconds with 143, or SIGKILL at
//! the end of the grace period if that comes first). A grace period of 0 kills at once (137);
//! otherwise SIGKILL never comes before 2 s, the kubelet's minimum. Then the pod is removed.
//! A pod whose containers have already ended is removed at once, and one whose containers
//! never started reports them as the kubelet does when it cannot locate them. Every delay is
//! scaled.

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Node, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::clock::SimTime;
use super::events::{EventSpec, EventType};
use super::nodes;

pub const EXIT_AFTER_ANNOTATION: &str = "kubesim.dev/exit-after";
pub const EXIT_CODE_ANNOTATION: &str = "kubesim.dev/exit-code";
/// Overrides the start delay for one pod, in simulated seconds: a long one keeps a pod bound
/// but not running (Batch's STARTING) for as long as a test needs.
pub const START_AFTER_ANNOTATION: &str = "kubesim.dev/start-after";
pub const COMPONENT: &str = "kubelet";
/// How the pod's containers answer SIGTERM: `exit`, `ignore`, `exit-code:N` or `delay:S`.
pub const ON_SIGTERM_ANNOTATION: &str = "kubesim.dev/on-sigterm";
/// The exit code of a process ended by SIGTERM (128 + 15).
pub const SIGTERM_EXIT_CODE: i32 = 143;
/// The exit code of a process ended by SIGKILL (128 + 9).
pub const SIGKILL_EXIT_CODE: i32 = 137;
/// The kubelet never sends SIGKILL sooner than this after SIGTERM, unless the grace period is
/// 0 (`minimumGracePeriodInSeconds` in kuberuntime_container.go).
const MIN_KILL_GRACE_SECONDS: i64 = 2;
/// The default start delay (simulated): time from binding to Running.
pub const DEFAULT_START_DELAY: Duration = Duration::from_secs(1);
const DEFAULT_GRACE_SECONDS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KubeletConfig {
    /// Simulated time from binding until the containers run.
    pub start_delay: Duration,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        Self {
            start_delay: DEFAULT_START_DELAY,
        }
    }
}

/// What the kubelet remembers of a pod (in memory, keyed by uid): precise instants, as stored
/// timestamps have whole seconds only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodMemory {
    /// When the kubelet first saw the pod bound.
    pub admitted: Option<Timestamp>,
    /// When the current container run started.
    pub started: Option<Timestamp>,
    /// When the kubelet first saw the deletion.
    pub deletion_seen: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KubeletAction {
    /// Replace the pod's status.
    UpdateStatus(Box<PodStatus>),
    /// Remove the pod from the store (the kubelet's final delete with grace 0).
    Remove,
    Event(EventSpec),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct KubeletStep {
    pub actions: Vec<KubeletAction>,
    pub memory: PodMemory,
    /// Look at the pod again after this much real time.
    pub requeue_after: Option<Duration>,
}

impl KubeletStep {
    fn event(
        &mut self,
        node: &str,
        type_: EventType,
        reason: &str,
        message: String,
        container: Option<&str>,
    ) {
        let mut e = EventSpec::new(COMPONENT, type_, reason, message);
        e.host = Some(node.to_string());
        e.field_path = container.map(|c| format!("spec.containers{{{c}}}"));
        self.actions.push(KubeletAction::Event(e));
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn annotation<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// `kubesim.dev/exit-after` in simulated seconds (fractions allowed).
fn exit_after(pod: &Pod) -> Option<Duration> {
    annotation(pod, EXIT_AFTER_ANNOTATION)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// `kubesim.dev/start-after` in simulated seconds, else the configured start delay.
fn start_delay(pod: &Pod, default: Duration) -> Duration {
    annotation(pod, START_AFTER_ANNOTATION)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(default)
}

fn exit_code(pod: &Pod) -> i32 {
    annotation(pod, EXIT_CODE_ANNOTATION)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// How a container answers SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnSigterm {
    /// Stops at once with 143.
    Exit,
    /// Runs on until SIGKILL.
    Ignore,
    /// Stops at once with this code.
    ExitCode(i32),
    /// Stops with 143 after this long (simulated).
    Delay(Duration),
}

/// `kubesim.dev/on-sigterm`; a missing or unreadable value is `exit`.
pub fn on_sigterm(pod: &Pod) -> OnSigterm {
    let Some(v) = annotation(pod, ON_SIGTERM_ANNOTATION).map(str::trim) else {
        return OnSigterm::Exit;
    };
    if v == "ignore" {
        return OnSigterm::Ignore;
    }
    if let Some(code) = v.strip_prefix("exit-code:") {
        return code
            .trim()
            .parse()
            .map_or(OnSigterm::Exit, OnSigterm::ExitCode);
    }
    v.strip_prefix("delay:")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map_or(OnSigterm::Exit, OnSigterm::Delay)
}

/// When (simulated, after the kubelet saw the deletion) the containers stop, and their code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stop {
    pub after: Duration,
    pub exit_code: i32,
}

/// The stop of a running container given `grace` seconds: SIGTERM at once, SIGKILL at the end
/// of the grace period (never before 2 s unless the grace period is 0).
pub fn stop_plan(answer: OnSigterm, grace: i64) -> Stop {
    let kill = Stop {
        after: Duration::from_secs(if grace <= 0 {
            0
        } else {
            u64::try_from(grace.max(MIN_KILL_GRACE_SECONDS)).unwrap_or(u64::MAX)
        }),
        exit_code: SIGKILL_EXIT_CODE,
    };
    if grace <= 0 {
        return kill;
    }
    match answer {
        OnSigterm::Exit => Stop {
            after: Duration::ZERO,
            exit_code: SIGTERM_EXIT_CODE,
        },
        OnSigterm::ExitCode(code) => Stop {
            after: Duration::ZERO,
            exit_code: code,
        },
        OnSigterm::Delay(d) if d < kill.after => Stop {
            after: d,
            exit_code: SIGTERM_EXIT_CODE,
        },
        OnSigterm::Delay(_) | OnSigterm::Ignore => kill,
    }
}

fn container_names(pod: &Pod) -> Vec<(String, String)> {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

fn condition(
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
    at: &Time,
) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.map(str::to_string),
        message,
        last_probe_time: None,
        last_transition_time: Some(at.clone()),
        observed_generation: None,
    }
}

/// Keeps PodScheduled (written by the scheduler) and replaces the kubelet's own conditions,
/// keeping a condition's transition time when its status did not change.
fn merge_conditions(old: Option<&Vec<PodCondition>>, new: Vec<PodCondition>) -> Vec<PodCondition> {
    let old = old.cloned().unwrap_or_default();
    let mut out: Vec<PodCondition> = old
        .iter()
        .filter(|c| !new.iter().any(|n| n.type_ == c.type_))
        .cloned()
        .collect();
    for mut n in new {
        if let Some(o) = old
            .iter()
            .find(|o| o.type_ == n.type_ && o.status == n.status)
        {
            n.last_transition_time = o.last_transition_time.clone();
        }
        out.push(n);
    }
    let order = |t: &str| match t {
        "PodReadyToStartContainers" => 0,
        "Initialized" => 1,
        "Ready" => 2,
        "ContainersReady" => 3,
        "PodScheduled" => 4,
        _ => 5,
    };
    out.sort_by_key(|c| order(&c.type_));
    out
}

fn base_status(pod: &Pod, node: &Node, at: &Time) -> PodStatus {
    let mut status = pod.status.clone().unwrap_or_default();
    let host_ip = nodes::internal_ip(node).unwrap_or_default();
    status.host_ip = Some(host_ip.clone());
    status.host_ips = Some(vec![HostIP { ip: host_ip }]);
    if status.start_time.is_none() {
        status.start_time = Some(at.clone());
    }
    if status.qos_class.is_none() {
        status.qos_class = Some("BestEffort".to_string());
    }
    status
}

fn waiting_status(pod: &Pod, node: &Node, at: &Time) -> PodStatus {
    let names: Vec<String> = container_names(pod).into_iter().map(|(n, _)| n).collect();
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let mut status = base_status(pod, node, at);
    status.phase = Some("Pending".to_string());
    status.conditions = Some(merge_conditions(
        status.conditions.as_ref(),
        vec![
            condition("PodReadyToStartContainers", false, None, None, at),
            condition("Initialized", true, None, None, at),
            condition(
                "Ready",
                false,
                Some("ContainersNotReady"),
                Some(unready.clone()),
                at,
            ),
            condition(
                "ContainersReady",
                false,
                Some("ContainersNotReady"),
                Some(unready),
                at,
            ),
        ],
    ));
    status.container_statuses = Some(
        container_names(pod)
            .into_iter()
            .map(|(name, image)| ContainerStatus {
                name,
                image,
                image_id: String::new(),
                ready: false,
                restart_count: 0,
                started: Some(false),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some("ContainerCreating".to_string()),
                        message: None,
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            })
            .collect(),
    );
    status
}

fn container_id(pod: &Pod, name: &str, restarts: i32) -> String {
    format!(
        "containerd://{}-{name}-{restarts}",
        pod.metadata.uid.as_deref().unwrap_or("")
    )
}

fn running_status(
    pod: &Pod,
    node: &Node,
    at: &Time,
    restarts: i32,
    last: Option<ContainerState>,
) -> PodStatus {
    let mut status = base_status(pod, node, at);
    let ip = nodes::pod_ip(node, pod.metadata.uid.as_deref().unwrap_or(""));
    status.phase = Some("Running".to_string());
    status.pod_ip = Some(ip.clone());
    status.pod_ips = Some(vec![PodIP { ip }]);
    status.conditions = Some(merge_conditions(
        status.conditions.as_ref(),
        vec![
            condition("PodReadyToStartContainers", true, None, None, at),
            condition("Initialized", true, None, None, at),
            condition("Ready", true, None, None, at),
            condition("ContainersReady", true, None, None, at),
        ],
    ));
    status.container_statuses = Some(
        container_names(pod)
            .into_iter()
            .map(|(name, image)| ContainerStatus {
                container_id: Some(container_id(pod, &name, restarts)),
                image_id: format!("{image}@sha256:0"),
                image,
                ready: true,
                restart_count: restarts,
                started: Some(true),
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(at.clone()),
                    }),
                    ..ContainerState::default()
                }),
                last_state: last.clone(),
                name,
                ..ContainerStatus::default()
            })
            .collect(),
    );
    status
}

/// The containers ended with `code`; the phase follows restartPolicy Never (or the caller
/// restarts them).
fn terminated_state(
    started: Option<Time>,
    code: i32,
    at: &Time,
    id: Option<String>,
) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            reason: Some(if code == 0 { "Completed" } else { "Error" }.to_string()),
            started_at: started,
            finished_at: Some(at.clone()),
            container_id: id,
            message: None,
            signal: None,
        }),
        ..ContainerState::default()
    }
}

fn terminated_status(pod: &Pod, node: &Node, code: i32, at: &Time) -> PodStatus {
    let mut status = base_status(pod, node, at);
    status.phase = Some(if code == 0 { "Succeeded" } else { "Failed" }.to_string());
    status.conditions = Some(merge_conditions(
        status.conditions.as_ref(),
        vec![
            condition("PodReadyToStartContainers", false, None, None, at),
            condition("Initialized", true, Some("PodCompleted"), None, at),
            condition("Ready", false, Some("PodCompleted"), None, at),
            condition("ContainersReady", false, Some("PodCompleted"), None, at),
        ],
    ));
    let old = status.container_statuses.take().unwrap_or_default();
    status.container_statuses = Some(
        container_names(pod)
            .into_iter()
            .map(|(name, image)| {
                let prev = old.iter().find(|c| c.name == name);
                let started = prev
                    .and_then(|c| c.state.as_ref())
                    .and_then(|s| s.running.as_ref())
                    .and_then(|r| r.started_at.clone());
                let id = prev.and_then(|c| c.container_id.clone());
                ContainerStatus {
                    container_id: id.clone(),
                    image_id: prev.map(|c| c.image_id.clone()).unwrap_or_default(),
                    image,
                    ready: false,
                    restart_count: prev.map_or(0, |c| c.restart_count),
                    started: Some(false),
                    state: Some(terminated_state(started, code, at, id)),
                    last_state: prev.and_then(|c| c.last_state.clone()),
                    name,
                    ..ContainerStatus::default()
                }
            })
            .collect(),
    );
    status
}

/// A pod deleted before its containers ran: Failed, each container terminated with 137 and
/// `ContainerStatusUnknown`, as kubelet_pods.go reports a container it cannot locate.
fn never_ran_status(pod: &Pod, node: &Node, at: &Time) -> PodStatus {
    let mut status = terminated_status(pod, node, SIGKILL_EXIT_CODE, at);
    status.phase = Some("Failed".to_string());
    for c in status.container_statuses.iter_mut().flatten() {
        c.state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: SIGKILL_EXIT_CODE,
                reason: Some("ContainerStatusUnknown".to_string()),
                message: Some(
                    "The container could not be located when the pod was terminated".to_string(),
                ),
                ..ContainerStateTerminated::default()
            }),
            ..ContainerState::default()
        });
    }
    status
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().map(|c| c.restart_count).max())
        .unwrap_or(0)
}

fn running_started_at(pod: &Pod) -> Option<Time> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find_map(|c| c.state.as_ref()?.running.as_ref()?.started_at.clone())
}

/// One look at `pod`, bound to `node`.
pub fn step(
    pod: &Pod,
    node: &Node,
    memory: &PodMemory,
    t: &SimTime,
    cfg: &KubeletConfig,
) -> KubeletStep {
    let mut out = KubeletStep {
        memory: memory.clone(),
        ..KubeletStep::default()
    };
    let node_name = node.metadata.name.clone().unwrap_or_default();
    let at = t.time();
    let terminal = matches!(phase(pod), "Succeeded" | "Failed");
    let admitted = *out.memory.admitted.get_or_insert(t.now);

    // Graceful deletion.
    if pod.metadata.deletion_timestamp.is_some() {
        if terminal {
            out.actions.push(KubeletAction::Remove);
            return out;
        }
        let first = out.memory.deletion_seen.is_none();
        let seen = *out.memory.deletion_seen.get_or_insert(t.now);
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                pod.spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(DEFAULT_GRACE_SECONDS);
        if phase(pod) != "Running" {
            // Nothing ran: the kubelet reports containers it could not locate.
            out.actions
                .push(KubeletAction::UpdateStatus(Box::new(never_ran_status(
                    pod, node, &at,
                ))));
            out.actions.push(KubeletAction::Remove);
            return out;
        }
        if first {
            for (name, _) in container_names(pod) {
                out.event(
                    &node_name,
                    EventType::Normal,
                    "Killing",
                    format!("Stopping container {name}"),
                    Some(&name),
                );
            }
        }
        let stop = stop_plan(on_sigterm(pod), grace);
        match t.remaining(seen, stop.after) {
            Some(left) => out.requeue_after = Some(left),
            None => {
                out.actions
                    .push(KubeletAction::UpdateStatus(Box::new(terminated_status(
                        pod,
                        node,
                        stop.exit_code,
                        &at,
                    ))));
                out.actions.push(KubeletAction::Remove);
            }
        }
        return out;
    }
    if terminal {
        return out;
    }

    match phase(pod) {
        "Running" => {
            let started = *out
                .memory
                .started
                .get_or_insert_with(|| running_started_at(pod).map_or(t.now, |s| s.0));
            let Some(after) = exit_after(pod) else {
                return out;
            };
            if let Some(left) = t.remaining(started, after) {
                out.requeue_after = Some(left);
                return out;
            }
            let code = exit_code(pod);
            let restart_policy = pod
                .spec
                .as_ref()
                .and_then(|s| s.restart_policy.as_deref())
                .unwrap_or("Always");
            let restart =
                restart_policy == "Always" || (restart_policy == "OnFailure" && code != 0);
            if restart {
                // The container ran to its end and starts again in place.
                let n = restarts(pod) + 1;
                let last = terminated_state(running_started_at(pod), code, &at, None);
                out.actions
                    .push(KubeletAction::UpdateStatus(Box::new(running_status(
                        pod,
                        node,
                        &at,
                        n,
                        Some(last),
                    ))));
                out.memory.started = Some(t.now);
                out.requeue_after = Some(t.scale.real(after));
            } else {
                out.actions
                    .push(KubeletAction::UpdateStatus(Box::new(terminated_status(
                        pod, node, code, &at,
                    ))));
            }
        }
        _ => {
            // Pending and bound: ContainerCreating, then Running after the start delay.
            match t.remaining(admitted, start_delay(pod, cfg.start_delay)) {
                Some(left) => {
                    let creating = waiting_status(pod, node, &at);
                    let already = pod
                        .status
                        .as_ref()
                        .and_then(|s| s.container_statuses.as_ref())
                        .is_some_and(|cs| !cs.is_empty());
                    if !already {
                        out.actions
                            .push(KubeletAction::UpdateStatus(Box::new(creating)));
                    }
                    out.requeue_after = Some(left);
                }
                None => {
                    for (name, image) in container_names(pod) {
                        out.event(
                            &node_name,
                            EventType::Normal,
                            "Pulled",
                            format!("Container image \"{image}\" already present on machine"),
                            Some(&name),
                        );
                        out.event(
                            &node_name,
                            EventType::Normal,
                            "Created",
                            format!("Created container: {name}"),
                            Some(&name),
                        );
                        out.event(
                            &node_name,
                            EventType::Normal,
                            "Started",
                            format!("Started container {name}"),
                            Some(&name),
                        );
                    }
                    out.actions
                        .push(KubeletAction::UpdateStatus(Box::new(running_status(
                            pod, node, &at, 0, None,
                        ))));
                    out.memory.started = Some(t.now);
                    if let Some(after) = exit_after(pod) {
                        out.requeue_after = Some(t.scale.real(after));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
