//! The kubelets' loop, one worker per shard of pod keys: runs bound pods' containers, reports
//! their status and finishes graceful deletions.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;

use super::{
    Base, Controller, Key, Queue, key_of, meta, meta_node, not_found, ns_opt, pod_view, shard,
};
use crate::sim::kubelet::{self, KubeletAction, KubeletConfig, PodMemory};
use crate::status::Reason;
use crate::store::{DeleteOptions, EventType, Gvr, ListOptions, StoreEvent};

pub(super) struct KubeletWorker {
    base: Base,
    shard: usize,
    shards: usize,
    cfg: KubeletConfig,
    queue: Queue,
    nodes: Vec<Node>,
    nodes_changed: bool,
    memory: HashMap<String, PodMemory>,
}

impl Controller for KubeletWorker {
    fn resync(&mut self) {
        self.nodes_changed = true;
        for p in self.base.list(&Gvr::pods(), &ListOptions::default()) {
            let k = key_of(&p);
            if !meta_node(&p).is_empty() && shard(&k, self.shards) == self.shard {
                self.queue.add(k);
            }
        }
    }

    fn on_event(&mut self, e: &StoreEvent) {
        let o = &e.object;
        if e.storage.resource == "nodes" {
            self.nodes_changed = true;
        } else if e.event_type == EventType::Deleted {
            self.memory.remove(meta(o, "uid"));
        } else {
            self.queue.add(key_of(o));
        }
    }

    fn prepare(&mut self) {
        if self.nodes_changed {
            self.nodes_changed = false;
            self.nodes = self.base.nodes();
        }
    }

    fn sync(&mut self, k: &Key) {
        let Ok(v) = self.base.store.get_shared(&Gvr::pods(), ns_opt(&k.0), &k.1) else {
            return;
        };
        let node_name = meta_node(&v);
        // Bound to a node nobody simulates: it stays as it is, as on a lost node.
        let Some(node) = self
            .nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(node_name))
            .cloned()
        else {
            return;
        };
        let Ok(pod) = pod_view(&v) else {
            tracing::warn!(pod = %k.1, "pod does not parse; skipped");
            return;
        };
        self.run(k, &v, &pod, &node);
    }

    fn queue(&mut self) -> &mut Queue {
        &mut self.queue
    }
}

impl KubeletWorker {
    pub(super) fn new(base: Base, shard: usize, shards: usize) -> Self {
        Self {
            cfg: KubeletConfig {
                start_delay: base.cfg.start_delay,
            },
            base,
            shard,
            shards,
            queue: Queue::default(),
            nodes: Vec::new(),
            nodes_changed: true,
            memory: HashMap::new(),
        }
    }

    fn run(&mut self, k: &Key, v: &Value, pod: &Pod, node: &Node) {
        let uid = meta(v, "uid").to_string();
        let memory = self.memory.get(&uid).cloned().unwrap_or_default();
        let t = self.base.now();
        let step = kubelet::step(pod, node, &memory, &t, &self.cfg);
        self.memory.insert(uid.clone(), step.memory.clone());
        let (ns, name) = (k.0.as_str(), k.1.as_str());
        for action in &step.actions {
            match action {
                KubeletAction::UpdateStatus(status) => {
                    let res =
                        self.base
                            .replace_status(&Gvr::pods(), ns_opt(ns), name, &uid, status);
                    if let Err(e) = res {
                        if !not_found(&e) {
                            tracing::warn!(error = %e, pod = %name, "kubelet status update");
                            self.queue.after(Duration::from_millis(50), k.clone());
                        }
                        return;
                    }
                }
                KubeletAction::Remove => {
                    let opts = DeleteOptions {
                        grace_period_seconds: Some(0),
                        precondition_uid: Some(uid.clone()),
                        ..DeleteOptions::default()
                    };
                    match self
                        .base
                        .store
                        .delete(&Gvr::pods(), ns_opt(ns), name, &opts)
                    {
                        Ok(_) => {}
                        Err(e) if not_found(&e) || e.reason == Reason::Conflict => {}
                        Err(e) => tracing::warn!(error = %e, pod = %name, "kubelet final delete"),
                    }
                }
                KubeletAction::Event(spec) => {
                    self.base.emit(spec, &Base::regarding(v, "v1", "Pod"))
                }
            }
        }
        if let Some(d) = step.requeue_after {
            self.queue.after(d, k.clone());
        }
    }
}
