//! Router tests with a fake JobService, through `tower::ServiceExt::oneshot`.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::batch::{BatchState, JobSummary, TerminateKind};

#[derive(Default)]
struct Fake {
    /// When set, each terminate waits for a permit of it (and counts itself in `waiting`).
    gate: Option<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    terminated: Mutex<Vec<(TerminateKind, String, String)>>,
    described: Mutex<Vec<Vec<String>>>,
    fail: Mutex<Option<fn() -> ServiceError>>,
    next_token: Mutex<Option<String>>,
}

impl Fake {
    fn failing(f: fn() -> ServiceError) -> Arc<Fake> {
        let fake = Fake::default();
        *fake.fail.lock().expect("lock") = Some(f);
        Arc::new(fake)
    }

    fn check(&self) -> Result<(), ServiceError> {
        match *self.fail.lock().expect("lock") {
            Some(f) => Err(f()),
            None => Ok(()),
        }
    }
}

fn summary(id: &str) -> JobSummary {
    JobSummary {
        job_arn: format!("arn:aws:batch:r:a:job/{id}"),
        job_id: id.into(),
        job_name: "n".into(),
        created_at: 1,
        status: BatchState::Running,
        status_reason: None,
        started_at: Some(2),
        stopped_at: None,
        container: None,
        array_properties: None,
    }
}

impl JobService for Fake {
    async fn terminate(
        &self,
        _ctx: RequestContext,
        command: TerminateCommand,
    ) -> Result<(), ServiceError> {
        tracing::info!("inside the service");
        if let Some(gate) = &self.gate {
            self.waiting
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _permit = gate.acquire().await.expect("gate open");
        }
        self.check()?;
        self.terminated.lock().expect("lock").push((
            command.kind(),
            command.job_id().to_owned(),
            command.reason().to_owned(),
        ));
        Ok(())
    }

    async fn describe(
        &self,
        _ctx: RequestContext,
        command: DescribeCommand,
    ) -> Result<Vec<JobDetail>, ServiceError> {
        self.check()?;
        self.described
            .lock()
            .expect("lock")
            .push(command.job_ids().to_vec());
        Ok(Vec::new())
    }

    async fn list(&self, _ctx: RequestContext, query: ListQuery) -> Result<ListPage, ServiceError> {
        self.check()?;
        assert_eq!(query.max_results, 2);
        Ok(ListPage {
            jobs: vec![summary("a"), summary("b")],
            next_token: self.next_token.lock().expect("lock").clone(),
        })
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("every answer is JSON")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Checks the AWS error shape and returns the message.
    fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("x-amzn-errortype"), Some(code));
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["__type"], code);
        body["message"].as_str().expect("a message").to_owned()
    }
}

async fn send(service: Arc<Fake>, method: &str, path: &str, body: impl Into<Body>) -> Answer {
    send_to(
        router(service, Auth::None, Limits::default()),
        method,
        path,
        body,
    )
    .await
}

async fn send_to(router: Router, method: &str, path: &str, body: impl Into<Body>) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

async fn post_json(service: Arc<Fake>, path: &str, body: Value) -> Answer {
    send(service, "POST", path, body.to_string()).await
}

fn request_id(answer: &Answer) -> Uuid {
    let id = answer.header("x-amzn-requestid").expect("x-amzn-RequestId");
    let id = Uuid::parse_str(id).expect("a UUID");
    assert_eq!(id.get_version_num(), 4);
    id
}

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
    let a = post_json(Arc::new(Fake::default()), "/v1/submitjob", json!({})).await;
    assert_eq!(
        a.error(StatusCode::NOT_FOUND, "UnknownOperationException"),
        "no operation at POST /v1/submitjob"
    );
    request_id(&a);
}

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
async fn request_ids_are_unique() {
    let fake = Arc::new(Fake::default());
    let body = json!({"jobId": "j", "reason": "r"});
    let a = post_json(fake.clone(), "/v1/terminatejob", body.clone()).await;
    let b = post_json(fake, "/v1/terminatejob", body).await;
    assert_ne!(request_id(&a), request_id(&b));
}

