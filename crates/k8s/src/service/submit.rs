//! SubmitJob on Kubernetes: the queue and the definition are resolved, the pure plan
//! ([`batch::plan`]) is built into a `batch/v1` Job, and the Job is created in the queue's
//! namespace.
//!
//! Retries: the AWS SDKs send one `amz-sdk-invocation-id` for every retry of one call. The
//! job ID is then derived from it and the caller's access key (UUID v5), and the Job's name
//! from the job ID, so a retried SubmitJob meets the Job its first attempt created (409) and
//! answers that job. Without the header every request is a new job, as in AWS.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use uuid::Uuid;

use super::KubeJobService;
use crate::api::{RequestContext, ServiceError, SubmitJobResponse};
use crate::batch::{
    self, DefinitionStatus, EnvValue, JobDependency, JobPlan, PlanContext, QueueConfig, QueueState,
    SubmitCommand,
};
use crate::controller::FIELD_MANAGER;
use crate::controller::actions::is_already_exists;
use crate::index::Lookup;
use crate::record::{
    DEPENDS_ON_ANNOTATION, JOB_ID_LABEL, JOB_QUEUE_LABEL, KUEUE_QUEUE_ANNOTATION,
    KUEUE_QUEUE_LABEL, SUBMISSION_ANNOTATION,
};

/// How long SubmitJob waits for its Job to reach the watch cache before it answers.
const READ_AFTER_WRITE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The UUID v5 namespace of job IDs derived from invocation IDs.
const INVOCATION_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_4a7e_2c1d_4f0e_9a55_3e7b_0c2d_8f41);

/// A new job ID: derived from the SDK's invocation ID and the caller's key when the request
/// has one (so its retries get the same ID), else random.
pub fn job_id(access_key_id: Option<&str>, invocation_id: Option<&str>) -> String {
    match invocation_id {
        Some(invocation) => {
            let key = access_key_id.unwrap_or("anonymous");
            Uuid::new_v5(
                &INVOCATION_NAMESPACE,
                format!("{key}\n{invocation}").as_bytes(),
            )
        }
        None => Uuid::new_v4(),
    }
    .to_string()
}

/// The `batch/v1` Job of a plan. A held job (with dependencies) is created suspended, with
/// its dependencies in an annotation and, for a Kueue queue, the LocalQueue in an annotation
/// instead of Kueue's label (Kueue would resume it).
pub fn build_job(
    plan: &JobPlan,
    job_id: &str,
    queue: &QueueConfig,
    depends_on: &[JobDependency],
) -> Result<Job, serde_json::Error> {
    let mut labels = plan.labels.clone();
    labels.insert(JOB_ID_LABEL.to_owned(), job_id.to_owned());
    labels.insert(JOB_QUEUE_LABEL.to_owned(), queue.name.clone());
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(
        SUBMISSION_ANNOTATION.to_owned(),
        serde_json::to_string(&plan.submission)?,
    );
    if let Some(local_queue) = &queue.kueue_local_queue {
        if plan.suspend {
            annotations.insert(KUEUE_QUEUE_ANNOTATION.to_owned(), local_queue.clone());
        } else {
            labels.insert(KUEUE_QUEUE_LABEL.to_owned(), local_queue.clone());
        }
    }
    if !depends_on.is_empty() {
        annotations.insert(
            DEPENDS_ON_ANNOTATION.to_owned(),
            serde_json::to_string(depends_on)?,
        );
    }
    let containers =
        |list: &[batch::ContainerPlan]| -> Vec<Value> { list.iter().map(container).collect() };
    let mut pod_spec = json!({
        "restartPolicy": "Never",
        "containers": containers(&plan.pod.containers),
    });
    let set = |spec: &mut Value, key: &str, value: Value| {
        if !value.is_null() {
            spec[key] = value;
        }
    };
    if !plan.pod.init_containers.is_empty() {
        pod_spec["initContainers"] = json!(containers(&plan.pod.init_containers));
    }
    set(
        &mut pod_spec,
        "serviceAccountName",
        json!(plan.pod.service_account_name),
    );
    set(&mut pod_spec, "hostNetwork", json!(plan.pod.host_network));
    set(&mut pod_spec, "dnsPolicy", json!(plan.pod.dns_policy));
    set(
        &mut pod_spec,
        "shareProcessNamespace",
        json!(plan.pod.share_process_namespace),
    );
    if !plan.pod.image_pull_secrets.is_empty() {
        pod_spec["imagePullSecrets"] = plan
            .pod
            .image_pull_secrets
            .iter()
            .map(|name| json!({"name": name}))
            .collect();
    }
    let mut spec = json!({
        "template": {
            "metadata": {"labels": plan.pod_labels, "annotations": plan.pod_annotations},
            "spec": pod_spec,
        },
    });
    if plan.suspend {
        spec["suspend"] = json!(true);
    }
    match plan.completions {
        Some(size) => {
            spec["completionMode"] = json!("Indexed");
            spec["completions"] = json!(size);
            spec["parallelism"] = json!(size);
            // Each child retries on its own, as an AWS array child does.
            spec["backoffLimitPerIndex"] = json!(plan.retries);
        }
        None => spec["backoffLimit"] = json!(plan.retries),
    }
    set(
        &mut spec,
        "activeDeadlineSeconds",
        json!(plan.active_deadline_seconds),
    );
    if !plan.failure_rules.is_empty() {
        let rules: Vec<Value> = plan
            .failure_rules
            .iter()
            .map(|rule| {
                let on_exit_codes = match &rule.exit_codes {
                    Some(codes) => json!({"operator": "In", "values": codes}),
                    None => json!({"operator": "NotIn", "values": [0]}),
                };
                json!({"action": rule.action.as_str(), "onExitCodes": on_exit_codes})
            })
            .collect();
        spec["podFailurePolicy"] = json!({"rules": rules});
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": plan.name,
            "namespace": plan.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }))
}

