//! LIST consistency with the real kube client: continue tokens read a snapshot at the first
//! page's resourceVersion and expire (410) once the event log has moved past it;
//! `resourceVersion` and `resourceVersionMatch` are honoured or rejected as the API server does.

mod common;

use common::{code, namespace};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, PostParams, VersionMatch};
use serde_json::json;

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}}))
        .expect("a ConfigMap")
}

fn names(l: &kube::core::ObjectList<ConfigMap>) -> Vec<String> {
    l.items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap_or_default())
        .collect()
}

fn value(c: &ConfigMap) -> String {
    c.data
        .as_ref()
        .and_then(|d| d.get("v").cloned())
        .unwrap_or_default()
}

async fn client_with_log(capacity: usize) -> (kubesim::Handle, kube::Client) {
    let handle = kubesim::start(kubesim::Config::default().event_log_capacity(capacity))
        .await
        .expect("start kubesim");
    let mut cfg = kube::Config::new(handle.url().parse().expect("url"));
    cfg.default_namespace = "default".into();
    // The 504 of a too large resourceVersion must reach the test, not the client's retries.
    cfg.default_retry = false;
    (handle, kube::Client::try_from(cfg).expect("client"))
}

async fn seed(api: &Api<ConfigMap>, names: &[&str]) {
    for n in names {
        api.create(&PostParams::default(), &cm(n, "old"))
            .await
            .expect("create");
    }
}

