//! Updates off the lock: read the stored version under it, compute the new state without it
//! (the caller's edit, validation, managedFields), then commit under it only if the object
//! is still the version read; otherwise compute again on the new version. Writers of
//! different objects (and readers) never wait on another's validation or managedFields.

use std::sync::Arc;

use serde_json::Value;

use super::write::Prepared;
use super::{ObjKey, ResourceInfo, State, Store, Written};
use crate::status::Result;

impl Store {
    /// The optimistic read-modify-write under every update. `locate` names the object (under
    /// the lock); `edit` computes its new state from the version read, and runs again if
    /// another write commits first. None when the object does not exist.
    pub(super) fn write_optimistic<L, E>(&self, locate: L, mut edit: E) -> Result<Option<Written>>
    where
        L: Fn(&State) -> Result<(Arc<ResourceInfo>, ObjKey)>,
        E: FnMut(&Arc<ResourceInfo>, &ObjKey, &Arc<Value>) -> Result<Prepared>,
    {
        loop {
            let (info, key, entry) = {
                let st = self.lock();
                let (info, key) = locate(&st)?;
                let entry = st.entry(&info.storage, &key).cloned();
                (info, key, entry)
            };
            let Some(entry) = entry else {
                return Ok(None);
            };
            let old = entry.value();
            let prepared = match edit(&info, &key, &old)? {
                Prepared::Done(w) => return Ok(Some(w)),
                Prepared::Store(p) => p,
            };
            let mut st = self.lock();
            let (now_info, _) = locate(&st)?;
            let unchanged = Arc::ptr_eq(&now_info, &info)
                && st
                    .entry(&info.storage, &key)
                    .is_some_and(|e| e.resource_version() == entry.resource_version());
            if unchanged {
                return Ok(Some(st.commit_update(&info, &key, old, prepared)));
            }
            // Another write committed (or the resource changed) meanwhile: edit again.
        }
    }
}