fn container(c: &batch::ContainerPlan) -> Value {
    let env: Vec<Value> = c
        .env
        .iter()
        .map(|e| match &e.value {
            EnvValue::Literal(value) => json!({"name": e.name, "value": value}),
            EnvValue::CompletionIndex => json!({
                "name": e.name,
                "valueFrom": {"fieldRef": {
                    "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                }},
            }),
        })
        .collect();
    let mut out = json!({"name": c.name, "image": c.image, "env": env});
    if let Some(policy) = &c.image_pull_policy {
        out["imagePullPolicy"] = json!(policy);
    }
    if !c.command.is_empty() {
        out["command"] = json!(c.command);
    }
    if !c.args.is_empty() {
        out["args"] = json!(c.args);
    }
    if !c.requests.is_empty() || !c.limits.is_empty() {
        out["resources"] = json!({"requests": c.requests, "limits": c.limits});
    }
    out
}

impl KubeJobService {
    pub(super) async fn submit_job(
        &self,
        ctx: RequestContext,
        command: SubmitCommand,
    ) -> Result<SubmitJobResponse, ServiceError> {
        let queue = self.settings.queues.resolve(&command.job_queue)?;
        if queue.state == QueueState::Disabled {
            return Err(ServiceError::Client(format!(
                "job queue {} is DISABLED",
                queue.name
            )));
        }
        if !ctx.caller.may_touch(&queue.namespace) {
            return Err(ServiceError::AccessDenied(format!(
                "User: {} is not authorized to perform: batch:SubmitJob on job queue {}: its \
                 namespace is outside the namespaces of this access key",
                ctx.caller.name(),
                queue.name
            )));
        }
        let Some(definition) = self.find_definition(&command.job_definition).await? else {
            return Err(ServiceError::Client(format!(
                "job definition {} not found",
                reference_text(&command.job_definition)
            )));
        };
        if definition.status() == DefinitionStatus::Inactive {
            return Err(ServiceError::Client(format!(
                "job definition {}:{} is INACTIVE",
                definition.spec.job_definition_name, definition.spec.revision
            )));
        }
        self.check_dependencies(&ctx, &command.depends_on)?;
        let job_id = job_id(
            ctx.caller.access_key_id.as_deref(),
            ctx.invocation_id.as_deref(),
        );
        let definition_arn = batch::job_definition_arn(
            &self.settings.region,
            &self.settings.account_id,
            &definition.spec.job_definition_name,
            definition.spec.revision,
        );
        let plan = batch::plan(
            &command,
            &definition.spec.content,
            &PlanContext {
                job_id: &job_id,
                queue: &queue,
                definition_arn: &definition_arn,
            },
        )?;
        let job = build_job(&plan, &job_id, &queue, &command.depends_on)
            .map_err(|e| ServiceError::server("building the Job", e))?;
        let api: Api<Job> = Api::namespaced(self.client.clone(), &plan.namespace);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        let created = match api.create(&params, &job).await {
            Ok(created) => {
                tracing::info!(%job_id, job = plan.name, "job submitted");
                created
            }
            Err(error) if is_already_exists(&error) => {
                // A retry of this call (same invocation ID) finds the Job of its first attempt.
                let existing = api
                    .get_opt(&plan.name)
                    .await
                    .map_err(|e| ServiceError::server("reading the existing Job", e))?;
                match existing {
                    Some(job) if job.labels().get(JOB_ID_LABEL) == Some(&job_id) => {
                        tracing::info!(%job_id, "a retried SubmitJob; answering the job it created");
                        job
                    }
                    _ => {
                        return Err(ServiceError::Server {
                            message: format!(
                                "a Job named {} exists in {} already and is another job",
                                plan.name, plan.namespace
                            ),
                            source: None,
                        });
                    }
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                return Err(ServiceError::Client(format!(
                    "job queue {}: its namespace {} does not exist",
                    queue.name, queue.namespace
                )));
            }
            Err(kube::Error::Api(status)) if status.code == 422 => {
                return Err(ServiceError::Client(format!(
                    "Kubernetes refused the Job: {}",
                    status.message
                )));
            }
            Err(error) => return Err(ServiceError::server("creating the Job", error)),
        };
        // Read-after-write: a DescribeJobs right after this answer must find the job, so wait
        // for the Job's watch event. Past the bound the answer is still 200: the Job exists.
        let uid = created.uid().unwrap_or_default();
        if !self.index.wait_for_job(&uid, READ_AFTER_WRITE_WAIT).await {
            tracing::warn!(
                %job_id,
                "the Job is not in the watch cache after {READ_AFTER_WRITE_WAIT:?}; a DescribeJobs \
                 now may not find it yet"
            );
        }
        Ok(SubmitJobResponse {
            job_arn: batch::job_arn(&self.settings.region, &self.settings.account_id, &job_id),
            job_name: command.job_name,
            job_id,
        })
    }

    /// Each dependency must name a job the caller can see (an array child by its parent).
    fn check_dependencies(
        &self,
        ctx: &RequestContext,
        depends_on: &[JobDependency],
    ) -> Result<(), ServiceError> {
        for (i, dependency) in depends_on.iter().enumerate() {
            // A SEQUENTIAL entry without a job ID orders the job's own children.
            let Some(id) = dependency.waits_for() else {
                continue;
            };
            let parent = batch::split_array_child(id).map_or(id, |(parent, _)| parent);
            match self.index.lookup(parent, |ns| ctx.caller.may_touch(ns)) {
                Lookup::Found(_) => {}
                Lookup::NotFound if !self.index.is_complete() => {
                    return Err(ServiceError::Server {
                        message: format!(
                            "dependsOn[{i}]: job {id} is not in the caches, and they are not \
                         complete; retry"
                        ),
                        source: None,
                    });
                }
                Lookup::NotFound | Lookup::Outside => {
                    return Err(ServiceError::Client(format!(
                        "dependsOn[{i}].jobId: job {id} not found"
                    )));
                }
                Lookup::Ambiguous(namespaces) => {
                    return Err(ServiceError::Client(format!(
                        "dependsOn[{i}].jobId: job ID {id} names Jobs in several namespaces \
                         ({}); give its uid",
                        namespaces.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

fn reference_text(reference: &batch::DefinitionRef) -> String {
    match reference {
        batch::DefinitionRef::Latest(name) => name.clone(),
        batch::DefinitionRef::Revision(name, revision) => format!("{name}:{revision}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{QueueConfig, SubmitJobRequest};

    fn queue(kueue: Option<&str>) -> QueueConfig {
        QueueConfig {
            name: "high".into(),
            namespace: "team-a".into(),
            kueue_local_queue: kueue.map(str::to_owned),
            priority: 1,
            state: QueueState::Enabled,
        }
    }

    fn plan_for(extra: Value, queue: &QueueConfig) -> (JobPlan, Vec<JobDependency>) {
        let mut request = json!({"jobName": "etl", "jobQueue": "high", "jobDefinition": "d"});
        for (k, v) in extra.as_object().unwrap() {
            request[k] = v.clone();
        }
        let request: SubmitJobRequest = serde_json::from_value(request).unwrap();
        let command = SubmitCommand::new(request).unwrap();
        let definition = serde_json::from_value(json!({
            "type": "container",
            "containerProperties": {"image": "busybox", "command": ["true"],
                                    "resourceRequirements": [{"type": "MEMORY", "value": "64"}]},
            "retryStrategy": {"attempts": 3, "evaluateOnExit": [{"onExitCode": "42", "action": "EXIT"}]},
            "timeout": {"attemptDurationSeconds": 600}
        }))
        .unwrap();
        let plan = batch::plan(
            &command,
            &definition,
            &PlanContext {
                job_id: "11111111-2222",
                queue,
                definition_arn: "arn:aws:batch:r:a:job-definition/d:1",
            },
        )
        .unwrap();
        (plan, command.depends_on)
    }

    #[test]
    fn a_job_carries_its_id_queue_retries_deadline_and_failure_policy() {
        let q = queue(Some("lq"));
        let (plan, deps) = plan_for(json!({}), &q);
        let job =
            serde_json::to_value(build_job(&plan, "11111111-2222", &q, &deps).unwrap()).unwrap();
        let labels = &job["metadata"]["labels"];
        assert_eq!(labels[JOB_ID_LABEL], "11111111-2222");
        assert_eq!(labels[JOB_QUEUE_LABEL], "high");
        assert_eq!(labels[KUEUE_QUEUE_LABEL], "lq");
        assert_eq!(job["metadata"]["name"], "etl-11111111");
        assert_eq!(job["metadata"]["namespace"], "team-a");
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 2);
        assert_eq!(spec["activeDeadlineSeconds"], 600);
        assert!(spec.get("suspend").is_none());
        assert_eq!(
            spec["podFailurePolicy"]["rules"][0],
            json!({"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let c = &pod["containers"][0];
        assert_eq!(c["resources"]["limits"]["memory"], "64Mi");
        assert_eq!(c["command"], json!(["true"]));
        let submission: batch::Submission = serde_json::from_str(
            job["metadata"]["annotations"][SUBMISSION_ANNOTATION]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            submission.shown.job_definition,
            "arn:aws:batch:r:a:job-definition/d:1"
        );
    }

    #[test]
    fn a_held_job_is_suspended_without_the_kueue_label_and_an_array_is_indexed() {
        let q = queue(Some("lq"));
        let (plan, deps) = plan_for(
            json!({"dependsOn": [{"jobId": "a"}], "arrayProperties": {"size": 3}}),
            &q,
        );
        let job =
            serde_json::to_value(build_job(&plan, "11111111-2222", &q, &deps).unwrap()).unwrap();
        assert_eq!(job["spec"]["suspend"], true);
        assert!(job["metadata"]["labels"].get(KUEUE_QUEUE_LABEL).is_none());
        let annotations = &job["metadata"]["annotations"];
        assert_eq!(annotations[KUEUE_QUEUE_ANNOTATION], "lq");
        assert_eq!(annotations[DEPENDS_ON_ANNOTATION], r#"[{"jobId":"a"}]"#);
        assert_eq!(job["spec"]["completionMode"], "Indexed");
        assert_eq!(job["spec"]["completions"], 3);
        assert_eq!(job["spec"]["backoffLimitPerIndex"], 2);
        assert_eq!(
            job["spec"]["podFailurePolicy"]["rules"][0]["action"],
            "FailIndex"
        );
        let env = &job["spec"]["template"]["spec"]["containers"][0]["env"][0];
        assert_eq!(env["name"], "AWS_BATCH_JOB_ARRAY_INDEX");
        assert_eq!(
            env["valueFrom"]["fieldRef"]["fieldPath"],
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        );
    }

    #[test]
    fn retries_of_one_call_get_one_job_id() {
        let a = job_id(Some("AKID"), Some("inv-1"));
        assert_eq!(a, job_id(Some("AKID"), Some("inv-1")));
        assert_ne!(a, job_id(Some("OTHER"), Some("inv-1")));
        assert_ne!(a, job_id(Some("AKID"), Some("inv-2")));
        assert_ne!(job_id(None, None), job_id(None, None));
    }
}
