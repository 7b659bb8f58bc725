//! `JobTermination`: the durable record of a TerminateJob or CancelJob request.
//!
//! A 200 from the API means this record exists in the API server. The controller carries it out
//! and writes its status; DescribeJobs reads it, also after the Job itself is gone.

use chrono::{DateTime, Utc};
use kube::CustomResource;
use kube::core::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::batch::{Action, AttemptView, BatchState, TerminateKind, TerminationPhase};

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
/// On a Job created by SubmitJob with `dependsOn`: the dependencies, as the JSON array of
/// `batch::JobDependency` (AWS shape). The Job is created suspended and is resumed only once
/// every dependency has SUCCEEDED.
pub const DEPENDS_ON_ANNOTATION: &str = "batch-terminator.dev/depends-on";
/// Label on records carrying the target Job's uid, so records can be selected per Job.
pub const JOB_UID_LABEL: &str = "batch-terminator.dev/job-uid";
/// Finalizer that versions before 0.2 put on the pods they stopped, to keep their final state.
/// Nothing puts it on any more; pods that still carry it are let go once (see the README).
pub const LEGACY_ATTEMPT_FINALIZER: &str = "batch-terminator.dev/attempt";

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
    pub phase: Option<TerminationPhase>,
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
    /// The Event was written: it is written once per termination, ever.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub event_recorded: bool,
    /// The record completes by then at the latest, whatever the Job and its pods do: the
    /// pods' grace period after the action, plus a margin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The record's `metadata.generation` this status answers. A TerminateJob after a CancelJob
    /// that changed nothing updates the spec, and the controller decides again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The pods that ran, as last seen before they were deleted, oldest first: DescribeJobs'
    /// `attempts` once the pods are gone. The newest ten are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub attempts: Vec<AttemptView>,
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
        let attempts = &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["attempts"];
        assert_eq!(attempts["maxItems"], crate::batch::MAX_KEPT_ATTEMPTS);
        let attempt = &attempts["items"]["properties"];
        assert_eq!(attempt["statusReason"]["maxLength"], 256);
        assert_eq!(
            attempt["containers"]["maxItems"],
            crate::batch::MAX_KEPT_CONTAINERS
        );
    }

    #[test]
    fn kept_attempts_and_phases_keep_their_wire_form() {
        let attempt = AttemptView {
            pod_name: "p".into(),
            pod_namespace: "ns".into(),
            node_name: Some("n".into()),
            completion_index: Some(2),
            started_at: Some("2026-01-02T03:04:05Z".parse().unwrap()),
            stopped_at: None,
            status_reason: Some("why".into()),
            containers: vec![crate::batch::AttemptContainerView {
                name: "main".into(),
                exit_code: Some(143),
                reason: Some("Error".into()),
            }],
        };
        let status = JobTerminationStatus {
            phase: Some(TerminationPhase::InProgress),
            attempts: vec![attempt],
            ..Default::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "phase": "InProgress",
                "attempts": [{
                    "podName": "p",
                    "podNamespace": "ns",
                    "nodeName": "n",
                    "completionIndex": 2,
                    "startedAt": "2026-01-02T03:04:05Z",
                    "statusReason": "why",
                    "containers": [{"name": "main", "exitCode": 143, "reason": "Error"}],
                }],
            })
        );
        assert_eq!(
            serde_json::from_value::<JobTerminationStatus>(json).unwrap(),
            status
        );
        for (phase, wire) in [
            (TerminationPhase::Pending, "Pending"),
            (TerminationPhase::InProgress, "InProgress"),
            (TerminationPhase::Completed, "Completed"),
            (TerminationPhase::NoChange, "NoChange"),
        ] {
            assert_eq!(serde_json::to_value(phase).unwrap(), wire);
        }
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
            LEGACY_ATTEMPT_FINALIZER,
        ] {
            assert!(name.starts_with(&format!("{GROUP}/")), "{name}");
        }
    }
}
