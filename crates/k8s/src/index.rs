//! Watch-fed caches of Jobs, their pods and JobTermination records, with O(1) lookup by Batch
//! job ID. Large fields are stripped before anything is stored.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::batch::TerminationPhase;
use crate::record::{JOB_ID_LABEL, JOB_QUEUE_LABEL, JobTermination, KUEUE_QUEUE_LABEL};

mod held;
mod misses;
pub mod views;
mod watches;

pub use held::{HeldTriggers, is_held};
pub use misses::{Miss, Misses};
pub use watches::ALL_NAMESPACES;

/// The Batch job ID of a Job: its `batch-terminator.dev/job-id` label, else its uid.
pub fn job_id(job: &Job) -> Option<String> {
    job.labels()
        .get(JOB_ID_LABEL)
        .filter(|id| !id.is_empty())
        .cloned()
        .or_else(|| job.uid())
}

/// A Job's Batch job queue: Kueue's queue label, else `batch-terminator.dev/job-queue`, else
/// the namespace.
pub fn job_queue(job: &Job) -> String {
    let labels = job.labels();
    labels
        .get(KUEUE_QUEUE_LABEL)
        .or_else(|| labels.get(JOB_QUEUE_LABEL))
        .filter(|q| !q.is_empty())
        .cloned()
        .unwrap_or_else(|| job.namespace().unwrap_or_default())
}

/// The queue of the job a record stands for: the record's `batch-terminator.dev/job-queue`
/// label (copied from the Job when the record is written), else its namespace. It is what
/// lists a cancelled job under its queue once the Job is deleted.
pub fn record_queue(record: &JobTermination) -> String {
    record
        .labels()
        .get(JOB_QUEUE_LABEL)
        .filter(|q| !q.is_empty())
        .cloned()
        .unwrap_or_else(|| record.namespace().unwrap_or_default())
}

/// The uid of the Job that controls a pod, from its controller ownerReference.
pub fn owning_job_uid(pod: &Pod) -> Option<String> {
    pod.owner_references()
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == "Job" && o.api_version == "batch/v1")
        .map(|o| o.uid.clone())
}

/// Namespace and name.
type Key = (String, String);

fn key_of<K: Resource>(obj: &K) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// A secondary index: a derived string (job ID, owner uid, queue) to the keys that have it.
struct Secondary<K> {
    key_of: fn(&K) -> Option<String>,
    keys: HashMap<String, BTreeSet<Key>>,
}

impl<K> Secondary<K> {
    fn new(key_of: fn(&K) -> Option<String>) -> Self {
        Self {
            key_of,
            keys: HashMap::new(),
        }
    }

    fn insert(&mut self, obj: &K, key: &Key) {
        if let Some(ix) = (self.key_of)(obj) {
            self.keys.entry(ix).or_default().insert(key.clone());
        }
    }

    fn remove(&mut self, obj: &K, key: &Key) {
        if let Some(ix) = (self.key_of)(obj)
            && let Some(keys) = self.keys.get_mut(&ix)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.keys.remove(&ix);
            }
        }
    }
}

/// One kind's objects plus secondary indexes: `by` (job ID, owner uid), `by_queue`, and
/// `by_uid` (the uid of the Job an object is or stands for).
struct Cache<K> {
    objects: HashMap<Key, Arc<K>>,
    by: Secondary<K>,
    by_queue: Secondary<K>,
    by_uid: Secondary<K>,
    /// Objects of a relist in progress, per watched namespace ("" = all namespaces).
    relisting: HashMap<String, Vec<K>>,
}

impl<K: Resource> Cache<K> {
    fn new(index_key: fn(&K) -> Option<String>) -> Self {
        Self::with_queue(index_key, |_| None, |_| None)
    }

