//! Jobs: the Job controller and the TTL-after-finished controller.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::{ControlPlane, Key, Timer, job_view, meta, not_found, ns_opt, pod_view};
use crate::resources::Propagation;
use crate::selectors::LabelSelector;
use crate::sim::clock::SimTime;
use crate::sim::events::{EventSpec, Regarding};
use crate::sim::job::{self, JobAction};
use crate::sim::ttl::{self, TtlDecision};
use crate::status::Reason;
use crate::store::{DeleteOptions, Gvr, ListOptions, WriteOptions, Written};
impl ControlPlane {
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
        self.list(&Gvr::pods(), &opts)
            .iter()
            .filter_map(|p| pod_view(p).ok())
            .filter(|p| job::is_controlled_by(p, uid))
            .collect()
    }

    pub(super) fn process_job(&mut self, k: &Key) {
        let Ok(v) = self.store.get_shared(&Gvr::jobs(), ns_opt(&k.0), &k.1) else {
            return;
        };
        let Ok(job_obj) = job_view(&v) else {
            tracing::warn!(job = %k.1, "job does not parse; skipped");
            return;
        };
        let uid = meta(&v, "uid").to_string();
        let pods = self.job_pods(&v);
        let memory = self.job_memory.get(&uid).cloned().unwrap_or_default();
        let t = self.now();
        let sync = job::sync_job(&job_obj, &pods, &memory, &t);
        let regarding = Self::regarding(&v, "batch/v1", "Job");
        let ok = self.apply_job_actions(k, &uid, &regarding, &sync.actions);
        self.job_memory.insert(uid.clone(), sync.memory);
        if !ok {
            self.after(Duration::from_millis(50), Timer::Job(k.clone()));
        } else if let Some(d) = sync.requeue_after {
            self.after(d, Timer::Job(k.clone()));
        }
        self.ttl(k, &uid, &t);
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
                    match self
                        .store
                        .create_with(&Gvr::pods(), Some(ns), pv, &WriteOptions::typed())
                    {
                        Ok(Written {
                            object: created, ..
                        }) => {
                            let e = reason(
                                "SuccessfulCreate",
                                format!("Created pod: {}", meta(&created, "name")),
                            );
                            self.emit(&e, regarding);
                        }
                        Err(err) => {
                            let mut e =
                                reason("FailedCreate", format!("Error creating: {}", err.message));
                            e.type_ = crate::sim::events::EventType::Warning;
                            self.emit(&e, regarding);
                            return false;
                        }
                    }
                }
                JobAction::DeletePod(p) => {
                    let opts = DeleteOptions {
                        precondition_uid: Some(p.uid.clone()),
                        ..DeleteOptions::default()
                    };
                    match self.store.delete(&Gvr::pods(), Some(ns), &p.name, &opts) {
                        Ok(_) => {
                            let e = reason("SuccessfulDelete", format!("Deleted pod: {}", p.name));
                            self.emit(&e, regarding);
                        }
                        Err(err) if not_found(&err) => {}
                        Err(err) => {
                            let mut e =
                                reason("FailedDelete", format!("Error deleting: {}", err.message));
                            e.type_ = crate::sim::events::EventType::Warning;
                            self.emit(&e, regarding);
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
                    let Ok(sv) = serde_json::to_value(status) else {
                        return false;
                    };
                    let res = self.write_status(&Gvr::jobs(), Some(ns), name, |o| {
                        if meta(o, "uid") == uid {
                            o["status"] = sv.clone();
                        }
                        Ok(())
                    });
                    if let Err(e) = res {
                        if !not_found(&e) {
                            tracing::warn!(error = %e, job = %name, "job status update");
                        }
                        return false;
                    }
                }
                JobAction::Event(spec) => self.emit(spec, regarding),
            }
        }
        true
    }

    fn ttl(&mut self, k: &Key, uid: &str, t: &SimTime) {
        // Re-read: the sync may just have finished the Job.
        let Ok(v) = self.store.get_shared(&Gvr::jobs(), ns_opt(&k.0), &k.1) else {
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
            TtlDecision::After(d) => self.after(d, Timer::Job(k.clone())),
            TtlDecision::Delete => {
                // As ttlafterfinished_controller.go: Foreground, so the Job goes after its pods.
                let opts = DeleteOptions {
                    propagation_policy: Some(Propagation::Foreground),
                    precondition_uid: Some(uid.to_string()),
                    ..DeleteOptions::default()
                };
                match self.store.delete(&Gvr::jobs(), ns_opt(&k.0), &k.1, &opts) {
                    Ok(_) => {}
                    Err(e) if not_found(&e) || e.reason == Reason::Conflict => {}
                    Err(e) => tracing::warn!(error = %e, job = %k.1, "TTL delete"),
                }
            }
        }
    }
}
