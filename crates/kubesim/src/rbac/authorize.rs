//! The RBAC authorizer (rbac/v1 `evaluation_helpers.go` and the rule resolver) and the 403
//! `Status` kube-apiserver renders a denial as.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
    Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Value, json};

use super::{RequestAttributes, SYSTEM_MASTERS, UserInfo, service_account_username};

/// Where the authorizer reads RBAC objects from (the store, or a fixed set in tests).
pub trait RbacSource {
    fn cluster_role_bindings(&self) -> Vec<ClusterRoleBinding>;
    fn role_bindings(&self, namespace: &str) -> Vec<RoleBinding>;
    fn role(&self, namespace: &str, name: &str) -> Option<Role>;
    fn cluster_role(&self, name: &str) -> Option<ClusterRole>;
    /// All ClusterRoles, for aggregation.
    fn cluster_roles(&self) -> Vec<ClusterRole>;
}

/// A fixed set of RBAC objects.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

impl RbacSource for Policy {
    fn cluster_role_bindings(&self) -> Vec<ClusterRoleBinding> {
        self.cluster_role_bindings.clone()
    }
    fn role_bindings(&self, namespace: &str) -> Vec<RoleBinding> {
        self.role_bindings
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect()
    }
    fn role(&self, namespace: &str, name: &str) -> Option<Role> {
        self.roles
            .iter()
            .find(|r| {
                r.metadata.namespace.as_deref() == Some(namespace)
                    && r.metadata.name.as_deref() == Some(name)
            })
            .cloned()
    }
    fn cluster_role(&self, name: &str) -> Option<ClusterRole> {
        self.cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .cloned()
    }
    fn cluster_roles(&self) -> Vec<ClusterRole> {
        self.cluster_roles.clone()
    }
}

/// The authorizer's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied; the reason is RBAC's (missing roles), often empty.
    Deny {
        reason: String,
    },
}

fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == "*" || v == verb)
}

fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups
        .iter()
        .flatten()
        .any(|g| g == "*" || g == group)
}

fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == "*"
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().flatten().any(|u| {
        u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
    })
}

/// rbacv1helpers.RuleAllows.
pub fn rule_allows(attrs: &RequestAttributes, rule: &PolicyRule) -> bool {
    if attrs.resource_request {
        let combined = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        verb_matches(rule, &attrs.verb)
            && api_group_matches(rule, &attrs.api_group)
            && resource_matches(rule, &combined, &attrs.subresource)
            && resource_name_matches(rule, &attrs.name)
    } else {
        verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, &attrs.path)
    }
}

fn applies_to_user(user: &UserInfo, subject: &Subject, namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(namespace);
            !ns.is_empty() && user.name == service_account_username(ns, &subject.name)
        }
        _ => false,
    }
}

fn selector_matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or(&[]);
        let have = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => have.is_some_and(|v| values.contains(v)),
            "NotIn" => have.is_none_or(|v| !values.contains(v)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    });
    labels_ok && exprs_ok
}

/// A ClusterRole's rules, with the rules of the roles its aggregationRule selects.
fn cluster_role_rules(role: &ClusterRole, source: &dyn RbacSource) -> Vec<PolicyRule> {
    let mut rules = role.rules.clone().unwrap_or_default();
    if let Some(AggregationRule {
        cluster_role_selectors: Some(selectors),
    }) = &role.aggregation_rule
    {
        for other in source.cluster_roles() {
            if other.metadata.name == role.metadata.name {
                continue;
            }
            let labels = other.metadata.labels.clone().unwrap_or_default();
            if selectors.iter().any(|s| selector_matches(s, &labels)) {
                for r in other.rules.unwrap_or_default() {
                    if !rules.contains(&r) {
                        rules.push(r);
                    }
                }
            }
        }
    }
    rules
}

