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

mod failures;
mod logs;
mod never_panics;
mod operations;
mod validation;
