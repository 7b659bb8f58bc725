//! Job definitions, job queues and SubmitJob, end to end with the unmodified `aws-sdk-batch`
//! crate: jobs run to SUCCEEDED and FAILED through kubesim's kubelet (the pod annotations
//! `kubesim.dev/exit-after` and `kubesim.dev/exit-code`, given as EKS pod metadata).
//!
//! Each test runs a service of its own, configured with queues in the test's namespace, so
//! these skip against an external service.

use std::time::Duration;

use aws_sdk_batch::config::retry::RetryConfig;
use aws_sdk_batch::config::timeout::TimeoutConfig;
use aws_sdk_batch::types::{
    ArrayProperties, ContainerOverrides, ContainerProperties, EksContainer,
    EksContainerEnvironmentVariable, EksContainerOverride, EksMetadata, EksPodProperties,
    EksPodPropertiesOverride, EksProperties, EksPropertiesOverride, JobDefinitionType, JobStatus,
    JobTimeout, KeyValuePair, ResourceRequirement, ResourceType, RetryStrategy,
};
use batch_terminator::auth::{Auth, Credentials};
use batch_terminator::batch::{QueueConfig, QueueState, Queues};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::ListParams;
use kubesim::faults::{Effect, Rule};
use serde_json::{Value, json};

use crate::harness::{Env, code_and_message, eventually, sdk_client, settings, sim_config};

const REGION: &str = "us-east-1";

/// The test's queues: `high` (plain), `kueued` (a Kueue LocalQueue) and `off` (DISABLED), all
/// in the test's namespace; definitions live there too.
fn queues(ns: &str) -> Queues {
    let queue = |name: &str, kueue: Option<&str>, state| QueueConfig {
        name: name.into(),
        namespace: ns.into(),
        kueue_local_queue: kueue.map(str::to_owned),
        priority: 10,
        state,
    };
    Queues::new(vec![
        queue("high", None, QueueState::Enabled),
        queue("kueued", Some("lq"), QueueState::Enabled),
        queue("off", None, QueueState::Disabled),
    ])
    .expect("queues")
}

/// A service with the test's queues, definitions in the test's namespace, and `auth`.
async fn start(auth: impl FnOnce(&str) -> Auth) -> Option<Env> {
    if std::env::var("BT_E2E_ENDPOINT").is_ok() {
        eprintln!("skipped: needs an in-process service configured with queues");
        return None;
    }
    Some(
        Env::start_with_settings(sim_config(), |ns| {
            let mut settings = settings();
            settings.service.queues = queues(ns);
            settings.service.job_definition_namespace = ns.to_owned();
            settings.auth = auth(ns);
            settings
        })
        .await,
    )
}

fn sdk_with(env: &Env, key: &str, secret: &str) -> aws_sdk_batch::Client {
    sdk_client(env, key, secret, |c| {
        c.retry_config(RetryConfig::disabled())
    })
}

fn sdk(env: &Env) -> aws_sdk_batch::Client {
    sdk_with(env, "AKID", "secret")
}

/// An EKS definition whose pod exits after a second with `exit_code` (kubesim's kubelet).
async fn register_eks(client: &aws_sdk_batch::Client, name: &str, exit_code: u8) -> String {
    let container = EksContainer::builder()
        .name("main")
        .image("busybox")
        .command("sh")
        .args("-c")
        .args("echo Ref::greeting")
        .env(
            EksContainerEnvironmentVariable::builder()
                .name("STAGE")
                .value("prod")
                .build(),
        )
        .build();
    let pod = EksPodProperties::builder()
        .containers(container)
        .metadata(
            EksMetadata::builder()
                .annotations("kubesim.dev/exit-after", "1")
                .annotations("kubesim.dev/exit-code", exit_code.to_string())
                .build(),
        )
        .build();
    let out = client
        .register_job_definition()
        .job_definition_name(name)
        .r#type(JobDefinitionType::Container)
        .parameters("greeting", "hello")
        .eks_properties(EksProperties::builder().pod_properties(pod).build())
        .send()
        .await
        .expect("register");
    out.job_definition_arn().unwrap().to_owned()
}

async fn job_of(env: &Env, job_id: &str) -> Job {
    let selector = format!("batch-terminator.dev/job-id={job_id}");
    let jobs = env
        .jobs()
        .list(&ListParams::default().labels(&selector))
        .await
        .expect("jobs");
    assert_eq!(jobs.items.len(), 1, "one Job for {job_id}");
    jobs.items.into_iter().next().unwrap()
}

fn json_of(job: &Job) -> Value {
    serde_json::to_value(job).expect("job json")
}

