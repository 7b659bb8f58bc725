//! LIST: pages, continue tokens and selectors.

use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::{ListOptions, ObjKey, ObjectList, State, to_served};
use crate::resources::{ResourceInfo, Shape};
use crate::status::{Error, Result};

/// A continue token as the API server writes it (`storage.EncodeContinue`): base64 of
/// `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`, where the key is `ns/name` (`name`
/// for cluster-scoped objects) and the NUL starts the page after it.
pub(super) fn encode_continue(rv: u64, key: &ObjKey) -> String {
    let start = if key.0.is_empty() {
        format!("{}\0", key.1)
    } else {
        format!("{}/{}\0", key.0, key.1)
    };
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    BASE64.encode(token.to_string())
}

/// The list resourceVersion and last key of a continue token; 400 as the API server answers
/// a token it cannot read.
pub(super) fn decode_continue(token: &str) -> Result<(u64, ObjKey)> {
    let bytes = BASE64.decode(token).map_err(|e| {
        Error::bad_request(format!(
            "continue key is not valid: illegal base64 data: {e}"
        ))
    })?;
    let bad = |why: &str| Error::bad_request(format!("continue key is not valid: {why}"));
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&e.to_string()))?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(bad(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let rv = v["rv"]
        .as_u64()
        .filter(|rv| *rv > 0)
        .ok_or_else(|| bad("incorrect encoded start resourceVersion"))?;
    let start = v["start"]
        .as_str()
        .and_then(|s| s.strip_suffix('\0'))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("encoded start key is empty"))?;
    let key = match start.split_once('/') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (String::new(), start.to_string()),
    };
    Ok((rv, key))
}

impl State {
    pub(super) fn list(&self, info: &ResourceInfo, opts: &ListOptions) -> Result<ObjectList> {
        let (list_rv, start) = match &opts.continue_token {
            Some(t) if !t.is_empty() => {
                let (rv, key) = decode_continue(t)?;
                (rv, Bound::Excluded(key))
            }
            _ => (
                self.rv,
                match &opts.namespace {
                    Some(ns) => Bound::Included((ns.clone(), String::new())),
                    None => Bound::Unbounded,
                },
            ),
        };
        let mut items = Vec::new();
        let mut continue_token = None;
        if let Some(m) = self.objects.get(&info.storage) {
            let limit = opts.limit.filter(|l| *l > 0);
            let mut last_key: Option<&ObjKey> = None;
            for (k, o) in m.range((start, Bound::Unbounded)) {
                if let Some(ns) = &opts.namespace
                    && k.0 != *ns
                {
                    break;
                }
                if let Some(l) = limit
                    && items.len() == l
                {
                    // One more match exists: this page ends at the previous key.
                    if let Some(lk) = last_key {
                        continue_token = Some(encode_continue(list_rv, lk));
                    }
                    break;
                }
                // Native objects are matched as stored; only matches are copied.
                let converted = match info.shape {
                    Shape::Native => None,
                    Shape::EventsV1 => Some(to_served(info, o)),
                };
                let view = converted.as_ref().unwrap_or(o);
                let ok = opts.label_selector.as_ref().is_none_or(|s| s.matches(view))
                    && opts.field_selector.as_ref().is_none_or(|s| s.matches(view));
                if ok {
                    items.push(converted.unwrap_or_else(|| to_served(info, o)));
                    last_key = Some(k);
                }
            }
        }
        Ok(ObjectList {
            items,
            resource_version: list_rv,
            continue_token,
        })
    }
}
