//! The real kubectl 1.33's protobuf request bodies against kubesim.

mod common;
mod tools;

use common::sim;
use serde_json::json;
use tools::{Cli, get_json};

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
