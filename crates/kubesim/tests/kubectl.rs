//! The real kubectl 1.33 against kubesim.

mod common;
mod tools;

use std::time::Duration;

use common::sim;
use kubesim::Gvr;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
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

/// Runs `kubectl get cm --watch <extra>`, waits until its watch is open, creates the ConfigMap
/// `watched` with `data`, and returns the first line `kubectl` prints that `matches`.
async fn watch_configmaps_for(
    s: &common::Sim,
    tag: &str,
    extra: &[&str],
    data: Value,
    matches: impl Fn(&str) -> bool,
) -> Option<String> {
    let k = Cli::new(&s.handle, tag);
    let mut child = k
        .command("kubectl")
        .args(["get", "cm", "--watch"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let handle = &s.handle;
    common::eventually(10, "kubectl watching", || async {
        handle
            .requests()
            .iter()
            .any(|r| r.verb == "watch" && r.resource == "configmaps")
            .then_some(())
    })
    .await;
    s.handle
        .store()
        .create(
            &Gvr::configmaps(),
            Some("default"),
            json!({"metadata": {"name": "watched"}, "data": data}),
        )
        .unwrap();
    let line = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if matches(&l) {
                return Some(l);
            }
        }
        None
    })
    .await
    .ok()
    .flatten();
    let _ = child.kill().await;
    line
}

#[tokio::test]
async fn get_watch_streams_changes() {
    let s = sim().await;
    let line = watch_configmaps_for(&s, "kubectl-watch", &["-o", "name"], json!({}), |l| {
        l.contains("configmap/watched")
    })
    .await;
    assert!(
        line.is_some(),
        "kubectl printed no line for the new ConfigMap"
    );
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

/// `kubectl get <what> -o json`, parsed.
async fn get_json(k: &Cli, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.ok("kubectl", &args).await).unwrap()
}

