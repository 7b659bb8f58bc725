//! Job definitions: the AWS shapes of RegisterJobDefinition's content (the `container` form and
//! the EKS form), their validation, and names, revisions and ARNs.
//!
//! The fields kept are those with a Kubernetes meaning; other AWS fields (volumes, mount
//! points, ulimits, secrets, log configuration, security contexts, ...) are accepted by the
//! wire types' parsers and ignored (README, "Submitting jobs").

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::queue::is_aws_name;
use super::validate::{Error, Result};

/// AWS limits on a job definition.
pub const MAX_DEFINITION_NAME: usize = 128;
pub const MAX_ATTEMPTS: i32 = 10;
pub const MAX_EVALUATE_ON_EXIT: usize = 5;
pub const MIN_ATTEMPT_DURATION_SECONDS: i32 = 60;
pub const MAX_TAGS: usize = 50;

/// `name=value` (AWS `KeyValuePair`), the `container` form's environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyValuePair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// AWS `ResourceType`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum ResourceType {
    #[serde(rename = "VCPU")]
    Vcpu,
    #[serde(rename = "MEMORY")]
    Memory,
    #[serde(rename = "GPU")]
    Gpu,
}

/// AWS `ResourceRequirement`: VCPU (a decimal), MEMORY (MiB) or GPU (a count).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirement {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
}

/// AWS `RetryStrategy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// 1 to 10 attempts; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluate_on_exit: Vec<EvaluateOnExit>,
}

/// AWS `EvaluateOnExit`: the first entry that matches a failed attempt decides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateOnExit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_reason: Option<String>,
    /// Digits, optionally ending in `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_exit_code: Option<String>,
    /// `RETRY` or `EXIT` (any case, as AWS accepts).
    pub action: String,
}

/// AWS `JobTimeout`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobTimeout {
    /// At least 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_duration_seconds: Option<i32>,
}

/// AWS `ContainerProperties`, the fields with a Kubernetes meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Deprecated in AWS for `resourceRequirements` VCPU; read as it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcpus: Option<i32>,
    /// Deprecated in AWS for `resourceRequirements` MEMORY (MiB); read as it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Accepted and ignored: pods get their identity from their ServiceAccount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_role_arn: Option<String>,
    /// Accepted and ignored, as `jobRoleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment: Vec<KeyValuePair>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_requirements: Vec<ResourceRequirement>,
}

/// AWS `EksProperties`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_properties: Option<EksPodProperties>,
}

/// AWS `EksPodProperties`, the fields kept; it maps field by field onto a PodSpec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksPodProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_network: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<ImagePullSecret>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<EksContainer>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<EksContainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<EksMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_process_namespace: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImagePullSecret {
    pub name: String,
}

/// AWS `EksContainer` (and, with every field optional, `EksContainerOverride`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EksContainer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EksEnvironmentVariable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<EksResources>,
}

/// AWS `EksContainerEnvironmentVariable`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EksEnvironmentVariable {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// AWS `EksContainerResourceRequirements`: Kubernetes quantities.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EksResources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
}

/// AWS `EksMetadata`. `namespace` is ignored: the job queue decides it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EksMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// What RegisterJobDefinition registers (besides the name), as stored in each revision and
/// answered by DescribeJobDefinitions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionContent {
    /// `container` (the only type: `multinode` has no Kubernetes Job form).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Defaults for `Ref::<name>` in the command.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Accepted and shown; Kubernetes Jobs have no scheduling priority of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling_priority: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_properties: Option<ContainerProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks_properties: Option<EksProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagate_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<JobTimeout>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Accepted and shown (`EC2`, `FARGATE`); it changes nothing on Kubernetes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platform_capabilities: Vec<String>,
}

/// AWS `JobDefinition`, as DescribeJobDefinitions answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDefinition {
    pub job_definition_name: String,
    pub job_definition_arn: String,
    pub revision: i32,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// `ECS` for the `container` form, `EKS` for `eksProperties`.
    pub container_orchestration_type: String,
    #[serde(flatten)]
    pub content: DefinitionContent,
}

