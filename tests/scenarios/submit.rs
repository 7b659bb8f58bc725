//! Job definitions, job queues and SubmitJob, end to end with the unmodified `aws-sdk-batch`
//! crate: jobs run to SUCCEEDED and FAILED through kubesim's kubelet (the pod annotations
//! `kubesim.dev/exit-after` and `kubesim.dev/exit-code`, given as EKS pod metadata) or a real
//! one (the container's command exits the same way).
//!
//! The service has what the chart gives it in tests/e2e: the queues of tests/e2e/queues.json,
//! any other queue name being the namespace of that name (the plain queue of a test is its
//! namespace), and definitions in one namespace, so each test names its definitions after its
//! namespace. They run against an external service as well (see the harness).

use std::time::Duration;

use aws_sdk_batch::config::retry::RetryConfig;
use aws_sdk_batch::config::timeout::TimeoutConfig;
use aws_sdk_batch::operation::register_job_definition::builders::RegisterJobDefinitionFluentBuilder;
use aws_sdk_batch::types::{
    ArrayProperties, ContainerOverrides, ContainerProperties, EksContainer,
    EksContainerEnvironmentVariable, EksContainerOverride, EksMetadata, EksPodProperties,
    EksPodPropertiesOverride, EksProperties, EksPropertiesOverride, EvaluateOnExit,
    JobDefinitionType, JobStatus, JobTimeout, KeyValuePair, ResourceRequirement, ResourceType,
    RetryAction, RetryStrategy,
};
use batch_terminator::auth::{Auth, Credentials};
use batch_terminator::batch::{QueueConfig, QueueState, Queues};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::ListParams;
use kubesim::faults::{Effect, Rule};
use serde_json::{Value, json};

use crate::harness::{
    Env, QUEUES_JSON, REGION, code_and_message, eventually, exit_script, fresh_namespace,
    sdk_client, settings, sim_config,
};

/// The Kueue queue of tests/e2e/queues.json (LocalQueue `lq`), and its namespace, where the
/// one test that submits to it runs.
const KUEUED: &str = "e2e-kueued";
const KUEUED_NS: &str = "bt-e2e-kueued";
/// The DISABLED queue of tests/e2e/queues.json.
const OFF: &str = "e2e-off";

/// The queues of tests/e2e/queues.json.
fn e2e_queues() -> Queues {
    let configs: Vec<QueueConfig> = serde_json::from_str(QUEUES_JSON).expect("queues.json");
    Queues::new(configs).expect("queues")
}

/// A service as the chart configures it in tests/e2e, for a test in a fresh namespace.
async fn start() -> Env {
    start_in(fresh_namespace()).await
}

/// [`start`] in namespace `ns`.
async fn start_in(ns: String) -> Env {
    Env::start_in(ns, sim_config(), |ns| {
        let mut settings = settings();
        settings.service.queues = e2e_queues();
        settings.service.job_definition_namespace = ns.to_owned();
        settings
    })
    .await
}

/// A service with these queues and this authentication, definitions in the test's namespace
/// (in-process only).
async fn start_with(queues: impl FnOnce(&str) -> Queues, auth: impl FnOnce(&str) -> Auth) -> Env {
    Env::start_with_settings(sim_config(), |ns| {
        let mut settings = settings();
        settings.service.queues = queues(ns);
        settings.service.job_definition_namespace = ns.to_owned();
        settings.auth = auth(ns);
        settings
    })
    .await
}

/// The name of the test's definition `name`: definitions of every test share a namespace
/// against an external service.
fn def(env: &Env, name: &str) -> String {
    format!("{name}-{}", env.ns)
}

/// A job definition ARN of the service's account.
fn def_arn(env: &Env, name_revision: &str) -> String {
    format!(
        "arn:aws:batch:{REGION}:123456789012:job-definition/{}",
        name_revision.replacen(':', &format!("-{}:", env.ns), 1)
    )
}

/// The ARN of job queue `name`.
fn queue_arn(name: &str) -> String {
    format!("arn:aws:batch:{REGION}:123456789012:job-queue/{name}")
}

fn sdk_with(env: &Env, key: &str, secret: &str) -> aws_sdk_batch::Client {
    sdk_client(env, key, secret, |c| {
        c.retry_config(RetryConfig::disabled())
    })
}

/// The environment's client, without retries: each error is the server's first answer.
fn sdk(env: &Env) -> aws_sdk_batch::Client {
    env.sdk(|c| c.retry_config(RetryConfig::disabled()))
}

/// An EKS definition (named after the test, see [`def`]) whose pod exits after a second with
/// `exit_code`; `echo Ref::greeting` first.
async fn register_eks(
    env: &Env,
    client: &aws_sdk_batch::Client,
    name: &str,
    exit_code: u8,
) -> String {
    register_eks_with(env, client, name, exit_code, |r| r).await
}

