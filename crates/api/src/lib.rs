//! The AWS Batch HTTP front end (restJson1). It knows nothing of Kubernetes: handlers parse
//! and validate requests into domain commands and call a [`JobService`].
//!
//! Layout of every response:
//! - success: 200, `Content-Type: application/json`, `{}` for TerminateJob and CancelJob;
//! - error: the status of its [`AwsErrorCode`], `X-Amzn-ErrorType`, and
//!   `{"__type": ..., "message": ...}` (see [`ApiError`]);
//! - always: `x-amzn-RequestId`, a fresh UUID v4, also recorded on the request's span.
//!
//! Wrong method on an operation's path: 400 ClientException (AWS answers client mistakes with
//! 400). Unknown path: 404 UnknownOperationException. Both JSON.
#![forbid(unsafe_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use axum::{BoxError, Router};
use serde::Serialize;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tracing::Instrument;
use uuid::Uuid;

// The core's modules, under the names this crate's modules use.
use batch_terminator_core::{auth, batch};

use crate::auth::{Auth, Caller};
use crate::batch::{
    DescribeCommand, JobDetail, ListFilter, ListPage, ListParams, ListQuery, TerminateCommand,
    TerminateKind,
};

mod authn;
mod error;
mod extract;
pub mod openapi;
mod operation;
mod wire;

pub use error::{ApiError, AwsErrorCode, JSON_PARSE_MESSAGE, MAX_BODY_BYTES, ServiceError};
pub use extract::AwsJson;
pub use operation::{OPERATIONS, Operation, Spec};
pub use wire::{
    BulkJobEntry, BulkJobError, BulkJobSuccess, BulkJobsRequest, BulkJobsResponse,
    CancelJobRequest, DescribeJobsRequest, DescribeJobsResponse, EmptyResponse, ErrorResponse,
    KeyValuesPair, ListJobsRequest, ListJobsResponse, TerminateJobRequest,
};

/// `x-amzn-RequestId` (header names are case-insensitive; clients look it up that way).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// `X-Amzn-ErrorType`.
pub const ERROR_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// What the handlers call. The kube layer implements it.
///
/// Every method gets validated input. Errors render as AWS errors through [`ApiError`]:
/// answer [`ServiceError::Server`] when Kubernetes fails, and never report success for a
/// TerminateJob whose record was not written.
pub trait JobService: Send + Sync + 'static {
    /// TerminateJob or CancelJob (see [`TerminateCommand::kind`]). `Ok(())` answers 200 `{}`:
    /// the record is durable, or there is nothing to do (unknown ID, finished job, CancelJob
    /// on a started job).
    fn terminate(
        &self,
        ctx: RequestContext,
        command: TerminateCommand,
    ) -> impl Future<Output = Result<(), ServiceError>> + Send;

    /// DescribeJobs: the details of the known IDs, in request order; unknown IDs left out.
    fn describe(
        &self,
        ctx: RequestContext,
        command: DescribeCommand,
    ) -> impl Future<Output = Result<Vec<JobDetail>, ServiceError>> + Send;

    /// ListJobs: one page. [`crate::batch::paginate`] does the filtering and paging given
    /// the summaries of every job in the query's scope.
    fn list(
        &self,
        ctx: RequestContext,
        query: ListQuery,
    ) -> impl Future<Output = Result<ListPage, ServiceError>> + Send;
}

/// The `x-amzn-RequestId` of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub Uuid);

/// Per-request facts handed to the [`JobService`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: RequestId,
    pub operation: Operation,
    /// Who is asking, and the namespaces it may touch: the service checks a job's
    /// namespace against it after lookup.
    pub caller: Caller,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The middleware always sets both; the fallbacks keep the extractor infallible.
        Ok(RequestContext {
            request_id: parts
                .extensions
                .get::<RequestId>()
                .copied()
                .unwrap_or_else(|| RequestId(Uuid::new_v4())),
            operation: parts
                .extensions
                .get::<Operation>()
                .copied()
                .unwrap_or_else(|| Operation::from_path(parts.uri.path())),
            // Set by the authentication layer; without it, fail closed.
            caller: parts
                .extensions
                .get::<Caller>()
                .cloned()
                .unwrap_or_else(Caller::nobody),
        })
    }
}

