//! Request and response bodies of AWS Batch 2016-08-10 (restJson1), as sent on the wire.
//! JobDetail and JobSummary live in [`crate::batch`], as they are the domain's output.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::batch::SubmitJobRequest;
use crate::batch::{DefinitionContent, JobDefinition, JobDetail, JobQueueDetail, JobSummary};

/// `null` reads as the default. Required fields are `Option`s instead (missing, `null` and
/// `""` all get the same "is required" answer), with a schema that still says required.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `POST /v1/terminatejob`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TerminateJobRequest {
    /// The Batch job ID: the Job's `batch-terminator.dev/job-id` label, else its uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1))]
    pub job_id: Option<String>,
    /// Shown as `statusReason` by DescribeJobs and written to the Job and its Event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1, max = 1024))]
    pub reason: Option<String>,
}

/// `POST /v1/canceljob`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelJobRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1))]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1, max = 1024))]
    pub reason: Option<String>,
}

/// The empty answer of TerminateJob and CancelJob: `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmptyResponse {}

/// `POST /v1/describejobs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobsRequest {
    /// Up to 100 job IDs. Unknown IDs are left out of the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "Vec<String>", length(max = 100))]
    pub jobs: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobsResponse {
    pub jobs: Vec<JobDetail>,
}

/// `POST /v1/listjobs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListJobsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_node_job_id: Option<String>,
    /// RUNNING when absent, as in AWS. Ignored when a filter is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// At most one of `JOB_NAME`, `BEFORE_CREATED_AT`, `AFTER_CREATED_AT`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filters: Vec<KeyValuesPair>,
}

/// A ListJobs filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyValuesPair {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListJobsResponse {
    pub job_summary_list: Vec<JobSummary>,
    /// Absent on the last page (botocore stops on a missing token, and fails on a repeated
    /// empty one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `POST /v1/terminatejobs` and `POST /v1/canceljobs`: an extension of this service (AWS
/// Batch has no bulk form), shaped after AWS's batch operations such as SQS
/// DeleteMessageBatch: up to 50 entries, each acted on as TerminateJob or CancelJob would.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkJobsRequest {
    /// 1 to 50 entries with distinct job IDs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "Vec<BulkJobEntry>", length(min = 1, max = 50))]
    pub jobs: Option<Vec<BulkJobEntry>>,
}

/// One job of a bulk request, with the same rules as TerminateJob's body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkJobEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1))]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1, max = 1024))]
    pub reason: Option<String>,
}

/// The answer of a bulk request: 200 with every entry in exactly one of the lists, in
/// request order. An entry succeeds when TerminateJob or CancelJob would have answered 200.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkJobsResponse {
    pub successful: Vec<BulkJobSuccess>,
    pub errors: Vec<BulkJobError>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkJobSuccess {
    pub job_id: String,
}

/// An entry that failed: what TerminateJob or CancelJob would have answered for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkJobError {
    /// The job ID as sent (empty when it was missing).
    pub job_id: String,
    /// The AWS error code, e.g. `ClientException` or `ServerException`.
    pub code: String,
    pub message: String,
    /// True when the caller's request was at fault (do not retry it unchanged); false for
    /// server errors, which may be retried.
    pub sender_fault: bool,
}

/// `POST /v1/registerjobdefinition`: a new revision of a job definition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterJobDefinitionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1, max = 128))]
    pub job_definition_name: Option<String>,
    #[serde(flatten)]
    pub content: DefinitionContent,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterJobDefinitionResponse {
    pub job_definition_name: String,
    pub job_definition_arn: String,
    pub revision: i32,
}

/// `POST /v1/describejobdefinitions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobDefinitionsRequest {
    /// Up to 100 names (every revision), `name:revision`s or ARNs.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(length(max = 100))]
    pub job_definitions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_definition_name: Option<String>,
    /// `ACTIVE` or `INACTIVE`; both when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobDefinitionsResponse {
    pub job_definitions: Vec<JobDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `POST /v1/deregisterjobdefinition`: the revision becomes INACTIVE.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeregisterJobDefinitionRequest {
    /// `name:revision` or a job-definition ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1))]
    pub job_definition: Option<String>,
}

/// `POST /v1/describejobqueues`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobQueuesRequest {
    /// Names or ARNs; every configured queue when absent.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub job_queues: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_results: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeJobQueuesResponse {
    pub job_queues: Vec<JobQueueDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// SubmitJob's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitJobResponse {
    pub job_arn: String,
    pub job_name: String,
    pub job_id: String,
}

/// The body of every error response (also in the `X-Amzn-ErrorType` header).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorResponse {
    /// The AWS error code: ClientException, ServerException, AccessDeniedException,
    /// TooManyRequestsException or UnknownOperationException.
    #[serde(rename = "__type")]
    pub type_: String,
    pub message: String,
}
