//! Jobs: the Job controller (one worker per shard of Job keys), its release of orphaned
//! tracking finalizers, and the TTL-after-finished controller.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    Base, Controller, Key, Queue, job_view, key_of, meta, not_found, ns_opt, owner_job, pod_view,
    shard,
};
use crate::resources::Propagation;
use crate::selectors::LabelSelector;
use crate::sim::clock::SimTime;
use crate::sim::events::{EventSpec, Regarding};
use crate::sim::job::{self, JobAction, JobMemory, TRACKING_FINALIZER};
use crate::sim::ttl::{self, TtlDecision};
use crate::status::Reason;
use crate::store::{
    DeleteOptions, EventType, Gvr, ListOptions, StoreEvent, Subresource, WriteOptions, Written,
};

/// One worker of the Job controller: it owns the Jobs whose key falls in its shard, and the
/// pods those Jobs control (a pod without a controller Job falls by its own key).
pub(super) struct JobWorker {
    base: Base,
    shard: usize,
    shards: usize,
    queue: Queue,
    /// Pods holding the tracking finalizer, to check for a gone or finished owner.
    orphans: HashSet<Key>,
    memory: HashMap<String, JobMemory>,
    finished_seen: HashMap<String, Timestamp>,
}

fn has_tracking_finalizer(pod: &Value) -> bool {
    pod["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER))
}

impl Controller for JobWorker {
    fn resync(&mut self) {
        for j in self.base.list(&Gvr::jobs(), &ListOptions::default()) {
            let k = key_of(&j);
            if self.owns(&k) {
                self.queue.add(k);
            }
        }
        for p in self.base.list(&Gvr::pods(), &ListOptions::default()) {
            if self.owns(&owner_job(&p).unwrap_or_else(|| key_of(&p))) && has_tracking_finalizer(&p)
            {
                self.orphans.insert(key_of(&p));
            }
        }
    }

    fn on_event(&mut self, e: &StoreEvent) {
        let o = &e.object;
        match e.storage.resource.as_str() {
            "pods" => {
                if e.event_type != EventType::Deleted && has_tracking_finalizer(o) {
                    self.orphans.insert(key_of(o));
                }
                if let Some(j) = owner_job(o) {
                    self.queue.add(j);
                }
            }
            _ => {
                if e.event_type == EventType::Deleted {
                    self.memory.remove(meta(o, "uid"));
                    self.finished_seen.remove(meta(o, "uid"));
                } else {
                    self.queue.add(key_of(o));
                }
            }
        }
    }

    fn prepare(&mut self) {
        for k in std::mem::take(&mut self.orphans) {
            self.release_orphan(&k);
        }
    }

    fn sync(&mut self, k: &Key) {
        self.sync_job(k);
    }

    fn queue(&mut self) -> &mut Queue {
        &mut self.queue
    }
}

impl JobWorker {
    pub(super) fn new(base: Base, shard: usize, shards: usize) -> Self {
        Self {
            base,
            shard,
            shards,
            queue: Queue::default(),
            orphans: HashSet::new(),
            memory: HashMap::new(),
            finished_seen: HashMap::new(),
        }
    }

    fn owns(&self, job: &Key) -> bool {
        shard(job, self.shards) == self.shard
    }

    fn job_pods(&self, j: &Value) -> Vec<Pod> {
        let uid = meta(j, "uid");
        let ns = meta(j, "namespace").to_string();
        // Pods carry the controller-uid label unless the selector is manual.
        let manual = j["spec"]["manualSelector"].as_bool() == Some(true);
        let label_selector = if manual {
            None
        } else {
            LabelSelector::parse(&format!("{}={uid}", job::CONTROLLER_UID_LABEL)).ok()
        };
        let opts = ListOptions {
            namespace: Some(ns),
            label_selector,
            ..ListOptions::default()
        };
        self.base
            .list(&Gvr::pods(), &opts)
            .iter()
            .filter_map(|p| pod_view(p).ok())
            .filter(|p| job::is_controlled_by(p, uid))
            .collect()
    }

    fn sync_job(&mut self, k: &Key) {
        let Ok(v) = self.base.store.get_shared(&Gvr::jobs(), ns_opt(&k.0), &k.1) else {
            return;
        };
        let Ok(job_obj) = job_view(&v) else {
            tracing::warn!(job = %k.1, "job does not parse; skipped");
            return;
        };
        let uid = meta(&v, "uid").to_string();
        let pods = self.job_pods(&v);
        let memory = self.memory.get(&uid).cloned().unwrap_or_default();
        let t = self.base.now();
        let sync = job::sync_job(&job_obj, &pods, &memory, &t);
        let regarding = Base::regarding(&v, "batch/v1", "Job");
        let ok = self.apply_job_actions(k, &uid, &regarding, &sync.actions);
        self.memory.insert(uid.clone(), sync.memory);
        if !ok {
            self.queue.after(Duration::from_millis(50), k.clone());
        } else if let Some(d) = sync.requeue_after {
            self.queue.after(d, k.clone());
        }
        self.ttl(k, &uid, &t);
    }

    /// The orphan worker: a pod whose controller Job is gone, replaced or finished loses its
    /// tracking finalizer.
    fn release_orphan(&self, k: &Key) {
        let Ok(pod) = self.base.store.get_shared(&Gvr::pods(), ns_opt(&k.0), &k.1) else {
            return;
        };
        if !has_tracking_finalizer(&pod) {
            return;
        }
        let owner = pod["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|rs| {
                rs.iter()
                    .find(|r| r["controller"] == json!(true) && r["kind"] == "Job")
                    .map(|r| {
                        (
                            r["name"].as_str().unwrap_or_default(),
                            r["uid"].as_str().unwrap_or_default(),
                        )
                    })
            });
        let orphan = match owner {
            None => true,
            Some((name, uid)) => match self.base.store.get_shared(&Gvr::jobs(), ns_opt(&k.0), name)
            {
                // Only the status decides "finished": no need to parse the whole Job.
                Ok(j) => {
                    meta(&j, "uid") != uid
                        || Option::deserialize(&j["status"]).is_ok_and(|status| {
                            job::is_finished(&Job {
                                status,
                                ..Job::default()
                            })
                        })
                }
                Err(_) => true,
            },
        };
        if orphan {
            self.remove_finalizer(&k.0, &k.1, meta(&pod, "uid"));
        }
    }

    fn remove_finalizer(&self, ns: &str, name: &str, uid: &str) -> bool {
        let res = self
            .base
            .write(&Gvr::pods(), ns_opt(ns), name, Subresource::Main, |o| {
                if meta(o, "uid") != uid {
                    return Ok(());
                }
                if let Some(f) = o["metadata"]["finalizers"].as_array_mut() {
                    f.retain(|x| x != TRACKING_FINALIZER);
                }
                Ok(())
            });
        match res {
            Ok(_) => true,
            Err(e) if not_found(&e) => true,
            Err(e) => {
                tracing::warn!(error = %e, pod = %name, "removing tracking finalizer");
                false
            }
        }
    }

    fn apply_job_actions(
        &mut self,
        k: &Key,
        uid: &str,
        regarding: &Regarding,
        actions: &[JobAction],
    ) -> bool {
        let (ns, name) = (k.0.as_str(), k.1.as_str());
        let reason = |r: &str, m: String| {
            EventSpec::new(
                job::CONTROLLER_NAME,
                crate::sim::events::EventType::Normal,
                r,
                m,
            )
        };
        for action in actions {
            match action {
                JobAction::CreatePod(pod) => {
                    let mut pv = match serde_json::to_value(pod) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::error!(error = %e, "serializing pod");
                            return false;
                        }
                    };
                    pv["apiVersion"] = json!("v1");
                    pv["kind"] = json!("Pod");
                    match self.base.store.create_with(
                        &Gvr::pods(),
                        Some(ns),
                        pv,
                        &WriteOptions::typed(),
                    ) {
                        Ok(Written {
                            object: created, ..
                        }) => {
                            let e = reason(
                                "SuccessfulCreate",
                                format!("Created pod: {}", meta(&created, "name")),
                            );
                            self.base.emit(&e, regarding);
                        }
                        Err(err) => {
                            let mut e =
                                reason("FailedCreate", format!("Error creating: {}", err.message));
                            e.type_ = crate::sim::events::EventType::Warning;
                            self.base.emit(&e, regarding);
                            return false;
                        }
                    }
                }
                JobAction::DeletePod(p) => {
                    let opts = DeleteOptions {
                        precondition_uid: Some(p.uid.clone()),
                        ..DeleteOptions::default()
                    };
                    match self
                        .base
                        .store
                        .delete(&Gvr::pods(), Some(ns), &p.name, &opts)
                    {
                        Ok(_) => {
                            let e = reason("SuccessfulDelete", format!("Deleted pod: {}", p.name));
                            self.base.emit(&e, regarding);
                        }
                        Err(err) if not_found(&err) => {}
                        Err(err) => {
                            let mut e =
                                reason("FailedDelete", format!("Error deleting: {}", err.message));
                            e.type_ = crate::sim::events::EventType::Warning;
                            self.base.emit(&e, regarding);
                            return false;
                        }
                    }
                }
                JobAction::RemoveTrackingFinalizer(p) => {
                    if !self.remove_finalizer(ns, &p.name, &p.uid) {
                        return false;
                    }
                }
                JobAction::UpdateStatus(status) => {
                    let res = self
                        .base
                        .replace_status(&Gvr::jobs(), Some(ns), name, uid, status);
                    if let Err(e) = res {
                        if !not_found(&e) {
                            tracing::warn!(error = %e, job = %name, "job status update");
                        }
                        return false;
                    }
                }
                JobAction::Event(spec) => self.base.emit(spec, regarding),
            }
        }
        true
    }

    fn ttl(&mut self, k: &Key, uid: &str, t: &SimTime) {
        // Re-read: the sync may just have finished the Job.
        let Ok(v) = self.base.store.get_shared(&Gvr::jobs(), ns_opt(&k.0), &k.1) else {
            return;
        };
        if meta(&v, "uid") != uid {
            return;
        }
        let Ok(job_obj) = job_view(&v) else {
            return;
        };
        if job::is_finished(&job_obj) {
            self.finished_seen.entry(uid.to_string()).or_insert(t.now);
        }
        let seen = self.finished_seen.get(uid).copied();
        match ttl::decide(&job_obj, seen, t) {
            TtlDecision::None => {}
            TtlDecision::After(d) => self.queue.after(d, k.clone()),
            TtlDecision::Delete => {
                // As ttlafterfinished_controller.go: Foreground, so the Job goes after its pods.
                let opts = DeleteOptions {
                    propagation_policy: Some(Propagation::Foreground),
                    precondition_uid: Some(uid.to_string()),
                    ..DeleteOptions::default()
                };
                match self
                    .base
                    .store
                    .delete(&Gvr::jobs(), ns_opt(&k.0), &k.1, &opts)
                {
                    Ok(_) => {}
                    Err(e) if not_found(&e) || e.reason == Reason::Conflict => {}
                    Err(e) => tracing::warn!(error = %e, job = %k.1, "TTL delete"),
                }
            }
        }
    }
}