/// `arn:aws:batch:<region>:<account>:job-definition/<name>:<revision>`.
pub fn job_definition_arn(region: &str, account: &str, name: &str, revision: i32) -> String {
    format!("arn:aws:batch:{region}:{account}:job-definition/{name}:{revision}")
}

/// How a request names a job definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefinitionRef {
    /// `name`: its latest ACTIVE revision.
    Latest(String),
    /// `name:revision`, or the ARN.
    Revision(String, i32),
}

impl DefinitionRef {
    /// Parses `name`, `name:revision` or
    /// `arn:aws:batch:<region>:<account>:job-definition/name[:revision]`.
    pub fn parse(field: &'static str, s: &str) -> Result<DefinitionRef> {
        let bare = match s.strip_prefix("arn:") {
            Some(rest) => {
                rest.split_once(":job-definition/")
                    .ok_or_else(|| Error::Invalid {
                        field,
                        message: format!("{s:?} is not a job definition ARN"),
                    })?
                    .1
            }
            None => s,
        };
        let invalid = || Error::Invalid {
            field,
            message: format!(
                "{s:?} is not a job definition name, name:revision or job definition ARN"
            ),
        };
        match bare.split_once(':') {
            None if is_aws_name(bare, MAX_DEFINITION_NAME) => {
                Ok(DefinitionRef::Latest(bare.to_owned()))
            }
            Some((name, revision)) if is_aws_name(name, MAX_DEFINITION_NAME) => {
                match revision.parse::<i32>() {
                    Ok(r) if r >= 1 && !revision.starts_with('+') => {
                        Ok(DefinitionRef::Revision(name.to_owned(), r))
                    }
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            DefinitionRef::Latest(name) | DefinitionRef::Revision(name, _) => name,
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field,
        message: message.into(),
    }
}

/// Checks a job definition name (AWS: 1 to 128 letters, digits, `-` and `_`).
pub fn validate_definition_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::Required {
            field: "jobDefinitionName",
        });
    }
    if !is_aws_name(name, MAX_DEFINITION_NAME) {
        return Err(invalid(
            "jobDefinitionName",
            "up to 128 letters (uppercase and lowercase), numbers, hyphens and underscores",
        ));
    }
    Ok(())
}

impl DefinitionContent {
    /// The orchestration type AWS reports: `EKS` with `eksProperties`, else `ECS`.
    pub fn orchestration_type(&self) -> &'static str {
        if self.eks_properties.is_some() {
            "EKS"
        } else {
            "ECS"
        }
    }

    /// RegisterJobDefinition's rules, each error naming the field.
    pub fn validate(&self) -> Result<()> {
        match self.kind.as_str() {
            "" => return Err(Error::Required { field: "type" }),
            "container" => {}
            "multinode" => {
                return Err(invalid(
                    "type",
                    "multinode job definitions are not supported: a Kubernetes Job has no \
                     multi-node parallel form",
                ));
            }
            other => return Err(invalid("type", format!("{other:?} is not container"))),
        }
        match (&self.container_properties, &self.eks_properties) {
            (Some(container), None) => container.validate("containerProperties", true)?,
            (None, Some(eks)) => eks.validate("eksProperties", true)?,
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "containerProperties",
                    "give only one of containerProperties and eksProperties",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "containerProperties",
                    "a container job definition needs containerProperties or eksProperties",
                ));
            }
        }
        validate_parameters("parameters", &self.parameters)?;
        if let Some(retry) = &self.retry_strategy {
            retry.validate("retryStrategy")?;
        }
        if let Some(timeout) = &self.timeout {
            timeout.validate("timeout")?;
        }
        validate_tags("tags", &self.tags)
    }
}

pub(super) fn validate_parameters(
    field: &'static str,
    parameters: &BTreeMap<String, String>,
) -> Result<()> {
    if parameters.keys().any(|k| k.is_empty()) {
        return Err(invalid(field, "a parameter name is empty"));
    }
    Ok(())
}

