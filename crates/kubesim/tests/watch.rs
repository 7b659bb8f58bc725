//! Watches through kube-runtime: watcher, reflector across a forced 410, and a Controller.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{eventually, namespace, sim};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

#[tokio::test]
async fn watcher_sees_changes_with_label_selector() {
    let s = sim().await;
    let ns = namespace(&s.client, "watch").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    api.create(&PostParams::default(), &cm("pre", json!({"app": "a"})))
        .await
        .unwrap();
    let cfg = watcher::Config::default().labels("app=a");
    let mut stream = watcher(api.clone(), cfg).applied_objects().boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("pre"));
    api.create(&PostParams::default(), &cm("other", json!({"app": "b"})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("post", json!({"app": "a"})))
        .await
        .unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.metadata.name.as_deref(), Some("post"));
}

#[tokio::test]
async fn raw_watch_selector_transitions_and_timeout() {
    let s = sim().await;
    let ns = namespace(&s.client, "rawwatch").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c = api
        .create(&PostParams::default(), &cm("m", json!({"app": "a"})))
        .await
        .unwrap();
    let rv = c.metadata.resource_version.clone().unwrap();
    let wp = kube::api::WatchParams::default().labels("app=a").timeout(2);
    let mut events = api.watch(&wp, &rv).await.unwrap().boxed();
    // Stops matching: DELETED for this watcher.
    api.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "z"}}})),
    )
    .await
    .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(ev, kube::api::WatchEvent::Deleted(_)), "{ev:?}");
    // Matches again: ADDED.
    api.patch(
        "m",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "a"}}})),
    )
    .await
    .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(ev, kube::api::WatchEvent::Added(_)), "{ev:?}");
    // timeoutSeconds=2 ends the stream cleanly.
    let end = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap();
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn watch_from_expired_version_gets_410() {
    let s = sim().await;
    let ns = namespace(&s.client, "gone").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c = api
        .create(&PostParams::default(), &cm("x", json!({})))
        .await
        .unwrap();
    api.delete("x", &DeleteParams::default()).await.unwrap();
    s.handle.expire_watch_history();
    let rv = c.metadata.resource_version.unwrap();
    let mut events = api
        .watch(&kube::api::WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let ev = events.next().await.unwrap().unwrap();
    match ev {
        kube::api::WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reflector_stays_in_sync_across_forced_410() {
    let s = sim().await;
    let ns = namespace(&s.client, "refl").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let (reader, writer) = reflector::store::<ConfigMap>();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()))
        .applied_objects()
        .for_each(|_| async {});
    let task = tokio::spawn(stream);
    reader.wait_until_ready().await.unwrap();
    eventually(5, "3 objects", || async {
        (reader.state().len() == 3).then_some(())
    })
    .await;

    s.handle.expire_watch_history();
    api.delete("c0", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("c3", json!({})))
        .await
        .unwrap();
    s.handle.expire_watch_history();
    api.create(&PostParams::default(), &cm("c4", json!({})))
        .await
        .unwrap();
    eventually(10, "reflector in sync after 410s", || async {
        let mut names: Vec<String> = reader
            .state()
            .iter()
            .filter_map(|o| o.metadata.name.clone())
            .collect();
        names.sort();
        (names == ["c1", "c2", "c3", "c4"]).then_some(())
    })
    .await;
    // The watcher really relisted: more than one list request was served.
    let lists = s
        .handle
        .requests()
        .iter()
        .filter(|r| r.verb == "list" && r.resource == "configmaps")
        .count();
    assert!(lists >= 2, "lists: {lists}");
    task.abort();
}

#[tokio::test]
async fn controller_reconciles_objects_created_after_start() {
    let s = sim().await;
    let ns = namespace(&s.client, "ctrl").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let seen = Arc::new(AtomicUsize::new(0));
    struct Ctx {
        api: Api<ConfigMap>,
        seen: Arc<AtomicUsize>,
    }
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        seen: seen.clone(),
    });
    #[derive(Debug, thiserror::Error)]
    #[error("reconcile: {0}")]
    struct ReconcileError(#[from] kube::Error);
    async fn reconcile(obj: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
        let name = obj.metadata.name.clone().unwrap_or_default();
        if obj.data.as_ref().and_then(|d| d.get("done")).is_none() {
            ctx.api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": {"done": "yes"}})),
                )
                .await?;
            ctx.seen.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Action::await_change())
    }
    fn error_policy(_: Arc<ConfigMap>, _: &ReconcileError, _: Arc<Ctx>) -> Action {
        Action::requeue(Duration::from_millis(100))
    }
    let ctrl = Controller::new(api.clone(), watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {});
    let task = tokio::spawn(ctrl);
    // Create only once the controller is watching.
    let handle = &s.handle;
    eventually(5, "controller watching", || async {
        handle
            .requests()
            .iter()
            .any(|r| r.verb == "watch" && r.resource == "configmaps")
            .then_some(())
    })
    .await;
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("r{i}"), json!({})))
            .await
            .unwrap();
    }
    eventually(10, "all reconciled", || async {
        let mut done = 0;
        for i in 0..3 {
            let o = api.get(&format!("r{i}")).await.ok()?;
            if o.data.as_ref().and_then(|d| d.get("done")).is_some() {
                done += 1;
            }
        }
        (done == 3).then_some(())
    })
    .await;
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    task.abort();
}
