//! Fault injection, observed through the `kube` client.
mod common;

use std::time::{Duration, Instant};

use common::code;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kubesim::faults::{Effect, FaultConfig, Rule};
use serde_json::json;

async fn sim(seed: u64, retry: bool) -> (kubesim::Handle, Client) {
    let handle = kubesim::start(kubesim::Config::default().fault_seed(seed))
        .await
        .expect("start kubesim");
    let mut cfg = kube::Config::new(handle.url().parse().expect("url"));
    cfg.default_namespace = "default".into();
    cfg.default_retry = retry;
    (handle, Client::try_from(cfg).expect("client"))
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

fn error(code: u16) -> Effect {
    Effect::Error {
        code,
        retry_after_seconds: None,
    }
}

#[tokio::test]
async fn internal_errors_hit_the_chosen_verb_and_resource() {
    let (h, client) = sim(1, true).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &cm("a"))
        .await
        .expect("create before faults");
    h.faults()
        .add(
            Rule::new(error(500))
                .verbs(&["get"])
                .resources(&["configmaps"]),
        )
        .unwrap();
    let e = cms.get("a").await.expect_err("injected 500");
    assert_eq!(code(&e), 500);
    let kube::Error::Api(s) = e else {
        unreachable!()
    };
    assert_eq!(s.reason, "InternalError");
    // Other verbs and resources pass.
    assert_eq!(
        cms.list(&Default::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    cms.create(&PostParams::default(), &cm("b"))
        .await
        .expect("create");
    h.faults().clear();
    cms.get("a").await.expect("get after clear");
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let (h, client) = sim(1, false).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    h.faults()
        .add(
            Rule::new(Effect::Error {
                code: 429,
                retry_after_seconds: Some(1),
            })
            .limit(1),
        )
        .unwrap();
    let req = axum::http::Request::get("/api/v1/namespaces/default/configmaps")
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.expect("send");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
    // The limit is spent: the next one passes.
    cms.list(&Default::default()).await.expect("list");

    // A client that retries honours Retry-After and then succeeds.
    let (h2, client2) = sim(1, true).await;
    h2.faults()
        .add(
            Rule::new(Effect::Error {
                code: 429,
                retry_after_seconds: Some(1),
            })
            .limit(1),
        )
        .unwrap();
    let start = Instant::now();
    Api::<ConfigMap>::default_namespaced(client2)
        .list(&Default::default())
        .await
        .expect("retried list");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    let statuses: Vec<u16> = h2
        .requests()
        .iter()
        .filter(|r| r.resource == "configmaps")
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
    drop(h);
}

#[tokio::test]
async fn conflicts_hit_writes_only() {
    let (h, client) = sim(1, true).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &cm("a"))
        .await
        .expect("create");
    h.faults().add(Rule::new(error(409))).unwrap();
    cms.get("a").await.expect("reads pass");
    let e = cms
        .create(&PostParams::default(), &cm("b"))
        .await
        .expect_err("409");
    assert_eq!(code(&e), 409);
    let kube::Error::Api(s) = e else {
        unreachable!()
    };
    assert_eq!(s.reason, "Conflict");
}

#[tokio::test]
async fn latency_and_pause_delay_requests() {
    let (h, client) = sim(1, true).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    h.faults()
        .add(Rule::new(Effect::Latency { millis: 300 }).verbs(&["list"]))
        .unwrap();
    let start = Instant::now();
    cms.list(&Default::default()).await.expect("list");
    assert!(start.elapsed() >= Duration::from_millis(300));
    h.faults().clear();

    h.faults().pause(Duration::from_millis(400), Instant::now());
    let start = Instant::now();
    cms.list(&Default::default())
        .await
        .expect("list after pause");
    assert!(
        start.elapsed() >= Duration::from_millis(350),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn forced_gone_and_dropped_watches() {
    let (h, client) = sim(1, true).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    h.faults().gone_next_watches(1, Some("configmaps".into()));
    let mut stream = cms
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    match stream.try_next().await.expect("event") {
        Some(WatchEvent::Error(e)) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // A normal watch, then every open watch is dropped.
    let mut stream = cms
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    cms.create(&PostParams::default(), &cm("w"))
        .await
        .expect("create");
    assert!(matches!(
        stream.try_next().await.expect("event"),
        Some(WatchEvent::Added(_))
    ));
    h.faults().drop_watches();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("stream ends");
    assert!(end.is_none(), "{end:?}");

    // A rule that ends watches after a while.
    h.faults()
        .add(Rule::new(Effect::DropWatch { after_millis: 200 }))
        .unwrap();
    let start = Instant::now();
    let mut stream = cms
        .watch(&WatchParams::default(), "0")
        .await
        .expect("watch")
        .boxed();
    while stream.next().await.is_some() {}
    assert!(
        start.elapsed() >= Duration::from_millis(180) && start.elapsed() < Duration::from_secs(5)
    );
}

async fn outcomes(seed: u64) -> Vec<bool> {
    let (h, client) = sim(seed, true).await;
    h.faults()
        .add(Rule::new(error(500)).fraction(0.5).verbs(&["get"]))
        .unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let mut out = Vec::new();
    for _ in 0..24 {
        out.push(cms.get_opt("nope").await.is_err());
    }
    out
}

#[tokio::test]
async fn decisions_are_deterministic_under_a_seed() {
    let a = outcomes(42).await;
    assert_eq!(a, outcomes(42).await);
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
    assert_ne!(a, outcomes(43).await);
}

#[tokio::test]
async fn admin_endpoint_sets_and_clears_rules() {
    let (h, client) = sim(0, true).await;
    let body = json!({"seed": 5, "rules": [{"verbs": ["list"], "effect": {"type": "error", "code": 503}}]});
    let req = axum::http::Request::post("/kubesim/faults")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let text = client.request_text(req).await.expect("post faults");
    let got: FaultConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(got.seed, Some(5));
    assert_eq!(h.faults().config().rules.len(), 1);
    let mut cfg = kube::Config::new(h.url().parse().unwrap());
    cfg.default_retry = false;
    let no_retry = Client::try_from(cfg).unwrap();
    let e = Api::<ConfigMap>::namespaced(no_retry, "default")
        .list(&Default::default())
        .await
        .expect_err("503");
    assert_eq!(code(&e), 503);
    let bad = axum::http::Request::post("/kubesim/faults")
        .body(br#"{"rules": [{"effect": {"type": "error", "code": 418}}]}"#.to_vec())
        .unwrap();
    assert!(client.request_text(bad).await.is_err());
    let del = axum::http::Request::delete("/kubesim/faults")
        .body(Vec::new())
        .unwrap();
    client.request_text(del).await.expect("delete faults");
    assert!(h.faults().config().rules.is_empty());
    let pause = axum::http::Request::post("/kubesim/faults/pause")
        .body(br#"{"millis": 200}"#.to_vec())
        .unwrap();
    client.request_text(pause).await.expect("pause");
    let start = Instant::now();
    Api::<ConfigMap>::default_namespaced(client)
        .list(&Default::default())
        .await
        .expect("list");
    assert!(start.elapsed() >= Duration::from_millis(150));
}
