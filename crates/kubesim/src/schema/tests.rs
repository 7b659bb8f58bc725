use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResourceExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;

fn builtin(g: &str, v: &str, k: &str) -> Arc<Schema> {
    Schema::builtin(g, v, k).unwrap_or_else(|| panic!("no builtin {g}/{v} {k}"))
}

fn fields(causes: &[Cause]) -> Vec<(&str, &str)> {
    causes
        .iter()
        .map(|c| (c.field.as_str(), c.reason.as_str()))
        .collect()
}

fn typed_job() -> Job {
    let mut limits = BTreeMap::new();
    limits.insert("cpu".to_string(), Quantity("100m".into()));
    limits.insert("memory".to_string(), Quantity("1Gi".into()));
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            namespace: Some("default".into()),
            labels: Some(BTreeMap::from([(
                "batch-terminator.dev/job-id".to_string(),
                "abc".to_string(),
            )])),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: "cron".into(),
                uid: "5f3c3f3e-0000-4000-8000-000000000000".into(),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(4),
            suspend: Some(false),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "pi".into(),
                        image: Some("perl:5.34".into()),
                        command: Some(vec!["perl".into(), "-e".into(), "print 1".into()]),
                        env: Some(vec![EnvVar {
                            name: "A".into(),
                            value: Some("1".into()),
                            ..Default::default()
                        }]),
                        ports: Some(vec![ContainerPort {
                            container_port: 8080,
                            name: Some("http".into()),
                            ..Default::default()
                        }]),
                        readiness_probe: Some(Probe {
                            http_get: Some(HTTPGetAction {
                                port: IntOrString::String("http".into()),
                                path: Some("/".into()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        liveness_probe: Some(Probe {
                            http_get: Some(HTTPGetAction {
                                port: IntOrString::Int(8080),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        resources: Some(ResourceRequirements {
                            limits: Some(limits.clone()),
                            requests: Some(limits),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn job_json() -> Value {
    let mut v = serde_json::to_value(typed_job()).unwrap();
    v["apiVersion"] = json!("batch/v1");
    v["kind"] = json!("Job");
    v
}

#[test]
fn every_builtin_kind_has_a_cached_schema() {
    for (g, v, k) in BUILTIN_KINDS {
        let a = builtin(g, v, k);
        let b = builtin(g, v, k);
        assert!(Arc::ptr_eq(&a, &b), "{g}/{v} {k} not cached");
        assert_eq!(a.flavor(), Flavor::BuiltIn);
        assert!(a.as_json()["properties"]["metadata"].is_object(), "{k}");
    }
    assert!(Schema::builtin("batch", "v1", "Nope").is_none());
    assert!(Schema::builtin("", "v2", "Pod").is_none());
}

#[test]
fn kube_rs_job_is_valid_and_has_no_unknown_fields() {
    let s = builtin("batch", "v1", "Job");
    let job = job_json();
    assert_eq!(s.validate(&job), vec![]);
    assert_eq!(s.unknown_fields(&job), Vec::<String>::new());
    // A status as the Job controller writes it.
    let mut with_status = job.clone();
    with_status["status"] = json!({
        "active": 1, "startTime": "2025-01-01T00:00:00Z", "ready": 0, "uncountedTerminatedPods": {},
        "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2025-01-01T00:01:00Z"}]
    });
    assert_eq!(s.validate(&with_status), vec![]);
}

#[test]
fn kubectl_style_pod_with_nulls_numbers_and_int_or_string_is_valid() {
    let s = builtin("", "v1", "Pod");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "creationTimestamp": null, "annotations": {"a": "b"},
                     "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
                                        "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}}]},
        "spec": {
            "containers": [{
                "name": "c", "image": "busybox", "resources": {"limits": {"cpu": 0.5, "memory": "128Mi"}, "requests": {"cpu": 1}},
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "livenessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 10},
                "securityContext": {}
            }],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}]
        },
        "status": {}
    });
    assert_eq!(s.validate(&pod), vec![]);
    assert_eq!(s.unknown_fields(&pod), Vec::<String>::new());
}

#[test]
fn builtin_required_type_and_quantity_errors() {
    let s = builtin("batch", "v1", "Job");
    let mut job = job_json();
    job["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    job["spec"]["parallelism"] = json!("two");
    job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = json!("lots");
    job["metadata"]["labels"]["n"] = json!(1);
    let causes = s.validate(&job);
    let mut got = fields(&causes);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("metadata.labels[n]", "FieldValueTypeInvalid"),
            ("spec.parallelism", "FieldValueTypeInvalid"),
            (
                "spec.template.spec.containers[0].name",
                "FieldValueRequired"
            ),
            (
                "spec.template.spec.containers[0].resources.limits[cpu]",
                "FieldValueInvalid"
            ),
        ]
    );
    assert_eq!(causes.len(), 4, "{causes:?}");
    let by_field = |f: &str| causes.iter().find(|c| c.field == f).unwrap();
    assert_eq!(
        by_field("spec.parallelism").message,
        "Invalid value: \"string\": spec.parallelism in body must be of type integer: \"string\""
    );
    assert_eq!(
        by_field("spec.template.spec.containers[0].name").message,
        "Required value"
    );
    assert!(
        by_field("spec.template.spec.containers[0].resources.limits[cpu]")
            .message
            .contains("quantities must match the regular expression")
    );
    // int32 range.
    let mut job = job_json();
    job["spec"]["backoffLimit"] = json!(5_000_000_000_i64);
    assert_eq!(
        fields(&s.validate(&job)),
        vec![("spec.backoffLimit", "FieldValueInvalid")]
    );
    // IntOrString rejects booleans.
    let mut job = job_json();
    job["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] =
        json!(true);
    let c = s.validate(&job);
    assert_eq!(c.len(), 1);
    assert!(
        c[0].message.contains("must be of type integer,string"),
        "{c:?}"
    );
}

#[test]
fn builtin_formats() {
    let s = builtin("", "v1", "Secret");
    let ok = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                    "type": "Opaque", "data": {"k": "aGVsbG8="}, "stringData": {"x": "plain"}});
    assert_eq!(s.validate(&ok), vec![]);
    let mut bad = ok.clone();
    bad["data"]["k"] = json!("not base64!");
    assert_eq!(
        fields(&s.validate(&bad)),
        vec![("data[k]", "FieldValueInvalid")]
    );
    let mut bad = ok;
    bad["metadata"]["creationTimestamp"] = json!("yesterday");
    assert_eq!(
        fields(&s.validate(&bad)),
        vec![("metadata.creationTimestamp", "FieldValueInvalid")]
    );
}

#[test]
fn builtin_unknown_fields_and_prune() {
    let s = builtin("batch", "v1", "Job");
    let mut job = job_json();
    job["spec"]["foo"] = json!(1);
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = json!("x");
    job["metadata"]["bogus"] = json!("y");
    let mut unknown = s.unknown_fields(&job);
    unknown.sort();
    assert_eq!(
        unknown,
        vec![
            ".metadata.bogus",
            ".spec.foo",
            ".spec.template.spec.containers[0].imagePullPolice"
        ]
    );
    let pruned = s.prune(&mut job);
    assert_eq!(pruned.len(), 3);
    assert_eq!(job, job_json());
}

#[test]
fn events_k8s_io_event_as_kube_rs_recorder_posts_it() {
    let s = builtin("events.k8s.io", "v1", "Event");
    let ev = json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"generateName": "pi.", "namespace": "default"},
        "eventTime": "2025-01-01T00:00:00.123456Z",
        "action": "Terminate", "reason": "JobTerminated", "note": "by request", "type": "Normal",
        "reportingController": "batch-terminator", "reportingInstance": "bt-0",
        "regarding": {"apiVersion": "batch/v1", "kind": "Job", "name": "pi", "namespace": "default", "uid": "u"},
        "series": {"count": 2, "lastObservedTime": "2025-01-01T00:00:01.000000Z"}
    });
    assert_eq!(s.validate(&ev), vec![]);
    assert!(s.unknown_fields(&ev).is_empty());
    let mut bad = ev.clone();
    bad["series"]["count"] = json!("two");
    assert_eq!(
        fields(&s.validate(&bad)),
        vec![("series.count", "FieldValueTypeInvalid")]
    );
}

// ---- custom resources ----

#[derive(kube::CustomResource, Serialize, Deserialize, Clone, Debug, schemars::JsonSchema)]
#[kube(
    group = "batch-terminator.dev",
    version = "v1alpha1",
    kind = "JobTermination",
    namespaced,
    status = "JobTerminationStatus"
)]
#[serde(rename_all = "camelCase")]
struct JobTerminationSpec {
    job_id: String,
    reason: String,
    action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grace_period_seconds: Option<i64>,
    #[serde(default = "default_retries")]
    #[schemars(default = "default_retries")]
    retries: u32,
}

