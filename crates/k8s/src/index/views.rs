//! Conversions from Kubernetes objects to the domain's plain views.

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::JobEntry;
use crate::batch::{
    self, BatchState, ConditionView, ContainerView, DetailContext, JobDetail, JobView, PodPhase,
    PodView, TerminationPhase, TerminationView,
};
use crate::record::{DEPENDENCIES_ANNOTATION, DEPENDS_ON_ANNOTATION, JobTermination};

const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// The `dependsOn` a Job carries in its annotation. A value that does not parse is no
/// dependency (the Job is then an ordinary suspended one, RUNNABLE), and is logged.
pub fn depends_on(job: &Job) -> Vec<batch::JobDependency> {
    let Some(value) = job.annotations().get(DEPENDS_ON_ANNOTATION) else {
        return Vec::new();
    };
    serde_json::from_str(value).unwrap_or_else(|error| {
        tracing::debug!(job = %job.name_any(), %error, "the {DEPENDS_ON_ANNOTATION} annotation does not parse; ignored");
        Vec::new()
    })
}

/// What the dependency controller decided for a Job, if anything.
pub fn dependency_outcome(job: &Job) -> Option<batch::DependencyOutcome> {
    job.annotations()
        .get(DEPENDENCIES_ANNOTATION)
        .and_then(|v| batch::DependencyOutcome::parse(v))
}

pub fn job_view(job: &Job) -> JobView {
    let spec = job.spec.as_ref();
    let status = job.status.as_ref();
    JobView {
        uid: job.uid().unwrap_or_default(),
        name: job.name_any(),
        namespace: job.namespace().unwrap_or_default(),
        labels: job.labels().clone(),
        annotations: job.annotations().clone(),
        created_at: job
            .creation_timestamp()
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_default(),
        suspended: spec.and_then(|s| s.suspend).unwrap_or(false),
        parallelism: spec.and_then(|s| s.parallelism),
        completions: spec.and_then(|s| s.completions),
        indexed: spec.and_then(|s| s.completion_mode.as_deref()) == Some("Indexed"),
        conditions: status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| ConditionView {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition: c.last_transition_time.as_ref().map(|t| t.0),
            })
            .collect(),
        start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        completion_time: status.and_then(|s| s.completion_time.as_ref()).map(|t| t.0),
        active_deadline_seconds: spec.and_then(|s| s.active_deadline_seconds),
        deleted: job.metadata.deletion_timestamp.is_some(),
        completed_indexes: status.and_then(|s| s.completed_indexes.clone()),
        failed_indexes: status.and_then(|s| s.failed_indexes.clone()),
        ended_pods: status.map_or(0, |s| {
            s.succeeded
                .unwrap_or(0)
                .saturating_add(s.failed.unwrap_or(0))
        }),
        depends_on: depends_on(job),
        dependencies: dependency_outcome(job),
    }
}

pub fn pod_view(pod: &Pod) -> PodView {
    let status = pod.status.as_ref();
    let index = pod
        .annotations()
        .get(COMPLETION_INDEX)
        .or_else(|| pod.labels().get(COMPLETION_INDEX))
        .and_then(|i| i.parse().ok());
    let containers = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| {
            let state = c.state.as_ref();
            let running = state.and_then(|s| s.running.as_ref());
            let terminated = state.and_then(|s| s.terminated.as_ref());
            let waiting = state.and_then(|s| s.waiting.as_ref());
            ContainerView {
                name: c.name.clone(),
                exit_code: terminated.map(|t| t.exit_code),
                reason: terminated
                    .and_then(|t| t.reason.clone())
                    .or_else(|| waiting.and_then(|w| w.reason.clone())),
                started_at: running
                    .and_then(|r| r.started_at.as_ref())
                    .or_else(|| terminated.and_then(|t| t.started_at.as_ref()))
                    .map(|t| t.0),
                finished_at: terminated.and_then(|t| t.finished_at.as_ref()).map(|t| t.0),
                running: running.is_some(),
            }
        })
        .collect();
    PodView {
        name: pod.name_any(),
        namespace: pod.namespace().unwrap_or_default(),
        uid: pod.uid().unwrap_or_default(),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: PodPhase::parse(status.and_then(|s| s.phase.as_deref())),
        reason: status.and_then(|s| s.reason.clone()),
        message: status.and_then(|s| s.message.clone()),
        created_at: pod
            .creation_timestamp()
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_default(),
        start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        deletion_timestamp: pod.metadata.deletion_timestamp.as_ref().map(|t| t.0),
        completion_index: index,
        containers,
        pod_scheduled: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
            .map(|c| c.status == "True"),
    }
}

pub fn pod_views<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Vec<PodView> {
    pods.into_iter().map(pod_view).collect()
}