    fn with_queue(
        index_key: fn(&K) -> Option<String>,
        queue_key: fn(&K) -> Option<String>,
        uid_key: fn(&K) -> Option<String>,
    ) -> Self {
        Self {
            objects: HashMap::new(),
            by: Secondary::new(index_key),
            by_queue: Secondary::new(queue_key),
            by_uid: Secondary::new(uid_key),
            relisting: HashMap::new(),
        }
    }

    fn insert(&mut self, obj: K) {
        let key = key_of(&obj);
        self.remove(&key);
        self.by.insert(&obj, &key);
        self.by_queue.insert(&obj, &key);
        self.by_uid.insert(&obj, &key);
        self.objects.insert(key, Arc::new(obj));
    }

    fn remove(&mut self, key: &Key) -> Option<Arc<K>> {
        let old = self.objects.remove(key)?;
        self.by.remove(&old, key);
        self.by_queue.remove(&old, key);
        self.by_uid.remove(&old, key);
        Some(old)
    }

    /// Applies one watcher event from the watch of `scope` (a namespace, or "" for all).
    /// Returns the objects that changed, for triggering reconciles.
    fn apply(&mut self, scope: &str, event: watcher::Event<K>) -> Vec<Arc<K>> {
        match event {
            watcher::Event::Apply(obj) => {
                let key = key_of(&obj);
                if self
                    .objects
                    .get(&key)
                    .is_some_and(|old| is_older(&obj, old))
                {
                    // The controller stored its own newer write already.
                    return Vec::new();
                }
                self.insert(obj);
                self.objects.get(&key).cloned().into_iter().collect()
            }
            watcher::Event::Delete(obj) => self.remove(&key_of(&obj)).into_iter().collect(),
            watcher::Event::Init => {
                self.relisting.insert(scope.to_string(), Vec::new());
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                self.relisting
                    .entry(scope.to_string())
                    .or_default()
                    .push(obj);
                Vec::new()
            }
            watcher::Event::InitDone => {
                let fresh = self.relisting.remove(scope).unwrap_or_default();
                let stale: Vec<Key> = self
                    .objects
                    .keys()
                    .filter(|(ns, _)| scope.is_empty() || ns == scope)
                    .cloned()
                    .collect();
                let mut changed: Vec<Arc<K>> =
                    stale.iter().filter_map(|k| self.remove(k)).collect();
                for obj in fresh {
                    let key = key_of(&obj);
                    self.insert(obj);
                    changed.extend(self.objects.get(&key).cloned());
                }
                changed
            }
        }
    }

    fn lookup(&self, ix: &str) -> Vec<Arc<K>> {
        self.get_all(&self.by, ix)
    }

    fn in_queue(&self, queue: &str) -> Vec<Arc<K>> {
        self.get_all(&self.by_queue, queue)
    }

    fn with_uid(&self, uid: &str) -> Option<Arc<K>> {
        self.get_all(&self.by_uid, uid).into_iter().next()
    }

