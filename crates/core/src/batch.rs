//! The AWS Batch domain: states, the mapping from a Kubernetes Job and its pods to a Batch
//! state, the TerminateJob/CancelJob decision table, JobDetail/JobSummary, request
//! validation and ListJobs paging.
//!
//! Everything here is pure: no `kube::`, no `k8s_openapi::`, no HTTP. The kube layer fills
//! the small view structs in [`view`] from API objects and calls these functions.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod attempts;
mod definition;
mod depends;
mod detail;
mod list;
mod queue;
mod submit;
mod validate;
mod view;

pub use attempts::{
    MAX_KEPT_ATTEMPTS, MAX_KEPT_CONTAINERS, MAX_KEPT_NAME_BYTES, MAX_KEPT_REASON_BYTES,
    keep_attempts, merge_attempts,
};
pub use definition::{
    ContainerProperties, DefinitionContent, DefinitionQuery, DefinitionRef, DefinitionStatus,
    EksContainer, EksEnvironmentVariable, EksMetadata, EksPodProperties, EksProperties,
    EksResources, EvaluateOnExit, ImagePullSecret, JobDefinition, JobTimeout, KeyValuePair,
    ResourceRequirement, ResourceType, RetryStrategy, job_definition_arn, validate_definition_name,
};
pub use depends::{
    ArrayJobDependency, DEPENDENT_JOB_FAILED, DependencyOutcome, DependencyState, Gate,
    JobDependency, gate, is_sequential,
};
pub use detail::{
    ArrayPropertiesDetail, ArrayPropertiesSummary, AttemptContainerDetail, AttemptDetail,
    ContainerDetail, ContainerSummary, DetailContext, EksAttemptContainerDetail, EksAttemptDetail,
    EksPodPropertiesDetail, EksPropertiesDetail, JobDetail, JobSummary, SubmittedDetail,
    array_child_detail, array_children, job_arn, job_detail,
};
pub use list::{
    ListFilter, ListKey, ListPage, ListParams, ListQuery, ListScope, ListSelection, paginate,
    paginate_by,
};
pub use queue::{
    ComputeEnvironmentOrder, JobQueueDetail, QueueConfig, QueueConfigError, QueueState, Queues,
    is_dns_label, is_label_value, job_queue_arn, queue_name,
};
pub use submit::{
    ArrayProperties, ContainerOverrides, ContainerPlan, EksPodPropertiesOverride,
    EksPropertiesOverride, EnvPlan, EnvValue, FailureAction, FailureRule, JobPlan, PlanContext,
    PodPlan, Submission, SubmitCommand, SubmitJobRequest, label_safe, plan,
};
pub use validate::{
    BulkEntry, DescribeCommand, Error, MAX_BULK_JOBS, MAX_DESCRIBE_JOBS, MAX_REASON_CHARS, Result,
    TerminateCommand, bulk_commands, split_array_child, truncate_utf8,
};
pub use view::{
    AttemptContainerView, AttemptView, ConditionView, ContainerView, IndexSet, JobView, PodPhase,
    PodView, TerminationPhase, TerminationView,
};

/// An AWS Batch job status, in lifecycle order.
///
/// Mapping choices (see [`batch_state`]): `SUBMITTED` is never produced from Kubernetes
/// objects: it is the instant before Batch's scheduler looks at a job, and SubmitJob creates
/// the Job already past it. `PENDING` is a job waiting for its `dependsOn` jobs: a Job created
/// suspended with the `batch-terminator.dev/depends-on` annotation, not yet released by the
/// dependency controller. Any other Job that waits for anything (suspended by a queue manager,
/// unschedulable, no pod yet) is `RUNNABLE`, which is what Batch shows for a job waiting for
/// capacity. `SUBMITTED` still parses, so a ListJobs filter on it is valid and matches
/// nothing.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchState {
    Submitted,
    Pending,
    Runnable,
    Starting,
    Running,
    Succeeded,
    Failed,
}

impl BatchState {
    /// Every state, in lifecycle order.
    pub const ALL: [BatchState; 7] = [
        BatchState::Submitted,
        BatchState::Pending,
        BatchState::Runnable,
        BatchState::Starting,
        BatchState::Running,
        BatchState::Succeeded,
        BatchState::Failed,
    ];

