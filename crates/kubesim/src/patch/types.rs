//! What the merge engines need to know about the shape of Kubernetes objects: which lists merge
//! by key (and on which key), which are sets, which are atomic, and which maps are
//! `map[string]T` rather than structs. This is the small slice of the OpenAPI extensions
//! (`x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
//! `x-kubernetes-map-type`) that kubesim's clients exercise, keyed by where a field sits.

use serde_json::Value;

/// API groups whose kinds are compiled into the API server (strategic merge works on them).
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "rbac.authorization.k8s.io",
    "policy",
    "networking.k8s.io",
    "coordination.k8s.io",
    "events.k8s.io",
    "apiextensions.k8s.io",
    "storage.k8s.io",
    "autoscaling",
];

pub(crate) fn is_builtin_group(group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
}

/// The type of the object being patched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjType<'a> {
    pub builtin: bool,
    pub kind: &'a str,
}

impl<'a> ObjType<'a> {
    pub fn new(group: &str, kind: &'a str) -> Self {
        Self {
            builtin: is_builtin_group(group),
            kind,
        }
    }
}

/// Where a value sits, as far as list and map strategies care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Root,
    /// ObjectMeta (top level, pod templates, job templates).
    Meta,
    /// Spec of a workload that embeds a pod template (Deployment, Job, ...).
    WorkloadSpec,
    CronJobSpec,
    /// `spec.jobTemplate` of a CronJob.
    JobTemplate,
    /// A PodTemplateSpec (`template` of a workload, or a PodTemplate's `template`).
    PodTemplate,
    PodSpec,
    Container,
    ServiceSpec,
    /// `status` of a built-in object.
    Status,
    /// Anything else: structs and maps with no special list in them.
    Other,
}

/// How a list merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// Replaced wholesale (the default, as in Kubernetes).
    Atomic,
    /// A set of primitives (`finalizers`).
    Set,
    /// Items are maps identified by keys. `smp_key` is the strategic-merge patch merge key,
    /// `ssa_keys` the server-side apply list map keys (sorted by name).
    Map {
        smp_key: &'static str,
        ssa_keys: &'static [&'static str],
    },
}

/// Key value used when a list-map key field is omitted (from the OpenAPI defaults).
pub(crate) fn key_default(key: &str) -> Option<Value> {
    match key {
        "protocol" => Some(Value::String("TCP".into())),
        _ => None,
    }
}

impl Ctx {
    /// The context of the value under map field `field`.
    pub fn child(self, field: &str, ty: ObjType) -> Ctx {
        if !ty.builtin {
            return match (self, field) {
                (Ctx::Root, "metadata") => Ctx::Meta,
                _ => Ctx::Other,
            };
        }
        match (self, field) {
            (Ctx::Root, "metadata") => Ctx::Meta,
            (Ctx::Root, "status") => Ctx::Status,
            (Ctx::Root, "spec") => match ty.kind {
                "Pod" => Ctx::PodSpec,
                "Deployment"
                | "ReplicaSet"
                | "StatefulSet"
                | "DaemonSet"
                | "Job"
                | "ReplicationController" => Ctx::WorkloadSpec,
                "CronJob" => Ctx::CronJobSpec,
                "Service" => Ctx::ServiceSpec,
                _ => Ctx::Other,
            },
            (Ctx::Root, "template") if ty.kind == "PodTemplate" => Ctx::PodTemplate,
            (Ctx::WorkloadSpec, "template") => Ctx::PodTemplate,
            (Ctx::CronJobSpec, "jobTemplate") => Ctx::JobTemplate,
            (Ctx::JobTemplate, "metadata") | (Ctx::PodTemplate, "metadata") => Ctx::Meta,
            (Ctx::JobTemplate, "spec") => Ctx::WorkloadSpec,
            (Ctx::PodTemplate, "spec") => Ctx::PodSpec,
            _ => Ctx::Other,
        }
    }

    /// The context of the items of list field `field`.
    pub fn item(self, field: &str) -> Ctx {
        match (self, field) {
            (Ctx::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
                Ctx::Container
            }
            _ => Ctx::Other,
        }
    }

    /// How list field `field` merges.
    pub fn list_kind(self, field: &str, ty: ObjType) -> ListKind {
        const NAME: &[&str] = &["name"];
        let map = |smp_key, ssa_keys| ListKind::Map { smp_key, ssa_keys };
        match (self, field) {
            (Ctx::Meta, "finalizers") => ListKind::Set,
            (Ctx::Meta, "ownerReferences") => map("uid", &["uid"]),
            (Ctx::Meta, _) => ListKind::Atomic,
            // Custom resources: lists are atomic unless their schema says otherwise.
            (_, _) if !ty.builtin => ListKind::Atomic,
            (
                Ctx::PodSpec,
                "containers"
                | "initContainers"
                | "ephemeralContainers"
                | "volumes"
                | "imagePullSecrets"
                | "resourceClaims"
                | "schedulingGates",
            ) => map("name", NAME),
            (Ctx::PodSpec, "hostAliases") => map("ip", &["ip"]),
            (Ctx::PodSpec, "topologySpreadConstraints") => {
                map("topologyKey", &["topologyKey", "whenUnsatisfiable"])
            }
            (Ctx::Container, "env") => map("name", NAME),
            (Ctx::Container, "ports") => map("containerPort", &["containerPort", "protocol"]),
            (Ctx::Container, "volumeMounts") => map("mountPath", &["mountPath"]),
            (Ctx::Container, "volumeDevices") => map("devicePath", &["devicePath"]),
            (Ctx::ServiceSpec, "ports") => map("port", &["port", "protocol"]),
            (Ctx::Status, "conditions") => map("type", &["type"]),
            _ => ListKind::Atomic,
        }
    }

    /// Whether map field `field` is a `map[string]T` (its keys are data, not schema fields).
    pub fn is_string_map(self, field: &str, ty: ObjType) -> bool {
        match (self, field) {
            (Ctx::Meta, "labels" | "annotations") => true,
            _ if !ty.builtin => false,
            (Ctx::Root, "data" | "binaryData" | "stringData") => true,
            (Ctx::PodSpec, "nodeSelector" | "overhead") => true,
            (Ctx::Other, "limits" | "requests") => true,
            (Ctx::Status, "capacity" | "allocatable") => true,
            _ => false,
        }
    }

    /// Whether map field `field` is atomic for server-side apply (replaced and owned whole).
    pub fn is_atomic_map(self, field: &str, ty: ObjType) -> bool {
        ty.builtin
            && matches!(
                (self, field),
                (Ctx::WorkloadSpec | Ctx::ServiceSpec, "selector")
                    | (
                        Ctx::Other,
                        "labelSelector" | "namespaceSelector" | "podSelector"
                    )
            )
    }
}
