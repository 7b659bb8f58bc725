//! `/openapi/v3`: the index and one document per group-version.
//! STUB: signatures only; the real implementation replaces this file.

use serde_json::{Value, json};

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

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": ...}, "apis/batch/v1": ...}}`.
pub fn index(group_versions: &[(String, String)]) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in group_versions {
        let p = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}")}),
        );
    }
    json!({ "paths": paths })
}

/// `GET /openapi/v3/apis/{group}/{version}`.
pub fn group_version_document(_group: &str, _version: &str, _resources: &[ResourceDoc]) -> Value {
    json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": {}, "components": {"schemas": {}}})
}
