//! Carries out JobTermination records, as a pipeline: read (the index's watch caches, never a
//! GET or LIST), decide (pure, [`decide`]), act ([`actions`]: each write one guarded call),
//! then write status. A record is looked at when it, its Job or its pods change, and at the
//! one time it carries (its deadline, or the end of its retention); otherwise it waits
//! ([`run`]). One process acts at a time: the holder of a Lease ([`lease`]). The dependency
//! controller ([`depends`]) runs on the same loop, under the same lease.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::batch::{Action, BatchState, TerminationPhase};
use crate::index::{Index, Snapshot, views};
use crate::metrics::{Metrics, Reconciled};
use crate::record::JobTerminationStatus;

pub mod actions;
pub mod decide;
pub mod depends;
pub mod lease;
pub mod run;

pub use decide::{Seen, Step};
pub use run::run;

/// Who writes the Events, as `reportingController`.
pub const REPORTING_CONTROLLER: &str = "batch-terminator.dev/controller";
/// Field manager of every write.
pub const FIELD_MANAGER: &str = "batch-terminator";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("annotating Job {job}")]
    Annotate {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("recording the Event for Job {job}")]
    Event {
        job: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting {target}")]
    Act {
        target: String,
        #[source]
        source: kube::Error,
    },
    #[error("writing the status of JobTermination {record}")]
    Status {
        record: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting expired JobTermination {record}")]
    Cleanup {
        record: String,
        #[source]
        source: kube::Error,
    },
}

/// A stage of the pipeline that writes, as the metrics label a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    Annotate,
    Event,
    Act,
    Status,
    Cleanup,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Annotate => "annotate",
            Stage::Event => "event",
            Stage::Act => "act",
            Stage::Status => "status",
            Stage::Cleanup => "cleanup",
        }
    }
}

