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

#[tokio::test]
async fn every_invalid_submit_names_its_field() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    register_eks(&sdk(&env), "defn", 0).await;
    let base = json!({"jobName": "j", "jobQueue": "high", "jobDefinition": "defn"});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"jobName": null}), "jobName is required"),
        (json!({"jobName": "-bad"}), "jobName"),
        (json!({"jobQueue": ""}), "jobQueue is required"),
        (
            json!({"jobQueue": "No_Such_Queue"}),
            "job queue No_Such_Queue not found",
        ),
        (json!({"jobQueue": "off"}), "job queue off is DISABLED"),
        (json!({"jobDefinition": null}), "jobDefinition is required"),
        (json!({"jobDefinition": "defn:x"}), "jobDefinition"),
        (
            json!({"jobDefinition": "nothing"}),
            "job definition nothing not found",
        ),
        (
            json!({"jobDefinition": "defn:9"}),
            "job definition defn:9 not found",
        ),
        (json!({"arrayProperties": {"size": 1}}), "arrayProperties"),
        (
            json!({"arrayProperties": {"size": "x"}}),
            "arrayProperties.size",
        ),
        (
            json!({"dependsOn": [{"jobId": "no-such-job"}]}),
            "dependsOn[0].jobId: job no-such-job not found",
        ),
        (
            json!({"dependsOn": [{"jobId": "a", "type": "N_TO_N"}]}),
            "dependsOn",
        ),
        (
            json!({"containerOverrides": {"command": ["x"]}}),
            "containerOverrides",
        ),
        (
            json!({"eksPropertiesOverride": {"podProperties": {"containers": [{"name": "nope"}]}}}),
            "eksPropertiesOverride",
        ),
        (json!({"retryStrategy": {"attempts": 11}}), "retryStrategy"),
        (json!({"timeout": {"attemptDurationSeconds": 5}}), "timeout"),
        (json!({"tags": {"": "v"}}), "tags"),
    ];
    for (extra, expected) in cases {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, code, answer) = env.post("/v1/submitjob", &body.to_string()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(code.as_deref(), Some("ClientException"));
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    // RegisterJobDefinition's rules too.
    for (body, expected) in [
        (
            json!({"type": "container", "containerProperties": {"image": "x"}}),
            "jobDefinitionName is required",
        ),
        (json!({"jobDefinitionName": "d"}), "type is required"),
        (
            json!({"jobDefinitionName": "d", "type": "multinode"}),
            "multinode",
        ),
        (
            json!({"jobDefinitionName": "d", "type": "container"}),
            "containerProperties",
        ),
        (
            json!({"jobDefinitionName": "d", "type": "container", "containerProperties": {}}),
            "image is required",
        ),
    ] {
        let (status, _, answer) = env
            .post("/v1/registerjobdefinition", &body.to_string())
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    // Nothing was created.
    assert!(
        env.jobs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn a_retried_submit_answers_the_job_its_first_attempt_created() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    register_eks(&sdk(&env), "once", 0).await;
    let body = json!({"jobName": "once", "jobQueue": "high", "jobDefinition": "once"}).to_string();
    let submit = |invocation: &'static str| {
        let http = env.http.clone();
        let url = format!("{}/v1/submitjob", env.endpoint);
        let body = body.clone();
        async move {
            let answer: Value = http
                .post(url)
                .header("content-type", "application/json")
                .header("amz-sdk-invocation-id", invocation)
                .body(body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["jobId"].as_str().unwrap().to_owned()
        }
    };
    let first = submit("0b8c0cf4-1b7c-4a57-9a3b-1f0a6e0c5a11").await;
    let again = submit("0b8c0cf4-1b7c-4a57-9a3b-1f0a6e0c5a11").await;
    let other = submit("5f7b4d2e-8c1a-4e3b-9d6f-2a1b0c9d8e7f").await;
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_eq!(
        env.jobs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    // The SDK's own retry: its first attempt times out while kubesim holds the create, the
    // retry (same invocation ID) answers, and there is one Job.
    env.sim()
        .faults()
        .add(Rule {
            verbs: vec!["create".into()],
            resources: vec!["jobs".into()],
            limit: Some(1),
            ..Rule::new(Effect::Latency { millis: 1500 })
        })
        .expect("fault");
    let retrying = sdk_client(&env, "AKID", "secret", |c| {
        c.retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(500))
                    .build(),
            )
    });
    let out = retrying
        .submit_job()
        .job_name("retried")
        .job_queue("high")
        .job_definition("once")
        .send()
        .await
        .expect("the retry answers");
    let found = eventually("the delayed create to land", || async {
        let jobs = env.jobs().list(&ListParams::default()).await.unwrap().items;
        (jobs.len() == 3).then_some(jobs)
    })
    .await;
    let retried: Vec<&Job> = found
        .iter()
        .filter(|j| j.name_any().starts_with("retried-"))
        .collect();
    assert_eq!(retried.len(), 1);
    assert_eq!(
        retried[0]
            .labels()
            .get("batch-terminator.dev/job-id")
            .map(String::as_str),
        Some(out.job_id().unwrap())
    );
}

fn credentials(ns: &str) -> Credentials {
    let yaml = format!(
        r#"
accessKeys:
  AKIDTEAM:
    secretAccessKey: team-secret
    namespaces: ["{ns}"]
    operations: ["*"]
  AKIDOTHER:
    secretAccessKey: other-secret
    namespaces: [another-namespace]
    operations: [SubmitJob, DescribeJobQueues, DescribeJobDefinitions]
  AKIDREADER:
    secretAccessKey: reader-secret
    namespaces: ["*"]
    operations: [DescribeJobs, ListJobs]
"#
    );
    let path = std::env::temp_dir().join(format!("bt-submit-credentials-{ns}.yaml"));
    std::fs::write(&path, yaml).expect("credentials written");
    let credentials = Credentials::load(&path).expect("credentials load");
    let _ = std::fs::remove_file(&path);
    credentials
}

#[tokio::test]
async fn keys_submit_only_to_queues_in_their_namespaces() {
    let Some(env) = start(|ns| Auth::sigv4(credentials(ns), REGION)).await else {
        return;
    };
    let team = sdk_with(&env, "AKIDTEAM", "team-secret");
    let other = sdk_with(&env, "AKIDOTHER", "other-secret");
    let reader = sdk_with(&env, "AKIDREADER", "reader-secret");
    register_eks(&team, "shared", 0).await;

    let queues = team.describe_job_queues().send().await.expect("queues");
    let names: Vec<&str> = queues
        .job_queues()
        .iter()
        .filter_map(|q| q.job_queue_name())
        .collect();
    assert_eq!(names, ["high", "kueued", "off"]);
    let high = &queues.job_queues()[0];
    assert_eq!(
        high.job_queue_arn(),
        Some("arn:aws:batch:us-east-1:123456789012:job-queue/high")
    );
    assert_eq!(high.priority(), Some(10));
    assert_eq!(high.state().map(|s| s.as_str()), Some("ENABLED"));
    assert_eq!(
        queues.job_queues()[2].state().map(|s| s.as_str()),
        Some("DISABLED")
    );
    let paged = team
        .describe_job_queues()
        .max_results(2)
        .send()
        .await
        .expect("page");
    assert_eq!(paged.job_queues().len(), 2);
    assert!(paged.next_token().is_some());
    let by_arn = team
        .describe_job_queues()
        .job_queues("arn:aws:batch:us-east-1:123456789012:job-queue/off")
        .job_queues("unknown")
        .send()
        .await
        .expect("by arn");
    assert_eq!(by_arn.job_queues().len(), 1);

    // Another tenant sees the definitions (account-wide) but neither the queues nor may submit.
    let theirs = other.describe_job_queues().send().await.expect("queues");
    assert!(theirs.job_queues().is_empty());
    let defs = other
        .describe_job_definitions()
        .job_definition_name("shared")
        .send()
        .await
        .expect("definitions");
    assert_eq!(defs.job_definitions().len(), 1);
    let (code, message) = code_and_message!(
        other
            .submit_job()
            .job_name("intruder")
            .job_queue("high")
            .job_definition("shared")
            .send()
            .await
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("AKIDOTHER"), "{message}");
    let (code, _) = code_and_message!(
        reader
            .submit_job()
            .job_name("reader")
            .job_queue("high")
            .job_definition("shared")
            .send()
            .await
    );
    assert_eq!(code, "AccessDeniedException", "SubmitJob is not granted");
    let mine = team
        .submit_job()
        .job_name("mine")
        .job_queue("high")
        .job_definition("shared")
        .send()
        .await
        .expect("the team submits");
    assert!(
        env.jobs()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len()
            == 1
    );
    assert!(!mine.job_id().unwrap().is_empty());
}

#[tokio::test]
async fn a_job_with_dependencies_is_created_held_with_them_recorded() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    let client = sdk(&env);
    register_eks(&client, "step", 0).await;
    // The first job runs until it is stopped, so the second stays held meanwhile (the
    // dependency controller releases it as soon as the first succeeds).
    let first = client
        .submit_job()
        .job_name("first")
        .job_queue("kueued")
        .job_definition("step")
        .eks_properties_override(
            EksPropertiesOverride::builder()
                .pod_properties(
                    EksPodPropertiesOverride::builder()
                        .metadata(
                            EksMetadata::builder()
                                .annotations("kubesim.dev/exit-after", "3600")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("submit");
    let first_id = first.job_id().unwrap().to_owned();
    // The first job is in the caches before a dependency on it resolves.
    eventually("the first job to be described", || async {
        env.describe(&first_id).await
    })
    .await;
    let second = client
        .submit_job()
        .job_name("second")
        .job_queue("kueued")
        .job_definition("step")
        .depends_on(
            aws_sdk_batch::types::JobDependency::builder()
                .job_id(&first_id)
                .build(),
        )
        .send()
        .await
        .expect("submit with a dependency");
    let first_job = json_of(&job_of(&env, &first_id).await);
    assert_eq!(
        first_job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"],
        "lq"
    );
    assert_ne!(first_job["spec"]["suspend"], true);
    let held = json_of(&job_of(&env, second.job_id().unwrap()).await);
    assert_eq!(held["spec"]["suspend"], true);
    let labels = &held["metadata"]["labels"];
    assert!(
        labels.get("kueue.x-k8s.io/queue-name").is_none(),
        "{labels}"
    );
    assert_eq!(labels["batch-terminator.dev/job-queue"], "kueued");
    let annotations = &held["metadata"]["annotations"];
    assert_eq!(annotations["batch-terminator.dev/kueue-queue"], "lq");
    let deps: Value = serde_json::from_str(
        annotations["batch-terminator.dev/depends-on"]
            .as_str()
            .expect("depends-on"),
    )
    .unwrap();
    assert_eq!(deps, json!([{"jobId": first_id}]));
    let second_id = second.job_id().unwrap();
    env.wait_described(second_id, "PENDING").await;
    // The first is stopped: the second fails without a pod ever running.
    assert_eq!(env.terminate(&first_id, "stop").await.0, 200);
    let failed = env.wait_described(second_id, "FAILED").await;
    assert_eq!(failed["statusReason"], "Dependent Job failed", "{failed}");
    let held_job = job_of(&env, second_id).await;
    assert!(env.job_pods(&held_job).await.is_empty());
    // The queue lists both, FAILED: the one with Kueue's label (its LocalQueue stands for the
    // queue), terminated, and the held one with ours only, failed by its dependency.
    let listed = client
        .list_jobs()
        .job_queue("kueued")
        .job_status(JobStatus::Failed)
        .send()
        .await
        .expect("list");
    let mut ids: Vec<&str> = listed
        .job_summary_list()
        .iter()
        .filter_map(|s| s.job_id())
        .collect();
    ids.sort();
    let mut want = [first_id.as_str(), second_id];
    want.sort();
    assert_eq!(ids, want);
    let first_detail = env.describe(&first_id).await.expect("described");
    assert_eq!(first_detail["jobQueue"], "kueued");
}

/// Read-after-write: a DescribeJobs sent the moment SubmitJob answers finds the job, 20 times
/// in a row, while the service's Job watch lags (kubesim ends each Job watch after 50 ms and
/// serves the next one 300 ms late, so a new Job reaches the cache up to 300 ms after it is
/// created). SubmitJob answers once its Job is in the cache.
#[tokio::test]
async fn a_submitted_job_is_described_at_once() {
    let Some(env) = start(|_| Auth::None).await else {
        return;
    };
    let client = sdk(&env);
    register_eks(&client, "quick", 0).await;
    let jobs_watch = |effect| Rule {
        verbs: vec!["watch".into()],
        resources: vec!["jobs".into()],
        ..Rule::new(effect)
    };
    let faults = env.sim().faults();
    faults
        .add(jobs_watch(Effect::DropWatch { after_millis: 50 }))
        .expect("fault");
    faults
        .add(jobs_watch(Effect::Latency { millis: 300 }))
        .expect("fault");
    for i in 0..20 {
        let out = client
            .submit_job()
            .job_name(format!("quick-{i}"))
            .job_queue("high")
            .job_definition("quick")
            .send()
            .await
            .expect("submit");
        let id = out.job_id().expect("job id");
        let described = client
            .describe_jobs()
            .jobs(id)
            .send()
            .await
            .expect("describe");
        let ids: Vec<&str> = described.jobs().iter().filter_map(|j| j.job_id()).collect();
        assert_eq!(
            ids,
            [id],
            "submission {i}: DescribeJobs right after SubmitJob"
        );
    }
}