#[tokio::test]
async fn definitions_register_revisions_describe_and_deregister() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    let client = sdk(&env);
    let first = client
        .register_job_definition()
        .job_definition_name("etl_Job")
        .r#type(JobDefinitionType::Container)
        .container_properties(
            ContainerProperties::builder()
                .image("busybox")
                .command("echo")
                .job_role_arn("arn:aws:iam::123456789012:role/ignored")
                .build(),
        )
        .send()
        .await
        .expect("register");
    assert_eq!(first.revision(), Some(1));
    assert_eq!(
        first.job_definition_arn().unwrap(),
        "arn:aws:batch:us-east-1:123456789012:job-definition/etl_Job:1"
    );
    // Five registrations at once: each gets its own revision, 2 to 6.
    let racing = futures::future::join_all((0..5).map(|i| {
        client
            .register_job_definition()
            .job_definition_name("etl_Job")
            .r#type(JobDefinitionType::Container)
            .container_properties(
                ContainerProperties::builder()
                    .image(format!("busybox:{i}"))
                    .build(),
            )
            .send()
    }))
    .await;
    let mut revisions: Vec<i32> = racing
        .into_iter()
        .map(|r| r.expect("racing register").revision().unwrap())
        .collect();
    revisions.sort();
    assert_eq!(revisions, [2, 3, 4, 5, 6]);

    // By name (every revision), paged two at a time.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .describe_job_definitions()
            .job_definition_name("etl_Job")
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("describe");
        seen.extend(page.job_definitions().iter().map(|d| d.revision().unwrap()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5, 6]);
    let by_arn = client
        .describe_job_definitions()
        .job_definitions(first.job_definition_arn().unwrap())
        .job_definitions("etl_Job:2")
        .send()
        .await
        .expect("describe by arn");
    let defs = by_arn.job_definitions();
    assert_eq!(defs.len(), 2);
    assert_eq!(defs[0].status(), Some("ACTIVE"));
    assert_eq!(defs[0].r#type(), Some("container"));
    let container = defs[0].container_properties().expect("container");
    assert_eq!(container.image(), Some("busybox"));
    assert_eq!(container.command(), ["echo"]);

    // Deregistered: INACTIVE, selectable by status, and no longer the latest to submit.
    client
        .deregister_job_definition()
        .job_definition("etl_Job:1")
        .send()
        .await
        .expect("deregister");
    let inactive = client
        .describe_job_definitions()
        .status("INACTIVE")
        .send()
        .await
        .expect("describe inactive");
    let names: Vec<(String, i32)> = inactive
        .job_definitions()
        .iter()
        .map(|d| {
            (
                d.job_definition_name().unwrap().to_owned(),
                d.revision().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("etl_Job".to_owned(), 1)]);
    let (code, message) = code_and_message!(
        client
            .submit_job()
            .job_name("x")
            .job_queue("high")
            .job_definition("etl_Job:1")
            .send()
            .await
    );
    assert_eq!(code, "ClientException");
    assert!(message.contains("INACTIVE"), "{message}");
    let (code, message) = code_and_message!(
        client
            .deregister_job_definition()
            .job_definition("etl_Job")
            .send()
            .await
    );
    assert_eq!(code, "ClientException");
    assert!(message.contains("jobDefinition"), "{message}");
    let (code, _) = code_and_message!(
        client
            .deregister_job_definition()
            .job_definition("nothing:1")
            .send()
            .await
    );
    assert_eq!(code, "ClientException");
    // The revisions are JobDefinition objects in the definitions namespace.
    let objects: kube::Api<batch_terminator::definition::JobDefinition> =
        kube::Api::namespaced(env.client.clone(), &env.ns);
    assert_eq!(
        objects
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        6
    );
}

#[tokio::test]
async fn submitted_jobs_run_to_succeeded_and_failed_and_describe_as_aws() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    let client = sdk(&env);
    let ok_arn = register_eks(&client, "says-hello", 0).await;
    register_eks(&client, "fails", 7).await;

    let ok = client
        .submit_job()
        .job_name("greet_Once")
        .job_queue("arn:aws:batch:us-east-1:123456789012:job-queue/high")
        .job_definition("says-hello")
        .parameters("greeting", "bonjour")
        .tags("owner", "team a")
        .propagate_tags(true)
        .eks_properties_override(
            EksPropertiesOverride::builder()
                .pod_properties(
                    EksPodPropertiesOverride::builder()
                        .containers(
                            EksContainerOverride::builder()
                                .name("main")
                                .image("busybox:1.36")
                                .env(
                                    EksContainerEnvironmentVariable::builder()
                                        .name("EXTRA")
                                        .value("1")
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("submit");
    assert_eq!(ok.job_name(), Some("greet_Once"));
    assert_eq!(
        ok.job_arn(),
        Some(
            format!(
                "arn:aws:batch:us-east-1:123456789012:job/{}",
                ok.job_id().unwrap()
            )
            .as_str()
        )
    );
    let failing = client
        .submit_job()
        .job_name("fails")
        .job_queue("high")
        .job_definition("fails:1")
        .send()
        .await
        .expect("submit");

    // The Job: in the queue's namespace, named after the job, labelled, with the AWS env.
    let job = json_of(&job_of(&env, ok.job_id().unwrap()).await);
    assert!(
        job["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("greet-once-")
    );
    assert_eq!(
        job["metadata"]["labels"]["batch-terminator.dev/job-queue"],
        "high"
    );
    assert_eq!(job["metadata"]["labels"]["owner"], "team_a");
    let template = &job["spec"]["template"];
    assert_eq!(template["metadata"]["labels"]["owner"], "team_a");
    let main = &template["spec"]["containers"][0];
    assert_eq!(main["image"], "busybox:1.36");
    assert_eq!(main["args"], json!(["-c", "echo bonjour"]));
    let env_vars: Vec<(String, String)> = main["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let get = |name: &str| {
        env_vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("AWS_BATCH_JOB_ID"), Some(ok.job_id().unwrap()));
    assert_eq!(get("AWS_BATCH_JQ_NAME"), Some("high"));
    assert_eq!(get("AWS_BATCH_CE_NAME"), Some(env.ns.as_str()));
    assert_eq!(get("AWS_BATCH_JOB_ATTEMPT"), Some("1"));
    assert_eq!((get("STAGE"), get("EXTRA")), (Some("prod"), Some("1")));
    assert_eq!(job["spec"]["backoffLimit"], 0);

    env.wait_described(ok.job_id().unwrap(), "SUCCEEDED").await;
    env.wait_described(failing.job_id().unwrap(), "FAILED")
        .await;
    let described = client
        .describe_jobs()
        .jobs(ok.job_id().unwrap())
        .jobs(failing.job_id().unwrap())
        .send()
        .await
        .expect("describe");
    let jobs = described.jobs();
    assert_eq!(jobs.len(), 2);
    let ok_detail = jobs.iter().find(|j| j.job_id() == ok.job_id()).unwrap();
    assert_eq!(ok_detail.status(), Some(&JobStatus::Succeeded));
    assert_eq!(ok_detail.job_definition(), Some(ok_arn.as_str()));
    assert_eq!(
        ok_detail.parameters().and_then(|p| p.get("greeting")),
        Some(&"bonjour".to_owned())
    );
    assert_eq!(ok_detail.job_name(), Some("greet_Once"));
    let pod = ok_detail
        .eks_properties()
        .and_then(|e| e.pod_properties())
        .expect("podProperties");
    assert_eq!(pod.containers()[0].image(), Some("busybox:1.36"));
    assert_eq!(pod.containers()[0].args(), ["-c", "echo bonjour"]);
    let failed = jobs
        .iter()
        .find(|j| j.job_id() == failing.job_id())
        .unwrap();
    assert_eq!(failed.status(), Some(&JobStatus::Failed));
    let attempt = failed.attempts().last().expect("an attempt");
    assert_eq!(attempt.container().and_then(|c| c.exit_code()), Some(7));

    // ListJobs by queue name and by ARN finds both.
    for queue in [
        "high",
        "arn:aws:batch:us-east-1:123456789012:job-queue/high",
    ] {
        let listed = client
            .list_jobs()
            .job_queue(queue)
            .job_status(JobStatus::Succeeded)
            .send()
            .await
            .expect("list");
        let ids: Vec<&str> = listed
            .job_summary_list()
            .iter()
            .filter_map(|s| s.job_id())
            .collect();
        assert_eq!(ids, [ok.job_id().unwrap()], "{queue}");
    }
}

#[tokio::test]
async fn container_jobs_take_overrides_resources_arrays_retries_and_timeouts() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    let client = sdk(&env);
    client
        .register_job_definition()
        .job_definition_name("crunch")
        .r#type(JobDefinitionType::Container)
        .parameters("input", "s3://default")
        .container_properties(
            ContainerProperties::builder()
                .image("busybox")
                .command("crunch")
                .command("--input=Ref::input")
                .environment(KeyValuePair::builder().name("MODE").value("fast").build())
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Vcpu)
                        .value("0.5")
                        .build(),
                )
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Memory)
                        .value("256")
                        .build(),
                )
                .build(),
        )
        .retry_strategy(RetryStrategy::builder().attempts(3).build())
        .timeout(JobTimeout::builder().attempt_duration_seconds(3600).build())
        .send()
        .await
        .expect("register");
    let array = client
        .submit_job()
        .job_name("crunch-all")
        .job_queue("kueued")
        .job_definition("crunch")
        .array_properties(ArrayProperties::builder().size(3).build())
        .container_overrides(
            ContainerOverrides::builder()
                .command("crunch")
                .command("--input=Ref::input")
                .command("--gpu")
                .environment(KeyValuePair::builder().name("MODE").value("slow").build())
                .resource_requirements(
                    ResourceRequirement::builder()
                        .r#type(ResourceType::Gpu)
                        .value("1")
                        .build(),
                )
                .build(),
        )
        .parameters("input", "s3://bucket/key")
        .retry_strategy(RetryStrategy::builder().attempts(2).build())
        .timeout(JobTimeout::builder().attempt_duration_seconds(120).build())
        .send()
        .await
        .expect("submit array");
    let job = json_of(&job_of(&env, array.job_id().unwrap()).await);
    let spec = &job["spec"];
    assert_eq!(job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"], "lq");
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(
        (spec["completions"].clone(), spec["parallelism"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(
        spec["backoffLimitPerIndex"], 1,
        "the request's two attempts"
    );
    assert_eq!(spec["activeDeadlineSeconds"], 120);
    let c = &spec["template"]["spec"]["containers"][0];
    assert_eq!(c["name"], "default");
    assert_eq!(
        c["command"],
        json!(["crunch", "--input=s3://bucket/key", "--gpu"])
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "0.5", "memory": "256Mi"})
    );
    assert_eq!(
        c["resources"]["limits"],
        json!({"memory": "256Mi", "nvidia.com/gpu": "1"})
    );
    let env0 = &c["env"][0];
    assert_eq!(env0["name"], "AWS_BATCH_JOB_ARRAY_INDEX");
    assert_eq!(
        env0["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    assert_eq!(
        c["env"][1]["value"],
        format!("{}:$(AWS_BATCH_JOB_ARRAY_INDEX)", array.job_id().unwrap())
    );
    let mode: Vec<&Value> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "MODE")
        .collect();
    assert_eq!(mode.len(), 1);
    assert_eq!(mode[0]["value"], "slow");
    // DescribeJobs: the array, the effective container, the definition's revision.
    let detail = env.wait_described(array.job_id().unwrap(), "RUNNING").await;
    assert_eq!(detail["arrayProperties"]["size"], 3);
    assert_eq!(
        detail["jobDefinition"],
        "arn:aws:batch:us-east-1:123456789012:job-definition/crunch:1"
    );
    assert_eq!(detail["container"]["image"], "busybox");
    assert_eq!(detail["container"]["command"][2], "--gpu");
    assert_eq!(detail["retryStrategy"]["attempts"], 2);
    assert_eq!(detail["timeout"]["attemptDurationSeconds"], 120);
    assert_eq!(detail["parameters"]["input"], "s3://bucket/key");
    assert_eq!(
        detail["jobQueue"],
        "arn:aws:batch:us-east-1:123456789012:job-queue/kueued"
    );
    let (status, _) = env.terminate(array.job_id().unwrap(), "done looking").await;
    assert_eq!(status, 200);
    env.wait_described(array.job_id().unwrap(), "FAILED").await;

    // A timeout: the deadline (60 s of kubesim's scaled clock) ends the job FAILED.
    let timed = client
        .submit_job()
        .job_name("slow")
        .job_queue("high")
        .job_definition("crunch")
        .timeout(JobTimeout::builder().attempt_duration_seconds(60).build())
        .send()
        .await
        .expect("submit");
    let failed = env.wait_described(timed.job_id().unwrap(), "FAILED").await;
    let reason = failed["statusReason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("DeadlineExceeded"), "{failed}");
}

#[tokio::test]
async fn retry_attempts_run_again_until_the_limit() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    let client = sdk(&env);
    register_eks(&client, "flaky", 1).await;
    let out = client
        .submit_job()
        .job_name("flaky")
        .job_queue("high")
        .job_definition("flaky")
        .retry_strategy(RetryStrategy::builder().attempts(2).build())
        .send()
        .await
        .expect("submit");
    let failed = env.wait_described(out.job_id().unwrap(), "FAILED").await;
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 2, "{failed}");
    let reason = failed["statusReason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("BackoffLimitExceeded"), "{reason}");
    let job = json_of(&job_of(&env, out.job_id().unwrap()).await);
    assert_eq!(job["spec"]["backoffLimit"], 1);
}

mod requests;
