//! Every operation's parsing, and authentication, with drawn headers and bodies: arbitrary
//! bytes, arbitrary UTF-8 and JSON shaped like (and unlike) each request. No input reaches a
//! panic (which CatchPanicLayer would turn into a 500) or a non-JSON answer. 100k cases.

// proptest's `any`, not axum's router (which `super::*` brings).
use proptest::prelude::{any, *};

use super::*;
use crate::auth::Credentials;

/// A service that succeeds at everything, so only parsing and validation can refuse.
struct Accepting;

impl JobService for Accepting {
    async fn terminate(&self, _: RequestContext, _: TerminateCommand) -> Result<(), ServiceError> {
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
