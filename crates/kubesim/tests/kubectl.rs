//! The real kubectl 1.33 against kubesim.

mod common;
mod tools;

use std::time::Duration;

use common::sim;
use kubesim::Gvr;
use serde_json::{Value, json};
use tools::Cli;

const JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: j1
  labels: {app: demo}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox:1.36
        env:
        - {name: A, value: "1"}
"#;

const CM: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: c1
data:
  a: \"1\"
";

#[tokio::test]
async fn apply_client_and_server_side() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-apply");
    let job = k.write("job.yaml", JOB);
    let job = job.to_str().unwrap();
    assert!(
        k.ok("kubectl", &["apply", "-f", job])
            .await
            .contains("created")
    );
    assert!(
        k.ok("kubectl", &["apply", "-f", job])
            .await
            .contains("unchanged")
    );
    k.write("job.yaml", &JOB.replace("app: demo", "app: demo2"));
    assert!(
        k.ok("kubectl", &["apply", "-f", job])
            .await
            .contains("configured")
    );
    let j: Value =
        serde_json::from_str(&k.ok("kubectl", &["get", "job", "j1", "-o", "json"]).await).unwrap();
    assert_eq!(j["metadata"]["labels"]["app"], "demo2");
    assert!(
        j["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    // An immutable field: 422 from the server.
    k.write("job.yaml", &JOB.replace("value: \"1\"", "value: \"2\""));
    let o = k.run("kubectl", &["apply", "-f", job]).await;
    assert!(!o.ok && o.stderr.contains("field is immutable"), "{o:?}");

    let cm = k.write("cm.yaml", CM);
    let cm = cm.to_str().unwrap();
    assert!(
        k.ok("kubectl", &["apply", "--server-side", "-f", cm])
            .await
            .contains("serverside-applied")
    );
    k.write("cm.yaml", &CM.replace("\"1\"", "\"2\""));
    k.ok("kubectl", &["apply", "--server-side", "-f", cm]).await;
    let v = k
        .ok("kubectl", &["get", "cm", "c1", "-o", "jsonpath={.data.a}"])
        .await;
    assert_eq!(v, "2");
}

#[tokio::test]
async fn patch_every_type() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-patch");
    let job = k.write("job.yaml", JOB);
    k.ok("kubectl", &["apply", "-f", job.to_str().unwrap()])
        .await;
    k.ok(
        "kubectl",
        &["create", "configmap", "c1", "--from-literal=a=1"],
    )
    .await;
    k.ok(
        "kubectl",
        &["patch", "cm", "c1", "-p", r#"{"data":{"b":"2"}}"#],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "patch",
            "cm",
            "c1",
            "--type=merge",
            "-p",
            r#"{"data":{"c":"3"}}"#,
        ],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "patch",
            "cm",
            "c1",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/d","value":"4"}]"#,
        ],
    )
    .await;
    let data: Value = serde_json::from_str(
        &k.ok("kubectl", &["get", "cm", "c1", "-o", "jsonpath={.data}"])
            .await,
    )
    .unwrap();
    assert_eq!(data, json!({"a": "1", "b": "2", "c": "3", "d": "4"}));
    // A suspended Job that never started may change only its template's scheduling
    // directives: an env change is a 422 kubectl prints with the cause.
    k.ok(
        "kubectl",
        &["patch", "job", "j1", "-p", r#"{"spec":{"suspend":true}}"#],
    )
    .await;
    let env_patch = r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","env":[{"name":"B","value":"2"}]}]}}}}"#;
    let refused = k
        .run("kubectl", &["patch", "job", "j1", "-p", env_patch])
        .await;
    assert!(!refused.ok, "{}", refused.stdout);
    assert!(
        refused.stderr.contains(
            r#"The Job "j1" is invalid: spec.template: Invalid value: "object": field is immutable"#
        ),
        "{}",
        refused.stderr
    );
    k.ok(
        "kubectl",
        &[
            "patch",
            "job",
            "j1",
            "-p",
            r#"{"spec":{"template":{"spec":{"nodeSelector":{"zone":"a"}}}}}"#,
        ],
    )
    .await;
    // Strategic merge by key on a Deployment's pod template env.
    k.ok(
        "kubectl",
        &["create", "deployment", "d1", "--image=busybox:1.36"],
    )
    .await;
    for var in ["A", "B"] {
        let patch = format!(
            r#"{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"busybox","env":[{{"name":"{var}","value":"1"}}]}}]}}}}}}}}"#
        );
        k.ok("kubectl", &["patch", "deployment", "d1", "-p", &patch])
            .await;
    }
    let env: Value = serde_json::from_str(
        &k.ok(
            "kubectl",
            &[
                "get",
                "deployment",
                "d1",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].env}",
            ],
        )
        .await,
    )
    .unwrap();
    assert_eq!(env.as_array().unwrap().len(), 2, "{env}");
    k.ok(
        "kubectl",
        &[
            "patch",
            "job",
            "j1",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"active":1}}"#,
        ],
    )
    .await;
    let active = k
        .ok(
            "kubectl",
            &["get", "job", "j1", "-o", "jsonpath={.status.active}"],
        )
        .await;
    assert_eq!(active, "1");
}

