//! The CRD lifecycle: status (names accepted, established) and the removal of a CRD's
//! resource and objects with it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::object::{meta_str, now_rfc3339};
use super::{EventType, State, StorageKey, StoreEvent};
use crate::resources::ResourceInfo;

impl State {
    pub(super) fn drop_crd(&mut self, name: &str, crd: &Value) {
        self.registry.remove_crd(name);
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
        let sk = StorageKey::new(group, plural);
        self.labels.remove(&sk);
        if let Some(m) = self.objects.remove(&sk) {
            for (key, entry) in m {
                let obj = entry.value();
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
                    lines: Arc::default(),
                });
            }
        }
    }
}

/// A served CRD's status: names accepted, established, stored versions.
pub(super) fn crd_status(crd: &mut Value, infos: &[Arc<ResourceInfo>]) {
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
