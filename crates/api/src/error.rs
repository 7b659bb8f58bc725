//! Every AWS error the API answers, rendered in one place.

use axum::BoxError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::sigv4;
use crate::batch;

/// The AWS error codes this API answers with. `X-Amzn-ErrorType` and `__type` carry
/// [`AwsErrorCode::as_str`]. The code is also put in the response's extensions, so a metrics
/// layer outside the router can label requests by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AwsErrorCode {
    /// 400: the caller's mistake (the model's only client error).
    ClientException,
    /// 500: ours; clients retry it.
    ServerException,
    /// 403: outside the model, but real deployments answer it.
    AccessDeniedException,
    /// 429: outside the model, but real deployments answer it.
    TooManyRequestsException,
    /// 404: no operation at this path.
    UnknownOperationException,
    /// 403: SigV4 on, and the request carries no `Authorization` header.
    MissingAuthenticationTokenException,
    /// 400: a malformed `Authorization` header, or no `X-Amz-Date`.
    IncompleteSignatureException,
    /// 403: the access key ID is unknown.
    UnrecognizedClientException,
    /// 403: a signature that does not match, or a stale date.
    InvalidSignatureException,
    /// 408: the request (its body) did not arrive in time.
    RequestTimeoutException,
    /// 503: over the concurrency cap; clients retry it after `Retry-After`.
    ServiceUnavailableException,
}

