//! The one table of the API's operations. Routing, the OpenAPI document, the credentials
//! file's grants and the metrics labels all read it, so an operation is named in one place.

use schemars::generate::SchemaGenerator;
use serde_json::Value;

use crate::openapi::{self, schema};
use crate::wire::{
    BulkJobsRequest, BulkJobsResponse, CancelJobRequest, DeregisterJobDefinitionRequest,
    DescribeJobDefinitionsRequest, DescribeJobDefinitionsResponse, DescribeJobQueuesRequest,
    DescribeJobQueuesResponse, DescribeJobsRequest, DescribeJobsResponse, EmptyResponse,
    ListJobsRequest, ListJobsResponse, RegisterJobDefinitionRequest, RegisterJobDefinitionResponse,
    SubmitJobRequest, SubmitJobResponse, TerminateJobRequest,
};

/// The AWS operation a request is for. The request-context middleware puts it in the
/// request's and the response's extensions (and the span), for metrics layers outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    TerminateJob,
    CancelJob,
    DescribeJobs,
    ListJobs,
    SubmitJob,
    RegisterJobDefinition,
    DescribeJobDefinitions,
    DeregisterJobDefinition,
    DescribeJobQueues,
    /// The bulk TerminateJob (an extension; each entry is a TerminateJob).
    TerminateJobs,
    /// The bulk CancelJob (an extension; each entry is a CancelJob).
    CancelJobs,
    /// `GET /openapi.json`.
    OpenApiDocument,
    /// A path that is no operation.
    Unknown,
}

/// One `POST` operation of the API.
pub struct Spec {
    pub operation: Operation,
    /// The AWS name, as in `operationId`, the logs and the metrics.
    pub name: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub request: fn(&mut SchemaGenerator) -> Value,
    pub response: fn(&mut SchemaGenerator) -> Value,
    /// The name a credentials file grants it by (`batch:<grant>` in IAM): a bulk operation
    /// needs the grant of its single form.
    pub grant: &'static str,
}

/// Every `POST` operation, in the order the OpenAPI document lists them.
pub const OPERATIONS: &[Spec] = &[
    Spec {
        operation: Operation::TerminateJob,
        name: "TerminateJob",
        path: "/v1/terminatejob",
        summary: "Cancel a queued job, or terminate a started one. 200 once the request is \
                  durable; unknown job IDs answer 200 too.",
        request: schema::<TerminateJobRequest>,
        response: schema::<EmptyResponse>,
        grant: "TerminateJob",
    },
    Spec {
        operation: Operation::CancelJob,
        name: "CancelJob",
        path: "/v1/canceljob",
        summary: "Cancel a queued job; a started or finished job is left alone (200).",
        request: schema::<CancelJobRequest>,
        response: schema::<EmptyResponse>,
        grant: "CancelJob",
    },
    Spec {
        operation: Operation::DescribeJobs,
        name: "DescribeJobs",
        path: "/v1/describejobs",
        summary: "Describe up to 100 jobs (array children as <parent-id>:<index>); unknown IDs \
                  are left out.",
        request: schema::<DescribeJobsRequest>,
        response: schema::<DescribeJobsResponse>,
        grant: "DescribeJobs",
    },
    Spec {
        operation: Operation::ListJobs,
        name: "ListJobs",
        path: "/v1/listjobs",
        summary: "List the jobs of a queue, or the children of an array job, newest first; the \
                  last page has no nextToken.",
        request: schema::<ListJobsRequest>,
        response: schema::<ListJobsResponse>,
        grant: "ListJobs",
    },
    Spec {
        operation: Operation::SubmitJob,
        name: "SubmitJob",
        path: "/v1/submitjob",
        summary: "Create a Kubernetes Job in the queue's namespace from a job definition; a \
                  retry of one SDK call (same amz-sdk-invocation-id) answers the same job.",
        request: schema::<SubmitJobRequest>,
        response: schema::<SubmitJobResponse>,
        grant: "SubmitJob",
    },
    Spec {
        operation: Operation::RegisterJobDefinition,
        name: "RegisterJobDefinition",
        path: "/v1/registerjobdefinition",
        summary: "Register the next revision of a job definition (a JobDefinition object).",
        request: schema::<RegisterJobDefinitionRequest>,
        response: schema::<RegisterJobDefinitionResponse>,
        grant: "RegisterJobDefinition",
    },
    Spec {
        operation: Operation::DescribeJobDefinitions,
        name: "DescribeJobDefinitions",
        path: "/v1/describejobdefinitions",
        summary: "Describe job definitions by name, name:revision, ARN or status, by name \
                  then revision; the last page has no nextToken.",
        request: schema::<DescribeJobDefinitionsRequest>,
        response: schema::<DescribeJobDefinitionsResponse>,
        grant: "DescribeJobDefinitions",
    },
    Spec {
        operation: Operation::DeregisterJobDefinition,
        name: "DeregisterJobDefinition",
        path: "/v1/deregisterjobdefinition",
        summary: "Make a job definition revision INACTIVE.",
        request: schema::<DeregisterJobDefinitionRequest>,
        response: schema::<EmptyResponse>,
        grant: "DeregisterJobDefinition",
    },
    Spec {
        operation: Operation::DescribeJobQueues,
        name: "DescribeJobQueues",
        path: "/v1/describejobqueues",
        summary: "Describe the configured job queues, by name; the last page has no nextToken.",
        request: schema::<DescribeJobQueuesRequest>,
        response: schema::<DescribeJobQueuesResponse>,
        grant: "DescribeJobQueues",
    },
    Spec {
        operation: Operation::TerminateJobs,
        name: "TerminateJobs",
        path: "/v1/terminatejobs",
        summary: "Extension (not in AWS Batch): TerminateJob on up to 50 jobs, answering \
                  successful and errors lists.",
        request: schema::<BulkJobsRequest>,
        response: schema::<BulkJobsResponse>,
        grant: "TerminateJob",
    },
    Spec {
        operation: Operation::CancelJobs,
        name: "CancelJobs",
        path: "/v1/canceljobs",
        summary: "Extension (not in AWS Batch): CancelJob on up to 50 jobs, answering \
                  successful and errors lists.",
        request: schema::<BulkJobsRequest>,
        response: schema::<BulkJobsResponse>,
        grant: "CancelJob",
    },
];

