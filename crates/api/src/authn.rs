//! The authentication layer: runs before any handler, verifies SigV4 over the buffered body
//! (up to the same 64 KiB limit), checks the operation against the key's grant, and puts the
//! [`Caller`] in the request's extensions for [`super::RequestContext`].

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Operation;
use super::error::{ApiError, ServiceError};
use super::extract::read_body;
use crate::auth::{Auth, Caller, HttpRequest, sigv4};

pub(super) async fn authenticate(
    State(auth): State<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    match authenticated(&auth, req).await {
        Ok(req) => next.run(req).await,
        Err(error) => error.into_response(),
    }
}

async fn authenticated(auth: &Auth, req: Request) -> Result<Request, ApiError> {
    // The API's own description is public, as a service's published model is.
    let public = Operation::from_path(req.uri().path()) == Operation::OpenApiDocument;
    let (mut req, caller) = match auth {
        Auth::None => (req, Caller::anonymous()),
        Auth::SigV4 { .. } if public => (req, Caller::anonymous()),
        Auth::SigV4 { .. } => {
            let (parts, body) = req.into_parts();
            let bytes = read_body(&parts.headers, body).await?;
            let mut headers: Vec<(&str, &[u8])> = parts
                .headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes()))
                .collect();
            // HTTP/2 carries the host in the URI's authority, not in a header.
            if !parts.headers.contains_key(header::HOST)
                && let Some(authority) = parts.uri.authority()
            {
                headers.push(("host", authority.as_str().as_bytes()));
            }
            let request = HttpRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query().unwrap_or(""),
                headers,
                body: &bytes,
            };
            let caller = match auth.authenticate(&request, jiff::Timestamp::now()) {
                Ok(caller) => caller,
                Err(error) => {
                    if let sigv4::Error::SignatureMismatch {
                        canonical_request,
                        string_to_sign,
                    } = &error
                    {
                        tracing::debug!(%canonical_request, %string_to_sign, "signature mismatch");
                    }
                    return Err(error.into());
                }
            };
            (Request::from_parts(parts, Body::from(bytes)), caller)
        }
    };
    let operation = req
        .extensions()
        .get::<Operation>()
        .copied()
        .unwrap_or_else(|| Operation::from_path(req.uri().path()));
    if let Some(name) = operation.grant()
        && !caller.may_perform(name)
    {
        return Err(ServiceError::AccessDenied(format!(
            "User: {} is not authorized to perform: batch:{name}",
            caller.name()
        ))
        .into());
    }
    tracing::debug!(access_key_id = caller.name(), "authenticated");
    req.extensions_mut().insert(caller);
    Ok(req)
}