/// The shell script of [`register_eks`]'s container, with the greeting.
fn eks_script(greeting: &str, exit_code: u8) -> String {
    format!("echo {greeting}; {}", exit_script(1.0, exit_code.into()))
}

/// [`register_eks`], with `configure` adding to the request (a retry strategy, say).
async fn register_eks_with(
    env: &Env,
    client: &aws_sdk_batch::Client,
    name: &str,
    exit_code: u8,
    configure: impl FnOnce(RegisterJobDefinitionFluentBuilder) -> RegisterJobDefinitionFluentBuilder,
) -> String {
    let container = EksContainer::builder()
        .name("main")
        .image("busybox")
        .command("sh")
        .args("-c")
        .args(eks_script("Ref::greeting", exit_code))
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
    let request = client
        .register_job_definition()
        .job_definition_name(def(env, name))
        .r#type(JobDefinitionType::Container)
        .parameters("greeting", "hello")
        .eks_properties(EksProperties::builder().pod_properties(pod).build());
    let out = configure(request).send().await.expect("register");
    out.job_definition_arn().unwrap().to_owned()
}

/// The Job of a submitted job, in the namespace of the test's queue.
async fn job_of(env: &Env, job_id: &str) -> Job {
    job_in(env, &env.ns, job_id).await
}