fn resolve(
    role_ref: &RoleRef,
    namespace: &str,
    source: &dyn RbacSource,
    errors: &mut Vec<String>,
) -> Vec<PolicyRule> {
    match role_ref.kind.as_str() {
        "ClusterRole" => match source.cluster_role(&role_ref.name) {
            Some(r) => cluster_role_rules(&r, source),
            None => {
                errors.push(format!(
                    "clusterrole.rbac.authorization.k8s.io \"{}\" not found",
                    role_ref.name
                ));
                Vec::new()
            }
        },
        "Role" => match source.role(namespace, &role_ref.name) {
            Some(r) => r.rules.unwrap_or_default(),
            None => {
                errors.push(format!(
                    "role.rbac.authorization.k8s.io \"{}\" not found",
                    role_ref.name
                ));
                Vec::new()
            }
        },
        other => {
            errors.push(format!("unsupported role reference kind: {other:?}"));
            Vec::new()
        }
    }
}

/// The RBAC authorizer, preceded by the `system:masters` superuser check.
pub fn authorize(user: &UserInfo, attrs: &RequestAttributes, source: &dyn RbacSource) -> Decision {
    if user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        return Decision::Allow;
    }
    let mut errors: Vec<String> = Vec::new();
    for b in source.cluster_role_bindings() {
        if !b
            .subjects
            .iter()
            .flatten()
            .any(|s| applies_to_user(user, s, ""))
        {
            continue;
        }
        let rules = resolve(&b.role_ref, "", source, &mut errors);
        if rules.iter().any(|r| rule_allows(attrs, r)) {
            return Decision::Allow;
        }
    }
    if !attrs.namespace.is_empty() {
        for b in source.role_bindings(&attrs.namespace) {
            if !b
                .subjects
                .iter()
                .flatten()
                .any(|s| applies_to_user(user, s, &attrs.namespace))
            {
                continue;
            }
            let rules = resolve(&b.role_ref, &attrs.namespace, source, &mut errors);
            if rules.iter().any(|r| rule_allows(attrs, r)) {
                return Decision::Allow;
            }
        }
    }
    let reason = if errors.is_empty() {
        String::new()
    } else if errors.len() == 1 {
        format!("RBAC: {}", errors[0])
    } else {
        format!("RBAC: [{}]", errors.join(", "))
    };
    Decision::Deny { reason }
}

/// kube-apiserver's forbidden message for a denied request.
pub fn forbidden_message(user: &UserInfo, attrs: &RequestAttributes, reason: &str) -> String {
    let msg = if !attrs.resource_request {
        format!(
            "User {:?} cannot {} path {:?}",
            user.name, attrs.verb, attrs.path
        )
    } else {
        let resource = if attrs.subresource.is_empty() {
            attrs.resource.clone()
        } else {
            format!("{}/{}", attrs.resource, attrs.subresource)
        };
        if attrs.namespace.is_empty() {
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} at the cluster scope",
                user.name, attrs.verb, resource, attrs.api_group
            )
        } else {
            format!(
                "User {:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}",
                user.name, attrs.verb, resource, attrs.api_group, attrs.namespace
            )
        }
    };
    let err = if reason.is_empty() {
        msg
    } else {
        format!("{msg}: {reason}")
    };
    if attrs.resource.is_empty() {
        return format!("forbidden: {err}");
    }
    let qualified = if attrs.api_group.is_empty() {
        attrs.resource.clone()
    } else {
        format!("{}.{}", attrs.resource, attrs.api_group)
    };
    if attrs.name.is_empty() {
        format!("{qualified} is forbidden: {err}")
    } else {
        format!("{qualified} {:?} is forbidden: {err}", attrs.name)
    }
}

/// The 403 `Status` body for a denial.
pub fn forbidden_status(user: &UserInfo, attrs: &RequestAttributes, reason: &str) -> Value {
    let mut details = json!({"kind": attrs.resource});
    if !attrs.name.is_empty() {
        details["name"] = json!(attrs.name);
    }
    if !attrs.api_group.is_empty() {
        details["group"] = json!(attrs.api_group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": forbidden_message(user, attrs, reason),
        "reason": "Forbidden",
        "details": details,
        "code": 403
    })
}

/// The 401 `Status` body for a token nobody knows.
pub fn unauthorized_status() -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401
    })
}
