//! The four PATCH flavours of the Kubernetes API, plus managedFields bookkeeping.
//!
//! Pure functions over `serde_json::Value`, faithful to Kubernetes 1.33: evanphx/json-patch for
//! RFC 6902, apimachinery's `strategicpatch` for strategic merge, and structured-merge-diff for
//! server-side apply and `metadata.managedFields`.

mod json;
mod strategic;
mod types;

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
pub fn json_patch(doc: &Value, ops: &Value) -> Result<Value> {
    json::apply(doc, ops)
}

/// RFC 7386 JSON merge patch: `null` deletes a key, arrays and scalars replace.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    // A non-object target is replaced by an empty object before merging (RFC 7386 §2).
    let mut out = match doc {
        Value::Object(d) => d.clone(),
        _ => serde_json::Map::new(),
    };
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

/// Strategic merge patch for a built-in kind. `group`/`kind` select the merge keys.
/// Custom resources get `Error::Unsupported`, as in Kubernetes.
pub fn strategic_merge_patch(doc: &Value, patch: &Value, group: &str, kind: &str) -> Result<Value> {
    if !types::is_builtin_group(group) {
        return Err(Error::Unsupported(
            "strategic merge patch is not supported for custom resources".into(),
        ));
    }
    strategic::apply(doc, patch, types::ObjType::new(group, kind))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchKind::from_content_type("application/json-patch+json; charset=utf-8"),
            Some(PatchKind::Json)
        );
        assert_eq!(
            PatchKind::from_content_type("application/apply-patch+yaml"),
            Some(PatchKind::Apply)
        );
        assert_eq!(PatchKind::from_content_type("application/json"), None);
    }

    // RFC 7386 appendix A.
    #[test]
    fn rfc7386_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(merge_patch(&doc, &patch), want, "{doc} + {patch}");
        }
    }

    #[test]
    fn strategic_merge_refuses_custom_resources() {
        let err = strategic_merge_patch(
            &json!({}),
            &json!({}),
            "batch-terminator.dev",
            "JobTermination",
        )
        .unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)));
        assert_eq!(
            err.to_string(),
            "strategic merge patch is not supported for custom resources"
        );
    }
}
