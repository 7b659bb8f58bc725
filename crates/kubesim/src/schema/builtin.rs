//! The built-in kinds' schemas, generated once from k8s-openapi's `JsonSchema` impls.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};

use super::{Flavor, Schema};

/// Definition names whose k8s-openapi schema is narrower than what the API server accepts.
const ANY_JSON: &[&str] = &[
    // "any valid JSON value", but k8s-openapi says `type: object`.
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON",
];
/// Fields k8s-openapi requires that the API server defaults (`SetDefaults_Job` gives a
/// pattern without a status `True`).
const DEFAULTED: &[(&str, &str)] = &[(
    "io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern",
    "status",
)];
const FREE_FORM_OBJECTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
];

macro_rules! builtins {
    ($( ($g:literal, $v:literal, $k:literal, $t:ty) ),* $(,)?) => {
        /// `(group, version, kind)` of every built-in kind [`Schema::builtin`] knows.
        pub const BUILTIN_KINDS: &[(&str, &str, &str)] = &[ $( ($g, $v, $k) ),* ];

        fn generate(group: &str, version: &str, kind: &str) -> Option<Value> {
            match (group, version, kind) {
                $( ($g, $v, $k) => Some(schemars::schema_for!($t).to_value()), )*
                _ => None,
            }
        }
    };
}

builtins! {
    ("", "v1", "Pod", k8s_openapi::api::core::v1::Pod),
    ("", "v1", "Namespace", k8s_openapi::api::core::v1::Namespace),
    ("", "v1", "Secret", k8s_openapi::api::core::v1::Secret),
    ("", "v1", "ConfigMap", k8s_openapi::api::core::v1::ConfigMap),
    ("", "v1", "ServiceAccount", k8s_openapi::api::core::v1::ServiceAccount),
    ("", "v1", "Service", k8s_openapi::api::core::v1::Service),
    ("", "v1", "Endpoints", k8s_openapi::api::core::v1::Endpoints),
    ("", "v1", "Node", k8s_openapi::api::core::v1::Node),
    ("", "v1", "Event", k8s_openapi::api::core::v1::Event),
    ("", "v1", "PersistentVolumeClaim", k8s_openapi::api::core::v1::PersistentVolumeClaim),
    ("", "v1", "ResourceQuota", k8s_openapi::api::core::v1::ResourceQuota),
    ("", "v1", "LimitRange", k8s_openapi::api::core::v1::LimitRange),
    ("events.k8s.io", "v1", "Event", k8s_openapi::api::events::v1::Event),
    ("batch", "v1", "Job", k8s_openapi::api::batch::v1::Job),
    ("batch", "v1", "CronJob", k8s_openapi::api::batch::v1::CronJob),
    ("apps", "v1", "Deployment", k8s_openapi::api::apps::v1::Deployment),
    ("apps", "v1", "ReplicaSet", k8s_openapi::api::apps::v1::ReplicaSet),
    ("apps", "v1", "StatefulSet", k8s_openapi::api::apps::v1::StatefulSet),
    ("apps", "v1", "DaemonSet", k8s_openapi::api::apps::v1::DaemonSet),
    ("coordination.k8s.io", "v1", "Lease", k8s_openapi::api::coordination::v1::Lease),
    ("rbac.authorization.k8s.io", "v1", "Role", k8s_openapi::api::rbac::v1::Role),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", k8s_openapi::api::rbac::v1::ClusterRole),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", k8s_openapi::api::rbac::v1::RoleBinding),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", k8s_openapi::api::rbac::v1::ClusterRoleBinding),
    ("policy", "v1", "PodDisruptionBudget", k8s_openapi::api::policy::v1::PodDisruptionBudget),
    ("networking.k8s.io", "v1", "NetworkPolicy", k8s_openapi::api::networking::v1::NetworkPolicy),
    ("networking.k8s.io", "v1", "Ingress", k8s_openapi::api::networking::v1::Ingress),
    ("scheduling.k8s.io", "v1", "PriorityClass", k8s_openapi::api::scheduling::v1::PriorityClass),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition),
}

type Key = (String, String, String);

static CACHE: LazyLock<Mutex<HashMap<Key, Arc<Schema>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `ObjectMeta`, for custom resources' and embedded resources' `metadata`.
pub(super) static OBJECT_META: LazyLock<Schema> = LazyLock::new(|| {
    let root = schemars::schema_for!(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta)
        .to_value();
    Schema::new(fix_up(root), Flavor::BuiltIn)
});

pub(super) fn get(group: &str, version: &str, kind: &str) -> Option<Arc<Schema>> {
    let key = (group.to_string(), version.to_string(), kind.to_string());
    {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = cache.get(&key) {
            return Some(s.clone());
        }
    }
    // Generated outside the lock: it takes a few milliseconds.
    let root = generate(group, version, kind)?;
    let schema = Arc::new(Schema::new(fix_up(root), Flavor::BuiltIn));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    Some(cache.entry(key).or_insert(schema).clone())
}

/// Makes k8s-openapi's schemas say what the API server accepts.
pub(super) fn fix_up(mut root: Value) -> Value {
    if let Some(req) = root.get_mut("required").and_then(Value::as_array_mut) {
        // k8s-openapi requires `metadata` because its Rust field is not optional; Kubernetes'
        // own schemas do not (a missing name is reported by the registry instead).
        req.retain(|r| r != "metadata");
    }
    for defs_key in ["$defs", "definitions"] {
        let Some(defs) = root.get_mut(defs_key).and_then(Value::as_object_mut) else {
            continue;
        };
        for name in ANY_JSON {
            if let Some(Value::Object(d)) = defs.get_mut(*name) {
                d.remove("type");
                d.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            }
        }
        for (name, field) in DEFAULTED {
            if let Some(req) = defs
                .get_mut(*name)
                .and_then(|d| d.get_mut("required"))
                .and_then(Value::as_array_mut)
            {
                req.retain(|r| r != field);
            }
        }
        for name in FREE_FORM_OBJECTS {
            if let Some(Value::Object(d)) = defs.get_mut(*name) {
                d.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
            }
        }
    }
    root
}
