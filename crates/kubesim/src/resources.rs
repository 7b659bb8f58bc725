//! The registry of served resources: the built-in kinds and the ones CRDs add.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::schema::Schema;
use crate::status::{Cause, Error, Result};

/// Where objects of a resource live: every version of a group/resource shares one map.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub group: String,
    pub resource: String,
}

impl StorageKey {
    pub fn new(group: &str, resource: &str) -> Self {
        StorageKey {
            group: group.to_string(),
            resource: resource.to_string(),
        }
    }
}

/// A group, version and resource (plural), as in a request path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvr {
    pub group: String,
    pub version: String,
    pub resource: String,
}

impl Gvr {
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        Gvr {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
        }
    }
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }
    pub fn pods() -> Self {
        Self::new("", "v1", "pods")
    }
    pub fn nodes() -> Self {
        Self::new("", "v1", "nodes")
    }
    pub fn namespaces() -> Self {
        Self::new("", "v1", "namespaces")
    }
    pub fn events() -> Self {
        Self::new("", "v1", "events")
    }
    pub fn configmaps() -> Self {
        Self::new("", "v1", "configmaps")
    }
    pub fn secrets() -> Self {
        Self::new("", "v1", "secrets")
    }
    pub fn jobs() -> Self {
        Self::new("batch", "v1", "jobs")
    }
    pub fn cronjobs() -> Self {
        Self::new("batch", "v1", "cronjobs")
    }
    pub fn deployments() -> Self {
        Self::new("apps", "v1", "deployments")
    }
    pub fn leases() -> Self {
        Self::new("coordination.k8s.io", "v1", "leases")
    }
    pub fn crds() -> Self {
        Self::new("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    }
}

pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// How a resource's objects are shaped relative to their stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Stored as served.
    Native,
    /// events.k8s.io/v1 Events, stored as core/v1 Events.
    EventsV1,
}

/// The default propagation policy of a DELETE without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Orphan" => Some(Propagation::Orphan),
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            _ => None,
        }
    }
}

/// How `metadata.name` is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1035 label (services).
    Label1035,
    /// Anything that is a valid path segment (RBAC).
    PathSegment,
}

/// A subresource (`status`, `log`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct SubresourceInfo {
    pub name: String,
    pub kind: String,
    pub verbs: Vec<String>,
}

/// One served group/version/resource.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<String>,
    pub subresources: Vec<SubresourceInfo>,
    /// Has a `status` subresource (writes to the main resource keep the old status).
    pub has_status: bool,
    /// Tracks `metadata.generation`.
    pub has_generation: bool,
    pub storage: StorageKey,
    pub shape: Shape,
    pub name_rule: NameRule,
    pub default_propagation: Propagation,
    /// PUT of a missing object creates it.
    pub create_on_update: bool,
    /// DELETE returns the deleted object rather than a Status.
    pub return_deleted_object: bool,
    /// Set for custom resources: the CRD's schema for this version.
    pub schema: Option<Arc<Schema>>,
    /// A custom resource (strategic merge patch unsupported).
    pub custom: bool,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    pub fn gvr(&self) -> Gvr {
        Gvr::new(&self.group, &self.version, &self.plural)
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }

    /// The schema to validate against: a CRD's, or the built-in one if kubesim knows it.
    pub fn validation_schema(&self) -> Option<Arc<Schema>> {
        match &self.schema {
            Some(s) => Some(s.clone()),
            None if self.custom => None,
            None => Schema::builtin(&self.group, &self.version, &self.kind),
        }
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

struct B {
    info: ResourceInfo,
}

impl B {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        B {
            info: ResourceInfo {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                list_kind: format!("{kind}List"),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                namespaced,
                short_names: Vec::new(),
                categories: Vec::new(),
                verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
                subresources: Vec::new(),
                has_status: false,
                has_generation: false,
                storage: StorageKey::new(group, plural),
                shape: Shape::Native,
                name_rule: NameRule::Subdomain,
                default_propagation: Propagation::Background,
                create_on_update: false,
                return_deleted_object: false,
                schema: None,
                custom: false,
            },
        }
    }
    fn short(mut self, names: &[&str]) -> Self {
        self.info.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }
    fn all(mut self) -> Self {
        self.info.categories = vec!["all".into()];
        self
    }
    fn status(mut self) -> Self {
        self.info.has_status = true;
        let kind = self.info.kind.clone();
        self.sub("status", &kind, &["get", "patch", "update"])
    }
    fn sub(mut self, name: &str, kind: &str, verbs: &[&str]) -> Self {
        self.info.subresources.push(SubresourceInfo {
            name: name.into(),
            kind: kind.into(),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
        });
        self
    }
    fn generation(mut self) -> Self {
        self.info.has_generation = true;
        self
    }
    fn names(mut self, rule: NameRule) -> Self {
        self.info.name_rule = rule;
        self
    }
    fn verbs(mut self, verbs: &[&str]) -> Self {
        self.info.verbs = verbs.iter().map(|s| s.to_string()).collect();
        self
    }
    fn propagation(mut self, p: Propagation) -> Self {
        self.info.default_propagation = p;
        self
    }
    fn create_on_update(mut self) -> Self {
        self.info.create_on_update = true;
        self
    }
    fn returns_deleted(mut self) -> Self {
        self.info.return_deleted_object = true;
        self
    }
    fn done(self) -> ResourceInfo {
        self.info
    }
}