/// kubectl 1.33 sends the bodies of its typed `create` generators as protobuf.
#[tokio::test]
async fn create_generators_send_protobuf() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-create-pb");

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
    let j = get_json(&k, &["job", "queued"]).await;
    let c = &j["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "busybox");
    assert_eq!(c["command"], json!(["sleep", "3600"]));
    assert_eq!(j["spec"]["template"]["spec"]["restartPolicy"], "Never");
    // Server defaults still apply to a protobuf body.
    assert_eq!(j["spec"]["backoffLimit"], 6);
    assert!(j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"].is_string());
    // go-to-protobuf's empty values are not stored as empty strings.
    assert!(j["metadata"].get("generateName").is_none(), "{j}");
    assert!(c.get("workingDir").is_none(), "{c}");

    k.ok(
        "kubectl",
        &[
            "create",
            "cronjob",
            "cj",
            "--image=busybox:1.36",
            "--schedule=*/5 * * * *",
            "--restart=OnFailure",
            "--",
            "echo",
            "hi",
        ],
    )
    .await;
    let cj = get_json(&k, &["cronjob", "cj"]).await;
    assert_eq!(cj["spec"]["schedule"], "*/5 * * * *");
    let t = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(t["containers"][0]["image"], "busybox:1.36");
    assert_eq!(t["containers"][0]["command"], json!(["echo", "hi"]));
    assert_eq!(t["restartPolicy"], "OnFailure");

    k.ok("kubectl", &["create", "job", "manual", "--from=cronjob/cj"])
        .await;
    let j = get_json(&k, &["job", "manual"]).await;
    assert_eq!(
        j["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    let owner = &j["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob");
    assert_eq!(owner["name"], "cj");
    assert_eq!(owner["uid"], cj["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    let c = &j["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["echo", "hi"]));

    k.ok(
        "kubectl",
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.25",
            "--replicas=2",
            "--port=80",
        ],
    )
    .await;
    let d = get_json(&k, &["deployment", "web"]).await;
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"], json!({"app": "web"}));
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"],
        json!({"app": "web"})
    );
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.25");
    assert_eq!(c["ports"][0]["containerPort"], 80);

    k.ok(
        "kubectl",
        &[
            "create",
            "service",
            "clusterip",
            "web",
            "--tcp=80:8080",
            "--tcp=443:https",
        ],
    )
    .await;
    let svc = get_json(&k, &["service", "web"]).await;
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
    let ports = &svc["spec"]["ports"];
    assert_eq!(ports[0]["port"], 80);
    assert_eq!(ports[0]["targetPort"], 8080);
    assert_eq!(ports[0]["protocol"], "TCP");
    assert_eq!(ports[1]["port"], 443);
    assert_eq!(ports[1]["targetPort"], "https");

    k.ok(
        "kubectl",
        &[
            "create",
            "service",
            "nodeport",
            "np",
            "--tcp=80:8080",
            "--node-port=30080",
        ],
    )
    .await;
    let svc = get_json(&k, &["service", "np"]).await;
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30080);

    k.ok(
        "kubectl",
        &[
            "create",
            "role",
            "r1",
            "--verb=get,list",
            "--resource=pods,deployments.apps",
            "--resource-name=a",
        ],
    )
    .await;
    let r = get_json(&k, &["role", "r1"]).await;
    let rules = r["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{r}");
    // The core group is the empty string, which must survive.
    assert_eq!(rules[0]["apiGroups"], json!([""]));
    assert_eq!(rules[0]["resources"], json!(["pods"]));
    assert_eq!(rules[0]["verbs"], json!(["get", "list"]));
    assert_eq!(rules[0]["resourceNames"], json!(["a"]));
    assert_eq!(rules[1]["apiGroups"], json!(["apps"]));

    k.ok(
        "kubectl",
        &[
            "create",
            "rolebinding",
            "rb1",
            "--role=r1",
            "--user=alice",
            "--serviceaccount=default:sa1",
        ],
    )
    .await;
    let rb = get_json(&k, &["rolebinding", "rb1"]).await;
    assert_eq!(
        rb["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r1"})
    );
    assert_eq!(
        rb["subjects"],
        json!([
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
            {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"},
        ])
    );

    k.ok(
        "kubectl",
        &[
            "create",
            "clusterrole",
            "cr1",
            "--verb=get",
            "--non-resource-url=/healthz",
        ],
    )
    .await;
    let cr = get_json(&k, &["clusterrole", "cr1"]).await;
    assert_eq!(
        cr["rules"],
        json!([{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}])
    );
    k.ok(
        "kubectl",
        &[
            "create",
            "clusterrole",
            "agg",
            "--aggregation-rule=rbac.example.com/aggregate=true",
        ],
    )
    .await;
    let cr = get_json(&k, &["clusterrole", "agg"]).await;
    assert_eq!(
        cr["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"],
        json!({"rbac.example.com/aggregate": "true"})
    );

    k.ok(
        "kubectl",
        &[
            "create",
            "clusterrolebinding",
            "crb1",
            "--clusterrole=cr1",
            "--group=devs",
        ],
    )
    .await;
    let crb = get_json(&k, &["clusterrolebinding", "crb1"]).await;
    assert_eq!(crb["roleRef"]["kind"], "ClusterRole");
    assert_eq!(crb["subjects"][0]["kind"], "Group");
    assert_eq!(crb["subjects"][0]["name"], "devs");

    k.ok(
        "kubectl",
        &[
            "create",
            "poddisruptionbudget",
            "pdb1",
            "--selector=app=web",
            "--min-available=50%",
        ],
    )
    .await;
    k.ok(
        "kubectl",
        &[
            "create",
            "pdb",
            "pdb2",
            "--selector=app=web",
            "--max-unavailable=1",
        ],
    )
    .await;
    let p1 = get_json(&k, &["pdb", "pdb1"]).await;
    assert_eq!(p1["spec"]["minAvailable"], "50%");
    assert_eq!(p1["spec"]["selector"]["matchLabels"], json!({"app": "web"}));
    assert!(p1["spec"].get("maxUnavailable").is_none(), "{p1}");
    let p2 = get_json(&k, &["pdb", "pdb2"]).await;
    assert_eq!(p2["spec"]["maxUnavailable"], 1);

    // `kubectl run` sends JSON in 1.33; it must work all the same.
    k.ok(
        "kubectl",
        &[
            "run",
            "p1",
            "--image=busybox",
            "--labels=app=x,tier=y",
            "--env=A=1",
            "--port=8080",
            "--restart=Never",
            "--image-pull-policy=IfNotPresent",
            "--",
            "sh",
            "-c",
            "sleep 1",
        ],
    )
    .await;
    let p = get_json(&k, &["pod", "p1"]).await;
    assert_eq!(p["metadata"]["labels"], json!({"app": "x", "tier": "y"}));
    let c = &p["spec"]["containers"][0];
    assert_eq!(c["image"], "busybox");
    assert_eq!(c["args"], json!(["sh", "-c", "sleep 1"]));
    assert_eq!(c["env"], json!([{"name": "A", "value": "1"}]));
    assert_eq!(c["ports"][0]["containerPort"], 8080);
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(p["spec"]["restartPolicy"], "Never");

    // Each generator's create was served (they used to be refused with 415).
    let creates: Vec<_> = s
        .handle
        .requests()
        .into_iter()
        .filter(|r| r.verb == "create")
        .collect();
    assert_eq!(creates.len(), 14, "{creates:?}");
    assert!(creates.iter().all(|r| r.status == 201), "{creates:?}");
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

/// A CronJob whose template uses many PodSpec and Container fields, applied as JSON.
const RICH_CRONJOB: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: rich
spec:
  schedule: "0 * * * *"
  jobTemplate:
    metadata:
      labels: {team: a}
    spec:
      parallelism: 2
      completions: 4
      backoffLimit: 0
      activeDeadlineSeconds: 600
      ttlSecondsAfterFinished: 30
      completionMode: Indexed
      template:
        metadata:
          labels: {app: rich}
          annotations: {note: "x"}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 5
          activeDeadlineSeconds: 100
          nodeSelector: {gpu: "true"}
          serviceAccountName: runner
          automountServiceAccountToken: true
          priority: 10
          priorityClassName: high
          shareProcessNamespace: true
          runtimeClassName: rc
          enableServiceLinks: false
          preemptionPolicy: Never
          hostname: h
          subdomain: s
          securityContext: {runAsUser: 1000, runAsNonRoot: true, fsGroup: 2000, runAsGroup: 3000}
          imagePullSecrets: [{name: regcred}]
          volumes:
          - {name: v, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
          - {name: h, hostPath: {path: /data, type: Directory}}
          - name: s
            secret: {secretName: sec, defaultMode: 0400, optional: true, items: [{key: a, path: b, mode: 0600}]}
          - name: cm
            configMap: {name: cfg, items: [{key: k, path: p}]}
          - {name: pvc, persistentVolumeClaim: {claimName: data, readOnly: true}}
          tolerations:
          - {key: k, operator: Equal, value: v, effect: NoSchedule, tolerationSeconds: 60}
          initContainers:
          - name: init
            image: busybox
            restartPolicy: Always
          containers:
          - name: c
            image: busybox:1.36
            command: [sh, -c]
            args: ["echo hi"]
            workingDir: /w
            ports: [{name: http, containerPort: 80, hostPort: 8080, protocol: TCP, hostIP: 1.2.3.4}]
            env:
            - {name: A, value: "1"}
            - name: B
              valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}
            - name: C
              valueFrom: {configMapKeyRef: {name: cm, key: k, optional: true}}
            - name: D
              valueFrom: {secretKeyRef: {name: sec, key: k}}
            - name: E
              valueFrom: {resourceFieldRef: {containerName: c, resource: limits.cpu, divisor: 1m}}
            resources:
              limits: {cpu: 500m, memory: 1Gi}
              requests: {cpu: 100m}
            volumeMounts:
            - {name: v, mountPath: /v, readOnly: true, subPath: sp, mountPropagation: None}
            stdin: true
            terminationMessagePolicy: FallbackToLogsOnError
"#;

/// `kubectl create job --from=cronjob/x` re-encodes the stored template with client-go's own
/// protobuf marshaller, so every field of the tables must come back unchanged: a wrong field
/// number would rename or refuse a field. Fields of one type carry different values, so that
/// two swapped numbers would show too.
#[tokio::test]
async fn job_from_a_rich_cronjob_round_trips_through_protobuf() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-create-pb-rich");
    let f = k.write("cj.yaml", RICH_CRONJOB);
    k.ok("kubectl", &["apply", "-f", f.to_str().unwrap()]).await;
    k.ok(
        "kubectl",
        &["create", "job", "rich1", "--from=cronjob/rich"],
    )
    .await;
    let cj = get_json(&k, &["cronjob", "rich"]).await;
    let j = get_json(&k, &["job", "rich1"]).await;
    let want = &cj["spec"]["jobTemplate"]["spec"];
    let got = &j["spec"];
    assert_eq!(got["template"]["spec"], want["template"]["spec"]);
    assert_eq!(
        got["template"]["metadata"]["annotations"],
        want["template"]["metadata"]["annotations"]
    );
    assert_eq!(got["template"]["metadata"]["labels"]["app"], "rich");
    for field in [
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "completionMode",
    ] {
        assert_eq!(got[field], want[field], "{field}");
    }
    assert_eq!(got["backoffLimit"], 0);
    assert_eq!(j["metadata"]["labels"]["team"], "a");
    // A few spot checks, so that a field both sides lost would not pass unnoticed.
    let c = &got["template"]["spec"]["containers"][0];
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "500m", "memory": "1Gi"})
    );
    assert_eq!(
        c["env"][2]["valueFrom"]["configMapKeyRef"],
        json!({"name": "cm", "key": "k", "optional": true})
    );
    assert_eq!(
        c["env"][4]["valueFrom"]["resourceFieldRef"]["divisor"],
        "1m"
    );
    assert_eq!(c["volumeMounts"][0]["readOnly"], true);
    let vols = &got["template"]["spec"]["volumes"];
    assert_eq!(vols[0]["emptyDir"]["sizeLimit"], "64Mi");
    assert_eq!(vols[2]["secret"]["items"][0]["mode"], 0o600);
    assert_eq!(vols[3]["configMap"]["name"], "cfg");
    assert_eq!(vols[4]["persistentVolumeClaim"]["readOnly"], true);
    assert_eq!(c["ports"][0]["hostIP"], "1.2.3.4");
    let spec = &got["template"]["spec"];
    assert_eq!(spec["securityContext"]["runAsGroup"], 3000);
    assert_eq!(spec["tolerations"][0]["tolerationSeconds"], 60);
    assert_eq!(spec["initContainers"][0]["restartPolicy"], "Always");
    assert_eq!(spec["enableServiceLinks"], false);
    assert_eq!(spec["automountServiceAccountToken"], true);
    assert_eq!(c["stdin"], true);
}

