//! Plain views of the Kubernetes objects the domain reads. The kube layer fills them from
//! k8s-openapi types; the domain never sees those types.

use std::collections::BTreeMap;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Action, BatchState, DependencyOutcome, JobDependency, TerminateKind};

/// What the domain needs of a `batch/v1` Job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobView {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `metadata.creationTimestamp`.
    pub created_at: Timestamp,
    /// `spec.suspend == Some(true)`.
    pub suspended: bool,
    pub parallelism: Option<i32>,
    pub completions: Option<i32>,
    /// `spec.completionMode == "Indexed"`: the Job is an array job.
    pub indexed: bool,
    /// `status.conditions`.
    pub conditions: Vec<ConditionView>,
    /// `status.startTime` (set when the Job controller starts the Job, not when a pod runs).
    pub start_time: Option<Timestamp>,
    /// `status.completionTime`.
    pub completion_time: Option<Timestamp>,
    pub active_deadline_seconds: Option<i64>,
    /// `metadata.deletionTimestamp` is set.
    pub deleted: bool,
    /// `status.completedIndexes` as the API server sends it, e.g. `"0-2,5"`.
    pub completed_indexes: Option<String>,
    /// `status.failedIndexes` (only with `backoffLimitPerIndex`), same format.
    pub failed_indexes: Option<String>,
    /// `status.succeeded + status.failed`: the pods the Job controller has counted as ended.
    pub ended_pods: i32,
    /// The `dependsOn` of a submitted job (annotation `batch-terminator.dev/depends-on`).
    pub depends_on: Vec<JobDependency>,
    /// What the dependency controller decided (annotation `batch-terminator.dev/dependencies`).
    pub dependencies: Option<DependencyOutcome>,
}

impl JobView {
    /// The condition of this type, if any.
    pub fn condition(&self, type_: &str) -> Option<&ConditionView> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Waiting for its `dependsOn` jobs: it has some, and no outcome yet.
    pub fn is_held(&self) -> bool {
        !self.depends_on.is_empty() && self.dependencies.is_none()
    }

    /// Whether the condition of this type has status "True".
    pub fn condition_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(ConditionView::is_true)
    }
}

/// One entry of `status.conditions`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConditionView {
    /// `type`, e.g. `Complete`, `Failed`, `FailureTarget`, `Suspended`.
    pub type_: String,
    /// `"True"`, `"False"` or `"Unknown"`, as sent by the API server.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition: Option<Timestamp>,
}

impl ConditionView {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// `status.phase` of a pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PodPhase {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl PodPhase {
    /// From the API string; a missing or unrecognised phase is `Unknown`.
    pub fn parse(phase: Option<&str>) -> PodPhase {
        match phase {
            Some("Pending") => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            Some(_) | None => PodPhase::Unknown,
        }
    }

    /// Succeeded or Failed.
    pub fn is_final(self) -> bool {
        match self {
            PodPhase::Succeeded | PodPhase::Failed => true,
            PodPhase::Pending | PodPhase::Running | PodPhase::Unknown => false,
        }
    }
}

/// What the domain needs of a pod of the Job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodView {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// `spec.nodeName`: set once the pod is bound to a node.
    pub node_name: Option<String>,
    pub phase: PodPhase,
    /// `status.reason`, e.g. `Evicted`, `DeadlineExceeded`.
    pub reason: Option<String>,
    /// `status.message`.
    pub message: Option<String>,
    pub created_at: Timestamp,
    /// `status.startTime`: when the kubelet accepted the pod (before images are pulled).
    pub start_time: Option<Timestamp>,
    pub deletion_timestamp: Option<Timestamp>,
    /// The `batch.kubernetes.io/job-completion-index` annotation (or label) of Indexed Jobs.
    pub completion_index: Option<u32>,
    /// From `status.containerStatuses`, in spec order.
    pub containers: Vec<ContainerView>,
    /// The `PodScheduled` condition: `Some(false)` when unschedulable.
    pub pod_scheduled: Option<bool>,
}

impl PodView {
    /// Whether this pod ran at all: it was bound to a node and a container started (or the
    /// pod reached Running or a final phase).
    pub fn ran(&self) -> bool {
        self.node_name.is_some()
            && (matches!(
                self.phase,
                PodPhase::Running | PodPhase::Succeeded | PodPhase::Failed
            ) || self
                .containers
                .iter()
                .any(|c| c.started_at.is_some() || c.exit_code.is_some()))
    }

    /// The earliest container start, else the pod's start time if it ran.
    pub fn started_at(&self) -> Option<Timestamp> {
        self.containers
            .iter()
            .filter_map(|c| c.started_at)
            .min()
            .or(if self.ran() { self.start_time } else { None })
    }

