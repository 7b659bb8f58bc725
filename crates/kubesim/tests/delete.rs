//! Deletes: propagation policies and GC, finalizers, pod grace periods, preconditions,
//! deletecollection, namespace deletion.

mod common;

use common::{code, eventually, namespace, sim};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;

fn job(name: &str) -> Job {
    serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1"}]}}}}),
    )
    .unwrap()
}

fn owned_pod(name: &str, owner: &Job, node: Option<&str>) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox:1"}]});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    serde_json::from_value(json!({"metadata": {"name": name, "ownerReferences": [{
        "apiVersion": "batch/v1", "kind": "Job", "name": owner.metadata.name,
        "uid": owner.metadata.uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": spec}))
    .unwrap()
}

async fn gone<K>(api: &Api<K>, name: &str)
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(10, &format!("{name} gone"), || async {
        match api.get(name).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Some(()),
            _ => None,
        }
    })
    .await
}

#[tokio::test]
async fn job_delete_without_policy_orphans_pods() {
    let s = sim().await;
    let ns = namespace(&s.client, "orphan").await;
    let jobs: Api<Job> = Api::namespaced(s.client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), &ns);
    let j = jobs
        .create(&PostParams::default(), &job("j"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &owned_pod("p", &j, None))
        .await
        .unwrap();
    jobs.delete("j", &DeleteParams::default()).await.unwrap();
    gone(&jobs, "j").await;
    let p = pods.get("p").await.unwrap();
    assert!(p.metadata.owner_references.unwrap_or_default().is_empty());
    assert!(p.metadata.deletion_timestamp.is_none());
}

#[tokio::test]
async fn background_deletes_dependents() {
    let s = sim().await;
    let ns = namespace(&s.client, "bg").await;
    let jobs: Api<Job> = Api::namespaced(s.client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), &ns);
    let j = jobs
        .create(&PostParams::default(), &job("j"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &owned_pod("p", &j, None))
        .await
        .unwrap();
    jobs.delete("j", &DeleteParams::background()).await.unwrap();
    gone(&jobs, "j").await;
    gone(&pods, "p").await;
}

#[tokio::test]
async fn foreground_waits_for_blocking_dependents() {
    let s = sim().await;
    let ns = namespace(&s.client, "fg").await;
    let jobs: Api<Job> = Api::namespaced(s.client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), &ns);
    let j = jobs
        .create(&PostParams::default(), &job("j"))
        .await
        .unwrap();
    // Bound to a node: the pod is only marked, so the Job must wait.
    pods.create(&PostParams::default(), &owned_pod("p", &j, Some("node-1")))
        .await
        .unwrap();
    let r = jobs.delete("j", &DeleteParams::foreground()).await.unwrap();
    let pending = r.left().expect("object while dependents exist");
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(
        pending
            .metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    let p = eventually(10, "pod marked", || async {
        let p = pods.get("p").await.ok()?;
        p.metadata.deletion_timestamp.is_some().then_some(p)
    })
    .await;
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(30));
    assert!(jobs.get("j").await.is_ok(), "owner waits for the pod");
    // The kubelet's part: remove the pod.
    s.handle
        .store()
        .force_remove(&kubesim::Gvr::pods(), Some(&ns), "p")
        .unwrap();
    gone(&jobs, "j").await;
}

#[tokio::test]
async fn dangling_owner_reference_is_collected() {
    let s = sim().await;
    let ns = namespace(&s.client, "dangle").await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), &ns);
    let mut fake = job("ghost");
    fake.metadata.uid = Some("00000000-0000-0000-0000-000000000000".into());
    pods.create(&PostParams::default(), &owned_pod("p", &fake, None))
        .await
        .unwrap();
    gone(&pods, "p").await;
}