/// What one API server takes on at once, and how long a request may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Requests handled at once; more are answered 503 with `Retry-After` at once.
    pub max_concurrent_requests: usize,
    /// From the request's head to its response, body included.
    pub request_timeout: Duration,
    /// The longest wait for the next piece of a request body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_concurrent_requests: 256,
            request_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// How long a shed client is asked to wait before it tries again (`Retry-After`).
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The Batch API router: every request passes [`Auth`] before its handler, within `limits`.
/// One stack guards every operation together: the concurrency cap is one for the whole API,
/// shed requests cost no handler, and a panic in any handler answers 500 ServerException.
/// Layers added outside (metrics) see [`Operation`], [`RequestId`] and, on errors,
/// [`AwsErrorCode`] in the response's extensions. Health and metrics routes belong in another
/// router merged beside this one, so they stay out of request tracing.
pub fn router<S: JobService>(service: Arc<S>, auth: Auth, limits: Limits) -> Router {
    let operations = OPERATIONS
        .iter()
        .fold(Router::new(), |router, spec| {
            router.route(
                spec.path,
                handler::<S>(spec.operation).fallback(wrong_method),
            )
        })
        .route(
            openapi::PATH,
            handler::<S>(Operation::OpenApiDocument).fallback(unknown_operation),
        )
        .fallback(unknown_operation)
        .layer(middleware::from_fn_with_state(
            Arc::new(auth),
            authn::authenticate,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .with_state(service);
    let guarded = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(refused))
        .load_shed()
        .concurrency_limit(limits.max_concurrent_requests)
        .timeout(limits.request_timeout)
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .service(operations);
    Router::new()
        .fallback_service(guarded)
        .layer(middleware::from_fn(request_context))
}

/// The answer when the guards refuse a request: shed (over the concurrency cap) or out of
/// time.
async fn refused(error: BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::Overloaded {
            retry_after_seconds: RETRY_AFTER_SECONDS,
        }
    } else if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::RequestTimeout
    } else {
        ApiError::Internal(error)
    }
}

/// A handler panicked: 500 ServerException, logged as an error (by [`ApiError`]).
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    ApiError::Panicked(message).into_response()
}

/// The handler of each operation of [`OPERATIONS`], and of the document.
fn handler<S: JobService>(operation: Operation) -> MethodRouter<Arc<S>> {
    match operation {
        Operation::TerminateJob => post(terminate_job::<S>),
        Operation::CancelJob => post(cancel_job::<S>),
        Operation::DescribeJobs => post(describe_jobs::<S>),
        Operation::ListJobs => post(list_jobs::<S>),
        Operation::TerminateJobs => post(terminate_jobs::<S>),
        Operation::CancelJobs => post(cancel_jobs::<S>),
        Operation::OpenApiDocument => get(openapi_document),
        Operation::Unknown => any(unknown_operation),
    }
}

/// Gives each request its ID and span, and puts the ID on the response.
async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = RequestId(Uuid::new_v4());
    let operation = Operation::from_path(req.uri().path());
    req.extensions_mut().insert(request_id);
    req.extensions_mut().insert(operation);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id.0,
        operation = operation.as_str(),
    );
    let method = req.method().clone();
    let start = Instant::now();
    async move {
        let mut response = next.run(req).await;
        let code = response.extensions().get::<AwsErrorCode>().copied();
        tracing::info!(
            %method,
            status = response.status().as_u16(),
            error_code = code.map(AwsErrorCode::as_str),
            latency_ms = start.elapsed().as_secs_f64() * 1000.0,
            "request completed"
        );
        // A UUID is always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&request_id.0.to_string()) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        response.extensions_mut().insert(request_id);
        response.extensions_mut().insert(operation);
        response
    }
    .instrument(span)
    .await
}

/// A JSON response with an exact `Content-Length` (`{}` is 2 bytes, as AWS sends it).
fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let len = body.len();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn ok_json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|source| ApiError::Serialize { source })?;
    Ok(json_bytes(StatusCode::OK, body))
}

async fn terminate_job<S: JobService>(
    State(service): State<Arc<S>>,
    ctx: RequestContext,
    AwsJson(req): AwsJson<TerminateJobRequest>,
) -> Result<Response, ApiError> {
    let command = TerminateCommand::new(
        TerminateKind::Terminate,
        req.job_id.unwrap_or_default(),
        req.reason.unwrap_or_default(),
    )?;
    run_terminate(&*service, ctx, command).await
}

async fn cancel_job<S: JobService>(
    State(service): State<Arc<S>>,
    ctx: RequestContext,
    AwsJson(req): AwsJson<CancelJobRequest>,
) -> Result<Response, ApiError> {
    let command = TerminateCommand::new(
        TerminateKind::Cancel,
        req.job_id.unwrap_or_default(),
        req.reason.unwrap_or_default(),
    )?;
    run_terminate(&*service, ctx, command).await
}

