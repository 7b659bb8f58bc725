//! The state under the lock: lookups, resourceVersions, the event log and the indexes every
//! stored change updates.

use std::sync::Arc;

use serde_json::{Value, json};

use super::entry::Entry;
use super::object::{meta_str, owner_uids};
use super::{EventType, Gvr, ObjKey, State, StorageKey, StoreEvent};
use crate::resources::ResourceInfo;
use crate::status::{Error, Reason, Result};

impl State {
    pub(super) fn info(&self, gvr: &Gvr) -> Result<Arc<ResourceInfo>> {
        self.registry.lookup_gvr(gvr).ok_or_else(|| {
            Error::new(
                Reason::NotFound,
                format!(
                    "the server could not find the requested resource ({})",
                    crate::status::qualified(&gvr.group, &gvr.resource)
                ),
            )
        })
    }

    /// The stored entry at `key`: cheap to clone, parsed with [`Entry::value`].
    pub(super) fn entry(&self, sk: &StorageKey, key: &ObjKey) -> Option<&Entry> {
        self.objects.get(sk)?.get(key)
    }

    /// The object at `key`, parsed (or shared) under the lock.
    pub(super) fn get(&self, sk: &StorageKey, key: &ObjKey) -> Option<Arc<Value>> {
        self.entry(sk, key).map(Entry::value)
    }

    pub(super) fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub(super) fn emit(&mut self, ev: StoreEvent) {
        self.log.push_back(ev.clone());
        while self.log.len() > self.log_capacity {
            if let Some(old) = self.log.pop_front() {
                self.oldest = self.oldest.max(old.resource_version);
            }
        }
        self.feeds.retain(|f| f.send(ev.clone()).is_ok());
        // No receivers is fine.
        let _ = self.events.send(ev);
    }

    pub(super) fn index_owners(
        &mut self,
        sk: &StorageKey,
        key: &ObjKey,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let old_uids = old.map(owner_uids).unwrap_or_default();
        let new_uids = new.map(owner_uids).unwrap_or_default();
        let entry = (sk.clone(), key.clone());
        for u in old_uids.iter().filter(|u| !new_uids.contains(u)) {
            if let Some(set) = self.dependents.get_mut(u) {
                set.remove(&entry);
                if set.is_empty() {
                    self.dependents.remove(u);
                }
            }
        }
        for u in new_uids {
            self.dependents.entry(u).or_default().insert(entry.clone());
        }
    }

    /// Keeps [`State::pods_by_node`] in step with a pod's `spec.nodeName`.
    fn index_node(
        &mut self,
        sk: &StorageKey,
        key: &ObjKey,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        if !(sk.group.is_empty() && sk.resource == "pods") {
            return;
        }
        let node = |o: Option<&Value>| {
            o.and_then(|o| o["spec"]["nodeName"].as_str())
                .filter(|n| !n.is_empty())
                .map(str::to_string)
        };
        let (before, after) = (node(old), node(new));
        if before == after {
            return;
        }
        if let Some(n) = before
            && let Some(set) = self.pods_by_node.get_mut(&n)
        {
            set.remove(key);
            if set.is_empty() {
                self.pods_by_node.remove(&n);
            }
        }
        if let Some(n) = after {
            self.pods_by_node.entry(n).or_default().insert(key.clone());
        }
    }

    fn index_labels(
        &mut self,
        sk: &StorageKey,
        key: &ObjKey,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let pairs = |o: Option<&Value>| -> Vec<(String, String)> {
            o.and_then(|o| o["metadata"]["labels"].as_object())
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (before, after) = (pairs(old), pairs(new));
        if before == after {
            return;
        }
        let index = self.labels.entry(sk.clone()).or_default();
        for pair in before.iter().filter(|p| !after.contains(p)) {
            if let Some(set) = index.get_mut(pair) {
                set.remove(key);
                if set.is_empty() {
                    index.remove(pair);
                }
            }
        }
        for pair in after.into_iter().filter(|p| !before.contains(p)) {
            index.entry(pair).or_default().insert(key.clone());
        }
    }

    /// Stores `obj` with a new resourceVersion and emits the event.
    pub(super) fn put(
        &mut self,
        sk: &StorageKey,
        key: ObjKey,
        mut obj: Value,
        previous: Option<Arc<Value>>,
        event_type: EventType,
    ) -> Arc<Value> {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let uid = meta_str(&obj, "uid").to_string();
        self.index_owners(sk, &key, previous.as_deref(), Some(&obj));
        self.index_labels(sk, &key, previous.as_deref(), Some(&obj));
        self.index_node(sk, &key, previous.as_deref(), Some(&obj));
        if !uid.is_empty() {
            self.uids.insert(uid, (sk.clone(), key.clone()));
        }
        let obj = Arc::new(obj);
        self.objects
            .entry(sk.clone())
            .or_default()
            .insert(key, Entry::new(&obj, rv));
        self.emit(StoreEvent {
            event_type,
            storage: sk.clone(),
            object: obj.clone(),
            previous,
            resource_version: rv,
            lines: Arc::default(),
        });
        obj
    }

    /// Removes the object at `key`; `last` is its final state (gets the deletion's rv).
    pub(super) fn remove(&mut self, sk: &StorageKey, key: &ObjKey, mut last: Value) -> Arc<Value> {
        let previous = self
            .objects
            .get_mut(sk)
            .and_then(|m| m.remove(key))
            .map(|e| e.value());
        let rv = self.next_rv();
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.index_owners(sk, key, previous.as_deref(), None);
        self.index_labels(sk, key, previous.as_deref(), None);
        self.index_node(sk, key, previous.as_deref(), None);
        self.uids.remove(meta_str(&last, "uid"));
        // A CRD takes its resource and objects with it.
        if sk.group == "apiextensions.k8s.io" && sk.resource == "customresourcedefinitions" {
            self.drop_crd(&key.1, &last);
        }
        let last = Arc::new(last);
        self.emit(StoreEvent {
            event_type: EventType::Deleted,
            storage: sk.clone(),
            object: last.clone(),
            previous,
            resource_version: rv,
            lines: Arc::default(),
        });
        last
    }
}
