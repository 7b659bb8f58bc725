//! Events the simulated controllers emit, and their expiry.
//!
//! The controllers record core/v1 Events the way client-go's legacy recorder does (the job
//! controller and the kubelet use it; the server stores both Event APIs in one store). Events
//! expire after a TTL, one hour by default as with kube-apiserver's `--event-ttl`, scaled by
//! the time scale.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;

use super::clock::SimTime;

/// kube-apiserver's default `--event-ttl`.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regarding {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
    pub resource_version: Option<String>,
}

/// An event a controller wants recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub type_: EventType,
    pub reason: String,
    pub message: String,
    /// The controller name: `job-controller`, `default-scheduler`, `kubelet`, `ttl-after-finished-controller`.
    pub component: &'static str,
    /// The node, for kubelet events (`source.host`).
    pub host: Option<String>,
    /// events.k8s.io/v1 `action`, set by recorders of that API (the scheduler).
    pub action: Option<&'static str>,
    /// `involvedObject.fieldPath`, e.g. `spec.containers{main}` for container events.
    pub field_path: Option<String>,
}

impl EventSpec {
    pub fn new(
        component: &'static str,
        type_: EventType,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            reason: reason.into(),
            message: message.into(),
            component,
            host: None,
            action: None,
            field_path: None,
        }
    }

    /// The core/v1 Event to create, named `<object>.<hex nanos>` as client-go names them.
    pub fn to_event(&self, regarding: &Regarding, t: &SimTime) -> Event {
        let nanos = t.now.as_nanosecond();
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", regarding.name, nanos)),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(regarding.api_version.clone()),
                kind: Some(regarding.kind.clone()),
                namespace: regarding.namespace.clone(),
                name: Some(regarding.name.clone()),
                uid: Some(regarding.uid.clone()),
                resource_version: regarding.resource_version.clone(),
                field_path: self.field_path.clone(),
            },
            reason: Some(self.reason.clone()),
            message: Some(self.message.clone()),
            type_: Some(self.type_.as_str().to_string()),
            source: Some(EventSource {
                component: Some(self.component.to_string()),
                host: self.host.clone(),
            }),
            first_timestamp: Some(t.time()),
            last_timestamp: Some(t.time()),
            count: Some(1),
            event_time: self.action.map(|_| MicroTime(t.now)),
            action: self.action.map(str::to_string),
            reporting_component: Some(self.component.to_string()),
            reporting_instance: Some(self.host.clone().unwrap_or_default()),
            related: None,
            series: None,
        }
    }
}

/// When an event expires: `ttl` (simulated) after it was created.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventExpiry {
    pub ttl: Duration,
}

impl Default for EventExpiry {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_EVENT_TTL,
        }
    }
}

impl EventExpiry {
    /// Real time left before an event created at `created` expires; `None` when it has.
    pub fn remaining(&self, created: Timestamp, t: &SimTime) -> Option<Duration> {
        t.remaining(created, self.ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock::TimeScale;
    use k8s_openapi::jiff::SignedDuration;

    fn regarding() -> Regarding {
        Regarding {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            namespace: Some("ns".into()),
            name: "pi".into(),
            uid: "u1".into(),
            resource_version: Some("7".into()),
        }
    }

    #[test]
    fn event_looks_like_client_go_legacy_recorder() {
        let t = SimTime::new(
            Timestamp::from_second(1_700_000_000).unwrap(),
            TimeScale::default(),
        );
        let spec = EventSpec::new(
            "job-controller",
            EventType::Normal,
            "SuccessfulCreate",
            "Created pod: pi-abcde",
        );
        let ev = spec.to_event(&regarding(), &t);
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(
            v["metadata"]["name"],
            format!("pi.{:x}", 1_700_000_000_000_000_000i64)
        );
        assert_eq!(v["metadata"]["namespace"], "ns");
        assert_eq!(v["involvedObject"]["kind"], "Job");
        assert_eq!(v["involvedObject"]["uid"], "u1");
        assert_eq!(v["reason"], "SuccessfulCreate");
        assert_eq!(v["type"], "Normal");
        assert_eq!(v["source"]["component"], "job-controller");
        assert_eq!(v["reportingComponent"], "job-controller");
        assert_eq!(v["count"], 1);
        assert_eq!(v["firstTimestamp"], "2023-11-14T22:13:20Z");
        assert!(v.get("eventTime").is_none());
    }

    #[test]
    fn expiry_is_scaled() {
        let created = Timestamp::from_second(1_000).unwrap();
        let scale = TimeScale::new(0.001).unwrap();
        let exp = EventExpiry::default();
        // 3600 s * 0.001 = 3.6 s of real time.
        let at = |ms| {
            SimTime::new(
                created
                    .checked_add(SignedDuration::from_millis(ms))
                    .unwrap(),
                scale,
            )
        };
        assert_eq!(
            exp.remaining(created, &at(600)),
            Some(Duration::from_secs(3))
        );
        assert_eq!(exp.remaining(created, &at(3600)), None);
    }
}