/// The record as the domain sees it. The action is the status's, or, in the moment between the
/// controller's Job patch and its status write, the one the Job's annotations show.
pub fn termination_view(record: &JobTermination, job: Option<&Job>) -> TerminationView {
    let status = record.status.clone().unwrap_or_default();
    TerminationView {
        requested: record.spec.operation,
        action: crate::controller::decide::decided_action(record, job),
        reason: record.spec.reason.clone(),
        requested_at: record.spec.requested_at,
        state_before: status.state_before,
        phase: match status.phase.unwrap_or_default() {
            // A TerminateJob after a no-op CancelJob: the controller decides again.
            TerminationPhase::NoChange if crate::controller::decide::is_redecided(record) => {
                TerminationPhase::Pending
            }
            phase => phase,
        },
        completed_at: status.completed_at.or(status.stopped_at),
        job_name: record.spec.job_name.clone(),
        job_namespace: record.namespace().unwrap_or_default(),
        job_created_at: Some(record.spec.job_created_at),
        job_started_at: status.started_at,
        attempts: status.attempts,
    }
}

/// DescribeJobs' answer for one job the index found. `id` is its job ID (for a child, its
/// array parent's); `child` selects one index of an array job. `None` when there is nothing
/// to describe (no Job and no record, or an index out of range).
pub fn entry_detail(
    entry: &JobEntry,
    id: &str,
    child: Option<u32>,
    region: &str,
    account: &str,
) -> Option<JobDetail> {
    let job = entry.job.as_deref();
    let termination = entry.record.as_deref().map(|r| termination_view(r, job));
    let pods: Vec<PodView> = entry.pods.iter().map(|p| pod_view(p)).collect();
    let queue = match (job, entry.record.as_deref()) {
        (Some(job), _) => super::job_queue(job),
        (None, Some(record)) => super::record_queue(record),
        (None, None) => return None,
    };
    let ctx = DetailContext {
        region: region.to_string(),
        account: account.to_string(),
        job_id: id.to_string(),
        job_queue: queue,
    };
    let view = job.map(job_view);
    match child {
        None => batch::job_detail(view.as_ref(), &pods, termination.as_ref(), &ctx),
        Some(index) => {
            batch::array_child_detail(view.as_ref()?, &pods, index, termination.as_ref(), &ctx)
        }
    }
}

/// The Batch state of a Job with these pods.
pub fn batch_state<'a>(job: &Job, pods: impl IntoIterator<Item = &'a Pod>) -> BatchState {
    batch::batch_state(&job_view(job), &pod_views(pods))
}

/// When the job first had a running container, if it did.
pub fn started_at<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> Option<Timestamp> {
    pod_views(pods).iter().filter_map(PodView::started_at).min()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStatus, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(node: Option<&str>, phase: &str, running: bool) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_name: node.map(Into::into),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "main".into(),
                    state: Some(ContainerState {
                        running: running.then(|| ContainerStateRunning {
                            started_at: Some(Time(k8s_openapi::jiff::Timestamp::now())),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Job `ns/j` (uid `uid-1`, resourceVersion 7), suspended or not, with `condition` True.
    pub(crate) fn job(suspend: bool, condition: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                name: Some("j".into()),
                namespace: Some("ns".into()),
                uid: Some("uid-1".into()),
                resource_version: Some("7".into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                suspend: Some(suspend),
                ..Default::default()
            }),
            status: Some(JobStatus {
                conditions: condition.map(|c| {
                    vec![JobCondition {
                        type_: c.into(),
                        status: "True".into(),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn states_from_kubernetes_objects() {
        assert_eq!(batch_state(&job(true, None), &[]), BatchState::Runnable);
        assert_eq!(
            batch_state(&job(false, None), &[pod(None, "Pending", false)]),
            BatchState::Runnable
        );
        assert_eq!(
            batch_state(&job(false, None), &[pod(Some("n"), "Pending", false)]),
            BatchState::Starting
        );
        assert_eq!(
            batch_state(&job(false, None), &[pod(Some("n"), "Running", true)]),
            BatchState::Running
        );
        assert_eq!(
            batch_state(&job(false, Some("Complete")), &[]),
            BatchState::Succeeded
        );
        assert_eq!(
            batch_state(&job(false, Some("Failed")), &[]),
            BatchState::Failed
        );
        assert!(job_view(&job(false, Some("Failed"))).is_finished());
        // On 1.31+ FailureTarget comes first, Failed once the pods are gone: both are final,
        // for DescribeJobs and the controller alike.
        assert!(job_view(&job(false, Some("FailureTarget"))).is_finished());
        assert!(job_view(&job(false, Some("SuccessCriteriaMet"))).is_finished());
        assert!(!job_view(&job(true, Some("Suspended"))).is_finished());
    }

    #[test]
    fn running_containers_give_the_start_time() {
        let p = pod(Some("n"), "Running", true);
        assert!(started_at([&p]).is_some());
        assert!(started_at([&pod(Some("n"), "Pending", false)]).is_none());
    }
}