    fn get_all(&self, index: &Secondary<K>, ix: &str) -> Vec<Arc<K>> {
        index
            .keys
            .get(ix)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.objects.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// True when `new` is an older version of `old`. resourceVersions are opaque to clients, but
/// every API server in use (etcd's revisions, kubesim) makes them increasing integers; anything
/// else counts as newer.
fn is_older<K: Resource>(new: &K, old: &K) -> bool {
    match (version(new), version(old)) {
        (Some(new), Some(old)) => new < old,
        _ => false,
    }
}

/// An object's resourceVersion as an integer. Versions of one resource compare as integers
/// (KEP-5504: positive, no leading zeros), as every API server in use makes them.
fn version<K: Resource>(obj: &K) -> Option<u64> {
    obj.resource_version()?.parse().ok()
}

/// How far one scope's Job watch has got: every Job write up to `seen` is in the cache.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    seen: u64,
    /// The newest version of a relist in progress; it counts once the relist is applied.
    listing: u64,
}

impl Progress {
    fn note(&mut self, event: &watcher::Event<Job>) {
        let rv = |job: &Job| version(job).unwrap_or(0);
        match event {
            watcher::Event::Apply(job) | watcher::Event::Delete(job) => {
                self.seen = self.seen.max(rv(job))
            }
            watcher::Event::Init => self.listing = 0,
            watcher::Event::InitApply(job) => self.listing = self.listing.max(rv(job)),
            watcher::Event::InitDone => self.seen = self.seen.max(self.listing),
        }
    }
}

/// Everything the API knows about one Batch job at one moment.
#[derive(Debug, Clone, Default)]
pub struct JobEntry {
    pub job: Option<Arc<Job>>,
    pub pods: Vec<Arc<Pod>>,
    pub record: Option<Arc<JobTermination>>,
}

impl JobEntry {
    /// The job's namespace: its Job's, or its record's once the Job is gone.
    pub fn namespace(&self) -> Option<String> {
        self.job
            .as_deref()
            .and_then(|job| job.namespace())
            .or_else(|| self.record.as_deref().and_then(|r| r.namespace()))
    }
}

/// What looking a job ID up found, as seen by a caller who may see some namespaces.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(JobEntry),
    NotFound,
    /// The ID names a job, but only outside the caller's namespaces.
    Outside,
    /// The ID is the label value of Jobs in several of the caller's namespaces (sorted).
    Ambiguous(Vec<String>),
}

struct Caches {
    jobs: Cache<Job>,
    pods: Cache<Pod>,
    records: Cache<JobTermination>,
    /// Last states of pods gone from the cache, per Job (namespace, uid) with an unfinished
    /// record, until the controller keeps them.
    departed: HashMap<Key, Vec<Arc<Pod>>>,
    /// Jobs waiting for their `dependsOn`, and what they wait for.
    held: held::Held,
    /// How far each scope's Job watch has got.
    job_progress: HashMap<String, Progress>,
}

impl Caches {
    /// A Job with its pods and its record.
    fn job_entry(&self, job: Arc<Job>) -> JobEntry {
        let uid = job.uid().unwrap_or_default();
        let ns = job.namespace().unwrap_or_default();
        JobEntry {
            pods: self.pods.lookup(&uid),
            record: self.records.objects.get(&(ns, uid)).cloned(),
            job: Some(job),
        }
    }

    /// A record whose Job is gone.
    fn record_entry(record: Arc<JobTermination>) -> JobEntry {
        JobEntry {
            job: None,
            pods: Vec::new(),
            record: Some(record),
        }
    }

    /// References to the records of these Jobs (namespace, uid) that have one.
    fn records_of(
        &self,
        jobs: impl Iterator<Item = (String, String)>,
    ) -> Vec<ObjectRef<JobTermination>> {
        let keys: BTreeSet<Key> = jobs
            .filter(|key| self.records.objects.contains_key(key))
            .collect();
        keys.into_iter()
            .map(|(ns, uid)| ObjectRef::new(&uid).within(&ns))
            .collect()
    }
}

