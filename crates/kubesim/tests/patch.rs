//! PATCH in its four flavours, status subresource, preconditions.

mod common;

use common::{code, namespace, sim};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": [
        {"name": "a", "image": "busybox:1", "env": [{"name": "X", "value": "1"}]},
        {"name": "b", "image": "busybox:1"}
    ]}}))
    .unwrap()
}

fn job(name: &str) -> Job {
    serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]}}}}),
    )
    .unwrap()
}

#[tokio::test]
async fn json_patch_with_test_precondition() {
    let s = sim().await;
    let ns = namespace(&s.client, "jp").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"a": "1"}})).unwrap();
    let c = api.create(&PostParams::default(), &c).await.unwrap();
    let uid = c.metadata.uid.unwrap();
    let ok = json!([
        {"op": "test", "path": "/metadata/uid", "value": uid},
        {"op": "add", "path": "/data/b", "value": "2"}
    ]);
    let p = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(ok).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(p.data.unwrap()["b"], "2");
    let bad = json!([
        {"op": "test", "path": "/metadata/uid", "value": "not-the-uid"},
        {"op": "add", "path": "/data/c", "value": "3"}
    ]);
    let e = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(bad).unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 422);
    // A JSON patch that replaces the uid: a uid precondition failure, 409.
    let replace = json!([{"op": "replace", "path": "/metadata/uid", "value": "other"}]);
    let e = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(replace).unwrap()),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 409);
}

#[tokio::test]
async fn merge_patch_preconditions() {
    let s = sim().await;
    let ns = namespace(&s.client, "mp").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    let c = api.create(&PostParams::default(), &c).await.unwrap();
    let rv = c.metadata.resource_version.unwrap();
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"resourceVersion": rv}, "data": {"a": "1"}})),
    )
    .await
    .unwrap();
    // The same (now stale) resourceVersion: 409.
    let e = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": rv}, "data": {"a": "2"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 409);
    let e = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"uid": "nope"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 409);
}

#[tokio::test]
async fn strategic_merge_by_key() {
    let s = sim().await;
    let ns = namespace(&s.client, "smp").await;
    let api: Api<Pod> = Api::namespaced(s.client.clone(), &ns);
    api.create(&PostParams::default(), &pod("p")).await.unwrap();
    let patch = json!({"spec": {"containers": [{"name": "b", "image": "busybox:2"}]}});
    let p = api
        .patch("p", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let cs = p.spec.unwrap().containers;
    assert_eq!(cs.len(), 2, "merged by name, not replaced");
    assert_eq!(cs[1].image.as_deref(), Some("busybox:2"));
    assert_eq!(cs[0].env.as_ref().unwrap().len(), 1);
}

#[tokio::test]
async fn server_side_apply_upserts_and_requires_manager() {
    let s = sim().await;
    let ns = namespace(&s.client, "ssa").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}});
    let pp = PatchParams::apply("tester");
    let c = api.patch("a", &pp, &Patch::Apply(&body)).await.unwrap();
    assert_eq!(c.data.unwrap()["x"], "1");
    let body2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "2"}});
    let c = api.patch("a", &pp, &Patch::Apply(&body2)).await.unwrap();
    assert_eq!(c.data.unwrap()["x"], "2");
    // Without fieldManager: 400.
    let req = axum::http::Request::builder()
        .method("PATCH")
        .uri(format!("/api/v1/namespaces/{ns}/configmaps/a"))
        .header("content-type", "application/apply-patch+yaml")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let e = s.client.request_text(req).await.unwrap_err();
    assert_eq!(code(&e), 400);
}

#[tokio::test]
async fn status_subresource_is_separate() {
    let s = sim().await;
    let ns = namespace(&s.client, "status").await;
    let api: Api<Job> = Api::namespaced(s.client.clone(), &ns);
    let mut j = job("j");
    j.status = Some(serde_json::from_value(json!({"active": 5})).unwrap());
    let created = api.create(&PostParams::default(), &j).await.unwrap();
    assert!(created.status.is_none(), "status dropped on create");
    assert_eq!(created.metadata.generation, Some(1));
    let p = api
        .patch_status(
            "j",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"active": 1}, "spec": {"parallelism": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(p.status.unwrap().active, Some(1));
    assert_eq!(p.spec.as_ref().unwrap().parallelism, Some(1));
    assert_eq!(p.metadata.generation, Some(1));
    let p = api
        .patch(
            "j",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"active": 7}, "spec": {"parallelism": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(p.status.unwrap().active, Some(1));
    assert_eq!(p.spec.unwrap().parallelism, Some(2));
    assert_eq!(p.metadata.generation, Some(2));
    // A label change does not bump generation.
    let p = api
        .patch(
            "j",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.generation, Some(2));
}

#[tokio::test]
async fn unknown_patch_type_is_415() {
    let s = sim().await;
    let req = axum::http::Request::builder()
        .method("PATCH")
        .uri("/api/v1/namespaces/default/configmaps/x")
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
        .unwrap();
    let e = s.client.request_text(req).await.unwrap_err();
    assert_eq!(code(&e), 415);
}
