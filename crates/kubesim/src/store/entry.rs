//! The compact form of a stored object: its JSON as bytes, parsed again when read.
//!
//! A parsed `serde_json::Value` costs about 8 times its JSON (a `BTreeMap` node per object,
//! a `String` per key), so the store keeps bytes. The parsed value a write produced is still
//! shared while anything holds it (the event log, a watcher, a controller): reading it then
//! costs nothing; only an object nobody has touched lately is parsed again.

use std::sync::{Arc, Weak};

use axum::body::Bytes;
use serde_json::Value;

/// One stored object version.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    json: Bytes,
    resource_version: u64,
    parsed: Weak<Value>,
}

impl Entry {
    /// The stored form of `obj`, whose `metadata.resourceVersion` is `resource_version`.
    pub(super) fn new(obj: &Arc<Value>, resource_version: u64) -> Entry {
        // A Value always serializes; the boxed slice drops the Vec's spare capacity.
        let json = serde_json::to_vec(&**obj).unwrap_or_default();
        Entry {
            json: Bytes::from(json.into_boxed_slice()),
            resource_version,
            parsed: Arc::downgrade(obj),
        }
    }

    /// The object, shared with whoever still holds the version written, else parsed.
    pub(super) fn value(&self) -> Arc<Value> {
        self.parsed.upgrade().unwrap_or_else(|| {
            // The store wrote these bytes from a Value: they parse.
            Arc::new(serde_json::from_slice(&self.json).unwrap_or(Value::Null))
        })
    }

    /// The version this entry holds: an optimistic write commits only if it is unchanged.
    pub(super) fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Bytes of JSON held.
    #[cfg(test)]
    pub(super) fn json_len(&self) -> usize {
        self.json.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_held_version_is_shared_and_a_dropped_one_is_parsed_again() {
        let obj = Arc::new(
            json!({"metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}}),
        );
        let e = Entry::new(&obj, 7);
        assert_eq!(e.resource_version(), 7);
        assert!(Arc::ptr_eq(&e.value(), &obj), "shared while held");
        let want = (*obj).clone();
        drop(obj);
        let parsed = e.value();
        assert_eq!(*parsed, want, "parsed back from the bytes");
        assert_eq!(e.json_len(), serde_json::to_vec(&want).unwrap().len());
    }
}
