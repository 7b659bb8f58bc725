//! Strategic merge patch, after apimachinery's `strategicpatch.StrategicMergePatch`
//! (`mergeMap` / `mergeSlice` with `MergeParallelList` and `IgnoreUnmatchedNulls`).

use super::types::{Ctx, ListKind, ObjType};
use super::{Error, Result};
use serde_json::{Map, Value};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER_PREFIX: &str = "$setElementOrder/";
const DELETE_PRIMITIVE_PREFIX: &str = "$deleteFromPrimitiveList/";

pub(crate) fn apply(doc: &Value, patch: &Value, ty: ObjType) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(Error::Malformed(
            "strategic merge patch must be a JSON object".into(),
        ));
    };
    let Value::Object(doc) = doc else {
        return Err(Error::Invalid(
            "the object to patch is not a JSON object".into(),
        ));
    };
    Ok(Value::Object(merge_map(doc.clone(), patch, Ctx::Root, ty)?))
}

fn bad_directive(d: &Value) -> Error {
    Error::Malformed(format!("Unknown patch type: {d} in patch"))
}

fn merge_map(
    mut orig: Map<String, Value>,
    patch: &Map<String, Value>,
    ctx: Ctx,
    ty: ObjType,
) -> Result<Map<String, Value>> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                rest.remove(DIRECTIVE);
                merge_map(Map::new(), &rest, ctx, ty)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_directive(d)),
        };
    }

    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Value::Array(retain) = retain else {
            return Err(Error::Malformed(
                "invalid patch: the $retainKeys directive must be a list of keys".into(),
            ));
        };
        let keys: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        for (k, v) in patch {
            if v.is_null()
                || k.starts_with('$')
                || k.starts_with(SET_ORDER_PREFIX)
                || k.starts_with(DELETE_PRIMITIVE_PREFIX)
            {
                continue;
            }
            if !keys.contains(&k.as_str()) {
                return Err(Error::Malformed(format!(
                    "invalid patch: field {k:?} is not listed in $retainKeys"
                )));
            }
        }
        orig.retain(|k, _| keys.contains(&k.as_str()));
    }

    // $deleteFromPrimitiveList/<field>: drop the listed values from a primitive list.
    for (k, v) in patch {
        let Some(field) = k.strip_prefix(DELETE_PRIMITIVE_PREFIX) else {
            continue;
        };
        let Value::Array(gone) = v else {
            return Err(Error::Malformed(format!(
                "invalid patch: {k} must be a list of primitives"
            )));
        };
        if let Some(Value::Array(items)) = orig.get_mut(field) {
            items.retain(|i| !gone.contains(i));
        }
    }

    for (k, pv) in patch {
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() {
            orig.remove(k);
            continue;
        }
        let merged = match (orig.remove(k), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                Value::Object(merge_map(o, p, ctx.child(k, ty), ty)?)
            }
            (None | Some(Value::Null), Value::Object(p)) => {
                Value::Object(merge_map(Map::new(), p, ctx.child(k, ty), ty)?)
            }
            (Some(Value::Array(o)), Value::Array(p)) => Value::Array(merge_list(o, p, k, ctx, ty)?),
            (None | Some(Value::Null), Value::Array(p)) => {
                Value::Array(merge_list(Vec::new(), p, k, ctx, ty)?)
            }
            (_, p) => p.clone(),
        };
        orig.insert(k.clone(), merged);
    }

    // $setElementOrder/<field>: the final order of the list, as kubectl's patch computed it.
    for (k, order) in patch {
        let Some(field) = k.strip_prefix(SET_ORDER_PREFIX) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(Error::Malformed(format!(
                "invalid patch: {k} must be a list"
            )));
        };
        let kind = ctx.list_kind(field, ty);
        if let Some(Value::Array(items)) = orig.get_mut(field) {
            let ident = |v: &Value| identity(v, kind).cloned();
            let order: Vec<Option<Value>> = order.iter().map(ident).collect();
            let pos = |v: &Value| {
                let id = ident(v);
                order.iter().position(|o| id.is_some() && *o == id)
            };
            // Items the order does not mention keep their relative order, after the rest.
            items.sort_by_key(|v| pos(v).unwrap_or(usize::MAX));
        }
    }
    Ok(orig)
}