fn default_retries() -> u32 {
    3
}

#[derive(Serialize, Deserialize, Clone, Debug, schemars::JsonSchema, PartialEq)]
enum Action {
    Cancel,
    Terminate,
}

#[derive(Serialize, Deserialize, Clone, Debug, schemars::JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
struct JobTerminationStatus {
    phase: Option<String>,
    finished_at: Option<String>,
}

fn kube_crd_schema() -> Schema {
    let crd = serde_json::to_value(JobTermination::crd()).unwrap();
    Schema::from_openapi_v3(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]).unwrap()
}

#[test]
fn kube_rs_custom_resource_is_valid() {
    let s = kube_crd_schema();
    assert_eq!(s.flavor(), Flavor::CustomResource);
    let mut jt = JobTermination::new(
        "t1",
        JobTerminationSpec {
            job_id: "abc".into(),
            reason: "stop".into(),
            action: Action::Terminate,
            grace_period_seconds: None,
            retries: 3,
        },
    );
    jt.metadata.namespace = Some("default".into());
    jt.status = Some(JobTerminationStatus {
        phase: Some("Done".into()),
        finished_at: None,
    });
    let v = serde_json::to_value(&jt).unwrap();
    assert_eq!(s.validate(&v), vec![], "{v}");
    assert!(s.unknown_fields(&v).is_empty());
    // Wrong enum value and missing required field.
    let mut bad = v.clone();
    bad["spec"]["action"] = json!("Explode");
    bad["spec"].as_object_mut().unwrap().remove("jobId");
    let causes = s.validate(&bad);
    assert!(
        causes.contains(&Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: "spec.jobId".into()
        }),
        "{causes:?}"
    );
    assert!(
        causes
            .iter()
            .any(|c| c.field == "spec.action" && c.reason == "FieldValueNotSupported"),
        "{causes:?}"
    );
    // Defaults fill `retries`, pruning drops unknowns but keeps metadata.
    let mut obj = json!({"apiVersion": "batch-terminator.dev/v1alpha1", "kind": "JobTermination",
        "metadata": {"name": "t", "labels": {"a": "b"}, "junk": 1},
        "spec": {"jobId": "j", "reason": "r", "action": "Cancel", "extra": true}});
    let mut pruned = s.prune(&mut obj);
    pruned.sort();
    assert_eq!(pruned, vec![".metadata.junk", ".spec.extra"]);
    s.apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["retries"], json!(3));
    assert_eq!(obj["metadata"], json!({"name": "t", "labels": {"a": "b"}}));
    assert_eq!(s.validate(&obj), vec![]);
}