fn builtins() -> Vec<ResourceInfo> {
    let rbac = "rbac.authorization.k8s.io";
    let mut events_v1 = B::new("events.k8s.io", "v1", "Event", "events", true)
        .short(&["ev"])
        .create_on_update()
        .done();
    events_v1.storage = StorageKey::new("", "events");
    events_v1.shape = Shape::EventsV1;
    vec![
        B::new("", "v1", "Namespace", "namespaces", false)
            .short(&["ns"])
            .names(NameRule::Label)
            .verbs(&[
                "create", "delete", "get", "list", "patch", "update", "watch",
            ])
            .status()
            .sub("finalize", "Namespace", &["update"])
            .done(),
        B::new("", "v1", "Pod", "pods", true)
            .short(&["po"])
            .all()
            .status()
            .sub("log", "Pod", &["get"])
            .sub("binding", "Binding", &["create"])
            .returns_deleted()
            .done(),
        B::new("", "v1", "Secret", "secrets", true).done(),
        B::new("", "v1", "ConfigMap", "configmaps", true)
            .short(&["cm"])
            .done(),
        B::new("", "v1", "ServiceAccount", "serviceaccounts", true)
            .short(&["sa"])
            .done(),
        B::new("", "v1", "Service", "services", true)
            .short(&["svc"])
            .all()
            .names(NameRule::Label1035)
            .verbs(&[
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch",
            ])
            .status()
            .returns_deleted()
            .done(),
        B::new("", "v1", "Node", "nodes", false)
            .short(&["no"])
            .status()
            .done(),
        B::new("", "v1", "Event", "events", true)
            .short(&["ev"])
            .create_on_update()
            .done(),
        events_v1,
        B::new("coordination.k8s.io", "v1", "Lease", "leases", true)
            .create_on_update()
            .done(),
        B::new("batch", "v1", "Job", "jobs", true)
            .all()
            .status()
            .generation()
            .propagation(Propagation::Orphan)
            .done(),
        B::new("batch", "v1", "CronJob", "cronjobs", true)
            .short(&["cj"])
            .all()
            .status()
            .generation()
            .done(),
        B::new("apps", "v1", "Deployment", "deployments", true)
            .short(&["deploy"])
            .all()
            .status()
            .generation()
            .done(),
        B::new(rbac, "v1", "Role", "roles", true)
            .names(NameRule::PathSegment)
            .done(),
        B::new(rbac, "v1", "ClusterRole", "clusterroles", false)
            .names(NameRule::PathSegment)
            .done(),
        B::new(rbac, "v1", "RoleBinding", "rolebindings", true)
            .names(NameRule::PathSegment)
            .done(),
        B::new(
            rbac,
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        )
        .names(NameRule::PathSegment)
        .done(),
        B::new(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        )
        .short(&["pdb"])
        .status()
        .generation()
        .done(),
        B::new(
            "networking.k8s.io",
            "v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        )
        .short(&["netpol"])
        .generation()
        .done(),
        B::new(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .short(&["crd", "crds"])
        .status()
        .generation()
        .done(),
    ]
}

/// The served resources. Cheap to clone (a snapshot for discovery).
#[derive(Debug, Clone)]
pub struct Registry {
    builtin: Vec<Arc<ResourceInfo>>,
    /// CRD name -> the versions it serves.
    crds: BTreeMap<String, Vec<Arc<ResourceInfo>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            builtin: builtins().into_iter().map(Arc::new).collect(),
            crds: BTreeMap::new(),
        }
    }

    /// Every served resource, built-ins first.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceInfo>> {
        self.builtin.iter().chain(self.crds.values().flatten())
    }

    /// By group, version and plural.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.all()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    pub fn lookup_gvr(&self, gvr: &Gvr) -> Option<Arc<ResourceInfo>> {
        self.lookup(&gvr.group, &gvr.version, &gvr.resource)
    }

    /// Any served version of a storage key (for internal writes such as GC).
    pub fn by_storage(&self, key: &StorageKey) -> Option<Arc<ResourceInfo>> {
        self.all()
            .find(|r| r.storage == *key && r.shape == Shape::Native)
            .cloned()
    }

    /// By apiVersion and kind, as in an ownerReference.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceInfo>> {
        self.all()
            .find(|r| r.api_version() == api_version && r.kind == kind)
            .cloned()
    }

    /// Served group-versions: ("", "v1") first, then the groups in registration order.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for r in self.all() {
            let gv = (r.group.clone(), r.version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
        self.all()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }

    /// Whether `key` is served as namespaced.
    pub fn storage_keys(&self) -> Vec<(StorageKey, bool)> {
        let mut out: Vec<(StorageKey, bool)> = Vec::new();
        for r in self.all() {
            if !out.iter().any(|(k, _)| *k == r.storage) {
                out.push((r.storage.clone(), r.namespaced));
            }
        }
        out
    }

    /// Registers (or re-registers) what a CRD serves.
    pub fn set_crd(&mut self, name: &str, infos: Vec<Arc<ResourceInfo>>) {
        self.crds.insert(name.to_string(), infos);
    }

    pub fn remove_crd(&mut self, name: &str) -> Option<Vec<Arc<ResourceInfo>>> {
        self.crds.remove(name)
    }
}

