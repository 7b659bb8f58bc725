//! Reading and comparing stored objects: metadata accessors, keys, the predicates the write
//! paths share.

use chrono::{SecondsFormat, Utc};
use rand::Rng;
use serde_json::Value;

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

/// Copies of `o` without the fields a no-op write may change (managedFields count only for
/// server-side apply, which computes them itself).
pub(super) fn comparable(o: &Value, keep_managed_fields: bool) -> Value {
    let mut c = o.clone();
    if let Some(m) = c["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        if !keep_managed_fields {
            m.remove("managedFields");
        }
    }
    c
}

/// Everything but metadata (and status, when it is a subresource): what bumps `generation`.
pub(super) fn spec_part(o: &Value, has_status: bool) -> Value {
    let mut c = o.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if has_status {
            m.remove("status");
        }
    }
    c
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
