//! What the product's tests share: posting to the AWS API and the service's settings.

use std::time::Duration;

use serde_json::{Value, json};

/// POSTs a JSON body to `url`; returns the status, the `X-Amzn-ErrorType` header and the body.
/// Panics on a body that is not JSON: every answer of the API is.
pub async fn post(http: &reqwest::Client, url: &str, body: &str) -> (u16, Option<String>, Value) {
    send(
        http.post(url)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// Sends a request built elsewhere (signed, with more headers); answers as [`post`] does.
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Option<String>, Value) {
    let resp = request.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let error_type = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"));
    (status, error_type, body)
}

/// DescribeJobs for one ID against the API at `endpoint`: the JobDetail, or None when it is
/// left out. Panics unless the answer is 200.
pub async fn describe(http: &reqwest::Client, endpoint: &str, job_id: &str) -> Option<Value> {
    describe_answer(http, endpoint, job_id, false).await
}

/// [`describe`] for a poll while some namespace the service watches is refused: an ID the
/// caches have not seen yet then answers a retryable 500 ServerException (it could be a job
/// there), which is None too, so the poll asks again.
pub async fn describe_retryable(
    http: &reqwest::Client,
    endpoint: &str,
    job_id: &str,
) -> Option<Value> {
    describe_answer(http, endpoint, job_id, true).await
}

async fn describe_answer(
    http: &reqwest::Client,
    endpoint: &str,
    job_id: &str,
    retryable: bool,
) -> Option<Value> {
    let body = json!({"jobs": [job_id]}).to_string();
    let answer = post(http, &format!("{endpoint}/v1/describejobs"), &body).await;
    first_job(answer, retryable)
}

/// The JobDetail a DescribeJobs for one ID answered (status, error type, body), or None when
/// it is left out; with `retryable`, a 500 ServerException is None too (see
/// [`describe_retryable`]). Panics on any other answer than 200.
pub fn first_job(
    (status, error_type, body): (u16, Option<String>, Value),
    retryable: bool,
) -> Option<Value> {
    if retryable && status == 500 && error_type.as_deref() == Some("ServerException") {
        return None;
    }
    assert_eq!(status, 200, "describejobs: {body}");
    body["jobs"]
        .as_array()
        .expect("jobs array")
        .first()
        .cloned()
}

/// The service's settings for tests: loopback on free ports, all namespaces, no
/// authentication, plain HTTP with the default limits, a one-hour record retention and a
/// five-second shutdown.
pub fn settings() -> batch_terminator::serve::Settings {
    batch_terminator::serve::Settings {
        listen: "127.0.0.1:0".parse().expect("address"),
        admin_listen: "127.0.0.1:0".parse().expect("address"),
        namespaces: Vec::new(),
        record_retention: Duration::from_secs(3600),
        service: batch_terminator::service::ServiceSettings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            strict_unknown_jobs: false,
            queues: Default::default(),
            job_definition_namespace: "default".into(),
        },
        shutdown_timeout: Duration::from_secs(5),
        auth: batch_terminator::auth::Auth::None,
        limits: Default::default(),
        connections: Default::default(),
        tls: None,
        leader_election: None,
    }
}
