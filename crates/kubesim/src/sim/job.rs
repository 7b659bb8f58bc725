//! The Job controller's decisions, after pkg/controller/job in Kubernetes 1.33.
//!
//! [`sync_job`] is one `syncJob`: from a Job, the pods it controls, the controller's memory of
//! the Job and the time, it computes an ordered list of [`JobAction`]s. The runner applies them
//! in order and stops at the first that fails (then syncs again), as the real controller does.
//!
//! Kept from the real controller: the `batch.kubernetes.io/job-tracking` finalizer and
//! `status.uncountedTerminatedPods` (two status writes around the finalizer removals), pods
//! deleted without a terminal phase counting as failed (`podReplacementPolicy:
//! TerminatingOrFailed`), `status.terminating`, the interim `SuccessCriteriaMet` and
//! `FailureTarget` conditions (the terminal condition waits for terminating pods), suspend and
//! resume, `activeDeadlineSeconds`, the pod failure back-off (10 s, doubling per failure, at most
//! 10 min), `restartPolicy: OnFailure` restarts counting against `backoffLimit`, Indexed
//! completion, `podFailurePolicy` ([`failure_policy`]) and `backoffLimitPerIndex` with
//! `maxFailedIndexes` ([`per_index`]). Left out: `successPolicy`, `managedBy` and adoption of
//! orphan pods.

mod backoff;
mod conditions;
pub mod failure_policy;
mod indexes;
pub mod per_index;
mod pods;
mod sync;

use std::time::Duration;

use k8s_openapi::api::batch::v1::JobStatus;
use k8s_openapi::api::core::v1::Pod;

use super::events::{EventSpec, EventType};

pub use backoff::BackoffRecord;
pub use conditions::{finished_condition, is_finished};
pub use indexes::{format_indexes, parse_indexes};
pub use pods::{is_controlled_by, pod_from_template};
pub use sync::sync_job;

pub const CONTROLLER_NAME: &str = "job-controller";
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;
/// DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff.
pub const POD_FAILURE_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_POD_FAILURE_BACKOFF: Duration = Duration::from_secs(600);

/// A pod named for an action; the uid guards against acting on a namesake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub name: String,
    pub uid: String,
}

/// One step of a sync, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum JobAction {
    /// Create this pod (it has `generateName`); record `SuccessfulCreate` ("Created pod: NAME"),
    /// or `FailedCreate` ("Error creating: ERR") on failure.
    CreatePod(Box<Pod>),
    /// Delete the pod with default options (its own grace period); record `SuccessfulDelete`
    /// ("Deleted pod: NAME"). Not found counts as done.
    DeletePod(PodRef),
    /// Remove [`TRACKING_FINALIZER`] from the pod. Not found counts as done.
    RemoveTrackingFinalizer(PodRef),
    /// Replace the Job's status.
    UpdateStatus(Box<JobStatus>),
    /// Record an Event about the Job.
    Event(EventSpec),
}

/// What the controller remembers of a Job between syncs (kept in memory, keyed by uid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobMemory {
    pub backoff: BackoffRecord,
    /// The precise `status.startTime` this controller wrote; the stored one has whole seconds,
    /// too coarse for a scaled `activeDeadlineSeconds`.
    pub start_time: Option<k8s_openapi::jiff::Timestamp>,
}

/// The outcome of one sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSync {
    pub actions: Vec<JobAction>,
    /// The memory to keep once the actions are applied.
    pub memory: JobMemory,
    /// Sync again after this much real time, even if nothing changes.
    pub requeue_after: Option<Duration>,
}

impl JobSync {
    fn event(&mut self, type_: EventType, reason: &str, message: &str) {
        self.actions.push(JobAction::Event(EventSpec::new(
            CONTROLLER_NAME,
            type_,
            reason,
            message,
        )));
    }

    fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }
}

#[cfg(test)]
mod tests;
