//! The control plane's loop: feeds the pure controllers from the store and applies their
//! actions.
//!
//! One task owns every controller. Store events mark objects dirty (a pod event also marks its
//! Job, a node event every unscheduled pod); controllers ask to look again after a delay
//! through timers. Each pass takes the dirty objects, runs the controllers on their current
//! state and writes the results back through the store. Decisions are idempotent, so the
//! events of the controllers' own writes settle after one more pass.

mod expiry;
mod jobs;
mod pods;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::sync::watch;
use tokio::time::Instant;

use super::SimConfig;
use super::clock::SimTime;
use super::events::{EventExpiry, EventSpec, Regarding};
use super::job::JobMemory;
use super::kubelet::{KubeletConfig, PodMemory};
use crate::status::{Error, Reason};
use crate::store::{EventType, Gvr, ListOptions, Store, StoreEvent, Subresource, WriteOptions};

type Key = (String, String);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Timer {
    Job(Key),
    Pod(Key),
    Event(Key),
}

fn meta<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or_default()
}

fn key_of(o: &Value) -> Key {
    (
        meta(o, "namespace").to_string(),
        meta(o, "name").to_string(),
    )
}

fn meta_node(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or_default()
}

fn ns_opt(ns: &str) -> Option<&str> {
    (!ns.is_empty()).then_some(ns)
}

fn not_found(e: &Error) -> bool {
    e.reason == Reason::NotFound
}

/// `metadata` without its managedFields: no controller reads them, and they are most of an
/// object's metadata to parse.
fn object_meta(v: &Value) -> serde_json::Result<ObjectMeta> {
    let m: serde_json::Map<String, Value> = v["metadata"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "managedFields")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ObjectMeta::deserialize(&Value::Object(m))
}

/// A stored pod as the controllers read it (see [`object_meta`]).
fn pod_view(v: &Value) -> serde_json::Result<Pod> {
    Ok(Pod {
        metadata: object_meta(v)?,
        spec: Option::deserialize(&v["spec"])?,
        status: Option::deserialize(&v["status"])?,
    })
}

/// A stored Job as the controllers read it (see [`object_meta`]).
fn job_view(v: &Value) -> serde_json::Result<Job> {
    Ok(Job {
        metadata: object_meta(v)?,
        spec: Option::deserialize(&v["spec"])?,
        status: Option::deserialize(&v["status"])?,
    })
}

/// The controller Job of a pod, as (namespace, name).
fn owner_job(pod: &Value) -> Option<Key> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true) && r["kind"] == "Job")
        .map(|r| {
            (
                meta(pod, "namespace").to_string(),
                r["name"].as_str().unwrap_or_default().to_string(),
            )
        })
}

struct ControlPlane {
    store: Store,
    cfg: SimConfig,
    kubelet: KubeletConfig,
    expiry: EventExpiry,
    nodes: Vec<Node>,
    dirty_jobs: HashSet<Key>,
    dirty_pods: HashSet<Key>,
    dirty_events: HashSet<Key>,
    nodes_changed: bool,
    /// Pods not bound to a node: they get another try when nodes change.
    unscheduled: HashSet<Key>,
    timers: BinaryHeap<Reverse<(Instant, u64, Timer)>>,
    seq: u64,
    job_memory: HashMap<String, JobMemory>,
    pod_memory: HashMap<String, PodMemory>,
    finished_seen: HashMap<String, Timestamp>,
    event_created: HashMap<Key, Timestamp>,
    last_event_nanos: i128,
}

impl ControlPlane {
    fn new(store: Store, cfg: SimConfig) -> Self {
        Self {
            store,
            kubelet: KubeletConfig {
                start_delay: cfg.start_delay,
            },
            expiry: EventExpiry { ttl: cfg.event_ttl },
            cfg,
            nodes: Vec::new(),
            dirty_jobs: HashSet::new(),
            dirty_pods: HashSet::new(),
            dirty_events: HashSet::new(),
            nodes_changed: true,
            unscheduled: HashSet::new(),
            timers: BinaryHeap::new(),
            seq: 0,
            job_memory: HashMap::new(),
            pod_memory: HashMap::new(),
            finished_seen: HashMap::new(),
            event_created: HashMap::new(),
            last_event_nanos: 0,
        }
    }

