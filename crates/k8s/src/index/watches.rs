//! The watches that feed the [`Index`], and their health: synced, failing, or refused.
//!
//! A watch that fails is started again from a fresh list (after a backoff), so its cache is
//! known to be whole again exactly when that list is done; a failure that lasts (403, 404: a
//! namespace this service may not read) keeps the others serving.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::{mpsc, watch};

use super::Index;
use crate::record::JobTermination;

/// Label the Job controller puts on every pod it creates; only those pods are watched.
const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The first wait before a failed watch is started again; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where one watch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Listing for the first time, or again after a failure.
    Listing,
    Synced,
    /// Refused for good (403 or 404): nothing this process can do about it.
    Refused,
}

/// One watch: the namespace it covers ("" = all) and where it stands.
#[derive(Debug, Clone)]
struct Watch {
    scope: String,
    state: State,
    /// Whether it has ever synced.
    ever: bool,
}

/// The health of every watch. `changes` ticks on every change, for readiness and waiters.
#[derive(Debug)]
pub struct Health {
    watches: Mutex<Vec<Watch>>,
    changes: watch::Sender<()>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            watches: Mutex::new(Vec::new()),
            changes: watch::Sender::new(()),
        }
    }
}

impl Health {
    fn watches(&self) -> std::sync::MutexGuard<'_, Vec<Watch>> {
        self.watches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a watch of `scope` (a namespace, or "" for all), listing.
    fn add(&self, scope: &str) -> usize {
        let mut watches = self.watches();
        watches.push(Watch {
            scope: scope.to_string(),
            state: State::Listing,
            ever: false,
        });
        watches.len() - 1
    }

    fn set(&self, id: usize, state: State) {
        {
            let mut watches = self.watches();
            let entry = &mut watches[id];
            if entry.state == state {
                return;
            }
            entry.state = state;
            entry.ever |= state == State::Synced;
        }
        self.changes.send_replace(());
    }

    fn all(&self, ok: impl Fn(&Watch) -> bool) -> bool {
        let watches = self.watches();
        !watches.is_empty() && watches.iter().all(ok)
    }

    pub fn is_synced(&self) -> bool {
        self.all(|w| w.ever || w.state == State::Refused)
    }

    pub fn is_complete(&self) -> bool {
        self.all(|w| w.state == State::Synced)
    }

    pub fn is_ready(&self) -> bool {
        self.all(|w| matches!(w.state, State::Synced | State::Refused))
    }

    /// The scopes (sorted, "" = all namespaces) with a watch that is not synced, among those
    /// `visible` accepts; the cluster-wide scope counts for everyone. Before any watch starts,
    /// everything is incomplete: [`ALL_NAMESPACES`].
    pub fn incomplete(&self, visible: impl Fn(&str) -> bool) -> Vec<String> {
        let watches = self.watches();
        if watches.is_empty() {
            return vec![ALL_NAMESPACES.to_string()];
        }
        let scopes: BTreeSet<&str> = watches
            .iter()
            .filter(|w| w.state != State::Synced)
            .map(|w| w.scope.as_str())
            .filter(|scope| scope.is_empty() || visible(scope))
            .collect();
        scopes.into_iter().map(str::to_string).collect()
    }

    /// Every scope watched ("" = all namespaces), sorted.
    pub fn scopes(&self) -> Vec<String> {
        let scopes: BTreeSet<String> = self.watches().iter().map(|w| w.scope.clone()).collect();
        scopes.into_iter().collect()
    }

    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }

    pub async fn wait(&self, done: impl Fn(&Health) -> bool) {
        let mut changes = self.subscribe();
        while !done(self) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The scope of a cluster-wide watch.
pub const ALL_NAMESPACES: &str = "";

/// A watch failure that retrying will not cure: the namespace is forbidden or unknown.
fn is_refusal(error: &watcher::Error) -> bool {
    let code = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        watcher::Error::InitialListFailed(_)
        | watcher::Error::WatchStartFailed(_)
        | watcher::Error::WatchFailed(_)
        | watcher::Error::NoResourceVersion => 0,
    };
    matches!(code, 403 | 404)
}

type Triggers = mpsc::UnboundedSender<ObjectRef<JobTermination>>;

fn forward(refs: Vec<ObjectRef<JobTermination>>, tx: &Triggers) {
    for r in refs {
        // The controller is gone only during shutdown.
        let _ = tx.send(r);
    }
}

