//! The scheduler's loop: binds pods without a node, and gives unschedulable ones another try
//! when the nodes change.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use serde_json::{Value, json};

use super::{Base, Controller, Key, Queue, key_of, meta, meta_node, not_found, ns_opt, pod_view};
use crate::sim::scheduler::{self, Decision};
use crate::store::{EventType, Gvr, ListOptions, StoreEvent, Subresource};

pub(super) struct Scheduler {
    base: Base,
    queue: Queue,
    nodes: Vec<Node>,
    nodes_changed: bool,
    /// Pods not bound to a node: they get another try when nodes change.
    unscheduled: HashSet<Key>,
}

impl Controller for Scheduler {
    fn resync(&mut self) {
        self.nodes_changed = true;
        for p in self.base.list(&Gvr::pods(), &ListOptions::default()) {
            self.track(&p, false);
        }
    }

    fn on_event(&mut self, e: &StoreEvent) {
        if e.storage.resource == "nodes" {
            self.nodes_changed = true;
        } else {
            self.track(&e.object, e.event_type == EventType::Deleted);
        }
    }

    fn prepare(&mut self) {
        if !self.nodes_changed {
            return;
        }
        self.nodes_changed = false;
        self.nodes = self.base.nodes();
        for k in self.unscheduled.clone() {
            self.queue.add(k);
        }
    }

    fn sync(&mut self, k: &Key) {
        let Ok(v) = self.base.store.get_shared(&Gvr::pods(), ns_opt(&k.0), &k.1) else {
            return;
        };
        if !meta_node(&v).is_empty() {
            return;
        }
        let Ok(pod) = pod_view(&v) else {
            tracing::warn!(pod = %k.1, "pod does not parse; skipped");
            return;
        };
        self.schedule(&v, &pod);
    }

    fn queue(&mut self) -> &mut Queue {
        &mut self.queue
    }
}

impl Scheduler {
    pub(super) fn new(base: Base) -> Self {
        Self {
            base,
            queue: Queue::default(),
            nodes: Vec::new(),
            nodes_changed: true,
            unscheduled: HashSet::new(),
        }
    }

    /// Keeps [`Scheduler::unscheduled`] in step with a pod's state, and queues pods to bind.
    fn track(&mut self, pod: &Value, deleted: bool) {
        let key = key_of(pod);
        if !deleted && meta_node(pod).is_empty() {
            self.unscheduled.insert(key.clone());
            self.queue.add(key);
        } else {
            self.unscheduled.remove(&key);
        }
    }

    fn schedule(&mut self, v: &Value, pod: &Pod) {
        let decision = scheduler::schedule(pod, &self.nodes);
        let t = self.base.now();
        let Some((cond, event)) = scheduler::outcome(pod, &decision, &t) else {
            return;
        };
        let (ns, name, uid) = (meta(v, "namespace"), meta(v, "name"), meta(v, "uid"));
        if let Decision::Bind { node } = &decision {
            let bound = self
                .base
                .write(&Gvr::pods(), ns_opt(ns), name, Subresource::Main, |o| {
                    if meta(o, "uid") == uid && meta_node(o).is_empty() {
                        o["spec"]["nodeName"] = json!(node);
                    }
                    Ok(())
                });
            if let Err(e) = bound {
                if !not_found(&e) {
                    tracing::warn!(error = %e, pod = %name, "binding pod");
                }
                return;
            }
        } else if scheduler::has_condition(pod, &cond) {
            return;
        }
        if self.set_pod_condition(ns, name, uid, &cond) {
            self.base.emit(&event, &Base::regarding(v, "v1", "Pod"));
        }
    }

    fn set_pod_condition(&self, ns: &str, name: &str, uid: &str, cond: &PodCondition) -> bool {
        let Ok(c) = serde_json::to_value(cond) else {
            return false;
        };
        let res = self.base.write_status(&Gvr::pods(), ns_opt(ns), name, |o| {
            if meta(o, "uid") != uid {
                return Ok(());
            }
            if !o["status"].is_object() {
                o["status"] = json!({});
            }
            if o["status"]["phase"].is_null() {
                o["status"]["phase"] = json!("Pending");
            }
            let conds = o["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut conds: Vec<Value> = conds
                .into_iter()
                .filter(|x| x["type"] != c["type"])
                .collect();
            conds.push(c.clone());
            o["status"]["conditions"] = json!(conds);
            Ok(())
        });
        match res {
            Ok(_) => true,
            Err(e) => {
                if !not_found(&e) {
                    tracing::warn!(error = %e, pod = %name, "writing pod condition");
                }
                false
            }
        }
    }
}
