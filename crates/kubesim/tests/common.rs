//! Shared helpers of the kubesim integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

pub struct Sim {
    pub handle: kubesim::Handle,
    pub client: Client,
}

/// A fresh kubesim and a client whose default namespace is `default`.
pub async fn sim() -> Sim {
    let handle = kubesim::start(kubesim::Config::default())
        .await
        .expect("start kubesim");
    let mut cfg = kube::Config::new(handle.url().parse().expect("url"));
    cfg.default_namespace = "default".into();
    let client = Client::try_from(cfg).expect("client");
    Sim { handle, client }
}

/// A fresh kubesim with its control plane on a clock `scale` times real time, and a client.
pub async fn control_plane(scale: f64) -> (kubesim::Handle, Client) {
    let config = kubesim::Config::default()
        .control_plane(true)
        .time_scale(kubesim::sim::TimeScale::new(scale).expect("scale"));
    let handle = kubesim::start(config).await.expect("start kubesim");
    let client =
        Client::try_from(kube::Config::new(handle.url().parse().expect("url"))).expect("client");
    (handle, client)
}

/// A new namespace with a random suffix.
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"generateName": format!("{prefix}-"), "labels": {"kubesim-test": "true"}}
    }))
    .expect("namespace");
    let created = api
        .create(&PostParams::default(), &ns)
        .await
        .expect("create ns");
    created.metadata.name.expect("name")
}

/// Polls `f` until it returns Some, or panics after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    test_support::eventually_within(Duration::from_secs(secs), what, f).await
}

/// The HTTP code of a kube API error.
pub fn code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other:?}"),
    }
}

/// A Job of one `busybox` container, `restartPolicy: Never`, with `spec` merged into its spec
/// and `annotations` on its pods (e.g. `kubesim.dev/exit-after`).
pub fn job(name: &str, spec: Value, annotations: Value) -> Job {
    let mut j = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {"restartPolicy": "Never",
                         "containers": [{"name": "main", "image": "busybox:1.36"}]}
            }
        }
    });
    if let (Some(s), Some(extra)) = (j["spec"].as_object_mut(), spec.as_object()) {
        s.extend(extra.clone());
    }
    serde_json::from_value(j).expect("job")
}

/// Creates a Node named `name` with the label `pool: <name>`, which the simulated kubelet
/// makes Ready.
pub async fn node(client: &Client, name: &str) -> Api<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"pool": name}}}))
            .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    nodes
}
