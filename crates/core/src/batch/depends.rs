//! `dependsOn`: the jobs a submitted job waits for, in the AWS shape.
//!
//! SubmitJob stores the list, serialized as JSON in this exact shape, in the Job's annotation
//! `batch-terminator.dev/depends-on` (see the k8s crate), so the dependency survives restarts
//! and is what DescribeJobs reports back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One entry of SubmitJob's `dependsOn` (AWS `JobDependency`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDependency {
    /// The job waited for: a job ID, or `<array job ID>:<index>` for one child.
    pub job_id: String,
    /// For array jobs only: how the children wait.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ArrayJobDependency>,
}

/// AWS `ArrayJobDependency`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ArrayJobDependency {
    /// Child N waits for child N of the array job it depends on.
    #[serde(rename = "N_TO_N")]
    NToN,
    /// Child N waits for child N-1 of its own array job.
    #[serde(rename = "SEQUENTIAL")]
    Sequential,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_shape_is_aws() {
        let deps: Vec<JobDependency> =
            serde_json::from_str(r#"[{"jobId":"a"},{"jobId":"b","type":"N_TO_N"}]"#).unwrap();
        assert_eq!(deps[1].kind, Some(ArrayJobDependency::NToN));
        assert_eq!(
            serde_json::to_string(&deps).unwrap(),
            r#"[{"jobId":"a"},{"jobId":"b","type":"N_TO_N"}]"#
        );
        assert!(serde_json::from_str::<JobDependency>(r#"{"jobId":"a","type":"x"}"#).is_err());
    }
}
