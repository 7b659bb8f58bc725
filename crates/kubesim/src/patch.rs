//! The four PATCH flavours of the Kubernetes API, plus managedFields bookkeeping.
//! STUB: signatures only; the real implementation replaces this file.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchKind {
    /// From the request's Content-Type (parameters after `;` ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// A field owned by another manager that an apply would change (409 unless `force`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    pub manager: String,
    pub field: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 BadRequest: the patch document itself is malformed.
    #[error("{0}")]
    Malformed(String),
    /// 422 Invalid: well-formed but cannot be applied (missing path, failed `test`).
    #[error("{0}")]
    Invalid(String),
    /// 415 UnsupportedMediaType: e.g. strategic merge on a custom resource.
    #[error("{0}")]
    Unsupported(String),
    /// 409 Conflict: server-side apply conflicts.
    #[error("Apply failed with {} conflicts", conflicts.len())]
    Conflict { conflicts: Vec<FieldConflict> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// RFC 6902 JSON patch, including `test`.
pub fn json_patch(_doc: &Value, _ops: &Value) -> Result<Value> {
    Err(Error::Unsupported("json patch not implemented yet".into()))
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            let mut out = d.clone();
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (_, p) => p.clone(),
    }
}

/// Strategic merge patch for a built-in kind. `group`/`kind` select the merge keys.
/// Custom resources get `Error::Unsupported`, as in Kubernetes.
pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    _group: &str,
    _kind: &str,
) -> Result<Value> {
    Ok(merge_patch(doc, patch))
}

/// Options of a server-side apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions<'a> {
    pub field_manager: &'a str,
    pub force: bool,
    /// RFC 3339 time written into managedFields.
    pub now: &'a str,
    /// For merge keys of built-in kinds; `None` group/kind means a custom resource.
    pub group: &'a str,
    pub kind: &'a str,
}

/// Server-side apply of `applied` onto `live` (None when the object does not exist yet).
/// Returns the new object with `metadata.managedFields` updated.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    _opts: &ApplyOptions,
) -> Result<Value> {
    Ok(match live {
        Some(l) => merge_patch(l, applied),
        None => applied.clone(),
    })
}

/// Records an `Update` operation by `manager` in `new.metadata.managedFields`: the fields that
/// changed from `old` become owned by it, as the API server does for create, update and patch.
pub fn track_update(
    _old: Option<&Value>,
    _new: &mut Value,
    _manager: &str,
    _subresource: Option<&str>,
    _now: &str,
) {
}
