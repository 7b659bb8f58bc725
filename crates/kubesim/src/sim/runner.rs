//! The control plane's loops: each controller runs as its own task, fed from the store and
//! applying the actions of the pure controllers beside it, as in a cluster where the Job
//! controller, the scheduler, every kubelet and the Event expiry are separate processes.
//!
//! One dispatcher task reads the store's lossless feed and hands each change to the loops that
//! care: the Job controller's workers (sharded by Job key, so one Job is synced by one worker
//! at a time), the scheduler, the kubelet workers (sharded by pod key) and the Event expiry.
//! Each loop keeps its own queue of dirty keys and timers (a controller asks to look again
//! after a delay), takes a bounded batch per pass and writes the results through the store.
//! Decisions are idempotent, so the events of a loop's own writes settle after one more pass.

mod expiry;
mod jobs;
mod kubelets;
mod scheduling;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender, error::TryRecvError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::SimConfig;
use super::clock::SimTime;
use super::events::{EventSpec, Regarding};
use crate::status::{Error, Reason};
use crate::store::{EventType, Gvr, ListOptions, Store, StoreEvent, Subresource, WriteOptions};

type Key = (String, String);

/// Keys a loop takes per pass before it lets the other tasks run.
const BATCH: usize = 32;

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

/// Which of `n` workers owns `key`: the same one for the life of the process.
fn shard(key: &Key, n: usize) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % n.max(1) as u64) as usize
}

/// A loop's work: dirty keys in arrival order (each queued once) and timers.
#[derive(Default)]
struct Queue {
    dirty: HashSet<Key>,
    order: VecDeque<Key>,
    timers: BinaryHeap<Reverse<(Instant, u64, Key)>>,
    seq: u64,
}

impl Queue {
    fn add(&mut self, k: Key) {
        if self.dirty.insert(k.clone()) {
            self.order.push_back(k);
        }
    }

