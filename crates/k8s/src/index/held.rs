//! Held Jobs (created suspended, waiting for their `dependsOn` jobs) and the jobs they wait
//! for, so that a change to a job wakes exactly the held Jobs that depend on it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

use super::{Caches, Index, Key, Lookup, job_id, key_of, views};
use crate::batch::{self, DependencyState};
use crate::record::JobTermination;

/// Where the held Jobs to look at again are sent.
pub type HeldTriggers = mpsc::UnboundedSender<ObjectRef<Job>>;

/// Held Jobs and the job IDs they wait for, both ways.
#[derive(Default)]
pub(super) struct Held {
    /// A held Job → the job IDs it waits for (an array child's parent ID).
    waits: HashMap<Key, Vec<String>>,
    /// A job ID → the held Jobs waiting for it.
    dependents: HashMap<String, BTreeSet<Key>>,
}

/// True while the Job waits for its dependencies: suspended, with `dependsOn`, and no
/// outcome yet.
pub fn is_held(job: &Job) -> bool {
    job.spec.as_ref().and_then(|s| s.suspend) == Some(true)
        && views::dependency_outcome(job).is_none()
        && !views::depends_on(job).is_empty()
}

/// The job IDs a held Job waits for, without child indexes.
fn waited_ids(job: &Job) -> Vec<String> {
    let mut ids: Vec<String> = views::depends_on(job)
        .iter()
        .filter_map(|d| d.waits_for())
        .map(|id| {
            batch::split_array_child(id)
                .map_or(id, |(parent, _)| parent)
                .to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

impl Held {
    /// Brings the entry of `key` up to date with the Job the cache now holds there.
    fn refresh(&mut self, key: &Key, job: Option<&Job>) {
        for id in self.waits.remove(key).unwrap_or_default() {
            if let Some(keys) = self.dependents.get_mut(&id) {
                keys.remove(key);
                if keys.is_empty() {
                    self.dependents.remove(&id);
                }
            }
        }
        if let Some(job) = job.filter(|j| is_held(j)) {
            let ids = waited_ids(job);
            for id in &ids {
                self.dependents
                    .entry(id.clone())
                    .or_default()
                    .insert(key.clone());
            }
            self.waits.insert(key.clone(), ids);
        }
    }

    fn dependents_of(&self, ids: impl IntoIterator<Item = String>) -> Vec<Key> {
        ids.into_iter()
            .filter_map(|id| self.dependents.get(&id))
            .flatten()
            .cloned()
            .collect()
    }
}

fn held_ref((ns, name): Key) -> ObjectRef<Job> {
    ObjectRef::new(&name).within(&ns)
}

impl Caches {
    /// After Jobs changed: updates the held set, and returns the held Jobs to look at (those
    /// that changed, and those waiting for a Job that changed).
    pub(super) fn held_after_jobs(&mut self, changed: &[Arc<Job>]) -> Vec<ObjectRef<Job>> {
        let mut out = BTreeSet::new();
        for job in changed {
            let key = key_of(&**job);
            let now = self.jobs.objects.get(&key).cloned();
            self.held.refresh(&key, now.as_deref());
            if self.held.waits.contains_key(&key) {
                out.insert(key);
            }
            let ids = job_id(job).into_iter().chain(job.uid());
            out.extend(self.held.dependents_of(ids));
        }
        out.into_iter().map(held_ref).collect()
    }

    /// After records changed: the held Jobs waiting for their jobs (a cancel or terminate
    /// fails the jobs that depend on it).
    pub(super) fn held_after_records(
        &self,
        changed: &[Arc<JobTermination>],
    ) -> Vec<ObjectRef<Job>> {
        let ids = changed
            .iter()
            .flat_map(|r| [r.spec.job_id.clone(), r.spec.job_uid.clone()]);
        let keys: BTreeSet<Key> = self.held.dependents_of(ids).into_iter().collect();
        keys.into_iter().map(held_ref).collect()
    }
}

impl Index {
    /// Sends the held Jobs to look at again to `tx` from now on (the dependency controller).
    pub fn send_held_to(&self, tx: HeldTriggers) {
        // Set once, by the process wiring; a second call keeps the first receiver.
        let _ = self.held_tx.set(tx);
    }

    pub(super) fn send_held(&self, refs: Vec<ObjectRef<Job>>) {
        if let Some(tx) = self.held_tx.get() {
            for r in refs {
                // The controller is gone only during shutdown.
                let _ = tx.send(r);
            }
        }
    }

    /// Every held Job, to look at each once when this process becomes the leader.
    pub fn held_refs(&self) -> Vec<ObjectRef<Job>> {
        let caches = self.read();
        let mut keys: Vec<Key> = caches.held.waits.keys().cloned().collect();
        keys.sort();
        keys.into_iter().map(held_ref).collect()
    }

    /// The held Job `namespace/name`, if it is still held and no TerminateJob or CancelJob
    /// has been asked for it (the termination controller owns it then).
    pub fn held_job(&self, namespace: &str, name: &str) -> Option<Arc<Job>> {
        let caches = self.read();
        let key = (namespace.to_string(), name.to_string());
        let job = caches.jobs.objects.get(&key).filter(|j| is_held(j))?;
        let record = (namespace.to_string(), job.uid().unwrap_or_default());
        (!caches.records.objects.contains_key(&record)).then(|| job.clone())
    }

    /// What is known of the job `id` (or `<id>:<index>`) a Job in namespace `home` waits for:
    /// its Batch state, as DescribeJobs would answer it. A job ID that several namespaces'
    /// Jobs carry as their label is looked for in `home` alone; if not there, it is unknown
    /// (held, never guessed).
    pub fn dependency_state(&self, id: &str, home: &str) -> DependencyState {
        let (parent, child) = match batch::split_array_child(id) {
            Some((parent, index)) => (parent, Some(index)),
            None => (id, None),
        };
        let entry = match self.lookup(parent, |_| true) {
            Lookup::Found(entry) => entry,
            Lookup::Ambiguous(_) => match self.lookup(parent, |ns| ns == home) {
                Lookup::Found(entry) => entry,
                Lookup::NotFound | Lookup::Outside | Lookup::Ambiguous(_) => {
                    return DependencyState::Unknown;
                }
            },
            Lookup::NotFound | Lookup::Outside if self.is_complete() => {
                return DependencyState::Gone;
            }
            Lookup::NotFound | Lookup::Outside => return DependencyState::Unknown,
        };
        match views::entry_detail(&entry, parent, child, "", "") {
            Some(detail) => DependencyState::Known(detail.status),
            // A child index the array does not have: it never will.
            None => DependencyState::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{DEPENDENCIES_ANNOTATION, DEPENDS_ON_ANNOTATION, JOB_ID_LABEL};
    use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use kube::runtime::watcher::Event;

    fn job(name: &str, uid: &str, deps: Option<&str>, suspend: bool) -> Job {
        Job {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some(name.into()),
                uid: Some(uid.into()),
                annotations: deps
                    .map(|d| [(DEPENDS_ON_ANNOTATION.to_string(), d.to_string())].into()),
                ..Default::default()
            },
            spec: Some(JobSpec {
                suspend: Some(suspend),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<ObjectRef<Job>>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(r) = rx.try_recv() {
            out.push(r.name);
        }
        out.sort();
        out
    }

    #[test]
    fn a_change_to_a_job_wakes_the_held_jobs_waiting_for_it_and_no_other() {
        let index = Index::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        index.send_held_to(tx);
        index.apply_job("", Event::Apply(job("a", "uid-a", None, false)));
        assert!(drain(&mut rx).is_empty());
        // A held Job wakes itself; it waits for a by uid and for an array child by label.
        index.apply_job(
            "",
            Event::Apply(job(
                "h",
                "uid-h",
                Some(r#"[{"jobId":"uid-a"},{"jobId":"arr:2","type":"N_TO_N"}]"#),
                true,
            )),
        );
        index.apply_job(
            "",
            Event::Apply(job("other", "uid-o", Some(r#"[{"jobId":"x"}]"#), true)),
        );
        assert_eq!(drain(&mut rx), ["h", "other"]);
        assert_eq!(index.held_refs().len(), 2);

        let mut a = job("a", "uid-a", None, false);
        a.status = Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: "Complete".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        index.apply_job("", Event::Apply(a));
        assert_eq!(drain(&mut rx), ["h"]);
        let mut arr = job("arr-job", "uid-arr", None, false);
        arr.metadata.labels = Some([(JOB_ID_LABEL.to_string(), "arr".to_string())].into());
        index.apply_job("", Event::Apply(arr.clone()));
        assert_eq!(drain(&mut rx), ["h"]);
        // Deleted: its dependents are woken (they then find it gone).
        index.apply_job("", Event::Delete(arr));
        assert_eq!(drain(&mut rx), ["h"]);
        assert_eq!(
            index.dependency_state("uid-a", "ns"),
            DependencyState::Known(crate::batch::BatchState::Succeeded)
        );
        assert_eq!(
            index.dependency_state("nope", "ns"),
            DependencyState::Unknown,
            "caches not whole yet"
        );

        // Released: no longer held, and no longer woken.
        let mut released = job(
            "h",
            "uid-h",
            Some(r#"[{"jobId":"uid-a"},{"jobId":"arr:2","type":"N_TO_N"}]"#),
            false,
        );
        released
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(DEPENDENCIES_ANNOTATION.into(), "released".into());
        index.apply_job("", Event::Apply(released));
        assert!(drain(&mut rx).is_empty());
        assert_eq!(index.held_refs().len(), 1);
        index.apply_job("", Event::Apply(job("a", "uid-a", None, false)));
        assert!(drain(&mut rx).is_empty());
        assert!(index.held_job("ns", "h").is_none());
        assert!(index.held_job("ns", "other").is_some());
    }

    #[test]
    fn a_held_job_with_a_termination_record_is_left_to_the_termination_controller() {
        let index = Index::new();
        index.apply_job(
            "",
            Event::Apply(job("h", "uid-h", Some(r#"[{"jobId":"x"}]"#), true)),
        );
        assert!(index.held_job("ns", "h").is_some());
        let mut record = JobTermination::new(
            "uid-h",
            crate::record::JobTerminationSpec {
                job_id: "uid-h".into(),
                job_name: "h".into(),
                job_uid: "uid-h".into(),
                job_created_at: jiff::Timestamp::now(),
                operation: crate::batch::TerminateKind::Cancel,
                reason: "r".into(),
                requested_at: jiff::Timestamp::now(),
                request_id: None,
            },
        );
        record.metadata.namespace = Some("ns".into());
        index.apply_record("", Event::Apply(record));
        assert!(index.held_job("ns", "h").is_none());
        // An unparsable annotation holds nothing.
        index.apply_job(
            "",
            Event::Apply(job("bad", "uid-b", Some("not json"), true)),
        );
        assert!(index.held_job("ns", "bad").is_none());
    }
}
