//! The admin server: `/livez`, `/readyz` and `/metrics`.
//!
//! It has no request tracing on purpose: probes and scrapes every few seconds would drown the
//! logs of the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

/// The content type of the OpenMetrics text exposition.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether the service is ready to take traffic. Clones share one flag.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A handle that is not ready yet.
    pub fn new() -> Readiness {
        Readiness::default()
    }

    /// Marks the service ready, e.g. once the caches have synced.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Marks the service not ready, e.g. while a watch is failing.
    pub fn set_not_ready(&self) {
        self.0.store(false, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

#[derive(Clone)]
struct AdminState {
    readiness: Readiness,
    registry: Arc<Registry>,
}

/// The admin routes. `/readyz` answers 503 while `readiness` is not set.
pub fn router(readiness: Readiness, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState {
            readiness,
            registry,
        })
}

async fn livez() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let mut body = String::new();
    match encode(&mut body, &state.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use std::time::Duration;
    use tower::ServiceExt;

    async fn get(router: &Router, path: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    fn setup() -> (Readiness, Metrics, Router) {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let readiness = Readiness::new();
        let router = router(readiness.clone(), Arc::new(registry));
        (readiness, metrics, router)
    }

    #[tokio::test]
    async fn livez_is_static() {
        let (_readiness, _metrics, router) = setup();
        let (status, _, body) = get(&router, "/livez").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "ok");
    }

    #[tokio::test]
    async fn readyz_follows_readiness() {
        let (readiness, _metrics, router) = setup();
        assert_eq!(
            get(&router, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_ready();
        assert_eq!(get(&router, "/readyz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_text() {
        let (_readiness, metrics, router) = setup();
        metrics.api.observe(
            crate::api::Operation::CancelJob,
            Some(crate::api::AwsErrorCode::ServerException),
            Duration::from_millis(2),
        );
        let (status, content_type, body) = get(&router, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some(OPENMETRICS_CONTENT_TYPE));
        assert!(
            body.contains(
                r#"batch_terminator_api_requests_total{operation="CancelJob",code="ServerException"} 1"#
            ),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        let (_readiness, _metrics, router) = setup();
        assert_eq!(get(&router, "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