pub(super) fn validate_tags(field: &'static str, tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::TooMany {
            field,
            max: MAX_TAGS,
            actual: tags.len(),
        });
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(invalid(
                field,
                format!("tag key {key:?} must be 1 to 128 characters"),
            ));
        }
        if value.chars().count() > 256 {
            return Err(invalid(
                field,
                format!("the value of tag {key:?} is over 256 characters"),
            ));
        }
    }
    Ok(())
}

impl ContainerProperties {
    /// `definition`: the definition's form, which needs an image; an override needs none.
    pub(super) fn validate(&self, field: &'static str, definition: bool) -> Result<()> {
        if definition && self.image.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(field, "image is required"));
        }
        for (i, pair) in self.environment.iter().enumerate() {
            let name = pair.name.as_deref().unwrap_or_default();
            if name.is_empty() {
                return Err(invalid(field, format!("environment[{i}].name is required")));
            }
            if name.starts_with("AWS_BATCH") {
                return Err(invalid(
                    field,
                    format!(
                        "environment[{i}].name {name:?}: names starting with AWS_BATCH are \
                         reserved"
                    ),
                ));
            }
        }
        if self.vcpus.is_some_and(|v| v < 1) {
            return Err(invalid(field, "vcpus must be at least 1"));
        }
        if self.memory.is_some_and(|m| m < 1) {
            return Err(invalid(field, "memory must be at least 1 (MiB)"));
        }
        validate_resources(field, &self.resource_requirements)
    }
}

fn validate_resources(field: &'static str, requirements: &[ResourceRequirement]) -> Result<()> {
    let mut seen = Vec::new();
    for r in requirements {
        if seen.contains(&r.kind) {
            return Err(invalid(
                field,
                format!("resourceRequirements lists {:?} twice", r.kind),
            ));
        }
        seen.push(r.kind);
        let ok = match r.kind {
            ResourceType::Vcpu => {
                r.value
                    .parse::<f64>()
                    .is_ok_and(|v| v > 0.0 && v.is_finite())
                    && r.value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            }
            ResourceType::Memory | ResourceType::Gpu => {
                r.value.parse::<u32>().is_ok_and(|v| v > 0)
                    && r.value.bytes().all(|b| b.is_ascii_digit())
            }
        };
        if !ok {
            return Err(invalid(
                field,
                format!(
                    "resourceRequirements {}: {:?} is not a positive {}",
                    match r.kind {
                        ResourceType::Vcpu => "VCPU",
                        ResourceType::Memory => "MEMORY",
                        ResourceType::Gpu => "GPU",
                    },
                    r.value,
                    match r.kind {
                        ResourceType::Vcpu => "number of vCPUs",
                        ResourceType::Memory => "whole number of MiB",
                        ResourceType::Gpu => "whole number of GPUs",
                    }
                ),
            ));
        }
    }
    Ok(())
}

