//! `JobTermination`: the durable record of a TerminateJob or CancelJob request.
//!
//! A 200 from the API means this record exists in the API server. The controller carries it out
//! and writes its status; DescribeJobs reads it, also after the Job itself is gone.

use chrono::{DateTime, Utc};
use kube::CustomResource;
use kube::core::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::batch::{Action, BatchState, TerminateKind};

/// The API group of every name this product owns on Kubernetes.
pub const GROUP: &str = "batch-terminator.dev";
/// Label that sets a Job's Batch job ID (else its uid is the ID).
pub const JOB_ID_LABEL: &str = "batch-terminator.dev/job-id";
/// Label that sets a Job's Batch job queue (after Kueue's queue-name label).
pub const JOB_QUEUE_LABEL: &str = "batch-terminator.dev/job-queue";
/// Kueue's queue label, which wins over ours when both are present.
pub const KUEUE_QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
/// Annotations written on the Job when it is cancelled or terminated.
pub const REASON_ANNOTATION: &str = "batch-terminator.dev/reason";
pub const REQUESTED_AT_ANNOTATION: &str = "batch-terminator.dev/requested-at";
pub const ACTION_ANNOTATION: &str = "batch-terminator.dev/action";
/// Label on records carrying the target Job's uid, so records can be selected per Job.
pub const JOB_UID_LABEL: &str = "batch-terminator.dev/job-uid";

/// Where the controller is with a record.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Accepted, not yet acted on.
    Pending,
    /// The action was decided and the Job annotated; pods or the Job are being removed.
    InProgress,
    /// The action is complete: pods gone (terminate) or the Job deleted (cancel).
    Completed,
    /// There was nothing to do: the job had finished, or CancelJob met a started job.
    NoChange,
}

/// A request to cancel or terminate one Batch job. Named after the target Job's uid, so a
/// repeated request finds the first record and the first reason stands.
// kube-derive takes one `printcolumn(...)` per column, which clippy reads as duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "batch-terminator.dev",
    version = "v1alpha1",
    kind = "JobTermination",
    namespaced,
    status = "JobTerminationStatus",
    shortname = "jobterm",
    category = "batch-terminator",
    doc = "A durable TerminateJob or CancelJob request for one Kubernetes Job",
    printcolumn(name = "Job", type_ = "string", json_path = ".spec.jobName"),
    printcolumn(name = "Operation", type_ = "string", json_path = ".spec.operation"),
    printcolumn(name = "Action", type_ = "string", json_path = ".status.action"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".spec.reason",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct JobTerminationSpec {
    /// The Batch job ID the caller used.
    pub job_id: String,
    /// The target Job's name (the record lives in the Job's namespace).
    pub job_name: String,
    /// The target Job's uid: every write to the Job is preconditioned on it.
    pub job_uid: String,
    /// When the target Job was created, kept for DescribeJobs after the Job is gone.
    pub job_created_at: DateTime<Utc>,
    /// TerminateJob (`terminate`) or CancelJob (`cancel`).
    pub operation: TerminateKind,
    /// The caller's reason, at most 1024 characters.
    #[schemars(length(min = 1, max = 1024))]
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// The `x-amzn-RequestId` of the request that created the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobTerminationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The Batch state of the job when the action was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_before: Option<BatchState>,
    /// When the job started running, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the action was decided: the job's stop time as DescribeJobs reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The CRD as YAML, exactly as `batch-terminator crd` prints it and `charts/` ships it.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&JobTermination::crd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_names_are_the_public_contract() {
        let crd = JobTermination::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("jobterminations.batch-terminator.dev")
        );
        assert_eq!(crd.spec.group, GROUP);
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some()
        );
        let schema = serde_json::to_value(&version.schema).unwrap();
        let reason = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["reason"];
        assert_eq!(reason["maxLength"], 1024);
        assert_eq!(reason["minLength"], 1);
    }

    #[test]
    fn annotation_and_label_names_share_the_group() {
        for name in [
            JOB_ID_LABEL,
            JOB_QUEUE_LABEL,
            REASON_ANNOTATION,
            REQUESTED_AT_ANNOTATION,
            ACTION_ANNOTATION,
            JOB_UID_LABEL,
        ] {
            assert!(name.starts_with(&format!("{GROUP}/")), "{name}");
        }
    }
}
