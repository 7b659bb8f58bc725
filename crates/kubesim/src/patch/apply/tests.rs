use super::super::{ApplyOptions, Error, FieldConflict, server_side_apply, track_update};
use serde_json::{Value, json};

const T1: &str = "2025-01-01T00:00:00Z";
const T2: &str = "2025-01-01T00:01:00Z";

fn opts<'a>(manager: &'a str, force: bool, now: &'a str) -> ApplyOptions<'a> {
    ApplyOptions {
        field_manager: manager,
        force,
        now,
        group: "apps",
        kind: "Deployment",
    }
}

fn deployment(replicas: i64, labels: Value, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers}
            }
        }
    })
}

fn with_managed(mut obj: Value, managed: Value) -> Value {
    obj["metadata"]["managedFields"] = managed;
    obj
}

fn apply_entry(manager: &str, time: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": "Apply", "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn update_entry(manager: &str, time: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": time,
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn nginx() -> Value {
    json!([{"name": "nginx", "image": "nginx:1"}])
}

/// The fields of `deployment(..)` with labels `{app: web}`. `update` adds the `.` members
/// that an Update records for maps it creates.
fn kubectl_fields(update: bool) -> Value {
    let labels = if update {
        json!({".": {}, "f:app": {}})
    } else {
        json!({"f:app": {}})
    };
    json!({
        "f:metadata": {"f:labels": labels},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": labels},
                "f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}
            }
        }
    })
}

#[test]
fn create_by_apply() {
    let applied = deployment(2, json!({"app": "web"}), nginx());
    let got = server_side_apply(None, &applied, &opts("kubectl", false, T1)).unwrap();
    let want = with_managed(
        applied,
        json!([apply_entry("kubectl", T1, kubectl_fields(false))]),
    );
    assert_eq!(got, want);
}

#[test]
fn reapply_without_a_field_removes_it() {
    let first = deployment(2, json!({"app": "web", "tier": "front"}), nginx());
    let live = server_side_apply(None, &first, &opts("kubectl", false, T1)).unwrap();
    let second = deployment(2, json!({"app": "web"}), nginx());
    let got = server_side_apply(Some(&live), &second, &opts("kubectl", false, T2)).unwrap();
    let want = with_managed(
        second,
        json!([apply_entry("kubectl", T2, kubectl_fields(false))]),
    );
    assert_eq!(got, want);
}

#[test]
fn reapply_without_a_container_removes_it() {
    let two = json!([{"name": "nginx", "image": "nginx:1"}, {"name": "side", "image": "s"}]);
    let live = server_side_apply(
        None,
        &deployment(1, json!({"app": "web"}), two),
        &opts("kubectl", false, T1),
    )
    .unwrap();
    let got = server_side_apply(
        Some(&live),
        &deployment(1, json!({"app": "web"}), nginx()),
        &opts("kubectl", false, T2),
    )
    .unwrap();
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"],
        nginx(),
        "the container no longer applied is pruned"
    );
}

/// A Deployment created by `kubectl create` (an Update by kubectl-client-side-apply).
fn created_by_update() -> Value {
    let mut obj = deployment(1, json!({"app": "web"}), nginx());
    track_update(None, &mut obj, "kubectl-client-side-apply", None, T1);
    obj
}

#[test]
fn update_on_create_owns_every_field() {
    let obj = created_by_update();
    let want = with_managed(
        deployment(1, json!({"app": "web"}), nginx()),
        json!([update_entry(
            "kubectl-client-side-apply",
            T1,
            kubectl_fields(true)
        )]),
    );
    assert_eq!(obj, want);
}