    fn now(&self) -> SimTime {
        SimTime::new(Timestamp::now(), self.cfg.time_scale)
    }

    fn after(&mut self, delay: Duration, timer: Timer) {
        self.seq += 1;
        let at = Instant::now() + delay;
        self.timers.push(Reverse((at, self.seq, timer)));
    }

    /// The matches as stored (shared, not copied).
    fn list(&self, gvr: &Gvr, opts: &ListOptions) -> Vec<Arc<Value>> {
        match self.store.list_shared(gvr, opts) {
            Ok(items) => items,
            Err(e) => {
                tracing::warn!(error = %e, resource = %gvr.resource, "control plane list failed");
                Vec::new()
            }
        }
    }

    /// A read-modify-write by a simulated controller. Its edits are values serialized from
    /// k8s-openapi types on objects the store already checked ([`WriteOptions::typed`]); the
    /// result is not copied out.
    fn write<F>(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        sub: Subresource,
        f: F,
    ) -> crate::status::Result<()>
    where
        F: FnMut(&mut Value) -> crate::status::Result<()>,
    {
        self.store
            .mutate_with(gvr, namespace, name, sub, &WriteOptions::typed(), f)
            .map(drop)
    }

    fn write_status<F>(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        f: F,
    ) -> crate::status::Result<()>
    where
        F: FnMut(&mut Value) -> crate::status::Result<()>,
    {
        self.write(gvr, namespace, name, Subresource::Status, f)
    }

