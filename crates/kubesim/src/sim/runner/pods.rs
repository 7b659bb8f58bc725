//! Pods: the scheduler, the kubelet, and the Job controller's release of orphaned tracking
//! finalizers.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::{ControlPlane, Key, Timer, job_view, meta, not_found, ns_opt, pod_view};
use crate::sim::job::{self, TRACKING_FINALIZER};
use crate::sim::kubelet::{self, KubeletAction};
use crate::sim::scheduler::{self, Decision};
use crate::status::Reason;
use crate::store::{DeleteOptions, Gvr, Subresource};
impl ControlPlane {
    pub(super) fn process_pod(&mut self, k: &Key) {
        let Ok(v) = self.store.get_shared(&Gvr::pods(), ns_opt(&k.0), &k.1) else {
            return;
        };
        let Ok(pod) = pod_view(&v) else {
            tracing::warn!(pod = %k.1, "pod does not parse; skipped");
            return;
        };
        self.release_orphan(&v);
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if node_name.is_empty() {
            self.schedule(&v, &pod);
            return;
        }
        let Some(node) = self
            .nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(node_name.as_str()))
            .cloned()
        else {
            // Bound to a node nobody simulates: it stays as it is, as on a lost node.
            return;
        };
        self.run_kubelet(k, &v, &pod, &node);
    }

    /// The job controller's orphan worker: a pod whose controller Job is gone or finished
    /// loses its tracking finalizer.
    fn release_orphan(&mut self, pod: &Value) {
        let has = pod["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == TRACKING_FINALIZER));
        if !has {
            return;
        }
        let owner_uid = pod["metadata"]["ownerReferences"]
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
        let orphan = match owner_uid {
            None => true,
            Some((name, uid)) => {
                match self
                    .store
                    .get_shared(&Gvr::jobs(), ns_opt(meta(pod, "namespace")), name)
                {
                    Ok(j) => {
                        meta(&j, "uid") != uid || job_view(&j).is_ok_and(|j| job::is_finished(&j))
                    }
                    Err(_) => true,
                }
            }
        };
        if orphan {
            self.remove_finalizer(meta(pod, "namespace"), meta(pod, "name"), meta(pod, "uid"));
        }
    }

    pub(super) fn remove_finalizer(&self, ns: &str, name: &str, uid: &str) -> bool {
        let res = self.write(&Gvr::pods(), ns_opt(ns), name, Subresource::Main, |o| {
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

    fn schedule(&mut self, v: &Value, pod: &Pod) {
        let decision = scheduler::schedule(pod, &self.nodes);
        let t = self.now();
        let Some((cond, event)) = scheduler::outcome(pod, &decision, &t) else {
            return;
        };
        let (ns, name, uid) = (meta(v, "namespace"), meta(v, "name"), meta(v, "uid"));
        if let Decision::Bind { node } = &decision {
            let bound = self.write(&Gvr::pods(), ns_opt(ns), name, Subresource::Main, |o| {
                if meta(o, "uid") == uid
                    && o["spec"]["nodeName"]
                        .as_str()
                        .unwrap_or_default()
                        .is_empty()
                {
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
            self.emit(&event, &Self::regarding(v, "v1", "Pod"));
        }
    }

    fn set_pod_condition(
        &self,
        ns: &str,
        name: &str,
        uid: &str,
        cond: &k8s_openapi::api::core::v1::PodCondition,
    ) -> bool {
        let Ok(c) = serde_json::to_value(cond) else {
            return false;
        };
        let res = self.write_status(&Gvr::pods(), ns_opt(ns), name, |o| {
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

    fn run_kubelet(&mut self, k: &Key, v: &Value, pod: &Pod, node: &Node) {
        let uid = meta(v, "uid").to_string();
        let memory = self.pod_memory.get(&uid).cloned().unwrap_or_default();
        let t = self.now();
        let step = kubelet::step(pod, node, &memory, &t, &self.kubelet);
        self.pod_memory.insert(uid.clone(), step.memory.clone());
        let (ns, name) = (k.0.as_str(), k.1.as_str());
        for action in &step.actions {
            match action {
                KubeletAction::UpdateStatus(status) => {
                    let Ok(sv) = serde_json::to_value(status) else {
                        continue;
                    };
                    let res = self.write_status(&Gvr::pods(), ns_opt(ns), name, |o| {
                        if meta(o, "uid") == uid {
                            o["status"] = sv.clone();
                        }
                        Ok(())
                    });
                    if let Err(e) = res {
                        if !not_found(&e) {
                            tracing::warn!(error = %e, pod = %name, "kubelet status update");
                            self.after(Duration::from_millis(50), Timer::Pod(k.clone()));
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
                    match self.store.delete(&Gvr::pods(), ns_opt(ns), name, &opts) {
                        Ok(_) => {}
                        Err(e) if not_found(&e) || e.reason == Reason::Conflict => {}
                        Err(e) => tracing::warn!(error = %e, pod = %name, "kubelet final delete"),
                    }
                }
                KubeletAction::Event(spec) => self.emit(spec, &Self::regarding(v, "v1", "Pod")),
            }
        }
        if let Some(d) = step.requeue_after {
            self.after(d, Timer::Pod(k.clone()));
        }
    }
}