/// The Job of a submitted job, in namespace `ns`.
async fn job_in(env: &Env, ns: &str, job_id: &str) -> Job {
    let selector = format!("batch-terminator.dev/job-id={job_id}");
    let jobs: kube::Api<Job> = kube::Api::namespaced(env.client.clone(), ns);
    let jobs = jobs
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
    let env = start().await;
    let client = sdk(&env);
    let etl = def(&env, "etl_Job");
    let first = client
        .register_job_definition()
        .job_definition_name(&etl)
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
        def_arn(&env, "etl_Job:1")
    );
    // Five registrations at once: each gets its own revision, 2 to 6.
    let racing = futures::future::join_all((0..5).map(|i| {
        client
            .register_job_definition()
            .job_definition_name(&etl)
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
            .job_definition_name(&etl)
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
        .job_definitions(format!("{etl}:2"))
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
        .job_definition(format!("{etl}:1"))
        .send()
        .await
        .expect("deregister");
    let inactive = client
        .describe_job_definitions()
        .status("INACTIVE")
        .send()
        .await
        .expect("describe inactive");
    // Definitions of other tests may share the namespace.
    let names: Vec<(String, i32)> = inactive
        .job_definitions()
        .iter()
        .filter(|d| {
            d.job_definition_name()
                .is_some_and(|n| n.ends_with(&env.ns))
        })
        .map(|d| {
            (
                d.job_definition_name().unwrap().to_owned(),
                d.revision().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [(etl.clone(), 1)]);
    let (code, message) = code_and_message!(
        client
            .submit_job()
            .job_name("x")
            .job_queue(&env.ns)
            .job_definition(format!("{etl}:1"))
            .send()
            .await
    );
    assert_eq!(code, "ClientException");
    assert!(message.contains("INACTIVE"), "{message}");
    let (code, message) = code_and_message!(
        client
            .deregister_job_definition()
            .job_definition(&etl)
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
        kube::Api::namespaced(env.client.clone(), &env.definitions_ns);
    let ours = objects
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|d| d.spec.job_definition_name == etl)
        .count();
    assert_eq!(ours, 6);
}

#[tokio::test]
async fn submitted_jobs_run_to_succeeded_and_failed_and_describe_as_aws() {
    let env = start().await;
    let client = sdk(&env);
    let ok_arn = register_eks(&env, &client, "says-hello", 0).await;
    register_eks(&env, &client, "fails", 7).await;

    // The queue is the test's namespace, no configured queue: by its ARN.
    let ok = client
        .submit_job()
        .job_name("greet_Once")
        .job_queue(queue_arn(&env.ns))
        .job_definition(def(&env, "says-hello"))
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
        .job_queue(&env.ns)
        .job_definition(format!("{}:1", def(&env, "fails")))
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
        env.ns.as_str()
    );
    assert_eq!(job["metadata"]["labels"]["owner"], "team_a");
    let template = &job["spec"]["template"];
    assert_eq!(template["metadata"]["labels"]["owner"], "team_a");
    let main = &template["spec"]["containers"][0];
    assert_eq!(main["image"], "busybox:1.36");
    assert_eq!(main["args"], json!(["-c", eks_script("bonjour", 0)]));
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
    assert_eq!(get("AWS_BATCH_JQ_NAME"), Some(env.ns.as_str()));
    assert_eq!(get("AWS_BATCH_CE_NAME"), Some(env.ns.as_str()));
    assert_eq!(get("AWS_BATCH_JOB_ATTEMPT"), Some("1"));
    assert_eq!((get("STAGE"), get("EXTRA")), (Some("prod"), Some("1")));
    assert_eq!(job["spec"]["backoffLimit"], 0);

    // Attempts come from the pod watch, which may lag the Job watch.
    let exited = |d: &Value| d["attempts"][0]["container"]["exitCode"].is_number();
    env.wait_described_with(ok.job_id().unwrap(), "SUCCEEDED", exited)
        .await;
    env.wait_described_with(failing.job_id().unwrap(), "FAILED", exited)
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
    assert_eq!(
        pod.containers()[0].args(),
        ["-c".to_owned(), eks_script("bonjour", 0)]
    );
    let failed = jobs
        .iter()
        .find(|j| j.job_id() == failing.job_id())
        .unwrap();
    assert_eq!(failed.status(), Some(&JobStatus::Failed));
    let attempt = failed.attempts().last().expect("an attempt");
    assert_eq!(attempt.container().and_then(|c| c.exit_code()), Some(7));

    // ListJobs by queue name and by ARN finds both.
    for queue in [env.ns.clone(), queue_arn(&env.ns)] {
        let listed = client
            .list_jobs()
            .job_queue(&queue)
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
    let env = start().await;
    let client = sdk(&env);
    // `sh -c SCRIPT crunch --input=...`: the shell runs (longer than any deadline here) with
    // the parameters substituted into its arguments.
    let long = exit_script(36_000.0, 0);
    client
        .register_job_definition()
        .job_definition_name(def(&env, "crunch"))
        .r#type(JobDefinitionType::Container)
        .parameters("input", "s3://default")
        .container_properties(
            ContainerProperties::builder()
                .image("busybox")
                .command("sh")
                .command("-c")
                .command(&long)
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
        .job_queue(&env.ns)
        .job_definition(def(&env, "crunch"))
        .array_properties(ArrayProperties::builder().size(3).build())
        .container_overrides(
            ContainerOverrides::builder()
                .command("sh")
                .command("-c")
                .command(&long)
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
        json!([
            "sh",
            "-c",
            long,
            "crunch",
            "--input=s3://bucket/key",
            "--gpu"
        ])
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
    // DescribeJobs: the array, the effective container, the definition's revision. (Its pods
    // ask for a GPU, which a real cluster may not have: it may stay RUNNABLE.)
    let detail = eventually("the array to be described", || {
        env.describe(array.job_id().unwrap())
    })
    .await;
    assert_eq!(detail["arrayProperties"]["size"], 3);
    assert_eq!(detail["jobDefinition"], def_arn(&env, "crunch:1"));
    assert_eq!(detail["container"]["image"], "busybox");
    assert_eq!(detail["container"]["command"][5], "--gpu");
    assert_eq!(detail["retryStrategy"]["attempts"], 2);
    assert_eq!(detail["timeout"]["attemptDurationSeconds"], 120);
    assert_eq!(detail["parameters"]["input"], "s3://bucket/key");
    assert_eq!(detail["jobQueue"], queue_arn(&env.ns));
    let (status, _) = env.terminate(array.job_id().unwrap(), "done looking").await;
    assert_eq!(status, 200);
    env.wait_described(array.job_id().unwrap(), "FAILED").await;

    // A timeout: the deadline (60 s of kubesim's scaled clock, or of a real one) ends the job
    // FAILED.
    let timed = client
        .submit_job()
        .job_name("slow")
        .job_queue(&env.ns)
        .job_definition(def(&env, "crunch"))
        .timeout(JobTimeout::builder().attempt_duration_seconds(60).build())
        .send()
        .await
        .expect("submit");
    let failed = env.wait_described(timed.job_id().unwrap(), "FAILED").await;
    let reason = failed["statusReason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("DeadlineExceeded"), "{failed}");
}

/// DescribeJobQueues shows the configured queues (tests/e2e/queues.json), by name and ARN;
/// a name that is no configured queue is left out, as an unknown one is.
#[tokio::test]
async fn the_configured_queues_are_described() {
    let env = start().await;
    let client = sdk(&env);
    let all = client.describe_job_queues().send().await.expect("queues");
    let shown: Vec<(&str, Option<i32>, Option<&str>)> = all
        .job_queues()
        .iter()
        .map(|q| {
            (
                q.job_queue_name().unwrap_or_default(),
                q.priority(),
                q.state().map(|s| s.as_str()),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (KUEUED, Some(10), Some("ENABLED")),
            (OFF, Some(1), Some("DISABLED"))
        ]
    );
    assert_eq!(
        all.job_queues()[0].job_queue_arn(),
        Some(queue_arn(KUEUED).as_str())
    );
    let by_arn = client
        .describe_job_queues()
        .job_queues(queue_arn(OFF))
        .job_queues(&env.ns)
        .send()
        .await
        .expect("by ARN");
    let names: Vec<&str> = by_arn
        .job_queues()
        .iter()
        .filter_map(|q| q.job_queue_name())
        .collect();
    assert_eq!(names, [OFF]);
}

mod requests;
mod retries;
