//! Authentication and RBAC, observed through the `kube` client.
mod common;

use common::code;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubesim::rbac::{AuthConfig, UserInfo};
use serde_json::json;

async fn client_from(kubeconfig: &str) -> Client {
    let kc = Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(cfg).expect("client")
}

fn job(name: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox:1.36"}]}}}
    }))
    .unwrap()
}

/// A kubesim with auth, a namespace `team` and a ServiceAccount `team/reader` that may read
/// Jobs and patch their status only.
async fn setup() -> (kubesim::Handle, Client) {
    let auth = AuthConfig::default().superuser_token("root").token(
        "alice-token",
        UserInfo::new("alice", &["devs", kubesim::rbac::AUTHENTICATED]),
    );
    let handle = kubesim::start(kubesim::Config::default().auth(auth))
        .await
        .expect("start");
    let admin = client_from(&handle.kubeconfig()).await;
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("ns");
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "job-reader", "namespace": "team"},
        "rules": [
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["patch"]}
        ]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), "team")
        .create(&PostParams::default(), &role)
        .await
        .expect("role");
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "reader", "namespace": "team"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "job-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "team"}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), "team")
        .create(&PostParams::default(), &rb)
        .await
        .expect("binding");
    Api::<Job>::namespaced(admin.clone(), "team")
        .create(&PostParams::default(), &job("x"))
        .await
        .expect("job");
    (handle, admin)
}

#[tokio::test]
async fn service_account_gets_exactly_what_its_role_grants() {
    let (h, _admin) = setup().await;
    let token = h.token_for_service_account("team", "reader");
    let sa = client_from(&h.kubeconfig_for_token(&token)).await;
    let jobs: Api<Job> = Api::namespaced(sa.clone(), "team");
    jobs.get("x").await.expect("get is granted");
    jobs.list(&Default::default())
        .await
        .expect("list is granted");
    jobs.patch_status(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {}})),
    )
    .await
    .expect("status patch is granted");

    let e = jobs
        .patch(
            "x",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .expect_err("patch is not granted");
    assert_eq!(code(&e), 403);
    let kube::Error::Api(s) = e else {
        unreachable!()
    };
    assert_eq!(s.reason, "Forbidden");
    assert_eq!(
        s.message,
        "jobs.batch \"x\" is forbidden: User \"system:serviceaccount:team:reader\" cannot patch resource \"jobs\" in API group \"batch\" in the namespace \"team\""
    );
    let other = Api::<Job>::namespaced(sa.clone(), "default")
        .list(&Default::default())
        .await
        .expect_err("other ns");
    assert_eq!(code(&other), 403);
    let cms = Api::<ConfigMap>::namespaced(sa.clone(), "team")
        .list(&Default::default())
        .await
        .expect_err("configmaps");
    assert_eq!(code(&cms), 403);
    // Discovery is open to every authenticated user.
    sa.apiserver_version().await.expect("version");
    let denied: Vec<u16> = h
        .requests()
        .iter()
        .filter(|r| r.status == 403)
        .map(|r| r.status)
        .collect();
    assert_eq!(denied.len(), 3);
}

#[tokio::test]
async fn static_tokens_unknown_tokens_and_anonymous() {
    let (h, admin) = setup().await;
    let alice = client_from(&h.kubeconfig_for_token("alice-token")).await;
    let e = Api::<Job>::namespaced(alice, "team")
        .get("x")
        .await
        .expect_err("alice has no binding");
    let kube::Error::Api(s) = e else { panic!() };
    assert_eq!(s.code, 403);
    assert!(
        s.message
            .contains("User \"alice\" cannot get resource \"jobs\""),
        "{}",
        s.message
    );

    // Bind the group devs cluster-wide to view configmaps.
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "devs-cm"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cm-view"},
        "subjects": [{"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "cm-view"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]
    });
    let dyn_api = |kind: &str, plural: &str| {
        let ar = kube::discovery::ApiResource {
            group: "rbac.authorization.k8s.io".into(),
            version: "v1".into(),
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::<kube::api::DynamicObject>::all_with(admin.clone(), &ar)
    };
    dyn_api("ClusterRole", "clusterroles")
        .create(
            &PostParams::default(),
            &serde_json::from_value(role).unwrap(),
        )
        .await
        .expect("clusterrole");
    dyn_api("ClusterRoleBinding", "clusterrolebindings")
        .create(
            &PostParams::default(),
            &serde_json::from_value(binding).unwrap(),
        )
        .await
        .expect("clusterrolebinding");
    let alice = client_from(&h.kubeconfig_for_token("alice-token")).await;
    Api::<ConfigMap>::all(alice)
        .list(&Default::default())
        .await
        .expect("devs may list configmaps");

    let bogus = client_from(&h.kubeconfig_for_token("nobody")).await;
    let e = Api::<Job>::namespaced(bogus, "team")
        .get("x")
        .await
        .expect_err("401");
    assert_eq!(code(&e), 401);

    let anon = Client::try_from(kube::Config::new(h.url().parse().unwrap())).unwrap();
    let e = Api::<Job>::namespaced(anon.clone(), "team")
        .get("x")
        .await
        .expect_err("anonymous");
    let kube::Error::Api(s) = e else { panic!() };
    assert_eq!(s.code, 403);
    assert!(s.message.contains("system:anonymous"), "{}", s.message);
    anon.apiserver_version().await.expect("/version is public");
}

#[tokio::test]
async fn auth_is_off_by_default() {
    let h = kubesim::start(kubesim::Config::default())
        .await
        .expect("start");
    assert!(!h.auth_enabled() && h.superuser_token().is_none());
    let anon = Client::try_from(kube::Config::new(h.url().parse().unwrap())).unwrap();
    Api::<Job>::namespaced(anon, "default")
        .list(&Default::default())
        .await
        .expect("open");
}