#[test]
fn the_crd_itself_validates_as_a_builtin() {
    let s = builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    let crd = serde_json::to_value(JobTermination::crd()).unwrap();
    assert_eq!(s.validate(&crd), vec![], "{crd}");
    assert!(
        s.unknown_fields(&crd).is_empty(),
        "{:?}",
        s.unknown_fields(&crd)
    );
    // A hand-written CRD with enum/default values of several JSON types, and
    // additionalProperties: true.
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                             "additionalProperties": true,
                             "properties": {"n": {"type": "integer", "enum": [1, 2], "default": 1},
                                            "s": {"type": "string", "default": "x"},
                                            "o": {"type": "object", "default": {"a": [1]}}}}}}}}]}
    });
    assert_eq!(s.validate(&crd), vec![]);
    assert!(s.unknown_fields(&crd).is_empty());
    let mut bad = crd.clone();
    bad["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("served");
    assert_eq!(
        fields(&s.validate(&bad)),
        vec![("spec.versions[0].served", "FieldValueRequired")]
    );
}

fn crd_schema(spec: Value) -> Schema {
    Schema::from_openapi_v3(&json!({
        "type": "object",
        "properties": {"spec": spec, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
    }))
    .unwrap()
}

fn obj(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": spec})
}

#[test]
fn crd_rejects_non_object_root() {
    assert!(Schema::from_openapi_v3(&json!("x")).is_err());
    assert!(Schema::from_openapi_v3(&json!({"type": "string"})).is_err());
}

#[test]
fn crd_types_and_nullable() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "i": {"type": "integer"}, "n": {"type": "number"}, "b": {"type": "boolean"},
        "s": {"type": "string"}, "a": {"type": "array", "items": {"type": "string"}},
        "ns": {"type": "string", "nullable": true}, "nn": {"type": "string"}
    }}));
    let good = obj(json!({"i": 1, "n": 1.5, "b": true, "s": "x", "a": ["y"], "ns": null}));
    assert_eq!(s.validate(&good), vec![]);
    let bad = obj(json!({"i": 1.5, "n": "1", "b": "true", "s": 1, "a": [1], "nn": null}));
    let causes = s.validate(&bad);
    let mut got = fields(&causes);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("spec.a[0]", "FieldValueTypeInvalid"),
            ("spec.b", "FieldValueTypeInvalid"),
            ("spec.i", "FieldValueTypeInvalid"),
            ("spec.n", "FieldValueTypeInvalid"),
            ("spec.nn", "FieldValueTypeInvalid"),
            ("spec.s", "FieldValueTypeInvalid"),
        ]
    );
    let i = causes.iter().find(|c| c.field == "spec.i").unwrap();
    assert_eq!(
        i.message,
        "Invalid value: \"number\": spec.i in body must be of type integer: \"number\""
    );
    // 2.0 is an integer to the API server.
    assert_eq!(s.validate(&obj(json!({"i": 2.0}))), vec![]);
    // Defaulting drops the non-nullable null first.
    let mut o = obj(json!({"nn": null, "ns": null}));
    s.apply_defaults(&mut o);
    assert_eq!(o["spec"], json!({"ns": null}));
}

