//! The pure stage: from a record and what the caches hold of its Job, the next step, and the
//! writes that carry it out (the Job patch, the Event, the status).

use std::collections::HashSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::ResourceExt;
use serde_json::json;

use super::REPORTING_CONTROLLER;
use crate::batch::{self, Action, BatchState, Decision, TerminateKind, TerminationPhase};
use crate::index::views;
use crate::record::{
    ACTION_ANNOTATION, JobTermination, JobTerminationStatus, REASON_ANNOTATION,
    REQUESTED_AT_ANNOTATION,
};

/// The limit on an Event's note, in bytes.
const NOTE_LIMIT: usize = 1024;
/// Added to the pods' grace period to give a record its deadline: time for the kubelet to
/// report and for the Job controller to mark the Job Failed.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(120);
/// The grace period of a pod that does not say (the Kubernetes default).
const DEFAULT_GRACE: i64 = 30;
/// How long a finished Job's record waits for the final states of the pods the Job counts
/// but the pod cache has not shown yet. No order holds across two watches: under load the
/// pod watch lags the Job watch, and a record completed meanwhile would keep no attempt.
/// Bounded, because a pod deleted while this process was away never arrives.
pub const POD_WATCH_LAG: Duration = Duration::from_secs(5);

/// What the caches hold of one record's Job: the Job (only the one with the record's uid), its
/// pods, and those that left meanwhile (their last state).
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub job: Option<&'a Job>,
    pub pods: &'a [std::sync::Arc<Pod>],
    pub departed: &'a [std::sync::Arc<Pod>],
}

/// The next thing to do for a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing to do until the record, its Job or its pods change, or until this time.
    Wait { until: Option<Timestamp> },
    /// There is nothing to do for this request: write so, once.
    NoChange {
        state_before: BatchState,
        message: String,
    },
    /// Carry the action out: annotate and fence or suspend the Job (unless done), write the
    /// Event (unless written), delete the Job (cancel) or the pods still running (terminate).
    /// `first` says the decision is new: the Job patch then proves the Job is as the cache
    /// showed it, so a stale cache cannot act on a Job that has moved.
    Act {
        action: Action,
        state_before: BatchState,
        first: bool,
    },
    /// Nothing is left to do: write the final status.
    Complete { message: String },
    /// Retention has passed and the Job is gone or finished: delete the record.
    Expire,
}

/// The action this record decided: its status says, or (after a crash between the Job patch
/// and the status write) the Job carries this record's annotations.
pub fn decided_action(record: &JobTermination, job: Option<&Job>) -> Option<Action> {
    let status = record.status.as_ref();
    let redeciding = is_redecided(record);
    if let Some(action) = status.and_then(|s| s.action).filter(|_| !redeciding) {
        return Some(action);
    }
    let job = job?;
    [Action::Terminate, Action::Cancel]
        .into_iter()
        .find(|a| is_annotated(job, record, *a))
}

/// A NoChange record whose spec changed since (a TerminateJob after a CancelJob that changed
/// nothing) is decided again.
pub fn is_redecided(record: &JobTermination) -> bool {
    let status = record.status.as_ref();
    let observed = status.and_then(|s| s.observed_generation).unwrap_or(1);
    let generation = record.metadata.generation.unwrap_or(1);
    status.and_then(|s| s.phase) == Some(TerminationPhase::NoChange) && observed < generation
}

/// Pods still running their containers (terminating ones too).
fn live(pods: &[std::sync::Arc<Pod>]) -> impl Iterator<Item = &Pod> {
    pods.iter()
        .map(|p| p.as_ref())
        .filter(|p| !views::pod_view(p).phase.is_final())
}

/// Pods this controller should delete: running, and not being deleted already. Finished pods
/// are never deleted: their state is the job's history.
pub fn to_delete(pods: &[std::sync::Arc<Pod>]) -> impl Iterator<Item = &Pod> {
    live(pods).filter(|p| p.metadata.deletion_timestamp.is_none())
}

