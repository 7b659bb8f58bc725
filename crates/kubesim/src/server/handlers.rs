//! Resource verbs: get, list, watch, create, update, patch, delete, deletecollection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::path::ResourcePath;
use super::table::{self, IncludeObject, Printer};
use super::watch::{self, WatchParams};
use crate::patch::{self, ApplyOptions, PatchKind};
use crate::resources::{Gvr, Propagation, ResourceInfo};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{Cause, Details, Error, Reason, Result};
use crate::store::{
    DeleteOptions, Deleted, FieldValidation, ListOptions, Subresource, WatchStart, WriteOptions,
    Written, now_rfc3339,
};

pub type Query = HashMap<String, String>;

pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut resp = (code, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let v = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(h) = HeaderValue::from_str(&v) {
            resp.headers_mut().append(header::WARNING, h);
        }
    }
    resp
}

fn written(code: StatusCode, w: &Written) -> Response {
    with_warnings(json_response(code, &w.object), &w.warnings)
}

fn flag(q: &Query, k: &str) -> bool {
    matches!(q.get(k).map(String::as_str), Some("true" | "1"))
}

fn dry_run(q: &Query) -> Result<bool> {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(Error::bad_request(format!(
            "Invalid dry run value: {other}: supported values: \"All\""
        ))),
    }
}

/// The manager of a write: `fieldManager`, else the User-Agent's first token, as k8s derives it.
fn manager(q: &Query, headers: &HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let first = ua.split('/').next().unwrap_or_default().trim();
    if first.is_empty() {
        "unknown".to_string()
    } else {
        first.chars().take(128).collect()
    }
}

fn write_options(q: &Query, headers: &HeaderMap) -> Result<WriteOptions> {
    let field_validation = match q.get("fieldValidation").map(String::as_str) {
        None | Some("") => FieldValidation::Warn,
        Some(v) => FieldValidation::parse(v).ok_or_else(|| {
            Error::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
            ))
        })?,
    };
    Ok(WriteOptions {
        dry_run: dry_run(q)?,
        field_manager: Some(manager(q, headers)),
        field_validation,
        server_side_apply: false,
        // A client's body: always walked against the schema.
        typed: false,
    })
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let base = ct.split(';').next().unwrap_or_default().trim();
    match base {
        "application/json" | "" | "*/*" => serde_json::from_slice(body)
            .map_err(|e| Error::bad_request(format!("error decoding request body: {e}"))),
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_yaml::from_slice(body)
            .map_err(|e| Error::bad_request(format!("error decoding YAML: {e}"))),
        super::protobuf::CONTENT_TYPE => super::protobuf::decode(body).map_err(|e| match e {
            super::protobuf::Error::Malformed(_) => Error::bad_request(e.to_string()),
            super::protobuf::Error::Unsupported(_)
            | super::protobuf::Error::UnknownField { .. } => {
                Error::unsupported_media_type(e.to_string())
            }
            super::protobuf::Error::WireType { .. } => Error::bad_request(e.to_string()),
        }),
        other => Err(Error::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
        ))),
    }
}

fn label_selector(q: &Query) -> Result<Option<LabelSelector>> {
    match q.get("labelSelector").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => LabelSelector::parse(s)
            .map(Some)
            .map_err(|e| Error::bad_request(format!("unable to parse requirement: {e}"))),
    }
}

fn field_selector(q: &Query, info: &ResourceInfo) -> Result<Option<FieldSelector>> {
    match q.get("fieldSelector").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let f = FieldSelector::parse(s).map_err(|e| Error::bad_request(e.to_string()))?;
            f.check_supported(&info.group, &info.plural)
                .map_err(|e| Error::bad_request(e.to_string()))?;
            Ok(Some(f))
        }
    }
}

