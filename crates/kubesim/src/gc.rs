//! The garbage collector and the namespace controller, as the kube-controller-manager runs them:
//! - dependents whose owners (by uid) are all gone are deleted (Background);
//! - dependents with some owners gone lose the dangling ownerReferences;
//! - an owner with the `orphan` finalizer: its dependents lose their ownerReference to it, then
//!   the finalizer goes;
//! - an owner with the `foregroundDeletion` finalizer: its dependents are deleted, and the
//!   finalizer goes once no dependent with `blockOwnerDeletion` remains;
//! - a terminating namespace: its content is deleted, then the namespace goes.
//!
//! It reacts to the store's lossless feed of changes; it never sweeps the whole store (the
//! owner index, [`Store`]'s uid -> dependents, answers "what depends on this").

pub mod pods;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::resources::Propagation;
use crate::status::Reason;
use crate::store::{DeleteOptions, EventType, ObjKey, StorageKey, Store, StoreEvent};

const MANAGER: &str = "generic-garbage-collector";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Work {
    /// Check the owner with this uid (orphan/foreground finalizers, or gone).
    Owner(String),
    /// Check one object's ownerReferences for owners that are gone.
    Dependent(StorageKey, ObjKey),
    /// A terminating namespace.
    Namespace(String),
}

fn meta<'a>(o: &'a Value, f: &str) -> &'a str {
    o["metadata"][f].as_str().unwrap_or_default()
}