/// The shared cache. Cheap to clone.
#[derive(Clone)]
pub struct Index {
    caches: Arc<RwLock<Caches>>,
    health: Arc<watches::Health>,
    /// Where the held Jobs to look at again go (see [`Index::send_held_to`]).
    held_tx: Arc<std::sync::OnceLock<HeldTriggers>>,
    /// Ticks after every Job watch event (see [`Index::wait_for_job`], and the misses that
    /// wait for the Job watch to catch up).
    jobs_changed: Arc<tokio::sync::watch::Sender<()>>,
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

impl Index {
    pub fn new() -> Self {
        Self {
            caches: Arc::new(RwLock::new(Caches {
                jobs: Cache::with_queue(job_id, |j| Some(job_queue(j)), |j| j.uid()),
                pods: Cache::new(owning_job_uid),
                records: Cache::with_queue(
                    |r: &JobTermination| Some(r.spec.job_id.clone()),
                    |r| Some(record_queue(r)),
                    |r| Some(r.spec.job_uid.clone()),
                ),
                departed: HashMap::new(),
                held: Default::default(),
                job_progress: HashMap::new(),
            })),
            health: Arc::default(),
            held_tx: Arc::default(),
            jobs_changed: Arc::new(tokio::sync::watch::Sender::new(())),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Caches> {
        // A poisoned lock only means a writer panicked mid-update of plain maps; keep serving.
        self.caches.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Caches> {
        self.caches.write().unwrap_or_else(|e| e.into_inner())
    }

    /// True once every watch has completed its first list (or is refused for good: a
    /// forbidden namespace does not hold the others back).
    pub fn is_synced(&self) -> bool {
        self.health.is_synced()
    }

    /// True while every watch is listed and running: only then does a job ID missing from
    /// the caches mean the job does not exist.
    pub fn is_complete(&self) -> bool {
        self.health.is_complete()
    }

    /// True when the service may take traffic: no watch is listing or failing, except those
    /// refused for good (403, 404), which [`Index::is_complete`] still counts.
    pub fn is_ready(&self) -> bool {
        self.health.is_ready()
    }

    /// The namespaces among those `visible` accepts whose caches are not whole (a watch
    /// listing, failing or refused), sorted; "" ([`ALL_NAMESPACES`]) for a cluster-wide
    /// watch, which concerns every caller. Empty when a miss in the caller's namespaces means
    /// the job is not in the caches' view of the API server.
    pub fn incomplete_namespaces(&self, visible: impl Fn(&str) -> bool) -> Vec<String> {
        self.health.incomplete(visible)
    }

    /// The namespaces watched ("" = all of them), sorted.
    pub fn scopes(&self) -> Vec<String> {
        self.health.scopes()
    }

    /// True when the Job watch of every one of `scopes` has delivered every Job write up to
    /// resourceVersion `rv`.
    pub fn jobs_reached(&self, scopes: &[String], rv: u64) -> bool {
        let caches = self.read();
        scopes
            .iter()
            .all(|scope| caches.job_progress.get(scope).is_some_and(|p| p.seen >= rv))
    }

    /// A receiver that ticks after every Job event.
    pub fn job_events(&self) -> tokio::sync::watch::Receiver<()> {
        self.jobs_changed.subscribe()
    }

    /// Resolves once [`Index::is_synced`].
    pub async fn wait_synced(&self) {
        self.health.wait(|h| h.is_synced()).await
    }

    /// A receiver that sees every change of the watches' health.
    pub fn health_changes(&self) -> tokio::sync::watch::Receiver<()> {
        self.health.subscribe()
    }

    /// Looks a Batch job ID up for a caller who may see the namespaces `visible` accepts: its
    /// Job, the Job's pods and its record; a record alone for a job deleted by a cancel.
    ///
    /// A uid resolves to its Job (or the record of its deleted Job) whatever the labels say,
    /// so no label can shadow it. A label ID resolves only among the caller's namespaces, so
    /// Jobs another tenant labels alike can neither take it over nor make it ambiguous.
    pub fn lookup(&self, id: &str, visible: impl Fn(&str) -> bool) -> Lookup {
        let caches = self.read();
        let by_uid = caches
            .jobs
            .with_uid(id)
            .map(|job| caches.job_entry(job))
            .or_else(|| caches.records.with_uid(id).map(Caches::record_entry));
        let entries: Vec<JobEntry> = match by_uid {
            Some(entry) => vec![entry],
            None => caches
                .jobs
                .lookup(id)
                .into_iter()
                .map(|job| caches.job_entry(job))
                .chain(
                    caches
                        .records
                        .lookup(id)
                        .into_iter()
                        .filter(|r| caches.jobs.with_uid(&r.spec.job_uid).is_none())
                        .map(Caches::record_entry),
                )
                .collect(),
        };
        let any = !entries.is_empty();
        let mut seen: Vec<(String, JobEntry)> = entries
            .into_iter()
            .map(|entry| (entry.namespace().unwrap_or_default(), entry))
            .filter(|(ns, _)| visible(ns))
            .collect();
        match seen.len() {
            0 if any => Lookup::Outside,
            0 => Lookup::NotFound,
            1 => Lookup::Found(seen.remove(0).1),
            _ => {
                let namespaces: BTreeSet<String> = seen.into_iter().map(|(ns, _)| ns).collect();
                Lookup::Ambiguous(namespaces.into_iter().collect())
            }
        }
    }

    /// Every job of a Batch job queue (for ListJobs), from one consistent snapshot: the
    /// queue's Jobs with their pods and records, then the records of the queue whose Job is
    /// gone (jobs deleted by a cancel). Cost: the queue's jobs, not the cluster's.
    pub fn queue(&self, queue: &str) -> Vec<JobEntry> {
        let caches = self.read();
        let mut out: Vec<JobEntry> = caches
            .jobs
            .in_queue(queue)
            .into_iter()
            .map(|job| caches.job_entry(job))
            .collect();
        out.extend(
            caches
                .records
                .in_queue(queue)
                .into_iter()
                .filter(|r| caches.jobs.with_uid(&r.spec.job_uid).is_none())
                .map(Caches::record_entry),
        );
        out
    }

    /// Applies a Job event; returns the records whose Job changed, to reconcile them.
    pub fn apply_job(
        &self,
        scope: &str,
        event: watcher::Event<Job>,
    ) -> Vec<ObjectRef<JobTermination>> {
        let mut caches = self.write();
        caches
            .job_progress
            .entry(scope.to_string())
            .or_default()
            .note(&event);
        let changed = caches.jobs.apply(scope, event);
        self.send_held(caches.held_after_jobs(&changed));
        let records = caches.records_of(
            changed
                .iter()
                .filter_map(|job| Some((job.namespace()?, job.uid()?))),
        );
        drop(caches);
        self.jobs_changed.send_replace(());
        records
    }

    /// Applies a pod event; returns the records whose Job's pods changed. A pod that leaves
    /// the cache (deleted, or missing from a relist) while its Job's record is unfinished is
    /// kept as departed, in its last state, so the controller can keep its exit code.
    pub fn apply_pod(
        &self,
        scope: &str,
        event: watcher::Event<Pod>,
    ) -> Vec<ObjectRef<JobTermination>> {
        let mut caches = self.write();
        let caches = &mut *caches;
        // The DELETED event's object is the pod's last state; a relist leaves only the state
        // last seen.
        let old: Vec<Arc<Pod>> = match &event {
            watcher::Event::Delete(pod) => vec![Arc::new(pod.clone())],
            watcher::Event::InitDone => caches
                .pods
                .objects
                .iter()
                .filter(|((ns, _), _)| scope.is_empty() || ns == scope)
                .map(|(_, pod)| pod.clone())
                .collect(),
            watcher::Event::Apply(_) | watcher::Event::Init | watcher::Event::InitApply(_) => {
                Vec::new()
            }
        };
        let mut changed = caches.pods.apply(scope, event);
        for pod in old {
            if caches.pods.objects.contains_key(&key_of(&*pod)) {
                continue;
            }
            let Some(job_key) = pod.namespace().zip(owning_job_uid(&pod)) else {
                continue;
            };
            let unfinished = caches
                .records
                .objects
                .get(&job_key)
                .is_some_and(|r| !is_finished(r));
            if unfinished {
                let departed = caches.departed.entry(job_key).or_default();
                departed.retain(|p| p.uid() != pod.uid());
                departed.push(pod.clone());
                changed.push(pod);
            }
        }
        caches.records_of(
            changed
                .iter()
                .filter_map(|pod| Some((pod.namespace()?, owning_job_uid(pod)?))),
        )
    }

    /// Applies a record event; returns the record itself, to reconcile it.
    pub fn apply_record(
        &self,
        scope: &str,
        event: watcher::Event<JobTermination>,
    ) -> Vec<ObjectRef<JobTermination>> {
        let mut caches = self.write();
        let deleted = match &event {
            watcher::Event::Delete(r) => Some(key_of(r)),
            _ => None,
        };
        let changed = caches.records.apply(scope, event);
        self.send_held(caches.held_after_records(&changed));
        if let Some(key) = deleted {
            caches.departed.remove(&key);
        }
        changed.iter().map(|r| ObjectRef::from_obj(&**r)).collect()
    }

    /// What the controller needs to decide about one record: the record, its Job (only the
    /// one with the record's uid), the Job's pods, and the pods that left meanwhile.
    pub fn snapshot(&self, namespace: &str, name: &str) -> Option<Snapshot> {
        let caches = self.read();
        let record = caches
            .records
            .objects
            .get(&(namespace.to_string(), name.to_string()))?
            .clone();
        let uid = &record.spec.job_uid;
        let job = caches
            .jobs
            .objects
            .get(&(namespace.to_string(), record.spec.job_name.clone()))
            .filter(|j| j.uid().as_deref() == Some(uid.as_str()))
            .cloned();
        let pods = caches
            .pods
            .lookup(uid)
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(namespace))
            .collect();
        let departed = caches
            .departed
            .get(&(namespace.to_string(), uid.clone()))
            .cloned()
            .unwrap_or_default();
        Some(Snapshot {
            record,
            job,
            pods,
            departed,
        })
    }

    /// Waits up to `within` until the Job with this uid is in the cache, from its watch (so a
    /// DescribeJobs right after the SubmitJob that created it finds it); false if it is not
    /// there by then.
    pub async fn wait_for_job(&self, uid: &str, within: std::time::Duration) -> bool {
        // Subscribed before the first look, so a change between the look and the wait wakes it.
        let mut changes = self.jobs_changed.subscribe();
        let present = || self.read().jobs.with_uid(uid).is_some();
        tokio::time::timeout(within, async {
            while !present() {
                if changes.changed().await.is_err() {
                    return false;
                }
            }
            true
        })
        .await
        .unwrap_or(false)
    }

    /// Stores the Job as this process wrote it, so decisions made before its watch event
    /// arrives see the write.
    pub fn store_job(&self, mut job: Job) {
        watches::strip_job(&mut job);
        let mut caches = self.write();
        let changed = caches.jobs.apply("", watcher::Event::Apply(job));
        // Only to keep the held set true: the write's own watch event wakes what it must.
        caches.held_after_jobs(&changed);
    }

    /// Stores the record as this process wrote it (see [`Index::store_job`]).
    pub fn store_record(&self, mut record: JobTermination) {
        record.managed_fields_mut().clear();
        self.write()
            .records
            .apply("", watcher::Event::Apply(record));
    }

    /// Drops the departed pods of a record's Job once their state is kept in the record.
    pub fn forget_departed(&self, namespace: &str, job_uid: &str) {
        self.write()
            .departed
            .remove(&(namespace.to_string(), job_uid.to_string()));
    }

    /// Every record, to look at each once when this process becomes the leader.
    pub fn record_refs(&self) -> Vec<ObjectRef<JobTermination>> {
        let caches = self.read();
        caches
            .records
            .objects
            .values()
            .map(|r| ObjectRef::from_obj(&**r))
            .collect()
    }
}

/// A finished record (Completed or NoChange) needs no departed pods.
fn is_finished(record: &JobTermination) -> bool {
    matches!(
        record.status.as_ref().and_then(|s| s.phase),
        Some(TerminationPhase::Completed | TerminationPhase::NoChange)
    )
}

/// One record with what the caches hold of its Job.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub record: Arc<JobTermination>,
    pub job: Option<Arc<Job>>,
    pub pods: Vec<Arc<Pod>>,
    /// Pods of the Job that left the cache while the record was unfinished, last state.
    pub departed: Vec<Arc<Pod>>,
}

#[cfg(test)]
mod tests;
