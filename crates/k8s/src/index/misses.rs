//! Read-after-write for a job ID the caches miss: is the job really unknown, or is the Job
//! watch behind the API server (a Job created a moment ago)? A TerminateJob must not answer
//! 200 and do nothing for a job that exists.
//!
//! Quorum reads of the API server decide, in the caller's namespaces:
//!
//! 1. An ID that can be a label value: one LIST per namespace with
//!    `labelSelector=batch-terminator.dev/job-id=<ID>`. It finds a labelled Job that exists;
//!    finding none means no Job carries the label. Its list resourceVersion R is the API
//!    server's current one.
//! 2. An ID shaped like a uid (a UUID) may still be a Job's uid, which no selector can filter
//!    by. Versions of one resource compare as integers (KEP-5504), so once the Job watch has
//!    delivered an event at or past R, the caches hold every Job written up to R. A quiet Job
//!    collection may never get there by events (R is the store's global revision, and kube's
//!    watcher hides BOOKMARKs), so after a short wait a metadata-only LIST of the Jobs in
//!    the caller's namespaces (paged) decides.
//!
//! A Job found this way is waited for (up to 5 s) until the watch delivers it;
//! after that the answer is a retryable 500 rather than a 200 that does nothing. Concurrent
//! misses of one ID share one LIST, provided it started after they arrived.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use super::{ALL_NAMESPACES, Index, Lookup};
use crate::record::JOB_ID_LABEL;

/// What confirming a miss found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No such job in the caller's namespaces: the miss is true.
    Absent,
    /// The job exists and the caches have it now: look it up again.
    Arrived,
    /// The job exists (in these namespaces) but the Job watch has not delivered it in time.
    Lagging(Vec<String>),
}

/// A LIST's outcome, shared by the misses it serves.
type Listed = Result<Found, Arc<kube::Error>>;

/// What one LIST (over several namespaces) found.
#[derive(Debug, Clone, Default)]
struct Found {
    /// Namespace and uid of each Job that matched.
    jobs: Vec<(String, String)>,
    /// The newest list resourceVersion.
    version: u64,
}

/// How long a uid's miss waits for the Job watch to reach the API server's version before
/// it LISTs every Job: a busy Job collection gets there in milliseconds, a quiet one never.
const CATCH_UP: Duration = Duration::from_millis(250);
/// How long a Job the API server has waits for the Job watch to deliver it.
const ARRIVAL: Duration = Duration::from_secs(5);

/// Confirms misses against the API server.
pub struct Misses {
    client: Client,
    index: Index,
    lists: Coalesce<Listed>,
}

impl Misses {
    pub fn new(client: Client, index: Index) -> Self {
        Misses {
            client,
            index,
            lists: Coalesce::default(),
        }
    }

