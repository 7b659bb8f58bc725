//! Create, read, update and errors through the real kube client.

mod common;

use common::{code, namespace, sim};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn create_get_list_update_delete() {
    let s = sim().await;
    let ns = namespace(&s.client, "crud").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let created = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let got = api.get("a").await.unwrap();
    assert_eq!(got.data.unwrap()["k"], "v");

    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(
        !list
            .metadata
            .resource_version
            .unwrap_or_default()
            .is_empty()
    );

    let mut upd = created.clone();
    upd.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = api
        .replace("a", &PostParams::default(), &upd)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    // Stale resourceVersion: 409 Conflict.
    let e = api
        .replace("a", &PostParams::default(), &upd)
        .await
        .unwrap_err();
    assert_eq!(code(&e), 409);

    // AlreadyExists.
    let e = api
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), 409);
    match &e {
        kube::Error::Api(s) => assert_eq!(s.reason, "AlreadyExists"),
        other => panic!("{other:?}"),
    }

    let patched = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "y"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.as_ref().unwrap()["x"], "y");

    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(code(&api.get("a").await.unwrap_err()), 404);
}

#[tokio::test]
async fn generate_name_dry_run_and_invalid() {
    let s = sim().await;
    let ns = namespace(&s.client, "gen").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let o: ConfigMap = serde_json::from_value(json!({"metadata": {"generateName": "x-"}})).unwrap();
    let c = api.create(&PostParams::default(), &o).await.unwrap();
    let name = c.metadata.name.unwrap();
    assert!(name.starts_with("x-") && name.len() == 7, "{name}");

    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    api.create(&dry, &cm("dry")).await.unwrap();
    assert_eq!(code(&api.get("dry").await.unwrap_err()), 404);

    let e = api
        .create(&PostParams::default(), &cm("Bad_Name"))
        .await
        .unwrap_err();
    match e {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422);
            assert_eq!(s.reason, "Invalid");
            assert!(s.message.contains("metadata.name"), "{}", s.message);
        }
        other => panic!("{other:?}"),
    }

    // A namespace that does not exist: 404.
    let missing: Api<ConfigMap> = Api::namespaced(s.client.clone(), "no-such-ns");
    let e = missing
        .create(&PostParams::default(), &cm("a"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), 404);
}