    /// The AWS wire form, e.g. `RUNNABLE`.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Submitted => "SUBMITTED",
            BatchState::Pending => "PENDING",
            BatchState::Runnable => "RUNNABLE",
            BatchState::Starting => "STARTING",
            BatchState::Running => "RUNNING",
            BatchState::Succeeded => "SUCCEEDED",
            BatchState::Failed => "FAILED",
        }
    }

    /// SUCCEEDED or FAILED: nothing will change any more.
    pub fn is_final(self) -> bool {
        match self {
            BatchState::Succeeded | BatchState::Failed => true,
            BatchState::Submitted
            | BatchState::Pending
            | BatchState::Runnable
            | BatchState::Starting
            | BatchState::Running => false,
        }
    }

    /// STARTING or RUNNING: a pod is on a node now, so ending the job means terminating work
    /// (not cancelling a queued job). Final states are not "started" in this sense.
    pub fn is_started(self) -> bool {
        match self {
            BatchState::Starting | BatchState::Running => true,
            BatchState::Submitted
            | BatchState::Pending
            | BatchState::Runnable
            | BatchState::Succeeded
            | BatchState::Failed => false,
        }
    }

    /// SUBMITTED, PENDING or RUNNABLE: queued, nothing on a node yet.
    pub fn is_queued(self) -> bool {
        match self {
            BatchState::Submitted | BatchState::Pending | BatchState::Runnable => true,
            BatchState::Starting
            | BatchState::Running
            | BatchState::Succeeded
            | BatchState::Failed => false,
        }
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BatchState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BatchState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| Error::Invalid {
                field: "jobStatus",
                message: format!(
                    "{s:?} is not a job status; expected one of SUBMITTED, PENDING, RUNNABLE, \
                     STARTING, RUNNING, SUCCEEDED, FAILED"
                ),
            })
    }
}

/// What the caller asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TerminateKind {
    /// TerminateJob: cancel if queued, terminate if started.
    #[default]
    Terminate,
    /// CancelJob: cancel if queued, otherwise no change.
    Cancel,
}

impl TerminateKind {
    /// The AWS operation name, for logs.
    pub fn operation(self) -> &'static str {
        match self {
            TerminateKind::Terminate => "TerminateJob",
            TerminateKind::Cancel => "CancelJob",
        }
    }
}

/// What is done to the Kubernetes Job. The lowercase form is the value of the
/// `batch-terminator.dev/action` annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Suspend, then delete the Job with `propagationPolicy: Background`.
    Cancel,
    /// Fence with `activeDeadlineSeconds: 0`, then delete the remaining pods.
    Terminate,
}

impl Action {
    /// `cancel` or `terminate`, as written in the annotation.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Terminate => "terminate",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of the state table (README, "TerminateJob and CancelJob, state by state").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Cancel,
    Terminate,
    /// Finished already, or CancelJob on a started job: answer 200 and change nothing.
    NoChange,
}

impl Decision {
    /// The action to carry out, if any.
    pub fn action(self) -> Option<Action> {
        match self {
            Decision::Cancel => Some(Action::Cancel),
            Decision::Terminate => Some(Action::Terminate),
            Decision::NoChange => None,
        }
    }
}

const COND_COMPLETE: &str = "Complete";
const COND_SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
const COND_FAILED: &str = "Failed";
const COND_FAILURE_TARGET: &str = "FailureTarget";
/// The conditions [`JobView::outcome`] reads.
const FINAL_CONDITIONS: [&str; 4] = [
    COND_COMPLETE,
    COND_SUCCESS_CRITERIA_MET,
    COND_FAILED,
    COND_FAILURE_TARGET,
];

