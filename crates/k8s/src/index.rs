//! Watch-fed caches of Jobs, their pods and JobTermination records, with O(1) lookup by Batch
//! job ID. Large fields are stripped before anything is stored.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use futures::{Stream, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::{Notify, mpsc};

use crate::record::{
    ATTEMPT_FINALIZER, JOB_ID_LABEL, JOB_QUEUE_LABEL, JobTermination, KUEUE_QUEUE_LABEL,
};

pub mod views;

/// Label the Job controller puts on every pod it creates; only those pods are watched.
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";

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
        jobs.filter(|key| self.records.objects.contains_key(key))
            .map(|(ns, uid)| ObjectRef::new(&uid).within(&ns))
            .collect()
    }
}

/// The shared cache. Cheap to clone.
#[derive(Clone)]
pub struct Index {
    caches: Arc<RwLock<Caches>>,
    synced: Arc<AtomicUsize>,
    streams: Arc<AtomicUsize>,
    synced_notify: Arc<Notify>,
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
            })),
            synced: Arc::new(AtomicUsize::new(0)),
            streams: Arc::new(AtomicUsize::new(0)),
            synced_notify: Arc::new(Notify::new()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Caches> {
        // A poisoned lock only means a writer panicked mid-update of plain maps; keep serving.
        self.caches.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Caches> {
        self.caches.write().unwrap_or_else(|e| e.into_inner())
    }

    /// True once every watch has completed its first list.
    pub fn is_synced(&self) -> bool {
        let streams = self.streams.load(Ordering::SeqCst);
        streams > 0 && self.synced.load(Ordering::SeqCst) >= streams
    }

    pub async fn wait_synced(&self) {
        loop {
            let notified = self.synced_notify.notified();
            if self.is_synced() {
                return;
            }
            notified.await;
        }
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
        let changed = caches.jobs.apply(scope, event);
        caches.records_of(
            changed
                .iter()
                .filter_map(|job| Some((job.namespace()?, job.uid()?))),
        )
    }

    /// Applies a pod event; returns the records whose Job's pods changed.
    pub fn apply_pod(
        &self,
        scope: &str,
        event: watcher::Event<Pod>,
    ) -> Vec<ObjectRef<JobTermination>> {
        let mut caches = self.write();
        let changed = caches.pods.apply(scope, event);
        caches.records_of(
            changed
                .iter()
                .filter_map(|pod| Some((pod.namespace()?, owning_job_uid(pod)?))),
        )
    }

    /// Pods that carry the attempt finalizer although no record holds them any more (the
    /// record was deleted by hand): nothing else would ever let them go.
    pub fn orphaned_held_pods(&self) -> Vec<Arc<Pod>> {
        let caches = self.read();
        caches
            .pods
            .objects
            .values()
            .filter(|pod| pod.finalizers().iter().any(|f| f == ATTEMPT_FINALIZER))
            .filter(|pod| {
                let key = (
                    pod.namespace().unwrap_or_default(),
                    owning_job_uid(pod).unwrap_or_default(),
                );
                !caches.records.objects.contains_key(&key)
            })
            .cloned()
            .collect()
    }

    pub fn apply_record(&self, scope: &str, event: watcher::Event<JobTermination>) {
        self.write().records.apply(scope, event);
    }

    fn mark_synced(&self) {
        self.synced.fetch_add(1, Ordering::SeqCst);
        self.synced_notify.notify_waiters();
    }

    /// Starts the watches that feed the index: one per kind and namespace (all namespaces when
    /// `namespaces` is empty). Changes to Jobs and pods that have a record are sent on `triggers`
    /// so the controller reconciles that record. Returns the tasks, which run until aborted.
    pub fn spawn_watches(
        &self,
        client: Client,
        namespaces: &[String],
        triggers: mpsc::UnboundedSender<ObjectRef<JobTermination>>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let scopes = match namespaces {
            [] => vec![String::new()],
            some => some.to_vec(),
        };
        let mut tasks = Vec::new();
        for scope in scopes {
            self.streams.fetch_add(3, Ordering::SeqCst);
            let forward = |refs: Vec<ObjectRef<JobTermination>>, tx: &mpsc::UnboundedSender<_>| {
                for r in refs {
                    // The controller is gone only during shutdown.
                    let _ = tx.send(r);
                }
            };

            let jobs =
                watcher(scoped(&client, &scope), watcher::Config::default()).modify(strip_job);
            let (index, s, tx) = (self.clone(), scope.clone(), triggers.clone());
            tasks.push(tokio::spawn(self.clone().drive("jobs", jobs, move |e| {
                forward(index.apply_job(&s, e), &tx)
            })));

            let pods_config = watcher::Config::default().labels(CONTROLLER_UID_LABEL);
            let pods = watcher(scoped(&client, &scope), pods_config).modify(strip_pod);
            let (index, s, tx) = (self.clone(), scope.clone(), triggers.clone());
            tasks.push(tokio::spawn(self.clone().drive("pods", pods, move |e| {
                forward(index.apply_pod(&s, e), &tx)
            })));

            let records = watcher(scoped(&client, &scope), watcher::Config::default())
                .modify(|r: &mut JobTermination| r.managed_fields_mut().clear());
            let (index, s) = (self.clone(), scope.clone());
            tasks.push(tokio::spawn(self.clone().drive(
                "records",
                records,
                move |e| index.apply_record(&s, e),
            )));
        }
        tasks
    }

    /// Runs one watch stream into `apply`, with backoff on errors, counting its first full list.
    async fn drive<K, S>(
        self,
        kind: &'static str,
        stream: S,
        mut apply: impl FnMut(watcher::Event<K>),
    ) where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    {
        let mut first_sync = true;
        let stream = stream.default_backoff();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    let done = matches!(event, watcher::Event::InitDone);
                    apply(event);
                    if done && first_sync {
                        first_sync = false;
                        self.mark_synced();
                    }
                }
                Err(error) => tracing::warn!(kind, %error, "watch failed; retrying with backoff"),
            }
        }
    }
}