#[test]
fn conflict_with_another_manager() {
    let live = created_by_update();
    let applied = deployment(3, json!({"app": "web"}), nginx());
    let err = server_side_apply(Some(&live), &applied, &opts("kubectl", false, T2)).unwrap_err();
    let Error::Conflict { conflicts } = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    assert_eq!(
        conflicts,
        &vec![FieldConflict {
            manager: "kubectl-client-side-apply".into(),
            field: ".spec.replicas".into(),
            message: "conflict with \"kubectl-client-side-apply\" using apps/v1".into(),
        }]
    );
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let live = created_by_update();
    let applied = deployment(
        3,
        json!({"app": "web"}),
        json!([{"name": "nginx", "image": "nginx:2"}]),
    );
    let err = server_side_apply(Some(&live), &applied, &opts("kubectl", false, T2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"nginx\"].image"
    );
}

#[test]
fn force_takes_ownership() {
    let live = created_by_update();
    let applied = deployment(3, json!({"app": "web"}), nginx());
    let got = server_side_apply(Some(&live), &applied, &opts("kubectl", true, T2)).unwrap();
    let mut csa = kubectl_fields(true);
    csa["f:spec"].as_object_mut().unwrap().remove("f:replicas");
    let want = with_managed(
        applied,
        json!([
            apply_entry("kubectl", T2, kubectl_fields(false)),
            update_entry("kubectl-client-side-apply", T1, csa),
        ]),
    );
    assert_eq!(got, want);
}

#[test]
fn identical_values_are_co_owned() {
    let live = created_by_update();
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "web"}, "spec": {"replicas": 1}});
    let got = server_side_apply(Some(&live), &applied, &opts("kubectl", false, T2)).unwrap();
    let want = with_managed(
        deployment(1, json!({"app": "web"}), nginx()),
        json!([
            apply_entry("kubectl", T2, json!({"f:spec": {"f:replicas": {}}})),
            update_entry("kubectl-client-side-apply", T1, kubectl_fields(true)),
        ]),
    );
    assert_eq!(got, want);

    // Dropping a co-owned field from the applied config keeps it on the object.
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                         "spec": {"minReadySeconds": 5}});
    let again = server_side_apply(Some(&got), &applied, &opts("kubectl", false, T2)).unwrap();
    assert_eq!(again["spec"]["replicas"], json!(1));
    assert_eq!(again["spec"]["minReadySeconds"], json!(5));
}

#[test]
fn two_appliers_own_different_list_items() {
    let base = |c: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": c}})
    };
    let pod_opts = |m| ApplyOptions {
        field_manager: m,
        force: false,
        now: T1,
        group: "",
        kind: "Pod",
    };
    let a = base(json!([{"name": "a", "image": "a", "ports": [{"containerPort": 80}]}]));
    let b = base(json!([{"name": "b", "image": "b"}]));
    let live = server_side_apply(None, &a, &pod_opts("alice")).unwrap();
    let live = server_side_apply(Some(&live), &b, &pod_opts("bob")).unwrap();
    let item = |n: &str, extra: Value| {
        let mut f = json!({".": {}, "f:image": {}, "f:name": {}});
        for (k, v) in extra.as_object().unwrap() {
            f[k] = v.clone();
        }
        json!({"f:spec": {"f:containers": {format!("k:{{\"name\":\"{n}\"}}"): f}}})
    };
    let entry = |m: &str, fields: Value| {
        json!({"manager": m, "operation": "Apply", "apiVersion": "v1", "time": T1,
               "fieldsType": "FieldsV1", "fieldsV1": fields})
    };
    let alice_fields = item(
        "a",
        json!({"f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":
                           {".": {}, "f:containerPort": {}}}}),
    );
    let want = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "managedFields": [
        entry("alice", alice_fields.clone()),
        entry("bob", item("b", json!({}))),
    ]},
    "spec": {"containers": [
        {"name": "a", "image": "a", "ports": [{"containerPort": 80}]},
        {"name": "b", "image": "b"}
    ]}});
    assert_eq!(live, want);

    // Bob changing alice's image is a conflict; bob dropping his container removes only his.
    let steal = base(json!([{"name": "a", "image": "evil"}, {"name": "b", "image": "b"}]));
    assert!(matches!(
        server_side_apply(Some(&live), &steal, &pod_opts("bob")),
        Err(Error::Conflict { .. })
    ));
    let none = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
    let got = server_side_apply(Some(&live), &none, &pod_opts("bob")).unwrap();
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "managedFields": [
                entry("alice", alice_fields),
            ]},
            "spec": {"containers": [{"name": "a", "image": "a", "ports": [{"containerPort": 80}]}]}})
    );
}

#[test]
fn status_is_left_to_the_status_subresource() {
    let mut live = created_by_update();
    live["status"] = json!({"replicas": 1});
    let mut applied = deployment(1, json!({"app": "web"}), nginx());
    applied["status"] = json!({"replicas": 7});
    applied["metadata"]["managedFields"] = json!([{"manager": "forged"}]);
    let got = server_side_apply(Some(&live), &applied, &opts("kubectl", false, T2)).unwrap();
    assert_eq!(got["status"], json!({"replicas": 1}));
    let managers: Vec<&str> = got["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubectl", "kubectl-client-side-apply"]);
}

