//! JobDetail (DescribeJobs) and JobSummary (ListJobs), built from views. These are the wire
//! shapes of AWS Batch 2016-08-10: camelCase, epoch milliseconds, absent fields omitted.

use std::collections::BTreeMap;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::attempts::merge_attempts;
use super::definition::{
    ContainerProperties, EksContainer, JobTimeout, KeyValuePair, ResourceRequirement, RetryStrategy,
};
use super::submit::Submission;
use super::view::{AttemptView, JobView, PodView, TerminationView};
use super::{
    Action, BatchState, COND_COMPLETE, COND_FAILED, COND_FAILURE_TARGET, COND_SUCCESS_CRITERIA_MET,
    DEPENDENT_JOB_FAILED, DependencyOutcome, JobDependency, batch_state,
};

/// Settings and lookups the kube layer supplies for one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetailContext {
    pub region: String,
    pub account: String,
    /// The Batch job ID (label `batch-terminator.dev/job-id`, else the uid). For array
    /// children, the parent's ID: the child's is derived.
    pub job_id: String,
    /// The queue name (Kueue label, `batch-terminator.dev/job-queue` label, else namespace).
    pub job_queue: String,
}

/// `arn:aws:batch:<region>:<account>:job/<id>`.
pub fn job_arn(region: &str, account: &str, job_id: &str) -> String {
    format!("arn:aws:batch:{region}:{account}:job/{job_id}")
}

/// A job as DescribeJobs returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    pub job_arn: String,
    pub job_name: String,
    pub job_id: String,
    pub job_queue: String,
    pub status: BatchState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub is_cancelled: bool,
    pub is_terminated: bool,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds; absent when the job never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Epoch milliseconds; absent until the job is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    /// One per pod that ran.
    #[serde(default)]
    pub attempts: Vec<AttemptDetail>,
    /// One per pod that ran, with its Kubernetes placement.
    #[serde(default)]
    pub eks_attempts: Vec<EksAttemptDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks_properties: Option<EksPropertiesDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_properties: Option<ArrayPropertiesDetail>,
    /// The Job's labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The jobs it waits (or waited) for, as submitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<JobDependency>,
    /// What SubmitJob recorded: `jobDefinition`, `parameters`, `container`, ... (absent for
    /// Jobs created by other means).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub submitted: Option<SubmittedDetail>,
}

/// The fields of a JobDetail that come from SubmitJob.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedDetail {
    /// The job definition's ARN, with its revision.
    pub job_definition: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// The `container` form's effective container, with the last attempt's exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<JobTimeout>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagate_tags: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_capabilities: Vec<String>,
}

/// AWS `ContainerDetail`, the fields this service knows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValuePair>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_requirements: Vec<ResourceRequirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<ContainerProperties> for ContainerDetail {
    /// The effective container as submitted: no exit yet, and the deprecated `vcpus` and
    /// `memory` already folded into `resourceRequirements`.
    fn from(c: ContainerProperties) -> Self {
        ContainerDetail {
            image: c.image,
            command: c.command,
            job_role_arn: c.job_role_arn,
            environment: c.environment,
            resource_requirements: c.resource_requirements,
            exit_code: None,
            reason: None,
        }
    }
}

