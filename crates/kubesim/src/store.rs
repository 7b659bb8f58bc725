//! The in-memory object store: every write of the API server (HTTP or in-process) goes through
//! here, so resourceVersions, events, watches, garbage collection and generation behave the same
//! for both.
//!
//! Objects are JSON values kept per group/resource (all versions of a resource share one map),
//! keyed by (namespace, name) in a `BTreeMap`, so lists come out sorted and pages are cheap.
//! One global counter gives every write its `resourceVersion`. Each write is broadcast as a
//! [`StoreEvent`] and kept in a bounded log from which watches can resume.
//!
//! The lock is a `std::sync::Mutex` held only for the in-memory work of one call. Creates and
//! updates validate and compute managedFields without it; closures passed to
//! [`Store::mutate`] run without it too and may run more than once (see `optimistic.rs`).

mod crd;
pub(crate) mod defaults;
mod delete;
mod entry;
mod internal;
mod list;
mod object;
mod optimistic;
mod shape;
mod state;
mod validate;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use crate::resources::Registry;
pub use crate::resources::{Gvr, Propagation, ResourceInfo, StorageKey};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{Error, Reason, Result};
pub use object::now_rfc3339;
use object::{meta_str, obj_key};
pub use shape::{served_shared, to_served, to_stored};

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type ObjKey = (String, String);

/// (label key, label value) -> objects, sorted as lists return them.
type LabelIndex = HashMap<(String, String), BTreeSet<ObjKey>>;

/// The manager recorded for in-process writes that name none.
pub const DEFAULT_MANAGER: &str = "kubesim";

/// The kind of change a [`StoreEvent`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// As in a watch event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change. `object` is in the stored shape (use [`to_served`] for a version's
/// shape); for a deletion it is the last state, carrying the deletion's resourceVersion.
#[derive(Debug, Clone)]
pub struct StoreEvent {
    pub event_type: EventType,
    pub storage: StorageKey,
    pub object: Arc<Value>,
    /// The state before the change (None for ADDED).
    pub previous: Option<Arc<Value>>,
    pub resource_version: u64,
    /// Watch lines already written for this event, shared by every watcher that sends them.
    pub lines: Arc<WatchLines>,
}

/// The watch-stream lines of one event, each serialized once per (apiVersion, event type)
/// however many watchers send it.
#[derive(Debug, Default)]
pub struct WatchLines(Mutex<Vec<(String, &'static str, Bytes)>>);

impl WatchLines {
    /// The line for a watcher of `api_version` that sees the event as `ty`; `encode` runs only
    /// for the first such watcher.
    pub fn get_or_encode(
        &self,
        api_version: &str,
        ty: &'static str,
        encode: impl FnOnce() -> Bytes,
    ) -> Bytes {
        let mut lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, _, b)) = lines.iter().find(|(v, t, _)| v == api_version && *t == ty) {
            return b.clone();
        }
        let b = encode();
        lines.push((api_version.to_string(), ty, b.clone()));
        b
    }
}

/// The `fieldValidation` of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Ignore" => Some(FieldValidation::Ignore),
            "Warn" => Some(FieldValidation::Warn),
            "Strict" => Some(FieldValidation::Strict),
            _ => None,
        }
    }
}

/// Which part of an object a write targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    /// The object; `.status` changes are ignored for kinds with a status subresource.
    Main,
    /// `/status`: only `.status` changes.
    Status,
}

impl Subresource {
    fn name(self) -> Option<&'static str> {
        match self {
            Subresource::Main => None,
            Subresource::Status => Some("status"),
        }
    }
}

/// Options of a create, update or patch.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Validate and compute the result, store nothing.
    pub dry_run: bool,
    /// Recorded in managedFields; [`DEFAULT_MANAGER`] when None.
    pub field_manager: Option<String>,
    pub field_validation: FieldValidation,
    /// The write is a server-side apply that already computed managedFields.
    pub server_side_apply: bool,
    /// The object was serialized from a k8s-openapi type by an in-process controller: it has
    /// no unknown fields and the schema's type checks cannot fail, so the schema walk
    /// (prune, defaults, validation) is skipped. Every other rule still applies.
    pub typed: bool,
}

impl WriteOptions {
    pub fn manager(name: &str) -> Self {
        WriteOptions {
            field_manager: Some(name.to_string()),
            ..Self::default()
        }
    }