fn list_options(q: &Query, info: &ResourceInfo, ns: Option<&str>) -> Result<ListOptions> {
    let limit = match q.get("limit").filter(|s| !s.is_empty()) {
        None => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| Error::bad_request(format!("invalid limit: {l}")))?,
        ),
    };
    Ok(ListOptions {
        namespace: ns.map(String::from),
        label_selector: label_selector(q)?,
        field_selector: field_selector(q, info)?,
        limit,
        continue_token: q.get("continue").filter(|s| !s.is_empty()).cloned(),
        resource_version: q.get("resourceVersion").cloned(),
        resource_version_match: q.get("resourceVersionMatch").cloned(),
    })
}

/// Dispatches a resource request.
pub async fn resource(
    app: &AppState,
    method: &Method,
    rp: &ResourcePath,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response> {
    let gvr = Gvr::new(&rp.group, &rp.version, &rp.resource);
    let info = app.store.resource(&gvr)?;
    let ns = rp.namespace.as_deref();
    if (!info.namespaced && ns.is_some()) || (info.namespaced && ns.is_none() && rp.name.is_some())
    {
        return Err(Error::path_not_found());
    }
    if let Some(sub) = &rp.subresource
        && !info.has_subresource(sub)
    {
        return Err(Error::path_not_found());
    }
    let name = rp.name.as_deref();
    let sub = rp.subresource.as_deref();
    let watching = rp.watch_prefix || flag(q, "watch");
    match (method.as_str(), name, sub) {
        ("GET", None, None) if watching => watch(app, info, ns, q, headers),
        ("GET", None, None) => list(app, &info, ns, q, headers),
        ("GET", Some(n), None | Some("status")) => {
            let o = app.store.get(&gvr, ns, n)?;
            match printer(app, &info, q, headers)? {
                Some(p) => Ok(table_response(&p, &p.one(&o))),
                None => Ok(json_response(StatusCode::OK, &o)),
            }
        }
        ("GET", Some(n), Some("log")) => {
            app.store.get(&gvr, ns, n)?;
            let mut resp = (StatusCode::OK, String::new()).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            Ok(resp)
        }
        ("POST", None, None) => {
            let obj = parse_body(headers, body)?;
            let opts = write_options(q, headers)?;
            let w = app.store.create_with(&gvr, ns, obj, &opts)?;
            Ok(written(StatusCode::CREATED, &w))
        }
        ("POST", Some(n), Some("binding")) => binding(app, &gvr, ns, n, headers, body, q),
        ("PUT", Some(n), None | Some("status")) => {
            let obj = parse_body(headers, body)?;
            let opts = write_options(q, headers)?;
            let s = if sub == Some("status") {
                Subresource::Status
            } else {
                Subresource::Main
            };
            let w = app.store.update_with(&gvr, ns, n, obj, s, &opts)?;
            let code = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(written(code, &w))
        }
        ("PUT", Some(n), Some("finalize")) => {
            let obj = parse_body(headers, body)?;
            let empty = obj["spec"]["finalizers"]
                .as_array()
                .is_none_or(|a| a.is_empty());
            if empty {
                app.store.finalize_namespace(n)?;
            }
            match app.store.get(&gvr, None, n) {
                Ok(o) => Ok(json_response(StatusCode::OK, &o)),
                Err(_) => Ok(json_response(StatusCode::OK, &obj)),
            }
        }
        ("PATCH", Some(n), None | Some("status")) => {
            patch(app, &info, &gvr, ns, n, sub, q, headers, body)
        }
        ("DELETE", Some(n), None) => delete(app, &info, &gvr, ns, n, q, body),
        ("DELETE", None, None) => delete_collection(app, &info, &gvr, ns, q, body),
        _ => Err(Error::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method} {})",
            rp.resource
        ))),
    }
}

