//! Failures after parsing: service errors as AWS errors, shedding over the concurrency cap,
//! and requests that stall.

use super::*;

#[tokio::test]
async fn service_errors_render_as_aws_errors() {
    type Case = (fn() -> ServiceError, StatusCode, &'static str);
    let cases: [Case; 4] = [
        (
            || ServiceError::Server {
                message: "the API server is down".into(),
                source: None,
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerException",
        ),
        (
            || ServiceError::Client("no".into()),
            StatusCode::BAD_REQUEST,
            "ClientException",
        ),
        (
            || ServiceError::AccessDenied("namespace ml".into()),
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
        ),
        (
            || {
                ServiceError::Invalid(crate::batch::Error::ArrayChild {
                    job_id: "p:1".into(),
                    parent: "p".into(),
                })
            },
            StatusCode::BAD_REQUEST,
            "ClientException",
        ),
    ];
    for (make, status, code) in cases {
        let a = post_json(
            Fake::failing(make),
            "/v1/terminatejob",
            json!({"jobId": "j", "reason": "r"}),
        )
        .await;
        assert_eq!(a.error(status, code), make().to_string());
        request_id(&a);
    }
}

#[tokio::test]
async fn requests_over_the_concurrency_cap_are_shed_with_503_and_retry_after() {
    let fake = Arc::new(Fake {
        gate: Some(tokio::sync::Semaphore::new(0)),
        ..Fake::default()
    });
    let limits = Limits {
        max_concurrent_requests: 2,
        ..Limits::default()
    };
    let api = router(fake.clone(), Auth::None, limits);
    let terminate = |id: &str| {
        let api = api.clone();
        let body = json!({"jobId": id, "reason": "r"}).to_string();
        tokio::spawn(async move { send_to(api, "POST", "/v1/terminatejob", body).await })
    };
    let held = [terminate("a"), terminate("b")];
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.waiting.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "both requests inside the service"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Every operation shares the cap.
    for path in ["/v1/terminatejob", "/v1/describejobs"] {
        let shed = send_to(api.clone(), "POST", path, r#"{"jobs":["x"]}"#).await;
        shed.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
        );
        assert_eq!(shed.header("retry-after"), Some("1"));
        request_id(&shed);
    }
    fake.gate.as_ref().expect("gate").add_permits(10);
    for request in held {
        assert_eq!(request.await.expect("task").status, StatusCode::OK);
    }
    let after = send_to(api, "POST", "/v1/describejobs", r#"{"jobs":["x"]}"#).await;
    assert_eq!(after.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_that_stalls_is_a_408_and_a_slow_request_too() {
    let limits = Limits {
        body_timeout: Duration::from_millis(100),
        request_timeout: Duration::from_millis(400),
        ..Limits::default()
    };
    // A body that sends one piece, then nothing.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    tx.send(Ok(axum::body::Bytes::from_static(b"{\"jobs\"")))
        .await
        .expect("send");
    let stalled = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let api = router(Arc::new(Fake::default()), Auth::None, limits);
    let a = send_to(api, "POST", "/v1/describejobs", stalled).await;
    a.error(StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException");
    drop(tx);

    // A handler that never finishes: the request timeout answers.
    let fake = Arc::new(Fake {
        gate: Some(tokio::sync::Semaphore::new(0)),
        ..Fake::default()
    });
    let api = router(fake, Auth::None, limits);
    let a = send_to(
        api,
        "POST",
        "/v1/terminatejob",
        r#"{"jobId":"j","reason":"r"}"#,
    )
    .await;
    a.error(StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException");
}