impl Operation {
    pub fn from_path(path: &str) -> Operation {
        match OPERATIONS.iter().find(|spec| spec.path == path) {
            Some(spec) => spec.operation,
            None if path == openapi::PATH => Operation::OpenApiDocument,
            None => Operation::Unknown,
        }
    }

    /// Its row of [`OPERATIONS`]; `None` for the document and for unknown paths.
    pub fn spec(self) -> Option<&'static Spec> {
        OPERATIONS.iter().find(|spec| spec.operation == self)
    }

    pub fn as_str(self) -> &'static str {
        match (self, self.spec()) {
            (_, Some(spec)) => spec.name,
            (Operation::OpenApiDocument, None) => "OpenApiDocument",
            (_, None) => "Unknown",
        }
    }

    /// The grant it needs: `None` for the public document and for paths that are no
    /// operation (they answer 404 after authentication).
    pub fn grant(self) -> Option<&'static str> {
        self.spec().map(|spec| spec.grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth;

    #[test]
    fn the_table_names_each_operation_once() {
        for spec in OPERATIONS {
            assert_eq!(Operation::from_path(spec.path), spec.operation);
            assert_eq!(spec.operation.as_str(), spec.name);
            assert_eq!(format!("{:?}", spec.operation), spec.name);
            let rows = OPERATIONS.iter().filter(|s| s.operation == spec.operation);
            assert_eq!(rows.count(), 1, "{}", spec.name);
        }
        assert_eq!(
            Operation::from_path(openapi::PATH),
            Operation::OpenApiDocument
        );
        assert_eq!(Operation::OpenApiDocument.as_str(), "OpenApiDocument");
        assert_eq!(Operation::from_path("/"), Operation::Unknown);
        assert_eq!(Operation::Unknown.as_str(), "Unknown");
    }

    #[test]
    fn grants_are_exactly_what_a_credentials_file_can_grant() {
        let mut granted: Vec<&str> = OPERATIONS.iter().map(|spec| spec.grant).collect();
        granted.sort();
        granted.dedup();
        let mut grantable = auth::OPERATIONS.to_vec();
        grantable.sort();
        assert_eq!(granted, grantable);
        assert_eq!(Operation::TerminateJobs.grant(), Some("TerminateJob"));
        assert_eq!(Operation::OpenApiDocument.grant(), None);
        assert_eq!(Operation::Unknown.grant(), None);
    }
}