thread_local! {
    /// Where the log lines of this thread go, while a test captures them.
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// A writer for a process-wide subscriber that routes lines to the current thread's capture.
/// A global subscriber (not `set_default`) keeps callsite interest stable while other tests
/// run on other threads.
struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(out) = c.borrow().as_ref() {
                out.lock().expect("lock").extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `request` logs (the text format), with its answer.
async fn logged(request: impl Future<Output = Answer>) -> (Answer, String) {
    fn subscriber() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_writer(|| ThreadWriter)
            .with_ansi(false)
            .finish()
    }
    static GLOBAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let global =
        *GLOBAL.get_or_init(|| tracing::subscriber::set_global_default(subscriber()).is_ok());
    // If another test installed a global subscriber first, fall back to a scoped one.
    let _scoped = (!global).then(|| {
        let guard = tracing::subscriber::set_default(subscriber());
        tracing::callsite::rebuild_interest_cache();
        guard
    });
    let out = Arc::new(Mutex::new(Vec::new()));
    CAPTURE.with(|c| *c.borrow_mut() = Some(out.clone()));
    // The current-thread runtime of #[tokio::test] polls the whole request on this thread.
    let answer = request.await;
    CAPTURE.with(|c| *c.borrow_mut() = None);
    let logs = String::from_utf8(out.lock().expect("lock").clone()).expect("utf-8");
    (answer, logs)
}

#[tokio::test]
async fn log_lines_of_a_request_carry_its_id() {
    let (a, logs) = logged(post_json(
        Arc::new(Fake::default()),
        "/v1/terminatejob",
        json!({"jobId": "j", "reason": "r"}),
    ))
    .await;
    let id = request_id(&a).to_string();
    let lines: Vec<&str> = logs.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("inside the service")),
        "{logs}"
    );
    assert!(
        lines.iter().any(|l| l.contains("request completed")),
        "{logs}"
    );
    for line in lines {
        assert!(line.contains(&id), "{line}");
        assert!(line.contains("operation=\"TerminateJob\""), "{line}");
    }
}

