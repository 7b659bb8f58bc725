//! Discovery, /version, /openapi/v3, CRDs, Events in both APIs, lists, errors, request log.

mod common;

use common::{code, eventually, namespace, sim};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use serde_json::{Value, json};

/// A raw GET asking for aggregated discovery first, as client-go does: (body, Content-Type).
async fn get_json(addr: std::net::SocketAddr, path: &str) -> (Value, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let ct = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(String::from)
        })
        .unwrap_or_default();
    (serde_json::from_str(body).unwrap(), ct)
}

#[tokio::test]
async fn discovery_documents() {
    let s = sim().await;
    let (v, _) = get_json(s.handle.addr(), "/version").await;
    assert_eq!(v["major"], "1");
    assert_eq!(v["minor"], "33");
    let (api, ct) = get_json(s.handle.addr(), "/api").await;
    assert_eq!(ct, "application/json");
    assert_eq!(api["versions"], json!(["v1"]));
    let (apis, _) = get_json(s.handle.addr(), "/apis").await;
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for g in [
        "batch",
        "apps",
        "events.k8s.io",
        "coordination.k8s.io",
        "rbac.authorization.k8s.io",
        "policy",
        "networking.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(groups.contains(&g), "{g}");
    }
    let (core, _) = get_json(s.handle.addr(), "/api/v1").await;
    let res = core["resources"].as_array().unwrap();
    let pods = res.iter().find(|r| r["name"] == "pods").unwrap();
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["categories"], json!(["all"]));
    assert!(res.iter().any(|r| r["name"] == "pods/status"));
    let (batch, _) = get_json(s.handle.addr(), "/apis/batch/v1").await;
    let b = batch["resources"].as_array().unwrap();
    assert!(b.iter().any(|r| r["name"] == "jobs/status"));
    assert!(
        b.iter()
            .any(|r| r["name"] == "cronjobs" && r["shortNames"] == json!(["cj"]))
    );
    let (idx, _) = get_json(s.handle.addr(), "/openapi/v3").await;
    assert!(idx["paths"]["apis/batch/v1"].is_object());
    let (doc, ct) = get_json(s.handle.addr(), "/openapi/v3/apis/batch/v1").await;
    assert_eq!(ct, "application/json");
    assert!(doc["openapi"].is_string());
    let (nf, _) = get_json(s.handle.addr(), "/nope/nothing").await;
    assert_eq!(nf["kind"], "Status");
    assert_eq!(nf["code"], 404);

    // kube's own discovery understands it.
    let d = Discovery::new(s.client.clone()).run().await.unwrap();
    let (ar, caps) = d
        .groups()
        .find(|g| g.name() == "batch")
        .unwrap()
        .recommended_resources()
        .into_iter()
        .find(|(ar, _)| ar.kind == "Job")
        .unwrap();
    assert_eq!(ar.plural, "jobs");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(caps.supports_operation(verbs::WATCH));
}

fn crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {
                        "size": {"type": "integer"}, "color": {"type": "string", "enum": ["red", "blue"]}}},
                    "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn crd_is_served_after_creation() {
    let s = sim().await;
    let ns = namespace(&s.client, "crd").await;
    let crds: Api<CustomResourceDefinition> = Api::all(s.client.clone());
    crds.create(&PostParams::default(), &crd()).await.unwrap();
    eventually(5, "established", || async {
        let c = crds.get("widgets.example.com").await.ok()?;
        let conds = c.status?.conditions?;
        conds
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True")
            .then_some(())
    })
    .await;
    let ar = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(s.client.clone(), &ns, &ar);
    let w: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"size": 3, "color": "red"}}))
        .unwrap();
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.data["spec"]["size"], 3);
    // Schema violations: 422 with causes.
    let bad: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w2"}, "spec": {"color": "green"}}))
        .unwrap();
    let e = api.create(&PostParams::default(), &bad).await.unwrap_err();
    assert_eq!(code(&e), 422);
    // Status subresource.
    let st = api
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert_eq!(st.data["status"]["ready"], true);
    // Strategic merge patch is not for custom resources: 415.
    let e = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 4}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), 415);
    // Discovery shows it.
    let (gv, _) = get_json(s.handle.addr(), "/apis/example.com/v1").await;
    let r = gv["resources"].as_array().unwrap();
    assert!(
        r.iter()
            .any(|r| r["name"] == "widgets" && r["shortNames"] == json!(["wd"]))
    );
    assert!(r.iter().any(|r| r["name"] == "widgets/status"));
    // Deleting the CRD takes its objects with it.
    crds.delete("widgets.example.com", &Default::default())
        .await
        .unwrap();
    eventually(5, "resource unserved", || async {
        match api.list(&ListParams::default()).await {
            Err(kube::Error::Api(s)) if s.code == 404 => Some(()),
            _ => None,
        }
    })
    .await;
}

