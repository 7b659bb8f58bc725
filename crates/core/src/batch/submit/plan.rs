//! The pure mapping of a validated SubmitJob and its job definition onto a [`JobPlan`]: the
//! Kubernetes Job to create, described without Kubernetes types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::super::definition::{
    ContainerProperties, DefinitionContent, EksContainer, EksMetadata, EksPodProperties,
    EksProperties, KeyValuePair, ResourceRequirement, ResourceType, RetryStrategy,
};
use super::super::detail::{ContainerDetail, SubmittedDetail};
use super::super::queue::QueueConfig;
use super::super::validate::Result;
use super::{
    ContainerOverrides, DEFAULT_CONTAINER, EksPodPropertiesOverride, MAX_JOB_NAME, SubmitCommand,
    invalid,
};

/// What the plan needs besides the request and the definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanContext<'a> {
    /// The new job's ID.
    pub job_id: &'a str,
    pub queue: &'a QueueConfig,
    /// The ARN of the definition's revision used.
    pub definition_arn: &'a str,
}

/// The Kubernetes Job to create, without Kubernetes types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPlan {
    /// `<jobName, DNS-1123>-<8 characters of the job ID>`, at most [`MAX_JOB_NAME`].
    pub name: String,
    pub namespace: String,
    /// The tags, sanitised into labels (see [`tag_labels`]).
    pub labels: BTreeMap<String, String>,
    /// The pod template's labels: the EKS metadata's, plus the tags with `propagateTags`.
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    /// Held until its dependencies succeed.
    pub suspend: bool,
    /// An array job: an Indexed Job of this many completions, all in parallel.
    pub completions: Option<i32>,
    /// `attempts - 1`; for an array job, per index (`backoffLimitPerIndex`).
    pub retries: i32,
    pub active_deadline_seconds: Option<i64>,
    /// `podFailurePolicy` rules from `evaluateOnExit`, in order.
    pub failure_rules: Vec<FailureRule>,
    pub pod: PodPlan,
    /// What DescribeJobs shows of the submission.
    pub submission: Submission,
}

/// One `podFailurePolicy` rule on exit codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRule {
    pub action: FailureAction,
    /// `In` these exit codes (1 to 255), or every failure (`NotIn [0]`) when `None`.
    pub exit_codes: Option<Vec<i32>>,
}

/// A `podFailurePolicy` action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureAction {
    /// EXIT on a plain job.
    FailJob,
    /// EXIT on an array child.
    FailIndex,
    /// RETRY: the failure counts against the retries.
    Count,
}

impl FailureAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureAction::FailJob => "FailJob",
            FailureAction::FailIndex => "FailIndex",
            FailureAction::Count => "Count",
        }
    }
}

/// The pod template's spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodPlan {
    pub service_account_name: Option<String>,
    pub host_network: Option<bool>,
    pub dns_policy: Option<String>,
    pub share_process_namespace: Option<bool>,
    pub image_pull_secrets: Vec<String>,
    pub containers: Vec<ContainerPlan>,
    pub init_containers: Vec<ContainerPlan>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    pub image_pull_policy: Option<String>,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<EnvPlan>,
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvPlan {
    pub name: String,
    pub value: EnvValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    Literal(String),
    /// The pod's completion index (downward API), for `AWS_BATCH_JOB_ARRAY_INDEX`.
    CompletionIndex,
}

/// What DescribeJobs shows of a submitted job, kept on the Job (an annotation) so it
/// survives restarts and needs no definition lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// The job's AWS name (the Job's own name is a DNS-1123 form of it).
    pub job_name: String,
    /// The effective pod of the EKS form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks_properties: Option<EksProperties>,
    /// The fields DescribeJobs shows as they are (the container's exit code excepted), in
    /// the same JSON object.
    #[serde(flatten)]
    pub shown: SubmittedDetail,
}

