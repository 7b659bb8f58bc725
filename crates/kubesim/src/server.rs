//! The HTTP front end: one fallback handler that parses Kubernetes paths and dispatches.

mod discovery;
mod handlers;
mod path;
mod protobuf;
mod table;
mod watch;

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde_json::json;

use crate::requestlog::{RequestLog, RequestRecord};
use crate::status::Error;
use crate::store::Store;
use handlers::json_response;
use path::Route;

#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    pub requests: RequestLog,
    pub bookmark_interval: Duration,
}

/// The router serving the Kubernetes API from `store`.
pub(crate) fn router(store: Store, requests: RequestLog, bookmark_interval: Duration) -> Router {
    let state = AppState {
        store,
        requests,
        bookmark_interval,
    };
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state)
}

fn verb(method: &Method, rp: &path::ResourcePath, q: &HashMap<String, String>) -> &'static str {
    let watching =
        rp.watch_prefix || matches!(q.get("watch").map(String::as_str), Some("true" | "1"));
    match (method.as_str(), rp.name.is_some()) {
        ("GET", true) => "get",
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "",
    }
}

async fn handle(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q: HashMap<String, String> = Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|Query(v)| v.into_iter().collect())
        .unwrap_or_default();
    let route = path::parse(uri.path());
    let mut rec = RequestRecord {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        ..RequestRecord::default()
    };
    if let Route::Resource(rp) = &route {
        rec.verb = verb(&method, rp, &q).to_string();
        rec.group = rp.group.clone();
        rec.version = rp.version.clone();
        rec.resource = rp.resource.clone();
        rec.subresource = rp.subresource.clone().unwrap_or_default();
        rec.namespace = rp.namespace.clone().unwrap_or_default();
        rec.name = rp.name.clone().unwrap_or_default();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let resp = match dispatch(&app, &method, route, &q, &headers, &body, &host).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    rec.status = resp.status().as_u16();
    if rec.path != "/kubesim/requests" {
        app.requests.push(rec);
    }
    resp
}

fn get_only(method: &Method) -> Result<(), Error> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(Error::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        )))
    }
}

async fn dispatch(
    app: &AppState,
    method: &Method,
    route: Route,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
    host: &str,
) -> Result<Response, Error> {
    let ok = |v: serde_json::Value| json_response(StatusCode::OK, &v);
    match route {
        Route::Version => {
            get_only(method)?;
            Ok(ok(discovery::version()))
        }
        Route::Health => {
            let mut r = (StatusCode::OK, "ok").into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Ok(r)
        }
        Route::Api => {
            get_only(method)?;
            Ok(ok(discovery::api_versions(host)))
        }
        Route::Apis => {
            get_only(method)?;
            Ok(ok(discovery::api_group_list(&app.store.registry())))
        }
        Route::ApiGroup(g) => {
            get_only(method)?;
            Ok(ok(discovery::api_group(&app.store.registry(), &g)?))
        }
        Route::GroupVersion(g, v) => {
            get_only(method)?;
            Ok(ok(discovery::resource_list(&app.store.registry(), &g, &v)?))
        }
        Route::OpenApiIndex => {
            get_only(method)?;
            Ok(ok(discovery::openapi_index(&app.store.registry())))
        }
        Route::OpenApiDoc(g, v) => {
            get_only(method)?;
            Ok(ok(discovery::openapi_document(
                &app.store.registry(),
                &g,
                &v,
            )?))
        }
        Route::Requests => match method.as_str() {
            "GET" => Ok(ok(json!(app.requests.snapshot()))),
            "DELETE" => {
                app.requests.clear();
                Ok(ok(json!({})))
            }
            _ => Err(Error::method_not_allowed("GET or DELETE only")),
        },
        Route::Resource(rp) => handlers::resource(app, method, &rp, q, headers, body).await,
        Route::NotFound => Err(Error::path_not_found()),
    }
}
