//! Conversion between a resource's served shape and its stored shape. Only Events differ:
//! events.k8s.io/v1 Events are stored as core/v1 Events, as the API server does.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::resources::{ResourceInfo, Shape};

/// (events.k8s.io/v1 field, core/v1 field) pairs that are renamed one to one.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn rename(obj: &Map<String, Value>, to_core: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        let renamed = EVENT_FIELDS.iter().find_map(|(v1, core)| {
            if to_core && k == v1 {
                Some(*core)
            } else if !to_core && k == core {
                Some(*v1)
            } else {
                None
            }
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out
}

/// The stored object as a client of `info` sees it (apiVersion and kind set).
pub fn to_served(info: &ResourceInfo, stored: &Value) -> Value {
    let mut out = match (info.shape, stored) {
        (Shape::EventsV1, Value::Object(m)) => Value::Object(rename(m, false)),
        (Shape::EventsV1, other) | (Shape::Native, other) => other.clone(),
    };
    if let Value::Object(m) = &mut out {
        m.insert("apiVersion".into(), Value::String(info.api_version()));
        m.insert("kind".into(), Value::String(info.kind.clone()));
    }
    out
}

/// [`to_served`] without a copy when the stored object already is in `info`'s shape (a
/// native resource read through the version that wrote it: the common case).
pub fn served_shared(info: &ResourceInfo, stored: &Arc<Value>) -> Arc<Value> {
    let same = info.shape == Shape::Native
        && stored.get("kind").and_then(Value::as_str) == Some(info.kind.as_str())
        && stored
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|av| match av.split_once('/') {
                Some((g, v)) => g == info.group && v == info.version,
                None => info.group.is_empty() && av == info.version,
            });
    if same {
        stored.clone()
    } else {
        Arc::new(to_served(info, stored))
    }
}

/// A client's object in the stored shape.
pub fn to_stored(info: &ResourceInfo, served: Value) -> Value {
    match (info.shape, served) {
        (Shape::EventsV1, Value::Object(m)) => {
            let mut out = rename(&m, true);
            out.insert("apiVersion".into(), Value::String("v1".into()));
            out.insert("kind".into(), Value::String("Event".into()));
            Value::Object(out)
        }
        (Shape::EventsV1, other) | (Shape::Native, other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;
    use serde_json::json;

    #[test]
    fn events_round_trip() {
        let r = Registry::new();
        let v1 = r.lookup("events.k8s.io", "v1", "events").unwrap();
        let served = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e"}, "note": "hi", "regarding": {"kind": "Job", "name": "j"},
            "reportingController": "bt", "reason": "JobTerminated"});
        let stored = to_stored(&v1, served.clone());
        assert_eq!(stored["message"], "hi");
        assert_eq!(stored["involvedObject"]["name"], "j");
        assert_eq!(stored["reportingComponent"], "bt");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(to_served(&v1, &stored), served);
        assert_eq!(*served_shared(&v1, &Arc::new(stored)), served);
    }

    #[test]
    fn a_native_object_in_its_served_shape_is_shared_not_copied() {
        let r = Registry::new();
        let v1 = r.lookup("batch", "v1", "jobs").unwrap();
        let stored =
            Arc::new(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}));
        assert!(Arc::ptr_eq(&served_shared(&v1, &stored), &stored));
        let other =
            Arc::new(json!({"apiVersion": "batch/v2", "kind": "Job", "metadata": {"name": "j"}}));
        let served = served_shared(&v1, &other);
        assert!(!Arc::ptr_eq(&served, &other));
        assert_eq!(served["apiVersion"], "batch/v1");
    }
}