/// What identifies a list item: its merge key for keyed lists, itself otherwise.
fn identity(v: &Value, kind: ListKind) -> Option<&Value> {
    match kind {
        ListKind::Map { smp_key, .. } => v.get(smp_key),
        ListKind::Set | ListKind::Atomic => Some(v),
    }
}

fn merge_list(
    orig: Vec<Value>,
    patch: &[Value],
    field: &str,
    ctx: Ctx,
    ty: ObjType,
) -> Result<Vec<Value>> {
    let kind = ctx.list_kind(field, ty);
    let item_ctx = ctx.item(field);
    match kind {
        ListKind::Atomic => Ok(patch.to_vec()),
        ListKind::Set => {
            if patch.iter().any(Value::is_object) {
                // A keyed merge of maps was requested on a list of primitives.
                return Ok(patch.to_vec());
            }
            let mut merged = orig.clone();
            for p in patch {
                if !merged.contains(p) {
                    merged.push(p.clone());
                }
            }
            Ok(normalize_order(merged, patch, &orig, kind))
        }
        ListKind::Map { smp_key, .. } => {
            if orig.iter().chain(patch).any(|v| !v.is_object()) {
                return Ok(patch.to_vec());
            }
            let mut orig = orig;
            let mut items: Vec<&Map<String, Value>> = Vec::new();
            let mut replace = false;
            for p in patch {
                let Value::Object(p) = p else { continue };
                match p.get(DIRECTIVE) {
                    None => items.push(p),
                    Some(d) => match d.as_str() {
                        Some("delete") => {
                            let key = p.get(smp_key).ok_or_else(|| no_merge_key(p, smp_key))?;
                            orig.retain(|o| o.get(smp_key) != Some(key));
                        }
                        Some("replace") => replace = true,
                        Some("merge") => {
                            return Err(Error::Malformed(
                                "merging lists cannot yet be specified in the patch".into(),
                            ));
                        }
                        _ => return Err(bad_directive(d)),
                    },
                }
            }
            if replace {
                return items
                    .into_iter()
                    .map(|p| Ok(Value::Object(merge_map(Map::new(), p, item_ctx, ty)?)))
                    .collect();
            }
            let server_order = orig.clone();
            let mut merged = orig;
            for p in &items {
                let key = p.get(smp_key).ok_or_else(|| no_merge_key(p, smp_key))?;
                match merged.iter().position(|o| o.get(smp_key) == Some(key)) {
                    Some(i) => {
                        let Value::Object(o) = std::mem::take(&mut merged[i]) else {
                            unreachable!("checked above that every item is an object");
                        };
                        merged[i] = Value::Object(merge_map(o, p, item_ctx, ty)?);
                    }
                    None => merged.push(Value::Object(merge_map(Map::new(), p, item_ctx, ty)?)),
                }
            }
            let patch_items: Vec<Value> = items.into_iter().cloned().map(Value::Object).collect();
            Ok(normalize_order(merged, &patch_items, &server_order, kind))
        }
    }
}

fn no_merge_key(item: &Map<String, Value>, key: &str) -> Error {
    Error::Invalid(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(item.clone())
    ))
}