/// A field the decoder's tables lack is refused with its message and number, not dropped.
#[tokio::test]
async fn an_unknown_protobuf_field_is_a_415_that_names_it() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-create-pb-unknown");
    let probed = RICH_CRONJOB.replace(
        "            stdin: true\n",
        "            stdin: true\n            livenessProbe: {exec: {command: [\"true\"]}}\n",
    );
    let f = k.write("cj.yaml", &probed);
    k.ok("kubectl", &["apply", "-f", f.to_str().unwrap()]).await;
    let o = k
        .run(
            "kubectl",
            &["create", "job", "rich1", "--from=cronjob/rich"],
        )
        .await;
    assert!(!o.ok, "{o:?}");
    assert!(
        o.stderr
            .contains("field 10 of message core.v1.Container is not supported"),
        "{o:?}"
    );
    let refused = s
        .handle
        .requests()
        .into_iter()
        .filter(|r| r.verb == "create" && r.resource == "jobs")
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(refused, vec![415]);
}

/// The row of `name` (first column) in kubectl's table output, split on runs of 2+ spaces.
fn row_of(out: &str, name: &str) -> Option<Vec<String>> {
    out.lines().find_map(|l| {
        let cells: Vec<String> = l
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        (cells.first().map(String::as_str) == Some(name)).then_some(cells)
    })
}

