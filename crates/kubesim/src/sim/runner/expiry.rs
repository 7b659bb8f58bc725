//! Events: expiry after their time to live.

use k8s_openapi::jiff::Timestamp;

use super::{ControlPlane, Key, Timer, meta, not_found, ns_opt};
use crate::store::{DeleteOptions, Gvr};
impl ControlPlane {
    pub(super) fn process_event(&mut self, k: &Key) {
        let created = match self.event_created.get(k) {
            Some(c) => *c,
            None => {
                let Ok(v) = self.store.get_shared(&Gvr::events(), ns_opt(&k.0), &k.1) else {
                    return;
                };
                // The stored time has whole seconds; an event never counts as older than that.
                let now = Timestamp::now();
                let c = meta(&v, "creationTimestamp")
                    .parse::<Timestamp>()
                    .ok()
                    .filter(|c| *c <= now)
                    .unwrap_or(now);
                self.event_created.insert(k.clone(), c);
                c
            }
        };
        let t = self.now();
        match self.expiry.remaining(created, &t) {
            Some(left) => self.after(left, Timer::Event(k.clone())),
            None => {
                self.event_created.remove(k);
                match self.store.delete(
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
}
