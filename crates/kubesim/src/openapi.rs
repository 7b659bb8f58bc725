//! `/openapi/v3`: the index and one OpenAPI 3.0 document per group-version.
//!
//! What the clients read (kubectl 1.33 / helm, k8s.io/kubectl `resource.queryParamVerifierV3` and
//! `apply.Patcher`):
//! - the index's `paths["apis/<g>/<v>"].serverRelativeURL`, fetched as JSON;
//! - among the document's PATCH operations, the one whose `x-kubernetes-group-version-kind`
//!   (an object) is the GVK; if it declares the query parameter `fieldValidation` they leave
//!   validation to the server (`fieldValidation=Strict`) instead of validating client-side;
//! - for client-side `apply`, whether that PATCH's `requestBody.content` has
//!   `application/strategic-merge-patch+json`; if so the patch is computed from
//!   `components.schemas` (the schema whose `x-kubernetes-group-version-kind`, an array, holds
//!   the GVK), with `x-kubernetes-patch-merge-key`s from there.
//!
//! k8s-openapi's schemas carry no patch merge keys, so built-in PATCH operations do not advertise
//! strategic merge: kubectl then builds the patch from its compiled-in Go types, exactly as it does
//! against a real cluster's v2 fallback, rather than from schemas that would make it replace lists.

use serde_json::{Map, Value, json};

use crate::schema::Schema;

/// What the server knows of one served resource, for its OpenAPI document.
#[derive(Debug, Clone)]
pub struct ResourceDoc {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    pub has_status: bool,
    /// The object's schema (a CRD's openAPIV3Schema, or a built-in's).
    pub schema: Option<Value>,
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// `api/v1` or `apis/<group>/<version>`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A stable hash of a document, for `serverRelativeURL`'s `hash` (FNV-1a, 64 bits, hex).
pub fn document_hash(document: &Value) -> String {
    fnv_hex(document.to_string().as_bytes())
}

fn fnv_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": ...}, "apis/batch/v1": ...}}`.
/// The hash depends on the group-version only; use [`index_with_hashes`] with
/// [`document_hash`] when documents change at run time (CRDs come and go).
pub fn index(group_versions: &[(String, String)]) -> Value {
    let entries: Vec<(String, String, String)> = group_versions
        .iter()
        .map(|(g, v)| {
            let seed = format!("kubesim/{}/{}", env!("CARGO_PKG_VERSION"), gv_path(g, v));
            (g.clone(), v.clone(), fnv_hex(seed.as_bytes()))
        })
        .collect();
    index_with_hashes(&entries)
}

/// The index with a caller-chosen hash per `(group, version, hash)`.
pub fn index_with_hashes(entries: &[(String, String, String)]) -> Value {
    let mut paths = Map::new();
    for (g, v, hash) in entries {
        let p = gv_path(g, v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json!({ "paths": paths })
}

/// The definition name Kubernetes gives a kind: the built-in's (`io.k8s.api.batch.v1.Job`), or
/// for other groups the reversed group, the version and the kind
/// (`dev.batch-terminator.v1alpha1.JobTermination`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    if let Some(s) = Schema::builtin(group, version, kind)
        && let Some(name) = s.definition_name()
    {
        return name.to_string();
    }
    if group.is_empty() {
        return format!("io.k8s.api.core.{version}.{kind}");
    }
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn group_version_document(group: &str, version: &str, resources: &[ResourceDoc]) -> Value {
    let mut schemas = Map::new();
    add_generated(
        &mut schemas,
        schemars::schema_for!(k8s_openapi::apimachinery::pkg::apis::meta::v1::Status).to_value(),
    );
    add_generated(
        &mut schemas,
        schemars::schema_for!(k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions)
            .to_value(),
    );
    add_generated(
        &mut schemas,
        schemars::schema_for!(k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta).to_value(),
    );
    add_generated(&mut schemas, Schema::object_meta().as_json().clone());
    schemas.insert(
        PATCH.to_string(),
        json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}),
    );

    let mut paths = Map::new();
    for r in resources
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let name = add_kind(&mut schemas, r);
        add_paths(&mut paths, r, &name);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}}
        },
        "security": [{"BearerToken": []}],
    })
}

