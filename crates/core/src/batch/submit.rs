//! SubmitJob: the request's AWS shape, its validation, and the pure mapping of a request and
//! its job definition onto a [`JobPlan`], the description of the Kubernetes Job the k8s
//! layer builds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::definition::{
    ContainerProperties, DefinitionRef, EksContainer, EksMetadata, EksPodProperties, EksProperties,
    JobTimeout, KeyValuePair, ResourceRequirement, RetryStrategy, validate_parameters,
    validate_tags,
};
use super::depends::{ArrayJobDependency, JobDependency};
use super::queue::is_aws_name;
use super::validate::{Error, Result};

/// AWS allows at most 20 dependencies per job.
pub const MAX_DEPENDS_ON: usize = 20;
/// AWS array jobs have 2 to 10,000 children.
pub const MIN_ARRAY_SIZE: i32 = 2;
pub const MAX_ARRAY_SIZE: i32 = 10_000;
/// The container of the `container` form is named as AWS names it on EKS.
pub const DEFAULT_CONTAINER: &str = "default";
/// A Job name is at most this long, so that an Indexed Job's pod hostnames
/// (`<job>-<index>`) stay within 63 characters.
pub const MAX_JOB_NAME: usize = 52;

/// AWS `ContainerOverrides`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    /// Replaces the definition's command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Accepted and ignored: Kubernetes picks the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    /// Added to the definition's environment; a name given in both takes this value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValuePair>,
    /// Replaces the definition's requirement of the same type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_requirements: Vec<ResourceRequirement>,
}

/// AWS `EksPropertiesOverride`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksPropertiesOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_properties: Option<EksPodPropertiesOverride>,
}

/// AWS `EksPodPropertiesOverride`: containers by name; metadata merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksPodPropertiesOverride {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<EksContainer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<EksContainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<EksMetadata>,
}

/// AWS `ArrayProperties`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ArrayProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i32>,
}

/// `POST /v1/submitjob` (AWS `SubmitJobRequest`; fields without a Kubernetes meaning, such as
/// `shareIdentifier` and `schedulingPriorityOverride`, are accepted and ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmitJobRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1, max = 128))]
    pub job_name: Option<String>,
    /// A queue name or job-queue ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1))]
    pub job_queue: Option<String>,
    /// `name`, `name:revision` or a job-definition ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(required, with = "String", length(min = 1))]
    pub job_definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_properties: Option<ArrayProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub depends_on: Option<Vec<JobDependency>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_overrides: Option<ContainerOverrides>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks_properties_override: Option<EksPropertiesOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<JobTimeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

/// A validated SubmitJob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitCommand {
    pub job_name: String,
    pub job_queue: String,
    pub job_definition: DefinitionRef,
    pub array_size: Option<i32>,
    pub depends_on: Vec<JobDependency>,
    pub parameters: BTreeMap<String, String>,
    pub container_overrides: Option<ContainerOverrides>,
    pub eks_properties_override: Option<EksPropertiesOverride>,
    pub retry_strategy: Option<RetryStrategy>,
    pub propagate_tags: Option<bool>,
    pub timeout: Option<JobTimeout>,
    pub tags: BTreeMap<String, String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

impl SubmitCommand {
    /// SubmitJob's rules, each error naming the field. Dependencies are only checked for
    /// shape here; the service resolves each job ID.
    pub fn new(req: SubmitJobRequest) -> Result<SubmitCommand> {
        let required = |value: Option<String>, field| {
            value
                .filter(|v| !v.is_empty())
                .ok_or(Error::Required { field })
        };
        let job_name = required(req.job_name, "jobName")?;
        if !is_aws_name(&job_name, 128) || !job_name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(invalid(
                "jobName",
                "up to 128 letters (uppercase and lowercase), numbers, hyphens and underscores, \
                 starting with a letter or number",
            ));
        }
        let job_queue = required(req.job_queue, "jobQueue")?;
        let job_definition = DefinitionRef::parse(
            "jobDefinition",
            &required(req.job_definition, "jobDefinition")?,
        )?;
        let array_size = match req.array_properties.and_then(|a| a.size) {
            None => None,
            Some(size @ MIN_ARRAY_SIZE..=MAX_ARRAY_SIZE) => Some(size),
            Some(size) => {
                return Err(invalid(
                    "arrayProperties",
                    format!("size must be {MIN_ARRAY_SIZE} to {MAX_ARRAY_SIZE}, but it is {size}"),
                ));
            }
        };
        let depends_on = req.depends_on.unwrap_or_default();
        if depends_on.len() > MAX_DEPENDS_ON {
            return Err(Error::TooMany {
                field: "dependsOn",
                max: MAX_DEPENDS_ON,
                actual: depends_on.len(),
            });
        }
        for (i, dependency) in depends_on.iter().enumerate() {
            // AWS takes SEQUENTIAL without a job ID: the array's own children, in order.
            if dependency.job_id.is_empty()
                && dependency.kind != Some(ArrayJobDependency::Sequential)
            {
                return Err(invalid(
                    "dependsOn",
                    format!(
                        "dependsOn[{i}].jobId is required (only a SEQUENTIAL one may leave it out)"
                    ),
                ));
            }
            if dependency.kind.is_some() && array_size.is_none() {
                return Err(invalid(
                    "dependsOn",
                    format!("dependsOn[{i}].type is only for array jobs (arrayProperties)"),
                ));
            }
        }
        let parameters = req.parameters.unwrap_or_default();
        validate_parameters("parameters", &parameters)?;
        if let Some(overrides) = &req.container_overrides {
            overrides.validate()?;
        }
        if let Some(eks) = &req.eks_properties_override {
            eks.validate()?;
        }
        if let Some(retry) = &req.retry_strategy {
            retry.validate("retryStrategy")?;
        }
        if let Some(timeout) = &req.timeout {
            timeout.validate("timeout")?;
        }
        let tags = req.tags.unwrap_or_default();
        validate_tags("tags", &tags)?;
        Ok(SubmitCommand {
            job_name,
            job_queue,
            job_definition,
            array_size,
            depends_on,
            parameters,
            container_overrides: req.container_overrides,
            eks_properties_override: req.eks_properties_override,
            retry_strategy: req.retry_strategy,
            propagate_tags: req.propagate_tags,
            timeout: req.timeout,
            tags,
        })
    }
}

impl ContainerOverrides {
    fn validate(&self) -> Result<()> {
        ContainerProperties {
            vcpus: self.vcpus,
            memory: self.memory,
            environment: self.environment.clone(),
            resource_requirements: self.resource_requirements.clone(),
            ..Default::default()
        }
        .validate("containerOverrides", false)
    }
}

impl EksPropertiesOverride {
    fn validate(&self) -> Result<()> {
        let Some(pod) = &self.pod_properties else {
            return Ok(());
        };
        EksProperties {
            pod_properties: Some(EksPodProperties {
                containers: pod.containers.clone(),
                init_containers: pod.init_containers.clone(),
                ..Default::default()
            }),
        }
        .validate("eksPropertiesOverride", false)
    }
}

mod plan;

pub use plan::{
    ContainerPlan, EnvPlan, EnvValue, FailureAction, FailureRule, JobPlan, PlanContext, PodPlan,
    Submission, label_safe, plan,
};

#[cfg(test)]
mod tests;
