//! The floor: the least an HTTP server can do for these requests. It reads the body, checks
//! that it is JSON, and answers 200 `{}`, like the product's TerminateJob of an unknown job. It
//! runs in its own process (`bench floor`), on the same runtime as the product's
//! (`#[tokio::main]`: one worker per core), so the two are compared on equal terms.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// Serves the floor on `listen` until the process is killed.
pub async fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, router()).await
}

pub(crate) fn router() -> Router {
    Router::new().route("/v1/{operation}", post(answer))
}

async fn answer(body: Bytes) -> Response {
    // IgnoredAny parses the whole document without building it: the cheapest honest check.
    match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn post(body: &'static str) -> (StatusCode, Bytes) {
        let request = Request::post("/v1/terminatejob")
            .body(Body::from(body))
            .unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        (
            status,
            response.into_body().collect().await.unwrap().to_bytes(),
        )
    }

    #[tokio::test]
    async fn answers_json_with_an_empty_object_and_refuses_the_rest() {
        assert_eq!(
            post(r#"{"jobId": "x", "reason": "y"}"#).await,
            (StatusCode::OK, Bytes::from_static(b"{}"))
        );
        assert_eq!(post("{not json").await.0, StatusCode::BAD_REQUEST);
    }
}