/// An Api over one namespace, or all of them for the scope "".
fn scoped<K>(client: &Client, scope: &str) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match scope {
        "" => Api::all(client.clone()),
        ns => Api::namespaced(client.clone(), ns),
    }
}

/// Drops what the API never reads: managed fields and the pod template.
fn strip_job(job: &mut Job) {
    job.managed_fields_mut().clear();
    if let Some(spec) = job.spec.as_mut() {
        spec.template = Default::default();
    }
}

/// Keeps of a pod's spec only the node it is bound to; the status stays whole.
fn strip_pod(pod: &mut Pod) {
    pod.managed_fields_mut().clear();
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    pod.spec = Some(PodSpec {
        node_name,
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn job(ns: &str, name: &str, uid: &str, label: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                uid: Some(uid.into()),
                labels: label.map(|l| [(JOB_ID_LABEL.to_string(), l.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn pod(ns: &str, name: &str, job_uid: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                owner_references: Some(vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: "j".into(),
                    uid: job_uid.into(),
                    controller: Some(true),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn everywhere(_: &str) -> bool {
        true
    }

    fn found(index: &Index, id: &str) -> JobEntry {
        match index.lookup(id, everywhere) {
            Lookup::Found(entry) => entry,
            other => panic!("{id}: expected Found, got {other:?}"),
        }
    }

    #[test]
    fn finds_jobs_by_label_or_uid_and_a_labelled_job_by_its_uid_too() {
        let index = Index::new();
        index.apply_job("", watcher::Event::Apply(job("a", "plain", "uid-1", None)));
        index.apply_job(
            "",
            watcher::Event::Apply(job("a", "labelled", "uid-2", Some("my-id"))),
        );
        assert_eq!(found(&index, "uid-1").job.unwrap().name_any(), "plain");
        assert_eq!(found(&index, "my-id").job.unwrap().name_any(), "labelled");
        assert_eq!(found(&index, "uid-2").job.unwrap().name_any(), "labelled");
        assert!(matches!(index.lookup("nope", everywhere), Lookup::NotFound));
    }

    fn record_for(ns: &str, uid: &str, id: &str) -> JobTermination {
        let mut record = JobTermination::new(
            uid,
            crate::record::JobTerminationSpec {
                job_id: id.into(),
                job_name: "j".into(),
                job_uid: uid.into(),
                job_created_at: chrono::Utc::now(),
                operation: crate::batch::TerminateKind::Cancel,
                reason: "r".into(),
                requested_at: chrono::Utc::now(),
                request_id: None,
            },
        );
        record.metadata.namespace = Some(ns.into());
        record
    }

    #[test]
    fn a_uid_always_resolves_to_its_job_whatever_other_jobs_are_labelled() {
        let index = Index::new();
        index.apply_job(
            "",
            watcher::Event::Apply(job("victim", "v", "uid-v", Some("nightly"))),
        );
        // Another tenant labels its Jobs with the victim's uid and the victim's label.
        index.apply_job(
            "",
            watcher::Event::Apply(job("attacker", "a1", "uid-a1", Some("uid-v"))),
        );
        index.apply_job(
            "",
            watcher::Event::Apply(job("attacker", "a2", "uid-a2", Some("nightly"))),
        );
        assert_eq!(found(&index, "uid-v").job.unwrap().name_any(), "v");
        // A cancelled Job that is gone: its record answers for its uid.
        index.apply_job(
            "",
            watcher::Event::Delete(job("victim", "v", "uid-v", Some("nightly"))),
        );
        index.apply_record(
            "",
            watcher::Event::Apply(record_for("victim", "uid-v", "nightly")),
        );
        let entry = found(&index, "uid-v");
        assert!(entry.job.is_none());
        assert_eq!(entry.namespace().as_deref(), Some("victim"));
    }

    #[test]
    fn a_label_resolves_only_among_the_callers_namespaces() {
        let index = Index::new();
        index.apply_job(
            "",
            watcher::Event::Apply(job("victim", "v", "uid-v", Some("nightly"))),
        );
        index.apply_job(
            "",
            watcher::Event::Apply(job("attacker", "a", "uid-a", Some("nightly"))),
        );
        let victim = |ns: &str| ns == "victim";
        let attacker = |ns: &str| ns == "attacker";
        let nobody = |_: &str| false;
        match index.lookup("nightly", victim) {
            Lookup::Found(entry) => assert_eq!(entry.job.unwrap().name_any(), "v"),
            other => panic!("{other:?}"),
        }
        match index.lookup("nightly", attacker) {
            Lookup::Found(entry) => assert_eq!(entry.job.unwrap().name_any(), "a"),
            other => panic!("{other:?}"),
        }
        // Seen from everywhere the clash remains, and names both namespaces.
        assert!(
            matches!(index.lookup("nightly", everywhere), Lookup::Ambiguous(ns) if ns == ["attacker", "victim"])
        );
        // Outside every namespace of the caller: refused, not unknown.
        assert!(matches!(index.lookup("nightly", nobody), Lookup::Outside));
        assert!(matches!(index.lookup("uid-v", attacker), Lookup::Outside));
        // A record whose Job is gone takes part like its Job did.
        index.apply_record(
            "",
            watcher::Event::Apply(record_for("other", "uid-gone", "nightly")),
        );
        assert!(matches!(
            index.lookup("nightly", |ns| ns == "victim" || ns == "other"),
            Lookup::Ambiguous(ns) if ns == ["other", "victim"]
        ));
    }

    #[test]
    fn held_pods_without_a_record_are_orphans() {
        let index = Index::new();
        let mut held = pod("a", "held", "uid-1");
        held.metadata.finalizers = Some(vec![ATTEMPT_FINALIZER.into()]);
        let mut free = pod("a", "free", "uid-1");
        free.metadata.finalizers = Some(vec!["other".into()]);
        index.apply_pod("", watcher::Event::Apply(held));
        index.apply_pod("", watcher::Event::Apply(free));
        let orphans = index.orphaned_held_pods();
        assert_eq!(
            orphans.iter().map(|p| p.name_any()).collect::<Vec<_>>(),
            ["held"]
        );

        let mut record = JobTermination::new(
            "uid-1",
            crate::record::JobTerminationSpec {
                job_id: "uid-1".into(),
                job_name: "j".into(),
                job_uid: "uid-1".into(),
                job_created_at: chrono::Utc::now(),
                operation: crate::batch::TerminateKind::Terminate,
                reason: "r".into(),
                requested_at: chrono::Utc::now(),
                request_id: None,
            },
        );
        record.metadata.namespace = Some("a".into());
        index.apply_record("", watcher::Event::Apply(record));
        assert!(index.orphaned_held_pods().is_empty(), "a record holds it");
    }

    #[test]
    fn pods_are_found_through_their_job() {
        let index = Index::new();
        index.apply_job("", watcher::Event::Apply(job("a", "j", "uid-1", None)));
        index.apply_pod("", watcher::Event::Apply(pod("a", "p1", "uid-1")));
        index.apply_pod("", watcher::Event::Apply(pod("a", "p2", "uid-1")));
        index.apply_pod("", watcher::Event::Apply(pod("a", "other", "uid-9")));
        assert_eq!(found(&index, "uid-1").pods.len(), 2);
        index.apply_pod("", watcher::Event::Delete(pod("a", "p1", "uid-1")));
        assert_eq!(found(&index, "uid-1").pods.len(), 1);
    }

    #[test]
    fn a_label_shared_across_namespaces_is_ambiguous() {
        let index = Index::new();
        index.apply_job(
            "",
            watcher::Event::Apply(job("a", "j", "uid-1", Some("same"))),
        );
        index.apply_job(
            "",
            watcher::Event::Apply(job("b", "j", "uid-2", Some("same"))),
        );
        assert!(matches!(index.lookup("same", everywhere), Lookup::Ambiguous(ns) if ns.len() == 2));
    }

    #[test]
    fn relabelling_moves_the_index_entry() {
        let index = Index::new();
        index.apply_job(
            "",
            watcher::Event::Apply(job("a", "j", "uid-1", Some("old"))),
        );
        index.apply_job(
            "",
            watcher::Event::Apply(job("a", "j", "uid-1", Some("new"))),
        );
        assert!(matches!(index.lookup("old", everywhere), Lookup::NotFound));
        assert!(matches!(index.lookup("new", everywhere), Lookup::Found(_)));
    }

    #[test]
    fn a_relist_replaces_only_its_own_namespace() {
        let index = Index::new();
        index.apply_job("a", watcher::Event::Apply(job("a", "gone", "uid-1", None)));
        index.apply_job("b", watcher::Event::Apply(job("b", "kept", "uid-2", None)));
        index.apply_job("a", watcher::Event::Init);
        index.apply_job(
            "a",
            watcher::Event::InitApply(job("a", "new", "uid-3", None)),
        );
        // Until the relist is done the old state is served.
        assert!(matches!(
            index.lookup("uid-1", everywhere),
            Lookup::Found(_)
        ));
        index.apply_job("a", watcher::Event::InitDone);
        assert!(matches!(
            index.lookup("uid-1", everywhere),
            Lookup::NotFound
        ));
        assert!(matches!(
            index.lookup("uid-2", everywhere),
            Lookup::Found(_)
        ));
        assert!(matches!(
            index.lookup("uid-3", everywhere),
            Lookup::Found(_)
        ));
    }

    fn queued(mut j: Job, labels: &[(&str, &str)]) -> Job {
        let l = j.metadata.labels.get_or_insert_with(Default::default);
        for (k, v) in labels {
            l.insert((*k).to_string(), (*v).to_string());
        }
        j
    }

    fn queue_names(index: &Index, queue: &str) -> Vec<String> {
        let mut names: Vec<String> = index
            .queue(queue)
            .iter()
            .filter_map(|e| e.job.as_ref().map(|j| j.name_any()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn jobs_are_indexed_by_queue_and_move_with_their_labels() {
        let index = Index::new();
        let add = |j: Job| index.apply_job("", watcher::Event::Apply(j));
        add(job("a", "plain", "uid-1", None));
        add(queued(
            job("a", "ours", "uid-2", None),
            &[(JOB_QUEUE_LABEL, "gpu")],
        ));
        add(queued(
            job("b", "kueue", "uid-3", None),
            &[(JOB_QUEUE_LABEL, "gpu"), (KUEUE_QUEUE_LABEL, "cpu")],
        ));
        index.apply_pod("", watcher::Event::Apply(pod("a", "p", "uid-2")));
        assert_eq!(queue_names(&index, "a"), ["plain"]);
        assert_eq!(queue_names(&index, "gpu"), ["ours"]);
        assert_eq!(queue_names(&index, "cpu"), ["kueue"]);
        assert_eq!(index.queue("gpu")[0].pods.len(), 1);
        assert!(index.queue("b").is_empty());
        // Relabelled: it leaves the old queue.
        add(queued(
            job("a", "ours", "uid-2", None),
            &[(JOB_QUEUE_LABEL, "cpu")],
        ));
        assert!(index.queue("gpu").is_empty());
        assert_eq!(queue_names(&index, "cpu"), ["kueue", "ours"]);
        index.apply_job("", watcher::Event::Delete(job("b", "kueue", "uid-3", None)));
        assert_eq!(queue_names(&index, "cpu"), ["ours"]);
    }

    #[test]
    fn stripping_keeps_what_the_api_reads() {
        let mut p = pod("a", "p", "uid-1");
        p.spec = Some(PodSpec {
            node_name: Some("n0".into()),
            containers: vec![Default::default()],
            ..Default::default()
        });
        strip_pod(&mut p);
        let spec = p.spec.unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n0"));
        assert!(spec.containers.is_empty());
    }
}
