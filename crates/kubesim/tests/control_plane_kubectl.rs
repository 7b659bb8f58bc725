//! The simulated control plane and RBAC through the real kubectl 1.33.
mod common;
mod tools;

use tools::Cli;

const JOBS: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: done
spec:
  template:
    metadata:
      annotations: {kubesim.dev/exit-after: "3"}
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox:1.36}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: runnable
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {gpu: "true"}
      containers:
      - {name: c, image: busybox:1.36}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: running
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox:1.36}
"#;

fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

async fn scaled(auth: Option<kubesim::rbac::AuthConfig>) -> kubesim::Handle {
    let mut config = kubesim::Config::default()
        .control_plane(true)
        .time_scale(kubesim::sim::TimeScale::new(0.01).unwrap());
    if let Some(a) = auth {
        config = config.auth(a);
    }
    kubesim::start(config).await.expect("start kubesim")
}

#[tokio::test]
async fn jobs_runnable_running_and_finished() {
    let h = scaled(None).await;
    let k = Cli::new(&h, "cp-kubectl");
    let f = k.write("jobs.yaml", JOBS);
    k.ok("kubectl", &["apply", "-f", f.to_str().unwrap()]).await;
    let out = k
        .ok(
            "kubectl",
            &[
                "wait",
                "--for=condition=Complete",
                "job/done",
                "--timeout=30s",
            ],
        )
        .await;
    assert!(out.contains("condition met"), "{out}");
    k.ok(
        "kubectl",
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "-l",
            "job-name=running",
            "--timeout=30s",
        ],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "wait",
            "--for=condition=PodScheduled=False",
            "pod",
            "-l",
            "job-name=runnable",
            "--timeout=30s",
        ],
    )
    .await;
    let phase = k
        .ok(
            "kubectl",
            &[
                "get",
                "pod",
                "-l",
                "job-name=runnable",
                "-o",
                "jsonpath={.items[0].status.phase}",
            ],
        )
        .await;
    assert_eq!(phase, "Pending");
    // Deadline 0 on the running Job: Failed, DeadlineExceeded.
    k.ok(
        "kubectl",
        &[
            "patch",
            "job",
            "running",
            "--type=merge",
            "-p",
            r#"{"spec":{"activeDeadlineSeconds":0}}"#,
        ],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "wait",
            "--for=condition=Failed",
            "job/running",
            "--timeout=30s",
        ],
    )
    .await;
    let reason = k
        .ok(
            "kubectl",
            &[
                "get",
                "job",
                "running",
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Failed")].reason}"#,
            ],
        )
        .await;
    assert_eq!(reason, "DeadlineExceeded");
    // Suspend the runnable Job: its pod goes, Suspended is set.
    k.ok(
        "kubectl",
        &[
            "patch",
            "job",
            "runnable",
            "--type=merge",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "wait",
            "--for=condition=Suspended",
            "job/runnable",
            "--timeout=30s",
        ],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "wait",
            "--for=delete",
            "pod",
            "-l",
            "job-name=runnable",
            "--timeout=30s",
        ],
    )
    .await;
}

/// kubectl (client-go) sends no token over plain HTTP, so its requests act as the configured
/// anonymous user: here the ServiceAccount `team/bot`, set up by a superuser kube client.
#[tokio::test]
async fn kubectl_sees_rbac_denials() {
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Namespace;
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    use kube::api::{Api, PostParams};
    use serde_json::json;

    let auth = kubesim::rbac::AuthConfig::default()
        .superuser_token("root")
        .anonymous_user(kubesim::rbac::UserInfo::service_account("team", "bot"));
    let h = scaled(Some(auth)).await;
    let mut cfg = kube::Config::new(h.url().parse().unwrap());
    cfg.auth_info.token = Some("root".to_string().into());
    let admin = kube::Client::try_from(cfg).unwrap();
    let pp = PostParams::default();
    Api::<Namespace>::all(admin.clone())
        .create(&pp, &obj(json!({"metadata": {"name": "team"}})))
        .await
        .unwrap();
    Api::<Role>::namespaced(admin.clone(), "team")
        .create(
            &pp,
            &obj(json!({"metadata": {"name": "viewer"},
            "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list"]}]})),
        )
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), "team")
        .create(
            &pp,
            &obj(json!({"metadata": {"name": "viewer"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "viewer"},
            "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": "team"}]})),
        )
        .await
        .unwrap();
    Api::<Job>::namespaced(admin, "team")
        .create(
            &pp,
            &obj(
                json!({"metadata": {"name": "x"}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}),
            ),
        )
        .await
        .unwrap();

    let bot = Cli::new(&h, "cp-rbac-bot");
    std::fs::write(&bot.kubeconfig, kubesim::kubeconfig_for(&h.url())).expect("kubeconfig");
    let out = bot
        .ok("kubectl", &["-n", "team", "get", "jobs", "-o", "name"])
        .await;
    assert_eq!(out.trim(), "job.batch/x");
    let denied = bot
        .run(
            "kubectl",
            &["-n", "team", "delete", "job", "x", "--wait=false"],
        )
        .await;
    assert!(!denied.ok);
    assert!(
        denied.stderr.contains(
            r#"Error from server (Forbidden): jobs.batch "x" is forbidden: User "system:serviceaccount:team:bot" cannot delete resource "jobs" in API group "batch" in the namespace "team""#
        ),
        "{}",
        denied.stderr
    );
}