async fn run_terminate<S: JobService>(
    service: &S,
    ctx: RequestContext,
    command: TerminateCommand,
) -> Result<Response, ApiError> {
    tracing::info!(
        job_id = command.job_id(),
        kind = command.kind().operation(),
        "terminate requested"
    );
    service.terminate(ctx, command).await?;
    ok_json(&EmptyResponse {})
}

async fn describe_jobs<S: JobService>(
    State(service): State<Arc<S>>,
    ctx: RequestContext,
    AwsJson(req): AwsJson<DescribeJobsRequest>,
) -> Result<Response, ApiError> {
    let command = DescribeCommand::new(
        req.jobs
            .ok_or(crate::batch::Error::Required { field: "jobs" })?,
    )?;
    let jobs = service.describe(ctx, command).await?;
    ok_json(&DescribeJobsResponse { jobs })
}

async fn list_jobs<S: JobService>(
    State(service): State<Arc<S>>,
    ctx: RequestContext,
    AwsJson(req): AwsJson<ListJobsRequest>,
) -> Result<Response, ApiError> {
    let query = ListQuery::new(ListParams {
        job_queue: req.job_queue,
        array_job_id: req.array_job_id,
        multi_node_job_id: req.multi_node_job_id,
        job_status: req.job_status,
        max_results: req.max_results,
        next_token: req.next_token,
        filters: req
            .filters
            .into_iter()
            .map(|f| ListFilter {
                name: f.name,
                values: f.values,
            })
            .collect(),
    })?;
    let page = service.list(ctx, query).await?;
    ok_json(&ListJobsResponse {
        job_summary_list: page.jobs,
        next_token: page.next_token,
    })
}

async fn terminate_jobs<S: JobService>(
    State(service): State<Arc<S>>,
    ctx: RequestContext,
    AwsJson(req): AwsJson<BulkJobsRequest>,
) -> Result<Response, ApiError> {
    run_bulk(&*service, ctx, TerminateKind::Terminate, req).await
}

async fn cancel_jobs<S: JobService>(
    State(service): State<Arc<S>>,
    ctx: RequestContext,
    AwsJson(req): AwsJson<BulkJobsRequest>,
) -> Result<Response, ApiError> {
    run_bulk(&*service, ctx, TerminateKind::Cancel, req).await
}

/// Validates the request as a whole (1 to 50 distinct jobs), then runs each valid entry as
/// its own TerminateJob or CancelJob, concurrently. Each entry's outcome is what the single
/// operation would have answered; the request answers 200 with both lists.
async fn run_bulk<S: JobService>(
    service: &S,
    ctx: RequestContext,
    kind: TerminateKind,
    req: BulkJobsRequest,
) -> Result<Response, ApiError> {
    let entries = req
        .jobs
        .ok_or(crate::batch::Error::Required { field: "jobs" })?
        .into_iter()
        .map(|e| (e.job_id.unwrap_or_default(), e.reason.unwrap_or_default()))
        .collect();
    let entries = crate::batch::bulk_commands(kind, entries)?;
    tracing::info!(
        kind = kind.operation(),
        jobs = entries.len(),
        "bulk request"
    );
    let outcomes = futures::future::join_all(entries.into_iter().map(|entry| {
        let ctx = ctx.clone();
        async move {
            let outcome = match entry.command {
                Ok(command) => service
                    .terminate(ctx, command)
                    .await
                    .map_err(ApiError::from),
                Err(invalid) => Err(ApiError::from(invalid)),
            };
            (entry.job_id, outcome)
        }
    }))
    .await;
    let mut response = BulkJobsResponse::default();
    for (job_id, outcome) in outcomes {
        match outcome {
            Ok(()) => response.successful.push(BulkJobSuccess { job_id }),
            Err(error) => {
                let code = error.code();
                if code.status().is_server_error() {
                    tracing::error!(%job_id, %error, "bulk entry failed");
                }
                response.errors.push(BulkJobError {
                    job_id,
                    code: code.as_str().to_owned(),
                    message: error.to_string(),
                    sender_fault: !code.status().is_server_error(),
                });
            }
        }
    }
    ok_json(&response)
}

async fn openapi_document() -> Response {
    json_bytes(StatusCode::OK, openapi::document_json().into_bytes())
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn unknown_operation(method: Method, uri: Uri) -> ApiError {
    ApiError::UnknownOperation {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

#[cfg(test)]
mod tests;
