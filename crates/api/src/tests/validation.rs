//! Requests the API refuses before the service sees them: missing, empty or mistyped
//! fields, bodies that are not JSON or too large, wrong methods and paths.

use super::*;

#[tokio::test]
async fn missing_or_empty_fields_are_named() {
    let cases = [
        (json!({"reason": "r"}), "jobId is required"),
        (json!({"jobId": "", "reason": "r"}), "jobId is required"),
        (json!({"jobId": null, "reason": "r"}), "jobId is required"),
        (json!({"jobId": "j"}), "reason is required"),
        (json!({"jobId": "j", "reason": ""}), "reason is required"),
        (
            json!({"jobId": "j", "reason": "a".repeat(1025)}),
            "reason must be 1 to 1024 characters long, but it is 1025",
        ),
    ];
    for path in ["/v1/terminatejob", "/v1/canceljob"] {
        for (body, message) in &cases {
            let fake = Arc::new(Fake::default());
            let a = post_json(fake.clone(), path, body.clone()).await;
            assert_eq!(
                a.error(StatusCode::BAD_REQUEST, "ClientException"),
                *message
            );
            request_id(&a);
            assert!(fake.terminated.lock().expect("lock").is_empty(), "{body}");
        }
    }
}

#[tokio::test]
async fn an_empty_body_is_an_empty_object() {
    let a = send(Arc::new(Fake::default()), "POST", "/v1/terminatejob", "").await;
    assert_eq!(
        a.error(StatusCode::BAD_REQUEST, "ClientException"),
        "jobId is required"
    );
}

#[tokio::test]
async fn malformed_json_gets_the_aws_message() {
    for body in ["{", "not json", "{\"jobId\": \"j\",}", "{} x"] {
        let a = send(Arc::new(Fake::default()), "POST", "/v1/terminatejob", body).await;
        assert_eq!(
            a.error(StatusCode::BAD_REQUEST, "ClientException"),
            "An error occurred during JSON parsing",
            "{body}"
        );
    }
}

#[tokio::test]
async fn wrong_types_name_the_field() {
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/terminatejob",
        json!({"jobId": 5, "reason": "r"}),
    )
    .await;
    let message = a.error(StatusCode::BAD_REQUEST, "ClientException");
    assert!(
        message.starts_with("An error occurred during JSON parsing: jobId: invalid type"),
        "{message}"
    );
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/describejobs",
        json!({"jobs": ["a", 7]}),
    )
    .await;
    let message = a.error(StatusCode::BAD_REQUEST, "ClientException");
    assert!(message.contains("jobs[1]"), "{message}");
    let a = post_json(Arc::new(Fake::default()), "/v1/terminatejob", json!([1])).await;
    let message = a.error(StatusCode::BAD_REQUEST, "ClientException");
    assert_eq!(
        message,
        "An error occurred during JSON parsing: request body: must be a JSON object"
    );
    let a = post_json(Arc::new(Fake::default()), "/v1/describejobs", json!({})).await;
    assert_eq!(
        a.error(StatusCode::BAD_REQUEST, "ClientException"),
        "jobs is required"
    );
}

#[tokio::test]
async fn describe_and_list_validation() {
    let jobs: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/describejobs",
        json!({ "jobs": jobs }),
    )
    .await;
    assert_eq!(
        a.error(StatusCode::BAD_REQUEST, "ClientException"),
        "jobs may list at most 100 items, but it lists 101"
    );
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/listjobs",
        json!({"jobQueue": "q", "maxResults": 1000}),
    )
    .await;
    let message = a.error(StatusCode::BAD_REQUEST, "ClientException");
    assert!(message.starts_with("maxResults:"), "{message}");
    let a = post_json(Arc::new(Fake::default()), "/v1/listjobs", json!({})).await;
    let message = a.error(StatusCode::BAD_REQUEST, "ClientException");
    assert!(message.starts_with("jobQueue:"), "{message}");
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused() {
    let reason = "a".repeat(MAX_BODY_BYTES);
    let body = json!({"jobId": "j", "reason": reason}).to_string();
    let a = send(Arc::new(Fake::default()), "POST", "/v1/terminatejob", body).await;
    assert_eq!(
        a.error(StatusCode::BAD_REQUEST, "ClientException"),
        "the request body is larger than 65536 bytes"
    );
    // The same without a Content-Length, read as a stream.
    let chunks = futures::stream::iter((0..70).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
    let a = send(
        Arc::new(Fake::default()),
        "POST",
        "/v1/terminatejob",
        Body::from_stream(chunks),
    )
    .await;
    assert_eq!(
        a.error(StatusCode::BAD_REQUEST, "ClientException"),
        "the request body is larger than 65536 bytes"
    );
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_read() {
    let mut body = json!({"jobId": "j", "reason": "r"}).to_string();
    body.push_str(&" ".repeat(MAX_BODY_BYTES - body.len()));
    let a = send(Arc::new(Fake::default()), "POST", "/v1/terminatejob", body).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_method_is_a_client_exception() {
    let a = send(Arc::new(Fake::default()), "GET", "/v1/terminatejob", "").await;
    assert_eq!(
        a.error(StatusCode::BAD_REQUEST, "ClientException"),
        "GET is not allowed on /v1/terminatejob; AWS Batch operations are POST requests"
    );
    assert_eq!(a.header("allow"), Some("POST"));
    request_id(&a);
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/createcomputeenvironment",
        json!({}),
    )
    .await;
    assert_eq!(
        a.error(StatusCode::NOT_FOUND, "UnknownOperationException"),
        "no operation at POST /v1/createcomputeenvironment"
    );
    request_id(&a);
}
