//! TerminateJob, CancelJob and DescribeJobs end to end: every row of the README's behaviour
//! table, against a cluster with a Job controller, a scheduler and a kubelet.

mod arrays;
mod auth;
mod bulk;
mod controller;
mod crashes;
mod depends;
mod harness;
mod list;
mod signals;
mod submit;

use harness::{Env, eventually};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use serde_json::{Value, json};

const REASON: &str = "Cancelled by the operator: wrong input file";

fn uid(job: &Job) -> String {
    job.uid().expect("uid")
}

/// The three annotations the README names, as written on the Job.
fn assert_annotated(job: &Job, action: &str, reason: &str) {
    let a = job.annotations();
    assert_eq!(
        a.get("batch-terminator.dev/reason").map(String::as_str),
        Some(reason)
    );
    assert_eq!(
        a.get("batch-terminator.dev/action").map(String::as_str),
        Some(action)
    );
    let at = a
        .get("batch-terminator.dev/requested-at")
        .expect("requested-at annotation");
    at.parse::<jiff::Timestamp>()
        .expect("requested-at is RFC 3339");
    assert!(at.ends_with("+00:00"), "requested-at keeps its form: {at}");
}

fn assert_failed_with(detail: &Value, reason: &str, terminated: bool) {
    assert_eq!(detail["status"], "FAILED", "{detail}");
    assert_eq!(detail["statusReason"], reason, "{detail}");
    assert_eq!(detail["isTerminated"], terminated, "{detail}");
    assert_eq!(detail["isCancelled"], !terminated, "{detail}");
    assert_stopped(detail);
}

/// A `stoppedAt` in epoch milliseconds.
fn assert_stopped(detail: &Value) {
    assert!(
        detail["stoppedAt"]
            .as_i64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "{detail}"
    );
}

/// A suspended Job is RUNNABLE: it is cancelled, deleted with its pods, and described as
/// FAILED and cancelled with the caller's reason, after it is gone.
#[tokio::test]
async fn a_suspended_job_is_cancelled_and_deleted() {
    let env = Env::start().await;
    let job = env
        .create_job("queued", json!({"suspend": true}), json!({}))
        .await;
    let id = uid(&job);
    env.wait_described(&id, "RUNNABLE").await;

    assert_eq!(env.terminate(&id, REASON).await, (200, json!({})));

    env.wait_job_gone("queued").await;
    assert!(env.job_pods(&job).await.is_empty());
    let events = env.events_for("queued", "JobCancelled").await;
    assert_eq!(events.len(), 1, "exactly one Event");
    assert_eq!(events[0].note.as_deref(), Some(REASON));
    let detail = env.wait_described(&id, "FAILED").await;
    assert_failed_with(&detail, REASON, false);
    assert!(detail.get("startedAt").is_none(), "never started: {detail}");
}

/// A Job whose pod fits no node stays RUNNABLE: it is cancelled, and its pending pod goes
/// with it (background propagation, not orphaned).
#[tokio::test]
async fn an_unschedulable_job_is_cancelled_with_its_pods() {
    let env = Env::start().await;
    let spec = json!({"template": {"spec": {"nodeSelector": {"pool": "does-not-exist"}}}});
    let job = env.create_job("unschedulable", spec, json!({})).await;
    let id = uid(&job);
    env.wait_pod_phase(&job, "Pending").await;
    // The pod can be seen before the service's Job watch delivers the Job.
    env.wait_described(&id, "RUNNABLE").await;

    assert_eq!(env.cancel(&id, REASON).await, (200, json!({})));

    eventually("the Job and its pods to be gone", || async {
        let gone = env
            .jobs()
            .get_opt("unschedulable")
            .await
            .expect("get")
            .is_none()
            && env.job_pods(&job).await.is_empty();
        gone.then_some(())
    })
    .await;
    let detail = env.wait_described(&id, "FAILED").await;
    assert_failed_with(&detail, REASON, false);
    // The pod never ran: no attempt, before or after the record completes.
    assert_eq!(detail["attempts"], json!([]), "{detail}");
    assert_eq!(detail["eksAttempts"], json!([]), "{detail}");
    eventually("the record to complete", || async {
        let records: kube::Api<batch_terminator::record::JobTermination> =
            kube::Api::namespaced(env.client.clone(), &env.ns);
        let record = records.get_opt(&id).await.expect("get record")?;
        let status = record.status?;
        assert!(status.attempts.is_empty(), "{status:?}");
        (status.phase? == batch_terminator::batch::TerminationPhase::Completed).then_some(())
    })
    .await;
    let detail = env.describe(&id).await.expect("described from the record");
    assert_eq!(detail["attempts"], json!([]), "{detail}");
}