/// Replaces each `Ref::<name>` whose name is a parameter with its value (the longest name
/// that matches at that place); other text, unknown names included, stays as it is, as AWS
/// leaves it.
pub fn substitute(text: &str, parameters: &BTreeMap<String, String>) -> String {
    const REF: &str = "Ref::";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(REF) {
        out.push_str(&rest[..at]);
        let after = &rest[at + REF.len()..];
        let name = parameters
            .keys()
            .filter(|name| after.starts_with(name.as_str()))
            .max_by_key(|name| name.len());
        match name {
            Some(name) => {
                out.push_str(&parameters[name]);
                rest = &after[name.len()..];
            }
            None => {
                out.push_str(REF);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A tag as a label key or value: characters outside `[A-Za-z0-9-_.]` become `_`, the text is
/// cut to 63 characters and its ends trimmed to alphanumerics.
pub fn label_safe(s: &str) -> String {
    let replaced: String = s
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            _ => '_',
        })
        .take(63)
        .collect();
    replaced
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// Tags as labels ([`label_safe`] keys and values); a key that sanitises to nothing is left
/// out.
pub fn tag_labels(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .map(|(k, v)| (label_safe(k), label_safe(v)))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// `<jobName in DNS-1123 form, cut>-<first 8 characters of the job ID>`.
pub fn job_object_name(job_name: &str, job_id: &str) -> String {
    let suffix: String = job_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let slug: String = job_name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .take(MAX_JOB_NAME - 1 - suffix.len())
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        format!("job-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    }
}

/// `onExitCode` → the exit codes (1 to 255) it matches; `None` for every failure.
fn exit_codes(pattern: Option<&str>) -> Option<Vec<i32>> {
    let pattern = pattern.filter(|p| *p != "*")?;
    let codes = (1..=255).filter(|code: &i32| match pattern.strip_suffix('*') {
        Some(prefix) => code.to_string().starts_with(prefix),
        None => code.to_string() == pattern,
    });
    Some(codes.collect())
}

/// Only `*` (or nothing) can be expressed for `onReason` and `onStatusReason`: Kubernetes'
/// podFailurePolicy matches exit codes and pod conditions, not reason texts.
fn expressible(pattern: Option<&str>) -> bool {
    pattern.is_none_or(|p| p == "*")
}

/// `evaluateOnExit` → podFailurePolicy rules. A rule on reasons other than `*` cannot be
/// expressed and is left out; a rule that matches no exit code Kubernetes reports as a
/// failure (`0`, or over 255) too.
pub fn failure_rules(retry: Option<&RetryStrategy>, array: bool) -> Vec<FailureRule> {
    let Some(retry) = retry else {
        return Vec::new();
    };
    retry
        .evaluate_on_exit
        .iter()
        .filter(|rule| {
            expressible(rule.on_reason.as_deref()) && expressible(rule.on_status_reason.as_deref())
        })
        .filter_map(|rule| {
            let action = match (rule.retry()?, array) {
                (true, _) => FailureAction::Count,
                (false, false) => FailureAction::FailJob,
                (false, true) => FailureAction::FailIndex,
            };
            let exit_codes = exit_codes(rule.on_exit_code.as_deref());
            if exit_codes.as_ref().is_some_and(Vec::is_empty) {
                return None;
            }
            Some(FailureRule { action, exit_codes })
        })
        .collect()
}

/// `over` on top of `base`: a type given in both takes `over`'s value.
fn merge_resources(
    base: &[ResourceRequirement],
    over: &[ResourceRequirement],
) -> Vec<ResourceRequirement> {
    let mut by_type: BTreeMap<ResourceType, String> = BTreeMap::new();
    for r in base.iter().chain(over) {
        by_type.insert(r.kind, r.value.clone());
    }
    by_type
        .into_iter()
        .map(|(kind, value)| ResourceRequirement { value, kind })
        .collect()
}

/// The deprecated `vcpus` and `memory`, as the requirements AWS reads them as, under `rest`.
fn with_legacy(
    vcpus: Option<i32>,
    memory: Option<i32>,
    rest: &[ResourceRequirement],
) -> Vec<ResourceRequirement> {
    let legacy: Vec<ResourceRequirement> =
        [(ResourceType::Vcpu, vcpus), (ResourceType::Memory, memory)]
            .into_iter()
            .filter_map(|(kind, v)| {
                v.map(|v| ResourceRequirement {
                    value: v.to_string(),
                    kind,
                })
            })
            .collect();
    merge_resources(&legacy, rest)
}

/// VCPU → `requests.cpu`; MEMORY (MiB) → `requests.memory` and `limits.memory`; GPU →
/// `limits["nvidia.com/gpu"]`. AWS reserves vCPUs (no hard cap) and caps memory.
fn kube_resources(
    requirements: &[ResourceRequirement],
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for r in requirements {
        match r.kind {
            ResourceType::Vcpu => {
                requests.insert("cpu".to_owned(), r.value.clone());
            }
            ResourceType::Memory => {
                requests.insert("memory".to_owned(), format!("{}Mi", r.value));
                limits.insert("memory".to_owned(), format!("{}Mi", r.value));
            }
            ResourceType::Gpu => {
                limits.insert("nvidia.com/gpu".to_owned(), r.value.clone());
            }
        }
    }
    (requests, limits)
}

/// Environment variables by name, later ones winning, in first-seen order.
fn merge_env(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in pairs {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) => existing.1 = value,
            None => out.push((name, value)),
        }
    }
    out
}

/// The variables AWS Batch sets in every container, first (so that the others may refer to
/// them). An array child's job ID is `<job ID>:<index>`, by Kubernetes' `$(VAR)` expansion.
fn batch_env(ctx: &PlanContext<'_>, array: bool) -> Vec<EnvPlan> {
    let literal = |name: &str, value: String| EnvPlan {
        name: name.to_owned(),
        value: EnvValue::Literal(value),
    };
    let mut env = Vec::new();
    if array {
        env.push(EnvPlan {
            name: "AWS_BATCH_JOB_ARRAY_INDEX".to_owned(),
            value: EnvValue::CompletionIndex,
        });
        env.push(literal(
            "AWS_BATCH_JOB_ID",
            format!("{}:$(AWS_BATCH_JOB_ARRAY_INDEX)", ctx.job_id),
        ));
    } else {
        env.push(literal("AWS_BATCH_JOB_ID", ctx.job_id.to_owned()));
    }
    env.push(literal("AWS_BATCH_JQ_NAME", ctx.queue.name.clone()));
    env.push(literal("AWS_BATCH_CE_NAME", ctx.queue.namespace.clone()));
    // Kubernetes tells a pod nothing about earlier attempts of its Job.
    env.push(literal("AWS_BATCH_JOB_ATTEMPT", "1".to_owned()));
    env
}

fn with_batch_env(batch: &[EnvPlan], own: Vec<(String, String)>) -> Vec<EnvPlan> {
    batch
        .iter()
        .cloned()
        .chain(own.into_iter().map(|(name, value)| EnvPlan {
            name,
            value: EnvValue::Literal(value),
        }))
        .collect()
}

/// The Job for `command` with `definition`.
pub fn plan(
    command: &SubmitCommand,
    definition: &DefinitionContent,
    ctx: &PlanContext<'_>,
) -> Result<JobPlan> {
    let array = command.array_size.is_some();
    let mut parameters = definition.parameters.clone();
    parameters.extend(command.parameters.clone());
    let retry_strategy = command
        .retry_strategy
        .clone()
        .or_else(|| definition.retry_strategy.clone());
    let timeout = command
        .timeout
        .clone()
        .or_else(|| definition.timeout.clone());
    let propagate_tags = command
        .propagate_tags
        .or(definition.propagate_tags)
        .unwrap_or(false);
    let batch = batch_env(ctx, array);
    let mut pod_labels = BTreeMap::new();
    let mut pod_annotations = BTreeMap::new();
    let mut submission = Submission {
        job_name: command.job_name.clone(),
        eks_properties: None,
        shown: SubmittedDetail {
            job_definition: ctx.definition_arn.to_owned(),
            parameters: parameters.clone(),
            retry_strategy: retry_strategy.clone(),
            timeout: timeout.clone(),
            propagate_tags,
            platform_capabilities: definition.platform_capabilities.clone(),
            container: None,
        },
    };
    let pod = match (&definition.container_properties, &definition.eks_properties) {
        (Some(container), None) => {
            if command.eks_properties_override.is_some() {
                return Err(invalid(
                    "eksPropertiesOverride",
                    "the job definition has containerProperties; use containerOverrides",
                ));
            }
            let effective =
                override_container(container, command.container_overrides.as_ref(), &parameters);
            let (requests, limits) = kube_resources(&effective.resource_requirements);
            let env = effective.environment.iter().map(|p| {
                (
                    p.name.clone().unwrap_or_default(),
                    p.value.clone().unwrap_or_default(),
                )
            });
            let plan = PodPlan {
                containers: vec![ContainerPlan {
                    name: DEFAULT_CONTAINER.to_owned(),
                    image: effective.image.clone().unwrap_or_default(),
                    command: effective.command.clone(),
                    env: with_batch_env(&batch, env.collect()),
                    requests,
                    limits,
                    ..Default::default()
                }],
                ..Default::default()
            };
            submission.shown.container = Some(ContainerDetail::from(effective));
            plan
        }
        (None, Some(eks)) => {
            if command.container_overrides.is_some() {
                return Err(invalid(
                    "containerOverrides",
                    "the job definition has eksProperties; use eksPropertiesOverride",
                ));
            }
            let pod = eks.pod_properties.clone().unwrap_or_default();
            let overrides = command
                .eks_properties_override
                .as_ref()
                .and_then(|o| o.pod_properties.clone())
                .unwrap_or_default();
            let effective = override_pod(pod, &overrides, &parameters)?;
            if let Some(metadata) = &effective.metadata {
                pod_labels.extend(metadata.labels.clone());
                pod_annotations.extend(metadata.annotations.clone());
            }
            let containers = |list: &[EksContainer], prefix: &str| -> Vec<ContainerPlan> {
                list.iter()
                    .enumerate()
                    .map(|(i, c)| eks_container(c, &container_name(c, prefix, i), &batch))
                    .collect()
            };
            let plan = PodPlan {
                service_account_name: effective.service_account_name.clone(),
                host_network: effective.host_network,
                dns_policy: effective.dns_policy.clone(),
                share_process_namespace: effective.share_process_namespace,
                image_pull_secrets: effective
                    .image_pull_secrets
                    .iter()
                    .map(|s| s.name.clone())
                    .collect(),
                containers: containers(&effective.containers, DEFAULT_CONTAINER),
                init_containers: containers(&effective.init_containers, "init"),
            };
            submission.eks_properties = Some(EksProperties {
                pod_properties: Some(effective),
            });
            plan
        }
        // Registration guarantees exactly one form.
        _ => {
            return Err(invalid(
                "jobDefinition",
                "the job definition has neither containerProperties nor eksProperties",
            ));
        }
    };
    let labels = tag_labels(&command.tags);
    if propagate_tags {
        let mut tags = definition.tags.clone();
        tags.extend(command.tags.clone());
        pod_labels.extend(tag_labels(&tags));
    }
    let attempts = retry_strategy
        .as_ref()
        .and_then(|r| r.attempts)
        .unwrap_or(1);
    Ok(JobPlan {
        name: job_object_name(&command.job_name, ctx.job_id),
        namespace: ctx.queue.namespace.clone(),
        labels,
        pod_labels,
        pod_annotations,
        suspend: !command.depends_on.is_empty(),
        completions: command.array_size,
        retries: attempts - 1,
        active_deadline_seconds: timeout
            .and_then(|t| t.attempt_duration_seconds)
            .map(i64::from),
        failure_rules: failure_rules(retry_strategy.as_ref(), array),
        pod,
        submission,
    })
}

/// The `container` form after the overrides, with parameters substituted in the command.
fn override_container(
    base: &ContainerProperties,
    overrides: Option<&ContainerOverrides>,
    parameters: &BTreeMap<String, String>,
) -> ContainerProperties {
    let empty = ContainerOverrides::default();
    let o = overrides.unwrap_or(&empty);
    let command = o.command.clone().unwrap_or_else(|| base.command.clone());
    let env = merge_env(base.environment.iter().chain(&o.environment).map(|p| {
        (
            p.name.clone().unwrap_or_default(),
            p.value.clone().unwrap_or_default(),
        )
    }));
    ContainerProperties {
        image: base.image.clone(),
        vcpus: None,
        memory: None,
        command: command.iter().map(|c| substitute(c, parameters)).collect(),
        job_role_arn: base.job_role_arn.clone(),
        execution_role_arn: base.execution_role_arn.clone(),
        environment: env
            .into_iter()
            .map(|(name, value)| KeyValuePair {
                name: Some(name),
                value: Some(value),
            })
            .collect(),
        resource_requirements: merge_resources(
            &with_legacy(base.vcpus, base.memory, &base.resource_requirements),
            &with_legacy(o.vcpus, o.memory, &o.resource_requirements),
        ),
    }
}

fn container_name(c: &EksContainer, prefix: &str, i: usize) -> String {
    c.name.clone().unwrap_or_else(|| match i {
        0 => prefix.to_owned(),
        i => format!("{prefix}-{i}"),
    })
}

/// The EKS pod after the overrides (containers matched by name; an unnamed override applies
/// to the only container), with parameters substituted in commands and args.
fn override_pod(
    mut pod: EksPodProperties,
    overrides: &EksPodPropertiesOverride,
    parameters: &BTreeMap<String, String>,
) -> Result<EksPodProperties> {
    for (list, base, over) in [
        ("containers", &mut pod.containers, &overrides.containers),
        (
            "initContainers",
            &mut pod.init_containers,
            &overrides.init_containers,
        ),
    ] {
        for (i, o) in over.iter().enumerate() {
            let target = match &o.name {
                Some(name) => base.iter_mut().find(|c| c.name.as_ref() == Some(name)),
                None if base.len() == 1 => base.first_mut(),
                None => None,
            };
            let Some(target) = target else {
                return Err(invalid(
                    "eksPropertiesOverride",
                    format!(
                        "podProperties.{list}[{i}] names no container of the job definition \
                         (give the name of one)"
                    ),
                ));
            };
            if let Some(image) = &o.image {
                target.image = Some(image.clone());
            }
            if !o.command.is_empty() {
                target.command = o.command.clone();
            }
            if !o.args.is_empty() {
                target.args = o.args.clone();
            }
            let env = merge_env(
                target
                    .env
                    .iter()
                    .chain(&o.env)
                    .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default())),
            );
            target.env = env
                .into_iter()
                .map(
                    |(name, value)| super::super::definition::EksEnvironmentVariable {
                        name,
                        value: Some(value),
                    },
                )
                .collect();
            if o.resources.is_some() {
                target.resources = o.resources.clone();
            }
        }
        for c in base.iter_mut() {
            c.command = c
                .command
                .iter()
                .map(|s| substitute(s, parameters))
                .collect();
            c.args = c.args.iter().map(|s| substitute(s, parameters)).collect();
        }
    }
    if let Some(meta) = &overrides.metadata {
        let target = pod.metadata.get_or_insert_with(EksMetadata::default);
        target.labels.extend(meta.labels.clone());
        target.annotations.extend(meta.annotations.clone());
    }
    Ok(pod)
}

fn eks_container(c: &EksContainer, name: &str, batch: &[EnvPlan]) -> ContainerPlan {
    let resources = c.resources.clone().unwrap_or_default();
    ContainerPlan {
        name: name.to_owned(),
        image: c.image.clone().unwrap_or_default(),
        image_pull_policy: c.image_pull_policy.clone(),
        command: c.command.clone(),
        args: c.args.clone(),
        env: with_batch_env(
            batch,
            c.env
                .iter()
                .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                .collect(),
        ),
        requests: resources.requests,
        limits: resources.limits,
    }
}
