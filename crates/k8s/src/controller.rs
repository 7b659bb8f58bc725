//! Carries out JobTermination records: read, decide (pure), annotate, record the Event, act,
//! then write status. Every step is idempotent, so a crash between any two of them is finished
//! by the next reconcile, and the Event has a deterministic name so it is written once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{Action as Requeue, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::batch::{self, Action, BatchState, Decision, TerminateKind};
use crate::index::views;
use crate::metrics::Metrics;
use crate::record::{
    ACTION_ANNOTATION, ATTEMPT_FINALIZER, JobTermination, JobTerminationStatus, KeptAttempt, Phase,
    REASON_ANNOTATION, REQUESTED_AT_ANNOTATION,
};

/// Who writes the Events, as `reportingController`.
pub const REPORTING_CONTROLLER: &str = "batch-terminator.dev/controller";
/// Field manager of every write.
pub const FIELD_MANAGER: &str = "batch-terminator";
/// How often an unfinished termination is looked at again when no watch event arrives.
const POLL: Duration = Duration::from_secs(2);
/// The limit on an Event's note, in bytes.
const NOTE_LIMIT: usize = 1024;
/// A held pod whose deletion is this much overdue (its kubelet is gone, say) is let go
/// without its final state, so the controller never keeps a pod forever.
const HOLD_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading Job {job}: {source}")]
    Read {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("annotating Job {job}: {source}")]
    Annotate {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("recording the Event for Job {job}: {source}")]
    Event {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("holding or releasing Pod {pod}: {source}")]
    Hold {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting {target}: {source}")]
    Act {
        target: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status of JobTermination {record}: {source}")]
    Status {
        record: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting expired JobTermination {record}: {source}")]
    Cleanup {
        record: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// The pipeline stage that failed, as the metrics label it.
    pub fn stage(&self) -> &'static str {
        match self {
            Error::Read { .. } => "read",
            Error::Annotate { .. } => "annotate",
            Error::Event { .. } => "event",
            Error::Hold { .. } => "hold",
            Error::Act { .. } => "act",
            Error::Status { .. } => "status",
            Error::Cleanup { .. } => "cleanup",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the controller needs, shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub metrics: Metrics,
    /// Completed records are deleted this long after completion, once their Job is gone or finished.
    pub retention: Duration,
    /// `reportingInstance` of the Events.
    pub instance: String,
}

/// The Job and its pods as the API server has them now (the pods also once the Job is gone,
/// so the ones the controller holds are let go).
struct Observed {
    job: Option<Job>,
    pods: Vec<Pod>,
}

/// The next thing to do for a record, decided from the record and the observed Job alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Persist the decision before touching the Job, so a restart carries out the same action
    /// even once the Job's state has moved (a fenced Job reads as FAILED).
    Decide {
        action: Option<Action>,
        state_before: BatchState,
        message: String,
    },
    /// Annotate (and fence or suspend), record the Event, delete, then look again.
    Carry { action: Action },
    /// Nothing is left to do: write the final status.
    Complete { message: String },
    /// Finished earlier; delete the record once retention has passed.
    Retain,
}

/// What the controller observed of the Job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    pub state: BatchState,
    /// Some pod is neither finished nor gone (terminating pods count).
    pub pods_left: bool,
}

/// Decides the next step. `seen` is None when the Job is gone (or replaced by another uid);
/// `held` says some pod still carries [`ATTEMPT_FINALIZER`], so the record is not complete.
pub fn decide(record: &JobTermination, seen: Option<Seen>, held: bool) -> Step {
    let status = record.status.clone().unwrap_or_default();
    match status.phase {
        Some(Phase::Completed | Phase::NoChange) => return Step::Retain,
        Some(Phase::Pending | Phase::InProgress) | None => {}
    }
    let Some(action) = status.action else {
        let Some(Seen { state, .. }) = seen else {
            return Step::Complete {
                message: "the Job no longer exists; nothing to do".into(),
            };
        };
        let decision = batch::decide_state(state, record.spec.operation);
        let message = match (decision, record.spec.operation) {
            (Decision::Cancel, _) => format!("cancelling the job ({state})"),
            (Decision::Terminate, _) => format!("terminating the job ({state})"),
            (Decision::NoChange, TerminateKind::Cancel) if state.is_started() => format!(
                "the job had started ({state}); CancelJob changes nothing, TerminateJob would"
            ),
            (Decision::NoChange, TerminateKind::Cancel | TerminateKind::Terminate) => {
                format!("the job had already finished ({state}); nothing to do")
            }
        };
        return Step::Decide {
            action: decision.action(),
            state_before: state,
            message,
        };
    };
    if held {
        // Keep the final state of the pods it holds, and let them go, before completing.
        return Step::Carry { action };
    }
    match (action, seen) {
        (Action::Cancel, None) => Step::Complete {
            message: "cancelled: the Job was suspended and deleted".into(),
        },
        (Action::Terminate, None) => Step::Complete {
            message: "terminated: the Job is gone".into(),
        },
        (
            Action::Terminate,
            Some(Seen {
                state: BatchState::Failed,
                pods_left: false,
            }),
        ) => Step::Complete {
            message: "terminated: the Job has failed and its pods are gone".into(),
        },
        (Action::Cancel | Action::Terminate, Some(_)) => Step::Carry { action },
    }
}

/// The annotations this product writes on a terminated or cancelled Job.
fn annotations(record: &JobTermination, action: Action) -> [(&'static str, String); 3] {
    [
        (REASON_ANNOTATION, record.spec.reason.clone()),
        (
            REQUESTED_AT_ANNOTATION,
            record.spec.requested_at.to_rfc3339(),
        ),
        (ACTION_ANNOTATION, action.as_str().to_string()),
    ]
}

/// A JSON patch, guarded by a `test` of the Job's uid, that writes the annotations and either
/// suspends the Job (cancel) or fences its controller with `activeDeadlineSeconds: 0` (terminate).
pub fn job_patch(job: &Job, record: &JobTermination, action: Action) -> serde_json::Value {
    let mut ops =
        vec![json!({"op": "test", "path": "/metadata/uid", "value": record.spec.job_uid})];
    let wanted = annotations(record, action);
    if job.metadata.annotations.is_some() {
        for (key, value) in wanted {
            let path = format!(
                "/metadata/annotations/{}",
                key.replace('~', "~0").replace('/', "~1")
            );
            ops.push(json!({"op": "add", "path": path, "value": value}));
        }
    } else {
        let map: serde_json::Map<String, serde_json::Value> = wanted
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into()))
            .collect();
        ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": map}));
    }
    match action {
        Action::Cancel => ops.push(json!({"op": "add", "path": "/spec/suspend", "value": true})),
        Action::Terminate => {
            ops.push(json!({"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 0}))
        }
    }
    serde_json::Value::Array(ops)
}

/// The attempts the record keeps after this look at the pods: those it kept, merged with the
/// pods that ran (a live pod wins), within the record's limits.
pub fn kept_attempts(record: &JobTermination, pods: &[Pod]) -> Vec<KeptAttempt> {
    let kept: Vec<batch::AttemptView> = record
        .status
        .iter()
        .flat_map(|s| &s.attempts)
        .map(batch::AttemptView::from)
        .collect();
    batch::keep_attempts(&kept, &views::pod_views(pods))
        .iter()
        .map(KeptAttempt::from)
        .collect()
}

/// The pod carries [`ATTEMPT_FINALIZER`].
fn is_held(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == ATTEMPT_FINALIZER)
}

/// Whether a held pod can be let go: its final state is in this observation (kept by the
/// status write before the release), it never reached a node, or its deletion is overdue.
pub fn releasable(pod: &Pod, now: DateTime<Utc>) -> bool {
    let view = views::pod_view(pod);
    if view.phase.is_final() {
        return true;
    }
    let limit = chrono::Duration::from_std(HOLD_LIMIT).unwrap_or(chrono::Duration::MAX);
    match view.deletion_timestamp {
        None => false,
        Some(deleted) => view.node_name.is_none() || now - deleted > limit,
    }
}

/// A JSON patch, guarded by a `test` of the pod's uid, that adds [`ATTEMPT_FINALIZER`].
pub fn hold_patch(pod: &Pod) -> serde_json::Value {
    let test = json!({"op": "test", "path": "/metadata/uid", "value": pod.uid()});
    let add = match &pod.metadata.finalizers {
        Some(_) => {
            json!({"op": "add", "path": "/metadata/finalizers/-", "value": ATTEMPT_FINALIZER})
        }
        None => json!({"op": "add", "path": "/metadata/finalizers", "value": [ATTEMPT_FINALIZER]}),
    };
    json!([test, add])
}

/// A JSON patch that removes [`ATTEMPT_FINALIZER`], guarded by `test`s of the pod's uid and of
/// the finalizer at its index; `None` when the pod does not carry it.
pub fn release_patch(pod: &Pod) -> Option<serde_json::Value> {
    let i = pod
        .finalizers()
        .iter()
        .position(|f| f == ATTEMPT_FINALIZER)?;
    let path = format!("/metadata/finalizers/{i}");
    Some(json!([
        {"op": "test", "path": "/metadata/uid", "value": pod.uid()},
        {"op": "test", "path": path, "value": ATTEMPT_FINALIZER},
        {"op": "remove", "path": path},
    ]))
}

/// True when the Job already carries this record's annotations and fence.
fn job_is_marked(job: &Job, record: &JobTermination, action: Action) -> bool {
    let have = job.annotations();
    let annotated = annotations(record, action)
        .iter()
        .all(|(k, v)| have.get(*k) == Some(v));
    let spec = job.spec.as_ref();
    let fenced = match action {
        Action::Cancel => spec.and_then(|s| s.suspend) == Some(true),
        Action::Terminate => spec.and_then(|s| s.active_deadline_seconds) == Some(0),
    };
    annotated && fenced
}

/// Cuts a note to the Event limit on a character boundary.
fn truncate_note(reason: &str) -> String {
    if reason.len() <= NOTE_LIMIT {
        return reason.to_string();
    }
    let mut end = NOTE_LIMIT;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// The one Event of a record, named after the record's uid so a retry finds it already written.
pub fn event_for(job: &Job, record: &JobTermination, action: Action, instance: &str) -> Event {
    let job_name = job.name_any();
    let (reason, verb) = match action {
        Action::Cancel => ("JobCancelled", "Cancel"),
        Action::Terminate => ("JobTerminated", "Terminate"),
    };
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{job_name}.{}", record.uid().unwrap_or_default())),
            namespace: job.namespace(),
            ..Default::default()
        },
        event_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        action: Some(verb.into()),
        reason: Some(reason.into()),
        note: Some(truncate_note(&record.spec.reason)),
        type_: Some("Normal".into()),
        reporting_controller: Some(REPORTING_CONTROLLER.into()),
        reporting_instance: Some(instance.into()),
        regarding: Some(ObjectReference {
            api_version: Some("batch/v1".into()),
            kind: Some("Job".into()),
            name: Some(job_name),
            namespace: job.namespace(),
            uid: job.uid(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn is_status(error: &kube::Error, codes: &[u16]) -> bool {
    matches!(error, kube::Error::Api(status) if codes.contains(&status.code))
}

async fn observe(ctx: &Context, record: &JobTermination) -> Result<Observed> {
    let ns = record.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let read_err = |source| Error::Read {
        job: format!("{ns}/{}", record.spec.job_name),
        source,
    };
    let job = jobs
        .get_opt(&record.spec.job_name)
        .await
        .map_err(read_err)?
        .filter(|j| j.uid().as_deref() == Some(record.spec.job_uid.as_str()));
    // Also once the Job is gone: its pods may still carry the finalizer of this controller.
    let selector = format!("batch.kubernetes.io/controller-uid={}", record.spec.job_uid);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pods = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(read_err)?
        .items;
    Ok(Observed { job, pods })
}

/// Merge-patches the record's status, conditioned on the resourceVersion it was read at: a
/// reconcile of a stale copy must not overwrite attempts kept meanwhile. `Ok(false)` when the
/// copy was stale; the newer one is reconciled next.
async fn write_status(
    ctx: &Context,
    record: &JobTermination,
    status: &impl serde::Serialize,
) -> Result<bool> {
    let ns = record.namespace().unwrap_or_default();
    let api: Api<JobTermination> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({
        "metadata": {"resourceVersion": record.resource_version()},
        "status": status,
    });
    match api
        .patch_status(
            &record.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_status(&e, &[409]) => Ok(false),
        Err(source) => Err(Error::Status {
            record: format!("{ns}/{}", record.name_any()),
            source,
        }),
    }
}

/// JSON-patches one pod; a pod that is gone, replaced or already changed is left to the next
/// look.
async fn patch_pod(ctx: &Context, pod: &Pod, patch: serde_json::Value) -> Result<()> {
    let ns = pod.namespace().unwrap_or_default();
    let hold_err = |source| Error::Hold {
        pod: format!("{ns}/{}", pod.name_any()),
        source,
    };
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|e| hold_err(kube::Error::SerdeError(e)))?;
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match pods
        .patch(&pod.name_any(), &params, &Patch::<()>::Json(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, &[404, 409, 422]) => Ok(()),
        Err(source) => Err(hold_err(source)),
    }
}

/// Puts [`ATTEMPT_FINALIZER`] on the active pods before they are stopped, so each stays in
/// the API server until its final state is kept in the record.
async fn hold(ctx: &Context, pods: &[Pod]) -> Result<()> {
    for pod in pods.iter().filter(|p| {
        p.metadata.deletion_timestamp.is_none()
            && !views::pod_view(p).phase.is_final()
            && !is_held(p)
    }) {
        patch_pod(ctx, pod, hold_patch(pod)).await?;
    }
    Ok(())
}

/// Lets go of the held pods whose final state has been kept (see [`releasable`]).
async fn release(ctx: &Context, pods: &[Pod], now: DateTime<Utc>) -> Result<()> {
    for pod in pods.iter().filter(|p| releasable(p, now)) {
        if let Some(patch) = release_patch(pod) {
            patch_pod(ctx, pod, patch).await?;
        }
    }
    Ok(())
}

/// How often pods held for a record that no longer exists are looked for.
const ORPHAN_SWEEP: Duration = Duration::from_secs(30);

/// Lets go of pods that carry [`ATTEMPT_FINALIZER`] although their record is gone (deleted by
/// hand), which no reconcile would ever release. Runs until the task is aborted.
pub async fn release_orphans(ctx: Arc<Context>, index: crate::index::Index) {
    index.wait_synced().await;
    let mut every = tokio::time::interval(ORPHAN_SWEEP);
    loop {
        every.tick().await;
        for pod in index.orphaned_held_pods() {
            let Some(patch) = release_patch(&pod) else {
                continue;
            };
            tracing::info!(pod = %pod.name_any(), "releasing a pod held for a deleted record");
            if let Err(error) = patch_pod(&ctx, &pod, patch).await {
                tracing::warn!(%error, "could not release a pod held for a deleted record");
            }
        }
    }
}

/// Annotates and fences (or suspends) the Job, then records the Event. Both are idempotent,
/// and both are done even when the Job has meanwhile finished, so every terminated or cancelled
/// Job carries its reason.
async fn mark(ctx: &Context, record: &JobTermination, action: Action, job: &Job) -> Result<()> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if !job_is_marked(job, record, action) {
        let annotate_err = |source| Error::Annotate {
            job: format!("{ns}/{name}"),
            source,
        };
        let patch: json_patch::Patch = serde_json::from_value(job_patch(job, record, action))
            .map_err(|e| annotate_err(kube::Error::SerdeError(e)))?;
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match jobs.patch(&name, &params, &Patch::<()>::Json(patch)).await {
            Ok(_) => {}
            // The uid test failed: the Job was replaced; the next read sees it gone.
            Err(e) if is_status(&e, &[404, 409, 422]) => return Ok(()),
            Err(source) => return Err(annotate_err(source)),
        }
    }

    let events: Api<Event> = Api::namespaced(ctx.client.clone(), &ns);
    match events
        .create(
            &PostParams::default(),
            &event_for(job, record, action, &ctx.instance),
        )
        .await
    {
        Ok(_) => {}
        Err(e) if is_status(&e, &[409]) => {}
        Err(source) => {
            return Err(Error::Event {
                job: format!("{ns}/{name}"),
                source,
            });
        }
    }

    Ok(())
}

/// Deletes the Job (cancel) or its remaining pods (terminate), after [`mark`].
async fn carry(
    ctx: &Context,
    record: &JobTermination,
    action: Action,
    observed: &Observed,
) -> Result<()> {
    let Some(job) = &observed.job else {
        return Ok(());
    };
    match action {
        // Held before the fence, which makes the Job controller delete them too.
        Action::Terminate => hold(ctx, &observed.pods).await?,
        Action::Cancel => {}
    }
    mark(ctx, record, action, job).await?;
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let uid_precondition = |uid: Option<String>| Preconditions {
        uid,
        resource_version: None,
    };
    match action {
        Action::Cancel => {
            let params = DeleteParams::background().preconditions(uid_precondition(job.uid()));
            match jobs.delete(&name, &params).await {
                Ok(_) => {}
                Err(e) if is_status(&e, &[404, 409]) => {}
                Err(source) => {
                    return Err(Error::Act {
                        target: format!("Job {ns}/{name}"),
                        source,
                    });
                }
            }
        }
        Action::Terminate => {
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            for pod in observed
                .pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
            {
                let params = DeleteParams::default().preconditions(uid_precondition(pod.uid()));
                match pods.delete(&pod.name_any(), &params).await {
                    Ok(_) => {}
                    Err(e) if is_status(&e, &[404, 409]) => {}
                    Err(source) => {
                        return Err(Error::Act {
                            target: format!("Pod {ns}/{}", pod.name_any()),
                            source,
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Deletes a completed record once retention has passed and its Job is gone or finished.
async fn retain(
    ctx: &Context,
    record: &JobTermination,
    observed: &Observed,
    now: DateTime<Utc>,
) -> Result<Requeue> {
    let completed = record
        .status
        .as_ref()
        .and_then(|s| s.completed_at)
        .unwrap_or(now);
    let retention = chrono::Duration::from_std(ctx.retention).unwrap_or(chrono::Duration::MAX);
    let expires = completed + retention;
    let job_settled = match &observed.job {
        None => true,
        Some(job) => views::is_finished(job),
    };
    if now < expires || !job_settled {
        let wait = (expires - now).to_std().unwrap_or(POLL).max(POLL);
        return Ok(Requeue::requeue(wait));
    }
    let ns = record.namespace().unwrap_or_default();
    let api: Api<JobTermination> = Api::namespaced(ctx.client.clone(), &ns);
    let params = DeleteParams::default().preconditions(Preconditions {
        uid: record.uid(),
        resource_version: None,
    });
    match api.delete(&record.name_any(), &params).await {
        Ok(_) => Ok(Requeue::await_change()),
        Err(e) if is_status(&e, &[404, 409]) => Ok(Requeue::await_change()),
        Err(source) => Err(Error::Cleanup {
            record: format!("{ns}/{}", record.name_any()),
            source,
        }),
    }
}

#[tracing::instrument(skip_all, fields(record = %record.name_any(), namespace = record.namespace().unwrap_or_default(), job = %record.spec.job_name))]
async fn reconcile(record: Arc<JobTermination>, ctx: Arc<Context>) -> Result<Requeue> {
    let started = std::time::Instant::now();
    let now = Utc::now();
    let observed = observe(&ctx, &record).await?;
    let seen = observed.job.as_ref().map(|job| Seen {
        state: views::batch_state(job, &observed.pods),
        pods_left: observed
            .pods
            .iter()
            .any(|p| !views::pod_view(p).phase.is_final()),
    });
    let held = observed.pods.iter().any(is_held);
    let step = decide(&record, seen, held);
    tracing::debug!(?step, ?seen, "reconciling");
    let requeue = match step {
        Step::Retain => return retain(&ctx, &record, &observed, now).await,
        Step::Decide {
            action,
            state_before,
            message,
        } => {
            let phase = match action {
                Some(_) => Phase::InProgress,
                None => Phase::NoChange,
            };
            let started_at = views::started_at(&observed.pods);
            // A record that changes nothing keeps no attempts: the Job's own pods tell them.
            let attempts = match action {
                Some(_) => kept_attempts(&record, &observed.pods),
                None => Vec::new(),
            };
            let status = JobTerminationStatus {
                phase: Some(phase),
                action,
                state_before: Some(state_before),
                started_at,
                stopped_at: Some(now),
                completed_at: action.is_none().then_some(now),
                message: Some(message),
                attempts,
            };
            if !write_status(&ctx, &record, &status).await? {
                return Ok(Requeue::requeue(POLL));
            }
            let action = action.map_or("none", Action::as_str);
            tracing::info!(action, state = %state_before, "decided");
            ctx.metrics.controller.reconciled(action, started.elapsed());
            // The status change triggers the next reconcile, which carries the action out.
            Requeue::await_change()
        }
        Step::Carry { action } => {
            // Keep what the pods show before anything is deleted or let go.
            let attempts = kept_attempts(&record, &observed.pods);
            let kept = record.status.as_ref().map(|s| s.attempts.as_slice());
            if kept.unwrap_or_default() != attempts.as_slice()
                && !write_status(&ctx, &record, &json!({"attempts": attempts})).await?
            {
                return Ok(Requeue::requeue(POLL));
            }
            release(&ctx, &observed.pods, now).await?;
            carry(&ctx, &record, action, &observed).await?;
            ctx.metrics
                .controller
                .reconciled(action.as_str(), started.elapsed());
            Requeue::requeue(POLL)
        }
        Step::Complete { message } => {
            if let (Some(action), Some(job)) =
                (record.status.as_ref().and_then(|s| s.action), &observed.job)
            {
                mark(&ctx, &record, action, job).await?;
            }
            let mut status = record.status.clone().unwrap_or_default();
            status.phase = Some(Phase::Completed);
            status.completed_at = Some(now);
            status.stopped_at.get_or_insert(now);
            status.message = Some(message);
            status.attempts = kept_attempts(&record, &observed.pods);
            if !write_status(&ctx, &record, &status).await? {
                return Ok(Requeue::requeue(POLL));
            }
            tracing::info!("termination complete");
            Requeue::await_change()
        }
    };
    Ok(requeue)
}

fn error_policy(record: Arc<JobTermination>, error: &Error, ctx: Arc<Context>) -> Requeue {
    tracing::warn!(record = %record.name_any(), stage = error.stage(), %error, "reconcile failed");
    ctx.metrics.controller.failed(error.stage());
    Requeue::requeue(POLL)
}

/// Runs the controller until `shutdown` turns true. `triggers` carries records whose Job or
/// pods changed (from the index), so a record is looked at again as soon as its Job moves.
///
/// With a list of namespaces there is one controller per namespace, each watching only its own
/// namespace, so namespaced RBAC (Roles, no ClusterRole) is enough.
pub async fn run(
    ctx: Arc<Context>,
    namespaces: &[String],
    mut triggers: mpsc::UnboundedReceiver<ObjectRef<JobTermination>>,
    shutdown: watch::Receiver<bool>,
) {
    if namespaces.is_empty() {
        let api = Api::all(ctx.client.clone());
        let triggers = tokio_stream::wrappers::UnboundedReceiverStream::new(triggers);
        return run_one(ctx, api, triggers, shutdown).await;
    }
    let mut routes = std::collections::HashMap::new();
    let mut controllers = Vec::new();
    for ns in namespaces {
        let (tx, rx) = mpsc::unbounded_channel();
        routes.insert(ns.clone(), tx);
        let api = Api::namespaced(ctx.client.clone(), ns);
        let rx = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
        controllers.push(run_one(ctx.clone(), api, rx, shutdown.clone()));
    }
    let route = async move {
        while let Some(r) = triggers.recv().await {
            if let Some(tx) = r.namespace.as_ref().and_then(|ns| routes.get(ns)) {
                // A closed channel means that controller has shut down.
                let _ = tx.send(r);
            }
        }
    };
    tokio::select! {
        _ = futures::future::join_all(controllers) => {}
        _ = route => {}
    }
}

async fn run_one(
    ctx: Arc<Context>,
    api: Api<JobTermination>,
    triggers: impl futures::Stream<Item = ObjectRef<JobTermination>> + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
) {
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    Controller::new(api, watcher::Config::default())
        .reconcile_on(triggers)
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "controller event");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::JobTerminationSpec;

    fn record(operation: TerminateKind, status: Option<JobTerminationStatus>) -> JobTermination {
        let mut r = JobTermination::new(
            "uid-1",
            JobTerminationSpec {
                job_id: "uid-1".into(),
                job_name: "j".into(),
                job_uid: "uid-1".into(),
                job_created_at: Utc::now(),
                operation,
                reason: "stop it".into(),
                requested_at: Utc::now(),
                request_id: None,
            },
        );
        r.status = status;
        r
    }

    fn decided(action: Action) -> Option<JobTerminationStatus> {
        Some(JobTerminationStatus {
            phase: Some(Phase::InProgress),
            action: Some(action),
            ..Default::default()
        })
    }

    fn seen(state: BatchState, pods_left: bool) -> Option<Seen> {
        Some(Seen { state, pods_left })
    }

    #[test]
    fn the_state_table_decides_the_action() {
        use BatchState::*;
        let (t, c) = (TerminateKind::Terminate, TerminateKind::Cancel);
        let (cancel, terminate) = (Some(Action::Cancel), Some(Action::Terminate));
        let cases = [
            (t, Runnable, cancel),
            (t, Submitted, cancel),
            (t, Pending, cancel),
            (t, Starting, terminate),
            (t, Running, terminate),
            (t, Succeeded, None),
            (t, Failed, None),
            (c, Runnable, cancel),
            (c, Starting, None),
            (c, Running, None),
            (c, Succeeded, None),
        ];
        for (op, state, want) in cases {
            match decide(&record(op, None), seen(state, true), false) {
                Step::Decide {
                    action,
                    state_before,
                    ..
                } => {
                    assert_eq!((action, state_before), (want, state), "{op:?} on {state}")
                }
                other => panic!("{op:?} on {state}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_decided_action_sticks_even_when_the_state_moves() {
        // After the fence the Job reads as FAILED: the record must finish, not re-decide.
        let r = record(TerminateKind::Terminate, decided(Action::Terminate));
        let carry = Step::Carry {
            action: Action::Terminate,
        };
        assert_eq!(decide(&r, seen(BatchState::Running, true), false), carry);
        // FailureTarget with pods still terminating: not done yet.
        assert_eq!(decide(&r, seen(BatchState::Failed, true), false), carry);
        assert!(matches!(
            decide(&r, seen(BatchState::Failed, false), false),
            Step::Complete { .. }
        ));
        let r = record(TerminateKind::Terminate, decided(Action::Cancel));
        let carry = Step::Carry {
            action: Action::Cancel,
        };
        assert_eq!(decide(&r, seen(BatchState::Failed, false), false), carry);
        assert!(matches!(decide(&r, None, false), Step::Complete { .. }));
    }

    #[test]
    fn held_pods_keep_the_record_open_until_they_are_let_go() {
        let r = record(TerminateKind::Terminate, decided(Action::Terminate));
        let carry = Step::Carry {
            action: Action::Terminate,
        };
        // The Job has failed and no pod is running, but one is still held; or the Job is gone.
        assert_eq!(decide(&r, seen(BatchState::Failed, false), true), carry);
        assert_eq!(decide(&r, None, true), carry);
        assert!(matches!(
            decide(&r, seen(BatchState::Failed, false), false),
            Step::Complete { .. }
        ));
    }

    fn held_pod(phase: &str, node: Option<&str>, deleted_secs_ago: Option<i64>) -> Pod {
        use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let deleted = deleted_secs_ago.map(|s| {
            let t = Utc::now() - chrono::Duration::seconds(s);
            Time(k8s_openapi::jiff::Timestamp::from_second(t.timestamp()).unwrap())
        });
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                uid: Some("pod-uid".into()),
                finalizers: Some(vec![
                    "batch.kubernetes.io/job-tracking".into(),
                    ATTEMPT_FINALIZER.into(),
                ]),
                deletion_timestamp: deleted,
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(Into::into),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_held_pod_is_let_go_once_final_never_bound_or_long_overdue() {
        let now = Utc::now();
        assert!(releasable(&held_pod("Failed", Some("n"), Some(1)), now));
        assert!(releasable(&held_pod("Succeeded", Some("n"), None), now));
        // Still stopping its containers: its exit code is still to come.
        assert!(!releasable(&held_pod("Running", Some("n"), Some(1)), now));
        assert!(!releasable(&held_pod("Running", Some("n"), None), now));
        // Never reached a node: nothing will ever report on it.
        assert!(releasable(&held_pod("Pending", None, Some(1)), now));
        let overdue = HOLD_LIMIT.as_secs() as i64 + 10;
        assert!(releasable(
            &held_pod("Running", Some("n"), Some(overdue)),
            now
        ));
    }

    #[test]
    fn hold_and_release_patches_test_the_uid_and_the_finalizer() {
        let held = held_pod("Failed", Some("n"), None);
        let release = release_patch(&held).expect("held");
        assert_eq!(
            release,
            json!([
                {"op": "test", "path": "/metadata/uid", "value": "pod-uid"},
                {"op": "test", "path": "/metadata/finalizers/1", "value": ATTEMPT_FINALIZER},
                {"op": "remove", "path": "/metadata/finalizers/1"},
            ])
        );
        let mut free = held.clone();
        free.metadata.finalizers = None;
        assert_eq!(release_patch(&free), None);
        assert_eq!(
            hold_patch(&free)[1],
            json!({"op": "add", "path": "/metadata/finalizers", "value": [ATTEMPT_FINALIZER]})
        );
        assert_eq!(
            hold_patch(&held)[1],
            json!({"op": "add", "path": "/metadata/finalizers/-", "value": ATTEMPT_FINALIZER})
        );
        assert!(is_held(&held) && !is_held(&free));
    }

    #[test]
    fn kept_attempts_survive_their_pods() {
        use k8s_openapi::api::core::v1::{
            ContainerState, ContainerStateTerminated, ContainerStatus,
        };
        let mut pod = held_pod("Failed", Some("node-0"), Some(1));
        let finished = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap(),
        );
        pod.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "main".into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 143,
                    reason: Some("Error".into()),
                    started_at: Some(finished.clone()),
                    finished_at: Some(finished),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        let mut r = record(TerminateKind::Terminate, decided(Action::Terminate));
        let kept = kept_attempts(&r, std::slice::from_ref(&pod));
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].pod_name, "p");
        assert_eq!(kept[0].node_name.as_deref(), Some("node-0"));
        assert_eq!(kept[0].containers[0].exit_code, Some(143));
        assert!(kept[0].stopped_at.is_some());
        // The pod is gone: the kept attempt stays.
        r.status.as_mut().unwrap().attempts = kept.clone();
        assert_eq!(kept_attempts(&r, &[]), kept);
    }

    #[test]
    fn a_vanished_job_completes_the_record() {
        let r = record(TerminateKind::Terminate, None);
        assert!(matches!(decide(&r, None, false), Step::Complete { .. }));
    }

    #[test]
    fn finished_records_wait_for_retention() {
        for phase in [Phase::Completed, Phase::NoChange] {
            let done = Some(JobTerminationStatus {
                phase: Some(phase),
                ..Default::default()
            });
            assert_eq!(
                decide(&record(TerminateKind::Terminate, done), None, false),
                Step::Retain
            );
        }
    }

    #[test]
    fn the_job_patch_tests_the_uid_and_fences() {
        let r = record(TerminateKind::Terminate, None);
        let patch = job_patch(&Job::default(), &r, Action::Terminate);
        assert_eq!(
            patch[0],
            json!({"op": "test", "path": "/metadata/uid", "value": "uid-1"})
        );
        assert_eq!(patch[1]["path"], "/metadata/annotations");
        assert_eq!(patch[1]["value"][REASON_ANNOTATION], "stop it");
        assert_eq!(patch[1]["value"][ACTION_ANNOTATION], "terminate");
        assert_eq!(
            patch[2],
            json!({"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 0})
        );

        let mut annotated = Job::default();
        annotated.metadata.annotations = Some(Default::default());
        let patch = job_patch(&annotated, &r, Action::Cancel);
        assert_eq!(
            patch[1]["path"],
            "/metadata/annotations/batch-terminator.dev~1reason"
        );
        assert_eq!(
            patch[4],
            json!({"op": "add", "path": "/spec/suspend", "value": true})
        );
    }

    #[test]
    fn notes_are_cut_to_1024_bytes_on_a_char_boundary() {
        let long = "é".repeat(1024);
        let note = truncate_note(&long);
        assert!(note.len() <= NOTE_LIMIT);
        assert_eq!(note.chars().count(), 512);
        assert_eq!(truncate_note("short"), "short");
    }
}
