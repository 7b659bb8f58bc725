//! The HTTP middleware in front of the API: fault injection, authentication and RBAC, and the
//! `/kubesim/faults` admin surface.
//!
//! Order per request: the fault decision is drawn first (so the seeded sequence does not depend
//! on who asks), a pause or latency is waited out, then the bearer token is authenticated (401
//! for an unknown one) and RBAC decides (403 with kube-apiserver's Status), then the injected
//! outcome applies. `/kubesim/*` paths are never faulted nor authorized.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use futures::StreamExt;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::faults::{self, FaultConfig, FaultEngine, Outcome};
use crate::rbac::{self, Authenticator, Authn, RbacSource, RequestAttributes};
use crate::requestlog::{RequestLog, RequestRecord};
use crate::store::{Gvr, ListOptions, Store};

/// What the middleware needs.
#[derive(Debug, Clone)]
pub struct Access {
    pub store: Store,
    pub requests: RequestLog,
    pub faults: Arc<FaultEngine>,
    /// None: no authentication or authorization (the default).
    pub auth: Option<Arc<Authenticator>>,
}

/// Puts the middleware in front of `router`.
pub fn wrap(router: Router, access: Access) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(access),
        middleware,
    ))
}

/// RBAC objects read from the store.
pub struct StoreRbac<'a>(pub &'a Store);

fn rbac_gvr(resource: &str) -> Gvr {
    Gvr::new("rbac.authorization.k8s.io", "v1", resource)
}