#[test]
fn crd_int_or_string() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "p": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "q": {"x-kubernetes-int-or-string": true}
    }}));
    assert_eq!(s.validate(&obj(json!({"p": 1, "q": "50%"}))), vec![]);
    let c = s.validate(&obj(json!({"p": true, "q": 1.5})));
    assert_eq!(
        fields(&c),
        vec![
            ("spec.p", "FieldValueTypeInvalid"),
            ("spec.q", "FieldValueTypeInvalid")
        ]
    );
}

#[test]
fn crd_enum_message() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "mode": {"type": "string", "enum": ["a", "b"]}, "n": {"type": "integer", "enum": [1, 2]}
    }}));
    let c = s.validate(&obj(json!({"mode": "x", "n": 3})));
    assert_eq!(
        c,
        vec![
            Cause {
                reason: "FieldValueNotSupported".into(),
                message: "Unsupported value: \"x\": supported values: \"a\", \"b\"".into(),
                field: "spec.mode".into()
            },
            Cause {
                reason: "FieldValueNotSupported".into(),
                message: "Unsupported value: 3: supported values: 1, 2".into(),
                field: "spec.n".into()
            }
        ]
    );
}

#[test]
fn crd_bounds() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "e": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
        "s": {"type": "string", "minLength": 2, "maxLength": 4},
        "p": {"type": "string", "pattern": "^[a-z]+$"},
        "l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}},
        "m": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        "t": {"type": "string", "format": "date-time"},
        "mul": {"type": "integer", "multipleOf": 5}
    }}));
    let good = obj(
        json!({"n": 1, "e": 0.1, "s": "ab", "p": "abc", "l": [1], "m": {"a": "b"}, "t": "2025-01-01T00:00:00Z", "mul": 10}),
    );
    assert_eq!(s.validate(&good), vec![]);
    let bad = obj(
        json!({"n": 11, "e": 0, "s": "abcde", "p": "ABC", "l": [1, 2, 3], "m": {"a": "b", "c": "d"}, "t": "soon", "mul": 7}),
    );
    let c = s.validate(&bad);
    let by = |f: &str| {
        c.iter()
            .find(|x| x.field == f)
            .unwrap_or_else(|| panic!("{f} in {c:?}"))
    };
    assert_eq!(
        by("spec.n").message,
        "Invalid value: 11: spec.n in body should be less than or equal to 10"
    );
    assert_eq!(
        by("spec.e").message,
        "Invalid value: 0: spec.e in body should be greater than 0"
    );
    assert_eq!(by("spec.s").reason, "FieldValueTooLong");
    assert_eq!(
        by("spec.s").message,
        "Too long: may not be more than 4 bytes"
    );
    assert_eq!(
        by("spec.p").message,
        "Invalid value: \"ABC\": spec.p in body should match '^[a-z]+$'"
    );
    assert_eq!(by("spec.l").reason, "FieldValueTooMany");
    assert_eq!(by("spec.m").reason, "FieldValueInvalid");
    assert!(by("spec.t").message.contains("must be of type date-time"));
    assert!(by("spec.mul").message.contains("multiple of 5"));
    assert_eq!(c.len(), 8, "{c:?}");
    let short = obj(json!({"n": 0, "s": "a", "l": []}));
    let c = s.validate(&short);
    assert_eq!(c.len(), 3, "{c:?}");
    assert!(
        c.iter()
            .any(|x| x.message.contains("should be at least 2 chars long"))
    );
    assert!(
        c.iter()
            .any(|x| x.message.contains("should have at least 1 items"))
    );
    assert!(
        c.iter()
            .any(|x| x.message.contains("greater than or equal to 1"))
    );
}

