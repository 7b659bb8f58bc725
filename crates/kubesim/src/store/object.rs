//! Reading and comparing stored objects: metadata accessors, keys, the predicates the write
//! paths share.

use chrono::{SecondsFormat, Utc};
use rand::Rng;
use serde_json::{Map, Value};

use super::ObjKey;
use crate::resources::ResourceInfo;
use crate::status::{Error, Result};

/// Current time as the API server writes it.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn rfc3339_in(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn meta_str<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or_default()
}

pub(super) fn finalizers(o: &Value) -> Vec<String> {
    o["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn owner_uids(o: &Value) -> Vec<String> {
    o["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn is_deleting(o: &Value) -> bool {
    o["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Random suffix as `names.SimpleNameGenerator` makes it.
pub(super) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `a == b` but for the top-level keys in `top` and the metadata keys in `meta`, compared in
/// place (no copies).
fn same_except(a: &Value, b: &Value, top: &[&str], meta: &[&str]) -> bool {
    fn same_map(
        a: &Map<String, Value>,
        b: &Map<String, Value>,
        skip: &[&str],
        meta: Option<&[&str]>,
    ) -> bool {
        let kept =
            |m: &Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
        kept(a) == kept(b)
            && a.iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .all(|(k, va)| match (b.get(k), meta) {
                    (None, _) => false,
                    (Some(Value::Object(mb)), Some(meta)) if k == "metadata" => match va {
                        Value::Object(ma) => same_map(ma, mb, meta, None),
                        _ => false,
                    },
                    (Some(vb), _) => va == vb,
                })
    }
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => same_map(a, b, top, Some(meta)),
        _ => a == b,
    }
}

/// Whether a write changes nothing but what a no-op write may change (the resourceVersion;
/// managedFields count only for server-side apply, which computes them itself).
pub(super) fn same_content(a: &Value, b: &Value, keep_managed_fields: bool) -> bool {
    let meta: &[&str] = if keep_managed_fields {
        &["resourceVersion"]
    } else {
        &["resourceVersion", "managedFields"]
    };
    same_except(a, b, &[], meta)
}

/// Whether everything but metadata (and status, when it is a subresource) is the same: what
/// bumps `generation`.
pub(super) fn same_spec(a: &Value, b: &Value, has_status: bool) -> bool {
    let top: &[&str] = if has_status {
        &["metadata", "apiVersion", "kind", "status"]
    } else {
        &["metadata", "apiVersion", "kind"]
    };
    same_except(a, b, top, &[])
}

/// The storage key of `name` in `namespace` for `info`.
pub(super) fn obj_key(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> Result<ObjKey> {
    if info.namespaced {
        match namespace {
            Some(ns) if !ns.is_empty() => Ok((ns.to_string(), name.to_string())),
            _ => Err(Error::bad_request(
                "the server could not find the requested resource: a namespace is required",
            )),
        }
    } else {
        Ok((String::new(), name.to_string()))
    }
}

pub(super) fn is_crd(info: &ResourceInfo) -> bool {
    info.storage.group == "apiextensions.k8s.io"
        && info.storage.resource == "customresourcedefinitions"
}

pub(super) fn is_namespace(info: &ResourceInfo) -> bool {
    info.storage.group.is_empty() && info.storage.resource == "namespaces"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_content_ignores_only_the_resource_version_and_managed_fields() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1", "managedFields": [1]}, "spec": {"x": 1}});
        let b = json!({"metadata": {"name": "a", "resourceVersion": "2"}, "spec": {"x": 1}});
        assert!(same_content(&a, &b, false));
        assert!(!same_content(&a, &b, true));
        let c = json!({"metadata": {"name": "a", "resourceVersion": "2", "labels": {}}, "spec": {"x": 1}});
        assert!(!same_content(&a, &c, false));
        let d = json!({"metadata": {"name": "a"}, "spec": {"x": 2}});
        assert!(!same_content(&a, &d, false));
        let e = json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {}});
        assert!(!same_content(&a, &e, false), "an added key counts");
    }

    #[test]
    fn same_spec_ignores_metadata_and_a_status_subresource() {
        let a = json!({"apiVersion": "v1", "metadata": {"name": "a"}, "spec": {"x": 1}, "status": {"p": 1}});
        let b = json!({"apiVersion": "v2", "metadata": {"name": "b"}, "spec": {"x": 1}, "status": {"p": 2}});
        assert!(same_spec(&a, &b, true));
        assert!(!same_spec(&a, &b, false));
        let c = json!({"metadata": {"name": "a"}, "spec": {"x": 2}, "status": {"p": 1}});
        assert!(!same_spec(&a, &c, true));
        let d = json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "data": 1});
        assert!(!same_spec(&a, &d, true));
    }
}