impl StoreRbac<'_> {
    fn list<T: DeserializeOwned>(&self, resource: &str, namespace: Option<&str>) -> Vec<T> {
        let opts = ListOptions {
            namespace: namespace.map(str::to_string),
            ..ListOptions::default()
        };
        self.0
            .list(&rbac_gvr(resource), &opts)
            .map(|l| {
                l.items
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn get<T: DeserializeOwned>(
        &self,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<T> {
        self.0
            .get(&rbac_gvr(resource), namespace, name)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok())
    }
}

impl RbacSource for StoreRbac<'_> {
    fn cluster_role_bindings(&self) -> Vec<ClusterRoleBinding> {
        self.list("clusterrolebindings", None)
    }
    fn role_bindings(&self, namespace: &str) -> Vec<RoleBinding> {
        self.list("rolebindings", Some(namespace))
    }
    fn role(&self, namespace: &str, name: &str) -> Option<Role> {
        self.get("roles", Some(namespace), name)
    }
    fn cluster_role(&self, name: &str) -> Option<ClusterRole> {
        self.get("clusterroles", None, name)
    }
    fn cluster_roles(&self) -> Vec<ClusterRole> {
        self.list("clusterroles", None)
    }
}

/// Creates the bootstrap ClusterRoles and bindings that are missing.
pub fn seed_bootstrap_policy(store: &Store) {
    let (roles, bindings) = rbac::bootstrap_policy();
    let put = |resource: &str, kind: &str, v: serde_json::Result<Value>| {
        let Ok(mut v) = v else { return };
        v["apiVersion"] = json!("rbac.authorization.k8s.io/v1");
        v["kind"] = json!(kind);
        if let Err(e) = store.create(&rbac_gvr(resource), None, v)
            && e.reason != crate::status::Reason::AlreadyExists
        {
            tracing::error!(error = %e, "seeding RBAC bootstrap policy");
        }
    };
    for r in roles {
        put("clusterroles", "ClusterRole", serde_json::to_value(r));
    }
    for b in bindings {
        put(
            "clusterrolebindings",
            "ClusterRoleBinding",
            serde_json::to_value(b),
        );
    }
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut resp = (code, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn record(
    access: &Access,
    method: &Method,
    uri: &axum::http::Uri,
    a: &RequestAttributes,
    status: u16,
) {
    access.requests.push(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        verb: if a.resource_request {
            a.verb.clone()
        } else {
            String::new()
        },
        group: a.api_group.clone(),
        version: a.api_version.clone(),
        resource: a.resource.clone(),
        subresource: a.subresource.clone(),
        namespace: a.namespace.clone(),
        name: a.name.clone(),
        status,
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        ..RequestRecord::default()
    });
}

async fn middleware(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path == "/kubesim/faults" || path.starts_with("/kubesim/faults/") {
        return admin(&access, req).await;
    }
    if path.starts_with("/kubesim/") {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let uri = req.uri().clone();
    let attrs = RequestAttributes::from_http(method.as_str(), uri.path(), uri.query());
    let decision = access.faults.decide(&attrs, std::time::Instant::now());
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(auth) = &access.auth {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match auth.authenticate(header) {
            Authn::Invalid => {
                record(&access, &method, &uri, &attrs, 401);
                return json_response(StatusCode::UNAUTHORIZED, &rbac::unauthorized_status());
            }
            Authn::User(user) => match rbac::authorize(&user, &attrs, &StoreRbac(&access.store)) {
                rbac::Decision::Allow => {}
                rbac::Decision::Deny { reason } => {
                    record(&access, &method, &uri, &attrs, 403);
                    return json_response(
                        StatusCode::FORBIDDEN,
                        &rbac::forbidden_status(&user, &attrs, &reason),
                    );
                }
            },
        }
    }
    let watch = attrs.verb == "watch";
    let mut drops = access.faults.watch_drops();
    drops.mark_unchanged();
    let drop_after = match decision.outcome {
        Outcome::Proceed => None,
        Outcome::Fail(err) => {
            record(&access, &method, &uri, &attrs, err.code);
            let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = json_response(code, &err.status);
            if let Some(secs) = err.retry_after_seconds
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        Outcome::WatchGone => {
            record(&access, &method, &uri, &attrs, 200);
            return json_response(StatusCode::OK, &faults::gone_watch_event());
        }
        Outcome::DropWatchAfter(d) => Some(d),
    };
    let resp = next.run(req).await;
    if !watch {
        return resp;
    }
    // A watch stream ends when the engine drops watches, or after its injected lifetime.
    let (parts, body) = resp.into_parts();
    let end = async move {
        let deadline = async {
            match drop_after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = drops.changed() => {}
            _ = deadline => {}
        }
    };
    let stream = body.into_data_stream().take_until(Box::pin(end));
    Response::from_parts(parts, Body::from_stream(stream))
}

#[derive(serde::Deserialize)]
struct PauseBody {
    millis: u64,
}

#[derive(serde::Deserialize)]
struct GoneBody {
    #[serde(default = "one")]
    count: u64,
    #[serde(default)]
    resource: Option<String>,
}

fn one() -> u64 {
    1
}

fn bad_request(message: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": "BadRequest", "code": 400}),
    )
}

/// `/kubesim/faults` (GET, POST replaces the rules, DELETE clears everything),
/// `/kubesim/faults/pause`, `/kubesim/faults/watch-gone`, `/kubesim/faults/drop-watches`.
async fn admin(access: &Access, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match to_bytes(req.into_body(), 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return bad_request(format!("reading body: {e}")),
    };
    let engine = &access.faults;
    let current = || json_response(StatusCode::OK, &json!(engine.config()));
    match (method.as_str(), path.as_str()) {
        ("GET", "/kubesim/faults") => current(),
        ("POST" | "PUT", "/kubesim/faults") => match FaultConfig::from_json(&body) {
            Ok(c) => match engine.set(c) {
                Ok(()) => current(),
                Err(e) => bad_request(e.to_string()),
            },
            Err(e) => bad_request(e.to_string()),
        },
        ("DELETE", "/kubesim/faults") => {
            engine.clear();
            current()
        }
        ("POST", "/kubesim/faults/pause") => match serde_json::from_slice::<PauseBody>(&body) {
            Ok(p) => {
                engine.pause(Duration::from_millis(p.millis), std::time::Instant::now());
                json_response(StatusCode::OK, &json!({"pausedMillis": p.millis}))
            }
            Err(e) => bad_request(format!("invalid pause: {e}")),
        },
        ("POST", "/kubesim/faults/watch-gone") => {
            let parsed = if body.is_empty() {
                Ok(GoneBody {
                    count: 1,
                    resource: None,
                })
            } else {
                serde_json::from_slice::<GoneBody>(&body)
            };
            match parsed {
                Ok(g) => {
                    engine.gone_next_watches(g.count, g.resource);
                    json_response(StatusCode::OK, &json!({}))
                }
                Err(e) => bad_request(format!("invalid watch-gone: {e}")),
            }
        }
        ("POST", "/kubesim/faults/drop-watches") => {
            engine.drop_watches();
            json_response(StatusCode::OK, &json!({}))
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource",
                    "reason": "NotFound", "code": 404}),
        ),
    }
}