/// The Batch state of a Job, from its conditions and its pods.
///
/// | Kubernetes | Batch |
/// |---|---|
/// | condition `Complete` (or `SuccessCriteriaMet`, its 1.31+ forerunner) is True | SUCCEEDED |
/// | condition `Failed` (or `FailureTarget`, its 1.31+ forerunner) is True | FAILED |
/// | the dependency controller failed it (a dependency failed) | FAILED |
/// | `spec.suspend: true`, `dependsOn` not yet released | PENDING |
/// | `spec.suspend: true` otherwise | RUNNABLE |
/// | not yet seen by the Job controller: no `status.startTime`, no condition, no pod (and no `dependsOn`) | SUBMITTED |
/// | a pod in phase Running | RUNNING |
/// | a pod bound to a node (`nodeName` set), not yet running | STARTING |
/// | otherwise (no pod, unschedulable pods, only finished pods awaiting a retry) | RUNNABLE |
///
/// Terminating pods (deletion requested) still count: their containers run until they stop,
/// as a terminated AWS job stays RUNNING until its container has stopped.
pub fn batch_state(job: &JobView, pods: &[PodView]) -> BatchState {
    if let Some(outcome) = job.outcome() {
        return outcome;
    }
    if job.dependencies == Some(DependencyOutcome::Failed) {
        return BatchState::Failed;
    }
    if job.suspended {
        return match job.is_held() {
            true => BatchState::Pending,
            false => BatchState::Runnable,
        };
    }
    if job.is_unseen() && pods.is_empty() {
        return BatchState::Submitted;
    }
    pods_state(pods.iter())
}

impl JobView {
    /// The final state the Job's conditions show, if any: SUCCEEDED once `Complete` (or
    /// `SuccessCriteriaMet`) is True, FAILED once `Failed` (or `FailureTarget`) is True. The
    /// forerunners count because on 1.31+ the Job controller sets them first and the final
    /// condition only once the pods are gone: the job's outcome is decided by then.
    pub fn outcome(&self) -> Option<BatchState> {
        if self.condition_true(COND_COMPLETE) || self.condition_true(COND_SUCCESS_CRITERIA_MET) {
            Some(BatchState::Succeeded)
        } else if self.condition_true(COND_FAILED) || self.condition_true(COND_FAILURE_TARGET) {
            Some(BatchState::Failed)
        } else {
            None
        }
    }

    /// Accepted by the API server, not yet taken up by the Job controller, which sets
    /// `status.startTime` (or, for a suspended Job, the `Suspended` condition) on its first
    /// look: AWS's SUBMITTED, a job its scheduler has not evaluated yet. A job with
    /// `dependsOn` is PENDING from the start, and RUNNABLE after its release even before
    /// the Job controller looks again, so that its state never goes back.
    pub fn is_unseen(&self) -> bool {
        self.start_time.is_none() && self.conditions.is_empty() && self.depends_on.is_empty()
    }

    /// The Job has finished, in either direction: see [`JobView::outcome`].
    pub fn is_finished(&self) -> bool {
        self.outcome().is_some()
    }

    /// When the last of the conditions behind [`JobView::outcome`] became True (`Failed`
    /// comes after `FailureTarget`, once the pods are gone).
    pub fn finished_at(&self) -> Option<Timestamp> {
        self.conditions
            .iter()
            .filter(|c| c.is_true() && FINAL_CONDITIONS.contains(&c.type_.as_str()))
            .filter_map(|c| c.last_transition)
            .max()
    }
}

/// RUNNING / STARTING / RUNNABLE from a set of pods of a non-final, non-suspended Job.
fn pods_state<'a>(pods: impl Iterator<Item = &'a PodView>) -> BatchState {
    let mut state = BatchState::Runnable;
    for pod in pods {
        match pod.phase {
            PodPhase::Running => return BatchState::Running,
            PodPhase::Pending | PodPhase::Unknown => {
                if pod.node_name.is_some() {
                    state = BatchState::Starting;
                }
            }
            // A finished pod of an unfinished Job waits for a retry: that is RUNNABLE.
            PodPhase::Succeeded | PodPhase::Failed => {}
        }
    }
    state
}

/// The state table (README, "TerminateJob and CancelJob, state by state").
pub fn decide_state(state: BatchState, kind: TerminateKind) -> Decision {
    match (state, kind) {
        (
            BatchState::Submitted | BatchState::Pending | BatchState::Runnable,
            TerminateKind::Terminate | TerminateKind::Cancel,
        ) => Decision::Cancel,
        (BatchState::Starting | BatchState::Running, TerminateKind::Terminate) => {
            Decision::Terminate
        }
        (BatchState::Starting | BatchState::Running, TerminateKind::Cancel) => Decision::NoChange,
        (
            BatchState::Succeeded | BatchState::Failed,
            TerminateKind::Terminate | TerminateKind::Cancel,
        ) => Decision::NoChange,
    }
}

#[cfg(test)]
mod tests;