#[test]
fn crd_list_map_duplicates() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
              "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}},
        "s": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
    }}));
    assert_eq!(
        s.validate(&obj(
            json!({"l": [{"name": "a"}, {"name": "b"}], "s": ["x", "y"]})
        )),
        vec![]
    );
    let c = s.validate(&obj(
        json!({"l": [{"name": "a", "v": 1}, {"name": "a", "v": 2}], "s": ["x", "x"]}),
    ));
    assert_eq!(
        fields(&c),
        vec![
            ("spec.l[1]", "FieldValueDuplicate"),
            ("spec.s[1]", "FieldValueDuplicate")
        ]
    );
}

#[test]
fn crd_pruning_rules() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "known": {"type": "string"},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                 "properties": {"inner": {"type": "object", "properties": {"x": {"type": "string"}}}}},
        "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
        "any": {"type": "object", "additionalProperties": true},
        "empty": {"type": "object"},
        "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "emb": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
    }}));
    let mut o = obj(json!({
        "known": "k", "unknown": 1,
        "free": {"whatever": {"deep": 1}, "inner": {"x": "y", "z": 1}},
        "map": {"k1": {"v": "1", "w": 2}},
        "any": {"x": {"y": 1}},
        "empty": {"gone": 1},
        "list": [{"a": "1", "b": 2}],
        "emb": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "zzz": 1}, "spec": {"c": 1}, "other": 1}
    }));
    o["top"] = json!(1);
    let mut unknown = s.unknown_fields(&o);
    unknown.sort();
    let expected = vec![
        ".spec.emb.metadata.zzz",
        ".spec.emb.other",
        ".spec.empty.gone",
        ".spec.free.inner.z",
        ".spec.list[0].b",
        ".spec.map.k1.w",
        ".spec.unknown",
        ".top",
    ];
    assert_eq!(unknown, expected);
    let mut pruned = s.prune(&mut o);
    pruned.sort();
    assert_eq!(pruned, expected);
    assert_eq!(
        o["spec"],
        json!({
            "known": "k",
            "free": {"whatever": {"deep": 1}, "inner": {"x": "y"}},
            "map": {"k1": {"v": "1"}},
            "any": {"x": {"y": 1}},
            "empty": {},
            "list": [{"a": "1"}],
            "emb": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"c": 1}}
        })
    );
    assert_eq!(o["metadata"], json!({"name": "w"}));
    // Embedded resources need apiVersion and kind.
    let c = s.validate(&obj(json!({"emb": {"metadata": {"name": "p"}}})));
    assert_eq!(
        fields(&c),
        vec![
            ("spec.emb.apiVersion", "FieldValueRequired"),
            ("spec.emb.kind", "FieldValueRequired")
        ]
    );
}