/// A terminated job's attempt outlives its pod: DescribeJobs shows the pod that ran, with its
/// node, times and the exit code SIGTERM gave it, from the record once the pod is gone; and
/// ListJobs shows that exit code.
#[tokio::test]
async fn a_terminated_job_keeps_its_attempt() {
    let env = Env::start().await;
    let job = env.create_job("attempted", json!({}), json!({})).await;
    let id = uid(&job);
    let pod = env.wait_running(&job).await;
    let pod_name = pod.name_any();

    assert_eq!(env.terminate(&id, REASON).await, (200, json!({})));

    env.wait_condition("attempted", "Failed").await;
    eventually("the pods to be gone", || async {
        env.job_pods(&job).await.is_empty().then_some(())
    })
    .await;
    let detail = env
        .wait_described_with(&id, "FAILED", |d| {
            d["attempts"][0]["container"]["exitCode"].is_number()
        })
        .await;
    assert_failed_with(&detail, REASON, true);
    let attempts = detail["attempts"].as_array().expect("attempts");
    let eks = detail["eksAttempts"].as_array().expect("eksAttempts");
    assert_eq!((attempts.len(), eks.len()), (1, 1), "{detail}");
    let (attempt, eks) = (&attempts[0], &eks[0]);
    assert_eq!(attempt["container"]["exitCode"], 143, "{detail}");
    assert_eq!(eks["podName"], pod_name.as_str(), "{detail}");
    assert_eq!(eks["podNamespace"], env.ns.as_str(), "{detail}");
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    assert_eq!(eks["nodeName"].as_str(), node, "{detail}");
    assert_eq!(eks["containers"][0]["exitCode"], 143, "{detail}");
    let started = eks["startedAt"].as_i64().expect("startedAt");
    let stopped = eks["stoppedAt"].as_i64().expect("stoppedAt");
    assert!(
        started > 1_600_000_000_000 && stopped >= started,
        "{detail}"
    );
    assert_eq!(attempt["startedAt"], started);
    assert_eq!(attempt["stoppedAt"], stopped);
    assert_eq!(
        detail["eksProperties"]["podProperties"]["podName"],
        pod_name.as_str()
    );

    // ListJobs: the summary carries the kept exit code.
    let body = json!({"jobQueue": env.ns, "jobStatus": "FAILED"}).to_string();
    let (status, _, list) = env.post("/v1/listjobs", &body).await;
    assert_eq!(status, 200, "{list}");
    let summary = list["jobSummaryList"]
        .as_array()
        .expect("jobSummaryList")
        .iter()
        .find(|j| j["jobId"] == id.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(summary["container"]["exitCode"], 143, "{summary}");

    // Also once the Job itself is gone: the record keeps the attempt.
    env.jobs()
        .delete("attempted", &kube::api::DeleteParams::background())
        .await
        .expect("delete the Job");
    env.wait_job_gone("attempted").await;
    let gone = env.describe(&id).await.expect("described from the record");
    assert_eq!(gone["attempts"], detail["attempts"], "{gone}");
    assert_eq!(gone["eksAttempts"], detail["eksAttempts"], "{gone}");
}

/// A running Job is terminated: fenced, its pods deleted and never replaced, the Job ends
/// Failed; annotations and exactly one Event are written.
#[tokio::test]
async fn a_running_job_is_terminated() {
    let env = Env::start().await;
    let job = env.create_job("running", json!({}), json!({})).await;
    let id = uid(&job);
    let pod = env.wait_running(&job).await;
    assert_eq!(
        env.describe(&id).await.expect("described")["status"],
        "RUNNING"
    );

    assert_eq!(env.terminate(&id, REASON).await, (200, json!({})));

    let failed = env.wait_condition("running", "Failed").await;
    assert_annotated(&failed, "terminate", REASON);
    assert_eq!(
        failed.spec.as_ref().and_then(|s| s.active_deadline_seconds),
        Some(0)
    );
    // The controller lets go of the pod once its final state is kept in the record.
    eventually("the pods to be gone", || async {
        env.job_pods(&job).await.is_empty().then_some(())
    })
    .await;
    let status = failed.status.expect("status");
    assert_eq!(status.active.unwrap_or(0), 0);
    // The one pod that ran, and no replacement was ever created.
    let created = env.events_for("running", "SuccessfulCreate").await;
    assert_eq!(created.len(), 1, "no replacement pod: {created:?}");
    assert!(pod.metadata.name.is_some());
    let events = env.events_for("running", "JobTerminated").await;
    assert_eq!(events.len(), 1, "exactly one JobTerminated Event");
    assert_eq!(events[0].note.as_deref(), Some(REASON));

    let detail = env.wait_described(&id, "FAILED").await;
    assert_failed_with(&detail, REASON, true);
    assert!(detail["startedAt"].as_i64().is_some(), "it ran: {detail}");
}

/// A pod bound to a node but not yet running is STARTING: terminated, not cancelled.
#[tokio::test]
async fn a_starting_job_is_terminated() {
    let env = Env::start().await;
    let job = env
        .create_job(
            "starting",
            json!({}),
            json!({"kubesim.dev/start-after": "3600"}),
        )
        .await;
    let id = uid(&job);
    eventually("the job to be STARTING", || async {
        env.describe(&id)
            .await
            .filter(|d| d["status"] == "STARTING")
    })
    .await;

    assert_eq!(env.terminate(&id, REASON).await, (200, json!({})));

    let failed = env.wait_condition("starting", "Failed").await;
    assert_annotated(&failed, "terminate", REASON);
    eventually("the pods to be gone", || async {
        env.job_pods(&job).await.is_empty().then_some(())
    })
    .await;
    assert_eq!(env.events_for("starting", "JobTerminated").await.len(), 1);
    assert_failed_with(&env.wait_described(&id, "FAILED").await, REASON, true);
}

/// Finished jobs are left alone: 200, and nothing is written.
#[tokio::test]
async fn finished_jobs_are_left_alone() {
    let env = Env::start().await;
    let ok = env
        .create_job(
            "succeeds",
            json!({}),
            json!({"kubesim.dev/exit-after": "0.1"}),
        )
        .await;
    let bad = env
        .create_job(
            "fails",
            json!({"backoffLimit": 0}),
            json!({"kubesim.dev/exit-after": "0.1", "kubesim.dev/exit-code": "3"}),
        )
        .await;
    env.wait_condition("succeeds", "Complete").await;
    env.wait_condition("fails", "Failed").await;

    for (job, status) in [(&ok, "SUCCEEDED"), (&bad, "FAILED")] {
        let id = uid(job);
        assert_eq!(env.terminate(&id, REASON).await, (200, json!({})));
        assert_eq!(env.cancel(&id, REASON).await, (200, json!({})));
        let detail = env.describe(&id).await.expect("described");
        assert_eq!(detail["status"], status);
        assert_ne!(detail["statusReason"], REASON);
        assert_eq!(detail["isTerminated"], false, "{detail}");
        let now = env.jobs().get(&job.name_any()).await.expect("still there");
        assert!(
            !now.annotations()
                .contains_key("batch-terminator.dev/reason")
        );
    }
}

/// CancelJob on a running job answers 200 and changes nothing.
#[tokio::test]
async fn cancel_leaves_a_running_job_alone() {
    let env = Env::start().await;
    let job = env.create_job("busy", json!({}), json!({})).await;
    let pod = env.wait_running(&job).await;
    assert_eq!(env.cancel(&uid(&job), REASON).await, (200, json!({})));
    let detail = env.describe(&uid(&job)).await.expect("described");
    assert_eq!(detail["status"], "RUNNING");
    let still = env
        .pods()
        .get(&pod.name_any())
        .await
        .expect("pod still there");
    assert!(still.metadata.deletion_timestamp.is_none());
}

/// Unknown IDs answer 200 `{}` as AWS does, and DescribeJobs leaves them out.
#[tokio::test]
async fn an_unknown_job_id_answers_200() {
    let env = Env::start().await;
    assert_eq!(env.terminate("no-such-job", REASON).await, (200, json!({})));
    assert_eq!(env.cancel("no-such-job", REASON).await, (200, json!({})));
    assert!(env.describe("no-such-job").await.is_none());
}

/// The job ID label names a Job; a repeated TerminateJob keeps the first reason.
#[tokio::test]
async fn a_repeated_terminate_keeps_the_first_reason() {
    let env = Env::start().await;
    let job = env.create_job("labelled", json!({}), json!({})).await;
    let mut labelled = job.clone();
    labelled.labels_mut().insert(
        "batch-terminator.dev/job-id".into(),
        "nightly-etl-42".into(),
    );
    let patch = json!({"metadata": {"labels": {"batch-terminator.dev/job-id": "nightly-etl-42"}}});
    env.jobs()
        .patch(
            "labelled",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("label");
    env.wait_pod_phase(&job, "Running").await;
    eventually("the label to reach the service", || async {
        env.describe("nightly-etl-42")
            .await
            .filter(|d| d["status"] == "RUNNING")
    })
    .await;

    assert_eq!(
        env.terminate("nightly-etl-42", "first").await,
        (200, json!({}))
    );
    assert_eq!(
        env.terminate("nightly-etl-42", "second").await,
        (200, json!({}))
    );
    let failed = env.wait_condition("labelled", "Failed").await;
    assert_annotated(&failed, "terminate", "first");
    assert_eq!(
        env.terminate("nightly-etl-42", "third").await,
        (200, json!({}))
    );
    let detail = env.wait_described("nightly-etl-42", "FAILED").await;
    assert_failed_with(&detail, "first", true);
    assert_eq!(detail["jobId"], "nightly-etl-42");
    assert_eq!(detail["jobName"], "labelled");
    assert_eq!(env.events_for("labelled", "JobTerminated").await.len(), 1);
}

/// Each bad input: 400, the X-Amzn-ErrorType header and the body's __type, and a message
/// that names the field.
#[tokio::test]
async fn bad_input_is_a_client_exception_naming_the_field() {
    let env = Env::start().await;
    let long = "x".repeat(1025);
    let cases: [(&str, String, &str); 7] = [
        (
            "/v1/terminatejob",
            json!({"reason": "r"}).to_string(),
            "jobId",
        ),
        (
            "/v1/terminatejob",
            json!({"jobId": "", "reason": "r"}).to_string(),
            "jobId",
        ),
        (
            "/v1/terminatejob",
            json!({"jobId": "j"}).to_string(),
            "reason",
        ),
        (
            "/v1/canceljob",
            json!({"jobId": "j", "reason": ""}).to_string(),
            "reason",
        ),
        (
            "/v1/terminatejob",
            json!({"jobId": "j", "reason": long}).to_string(),
            "reason",
        ),
        ("/v1/terminatejob", "{not json".to_string(), "JSON"),
        (
            "/v1/describejobs",
            json!({"jobs": vec!["a"; 101]}).to_string(),
            "jobs",
        ),
    ];
    for (path, body, names) in cases {
        let (status, error_type, body) = env.post(path, &body).await;
        assert_eq!(status, 400, "{path} {body}");
        assert_eq!(
            error_type.as_deref(),
            Some("ClientException"),
            "{path} {body}"
        );
        assert_eq!(body["__type"], "ClientException", "{path} {body}");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains(names),
            "{path}: {message:?} should name {names}"
        );
    }
    let big = json!({"jobId": "j", "reason": "x".repeat(70 * 1024)}).to_string();
    let (status, error_type, _) = env.post("/v1/terminatejob", &big).await;
    assert_eq!(
        (status, error_type.as_deref()),
        (400, Some("ClientException"))
    );
}

/// The unmodified `aws-sdk-batch` crate, pointed at the service with an endpoint URL,
/// terminates a running job and describes it.
#[tokio::test]
async fn aws_sdk_batch_terminates_and_describes() {
    let env = Env::start().await;
    let job = env.create_job("sdk", json!({}), json!({})).await;
    let id = uid(&job);
    env.wait_running(&job).await;

    // Default settings (retries on), signing with the environment's key.
    let batch = env.sdk(|config| config);

    batch
        .terminate_job()
        .job_id(&id)
        .reason(REASON)
        .send()
        .await
        .expect("TerminateJob succeeds");
    env.wait_condition("sdk", "Failed").await;
    let detail = eventually("the SDK to see FAILED", || async {
        let out = batch
            .describe_jobs()
            .jobs(&id)
            .send()
            .await
            .expect("DescribeJobs");
        out.jobs()
            .first()
            .filter(|j| j.status() == Some(&aws_sdk_batch::types::JobStatus::Failed))
            .cloned()
    })
    .await;
    assert_eq!(detail.job_id(), Some(id.as_str()));
    assert_eq!(detail.status_reason(), Some(REASON));
    assert_eq!(detail.is_terminated(), Some(true));
    assert!(detail.stopped_at().is_some());

    // The SDK checks nothing: a missing reason reaches the server, which names the field.
    let err = batch
        .terminate_job()
        .job_id(&id)
        .send()
        .await
        .expect_err("no reason");
    let service = err.into_service_error();
    assert!(service.is_client_exception(), "{service:?}");
    assert!(service.to_string().contains("reason") || format!("{service:?}").contains("reason"));
}

/// A controller that dies between any two steps is finished by the next one, with exactly one
/// Event. Each case makes one step fail until the first service is gone, then starts another.
#[tokio::test]
async fn a_restart_between_steps_completes_the_termination_once() {
    use kubesim::faults::{Effect, Rule};
    // (verb, resource) of the step that fails while the first service runs.
    let cases = [
        ("patch", "jobterminations/status"), // before the decision is persisted
        ("create", "events"),                // after annotating and fencing
        ("delete", "pods"),                  // after the Event
    ];
    for (verb, resource) in cases {
        let mut env = Env::start().await;
        let name = format!("crash-{}", verb);
        let job = env.create_job(&name, json!({}), json!({})).await;
        env.wait_running(&job).await;
        let fault = Rule::new(Effect::Error {
            code: 500,
            retry_after_seconds: None,
        })
        .verbs(&[verb])
        .resources(&[resource]);
        env.sim().faults().add(fault).expect("fault rule");

        assert_eq!(env.terminate(&uid(&job), REASON).await, (200, json!({})));
        eventually(
            &format!("the controller to fail at {verb} {resource}"),
            || async {
                let failed = env.sim().requests().iter().any(|r| {
                    let full = match r.subresource.as_str() {
                        "" => r.resource.clone(),
                        sub => format!("{}/{sub}", r.resource),
                    };
                    r.verb == verb && r.status == 500 && full == resource
                });
                failed.then_some(())
            },
        )
        .await;

        // The crash: the service is gone mid-termination. Then the fault clears and a new
        // service starts from what the API server holds.
        drop(env.server.take());
        env.sim().faults().clear();
        env.server = Some(
            batch_terminator::serve::Server::start(env.client.clone(), harness::settings())
                .await
                .expect("restarted"),
        );

        env.wait_condition(&name, "Failed").await;
        eventually("the record to complete", || async {
            let records: kube::Api<batch_terminator::record::JobTermination> =
                kube::Api::namespaced(env.client.clone(), &env.ns);
            let record = records.get_opt(&uid(&job)).await.expect("get record")?;
            let phase = record.status?.phase?;
            (phase == batch_terminator::batch::TerminationPhase::Completed).then_some(())
        })
        .await;
        assert!(env.job_pods(&job).await.is_empty(), "{verb} {resource}");
        let events = env.events_for(&name, "JobTerminated").await;
        assert_eq!(
            events.len(),
            1,
            "one Event after a crash at {verb} {resource}"
        );
    }
}

/// Records are deleted once the retention period has passed and their Job is gone or finished.
#[tokio::test]
async fn records_expire_after_the_retention_period() {
    let settings = harness::Settings {
        record_retention: std::time::Duration::ZERO,
        ..harness::settings()
    };
    let env = Env::start_with_settings(harness::sim_config(), |_| settings).await;
    let records: kube::Api<batch_terminator::record::JobTermination> =
        kube::Api::namespaced(env.client.clone(), &env.ns);
    let queued = env
        .create_job("queued", json!({"suspend": true}), json!({}))
        .await;
    let running = env.create_job("running", json!({}), json!({})).await;
    env.wait_running(&running).await;
    env.wait_described(&uid(&queued), "RUNNABLE").await;

    for job in [&queued, &running] {
        assert_eq!(env.terminate(&uid(job), REASON).await, (200, json!({})));
        // The record existed (the 200 promised it), and goes once it is done.
        eventually("the record to be deleted", || async {
            records
                .get_opt(&uid(job))
                .await
                .expect("get")
                .is_none()
                .then_some(())
        })
        .await;
    }
    env.wait_condition("running", "Failed").await;
    assert!(env.jobs().get_opt("queued").await.expect("get").is_none());
    // Without its record a deleted Job is unknown again; a finished one reads from the Job.
    assert!(env.describe(&uid(&queued)).await.is_none());
    assert_eq!(
        env.describe(&uid(&running)).await.expect("described")["status"],
        "FAILED"
    );
}

/// `/readyz` is 200 once synced, `/livez` is 200, and `/metrics` counts requests by
/// operation and AWS error code, and reconciles by action.
#[tokio::test]
async fn probes_and_metrics_tell_the_truth() {
    let env = Env::start().await;
    let server = env.server.as_ref().expect("the in-process service");
    let admin = server.admin_url();
    for probe in ["/livez", "/readyz"] {
        let resp = env
            .http
            .get(format!("{admin}{probe}"))
            .send()
            .await
            .expect("probe");
        assert_eq!(resp.status().as_u16(), 200, "{probe}");
    }
    let job = env
        .create_job("counted", json!({"suspend": true}), json!({}))
        .await;
    // Known to the service first: an unknown ID would answer 200 without writing anything.
    env.wait_described(&uid(&job), "RUNNABLE").await;
    assert_eq!(env.terminate(&uid(&job), REASON).await.0, 200);
    assert_eq!(env.terminate("", REASON).await.0, 400);
    env.wait_described(&uid(&job), "FAILED").await;

    let text = eventually("the cancel to be counted", || async {
        let text = env
            .http
            .get(format!("{admin}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains(
            r#"batch_terminator_controller_reconciles_total{action="cancel",result="ok"}"#,
        )
        .then_some(text)
    })
    .await;
    assert!(
        text.contains(
            r#"batch_terminator_api_requests_total{operation="TerminateJob",code="OK"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"batch_terminator_api_requests_total{operation="TerminateJob",code="ClientException"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("batch_terminator_api_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// When the API server fails, TerminateJob answers 500 ServerException and writes nothing; a
/// retry (as every AWS client makes) then succeeds.
#[tokio::test]
async fn a_kubernetes_failure_is_a_server_exception_and_never_a_false_200() {
    use kubesim::faults::{Effect, Rule};
    let env = Env::start().await;
    let job = env
        .create_job("flaky", json!({"suspend": true}), json!({}))
        .await;
    // Known to the service first: an unknown ID would answer 200 without writing anything.
    env.wait_described(&uid(&job), "RUNNABLE").await;
    let rule = Rule::new(Effect::Error {
        code: 500,
        retry_after_seconds: None,
    })
    .verbs(&["create"])
    .resources(&["jobterminations"]);
    env.sim().faults().add(rule).expect("fault rule");

    let body = json!({"jobId": uid(&job), "reason": REASON}).to_string();
    let (status, error_type, body) = env.post("/v1/terminatejob", &body).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(error_type.as_deref(), Some("ServerException"));
    assert_eq!(body["__type"], "ServerException");
    let records: kube::Api<batch_terminator::record::JobTermination> =
        kube::Api::namespaced(env.client.clone(), &env.ns);
    assert!(records.get_opt(&uid(&job)).await.expect("get").is_none());
    assert_eq!(
        env.describe(&uid(&job)).await.expect("described")["status"],
        "RUNNABLE"
    );

    env.sim().faults().clear();
    assert_eq!(env.terminate(&uid(&job), REASON).await, (200, json!({})));
    assert_failed_with(
        &env.wait_described(&uid(&job), "FAILED").await,
        REASON,
        false,
    );
}