fn header(out: &str) -> Vec<String> {
    row_of(out, "NAME").unwrap_or_default()
}

const DONE_JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata: {name: done}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {kubesim.dev/exit-after: "0", kubesim.dev/exit-code: "0"}
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
"#;

/// `kubectl get` asks for `as=Table`: the server renders Kubernetes 1.33's columns.
#[tokio::test]
async fn get_prints_server_side_columns() {
    let handle = kubesim::start(
        kubesim::Config::default()
            .control_plane(true)
            .time_scale(kubesim::sim::TimeScale::new(0.01).unwrap()),
    )
    .await
    .expect("start kubesim");
    let k = Cli::new(&handle, "kubectl-table");
    k.ok(
        "kubectl",
        &[
            "create",
            "job",
            "busy",
            "--image=busybox",
            "--",
            "sleep",
            "3600",
        ],
    )
    .await;
    let done = k.write("done.yaml", DONE_JOB);
    k.ok("kubectl", &["apply", "-f", done.to_str().unwrap()])
        .await;

    // A running pod: READY 1/1, STATUS Running, RESTARTS 0.
    let pods = common::eventually(20, "a Running busy pod in kubectl get pods", || async {
        let out = k.ok("kubectl", &["get", "pods"]).await;
        out.lines()
            .any(|l| l.starts_with("busy-") && l.contains("Running"))
            .then_some(out)
    })
    .await;
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let busy = pods.lines().find(|l| l.starts_with("busy-")).unwrap();
    let cells: Vec<&str> = busy.split_whitespace().collect();
    assert_eq!(cells[1..4], ["1/1", "Running", "0"], "{pods}");
    // The finished pod: 0/1 Completed.
    let done_pod = common::eventually(20, "a Completed done pod", || async {
        let out = k.ok("kubectl", &["get", "pods"]).await;
        out.lines()
            .find(|l| l.starts_with("done-"))
            .filter(|l| l.contains("Completed"))
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
    })
    .await;
    assert_eq!(done_pod[1..4], ["0/1", "Completed", "0"]);

    // -o wide adds the priority-1 columns.
    let wide = k.ok("kubectl", &["get", "pods", "-o", "wide"]).await;
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    let busy = wide.lines().find(|l| l.starts_with("busy-")).unwrap();
    assert!(busy.contains("kubesim-node-0"), "{wide}");

    // Jobs: STATUS, COMPLETIONS, DURATION.
    let jobs = common::eventually(20, "job done Complete", || async {
        let out = k.ok("kubectl", &["get", "jobs"]).await;
        row_of(&out, "done")
            .filter(|r| r[1] == "Complete")
            .map(|_| out)
    })
    .await;
    assert_eq!(
        header(&jobs),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    assert_eq!(row_of(&jobs, "done").unwrap()[2], "1/1", "{jobs}");
    assert_eq!(row_of(&jobs, "busy").unwrap()[1..3], ["Running", "0/1"]);
    let wide = k.ok("kubectl", &["get", "job", "busy", "-o", "wide"]).await;
    let row = row_of(&wide, "busy").unwrap();
    assert_eq!(row[5..7], ["busy", "busybox"], "{wide}");
    assert!(
        row[7].starts_with("batch.kubernetes.io/controller-uid="),
        "{wide}"
    );

    // --sort-by asks for whole objects (includeObject=Object) and sorts on the client.
    let sorted = k
        .ok("kubectl", &["get", "jobs", "--sort-by=.metadata.name"])
        .await;
    let names: Vec<&str> = sorted
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["busy", "done"], "{sorted}");
    assert!(
        handle
            .requests()
            .iter()
            .any(|r| r.resource == "jobs" && r.query.contains("includeObject=Object")),
        "kubectl --sort-by asked for includeObject=Object"
    );

    // -A adds NAMESPACE from each row's PartialObjectMetadata; --show-labels reads it too.
    let all = k
        .ok("kubectl", &["get", "pods", "-A", "--show-labels"])
        .await;
    let head: Vec<&str> = all.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head[..3], ["NAMESPACE", "NAME", "READY"], "{all}");
    let busy = all.lines().find(|l| l.contains("busy-")).unwrap();
    assert!(busy.starts_with("default "), "{all}");
    assert!(busy.contains("job-name=busy"), "{all}");

    // Events: LAST SEEN TYPE REASON OBJECT MESSAGE.
    let events = common::eventually(20, "the Completed event of job done", || async {
        let out = k.ok("kubectl", &["get", "events"]).await;
        out.lines()
            .any(|l| l.contains("job/done") && l.contains("Completed"))
            .then_some(out)
    })
    .await;
    let head: Vec<&str> = events
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        head,
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );

    // Other printers: namespaces, nodes, configmaps.
    let ns = k.ok("kubectl", &["get", "ns", "default"]).await;
    assert_eq!(header(&ns), ["NAME", "STATUS", "AGE"]);
    assert_eq!(row_of(&ns, "default").unwrap()[1], "Active");
    let nodes = k.ok("kubectl", &["get", "nodes"]).await;
    assert_eq!(
        header(&nodes),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    assert_eq!(row_of(&nodes, "kubesim-node-0").unwrap()[1], "Ready");

    // The machine formats still get plain objects.
    let list = get_json(&k, &["jobs"]).await;
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "Job");
    let one = get_json(&k, &["job", "done"]).await;
    assert_eq!(one["kind"], "Job");
    assert_eq!(one["status"]["succeeded"], 1);
    let name = k.ok("kubectl", &["get", "job", "-o", "name"]).await;
    assert_eq!(
        name.lines().collect::<Vec<_>>(),
        ["job.batch/busy", "job.batch/done"]
    );
}