fn owner_refs(o: &Value) -> Vec<Value> {
    o["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn has_finalizer(o: &Value, f: &str) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == f))
}

fn deleting(o: &Value) -> bool {
    o["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

fn is_namespace(sk: &StorageKey) -> bool {
    sk.group.is_empty() && sk.resource == "namespaces"
}

fn work_for(ev: &StoreEvent, out: &mut BTreeSet<Work>) {
    let o = &ev.object;
    let uid = meta(o, "uid").to_string();
    for r in owner_refs(o) {
        if let Some(u) = r["uid"].as_str() {
            // A foreground owner may be waiting for this dependent.
            out.insert(Work::Owner(u.to_string()));
        }
    }
    match ev.event_type {
        EventType::Deleted => {
            out.insert(Work::Owner(uid));
            let ns = meta(o, "namespace");
            if !ns.is_empty() {
                out.insert(Work::Namespace(ns.to_string()));
            }
        }
        EventType::Added | EventType::Modified => {
            if !owner_refs(o).is_empty() {
                let key = (
                    meta(o, "namespace").to_string(),
                    meta(o, "name").to_string(),
                );
                out.insert(Work::Dependent(ev.storage.clone(), key));
            }
            if deleting(o) {
                if has_finalizer(o, "orphan") || has_finalizer(o, "foregroundDeletion") {
                    out.insert(Work::Owner(uid));
                }
                if is_namespace(&ev.storage) {
                    out.insert(Work::Namespace(meta(o, "name").to_string()));
                }
            }
        }
    }
}

/// Runs until the store shuts down, fed by `feed` (a [`Store::feed`] taken before any write
/// it must see). The feed is lossless, so no sweep of the whole store is needed: every change
/// that can make work arrives as an event.
pub async fn run(store: Store, mut feed: mpsc::UnboundedReceiver<StoreEvent>) {
    let mut stop = store.shutdown_signal();
    loop {
        let mut work = BTreeSet::new();
        tokio::select! {
            ev = feed.recv() => match ev {
                Some(ev) => work_for(&ev, &mut work),
                None => return,
            },
            _ = stop.changed() => return,
        }
        // Batch whatever else is queued.
        while let Ok(ev) = feed.try_recv() {
            work_for(&ev, &mut work);
        }
        for w in work {
            process(&store, w);
        }
        if *stop.borrow() {
            return;
        }
    }
}

fn log_err(what: &str, e: crate::status::Error) {
    match e.reason {
        // Raced with another writer or already gone: the next event retries.
        Reason::NotFound | Reason::Conflict => {}
        _ => tracing::warn!(error = %e, "gc: {what}"),
    }
}

fn process(store: &Store, w: Work) {
    match w {
        Work::Owner(uid) => owner(store, &uid),
        Work::Dependent(sk, key) => dependent(store, &sk, &key),
        Work::Namespace(ns) => namespace(store, &ns),
    }
}

fn owner(store: &Store, uid: &str) {
    let Some((info, key, obj)) = store.by_uid(uid) else {
        // Gone: its dependents may now be garbage.
        for (sk, k) in store.dependents_of(uid) {
            dependent(store, &sk, &k);
        }
        return;
    };
    if !deleting(&obj) {
        return;
    }
    let sk = info.storage.clone();
    if has_finalizer(&obj, "orphan") {
        for (dsk, dk) in store.dependents_of(uid) {
            let r = store.mutate_key(&dsk, &dk, MANAGER, |d| {
                if let Some(refs) = d["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"] != uid);
                    if refs.is_empty()
                        && let Some(m) = d["metadata"].as_object_mut()
                    {
                        m.remove("ownerReferences");
                    }
                }
                Ok(())
            });
            if let Err(e) = r {
                log_err("orphaning a dependent", e);
            }
        }
        remove_finalizer(store, &sk, &key, uid, "orphan");
    }
    if has_finalizer(&obj, "foregroundDeletion") {
        let mut blocking = 0;
        for (dsk, dk) in store.dependents_of(uid) {
            let Some((_, d)) = store.get_stored(&dsk, &dk) else {
                continue;
            };
            let blocks = owner_refs(&d)
                .iter()
                .any(|r| r["uid"] == uid && r["blockOwnerDeletion"].as_bool() == Some(true));
            if blocks {
                blocking += 1;
            }
            if !deleting(&d) {
                let has_own = !store.dependents_of(meta(&d, "uid")).is_empty();
                let opts = DeleteOptions {
                    propagation_policy: Some(if has_own {
                        Propagation::Foreground
                    } else {
                        Propagation::Background
                    }),
                    precondition_uid: Some(meta(&d, "uid").to_string()),
                    ..DeleteOptions::default()
                };
                match store.delete_key(&dsk, &dk, &opts) {
                    Ok(crate::store::Deleted::Gone(_)) if blocks => blocking -= 1,
                    Ok(_) => {}
                    Err(e) => log_err("deleting a dependent", e),
                }
            }
        }
        if blocking == 0 {
            remove_finalizer(store, &sk, &key, uid, "foregroundDeletion");
        }
    }
}

fn remove_finalizer(store: &Store, sk: &StorageKey, key: &ObjKey, uid: &str, f: &str) {
    let r = store.mutate_key(sk, key, MANAGER, |o| {
        if meta(o, "uid") != uid {
            return Ok(());
        }
        if let Some(fs) = o["metadata"]["finalizers"].as_array_mut() {
            fs.retain(|x| x != f);
        }
        Ok(())
    });
    if let Err(e) = r {
        log_err("removing a finalizer", e);
    }
}

fn dependent(store: &Store, sk: &StorageKey, key: &ObjKey) {
    let Some((_, d)) = store.get_stored(sk, key) else {
        return;
    };
    let refs = owner_refs(&d);
    if refs.is_empty() {
        return;
    }
    let dangling: Vec<String> = refs
        .iter()
        .filter_map(|r| r["uid"].as_str())
        .filter(|u| !store.uid_exists(u))
        .map(String::from)
        .collect();
    if dangling.is_empty() {
        return;
    }
    let uid = meta(&d, "uid").to_string();
    if dangling.len() == refs.len() {
        if deleting(&d) {
            return;
        }
        let opts = DeleteOptions {
            propagation_policy: Some(Propagation::Background),
            precondition_uid: Some(uid),
            ..DeleteOptions::default()
        };
        if let Err(e) = store.delete_key(sk, key, &opts) {
            log_err("deleting an orphaned dependent", e);
        }
    } else {
        let r = store.mutate_key(sk, key, MANAGER, |o| {
            if meta(o, "uid") != uid {
                return Ok(());
            }
            if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| !dangling.iter().any(|u| r["uid"] == json!(u)));
            }
            Ok(())
        });
        if let Err(e) = r {
            log_err("removing dangling ownerReferences", e);
        }
    }
}

fn namespace(store: &Store, ns: &str) {
    let nsk = StorageKey::new("", "namespaces");
    let Some((_, n)) = store.get_stored(&nsk, &(String::new(), ns.to_string())) else {
        return;
    };
    if !deleting(&n) {
        return;
    }
    let mut remaining = 0;
    for (sk, key, o) in store.namespace_contents(ns) {
        remaining += 1;
        if deleting(&o) {
            continue;
        }
        let opts = DeleteOptions {
            propagation_policy: Some(Propagation::Background),
            precondition_uid: Some(meta(&o, "uid").to_string()),
            ..DeleteOptions::default()
        };
        match store.delete_key(&sk, &key, &opts) {
            Ok(crate::store::Deleted::Gone(_)) => remaining -= 1,
            Ok(crate::store::Deleted::Pending(_)) => {}
            Err(e) => log_err("deleting namespace content", e),
        }
    }
    if remaining == 0
        && let Err(e) = store.finalize_namespace(ns)
    {
        log_err("finalizing a namespace", e);
    }
}
