//! The JSON body extractor: a 64 KiB limit and AWS-shaped errors that name the field.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use super::error::{ApiError, MAX_BODY_BYTES};

/// A JSON body of at most [`MAX_BODY_BYTES`]. An empty body reads as `{}`, as restJson1
/// servers do, so that a body-less request gets "jobId is required" rather than a parse
/// error.
pub struct AwsJson<T>(pub T);

impl<S, T> FromRequest<S> for AwsJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let bytes = read_body(&parts.headers, body).await?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        parse(bytes).map(AwsJson)
    }
}

/// The body of a request, at most [`MAX_BODY_BYTES`] (a larger declared length is refused
/// before reading).
pub(super) async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = ApiError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large),
        Err(e) if timed_out(&*e) => Err(ApiError::RequestTimeout),
        Err(e) => Err(ApiError::Body {
            source: axum::Error::new(e),
        }),
    }
}

/// The body stalled longer than `--body-timeout` (tower-http's error, somewhere in the chain
/// of wrappers the body's error passes through).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Parses a body, telling malformed JSON (AWS's own message) from JSON of the wrong shape
/// (the message names the field's path, e.g. `jobId` or `jobs[3]`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| ApiError::MalformedJson { source })?;
    if !value.is_object() {
        return Err(ApiError::NotAnObject);
    }
    serde_path_to_error::deserialize(value).map_err(|e| ApiError::WrongType {
        field: e.path().to_string(),
        source: e.into_inner(),
    })
}
