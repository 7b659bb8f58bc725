//! Watch streams: newline-delimited JSON events over a chunked response, one chunk per event.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::table::Printer;
use crate::resources::{ResourceInfo, Shape};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::Error;
use crate::store::{EventType, Store, StoreEvent, WatchStart, to_served};

/// A watch request's parameters.
#[derive(Debug, Clone)]
pub struct WatchParams {
    pub namespace: Option<String>,
    pub label: Option<LabelSelector>,
    pub field: Option<FieldSelector>,
    pub start: WatchStart,
    pub timeout: Option<Duration>,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: a BOOKMARK marks the end of the initial events.
    pub initial_events_end: bool,
    pub bookmark_interval: Duration,
    /// `as=Table`: each event carries a one-row Table (with its column definitions).
    pub table: Option<Arc<Printer>>,
}

fn line(ty: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": ty, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(info: &ResourceInfo, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": meta}),
    )
}

fn expired_line(message: String) -> Bytes {
    line("ERROR", &Error::expired(message).to_status())
}

struct Filter {
    info: Arc<ResourceInfo>,
    params: WatchParams,
}

impl Filter {
    fn matches(&self, o: &Value) -> bool {
        self.params.label.as_ref().is_none_or(|s| s.matches(o))
            && self.params.field.as_ref().is_none_or(|s| s.matches(o))
    }

    /// An object as this watcher's selectors see it: native objects as stored.
    fn served<'a>(&self, o: &'a Value) -> Cow<'a, Value> {
        match self.info.shape {
            Shape::Native => Cow::Borrowed(o),
            Shape::EventsV1 => Cow::Owned(to_served(&self.info, o)),
        }
    }

    fn in_scope(&self, ev: &StoreEvent) -> bool {
        ev.storage == self.info.storage
            && self.params.namespace.as_deref().is_none_or(|ns| {
                ev.object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    == ns
            })
    }

    /// The event this watcher sees, if any: objects that start or stop matching the
    /// selectors turn into ADDED or DELETED. Native objects are matched as stored and every
    /// watcher of one version shares the event's serialized line.
    fn render(&self, ev: &StoreEvent) -> Option<Bytes> {
        if !self.in_scope(ev) {
            return None;
        }
        let now = self.matches(&self.served(&ev.object));
        let before = ev.previous.as_ref().map(|p| self.matches(&self.served(p)));
        let ty = match (ev.event_type, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Added, _, false) => return None,
            (EventType::Modified, Some(true) | None, true) => "MODIFIED",
            (EventType::Modified, Some(false), true) => "ADDED",
            (EventType::Modified, Some(true), false) => "DELETED",
            (EventType::Modified, Some(false) | None, false) => return None,
            (EventType::Deleted, b, n) => {
                if n || b == Some(true) {
                    "DELETED"
                } else {
                    return None;
                }
            }
        };
        match &self.params.table {
            Some(p) => Some(line(ty, &p.one(&to_served(&self.info, &ev.object)))),
            None => Some(ev.lines.get_or_encode(&self.info.api_version(), ty, || {
                line(ty, &to_served(&self.info, &ev.object))
            })),
        }
    }
}

/// Starts a watch and returns the streaming response.
pub fn serve(
    store: &Store,
    info: Arc<ResourceInfo>,
    params: WatchParams,
) -> Result<Response, Error> {
    let content_type = params
        .table
        .as_ref()
        .map_or("application/json", |p| p.content_type());
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(256);
    let gvr = info.gvr();
    match store.watch(&gvr, params.namespace.as_deref(), params.start) {
        Ok(init) => {
            let store = store.clone();
            tokio::spawn(run(store, Filter { info, params }, init, tx));
        }
        Err(e) if e.code == 410 => {
            // As the watch cache does: a 200 stream with one ERROR event.
            let msg = e.message.clone();
            tokio::spawn(async move {
                let _ = tx.send(Ok(expired_line(msg))).await;
            });
        }
        Err(e) => return Err(e),
    }
    let mut resp = Response::new(Body::from_stream(ReceiverStream::new(rx)));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}

async fn run(
    store: Store,
    filter: Filter,
    init: crate::store::WatchInit,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
) {
    let mut rx = init.receiver;
    let mut expired = store.expired_signal();
    expired.borrow_and_update();
    let mut stop = store.shutdown_signal();
    if *stop.borrow_and_update() {
        return;
    }
    let mut last_rv = init.resource_version;
    for ev in &init.initial {
        if let Some(b) = filter.render(ev)
            && tx.send(Ok(b)).await.is_err()
        {
            return;
        }
    }
    if filter.params.initial_events_end
        && tx
            .send(Ok(bookmark(&filter.info, last_rv, true)))
            .await
            .is_err()
    {
        return;
    }
    let deadline = filter
        .params
        .timeout
        .map(|t| tokio::time::Instant::now() + t);
    let period = filter
        .params
        .bookmark_interval
        .max(Duration::from_millis(10));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        let out = tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    last_rv = last_rv.max(ev.resource_version);
                    match filter.render(&ev) {
                        Some(b) => b,
                        None => continue,
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let _ = tx.send(Ok(expired_line(format!(
                        "too old resource version: {last_rv} (watcher fell behind)"
                    )))).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            _ = expired.changed() => {
                let _ = tx.send(Ok(expired_line(format!(
                    "too old resource version: {last_rv} ({})", store.resource_version()
                )))).await;
                return;
            }
            _ = stop.changed() => return,
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => return,
            _ = ticks.tick(), if filter.params.bookmarks => bookmark(&filter.info, last_rv, false),
            _ = tx.closed() => return,
        };
        if tx.send(Ok(out)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Gvr;

    fn filter(store: &Store, label: Option<&str>) -> Filter {
        Filter {
            info: store.resource(&Gvr::configmaps()).expect("configmaps"),
            params: WatchParams {
                namespace: None,
                label: label.map(|l| LabelSelector::parse(l).expect("selector")),
                field: None,
                start: WatchStart::Current,
                timeout: None,
                bookmarks: false,
                initial_events_end: false,
                bookmark_interval: Duration::from_secs(60),
                table: None,
            },
        }
    }

    #[test]
    fn watchers_share_one_serialized_line() {
        let store = Store::new(100);
        let mut rx = store.subscribe();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}});
        store
            .create(&Gvr::configmaps(), Some("default"), cm)
            .expect("create");
        let ev = rx.try_recv().expect("an event");
        let (a, b) = (filter(&store, None), filter(&store, Some("x=1")));
        let (la, lb) = (
            a.render(&ev).expect("a line"),
            b.render(&ev).expect("a line"),
        );
        assert_eq!(la, lb);
        // The same allocation: serialized once, not once per watcher.
        assert_eq!(la.as_ptr(), lb.as_ptr());
        assert!(filter(&store, Some("x=2")).render(&ev).is_none());
    }
}