/// Decides the next step. Pure: `now` and `retention` come from outside.
pub fn decide(
    record: &JobTermination,
    seen: Seen<'_>,
    now: Timestamp,
    retention: Duration,
) -> Step {
    let status = record.status.clone().unwrap_or_default();
    match status.phase {
        Some(TerminationPhase::Completed) => return retain(&status, seen.job, now, retention),
        Some(TerminationPhase::NoChange) if !is_redecided(record) => {
            return retain(&status, seen.job, now, retention);
        }
        Some(
            TerminationPhase::NoChange | TerminationPhase::Pending | TerminationPhase::InProgress,
        )
        | None => {}
    }
    let Some(action) = decided_action(record, seen.job) else {
        let Some(job) = seen.job else {
            return Step::Complete {
                message: "the Job no longer exists; nothing to do".into(),
            };
        };
        let state = views::batch_state(job, seen.pods.iter().map(|p| p.as_ref()));
        return match batch::decide_state(state, record.spec.operation) {
            Decision::Cancel => Step::Act {
                action: Action::Cancel,
                state_before: state,
                first: true,
            },
            Decision::Terminate => Step::Act {
                action: Action::Terminate,
                state_before: state,
                first: true,
            },
            Decision::NoChange => Step::NoChange {
                state_before: state,
                message: match record.spec.operation {
                    TerminateKind::Cancel if state.is_started() => format!(
                        "the job had started ({state}); CancelJob changes nothing, TerminateJob would"
                    ),
                    TerminateKind::Cancel | TerminateKind::Terminate => {
                        format!("the job had already finished ({state}); nothing to do")
                    }
                },
            },
        };
    };
    // Lost only when the decision is recovered from the Job's annotations.
    let state_before = status.state_before.unwrap_or(match action {
        Action::Cancel => BatchState::Runnable,
        Action::Terminate => BatchState::Running,
    });
    let deadline = status.deadline;
    if deadline.is_some_and(|d| now >= d) {
        return Step::Complete {
            message: format!(
                "the deadline passed: the Job is {}, its pods were deleted; completed without \
                 waiting longer for their final state",
                match action {
                    Action::Cancel => "suspended",
                    Action::Terminate => "fenced",
                }
            ),
        };
    }
    // The status is written after the Job patch; a record decided by an older version may not
    // have annotated yet.
    let marked = deadline.is_some() || seen.job.is_none_or(|j| is_marked(j, record, action));
    let mut act = !marked || !status.event_recorded;
    match action {
        Action::Cancel => {
            let Some(job) = seen.job else {
                return Step::Complete {
                    message: "cancelled: the Job was suspended and deleted".into(),
                };
            };
            act |= job.metadata.deletion_timestamp.is_none();
        }
        Action::Terminate => {
            let running = live(seen.pods).next().is_some();
            let settled = seen.job.is_none_or(|j| views::job_view(j).is_finished());
            if settled && !running {
                if let Some(until) = awaiting_pods(record, seen).filter(|until| now < *until) {
                    let until = deadline.map_or(until, |d| d.min(until));
                    return Step::Wait { until: Some(until) };
                }
                return Step::Complete {
                    message: match seen.job {
                        None => "terminated: the Job is gone".into(),
                        Some(job)
                            if views::job_view(job).outcome() == Some(BatchState::Succeeded) =>
                        {
                            "the Job succeeded before the termination took effect".into()
                        }
                        Some(_) => "terminated: the Job has failed and its pods are gone".into(),
                    },
                };
            }
            act |= to_delete(seen.pods).next().is_some();
        }
    }
    match act {
        true => Step::Act {
            action,
            state_before,
            first: false,
        },
        false => Step::Wait { until: deadline },
    }
}

/// Until when a finished Job's record waits for its pods: set while the Job counts more
/// ended pods than the caches and the record have shown, [`POD_WATCH_LAG`] after it finished.
fn awaiting_pods(record: &JobTermination, seen: Seen<'_>) -> Option<Timestamp> {
    let job = views::job_view(seen.job?);
    let kept = record.status.as_ref().map_or(&[][..], |s| &s.attempts);
    let shown: HashSet<&str> = seen
        .pods
        .iter()
        .chain(seen.departed)
        .filter_map(|p| p.metadata.name.as_deref())
        .chain(kept.iter().map(|a| a.pod_name.as_str()))
        .collect();
    if usize::try_from(job.ended_pods).unwrap_or(0) <= shown.len() {
        return None;
    }
    let lag = SignedDuration::try_from(POD_WATCH_LAG).unwrap_or_default();
    job.finished_at()?.checked_add(lag).ok()
}