/// Adds a schemars root schema (named by its `title`) and its `$defs` to `schemas`.
fn add_generated(schemas: &mut Map<String, Value>, root: Value) -> Option<String> {
    let (mut main, defs) = split(root);
    let name = main
        .as_object_mut()
        .and_then(|m| m.remove("title"))
        .and_then(|t| t.as_str().map(str::to_string));
    for (k, mut v) in defs {
        to_openapi3(&mut v);
        schemas.entry(k).or_insert(v);
    }
    to_openapi3(&mut main);
    if let Some(n) = &name {
        schemas.entry(n.clone()).or_insert(main);
    }
    name
}

/// Separates a root schema from its definitions.
fn split(mut root: Value) -> (Value, Map<String, Value>) {
    let mut defs = Map::new();
    if let Some(obj) = root.as_object_mut() {
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(d)) = obj.remove(key) {
                defs.extend(d);
            }
        }
        obj.remove("$schema");
    }
    (root, defs)
}

/// `#/$defs/X` → `#/components/schemas/X`, and a `$ref` with siblings becomes
/// `allOf: [{$ref}]` plus the siblings, as OpenAPI 3.0 ignores a `$ref`'s siblings.
fn to_openapi3(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let name = r
                    .strip_prefix("#/$defs/")
                    .or_else(|| r.strip_prefix("#/definitions/"))
                    .or_else(|| r.strip_prefix("#/components/schemas/"));
                if let Some(name) = name {
                    let new_ref = Value::String(format!("#/components/schemas/{name}"));
                    if m.len() > 1 {
                        m.remove("$ref");
                        m.insert("allOf".into(), json!([{"$ref": new_ref}]));
                    } else {
                        m.insert("$ref".into(), new_ref);
                    }
                }
            }
            for (_, child) in m.iter_mut() {
                to_openapi3(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_openapi3),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

fn gvk_list(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

/// Adds the kind's schema and its list's; returns the kind's definition name.
fn add_kind(schemas: &mut Map<String, Value>, r: &ResourceDoc) -> String {
    let source = match &r.schema {
        Some(s) => Some(s.clone()),
        None => Schema::builtin(&r.group, &r.version, &r.kind).map(|s| s.as_json().clone()),
    };
    let name = match source {
        Some(root) if root.get("$defs").is_some() || root.get("definitions").is_some() => {
            // A built-in (schemars) schema.
            let fallback = definition_name(&r.group, &r.version, &r.kind);
            let root = match root {
                Value::Object(mut m) => {
                    m.entry("title").or_insert_with(|| json!(fallback));
                    Value::Object(m)
                }
                other => other,
            };
            // A name taken already (two versions of one kind) keeps the first schema.
            add_generated(schemas, root).unwrap_or(fallback)
        }
        other => {
            // A CRD's structural schema, or nothing known: metadata is ObjectMeta.
            let name = definition_name(&r.group, &r.version, &r.kind);
            let mut main = other.unwrap_or_else(
                || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
            to_openapi3(&mut main);
            if let Value::Object(m) = &mut main {
                let props = m.entry("properties").or_insert_with(|| json!({}));
                if let Value::Object(props) = props {
                    props.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
                    props.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
                    props.insert("metadata".into(), json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "description": "Standard object's metadata."}));
                }
            }
            schemas.insert(name.clone(), main);
            name
        }
    };
    if let Some(Value::Object(m)) = schemas.get_mut(&name) {
        m.insert(
            "x-kubernetes-group-version-kind".into(),
            gvk_list(&r.group, &r.version, &r.kind),
        );
    }
    let list_kind = format!("{}List", r.kind);
    schemas.insert(
        format!("{name}List"),
        json!({
            "description": format!("{list_kind} is a list of {}", r.kind),
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "items": {"type": "array", "items": {"allOf": [{"$ref": format!("#/components/schemas/{name}")}], "default": {}}},
                "kind": {"type": "string"},
                "metadata": {"allOf": [{"$ref": format!("#/components/schemas/{LIST_META}")}], "default": {}}
            },
            "x-kubernetes-group-version-kind": gvk_list(&r.group, &r.version, &list_kind),
        }),
    );
    name
}