fn cause(reason: &str, field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason: reason.into(),
        message: message.into(),
        field: field.into(),
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Validates a CRD and derives the resources it serves (one per served version).
pub fn crd_resources(crd: &Value) -> Result<Vec<Arc<ResourceInfo>>> {
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let plural = names["plural"].as_str().unwrap_or_default();
    let kind = names["kind"].as_str().unwrap_or_default();
    let mut causes = Vec::new();
    if group.is_empty() {
        causes.push(cause("FieldValueRequired", "spec.group", "Required value"));
    } else if !group.contains('.') {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.group",
            format!("Invalid value: \"{group}\": should be a domain with at least one dot"),
        ));
    }
    if plural.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.names.plural",
            "Required value",
        ));
    }
    if kind.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.names.kind",
            "Required value",
        ));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let scope = spec["scope"].as_str().unwrap_or_default();
    if scope != "Namespaced" && scope != "Cluster" {
        causes.push(cause(
            "FieldValueNotSupported",
            "spec.scope",
            format!(
                "Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""
            ),
        ));
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push(cause(
            "FieldValueRequired",
            "spec.versions",
            "Required value",
        ));
    }
    let storage_count = versions
        .iter()
        .filter(|v| v["storage"].as_bool() == Some(true))
        .count();
    if !versions.is_empty() && storage_count != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    let mut out = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        if v["served"].as_bool() != Some(true) {
            continue;
        }
        let vname = v["name"].as_str().unwrap_or_default();
        let schema = match v["schema"].get("openAPIV3Schema") {
            Some(s) => match Schema::from_openapi_v3(s) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    causes.push(cause(
                        "FieldValueInvalid",
                        &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                        e.to_string(),
                    ));
                    None
                }
            },
            None => None,
        };
        let mut b = B::new(group, vname, kind, plural, scope != "Cluster").generation();
        b.info.custom = true;
        b.info.return_deleted_object = true;
        b.info.schema = schema;
        b.info.list_kind = names["listKind"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| format!("{kind}List"));
        b.info.singular = names["singular"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| kind.to_lowercase());
        b.info.short_names = strs(&names["shortNames"]);
        b.info.categories = strs(&names["categories"]);
        if v["subresources"].get("status").is_some() {
            b = b.status();
        }
        out.push(Arc::new(b.done()));
    }
    if !causes.is_empty() {
        return Err(Error::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            name,
            causes,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_share_one_store() {
        let r = Registry::new();
        let a = r.lookup("", "v1", "events").unwrap();
        let b = r.lookup("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(a.storage, b.storage);
        assert_eq!(b.shape, Shape::EventsV1);
    }

    #[test]
    fn jobs_orphan_by_default_cronjobs_do_not() {
        let r = Registry::new();
        assert_eq!(
            r.lookup("batch", "v1", "jobs").unwrap().default_propagation,
            Propagation::Orphan
        );
        assert_eq!(
            r.lookup("batch", "v1", "cronjobs")
                .unwrap()
                .default_propagation,
            Propagation::Background
        );
    }

    #[test]
    fn crd_name_must_match() {
        let crd = json!({"metadata": {"name": "foos.example.com"}, "spec": {"group": "example.com",
            "scope": "Namespaced", "names": {"plural": "bars", "kind": "Bar"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let e = crd_resources(&crd).unwrap_err();
        assert_eq!(e.code, 422);
    }
}