/// A finished record waits for retention to pass and its Job to be gone or finished.
fn retain(
    status: &JobTerminationStatus,
    job: Option<&Job>,
    now: Timestamp,
    retention: Duration,
) -> Step {
    let completed = status.completed_at.unwrap_or(now);
    let retention = SignedDuration::try_from(retention).unwrap_or(SignedDuration::MAX);
    let expires = completed.checked_add(retention).ok();
    let settled = job.is_none_or(|j| views::job_view(j).is_finished());
    match expires {
        Some(expires) if now < expires => Step::Wait {
            until: Some(expires),
        },
        // The Job's change (finished or gone) wakes the record.
        Some(_) if !settled => Step::Wait { until: None },
        Some(_) => Step::Expire,
        None => Step::Wait { until: None },
    }
}

/// When a record decided now gives up waiting: the longest grace period of its pods, plus
/// [`DEADLINE_MARGIN`].
pub fn deadline(pods: &[std::sync::Arc<Pod>], now: Timestamp) -> Timestamp {
    let grace = live(pods)
        .map(|p| {
            p.metadata
                .deletion_grace_period_seconds
                .or_else(|| p.spec.as_ref()?.termination_grace_period_seconds)
                .unwrap_or(DEFAULT_GRACE)
        })
        .max()
        .unwrap_or(0)
        .max(0);
    // A grace period near i64::MAX seconds is valid in a pod spec: saturate, never panic.
    SignedDuration::from_secs(grace)
        .checked_add(SignedDuration::try_from(DEADLINE_MARGIN).unwrap_or_default())
        .and_then(|wait| now.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The annotations this product writes on a terminated or cancelled Job.
fn annotations(record: &JobTermination, action: Action) -> [(&'static str, String); 3] {
    [
        (REASON_ANNOTATION, record.spec.reason.clone()),
        (
            REQUESTED_AT_ANNOTATION,
            crate::record::annotation_time(record.spec.requested_at),
        ),
        (ACTION_ANNOTATION, action.as_str().to_string()),
    ]
}

fn is_annotated(job: &Job, record: &JobTermination, action: Action) -> bool {
    let have = job.annotations();
    annotations(record, action)
        .iter()
        .all(|(k, v)| have.get(*k) == Some(v))
}

/// True when the Job already carries this record's annotations and fence (or suspension).
pub fn is_marked(job: &Job, record: &JobTermination, action: Action) -> bool {
    let spec = job.spec.as_ref();
    let fenced = match action {
        Action::Cancel => spec.and_then(|s| s.suspend) == Some(true),
        Action::Terminate => spec.and_then(|s| s.active_deadline_seconds) == Some(0),
    };
    fenced && is_annotated(job, record, action)
}

/// A JSON patch that writes the annotations and either suspends the Job (cancel) or fences its
/// controller with `activeDeadlineSeconds: 0` (terminate). It tests the Job's uid, and for a
/// new decision also the resourceVersion the decision was made from: a Job that has moved
/// since (started, finished) fails the patch and nothing happens.
/// A map key as one JSON-pointer token (`/` and `~` escaped).
pub fn pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

pub fn job_patch(
    job: &Job,
    record: &JobTermination,
    action: Action,
    first: bool,
) -> serde_json::Value {
    let mut ops =
        vec![json!({"op": "test", "path": "/metadata/uid", "value": record.spec.job_uid})];
    if first {
        ops.push(json!({"op": "test", "path": "/metadata/resourceVersion", "value": job.resource_version()}));
    }
    let wanted = annotations(record, action);
    if job.metadata.annotations.is_some() {
        for (key, value) in wanted {
            let path = format!("/metadata/annotations/{}", pointer(key));
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

/// The attempts the record keeps: those it kept, merged with the pods that ran, departed or
/// live (a live pod wins), within the record's limits.
pub fn kept_attempts(record: &JobTermination, seen: Seen<'_>) -> Vec<batch::AttemptView> {
    let kept = record.status.as_ref().map_or(&[][..], |s| &s.attempts);
    let pods = views::pod_views(seen.departed.iter().chain(seen.pods).map(|p| p.as_ref()));
    batch::keep_attempts(kept, &pods)
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

/// The one Event of a record, built from the record alone (the Job may be gone), and named
/// after the record's uid so a retry finds it already written.
pub fn event_for(record: &JobTermination, action: Action, instance: &str) -> Event {
    let job_name = record.spec.job_name.clone();
    let (reason, verb) = match action {
        Action::Cancel => ("JobCancelled", "Cancel"),
        Action::Terminate => ("JobTerminated", "Terminate"),
    };
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{job_name}.{}", record.uid().unwrap_or_default())),
            namespace: record.namespace(),
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
            namespace: record.namespace(),
            uid: Some(record.spec.job_uid.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