/// `normalizeElementOrder`: items named in the patch come in the patch's order, server-only
/// items keep their live order, and the two are interleaved by the live order.
fn normalize_order(
    merged: Vec<Value>,
    patch: &[Value],
    server: &[Value],
    kind: ListKind,
) -> Vec<Value> {
    let index = |list: &[Value], v: &Value| {
        let id = identity(v, kind);
        list.iter()
            .position(|o| id.is_some() && identity(o, kind) == id)
    };
    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|v| index(patch, v).is_some());
    from_patch.sort_by_key(|v| index(patch, v).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| index(server, v).unwrap_or(usize::MAX));

    // mergeSortedSlice: insert server-only items among the patch items.
    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                let take_left = matches!(
                    (index(server, l), index(server, r)),
                    (Some(li), Some(ri)) if li < ri
                );
                let next = if take_left { left.next() } else { right.next() };
                out.extend(next);
            }
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(doc: Value, patch: Value, kind: &str) -> Value {
        let group = match kind {
            "Deployment" => "apps",
            "ClusterRole" => "rbac.authorization.k8s.io",
            _ => "",
        };
        apply(&doc, &patch, ObjType::new(group, kind)).unwrap()
    }

    fn pod(containers: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": containers}})
    }

    #[test]
    fn container_env_merges_by_name() {
        let doc = pod(json!([
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}
        ]));
        let patch = json!({"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": "20"}, {"name": "Z", "value": "3"}]}
        ]}});
        assert_eq!(
            smp(doc, patch, "Pod"),
            pod(json!([
                {"name": "a", "image": "a:1", "env": [
                    {"name": "X", "value": "1"}, {"name": "Y", "value": "20"}, {"name": "Z", "value": "3"}
                ]},
                {"name": "b", "image": "b:1"}
            ]))
        );
    }

    #[test]
    fn deployment_template_paths_are_keyed() {
        let doc = json!({"spec": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "c", "image": "old", "args": ["a", "b"],
                            "ports": [{"containerPort": 80}, {"containerPort": 81}]}],
            "tolerations": [{"key": "k1"}]
        }}}});
        let patch = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "new", "args": ["z"],
                            "ports": [{"containerPort": 81, "name": "alt"}]}],
            "tolerations": [{"key": "k2"}]
        }}}});
        assert_eq!(
            smp(doc, patch, "Deployment"),
            json!({"spec": {"replicas": 1, "template": {"spec": {
                "containers": [{"name": "c", "image": "new", "args": ["z"],
                                "ports": [{"containerPort": 80}, {"containerPort": 81, "name": "alt"}]}],
                "tolerations": [{"key": "k2"}]
            }}}})
        );
    }

    #[test]
    fn patch_delete_directive_in_list_and_map() {
        let doc = pod(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let patch = json!({"spec": {"containers": [{"name": "b", "$patch": "delete"}]}});
        assert_eq!(
            smp(doc, patch, "Pod"),
            pod(json!([{"name": "a"}, {"name": "c"}]))
        );

        let doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"x": {"y": 1}}});
        let patch =
            json!({"spec": {"x": {"$patch": "delete"}}, "metadata": {"labels": {"a": null}}});
        assert_eq!(
            smp(doc, patch, "ConfigMap"),
            json!({"metadata": {"labels": {}}, "spec": {"x": {}}})
        );
    }

    #[test]
    fn patch_replace_directive() {
        let doc = pod(json!([{"name": "a", "image": "a"}, {"name": "b"}]));
        let patch =
            json!({"spec": {"containers": [{"name": "z", "image": "z"}, {"$patch": "replace"}]}});
        assert_eq!(
            smp(doc, patch, "Pod"),
            pod(json!([{"name": "z", "image": "z"}]))
        );
        let doc = json!({"spec": {"selector": {"a": "1", "b": "2"}}});
        let patch = json!({"spec": {"selector": {"c": "3", "$patch": "replace"}}});
        assert_eq!(
            smp(doc, patch, "Service"),
            json!({"spec": {"selector": {"c": "3"}}})
        );
    }

    #[test]
    fn set_element_order_from_kubectl_apply() {
        let doc = pod(json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]));
        // kubectl: last-applied had [a, b], the new config has [b, c] with b changed.
        let patch = json!({"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
            "containers": [{"name": "b", "image": "b2"}, {"name": "c", "image": "c"}, {"name": "a", "$patch": "delete"}]
        }});
        assert_eq!(
            smp(doc, patch, "Pod"),
            pod(json!([{"name": "b", "image": "b2"}, {"name": "c", "image": "c"}]))
        );

        // Only a reorder.
        let doc = pod(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}]}});
        assert_eq!(
            smp(doc, patch, "Pod"),
            pod(json!([{"name": "c"}, {"name": "a"}, {"name": "b"}]))
        );
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        let patch = json!({"metadata": {"finalizers": ["b", "c"]}});
        assert_eq!(
            smp(doc.clone(), patch, "ConfigMap"),
            json!({"metadata": {"finalizers": ["a", "b", "c"]}})
        );
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "finalizers": ["d"]}});
        assert_eq!(
            smp(doc, patch, "ConfigMap"),
            // As mergeSortedSlice does: patch items the live list lacks come before server-only ones.
            json!({"metadata": {"finalizers": ["d", "b"]}})
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let doc = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}});
        let patch = json!({"spec": {"ports": [{"port": 443, "targetPort": 8443}]}});
        assert_eq!(
            smp(doc, patch, "Service"),
            json!({"spec": {"ports": [
                {"port": 80, "name": "http"},
                {"port": 443, "name": "https", "targetPort": 8443}
            ]}})
        );
    }

    #[test]
    fn rbac_rules_atomic_and_retain_keys() {
        let doc = json!({"rules": [{"verbs": ["get"]}]});
        let patch = json!({"rules": [{"verbs": ["list"]}]});
        assert_eq!(
            smp(doc, patch, "ClusterRole"),
            json!({"rules": [{"verbs": ["list"]}]})
        );

        let doc = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            smp(doc, patch, "Deployment"),
            json!({"spec": {"strategy": {"type": "Recreate"}}})
        );
        let bad = json!({"spec": {"strategy": {"$retainKeys": ["type"], "other": 1}}});
        assert!(matches!(
            apply(&json!({}), &bad, ObjType::new("apps", "Deployment")),
            Err(Error::Malformed(_))
        ));
    }

    #[test]
    fn new_fields_are_cleaned_of_directives_and_nulls() {
        let doc = json!({"spec": {}});
        let patch = json!({"spec": {"containers": [{"name": "a", "env": [{"name": "x", "value": null}]}],
                                     "$setElementOrder/containers": [{"name": "a"}]}});
        assert_eq!(
            smp(doc, patch, "Pod"),
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "x"}]}]}})
        );
    }

    #[test]
    fn missing_merge_key_is_invalid() {
        let doc = pod(json!([{"name": "a"}]));
        let patch = json!({"spec": {"containers": [{"image": "x"}]}});
        assert!(matches!(
            apply(&doc, &patch, ObjType::new("", "Pod")),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn owner_references_by_uid_and_conditions_by_type() {
        let doc = json!({
            "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b"}]},
            "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Scheduled", "status": "True"}]}
        });
        let patch = json!({
            "metadata": {"ownerReferences": [{"uid": "2", "controller": true}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        assert_eq!(
            apply(&doc, &patch, ObjType::new("", "Pod")).unwrap(),
            json!({
                "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}, {"uid": "2", "name": "b", "controller": true}]},
                "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Scheduled", "status": "True"}]}
            })
        );
    }

    #[test]
    fn cronjob_containers_are_keyed_deep_down() {
        let doc = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "env": [{"name": "X", "value": "1"}], "volumeMounts": [{"mountPath": "/a", "name": "v"}]}
        ]}}}}}});
        let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "a", "volumeMounts": [{"mountPath": "/a", "readOnly": true}]}
        ]}}}}}});
        assert_eq!(
            apply(&doc, &patch, ObjType::new("batch", "CronJob")).unwrap(),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                {"name": "a", "env": [{"name": "X", "value": "1"}],
                 "volumeMounts": [{"mountPath": "/a", "name": "v", "readOnly": true}]}
            ]}}}}}})
        );
    }
}