const PRINTER_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: jobterminations.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: jobterminations, singular: jobtermination, kind: JobTermination, listKind: JobTerminationList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Attempts, type: integer, jsonPath: .spec.attempts}
    - {name: Queue, type: string, jsonPath: .spec.queue, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              attempts: {type: integer}
              queue: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
"#;

/// A CRD's `additionalPrinterColumns` become the table's columns.
#[tokio::test]
async fn get_prints_crd_printer_columns() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-crd-table");
    let crd = k.write("crd.yaml", PRINTER_CRD);
    k.ok("kubectl", &["apply", "-f", crd.to_str().unwrap()])
        .await;
    let cr = k.write(
        "cr.yaml",
        "apiVersion: example.com/v1\nkind: JobTermination\nmetadata: {name: t1}\nspec: {attempts: 3, queue: q1}\n",
    );
    common::eventually(10, "the CR created", || async {
        k.run("kubectl", &["apply", "-f", cr.to_str().unwrap()])
            .await
            .ok
            .then_some(())
    })
    .await;
    s.handle
        .store()
        .mutate_status(
            &Gvr::new("example.com", "v1", "jobterminations"),
            Some("default"),
            "t1",
            |o| {
                o["status"] = json!({"phase": "Terminating"});
                Ok(())
            },
        )
        .unwrap();
    let out = k.ok("kubectl", &["get", "jobterminations"]).await;
    assert_eq!(header(&out), ["NAME", "PHASE", "ATTEMPTS", "AGE"], "{out}");
    let row = row_of(&out, "t1").unwrap();
    assert_eq!(row[1..3], ["Terminating", "3"], "{out}");
    assert!(row[3].ends_with('s'), "AGE is a duration: {out}");
    let wide = k
        .ok("kubectl", &["get", "jobterminations", "-o", "wide"])
        .await;
    assert_eq!(
        header(&wide),
        ["NAME", "PHASE", "ATTEMPTS", "QUEUE", "AGE"],
        "{wide}"
    );
    assert_eq!(row_of(&wide, "t1").unwrap()[3], "q1");
    // A missing value is a null cell, which kubectl prints as blank.
    k.write(
        "cr2.yaml",
        "apiVersion: example.com/v1\nkind: JobTermination\nmetadata: {name: t2}\nspec: {}\n",
    );
    k.ok(
        "kubectl",
        &["apply", "-f", k.dir.join("cr2.yaml").to_str().unwrap()],
    )
    .await;
    let out = k.ok("kubectl", &["get", "jobterminations", "t2"]).await;
    let row = row_of(&out, "t2").unwrap();
    assert_eq!(row.len(), 2, "{out}");
    assert!(row[1].ends_with('s'), "{out}");
    let one = get_json(&k, &["jobterminations", "t1"]).await;
    assert_eq!(one["spec"]["attempts"], 3);
}

/// `kubectl get -w` watches with `as=Table`: each event is a one-row Table.
#[tokio::test]
async fn get_watch_prints_table_rows() {
    let s = sim().await;
    let row = watch_configmaps_for(
        &s,
        "kubectl-watch-table",
        &[],
        json!({"a": "1", "b": "2"}),
        |l| l.starts_with("watched"),
    )
    .await;
    let row = row.expect("a row for the new ConfigMap");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..2], ["watched", "2"], "{row}");
}
