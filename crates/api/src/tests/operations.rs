//! Each operation's happy path: what the service is asked, and what the client gets.

use super::*;

#[tokio::test]
async fn terminate_answers_empty_json_with_aws_headers() {
    let fake = Arc::new(Fake::default());
    let a = post_json(
        fake.clone(),
        "/v1/terminatejob",
        json!({"jobId": "j1", "reason": "stop"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, b"{}");
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.header("content-length"), Some("2"));
    assert_eq!(a.header("x-amzn-errortype"), None);
    request_id(&a);
    assert_eq!(
        *fake.terminated.lock().expect("lock"),
        [(TerminateKind::Terminate, "j1".into(), "stop".into())]
    );
}

#[tokio::test]
async fn cancel_passes_the_cancel_kind() {
    let fake = Arc::new(Fake::default());
    let a = post_json(
        fake.clone(),
        "/v1/canceljob",
        json!({"jobId": "j2", "reason": "not needed", "extra": 1}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, b"{}");
    assert_eq!(
        *fake.terminated.lock().expect("lock"),
        [(TerminateKind::Cancel, "j2".into(), "not needed".into())]
    );
}

#[tokio::test]
async fn describe_answers_a_jobs_list() {
    let fake = Arc::new(Fake::default());
    let a = post_json(
        fake.clone(),
        "/v1/describejobs",
        json!({"jobs": ["a", "b"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), json!({"jobs": []}));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(*fake.described.lock().expect("lock"), [vec!["a", "b"]]);
}

#[tokio::test]
async fn list_omits_the_token_on_the_last_page() {
    let fake = Arc::new(Fake::default());
    let a = post_json(
        fake.clone(),
        "/v1/listjobs",
        json!({"jobQueue": "q", "maxResults": 2}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let body = a.json();
    assert_eq!(body["jobSummaryList"][1]["jobId"], "b");
    assert_eq!(body["jobSummaryList"][0]["status"], "RUNNING");
    assert!(body.get("nextToken").is_none(), "{body}");
    *fake.next_token.lock().expect("lock") = Some("abc".into());
    let a = post_json(
        fake,
        "/v1/listjobs",
        json!({"jobQueue": "q", "maxResults": 2}),
    )
    .await;
    assert_eq!(a.json()["nextToken"], "abc");
}

#[tokio::test]
async fn request_ids_are_unique() {
    let fake = Arc::new(Fake::default());
    let body = json!({"jobId": "j", "reason": "r"});
    let a = post_json(fake.clone(), "/v1/terminatejob", body.clone()).await;
    let b = post_json(fake, "/v1/terminatejob", body).await;
    assert_ne!(request_id(&a), request_id(&b));
}

#[test]
fn request_schemas_mark_required_fields() {
    let schema = schemars::schema_for!(TerminateJobRequest);
    let v = serde_json::to_value(&schema).expect("json");
    assert_eq!(v["required"], json!(["jobId", "reason"]));
    assert_eq!(v["properties"]["reason"]["maxLength"], 1024);
    let schema = serde_json::to_value(schemars::schema_for!(DescribeJobsResponse)).expect("json");
    assert!(schema.to_string().contains("eksAttempts"));
}