impl EksProperties {
    pub(super) fn validate(&self, field: &'static str, definition: bool) -> Result<()> {
        let Some(pod) = &self.pod_properties else {
            return Err(invalid(field, "podProperties is required"));
        };
        if definition && pod.containers.is_empty() {
            return Err(invalid(
                field,
                "podProperties.containers needs at least one container",
            ));
        }
        let mut names = Vec::new();
        for (list, containers) in [
            ("containers", &pod.containers),
            ("initContainers", &pod.init_containers),
        ] {
            for (i, c) in containers.iter().enumerate() {
                if definition && c.image.as_deref().is_none_or(str::is_empty) {
                    return Err(invalid(
                        field,
                        format!("podProperties.{list}[{i}].image is required"),
                    ));
                }
                if let Some(name) = &c.name {
                    if !super::queue::is_dns_label(name) {
                        return Err(invalid(
                            field,
                            format!(
                                "podProperties.{list}[{i}].name {name:?} is not a DNS-1123 label"
                            ),
                        ));
                    }
                    if names.contains(name) {
                        return Err(invalid(
                            field,
                            format!("podProperties.{list}[{i}].name {name:?} is used twice"),
                        ));
                    }
                    names.push(name.clone());
                }
                for (j, env) in c.env.iter().enumerate() {
                    if env.name.is_empty() || env.name.starts_with("AWS_BATCH") {
                        return Err(invalid(
                            field,
                            format!(
                                "podProperties.{list}[{i}].env[{j}].name must be non-empty and \
                                 not start with AWS_BATCH"
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl RetryStrategy {
    pub(super) fn validate(&self, field: &'static str) -> Result<()> {
        if let Some(attempts) = self.attempts
            && !(1..=MAX_ATTEMPTS).contains(&attempts)
        {
            return Err(invalid(
                field,
                format!("attempts must be 1 to {MAX_ATTEMPTS}, but it is {attempts}"),
            ));
        }
        if self.evaluate_on_exit.len() > MAX_EVALUATE_ON_EXIT {
            return Err(invalid(
                field,
                format!("evaluateOnExit takes at most {MAX_EVALUATE_ON_EXIT} entries"),
            ));
        }
        for (i, rule) in self.evaluate_on_exit.iter().enumerate() {
            if rule.retry().is_none() {
                return Err(invalid(
                    field,
                    format!("evaluateOnExit[{i}].action must be RETRY or EXIT"),
                ));
            }
            if let Some(code) = &rule.on_exit_code
                && !is_exit_code_pattern(code)
            {
                return Err(invalid(
                    field,
                    format!(
                        "evaluateOnExit[{i}].onExitCode {code:?}: digits, optionally ending \
                         in *"
                    ),
                ));
            }
            for pattern in [&rule.on_reason, &rule.on_status_reason]
                .into_iter()
                .flatten()
            {
                if pattern.chars().count() > 512 {
                    return Err(invalid(
                        field,
                        format!("evaluateOnExit[{i}]: a pattern is over 512 characters"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl EvaluateOnExit {
    /// `Some(true)` for RETRY, `Some(false)` for EXIT, any case.
    pub fn retry(&self) -> Option<bool> {
        match self.action.to_ascii_uppercase().as_str() {
            "RETRY" => Some(true),
            "EXIT" => Some(false),
            _ => None,
        }
    }
}

/// `onExitCode`: digits optionally ending in `*` (a lone `*` too), at most 512 characters.
fn is_exit_code_pattern(s: &str) -> bool {
    let digits = s.strip_suffix('*').unwrap_or(s);
    s.len() <= 512 && !s.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

impl JobTimeout {
    pub(super) fn validate(&self, field: &'static str) -> Result<()> {
        match self.attempt_duration_seconds {
            Some(s) if s < MIN_ATTEMPT_DURATION_SECONDS => Err(invalid(
                field,
                format!(
                    "attemptDurationSeconds must be at least {MIN_ATTEMPT_DURATION_SECONDS}, but \
                     it is {s}"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// DescribeJobDefinitions takes at most 100 definitions by name or ARN.
pub const MAX_DESCRIBE_DEFINITIONS: usize = 100;

/// `ACTIVE` or `INACTIVE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefinitionStatus {
    Active,
    Inactive,
}

impl DefinitionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionStatus::Active => "ACTIVE",
            DefinitionStatus::Inactive => "INACTIVE",
        }
    }
}

/// A validated DescribeJobDefinitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinitionQuery {
    /// `jobDefinitions`: names (every revision), `name:revision`s or ARNs.
    pub refs: Vec<DefinitionRef>,
    /// `jobDefinitionName`: every revision of that name.
    pub name: Option<String>,
    pub status: Option<DefinitionStatus>,
    pub max_results: usize,
    /// The last (name, revision) of the previous page.
    after: Option<(String, i32)>,
}

impl DefinitionQuery {
    /// Checks DescribeJobDefinitions: at most 100 `jobDefinitions`, a valid
    /// `jobDefinitionName`, `status` ACTIVE or INACTIVE, `maxResults` 1 to 100 (100 when
    /// absent) and a `nextToken` this service returned.
    pub fn new(
        job_definitions: Vec<String>,
        job_definition_name: Option<String>,
        status: Option<String>,
        max_results: Option<i64>,
        next_token: Option<String>,
    ) -> Result<DefinitionQuery> {
        if job_definitions.len() > MAX_DESCRIBE_DEFINITIONS {
            return Err(Error::TooMany {
                field: "jobDefinitions",
                max: MAX_DESCRIBE_DEFINITIONS,
                actual: job_definitions.len(),
            });
        }
        let refs = job_definitions
            .iter()
            .map(|d| DefinitionRef::parse("jobDefinitions", d))
            .collect::<Result<Vec<_>>>()?;
        let name = job_definition_name.filter(|n| !n.is_empty());
        if let Some(name) = &name
            && !is_aws_name(name, MAX_DEFINITION_NAME)
        {
            return Err(invalid(
                "jobDefinitionName",
                format!("{name:?} is not a job definition name"),
            ));
        }
        let status = match status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("ACTIVE") => Some(DefinitionStatus::Active),
            Some("INACTIVE") => Some(DefinitionStatus::Inactive),
            Some(other) => {
                return Err(invalid(
                    "status",
                    format!("{other:?} is not ACTIVE or INACTIVE"),
                ));
            }
        };
        let max_results = match max_results {
            None => 100,
            Some(n @ 1..=100) => n as usize,
            Some(n) => {
                return Err(invalid(
                    "maxResults",
                    format!("must be 1 to 100, but it is {n}"),
                ));
            }
        };
        let after = match next_token.filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => {
                let last = super::queue::decode_token(&token)?;
                let (name, revision) = last
                    .rsplit_once(':')
                    .and_then(|(n, r)| Some((n.to_owned(), r.parse().ok()?)))
                    .ok_or_else(|| invalid("nextToken", "not a token this service returned"))?;
                Some((name, revision))
            }
        };
        Ok(DefinitionQuery {
            refs,
            name,
            status,
            max_results,
            after,
        })
    }

    /// The only name the query can match, when there is one (lets the service list one
    /// name's revisions only).
    pub fn single_name(&self) -> Option<&str> {
        let mut names = self
            .refs
            .iter()
            .map(DefinitionRef::name)
            .chain(self.name.as_deref());
        let first = names.next()?;
        names.all(|n| n == first).then_some(first)
    }

    fn matches(&self, d: &JobDefinition) -> bool {
        let by_ref = self.refs.is_empty()
            || self.refs.iter().any(|r| match r {
                DefinitionRef::Latest(name) => *name == d.job_definition_name,
                DefinitionRef::Revision(name, revision) => {
                    *name == d.job_definition_name && *revision == d.revision
                }
            });
        let by_name = self
            .name
            .as_ref()
            .is_none_or(|n| *n == d.job_definition_name);
        let by_status = self.status.is_none_or(|s| s.as_str() == d.status);
        by_ref && by_name && by_status
    }

    /// One page of the matching definitions, by name, then revision; the last page has no
    /// token.
    pub fn page(&self, mut all: Vec<JobDefinition>) -> (Vec<JobDefinition>, Option<String>) {
        all.retain(|d| self.matches(d));
        all.sort_by(|a, b| {
            (a.job_definition_name.as_str(), a.revision)
                .cmp(&(b.job_definition_name.as_str(), b.revision))
        });
        if let Some((name, revision)) = &self.after {
            all.retain(|d| {
                (d.job_definition_name.as_str(), d.revision) > (name.as_str(), *revision)
            });
        }
        let next = (all.len() > self.max_results).then(|| {
            let last = &all[self.max_results - 1];
            super::queue::encode_token(&format!("{}:{}", last.job_definition_name, last.revision))
        });
        all.truncate(self.max_results);
        (all, next)
    }
}

#[cfg(test)]
mod tests;