#[tokio::test]
async fn delete_waits_for_finalizers() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-delete");
    let cm = k.write(
        "cm.yaml",
        &CM.replace("name: c1", "name: c1\n  finalizers: [example.com/hold]"),
    );
    k.ok("kubectl", &["apply", "-f", cm.to_str().unwrap()])
        .await;
    let store = s.handle.store().clone();
    let release = tokio::spawn(async move {
        // Remove the finalizer once kubectl has marked the object.
        loop {
            let o = store.get(&Gvr::configmaps(), Some("default"), "c1");
            if let Ok(o) = o
                && o["metadata"]["deletionTimestamp"].is_string()
            {
                tokio::time::sleep(Duration::from_millis(300)).await;
                store
                    .mutate(&Gvr::configmaps(), Some("default"), "c1", |o| {
                        o["metadata"]["finalizers"] = json!([]);
                        Ok(())
                    })
                    .unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let out = k
        .ok("kubectl", &["delete", "cm", "c1", "--timeout=20s"])
        .await;
    assert!(out.contains("deleted"), "{out}");
    // kubectl returned only once the object was gone.
    assert!(
        s.handle
            .store()
            .get(&Gvr::configmaps(), Some("default"), "c1")
            .is_err()
    );
    release.await.unwrap();
}

#[tokio::test]
async fn wait_for_condition() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-wait");
    let job = k.write("job.yaml", JOB);
    k.ok("kubectl", &["apply", "-f", job.to_str().unwrap()])
        .await;
    let store = s.handle.store().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        store
            .mutate_status(&Gvr::jobs(), Some("default"), "j1", |j| {
                j["status"]["conditions"] = json!([{"type": "Complete", "status": "True"}]);
                Ok(())
            })
            .unwrap();
    });
    let out = k
        .ok(
            "kubectl",
            &[
                "wait",
                "--for=condition=Complete",
                "job/j1",
                "--timeout=20s",
            ],
        )
        .await;
    assert!(out.contains("condition met"), "{out}");
}

#[tokio::test]
async fn api_resources() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-api-resources");
    let out = k.ok("kubectl", &["api-resources"]).await;
    for needle in [
        "jobs",
        "batch/v1",
        "cronjobs",
        "cj",
        "leases",
        "events.k8s.io/v1",
        "customresourcedefinitions",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    let out = k
        .ok(
            "kubectl",
            &["api-resources", "--api-group=batch", "-o", "wide"],
        )
        .await;
    assert!(out.contains("watch"), "{out}");
}

/// With the control plane on, a Job from `kubectl create job` gets a running pod.
#[tokio::test]
async fn created_job_runs() {
    let handle = kubesim::start(
        kubesim::Config::default()
            .control_plane(true)
            .time_scale(kubesim::sim::TimeScale::new(0.01).unwrap()),
    )
    .await
    .expect("start kubesim");
    let k = Cli::new(&handle, "kubectl-create-job-runs");
    k.ok(
        "kubectl",
        &[
            "create",
            "job",
            "queued",
            "--image=busybox",
            "--",
            "sleep",
            "3600",
        ],
    )
    .await;
    let store = handle.store().clone();
    common::eventually(20, "a Running pod of job queued", || async {
        let opts = kubesim::store::ListOptions {
            namespace: Some("default".into()),
            ..Default::default()
        };
        let pods = store.list(&Gvr::pods(), &opts).ok()?;
        pods.items
            .iter()
            .any(|p| {
                p["metadata"]["labels"]["job-name"] == "queued"
                    && p["status"]["phase"] == "Running"
                    && p["spec"]["containers"][0]["command"] == json!(["sleep", "3600"])
            })
            .then_some(())
    })
    .await;
}