impl JobDetail {
    /// Adds what SubmitJob recorded: the AWS job name, the definition, parameters, and the
    /// effective container (with the last attempt's exit) or pod containers.
    pub fn with_submission(mut self, submission: &Submission) -> JobDetail {
        if !submission.job_name.is_empty() {
            self.job_name = submission.job_name.clone();
        }
        let mut shown = submission.shown.clone();
        if let (Some(container), Some(last)) = (shown.container.as_mut(), self.attempts.last()) {
            container.exit_code = last.container.exit_code;
            container.reason = last.container.reason.clone();
        }
        if let Some(pod) = submission
            .eks_properties
            .as_ref()
            .and_then(|e| e.pod_properties.as_ref())
        {
            let detail = self.eks_properties.get_or_insert(EksPropertiesDetail {
                pod_properties: EksPodPropertiesDetail::default(),
            });
            detail.pod_properties.containers = pod.containers.clone();
            detail.pod_properties.init_containers = pod.init_containers.clone();
            detail.pod_properties.service_account_name = pod.service_account_name.clone();
        }
        self.submitted = Some(shown);
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptDetail {
    pub container: AttemptContainerDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptContainerDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksAttemptDetail {
    #[serde(default)]
    pub containers: Vec<EksAttemptContainerDetail>,
    pub pod_name: String,
    pub pod_namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksAttemptContainerDetail {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksPropertiesDetail {
    pub pod_properties: EksPodPropertiesDetail,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksPodPropertiesDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// A submitted job's pod: its ServiceAccount and containers, as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<EksContainer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<EksContainer>,
}

/// On an array parent: `size` and `statusSummary`. On a child: `index`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArrayPropertiesDetail {
    /// Children per state; every state is present, as AWS sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_summary: Option<BTreeMap<BatchState, i32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i32>,
}

/// A job as ListJobs returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub job_arn: String,
    pub job_id: String,
    pub job_name: String,
    pub created_at: i64,
    pub status: BatchState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_properties: Option<ArrayPropertiesSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArrayPropertiesSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i32>,
}

impl JobDetail {
    /// The ListJobs form. The container is the last attempt's.
    pub fn summary(&self) -> JobSummary {
        JobSummary {
            job_arn: self.job_arn.clone(),
            job_id: self.job_id.clone(),
            job_name: self.job_name.clone(),
            created_at: self.created_at,
            status: self.status,
            status_reason: self.status_reason.clone(),
            started_at: self.started_at,
            stopped_at: self.stopped_at,
            container: self.attempts.last().and_then(|a| {
                (a.container.exit_code.is_some() || a.container.reason.is_some()).then(|| {
                    ContainerSummary {
                        exit_code: a.container.exit_code,
                        reason: a.container.reason.clone(),
                    }
                })
            }),
            array_properties: self
                .array_properties
                .as_ref()
                .map(|a| ArrayPropertiesSummary {
                    size: a.size,
                    index: a.index,
                }),
        }
    }
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// `reason: message`, or whichever exists.
fn condition_text(job: &JobView, types: &[&str]) -> Option<String> {
    let cond = types
        .iter()
        .filter_map(|t| job.condition(t))
        .find(|c| c.is_true())?;
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    match (nonempty(&cond.reason), nonempty(&cond.message)) {
        (Some(r), Some(m)) => Some(format!("{r}: {m}")),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

fn condition_time(job: &JobView, types: &[&str]) -> Option<Timestamp> {
    types
        .iter()
        .filter_map(|t| job.condition(t))
        .filter(|c| c.is_true())
        .find_map(|c| c.last_transition)
}

const SUCCESS: &[&str] = &[COND_COMPLETE, COND_SUCCESS_CRITERIA_MET];
const FAILURE: &[&str] = &[COND_FAILED, COND_FAILURE_TARGET];

/// What the job and its record say, before it is shaped into a JobDetail.
struct Status {
    state: BatchState,
    reason: Option<String>,
    is_cancelled: bool,
    is_terminated: bool,
    stopped_at: Option<Timestamp>,
}

/// Merges the observed state with the termination record.
///
/// - No record, or a record that changed nothing: the observed state. `statusReason` is the
///   Job's `Failed` condition (`BackoffLimitExceeded: Job has reached the specified backoff
///   limit`) when FAILED, its `Complete` condition text if any when SUCCEEDED, else absent.
///   AWS's ECS text "Essential container in task exited" is not used: nothing in Kubernetes
///   says it.
/// - SUCCEEDED always wins: if the work finished before the action took effect, that is the
///   truth. The flags still say a termination was requested.
/// - Cancel: FAILED at once with the caller's reason; the Job is being deleted and never runs.
/// - Terminate: the caller's reason at once; the observed state (STARTING/RUNNING) until the
///   pods have stopped (Job FAILED, or the record Completed), then FAILED — as AWS keeps a
///   terminated job RUNNING until its container has stopped.
fn status(
    observed: BatchState,
    observed_reason: Option<String>,
    observed_stop: Option<Timestamp>,
    termination: Option<&TerminationView>,
    job_present: bool,
) -> Status {
    let plain = |reason| Status {
        state: observed,
        reason,
        is_cancelled: false,
        is_terminated: false,
        stopped_at: observed_stop,
    };
    let Some(t) = termination else {
        return plain(observed_reason);
    };
    let now = job_present.then_some(observed);
    let Some(action) = t.effective_action(now) else {
        return plain(observed_reason);
    };
    let is_cancelled = action == Action::Cancel;
    let is_terminated = action == Action::Terminate;
    let record_stop = t.completed_at.unwrap_or(t.requested_at);
    if observed == BatchState::Succeeded && job_present {
        return Status {
            state: observed,
            reason: observed_reason,
            is_cancelled,
            is_terminated,
            stopped_at: observed_stop,
        };
    }
    let finished =
        !job_present || observed.is_final() || t.phase == super::view::TerminationPhase::Completed;
    match action {
        Action::Cancel => Status {
            state: BatchState::Failed,
            reason: Some(t.reason.clone()),
            is_cancelled,
            is_terminated,
            stopped_at: Some(t.completed_at.or(observed_stop).unwrap_or(t.requested_at)),
        },
        Action::Terminate if finished => Status {
            state: BatchState::Failed,
            reason: Some(t.reason.clone()),
            is_cancelled,
            is_terminated,
            stopped_at: Some(observed_stop.unwrap_or(record_stop)),
        },
        Action::Terminate => Status {
            state: observed,
            reason: Some(t.reason.clone()),
            is_cancelled,
            is_terminated,
            stopped_at: None,
        },
    }
}

/// When a final Job stopped: `completionTime`, else its final condition's transition, else
/// the last container to finish.
fn job_stop(job: &JobView, state: BatchState, pods: &[&PodView]) -> Option<Timestamp> {
    let last_container = || pods.iter().filter_map(|p| p.stopped_at()).max();
    match state {
        BatchState::Succeeded => job
            .completion_time
            .or_else(|| condition_time(job, SUCCESS))
            .or_else(last_container),
        BatchState::Failed => job
            .completion_time
            .or_else(|| condition_time(job, FAILURE))
            .or_else(last_container),
        BatchState::Submitted
        | BatchState::Pending
        | BatchState::Runnable
        | BatchState::Starting
        | BatchState::Running => None,
    }
}

fn job_reason(job: &JobView, state: BatchState) -> Option<String> {
    match state {
        // The Job was failed by the fence the dependency controller set, whose condition
        // (`DeadlineExceeded`) says nothing a Batch client expects.
        BatchState::Failed if job.dependencies == Some(DependencyOutcome::Failed) => {
            Some(DEPENDENT_JOB_FAILED.to_string())
        }
        BatchState::Failed => condition_text(job, FAILURE),
        BatchState::Succeeded => condition_text(job, SUCCESS),
        BatchState::Submitted
        | BatchState::Pending
        | BatchState::Runnable
        | BatchState::Starting
        | BatchState::Running => None,
    }
}

/// Attempts and eksAttempts from merged attempts (oldest first).
fn attempt_details(all: &[AttemptView]) -> (Vec<AttemptDetail>, Vec<EksAttemptDetail>) {
    all.iter()
        .map(|a| {
            let started_at = a.started_at.map(ms);
            let stopped_at = a.stopped_at.map(ms);
            let main = a.main_container();
            let attempt = AttemptDetail {
                container: AttemptContainerDetail {
                    exit_code: main.and_then(|c| c.exit_code),
                    reason: main.and_then(|c| c.reason.clone()),
                },
                started_at,
                stopped_at,
                status_reason: a.status_reason.clone(),
            };
            let eks = EksAttemptDetail {
                containers: a
                    .containers
                    .iter()
                    .map(|c| EksAttemptContainerDetail {
                        name: c.name.clone(),
                        exit_code: c.exit_code,
                        reason: c.reason.clone(),
                    })
                    .collect(),
                pod_name: a.pod_name.clone(),
                pod_namespace: a.pod_namespace.clone(),
                node_name: a.node_name.clone(),
                started_at,
                stopped_at,
                status_reason: a.status_reason.clone(),
            };
            (attempt, eks)
        })
        .unzip()
}

/// The pod to show in `eksProperties.podProperties`: the newest, preferring one not being
/// deleted.
fn current_pod<'a>(pods: &[&'a PodView]) -> Option<&'a PodView> {
    pods.iter().copied().max_by(|a, b| {
        (a.deletion_timestamp.is_none(), a.created_at, &a.name).cmp(&(
            b.deletion_timestamp.is_none(),
            b.created_at,
            &b.name,
        ))
    })
}

/// The newest pod's name and node; once the pods are gone, the newest kept attempt's.
fn eks_properties(pod: Option<&PodView>, attempts: &[AttemptView]) -> Option<EksPropertiesDetail> {
    let (pod_name, node_name) = match pod {
        Some(p) => (p.name.clone(), p.node_name.clone()),
        None => attempts
            .last()
            .map(|a| (a.pod_name.clone(), a.node_name.clone()))?,
    };
    Some(EksPropertiesDetail {
        pod_properties: EksPodPropertiesDetail {
            pod_name: Some(pod_name),
            node_name,
            ..Default::default()
        },
    })
}

/// The attempts a record kept, for the whole job or one array child.
fn kept(termination: Option<&TerminationView>, index: Option<u32>) -> Vec<AttemptView> {
    termination
        .map_or(&[][..], |t| t.attempts.as_slice())
        .iter()
        .filter(|a| a.completion_index == index)
        .cloned()
        .collect()
}

/// The JobDetail of a job, from its Job (if it still exists), its pods and its
/// JobTermination record (if any). `None` when there is nothing to describe: no Job, and no
/// record that says what became of it.
///
/// An Indexed Job is an array parent: it gets `arrayProperties.{size, statusSummary}` and no
/// attempts or pod properties (those are on the children, see [`array_child_detail`]).
pub fn job_detail(
    job: Option<&JobView>,
    pods: &[PodView],
    termination: Option<&TerminationView>,
    ctx: &DetailContext,
) -> Option<JobDetail> {
    let Some(job) = job else {
        return record_only_detail(termination?, ctx);
    };
    let pod_refs: Vec<&PodView> = pods.iter().collect();
    let observed = batch_state(job, pods);
    let st = status(
        observed,
        job_reason(job, observed),
        job_stop(job, observed, &pod_refs),
        termination,
        true,
    );
    // Pods of a terminated job are gone; the record keeps their attempts and when it started.
    let all_attempts = merge_attempts(&kept(termination, None), pods);
    let started_at = pod_refs
        .iter()
        .filter_map(|p| p.started_at())
        .chain(all_attempts.iter().filter_map(|a| a.started_at))
        .min()
        .or(termination.and_then(|t| t.job_started_at))
        // A terminated job had started. Its record may not yet show when (the watches of the
        // record and of the pods are not ordered), and its pods may be gone: the Job's own
        // start time keeps `startedAt` from vanishing in that window.
        .or(if st.is_terminated {
            job.start_time
        } else {
            None
        });
    let mut detail = JobDetail {
        job_arn: job_arn(&ctx.region, &ctx.account, &ctx.job_id),
        job_name: job.name.clone(),
        job_id: ctx.job_id.clone(),
        job_queue: ctx.job_queue.clone(),
        status: st.state,
        status_reason: st.reason,
        is_cancelled: st.is_cancelled,
        is_terminated: st.is_terminated,
        created_at: ms(job.created_at),
        started_at: started_at.map(ms),
        stopped_at: st.stopped_at.map(ms),
        attempts: Vec::new(),
        eks_attempts: Vec::new(),
        eks_properties: None,
        array_properties: None,
        tags: job.labels.clone(),
        depends_on: job.depends_on.clone(),
        submitted: None,
    };
    if job.indexed {
        let children = children_states(job, pods, termination, ctx);
        let mut summary: BTreeMap<BatchState, i32> =
            BatchState::ALL.into_iter().map(|s| (s, 0)).collect();
        for child in &children {
            *summary.entry(child.status).or_default() += 1;
        }
        detail.array_properties = Some(ArrayPropertiesDetail {
            status_summary: Some(summary),
            size: Some(array_size(job)),
            index: None,
        });
    } else {
        let (attempts, eks_attempts) = attempt_details(&all_attempts);
        detail.attempts = attempts;
        detail.eks_attempts = eks_attempts;
        detail.eks_properties = eks_properties(current_pod(&pod_refs), &all_attempts);
    }
    Some(detail)
}

/// A job known only from its record: the Job has been deleted (cancelled, or removed by
/// `ttlSecondsAfterFinished`).
fn record_only_detail(t: &TerminationView, ctx: &DetailContext) -> Option<JobDetail> {
    let st = status(BatchState::Failed, None, None, Some(t), false);
    // A record that changed nothing tells the final state it saw, if it saw one.
    let (state, reason, stopped_at) = match t.effective_action(None) {
        Some(_) => (st.state, st.reason, st.stopped_at),
        None => (t.state_before.filter(|s| s.is_final())?, None, None),
    };
    // An array parent's attempts belong to its children, which need the Job to be listed.
    let all_attempts = kept(Some(t), None);
    let (attempts, eks_attempts) = attempt_details(&all_attempts);
    Some(JobDetail {
        job_arn: job_arn(&ctx.region, &ctx.account, &ctx.job_id),
        job_name: t.job_name.clone(),
        job_id: ctx.job_id.clone(),
        job_queue: ctx.job_queue.clone(),
        status: state,
        status_reason: reason,
        is_cancelled: st.is_cancelled,
        is_terminated: st.is_terminated,
        created_at: ms(t.job_created_at.unwrap_or(t.requested_at)),
        started_at: t
            .job_started_at
            .or_else(|| all_attempts.iter().filter_map(|a| a.started_at).min())
            .map(ms),
        stopped_at: stopped_at.map(ms),
        attempts,
        eks_attempts,
        eks_properties: eks_properties(None, &all_attempts),
        array_properties: None,
        tags: BTreeMap::new(),
        depends_on: Vec::new(),
        submitted: None,
    })
}

fn array_size(job: &JobView) -> i32 {
    job.completions.unwrap_or(0).max(0)
}

mod array;

use array::children_states;
pub use array::{array_child_detail, array_children};