impl AwsErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AwsErrorCode::ClientException => "ClientException",
            AwsErrorCode::ServerException => "ServerException",
            AwsErrorCode::AccessDeniedException => "AccessDeniedException",
            AwsErrorCode::TooManyRequestsException => "TooManyRequestsException",
            AwsErrorCode::UnknownOperationException => "UnknownOperationException",
            AwsErrorCode::MissingAuthenticationTokenException => {
                "MissingAuthenticationTokenException"
            }
            AwsErrorCode::IncompleteSignatureException => "IncompleteSignatureException",
            AwsErrorCode::UnrecognizedClientException => "UnrecognizedClientException",
            AwsErrorCode::InvalidSignatureException => "InvalidSignatureException",
            AwsErrorCode::RequestTimeoutException => "RequestTimeoutException",
            AwsErrorCode::ServiceUnavailableException => "ServiceUnavailableException",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            AwsErrorCode::ClientException => StatusCode::BAD_REQUEST,
            AwsErrorCode::ServerException => StatusCode::INTERNAL_SERVER_ERROR,
            AwsErrorCode::AccessDeniedException => StatusCode::FORBIDDEN,
            AwsErrorCode::TooManyRequestsException => StatusCode::TOO_MANY_REQUESTS,
            AwsErrorCode::UnknownOperationException => StatusCode::NOT_FOUND,
            AwsErrorCode::MissingAuthenticationTokenException
            | AwsErrorCode::UnrecognizedClientException
            | AwsErrorCode::InvalidSignatureException => StatusCode::FORBIDDEN,
            AwsErrorCode::IncompleteSignatureException => StatusCode::BAD_REQUEST,
            AwsErrorCode::RequestTimeoutException => StatusCode::REQUEST_TIMEOUT,
            AwsErrorCode::ServiceUnavailableException => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// What a [`super::JobService`] may fail with. The message goes to the client as it is.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A request that breaks a domain rule found after lookup (e.g. a child of an array job).
    #[error(transparent)]
    Invalid(#[from] batch::Error),
    /// 400 ClientException.
    #[error("{0}")]
    Client(String),
    /// 500 ServerException, e.g. the Kubernetes API failed. Clients retry it, so the
    /// operation must be safe to repeat. The client sees `message`; the cause, if any, goes
    /// to the log with it.
    #[error("{message}")]
    Server {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// 403 AccessDeniedException.
    #[error("{0}")]
    AccessDenied(String),
}

impl ServiceError {
    /// A 500 caused by `source`.
    pub fn server(message: impl Into<String>, source: impl Into<BoxError>) -> ServiceError {
        ServiceError::Server {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The message AWS itself sends for a body that is not JSON.
pub const JSON_PARSE_MESSAGE: &str = "An error occurred during JSON parsing";

/// Every error the HTTP layer answers. `Display` is the message the client sees.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all.
    #[error("{JSON_PARSE_MESSAGE}")]
    MalformedJson {
        #[source]
        source: serde_json::Error,
    },
    /// Valid JSON, but not an object.
    #[error("{JSON_PARSE_MESSAGE}: request body: must be a JSON object")]
    NotAnObject,
    /// Valid JSON of the wrong shape: `field` is a path such as `jobId` or `jobs[3]`. The
    /// message names the source's reason: it is the caller's to fix.
    #[error("{JSON_PARSE_MESSAGE}: {field}: {source}")]
    WrongType {
        field: String,
        #[source]
        source: serde_json::Error,
    },
    /// A field breaks the API's rules (missing, empty, too long, ...).
    #[error(transparent)]
    Invalid(#[from] batch::Error),
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request body could not be read")]
    Body {
        #[source]
        source: axum::Error,
    },
    /// The body, or the whole request, took longer than the server's limits allow.
    #[error("the request did not arrive in time")]
    RequestTimeout,
    /// Over the concurrency cap: shed before any work.
    #[error(
        "the service is at its limit of concurrent requests; retry after {retry_after_seconds}s"
    )]
    Overloaded { retry_after_seconds: u64 },
    /// A handler panicked (a bug); the panic's message is logged, not sent.
    #[error("internal error")]
    Panicked(String),
    /// A guard failed in a way it should not (a bug).
    #[error("internal error")]
    Internal(#[source] BoxError),
    /// A known path with a method other than POST. AWS answers 400 here too.
    #[error("{method} is not allowed on {path}; AWS Batch operations are POST requests")]
    MethodNotAllowed { method: String, path: String },
    #[error("no operation at {method} {path}")]
    UnknownOperation { method: String, path: String },
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// SigV4 refused the request.
    #[error(transparent)]
    Unauthenticated(#[from] sigv4::Error),
    /// A response could not be serialised (a bug).
    #[error("the response could not be serialised")]
    Serialize {
        #[source]
        source: serde_json::Error,
    },
}

impl ApiError {
    pub fn code(&self) -> AwsErrorCode {
        match self {
            ApiError::MalformedJson { .. }
            | ApiError::NotAnObject
            | ApiError::WrongType { .. }
            | ApiError::Invalid(_)
            | ApiError::BodyTooLarge { .. }
            | ApiError::Body { .. }
            | ApiError::MethodNotAllowed { .. } => AwsErrorCode::ClientException,
            ApiError::UnknownOperation { .. } => AwsErrorCode::UnknownOperationException,
            ApiError::Serialize { .. } | ApiError::Panicked(_) | ApiError::Internal(_) => {
                AwsErrorCode::ServerException
            }
            ApiError::RequestTimeout => AwsErrorCode::RequestTimeoutException,
            ApiError::Overloaded { .. } => AwsErrorCode::ServiceUnavailableException,
            ApiError::Unauthenticated(e) => match e {
                sigv4::Error::MissingAuthorization => {
                    AwsErrorCode::MissingAuthenticationTokenException
                }
                sigv4::Error::Incomplete(_) => AwsErrorCode::IncompleteSignatureException,
                sigv4::Error::UnknownAccessKey => AwsErrorCode::UnrecognizedClientException,
                sigv4::Error::SignatureMismatch { .. } | sigv4::Error::Invalid(_) => {
                    AwsErrorCode::InvalidSignatureException
                }
            },
            ApiError::Service(e) => match e {
                ServiceError::Invalid(_) | ServiceError::Client(_) => AwsErrorCode::ClientException,
                ServiceError::Server { .. } => AwsErrorCode::ServerException,
                ServiceError::AccessDenied(_) => AwsErrorCode::AccessDeniedException,
            },
        }
    }
}

/// The AWS error body. botocore reads `__type` and `message`; aws-sdk-rust and Go read
/// `__type` (after the header).
#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    type_: &'static str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let message = self.to_string();
        match &self {
            ApiError::Panicked(panic) => {
                tracing::error!(%panic, error_code = code.as_str(), "a handler panicked")
            }
            ApiError::Overloaded { .. } => {
                tracing::warn!(error_code = code.as_str(), "request shed")
            }
            _ if code.status().is_server_error() => {
                // As a `dyn Error`, the log line carries the sources too.
                let error: &dyn std::error::Error = &self;
                tracing::error!(error, error_code = code.as_str(), "request failed")
            }
            _ => tracing::info!(error = %self, error_code = code.as_str(), "request rejected"),
        }
        let body = serde_json::to_vec(&ErrorBody {
            type_: code.as_str(),
            message: &message,
        })
        // Serialising two strings cannot fail; keep a JSON body even if it somehow did.
        .unwrap_or_else(|_| br#"{"__type":"ServerException","message":"internal error"}"#.to_vec());
        let mut response = super::json_bytes(code.status(), body);
        response.headers_mut().insert(
            super::ERROR_TYPE_HEADER,
            HeaderValue::from_static(code.as_str()),
        );
        if let ApiError::MethodNotAllowed { .. } = self {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if let ApiError::Overloaded {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response.extensions_mut().insert(code);
        response
    }
}