#[tokio::test]
async fn a_server_error_logs_its_cause_and_does_not_send_it() {
    let fake = Fake::failing(|| {
        ServiceError::server(
            "could not record the termination of job j",
            std::io::Error::other("etcdserver: request timed out"),
        )
    });
    let (a, logs) = logged(post_json(
        fake,
        "/v1/terminatejob",
        json!({"jobId": "j", "reason": "r"}),
    ))
    .await;
    let message = a.error(StatusCode::INTERNAL_SERVER_ERROR, "ServerException");
    assert_eq!(message, "could not record the termination of job j");
    let line = logs
        .lines()
        .find(|l| l.contains("request failed"))
        .unwrap_or_else(|| panic!("no failure logged: {logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("could not record the termination of job j"),
        "{line}"
    );
    assert!(line.contains("etcdserver: request timed out"), "{line}");
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_is_logged_as_an_error() {
    let fake = Fake::failing(|| -> ServiceError { panic!("the fake service panics") });
    let (a, logs) = logged(post_json(fake, "/v1/describejobs", json!({"jobs": ["j"]}))).await;
    let message = a.error(StatusCode::INTERNAL_SERVER_ERROR, "ServerException");
    assert_eq!(message, "internal error", "the panic's text is not sent");
    request_id(&a);
    let line = logs
        .lines()
        .find(|l| l.contains("a handler panicked"))
        .unwrap_or_else(|| panic!("no panic logged: {logs}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("the fake service panics"), "{line}");
    // The server goes on.
    let a = post_json(
        Arc::new(Fake::default()),
        "/v1/describejobs",
        json!({"jobs": ["j"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
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

#[test]
fn request_schemas_mark_required_fields() {
    let schema = schemars::schema_for!(TerminateJobRequest);
    let v = serde_json::to_value(&schema).expect("json");
    assert_eq!(v["required"], json!(["jobId", "reason"]));
    assert_eq!(v["properties"]["reason"]["maxLength"], 1024);
    let schema = serde_json::to_value(schemars::schema_for!(DescribeJobsResponse)).expect("json");
    assert!(schema.to_string().contains("eksAttempts"));
}

/// Every operation's parsing, and authentication, with drawn headers and bodies: arbitrary
/// bytes, arbitrary UTF-8 and JSON shaped like (and unlike) each request. No input reaches a
/// panic (which CatchPanicLayer would turn into a 500) or a non-JSON answer. 100k cases.
mod never_panics {
    // proptest's `any`, not axum's router (which `super::*` brings).
    use proptest::prelude::{any, *};

    use super::*;
    use crate::auth::Credentials;

    /// A service that succeeds at everything, so only parsing and validation can refuse.
    struct Accepting;

    impl JobService for Accepting {
        async fn terminate(
            &self,
            _: RequestContext,
            _: TerminateCommand,
        ) -> Result<(), ServiceError> {
            Ok(())
        }
        async fn describe(
            &self,
            _: RequestContext,
            _: DescribeCommand,
        ) -> Result<Vec<JobDetail>, ServiceError> {
            Ok(Vec::new())
        }
        async fn list(&self, _: RequestContext, _: ListQuery) -> Result<ListPage, ServiceError> {
            Ok(ListPage {
                jobs: Vec::new(),
                next_token: None,
            })
        }
    }

    const FIELDS: &[&str] = &[
        "jobId",
        "reason",
        "jobs",
        "jobQueue",
        "arrayJobId",
        "multiNodeJobId",
        "jobStatus",
        "maxResults",
        "nextToken",
        "filters",
        "name",
        "values",
    ];

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
            proptest::sample::select(vec!["RUNNING", "FAILED", "JOB_NAME", "a*", "1:2", ""])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let name = prop_oneof![
                proptest::sample::select(FIELDS).prop_map(str::to_owned),
                ".{0,6}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(name, inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            json().prop_map(|v| v.to_string().into_bytes()),
            ".{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }

    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            ".{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..40),
            "AWS4-HMAC-SHA256 Credential=[A-Z]{0,4}/[0-9\u{3000}]{0,9}/us-east-1/batch/aws4_request, SignedHeaders=[a-z;-]{0,20}, Signature=[0-9a-f]{0,64}"
                .prop_map(String::into_bytes),
            "[0-9]{8}T[0-9\u{3000}]{6}Z".prop_map(String::into_bytes),
        ]
    }

    /// Built once: a runtime per case would cost more than the requests.
    fn fixtures() -> &'static (tokio::runtime::Runtime, Router, Router) {
        static FIXTURES: std::sync::OnceLock<(tokio::runtime::Runtime, Router, Router)> =
            std::sync::OnceLock::new();
        FIXTURES.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let credentials = Credentials::from_yaml(
                "accessKeys: {AKID: {secretAccessKey: s, namespaces: ['*'], operations: ['*']}}",
            )
            .expect("credentials");
            let open = router(Arc::new(Accepting), Auth::None, Limits::default());
            let signed = router(
                Arc::new(Accepting),
                Auth::sigv4(credentials, "us-east-1"),
                Limits::default(),
            );
            (runtime, open, signed)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn every_request_gets_an_aws_answer(
            path in proptest::sample::select(vec![
                "/v1/terminatejob", "/v1/canceljob", "/v1/describejobs", "/v1/listjobs",
                "/v1/terminatejobs", "/v1/canceljobs", "/openapi.json", "/v1/other",
            ]),
            method in proptest::sample::select(vec!["POST", "GET", "PUT"]),
            signed in any::<bool>(),
            authorization in header_value(),
            date in header_value(),
            content_sha in header_value(),
            token in header_value(),
            content_length in header_value(),
            body in body(),
        ) {
            let (runtime, open, signed_router) = fixtures();
            let router = if signed { signed_router } else { open }.clone();
            let mut request = Request::builder().method(method).uri(path);
            for (name, value) in [
                ("authorization", authorization),
                ("x-amz-date", date),
                ("x-amz-content-sha256", content_sha),
                ("x-amz-security-token", token),
                ("content-length", content_length),
            ] {
                // Bytes no HTTP/1.1 header can carry never reach the service.
                if let Ok(value) = axum::http::HeaderValue::from_bytes(&value) {
                    request = request.header(name, value);
                }
            }
            let request = request.body(Body::from(body)).expect("request");
            let response = runtime.block_on(async {
                let response = router
                    .oneshot(request)
                    .await
                    .expect("infallible");
                let status = response.status();
                let bytes = response.into_body().collect().await.expect("body").to_bytes();
                (status, bytes)
            });
            let (status, bytes) = response;
            prop_assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{}", String::from_utf8_lossy(&bytes));
            let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
            prop_assert!(parsed.is_ok(), "{status}: {}", String::from_utf8_lossy(&bytes));
        }
    }
}