    /// The latest container finish, once the pod is final or every container has stopped.
    pub fn stopped_at(&self) -> Option<Timestamp> {
        let all_stopped = !self.containers.is_empty()
            && self
                .containers
                .iter()
                .all(|c| !c.running && c.finished_at.is_some());
        if !(self.phase.is_final() || all_stopped) {
            return None;
        }
        self.containers.iter().filter_map(|c| c.finished_at).max()
    }
}

/// One entry of `status.containerStatuses`.
///
/// Fill it from the current state: `running` → `running: true, started_at`; `terminated` →
/// `exit_code, reason, started_at, finished_at`; `waiting` → `reason` only (e.g.
/// `ImagePullBackOff`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerView {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub running: bool,
}

/// One attempt: a pod that ran, as last seen. Built from a live pod, or kept in the
/// JobTermination record once the pod is gone (this is the record's wire form too).
// The schema descriptions are the CRD's, which must not change with these comments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(description = "One pod that ran, kept in the record.")]
pub struct AttemptView {
    #[schemars(length(max = 253))]
    pub pod_name: String,
    #[schemars(length(max = 253))]
    pub pod_namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub node_name: Option<String>,
    /// The completion index of an Indexed Job's pod (the array child).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub containers: Vec<AttemptContainerView>,
}

/// A container of an attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(description = "A container of a kept attempt.")]
pub struct AttemptContainerView {
    #[schemars(length(max = 253))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub reason: Option<String>,
}

// The schema's limits are the ones [`super::keep_attempts`] cuts to before a record is written.
const _: () = assert!(
    super::MAX_KEPT_ATTEMPTS == 10
        && super::MAX_KEPT_CONTAINERS == 10
        && super::MAX_KEPT_NAME_BYTES == 253
        && super::MAX_KEPT_REASON_BYTES == 256
);

/// Where a JobTermination record is in its life: the record's `status.phase`, whose wire
/// names are the variants' names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "Where the controller is with a record.")]
pub enum TerminationPhase {
    /// Created by the API, not yet acted on.
    #[default]
    Pending,
    /// The controller has decided and begun to act (annotated, fenced or suspended).
    InProgress,
    /// The action is complete: pods gone (terminate) or Job deleted (cancel).
    Completed,
    /// The controller found nothing to do (the Job had finished by itself, or CancelJob met a
    /// started job). The record then does not change what DescribeJobs shows.
    NoChange,
}

/// What the domain needs of a JobTermination record. The record outlives the Job, so it
/// carries a snapshot of the Job's identity and times.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TerminationView {
    /// What the caller asked for.
    pub requested: TerminateKind,
    /// The action decided by the controller, once decided.
    pub action: Option<Action>,
    /// The caller's reason. The first reason stands.
    pub reason: String,
    pub requested_at: Timestamp,
    /// The Batch state when the controller decided.
    pub state_before: Option<BatchState>,
    pub phase: TerminationPhase,
    /// When the action completed (phase Completed).
    pub completed_at: Option<Timestamp>,
    /// Snapshot of the Job's name, namespace and times, used once the Job is gone.
    pub job_name: String,
    pub job_namespace: String,
    pub job_created_at: Option<Timestamp>,
    pub job_started_at: Option<Timestamp>,
    /// The attempts the controller kept before it deleted the pods, oldest first.
    pub attempts: Vec<AttemptView>,
}

impl TerminationView {
    /// The action this record stands for, given the Job's state now (`None` when the Job is
    /// gone). `None` means the record changes nothing that DescribeJobs shows.
    pub fn effective_action(&self, now: Option<BatchState>) -> Option<Action> {
        match self.phase {
            TerminationPhase::NoChange => return None,
            TerminationPhase::Pending
            | TerminationPhase::InProgress
            | TerminationPhase::Completed => {}
        }
        if let Some(action) = self.action {
            return Some(action);
        }
        match now.or(self.state_before) {
            Some(state) => super::decide_state(state, self.requested).action(),
            // The Job vanished before anyone looked at it: nothing ran that we know of.
            None => Some(Action::Cancel),
        }
    }
}

/// A set of completion indexes in the API server's compressed form, e.g. `"1,3-5,7"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexSet {
    /// Inclusive, sorted ranges.
    ranges: Vec<(u32, u32)>,
}

impl IndexSet {
    /// Parses the API's format. Malformed parts are skipped: this is status written by the
    /// Job controller, and one bad part must not hide the rest.
    pub fn parse(s: Option<&str>) -> IndexSet {
        let mut ranges: Vec<(u32, u32)> = s
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let part = part.trim();
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                        (a <= b).then_some((a, b))
                    }
                    None => part.parse().ok().map(|i| (i, i)),
                }
            })
            .collect();
        ranges.sort_unstable();
        IndexSet { ranges }
    }

    pub fn contains(&self, index: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= index && index <= b)
    }
}
