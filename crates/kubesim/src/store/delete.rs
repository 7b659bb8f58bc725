//! DELETE: preconditions, grace periods, finalizers and propagation.

use std::sync::Arc;

use serde_json::json;

use super::object::{finalizers, is_deleting, is_namespace, meta_str, now_rfc3339, rfc3339_in};
use super::{DeleteOptions, Deleted, EventType, ObjKey, Propagation, State, to_served};
use crate::resources::ResourceInfo;
use crate::status::{Error, Result};

impl State {
    pub(super) fn delete(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &ObjKey,
        opts: &DeleteOptions,
    ) -> Result<Deleted> {
        let name = key.1.as_str();
        let old = self
            .get(&info.storage, key)
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, name))?;
        let uid = meta_str(&old, "uid");
        if let Some(p) = &opts.precondition_uid
            && p != uid
        {
            return Err(Error::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {p}, UID in object meta: {uid}"
                ),
            ));
        }
        let rv = meta_str(&old, "resourceVersion");
        if let Some(p) = &opts.precondition_resource_version
            && p != rv
        {
            return Err(Error::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {p}, ResourceVersion in object meta: {rv}"
                ),
            ));
        }
        let is_ns = is_namespace(info);
        if is_ns && matches!(name, "default" | "kube-system" | "kube-public") {
            return Err(Error::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            ))
            .with_details(crate::status::Details {
                name: name.to_string(),
                kind: "namespaces".into(),
                ..Default::default()
            }));
        }
        let policy = opts.propagation_policy.unwrap_or(info.default_propagation);
        let gc_finalizer = match policy {
            Propagation::Orphan => Some("orphan"),
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Background => None,
        };
        let is_pod = info.storage.group.is_empty() && info.storage.resource == "pods";
        let grace = if is_pod {
            let phase = old["status"]["phase"].as_str().unwrap_or_default();
            let bound = !old["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .is_empty();
            if !bound || phase == "Succeeded" || phase == "Failed" {
                0
            } else {
                opts.grace_period_seconds
                    .unwrap_or_else(|| {
                        old["spec"]["terminationGracePeriodSeconds"]
                            .as_i64()
                            .unwrap_or(30)
                    })
                    .max(0)
            }
        } else {
            0
        };
        let mut new = (*old).clone();
        let mut fins = finalizers(&old);
        if let Some(f) = gc_finalizer {
            // The other GC finalizer goes: the last policy asked for wins.
            fins.retain(|x| x != "orphan" && x != "foregroundDeletion");
            fins.push(f.to_string());
        } else if opts.propagation_policy.is_some() {
            fins.retain(|x| x != "orphan" && x != "foregroundDeletion");
        }
        let deleting = is_deleting(&old);
        if deleting {
            // A repeat delete may shorten a pod's grace period or change the GC finalizer.
            let cur = old["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0);
            if grace < cur {
                new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                new["metadata"]["deletionTimestamp"] = json!(rfc3339_in(grace));
            }
        } else {
            new["metadata"]["deletionTimestamp"] = json!(rfc3339_in(grace));
            new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            if info.has_generation {
                let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
                new["metadata"]["generation"] = json!(g + 1);
            }
        }
        // Only a GC finalizer the policy asked for is added to an object that has nothing
        // else holding it; others follow the live state.
        if !fins.is_empty() || !finalizers(&old).is_empty() {
            new["metadata"]["finalizers"] = json!(fins);
        }
        if is_ns {
            new["status"]["phase"] = json!("Terminating");
        }
        let ns_held = is_ns
            && new["spec"]["finalizers"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
        let grace_now = new["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0);
        // An orphan/foreground finalizer with no dependents at all is pointless; the GC would
        // remove it at once. Keep it anyway: the API server adds it and the GC clears it.
        let immediate = fins.is_empty() && grace_now == 0 && !ns_held;
        if opts.dry_run {
            return Ok(if immediate {
                Deleted::Gone(to_served(info, &old))
            } else {
                Deleted::Pending(to_served(info, &new))
            });
        }
        if immediate {
            let last = self.remove(&info.storage, key, new);
            return Ok(Deleted::Gone(to_served(info, &last)));
        }
        if *old == new {
            return Ok(Deleted::Pending(to_served(info, &old)));
        }
        if let Some(m) = opts.field_manager.as_deref() {
            crate::patch::track_update(Some(&old), &mut new, m, None, &now_rfc3339());
        }
        let stored = self.put(
            &info.storage,
            key.clone(),
            new,
            Some(old),
            EventType::Modified,
        );
        Ok(Deleted::Pending(to_served(info, &stored)))
    }
}
