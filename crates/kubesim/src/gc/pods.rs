//! The pod garbage collector (pkg/controller/podgc), the parts the product meets:
//! - a terminating pod that was never bound to a node (no kubelet will ever finish it) is
//!   marked Failed and deleted with grace 0 (`gcUnscheduledTerminating`);
//! - a pod bound to a node that no longer exists is marked Failed with a `DisruptionTarget`
//!   condition (`DeletionByPodGC`) and deleted with grace 0 (`gcOrphaned`). A node deletion
//!   acts at once; a pod seen on a node that is missing acts only if the node is still missing
//!   after the quarantine, as the controller's quarantine does.
//!
//! Finalizers still hold a deleted pod; the phase is what tells its owner it has ended.
//! The terminated-pod threshold (`gcTerminated`) is not modelled.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::resources::Gvr;
use crate::status::Reason;
use crate::store::{DeleteOptions, EventType, ObjKey, StorageKey, Store, StoreEvent, now_rfc3339};

/// How long a pod's node must stay missing before the pod is ended (the controller's
/// quarantine, shortened).
const QUARANTINE: Duration = Duration::from_secs(3);

fn meta<'a>(o: &'a Value, f: &str) -> &'a str {
    o["metadata"][f].as_str().unwrap_or_default()
}

fn node_name(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or_default()
}

