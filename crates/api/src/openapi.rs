//! The OpenAPI 3 document of this HTTP API, generated from the request and response types
//! with schemars. It is served at [`PATH`], printed by `batch-terminator openapi`, and the
//! committed copy `docs/openapi.json` is checked against it by the test suite.

use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::OPERATIONS;
use crate::wire::ErrorResponse;

/// Where the API serves the document.
pub const PATH: &str = "/openapi.json";

/// A type's schema, for [`crate::OPERATIONS`].
pub(crate) fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    generator.subschema_for::<T>().to_value()
}

/// The errors every operation may answer, by HTTP status.
const ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "ClientException: the request is invalid (the message names the field)",
    ),
    (
        "403",
        "AccessDeniedException (or a SigV4 error when authentication is on)",
    ),
    ("429", "TooManyRequestsException"),
    ("500", "ServerException: Kubernetes failed; safe to retry"),
];

/// The document as JSON. Keys are sorted (serde_json's map), so the output is stable.
pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let request_id = json!({
        "description": "A fresh UUID for every response",
        "schema": {"type": "string", "format": "uuid"}
    });
    let error_schema = schema::<ErrorResponse>(&mut generator);
    let mut paths = Map::new();
    for op in OPERATIONS {
        let request = (op.request)(&mut generator);
        let response = (op.response)(&mut generator);
        let mut responses = Map::new();
        responses.insert(
            "200".into(),
            json!({
                "description": "Success",
                "headers": {"x-amzn-RequestId": request_id},
                "content": {"application/json": {"schema": response}}
            }),
        );
        for (status, description) in ERRORS {
            responses.insert(
                (*status).into(),
                json!({
                    "description": description,
                    "headers": {
                        "x-amzn-RequestId": request_id,
                        "X-Amzn-ErrorType": {
                            "description": "The AWS error code, as in the body's __type",
                            "schema": {"type": "string"}
                        }
                    },
                    "content": {"application/json": {"schema": error_schema}}
                }),
            );
        }
        paths.insert(
            op.path.into(),
            json!({
                "post": {
                    "operationId": op.name,
                    "summary": op.summary,
                    "requestBody": {
                        "required": true,
                        "content": {"application/json": {"schema": request}}
                    },
                    "responses": responses
                }
            }),
        );
    }
    paths.insert(
        PATH.into(),
        json!({
            "get": {
                "operationId": "OpenApiDocument",
                "summary": "This document.",
                "responses": {"200": {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}}
                }}
            }
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "batch-terminator",
            "description": "AWS Batch 2016-08-10 (restJson1) on Kubernetes Jobs: \
                            TerminateJob, CancelJob, DescribeJobs, ListJobs, and the bulk \
                            extensions TerminateJobs and CancelJobs. Timestamps are epoch \
                            milliseconds.",
            "version": "2016-08-10"
        },
        "paths": paths,
        "components": {"schemas": generator.take_definitions(true)}
    })
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json() -> String {
    // Serialising a Value cannot fail.
    let mut out = serde_json::to_string_pretty(&document()).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_documented_with_resolvable_refs() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), OPERATIONS.len() + 1);
        // Every $ref points into components.schemas.
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().expect("name");
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
        for name in [
            "JobDetail",
            "JobSummary",
            "BulkJobsResponse",
            "ErrorResponse",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
    }

    #[test]
    fn required_fields_are_marked() {
        let doc = document();
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["TerminateJobRequest"]["required"],
            json!(["jobId", "reason"])
        );
        assert_eq!(s["BulkJobsRequest"]["properties"]["jobs"]["maxItems"], 50);
        assert_eq!(s["ListJobsResponse"]["required"], json!(["jobSummaryList"]));
    }
}
