//! The four PATCH flavours of the Kubernetes API, plus managedFields bookkeeping.
//!
//! Pure functions over `serde_json::Value`, faithful to Kubernetes 1.33: evanphx/json-patch for
//! RFC 6902, apimachinery's `strategicpatch` for strategic merge, and structured-merge-diff for
//! server-side apply and `metadata.managedFields`.

mod apply;
mod fieldset;
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
    /// The other manager's name, e.g. `kubectl-client-side-apply`.
    pub manager: String,
    /// The field as structured-merge-diff prints it, e.g. `.spec.replicas` or
    /// `.spec.template.spec.containers[name="app"].image`.
    pub field: String,
    /// The Status cause message, e.g. `conflict with "kubectl-client-side-apply" using v1`
    /// (Kubernetes names the operation's API version for `Update` managers only).
    pub message: String,
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
    #[error("{}", conflict_message(conflicts))]
    Conflict { conflicts: Vec<FieldConflict> },
}

/// The Status message of a 409 apply conflict, worded as the API server's `getConflictMessage`.
fn conflict_message(conflicts: &[FieldConflict]) -> String {
    if let [c] = conflicts {
        return format!("Apply failed with 1 conflict: {}: {}", c.message, c.field);
    }
    let mut by_manager: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for c in conflicts {
        by_manager.entry(&c.message).or_default().push(&c.field);
    }
    let lines: Vec<String> = by_manager
        .iter()
        .flat_map(|(m, fields)| {
            std::iter::once(format!(
                "{}:",
                m.replacen("conflict with", "conflicts with", 1)
            ))
            .chain(fields.iter().map(|f| format!("- {f}")))
        })
        .collect();
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
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

/// Server-side apply of `applied` onto `live` (None when the object does not exist yet), to
/// the main resource: `status` in the applied configuration is ignored, as for every kind with
/// a status subresource. Returns the new object with `metadata.managedFields` updated.
/// The applied configuration's own `metadata.managedFields` is dropped.
pub fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    opts: &ApplyOptions,
) -> Result<Value> {
    apply::server_side_apply(live, applied, opts, None)
}

/// Server-side apply to a subresource (`Some("status")`): only the applied `status` counts,
/// and the managedFields entry carries the subresource. `None` is [`server_side_apply`].
pub fn server_side_apply_subresource(
    live: Option<&Value>,
    applied: &Value,
    opts: &ApplyOptions,
    subresource: Option<&str>,
) -> Result<Value> {
    apply::server_side_apply(live, applied, opts, subresource)
}

/// Records an `Update` operation by `manager` in `new.metadata.managedFields`: the fields that
/// changed from `old` become owned by it (and stop being owned by anyone else), as the API
/// server does for create, update and patch. The group and kind come from `new`'s apiVersion
/// and kind. When `new` carries no managedFields (or this is a subresource), `old`'s are the
/// starting point; `[{}]` resets them.
pub fn track_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    apply::track_update(old, new, manager, subresource, now);
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
