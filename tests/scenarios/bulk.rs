//! The bulk extensions TerminateJobs and CancelJobs (`successful` and `errors` lists, up to
//! 50 jobs), and the OpenAPI document served by the API.

use serde_json::{Value, json};

use crate::harness::Env;
use crate::list::create;

fn job_ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|e| e["jobId"].as_str().expect("jobId"))
        .collect()
}

#[tokio::test]
async fn terminate_jobs_acts_on_each_entry_and_reports_each_outcome() {
    let env = Env::start().await;
    let running = env.create_job("running", json!({}), json!({})).await;
    let queued = env
        .create_job("queued", json!({"suspend": true}), json!({}))
        .await;
    let (running_id, queued_id) = (
        running.metadata.uid.clone().expect("uid"),
        queued.metadata.uid.clone().expect("uid"),
    );
    // Known to the service first: an unknown ID would succeed without writing anything.
    env.wait_running(&running).await;
    env.wait_described(&queued_id, "RUNNABLE").await;
    let child = format!("{running_id}:1");
    let body = json!({"jobs": [
        {"jobId": running_id, "reason": "stop it"},
        {"jobId": queued_id, "reason": "never mind"},
        {"jobId": "no-such-job", "reason": "unknown IDs succeed, as in TerminateJob"},
        {"jobId": child, "reason": "one index"},
        {"reason": "no job ID"},
        {"jobId": "no-reason"},
    ]});
    let (status, _, answer) = env.post("/v1/terminatejobs", &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        job_ids(&answer["successful"]),
        [running_id.as_str(), queued_id.as_str(), "no-such-job"]
    );
    let errors = answer["errors"].as_array().expect("errors");
    assert_eq!(
        job_ids(&answer["errors"]),
        [child.as_str(), "", "no-reason"]
    );
    for error in errors {
        assert_eq!(error["code"], "ClientException", "{error}");
        assert_eq!(error["senderFault"], true, "{error}");
    }
    let message = |i: usize| errors[i]["message"].as_str().expect("message");
    assert!(
        message(0).contains("Kubernetes cannot stop one index"),
        "{answer}"
    );
    assert_eq!(message(1), "jobId is required");
    assert_eq!(message(2), "reason is required");

    let detail = env.wait_described(&running_id, "FAILED").await;
    assert_eq!(
        (&detail["statusReason"], &detail["isTerminated"]),
        (&json!("stop it"), &json!(true))
    );
    let detail = env.wait_described(&queued_id, "FAILED").await;
    assert_eq!(
        (&detail["statusReason"], &detail["isCancelled"]),
        (&json!("never mind"), &json!(true))
    );
    assert_eq!(env.events_for("running", "JobTerminated").await.len(), 1);
}

#[tokio::test]
async fn cancel_jobs_cancels_only_queued_jobs() {
    let env = Env::start().await;
    let running = env.create_job("running", json!({}), json!({})).await;
    let queued = create(
        &env,
        "queued",
        json!({}),
        json!({"suspend": true}),
        json!({}),
    )
    .await;
    let (running_id, queued_id) = (
        running.metadata.uid.clone().expect("uid"),
        queued.metadata.uid.clone().expect("uid"),
    );
    // Known to the service first: an unknown ID would succeed without writing anything.
    env.wait_running(&running).await;
    env.wait_described(&queued_id, "RUNNABLE").await;
    let body = json!({"jobs": [
        {"jobId": running_id, "reason": "cancel"},
        {"jobId": queued_id, "reason": "cancel"},
    ]});
    let (status, _, answer) = env.post("/v1/canceljobs", &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        job_ids(&answer["successful"]),
        [running_id.as_str(), queued_id.as_str()]
    );
    assert_eq!(answer["errors"], json!([]));
    env.wait_described(&queued_id, "FAILED").await;
    env.wait_job_gone("queued").await;
    // CancelJob leaves a started job alone, as AWS does.
    let detail = env.describe(&running_id).await.expect("described");
    assert_eq!(detail["status"], "RUNNING", "{detail}");
    assert_eq!(detail["isCancelled"], false);
    assert!(env.events_for("running", "JobCancelled").await.is_empty());
}

#[tokio::test]
async fn bulk_requests_are_validated_as_a_whole() {
    let env = Env::start().await;
    let entry = |i: usize| json!({"jobId": format!("job-{i}"), "reason": "r"});
    let fifty_one: Vec<Value> = (0..51).map(entry).collect();
    for (path, body, needle) in [
        (
            "/v1/terminatejobs",
            json!({"jobs": fifty_one}),
            "at most 50",
        ),
        ("/v1/canceljobs", json!({}), "jobs is required"),
        ("/v1/canceljobs", json!({"jobs": []}), "jobs is required"),
        (
            "/v1/terminatejobs",
            json!({"jobs": [entry(1), entry(2), entry(1)]}),
            "job-1 is listed twice",
        ),
        ("/v1/terminatejobs", json!({"jobs": "job-1"}), "jobs"),
    ] {
        let (status, error, answer) = env.post(path, &body.to_string()).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(error.as_deref(), Some("ClientException"));
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{path}: {answer}"
        );
    }
    let fifty: Vec<Value> = (0..50).map(entry).collect();
    let (status, _, answer) = env
        .post("/v1/terminatejobs", &json!({ "jobs": fifty }).to_string())
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["successful"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn the_api_serves_its_openapi_document() {
    let env = Env::start().await;
    let response = env
        .http
        .get(format!("{}/openapi.json", env.endpoint))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let served: Value = response.json().await.expect("JSON");
    assert_eq!(served, batch_terminator::api::openapi::document());
    assert!(served["paths"]["/v1/terminatejobs"]["post"].is_object());
}
