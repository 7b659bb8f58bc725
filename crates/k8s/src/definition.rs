//! `JobDefinition`: one revision of an AWS Batch job definition, stored as a namespaced custom
//! resource in the service's definitions namespace (`--job-definition-namespace`).
//!
//! A revision is never changed by the service once created (DeregisterJobDefinition only sets
//! the status label). Object names are `<name, DNS-1123>-<hash of the name>-<revision>`, so two
//! registrations racing for one revision meet on the same name: the second create fails with
//! 409 and retries with the next revision.

use kube::CustomResource;
use kube::core::CustomResourceExt;
use kube::{Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::batch::{self, DefinitionContent, DefinitionStatus};

/// Label holding a hash of the definition's name, to list one name's revisions.
pub const DEFINITION_NAME_LABEL: &str = "batch-terminator.dev/job-definition";
/// Label set to `INACTIVE` by DeregisterJobDefinition; absent (or `ACTIVE`) means active.
pub const DEFINITION_STATUS_LABEL: &str = "batch-terminator.dev/job-definition-status";

/// One revision of a job definition, with the content RegisterJobDefinition was given.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "batch-terminator.dev",
    version = "v1alpha1",
    kind = "JobDefinition",
    namespaced,
    shortname = "jobdef",
    category = "batch-terminator",
    doc = "One revision of an AWS Batch job definition (RegisterJobDefinition)",
    printcolumn(
        name = "Definition",
        type_ = "string",
        json_path = ".spec.jobDefinitionName"
    ),
    printcolumn(name = "Revision", type_ = "integer", json_path = ".spec.revision"),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".metadata.labels.batch-terminator\\.dev/job-definition-status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct JobDefinitionSpec {
    /// The AWS name (letters, digits, `-`, `_`; up to 128).
    #[schemars(length(min = 1, max = 128))]
    pub job_definition_name: String,
    /// 1 for the first registration of the name, then one more each time.
    #[schemars(range(min = 1))]
    pub revision: i32,
    #[serde(flatten)]
    pub content: DefinitionContent,
}

/// 64-bit FNV-1a of the name, in hex: stable across versions and processes.
pub fn name_hash(name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The object name of a revision: `<name, lowercased, cut to 30>-<hash>-<revision>`.
pub fn object_name(name: &str, revision: i32) -> String {
    let slug: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .take(30)
        .collect();
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "jobdef" } else { slug };
    format!("{slug}-{}-{revision}", name_hash(name))
}

impl JobDefinition {
    /// A new revision, labelled for selection by name.
    pub fn revision(
        namespace: &str,
        name: &str,
        revision: i32,
        content: DefinitionContent,
    ) -> Self {
        let mut object = JobDefinition::new(
            &object_name(name, revision),
            JobDefinitionSpec {
                job_definition_name: name.to_owned(),
                revision,
                content,
            },
        );
        object.meta_mut().namespace = Some(namespace.to_owned());
        object.meta_mut().labels =
            Some([(DEFINITION_NAME_LABEL.to_owned(), name_hash(name))].into());
        object
    }

    pub fn status(&self) -> DefinitionStatus {
        match self
            .labels()
            .get(DEFINITION_STATUS_LABEL)
            .map(String::as_str)
        {
            Some("INACTIVE") => DefinitionStatus::Inactive,
            _ => DefinitionStatus::Active,
        }
    }

    /// As DescribeJobDefinitions answers it.
    pub fn to_batch(&self, region: &str, account: &str) -> batch::JobDefinition {
        let spec = &self.spec;
        batch::JobDefinition {
            job_definition_name: spec.job_definition_name.clone(),
            job_definition_arn: batch::job_definition_arn(
                region,
                account,
                &spec.job_definition_name,
                spec.revision,
            ),
            revision: spec.revision,
            status: self.status().as_str().to_owned(),
            container_orchestration_type: spec.content.orchestration_type().to_owned(),
            content: spec.content.clone(),
        }
    }
}

/// The CRD as YAML, as `batch-terminator crd` prints it after the JobTermination CRD.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&JobDefinition::crd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_dns_names_unique_per_name_and_revision() {
        let a = object_name("My_Job", 1);
        let b = object_name("my-job", 1);
        assert_ne!(a, b, "case and underscores keep names apart");
        assert!(a.starts_with("my-job-"));
        assert!(a.ends_with("-1"));
        let long = object_name(&"X".repeat(128), 999_999);
        assert!(long.len() <= 63, "{long}");
        assert!(
            long.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
        assert_eq!(
            object_name("___", 2),
            format!("jobdef-{}-2", name_hash("___"))
        );
        assert_eq!(name_hash("a"), name_hash("a"));
    }

    #[test]
    fn the_crd_is_namespaced_and_holds_the_aws_shape() {
        let crd = JobDefinition::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("jobdefinitions.batch-terminator.dev")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
        let spec = &schema["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["properties"]["revision"]["minimum"], 1.0);
        assert_eq!(spec["properties"]["type"]["type"], "string");
        let container = &spec["properties"]["containerProperties"]["properties"];
        assert_eq!(container["image"]["type"], "string");
        let required: Vec<&str> = spec["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(required.contains(&"jobDefinitionName"));
    }

    #[test]
    fn status_and_aws_shape() {
        let content: DefinitionContent = serde_json::from_value(serde_json::json!({
            "type": "container", "containerProperties": {"image": "busybox"}
        }))
        .unwrap();
        let mut def = JobDefinition::revision("ns", "etl", 3, content);
        assert_eq!(def.status(), DefinitionStatus::Active);
        let aws = def.to_batch("us-east-1", "123456789012");
        assert_eq!(
            aws.job_definition_arn,
            "arn:aws:batch:us-east-1:123456789012:job-definition/etl:3"
        );
        assert_eq!(aws.container_orchestration_type, "ECS");
        def.labels_mut()
            .insert(DEFINITION_STATUS_LABEL.into(), "INACTIVE".into());
        assert_eq!(def.to_batch("r", "a").status, "INACTIVE");
        let json = serde_json::to_value(&def).unwrap();
        assert_eq!(json["spec"]["containerProperties"]["image"], "busybox");
        assert_eq!(json["spec"]["jobDefinitionName"], "etl");
    }
}
