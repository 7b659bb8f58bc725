//! A kubesim with RBAC enforced for the chart to be installed into, and the product started
//! against it as the chart's ServiceAccount.

use super::*;

pub(crate) async fn client_from(kubeconfig: &str, user_agent: Option<&str>) -> Client {
    let kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    if let Some(agent) = user_agent {
        cfg.headers.push((
            reqwest::header::USER_AGENT,
            reqwest::header::HeaderValue::from_str(agent).expect("header"),
        ));
    }
    Client::try_from(cfg).expect("client")
}

pub(crate) async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(DEADLINE, what, check).await
}

/// A kubesim with its control plane and RBAC on. helm (client-go sends no token over plain
/// HTTP) acts as the anonymous user, made a superuser for the install; `admin` is the test's
/// own superuser client.
pub(crate) struct Cluster {
    pub(crate) sim: kubesim::Handle,
    pub(crate) admin: Client,
    pub(crate) dir: PathBuf,
}

impl Cluster {
    /// `helm install` of the chart as release `bt` in `bt-system`, plus `extra`; the notes.
    pub(crate) async fn install(&self, extra: &[&str]) -> String {
        let mut args = vec![
            "install",
            RELEASE,
            CHART,
            "--namespace",
            RELEASE_NS,
            "--create-namespace",
        ];
        args.extend_from_slice(extra);
        helm_ok(&self.dir, &args).await
    }

    pub(crate) async fn start(tag: &str) -> Cluster {
        let auth = AuthConfig::default().anonymous_user(UserInfo::superuser());
        let config = kubesim::Config::default()
            .control_plane(true)
            .time_scale(kubesim::sim::clock::TimeScale::new(0.01).expect("time scale"))
            .auth(auth);
        let sim = kubesim::start(config).await.expect("kubesim starts");
        let dir = scratch(tag);
        sim.write_kubeconfig(dir.join("kubeconfig"))
            .expect("kubeconfig");
        let admin = client_from(&sim.kubeconfig(), None).await;
        Cluster { sim, admin, dir }
    }

    pub(crate) async fn create_namespace(&self, name: &str) {
        let ns: Namespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        Api::<Namespace>::all(self.admin.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
    }

    /// The Prometheus Operator's ServiceMonitor kind, so the chart's toggle can be installed.
    pub(crate) async fn install_service_monitor_crd(&self) {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                }}}]
            }
        }))
        .expect("crd");
        Api::<CustomResourceDefinition>::all(self.admin.clone())
            .create(&PostParams::default(), &crd)
            .await
            .expect("ServiceMonitor CRD");
    }

    pub(crate) fn write(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content).expect("write");
        p.to_str().expect("utf-8 path").to_string()
    }

    /// The product, in-process, authenticated as the chart's ServiceAccount.
    pub(crate) async fn start_product(&self, namespaces: Vec<String>) -> Server {
        let token = self
            .sim
            .token_for_service_account(RELEASE_NS, SERVICE_ACCOUNT);
        let client = client_from(&self.sim.kubeconfig_for_token(&token), Some(PRODUCT_AGENT)).await;
        let settings = Settings {
            namespaces,
            // Short, so the records' deletion (a granted verb) happens during the test.
            record_retention: Duration::from_secs(3),
            // As the chart runs it; short, so the lease is renewed (updated) during the test.
            leader_election: Some(batch_terminator::controller::lease::LeaseSettings {
                namespace: RELEASE_NS.into(),
                name: SERVICE_ACCOUNT.into(),
                identity: "chart-test".into(),
                duration: Duration::from_secs(3),
            }),
            ..test_support::settings()
        };
        let mut settings = settings;
        // As the chart passes it.
        settings.service.job_definition_namespace = RELEASE_NS.into();
        let server = Server::start(client, settings)
            .await
            .expect("service starts");
        let index = server.index().clone();
        eventually("the service's caches to sync as the ServiceAccount", || {
            let synced = index.is_synced();
            async move { synced.then_some(()) }
        })
        .await;
        server
    }

    /// The objects of the release, from `helm get manifest`: (apiVersion, kind, namespace, name).
    pub(crate) async fn release_objects(&self) -> Vec<(String, String, Option<String>, String)> {
        let manifest = helm_ok(
            &self.dir,
            &["get", "manifest", RELEASE, "--namespace", RELEASE_NS],
        )
        .await;
        parse_docs(&manifest)
            .iter()
            .map(|o| {
                (
                    o["apiVersion"].as_str().unwrap().to_string(),
                    o["kind"].as_str().unwrap().to_string(),
                    o["metadata"]["namespace"].as_str().map(String::from),
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

pub(crate) fn gvr_of(api_version: &str, kind: &str) -> Gvr {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = kind.to_ascii_lowercase();
    let plural = match kind.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{kind}s"),
    };
    Gvr::new(group, version, &plural)
}

pub(crate) async fn job_pods(pods: &Api<Pod>, job: &Job) -> Vec<Pod> {
    let selector = format!(
        "batch.kubernetes.io/controller-uid={}",
        job.uid().unwrap_or_default()
    );
    pods.list(&ListParams::default().labels(&selector))
        .await
        .expect("pods")
        .items
}
