//! The in-memory object store: every write of the API server (HTTP or in-process) goes through
//! here, so resourceVersions, events, watches, garbage collection and generation behave the same
//! for both.
//!
//! Objects are JSON values kept per group/resource (all versions of a resource share one map),
//! keyed by (namespace, name) in a `BTreeMap`, so lists come out sorted and pages are cheap.
//! One global counter gives every write its `resourceVersion`. Each write is broadcast as a
//! [`StoreEvent`] and kept in a bounded log from which watches can resume.
//!
//! The lock is a `std::sync::Mutex` held only for the in-memory work of one call; closures
//! passed to [`Store::mutate`] run under it and must not call back into the store.

mod defaults;
mod shape;
mod validate;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{SecondsFormat, Utc};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

pub use crate::resources::{Gvr, Propagation, ResourceInfo, StorageKey};
use crate::resources::{Registry, Shape, crd_resources};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{Cause, Error, Reason, Result};
pub use defaults::base64;
pub use shape::{to_served, to_stored};

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type ObjKey = (String, String);

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
}

impl WriteOptions {
    pub fn manager(name: &str) -> Self {
        WriteOptions {
            field_manager: Some(name.to_string()),
            ..Self::default()
        }
    }
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// The object as stored, in the shape of the version written through.
    pub object: Value,
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

/// Current time as the API server writes it.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn rfc3339_in(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meta_str<'a>(o: &'a Value, field: &str) -> &'a str {
    o["metadata"][field].as_str().unwrap_or_default()
}

fn parse_rv(s: &str) -> Option<u64> {
    s.parse().ok()
}