/// The Table printer when the client asked for `as=Table`.
fn printer(
    app: &AppState,
    info: &ResourceInfo,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Option<Printer>> {
    match table::wanted(headers) {
        Some(v) => {
            let include = IncludeObject::parse(q.get("includeObject").map(String::as_str))?;
            Ok(Some(Printer::new(&app.store, info, v, include)))
        }
        None => Ok(None),
    }
}

fn table_response(p: &Printer, body: &Value) -> Response {
    let mut resp = json_response(StatusCode::OK, body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(p.content_type()),
    );
    resp
}

fn list(
    app: &AppState,
    info: &ResourceInfo,
    ns: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Response> {
    let opts = list_options(q, info, ns)?;
    let printer = printer(app, info, q, headers)?;
    let page = app.store.list(&info.gvr(), &opts)?;
    if let Some(p) = printer {
        let rv = page.resource_version.to_string();
        let body = p.table(&page.items, &rv, page.continue_token.as_deref());
        return Ok(table_response(&p, &body));
    }
    let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    let body = json!({
        "kind": info.list_kind,
        "apiVersion": info.api_version(),
        "metadata": meta,
        "items": page.items,
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn watch(
    app: &AppState,
    info: Arc<ResourceInfo>,
    ns: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Response> {
    let table = printer(app, &info, q, headers)?.map(Arc::new);
    let send_initial = flag(q, "sendInitialEvents");
    let start = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => WatchStart::Current,
        Some(_) if send_initial => WatchStart::Current,
        Some(rv) => WatchStart::After(
            rv.parse()
                .map_err(|_| Error::bad_request(format!("invalid resource version: {rv}")))?,
        ),
    };
    let timeout = match q.get("timeoutSeconds").filter(|s| !s.is_empty()) {
        None => None,
        Some(t) => Some(Duration::from_secs(t.parse().map_err(|_| {
            Error::bad_request(format!("invalid timeoutSeconds: {t}"))
        })?)),
    };
    let bookmarks = flag(q, "allowWatchBookmarks");
    let params = WatchParams {
        namespace: ns.map(String::from),
        label: label_selector(q)?,
        field: field_selector(q, &info)?,
        start,
        timeout,
        bookmarks,
        initial_events_end: send_initial && bookmarks,
        bookmark_interval: app.bookmark_interval,
        table,
    };
    watch::serve(&app.store, info, params)
}

fn patch_error(e: patch::Error, info: &ResourceInfo, name: &str) -> Error {
    match e {
        patch::Error::Malformed(m) => Error::bad_request(m),
        patch::Error::Invalid(m) => Error::new(Reason::Invalid, m).with_details(Details {
            name: name.to_string(),
            group: info.group.clone(),
            kind: info.kind.clone(),
            ..Details::default()
        }),
        patch::Error::Unsupported(m) => Error::unsupported_media_type(m),
        patch::Error::Conflict { conflicts } => {
            let list = conflicts
                .iter()
                .map(|c| format!("conflict with \"{}\": {}", c.manager, c.field))
                .collect::<Vec<_>>();
            let message = if list.len() == 1 {
                format!("Apply failed with 1 conflict: {}", list[0])
            } else {
                format!(
                    "Apply failed with {} conflicts: {}",
                    list.len(),
                    list.join("\n")
                )
            };
            Error::new(Reason::Conflict, message).with_details(Details {
                name: name.to_string(),
                group: info.group.clone(),
                kind: info.plural.clone(),
                uid: String::new(),
                causes: conflicts
                    .iter()
                    .map(|c| Cause {
                        reason: "FieldManagerConflict".into(),
                        message: format!("conflict with \"{}\"", c.manager),
                        field: c.field.clone(),
                    })
                    .collect(),
            })
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn patch(
    app: &AppState,
    info: &Arc<ResourceInfo>,
    gvr: &Gvr,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let kind = PatchKind::from_content_type(ct).ok_or_else(|| {
        Error::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
            if info.custom { "" } else { ", application/strategic-merge-patch+json" }
        ))
    })?;
    if kind == PatchKind::StrategicMerge && info.custom {
        return Err(Error::unsupported_media_type(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    let doc: Value = match kind {
        PatchKind::Apply => serde_yaml::from_slice(body)
            .map_err(|e| Error::bad_request(format!("error decoding YAML: {e}")))?,
        PatchKind::Json | PatchKind::Merge | PatchKind::StrategicMerge => {
            serde_json::from_slice(body)
                .map_err(|e| Error::bad_request(format!("error decoding patch: {e}")))?
        }
    };
    let force = flag(q, "force");
    if kind == PatchKind::Apply {
        if q.get("fieldManager").is_none_or(|m| m.is_empty()) {
            return Err(Error::new(
                Reason::BadRequest,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
    } else if q.contains_key("force") {
        return Err(Error::new(
            Reason::BadRequest,
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let mut opts = write_options(q, headers)?;
    opts.server_side_apply = kind == PatchKind::Apply;
    let mgr = opts.field_manager.clone().unwrap_or_default();
    let now = now_rfc3339();
    let s = if sub == Some("status") {
        Subresource::Status
    } else {
        Subresource::Main
    };
    let group = info.group.clone();
    let kind_name = info.kind.clone();
    let result = app.store.mutate_with(gvr, ns, name, s, &opts, |obj| {
        let new = match kind {
            PatchKind::Json => patch::json_patch(obj, &doc),
            PatchKind::Merge => Ok(patch::merge_patch(obj, &doc)),
            PatchKind::StrategicMerge => {
                patch::strategic_merge_patch(obj, &doc, &group, &kind_name)
            }
            PatchKind::Apply => patch::server_side_apply(
                Some(obj),
                &doc,
                &ApplyOptions {
                    field_manager: &mgr,
                    force,
                    now: &now,
                    group: if info.custom { "" } else { &group },
                    kind: if info.custom { "" } else { &kind_name },
                },
            ),
        }
        .map_err(|e| patch_error(e, info, name))?;
        *obj = new;
        Ok(())
    });
    match result {
        Ok(w) => Ok(written(StatusCode::OK, &w)),
        Err(e)
            if e.reason == Reason::NotFound
                && kind == PatchKind::Apply
                && s == Subresource::Main =>
        {
            // Apply upserts.
            let mut created = patch::server_side_apply(
                None,
                &doc,
                &ApplyOptions {
                    field_manager: &mgr,
                    force,
                    now: &now,
                    group: if info.custom { "" } else { &group },
                    kind: if info.custom { "" } else { &kind_name },
                },
            )
            .map_err(|e| patch_error(e, info, name))?;
            if created["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
            {
                created["metadata"]["name"] = json!(name);
            }
            if created["metadata"]["name"] != json!(name) {
                return Err(Error::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    created["metadata"]["name"].as_str().unwrap_or_default()
                )));
            }
            let w = app.store.create_with(gvr, ns, created, &opts)?;
            Ok(written(StatusCode::CREATED, &w))
        }
        Err(e) => Err(e),
    }
}

fn delete_options(q: &Query, body: &Bytes) -> Result<DeleteOptions> {
    let b: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else if body.starts_with(super::protobuf::MAGIC) {
        super::protobuf::decode(body).map_err(|e| Error::bad_request(e.to_string()))?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| Error::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let invalid = |field: &str, msg: String| {
        Error::invalid(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            vec![Cause {
                reason: "FieldValueNotSupported".into(),
                message: msg,
                field: field.into(),
            }],
        )
    };
    let grace = match q.get("gracePeriodSeconds").filter(|s| !s.is_empty()) {
        Some(g) => Some(
            g.parse::<i64>()
                .map_err(|_| Error::bad_request(format!("invalid gracePeriodSeconds: {g}")))?,
        ),
        None => b["gracePeriodSeconds"].as_i64(),
    };
    let policy_s = q
        .get("propagationPolicy")
        .filter(|s| !s.is_empty())
        .cloned()
        .or_else(|| b["propagationPolicy"].as_str().map(String::from));
    let orphan = match q.get("orphanDependents") {
        Some(v) => Some(v == "true"),
        None => b["orphanDependents"].as_bool(),
    };
    let propagation_policy = match (policy_s, orphan) {
        (Some(p), _) => Some(Propagation::parse(&p).ok_or_else(|| {
            invalid(
                "propagationPolicy",
                format!("Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
            )
        })?),
        (None, Some(true)) => Some(Propagation::Orphan),
        (None, Some(false)) => Some(Propagation::Background),
        (None, None) => None,
    };
    let body_dry = b["dryRun"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        grace_period_seconds: grace,
        propagation_policy,
        precondition_uid: b["preconditions"]["uid"].as_str().map(String::from),
        precondition_resource_version: b["preconditions"]["resourceVersion"]
            .as_str()
            .map(String::from),
        dry_run: dry_run(q)? || body_dry,
        field_manager: None,
    })
}

fn delete(
    app: &AppState,
    info: &ResourceInfo,
    gvr: &Gvr,
    ns: Option<&str>,
    name: &str,
    q: &Query,
    body: &Bytes,
) -> Result<Response> {
    let opts = delete_options(q, body)?;
    let resp = match app.store.delete(gvr, ns, name, &opts)? {
        Deleted::Pending(o) => json_response(StatusCode::OK, &o),
        Deleted::Gone(o) if info.return_deleted_object => json_response(StatusCode::OK, &o),
        Deleted::Gone(o) => {
            let uid = o["metadata"]["uid"].as_str().unwrap_or_default();
            json_response(
                StatusCode::OK,
                &crate::status::success(&info.group, &info.plural, name, uid),
            )
        }
    };
    Ok(with_warnings(resp, &orphaning_warning(info, &opts)))
}

/// `deleteOptionWarnings` (pkg/registry/batch/job/storage/storage.go): a batch/v1 Job deleted
/// without a propagation policy orphans its pods, and the server says so.
const JOB_ORPHANS_WARNING: &str = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";

fn orphaning_warning(info: &ResourceInfo, opts: &DeleteOptions) -> Vec<String> {
    let job = info.group == "batch" && info.plural == "jobs";
    if job && opts.propagation_policy.is_none() {
        vec![JOB_ORPHANS_WARNING.to_string()]
    } else {
        Vec::new()
    }
}

fn delete_collection(
    app: &AppState,
    info: &ResourceInfo,
    gvr: &Gvr,
    ns: Option<&str>,
    q: &Query,
    body: &Bytes,
) -> Result<Response> {
    if !info.verbs.iter().any(|v| v == "deletecollection") {
        return Err(Error::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            info.plural
        )));
    }
    let list = list_options(q, info, ns)?;
    let opts = delete_options(q, body)?;
    let items = app.store.delete_collection(gvr, &list, &opts)?;
    let body = json!({
        "kind": info.list_kind,
        "apiVersion": info.api_version(),
        "metadata": {"resourceVersion": app.store.resource_version().to_string()},
        "items": items,
    });
    Ok(with_warnings(
        json_response(StatusCode::OK, &body),
        &orphaning_warning(info, &opts),
    ))
}

/// `pods/{name}/binding`: what the scheduler posts to bind a pod to a node.
fn binding(
    app: &AppState,
    gvr: &Gvr,
    ns: Option<&str>,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
    q: &Query,
) -> Result<Response> {
    let b = parse_body(headers, body)?;
    let node = b["target"]["name"].as_str().unwrap_or_default().to_string();
    if node.is_empty() {
        return Err(Error::invalid(
            "",
            "Binding",
            name,
            vec![Cause {
                reason: "FieldValueRequired".into(),
                message: "Required value".into(),
                field: "target.name".into(),
            }],
        ));
    }
    let opts = write_options(q, headers)?;
    let (g, r) = (gvr.group.clone(), gvr.resource.clone());
    app.store
        .mutate_with(gvr, ns, name, Subresource::Main, &opts, |pod| {
            let cur = pod["spec"]["nodeName"].as_str().unwrap_or_default();
            if !cur.is_empty() {
                return Err(Error::conflict(
                    &g,
                    &r,
                    name,
                    &format!("pod {name} is already assigned to node \"{cur}\""),
                ));
            }
            pod["spec"]["nodeName"] = json!(node);
            Ok(())
        })?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}