#[tokio::test]
async fn finalizers_hold_the_object() {
    let s = sim().await;
    let ns = namespace(&s.client, "fin").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "c", "finalizers": ["example.com/hold"]}}),
    )
    .unwrap();
    api.create(&PostParams::default(), &c).await.unwrap();
    let r = api.delete("c", &DeleteParams::default()).await.unwrap();
    let o = r.left().expect("still there");
    assert!(o.metadata.deletion_timestamp.is_some());
    // New finalizers cannot be added while deleting.
    let e = api
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/hold", "x.io/y"]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 422);
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    gone(&api, "c").await;
}

#[tokio::test]
async fn pod_grace_periods() {
    let s = sim().await;
    let ns = namespace(&s.client, "grace").await;
    let pods: Api<Pod> = Api::namespaced(s.client.clone(), &ns);
    let bound: Pod =
        serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": {"nodeName": "n1",
        "terminationGracePeriodSeconds": 12, "containers": [{"name": "c", "image": "x:1"}]}}))
        .unwrap();
    let unbound: Pod = serde_json::from_value(json!({"metadata": {"name": "u"}, "spec": {
        "containers": [{"name": "c", "image": "x:1"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &bound).await.unwrap();
    pods.create(&PostParams::default(), &unbound).await.unwrap();
    // Unbound: gone at once.
    pods.delete("u", &DeleteParams::default()).await.unwrap();
    assert_eq!(code(&pods.get("u").await.unwrap_err()), 404);
    // Bound: marked with the pod's grace period.
    let r = pods.delete("b", &DeleteParams::default()).await.unwrap();
    let p = r.left().unwrap();
    assert_eq!(p.metadata.deletion_grace_period_seconds, Some(12));
    // gracePeriodSeconds=0 forces it.
    pods.delete(
        "b",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(code(&pods.get("b").await.unwrap_err()), 404);
}

#[tokio::test]
async fn delete_preconditions_and_dry_run() {
    let s = sim().await;
    let ns = namespace(&s.client, "pre").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    let c = api.create(&PostParams::default(), &c).await.unwrap();
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("wrong".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    assert_eq!(code(&api.delete("c", &dp).await.unwrap_err()), 409);
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: None,
            resource_version: Some("1".into()),
        }),
        ..Default::default()
    };
    assert_eq!(code(&api.delete("c", &dp).await.unwrap_err()), 409);
    let dry = DeleteParams {
        dry_run: true,
        ..Default::default()
    };
    api.delete("c", &dry).await.unwrap();
    assert!(api.get("c").await.is_ok());
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: c.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    let r = api.delete("c", &dp).await.unwrap();
    assert!(r.is_right(), "a Status when gone");
}

#[tokio::test]
async fn delete_collection_with_selector() {
    let s = sim().await;
    let ns = namespace(&s.client, "dc").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    for (n, l) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let c: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": n, "labels": {"l": l}}})).unwrap();
        api.create(&PostParams::default(), &c).await.unwrap();
    }
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("l=x"),
    )
    .await
    .unwrap();
    let left = api.list(&ListParams::default()).await.unwrap();
    let names: Vec<_> = left
        .items
        .iter()
        .filter_map(|o| o.metadata.name.clone())
        .collect();
    assert_eq!(names, ["c"]);
}

#[tokio::test]
async fn namespace_deletion_removes_content() {
    let s = sim().await;
    let ns = namespace(&s.client, "nsdel").await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    let c: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap();
    cms.create(&PostParams::default(), &c).await.unwrap();
    let nss: Api<Namespace> = Api::all(s.client.clone());
    let r = nss.delete(&ns, &DeleteParams::default()).await.unwrap();
    if let Some(n) = r.left() {
        assert_eq!(n.status.unwrap().phase.as_deref(), Some("Terminating"));
    }
    gone(&nss, &ns).await;
    assert_eq!(code(&cms.get("c").await.unwrap_err()), 404);
    // Protected namespaces: 403.
    assert_eq!(
        code(
            &nss.delete("default", &DeleteParams::default())
                .await
                .unwrap_err()
        ),
        403
    );
}