    /// Confirms that `id`, missing from the caches for a caller who may touch the namespaces
    /// `visible` accepts (`explicit` lists them, `None` for all), is missing from the API
    /// server too.
    pub async fn confirm(
        &self,
        id: &str,
        visible: impl Fn(&str) -> bool + Copy,
        explicit: Option<&BTreeSet<String>>,
    ) -> Result<Miss, Arc<kube::Error>> {
        let watched = self.index.scopes();
        let namespaces = to_list(&watched, visible, explicit);
        let scopes: Vec<String> = watched
            .into_iter()
            .filter(|s| s == ALL_NAMESPACES || visible(s))
            .collect();
        if namespaces.is_empty() {
            return Ok(Miss::Absent);
        }
        // A uid (a UUID) is a label value too: anything else names no Job.
        if !is_label_value(id) {
            return Ok(Miss::Absent);
        }
        let selector = format!("{JOB_ID_LABEL}={id}");
        let found = self
            .list(format!("label {id}"), &namespaces, Some(selector))
            .await?;
        if !found.jobs.is_empty() {
            return Ok(self.arrival(id, visible, &found).await);
        }
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(Miss::Absent);
        }
        let version = found.version;
        // A uid: the Job watch catching up to `version` proves the miss; a Job arriving
        // meanwhile ends it too.
        let caught_up = self
            .until(CATCH_UP, || {
                let arrived = !matches!(self.index.lookup(id, visible), Lookup::NotFound);
                (arrived || self.index.jobs_reached(&scopes, version)).then_some(arrived)
            })
            .await;
        match caught_up {
            Some(true) => return Ok(Miss::Arrived),
            Some(false) => return Ok(Miss::Absent),
            None => {}
        }
        let found = self.list(String::new(), &namespaces, None).await?;
        let mine = Found {
            jobs: found
                .jobs
                .into_iter()
                .filter(|(_, uid)| uid == id)
                .collect(),
            version: found.version,
        };
        if mine.jobs.is_empty() {
            return Ok(Miss::Absent);
        }
        Ok(self.arrival(id, visible, &mine).await)
    }

    /// Waits for the Jobs a LIST found to reach the caches.
    async fn arrival(&self, id: &str, visible: impl Fn(&str) -> bool, found: &Found) -> Miss {
        let arrived = self
            .until(ARRIVAL, || {
                (!matches!(self.index.lookup(id, &visible), Lookup::NotFound)).then_some(())
            })
            .await;
        match arrived {
            Some(()) => Miss::Arrived,
            None => {
                let namespaces: BTreeSet<String> =
                    found.jobs.iter().map(|(ns, _)| ns.clone()).collect();
                Miss::Lagging(namespaces.into_iter().collect())
            }
        }
    }

    /// Polls `check` after every Job event until it answers, or `wait` has passed.
    async fn until<T>(&self, wait: Duration, check: impl Fn() -> Option<T>) -> Option<T> {
        let mut events = self.index.job_events();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(answer) = check() {
                return Some(answer);
            }
            match tokio::time::timeout_at(deadline, events.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// One quorum LIST of Jobs (metadata only, paged) in each of `namespaces` (`None`: all),
    /// shared with the concurrent misses of the same `key` that arrived before it started.
    async fn list(
        &self,
        key: String,
        namespaces: &[Option<String>],
        selector: Option<String>,
    ) -> Listed {
        let key = format!("{key}\n{namespaces:?}");
        self.lists
            .run(key, || async {
                let mut found = Found::default();
                for ns in namespaces {
                    let api: Api<Job> = match ns {
                        Some(ns) => Api::namespaced(self.client.clone(), ns),
                        None => Api::all(self.client.clone()),
                    };
                    let mut params = ListParams::default().limit(500);
                    if let Some(selector) = &selector {
                        params = params.labels(selector);
                    }
                    loop {
                        let page = api.list_metadata(&params).await.map_err(Arc::new)?;
                        let version = page.metadata.resource_version.as_deref();
                        found.version = found
                            .version
                            .max(version.and_then(|v| v.parse().ok()).unwrap_or(0));
                        found.jobs.extend(
                            page.items
                                .iter()
                                .filter_map(|j| Some((j.namespace()?, j.uid()?))),
                        );
                        match page.metadata.continue_.filter(|c| !c.is_empty()) {
                            Some(token) => params = params.continue_token(&token),
                            None => break,
                        }
                    }
                }
                Ok(found)
            })
            .await
    }
}

/// Where to LIST for a caller: each watched namespace it may touch; for a cluster-wide watch,
/// all namespaces (`None`) if it may touch all, else each of its own.
fn to_list(
    watched: &[String],
    visible: impl Fn(&str) -> bool,
    explicit: Option<&BTreeSet<String>>,
) -> Vec<Option<String>> {
    let mut out: BTreeSet<Option<String>> = BTreeSet::new();
    for scope in watched {
        match (scope.as_str(), explicit) {
            (ALL_NAMESPACES, None) => {
                out.insert(None);
            }
            (ALL_NAMESPACES, Some(own)) => out.extend(own.iter().cloned().map(Some)),
            (ns, _) if visible(ns) => {
                out.insert(Some(ns.to_string()));
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

/// A valid label value: at most 63 characters, alphanumerics with `-`, `_` and `.` inside.
fn is_label_value(s: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !s.is_empty()
        && s.len() <= 63
        && alnum(s.chars().next())
        && alnum(s.chars().last())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Calls by key, coalesced: a caller gets the outcome of the first call that started after
/// it arrived, so it never sees an answer older than its question; one call runs at a time
/// per key.
struct Coalesce<V> {
    flights: Mutex<HashMap<String, Arc<Flight<V>>>>,
}

impl<V> Default for Coalesce<V> {
    fn default() -> Self {
        Coalesce {
            flights: Mutex::default(),
        }
    }
}

struct Flight<V> {
    /// Calls started so far.
    started: AtomicU64,
    /// The last call's number and outcome.
    last: tokio::sync::Mutex<Option<(u64, V)>>,
}

impl<V: Clone> Coalesce<V> {
    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Flight<V>>>> {
        self.flights.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn run<F, Fut>(&self, key: String, call: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let flight = self
            .flights()
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Flight {
                    started: AtomicU64::new(0),
                    last: tokio::sync::Mutex::new(None),
                })
            })
            .clone();
        let arrived = flight.started.load(Ordering::SeqCst);
        let value = {
            let mut last = flight.last.lock().await;
            match &*last {
                Some((n, value)) if *n > arrived => value.clone(),
                _ => {
                    let n = flight.started.fetch_add(1, Ordering::SeqCst) + 1;
                    let value = call().await;
                    *last = Some((n, value.clone()));
                    value
                }
            }
        };
        let mut flights = self.flights();
        // The map's reference and ours: nobody else waits on this key.
        if Arc::strong_count(&flight) == 2 {
            flights.remove(&key);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_what_a_selector_accepts() {
        for ok in [
            "a",
            "job-1",
            "unknown-6f1c2a4e-0d2b-4c3e-9f7a-1b2c3d4e5f60",
            "a.b_c",
        ] {
            assert!(is_label_value(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a b", "a,b=c", &"x".repeat(64), "a/b"] {
            assert!(!is_label_value(bad), "{bad}");
        }
    }

    #[test]
    fn a_caller_lists_the_watched_namespaces_it_may_touch() {
        let only: BTreeSet<String> = ["a".to_string(), "c".to_string()].into();
        let may = |ns: &str| only.contains(ns);
        let watched = ["a".to_string(), "b".to_string()];
        assert_eq!(to_list(&watched, may, Some(&only)), [Some("a".to_string())]);
        let all = [ALL_NAMESPACES.to_string()];
        assert_eq!(to_list(&all, |_| true, None), [None]);
        assert_eq!(
            to_list(&all, may, Some(&only)),
            [Some("a".to_string()), Some("c".to_string())]
        );
    }

    #[tokio::test]
    async fn concurrent_calls_share_one_call_that_started_after_they_arrived() {
        let coalesce: Arc<Coalesce<u64>> = Arc::default();
        let calls = Arc::new(AtomicU64::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let call = |calls: Arc<AtomicU64>, mut gate: tokio::sync::watch::Receiver<bool>| {
            move || async move {
                let _ = gate.wait_for(|open| *open).await;
                calls.fetch_add(1, Ordering::SeqCst) + 1
            }
        };
        // The first call is in flight; the next three arrive during it.
        let first = tokio::spawn({
            let (c, calls, gate) = (coalesce.clone(), calls.clone(), gate.clone());
            async move { c.run("k".into(), call(calls, gate)).await }
        });
        tokio::task::yield_now().await;
        let later: Vec<_> = (0..3)
            .map(|_| {
                let (c, calls, gate) = (coalesce.clone(), calls.clone(), gate.clone());
                tokio::spawn(async move { c.run("k".into(), call(calls, gate)).await })
            })
            .collect();
        tokio::task::yield_now().await;
        release.send_replace(true);
        assert_eq!(first.await.unwrap(), 1);
        for answer in later {
            // Not the first call's answer: that one started before they asked.
            assert_eq!(answer.await.unwrap(), 2);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(coalesce.flights().is_empty(), "a finished key is forgotten");
    }
}
