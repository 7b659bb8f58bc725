//! Events: expiry after their time to live.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;

use super::{Base, Controller, Key, Queue, key_of, meta, not_found, ns_opt};
use crate::sim::events::EventExpiry;
use crate::store::{DeleteOptions, EventType, Gvr, ListOptions, StoreEvent};

pub(super) struct Expiry {
    base: Base,
    expiry: EventExpiry,
    queue: Queue,
    created: HashMap<Key, Timestamp>,
}

impl Controller for Expiry {
    fn resync(&mut self) {
        for e in self.base.list(&Gvr::events(), &ListOptions::default()) {
            self.queue.add(key_of(&e));
        }
    }

    fn on_event(&mut self, e: &StoreEvent) {
        match e.event_type {
            EventType::Added => self.queue.add(key_of(&e.object)),
            EventType::Deleted => {
                self.created.remove(&key_of(&e.object));
            }
            EventType::Modified => {}
        }
    }

    fn sync(&mut self, k: &Key) {
        let created = match self.created.get(k) {
            Some(c) => *c,
            None => {
                let Ok(v) = self
                    .base
                    .store
                    .get_shared(&Gvr::events(), ns_opt(&k.0), &k.1)
                else {
                    return;
                };
                // The stored time has whole seconds; an event never counts as older than that.
                let now = Timestamp::now();
                let c = meta(&v, "creationTimestamp")
                    .parse::<Timestamp>()
                    .ok()
                    .filter(|c| *c <= now)
                    .unwrap_or(now);
                self.created.insert(k.clone(), c);
                c
            }
        };
        let t = self.base.now();
        match self.expiry.remaining(created, &t) {
            Some(left) => self.queue.after(left, k.clone()),
            None => {
                self.created.remove(k);
                match self.base.store.delete(
                    &Gvr::events(),
                    ns_opt(&k.0),
                    &k.1,
                    &DeleteOptions::default(),
                ) {
                    Ok(_) => {}
                    Err(e) if not_found(&e) => {}
                    Err(e) => tracing::warn!(error = %e, event = %k.1, "expiring event"),
                }
            }
        }
    }

    fn queue(&mut self) -> &mut Queue {
        &mut self.queue
    }
}

impl Expiry {
    pub(super) fn new(base: Base) -> Self {
        Self {
            expiry: EventExpiry {
                ttl: base.cfg.event_ttl,
            },
            base,
            queue: Queue::default(),
            created: HashMap::new(),
        }
    }
}