fn finalizers(o: &Value) -> Vec<String> {
    o["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn owner_uids(o: &Value) -> Vec<String> {
    o["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["uid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn is_deleting(o: &Value) -> bool {
    o["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Random suffix as `names.SimpleNameGenerator` makes it.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn encode_continue(rv: u64, key: &ObjKey) -> String {
    hex(&format!("{rv}\n{}\n{}", key.0, key.1))
}

fn decode_continue(token: &str) -> Result<(u64, ObjKey)> {
    let bad = || Error::bad_request("continue key is not valid: illegal base64 data");
    let s = unhex(token).ok_or_else(bad)?;
    let mut parts = s.splitn(3, '\n');
    let rv = parts.next().and_then(parse_rv).ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?.to_string();
    let name = parts.next().ok_or_else(bad)?.to_string();
    Ok((rv, (ns, name)))
}

/// Copies of `o` without the fields a no-op write may change (managedFields count only for
/// server-side apply, which computes them itself).
fn comparable(o: &Value, keep_managed_fields: bool) -> Value {
    let mut c = o.clone();
    if let Some(m) = c["metadata"].as_object_mut() {
        m.remove("resourceVersion");
        if !keep_managed_fields {
            m.remove("managedFields");
        }
    }
    c
}

/// Everything but metadata (and status, when it is a subresource): what bumps `generation`.
fn spec_part(o: &Value, has_status: bool) -> Value {
    let mut c = o.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if has_status {
            m.remove("status");
        }
    }
    c
}

struct State {
    rv: u64,
    objects: HashMap<StorageKey, BTreeMap<ObjKey, Arc<Value>>>,
    log: VecDeque<StoreEvent>,
    log_capacity: usize,
    /// Watches from a resourceVersion below this get 410 Expired.
    oldest: u64,
    registry: Registry,
    uids: HashMap<String, (StorageKey, ObjKey)>,
    /// owner uid -> objects whose ownerReferences name it.
    dependents: HashMap<String, BTreeSet<(StorageKey, ObjKey)>>,
    events: broadcast::Sender<StoreEvent>,
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
            events: events.clone(),
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
        let st = self.lock();
        let info = st.info(gvr)?;
        let key = obj_key(&info, namespace, name)?;
        st.get(&info.storage, &key)
            .map(|o| to_served(&info, o))
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
            .map(|w| w.object)
    }

    pub fn create_with(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written> {
        let mut st = self.lock();
        let info = st.info(gvr)?;
        st.create(&info, namespace, obj, opts)
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
        .map(|w| w.object)
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
        .map(|w| w.object)
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
        let mut st = self.lock();
        let info = st.info(gvr)?;
        st.update(&info, namespace, name, obj, sub, opts)
    }

    /// Atomic read-modify-write of an object: `f` gets the current object (in `gvr`'s shape)
    /// and edits it in place; the result is written as an update. If `f` changes nothing, nothing
    /// is written. If `f` fails, nothing is written and its error is returned.
    pub fn mutate<F>(&self, gvr: &Gvr, namespace: Option<&str>, name: &str, f: F) -> Result<Value>
    where
        F: FnOnce(&mut Value) -> Result<()>,
    {
        self.mutate_with(
            gvr,
            namespace,
            name,
            Subresource::Main,
            &WriteOptions::default(),
            f,
        )
        .map(|w| w.object)
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
        F: FnOnce(&mut Value) -> Result<()>,
    {
        self.mutate_with(
            gvr,
            namespace,
            name,
            Subresource::Status,
            &WriteOptions::default(),
            f,
        )
        .map(|w| w.object)
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
        F: FnOnce(&mut Value) -> Result<()>,
    {
        let mut st = self.lock();
        let info = st.info(gvr)?;
        let key = obj_key(&info, namespace, name)?;
        st.mutate(&info, &key, sub, opts, f)
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
            .cloned()
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, name))?;
        let last = st.remove(&info.storage, &key, (*old).clone());
        Ok(to_served(&info, &last))
    }

    /// Every committed change, as it happens. Lagging receivers get `RecvError::Lagged` and
    /// should relist.
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.events.subscribe()
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
                    m.values()
                        .filter(|o| in_ns(o))
                        .map(|o| StoreEvent {
                            event_type: EventType::Added,
                            storage: info.storage.clone(),
                            object: o.clone(),
                            previous: None,
                            resource_version: meta_str(o, "resourceVersion").parse().unwrap_or(0),
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

    // --- crate-internal access for the garbage collector ---

    /// The object with this uid: its resource, key and stored state.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<(Arc<ResourceInfo>, ObjKey, Arc<Value>)> {
        let st = self.lock();
        let (sk, key) = st.uids.get(uid)?;
        let obj = st.get(sk, key)?.clone();
        let info = st.registry.by_storage(sk)?;
        Some((info, key.clone(), obj))
    }

    pub(crate) fn uid_exists(&self, uid: &str) -> bool {
        self.lock().uids.contains_key(uid)
    }

    /// Objects whose ownerReferences name `uid`.
    pub(crate) fn dependents_of(&self, uid: &str) -> Vec<(StorageKey, ObjKey)> {
        self.lock()
            .dependents
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn get_stored(
        &self,
        sk: &StorageKey,
        key: &ObjKey,
    ) -> Option<(Arc<ResourceInfo>, Arc<Value>)> {
        let st = self.lock();
        let obj = st.get(sk, key)?.clone();
        Some((st.registry.by_storage(sk)?, obj))
    }

    /// Every stored object (storage key, key, object): for periodic sweeps.
    pub(crate) fn snapshot(&self) -> Vec<(StorageKey, ObjKey, Arc<Value>)> {
        let st = self.lock();
        st.objects
            .iter()
            .flat_map(|(sk, m)| m.iter().map(|(k, o)| (sk.clone(), k.clone(), o.clone())))
            .collect()
    }

    /// Keys of the objects in namespace `ns`, per namespaced storage key.
    pub(crate) fn namespace_contents(&self, ns: &str) -> Vec<(StorageKey, ObjKey, Arc<Value>)> {
        let st = self.lock();
        let mut out = Vec::new();
        for (sk, namespaced) in st.registry.storage_keys() {
            if !namespaced {
                continue;
            }
            if let Some(m) = st.objects.get(&sk) {
                let start = (ns.to_string(), String::new());
                for (k, o) in m.range(start..).take_while(|(k, _)| k.0 == ns) {
                    out.push((sk.clone(), k.clone(), o.clone()));
                }
            }
        }
        out
    }

    pub(crate) fn delete_key(
        &self,
        sk: &StorageKey,
        key: &ObjKey,
        opts: &DeleteOptions,
    ) -> Result<Deleted> {
        let mut st = self.lock();
        let info = st
            .registry
            .by_storage(sk)
            .ok_or_else(Error::path_not_found)?;
        st.delete(&info, key, opts)
    }

    pub(crate) fn mutate_key<F>(
        &self,
        sk: &StorageKey,
        key: &ObjKey,
        manager: &str,
        f: F,
    ) -> Result<Written>
    where
        F: FnOnce(&mut Value) -> Result<()>,
    {
        let mut st = self.lock();
        let info = st
            .registry
            .by_storage(sk)
            .ok_or_else(Error::path_not_found)?;
        st.mutate(
            &info,
            key,
            Subresource::Main,
            &WriteOptions::manager(manager),
            f,
        )
    }

    /// Clears a terminating namespace's `spec.finalizers` and removes it when nothing else holds it.
    pub(crate) fn finalize_namespace(&self, name: &str) -> Result<()> {
        let mut st = self.lock();
        let info = st.info(&Gvr::namespaces())?;
        let key = (String::new(), name.to_string());
        let Some(old) = st.get(&info.storage, &key).cloned() else {
            return Ok(());
        };
        if !is_deleting(&old) {
            return Ok(());
        }
        let mut new = (*old).clone();
        new["spec"]["finalizers"] = json!([]);
        if finalizers(&new).is_empty() {
            st.remove(&info.storage, &key, new);
        } else if *old != new {
            st.put(&info.storage, key, new, Some(old), EventType::Modified);
        }
        Ok(())
    }
}

/// The storage key of `name` in `namespace` for `info`.
fn obj_key(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> Result<ObjKey> {
    if info.namespaced {
        match namespace {
            Some(ns) if !ns.is_empty() => Ok((ns.to_string(), name.to_string())),
            _ => Err(Error::bad_request(
                "the server could not find the requested resource: a namespace is required",
            )),
        }
    } else {
        Ok((String::new(), name.to_string()))
    }
}

impl State {
    fn info(&self, gvr: &Gvr) -> Result<Arc<ResourceInfo>> {
        self.registry.lookup_gvr(gvr).ok_or_else(|| {
            Error::new(
                Reason::NotFound,
                format!(
                    "the server could not find the requested resource ({})",
                    crate::status::qualified(&gvr.group, &gvr.resource)
                ),
            )
        })
    }

    fn get(&self, sk: &StorageKey, key: &ObjKey) -> Option<&Arc<Value>> {
        self.objects.get(sk)?.get(key)
    }

    fn list(&self, info: &ResourceInfo, opts: &ListOptions) -> Result<ObjectList> {
        let (list_rv, start) = match &opts.continue_token {
            Some(t) if !t.is_empty() => {
                let (rv, key) = decode_continue(t)?;
                (rv, Bound::Excluded(key))
            }
            _ => (
                self.rv,
                match &opts.namespace {
                    Some(ns) => Bound::Included((ns.clone(), String::new())),
                    None => Bound::Unbounded,
                },
            ),
        };
        let mut items = Vec::new();
        let mut continue_token = None;
        if let Some(m) = self.objects.get(&info.storage) {
            let limit = opts.limit.filter(|l| *l > 0);
            let mut last_key: Option<&ObjKey> = None;
            for (k, o) in m.range((start, Bound::Unbounded)) {
                if let Some(ns) = &opts.namespace
                    && k.0 != *ns
                {
                    break;
                }
                if let Some(l) = limit
                    && items.len() == l
                {
                    // One more match exists: this page ends at the previous key.
                    if let Some(lk) = last_key {
                        continue_token = Some(encode_continue(list_rv, lk));
                    }
                    break;
                }
                // Native objects are matched as stored; only matches are copied.
                let converted = match info.shape {
                    Shape::Native => None,
                    Shape::EventsV1 => Some(to_served(info, o)),
                };
                let view = converted.as_ref().unwrap_or(o);
                let ok = opts.label_selector.as_ref().is_none_or(|s| s.matches(view))
                    && opts.field_selector.as_ref().is_none_or(|s| s.matches(view));
                if ok {
                    items.push(converted.unwrap_or_else(|| to_served(info, o)));
                    last_key = Some(k);
                }
            }
        }
        Ok(ObjectList {
            items,
            resource_version: list_rv,
            continue_token,
        })
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(&mut self, ev: StoreEvent) {
        self.log.push_back(ev.clone());
        while self.log.len() > self.log_capacity {
            if let Some(old) = self.log.pop_front() {
                self.oldest = self.oldest.max(old.resource_version);
            }
        }
        // No receivers is fine.
        let _ = self.events.send(ev);
    }

    fn index_owners(
        &mut self,
        sk: &StorageKey,
        key: &ObjKey,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let old_uids = old.map(owner_uids).unwrap_or_default();
        let new_uids = new.map(owner_uids).unwrap_or_default();
        let entry = (sk.clone(), key.clone());
        for u in old_uids.iter().filter(|u| !new_uids.contains(u)) {
            if let Some(set) = self.dependents.get_mut(u) {
                set.remove(&entry);
                if set.is_empty() {
                    self.dependents.remove(u);
                }
            }
        }
        for u in new_uids {
            self.dependents.entry(u).or_default().insert(entry.clone());
        }
    }

    /// Stores `obj` with a new resourceVersion and emits the event.
    fn put(
        &mut self,
        sk: &StorageKey,
        key: ObjKey,
        mut obj: Value,
        previous: Option<Arc<Value>>,
        event_type: EventType,
    ) -> Arc<Value> {
        let rv = self.next_rv();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let uid = meta_str(&obj, "uid").to_string();
        self.index_owners(sk, &key, previous.as_deref(), Some(&obj));
        if !uid.is_empty() {
            self.uids.insert(uid, (sk.clone(), key.clone()));
        }
        let obj = Arc::new(obj);
        self.objects
            .entry(sk.clone())
            .or_default()
            .insert(key, obj.clone());
        self.emit(StoreEvent {
            event_type,
            storage: sk.clone(),
            object: obj.clone(),
            previous,
            resource_version: rv,
        });
        obj
    }

    /// Removes the object at `key`; `last` is its final state (gets the deletion's rv).
    fn remove(&mut self, sk: &StorageKey, key: &ObjKey, mut last: Value) -> Value {
        let previous = self.objects.get_mut(sk).and_then(|m| m.remove(key));
        let rv = self.next_rv();
        last["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.index_owners(sk, key, previous.as_deref(), None);
        self.uids.remove(meta_str(&last, "uid"));
        // A CRD takes its resource and objects with it.
        if sk.group == "apiextensions.k8s.io" && sk.resource == "customresourcedefinitions" {
            self.drop_crd(&key.1, &last);
        }
        self.emit(StoreEvent {
            event_type: EventType::Deleted,
            storage: sk.clone(),
            object: Arc::new(last.clone()),
            previous,
            resource_version: rv,
        });
        last
    }

    fn drop_crd(&mut self, name: &str, crd: &Value) {
        self.registry.remove_crd(name);
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
        let sk = StorageKey::new(group, plural);
        if let Some(m) = self.objects.remove(&sk) {
            for (key, obj) in m {
                let rv = self.next_rv();
                let mut last = (*obj).clone();
                last["metadata"]["resourceVersion"] = json!(rv.to_string());
                self.index_owners(&sk, &key, Some(&obj), None);
                self.uids.remove(meta_str(&last, "uid"));
                self.emit(StoreEvent {
                    event_type: EventType::Deleted,
                    storage: sk.clone(),
                    object: Arc::new(last),
                    previous: Some(obj),
                    resource_version: rv,
                });
            }
        }
    }

    /// Checks apiVersion/kind of a client's object and fills them in when missing.
    fn check_type(info: &ResourceInfo, obj: &mut Value) -> Result<()> {
        let Some(m) = obj.as_object_mut() else {
            return Err(Error::bad_request(
                "the object provided is unrecognized: expected a JSON object",
            ));
        };
        let want_av = info.api_version();
        match m.get("apiVersion").and_then(Value::as_str) {
            Some(av) if !av.is_empty() && av != want_av => {
                // Another served version of the same group shares the storage.
                let same_group = match av.split_once('/') {
                    Some((g, _)) => g == info.group,
                    None => info.group.is_empty(),
                };
                if !same_group || info.shape == Shape::EventsV1 {
                    return Err(Error::bad_request(format!(
                        "the API version in the data ({av}) does not match the expected API version ({want_av})"
                    )));
                }
            }
            _ => {}
        }
        match m.get("kind").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k != info.kind => {
                return Err(Error::bad_request(format!(
                    "the object provided is unrecognized (must be of type {}): kind {k}",
                    info.kind
                )));
            }
            _ => {}
        }
        m.insert("apiVersion".into(), json!(want_av));
        m.insert("kind".into(), json!(info.kind));
        if !m.get("metadata").is_some_and(Value::is_object) {
            m.insert("metadata".into(), json!({}));
        }
        Ok(())
    }

    /// Schema work on a client's object (served shape): unknown fields per `fieldValidation`,
    /// pruning and defaults for custom resources, then validation causes.
    fn schema_pass(
        info: &ResourceInfo,
        obj: &mut Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
        causes: &mut Vec<Cause>,
    ) -> Result<()> {
        let Some(schema) = info.validation_schema() else {
            return Ok(());
        };
        let unknown: Vec<String> = schema
            .unknown_fields(obj)
            .into_iter()
            .map(|p| p.trim_start_matches('.').to_string())
            .collect();
        if !unknown.is_empty() {
            match validation {
                FieldValidation::Strict => {
                    let list = unknown
                        .iter()
                        .map(|p| format!("unknown field \"{p}\""))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(Error::bad_request(format!("strict decoding error: {list}")));
                }
                FieldValidation::Warn => {
                    warnings.extend(unknown.iter().map(|p| format!("unknown field \"{p}\"")));
                }
                FieldValidation::Ignore => {}
            }
        }
        schema.prune(obj);
        schema.apply_defaults(obj);
        causes.extend(schema.validate(obj).into_iter().map(Cause::from));
        Ok(())
    }

    fn check_namespace(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<()> {
        let nsk = StorageKey::new("", "namespaces");
        match self.get(&nsk, &(String::new(), ns.to_string())) {
            None => Err(Error::not_found("", "namespaces", ns)),
            Some(n) if is_deleting(n) => Err(Error::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                crate::status::qualified(&info.group, &info.plural)
            ))
            .with_details(crate::status::Details {
                name: name.to_string(),
                group: info.group.clone(),
                kind: info.plural.clone(),
                uid: String::new(),
                causes: vec![Cause {
                    reason: "NamespaceTerminating".into(),
                    message: format!("namespace {ns} is being terminated"),
                    field: "metadata.namespace".into(),
                }],
            })),
            Some(_) => Ok(()),
        }
    }

    fn create(
        &mut self,
        info: &Arc<ResourceInfo>,
        namespace: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Written> {
        Self::check_type(info, &mut obj)?;
        let meta_ns = meta_str(&obj, "namespace").to_string();
        let ns = if info.namespaced {
            let url_ns = namespace.filter(|n| !n.is_empty());
            match (url_ns, meta_ns.as_str()) {
                (Some(u), m) if !m.is_empty() && m != u => {
                    return Err(Error::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                (Some(u), _) => u.to_string(),
                (None, m) if !m.is_empty() => m.to_string(),
                (None, _) => {
                    return Err(Error::bad_request(
                        "a namespace is required for this resource",
                    ));
                }
            }
        } else {
            String::new()
        };
        {
            let meta = obj["metadata"]
                .as_object_mut()
                .ok_or_else(|| Error::bad_request("metadata must be an object"))?;
            if info.namespaced {
                meta.insert("namespace".into(), json!(ns));
            } else {
                meta.remove("namespace");
            }
            let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
            let generate = meta
                .get("generateName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() && !generate.is_empty() {
                let generated = format!("{generate}{}", random_suffix());
                meta.insert("name".into(), json!(generated));
            }
            for f in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "selfLink",
            ] {
                meta.remove(f);
            }
            if !opts.server_side_apply {
                meta.remove("managedFields");
            }
        }
        let name = meta_str(&obj, "name").to_string();
        if info.namespaced {
            self.check_namespace(info, &ns, &name)?;
        }
        if info.has_status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        let mut warnings = Vec::new();
        let mut causes = Vec::new();
        validate::name(info.name_rule, &name, &mut causes);
        validate::labels_and_annotations(&obj["metadata"], &mut causes);
        if info.shape == Shape::EventsV1 {
            validate::events_v1(&obj, &mut causes);
        }
        validate::kind_rules(&info.storage, &obj, &mut causes);
        Self::schema_pass(
            info,
            &mut obj,
            opts.field_validation,
            &mut warnings,
            &mut causes,
        )?;
        let crd_infos = if is_crd(info) && causes.is_empty() {
            Some(crd_resources(&obj)?)
        } else {
            None
        };
        if !causes.is_empty() {
            return Err(Error::invalid(&info.group, &info.kind, &name, causes));
        }
        let key = (ns, name.clone());
        if self.get(&info.storage, &key).is_some() {
            return Err(Error::already_exists(&info.group, &info.plural, &name));
        }
        let now = now_rfc3339();
        obj["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        obj["metadata"]["creationTimestamp"] = json!(now);
        if info.has_generation {
            obj["metadata"]["generation"] = json!(1);
        }
        let mut stored = to_stored(info, obj);
        defaults::on_create(&info.storage.group, &info.kind, &mut stored);
        if let Some(infos) = &crd_infos {
            crd_status(&mut stored, infos);
        }
        let manager = opts.field_manager.as_deref().unwrap_or(DEFAULT_MANAGER);
        if !opts.server_side_apply {
            crate::patch::track_update(None, &mut stored, manager, None, &now);
        }
        if opts.dry_run {
            return Ok(Written {
                object: to_served(info, &stored),
                warnings,
                created: true,
            });
        }
        if let Some(infos) = crd_infos {
            self.registry.set_crd(&name, infos);
        }
        let stored = self.put(&info.storage, key, stored, None, EventType::Added);
        Ok(Written {
            object: to_served(info, &stored),
            warnings,
            created: true,
        })
    }

    fn update(
        &mut self,
        info: &Arc<ResourceInfo>,
        namespace: Option<&str>,
        name: &str,
        mut obj: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Written> {
        Self::check_type(info, &mut obj)?;
        let body_name = meta_str(&obj, "name").to_string();
        if body_name.is_empty() {
            obj["metadata"]["name"] = json!(name);
        } else if body_name != name {
            return Err(Error::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let key = obj_key(info, namespace, name)?;
        if info.namespaced {
            let body_ns = meta_str(&obj, "namespace");
            if !body_ns.is_empty() && body_ns != key.0 {
                return Err(Error::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let Some(old) = self.get(&info.storage, &key).cloned() else {
            if info.create_on_update && sub == Subresource::Main {
                return self.create(info, namespace, obj, opts);
            }
            return Err(Error::not_found(&info.group, &info.plural, name));
        };
        self.commit_update(info, &key, old, obj, sub, opts)
    }

    fn mutate<F>(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &ObjKey,
        sub: Subresource,
        opts: &WriteOptions,
        f: F,
    ) -> Result<Written>
    where
        F: FnOnce(&mut Value) -> Result<()>,
    {
        let old = self
            .get(&info.storage, key)
            .cloned()
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, &key.1))?;
        let served = to_served(info, &old);
        let mut new = served.clone();
        f(&mut new)?;
        if new == served {
            return Ok(Written {
                object: served,
                warnings: Vec::new(),
                created: false,
            });
        }
        Self::check_type(info, &mut new)?;
        let new_name = meta_str(&new, "name");
        if !new_name.is_empty() && new_name != key.1 {
            return Err(Error::bad_request(format!(
                "the name of the object ({new_name}) does not match the name on the URL ({})",
                key.1
            )));
        }
        self.commit_update(info, key, old, new, sub, opts)
    }

    /// The common path of every update: preconditions, subresource separation, validation,
    /// generation, managedFields, then store (or complete a pending deletion).
    fn commit_update(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &ObjKey,
        old: Arc<Value>,
        body: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Written> {
        let name = key.1.as_str();
        let body_rv = meta_str(&body, "resourceVersion");
        if !body_rv.is_empty() && body_rv != meta_str(&old, "resourceVersion") {
            return Err(Error::stale(&info.group, &info.plural, name));
        }
        let body_uid = meta_str(&body, "uid");
        if !body_uid.is_empty() && body_uid != meta_str(&old, "uid") {
            return Err(Error::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {}",
                    meta_str(&old, "uid")
                ),
            ));
        }
        let old_served = to_served(info, &old);
        let mut causes = Vec::new();
        let mut warnings = Vec::new();
        let mut new = match sub {
            Subresource::Status => {
                let mut n = old_served.clone();
                match body.get("status") {
                    Some(s) if !s.is_null() => n["status"] = s.clone(),
                    _ => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                n
            }
            Subresource::Main => {
                let mut n = body;
                defaults::on_write(&info.group, &info.kind, &mut n);
                if info.has_status {
                    match old_served.get("status") {
                        Some(s) => n["status"] = s.clone(),
                        None => {
                            if let Some(m) = n.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                let old_meta = &old_served["metadata"];
                for f in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "name",
                    "namespace",
                    "resourceVersion",
                ] {
                    match old_meta.get(f) {
                        Some(v) => n["metadata"][f] = v.clone(),
                        None => {
                            if let Some(m) = n["metadata"].as_object_mut() {
                                m.remove(f);
                            }
                        }
                    }
                }
                if n["metadata"].get("managedFields").is_none()
                    && let Some(mf) = old_meta.get("managedFields")
                {
                    n["metadata"]["managedFields"] = mf.clone();
                }
                if is_namespace(info) {
                    // spec.finalizers change only through /finalize.
                    n["spec"] = old_served["spec"].clone();
                }
                if is_deleting(&old) {
                    let before = finalizers(&old);
                    if finalizers(&n).iter().any(|f| !before.contains(f)) {
                        causes.push(Cause {
                            reason: "FieldValueForbidden".into(),
                            message: "Forbidden: no new finalizers can be added if the object is being deleted".into(),
                            field: "metadata.finalizers".into(),
                        });
                    }
                }
                validate::labels_and_annotations(&n["metadata"], &mut causes);
                validate::kind_rules(&info.storage, &n, &mut causes);
                if info.storage.group == "batch" && info.storage.resource == "jobs" {
                    validate::job_immutable(&old_served, &n, &mut causes);
                }
                n
            }
        };
        Self::schema_pass(
            info,
            &mut new,
            opts.field_validation,
            &mut warnings,
            &mut causes,
        )?;
        let crd_infos = if is_crd(info) && causes.is_empty() {
            Some(crd_resources(&new)?)
        } else {
            None
        };
        if !causes.is_empty() {
            return Err(Error::invalid(&info.group, &info.kind, name, causes));
        }
        let mut stored = to_stored(info, new);
        if comparable(&stored, opts.server_side_apply) == comparable(&old, opts.server_side_apply) {
            return Ok(Written {
                object: old_served,
                warnings,
                created: false,
            });
        }
        if info.has_generation
            && spec_part(&stored, info.has_status) != spec_part(&old, info.has_status)
        {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
            stored["metadata"]["generation"] = json!(g + 1);
        }
        if let Some(infos) = &crd_infos {
            crd_status(&mut stored, infos);
        }
        let now = now_rfc3339();
        let manager = opts.field_manager.as_deref().unwrap_or(DEFAULT_MANAGER);
        if !opts.server_side_apply {
            crate::patch::track_update(Some(&old), &mut stored, manager, sub.name(), &now);
        }
        if opts.dry_run {
            return Ok(Written {
                object: to_served(info, &stored),
                warnings,
                created: false,
            });
        }
        if let Some(infos) = crd_infos {
            self.registry.set_crd(name, infos);
        }
        let done = is_deleting(&stored)
            && finalizers(&stored).is_empty()
            && stored["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0)
                == 0
            && !(is_namespace(info)
                && stored["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()));
        let stored = if done {
            Arc::new(self.remove(&info.storage, key, stored))
        } else {
            self.put(
                &info.storage,
                key.clone(),
                stored,
                Some(old),
                EventType::Modified,
            )
        };
        Ok(Written {
            object: to_served(info, &stored),
            warnings,
            created: false,
        })
    }

    fn delete(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &ObjKey,
        opts: &DeleteOptions,
    ) -> Result<Deleted> {
        let name = key.1.as_str();
        let old = self
            .get(&info.storage, key)
            .cloned()
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, name))?;
        let uid = meta_str(&old, "uid");
        if let Some(p) = &opts.precondition_uid
            && p != uid
        {
            return Err(Error::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {p}, UID in object meta: {uid}"
                ),
            ));
        }
        let rv = meta_str(&old, "resourceVersion");
        if let Some(p) = &opts.precondition_resource_version
            && p != rv
        {
            return Err(Error::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {p}, ResourceVersion in object meta: {rv}"
                ),
            ));
        }
        let is_ns = is_namespace(info);
        if is_ns && matches!(name, "default" | "kube-system" | "kube-public") {
            return Err(Error::forbidden(format!(
                "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
            ))
            .with_details(crate::status::Details {
                name: name.to_string(),
                kind: "namespaces".into(),
                ..Default::default()
            }));
        }
        let policy = opts.propagation_policy.unwrap_or(info.default_propagation);
        let gc_finalizer = match policy {
            Propagation::Orphan => Some("orphan"),
            Propagation::Foreground => Some("foregroundDeletion"),
            Propagation::Background => None,
        };
        let is_pod = info.storage.group.is_empty() && info.storage.resource == "pods";
        let grace = if is_pod {
            let phase = old["status"]["phase"].as_str().unwrap_or_default();
            let bound = !old["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .is_empty();
            if !bound || phase == "Succeeded" || phase == "Failed" {
                0
            } else {
                opts.grace_period_seconds
                    .unwrap_or_else(|| {
                        old["spec"]["terminationGracePeriodSeconds"]
                            .as_i64()
                            .unwrap_or(30)
                    })
                    .max(0)
            }
        } else {
            0
        };
        let mut new = (*old).clone();
        let mut fins = finalizers(&old);
        if let Some(f) = gc_finalizer {
            // The other GC finalizer goes: the last policy asked for wins.
            fins.retain(|x| x != "orphan" && x != "foregroundDeletion");
            fins.push(f.to_string());
        } else if opts.propagation_policy.is_some() {
            fins.retain(|x| x != "orphan" && x != "foregroundDeletion");
        }
        let deleting = is_deleting(&old);
        if deleting {
            // A repeat delete may shorten a pod's grace period or change the GC finalizer.
            let cur = old["metadata"]["deletionGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(0);
            if grace < cur {
                new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
                new["metadata"]["deletionTimestamp"] = json!(rfc3339_in(grace));
            }
        } else {
            new["metadata"]["deletionTimestamp"] = json!(rfc3339_in(grace));
            new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            if info.has_generation {
                let g = old["metadata"]["generation"].as_i64().unwrap_or(0);
                new["metadata"]["generation"] = json!(g + 1);
            }
        }
        // Only a GC finalizer the policy asked for is added to an object that has nothing
        // else holding it; others follow the live state.
        if !fins.is_empty() || !finalizers(&old).is_empty() {
            new["metadata"]["finalizers"] = json!(fins);
        }
        if is_ns {
            new["status"]["phase"] = json!("Terminating");
        }
        let ns_held = is_ns
            && new["spec"]["finalizers"]
                .as_array()
                .is_some_and(|a| !a.is_empty());
        let grace_now = new["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0);
        // An orphan/foreground finalizer with no dependents at all is pointless; the GC would
        // remove it at once. Keep it anyway: the API server adds it and the GC clears it.
        let immediate = fins.is_empty() && grace_now == 0 && !ns_held;
        if opts.dry_run {
            return Ok(if immediate {
                Deleted::Gone(to_served(info, &old))
            } else {
                Deleted::Pending(to_served(info, &new))
            });
        }
        if immediate {
            let last = self.remove(&info.storage, key, new);
            return Ok(Deleted::Gone(to_served(info, &last)));
        }
        if *old == new {
            return Ok(Deleted::Pending(to_served(info, &old)));
        }
        if let Some(m) = opts.field_manager.as_deref() {
            crate::patch::track_update(Some(&old), &mut new, m, None, &now_rfc3339());
        }
        let stored = self.put(
            &info.storage,
            key.clone(),
            new,
            Some(old),
            EventType::Modified,
        );
        Ok(Deleted::Pending(to_served(info, &stored)))
    }
}

fn is_crd(info: &ResourceInfo) -> bool {
    info.storage.group == "apiextensions.k8s.io"
        && info.storage.resource == "customresourcedefinitions"
}

fn is_namespace(info: &ResourceInfo) -> bool {
    info.storage.group.is_empty() && info.storage.resource == "namespaces"
}

/// A served CRD's status: names accepted, established, stored versions.
fn crd_status(crd: &mut Value, infos: &[Arc<ResourceInfo>]) {
    let now = now_rfc3339();
    let storage = crd["spec"]["versions"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["storage"].as_bool() == Some(true)))
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    let mut stored_versions: Vec<String> = crd["status"]["storedVersions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if !storage.is_empty() && !stored_versions.contains(&storage) {
        stored_versions.push(storage);
    }
    let accepted = crd["spec"]["names"].clone();
    let prior_time = |ty: &str| {
        crd["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == ty))
            .and_then(|c| c["lastTransitionTime"].as_str().map(String::from))
            .unwrap_or_else(|| now.clone())
    };
    let served = !infos.is_empty();
    crd["status"] = json!({
        "acceptedNames": accepted,
        "storedVersions": stored_versions,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": prior_time("NamesAccepted")},
            {"type": "Established", "status": if served { "True" } else { "False" },
             "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
             "lastTransitionTime": prior_time("Established")},
        ],
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
    }

    #[test]
    fn create_get_update_conflict() {
        let s = Store::new(100);
        let gvr = Gvr::configmaps();
        let c = s.create(&gvr, Some("default"), cm("a")).unwrap();
        assert!(!meta_str(&c, "uid").is_empty());
        let rv1 = meta_str(&c, "resourceVersion").to_string();
        let mut u = c.clone();
        u["data"]["a"] = json!("2");
        let u2 = s.update(&gvr, Some("default"), u.clone()).unwrap();
        assert_ne!(meta_str(&u2, "resourceVersion"), rv1);
        let e = s.update(&gvr, Some("default"), u).unwrap_err();
        assert_eq!(e.code, 409);
        let e = s.create(&gvr, Some("default"), cm("a")).unwrap_err();
        assert_eq!(e.reason, Reason::AlreadyExists);
        let e = s.create(&gvr, Some("nope"), cm("b")).unwrap_err();
        assert_eq!(e.code, 404);
    }

    #[test]
    fn noop_update_keeps_rv() {
        let s = Store::new(100);
        let gvr = Gvr::configmaps();
        let c = s.create(&gvr, Some("default"), cm("a")).unwrap();
        let same = s.mutate(&gvr, Some("default"), "a", |_| Ok(())).unwrap();
        assert_eq!(
            meta_str(&same, "resourceVersion"),
            meta_str(&c, "resourceVersion")
        );
    }

    #[test]
    fn pages() {
        let s = Store::new(100);
        let gvr = Gvr::configmaps();
        for i in 0..5 {
            s.create(&gvr, Some("default"), cm(&format!("c{i}")))
                .unwrap();
        }
        let mut opts = ListOptions {
            namespace: Some("default".into()),
            limit: Some(2),
            ..Default::default()
        };
        let mut names = Vec::new();
        loop {
            let page = s.list(&gvr, &opts).unwrap();
            names.extend(page.items.iter().map(|i| meta_str(i, "name").to_string()));
            match page.continue_token {
                Some(t) => opts.continue_token = Some(t),
                None => break,
            }
        }
        assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);
    }

    #[test]
    fn status_is_separate() {
        let s = Store::new(100);
        let gvr = Gvr::jobs();
        let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}, "status": {"active": 3}});
        let j = s.create(&gvr, Some("default"), job).unwrap();
        assert!(j.get("status").is_none());
        assert_eq!(j["metadata"]["generation"], 1);
        let j = s
            .mutate_status(&gvr, Some("default"), "j", |o| {
                o["status"]["active"] = json!(1);
                o["spec"]["parallelism"] = json!(5);
                Ok(())
            })
            .unwrap();
        assert_eq!(j["status"]["active"], 1);
        assert_eq!(j["spec"]["parallelism"], 1);
        assert_eq!(j["metadata"]["generation"], 1);
        let j = s
            .mutate(&gvr, Some("default"), "j", |o| {
                o["status"]["active"] = json!(7);
                o["spec"]["parallelism"] = json!(2);
                Ok(())
            })
            .unwrap();
        assert_eq!(j["status"]["active"], 1);
        assert_eq!(j["spec"]["parallelism"], 2);
        assert_eq!(j["metadata"]["generation"], 2);
    }

    #[test]
    fn finalizers_hold_deletion() {
        let s = Store::new(100);
        let gvr = Gvr::configmaps();
        let mut o = cm("f");
        o["metadata"]["finalizers"] = json!(["x/y"]);
        s.create(&gvr, Some("default"), o).unwrap();
        let d = s
            .delete(&gvr, Some("default"), "f", &DeleteOptions::default())
            .unwrap();
        assert!(matches!(d, Deleted::Pending(_)));
        s.mutate(&gvr, Some("default"), "f", |o| {
            o["metadata"]["finalizers"] = json!([]);
            Ok(())
        })
        .unwrap();
        assert_eq!(s.get(&gvr, Some("default"), "f").unwrap_err().code, 404);
    }

    #[test]
    fn watch_replay_and_expiry() {
        let s = Store::new(3);
        let gvr = Gvr::configmaps();
        let rv0 = s.resource_version();
        for i in 0..2 {
            s.create(&gvr, Some("default"), cm(&format!("w{i}")))
                .unwrap();
        }
        let w = s.watch(&gvr, None, WatchStart::After(rv0)).unwrap();
        assert_eq!(w.initial.len(), 2);
        for i in 2..6 {
            s.create(&gvr, Some("default"), cm(&format!("w{i}")))
                .unwrap();
        }
        assert_eq!(
            s.watch(&gvr, None, WatchStart::After(rv0))
                .unwrap_err()
                .code,
            410
        );
        s.expire_watch_history();
        let now = s.resource_version();
        assert!(s.watch(&gvr, None, WatchStart::After(now)).is_ok());
        assert_eq!(
            s.watch(&gvr, None, WatchStart::After(now - 1))
                .unwrap_err()
                .code,
            410
        );
    }
}