impl Index {
    /// Starts the watches that feed the index: one per kind and namespace (all namespaces when
    /// `namespaces` is empty). Every change to a record, its Job or the Job's pods is sent on
    /// `triggers`, so the controller looks at that record. Returns the tasks, which run until
    /// aborted.
    pub fn spawn_watches(
        &self,
        client: Client,
        namespaces: &[String],
        triggers: Triggers,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let scopes = match namespaces {
            [] => vec![String::new()],
            some => some.to_vec(),
        };
        let mut tasks = Vec::new();
        for scope in scopes {
            let (c, s) = (client.clone(), scope.clone());
            let jobs = move || {
                watcher(scoped::<Job>(&c, &s), watcher::Config::default()).modify(strip_job)
            };
            let (index, s, tx) = (self.clone(), scope.clone(), triggers.clone());
            tasks.push(tokio::spawn(self.clone().drive(
                "jobs",
                scope.clone(),
                jobs,
                move |e| forward(index.apply_job(&s, e), &tx),
            )));

            let (c, s) = (client.clone(), scope.clone());
            let pods = move || {
                let config = watcher::Config::default().labels(CONTROLLER_UID_LABEL);
                watcher(scoped::<Pod>(&c, &s), config).modify(strip_pod)
            };
            let (index, s, tx) = (self.clone(), scope.clone(), triggers.clone());
            tasks.push(tokio::spawn(self.clone().drive(
                "pods",
                scope.clone(),
                pods,
                move |e| forward(index.apply_pod(&s, e), &tx),
            )));

            let (c, s) = (client.clone(), scope.clone());
            let records = move || {
                watcher(scoped::<JobTermination>(&c, &s), watcher::Config::default())
                    .modify(|r: &mut JobTermination| r.managed_fields_mut().clear())
            };
            let (index, s, tx) = (self.clone(), scope.clone(), triggers.clone());
            tasks.push(tokio::spawn(self.clone().drive(
                "records",
                scope.clone(),
                records,
                move |e| forward(index.apply_record(&s, e), &tx),
            )));
        }
        tasks
    }