#[test]
fn crd_metadata_is_validated_as_object_meta() {
    let s = crd_schema(json!({"type": "object"}));
    let mut o = obj(json!({}));
    o["metadata"]["labels"] = json!({"a": 1});
    o["metadata"]["creationTimestamp"] = Value::Null;
    assert_eq!(
        fields(&s.validate(&o)),
        vec![("metadata.labels[a]", "FieldValueTypeInvalid")]
    );
    o["apiVersion"] = json!(1);
    assert!(fields(&s.validate(&o)).contains(&("apiVersion", "FieldValueTypeInvalid")));
}

#[test]
fn crd_defaults() {
    let s = crd_schema(json!({"type": "object", "default": {}, "properties": {
        "replicas": {"type": "integer", "default": 1},
        "mode": {"type": "string", "default": "fast"},
        "nested": {"type": "object", "default": {}, "properties": {"x": {"type": "string", "default": "dx"}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"p": {"type": "integer", "default": 80}}}},
        "m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"d": {"type": "boolean", "default": true}}}},
        "keep": {"type": "string", "default": "no"}
    }}));
    let mut o = obj(json!({"keep": "yes", "items": [{}, {"p": 1}], "m": {"a": {}}, "mode": null}));
    s.apply_defaults(&mut o);
    assert_eq!(
        o["spec"],
        json!({"replicas": 1, "mode": "fast", "nested": {"x": "dx"}, "keep": "yes",
               "items": [{"p": 80}, {"p": 1}], "m": {"a": {"d": true}}})
    );
    // A missing spec gets its default, then the defaults inside it.
    let mut o =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    s.apply_defaults(&mut o);
    assert_eq!(o["spec"]["replicas"], json!(1));
    assert_eq!(o["spec"]["nested"]["x"], json!("dx"));
    assert_eq!(o["metadata"], json!({"name": "w"}));
}

#[test]
fn combinators() {
    let s = crd_schema(json!({"type": "object", "properties": {
        "x": {"type": "integer", "oneOf": [{"minimum": 10}, {"maximum": 0}]},
        "y": {"type": "string", "not": {"enum": ["forbidden"]}},
        "z": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]}
    }}));
    assert_eq!(
        s.validate(&obj(json!({"x": 11, "y": "ok", "z": 2}))),
        vec![]
    );
    let c = s.validate(&obj(json!({"x": 5, "y": "forbidden", "z": 4})));
    assert_eq!(
        fields(&c),
        vec![
            ("spec.x", "FieldValueInvalid"),
            ("spec.y", "FieldValueInvalid"),
            ("spec.z", "FieldValueInvalid")
        ]
    );
}

/// The built-in schemas of the kinds the control plane writes declare no defaults, so their
/// writes skip the defaulting walk; a CRD's defaults still apply (above).
#[test]
fn builtin_schemas_without_defaults_skip_the_walk() {
    for (g, v, k) in [
        ("", "v1", "Pod"),
        ("batch", "v1", "Job"),
        ("", "v1", "Event"),
    ] {
        let s = builtin(g, v, k);
        assert!(!s.has_defaults, "{k}");
        let mut pod = json!({"spec": {"containers": [{"name": "c"}]}, "x": null});
        let before = pod.clone();
        s.apply_defaults(&mut pod);
        assert_eq!(pod, before);
    }
    assert!(
        crd_schema(
            json!({"type": "object", "properties": {"n": {"type": "integer", "default": 1}}})
        )
        .has_defaults
    );
}
