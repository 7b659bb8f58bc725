//! SubmitJob's requests: validation, retries of one call, authorization, dependencies, and
//! read-after-write.

use super::*;

#[tokio::test]
async fn every_invalid_submit_names_its_field() {
    let env = start().await;
    register_eks(&env, &sdk(&env), "defn", 0).await;
    let defn = def(&env, "defn");
    let base = json!({"jobName": "j", "jobQueue": env.ns, "jobDefinition": defn});
    let missing_revision = format!("job definition {defn}:9 not found");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"jobName": null}), "jobName is required"),
        (json!({"jobName": "-bad"}), "jobName"),
        (json!({"jobQueue": ""}), "jobQueue is required"),
        (
            json!({"jobQueue": "No_Such_Queue"}),
            "job queue No_Such_Queue not found",
        ),
        (json!({"jobQueue": OFF}), "job queue e2e-off is DISABLED"),
        (json!({"jobDefinition": null}), "jobDefinition is required"),
        (
            json!({"jobDefinition": format!("{defn}:x")}),
            "jobDefinition",
        ),
        (
            json!({"jobDefinition": "nothing"}),
            "job definition nothing not found",
        ),
        (
            json!({"jobDefinition": format!("{defn}:9")}),
            &missing_revision,
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
    let env = start().await;
    register_eks(&env, &sdk(&env), "once", 0).await;
    let body = json!({"jobName": "once", "jobQueue": env.ns, "jobDefinition": def(&env, "once")})
        .to_string();
    let submit = |invocation: &'static str| {
        let body = body.clone();
        let env = &env;
        async move {
            let headers = [("amz-sdk-invocation-id", invocation)];
            let (status, _, answer) = env.post_with("/v1/submitjob", &body, &headers).await;
            assert_eq!(status, 200, "{answer}");
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
}

/// The SDK's own retry: its first attempt times out while kubesim holds the create, the retry
/// (same invocation ID) answers, and there is one Job.
#[tokio::test]
async fn the_sdks_own_retry_of_a_submit_creates_one_job() {
    let env = start().await;
    register_eks(&env, &sdk(&env), "once", 0).await;
    env.sim()
        .faults()
        .add(Rule {
            verbs: vec!["create".into()],
            resources: vec!["jobs".into()],
            limit: Some(1),
            ..Rule::new(Effect::Latency { millis: 1500 })
        })
        .expect("fault");
    let retrying = env.sdk(|c| {
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
        .job_queue(&env.ns)
        .job_definition(def(&env, "once"))
        .send()
        .await
        .expect("the retry answers");
    let found = eventually("the delayed create to land", || async {
        let jobs = env.jobs().list(&ListParams::default()).await.unwrap().items;
        (jobs.len() == 1).then_some(jobs)
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

/// The queues of the authorization test: `high` (plain), `kueued` (a Kueue LocalQueue) and
/// `off` (DISABLED), all in the test's namespace.
fn queues_in(ns: &str) -> Queues {
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
    let env = start_with(queues_in, |ns| Auth::sigv4(credentials(ns), REGION)).await;
    let team = sdk_with(&env, "AKIDTEAM", "team-secret");
    let other = sdk_with(&env, "AKIDOTHER", "other-secret");
    let reader = sdk_with(&env, "AKIDREADER", "reader-secret");
    register_eks(&env, &team, "shared", 0).await;
    let shared = def(&env, "shared");

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
        .job_definition_name(&shared)
        .send()
        .await
        .expect("definitions");
    assert_eq!(defs.job_definitions().len(), 1);
    let (code, message) = code_and_message!(
        other
            .submit_job()
            .job_name("intruder")
            .job_queue("high")
            .job_definition(&shared)
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
            .job_definition(&shared)
            .send()
            .await
    );
    assert_eq!(code, "AccessDeniedException", "SubmitJob is not granted");
    let mine = team
        .submit_job()
        .job_name("mine")
        .job_queue("high")
        .job_definition(&shared)
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
    // The Kueue queue's namespace (tests/e2e/queues.json) is this test's.
    let env = start_in(KUEUED_NS.to_owned()).await;
    let client = sdk(&env);
    register_eks(&env, &client, "step", 0).await;
    // The first job runs until it is stopped, so the second stays held meanwhile (the
    // dependency controller releases it as soon as the first succeeds).
    let first = client
        .submit_job()
        .job_name("first")
        .job_queue(KUEUED)
        .job_definition(def(&env, "step"))
        .eks_properties_override(
            EksPropertiesOverride::builder()
                .pod_properties(
                    EksPodPropertiesOverride::builder()
                        .containers(
                            EksContainerOverride::builder()
                                .name("main")
                                .args("-c")
                                .args(exit_script(3600.0, 0))
                                .build(),
                        )
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
        .job_queue(KUEUED)
        .job_definition(def(&env, "step"))
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
    assert_eq!(labels["batch-terminator.dev/job-queue"], KUEUED);
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
        .job_queue(KUEUED)
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
    assert_eq!(first_detail["jobQueue"], queue_arn(KUEUED));
}

/// Read-after-write: a DescribeJobs sent the moment SubmitJob answers finds the job, 20 times
/// in a row, while the service's Job watch lags (kubesim ends each Job watch after 50 ms and
/// serves the next one 300 ms late, so a new Job reaches the cache up to 300 ms after it is
/// created). SubmitJob answers once its Job is in the cache.
#[tokio::test]
async fn a_submitted_job_is_described_at_once() {
    let env = start().await;
    let client = sdk(&env);
    register_eks(&env, &client, "quick", 0).await;
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
    // The rules apply to watches started from now on: end the open ones.
    faults.drop_watches();
    // The lag is real: Jobs created directly (not by SubmitJob) are not all described at
    // once. The watch is open 50 ms of every 350, so five in a row all seen is unlikely.
    let mut unseen = 0;
    for i in 0..5 {
        let job = env
            .create_job(&format!("direct-{i}"), json!({"suspend": true}), json!({}))
            .await;
        if env.describe(&job.uid().expect("uid")).await.is_none() {
            unseen += 1;
        }
    }
    assert!(
        unseen > 0,
        "the Job watch does not lag: the test proves nothing"
    );
    for i in 0..20 {
        let out = client
            .submit_job()
            .job_name(format!("quick-{i}"))
            .job_queue(&env.ns)
            .job_definition(def(&env, "quick"))
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