fn terminating(pod: &Value) -> bool {
    pod["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

fn is_pods(ev: &StoreEvent) -> bool {
    ev.storage.group.is_empty() && ev.storage.resource == "pods"
}

fn is_nodes(ev: &StoreEvent) -> bool {
    ev.storage.group.is_empty() && ev.storage.resource == "nodes"
}

/// Why the pod GC ends a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Terminating and never scheduled.
    UnscheduledTerminating,
    /// Bound to a node that no longer exists.
    NodeGone,
}

/// What the pod GC does to `pod`, given whether its node exists.
pub fn decide(pod: &Value, node_exists: impl Fn(&str) -> bool) -> Option<Cause> {
    let node = node_name(pod);
    if node.is_empty() {
        return terminating(pod).then_some(Cause::UnscheduledTerminating);
    }
    (!node_exists(node)).then_some(Cause::NodeGone)
}

/// The status patch `markFailedAndDeletePodWithCondition` applies before deleting: phase
/// Failed (unless the pod already ended), plus the condition for an orphaned pod.
pub fn mark_failed(pod: &mut Value, cause: Cause, now: &str) {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if phase == "Succeeded" || phase == "Failed" {
        return;
    }
    pod["status"]["phase"] = json!("Failed");
    if cause == Cause::NodeGone {
        let condition = json!({
            "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
            "message": "PodGC: node no longer exists", "lastTransitionTime": now,
        });
        let conds = pod["status"]["conditions"].as_array_mut();
        match conds {
            Some(c) => {
                c.retain(|c| c["type"] != "DisruptionTarget");
                c.push(condition);
            }
            None => pod["status"]["conditions"] = json!([condition]),
        }
    }
}

fn node_exists(store: &Store, name: &str) -> bool {
    store
        .get_stored(
            &StorageKey::new("", "nodes"),
            &(String::new(), name.to_string()),
        )
        .is_some()
}

fn end(store: &Store, pod: &Value, cause: Cause) {
    let (ns, name, uid) = (meta(pod, "namespace"), meta(pod, "name"), meta(pod, "uid"));
    let now = now_rfc3339();
    let marked = store.mutate_status(&Gvr::pods(), Some(ns), name, |o| {
        if meta(o, "uid") == uid {
            mark_failed(o, cause, &now);
        }
        Ok(())
    });
    let opts = DeleteOptions {
        grace_period_seconds: Some(0),
        precondition_uid: Some(uid.to_string()),
        ..DeleteOptions::default()
    };
    for r in [
        marked.map(|_| ()),
        store
            .delete(&Gvr::pods(), Some(ns), name, &opts)
            .map(|_| ()),
    ] {
        match r {
            Ok(()) => {}
            Err(e) if matches!(e.reason, Reason::NotFound | Reason::Conflict) => return,
            Err(e) => {
                tracing::warn!(error = %e, pod = %name, "pod gc");
                return;
            }
        }
    }
}

/// Runs until the store shuts down (with the control plane), fed by `feed` (a
/// [`Store::feed`]). Event-driven: a pod is looked at when it changes, the pods of a deleted
/// node through the store's node index, and a pod seen on a missing node once more when its
/// quarantine ends; nothing sweeps every pod.
pub async fn run(store: Store, mut feed: mpsc::UnboundedReceiver<StoreEvent>) {
    let mut stop = store.shutdown_signal();
    let pods_sk = StorageKey::new("", "pods");
    // Pods seen bound to a missing node, in the order their quarantine ends.
    let mut quarantine: VecDeque<(Instant, ObjKey)> = VecDeque::new();
    let mut queued: HashSet<ObjKey> = HashSet::new();
    loop {
        let next = quarantine.front().map(|(at, _)| *at);
        tokio::select! {
            ev = feed.recv() => match ev {
                Some(ev) if is_pods(&ev) && ev.event_type != EventType::Deleted => {
                    let pod = &ev.object;
                    match decide(pod, |n| node_exists(&store, n)) {
                        Some(Cause::UnscheduledTerminating) => {
                            end(&store, pod, Cause::UnscheduledTerminating);
                        }
                        Some(Cause::NodeGone) => {
                            let key = (meta(pod, "namespace").to_string(), meta(pod, "name").to_string());
                            if queued.insert(key.clone()) {
                                quarantine.push_back((Instant::now() + QUARANTINE, key));
                            }
                        }
                        None => {}
                    }
                }
                Some(ev) if is_nodes(&ev) && ev.event_type == EventType::Deleted => {
                    let gone = meta(&ev.object, "name");
                    if !node_exists(&store, gone) {
                        for pod in store.pods_on_node(gone) {
                            end(&store, &pod, Cause::NodeGone);
                        }
                    }
                }
                Some(_) => {}
                None => return,
            },
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            } => {
                let now = Instant::now();
                while quarantine.front().is_some_and(|(at, _)| *at <= now) {
                    let Some((_, key)) = quarantine.pop_front() else { break };
                    queued.remove(&key);
                    if let Some((_, pod)) = store.get_stored(&pods_sk, &key)
                        && decide(&pod, |n| node_exists(&store, n)) == Some(Cause::NodeGone)
                    {
                        end(&store, &pod, Cause::NodeGone);
                    }
                }
            }
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: &str, deleting: bool, phase: &str) -> Value {
        let mut p = json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [{"type": "PodScheduled", "status": "True"}]}
        });
        if deleting {
            p["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        }
        p
    }

    #[test]
    fn decides_as_the_pod_gc_controller() {
        let exists = |n: &str| n == "here";
        assert_eq!(
            decide(&pod("", true, "Pending"), exists),
            Some(Cause::UnscheduledTerminating)
        );
        assert_eq!(decide(&pod("", false, "Pending"), exists), None);
        assert_eq!(decide(&pod("here", true, "Running"), exists), None);
        assert_eq!(
            decide(&pod("gone", false, "Running"), exists),
            Some(Cause::NodeGone)
        );
    }

    #[test]
    fn marks_failed_with_the_condition_only_for_orphans() {
        let mut p = pod("", true, "Pending");
        mark_failed(&mut p, Cause::UnscheduledTerminating, "t");
        assert_eq!(p["status"]["phase"], "Failed");
        assert_eq!(p["status"]["conditions"].as_array().unwrap().len(), 1);

        let mut p = pod("gone", true, "Running");
        mark_failed(&mut p, Cause::NodeGone, "t");
        assert_eq!(p["status"]["phase"], "Failed");
        assert_eq!(
            p["status"]["conditions"][1],
            json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                   "message": "PodGC: node no longer exists", "lastTransitionTime": "t"})
        );

        let mut done = pod("gone", true, "Succeeded");
        mark_failed(&mut done, Cause::NodeGone, "t");
        assert_eq!(
            done["status"]["phase"], "Succeeded",
            "an ended pod keeps its phase"
        );
    }
}