    /// The default manager's write of a typed object (see [`WriteOptions::typed`]).
    pub fn typed() -> Self {
        WriteOptions {
            typed: true,
            ..Self::default()
        }
    }
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored, in the shape of the version written through (shared with the
    /// store when that is its stored shape).
    pub object: Arc<Value>,
    /// `Warning` header texts (unknown fields under `fieldValidation=Warn`).
    pub warnings: Vec<String>,
    /// The write created the object.
    pub created: bool,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// None lists all namespaces.
    pub namespace: Option<String>,
    pub label_selector: Option<LabelSelector>,
    pub field_selector: Option<FieldSelector>,
    pub limit: Option<usize>,
    /// The `continue` token of the previous page.
    pub continue_token: Option<String>,
    /// `resourceVersion`: unset or "0" read the latest state; N reads at least N, or exactly N
    /// with [`ListOptions::resource_version_match`] `Exact` (or a `limit`, as etcd does).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`: `Exact` or `NotOlderThan`.
    pub resource_version_match: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ObjectList {
    pub items: Vec<Value>,
    pub resource_version: u64,
    /// Set when more items follow.
    pub continue_token: Option<String>,
}

/// DeleteOptions.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    /// None: the resource's default.
    pub propagation_policy: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
    pub field_manager: Option<String>,
}

/// The outcome of a delete.
#[derive(Debug, Clone)]
pub enum Deleted {
    /// The object is gone; its last state.
    Gone(Value),
    /// The object still exists with a deletionTimestamp (finalizers or graceful pod deletion).
    Pending(Value),
}

impl Deleted {
    pub fn object(&self) -> &Value {
        match self {
            Deleted::Gone(v) | Deleted::Pending(v) => v,
        }
    }
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStart {
    /// Synthetic ADDED events for the current state, then live events.
    Current,
    /// Replay events after this resourceVersion (410 Expired when it is too old).
    After(u64),
}

/// The start of a watch: events to send first, then the live receiver.
#[derive(Debug)]
pub struct WatchInit {
    pub initial: Vec<StoreEvent>,
    pub receiver: broadcast::Receiver<StoreEvent>,
    /// The store's resourceVersion when the watch started.
    pub resource_version: u64,
}

struct State {
    rv: u64,
    /// Compact: serialized, parsed when read ([`entry::Entry`]).
    objects: HashMap<StorageKey, BTreeMap<ObjKey, entry::Entry>>,
    log: VecDeque<StoreEvent>,
    log_capacity: usize,
    /// Watches from a resourceVersion below this get 410 Expired.
    oldest: u64,
    registry: Registry,
    uids: HashMap<String, (StorageKey, ObjKey)>,
    /// owner uid -> objects whose ownerReferences name it.
    dependents: HashMap<String, BTreeSet<(StorageKey, ObjKey)>>,
    /// Per resource, (label key, value) -> the objects that carry it: a label-selected list
    /// costs time in proportion to its matches.
    labels: HashMap<StorageKey, LabelIndex>,
    /// node name -> the pods bound to it (the pod GC's lookup when a node goes).
    pods_by_node: HashMap<String, BTreeSet<ObjKey>>,
    events: broadcast::Sender<StoreEvent>,
    /// Lossless feeds of the in-process controllers (see [`Store::feed`]).
    feeds: Vec<mpsc::UnboundedSender<StoreEvent>>,
}

struct Inner {
    state: Mutex<State>,
    events: broadcast::Sender<StoreEvent>,
    expired: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
}

/// The object store. Cheap to clone; all clones share the same data.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.resource_version())
            .finish()
    }
}