#[tokio::test]
async fn events_in_both_apis_share_one_store() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;
    let s = sim().await;
    let ns = namespace(&s.client, "ev").await;
    let v1: Api<Event> = Api::namespaced(s.client.clone(), &ns);
    let core: Api<CoreEvent> = Api::namespaced(s.client.clone(), &ns);
    let e: Event = serde_json::from_value(json!({"metadata": {"name": "e1"},
        "eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "batch-terminator.dev/controller",
        "reportingInstance": "pod-1", "action": "Terminate", "reason": "JobTerminated", "type": "Normal",
        "note": "because", "regarding": {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "namespace": ns}})).unwrap();
    v1.create(&PostParams::default(), &e).await.unwrap();
    let c = core.get("e1").await.unwrap();
    assert_eq!(c.message.as_deref(), Some("because"));
    assert_eq!(c.involved_object.name.as_deref(), Some("j"));
    assert_eq!(
        c.reporting_component.as_deref(),
        Some("batch-terminator.dev/controller")
    );
    // Field selector on the core shape.
    let l = core
        .list(&ListParams::default().fields("involvedObject.name=j"))
        .await
        .unwrap();
    assert_eq!(l.items.len(), 1);
    // Notes over 1024 bytes are invalid.
    let mut long = e.clone();
    long.metadata.name = Some("e2".into());
    long.note = Some("x".repeat(1025));
    assert_eq!(
        code(&v1.create(&PostParams::default(), &long).await.unwrap_err()),
        422
    );
}

#[tokio::test]
async fn paging_and_selectors() {
    let s = sim().await;
    let ns = namespace(&s.client, "page").await;
    let other = namespace(&s.client, "page-other").await;
    let api: Api<ConfigMap> = Api::namespaced(s.client.clone(), &ns);
    for i in 0..25 {
        let c: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("c{i:02}"),
            "labels": {"tier": if i % 2 == 0 { "even" } else { "odd" }}}}))
        .unwrap();
        api.create(&PostParams::default(), &c).await.unwrap();
    }
    let o: Api<ConfigMap> = Api::namespaced(s.client.clone(), &other);
    o.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "z"}})).unwrap(),
    )
    .await
    .unwrap();
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(10);
    let mut pages = 0;
    loop {
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 25);
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted");
    let odd = api
        .list(&ListParams::default().labels("tier in (odd)"))
        .await
        .unwrap();
    assert_eq!(odd.items.len(), 12);
    let one = api
        .list(&ListParams::default().fields("metadata.name=c03"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let all: Api<ConfigMap> = Api::all(s.client.clone());
    let every = all
        .list(&ListParams::default().labels("!tier"))
        .await
        .unwrap();
    assert!(
        every
            .items
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some("z"))
    );
    // Unsupported field selectors: 400.
    let e = api
        .list(&ListParams::default().fields("data.k=v"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), 400);
}

#[tokio::test]
async fn strict_field_validation_and_request_log() {
    let s = sim().await;
    let ns = namespace(&s.client, "strict").await;
    s.handle.clear_requests();
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(format!(
            "/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict"
        ))
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}, "spec": {"foo": 1}}))
            .unwrap(),
        )
        .unwrap();
    let e = s.client.request_text(req).await.unwrap_err();
    match e {
        kube::Error::Api(st) => {
            assert_eq!(st.code, 400);
            assert!(
                st.message.contains("unknown field \"spec\""),
                "{}",
                st.message
            );
        }
        other => panic!("{other:?}"),
    }
    let reqs = s.handle.requests();
    let r = reqs.iter().find(|r| r.verb == "create").unwrap();
    assert_eq!(
        (r.resource.as_str(), r.namespace.as_str(), r.status),
        ("configmaps", ns.as_str(), 400)
    );
    let (log, _) = get_json(s.handle.addr(), "/kubesim/requests").await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|r| r["verb"] == "create")
    );
}