#[test]
fn finalizers_are_a_set() {
    let cm = |f: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "finalizers": f}})
    };
    let o = |m| ApplyOptions {
        field_manager: m,
        force: false,
        now: T1,
        group: "",
        kind: "ConfigMap",
    };
    let live = server_side_apply(None, &cm(json!(["a/x"])), &o("one")).unwrap();
    let live = server_side_apply(Some(&live), &cm(json!(["b/y"])), &o("two")).unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["a/x", "b/y"]));
    assert_eq!(
        live["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {"v:\"a/x\"": {}}}})
    );
}

#[test]
fn custom_resource_lists_are_atomic() {
    let cr = |items: Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"items": items}})
    };
    let o = ApplyOptions {
        field_manager: "m",
        force: false,
        now: T1,
        group: "example.com",
        kind: "Widget",
    };
    let live = server_side_apply(None, &cr(json!([{"name": "a"}, {"name": "b"}])), &o).unwrap();
    let got = server_side_apply(Some(&live), &cr(json!([{"name": "c"}])), &o).unwrap();
    assert_eq!(got["spec"]["items"], json!([{"name": "c"}]));
    assert_eq!(
        got["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {"f:items": {}}})
    );
}

#[test]
fn update_steals_changed_fields_and_merges_own_entry() {
    let live = server_side_apply(
        None,
        &deployment(2, json!({"app": "web"}), nginx()),
        &opts("kubectl", false, T1),
    )
    .unwrap();
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    track_update(Some(&live), &mut scaled, "hpa", None, T2);
    let mut kubectl = kubectl_fields(false);
    kubectl["f:spec"]
        .as_object_mut()
        .unwrap()
        .remove("f:replicas");
    let want = with_managed(
        deployment(5, json!({"app": "web"}), nginx()),
        json!([
            apply_entry("kubectl", T1, kubectl),
            update_entry("hpa", T2, json!({"f:spec": {"f:replicas": {}}})),
        ]),
    );
    assert_eq!(scaled, want);

    // A second update by the same manager merges into its entry; an unchanged object
    // records nothing.
    let mut labelled = scaled.clone();
    labelled["metadata"]["annotations"] = json!({"note": "x"});
    track_update(Some(&scaled), &mut labelled, "hpa", None, T2);
    assert_eq!(
        labelled["metadata"]["managedFields"][1]["fieldsV1"],
        json!({"f:metadata": {"f:annotations": {".": {}, "f:note": {}}},
               "f:spec": {"f:replicas": {}}})
    );
    let mut same = labelled.clone();
    track_update(Some(&labelled), &mut same, "other", None, T2);
    assert_eq!(same, labelled);
    let mut bare = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    track_update(None, &mut bare, "m", None, T2);
    assert_eq!(bare, json!({"apiVersion": "v1", "kind": "ConfigMap"}));

    // A status subresource update gets its own entry.
    let mut status = labelled.clone();
    status["status"] = json!({"readyReplicas": 5});
    track_update(
        Some(&labelled),
        &mut status,
        "controller",
        Some("status"),
        T2,
    );
    let entries = status["metadata"]["managedFields"].as_array().unwrap();
    let last = entries
        .iter()
        .find(|e| e["manager"] == "controller")
        .unwrap();
    assert_eq!(last["subresource"], json!("status"));
    assert_eq!(
        last["fieldsV1"],
        json!({"f:status": {"f:readyReplicas": {}}})
    );
}

#[test]
fn service_ports_key_on_port_and_defaulted_protocol() {
    let svc = |ports: Value| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"selector": {"app": "web"}, "ports": ports}})
    };
    let o = ApplyOptions {
        field_manager: "helm",
        force: false,
        now: T1,
        group: "",
        kind: "Service",
    };
    let live = server_side_apply(
        None,
        &svc(json!([{"port": 80, "name": "http"}, {"port": 53, "protocol": "UDP"}])),
        &o,
    )
    .unwrap();
    assert_eq!(
        live["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {
            "f:ports": {
                "k:{\"port\":53,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}},
                "k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}
            },
            "f:selector": {}
        }})
    );
    // The applier drops the UDP port and the name it used to apply: both go. The TCP port
    // is the same item whether or not its protocol is spelled out.
    let got = server_side_apply(
        Some(&live),
        &svc(json!([{"port": 80, "protocol": "TCP"}])),
        &o,
    )
    .unwrap();
    assert_eq!(
        got["spec"]["ports"],
        json!([{"port": 80, "protocol": "TCP"}])
    );
}