fn param(name: &str, location: &str, ty: &str, description: &str) -> Value {
    let mut p = json!({
        "name": name,
        "in": location,
        "description": description,
        "schema": {"type": ty, "uniqueItems": true},
    });
    if location == "path" {
        p["required"] = json!(true);
    }
    p
}

fn write_params() -> Vec<Value> {
    vec![
        param(
            "dryRun",
            "query",
            "string",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
        ),
        param(
            "fieldManager",
            "query",
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        param(
            "fieldValidation",
            "query",
            "string",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
        ),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        param(
            "allowWatchBookmarks",
            "query",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
        ),
        param(
            "continue",
            "query",
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        param(
            "fieldSelector",
            "query",
            "string",
            "A selector to restrict the list of returned objects by their fields.",
        ),
        param(
            "labelSelector",
            "query",
            "string",
            "A selector to restrict the list of returned objects by their labels.",
        ),
        param(
            "limit",
            "query",
            "integer",
            "limit is a maximum number of responses to return for a list call.",
        ),
        param(
            "resourceVersion",
            "query",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        param(
            "resourceVersionMatch",
            "query",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls.",
        ),
        param(
            "sendInitialEvents",
            "query",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`.",
        ),
        param(
            "timeoutSeconds",
            "query",
            "integer",
            "Timeout for the list/watch call.",
        ),
        param(
            "watch",
            "query",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}

fn delete_params() -> Vec<Value> {
    vec![
        param(
            "dryRun",
            "query",
            "string",
            "When present, indicates that modifications should not be persisted.",
        ),
        param(
            "gracePeriodSeconds",
            "query",
            "integer",
            "The duration in seconds before the object should be deleted.",
        ),
        param(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "query",
            "boolean",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.",
        ),
        param(
            "orphanDependents",
            "query",
            "boolean",
            "Deprecated: please use the PropagationPolicy.",
        ),
        param(
            "propagationPolicy",
            "query",
            "string",
            "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Foreground', 'Background'.",
        ),
    ]
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(name: &str) -> Value {
    json!({
        "application/json": {"schema": schema_ref(name)},
        "application/yaml": {"schema": schema_ref(name)},
    })
}

fn response(name: &str) -> Value {
    json!({"description": "OK", "content": json_content(name)})
}

/// `batch` → `Batch`, `rbac.authorization.k8s.io` → `RbacAuthorization`, `` → `Core`.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_string();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed
        .split(['.', '-'])
        .map(capitalize)
        .collect::<Vec<_>>()
        .join("")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

struct OpCtx<'a> {
    r: &'a ResourceDoc,
    gvk: Value,
    tag: String,
    stem: String,
}

impl OpCtx<'_> {
    fn op(
        &self,
        verb: &str,
        action: &str,
        suffix: &str,
        params: Vec<Value>,
        body: Option<Value>,
        responses: Value,
    ) -> Value {
        let mut o = json!({
            "tags": [self.tag],
            "description": format!("{verb} {}", self.r.kind),
            "operationId": format!("{verb}{}{suffix}", self.stem),
            "parameters": params,
            "responses": responses,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": self.gvk,
        });
        if let Some(b) = body {
            o["requestBody"] = b;
        }
        o
    }
}

fn add_paths(paths: &mut Map<String, Value>, r: &ResourceDoc, name: &str) {
    let prefix = format!("/{}", gv_path(&r.group, &r.version));
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let cx = OpCtx {
        r,
        gvk: json!({"group": r.group, "kind": r.kind, "version": r.version}),
        tag: format!(
            "{}_{}",
            if r.group.is_empty() {
                "core"
            } else {
                r.group.as_str()
            },
            r.version
        ),
        stem: format!(
            "{}{}{scope}{}",
            group_camel(&r.group),
            capitalize(&r.version),
            r.kind
        ),
    };
    let base = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let mut common = vec![param(
        "pretty",
        "query",
        "string",
        "If 'true', then the output is pretty printed.",
    )];
    if r.namespaced {
        common.push(param(
            "namespace",
            "path",
            "string",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    let list_name = format!("{name}List");
    let body = json!({"content": {"*/*": {"schema": schema_ref(name)}}, "required": true});
    // Strategic merge is left out on purpose; see the module docs.
    let mut patch_content = Map::new();
    for t in [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ] {
        patch_content.insert(t.to_string(), json!({"schema": schema_ref(PATCH)}));
    }
    let patch_body = json!({"content": patch_content, "required": true});
    let mut patch_params = write_params();
    patch_params.push(param(
        "force",
        "query",
        "boolean",
        "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people.",
    ));
    let delete_body = json!({"content": {"*/*": {"schema": schema_ref(DELETE_OPTIONS)}}});
    let written =
        |code: &str| json!({code: response(name), "401": {"description": "Unauthorized"}});

    // Collection.
    let mut collection_delete_params = delete_params();
    collection_delete_params.extend(list_params());
    let mut item = Map::new();
    item.insert("parameters".into(), Value::Array(common.clone()));
    item.insert(
        "get".into(),
        cx.op(
            "list",
            "list",
            "",
            list_params(),
            None,
            json!({"200": response(&list_name), "401": {"description": "Unauthorized"}}),
        ),
    );
    item.insert(
        "post".into(),
        cx.op("create", "post", "", write_params(), Some(body.clone()), {
            let mut r = written("200");
            r["201"] = response(name);
            r["202"] = response(name);
            r
        }),
    );
    item.insert(
        "delete".into(),
        cx.op(
            "deletecollection",
            "deletecollection",
            "",
            collection_delete_params,
            Some(delete_body.clone()),
            json!({"200": response(STATUS), "401": {"description": "Unauthorized"}}),
        ),
    );
    paths.insert(base.clone(), Value::Object(item));

    // One object.
    let mut item_params = common.clone();
    item_params.insert(
        0,
        param("name", "path", "string", &format!("name of the {}", r.kind)),
    );
    let mut item = Map::new();
    item.insert("parameters".into(), Value::Array(item_params.clone()));
    item.insert(
        "get".into(),
        cx.op("read", "get", "", vec![], None, written("200")),
    );
    item.insert(
        "put".into(),
        cx.op("replace", "put", "", write_params(), Some(body.clone()), {
            let mut r = written("200");
            r["201"] = response(name);
            r
        }),
    );
    item.insert(
        "patch".into(),
        cx.op(
            "patch",
            "patch",
            "",
            patch_params.clone(),
            Some(patch_body.clone()),
            {
                let mut r = written("200");
                r["201"] = response(name);
                r
            },
        ),
    );
    item.insert(
        "delete".into(),
        cx.op(
            "delete",
            "delete",
            "",
            delete_params(),
            Some(delete_body),
            json!({"200": response(STATUS), "202": response(STATUS), "401": {"description": "Unauthorized"}}),
        ),
    );
    paths.insert(format!("{base}/{{name}}"), Value::Object(item));

    // The status subresource.
    if r.has_status {
        let mut item = Map::new();
        item.insert("parameters".into(), Value::Array(item_params));
        item.insert(
            "get".into(),
            cx.op("read", "get", "Status", vec![], None, written("200")),
        );
        item.insert(
            "put".into(),
            cx.op("replace", "put", "Status", write_params(), Some(body), {
                let mut r = written("200");
                r["201"] = response(name);
                r
            }),
        );
        item.insert(
            "patch".into(),
            cx.op(
                "patch",
                "patch",
                "Status",
                patch_params,
                Some(patch_body),
                {
                    let mut r = written("200");
                    r["201"] = response(name);
                    r
                },
            ),
        );
        paths.insert(format!("{base}/{{name}}/status"), Value::Object(item));
    }

    // Lists across namespaces.
    if r.namespaced {
        let all_stem = format!(
            "{}{}{}",
            group_camel(&r.group),
            capitalize(&r.version),
            r.kind
        );
        let mut op = cx.op(
            "list",
            "list",
            "",
            list_params(),
            None,
            json!({"200": response(&list_name), "401": {"description": "Unauthorized"}}),
        );
        op["operationId"] = json!(format!("list{all_stem}ForAllNamespaces"));
        let mut item = Map::new();
        item.insert(
            "parameters".into(),
            json!([param(
                "pretty",
                "query",
                "string",
                "If 'true', then the output is pretty printed."
            )]),
        );
        item.insert("get".into(), op);
        paths.insert(format!("{prefix}/{}", r.plural), Value::Object(item));
    }
}

#[cfg(test)]
mod tests;
