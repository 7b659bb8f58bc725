//! The real helm v4 against kubesim: install, upgrade, uninstall of a chart with a CRD.

mod common;
mod tools;

use common::sim;
use kubesim::Gvr;
use tools::Cli;

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
";

const TEMPLATES: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  message: {{ .Values.message | quote }}
---
apiVersion: example.com/v1
kind: Gadget
metadata:
  name: {{ .Release.Name }}-g
spec:
  size: {{ .Values.size }}
";

#[tokio::test]
async fn install_upgrade_uninstall_with_crd() {
    let s = sim().await;
    let h = Cli::new(&s.handle, "helm");
    h.write(
        "chart/Chart.yaml",
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    );
    h.write("chart/values.yaml", "message: hello\nsize: 3\n");
    h.write("chart/crds/gadgets.yaml", CRD);
    h.write("chart/templates/all.yaml", TEMPLATES);
    let chart = h.dir.join("chart");
    let chart = chart.to_str().unwrap();
    let store = s.handle.store();
    let gadgets = Gvr::new("example.com", "v1", "gadgets");

    h.ok(
        "helm",
        &[
            "install",
            "r1",
            chart,
            "--namespace",
            "apps",
            "--create-namespace",
            "--wait",
        ],
    )
    .await;
    let cm = store
        .get(&Gvr::configmaps(), Some("apps"), "r1-cm")
        .unwrap();
    assert_eq!(cm["data"]["message"], "hello");
    assert_eq!(
        store.get(&gadgets, Some("apps"), "r1-g").unwrap()["spec"]["size"],
        3
    );

    h.ok(
        "helm",
        &[
            "upgrade",
            "r1",
            chart,
            "--namespace",
            "apps",
            "--set",
            "message=bye,size=5",
        ],
    )
    .await;
    let cm = store
        .get(&Gvr::configmaps(), Some("apps"), "r1-cm")
        .unwrap();
    assert_eq!(cm["data"]["message"], "bye");
    assert_eq!(
        store.get(&gadgets, Some("apps"), "r1-g").unwrap()["spec"]["size"],
        5
    );
    let list = h.ok("helm", &["list", "--namespace", "apps"]).await;
    assert!(list.contains("r1") && list.contains("deployed"), "{list}");

    h.ok(
        "helm",
        &["uninstall", "r1", "--namespace", "apps", "--wait"],
    )
    .await;
    assert!(
        store
            .get(&Gvr::configmaps(), Some("apps"), "r1-cm")
            .is_err()
    );
    assert!(store.get(&gadgets, Some("apps"), "r1-g").is_err());
    // CRDs stay, as helm leaves them.
    assert!(store.get(&Gvr::crds(), None, "gadgets.example.com").is_ok());
}