impl Error {
    /// The pipeline stage that failed.
    pub fn stage(&self) -> Stage {
        match self {
            Error::Annotate { .. } => Stage::Annotate,
            Error::Event { .. } => Stage::Event,
            Error::Act { .. } => Stage::Act,
            Error::Status { .. } => Stage::Status,
            Error::Cleanup { .. } => Stage::Cleanup,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What the controller needs, shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub index: Index,
    pub metrics: Metrics,
    /// Completed records are deleted this long after completion, once their Job is gone or finished.
    pub retention: Duration,
    /// `reportingInstance` of the Events.
    pub instance: String,
    /// Pods this process has deleted, so a decision made before the watch shows them
    /// terminating does not delete them again.
    deleted: Mutex<HashSet<String>>,
}

impl Context {
    pub fn new(
        client: Client,
        index: Index,
        metrics: Metrics,
        retention: Duration,
        instance: String,
    ) -> Self {
        Context {
            client,
            index,
            metrics,
            retention,
            instance,
            deleted: Mutex::default(),
        }
    }

    fn deleted(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.deleted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// When to look at a record again, besides when it, its Job or its pods change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Only on a change.
    Done,
    /// At this time (a deadline, the end of retention).
    At(Timestamp),
    /// Shortly: a write found the cache behind, and its watch event is on the way.
    Soon,
}

fn seen(snapshot: &Snapshot) -> Seen<'_> {
    Seen {
        job: snapshot.job.as_deref(),
        pods: &snapshot.pods,
        departed: &snapshot.departed,
    }
}

/// The status fields every write sets, so a record decided again (after a NoChange) keeps
/// nothing of the old decision.
fn status_json(status: &JobTerminationStatus, generation: Option<i64>) -> serde_json::Value {
    let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    for field in ["action", "completedAt", "deadline"] {
        value
            .as_object_mut()
            .map(|o| o.entry(field).or_insert(serde_json::Value::Null));
    }
    value["observedGeneration"] = json!(generation.unwrap_or(1));
    value
}

/// Looks at one record: reads the index, decides, acts, writes status.
#[tracing::instrument(skip(ctx))]
pub async fn reconcile(ctx: &Context, namespace: &str, record: &str) -> Result<Next> {
    let started = std::time::Instant::now();
    let Some(snapshot) = ctx.index.snapshot(namespace, record) else {
        return Ok(Next::Done);
    };
    let record = &snapshot.record;
    let now = Timestamp::now();
    let step = decide::decide(record, seen(&snapshot), now, ctx.retention);
    tracing::debug!(?step, "reconciling");
    let (did, next) = match step {
        Step::Wait { until } => return Ok(until.map_or(Next::Done, Next::At)),
        Step::Expire => {
            actions::delete_record(ctx, record).await?;
            (Reconciled::Expire, Next::Done)
        }
        Step::NoChange {
            state_before,
            message,
        } => {
            let status = JobTerminationStatus {
                phase: Some(TerminationPhase::NoChange),
                state_before: Some(state_before),
                started_at: views::started_at(snapshot.pods.iter().map(|p| p.as_ref())),
                stopped_at: Some(now),
                completed_at: Some(now),
                message: Some(message),
                ..Default::default()
            };
            let json = status_json(&status, record.metadata.generation);
            match actions::write_status(ctx, record, json).await? {
                Some(_) => tracing::info!(state = %state_before, "nothing to do"),
                None => return Ok(Next::Soon),
            }
            (Reconciled::NoChange, Next::Done)
        }
        Step::Act {
            action,
            state_before,
            first,
        } => (
            Reconciled::Action(action),
            act(ctx, &snapshot, action, state_before, first, now).await?,
        ),
        Step::Complete { message } => (
            Reconciled::Complete,
            complete(ctx, &snapshot, message, now).await?,
        ),
    };
    ctx.metrics.controller.reconciled(did, started.elapsed());
    Ok(next)
}

/// Carries a decided action out, then writes the status once.
async fn act(
    ctx: &Context,
    snapshot: &Snapshot,
    action: Action,
    state_before: BatchState,
    first: bool,
    now: Timestamp,
) -> Result<Next> {
    let record = &snapshot.record;
    let status = record.status.clone().unwrap_or_default();
    let job = snapshot.job.as_deref();
    if let Some(job) = job {
        let patched_before = status.deadline.is_some() && !first;
        if !patched_before && !decide::is_marked(job, record, action) {
            let patch = decide::job_patch(job, record, action, first);
            actions::patch_job(ctx, job, patch).await?;
        }
    }
    // The Event never holds the action back: a failure is retried (with backoff) after it.
    let event = async {
        if status.event_recorded {
            return None;
        }
        let event = decide::event_for(record, action, &ctx.instance);
        let error = actions::create_event(ctx, &event).await.err()?;
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "the Event failed; acting anyway"
        );
        Some(error)
    };
    // A termination's pod deletes need nothing from the Event: both go at once, one round
    // trip fewer per record. A cancel's record must say whether it was written (below).
    let (event_error, deleted) = match action {
        Action::Terminate => {
            let (event_error, deleted) = tokio::join!(event, delete_pods(ctx, &snapshot.pods));
            (event_error, Some(deleted))
        }
        Action::Cancel => (event.await, None),
    };
    let event_recorded = event_error.is_none();
    let deadline = status
        .deadline
        .unwrap_or_else(|| decide::deadline(&snapshot.pods, now));
    let progress = |done: bool| {
        let verb = match action {
            Action::Cancel => "cancelling",
            Action::Terminate => "terminating",
        };
        let new = JobTerminationStatus {
            phase: Some(if done {
                TerminationPhase::Completed
            } else {
                TerminationPhase::InProgress
            }),
            action: Some(action),
            state_before: Some(state_before),
            started_at: status
                .started_at
                .filter(|_| !first)
                .or_else(|| views::started_at(snapshot.pods.iter().map(|p| p.as_ref()))),
            stopped_at: status.stopped_at.filter(|_| !first).or(Some(now)),
            completed_at: done.then_some(now),
            message: Some(match done {
                true => "cancelled: the Job was suspended and deleted".into(),
                false => format!("{verb} the job ({state_before})"),
            }),
            event_recorded,
            deadline: Some(deadline),
            observed_generation: None,
            attempts: decide::kept_attempts(record, seen(snapshot)),
        };
        status_json(&new, record.metadata.generation)
    };
    // Also a decision recovered from the Job's annotations is made durable before anything
    // else goes, the Job above all.
    let news = first || status.action != Some(action) || event_recorded != status.event_recorded;
    let mut done = false;
    match action {
        Action::Cancel => {
            let mut current = record.as_ref().clone();
            if news {
                // Durable in the record before the Job, and the annotations with it, go.
                match actions::write_status(ctx, &current, progress(false)).await? {
                    Some(written) => current = written,
                    None => return Ok(Next::Soon),
                }
            }
            if let Some(job) = job.filter(|j| j.metadata.deletion_timestamp.is_none()) {
                actions::delete_job(ctx, job).await?;
                // Completed only with its Event: otherwise the completion step writes it first.
                if event_recorded {
                    if actions::write_status(ctx, &current, progress(true))
                        .await?
                        .is_none()
                    {
                        return Ok(Next::Soon);
                    }
                    done = true;
                }
            }
        }
        Action::Terminate => {
            deleted.unwrap_or(Ok(()))?;
            if news
                && actions::write_status(ctx, record, progress(false))
                    .await?
                    .is_none()
            {
                return Ok(Next::Soon);
            }
        }
    }
    if first {
        tracing::info!(action = action.as_str(), state = %state_before, "decided and acted");
    }
    if let Some(error) = event_error {
        return Err(error);
    }
    Ok(if done { Next::Done } else { Next::At(deadline) })
}

/// Deletes the Job's pods that still run, each once per process.
async fn delete_pods(
    ctx: &Context,
    pods: &[std::sync::Arc<k8s_openapi::api::core::v1::Pod>],
) -> Result<()> {
    for pod in decide::to_delete(pods) {
        let uid = pod.uid().unwrap_or_default();
        if ctx.deleted().contains(&uid) {
            continue;
        }
        actions::delete_pod(ctx, pod).await?;
        ctx.deleted().insert(uid);
    }
    Ok(())
}

/// Writes the final status, with the pods' last states; writes the Event first if it is still
/// missing (and gives up on it only once the deadline has passed).
async fn complete(
    ctx: &Context,
    snapshot: &Snapshot,
    message: String,
    now: Timestamp,
) -> Result<Next> {
    let record = &snapshot.record;
    let mut status = record.status.clone().unwrap_or_default();
    let action = decide::decided_action(record, snapshot.job.as_deref());
    if let Some(action) = action.filter(|_| !status.event_recorded) {
        let event = decide::event_for(record, action, &ctx.instance);
        match actions::create_event(ctx, &event).await {
            Ok(()) => status.event_recorded = true,
            Err(error) if status.deadline.is_none_or(|d| now < d) => return Err(error),
            Err(error) => tracing::error!(
                error = &error as &dyn std::error::Error,
                "the Event could not be written before the deadline; completing without it"
            ),
        }
    }
    status.phase = Some(TerminationPhase::Completed);
    status.action = action;
    status.completed_at = Some(now);
    status.stopped_at.get_or_insert(now);
    status.message = Some(message);
    status.attempts = decide::kept_attempts(record, seen(snapshot));
    let json = status_json(&status, record.metadata.generation);
    if actions::write_status(ctx, record, json).await?.is_none() {
        return Ok(Next::Soon);
    }
    tracing::info!("termination complete");
    ctx.index.forget_departed(
        &record.namespace().unwrap_or_default(),
        &record.spec.job_uid,
    );
    let mut deleted = ctx.deleted();
    for pod in snapshot.pods.iter().chain(&snapshot.departed) {
        deleted.remove(&pod.uid().unwrap_or_default());
    }
    Ok(Next::Done)
}