#[tokio::test]
async fn later_pages_read_the_first_pages_snapshot() {
    let (sim, client) = client_with_log(10_000).await;
    let ns = namespace(&client, "snap").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    seed(&api, &["a", "b", "c", "d"]).await;
    let first = api
        .list(&ListParams::default().limit(2))
        .await
        .expect("page 1");
    assert_eq!(names(&first), ["a", "b"]);
    let token = first.metadata.continue_.clone().expect("a continue token");
    // After the first page: c changes, d goes, e comes.
    let mut c = api.get("c").await.expect("get c");
    c.data = Some([("v".to_string(), "new".to_string())].into());
    api.replace("c", &PostParams::default(), &c)
        .await
        .expect("update c");
    api.delete("d", &DeleteParams::default())
        .await
        .expect("delete d");
    seed(&api, &["e"]).await;
    let rest = api
        .list(&ListParams::default().limit(10).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(names(&rest), ["c", "d"], "the list as of the first page");
    assert_eq!(value(&rest.items[0]), "old");
    assert_eq!(
        rest.metadata.resource_version,
        first.metadata.resource_version
    );
    let now = api.list(&ListParams::default()).await.expect("fresh list");
    assert_eq!(names(&now), ["a", "b", "c", "e"]);
    assert_eq!(value(&now.items[2]), "new");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_continue_token_expires_once_the_log_moves_past_it() {
    let (sim, client) = client_with_log(5).await;
    let ns = namespace(&client, "expire").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    seed(&api, &["a", "b", "c"]).await;
    let first = api
        .list(&ListParams::default().limit(1))
        .await
        .expect("page 1");
    let token = first.metadata.continue_.clone().expect("a continue token");
    // Still in the log: the next page is served.
    let second = api
        .list(&ListParams::default().limit(1).continue_token(&token))
        .await
        .expect("page 2");
    assert_eq!(names(&second), ["b"]);
    let others: Vec<String> = (0..6).map(|i| format!("x{i}")).collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    seed(&api, &others).await;
    let e = api
        .list(&ListParams::default().limit(1).continue_token(&token))
        .await
        .expect_err("the token's resourceVersion left the log");
    assert_eq!(code(&e), 410);
    let kube::Error::Api(status) = e else {
        unreachable!()
    };
    assert_eq!(status.reason, "Expired");
    assert!(
        status
            .message
            .starts_with("The provided continue parameter is too old"),
        "{}",
        status.message
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn exact_and_not_older_than_resource_versions() {
    let (sim, client) = client_with_log(10_000).await;
    let ns = namespace(&client, "rv").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    seed(&api, &["a"]).await;
    let before = api.list(&ListParams::default()).await.expect("list");
    let rv = before.metadata.resource_version.clone().expect("rv");
    seed(&api, &["b"]).await;
    let exact = api
        .list(&ListParams::default().at(&rv).matching(VersionMatch::Exact))
        .await
        .expect("exact");
    assert_eq!(names(&exact), ["a"]);
    assert_eq!(
        exact.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    // Legacy: a paged list with a resourceVersion reads exactly it too.
    let legacy = api
        .list(&ListParams::default().at(&rv).limit(10))
        .await
        .expect("legacy paged");
    assert_eq!(names(&legacy), ["a"]);
    // NotOlderThan (and an unpaged legacy list) serve the latest state.
    let newer = api
        .list(
            &ListParams::default()
                .at(&rv)
                .matching(VersionMatch::NotOlderThan),
        )
        .await
        .expect("not older than");
    assert_eq!(names(&newer), ["a", "b"]);
    let any = api
        .list(&ListParams::default().at("0"))
        .await
        .expect("rv 0");
    assert_eq!(names(&any), ["a", "b"]);
    // Past what the server has seen: 504 Timeout with ResourceVersionTooLarge.
    let future = (rv.parse::<u64>().expect("numeric rv") + 1000).to_string();
    let e = api
        .list(
            &ListParams::default()
                .at(&future)
                .matching(VersionMatch::NotOlderThan),
        )
        .await
        .expect_err("too large");
    assert_eq!(code(&e), 504);
    let kube::Error::Api(status) = e else {
        unreachable!()
    };
    assert_eq!(status.reason, "Timeout");
    // Older than the log reaches: 410 Expired.
    sim.expire_watch_history();
    let e = api
        .list(&ListParams::default().at(&rv).matching(VersionMatch::Exact))
        .await
        .expect_err("compacted");
    assert_eq!(code(&e), 410);
    sim.shutdown().await;
}

/// Sends a raw list (the kube client refuses some of these combinations itself).
async fn raw_list(client: &kube::Client, ns: &str, query: &str) -> Result<String, kube::Error> {
    let req = axum::http::Request::get(format!("/api/v1/namespaces/{ns}/configmaps?{query}"))
        .body(Vec::new())
        .expect("request");
    client.request_text(req).await
}

#[tokio::test]
async fn invalid_list_options_are_rejected_as_the_api_server_does() {
    let (sim, client) = client_with_log(10_000).await;
    let ns = namespace(&client, "invalid").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    seed(&api, &["a", "b"]).await;
    let page = api
        .list(&ListParams::default().limit(1))
        .await
        .expect("page");
    let token = page.metadata.continue_.expect("token");
    let cases = [
        (
            "resourceVersionMatch=Exact".to_string(),
            422,
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
        (
            "resourceVersion=0&resourceVersionMatch=Exact".to_string(),
            422,
            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
        ),
        (
            "resourceVersion=5&resourceVersionMatch=Newest".to_string(),
            422,
            "Unsupported value: \"Newest\"",
        ),
        (
            format!("resourceVersion=1&resourceVersionMatch=Exact&continue={token}"),
            422,
            "resourceVersionMatch is forbidden when continue is provided",
        ),
        (
            format!("resourceVersion=1&continue={token}"),
            400,
            "specifying resource version is not allowed when using continue",
        ),
        (
            "continue=bm90LWpzb24".to_string(),
            400,
            "continue key is not valid",
        ),
        (
            "resourceVersion=abc".to_string(),
            400,
            "invalid resource version",
        ),
    ];
    for (query, want, message) in cases {
        let e = raw_list(&client, &ns, &query)
            .await
            .expect_err(&format!("{query} must fail"));
        assert_eq!(code(&e), want, "{query}");
        let kube::Error::Api(status) = e else {
            unreachable!()
        };
        assert!(
            status.message.contains(message),
            "{query}: {}",
            status.message
        );
        if want == 422 {
            assert!(
                status
                    .message
                    .starts_with("ListOptions.meta.k8s.io \"\" is invalid"),
                "{}",
                status.message
            );
        }
    }
    sim.shutdown().await;
}
