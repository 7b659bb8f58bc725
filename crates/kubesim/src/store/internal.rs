//! Crate-internal access for the garbage collector and the namespace finalizer.

use std::sync::Arc;

use serde_json::{Value, json};

use super::object::{finalizers, is_deleting};
use super::{
    DeleteOptions, Deleted, EventType, Gvr, ListOptions, ObjKey, ResourceInfo, State, StorageKey,
    Store, Subresource, WriteOptions, Written,
};
use crate::status::{Error, Result};

impl Store {
    /// The object with this uid: its resource, key and stored state.
    pub(crate) fn by_uid(&self, uid: &str) -> Option<(Arc<ResourceInfo>, ObjKey, Arc<Value>)> {
        let st = self.lock();
        let (sk, key) = st.uids.get(uid)?;
        let obj = st.get(sk, key)?;
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
        let obj = st.get(sk, key)?;
        Some((st.registry.by_storage(sk)?, obj))
    }

    /// GET without a copy: the object as stored, shared. For resources whose served shape is
    /// the stored one (all but events.k8s.io Events); the in-process controllers read this way.
    pub(crate) fn get_shared(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Arc<Value>> {
        let st = self.lock();
        let info = st.info(gvr)?;
        let key = super::object::obj_key(&info, namespace, name)?;
        st.get(&info.storage, &key)
            .ok_or_else(|| Error::not_found(&info.group, &info.plural, name))
    }

    /// LIST without copies: every match (no paging), as stored, shared.
    pub(crate) fn list_shared(&self, gvr: &Gvr, opts: &ListOptions) -> Result<Vec<Arc<Value>>> {
        let st = self.lock();
        let info = st.info(gvr)?;
        Ok(st.list_stored(&info, opts)?.items)
    }

    /// The pods bound to node `node` (by `spec.nodeName`), as stored.
    pub(crate) fn pods_on_node(&self, node: &str) -> Vec<Arc<Value>> {
        let st = self.lock();
        let pods = StorageKey::new("", "pods");
        st.pods_by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|k| st.get(&pods, k))
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
                    out.push((sk.clone(), k.clone(), o.value()));
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
        F: FnMut(&mut Value) -> Result<()>,
    {
        let mut f = f;
        let opts = WriteOptions::manager(manager);
        self.write_optimistic(
            |st| {
                let info = st
                    .registry
                    .by_storage(sk)
                    .ok_or_else(Error::path_not_found)?;
                Ok((info, key.clone()))
            },
            |info, key, old| {
                State::prepare_mutate(info, key, old, Subresource::Main, &opts, &mut f)
            },
        )?
        .ok_or_else(|| Error::not_found(&sk.group, &sk.resource, &key.1))
    }

    /// Clears a terminating namespace's `spec.finalizers` and removes it when nothing else holds it.
    pub(crate) fn finalize_namespace(&self, name: &str) -> Result<()> {
        let mut st = self.lock();
        let info = st.info(&Gvr::namespaces())?;
        let key = (String::new(), name.to_string());
        let Some(old) = st.get(&info.storage, &key) else {
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