    /// Runs one watch into `apply`. On an error the stream is dropped and, after a backoff,
    /// started again from a fresh list, so the watch counts as synced again exactly when its
    /// cache is whole again.
    async fn drive<K, S>(
        self,
        kind: &'static str,
        scope: String,
        start: impl Fn() -> S,
        mut apply: impl FnMut(watcher::Event<K>),
    ) where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    {
        let id = self.health.add(&scope);
        let mut backoff = MIN_BACKOFF;
        loop {
            let stream = start();
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(event) => {
                        let done = matches!(event, watcher::Event::InitDone);
                        apply(event);
                        if done {
                            self.health.set(id, State::Synced);
                            backoff = MIN_BACKOFF;
                        }
                    }
                    Err(error) => {
                        let state = match is_refusal(&error) {
                            true => State::Refused,
                            false => State::Listing,
                        };
                        self.health.set(id, state);
                        let error: &dyn std::error::Error = &error;
                        tracing::warn!(
                            kind,
                            namespace = scope,
                            error,
                            ?backoff,
                            "watch failed; listing again"
                        );
                        break;
                    }
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
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

/// kubectl's copy of the whole object as last applied: often the biggest field, never read.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Removes the last-applied copy. An object without annotations keeps none (not an empty
/// map): the Job patch adds annotations one by one only where the map exists.
fn forget_last_applied(meta: &mut ObjectMeta) {
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Drops what the API never reads: managed fields, the last-applied copy, the pod template,
/// and the list of pods the Job controller has yet to count.
pub(super) fn strip_job(job: &mut Job) {
    job.managed_fields_mut().clear();
    forget_last_applied(&mut job.metadata);
    if let Some(spec) = job.spec.as_mut() {
        spec.template = Default::default();
        spec.selector = None;
    }
    if let Some(status) = job.status.as_mut() {
        status.uncounted_terminated_pods = None;
    }
}

/// Keeps of a pod's spec only the node it is bound to and its grace period (which bounds
/// how long its termination may take); of its status what the views read: phase, reason,
/// message, start time, the PodScheduled condition and each container's name and state.
fn strip_pod(pod: &mut Pod) {
    pod.managed_fields_mut().clear();
    forget_last_applied(&mut pod.metadata);
    pod.metadata.generate_name = None;
    let spec = pod.spec.take().unwrap_or_default();
    pod.spec = Some(PodSpec {
        node_name: spec.node_name,
        termination_grace_period_seconds: spec.termination_grace_period_seconds,
        ..Default::default()
    });
    if let Some(status) = pod.status.take() {
        pod.status = Some(PodStatus {
            phase: status.phase,
            reason: status.reason,
            message: status.message,
            start_time: status.start_time,
            conditions: status.conditions.map(|conditions| {
                conditions
                    .into_iter()
                    .filter(|c| c.type_ == "PodScheduled")
                    .map(|c| PodCondition {
                        type_: c.type_,
                        status: c.status,
                        ..Default::default()
                    })
                    .collect()
            }),
            container_statuses: status.container_statuses.map(|statuses| {
                statuses
                    .into_iter()
                    .map(|c| ContainerStatus {
                        name: c.name,
                        state: c.state,
                        ..Default::default()
                    })
                    .collect()
            }),
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripping_keeps_what_the_api_reads() {
        let mut p = Pod {
            spec: Some(PodSpec {
                node_name: Some("n0".into()),
                termination_grace_period_seconds: Some(7),
                containers: vec![Default::default()],
                ..Default::default()
            }),
            ..Default::default()
        };
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("10.1.0.1".into()),
            conditions: Some(vec![
                PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                },
                PodCondition {
                    type_: "PodScheduled".into(),
                    status: "True".into(),
                    message: Some("bound".into()),
                    ..Default::default()
                },
            ]),
            container_statuses: Some(vec![ContainerStatus {
                name: "main".into(),
                image: "busybox".into(),
                state: Some(Default::default()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        p.annotations_mut()
            .insert(LAST_APPLIED.into(), "{...}".into());
        p.annotations_mut().insert(
            "batch.kubernetes.io/job-completion-index".into(),
            "3".into(),
        );
        strip_pod(&mut p);
        let spec = p.spec.unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("n0"));
        assert_eq!(spec.termination_grace_period_seconds, Some(7));
        assert!(spec.containers.is_empty());
        let status = p.status.unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.pod_ip, None);
        let conditions = status.conditions.unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].type_, "PodScheduled");
        assert_eq!(conditions[0].status, "True");
        let containers = status.container_statuses.unwrap();
        assert_eq!(containers[0].name, "main");
        assert!(containers[0].state.is_some());
        assert!(containers[0].image.is_empty());
        assert_eq!(
            p.metadata
                .annotations
                .unwrap()
                .into_keys()
                .collect::<Vec<_>>(),
            ["batch.kubernetes.io/job-completion-index"]
        );
    }

    #[test]
    fn health_follows_each_watch() {
        let health = Health::default();
        assert!(!health.is_synced() && !health.is_ready() && !health.is_complete());
        let (a, b) = (health.add("a"), health.add("b"));
        health.set(a, State::Synced);
        assert!(!health.is_synced(), "b has not listed yet");
        health.set(b, State::Refused);
        // A forbidden namespace holds neither the start nor readiness back, but the caches
        // are not whole: an unknown ID could be a job there.
        assert!(health.is_synced() && health.is_ready() && !health.is_complete());
        health.set(b, State::Synced);
        assert!(health.is_complete());
        // A failing watch lists again: not ready, not whole, though it had synced once.
        health.set(a, State::Listing);
        assert!(health.is_synced() && !health.is_ready() && !health.is_complete());
    }

    #[test]
    fn only_callers_who_may_touch_an_incomplete_namespace_see_it() {
        let health = Health::default();
        assert_eq!(
            health.incomplete(|_| true),
            [ALL_NAMESPACES],
            "nothing watched yet"
        );
        let (a, b) = (health.add("a"), health.add("b"));
        let b_records = health.add("b");
        for id in [a, b, b_records] {
            health.set(id, State::Synced);
        }
        assert!(health.incomplete(|_| true).is_empty());
        // One of b's watches is refused: b is incomplete, for those who may touch b only.
        health.set(b_records, State::Refused);
        assert_eq!(health.incomplete(|_| true), ["b"]);
        assert_eq!(health.incomplete(|ns| ns == "b"), ["b"]);
        assert!(health.incomplete(|ns| ns == "a").is_empty());
        health.set(a, State::Listing);
        assert_eq!(health.incomplete(|_| true), ["a", "b"]);
        assert_eq!(health.scopes(), ["a", "b"]);
        // A cluster-wide watch that fails concerns every caller.
        let all = Health::default();
        all.add(ALL_NAMESPACES);
        assert_eq!(all.incomplete(|_| false), [ALL_NAMESPACES]);
    }

    #[test]
    fn only_403_and_404_are_refusals() {
        let status = |code| {
            kube::Error::Api(Box::new(kube::core::Status {
                code,
                ..Default::default()
            }))
        };
        assert!(is_refusal(&watcher::Error::InitialListFailed(status(403))));
        assert!(is_refusal(&watcher::Error::WatchStartFailed(status(404))));
        assert!(!is_refusal(&watcher::Error::InitialListFailed(status(500))));
        assert!(!is_refusal(&watcher::Error::InitialListFailed(status(429))));
    }
}