    fn ensure_nodes(&mut self) {
        let t = self.now();
        for (i, n) in self.cfg.nodes.clone().iter().enumerate() {
            let mut v = match serde_json::to_value(n.to_node(i, &t)) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "serializing node");
                    continue;
                }
            };
            v["apiVersion"] = json!("v1");
            v["kind"] = json!("Node");
            let status = v["status"].take();
            match self
                .store
                .create_with(&Gvr::nodes(), None, v, &WriteOptions::typed())
            {
                Ok(_) => {}
                Err(e) if e.reason == Reason::AlreadyExists => continue,
                Err(e) => {
                    tracing::error!(error = %e, node = %n.name, "creating node");
                    continue;
                }
            }
            // As a kubelet does: register the Node, then post its status.
            if let Err(e) = self.write_status(&Gvr::nodes(), None, &n.name, |o| {
                o["status"] = status.clone();
                Ok(())
            }) {
                tracing::error!(error = %e, node = %n.name, "posting node status");
            }
        }
    }

    /// Marks everything dirty (at start; the feed is lossless after that).
    fn resync_all(&mut self) {
        self.nodes_changed = true;
        for j in self.list(&Gvr::jobs(), &ListOptions::default()) {
            self.dirty_jobs.insert(key_of(&j));
        }
        for p in self.list(&Gvr::pods(), &ListOptions::default()) {
            self.track_unscheduled(&p, false);
            self.dirty_pods.insert(key_of(&p));
        }
        for e in self.list(&Gvr::events(), &ListOptions::default()) {
            self.dirty_events.insert(key_of(&e));
        }
    }

    /// Keeps [`ControlPlane::unscheduled`] in step with a pod's state.
    fn track_unscheduled(&mut self, pod: &Value, deleted: bool) {
        let key = key_of(pod);
        if !deleted && meta_node(pod).is_empty() {
            self.unscheduled.insert(key);
        } else {
            self.unscheduled.remove(&key);
        }
    }

    fn on_event(&mut self, e: &StoreEvent) {
        let o = &e.object;
        match (e.storage.group.as_str(), e.storage.resource.as_str()) {
            ("", "pods") => {
                self.track_unscheduled(o, e.event_type == EventType::Deleted);
                if e.event_type == EventType::Deleted {
                    self.pod_memory.remove(meta(o, "uid"));
                } else {
                    self.dirty_pods.insert(key_of(o));
                }
                if let Some(j) = owner_job(o) {
                    self.dirty_jobs.insert(j);
                }
            }
            ("batch", "jobs") => {
                if e.event_type == EventType::Deleted {
                    self.job_memory.remove(meta(o, "uid"));
                    self.finished_seen.remove(meta(o, "uid"));
                } else {
                    self.dirty_jobs.insert(key_of(o));
                }
            }
            ("", "nodes") => self.nodes_changed = true,
            ("", "events") => match e.event_type {
                EventType::Added => {
                    self.dirty_events.insert(key_of(o));
                }
                EventType::Deleted => {
                    self.event_created.remove(&key_of(o));
                }
                EventType::Modified => {}
            },
            _ => {}
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, _, timer))) = self.timers.pop() else {
                break;
            };
            match timer {
                Timer::Job(k) => self.dirty_jobs.insert(k),
                Timer::Pod(k) => self.dirty_pods.insert(k),
                Timer::Event(k) => self.dirty_events.insert(k),
            };
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    fn process(&mut self) {
        if self.nodes_changed {
            self.nodes_changed = false;
            self.nodes = self
                .list(&Gvr::nodes(), &ListOptions::default())
                .iter()
                .filter_map(|n| Node::deserialize(&**n).ok())
                .collect();
            // Unschedulable pods get another try.
            self.dirty_pods.extend(self.unscheduled.iter().cloned());
        }
        // Bounded rounds: the writes of one round dirty objects for the next via events, which
        // the caller drains; this loop only empties what is already marked.
        let pods: Vec<Key> = self.dirty_pods.drain().collect();
        for k in pods {
            self.process_pod(&k);
        }
        let jobs: Vec<Key> = self.dirty_jobs.drain().collect();
        for k in jobs {
            self.process_job(&k);
        }
        let events: Vec<Key> = self.dirty_events.drain().collect();
        for k in events {
            self.process_event(&k);
        }
    }

    fn emit(&mut self, spec: &EventSpec, regarding: &Regarding) {
        let mut t = self.now();
        // Unique names: client-go names events by nanosecond, several can share one here.
        let nanos = t.now.as_nanosecond().max(self.last_event_nanos + 1);
        self.last_event_nanos = nanos;
        if let Ok(ts) = Timestamp::from_nanosecond(nanos) {
            t.now = ts;
        }
        let mut v = match serde_json::to_value(spec.to_event(regarding, &t)) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "serializing event");
                return;
            }
        };
        v["apiVersion"] = json!("v1");
        v["kind"] = json!("Event");
        let ns = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        if let Err(e) = self
            .store
            .create_with(&Gvr::events(), Some(&ns), v, &WriteOptions::typed())
        {
            // A namespace being deleted refuses new events; nothing to do about it.
            tracing::debug!(error = %e, reason = %spec.reason, "recording event");
        }
    }

    fn regarding(o: &Value, api_version: &str, kind: &str) -> Regarding {
        Regarding {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: ns_opt(meta(o, "namespace")).map(str::to_string),
            name: meta(o, "name").to_string(),
            uid: meta(o, "uid").to_string(),
            resource_version: Some(meta(o, "resourceVersion").to_string()),
        }
    }
}

/// Runs the simulated control plane until `stop` turns true, fed by `events` (a
/// [`Store::feed`]).
pub async fn run(
    store: Store,
    mut events: mpsc::UnboundedReceiver<StoreEvent>,
    mut stop: watch::Receiver<bool>,
    cfg: SimConfig,
) {
    let mut cp = ControlPlane::new(store, cfg);
    cp.ensure_nodes();
    cp.resync_all();
    loop {
        if *stop.borrow() {
            break;
        }
        // Take in every event already queued, then work.
        loop {
            match events.try_recv() {
                Ok(e) => cp.on_event(&e),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        cp.fire_timers();
        cp.process();
        let next = cp.next_timer();
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            ev = events.recv() => match ev {
                Some(e) => cp.on_event(&e),
                None => break,
            },
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            } => cp.fire_timers(),
        }
    }
}