impl Store {
    /// A store holding the namespaces every cluster has (`default`, `kube-system`,
    /// `kube-public`, `kube-node-lease`). `event_log_capacity` bounds watch replay.
    pub fn new(event_log_capacity: usize) -> Store {
        let cap = event_log_capacity.max(1);
        let (events, _) = broadcast::channel(cap.max(1024));
        let state = State {
            rv: 0,
            objects: HashMap::new(),
            log: VecDeque::new(),
            log_capacity: cap,
            oldest: 0,
            registry: Registry::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            labels: HashMap::new(),
            pods_by_node: HashMap::new(),
            events: events.clone(),
            feeds: Vec::new(),
        };
        let store = Store {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                events,
                expired: watch::channel(0).0,
                shutdown: watch::channel(false).0,
            }),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            if let Err(e) = store.create(&Gvr::namespaces(), None, obj) {
                tracing::error!(error = %e, "creating namespace {ns}");
            }
        }
        store
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in a mutate closure must not wedge the server.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// A snapshot of the served resources.
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// The served resource `gvr`, or 404.
    pub fn resource(&self, gvr: &Gvr) -> Result<Arc<ResourceInfo>> {
        self.lock().info(gvr)
    }

    /// The latest resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// GET. `namespace` is ignored for cluster-scoped resources.
    pub fn get(&self, gvr: &Gvr, namespace: Option<&str>, name: &str) -> Result<Value> {
        let (info, entry) = {
            let st = self.lock();
            let info = st.info(gvr)?;
            let key = obj_key(&info, namespace, name)?;
            let entry = st.entry(&info.storage, &key).cloned();
            (info, entry)
        };
        // Parsed after the lock is released.
        entry
            .map(|e| to_served(&info, &e.value()))
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, name))
    }

    /// LIST, sorted by namespace then name. With a `limit`, only that page is copied.
    pub fn list(&self, gvr: &Gvr, opts: &ListOptions) -> Result<ObjectList> {
        let st = self.lock();
        let info = st.info(gvr)?;
        st.list(&info, opts)
    }

    /// Creates an object (POST) as the default manager.
    pub fn create(&self, gvr: &Gvr, namespace: Option<&str>, obj: Value) -> Result<Value> {
        self.create_with(gvr, namespace, obj, &WriteOptions::default())
            .map(|w| Arc::unwrap_or_clone(w.object))
    }

    pub fn create_with(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written> {
        // Validation and the schema walk run before the lock: concurrent creates (HTTP
        // clients, the controllers' pods and Events) only serialize on the stored change.
        let info = self.lock().info(gvr)?;
        let prepared = State::prepare_create(&info, namespace, obj, opts)?;
        let mut st = self.lock();
        // A resource gone meanwhile (its CRD deleted) takes no new objects.
        st.info(gvr)?;
        st.commit_create(&info, prepared, opts)
    }

    /// Replaces an object (PUT). A non-empty `metadata.resourceVersion` must match (409
    /// Conflict otherwise); an empty one is an unconditional update.
    pub fn update(&self, gvr: &Gvr, namespace: Option<&str>, obj: Value) -> Result<Value> {
        let name = meta_str(&obj, "name").to_string();
        self.update_with(
            gvr,
            namespace,
            &name,
            obj,
            Subresource::Main,
            &WriteOptions::default(),
        )
        .map(|w| Arc::unwrap_or_clone(w.object))
    }

    /// Replaces an object's status (PUT on `/status`).
    pub fn update_status(&self, gvr: &Gvr, namespace: Option<&str>, obj: Value) -> Result<Value> {
        let name = meta_str(&obj, "name").to_string();
        self.update_with(
            gvr,
            namespace,
            &name,
            obj,
            Subresource::Status,
            &WriteOptions::default(),
        )
        .map(|w| Arc::unwrap_or_clone(w.object))
    }

    pub fn update_with(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        obj: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Written> {
        let info = self.lock().info(gvr)?;
        let mut body = obj;
        let key = State::check_put(&info, namespace, name, &mut body)?;
        loop {
            let updated = self.write_optimistic(
                |st| Ok((st.info(gvr)?, key.clone())),
                |info, key, old| State::prepare_update(info, key, old, body.clone(), sub, opts),
            )?;
            match updated {
                Some(w) => return Ok(w),
                None if info.create_on_update && sub == Subresource::Main => {
                    match self.create_with(gvr, namespace, body.clone(), opts) {
                        // Created by another write meanwhile: update it.
                        Err(e) if e.reason == Reason::AlreadyExists => continue,
                        r => return r,
                    }
                }
                None => return Err(Error::not_found(&info.group, &info.plural, name)),
            }
        }
    }

    /// Atomic read-modify-write of an object: `f` gets the current object (in `gvr`'s shape)
    /// and edits it in place; the result is written as an update. If `f` changes nothing, nothing
    /// is written. If `f` fails, nothing is written and its error is returned. `f` runs without
    /// the store's lock, and again on the newer version if another write commits first.
    pub fn mutate<F>(&self, gvr: &Gvr, namespace: Option<&str>, name: &str, f: F) -> Result<Value>
    where
        F: FnMut(&mut Value) -> Result<()>,
    {
        self.mutate_with(
            gvr,
            namespace,
            name,
            Subresource::Main,
            &WriteOptions::default(),
            f,
        )
        .map(|w| Arc::unwrap_or_clone(w.object))
    }

    /// [`Store::mutate`] of the status subresource: only `.status` edits are kept.
    pub fn mutate_status<F>(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        f: F,
    ) -> Result<Value>
    where
        F: FnMut(&mut Value) -> Result<()>,
    {
        self.mutate_with(
            gvr,
            namespace,
            name,
            Subresource::Status,
            &WriteOptions::default(),
            f,
        )
        .map(|w| Arc::unwrap_or_clone(w.object))
    }

    pub fn mutate_with<F>(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        sub: Subresource,
        opts: &WriteOptions,
        f: F,
    ) -> Result<Written>
    where
        F: FnMut(&mut Value) -> Result<()>,
    {
        let mut f = f;
        self.write_optimistic(
            |st| {
                let info = st.info(gvr)?;
                let key = obj_key(&info, namespace, name)?;
                Ok((info, key))
            },
            |info, key, old| State::prepare_mutate(info, key, old, sub, opts, &mut f),
        )?
        .ok_or_else(|| {
            let info = self.resource(gvr);
            match info {
                Ok(info) => Error::not_found(&info.group, &info.plural, name),
                Err(e) => e,
            }
        })
    }

    /// DELETE with options: preconditions, grace period (pods), finalizers and propagation.
    pub fn delete(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted> {
        let mut st = self.lock();
        let info = st.info(gvr)?;
        let key = obj_key(&info, namespace, name)?;
        st.delete(&info, &key, opts)
    }

    /// DELETE on a collection: deletes every object the list options select.
    pub fn delete_collection(
        &self,
        gvr: &Gvr,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Value>> {
        let mut st = self.lock();
        let info = st.info(gvr)?;
        let mut all = list.clone();
        all.limit = None;
        all.continue_token = None;
        all.resource_version = None;
        all.resource_version_match = None;
        let items = st.list(&info, &all)?.items;
        let mut out = Vec::new();
        for item in items {
            let key = obj_key(
                &info,
                Some(meta_str(&item, "namespace")),
                meta_str(&item, "name"),
            )?;
            match st.delete(&info, &key, opts) {
                Ok(d) => out.push(d.object().clone()),
                // Gone meanwhile (a cascade): nothing to do.
                Err(e) if e.reason == Reason::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Removes an object at once, ignoring finalizers and grace periods (the kubelet's final
    /// delete of a pod). Returns its last state.
    pub fn force_remove(&self, gvr: &Gvr, namespace: Option<&str>, name: &str) -> Result<Value> {
        let mut st = self.lock();
        let info = st.info(gvr)?;
        let key = obj_key(&info, namespace, name)?;
        let old = st
            .get(&info.storage, &key)
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, name))?;
        let last = st.remove(&info.storage, &key, (*old).clone());
        Ok(to_served(&info, &last))
    }

    /// Every committed change, as it happens. Lagging receivers get `RecvError::Lagged` and
    /// should relist.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.events.subscribe()
    }

    /// Every committed change from now on, losslessly: unlike [`Store::subscribe`] the queue is
    /// unbounded and never lags, so a controller fed by it needs no periodic resync. Events
    /// stay queued until read; dropping the receiver ends the feed.
    pub fn feed(&self) -> mpsc::UnboundedReceiver<StoreEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().feeds.push(tx);
        rx
    }

    /// Starts a watch of one resource (optionally one namespace): the initial events and a
    /// receiver for what follows, taken atomically.
    pub fn watch(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        start: WatchStart,
    ) -> Result<WatchInit> {
        let st = self.lock();
        let info = st.info(gvr)?;
        let in_ns = |o: &Value| namespace.is_none_or(|ns| meta_str(o, "namespace") == ns);
        let initial = match start {
            WatchStart::Current => st
                .objects
                .get(&info.storage)
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| namespace.is_none_or(|ns| k.0 == ns))
                        .map(|(_, e)| StoreEvent {
                            event_type: EventType::Added,
                            storage: info.storage.clone(),
                            object: e.value(),
                            previous: None,
                            resource_version: e.resource_version(),
                            lines: Arc::default(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            WatchStart::After(rv) => {
                if rv < st.oldest {
                    return Err(Error::expired(format!(
                        "too old resource version: {rv} ({})",
                        st.oldest
                    )));
                }
                st.log
                    .iter()
                    .filter(|e| {
                        e.resource_version > rv && e.storage == info.storage && in_ns(&e.object)
                    })
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchInit {
            initial,
            receiver: st.events.subscribe(),
            resource_version: st.rv,
        })
    }

    /// Forgets the watch history: every resourceVersion up to now becomes too old, and every
    /// open watch ends with a 410 Expired ERROR event (clients relist).
    pub fn expire_watch_history(&self) {
        {
            let mut st = self.lock();
            st.log.clear();
            st.oldest = st.rv;
        }
        self.inner.expired.send_modify(|n| *n += 1);
    }

    /// Changes each time [`Store::expire_watch_history`] runs.
    pub fn expired_signal(&self) -> watch::Receiver<u64> {
        self.inner.expired.subscribe()
    }

    /// Turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Ends watches and background tasks.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }
}

#[cfg(test)]
mod tests;
