//! The bootstrap ClusterRoles and ClusterRoleBindings kube-apiserver creates.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{AUTHENTICATED, SYSTEM_MASTERS, UNAUTHENTICATED};

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    let strings = |xs: &[&str]| Some(xs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        api_groups: strings(groups),
        resources: strings(resources),
        resource_names: None,
        non_resource_urls: None,
    }
}

fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        non_resource_urls: Some(urls.iter().map(|s| s.to_string()).collect()),
        api_groups: None,
        resources: None,
        resource_names: None,
    }
}

fn bootstrap_meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(BTreeMap::from([(
            "kubernetes.io/bootstrapping".to_string(),
            "rbac-defaults".to_string(),
        )])),
        annotations: Some(BTreeMap::from([(
            "rbac.authorization.kubernetes.io/autoupdate".to_string(),
            "true".to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

fn group_binding(name: &str, role: &str, groups: &[&str]) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: bootstrap_meta(name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(
            groups
                .iter()
                .map(|g| Subject {
                    api_group: Some("rbac.authorization.k8s.io".to_string()),
                    kind: "Group".to_string(),
                    name: g.to_string(),
                    namespace: None,
                })
                .collect(),
        ),
    }
}

/// The bootstrap roles kube-apiserver creates that matter here: `cluster-admin` bound to
/// `system:masters`, discovery and public info for everyone, and `system:basic-user`.
pub fn bootstrap_policy() -> (Vec<ClusterRole>, Vec<ClusterRoleBinding>) {
    let roles = vec![
        ClusterRole {
            metadata: bootstrap_meta("cluster-admin"),
            rules: Some(vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])]),
            aggregation_rule: None,
        },
        ClusterRole {
            metadata: bootstrap_meta("system:discovery"),
            rules: Some(vec![url_rule(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )]),
            aggregation_rule: None,
        },
        ClusterRole {
            metadata: bootstrap_meta("system:public-info-viewer"),
            rules: Some(vec![url_rule(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )]),
            aggregation_rule: None,
        },
        ClusterRole {
            metadata: bootstrap_meta("system:basic-user"),
            rules: Some(vec![rule(
                &["create"],
                &["authorization.k8s.io"],
                &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            )]),
            aggregation_rule: None,
        },
    ];
    let bindings = vec![
        group_binding("cluster-admin", "cluster-admin", &[SYSTEM_MASTERS]),
        group_binding("system:discovery", "system:discovery", &[AUTHENTICATED]),
        group_binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &[AUTHENTICATED, UNAUTHENTICATED],
        ),
        group_binding("system:basic-user", "system:basic-user", &[AUTHENTICATED]),
    ];
    (roles, bindings)
}