    fn after(&mut self, delay: Duration, k: Key) {
        self.seq += 1;
        self.timers
            .push(Reverse((Instant::now() + delay, self.seq, k)));
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while self
            .timers
            .peek()
            .is_some_and(|Reverse((at, _, _))| *at <= now)
        {
            if let Some(Reverse((_, _, k))) = self.timers.pop() {
                self.add(k);
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Up to `n` dirty keys, oldest first; they are no longer dirty.
    fn take(&mut self, n: usize) -> Vec<Key> {
        let n = n.min(self.order.len());
        let batch: Vec<Key> = self.order.drain(..n).collect();
        for k in &batch {
            self.dirty.remove(k);
        }
        batch
    }

    fn is_idle(&self) -> bool {
        self.order.is_empty()
    }
}

/// What every loop shares: the store, the settings and the Event names handed out.
#[derive(Clone)]
struct Base {
    store: Store,
    cfg: SimConfig,
    /// The last Event timestamp used, in nanoseconds: Event names carry it and must be unique
    /// across loops.
    last_event_nanos: Arc<AtomicI64>,
}

impl Base {
    fn now(&self) -> SimTime {
        SimTime::new(Timestamp::now(), self.cfg.time_scale)
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

    /// The Nodes as the scheduler and the kubelets read them.
    fn nodes(&self) -> Vec<Node> {
        self.list(&Gvr::nodes(), &ListOptions::default())
            .iter()
            .filter_map(|n| Node::deserialize(&**n).ok())
            .collect()
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

    /// Replaces the status of `name` with `status`, if it is still the object with `uid`.
    fn replace_status(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        uid: &str,
        status: &impl serde::Serialize,
    ) -> crate::status::Result<()> {
        let sv = serde_json::to_value(status).map_err(|e| Error::internal(e.to_string()))?;
        self.write_status(gvr, namespace, name, |o| {
            if meta(o, "uid") == uid {
                o["status"] = sv.clone();
            }
            Ok(())
        })
    }

    /// Registers the configured Nodes and posts their status, as each node's kubelet does.
    fn ensure_nodes(&self) {
        let t = self.now();
        for (i, n) in self.cfg.nodes.iter().enumerate() {
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
            if let Err(e) = self.write_status(&Gvr::nodes(), None, &n.name, |o| {
                o["status"] = status.clone();
                Ok(())
            }) {
                tracing::error!(error = %e, node = %n.name, "posting node status");
            }
        }
    }

    /// A timestamp no other Event of this control plane has (client-go names events by
    /// nanosecond; several loops can emit within one).
    fn event_time(&self) -> SimTime {
        let mut t = self.now();
        let now = i64::try_from(t.now.as_nanosecond()).unwrap_or(i64::MAX);
        let prev = self
            .last_event_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |last| {
                Some(now.max(last + 1))
            })
            .unwrap_or(now);
        if let Ok(ts) = Timestamp::from_nanosecond(i128::from(now.max(prev + 1))) {
            t.now = ts;
        }
        t
    }

    fn emit(&self, spec: &EventSpec, regarding: &Regarding) {
        let t = self.event_time();
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

/// One controller's loop body; [`drive`] runs it.
trait Controller: Send + 'static {
    /// Marks everything this loop owns dirty (at start; the feed is lossless after that).
    fn resync(&mut self);
    fn on_event(&mut self, e: &StoreEvent);
    /// Called before each batch (e.g. to reread the nodes after they changed).
    fn prepare(&mut self) {}
    fn sync(&mut self, k: &Key);
    fn queue(&mut self) -> &mut Queue;
}

type Feed = UnboundedReceiver<Arc<StoreEvent>>;

/// Spawns `c` as a loop of its own, into `tasks`; the sender feeds it.
fn spawn_loop(
    c: impl Controller,
    store: &Store,
    tasks: &mut Vec<JoinHandle<()>>,
) -> UnboundedSender<Arc<StoreEvent>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tasks.push(tokio::spawn(drive(c, rx, store.shutdown_signal())));
    tx
}

/// Runs one loop until `stop` turns true or its feed ends.
async fn drive<C: Controller>(mut c: C, mut feed: Feed, mut stop: watch::Receiver<bool>) {
    c.resync();
    loop {
        if *stop.borrow() {
            break;
        }
        // Take in every change already queued, then work on one batch.
        loop {
            match feed.try_recv() {
                Ok(e) => c.on_event(&e),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        c.queue().fire_timers();
        c.prepare();
        for k in c.queue().take(BATCH) {
            c.sync(&k);
        }
        if !c.queue().is_idle() {
            tokio::task::yield_now().await;
            continue;
        }
        let next = c.queue().next_timer();
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            ev = feed.recv() => match ev {
                Some(e) => c.on_event(&e),
                None => break,
            },
            _ = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
}

/// Where the dispatcher sends each change.
struct Routes {
    jobs: Vec<UnboundedSender<Arc<StoreEvent>>>,
    scheduler: UnboundedSender<Arc<StoreEvent>>,
    kubelets: Vec<UnboundedSender<Arc<StoreEvent>>>,
    expiry: UnboundedSender<Arc<StoreEvent>>,
}

impl Routes {
    /// Sends `e` to the loops that react to it; false once they are all gone.
    fn route(&self, e: StoreEvent) -> bool {
        let e = Arc::new(e);
        let o = &e.object;
        let mut alive = true;
        let mut send = |tx: &UnboundedSender<Arc<StoreEvent>>| {
            alive &= tx.send(e.clone()).is_ok();
        };
        match (e.storage.group.as_str(), e.storage.resource.as_str()) {
            ("", "pods") => {
                send(&self.scheduler);
                if !meta_node(o).is_empty() {
                    send(&self.kubelets[shard(&key_of(o), self.kubelets.len())]);
                }
                let job = owner_job(o).unwrap_or_else(|| key_of(o));
                send(&self.jobs[shard(&job, self.jobs.len())]);
            }
            ("batch", "jobs") => send(&self.jobs[shard(&key_of(o), self.jobs.len())]),
            ("", "nodes") => {
                send(&self.scheduler);
                self.kubelets.iter().for_each(&mut send);
            }
            ("", "events") if e.event_type != EventType::Modified => send(&self.expiry),
            _ => {}
        }
        alive
    }
}

/// How many workers the Job controller and the kubelet each get: one per core, at least two.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .max(2)
}

/// Starts the simulated control plane: registers the Nodes, then spawns the dispatcher and one
/// task per loop, all stopping when the store shuts down. The store's feed is taken before
/// this returns, so no write is missed.
pub fn spawn(store: &Store, cfg: SimConfig) -> Vec<JoinHandle<()>> {
    let mut feed = store.feed();
    let base = Base {
        store: store.clone(),
        cfg,
        last_event_nanos: Arc::new(AtomicI64::new(0)),
    };
    base.ensure_nodes();
    let mut tasks = Vec::new();
    let n = workers();
    let job_tx = (0..n)
        .map(|i| spawn_loop(jobs::JobWorker::new(base.clone(), i, n), store, &mut tasks))
        .collect();
    let kubelet_tx = (0..n)
        .map(|i| {
            spawn_loop(
                kubelets::KubeletWorker::new(base.clone(), i, n),
                store,
                &mut tasks,
            )
        })
        .collect();
    let sched_tx = spawn_loop(scheduling::Scheduler::new(base.clone()), store, &mut tasks);
    let expiry_tx = spawn_loop(expiry::Expiry::new(base.clone()), store, &mut tasks);
    let routes = Routes {
        jobs: job_tx,
        scheduler: sched_tx,
        kubelets: kubelet_tx,
        expiry: expiry_tx,
    };
    let mut stop = store.shutdown_signal();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
                ev = feed.recv() => match ev {
                    Some(e) => {
                        if !routes.route(e) {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
    }));
    tasks
}

#[cfg(test)]
mod tests;
